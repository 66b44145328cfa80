//! Who holds a task's waker: the per-task probe, and the hook the resources
//! that the loop cannot walk call when they store a waker.
//!
//! # Two ways to find a stored waker
//!
//! - **Walked at dump time.** The timer wheel and the reactor's socket
//!   slots belong to the loop; a dump (taken on the loop's thread) walks
//!   them and matches each stored waker to its task by the waker's data
//!   pointer (a task's waker *is* its `Arc` pointer). So timers and sockets
//!   store plain `cx.waker().clone()`s, pay nothing on their hot paths, and
//!   are found exactly, with their deadline or descriptor.
//! - **Counted as they are stored.** Channels, `JoinHandle`s, a `JoinSet`,
//!   sync primitives' wait lists and signal listeners live anywhere (on the
//!   heap of whoever owns them, shared with other threads), so nothing can
//!   walk them. They store `held(cx.waker(), resource).clone()` instead:
//!   [`held`] checks whether `cx.waker()` is the waker of the task being
//!   polled on this thread (one thread-local read, one comparison: the
//!   slot `task::id` already keeps, see `task/id.rs`), and if so returns a
//!   *held view* of it: the same task pointer under a second vtable, whose
//!   `clone` counts one more eddy-held waker in the task's probe and whose
//!   `wake`/`drop` count one less. The view itself is not counted (like
//!   `futures_task::WakerRef`, it borrows). It also records in the probe
//!   *which* resource stored the waker last: a kind and an address (or,
//!   for a `JoinHandle`, the awaited task's id). Any other waker (the
//!   `block_on` future's, a combinator's own, another executor's) is
//!   returned as it is: it is not a task's waker, and nothing is counted.
//!
//! Counting in the vtable rather than at each store site is what keeps the
//! count exact without a hook on every *release*: wherever the resource
//! drops, wakes or hands the clone on (into the loop's wake buffer, across
//! a thread, into an `AtomicWaker`), the clone's own vtable keeps the books.
//! A resource that compares wakers before storing (`will_wake`) compares
//! against the view, whose vtable is the one it stored, so a task that polls
//! the same resource again keeps its stored clone and no count moves.
//!
//! # Cost
//!
//! Per poll: nothing for the waker accounting (the thread-local slot is the
//! one `task::id()` needs anyway, widened from an id to three words and
//! now set once and emptied with one store), and two plain memory
//! operations for the statistics (the poll count is an add to memory, the
//! time of the poll a copy of the loop's cached clock: no clock read, no
//! atomic). Busy time only when polls are timed anyway (debug mode), kept
//! by the loop. Per waker stored by a counted resource: one thread-local
//! load and a comparison; when it is a task's waker, two more loads and one
//! plain store (the record). Per clone or drop of a held waker: one
//! relaxed atomic add beside the `Arc` count the clone moves anyway.
//! Timers and sockets: nothing. No allocation, no lock. The measured
//! figures per benchmark row are in `debug/mod.rs`.
//!
//! # Trade-off
//!
//! A counted resource records only the *last* resource that stored the
//! task's waker: a task waiting on two channels at once shows the count of
//! counted holders (exact) under the kind and address of the last one.
//! Attributing every clone to its resource would need a record per clone,
//! not per task, and so a store in every clone and drop.

use std::cell::UnsafeCell;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ops::Deref;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::task::{RawWaker, Waker};

use crate::task::TaskId;

/// Which eddy resource stores a waker through [`held`] (the ones the loop
/// cannot walk at dump time).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Resource {
    /// A resource of kind `Kind` at an address.
    At(Kind, usize),
    /// Another task's `JoinHandle`: the awaited task.
    Join(TaskId),
}

/// Kinds of resources that are recorded in the probe rather than walked.
/// The numbers are what the probe stores; 0 means "none recorded".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Kind {
    MpscReceiver = 1,
    MpscSender = 2,
    OneshotReceiver = 3,
    OneshotSender = 4,
    Join = 5,
    WaitList = 6,
    JoinSet = 7,
    Signal = 8,
}

impl Kind {
    fn from_code(code: u8) -> Option<Kind> {
        Some(match code {
            1 => Kind::MpscReceiver,
            2 => Kind::MpscSender,
            3 => Kind::OneshotReceiver,
            4 => Kind::OneshotSender,
            5 => Kind::Join,
            6 => Kind::WaitList,
            7 => Kind::JoinSet,
            8 => Kind::Signal,
            _ => return None,
        })
    }

    /// How the dump names it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::MpscReceiver => "mpsc receiver (awaiting a value)",
            Kind::MpscSender => "mpsc sender (awaiting room)",
            Kind::OneshotReceiver => "oneshot receiver (awaiting the value)",
            Kind::OneshotSender => "oneshot sender (awaiting close)",
            Kind::Join => "JoinHandle",
            Kind::WaitList => "sync primitive wait list",
            Kind::JoinSet => "JoinSet (awaiting the next task)",
            Kind::Signal => "signal listener (address: the signal number)",
        }
    }
}

