//! The stall watchdog: one monitor thread per runtime that notices a loop
//! stuck inside one poll, and says so *while* it is stuck.
//!
//! A slow poll is normally reported when it ends (debug mode's slow-poll
//! warning), which is too late for a poll that never ends, and no help at
//! all while the program hangs. The watchdog watches from outside:
//!
//! ```text
//!   loop thread                              monitor thread
//!   ───────────                              ──────────────
//!   poll begins: task, start time ──────▶    every `threshold` while a loop
//!     (two stores, Release)                  is awake: a start time older
//!   ... the poll blocks ...                  than `threshold`?
//!                                             ─▶ warn: loop, task, spawn
//!                                                site, how long so far
//!   poll ends: start time = 0
//!     took ≥ threshold and reported?
//!     ─▶ warn: the stall is over, total
//!   parks in epoll_wait: "idle"  ───────▶    every loop idle: sleep until a
//!   returns from epoll_wait: "awake",        loop wakes it (no spinning, no
//!     unpark the monitor if it sleeps        timer)
//! ```
//!
//! # What it costs
//!
//! Only when it is on (`Builder::stall_watchdog`, or debug mode, where it
//! is on at 100 ms): a clock read and two stores at the start of each poll,
//! one store at its end (all plain stores on x86: `Release` ordering), and
//! around each park that may sleep, one store before and a store, a fence
//! and a load after. The monitor wakes at most once per `threshold` while a
//! loop is awake, and not at all while every loop sleeps in the poller.
//! Off, each poll pays one predictable branch.
//!
//! # Reading the stalled task without a lock
//!
//! To name the task, the monitor reads its header (id, name, spawn site)
//! through the pointer the loop published. The task cannot be freed while
//! it is being polled (the loop's task list holds it), but the poll may end
//! just as the monitor looks, and the task be released right after. So the
//! monitor announces `peeking`, issues a `SeqCst` fence and checks the start
//! time again; the loop, before it releases a finished task from its list,
//! issues a `SeqCst` fence and waits while `peeking` is set. With the two
//! fences, either the monitor sees that the poll ended (and gives up) or the
//! loop sees `peeking` (and waits the few microseconds the copy takes). The
//! fence is on the task-*completion* path only, not per poll.

