//! The ring's unit: one 16-byte record, and the codes that say what it
//! means.
//!
//! ```text
//!  63      56 55     48 47                                   0
//!  ┌─────────┬─────────┬──────────────────────────────────────┐
//!  │  kind   │   sub   │ loop time, ns since the loop started  │  head: u64
//!  ├─────────┴─────────┴──────────┬───────────────────────────┤
//!  │ a: u32 (usually a task)      │ b: u32 (what a kind says) │
//!  └──────────────────────────────┴───────────────────────────┘
//! ```
//!
//! 48 bits of nanoseconds wrap after about 78 hours of loop time; a ring
//! holds a few seconds to minutes of events, and the exporter unwraps the
//! rare step backwards (events are written in time order), so a
//! long-running server still exports a straight timeline. Tasks are named by
//! their sequence number on the loop (`TaskId` `3.17` is loop 3's task 17),
//! truncated to 32 bits; the future given to `block_on` is task 0.

/// One event, as the ring stores it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub(crate) struct Record {
    pub(crate) head: u64,
    pub(crate) a: u32,
    pub(crate) b: u32,
}

/// Bits of loop time a record keeps.
pub(crate) const TIME_BITS: u32 = 48;
const TIME_MASK: u64 = (1 << TIME_BITS) - 1;

impl Record {
    #[inline(always)]
    pub(crate) fn new(kind: u8, sub: u8, time: u64, a: u32, b: u32) -> Record {
        Record { head: (kind as u64) << 56 | (sub as u64) << 48 | (time & TIME_MASK), a, b }
    }

    pub(crate) fn kind(&self) -> u8 {
        (self.head >> 56) as u8
    }

    pub(crate) fn sub(&self) -> u8 {
        (self.head >> 48) as u8
    }

    /// Loop time in nanoseconds, modulo 2^48.
    pub(crate) fn time(&self) -> u64 {
        self.head & TIME_MASK
    }
}

/// What a record is (its `kind` byte) and what its fields hold.
pub(crate) mod kind {
    /// A task joined the loop, ready to run: also its first wake, by the
    /// task being polled (if any). `a` task, `b` its label (side table).
    pub(crate) const SPAWN: u8 = 1;
    /// A task became ready. `sub` the cause (see [`super::cause`]), `a`
    /// the task woken, `b` the cause's argument.
    pub(crate) const WAKE: u8 = 2;
    /// A poll starts. `a` task, `b` label.
    pub(crate) const POLL_BEGIN: u8 = 3;
    /// A poll ended. `sub` [`super::outcome`], `a` task.
    pub(crate) const POLL_END: u8 = 4;
    /// A task was cancelled (aborted, or dropped at shutdown). `sub`
    /// [`super::outcome`], `a` task. A task that returns or panics ends
    /// with its last `POLL_END` (`READY` or `PANICKED`) instead.
    pub(crate) const FINISH: u8 = 5;
    /// A timer was armed. `a` its key, `b` its deadline in ms of loop time.
    pub(crate) const TIMER_ARM: u8 = 6;
    /// An armed timer was cancelled before it fired. `a` its key.
    pub(crate) const TIMER_CANCEL: u8 = 7;
    /// The loop parks. `sub` why (see [`super::park`]), `a` the planned
    /// timeout in µs (`u32::MAX`: none), `b` tasks in the run queue.
    pub(crate) const PARK: u8 = 8;
    /// The loop is back from parking. `a` OS events, `b` timers armed.
    pub(crate) const UNPARK: u8 = 9;
    /// An event from outside the runtime (`eddy::trace::event`). `sub`
    /// the index of its name in the side table, `a` and `b` its values.
    pub(crate) const USER: u8 = 13;
}

