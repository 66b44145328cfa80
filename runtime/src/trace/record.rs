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
pub(crate) const TIME_MASK: u64 = (1 << TIME_BITS) - 1;

impl Record {
    /// A record of loop time `time` (ns; only its low 48 bits are kept).
    #[cfg(test)]
    pub(crate) fn new(kind: u8, sub: u8, time: u64, a: u32, b: u32) -> Record {
        Record::stamped(kind, sub, time & TIME_MASK, a, b)
    }

    /// A record whose `sub` and `b` are a cause word (`trace::pack_cause`:
    /// the code already sits where `sub` goes), of a time cut to 48 bits.
    #[inline(always)]
    pub(crate) fn with_cause(kind: u8, time: u64, a: u32, cause: u64) -> Record {
        const SUB: u64 = 0xFF << 48;
        Record { head: (kind as u64) << 56 | (cause & SUB) | time, a, b: cause as u32 }
    }

    /// A record of a time already cut to 48 bits (the recorder cuts it
    /// once per clock stamp, not once per record).
    #[inline(always)]
    pub(crate) fn stamped(kind: u8, sub: u8, time: u64, a: u32, b: u32) -> Record {
        debug_assert!(time <= TIME_MASK);
        Record { head: (kind as u64) << 56 | (sub as u64) << 48 | time, a, b }
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
///
/// Events are folded where the ring's order already says them, so the
/// busy path writes one record per poll and nothing per wake: a task's
/// wake (with its cause) is carried by its next `POLL_BEGIN`, its spawn by
/// its first one (cause `SPAWNED`), a socket's readiness by the poll it
/// caused (cause `IO_READ`/`IO_WRITE` and the token) and the `UNPARK`
/// before it (when), and arming a timer is not an event (the wheel holds
/// armed timers; cancelling or firing one says which). Numbers of retired
/// kinds (1 spawn, 3 poll begin, 6 timer armed, 11 socket ready) are not
/// reused.
pub(crate) mod kind {
    /// The `block_on` future (task 0), or a task adopted from another
    /// thread, became ready. `sub` the cause (see [`super::cause`]), `a`
    /// the task, `b` the cause's argument. Other tasks' wakes are in their
    /// `POLL_BEGIN`.
    pub(crate) const WAKE: u8 = 2;
    /// A poll starts. `a` the task; `sub` and `b` what made it ready: the
    /// wake's cause and its argument (see [`super::cause`]), `SPAWNED` for
    /// its first poll. `LOOP` for task 0, whose wakes are `WAKE` records.
    /// Kind 0, like cause `TASK`: the commonest record, a poll woken by a
    /// task, is then just the time (two instructions fewer per poll).
    pub(crate) const POLL_BEGIN: u8 = 0;
    /// A poll ended. `sub` [`super::outcome`], `a` task, `b` its label
    /// (side table). Written for a task's last poll (`READY`,
    /// `PANICKED`), and for every poll when poll times are precise; a poll
    /// that returned `Pending` otherwise ends where the loop's next record
    /// of its own begins.
    pub(crate) const POLL_END: u8 = 4;
    /// A task was cancelled (aborted, or dropped at shutdown). `sub`
    /// [`super::outcome`], `a` task, `b` its label. A task that returns or
    /// panics ends with its last `POLL_END` (`READY` or `PANICKED`) instead.
    pub(crate) const FINISH: u8 = 5;
    /// An armed timer was cancelled before it fired. `a` its key, `b` its
    /// deadline in ms of loop time.
    pub(crate) const TIMER_CANCEL: u8 = 7;
    /// The loop parks. `sub` why (see [`super::park`]), `a` the planned
    /// timeout in µs (`u32::MAX`: none), `b` tasks in the run queue.
    pub(crate) const PARK: u8 = 8;
    /// The loop is back from parking. `a` OS events, `b` timers armed.
    /// The sockets those events readied were ready at this time: the
    /// polls they caused say which (cause `IO_READ`/`IO_WRITE`, `b` the
    /// token), as does the `block_on` future's `WAKE`.
    pub(crate) const UNPARK: u8 = 9;
    /// The loop fired timers: `a` how many, `b` the tick (ms of loop time)
    /// it fired them at. The tasks they woke say `TIMER` in their polls.
    pub(crate) const TIMERS_FIRED: u8 = 10;
    /// An event from outside the runtime (`eddy::trace::event`). `sub`
    /// the index of its name in the side table, `a` and `b` its values.
    pub(crate) const USER: u8 = 13;
}

/// Why a task was woken (a `POLL_BEGIN` or `WAKE` record's `sub`).
pub(crate) mod cause {
    /// By task `b`, from inside its poll (a join, `yield_now`, a waker of
    /// its own...) or just after its last one (its `JoinHandle`). Code 0,
    /// so that "in a poll of task N" is the word N (one store per poll).
    pub(crate) const TASK: u8 = 0;
    /// By the loop itself, outside any task (shutdown, a destructor).
    pub(crate) const LOOP: u8 = 1;
    /// Its timer fired; `b` the tick (ms of loop time) the loop fired it at.
    pub(crate) const TIMER: u8 = 2;
    /// Its socket (token `b`) became readable.
    pub(crate) const IO_READ: u8 = 3;
    /// Its socket (token `b`) became writable.
    pub(crate) const IO_WRITE: u8 = 4;
    /// From another thread, through the loop's injection queue (or a
    /// spawn through a `Handle`).
    pub(crate) const FOREIGN: u8 = 5;
    /// A channel (mpsc, oneshot, broadcast, watch) woke it, in a poll of
    /// task `b`.
    pub(crate) const CHANNEL: u8 = 6;
    /// A lock or other sync primitive (mutex, semaphore, notify, barrier)
    /// woke it, in a poll of task `b`.
    pub(crate) const SYNC: u8 = 7;
    /// Its first poll: task `b` spawned it (0: the `block_on` future, or
    /// the loop itself).
    pub(crate) const SPAWNED: u8 = 8;

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
            SPAWNED => "spawned",
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

/// The steps of a tick that wake tasks, as the exporter draws them: a run
/// of `TIMERS_FIRED` or foreign `WAKE` records outside any poll is that
/// step, so the exporter finds it without two records per step. I/O
/// dispatch has no record of its own: it follows an `UNPARK`, and the
/// polls that name a socket as their cause tell what it woke.
pub(crate) mod phase {
    pub(crate) const INJECTED: u8 = 0;
    pub(crate) const TIMERS: u8 = 1;
    pub(crate) const IO: u8 = 2;

    /// The step a record belongs to, if it is one of the loop's own.
    pub(crate) fn of(record: &super::Record) -> Option<u8> {
        match (record.kind(), record.sub()) {
            (super::kind::WAKE, super::cause::FOREIGN) => Some(INJECTED),
            (super::kind::TIMERS_FIRED, _) => Some(TIMERS),
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
