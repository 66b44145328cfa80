//! How to watch eddy work: an always-on flight recorder per event loop, and
//! a timeline of it that opens in any browser.
//!
//! Every loop keeps the last events of its life in a ring (about 1 MiB,
//! 65,536 records, by default): tasks spawned, polled and finished; **every
//! wake with its cause** (which task, timer, socket, channel, lock, or
//! another thread); timers cancelled and fired (and, in the timer counter,
//! armed); each park (why, for how long, how many OS events it brought) and
//! each socket readiness that woke a task. The busy path writes one 16-byte
//! record per poll and nothing per wake: a wake stores its cause in the
//! woken task, and the task's next poll record carries it. No lock, no
//! allocation, no "is it on?" branch, no clock read of its own: so it is on
//! in every build, like Go's flight recorder. Take it out as a [`Snapshot`]
//! and write it as Chrome Trace Event JSON:
//!
//! ```
//! let runtime = eddy::Builder::new().build()?;
//! runtime.block_on(async {
//!     let worker = eddy::spawn(async { eddy::task::yield_now().await; 42 });
//!     worker.await.unwrap();
//! });
//! let path = std::env::temp_dir().join("eddy-doc-trace.json");
//! runtime.write_trace(&path)?;        // open it in ui.perfetto.dev
//! # std::fs::remove_file(path)?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! Open the file in <https://ui.perfetto.dev> ("Open trace file") or in
//! `chrome://tracing` ("Load"): nothing to install, no conversion. One track
//! per loop shows each poll as a slice named by the task's name (or where it
//! was spawned), each park as a `park` slice, and an **arrow from every wake
//! to the poll it caused**. Click a slice to see its task, the poll's result
//! and what woke it; the counters above the tracks show the ready queue and
//! the armed timers; each task's lifetime is an async slice of its own.
//! `examples/timeline.rs` makes one to look at.
//!
//! # Ways to get a trace out
//!
//! - [`Runtime::write_trace`](crate::Runtime::write_trace) and
//!   [`Runtime::trace_snapshot`](crate::Runtime::trace_snapshot): every loop.
//! - [`Handle::trace_snapshot`](crate::Handle::trace_snapshot): one loop,
//!   from any thread (the loop answers between two polls), and
//!   [`snapshot`] from inside a task.
//! - `EDDY_TRACE=path`: the runtime writes its trace there when it is
//!   dropped (or [`Builder::trace_on_drop`](crate::Builder::trace_on_drop)).
//! - Flight-recorder dumps ([`Builder::trace_dump_dir`](crate::Builder::trace_dump_dir)):
//!   a task that panics, or a slow poll in debug mode, writes the ring as it
//!   was at that moment.
//!
//! # What it costs, and what it leaves out
//!
//! Events are stamped with the loop's cached clock, which the loop
//! refreshes whenever it reads the clock anyway (after each park, when it
//! fires timers). Polls between two refreshes show in their true order
//! but 1 ns long; [`Builder::trace_poll_times`](crate::Builder::trace_poll_times)
//! (on in debug mode) reads the clock at the end of every poll for true
//! lengths. The measured overhead is in the README ("The flight recorder's
//! cost", against a build with every hook compiled out); a program whose
//! every operation is a poll and a wake (a channel ping-pong) pays most, a
//! server request of a few thousand instructions little.
//! `Builder::trace_capacity(0)` (or `EDDY_TRACE_CAPACITY=0`) stops keeping
//! events (the hooks still run, into a one-slot ring).
//!
//! What is folded away to keep that cost: only the wake that made a task
//! ready is kept (a second wake of a ready task changes nothing), and a
//! task's wake is told by its next poll, so a wake the task never got to
//! (the loop shut down first) is not in the ring. A task's spawn is its
//! first poll (woken by "spawned by task N"), so its lifetime starts there
//! on the timeline. Arming a timer is not an event: the wheel holds armed
//! timers (the `armed timers` counter), and a cancel or a fire says which.
//! A wake by a task names the task but not where in its poll it happened:
//! the arrow starts at that poll's beginning. Wakes from other threads are
//! recorded when the loop takes the task in, with cause "another thread".
//!
//! # Deterministic timelines
//!
//! Times are loop time (nanoseconds since the loop started), task numbers
//! are per loop, tracks are numbered by the loop's index in its runtime. With
//! [`Builder::seed`](crate::Builder::seed) and a paused clock, a program that
//! does no real I/O writes the same trace byte for byte on every run: a
//! failing seed replays with an identical timeline.
//!
//! # Events of your own
//!
//! [`event`] adds an instant (of an [`EventKind`]) to the current loop's
//! track, inside the poll that recorded it; eddy-http uses it to mark a connection accepted, a
//! request head parsed, a response written, so one request can be followed
//! from accept to write.
//!
//! # How it is built
//!
//! - `record.rs`: the 16-byte record and the meaning of its fields;
//! - `recorder.rs`: the ring, the task-label side table, the "current
//!   cause" that attributes each wake, and what other threads may read of a
//!   loop (for a watchdog);
//! - `chrome.rs`: the JSON exporter;
//! - `window.rs`: a recent window of the ring decoded into polls, parks
//!   and wakes ([`window()`]), for a live timeline.
//!
//! The hooks are one-liners in the loop (`event_loop.rs`), the task cell
//! (`task/cell.rs`) and the reactor.

