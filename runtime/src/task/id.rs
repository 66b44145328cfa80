//! "Which task is running?": [`id`] and [`try_id`], asyncio's
//! `current_task()` reduced to what Rust code usually wants from it, a name
//! for logs.
//!
//! How it is built: one thread-local slot per thread. The task cell sets it
//! to the task being polled for the duration of each poll, and empties it
//! afterwards (a guard, so a panic cannot leave a stale task behind). Polls
//! never nest on one thread (a loop polls one task at a time, and a
//! `block_on` inside a task is refused), so there is no previous value to
//! put back, and emptying is one store: the slot is exactly "the task being
//! polled on this thread". Outside a poll (the `block_on` future itself, a
//! `spawn_blocking` closure, a plain thread) it is empty.
//!
//! The slot holds the task's header, its waker's data pointer and its
//! "held" waker vtable rather than just the id, because the task dump's
//! waker accounting (`debug::holders::held`) needs exactly "is this waker
//! the polled task's, and how do I count a clone of it": one slot set once
//! per poll serves both, for the price the id alone cost (three words).
//!
//! Ids are what debug mode's logs and [`JoinError`](super::JoinError)
//! messages print (`task 1.7 'worker' (spawned at src/main.rs:3:5)`), so an
//! id you log yourself with `task::id()` matches theirs.

use std::cell::Cell;
use std::task::RawWakerVTable;

use super::cell::Header;
use super::TaskId;

/// A task's id: which loop it runs on and its spawn order there. `Display`s
/// as `loop.seq` (`1.7` is loop 1's 7th task), the form logs use.
pub type Id = TaskId;

/// The task a thread is polling: see the module docs. Empty when `data` is
/// the "no task" sentinel; the other fields are then stale and unused.
#[derive(Clone, Copy)]
pub(crate) struct Polling {
    /// Its header.
    pub(crate) header: *const Header,
    /// Its waker's data pointer (the task's `Arc` pointer).
    pub(crate) data: *const (),
    /// The vtable of its eddy-held waker clones (`debug::holders`).
    pub(crate) held_vtable: *const RawWakerVTable,
}

/// What `Polling::NONE.data` points at: an address no waker can carry (it
/// is private to this module), so "is this waker the polled task's?" is one
/// comparison even when no task is being polled, with no null test (a
/// waker's data may well be null).
static NO_TASK: u8 = 0;

impl Polling {
    const NONE: Polling = Polling {
        header: std::ptr::null(),
        data: std::ptr::addr_of!(NO_TASK).cast(),
        held_vtable: std::ptr::null(),
    };
}

thread_local! {
    /// The task this thread is polling right now, if any.
    static CURRENT: Cell<Polling> = const { Cell::new(Polling::NONE) };
}

/// Marks `polling` as the running task until the guard drops. The caller
/// keeps the task alive (and its pointers valid) until then.
#[inline]
pub(crate) fn enter(polling: Polling) -> Current {
    CURRENT.with(|current| current.set(polling));
    Current(())
}

/// The task being polled on this thread, if any.
#[inline]
pub(crate) fn polling() -> Option<Polling> {
    let polling = CURRENT.with(Cell::get);
    (polling.data != Polling::NONE.data).then_some(polling)
}

/// The slot as it is, for a caller that already knows it holds a task (its
/// `data` matched a waker's).
#[inline(always)]
pub(crate) fn polling_slot() -> Polling {
    CURRENT.with(Cell::get)
}

/// The waker data pointer of the task being polled on this thread; when
/// none is, a pointer no waker has (see [`NO_TASK`]). One load.
#[inline(always)]
pub(crate) fn polling_data() -> *const () {
    // SAFETY: a plain read of the cell's contents on its own thread (no
    // reference into the cell is held across any other access).
    CURRENT.with(|current| unsafe { (*current.as_ptr()).data })
}

/// Empties the slot when a poll ends (or unwinds).
pub(crate) struct Current(());

impl Drop for Current {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: a plain write into the cell on its own thread (no
        // reference into it is alive). `data` alone says "empty".
        CURRENT.with(|current| unsafe { (*current.as_ptr()).data = Polling::NONE.data });
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
    // SAFETY: a task is published only while it is being polled on this
    // thread (the guard of `enter` takes it back), and the poll holds a
    // reference to it: its header is alive.
    polling().map(|polling| unsafe { (*polling.header).id() })
}
