//! Who holds a task's waker: the per-task probe and the hook every eddy
//! resource calls when it stores a waker.
//!
//! # The hook
//!
//! A resource that keeps a waker (the timer wheel, a socket's slot, a
//! channel, a `JoinHandle`, a sync primitive's wait list) does not store
//! `cx.waker().clone()` but `held(cx.waker(), resource).clone()`. [`held`]
//! costs a thread-local read and a pointer comparison:
//!
//! - if the waker is the waker of the task being polled on this thread (the
//!   task cell publishes its address in a thread-local for the length of
//!   each poll), it returns a *held view* of it: the same task pointer
//!   under a second vtable, whose `clone` counts one more eddy-held waker in
//!   the task's probe and whose `wake`/`drop` count one less. The view
//!   itself is not counted (like `futures_task::WakerRef`, it borrows);
//! - otherwise (the `block_on` future's waker, a combinator's own waker, a
//!   waker of another executor) it returns a plain copy, and nothing is
//!   counted: such a waker is not a task's waker at all.
//!
//! Counting in the vtable rather than at each store site is what makes the
//! count exact without a hook on every *release*: wherever the resource
//! drops, wakes or hands the clone on (into the loop's wake buffer, across
//! a thread, into an `AtomicWaker`), the clone's own vtable keeps the books.
//! A resource that compares wakers before storing (`will_wake`) compares
//! against the view, so a task that polls the same resource again keeps its
//! stored clone and no count moves.
//!
//! For resources the loop cannot walk at dump time (channels, `JoinHandle`s,
//! sync primitives: they live anywhere), the hook also records in the probe
//! *which* resource stored the waker last: a kind and an address (or, for a
//! `JoinHandle`, the awaited task's id). Timers and sockets need no record:
//! the dump walks the loop's wheel and reactor and finds them exactly.
//!
//! # Cost
//!
//! Per store: one thread-local read, one comparison, and for a channel-like
//! resource two relaxed stores into the task's own header (hot in cache: the
//! task is being polled). Per clone or drop of a held waker: one relaxed
//! atomic add next to the `Arc` count the clone moves anyway. No allocation,
//! no lock. A poll of a task also publishes itself in the thread-local
//! (three words, restored after) and counts itself in the probe: relaxed
//! loads and stores of the poll count and the loop clock's cached time (no
//! clock read), and of the busy time when polls are timed anyway (debug
//! mode, the stall watchdog). Nothing here has been benchmarked on its own:
//! it is a handful of plain memory operations per poll and per stored waker.

use std::cell::Cell;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ops::Deref;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::task::{RawWaker, RawWakerVTable, Waker};

use crate::task::cell::Header;
use crate::task::TaskId;

/// Which eddy resource stores a waker (see [`held`]).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Resource {
    /// The loop's timer wheel (found by walking it at dump time).
    Timer,
    /// A socket's slot in the reactor (found by walking it at dump time).
    Socket,
    /// A resource the dump cannot walk: its kind and its address.
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

/// The per-task counters the dump reads: the eddy-held waker count, the
/// last non-walkable resource that stored one, and poll statistics. Lives
/// in the task header; written by the owning loop (polls) and by whichever
/// thread clones or drops a held waker (the count).
pub(crate) struct Probe {
    /// Clones of this task's waker held by eddy resources right now (the
    /// held vtable keeps it; see the module docs).
    held: AtomicU32,
    /// `Kind` code of the last walk-less resource that stored a waker, and
    /// for `Join` the awaited task's loop number in bits 8.. .
    resource_kind: AtomicU32,
    /// That resource's address, or for `Join` the awaited task's sequence
    /// number.
    resource_at: AtomicU64,
    /// Polls so far (owner loop only: a relaxed load and store, no RMW).
    polls: AtomicU64,
    /// Total time inside polls, in nanoseconds, when polls are timed (debug
    /// mode or the stall watchdog).
    busy_nanos: AtomicU64,
    /// Loop-clock time of the end of the last poll, in nanoseconds since
    /// [`epoch`] plus one (0: never polled).
    last_poll: AtomicU64,
    /// The lost-wakeup warning was given (once per task).
    warned_lost: AtomicBool,
}

impl Probe {
    pub(crate) const fn new() -> Probe {
        Probe {
            held: AtomicU32::new(0),
            resource_kind: AtomicU32::new(0),
            resource_at: AtomicU64::new(0),
            polls: AtomicU64::new(0),
            busy_nanos: AtomicU64::new(0),
            last_poll: AtomicU64::new(0),
            warned_lost: AtomicBool::new(false),
        }
    }

    /// A held clone was made (called by the held vtable).
    pub(crate) fn clone_held(&self) {
        self.held.fetch_add(1, Relaxed);
    }

    /// A held clone was woken by value or dropped (called by the held
    /// vtable, before the clone's `Arc` reference goes away).
    pub(crate) fn release_held(&self) {
        self.held.fetch_sub(1, Relaxed);
    }

    /// Eddy-held clones right now.
    pub(crate) fn held(&self) -> u32 {
        self.held.load(Relaxed)
    }

