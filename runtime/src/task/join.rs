//! `JoinHandle`: awaiting a task's result, aborting it, or letting it run on
//! detached; and `JoinError`, the "why there is no result" value.
//!
//! Like asyncio's Task object, a handle is a future of the task's result.
//! Unlike it, dropping the handle does *not* cancel the task: it detaches,
//! and the task runs to completion on its own (tokio's rule; cancelling is an
//! explicit [`JoinHandle::abort`]).

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use super::abort::AbortHandle;
use super::cell::JoinTarget;
use super::{Site, TaskId, TaskInfo, Who};
use crate::sync::oneshot;

/// An owned permission to await, abort or inspect a spawned task.
///
/// Awaiting yields `Ok(output)`, or `Err(JoinError)` if the task panicked or
/// was aborted. Dropping the handle detaches the task. A `JoinHandle<T>` is
/// `Send` when `T` is, so a result can be awaited on another loop or thread.
///
/// ```
/// let answer = eddy::run(async {
///     let handle = eddy::spawn(async { 6 * 7 });
///     handle.await
/// });
/// assert_eq!(answer.unwrap(), 42);
/// ```
pub struct JoinHandle<T> {
    inner: Inner<T>,
    /// The handle carries a `T` in spirit: `Send`/`Sync` only if `T` is.
    _output: PhantomData<T>,
}

/// Two words: a spawn-and-join loop keeps one handle per task, and a
/// handle as large as the rare blocking case (three fields, a `TaskInfo`
/// among them) made that `Vec` 64 bytes per task instead of 16. Whether
/// the task has finished, and whether debug mode is on, are the task's
/// own (its state word and its loop), so the handle keeps neither.
enum Inner<T> {
    /// A task on an event loop.
    Task(Arc<dyn JoinTarget<T>>),
    /// A closure on the blocking pool.
    Blocking(Box<BlockingJoin<T>>),
}

/// A blocking job's side of its `JoinHandle`.
struct BlockingJoin<T> {
    result: oneshot::Receiver<Result<T, JoinError>>,
    cancel: Arc<AtomicBool>,
    info: TaskInfo,
}

impl<T> JoinHandle<T> {
    pub(crate) fn for_task(target: Arc<dyn JoinTarget<T>>) -> JoinHandle<T> {
        JoinHandle { inner: Inner::Task(target), _output: PhantomData }
    }

    pub(crate) fn for_blocking(
        result: oneshot::Receiver<Result<T, JoinError>>,
        cancel: Arc<AtomicBool>,
        info: TaskInfo,
    ) -> JoinHandle<T> {
        JoinHandle {
            inner: Inner::Blocking(Box::new(BlockingJoin { result, cancel, info })),
            _output: PhantomData,
        }
    }

    /// Cancels the task: at its next turn on the loop its future is dropped
    /// (running its destructors) instead of polled, and awaiting this handle
    /// yields a [`JoinError`] for which [`JoinError::is_cancelled`] is true.
    /// A task that already finished keeps its result. Safe to call from any
    /// thread, any number of times.
    ///
    /// A blocking closure can only be cancelled before it starts: a thread
    /// cannot be interrupted safely.
    pub fn abort(&self) {
        match &self.inner {
            Inner::Task(target) => target.clone().abort(),
            Inner::Blocking(blocking) => blocking.cancel.store(true, Ordering::Release),
        }
    }

    /// Whether the task has finished (returned, panicked, or been cancelled),
    /// so that awaiting the handle will not wait.
    pub fn is_finished(&self) -> bool {
        match &self.inner {
            // Also after the handle returned the result: the task is
            // complete for good.
            Inner::Task(target) => target.is_finished(),
            Inner::Blocking(blocking) => blocking.result.is_ready(),
        }
    }

    /// The id of the task, as shown in logs and errors.
    pub fn id(&self) -> TaskId {
        match &self.inner {
            Inner::Task(target) => target.id(),
            Inner::Blocking(blocking) => blocking.info.id,
        }
    }

    /// A handle that can cancel this task (and ask whether it finished)
    /// without owning its result: cloneable and `Send + Sync`, for whoever
    /// supervises the task while someone else awaits it.
    ///
    /// ```
    /// eddy::test::run(async {
    ///     let handle = eddy::spawn(std::future::pending::<()>());
    ///     let abort = handle.abort_handle();
    ///     assert_eq!(abort.id(), handle.id());
    ///     abort.abort();
    ///     assert!(handle.await.unwrap_err().is_cancelled());
    ///     assert!(abort.is_finished());
    /// });
    /// ```
    pub fn abort_handle(&self) -> AbortHandle {
        match &self.inner {
            Inner::Task(target) => AbortHandle::for_task(target.clone().runnable()),
            Inner::Blocking(blocking) => AbortHandle::for_blocking(blocking.cancel.clone(), blocking.info.id),
        }
    }
}

// The handle holds no `T` in place (only an `Arc` or a receiver), so moving
// it is always fine, whatever `T` is.
impl<T> Unpin for JoinHandle<T> {}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    // Always inlined: it is a few instructions around `poll_join`, and a
    // call frame around them cost 2.5% of the spawn-and-join benchmark.
    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = &mut self.get_mut().inner;
        // Budgeted: a loop over handles of finished tasks is a loop over an
        // always-ready resource. (Charged once, though the blocking case
        // awaits a oneshot that is budgeted too: see `poll_budgeted`.)
        super::budget::poll_budgeted(cx, |cx| poll_inner(inner, cx))
    }
}

