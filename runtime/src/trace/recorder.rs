//! The per-loop recorder: a ring of [`Record`]s the loop's thread writes
//! with no lock and no allocation, the side table that names tasks, and the
//! "current cause" that tells each wake who did it.
//!
//! # The hot path
//!
//! [`Recorder::record`] is about ten instructions: bump the position, mask
//! it into the ring (a power of two long, so no bounds check and no
//! modulo), and one 16-byte store whose time was masked when the loop
//! stamped it. There is no "is it on?" branch: a recorder of capacity 0
//! has a ring of one slot that every event overwrites. The time it writes
//! is the loop's cached clock (see [`Recorder::stamp`]), not a clock read:
//! the loop refreshes it where it reads the clock anyway (after parking,
//! when firing timers), and, when precise poll times are asked for, around
//! every poll.
//!
//! What is not written is cheaper still, so events are folded where the
//! ring's order already says it: a spawn is also the task's first wake; a
//! poll that returns `Pending` ends where the loop's next record begins; a
//! wake made inside a poll names no task, because the poll it lies in is
//! the one that made it; a socket's readiness is the `UNPARK` before the
//! poll it caused, which names the socket.
//!
//! # The cause of a wake
//!
//! A waker does not know why it is called; the loop does. So the recorder
//! keeps a "current cause": the loop sets it while it dispatches timers
//! (`TIMER`) and I/O events (`IO_READ`/`IO_WRITE`), to `TASK` while it
//! runs a batch of polls (once per batch, not per poll), and everything
//! else is `LOOP`. When a task becomes ready on its own loop, the wake
//! record takes the current cause: a channel send inside task 7's poll is
//! recorded as "by a task" inside task 7's poll, which readers take as
//! "woken by task 7".
//! Wakes from other threads cannot touch the ring; they are recorded when
//! the loop takes the task in from its injection queue, as `FOREIGN`.
//!
//! # Reading it from another thread
//!
//! Nothing here is `Sync`: a snapshot is taken on the loop's own thread
//! (`Handle::trace_snapshot` sends the loop a small task that takes it).
//! What another thread may read at any time is [`LoopActivity`]: which task
//! the loop is polling and how many polls it has begun, for the stall
//! watchdog (one relaxed store per poll, one per batch).

use super::record::{cause, kind, outcome, Record, TIME_MASK};
use super::{cause_code, pack_cause, LoopTrace};
use crate::task::cell::Header;
use crate::task::Site;
use crate::time::{Clock, Instant};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

/// The most task labels one loop keeps. Beyond it, a named task is labelled
/// by its spawn site instead (sites are bounded by the program's code): a
/// server naming every connection task uniquely must not grow the table
/// forever. 4096 is far more distinct names than a timeline can show.
const MAX_LABELS: usize = 4096;

/// Compiled out: `RUSTFLAGS="--cfg eddy_no_recorder"` empties every hook,
/// so that the recorder's cost can be measured against a build that has
/// none (README, "The flight recorder's cost"). Never set otherwise: a
/// build made with it records nothing and its watchdog sees no polls.
const COMPILED_OUT: bool = cfg!(eddy_no_recorder);

/// Label 0: the future passed to `block_on` (task 0).
pub(crate) const BLOCK_ON_LABEL: u32 = 0;

/// What one loop is doing right now, readable from any thread: the hook
/// the stall watchdog (`debug::watchdog`) builds on. Only the loop writes
/// it, with one relaxed store when a poll begins and one after each batch
/// of polls.
///
/// A watchdog samples [`polling`](Self::polling) twice, `threshold` apart:
/// the same non-zero value both times means one poll has run for at least
/// `threshold` (the poll number in the high half tells a new poll of the
/// same task from a long one), and [`task_of`](Self::task_of) names the task.
#[derive(Debug, Default)]
pub(crate) struct LoopActivity {
    /// 0 while the loop is between batches of polls; during a poll, a
    /// number that grows from poll to poll (the recorder's record count) in
    /// the high half and the task's sequence number + 1 in the low half
    /// (1: the `block_on` future). Between two polls of one batch it still
    /// names the last one, for the few nanoseconds that takes.
    pub(crate) polling: AtomicU64,
}

impl LoopActivity {
    /// The task being polled when `polling` was read, if any: its sequence
    /// number on the loop (0 for the `block_on` future).
    pub(crate) fn task_of(polling: u64) -> Option<u32> {
        (polling != 0).then(|| (polling as u32).wrapping_sub(1))
    }
}