/// A number only the task's own loop thread reads or writes (the poll
/// statistics): a plain integer, so that counting a poll is one add to
/// memory rather than an atomic load and store.
struct LoopOnly<T>(UnsafeCell<T>);

// SAFETY: every access goes through `get`/`set`, whose callers are the
// task's owning loop thread only (polls and task dumps both run there, see
// `Probe`), so there are never two threads at it. `T` is a plain integer.
unsafe impl<T: Copy + Send> Sync for LoopOnly<T> {}

impl<T: Copy> LoopOnly<T> {
    const fn new(value: T) -> LoopOnly<T> {
        LoopOnly(UnsafeCell::new(value))
    }

    /// Owner loop thread only.
    #[inline(always)]
    fn get(&self) -> T {
        // SAFETY: see the `Sync` impl: only the owner loop's thread is here.
        unsafe { *self.0.get() }
    }

    /// Owner loop thread only.
    #[inline(always)]
    fn set(&self, value: T) {
        // SAFETY: as in `get`.
        unsafe { *self.0.get() = value }
    }
}

/// Where the resource word keeps the `Kind` code: its top byte. User-space
/// addresses fit below it (at most 56 bits, even with five-level paging).
const KIND_SHIFT: u32 = 56;

/// The bits of the resource word below the kind: an address, or a `Join`.
const ADDRESS: u64 = (1 << KIND_SHIFT) - 1;

/// The bits of a recorded `Join` that hold the awaited task's sequence
/// number (the loop number goes above them, up to the kind).
const JOIN_SEQ: u64 = (1 << 40) - 1;

/// The per-task counters the dump reads: the eddy-held waker count, the
/// last counted resource that stored one, and poll statistics. Lives in the
/// task cell, so every byte of it is a byte of every task (see
/// `task/cell.rs`): 24 bytes, with the kind packed into the resource word
/// and the poll count in 32 bits (busy times, which only debug mode
/// measures, live in the loop instead; the lost-wakeup flag is a bit of
/// the header's spare bytes). The statistics are written by the owning loop
/// during polls and read by it during dumps; the held count by whichever
/// thread clones or drops a held waker.
pub(crate) struct Probe {
    /// Clones of this task's waker held by counted resources right now (the
    /// held vtable keeps it; see the module docs).
    held: AtomicU32,
    /// Polls so far, modulo 2^32: 32 bits share a word with `held` where
    /// 64 would take a word of their own, and a plain add is one
    /// instruction a poll where saturating took three. A dump shows it as
    /// a count; only a task polled four billion times shows it wrapped.
    polls: LoopOnly<u32>,
    /// The last counted resource that stored a waker: its `Kind` code in
    /// the top byte (0: none yet) and its address below (for `Join`: the
    /// awaited task's loop number in bits 40..56 and its sequence number
    /// below). One word, written by the owning loop during the task's poll
    /// and read by it during dumps.
    resource: AtomicU64,
    /// Loop time (ns, the flight recorder's clock) at the last poll, as the
    /// loop had last read its clock: valid once `polls` is not 0.
    last_poll: LoopOnly<u64>,
}

impl Probe {
    pub(crate) const fn new() -> Probe {
        Probe {
            held: AtomicU32::new(0),
            polls: LoopOnly::new(0),
            resource: AtomicU64::new(0),
            last_poll: LoopOnly::new(0),
        }
    }

    /// A held clone was made (called by the held vtable).
    #[inline]
    pub(crate) fn clone_held(&self) {
        self.held.fetch_add(1, Relaxed);
    }

    /// A held clone was woken by value or dropped (called by the held
    /// vtable, before the clone's `Arc` reference goes away).
    #[inline]
    pub(crate) fn release_held(&self) {
        self.held.fetch_sub(1, Relaxed);
    }

    /// Eddy-held clones right now.
    pub(crate) fn held(&self) -> u32 {
        self.held.load(Relaxed)
    }

    /// One plain store of the packed word.
    #[inline(always)]
    fn record(&self, resource: Resource) {
        let word = match resource {
            // Not masked: a user-space address leaves the top byte clear
            // (x86-64 and aarch64 Linux, without top-byte pointer tags; a
            // tagged one would only mislabel a dump line), and with the
            // kind a constant at every call site this is one `or` where
            // two separate fields took a second store.
            Resource::At(kind, address) => (kind as u64) << KIND_SHIFT | address as u64,
            // Ids beyond these widths (2^16 loops, 2^40 tasks on one loop)
            // are shown truncated: a label, not a key.
            Resource::Join(id) => {
                (Kind::Join as u64) << KIND_SHIFT
                    | (u64::from(id.loop_id()) << 40 & ADDRESS)
                    | id.seq() & JOIN_SEQ
            }
        };
        self.resource.store(word, Relaxed);
    }

