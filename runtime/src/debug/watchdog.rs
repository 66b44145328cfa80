//! The stall watchdog: one monitor thread per runtime that notices a loop
//! stuck inside one poll, and says so *while* it is stuck.
//!
//! A slow poll is normally reported when it ends (debug mode's slow-poll
//! warning), which is too late for a poll that never ends, and no help at
//! all while the program hangs. The watchdog watches from outside, by
//! sampling what each loop already publishes for the flight recorder:
//!
//! ```text
//!   loop thread                              monitor thread
//!   ───────────                              ──────────────
//!   poll begins: LoopActivity::polling =     every threshold/4 while a loop
//!     (poll number, task)   [the recorder's  is awake: the same non-zero
//!     store, made with or without us]        `polling` as last time? Then
//!   + the task's header pointer (one store,  one poll has run since the
//!     watchdog on only)                      sample that first saw it; once
//!   ... the poll blocks ...                  that is ≥ threshold:
//!                                             ─▶ warn: loop, task, spawn
//!                                                site, how long so far;
//!   poll ends: header pointer = null;            mark the poll reported
//!     was this poll reported?
//!     ─▶ warn: the stall is over, its total; dump the flight recorder
//!   parks in epoll_wait: "idle"  ───────▶    every loop idle: sleep until a
//!   returns from epoll_wait: "awake",        loop wakes it (no spinning, no
//!     unpark the monitor if it sleeps        timer)
//! ```
//!
//! The poll number (the recorder's event count, which grows with every
//! event whether recording is on or not) tells a long poll from many short
//! polls of the same task.
//!
//! # What it costs
//!
//! Off (the default outside debug mode): nothing beyond the one predictable
//! branch per poll that debug mode's slow-poll check already had. On: per
//! poll, a store of the task pointer at its start, and at its end a store
//! and two loads (was it reported?); no clock read, unless debug mode times
//! polls anyway (then its start time is published too, and the totals are
//! exact). Around each park that may sleep, one store before and a store, a
//! fence and a load after. The monitor wakes four times per `threshold`
//! while some loop is awake (40 times a second at 100 ms), and not at all
//! while every loop sleeps in its poller.
//!
//! # How exact the times are
//!
//! Without timed polls the monitor knows when it *first saw* a poll, not
//! when the poll began: a poll is reported once it has certainly run for
//! `threshold` (at most `threshold / 4` late), "so far" is that lower
//! bound, and the total at its end is given as a range (from the sample
//! that first saw it, and from the sample before). In debug mode polls are
//! timed, and both figures are exact.
//!
//! # Reading the stalled task without a lock
//!
//! To name the task, the monitor reads its header (id, name, spawn site)
//! through the pointer the loop published. The task cannot be freed while
//! it is being polled (the poll holds it), but the poll may end just as the
//! monitor looks, and the task be released right after. So the monitor
//! announces `peeking`, issues a `SeqCst` fence and checks that the pointer
//! and the poll number are still the ones it saw; the loop clears the
//! pointer when the poll ends and, before it releases a finished task from
//! its list (the last reference the loop controls), issues a `SeqCst` fence
//! and waits while `peeking` is set. With the two fences, either the
//! monitor sees the pointer cleared (and gives up) or the loop sees
//! `peeking` (and waits the few microseconds the copy takes). The fence is
//! on the task-*completion* path only, and only with the watchdog on.

use std::fmt;
use std::sync::atomic::{fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use crate::task::cell::Header;
use crate::trace::LoopActivity;

/// How messages name the future given to `block_on`, which is not a task.
pub(crate) const MAIN_FUTURE: &str = "the future passed to block_on";

/// Samples per threshold: how late (at most `threshold / SAMPLES`) a stall
/// is noticed, and how often the monitor wakes while loops are busy. Four
/// keeps the report within 25 % of the threshold for 40 wakes a second at
/// 100 ms, which is nothing next to a busy loop.
const SAMPLES: u32 = 4;

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
    /// When the loop that unparked the sleeping monitor woke (a stamp; 0:
    /// not since the monitor last went to sleep). No poll the monitor sees
    /// next began before it: the lower end of a stall's start.
    woke_at: AtomicU64,
}

/// What one loop publishes for the monitor, and what the monitor tells it.
struct LoopWatch {
    /// The loop's number, for messages (set when the loop is created).
    loop_id: AtomicU32,
    /// The loop's activity word, shared with its flight recorder (set when
    /// the loop is created).
    activity: OnceLock<Arc<LoopActivity>>,
    /// Where the `block_on` driving this loop was called (loop 0 only).
    main_at: OnceLock<&'static std::panic::Location<'static>>,
    /// The task being polled (null between polls and for the `block_on`
    /// future; see the module docs for when the monitor may read it).
    task: AtomicPtr<Header>,
    /// When the poll in progress started, if polls are timed (debug mode):
    /// nanoseconds since the epoch, plus one; 0 otherwise.
    started: AtomicU64,
    /// Not parked in the poller: polls may be happening.
    awake: AtomicBool,
    /// The `polling` word of the last poll the monitor reported (0: none),
    /// so the loop knows to report its end.
    reported: AtomicU64,
    /// For that poll: when the monitor first saw it, and the sample before
    /// (stamps), bounding its start when it was not timed.
    seen: Mutex<(u64, u64)>,
    /// The monitor is reading the header behind `task` right now.
    peeking: AtomicBool,
}

