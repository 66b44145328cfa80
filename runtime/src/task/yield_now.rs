//! `yield_now`: let every other ready task run once, then continue.
//! asyncio's `await asyncio.sleep(0)`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Returns `Pending` once, after waking itself, so the loop runs the rest of
/// the tick's ready tasks (and its timers and I/O) before this task resumes.
///
/// ```
/// eddy::run(async {
///     eddy::task::yield_now().await;
/// });
/// ```
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// The future returned by [`yield_now`].
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        // Woken during its own poll, the task goes to the back of the queue
        // and runs on the next tick: after everything that was already ready.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