/// One loop's flight recorder. See the module docs.
pub(crate) struct Recorder {
    /// The ring. Its length is a power of two, at least 1: with recording
    /// off it is one scratch slot that every event overwrites, so that
    /// recording needs no "is it on?" branch at all.
    ring: Box<[Cell<Record>]>,
    /// `ring.len() - 1`, so a position becomes an index with one `and`.
    mask: usize,
    /// Whether events are kept (a capacity above 0 was asked for).
    on: bool,
    /// Records ever written: the next one goes to `written & mask`.
    written: Cell<u64>,
    /// Loop time, ns since `origin`, as last stamped, already cut to the
    /// record's 48 bits (one `and` less per record).
    now: Cell<u64>,
    /// The loop clock's zero (tick 0 of its timer wheel).
    origin: Instant,
    /// The lowest poll outcome whose end is recorded: `READY` (a task's
    /// last poll) normally, `PENDING` (every poll) when poll times are
    /// precise. One compare on the busy path decides both.
    record_ends_from: u8,
    /// Read the clock at the end of every poll, so poll slices have their
    /// true length (one clock read per poll).
    precise: bool,
    /// Task names and spawn sites, interned once per task.
    labels: RefCell<Labels>,
    /// The last spawn site interned and its label: a loop that spawns
    /// many tasks usually does so from one place, and a compare is cheaper
    /// than the hash lookup.
    last_site: Cell<(usize, u32)>,
    /// What another thread may read about the loop (the stall watchdog).
    activity: Arc<LoopActivity>,
}

/// The side table of task labels: the ring stores only their indexes.
struct Labels {
    /// (name shown on the poll slice, spawn site).
    entries: Vec<(Box<str>, Box<str>)>,
    /// Unnamed tasks, by the address of their spawn `Location`.
    by_site: HashMap<usize, u32, BuildHasherDefault<AddressHasher>>,
    /// Named tasks, by name and site.
    by_name: HashMap<(Box<str>, usize), u32>,
}

impl Recorder {
    /// A recorder keeping about `bytes` of events (rounded down to a power
    /// of two records, at least 64; 0 turns recording off).
    pub(crate) fn new(bytes: usize, precise: bool, origin: Instant, activity: Arc<LoopActivity>) -> Recorder {
        let records = match bytes / std::mem::size_of::<Record>() {
            0 => 0,
            n => {
                let n = n.max(64);
                if n.is_power_of_two() {
                    n
                } else {
                    n.next_power_of_two() / 2
                }
            }
        };
        let ring = zeroed_ring(records);
        Recorder {
            on: records > 0 && ring.len() == records,
            mask: ring.len() - 1,
            ring,
            written: Cell::new(0),
            now: Cell::new(0),
            origin,
            record_ends_from: if precise { outcome::PENDING } else { outcome::READY },
            precise,
            labels: RefCell::new(Labels {
                entries: vec![("block_on".into(), "Runtime::block_on".into())],
                by_site: HashMap::default(),
                by_name: HashMap::new(),
            }),
            last_site: Cell::new((0, 0)),
            activity,
        }
    }

    /// Whether events are being kept at all.
    pub(crate) fn is_on(&self) -> bool {
        self.on
    }

    /// Sets the time later records carry to what `clock` last read.
    #[inline]
    pub(crate) fn stamp(&self, clock: &Clock) {
        if COMPILED_OUT {
            return;
        }
        // The clock's last reading as nanoseconds since its zero: one
        // integer subtraction (a `std` `Instant` subtraction, out of line,
        // was ~45 instructions per stamp; see `time/clock.rs`).
        self.now.set(clock.recent_nanos() & TIME_MASK);
    }

    /// Loop time (ns since the clock's zero) as last stamped: what records
    /// carry, and what a task dump's "time since last poll" counts from.
    /// Modulo 2^48 ns (about 78 hours), as records keep it: the stamp is
    /// cut once, not once per record.
    #[inline(always)]
    pub(crate) fn loop_time(&self) -> u64 {
        self.now.get()
    }

    /// Appends one event, overwriting the oldest once the ring is full.
    #[inline(always)]
    pub(crate) fn record(&self, kind: u8, sub: u8, a: u32, b: u32) {
        self.write(Record::stamped(kind, sub, self.now.get(), a, b));
    }