/// Why a task was woken (a `WAKE` record's `sub`).
pub(crate) mod cause {
    /// By the loop itself, outside any task (shutdown, a destructor).
    pub(crate) const LOOP: u8 = 0;
    /// From inside a poll of task `b` (a channel send, a join, a spawn,
    /// `yield_now`...).
    pub(crate) const TASK: u8 = 1;
    /// Its timer fired; `b` the deadline, ms of loop time.
    pub(crate) const TIMER: u8 = 2;
    /// Its socket (token `b`) became readable.
    pub(crate) const IO_READ: u8 = 3;
    /// Its socket (token `b`) became writable.
    pub(crate) const IO_WRITE: u8 = 4;
    /// From another thread, through the loop's injection queue (or a
    /// spawn through a `Handle`).
    pub(crate) const FOREIGN: u8 = 5;
    /// A channel (mpsc, oneshot, broadcast, watch) woke it, from a poll of
    /// task `b`.
    pub(crate) const CHANNEL: u8 = 6;
    /// A lock or other sync primitive (mutex, semaphore, notify, barrier)
    /// woke it, from a poll of task `b`.
    pub(crate) const SYNC: u8 = 7;

    /// A short human name for each cause, as the exporter shows it.
    pub(crate) fn name(cause: u8) -> &'static str {
        match cause {
            TASK => "task",
            TIMER => "timer",
            IO_READ => "socket readable",
            IO_WRITE => "socket writable",
            FOREIGN => "another thread",
            CHANNEL => "channel",
            SYNC => "sync primitive",
            _ => "the loop",
        }
    }
}

/// How a poll or a task ended (`POLL_END` and `FINISH` records' `sub`).
pub(crate) mod outcome {
    pub(crate) const PENDING: u8 = 0;
    pub(crate) const READY: u8 = 1;
    pub(crate) const PANICKED: u8 = 2;
    pub(crate) const CANCELLED: u8 = 3;

    pub(crate) fn name(outcome: u8) -> &'static str {
        match outcome {
            PENDING => "pending",
            READY => "ready",
            PANICKED => "panicked",
            _ => "cancelled",
        }
    }
}

/// The steps of a tick that wake tasks, as the exporter draws them. Not
/// recorded: a run of wakes by timers (or I/O, or other threads) outside
/// any poll is that step, so the exporter finds it without two records
/// per step.
pub(crate) mod phase {
    pub(crate) const INJECTED: u8 = 0;
    pub(crate) const TIMERS: u8 = 1;
    pub(crate) const IO: u8 = 2;

    /// The step that wakes for `cause`, if it is one of the loop's own.
    pub(crate) fn of(cause: u8) -> Option<u8> {
        match cause {
            super::cause::FOREIGN => Some(INJECTED),
            super::cause::TIMER => Some(TIMERS),
            super::cause::IO_READ | super::cause::IO_WRITE => Some(IO),
            _ => None,
        }
    }

    pub(crate) fn name(phase: u8) -> &'static str {
        match phase {
            INJECTED => "take injected",
            TIMERS => "fire timers",
            _ => "dispatch I/O",
        }
    }
}

/// Why the loop parked (`PARK` records' `sub`).
pub(crate) mod park {
    /// Tasks are ready: no syscall at all (not drawn as a park).
    pub(crate) const SKIP: u8 = 0;
    /// Tasks are ready, but I/O was due a look: a zero-timeout wait.
    pub(crate) const POLL: u8 = 1;
    /// Waiting for I/O or the next timer.
    pub(crate) const WAIT: u8 = 2;
    /// Paused clock, idle loop: looked for I/O, then told the runtime's
    /// clock, which moves time once every loop is idle (or waited for the
    /// loop that will).
    pub(crate) const PAUSED: u8 = 3;

    pub(crate) fn name(why: u8) -> &'static str {
        match why {
            SKIP => "skip",
            POLL => "poll",
            WAIT => "wait",
            _ => "paused (idle)",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_sixteen_bytes_and_round_trips() {
        assert_eq!(std::mem::size_of::<Record>(), 16);
        let record = Record::new(kind::WAKE, cause::TIMER, (1 << 50) + 12_345, 7, 9);
        assert_eq!((record.kind(), record.sub(), record.time()), (kind::WAKE, cause::TIMER, 12_345));
        assert_eq!((record.a, record.b), (7, 9));
    }
}
