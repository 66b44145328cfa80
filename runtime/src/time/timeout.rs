//! `timeout`: run a future against a deadline; if the deadline wins, the
//! future is dropped (cancelled) and the caller gets [`Elapsed`].
//! asyncio's `wait_for`.

use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::task::Poll;
use std::time::Duration;

use super::{sleep_until, Instant};

/// Awaits `future` for at most `duration` (counted from this call).
///
/// The inner future is polled first, so a future that is ready wins even if
/// the deadline has also passed. When the deadline wins, the inner future is
/// dropped, which cancels whatever it was doing (its destructors run).
///
/// ```
/// use std::time::Duration;
/// use eddy::time::{sleep, timeout};
///
/// eddy::run(async {
///     let slow = sleep(Duration::from_secs(60));
///     assert!(timeout(Duration::from_millis(1), slow).await.is_err());
///     assert_eq!(timeout(Duration::from_secs(1), async { 5 }).await, Ok(5));
/// });
/// ```
pub fn timeout<F: Future>(duration: Duration, future: F) -> impl Future<Output = Result<F::Output, Elapsed>> {
    timeout_at(Instant::now().saturating_add(duration), future)
}

/// Awaits `future` until the loop clock reaches `deadline`.
pub async fn timeout_at<F: Future>(deadline: Instant, future: F) -> Result<F::Output, Elapsed> {
    let mut future = pin!(future);
    let mut expiry = sleep_until(deadline);
    poll_fn(|cx| {
        if let Poll::Ready(output) = future.as_mut().poll(cx) {
            return Poll::Ready(Ok(output));
        }
        match Pin::new(&mut expiry).poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed(()))),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

/// The error of a [`timeout`] whose deadline passed first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed(());

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl std::error::Error for Elapsed {}

impl From<Elapsed> for std::io::Error {
    fn from(elapsed: Elapsed) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::TimedOut, elapsed)
    }
}