    /// Appends `record`, overwriting the oldest once the ring is full.
    #[inline(always)]
    fn write(&self, record: Record) {
        if COMPILED_OUT {
            return;
        }
        let position = self.written.get();
        self.written.set(position + 1);
        let index = position as usize & self.mask;
        // SAFETY: `mask` is `ring.len() - 1` with `ring.len()` a power of
        // two (at least 1, see `new`), so `index <= mask < ring.len()`.
        // Unchecked because this is the hottest line of the recorder: the
        // bounds check cost ~3 instructions per event, a quarter of the
        // recorder's cost in `ping_pong` (callgrind).
        let slot = unsafe { self.ring.get_unchecked(index) };
        slot.set(record);
    }

    // ----- Tasks ------------------------------------------------------------

    /// A task joins the loop: returns its label (name or spawn site, for
    /// the side table) and what its first poll will say made it ready
    /// (spawned, by the task polling now). Nothing is recorded: the spawn
    /// is told by the task's first poll.
    #[inline]
    pub(crate) fn spawn(&self, site: &Site) -> (u32, u64) {
        if COMPILED_OUT {
            return (0, 0);
        }
        // Fast path: an unnamed task from the same place as the last one.
        let site_key = site.location() as *const _ as usize;
        let (last_key, last_label) = self.last_site.get();
        let label = if site.given_name().is_none() && last_key == site_key {
            last_label
        } else if self.on {
            self.intern(site)
        } else {
            0
        };
        (label, pack_cause(cause::SPAWNED, super::wake_cause() as u32))
    }

    /// The `block_on` future (task 0) became ready on this loop, for the
    /// current cause. (Tasks carry their wake into their next poll; the
    /// main future has no header to carry it in.)
    #[inline]
    pub(crate) fn wake(&self, task: u32) {
        if COMPILED_OUT {
            return;
        }
        let cause = super::wake_cause();
        self.record(kind::WAKE, cause_code(cause), task, cause as u32);
    }

    /// A task woken (or spawned) from another thread reached the loop:
    /// recorded, and its next poll says so.
    #[inline]
    pub(crate) fn injected(&self, header: &Header) {
        if COMPILED_OUT {
            return;
        }
        let task = header.seq() as u32;
        header.set_trace_woken(pack_cause(cause::FOREIGN, 0));
        self.record(kind::WAKE, cause::FOREIGN, task, 0);
    }

    /// Makes `cause` (with `argument`) the cause of the wakes that follow;
    /// returns the previous one, to put back.
    #[inline]
    pub(crate) fn set_cause(&self, cause: u8, argument: u32) -> u64 {
        if COMPILED_OUT {
            return 0;
        }
        super::replace_cause(pack_cause(cause, argument))
    }

    /// Puts back a cause returned by [`set_cause`](Self::set_cause).
    #[inline]
    pub(crate) fn restore_cause(&self, previous: u64) {
        if COMPILED_OUT {
            return;
        }
        super::replace_cause(previous);
    }

    /// The loop fired `count` timers at `tick`: recorded once for them all,
    /// and the wakes that follow are the timers' (until `restore_cause`).
    #[inline]
    pub(crate) fn timers_fired(&self, count: usize, tick: u64, clock: &Clock) -> u64 {
        if COMPILED_OUT {
            return 0;
        }
        self.stamp(clock);
        self.record(kind::TIMERS_FIRED, 0, count as u32, tick as u32);
        self.set_cause(cause::TIMER, tick as u32)
    }

    /// A socket (`token`) is ready for `cause` (`IO_READ`/`IO_WRITE`) and
    /// its waiter is about to be woken: the wake is its. Nothing is
    /// recorded: the woken task's next `POLL_BEGIN` carries the same cause
    /// and token, and the readiness happened at the `UNPARK` before it
    /// (the loop dispatches I/O right after parking, on that stamp), so a
    /// record per socket would only repeat them (~10 instructions per
    /// request of a keep-alive server, callgrind).
    #[inline(always)]
    pub(crate) fn io_ready(&self, cause: u8, token: u32) {
        if COMPILED_OUT {
            return;
        }
        super::replace_cause(pack_cause(cause, token));
    }