    fn record(&self, resource: Resource) {
        let (kind, at) = match resource {
            Resource::Timer | Resource::Socket => return,
            Resource::At(kind, address) => (kind as u32, address as u64),
            Resource::Join(id) => (Kind::Join as u32 | (id.loop_id() << 8), id.seq()),
        };
        self.resource_kind.store(kind, Relaxed);
        self.resource_at.store(at, Relaxed);
    }

    /// The last walk-less resource that stored this task's waker.
    pub(crate) fn last_resource(&self) -> Option<(Kind, u64, u32)> {
        let code = self.resource_kind.load(Relaxed);
        let kind = Kind::from_code(code as u8)?;
        Some((kind, self.resource_at.load(Relaxed), code >> 8))
    }

    /// One poll ended (owner loop only). `busy` is how long it took, when
    /// timed; `now` is the loop clock's latest reading.
    pub(crate) fn polled(&self, busy: Option<std::time::Duration>, now: crate::time::Instant) {
        self.polls.store(self.polls.load(Relaxed) + 1, Relaxed);
        if let Some(busy) = busy {
            self.busy_nanos.store(self.busy_nanos.load(Relaxed) + busy.as_nanos() as u64, Relaxed);
        }
        let since = now.into_std().saturating_duration_since(epoch());
        self.last_poll.store(since.as_nanos() as u64 + 1, Relaxed);
    }

    /// Whether this is the first lost-wakeup warning for the task.
    pub(crate) fn first_lost_warning(&self) -> bool {
        !self.warned_lost.swap(true, Relaxed)
    }

    pub(crate) fn polls(&self) -> u64 {
        self.polls.load(Relaxed)
    }

    pub(crate) fn busy(&self) -> std::time::Duration {
        std::time::Duration::from_nanos(self.busy_nanos.load(Relaxed))
    }

    /// When the last poll ended, on the loop clock.
    pub(crate) fn last_poll(&self) -> Option<std::time::Instant> {
        match self.last_poll.load(Relaxed) {
            0 => None,
            nanos => Some(epoch() + std::time::Duration::from_nanos(nanos - 1)),
        }
    }
}

/// A fixed point in the past for storing instants as integers.
fn epoch() -> std::time::Instant {
    static EPOCH: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(|| {
        // Back-dated so that loop clocks created before the first read
        // (or advanced while paused) still land after it.
        let now = std::time::Instant::now();
        now.checked_sub(std::time::Duration::from_secs(3600)).unwrap_or(now)
    })
}

/// The task being polled on this thread: its waker's data pointer, its
/// header and the held vtable of its type.
#[derive(Clone, Copy)]
struct Current {
    data: *const (),
    header: *const Header,
    held_vtable: &'static RawWakerVTable,
}

thread_local! {
    static CURRENT: Cell<Option<Current>> = const { Cell::new(None) };
}

/// Publishes the task being polled until the guard drops (the task cell
/// calls it around each poll). `data` is the task's `Arc` pointer, which is
/// its waker's data pointer; `held_vtable` clones/drops count in `header`.
pub(crate) fn enter(data: *const (), header: &Header, held_vtable: &'static RawWakerVTable) -> Entered {
    let current = Current { data, header, held_vtable };
    Entered { previous: CURRENT.with(|slot| slot.replace(Some(current))) }
}

/// Puts back whatever was being polled before (nested polls cannot happen
/// on one thread, but a panic unwinding through a poll must not leave a
/// dangling pointer behind).
pub(crate) struct Entered {
    previous: Option<Current>,
}

impl Drop for Entered {
    fn drop(&mut self) {
        CURRENT.with(|slot| slot.set(self.previous));
    }
}

/// The data pointer of the task being polled on this thread, if any.
pub(crate) fn current_task() -> Option<*const ()> {
    CURRENT.with(Cell::get).map(|current| current.data)
}

/// A waker as a resource should store it: see the module docs. Clone the
/// result to store it; compare a stored waker against it with `will_wake`.
pub(crate) fn held(waker: &Waker, by: Resource) -> HeldRef<'_> {
    let current = CURRENT.with(Cell::get);
    let raw = match current {
        Some(current) if std::ptr::eq(current.data, waker.data()) => {
            // SAFETY: `current` is published only for the length of the
            // poll of the task it names (the guard above restores the
            // previous value), and `waker` is that task's waker, so the task
            // and its header are alive.
            unsafe { &*current.header }.probe.record(by);
            RawWaker::new(waker.data(), current.held_vtable)
        }
        _ => RawWaker::new(waker.data(), waker.vtable()),
    };
    // SAFETY: `raw` is either `waker` itself, or the same task pointer under
    // the task's held vtable, whose functions accept exactly that pointer.
    // The result is never dropped (ManuallyDrop) and borrows `waker`, so it
    // takes no reference of its own and cannot outlive the one it borrows.
    HeldRef { waker: ManuallyDrop::new(unsafe { Waker::from_raw(raw) }), _borrow: PhantomData }
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
