//! `join_all` and `try_join_all`: [`join!`](crate::join) and
//! [`try_join!`](crate::try_join) for a number of futures known only at run
//! time (an iterator of them). asyncio's `gather(*aws)`.
//!
//! How they are built: each future is boxed (so it stays pinned while the
//! `Vec` around it is an ordinary, movable value, and this file needs no
//! `unsafe`) in a slot that turns from `Running(future)` into `Done(output)`
//! when it completes; the finished future is dropped at once. Each poll of
//! the combinator polls every slot still running, in input order, with the
//! task's one waker, so a wake of any future re-polls all the unfinished
//! ones. That is O(n) per wake: fine for tens of futures. For hundreds or
//! more, spawn them and collect with a [`JoinSet`](super::JoinSet), where
//! each completion costs O(1).
//!
//! Outputs come back in **input order**, whatever the order of completion.
//! Dropping the combinator drops (cancels) every future still running;
//! `try_join_all` does exactly that when a future returns `Err`.

use std::fmt;
use std::future::Future;
use std::mem;
use std::pin::Pin;
use std::task::{Context, Poll};

/// One input future: running, or finished with its output kept for the end.
enum Slot<F: Future> {
    Running(Pin<Box<F>>),
    Done(F::Output),
    /// The output was handed over (the combinator completed).
    Taken,
}

/// Polls every running slot once; returns whether all are done, or the
/// error that ended the poll early (for `try_join_all`).
fn poll_slots<F: Future, E>(
    slots: &mut [Slot<F>],
    cx: &mut Context<'_>,
    split: impl Fn(F::Output) -> Result<F::Output, E>,
) -> Poll<Result<(), E>> {
    let mut all_done = true;
    for slot in slots.iter_mut() {
        if let Slot::Running(future) = slot {
            match future.as_mut().poll(cx) {
                Poll::Ready(output) => *slot = Slot::Done(split(output)?),
                Poll::Pending => all_done = false,
            }
        }
    }
    if all_done {
        Poll::Ready(Ok(()))
    } else {
        Poll::Pending
    }
}

fn take_outputs<F: Future>(slots: &mut [Slot<F>]) -> Vec<F::Output> {
    slots
        .iter_mut()
        .map(|slot| match mem::replace(slot, Slot::Taken) {
            Slot::Done(output) => output,
            _ => unreachable!("join_all: an output was missing after every future finished"),
        })
        .collect()
}

/// Awaits every future of `futures` concurrently, in the calling task, and
/// returns their outputs in input order. asyncio's `gather(*aws)`.
///
/// ```
/// use std::time::Duration;
/// use eddy::time::{sleep, Instant};
///
/// eddy::test::run(async {
///     let started = Instant::now();
///     let lengths = eddy::task::join_all([3, 1, 2].map(|secs| async move {
///         sleep(Duration::from_secs(secs)).await;
///         secs * 10
///     }))
///     .await;
///     assert_eq!(lengths, [30, 10, 20]); // input order, not completion order
///     assert_eq!(started.elapsed(), Duration::from_secs(3));
/// });
/// ```
pub fn join_all<I>(futures: I) -> JoinAll<I::Item>
where
    I: IntoIterator,
    I::Item: Future,
{
    JoinAll { slots: futures.into_iter().map(|f| Slot::Running(Box::pin(f))).collect() }
}

/// The future of [`join_all`].
#[must_use = "futures do nothing unless awaited"]
pub struct JoinAll<F: Future> {
    slots: Vec<Slot<F>>,
}

// The futures are boxed and the outputs are never pinned: moving the `Vec`
// is always fine.
impl<F: Future> Unpin for JoinAll<F> {}

impl<F: Future> Future for JoinAll<F> {
    type Output = Vec<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Vec<F::Output>> {
        let this = self.get_mut();
        match poll_slots(&mut this.slots, cx, Ok::<_, std::convert::Infallible>) {
            Poll::Ready(_) => Poll::Ready(take_outputs(&mut this.slots)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<F: Future> fmt::Debug for JoinAll<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let running = self.slots.iter().filter(|slot| matches!(slot, Slot::Running(_))).count();
        f.debug_struct("JoinAll").field("futures", &self.slots.len()).field("running", &running).finish()
    }
}

/// Like [`join_all`] for futures returning `Result<T, E>`: `Ok` with every
/// value in input order, or the first `Err` as soon as a future returns it,
/// dropping (cancelling) the futures still running.
///
/// ```
/// eddy::test::run(async {
///     let parsed = eddy::task::try_join_all(["1", "2", "x"].map(|s| async move { s.parse::<u32>() })).await;
///     assert!(parsed.is_err());
///     let parsed = eddy::task::try_join_all(["1", "2"].map(|s| async move { s.parse::<u32>() })).await;
///     assert_eq!(parsed, Ok(vec![1, 2]));
/// });
/// ```
pub fn try_join_all<I, T, E>(futures: I) -> TryJoinAll<I::Item>
where
    I: IntoIterator,
    I::Item: Future<Output = Result<T, E>>,
{
    TryJoinAll { slots: futures.into_iter().map(|f| Slot::Running(Box::pin(f))).collect() }
}

/// The future of [`try_join_all`].
#[must_use = "futures do nothing unless awaited"]
pub struct TryJoinAll<F: Future> {
    slots: Vec<Slot<F>>,
}

// As for `JoinAll`.
impl<F: Future> Unpin for TryJoinAll<F> {}

impl<F, T, E> Future for TryJoinAll<F>
where
    F: Future<Output = Result<T, E>>,
{
    type Output = Result<Vec<T>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<Vec<T>, E>> {
        let this = self.get_mut();
        // An `Err` output stops the poll; an `Ok` is stored as it is.
        let split = |output: Result<T, E>| match output {
            Ok(value) => Ok(Ok(value)),
            Err(error) => Err(error),
        };
        match poll_slots(&mut this.slots, cx, split) {
            Poll::Ready(Ok(())) => {
                let values = take_outputs(&mut this.slots).into_iter().map(|output| match output {
                    Ok(value) => value,
                    Err(_) => unreachable!("try_join_all: an error was stored as an output"),
                });
                Poll::Ready(Ok(values.collect()))
            }
            Poll::Ready(Err(error)) => {
                // Cancel the rest now rather than when the caller drops us.
                this.slots.clear();
                Poll::Ready(Err(error))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<F: Future> fmt::Debug for TryJoinAll<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let running = self.slots.iter().filter(|slot| matches!(slot, Slot::Running(_))).count();
        f.debug_struct("TryJoinAll").field("futures", &self.slots.len()).field("running", &running).finish()
    }
}