    /// A timer (`key`, due at `tick`) was cancelled before it fired.
    #[inline]
    pub(crate) fn timer_cancelled(&self, key: u32, tick: u64) {
        if COMPILED_OUT {
            return;
        }
        self.record(kind::TIMER_CANCEL, 0, key, tick as u32);
    }

    /// A poll of `task` begins; `woken` is what made it ready (its
    /// header's [`trace_woken`](Header::trace_woken)). The task becomes
    /// the cause of the wakes it makes.
    #[inline(always)]
    pub(crate) fn poll_begin(&self, task: u32, woken: impl FnOnce() -> u64) {
        if COMPILED_OUT {
            return;
        }
        let woken = woken();
        // The record position numbers the poll for the watchdog: it grows
        // with every record, kept or not.
        let position = self.written.get();
        self.activity.polling.store(position << 32 | u64::from(task.wrapping_add(1)), Relaxed);
        super::replace_cause(pack_cause(cause::TASK, task));
        self.write(Record::with_cause(kind::POLL_BEGIN, self.now.get(), task, woken));
    }

    /// The poll of `task` ended with `outcome` (see `record::outcome`);
    /// `label` gives its label, read only if the end is recorded.
    ///
    /// The busy path records nothing here. A poll that returned `Pending`
    /// ends where the loop's next record of its own begins (the next poll,
    /// a park, a tick step): nothing runs in between, and with the cached
    /// clock that record carries the same time. So only a task's last poll
    /// (`Ready`, panicked) is recorded, and every poll when precise times
    /// were asked for: then the clock is read here, and the poll that
    /// follows starts at that time.
    #[inline(always)]
    pub(crate) fn poll_end(&self, task: u32, outcome: u8, label: impl FnOnce() -> u32, clock: &Clock) {
        if COMPILED_OUT {
            return;
        }
        // Inline: every task's last poll comes here (a short-lived task's
        // only one), and a call cost as much as the record.
        if outcome >= self.record_ends_from {
            if self.precise {
                self.stamp_now(clock);
            }
            self.record(kind::POLL_END, outcome, task, label());
        }
    }

    /// A batch of polls is over: the watchdog sees the loop between polls.
    /// (The cause is left alone: every step of a tick that wakes tasks sets
    /// its own, so the last poll's task stays the cause, unread.)
    #[inline]
    pub(crate) fn polls_done(&self) {
        if COMPILED_OUT {
            return;
        }
        self.activity.polling.store(0, Relaxed);
    }

    /// Wakes from now on are the loop's own (shutdown).
    #[inline]
    pub(crate) fn loop_wakes(&self) {
        if COMPILED_OUT {
            return;
        }
        super::replace_cause(pack_cause(cause::LOOP, 0));
    }

    #[cold]
    fn stamp_now(&self, clock: &Clock) {
        clock.now();
        self.stamp(clock);
    }

    /// `task` (labelled `label`) failed: panicked or was cancelled (the
    /// loop calls it for those only). Only a cancellation is recorded: a
    /// task that panicked did so in the poll whose `POLL_END` already says
    /// it, as does a task that returned.
    pub(crate) fn finish(&self, task: u32, label: u32, how: u8) {
        if COMPILED_OUT {
            return;
        }
        if how == outcome::CANCELLED {
            self.record(kind::FINISH, how, task, label);
        }
    }

    /// The label index for a task, interning its name and site on first
    /// sight. Allocates only for a new label (or a named task's lookup).
    #[cold]
    fn intern(&self, task_site: &Site) -> u32 {
        let location = task_site.location();
        let site_key = location as *const _ as usize;
        let mut labels = self.labels.borrow_mut();
        let site = || format!("{}:{}", location.file(), location.line()).into_boxed_str();
        if let Some(name) = task_site.given_name() {
            let name = Box::<str>::from(name);
            if let Some(&label) = labels.by_name.get(&(name.clone(), site_key)) {
                return label;
            }
            if labels.entries.len() < MAX_LABELS {
                let label = labels.entries.len() as u32;
                labels.entries.push((name.clone(), site()));
                labels.by_name.insert((name, site_key), label);
                return label;
            }
        }
        let label = match labels.by_site.get(&site_key) {
            Some(&label) => label,
            None => {
                let label = labels.entries.len() as u32;
                // A site that spawns with a static name shows that name.
                let name = crate::task::site_name(location).map_or_else(site, Box::from);
                labels.entries.push((name, site()));
                labels.by_site.insert(site_key, label);
                label
            }
        };
        self.last_site.set((site_key, label));
        label
    }

