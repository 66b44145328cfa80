//! Loop statistics: what each event loop has done (ticks, polls, time busy
//! and parked) and holds (ready tasks, armed timers, sockets, live tasks),
//! readable from any thread at any time, for a live page or a metrics
//! scraper. [`Handle::loop_stats`](crate::Handle::loop_stats) and
//! [`Runtime::loop_stats`](crate::Runtime::loop_stats) read them.
//!
//! # How it is built, and what it costs
//!
//! Each loop owns one [`LoopCounters`] block in its cross-thread half
//! (`Shared`), padded to its own cache lines. Only the owning loop writes
//! it, so each write is a relaxed load and store: no read-modify-write, no
//! lock, no fence. And the loop writes it only **when it parks for real**
//! (a syscall: `epoll_wait`, with or without a timeout), never per tick or
//! per poll:
//!
//! - ticks and polls are counts the loop already keeps (its tick number,
//!   and the polls since it last looked at I/O, which a real park resets);
//! - the gauges (ready queue, armed timers, registered sockets, live tasks)
//!   are lengths read there;
//! - busy time runs from the end of one park to the start of the next, and
//!   parked time over the park itself, in the flight recorder's stamps:
//!   the loop reads the clock after every park anyway, and before a park
//!   with a timeout (to compute it), and stamps the recorder around each
//!   park so the timeline's parks are exact. Only a park without a timeout
//!   (no timers: the loop sleeps until I/O) or a zero-timeout look (once
//!   per `tick_budget` polls of a busy loop) reads the clock once more,
//!   next to a syscall that costs fifty times as much.
//!
//! What that costs, counted with callgrind: on `bench/`'s runtime rows
//! (`--child SCENARIO eddy`), +0.37 % instructions on `ping_pong` and at
//! most +0.11 % on the others; on the greeting server's keep-alive load
//! (`bench/instr`), where every request costs the loop a real park, about
//! 110 instructions per request (1.9 %) when they came, a third of it the
//! clock subtraction of the park's stamp (which also makes the flight
//! recorder's parks exact). That subtraction is gone: an `Instant` is a
//! count of nanoseconds, and a stamp (`Clock::recent_nanos`) one integer
//! subtraction.
//!
//! A busy loop still looks at I/O at least once per `tick_budget` (128)
//! polls, so its figures are never older than that; a parked loop changes
//! nothing while it sleeps, so its figures are current, and the park in
//! progress is added to `parked` by the reader (the loop publishes when it
//! started). Figures of one snapshot are read one by one, relaxed: each is
//! exact, the set may straddle a park.
//!
//! Times are measured on the loop's clock: with a paused clock they are
//! paused time (usually zero).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// One loop's counters and gauges, written by the loop only (see the
/// module docs). 128-byte aligned: a reader on another core must not make
/// the loop's own cache lines bounce, and the block shares its lines with
/// nothing the loop writes on its hot path.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct LoopCounters {
    ticks: AtomicU64,
    polls: AtomicU64,
    busy_ns: AtomicU64,
    parked_ns: AtomicU64,
    /// When the park in progress started (loop time, ns since `origin`,
    /// plus one so that 0 means "not parked").
    parked_since: AtomicU64,
    ready: AtomicU64,
    timers: AtomicU64,
    sockets: AtomicU64,
    tasks: AtomicU64,
    /// When the last park ended (loop time, ns): where busy time starts.
    /// The loop's own bookkeeping, never read elsewhere.
    unparked_at: AtomicU64,
    /// The loop clock's zero, as `std::time::Instant` ns are unknowable
    /// across threads: set once when the loop is built (see `set_origin`).
    origin: std::sync::OnceLock<std::time::Instant>,
}

/// What a loop publishes when it parks (see [`LoopCounters::park_begins`]).
pub(crate) struct AtPark {
    /// Its tick number.
    pub(crate) tick: u64,
    /// Polls since its last real park.
    pub(crate) polls: usize,
    pub(crate) ready: u32,
    pub(crate) timers: usize,
    pub(crate) tasks: usize,
    pub(crate) sockets: usize,
}

impl LoopCounters {
    /// Sets the loop clock's zero (once, when the loop is built), so a
    /// reader can tell how long the park in progress has lasted.
    pub(crate) fn set_origin(&self, origin: std::time::Instant) {
        let _ = self.origin.set(origin);
    }

