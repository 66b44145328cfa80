//! The per-loop recorder: a ring of [`Record`]s the loop's thread writes
//! with no lock and no allocation, the side table that names tasks, and the
//! "current cause" that tells each wake who did it.
//!
//! # The hot path
//!
//! [`Recorder::record`] is one bounds-checked slot lookup (which is also
//! the on/off switch: a recorder of capacity 0 has no slots) and one
//! 16-byte store. The time it writes is the loop's cached clock (see
//! [`Recorder::stamp`]), not a clock read: the loop refreshes it where it
//! reads the clock anyway (after parking, when firing timers), and, when
//! precise poll times are asked for, around every poll.
//!
//! # The cause of a wake
//!
//! A waker does not know why it is called; the loop does. So the recorder
//! keeps a "current cause": the loop sets it while it dispatches timers
//! (`TIMER`) and I/O events (`IO_READ`/`IO_WRITE`), a task's poll sets it
//! to `TASK(that task)` for its duration, and everything else is `LOOP`.
//! When a task becomes ready on its own loop, the wake record takes the
//! current cause: a channel send inside task 7's poll is "woken by task 7".
//! Wakes from other threads cannot touch the ring; they are recorded when
//! the loop takes the task in from its injection queue, as `FOREIGN`.
//!
//! # Reading it from another thread
//!
//! Nothing here is `Sync`: a snapshot is taken on the loop's own thread
//! (`Handle::trace_snapshot` sends the loop a small task that takes it).
//! What another thread may read at any time is [`LoopActivity`]: which task
//! the loop is polling and how many polls it has begun, for a watchdog.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use super::record::{cause, kind, outcome, Record};
use super::LoopTrace;
use crate::task::TaskInfo;
use crate::time::{Clock, Instant};

/// The most task labels one loop keeps. Beyond it, a named task is labelled
/// by its spawn site instead (sites are bounded by the program's code): a
/// server naming every connection task uniquely must not grow the table
/// forever. 4096 is far more distinct names than a timeline can show.
const MAX_LABELS: usize = 4096;

/// Label 0: the future passed to `block_on` (task 0).
pub(crate) const BLOCK_ON_LABEL: u32 = 0;

/// What one loop is doing right now, readable from any thread: the hook a
/// stall watchdog or a task dump builds on. Only the loop writes it, with
/// one relaxed store when a poll begins and one when it ends.
///
/// A watchdog samples [`polling`](Self::polling) twice, `threshold` apart:
/// the same non-zero value both times means one poll has run for at least
/// `threshold` (the poll number in the high half tells a new poll of the
/// same task from a long one), and [`task_of`](Self::task_of) names the task.
#[derive(Debug, Default)]
pub(crate) struct LoopActivity {
    /// 0 while the loop is between batches of polls; during a poll, a
    /// number that grows from poll to poll (the recorder's event count) in
    /// the high half and the task's sequence number + 1 in the low half
    /// (1: the `block_on` future). Between two polls of one batch it still
    /// names the last one, for the few nanoseconds that takes.
    pub(crate) polling: AtomicU64,
}