    // ----- Reading it back ------------------------------------------------------

    /// Copies the ring (oldest event first) and its side tables out.
    /// `live` lists the loop's live tasks and their labels: a task
    /// whose polls are in the ring but whose end is not (it is still
    /// running) is named from it.
    pub(crate) fn snapshot(&self, index: usize, paused: bool, live: Vec<(u32, u32)>) -> LoopTrace {
        // With recording off `written` still counts (the one-slot ring is
        // written all the same), and every event is "lost".
        let written = self.written.get();
        let kept = if self.on { written.min(self.ring.len() as u64) } else { 0 };
        let records = (written - kept..written)
            .map(|position| self.ring[position as usize & self.mask].get())
            .collect();
        let labels = self.labels.borrow();
        LoopTrace {
            index,
            records,
            lost: written - kept,
            live,
            labels: labels.entries.iter().map(|(name, site)| (name.to_string(), site.to_string())).collect(),
            user_kinds: super::event_names(),
            end: self.now.get(),
            paused,
        }
    }
}

/// A ring of `records` empty records, from zeroed memory. For a megabyte
/// the allocator maps fresh pages, which the OS hands out already zero: so
/// building the ring costs no loop over it (a loop that wrote 65,536 empty
/// records cost each short-lived runtime half a million instructions), and
/// a loop that records little never touches most of its pages.
fn zeroed_ring(records: usize) -> Box<[Cell<Record>]> {
    let scratch = || -> Box<[Cell<Record>]> { Box::new([Cell::new(Record::default())]) };
    if records <= 1 {
        return scratch();
    }
    let layout = match std::alloc::Layout::array::<Cell<Record>>(records) {
        Ok(layout) => layout,
        // Only for sizes beyond the address space: record nothing then.
        Err(_) => return scratch(),
    };
    // SAFETY: `layout` has a non-zero size (records > 1).
    let memory = unsafe { std::alloc::alloc_zeroed(layout) } as *mut Cell<Record>;
    if memory.is_null() {
        std::alloc::handle_alloc_error(layout);
    }
    // SAFETY: `memory` was allocated by the global allocator with the layout
    // of `[Cell<Record>; records]`, which `Box<[_]>` frees with the same
    // layout; all-zero bytes are a valid `Cell<Record>` (`Cell` is
    // `repr(transparent)`, `Record` is three integers: `Record::default()`).
    unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(memory, records)) }
}

/// Outcome code of a task that failed.
pub(crate) fn failure_outcome(error: &crate::JoinError) -> u8 {
    if error.is_panic() {
        outcome::PANICKED
    } else {
        outcome::CANCELLED
    }
}

/// Hashes a `Location`'s address: addresses are already unique, so one
/// multiply spreads them; SipHash would cost more than the whole record.
#[derive(Default)]
struct AddressHasher(u64);

impl Hasher for AddressHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3);
        }
    }

    fn write_usize(&mut self, address: usize) {
        self.0 = (address as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// What `trace/window.rs` reads: the ring's tail, newest first, without
/// copying the rest, and the labels it names.
impl Recorder {
    /// Calls `f` with the kept records, newest first, until it returns
    /// false or the kept records run out.
    pub(crate) fn for_each_recent(&self, mut f: impl FnMut(Record) -> bool) {
        let written = self.written.get();
        let kept = if self.on { written.min(self.ring.len() as u64) } else { 0 };
        for position in (written - kept..written).rev() {
            if !f(self.ring[position as usize & self.mask].get()) {
                return;
            }
        }
    }

    /// The loop clock's zero, which record times count from.
    pub(crate) fn origin(&self) -> Instant {
        self.origin
    }

    /// Loop time now, ns since the loop started (reads `clock`).
    pub(crate) fn read_loop_time(&self, clock: &Clock) -> u64 {
        clock.now().duration_since(self.origin).as_nanos() as u64
    }

    /// The name shown for `label` (a task's name, or its spawn site).
    pub(crate) fn label_name(&self, label: u32) -> Option<String> {
        self.labels.borrow().entries.get(label as usize).map(|(name, _)| name.to_string())
    }

    /// Whether polls are timed with their own clock reads.
    pub(crate) fn is_precise(&self) -> bool {
        self.precise
    }
}