use std::cell::Cell;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Mutex;

mod chrome;
pub(crate) mod record;
mod recorder;
mod window;

pub(crate) use recorder::{failure_outcome, LoopActivity, Recorder, BLOCK_ON_LABEL};
pub use window::{window, ParkSpan, PollSpan, Wake, Window, MAX_WINDOW_POLLS, MAX_WINDOW_RECORDS};

/// Default ring size per loop, in bytes: 65,536 events, typically the last
/// few seconds of a busy server or everything a test does. A megabyte per
/// loop is noise next to a loop's buffers and small enough to dump in a few
/// milliseconds.
pub(crate) const DEFAULT_CAPACITY: usize = 1 << 20;

/// The most flight-recorder dumps one loop writes: a panic storm must not
/// fill the disk.
pub(crate) const MAX_DUMPS: u32 = 8;

/// The recorder's part of a runtime's configuration.
#[derive(Clone, Debug)]
pub(crate) struct TraceConfig {
    /// Ring size per loop, bytes (0: off).
    pub(crate) capacity: usize,
    /// Read the clock around each poll (`None`: in debug mode only).
    pub(crate) poll_times: Option<bool>,
    /// Where flight-recorder dumps go (`None`: no dumps).
    pub(crate) dump_dir: Option<PathBuf>,
    /// Dump when a task panics.
    pub(crate) dump_on_panic: bool,
    /// Dump when a poll is slow (debug mode's slow-poll warning).
    pub(crate) dump_on_slow_poll: bool,
    /// Dump when a stall the watchdog reported ends.
    pub(crate) dump_on_stall: bool,
    /// Written when the runtime is dropped (`EDDY_TRACE`).
    pub(crate) on_drop: Option<PathBuf>,
}

impl TraceConfig {
    /// The defaults, with `EDDY_TRACE` and `EDDY_TRACE_CAPACITY` read from
    /// the environment.
    pub(crate) fn from_env() -> TraceConfig {
        let capacity = std::env::var("EDDY_TRACE_CAPACITY")
            .ok()
            .and_then(|value| value.trim().parse::<usize>().ok())
            .unwrap_or(DEFAULT_CAPACITY);
        TraceConfig {
            capacity,
            poll_times: None,
            dump_dir: None,
            dump_on_panic: true,
            dump_on_slow_poll: true,
            dump_on_stall: true,
            on_drop: std::env::var_os("EDDY_TRACE").filter(|path| !path.is_empty()).map(PathBuf::from),
        }
    }
}

/// Why a flight-recorder dump was written (part of its file name).
#[derive(Clone, Copy, Debug)]
pub(crate) enum DumpReason {
    Panic,
    SlowPoll,
    /// A stall the watchdog reported ended (`debug::watchdog`).
    Stall,
}

/// One loop's recorded events and the side tables that name them.
#[derive(Clone, Debug)]
pub(crate) struct LoopTrace {
    /// The loop's index in its runtime (its track).
    pub(crate) index: usize,
    /// The ring's contents, oldest first.
    pub(crate) records: Vec<record::Record>,
    /// Events overwritten before the snapshot.
    pub(crate) lost: u64,
    /// Task labels: (name, spawn site).
    pub(crate) labels: Vec<(String, String)>,
    /// The loop's live tasks at the snapshot and their labels: (task,
    /// label). Other tasks are named by their `POLL_END`/`FINISH` records.
    pub(crate) live: Vec<(u32, u32)>,
    /// Names of user events.
    pub(crate) user_kinds: Vec<String>,
    /// Loop time of the snapshot, ns.
    pub(crate) end: u64,
    /// Whether the loop's clock was paused.
    pub(crate) paused: bool,
}