    /// The last counted resource that stored this task's waker: its kind,
    /// address (or awaited task's sequence number) and awaited task's loop.
    pub(crate) fn last_resource(&self) -> Option<(Kind, u64, u32)> {
        let word = self.resource.load(Relaxed);
        let kind = Kind::from_code((word >> KIND_SHIFT) as u8)?;
        Some(match kind {
            Kind::Join => (kind, word & JOIN_SEQ, ((word & ADDRESS) >> 40) as u32),
            _ => (kind, word & ADDRESS, 0),
        })
    }

    /// One poll is being made, at loop time `now` (owner loop only).
    #[inline(always)]
    pub(crate) fn polled(&self, now: u64) {
        self.polls.set(self.polls.get().wrapping_add(1));
        self.last_poll.set(now);
    }

    /// Polls so far (owner loop only), modulo 2^32.
    pub(crate) fn polls(&self) -> u64 {
        u64::from(self.polls.get())
    }

    /// Loop time of the last poll, if any (owner loop only). (A count
    /// that wrapped to exactly 0 says "never" until the next poll.)
    pub(crate) fn last_poll(&self) -> Option<u64> {
        (self.polls.get() > 0).then(|| self.last_poll.get())
    }
}

/// Registers `waker` in `slot` as a counted resource (see [`held`]). Out of
/// line: the pending path of a oneshot or a `JoinHandle` sits inside
/// futures that must stay small enough to inline (the `JoinHandle`'s poll
/// is inlined into every awaiting future).
#[inline(never)]
pub(crate) fn register(slot: &atomic_waker::AtomicWaker, waker: &Waker, by: Resource) {
    slot.register(&held(waker, by));
}

/// A waker as a counted resource should store it: see the module docs.
/// Clone the result to store it; compare a stored waker against it with
/// `will_wake`.
#[inline]
pub(crate) fn held(waker: &Waker, by: Resource) -> HeldRef<'_> {
    let vtable = if std::ptr::eq(crate::task::id::polling_data(), waker.data()) {
        // It is the polled task's waker (a waker cannot carry the "no task"
        // sentinel: see `task::id`), so the slot holds a task.
        let polling = crate::task::id::polling_slot();
        // SAFETY: a task is published only for the length of its poll (`task::id::enter`'s guard takes it
        // back), and that poll holds a reference to the task: it is alive.
        unsafe { &*polling.header }.probe.record(by);
        // SAFETY: published along with the header: the task type's held
        // vtable, a `'static` value.
        unsafe { &*polling.held_vtable }
    } else {
        waker.vtable()
    };
    // SAFETY: the raw waker is either `waker` itself, or the same task
    // pointer under the task's held vtable, whose functions accept exactly
    // that pointer. The result is never dropped (ManuallyDrop) and borrows
    // `waker`, so it takes no reference of its own and cannot outlive the
    // one it borrows.
    let view = unsafe { Waker::from_raw(RawWaker::new(waker.data(), vtable)) };
    HeldRef { waker: ManuallyDrop::new(view), _borrow: PhantomData }
}

/// A borrowed view of a waker, as [`held`] returns it.
pub(crate) struct HeldRef<'a> {
    waker: ManuallyDrop<Waker>,
    _borrow: PhantomData<&'a Waker>,
}

impl Deref for HeldRef<'_> {
    type Target = Waker;

    fn deref(&self) -> &Waker {
        &self.waker
    }
}

#[cfg(test)]
mod tests {
    use super::{Kind, Probe, Resource};
    use crate::task::TaskId;

    #[test]
    fn the_probe_is_three_words() {
        assert_eq!(std::mem::size_of::<Probe>(), 24);
    }

    #[test]
    fn a_recorded_resource_reads_back_with_its_kind_and_address() {
        let probe = Probe::new();
        assert!(probe.last_resource().is_none(), "nothing recorded yet");
        let address = std::ptr::from_ref(&probe).addr();
        probe.record(Resource::At(Kind::WaitList, address));
        assert_eq!(probe.last_resource(), Some((Kind::WaitList, address as u64, 0)));
        probe.record(Resource::Join(TaskId::new(3, 17)));
        assert_eq!(probe.last_resource(), Some((Kind::Join, 17, 3)));
    }

    #[test]
    fn polls_count_and_remember_the_last_one() {
        let probe = Probe::new();
        assert_eq!((probe.polls(), probe.last_poll()), (0, None));
        probe.polled(5);
        probe.polled(9);
        assert_eq!((probe.polls(), probe.last_poll()), (2, Some(9)));
    }
}