impl LoopActivity {
    /// The task being polled when `polling` was read, if any: its sequence
    /// number on the loop (0 for the `block_on` future).
    #[allow(dead_code)] // For the watchdog and task dump to come.
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
    /// Loop time, ns since `origin`, as last stamped.
    now: Cell<u64>,
    /// The loop clock's zero (tick 0 of its timer wheel).
    origin: Instant,
    /// Who a wake recorded now is attributed to: the cause in the high
    /// half, its argument in the low half (one word: one store to set).
    cause: Cell<u64>,
    /// Read the clock around every poll, so poll slices have their true
    /// length (two clock reads per poll).
    precise: bool,
    /// Task names and spawn sites, interned once per task.
    labels: RefCell<Labels>,
    /// The last spawn site interned and its label: a loop that spawns
    /// many tasks usually does so from one place, and a compare is cheaper
    /// than the hash lookup.
    last_site: Cell<(usize, u32)>,
    /// What another thread may read about the loop.
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
            cause: Cell::new(pack_cause(cause::LOOP, 0)),
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
        self.now.set(clock.recent().duration_since(self.origin).as_nanos() as u64);
    }

    /// Loop time (ns since the clock's zero) as last stamped: what records
    /// carry, and what a task dump's "time since last poll" counts from.
    #[inline(always)]
    pub(crate) fn loop_time(&self) -> u64 {
        self.now.get()
    }

    /// Appends one event, overwriting the oldest once the ring is full.
    #[inline(always)]
    pub(crate) fn record(&self, kind: u8, sub: u8, a: u32, b: u32) {
        let position = self.written.get();
        self.written.set(position + 1);
        let index = position as usize & self.mask;
        // SAFETY: `mask` is `ring.len() - 1` with `ring.len()` a power of
        // two (at least 1, see `new`), so `index <= mask < ring.len()`.
        // Unchecked because this is the hottest line of the recorder: the
        // bounds check cost ~3 instructions per event, a quarter of the
        // recorder's cost in `ping_pong` (callgrind).
        let slot = unsafe { self.ring.get_unchecked(index) };
        slot.set(Record::new(kind, sub, self.now.get(), a, b));
    }

    // ----- Tasks ------------------------------------------------------------

    /// A task joined the loop; returns its label for later polls.
    #[inline]
    pub(crate) fn spawn(&self, task: u32, info: &TaskInfo) -> u32 {
        // Fast path: an unnamed task from the same place as the last one.
        let site_key = info.location as *const _ as usize;
        let (last_key, last_label) = self.last_site.get();
        let label = if info.name.is_none() && last_key == site_key {
            last_label
        } else if self.on {
            self.intern(info)
        } else {
            0
        };
        self.record(kind::SPAWN, 0, task, label);
        label
    }

    /// `task` became ready on this loop, for the current cause.
    #[inline]
    pub(crate) fn wake(&self, task: u32) {
        let cause = self.cause.get();
        // A sync primitive waking from inside a poll: its code, and the
        // polled task as the argument.
        let resource = super::waking_resource();
        let code = if resource != 0 { resource } else { (cause >> 32) as u8 };
        self.record(kind::WAKE, code, task, cause as u32);
    }

    /// `task` became ready for `cause` (with its argument).
    #[inline]
    pub(crate) fn wake_for(&self, cause: u8, task: u32, argument: u32) {
        self.record(kind::WAKE, cause, task, argument);
    }

    /// Makes `cause` (with `argument`) the cause of the wakes that follow;
    /// returns the previous one, to put back.
    #[inline]
    pub(crate) fn set_cause(&self, cause: u8, argument: u32) -> (u8, u32) {
        let previous = self.cause.replace(pack_cause(cause, argument));
        ((previous >> 32) as u8, previous as u32)
    }

    /// Puts back a cause returned by [`set_cause`](Self::set_cause).
    #[inline]
    pub(crate) fn restore_cause(&self, previous: (u8, u32)) {
        self.cause.set(pack_cause(previous.0, previous.1));
    }

    /// A poll of `task` begins: it becomes the cause of wakes until the
    /// loop sets another (see [`polls_done`](Self::polls_done)).
    #[inline(always)]
    pub(crate) fn poll_begin(&self, task: u32, label: u32, clock: &Clock) {
        // The record position numbers the poll for a watchdog: it grows
        // with every event, recorded or not.
        let position = self.written.get();
        self.activity.polling.store(position << 32 | u64::from(task.wrapping_add(1)), Relaxed);
        if self.precise {
            self.stamp_now(clock);
        }
        self.cause.set(pack_cause(cause::TASK, task));
        self.record(kind::POLL_BEGIN, 0, task, label);
    }

    /// The poll of `task` ended with `outcome` (see `record::outcome`).
    ///
    /// The busy path records nothing here. A poll that returned `Pending`
    /// ends where the loop's next record of its own begins (the next poll,
    /// a park, a tick phase): nothing runs in between, and with the cached
    /// clock that record carries the same time. So only a task's last poll
    /// (`Ready`, panicked) is recorded, and every poll when precise times
    /// were asked for. Likewise the task stays the current cause, and
    /// `LoopActivity` names it, until the loop resets both once per batch
    /// of polls ([`polls_done`](Self::polls_done)).
    #[inline(always)]
    pub(crate) fn poll_end(&self, task: u32, outcome: u8, clock: &Clock) {
        // One branch on the busy path (`|`, not `||`).
        if (outcome != outcome::PENDING) | self.precise {
            self.poll_end_recorded(task, outcome, clock);
        }
    }

    #[cold]
    fn poll_end_recorded(&self, task: u32, outcome: u8, clock: &Clock) {
        if self.precise {
            self.stamp_now(clock);
        }
        self.record(kind::POLL_END, outcome, task, 0);
    }

    /// A batch of polls is over: wakes are the loop's own again, and
    /// another thread sees the loop between polls.
    #[inline]
    pub(crate) fn polls_done(&self) {
        self.activity.polling.store(0, Relaxed);
        self.cause.set(pack_cause(cause::LOOP, 0));
    }

    #[cold]
    fn stamp_now(&self, clock: &Clock) {
        clock.now();
        self.stamp(clock);
    }

    /// `task` failed: panicked or was cancelled (the loop calls it for
    /// those only). Only a cancellation is recorded: a task that panicked
    /// did so in the poll whose `POLL_END` already says it, as does a task
    /// that returned.
    pub(crate) fn finish(&self, task: u32, how: u8) {
        if how == outcome::CANCELLED {
            self.record(kind::FINISH, how, task, 0);
        }
    }

    /// The label index for a task, interning its name and site on first
    /// sight. Allocates only for a new label (or a named task's lookup).
    #[cold]
    fn intern(&self, info: &TaskInfo) -> u32 {
        let site_key = info.location as *const _ as usize;
        let mut labels = self.labels.borrow_mut();
        let site = || format!("{}:{}", info.location.file(), info.location.line()).into_boxed_str();
        if let Some(name) = &info.name {
            if let Some(&label) = labels.by_name.get(&(name.clone(), site_key)) {
                return label;
            }
            if labels.entries.len() < MAX_LABELS {
                let label = labels.entries.len() as u32;
                labels.entries.push((name.clone(), site()));
                labels.by_name.insert((name.clone(), site_key), label);
                return label;
            }
        }
        let label = match labels.by_site.get(&site_key) {
            Some(&label) => label,
            None => {
                let label = labels.entries.len() as u32;
                // A site that spawns with a static name shows that name.
                let name = crate::task::site_name(info.location).map_or_else(site, Box::from);
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
    pub(crate) fn snapshot(&self, index: usize, paused: bool) -> LoopTrace {
        // With recording off `written` still counts (it numbers polls for
        // `LoopActivity`), and every event is "lost".
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

/// The current cause as one word.
#[inline(always)]
fn pack_cause(cause: u8, argument: u32) -> u64 {
    u64::from(cause) << 32 | u64::from(argument)
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