/// The recorded events of one or more loops, copied out of their rings.
///
/// ```
/// eddy::run(async {
///     eddy::spawn(async {}).await.unwrap();
///     let snapshot = eddy::trace::snapshot().expect("inside a runtime");
///     assert!(snapshot.event_count() > 0);
///     let json = snapshot.to_chrome_json();
///     assert!(json.contains("\"ph\":\"X\""));
/// });
/// ```
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub(crate) loops: Vec<LoopTrace>,
}

impl Snapshot {
    /// The snapshot as Chrome Trace Event JSON, for Perfetto
    /// (ui.perfetto.dev) or `chrome://tracing`.
    pub fn to_chrome_json(&self) -> String {
        chrome::to_json(&self.loops)
    }

    /// Writes [`to_chrome_json`](Self::to_chrome_json) to `path`.
    ///
    /// # Errors
    /// If the file cannot be written; the error names the path.
    pub fn write_chrome_json(&self, path: impl AsRef<Path>) -> io::Result<()> {
        let path = path.as_ref();
        std::fs::write(path, self.to_chrome_json()).map_err(|error| {
            io::Error::new(error.kind(), format!("writing the eddy trace to {}: {error}", path.display()))
        })
    }

    /// Events in the snapshot, over all loops.
    pub fn event_count(&self) -> usize {
        self.loops.iter().map(|trace| trace.records.len()).sum()
    }

    /// Events that were overwritten in the rings before the snapshot (the
    /// ring keeps only the most recent ones).
    pub fn lost_events(&self) -> u64 {
        self.loops.iter().map(|trace| trace.lost).sum()
    }

    /// Adds the loops of `other` (snapshots of several loops, or runtimes,
    /// in one timeline). Tracks are numbered by each loop's index in its
    /// runtime, so merge loops of different runtimes with care.
    pub fn merge(&mut self, other: Snapshot) {
        self.loops.extend(other.loops);
        self.loops.sort_by_key(|trace| trace.index);
    }
}

/// A snapshot of the current loop's recorder, from inside a task (`None`
/// outside a runtime). The calling task's own poll is still open; the
/// timeline shows it running at the end.
pub fn snapshot() -> Option<Snapshot> {
    crate::context::with_core(|core| Snapshot { loops: vec![core.trace_snapshot()] })
}

/// The name of a kind of event of your own, for [`event`]: declare one
/// `static` per kind. Its name may name the two values after `|`:
/// `"response written|status|bytes"` shows as `response written` with
/// `status` and `bytes` (otherwise `a` and `b`).
///
/// The process numbers kinds on first use (up to 254; later kinds all
/// show as "other"), so recording one is a load and a store, no lookup.
#[derive(Debug)]
pub struct EventKind {
    name: &'static str,
    /// 1 + its index in `EVENT_NAMES`; 0 until first used.
    number: AtomicU8,
}

impl EventKind {
    /// A kind of event named `name` (see the type's docs for `|`).
    pub const fn new(name: &'static str) -> EventKind {
        EventKind { name, number: AtomicU8::new(0) }
    }

    /// The kind's number in the records, registering it on first use.
    #[inline]
    fn number(&self) -> u8 {
        match self.number.load(Ordering::Relaxed) {
            0 => self.register(),
            number => number - 1,
        }
    }

    #[cold]
    fn register(&self) -> u8 {
        let mut names = EVENT_NAMES.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // Another thread may have registered it meanwhile.
        let number = match self.number.load(Ordering::Relaxed) {
            0 if names.len() < usize::from(u8::MAX) - 1 => {
                names.push(self.name);
                names.len() as u8
            }
            0 => return u8::MAX - 1,
            number => number,
        };
        self.number.store(number, Ordering::Relaxed);
        number - 1
    }
}

/// Names of the event kinds used so far in the process, by number.
static EVENT_NAMES: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());

/// A copy of the event names, for a snapshot.
pub(crate) fn event_names() -> Vec<String> {
    let names = EVENT_NAMES.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    names.iter().map(|name| name.to_string()).collect()
}