/// The monitor's own notes about one loop, between two samples.
#[derive(Clone, Copy, Default)]
struct Sample {
    /// The `polling` word seen last time (0: between polls).
    polling: u64,
    /// When the poll named by `polling` was first seen.
    first_seen: u64,
    /// The sample before that (the poll started after it).
    before: u64,
    /// Already reported.
    reported: bool,
}

impl Watchdog {
    /// A watchdog for a runtime of `loops` loops. Nothing runs until
    /// [`start`](Self::start).
    pub(crate) fn new(threshold: Duration, loops: usize) -> Arc<Watchdog> {
        let watch = || LoopWatch {
            loop_id: AtomicU32::new(0),
            activity: OnceLock::new(),
            main_at: OnceLock::new(),
            task: AtomicPtr::new(std::ptr::null_mut()),
            started: AtomicU64::new(0),
            awake: AtomicBool::new(false),
            reported: AtomicU64::new(0),
            seen: Mutex::new((0, 0)),
            peeking: AtomicBool::new(false),
        };
        Arc::new(Watchdog {
            threshold: threshold.max(Duration::from_millis(1)),
            loops: (0..loops).map(|_| watch()).collect(),
            epoch: Instant::now(),
            sleeping: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            monitor: OnceLock::new(),
            woke_at: AtomicU64::new(0),
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

    /// Loop `index` is loop number `loop_id`, and publishes `activity`.
    pub(crate) fn name_loop(&self, index: usize, loop_id: u32, activity: Arc<LoopActivity>) {
        self.loops[index].loop_id.store(loop_id, Ordering::Relaxed);
        let _ = self.loops[index].activity.set(activity);
    }

    /// A poll of `task` (`None`: the `block_on` future) starts on loop
    /// `index`, at `started` if polls are timed.
    #[inline]
    pub(crate) fn poll_begin(&self, index: usize, task: Option<&Header>, started: Option<Instant>) {
        let watch = &self.loops[index];
        let task = task.map_or(std::ptr::null(), |task| task as *const Header);
        watch.task.store(task.cast_mut(), Ordering::Release);
        if let Some(started) = started {
            watch.started.store(self.stamp(started), Ordering::Release);
        }
    }

    /// The poll of `what` (a task's info, or the main future) on loop
    /// `index` ended, after `took` if it was timed. If the monitor reported
    /// it as a stall, the loop reports its end here (and returns true).
    #[inline]
    pub(crate) fn poll_end(&self, index: usize, took: Option<Duration>, what: &dyn fmt::Display) -> bool {
        let watch = &self.loops[index];
        watch.task.store(std::ptr::null_mut(), Ordering::Release);
        if took.is_some() {
            watch.started.store(0, Ordering::Release);
        }
        let reported = watch.reported.load(Ordering::Acquire);
        // The loop's own word: still this poll's number until the batch ends.
        let polling = watch.activity.get().map_or(0, |activity| activity.polling.load(Ordering::Relaxed));
        if reported == 0 || reported != polling {
            return false;
        }
        self.stall_over(watch, polling, took, what)
    }

    /// Reports the end of the stalled poll `polling`, unless the other side
    /// (loop or monitor) already claimed that. Returns whether it did.
    #[cold]
    #[inline(never)]
    fn stall_over(
        &self,
        watch: &LoopWatch,
        polling: u64,
        took: Option<Duration>,
        what: &dyn fmt::Display,
    ) -> bool {
        if watch.reported.compare_exchange(polling, 0, Ordering::AcqRel, Ordering::Relaxed).is_err() {
            return false;
        }
        let total = match took {
            Some(took) => format!("{took:.1?}"),
            None => {
                let now = self.stamp(Instant::now());
                let (first_seen, before) =
                    *watch.seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                let at_least = Duration::from_nanos(now.saturating_sub(first_seen));
                let at_most = Duration::from_nanos(now.saturating_sub(before));
                format!("between {at_least:.0?} and {at_most:.0?}")
            }
        };
        log::warn!(
            "{what} took {total} in one poll on loop {}: the stall the watchdog reported is over \
             (threshold {:?}). Move blocking work to eddy::task::spawn_blocking",
            watch.loop_id.load(Ordering::Relaxed),
            self.threshold,
        );
        true
    }

    /// Loop `index` is about to release a task from its list (the task may
    /// be freed right after): wait while the monitor reads a header.
    #[inline]
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

    /// Loop `index` is about to sleep in the poller (or stops being driven).
    pub(crate) fn idle(&self, index: usize) {
        self.loops[index].awake.store(false, Ordering::Release);
    }

    /// Loop `index` is awake again: wake the monitor if it sleeps.
    pub(crate) fn awake(&self, index: usize) {
        self.loops[index].awake.store(true, Ordering::SeqCst);
        if self.sleeping.load(Ordering::SeqCst) && self.sleeping.swap(false, Ordering::SeqCst) {
            // Rare (the monitor sleeps only while every loop does), so the
            // clock read is no cost on the busy path.
            self.woke_at.store(self.stamp(Instant::now()), Ordering::Relaxed);
            if let Some(monitor) = self.monitor.get() {
                monitor.unpark();
            }
        }
    }

    // ----- Monitor side ------------------------------------------------------

    fn monitor(&self) {
        let mut samples = vec![Sample::default(); self.loops.len()];
        let period = self.threshold / SAMPLES;
        let threshold = self.threshold.as_nanos() as u64;
        // No poll began before the watchdog existed: the first bound, even if
        // this thread starts late (after a loop is already stuck).
        let mut last_sample = self.stamp(self.epoch);
        while !self.stop.load(Ordering::Acquire) {
            let now = self.stamp(Instant::now());
            let mut any_awake = false;
            for (watch, sample) in self.loops.iter().zip(&mut samples) {
                let polling = match watch.activity.get() {
                    Some(activity) if watch.awake.load(Ordering::Acquire) => {
                        any_awake = true;
                        activity.polling.load(Ordering::Acquire)
                    }
                    _ => 0,
                };
                if polling == 0 || polling != sample.polling {
                    *sample = Sample { polling, first_seen: now, before: last_sample, reported: false };
                    continue;
                }
                // The same poll as at the last sample: how long for sure?
                let started = watch.started.load(Ordering::Acquire);
                let so_far = now.saturating_sub(if started != 0 { started } else { sample.first_seen });
                if !sample.reported && so_far >= threshold {
                    sample.reported = self.report(watch, sample, started != 0, Duration::from_nanos(so_far));
                }
            }
            last_sample = now;
            if any_awake {
                thread::park_timeout(period);
                continue;
            }
            // Every loop sleeps in its poller: sleep until one wakes. The
            // `SeqCst` store pairs with the loop's in `awake`: either we see
            // it awake below, or it sees us sleeping and unparks us.
            self.woke_at.store(0, Ordering::Relaxed);
            self.sleeping.store(true, Ordering::SeqCst);
            let woke = self.loops.iter().any(|watch| watch.awake.load(Ordering::SeqCst));
            if !woke && !self.stop.load(Ordering::Acquire) {
                thread::park();
            }
            self.sleeping.store(false, Ordering::SeqCst);
            // `last_sample` saw every loop idle, so any poll seen next began
            // after it; if a loop woke us, after that loop woke, which is
            // the tighter bound (a long sleep would make a loose one).
            last_sample = last_sample.max(self.woke_at.load(Ordering::Relaxed));
        }
    }

    /// Warns about the poll `sample` names, still running after `so_far`
    /// (exact if `timed`, else a lower bound). Returns whether it warned
    /// (not if the poll ended meanwhile, or was not a poll at all).
    fn report(&self, watch: &LoopWatch, sample: &Sample, timed: bool, so_far: Duration) -> bool {
        let polling = sample.polling;
        let task = watch.task.load(Ordering::Acquire);
        let is_main = LoopActivity::task_of(polling) == Some(0);
        if task.is_null() && !is_main {
            return false; // Between two polls of a batch: not inside a poll.
        }
        watch.peeking.store(true, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        let activity = watch.activity.get().map_or(0, |activity| activity.polling.load(Ordering::Acquire));
        let still = activity == polling && watch.task.load(Ordering::Acquire) == task;
        let described = match (still, is_main) {
            (false, _) => None,
            (true, true) => Some(match watch.main_at.get() {
                Some(at) => format!("main ({MAIN_FUTURE} at {at})"),
                None => MAIN_FUTURE.to_string(),
            }),
            // SAFETY: the poll that published `task` has not cleared it (we
            // saw it again after announcing `peeking` and a fence), so the
            // task is alive, and the loop will not release it before
            // `peeking` is cleared (see the module docs).
            (true, false) => Some(unsafe { &*task }.to_string()),
        };
        watch.peeking.store(false, Ordering::Release);
        let Some(described) = described else { return false };
        *watch.seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) =
            (sample.first_seen, sample.before);
        watch.reported.store(polling, Ordering::Release);
        let bound = if timed { "" } else { "at least " };
        log::warn!(
            "stall: {described} has been running on loop {} for {bound}{so_far:.0?} in one poll and still \
             is (watchdog threshold {:?}); nothing else on that loop runs meanwhile. Move blocking work \
             to eddy::task::spawn_blocking",
            watch.loop_id.load(Ordering::Relaxed),
            self.threshold,
        );
        // The poll may have ended between the check above and `reported`:
        // then the loop did not see it, and the end is ours to report.
        let now = watch.activity.get().map_or(0, |activity| activity.polling.load(Ordering::Acquire));
        if now != polling {
            self.stall_over(watch, polling, None, &described);
        }
        true
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
