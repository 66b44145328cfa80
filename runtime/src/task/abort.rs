//! `AbortHandle`: the right to cancel a task, without its result.
//!
//! A [`JoinHandle`](super::JoinHandle) is the one owner of a task's result;
//! an `AbortHandle` (from [`JoinHandle::abort_handle`](super::JoinHandle::abort_handle))
//! is a cheap, cloneable, `Send + Sync` remote control that can only cancel
//! the task and ask whether it is done: what a supervisor, a timeout watcher
//! or a [`JoinSet`](super::JoinSet) needs.
//!
//! How it is built: it holds the task cell as a type-erased run-queue entry
//! (`Weak<dyn Runnable>`), a weak reference to the `Arc` the loop and the
//! wakers hold, so it needs no allocation of its own and no knowledge of the
//! output type. Aborting upgrades it (a task nobody holds strongly any more
//! has finished, and there is nothing to abort), sets the CANCELLED bit in
//! the task's state word and queues the task; at its next turn the loop
//! drops the future instead of polling it (see `state.rs`). Weak, so that
//! holding an `AbortHandle` keeps neither the task nor its result alive,
//! and so that task dumps can count a task's strong references as its loop,
//! queue, `JoinHandle` and wakers exactly (see [`crate::debug`]).

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

use super::{Id, Runnable};

/// Cancels a task without owning its result. Clone it freely; dropping it
/// does nothing to the task.
///
/// ```
/// use std::time::Duration;
///
/// eddy::test::run(async {
///     let handle = eddy::spawn(eddy::time::sleep(Duration::from_secs(3600)));
///     let abort = handle.abort_handle();
///     // Another task (or thread) can cancel it while we await the result.
///     eddy::spawn(async move { abort.abort() });
///     assert!(handle.await.unwrap_err().is_cancelled());
/// });
/// ```
#[derive(Clone)]
pub struct AbortHandle {
    inner: Inner,
}

#[derive(Clone)]
enum Inner {
    /// A task on an event loop (weak: see the module docs), and its id.
    Task(Weak<dyn Runnable>, Id),
    /// A `spawn_blocking` job: only a job that has not started can be
    /// cancelled, by this flag, which the pool checks before running it.
    Blocking { cancel: Arc<AtomicBool>, id: Id },
}

impl AbortHandle {
    pub(crate) fn for_task(task: Arc<dyn Runnable>) -> AbortHandle {
        let id = task.header().id();
        AbortHandle { inner: Inner::Task(Arc::downgrade(&task), id) }
    }

    pub(crate) fn for_blocking(cancel: Arc<AtomicBool>, id: Id) -> AbortHandle {
        AbortHandle { inner: Inner::Blocking { cancel, id } }
    }

    /// Cancels the task, exactly like [`JoinHandle::abort`](super::JoinHandle::abort):
    /// its future is dropped at its next turn on the loop instead of being
    /// polled, and its `JoinHandle` yields a cancelled `JoinError`. A task
    /// that already finished keeps its result. Any thread, any number of
    /// times.
    pub fn abort(&self) {
        match &self.inner {
            Inner::Task(task, _) => {
                // Gone: the task finished and everyone let go of it.
                let Some(task) = task.upgrade() else { return };
                let header = task.header();
                if header.state.cancel() {
                    header.owner.clone().schedule(task);
                }
            }
            Inner::Blocking { cancel, .. } => cancel.store(true, Ordering::Release),
        }
    }

    /// Whether the task has finished (returned, panicked or been
    /// cancelled). For a `spawn_blocking` job this is always `false`: the
    /// pool reports completion only to the `JoinHandle`.
    pub fn is_finished(&self) -> bool {
        match &self.inner {
            Inner::Task(task, _) => {
                task.upgrade().is_none_or(|task| task.header().state.load().is_complete())
            }
            Inner::Blocking { .. } => false,
        }
    }

    /// The id of the task this handle cancels.
    pub fn id(&self) -> Id {
        match &self.inner {
            Inner::Task(_, id) => *id,
            Inner::Blocking { id, .. } => *id,
        }
    }
}

impl fmt::Debug for AbortHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AbortHandle").field("id", &self.id()).finish()
    }
}