use std::fmt;
use std::sync::atomic::{fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use crate::task::cell::Header;

/// How messages name the future given to `block_on`, which is not a task.
pub(crate) const MAIN_FUTURE: &str = "the future passed to block_on";

/// The watchdog of one runtime: what the loops publish, and the monitor.
pub(crate) struct Watchdog {
    /// How long one poll may run before it is reported.
    threshold: Duration,
    /// One entry per loop of the runtime, by index (loop 0 first).
    loops: Vec<LoopWatch>,
    /// Instants are stored as nanoseconds since this, plus one (0: none).
    epoch: Instant,
    /// The monitor is asleep with every loop idle: the first loop to wake
    /// must unpark it.
    sleeping: AtomicBool,
    /// The runtime is going away.
    stop: AtomicBool,
    /// The monitor thread, for unparking it.
    monitor: OnceLock<thread::Thread>,
}

/// What one loop publishes for the monitor.
struct LoopWatch {
    /// The loop's number, for messages (set when the loop is created).
    loop_id: AtomicU32,
    /// Where the `block_on` driving this loop was called (loop 0 only).
    main_at: OnceLock<&'static std::panic::Location<'static>>,
    /// When the poll in progress started (nanoseconds since the epoch, plus
    /// one), or 0 between polls.
    started: AtomicU64,
    /// The task being polled (valid while `started` is not 0; see the
    /// module docs for when the monitor may read through it).
    task: AtomicPtr<Header>,
    /// Not parked in the poller: polls may be happening.
    awake: AtomicBool,
    /// The `started` of the last stall the monitor reported, so it reports
    /// each stall once and the loop knows to report its end.
    reported: AtomicU64,
    /// The monitor is reading the header behind `task` right now.
    peeking: AtomicBool,
}

impl Watchdog {
    /// A watchdog for a runtime of `loops` loops. Nothing runs until
    /// [`start`](Self::start).
    pub(crate) fn new(threshold: Duration, loops: usize) -> Arc<Watchdog> {
        let watch = || LoopWatch {
            loop_id: AtomicU32::new(0),
            main_at: OnceLock::new(),
            started: AtomicU64::new(0),
            task: AtomicPtr::new(std::ptr::null_mut()),
            awake: AtomicBool::new(false),
            reported: AtomicU64::new(0),
            peeking: AtomicBool::new(false),
        };
        Arc::new(Watchdog {
            threshold: threshold.max(Duration::from_millis(1)),
            loops: (0..loops).map(|_| watch()).collect(),
            epoch: Instant::now(),
            sleeping: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            monitor: OnceLock::new(),
        })
    }

    /// Starts the monitor thread.
    pub(crate) fn start(self: &Arc<Self>, name: &str) -> std::io::Result<thread::JoinHandle<()>> {
        let dog = self.clone();
        let handle = thread::Builder::new()
            .name(format!("{name}-watchdog"))
            .spawn(move || dog.monitor())
            .map_err(|e| std::io::Error::new(e.kind(), format!("starting the stall watchdog thread: {e}")))?;
        let _ = self.monitor.set(handle.thread().clone());
        Ok(handle)
    }

    /// Stops the monitor thread (the caller joins it).
    pub(crate) fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        if let Some(monitor) = self.monitor.get() {
            monitor.unpark();
        }
    }

    fn stamp(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.epoch).as_nanos() as u64 + 1
    }

    // ----- Loop side ---------------------------------------------------------

    /// Loop `index` is loop number `loop_id`.
    pub(crate) fn name_loop(&self, index: usize, loop_id: u32) {
        self.loops[index].loop_id.store(loop_id, Ordering::Relaxed);
    }

    /// A poll of `task` (`None`: the `block_on` future) starts at `now` on
    /// loop `index`.
    pub(crate) fn poll_begin(&self, index: usize, now: Instant, task: Option<&Header>) {
        let watch = &self.loops[index];
        let task = task.map_or(std::ptr::null(), |task| task as *const Header);
        // Release: a monitor that reads this task pointer also sees the end
        // of the previous poll (see "Reading the stalled task").
        watch.task.store(task.cast_mut(), Ordering::Release);
        watch.started.store(self.stamp(now), Ordering::Release);
    }

    /// The poll of `what` (a task's info, or the main future) that started
    /// at `started` ended after `took`. If the monitor reported it as a
    /// stall, the loop reports its end (and returns true).
    pub(crate) fn poll_end(
        &self,
        index: usize,
        started: Instant,
        took: Duration,
        what: &dyn fmt::Display,
    ) -> bool {
        let watch = &self.loops[index];
        watch.started.store(0, Ordering::Release);
        let reported =
            took >= self.threshold && watch.reported.load(Ordering::Acquire) == self.stamp(started);
        if reported {
            log::warn!(
                "{what} took {took:?} in one poll on loop {}: the stall the watchdog reported is over \
                 (threshold {:?}). Move blocking work to eddy::task::spawn_blocking",
                watch.loop_id.load(Ordering::Relaxed),
                self.threshold,
            );
        }
        reported
    }

    /// Loop `index` is about to release a task from its list (the task may
    /// be freed right after): wait while the monitor reads a header.
    pub(crate) fn before_release(&self, index: usize) {
        fence(Ordering::SeqCst);
        while self.loops[index].peeking.load(Ordering::Acquire) {
            std::hint::spin_loop();
        }
    }

    /// Loop `index` runs a `block_on` called at `location` (the first one
    /// is kept: most programs have one).
    pub(crate) fn main_at(&self, index: usize, location: &'static std::panic::Location<'static>) {
        let _ = self.loops[index].main_at.set(location);
    }

    /// Loop `index` is about to sleep in the poller.
    pub(crate) fn idle(&self, index: usize) {
        self.loops[index].awake.store(false, Ordering::Release);
    }

    /// Loop `index` is awake again: wake the monitor if it sleeps.
    pub(crate) fn awake(&self, index: usize) {
        self.loops[index].awake.store(true, Ordering::SeqCst);
        if self.sleeping.load(Ordering::SeqCst) && self.sleeping.swap(false, Ordering::SeqCst) {
            if let Some(monitor) = self.monitor.get() {
                monitor.unpark();
            }
        }
    }

    // ----- Monitor side ------------------------------------------------------

    fn monitor(&self) {
        while !self.stop.load(Ordering::Acquire) {
            let now = self.stamp(Instant::now());
            let threshold = self.threshold.as_nanos() as u64;
            let mut any_awake = false;
            let mut next_check = self.threshold;
            for watch in &self.loops {
                any_awake |= watch.awake.load(Ordering::Acquire);
                let started = watch.started.load(Ordering::Acquire);
                if started == 0 {
                    continue;
                }
                any_awake = true;
                let so_far = now.saturating_sub(started);
                if so_far < threshold {
                    next_check = next_check.min(Duration::from_nanos(threshold - so_far));
                } else if watch.reported.load(Ordering::Relaxed) != started {
                    self.report(watch, started, Duration::from_nanos(so_far));
                }
            }
            if any_awake {
                thread::park_timeout(next_check);
                continue;
            }
            // Every loop sleeps in its poller: sleep until one wakes. The
            // `SeqCst` store pairs with the loop's in `awake`: either we see
            // it awake below, or it sees us sleeping and unparks us.
            self.sleeping.store(true, Ordering::SeqCst);
            let woke = self
                .loops
                .iter()
                .any(|watch| watch.awake.load(Ordering::SeqCst) || watch.started.load(Ordering::SeqCst) != 0);
            if !woke && !self.stop.load(Ordering::Acquire) {
                thread::park();
            }
            self.sleeping.store(false, Ordering::SeqCst);
        }
    }

    /// Warns about a poll that started at `started` and is still running.
    fn report(&self, watch: &LoopWatch, started: u64, so_far: Duration) {
        let task = watch.task.load(Ordering::Acquire);
        watch.peeking.store(true, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        let still = watch.started.load(Ordering::Acquire) == started;
        let described = match (still, task.is_null()) {
            (false, _) => None,
            (true, true) => Some(match watch.main_at.get() {
                Some(at) => format!("main ({MAIN_FUTURE} at {at})"),
                None => MAIN_FUTURE.to_string(),
            }),
            // SAFETY: the poll that published `task` is still running (we
            // saw its start time after announcing `peeking` and a fence), so
            // the task is in its loop's list, and the loop will not release
            // it before `peeking` is cleared (see the module docs).
            (true, false) => Some(unsafe { &*task }.info.to_string()),
        };
        watch.peeking.store(false, Ordering::Release);
        let Some(described) = described else { return };
        watch.reported.store(started, Ordering::Release);
        log::warn!(
            "stall: {described} has been running on loop {} for {so_far:?} in one poll and still is \
             (watchdog threshold {:?}); nothing else on that loop runs meanwhile. Move blocking work to \
             eddy::task::spawn_blocking",
            watch.loop_id.load(Ordering::Relaxed),
            self.threshold,
        );
    }
}

impl fmt::Debug for Watchdog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watchdog")
            .field("threshold", &self.threshold)
            .field("loops", &self.loops.len())
            .finish()
    }
}