    /// Adds `by` to a counter only this loop writes: a load and a store.
    #[inline(always)]
    fn bump(counter: &AtomicU64, by: u64) {
        counter.store(counter.load(Relaxed).wrapping_add(by), Relaxed);
    }

    /// The loop is about to park for real (a syscall) at loop time `now`
    /// (ns, the recorder's stamp): publish what it did since the last park
    /// (its tick number, the polls since) and what it holds.
    #[inline]
    pub(crate) fn park_begins(&self, now: u64, at: AtPark) {
        self.ticks.store(at.tick, Relaxed);
        Self::bump(&self.polls, at.polls as u64);
        Self::bump(&self.busy_ns, now.saturating_sub(self.unparked_at.load(Relaxed)));
        self.ready.store(u64::from(at.ready), Relaxed);
        self.timers.store(at.timers as u64, Relaxed);
        self.tasks.store(at.tasks as u64, Relaxed);
        self.sockets.store(at.sockets as u64, Relaxed);
        self.parked_since.store(now + 1, Relaxed);
    }

    /// The park that began at loop time `began` ended at `now` (ns, the
    /// recorder's stamp after the park).
    #[inline]
    pub(crate) fn park_ends(&self, began: u64, now: u64) {
        Self::bump(&self.parked_ns, now.saturating_sub(began));
        self.parked_since.store(0, Relaxed);
        self.unparked_at.store(now, Relaxed);
    }

    /// A snapshot, from any thread.
    pub(crate) fn read(&self, loop_id: u32) -> LoopStats {
        let mut parked = self.parked_ns.load(Relaxed);
        let since = self.parked_since.load(Relaxed);
        if since != 0 {
            // Parked right now: the park so far counts too.
            if let Some(origin) = self.origin.get() {
                let now = origin.elapsed().as_nanos() as u64;
                parked += now.saturating_sub(since - 1);
            }
        }
        LoopStats {
            loop_id,
            ticks: self.ticks.load(Relaxed),
            polls: self.polls.load(Relaxed),
            busy: Duration::from_nanos(self.busy_ns.load(Relaxed)),
            parked: Duration::from_nanos(parked),
            parked_now: since != 0,
            ready: self.ready.load(Relaxed) as usize,
            timers: self.timers.load(Relaxed) as usize,
            sockets: self.sockets.load(Relaxed) as usize,
            tasks: self.tasks.load(Relaxed) as usize,
        }
    }
}

/// What one event loop has done and holds, as of its last park (see
/// [`Handle::loop_stats`](crate::Handle::loop_stats)). Counters are
/// cumulative since the loop started; gauges are as of the last park.
/// Difference two snapshots for rates (ticks/s, polls/s, share of time
/// busy).
///
/// ```
/// let runtime = eddy::Builder::new().workers(2).build()?;
/// let worker = runtime.handles()[1].clone();
/// runtime.block_on(worker.spawn(async {
///     for _ in 0..10 {
///         eddy::task::yield_now().await;
///     }
/// }))
/// .unwrap();
/// // Published when the worker next parks, as it does once it is idle.
/// while !worker.loop_stats().parked_now {
///     std::thread::yield_now();
/// }
/// let stats = worker.loop_stats();
/// assert!(stats.polls >= 10, "{stats:?}");
/// assert!(stats.ticks > 0);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoopStats {
    /// The loop's number (as in task ids and logs).
    pub loop_id: u32,
    /// Turns of the loop so far.
    pub ticks: u64,
    /// Task polls so far (the `block_on` future's polls included).
    pub polls: u64,
    /// Time spent between parks: polling tasks, firing timers, taking in
    /// work from other threads.
    pub busy: Duration,
    /// Time spent parked in the OS poller (including the park in progress).
    pub parked: Duration,
    /// Whether the loop is parked right now.
    pub parked_now: bool,
    /// Tasks in the ready queue (gauge).
    pub ready: usize,
    /// Armed timers (gauge).
    pub timers: usize,
    /// Sockets registered with the loop's reactor (gauge).
    pub sockets: usize,
    /// Live tasks of the loop (gauge).
    pub tasks: usize,
}
