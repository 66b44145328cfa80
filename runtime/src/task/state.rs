//! The task state word: five bits in one 32-bit atomic, and every
//! transition the task goes through.
//!
//! ```text
//!   spawn ──▶ SCHEDULED ──(loop pops it, clears SCHEDULED)──▶ polling
//!                ▲                                              │
//!                │ wake (sets SCHEDULED, enqueues if it was     │ Pending
//!                │       clear: at most one queue entry)        ▼
//!                └──────────────────────────────────────────  idle
//!
//!   polling ──Ready / panic──▶ COMPLETE        abort ──▶ CANCELLED + SCHEDULED
//!   (the loop then drops the future and completes the task as cancelled)
//!
//!   JoinHandle polled, task not complete:
//!     set JOIN_REGISTERING ──▶ store its waker ──▶ clear JOIN_REGISTERING
//!   the loop completing the task: set COMPLETE, and wake the stored waker
//!     unless JOIN_REGISTERING was set (then the handle sees COMPLETE as it
//!     clears the bit, and takes the result itself)
//! ```
//!
//! Why atomics when a task only ever runs on one thread? Because its *waker*
//! may be called from any thread (an I/O thread, `spawn_blocking`, another
//! loop), and so may its `JoinHandle`. Everything that only the owning loop
//! touches (the future itself) lives outside this word, in the task cell.
//!
//! 32 bits, not a `usize`: five bits are used, and the four bytes saved
//! share a word of the task cell with its other 32-bit fields (see
//! `cell.rs` for why every byte of the cell counts).

use std::sync::atomic::{AtomicU32, Ordering::AcqRel, Ordering::Acquire};

/// The task is in a run queue (local or injected), or about to be.
///
/// Invariant: set by whoever enqueues the task, cleared by the loop right
/// before it polls. A wake that finds it already set does nothing, which is
/// what makes "woken 1000 times, polled once" true and keeps the queue free of
/// duplicates (the mistake mini-tokio makes).
const SCHEDULED: u32 = 1 << 0;

/// The future has finished (returned, panicked, or was cancelled) and its
/// result, if anyone wants it, sits in the task cell.
///
/// Invariant: once set it is never cleared; the loop never touches the stage
/// again, so the `JoinHandle` may take the output without further locking.
/// Wakes that arrive after it are ignored.
const COMPLETE: u32 = 1 << 1;

/// `abort()` was called. The loop drops the future the next time it pops the
/// task, instead of polling it.
const CANCELLED: u32 = 1 << 2;

/// A `JoinHandle` still exists.
///
/// Invariant: whichever side acts second decides who drops the output. The
/// loop completes the task with a `fetch_or(COMPLETE)`; the handle goes away
/// with a `fetch_and(!JOIN_INTEREST)`. Whoever sees the other's bit already
/// changed owns the output.
const JOIN_INTEREST: u32 = 1 << 3;

/// The `JoinHandle` is storing its waker in the task cell's join-waker
/// slot: a one-bit lock on that slot, which lives in this word so that
/// completing a task and waking its joiner is one atomic operation (the
/// `fetch_or` of COMPLETE) rather than three (a separate `AtomicWaker`'s
/// lock and unlock after it), and so that the slot needs no word of its
/// own for a lock.
///
/// Invariant: only the one join side sets it, only while COMPLETE is
/// clear, and clears it when its waker is stored. The loop touches the slot
/// only if it completes the task while the bit is clear; if the bit was
/// set, the handle sees COMPLETE when it clears the bit and takes the
/// result without waiting, so no wake is needed and none is lost. A handle
/// that finds COMPLETE already set when it takes the bit stores nothing
/// (and leaves the bit set: nothing reads it after COMPLETE).
const JOIN_REGISTERING: u32 = 1 << 4;

/// The state word of one task.
pub(crate) struct State(AtomicU32);

/// A copy of the state word at one instant.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Snapshot(u32);

impl State {
    /// A new task: about to be queued, with a live `JoinHandle`.
    pub(crate) fn new() -> State {
        State(AtomicU32::new(SCHEDULED | JOIN_INTEREST))
    }

    /// Marks the task scheduled. Returns true when the caller must put it on
    /// a run queue (it was neither queued already nor complete).
    pub(crate) fn schedule(&self) -> bool {
        let prev = self.0.fetch_or(SCHEDULED, AcqRel);
        prev & (SCHEDULED | COMPLETE) == 0
    }