/// The poll itself. A task's result is the hot path; a blocking job's goes
/// through a call of its own, so that this stays small enough for the
/// optimiser to inline into every awaiting future (grown by a few
/// instructions, it once stopped doing so, at ~25 instructions per await
/// in spawn-and-join).
#[inline(always)]
fn poll_inner<T>(inner: &mut Inner<T>, cx: &mut Context<'_>) -> Poll<Result<T, JoinError>> {
    match inner {
        Inner::Task(target) => target.poll_join(cx.waker()),
        Inner::Blocking(blocking) => poll_blocking(blocking, cx),
    }
}

/// A `spawn_blocking` job's result: the oneshot the pool answers on.
#[inline(never)]
fn poll_blocking<T>(blocking: &mut BlockingJoin<T>, cx: &mut Context<'_>) -> Poll<Result<T, JoinError>> {
    match std::task::ready!(Pin::new(&mut blocking.result).poll(cx)) {
        Ok(result) => Poll::Ready(result),
        // The pool dropped the job without running it (shutdown).
        Err(_) => Poll::Ready(Err(JoinError::cancelled(blocking.info.id, &blocking.info.site))),
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        if let Inner::Task(target) = &self.inner {
            target.drop_join_handle();
        }
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle").field("id", &self.id()).finish()
    }
}

/// Why a task produced no result: it panicked, or it was cancelled (by
/// [`JoinHandle::abort`], or because its runtime shut down first).
///
/// One pointer wide: the details live in one heap allocation, made only
/// when a task fails. A task cell keeps room for `Result<T, JoinError>`
/// whatever happens, so every byte here is a byte of every task: boxed,
/// a `spawn` of a small future takes 48 bytes less (the spawn-and-join
/// benchmark touches that much less fresh memory per task).
pub struct JoinError {
    inner: Box<ErrorInner>,
}

struct ErrorInner {
    id: TaskId,
    /// "task 7 'name' (spawned at src/main.rs:3:5)", for messages.
    describe: String,
    repr: Repr,
}

enum Repr {
    Cancelled,
    Panic(Box<dyn Any + Send + 'static>),
}

impl JoinError {
    /// Task `id`, spawned at `site`, was cancelled.
    pub(crate) fn cancelled(id: TaskId, site: &Site) -> JoinError {
        JoinError {
            inner: Box::new(ErrorInner { id, describe: Who(id, site).to_string(), repr: Repr::Cancelled }),
        }
    }

    /// Task `id`, spawned at `site`, panicked with `payload`.
    pub(crate) fn panicked(id: TaskId, site: &Site, payload: Box<dyn Any + Send + 'static>) -> JoinError {
        JoinError {
            inner: Box::new(ErrorInner {
                id,
                describe: Who(id, site).to_string(),
                repr: Repr::Panic(payload),
            }),
        }
    }

    /// The task was cancelled before it finished.
    pub fn is_cancelled(&self) -> bool {
        matches!(self.inner.repr, Repr::Cancelled)
    }

    /// The task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self.inner.repr, Repr::Panic(_))
    }

    /// The id of the task that failed.
    pub fn id(&self) -> TaskId {
        self.inner.id
    }

    /// The panic payload, to re-raise with `std::panic::resume_unwind`, or
    /// the error itself if the task was cancelled.
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send + 'static>, JoinError> {
        if self.is_cancelled() {
            return Err(self);
        }
        match self.inner.repr {
            Repr::Panic(payload) => Ok(payload),
            Repr::Cancelled => unreachable!("checked just above"),
        }
    }

    /// The panic message, if the task panicked with a string (what
    /// `panic!("...")` and `assert!` produce: a `&str` or a `String`).
    ///
    /// `None` if the task was cancelled, or panicked with any other payload
    /// (`std::panic::panic_any(42)`, say): there is no message to show, and
    /// inventing one would hide that. The payload itself, whatever its type,
    /// is in [`try_into_panic`](Self::try_into_panic).
    ///
    /// ```
    /// eddy::run(async {
    ///     let error = eddy::spawn(async { std::panic::panic_any(42_u32) }).await.unwrap_err();
    ///     assert_eq!(error.panic_message(), None);
    ///     assert_eq!(error.try_into_panic().unwrap().downcast_ref::<u32>(), Some(&42));
    /// });
    /// ```
    pub fn panic_message(&self) -> Option<&str> {
        match &self.inner.repr {
            Repr::Panic(payload) => payload_text(payload.as_ref()),
            Repr::Cancelled => None,
        }
    }
}

/// The text of a panic payload, if it has one (`panic!("...")` carries a
/// `&str` or a `String`).
fn payload_text(payload: &(dyn Any + Send)) -> Option<&str> {
    if let Some(message) = payload.downcast_ref::<&'static str>() {
        Some(message)
    } else {
        payload.downcast_ref::<String>().map(String::as_str)
    }
}

/// A panic payload described for a log line or an error message: its text,
/// or a placeholder saying it had none.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> &str {
    payload_text(payload).unwrap_or("a non-string panic payload")
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let task = &self.inner.describe;
        match &self.inner.repr {
            Repr::Cancelled => write!(f, "{task} was cancelled"),
            Repr::Panic(payload) => write!(f, "{task} panicked: {}", panic_message(payload.as_ref())),
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JoinError({self})")
    }
}

impl std::error::Error for JoinError {}

/// For `?` in functions returning `io::Result`. The panic payload is not
/// `Sync`, so only the message is kept.
impl From<JoinError> for std::io::Error {
    fn from(error: JoinError) -> std::io::Error {
        std::io::Error::other(error.to_string())
    }
}