/// Records an event of your own on the current loop's track, inside the
/// current poll: an instant of kind `kind`, with two values. Does nothing
/// outside a runtime. About as cheap as the runtime's own events (a
/// thread-local lookup and a 16-byte store), so it can sit on a hot path.
///
/// ```
/// use eddy::trace::EventKind;
///
/// static CACHE_MISS: EventKind = EventKind::new("cache miss|key|size");
///
/// eddy::run(async {
///     eddy::trace::event(&CACHE_MISS, 42, 1024);
/// });
/// ```
#[inline]
pub fn event(kind: &'static EventKind, a: u32, b: u32) {
    let number = kind.number();
    RUNNING.with(|running| {
        let recorder = running.get();
        if !recorder.is_null() {
            // SAFETY: a non-null pointer was set by `running` from a
            // `&Recorder` that is borrowed for as long as its guard lives
            // (the loop's `block_on` or worker run), and the guard puts the
            // previous value back when it drops, also on unwind. The
            // recorder sits inside the loop's `Rc<Core>`, so it never moves,
            // and it is only used from this thread.
            unsafe { &*recorder }.record(record::kind::USER, number, a, b);
        }
    });
}

thread_local! {
    /// The recorder of the loop running on this thread, or null: how
    /// [`event`] finds it with one thread-local load (the loop's context,
    /// a `RefCell<Option<Rc<..>>>`, cost five times as much per event).
    static RUNNING: Cell<*const Recorder> = const { Cell::new(std::ptr::null()) };
}

/// Makes `recorder` the one [`event`] records into, until the guard drops.
/// The loop holds one while it runs (`block_on`, a worker's life).
pub(crate) fn running(recorder: &Recorder) -> Running {
    Running(RUNNING.with(|running| running.replace(recorder)))
}

/// Puts back the recorder that was running before, when dropped.
pub(crate) struct Running(*const Recorder);

impl Drop for Running {
    fn drop(&mut self) {
        RUNNING.with(|running| running.set(self.0));
    }
}

thread_local! {
    /// Why a task woken on this thread right now becomes ready: a
    /// `record::cause` code in bits 48..56 (where a record's `sub` sits, so
    /// a poll record takes it with one `and`), its argument in the low 32
    /// bits (the polling task, a timer's tick, a socket's token). During a
    /// poll of task N it is just N: `TASK` is code 0. The loop
    /// sets it (once per poll, per tick step) and the task's waker copies
    /// it into the woken task's header, which the task's next poll record
    /// carries: a wake costs one load and one store, and no record.
    static CAUSE: Cell<u64> = const { Cell::new(0) };
}

/// The current cause as one word (see `CAUSE`): what a waker stores in the
/// task it wakes.
#[inline(always)]
pub(crate) fn wake_cause() -> u64 {
    if cfg!(eddy_no_recorder) {
        return 0;
    }
    CAUSE.with(Cell::get)
}

/// Makes `word` the current cause; returns the one it replaces.
#[inline(always)]
pub(crate) fn replace_cause(word: u64) -> u64 {
    CAUSE.with(|cause| cause.replace(word))
}

/// A cause code and its argument as one word (see `CAUSE`).
#[inline(always)]
pub(crate) const fn pack_cause(code: u8, argument: u32) -> u64 {
    (code as u64) << 48 | argument as u64
}

/// The cause code of a word made by [`pack_cause`].
#[inline(always)]
pub(crate) const fn cause_code(word: u64) -> u8 {
    (word >> 48) as u8
}

/// Marks the wakes made until [`waking_done`] as a channel's
/// (`channel: true`) or another sync primitive's: the trace then says
/// "channel (in task 7)" rather than just "task 7". Two one-line hooks in
/// `sync` around the wake: `let traced = trace::waking_from(true);` ...
/// `trace::waking_done(traced);`. It swaps the cause's code and keeps its
/// argument (the polling task); it returns the cause to put back.
///
/// Not a guard with `Drop`: a guard around `waker.wake()` gave the channel's
/// send and receive an unwinding path to keep, which cost `ping_pong` about
/// 4 % of its CPU time, for 7 instructions. If a waker panics (the sync
/// primitives contain that), the mark lasts until the loop's next poll
/// sets the cause afresh.
#[inline(always)]
pub(crate) fn waking_from(channel: bool) -> u64 {
    if cfg!(eddy_no_recorder) {
        return 0;
    }
    let code = if channel { record::cause::CHANNEL } else { record::cause::SYNC };
    CAUSE.with(|cause| cause.replace(pack_cause(code, cause.get() as u32)))
}

/// Puts back the cause [`waking_from`] returned.
#[inline(always)]
pub(crate) fn waking_done(previous: u64) {
    if cfg!(eddy_no_recorder) {
        return;
    }
    CAUSE.with(|cause| cause.set(previous));
}