    /// Requests cancellation. Returns true when the caller must enqueue the
    /// task so the loop notices.
    pub(crate) fn cancel(&self) -> bool {
        let prev = self.0.fetch_or(CANCELLED | SCHEDULED, AcqRel);
        prev & (SCHEDULED | COMPLETE) == 0
    }

    /// The loop is about to poll: clear SCHEDULED so that a wake during the
    /// poll queues the task again (it will run on the next tick).
    pub(crate) fn start_poll(&self) -> Snapshot {
        Snapshot(self.0.fetch_and(!SCHEDULED, AcqRel))
    }

    /// The output is stored; publish it. Returns the state before.
    pub(crate) fn complete(&self) -> Snapshot {
        Snapshot(self.0.fetch_or(COMPLETE, AcqRel))
    }

    /// The `JoinHandle` is going away. Returns the state before.
    pub(crate) fn drop_join_interest(&self) -> Snapshot {
        Snapshot(self.0.fetch_and(!JOIN_INTEREST, AcqRel))
    }

    /// The `JoinHandle` takes the join-waker slot (see `JOIN_REGISTERING`).
    /// Returns the state before: if it is complete, the slot must not be
    /// written (the result can be taken at once).
    pub(crate) fn lock_join_waker(&self) -> Snapshot {
        Snapshot(self.0.fetch_or(JOIN_REGISTERING, AcqRel))
    }

    /// The `JoinHandle` has stored its waker. Returns the state before: if
    /// it is complete, the loop completed the task meanwhile and left the
    /// waker unwoken, so the handle takes the result now.
    pub(crate) fn unlock_join_waker(&self) -> Snapshot {
        Snapshot(self.0.fetch_and(!JOIN_REGISTERING, AcqRel))
    }

    /// Reads the current state.
    pub(crate) fn load(&self) -> Snapshot {
        Snapshot(self.0.load(Acquire))
    }
}

impl Snapshot {
    pub(crate) fn is_complete(self) -> bool {
        self.0 & COMPLETE != 0
    }

    pub(crate) fn is_scheduled(self) -> bool {
        self.0 & SCHEDULED != 0
    }

    pub(crate) fn is_cancelled(self) -> bool {
        self.0 & CANCELLED != 0
    }

    pub(crate) fn has_join_interest(self) -> bool {
        self.0 & JOIN_INTEREST != 0
    }

    /// The `JoinHandle` holds the join-waker slot: the loop must not touch
    /// it (see `JOIN_REGISTERING`).
    pub(crate) fn is_registering_join(self) -> bool {
        self.0 & JOIN_REGISTERING != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_wake_does_not_enqueue_again() {
        let state = State::new();
        state.start_poll();
        assert!(state.schedule());
        assert!(!state.schedule());
    }

    #[test]
    fn wake_after_completion_is_ignored() {
        let state = State::new();
        state.start_poll();
        state.complete();
        assert!(!state.schedule());
        assert!(!state.cancel());
    }

    #[test]
    fn the_later_of_completion_and_handle_drop_sees_the_other() {
        let state = State::new();
        assert!(!state.complete().is_complete());
        assert!(state.drop_join_interest().is_complete());

        let state = State::new();
        assert!(state.drop_join_interest().has_join_interest());
        assert!(!state.complete().has_join_interest());
    }

    #[test]
    fn completion_during_a_join_registration_is_seen_by_the_registrant() {
        let state = State::new();
        assert!(!state.lock_join_waker().is_complete());
        // The loop completes while the handle stores its waker: it must
        // leave the waker alone...
        assert!(state.complete().is_registering_join());
        // ...and the handle learns of the completion as it lets go.
        assert!(state.unlock_join_waker().is_complete());
    }

    #[test]
    fn completion_after_a_join_registration_wakes_the_stored_waker() {
        let state = State::new();
        state.lock_join_waker();
        assert!(!state.unlock_join_waker().is_complete());
        let before = state.complete();
        assert!(before.has_join_interest() && !before.is_registering_join());
    }

    #[test]
    fn a_registration_after_completion_stores_nothing() {
        let state = State::new();
        state.complete();
        assert!(state.lock_join_waker().is_complete());
    }
}
