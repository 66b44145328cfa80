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
//! it, so each write is a relaxed store: no read-modify-write, no lock, no
//! fence. And the loop writes it only **when it parks for real** (a
//! syscall: `epoll_wait`, with or without a timeout), never per tick or per
//! poll, and then at most once per [`PUBLISH_PERIOD_NS`] (1 ms) of loop
//! time:
//!
//! - ticks and polls are counts the loop already keeps (its tick number,
//!   and the polls since it last looked at I/O, which it adds to a running
//!   total at every real park);
//! - parked time is the sum of the parks, each measured between the flight
//!   recorder's stamps around it (the loop reads the clock after every park
//!   anyway, and before a park with a timeout, to compute it), kept by the
//!   loop; busy time is the rest of the loop's time, so it costs nothing;
//! - the gauges (ready queue, armed timers, registered sockets, live tasks)
//!   are lengths read when the figures are published.
//!
//! # How stale the figures may be
//!
//! A server under load parks once per request or so, thousands of times a
//! second: publishing every park cost each keep-alive request ~40
//! instructions (callgrind, `bench/instr`), for figures a page reads twice
//! a second. So a park that comes less than 1 ms of loop time after the
//! last publication does not publish; its figures are folded into the next
//! one. The bound that keeps:
//!
//! - **While the loop runs, figures lag it by at most 1 ms** of its time
//!   (plus the tick in progress): every park at least 1 ms after the last
//!   publication publishes, and a busy loop parks (looks at I/O) at least
//!   once per `tick_budget` (128) polls. Parks that look without sleeping
//!   (`tick_budget` reached, a paused clock) and parks without a timer to
//!   wait for always publish.
//! - **A parked loop's figures are current**, and [`LoopStats::parked_now`]
//!   says so: it is set only by a park that published. A park that did not
//!   publish waits at most until the 1 ms is up (its timeout is cut to
//!   that), then parks again and publishes; meanwhile the loop reads as not
//!   parked, as it was before that park. So a loop that goes idle costs at
//!   most one extra wake, and only when it idles within 1 ms of its last
//!   publication; a loop under load never waits out the cut timeout.
//! - The park in progress is added to `parked` by the reader (the loop
//!   publishes when it started). Figures of one snapshot are read one by
//!   one, relaxed: each is exact as of its publication, the set may
//!   straddle one.
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
    /// Time parked up to the last publication (the park it began excluded).
    parked_ns: AtomicU64,
    /// When the park in progress started (loop time, ns since `origin`,
    /// plus one so that 0 means "not parked").
    parked_since: AtomicU64,
    ready: AtomicU64,
    timers: AtomicU64,
    sockets: AtomicU64,
    tasks: AtomicU64,
    /// The loop clock's zero, as `std::time::Instant` ns are unknowable
    /// across threads: set once when the loop is built (see `set_origin`).
    origin: std::sync::OnceLock<std::time::Instant>,
}

/// The longest a running loop's published figures lag it, in ns of loop
/// time (see the module docs): 1 ms, a thousandth of a second-resolution
/// dashboard's step and half a percent of the live page's 500 ms refresh,
/// while a loaded server parks thousands of times in it.
pub(crate) const PUBLISH_PERIOD_NS: u64 = 1_000_000;

/// What a loop publishes when it parks (see [`LoopCounters::publish`]).
pub(crate) struct AtPark {
    /// Its tick number.
    pub(crate) tick: u64,
    /// Polls so far.
    pub(crate) polls: u64,
    /// Time parked so far (ns of loop time), the park beginning excluded.
    pub(crate) parked: u64,
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

    /// The loop is about to park for real (a syscall) at loop time `now`
    /// (ns, the recorder's stamp) and publishes (see the module docs): what
    /// it has done so far and what it holds. Busy time is the loop's time
    /// not spent parked.
    #[inline]
    pub(crate) fn publish(&self, now: u64, at: AtPark) {
        self.ticks.store(at.tick, Relaxed);
        self.polls.store(at.polls, Relaxed);
        self.busy_ns.store(now.saturating_sub(at.parked), Relaxed);
        self.parked_ns.store(at.parked, Relaxed);
        self.ready.store(u64::from(at.ready), Relaxed);
        self.timers.store(at.timers as u64, Relaxed);
        self.tasks.store(at.tasks as u64, Relaxed);
        self.sockets.store(at.sockets as u64, Relaxed);
        self.parked_since.store(now + 1, Relaxed);
    }

    /// A park that published has ended; `parked` is the time parked so
    /// far, that park included.
    #[inline]
    pub(crate) fn published_park_ends(&self, parked: u64) {
        self.parked_ns.store(parked, Relaxed);
        self.parked_since.store(0, Relaxed);
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

/// What one event loop has done and holds, as of its last published park
/// (at most 1 ms of its time behind it while it runs, current while it is
/// parked; see
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
    /// Whether the loop is parked right now, with these figures current
    /// (a park within 1 ms of the last publication does not publish, and
    /// reads as not parked for the at most 1 ms it lasts).
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
