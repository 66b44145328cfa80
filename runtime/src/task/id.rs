//! "Which task is running?": [`id`] and [`try_id`], asyncio's
//! `current_task()` reduced to what Rust code usually wants from it, a name
//! for logs.
//!
//! How it is built: one thread-local slot per thread. The task cell sets it
//! to the task's [`Id`] for the duration of each poll (and puts the previous
//! value back afterwards, so a `block_on` nested on another thread, or a
//! panic, cannot leave a stale id behind). A loop polls one task at a time,
//! so the slot is exactly "the task being polled on this thread". Outside a
//! poll (the `block_on` future itself, a `spawn_blocking` closure, a plain
//! thread) it is empty.
//!
//! Ids are what debug mode's logs and [`JoinError`](super::JoinError)
//! messages print (`task 1.7 'worker' (spawned at src/main.rs:3:5)`), so an
//! id you log yourself with `task::id()` matches theirs.

use std::cell::Cell;

use super::TaskId;

/// A task's id: which loop it runs on and its spawn order there. `Display`s
/// as `loop.seq` (`1.7` is loop 1's 7th task), the form logs use.
pub type Id = TaskId;

thread_local! {
    /// The task this thread is polling right now, if any.
    static CURRENT: Cell<Option<Id>> = const { Cell::new(None) };
}

/// Marks `id` as the running task until the guard drops.
pub(crate) fn enter(id: Id) -> Current {
    Current { previous: CURRENT.with(|current| current.replace(Some(id))) }
}

/// Restores the previous "current task" when a poll ends (or unwinds).
pub(crate) struct Current {
    previous: Option<Id>,
}

impl Drop for Current {
    fn drop(&mut self) {
        CURRENT.with(|current| current.set(self.previous));
    }
}

/// The id of the task being polled on this thread.
///
/// # Panics
/// Outside a task: in the future given to `block_on` (which is not a task),
/// in a `spawn_blocking` closure, or on a plain thread. Use [`try_id`] where
/// that can happen.
///
/// ```
/// eddy::run(async {
///     let handle = eddy::spawn(async { eddy::task::id() });
///     let expected = handle.id();
///     assert_eq!(handle.await.unwrap(), expected);
/// });
/// ```
#[track_caller]
pub fn id() -> Id {
    match try_id() {
        Some(id) => id,
        None => panic!(
            "eddy::task::id() called outside a task (the block_on future, a spawn_blocking closure \
             and plain threads have no task id); use eddy::task::try_id() there"
        ),
    }
}

/// The id of the task being polled on this thread, or `None` outside a task.
///
/// ```
/// assert_eq!(eddy::task::try_id(), None);
/// eddy::run(async {
///     assert_eq!(eddy::task::try_id(), None); // block_on's future is not a task
///     let id = eddy::spawn(async { eddy::task::try_id() }).await.unwrap();
///     assert!(id.is_some());
/// });
/// ```
pub fn try_id() -> Option<Id> {
    CURRENT.with(Cell::get)
}
