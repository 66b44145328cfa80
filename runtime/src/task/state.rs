//! The task state word: four bits in one atomic, and every transition the
//! task goes through.
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
//! ```
//!
//! Why atomics when a task only ever runs on one thread? Because its *waker*
//! may be called from any thread (an I/O thread, `spawn_blocking`, another
//! loop), and so may its `JoinHandle`. Everything that only the owning loop
//! touches (the future itself) lives outside this word, in the task cell.

use std::sync::atomic::{AtomicUsize, Ordering::AcqRel, Ordering::Acquire};

/// The task is in a run queue (local or injected), or about to be.
///
/// Invariant: set by whoever enqueues the task, cleared by the loop right
/// before it polls. A wake that finds it already set does nothing, which is
/// what makes "woken 1000 times, polled once" true and keeps the queue free of
/// duplicates (the mistake mini-tokio makes).
const SCHEDULED: usize = 1 << 0;

/// The future has finished (returned, panicked, or was cancelled) and its
/// result, if anyone wants it, sits in the task cell.
///
/// Invariant: once set it is never cleared; the loop never touches the stage
/// again, so the `JoinHandle` may take the output without further locking.
/// Wakes that arrive after it are ignored.
const COMPLETE: usize = 1 << 1;

/// `abort()` was called. The loop drops the future the next time it pops the
/// task, instead of polling it.
const CANCELLED: usize = 1 << 2;

/// A `JoinHandle` still exists.
///
/// Invariant: whichever side acts second decides who drops the output. The
/// loop completes the task with a `fetch_or(COMPLETE)`; the handle goes away
/// with a `fetch_and(!JOIN_INTEREST)`. Whoever sees the other's bit already
/// changed owns the output.
const JOIN_INTEREST: usize = 1 << 3;

/// The state word of one task.
pub(crate) struct State(AtomicUsize);

/// A copy of the state word at one instant.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Snapshot(usize);

impl State {
    /// A new task: about to be queued, with a live `JoinHandle`.
    pub(crate) fn new() -> State {
        State(AtomicUsize::new(SCHEDULED | JOIN_INTEREST))
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
}
