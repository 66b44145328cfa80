//! The event loop: one per thread, and the heart of eddy. Everything a loop
//! owns lives in [`Core`]; one turn of the loop is [`Core::tick`], which reads
//! top to bottom:
//!
//! ```text
//!   ┌─▶ 1. take in the tasks other threads woke or spawned (injection queue)
//!   │   2. poll the tasks that are ready, oldest first, at most `tick_budget`,
//!   │      each with a fresh cooperative budget (128 ready resource results);
//!   │      a task woken during this step runs next tick, not now; a task
//!   │      spawned during it runs at its end, within the same budget
//!   │   3. fire the timers that are due; their tasks become ready
//!   │   4. park in epoll_wait until the next timer (or forever); if tasks
//!   │      are ready, skip the syscall, except for a non-blocking look
//!   │      once per `tick_budget` polls; each I/O event readies its tasks
//!   └── (with a paused clock and nothing else to do, 4 tells the runtime's
//!        clock this loop is idle instead of sleeping; once every loop is
//!        idle, the clock jumps to the earliest timer of all loops)
//! ```
//!
//! # Paused time
//!
//! A paused clock moves only when nothing anywhere is ready: step 4 does
//! not sleep but declares the loop idle (with its next deadline) to the
//! runtime's one clock (`time/clock.rs`); the loop that finds every loop
//! idle, nothing injected and no blocking job in flight moves the clock and
//! notifies the others, which fire their due timers in step 3 of their next
//! tick. A loop clears its idle mark at the top of every tick, before step 1
//! takes in injected work, so no loop can be seen idle while it holds work.
//! A running clock costs none of this: one cached flag per tick.
//!
//! # Panics in user code
//!
//! Task polls and the destructors the loop runs are caught in `task/cell.rs`.
//! Wakers are user code too (a hand-written future may give the loop any
//! waker, for a timer, a socket or a `JoinHandle`): steps 3 and 4 wake each
//! batch under one `catch_unwind`, log a panicking waker at `error` and go on
//! with the rest of the batch, so a bad waker loses no other task's wakeup.
//!
//! # Fairness, in numbers
//!
//! Three limits, from the innermost out:
//!
//! - **Within a poll**: a task gets at most [`PER_POLL`] (128) `Ready`
//!   results from eddy resources (sockets, channels, `JoinHandle`s, timers)
//!   per poll; the next resource it polls returns `Pending` and re-queues it
//!   (`task/budget.rs`, tokio's `coop`). So a task looping over an
//!   always-ready resource (a socket another thread keeps full, an
//!   `accept` failing with `EMFILE`, a closed channel) still returns to the
//!   loop. The loop refills the budget before each task poll and before each
//!   poll of the `block_on` future.
//! - **Within a tick**: step 2 runs a snapshot of the queue: at most the
//!   tasks that were ready when it started, and at most `tick_budget` of
//!   them (default 128). A task that wakes itself forever runs once per
//!   tick. Step 3 runs every tick. Tasks *spawned* by the tasks step 2
//!   polls join the end of the step while the loop has made fewer than
//!   `tick_budget` polls since it last looked at I/O (counting them), so
//!   a new task does not cost a turn of the loop of its own (a server's
//!   new connection: its task runs in the tick that accepted it); past
//!   that they wait for the next tick like any other. So a task that
//!   spawns in a loop still leaves the tick after at most `tick_budget`
//!   polls, and I/O is still looked at every `tick_budget` polls.
//! - **Between looks at I/O**: step 4 looks for I/O at least once every
//!   `tick_budget` polls, counting task polls *and* polls of the `block_on`
//!   future (a main future looping on `yield_now` keeps the loop awake but
//!   still lets it collect I/O), even while tasks are ready.
//!
//! The guarantee that gives, with the defaults: once a timer is due, it
//! fires after at most one tick's worth of work, that is at most 128 task
//! polls (plus one of the main future), each doing at most 128 ready
//! resource operations: **at most 129 × 128 = 16,512 resource operations**.
//! A socket event is collected after at most 128 polls, the same bound.
//! (What a task computes between two operations no runtime can bound; debug
//! mode names the polls that take long.)
//!
//! Why 128 and why skip the syscall: one `epoll_wait`, even with a zero
//! timeout, costs about a microsecond, as much as polling several tasks.
//! When two tasks ping-pong through a channel, one task is ready per tick;
//! checking I/O every tick made eddy 1.8× slower than tokio on that
//! benchmark (`bench/`), which checks every 61 polls. 128 keeps the syscall
//! under 1% of such a loop while a socket waits at most ~128 polls (well
//! under a millisecond of typical task work); picked, not tuned further.
//! The per-poll budget is 128 for the reasons in `task/budget.rs`: it bounds
//! one poll's resource work to ~10-130 µs, and a forced yield costs less
//! than 1% of the 128 operations before it. Charging it costs a
//! thread-local load, test and store per ready result, and one store per
//! poll: in `bench/`'s runtime benchmark, instructions (callgrind) moved by
//! -1.1% (spawn_join) to +1.1% (timers_cancel), and CPU time by no more
//! than the noise (medians of 21 alternating runs within ±3%).
//!
//! [`PER_POLL`]: crate::task::PER_POLL
//!
//! # One clock read a tick
//!
//! A tick that parked reads the clock when it wakes (so
//! [`Instant::recent`](crate::time::Instant::recent) and the trace are
//! current); step 3 of the next tick fires timers against that reading
//! instead of reading the clock again. Only a tick that is about to park
//! again uses it (nothing ready, the `block_on` future not woken): a timer
//! that came due while the tick polled its tasks fires on the park's
//! zero timeout right after, at most that tick's polling late, within the
//! bound "Fairness" gives. A tick that will not park, or did not park
//! before, reads the clock as before. Timers never fire early either way:
//! a reading only lags.
//!
//! The park itself reads the clock again if the tick polled anything: its
//! stamp is where the busy stretch ends and the sleep begins, which the
//! timeline draws and the loop statistics split busy from parked time by
//! (with the wake's reading, a loop serving one request per wake looked
//! 0 % busy), and its timeout is planned from it. So a server's request
//! costs two `clock_gettime`s (the wake and the park), an idle wake one.
//!
//! # Narration
//!
//! At `trace` level each tick logs what it did (tasks run, timers fired, how
//! long it parked and why, I/O events), so `RUST_LOG=eddy=trace` shows the
//! loop at work; `examples/trace_loop.rs` walks through the output.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::io;
use std::panic::{self, AssertUnwindSafe, Location};
use std::pin::pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use futures_task::ArcWake;
use slab::Slab;

use crate::debug::watchdog::Watchdog;
use crate::reactor::Reactor;
use crate::runtime::{LoopConfig, PUBLISH_PERIOD_NS};
use crate::shared::{Shared, WAKER_TOKEN};
use crate::task::budget;
use crate::task::cell::{Header, Task, NO_SLOT};
use crate::task::{BlockingPool, JoinHandle, Runnable, Site};
use crate::time::wheel::{TimerKey, Wheel};
use crate::time::{Clock, Idle, Instant};
use crate::trace::record::{cause, kind, outcome, park as park_code};
use crate::trace::{DumpReason, LoopTrace, Recorder};
use crate::util::Shuffler;

/// Numbers loops process-wide, so a timer or task can tell which loop it
/// belongs to even across runtimes.
static NEXT_LOOP_ID: AtomicU32 = AtomicU32::new(1);

/// Everything one event loop owns. `!Send`: it lives and dies on its thread.
pub(crate) struct Core {
    /// The half other threads may touch: injection queue and eventfd waker.
    shared: Arc<Shared>,
    config: LoopConfig,
    /// Tasks ready to be polled, oldest first. Each appears at most once
    /// (the SCHEDULED bit guards the door).
    run_queue: RefCell<VecDeque<Arc<dyn Runnable>>>,
    /// Every live task, so shutdown can drop them all (and so a task that
    /// nobody holds a waker for still belongs to someone).
    tasks: RefCell<Slab<Arc<dyn Runnable>>>,
    /// Set once shutdown begins: tasks spawned from destructors from then on
    /// are cancelled at once instead of outliving the loop.
    closing: Cell<bool>,
    reactor: Rc<Reactor>,
    timers: RefCell<Wheel>,
    clock: Clock,
    /// Seeded reordering of ready tasks and I/O wakeups (tests only).
    shuffler: Option<RefCell<Shuffler>>,
    /// Whether the paused-and-stuck warning was given (once per loop).
    warned_paused_idle: Cell<bool>,
    /// Timers fired so far (`time::advance_to_next` needs to know whether
    /// a step fired anything).
    timers_fired: Cell<u64>,
    /// Task polls since the loop last looked at I/O (see "Fairness").
    polls_since_io: Cell<usize>,
    /// Tasks spawned during step 2 that join this tick: run right after
    /// the snapshot (see "Fairness"). Apart from the run queue, where
    /// tasks woken meanwhile wait for the next tick ahead of them.
    spawned: RefCell<VecDeque<Arc<dyn Runnable>>>,
    /// How many tasks `spawned` holds: the one test a tick that spawned
    /// nothing pays (a load, no borrow).
    spawned_len: Cell<usize>,
    /// Loop statistics kept here between publications (`runtime/stats.rs`):
    /// task polls and ns parked so far, and the loop time of the last
    /// publication.
    polls_total: Cell<u64>,
    parked_total: Cell<u64>,
    published_at: Cell<u64>,
    /// The last tick ended in a park, which read the clock on waking: step
    /// 3 of this tick may use that reading (see "One clock read a tick").
    clock_read_at_park: Cell<bool>,
    /// Reused buffers, so a steady-state tick allocates nothing.
    injected_buffer: RefCell<Vec<Arc<dyn Runnable>>>,
    wake_buffer: RefCell<Vec<Waker>>,
    /// I/O wakers with their cause (readable or writable) and token.
    io_wake_buffer: RefCell<Vec<(Waker, u8, u32)>>,
    ticks: Cell<u64>,
    /// The flight recorder (`trace/`): every event of this loop, in a ring.
    trace: Recorder,
    /// This loop's index in its runtime (its track in a trace).
    index: usize,
    /// Flight-recorder dumps written so far (at most `trace::MAX_DUMPS`).
    dumps: Cell<u32>,
    /// The runtime's stall watchdog and this loop's index in it, if on.
    watch: Option<(Arc<Watchdog>, usize)>,
    /// Debug mode or the watchdog is on: polls take the out-of-line path
    /// (one flag, so the busy path tests one thing).
    checks_polls: bool,
    /// Time spent polling each live task, by header address, in debug mode
    /// (which times polls anyway): here rather than in every task header,
    /// which every spawn copies.
    busy: RefCell<HashMap<usize, Duration>>,
    /// When the poll in progress started, in debug mode (polls never nest).
    poll_started: Cell<Option<std::time::Instant>>,
}

impl Core {
    /// Creates loop number `index` of a runtime (0 for the `block_on` loop).
    pub(crate) fn new(config: LoopConfig, blocking: BlockingPool, index: usize) -> io::Result<Rc<Core>> {
        let loop_id = NEXT_LOOP_ID.fetch_add(1, Ordering::Relaxed);
        // "poller" and "waker" on every OS: epoll and an eventfd on Linux,
        // kqueue (and its user event) on macOS and the BSDs.
        let poll = mio::Poll::new()
            .map_err(|e| io::Error::new(e.kind(), format!("creating the event loop's I/O poller: {e}")))?;
        let waker = mio::Waker::new(poll.registry(), WAKER_TOKEN).map_err(|e| {
            io::Error::new(e.kind(), format!("creating the event loop's cross-thread waker: {e}"))
        })?;
        let reactor = Rc::new(Reactor::new(poll, config.event_capacity)?);
        let shared = Arc::new(Shared::new(loop_id, config.debug, waker, blocking));
        let clock = Clock::register(&config.clock, index, &shared);
        let poll_times = config.trace.poll_times.unwrap_or(config.debug);
        let trace =
            Recorder::new(config.trace.capacity, poll_times, clock.tick_instant(0), shared.activity.clone());
        shared.stats.set_origin(clock.tick_instant(0).into_std());
        let watch = config.watchdog.clone().map(|dog| {
            dog.name_loop(index, loop_id, shared.activity.clone());
            (dog, index)
        });
        Ok(Rc::new(Core {
            checks_polls: config.debug || watch.is_some(),
            busy: RefCell::new(HashMap::new()),
            poll_started: Cell::new(None),
            watch,
            shared,
            clock,
            trace,
            index,
            dumps: Cell::new(0),
            // Seeded by the loop's index in its runtime, not its process-wide
            // id: the same seed must give the same orders in every run.
            shuffler: config.seed.map(|seed| {
                RefCell::new(Shuffler::new(seed.wrapping_add((index as u64).wrapping_mul(0x9E37_79B9))))
            }),
            config,
            run_queue: RefCell::new(VecDeque::new()),
            tasks: RefCell::new(Slab::new()),
            closing: Cell::new(false),
            reactor,
            timers: RefCell::new(Wheel::new()),
            warned_paused_idle: Cell::new(false),
            timers_fired: Cell::new(0),
            polls_since_io: Cell::new(0),
            spawned: RefCell::new(VecDeque::new()),
            spawned_len: Cell::new(0),
            polls_total: Cell::new(0),
            parked_total: Cell::new(0),
            // Publish at the first park: "never" is at least a period ago.
            published_at: Cell::new(0u64.wrapping_sub(PUBLISH_PERIOD_NS)),
            clock_read_at_park: Cell::new(false),
            injected_buffer: RefCell::new(Vec::new()),
            wake_buffer: RefCell::new(Vec::new()),
            io_wake_buffer: RefCell::new(Vec::new()),
            ticks: Cell::new(0),
        }))
    }

    // ----- The loop ---------------------------------------------------------

    /// Runs `future` to completion on this loop, running every other task,
    /// timer and socket of the loop meanwhile. The caller has entered the
    /// loop's context.
    ///
    /// The future is polled like a task: with a fresh cooperative budget,
    /// counted among the polls after which the loop looks at I/O, and timed
    /// in debug mode, where it is named `main` with `location`, the call
    /// site of `block_on` (or `eddy::run`).
    pub(crate) fn block_on<F: Future>(&self, future: F, location: &'static Location<'static>) -> F::Output {
        let main = Arc::new(MainWaker { woken: AtomicBool::new(true), owner: self.shared.clone() });
        let waker = futures_task::waker(main.clone());
        let mut cx = Context::from_waker(&waker);
        let mut future = pin!(future);
        // Restores the unlimited budget when block_on returns or unwinds.
        let _budget = budget::Scope::enter();
        let _recording = crate::trace::running(&self.trace);
        let _awake = self.awake();
        if let Some((dog, index)) = &self.watch {
            dog.main_at(*index, location);
        }
        loop {
            if main.woken.swap(false, Ordering::AcqRel) {
                budget::refill();
                self.trace.poll_begin(0, || 0);
                self.poll_begin(None);
                let polled = future.as_mut().poll(&mut cx);
                let result = if polled.is_ready() { outcome::READY } else { outcome::PENDING };
                self.trace.poll_end(0, result, || crate::trace::BLOCK_ON_LABEL, &self.clock);
                self.poll_end(None, &MainFuture { location });
                self.trace.polls_done();
                // A main future that keeps itself awake (a `yield_now` loop
                // waiting for a task) must not keep the loop from I/O.
                self.polls_since_io.set(self.polls_since_io.get() + 1);
                if let Poll::Ready(output) = polled {
                    return output;
                }
            }
            self.tick(&main.woken);
        }
    }

    /// Runs ticks until the runtime asks this (worker) loop to stop.
    pub(crate) fn run_until_stopped(&self) {
        let never = AtomicBool::new(false);
        let _budget = budget::Scope::enter();
        let _recording = crate::trace::running(&self.trace);
        let _awake = self.awake();
        while !self.shared.stop_requested() {
            self.tick(&never);
        }
    }

    /// One turn of the loop. `main_woken` is the `block_on` future's wake
    /// flag: if set, the loop must not sleep.
    fn tick(&self, main_woken: &AtomicBool) {
        let tick = self.ticks.get() + 1;
        self.ticks.set(tick);
        #[cfg(test)]
        if FAIL_NEXT_TICK.with(|fail| fail.replace(false)) {
            panic!("injected event loop failure (test)");
        }
        // Tell a paused runtime clock this loop is busy before taking in
        // work (a no-op unless the loop last parked idle).
        self.clock.wake_up();

        // 1. Wakes and spawns from other threads join the run queue.
        let injected = self.take_injected();

        // 2. Poll what is ready now, oldest first, within the budget.
        let ran = self.run_ready_tasks();

        // 3. Fire the timers that are due; their tasks become ready.
        // See "One clock read a tick": the park's reading serves only a
        // tick that will park again.
        let will_park = !main_woken.load(Ordering::Acquire) && self.run_queue.borrow().is_empty();
        let park_reading = self.clock_read_at_park.replace(false) && will_park;
        let (fired, seen) = self.fire_timers(park_reading);

        // 4. Park until there is something to do, collecting I/O wakeups.
        // Nothing fired since `will_park` looked: the run queue is still
        // empty and the main future still asleep (only this thread fills
        // the queue; another thread's wake of the main future interrupts
        // the park instead), so the plan skips looking again (an atomic
        // load and a borrow per tick, the keep-alive path).
        let park = self.plan_park(will_park && fired == 0, park_reading && ran > 0, main_woken, seen);
        let parked_at = log::log_enabled!(log::Level::Trace).then(std::time::Instant::now);
        // A skipped park is the busy path of every tick with tasks ready:
        // tested here, so it costs no call into `park` (~25 instructions
        // of frame per tick in `ping_pong`-like loads, callgrind).
        let events = if matches!(park, Park::Skip) { 0 } else { self.park(park, seen) };
        self.clock_read_at_park.set(!matches!(park, Park::Skip));

        if let Some(parked_at) = parked_at {
            // A skipped park made no syscall: timing it would only time this
            // `if`, and "parked 90ns" would claim a sleep that never happened.
            let parked = match park {
                Park::Skip => "did not park (Skip: tasks are ready)".to_string(),
                _ => format!("parked {:?} ({park:?})", parked_at.elapsed()),
            };
            log::trace!(
                "loop {} tick {tick}: {injected} injected, {ran} polled, {fired} timers fired, {parked}, \
                 {events} I/O events",
                self.loop_id(),
            );
        }
    }

    /// Step 1.
    fn take_injected(&self) -> usize {
        // The common case, nothing from other threads: one atomic load,
        // before any borrow (`Shared::take_injected` checks it again).
        if !self.shared.is_notified() {
            return 0;
        }
        let mut injected = self.injected_buffer.borrow_mut();
        self.shared.take_injected(&mut injected);
        let count = injected.len();
        if count == 0 {
            return 0;
        }
        for task in injected.drain(..) {
            if task.header().slot() == NO_SLOT {
                // Spawned through a Handle from another thread: adopt it.
                self.adopt(&task);
            }
            self.trace.injected(task.header());
            self.run_queue.borrow_mut().push_back(task);
        }
        count
    }

    /// Step 2: the snapshot, then the tasks it spawned while the budget
    /// had room (see "Fairness").
    fn run_ready_tasks(&self) -> usize {
        let batch = self.run_queue.borrow().len().min(self.config.tick_budget);
        if let Some(shuffler) = &self.shuffler {
            let mut queue = self.run_queue.borrow_mut();
            shuffler.borrow_mut().shuffle(&mut queue.make_contiguous()[..batch]);
        }
        // Counted before the polls, so a spawn during them sees how much
        // room the budget has left (`Core::spawn`).
        self.polls_since_io.set(self.polls_since_io.get() + batch);
        for _ in 0..batch {
            // The borrow ends before `run`: a task may spawn or wake others.
            let task = self.run_queue.borrow_mut().pop_front();
            match task {
                Some(task) => {
                    budget::refill();
                    task.run(self);
                }
                None => break,
            }
        }
        // Tested here, so a tick that spawned nothing (every keep-alive
        // request) pays one load and test, not a call.
        let ran = if self.spawned_len.get() == 0 { batch } else { batch + self.run_spawned() };
        self.trace.polls_done();
        ran
    }

    /// Step 2's end: the tasks spawned during it that joined the tick, in
    /// the order they were spawned (with those they spawn in turn, while
    /// the budget lasts). Returns how many ran.
    #[inline(never)]
    fn run_spawned(&self) -> usize {
        let mut ran = 0;
        loop {
            let task = self.spawned.borrow_mut().pop_front();
            let Some(task) = task else { return ran };
            self.spawned_len.set(self.spawned_len.get() - 1);
            budget::refill();
            task.run(self);
            ran += 1;
        }
    }

    /// Step 3. Returns how many fired and, when none did, what it saw of
    /// the wheel (for step 4, see [`TimersSeen`]).
    /// `use_park_reading`: fire against the reading the last park took
    /// instead of reading the clock (see "One clock read a tick").
    ///
    /// The test whether anything is due is inlined into the tick; only a
    /// tick that fires calls out: as a function of its own, the common
    /// "nothing due" answer cost ~17 instructions of frame per wake
    /// (callgrind, keep-alive).
    #[inline(always)]
    fn fire_timers(&self, use_park_reading: bool) -> (usize, Option<TimersSeen>) {
        let timers = self.timers.borrow();
        if timers.is_empty() {
            // No clock read: it is not free (a vDSO call at best).
            return (0, Some(TimersSeen { next: None, len: 0 }));
        }
        if !use_park_reading {
            self.clock.now();
        }
        // Nothing due (the common tick of a server whose deadlines lie
        // seconds ahead): a comparison with the remembered deadline, in
        // ns (a multiplication, not the division that makes a tick),
        // without borrowing the wheel mutably or the wake buffer.
        let next = timers.next_deadline();
        if !next.is_some_and(|next| self.clock.reached_tick(next)) {
            return (0, Some(TimersSeen { next, len: timers.len() }));
        }
        drop(timers);
        (self.fire_due_timers(), None)
    }

    /// Step 3, when a timer is due: advances the wheel to the clock's
    /// last reading and wakes what fired.
    #[inline(never)]
    fn fire_due_timers(&self) -> usize {
        let now = self.clock.recent_tick();
        // Borrowed, not taken and put back: nothing a waker can do reaches
        // step 3 again, and the borrow skips two moves of the `Vec` a tick.
        let mut wakers = self.wake_buffer.borrow_mut();
        let fired = self.timers.borrow_mut().advance(now, &mut wakers);
        if fired > 0 {
            let previous = self.trace.timers_fired(fired, now, &self.clock);
            self.wake_all(&mut wakers, "a timer");
            self.trace.restore_cause(previous);
        }
        drop(wakers);
        self.timers_fired.set(self.timers_fired.get() + fired as u64);
        fired
    }

    /// Step 4a: decide how long to park.
    /// `idle`: the caller has just seen nothing ready and nothing woken.
    /// `stale`: the clock's reading predates polls this tick ran (see "One
    /// clock read a tick"); a timed park reads it again.
    fn plan_park(&self, idle: bool, stale: bool, main_woken: &AtomicBool, seen: Option<TimersSeen>) -> Park {
        if !idle && (main_woken.load(Ordering::Acquire) || !self.run_queue.borrow().is_empty()) {
            if self.clock.was_paused() {
                // Busy while time stands still: the livelock guard counts.
                self.clock.busy_tick(self.loop_id());
            }
            if self.polls_since_io.get() < self.config.tick_budget {
                return Park::Skip;
            }
            return Park::Poll;
        }
        if self.clock.is_paused() {
            return Park::Paused;
        }
        let next = match seen {
            Some(seen) => seen.next,
            None => self.timers.borrow().next_deadline(),
        };
        let Some(next) = next else {
            return Park::Wait(None);
        };
        // The reading step 3 fired timers against (it takes one whenever a
        // timer is armed), unless it is the wake's and tasks ran since: then
        // the park's stamp and its timeout need the time now (see "One clock
        // read a tick").
        if stale {
            self.clock.now();
        }
        Park::Wait(Some(self.clock.recent_nanos_until_tick(next)))
    }

    /// Step 4b: park in epoll_wait and wake the tasks whose I/O is ready.
    fn park(&self, park: Park, seen: Option<TimersSeen>) -> usize {
        // In ns until the wait itself: the publication rule and the trace
        // compare and scale integers, and only mio gets a `Duration`.
        let timeout = match park {
            // Not recorded: the busy path, once per tick, draws nothing.
            Park::Skip => return 0,
            Park::Poll | Park::Paused => Some(0),
            Park::Wait(timeout) => timeout,
        };
        // Only a `Poll` park has tasks ready: the others are planned only
        // when the run queue is empty (one borrow fewer per real park).
        let ready = if matches!(park, Park::Poll) { self.run_queue.borrow().len() as u32 } else { 0 };
        // Stamp the park where it begins, not where the busy stretch before
        // it did (a park with a timeout has just read the clock to compute
        // it; the others read it once, next to a syscall). The loop
        // statistics (`runtime/stats.rs`) take their time from that stamp,
        // and are published here, at most once per real park.
        match park {
            // The clock was read to compute the timeout, after any polls.
            Park::Wait(Some(_)) => self.trace.stamp(&self.clock),
            // Paused time has not moved since the last stamp.
            Park::Paused => {}
            _ => {
                self.clock.now();
                self.trace.stamp(&self.clock);
            }
        }
        // The stamp's reading, uncut (the recorder keeps 48 bits).
        let parked_at = self.clock.recent_nanos();
        // Nothing arms or fires a timer during a park (I/O wakers run
        // after it, timers fire in step 3): one count serves both records,
        // except where a paused clock's idle step runs `advance` wakers.
        let timers = match seen {
            Some(seen) => seen.len,
            None => self.timers.borrow().len(),
        };
        self.polls_total.set(self.polls_total.get() + self.polls_since_io.get() as u64);
        self.polls_since_io.set(0);
        // Loop statistics: published unless this is a timed wait within
        // `PUBLISH_PERIOD_NS` of the last publication, which instead waits
        // at most until that period is up (see `runtime/stats.rs`).
        let since_published = parked_at.wrapping_sub(self.published_at.get());
        let (publish, timeout) = match timeout {
            Some(wait) if since_published < PUBLISH_PERIOD_NS && matches!(park, Park::Wait(_)) => {
                (false, Some(wait.min(PUBLISH_PERIOD_NS - since_published)))
            }
            timeout => (true, timeout),
        };
        if publish {
            self.published_at.set(parked_at);
            self.shared.stats.publish(
                parked_at,
                crate::runtime::AtPark {
                    tick: self.ticks.get(),
                    polls: self.polls_total.get(),
                    parked: self.parked_total.get(),
                    ready,
                    timers,
                    tasks: self.tasks.borrow().len(),
                    sockets: self.reactor.sockets(),
                },
            );
        }
        self.trace.record(kind::PARK, park.trace_code(), trace_timeout(timeout), ready);
        let timeout = timeout.map(|nanos| match u32::try_from(nanos) {
            // The common wait, under a second: no division by 10^9.
            Ok(nanos) if nanos < 1_000_000_000 => Duration::new(0, nanos),
            _ => Duration::from_nanos(nanos),
        });
        // Borrowed for the rest of the park, as step 3's buffer is.
        let mut wakers = self.io_wake_buffer.borrow_mut();
        let mut events = self.poll_reactor(timeout, &mut wakers);
        if matches!(park, Park::Paused) && events == 0 && !self.shared.is_notified() {
            // Paused and nothing happened: the runtime's clock decides
            // whether time moves now, or this loop waits for the others.
            events = self.park_paused(&mut wakers);
        }
        // Time passed while parked: one clock read per park keeps
        // `Instant::recent` (and the next tick's timers) current.
        self.clock.now();
        self.trace.stamp(&self.clock);
        let parked = self.parked_total.get() + self.clock.recent_nanos().saturating_sub(parked_at);
        self.parked_total.set(parked);
        if publish {
            self.shared.stats.published_park_ends(parked);
        }
        let timers = if matches!(park, Park::Paused) { self.timers.borrow().len() } else { timers };
        self.trace.record(kind::UNPARK, 0, events as u32, timers as u32);
        if let Some(shuffler) = &self.shuffler {
            shuffler.borrow_mut().shuffle(&mut wakers);
        }
        self.wake_io(&mut wakers);
        events
    }

    /// Step 4c, paused clock, idle loop: declare the loop idle to the
    /// runtime's clock, which moves time if every loop is idle (see
    /// `time::RuntimeClock`); otherwise wait for I/O or another thread.
    fn park_paused(&self, wakers: &mut Vec<(Waker, u8, u32)>) -> usize {
        let next = self.timers.borrow().next_deadline();
        let idle = self.clock.idle(next, &self.shared.blocking, &self.shared);
        let wait = match idle {
            Idle::Run => return 0,
            Idle::Forever => None,
            // Whoever lets time move next (another loop going idle, the
            // blocking pool draining, a resume) notifies this loop; the
            // timeout only bounds how long a surprise could go unnoticed.
            Idle::Wait { .. } => Some(PAUSED_IDLE_WARNING),
        };
        let events = self.poll_reactor(wait, wakers);
        if idle == (Idle::Wait { warn: true }) && events == 0 && !self.warned_paused_idle.get() {
            // Most likely a test that waits for time to pass with
            // auto-advance off: say so rather than hang in silence.
            self.warned_paused_idle.set(true);
            log::warn!(
                "loop {}: idle for {PAUSED_IDLE_WARNING:?} of real time with the clock paused and timers \
                 pending, but auto-advance is off (or a blocking job is running): only time::advance or \
                 another thread can wake it",
                self.loop_id()
            );
        }
        events
    }

    /// Wakes the tasks whose sockets are ready, each with its cause for
    /// the trace, containing panicking wakers as [`wake_all`](Self::wake_all) does.
    fn wake_io(&self, wakers: &mut Vec<(Waker, u8, u32)>) {
        if wakers.is_empty() {
            return;
        }
        self.wake_each(wakers, "an I/O event", |(waker, cause, token)| {
            self.trace.io_ready(cause, token);
            waker.wake();
        });
        self.trace.set_cause(cause::LOOP, 0);
    }

    /// Waits on the reactor; a wait that may sleep tells the stall watchdog
    /// the loop is idle meanwhile (so its monitor can sleep too). Inlined
    /// into the park (with `Reactor::poll`): its own frame cost ~18
    /// instructions per park (callgrind).
    #[inline(always)]
    fn poll_reactor(&self, timeout: Option<Duration>, wakers: &mut Vec<(Waker, u8, u32)>) -> usize {
        let watch = self.watch.as_ref().filter(|_| timeout != Some(Duration::ZERO));
        if let Some((dog, index)) = watch {
            dog.idle(*index);
        }
        let events = self.reactor.poll(timeout, wakers);
        if let Some((dog, index)) = watch {
            dog.awake(*index);
        }
        events
    }

    /// Wakes (and so consumes) every waker in `wakers`, which `source`
    /// released. A waker is user code: a hand-written one may panic in
    /// `wake` (or in the destructor `wake` runs). That panic must not
    /// unwind out of the loop, which would drop the rest of the batch
    /// un-woken (lost wakeups for tasks that did nothing wrong) and, on a
    /// worker thread, kill the loop. So it is caught, logged at `error`,
    /// and the batch goes on from the next waker. One `catch_unwind` per
    /// batch, re-entered only after a panic: the common path costs nothing.
    fn wake_all(&self, wakers: &mut Vec<Waker>, source: &str) {
        self.wake_each(wakers, source, Waker::wake);
    }

    /// [`wake_all`](Self::wake_all) for any item that carries a waker.
    /// Reversed, then popped from the back: the batch is woken in order
    /// with no `Drain` to drop (whose bookkeeping cost ~25 instructions
    /// per batch, more than a wake; callgrind, keep-alive requests).
    fn wake_each<T>(&self, items: &mut Vec<T>, source: &str, mut wake: impl FnMut(T)) {
        items.reverse();
        while let Err(payload) = panic::catch_unwind(AssertUnwindSafe(|| {
            while let Some(item) = items.pop() {
                wake(item);
            }
        })) {
            log::error!(
                "loop {}: a waker released by {source} panicked in wake() (its task may never run again; \
                 the other wakers of the batch were still woken): {}",
                self.loop_id(),
                crate::task::panic_message(payload.as_ref()),
            );
        }
    }

    // ----- Tasks --------------------------------------------------------

    /// Creates a task on this loop and queues it. See [`crate::spawn`].
    pub(crate) fn spawn<F>(
        &self,
        future: F,
        name: Option<Box<str>>,
        location: &'static Location<'static>,
    ) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let site = Site::new(name, location);
        let task = Task::new(future, self.shared.clone(), self.shared.next_task_seq(), site);
        let handle = JoinHandle::for_task(task.clone());
        let task: Arc<dyn Runnable> = task;
        if self.closing.get() {
            task.shutdown(self);
        } else {
            self.adopt(&task);
            // Not `push_ready`: the trace's SPAWN record stands for this
            // first wake too (one record per spawn saved).
            let polls = self.polls_since_io.get();
            if polls < self.config.tick_budget && crate::task::id::polling().is_some() {
                // Spawned by a task this tick polls, with room in the
                // budget: it runs at the end of step 2, counted now (see
                // "Fairness").
                self.polls_since_io.set(polls + 1);
                self.spawned.borrow_mut().push_back(task);
                self.spawned_len.set(self.spawned_len.get() + 1);
            } else {
                self.run_queue.borrow_mut().push_back(task);
            }
        }
        handle
    }

    /// Adds a task to the loop's task list.
    fn adopt(&self, task: &Arc<dyn Runnable>) {
        let slot = self.tasks.borrow_mut().insert(task.clone());
        task.set_slot(slot);
        let header = task.header();
        header.set_trace(self.trace.spawn(header.site()));
    }

    /// Removes a finished task from the task list (if it is still there:
    /// during shutdown the list has already been emptied).
    pub(crate) fn release_task<T: ?Sized>(&self, slot: usize, task: *const T) {
        let removed = {
            let mut tasks = self.tasks.borrow_mut();
            match tasks.get(slot) {
                Some(entry) if std::ptr::addr_eq(Arc::as_ptr(entry), task) => Some(tasks.remove(slot)),
                _ => None,
            }
        };
        if let (true, Some(removed)) = (self.checks_polls, &removed) {
            self.releasing(removed.header());
        }
        drop(removed);
    }

    /// Debug mode or the watchdog is on and `task` is leaving the loop's
    /// list (and may be freed when the list's reference drops).
    #[cold]
    fn releasing(&self, task: &Header) {
        if let Some((dog, index)) = &self.watch {
            dog.before_release(*index); // The watchdog may be reading it.
        }
        self.busy.borrow_mut().remove(&std::ptr::from_ref(task).addr());
    }

    /// Time spent polling `task` so far, if polls are timed (debug mode).
    pub(crate) fn busy_of(&self, task: &Header) -> Option<Duration> {
        let busy = self.busy.borrow().get(&std::ptr::from_ref(task).addr()).copied();
        self.times_polls().then(|| busy.unwrap_or_default())
    }

    /// Queues a ready task. Loop thread only. Always inlined: it is the
    /// end of every wake on the loop's own thread (generic task code in
    /// the caller's crate), where a call cost as much as the push.
    #[inline(always)]
    pub(crate) fn push_ready(&self, task: Arc<dyn Runnable>) {
        self.run_queue.borrow_mut().push_back(task);
    }

    /// Drops every task still alive, on this thread, running their
    /// destructors with the loop still current (they may cancel timers or
    /// deregister sockets). Called once, when the runtime goes away.
    pub(crate) fn shutdown(&self) {
        self.closing.set(true);
        self.trace.loop_wakes();
        // No longer driven: a paused runtime clock must not wait for it.
        self.clock.set_driven(false);
        let mut orphans = self.shared.close();
        if self.config.debug && !self.tasks.borrow().is_empty() {
            let dump = crate::debug::dump::take(self, false);
            log::warn!(
                "loop {}: {} task(s) still pending when its runtime shut down; dropping them:\n{dump}",
                self.loop_id(),
                dump.tasks.len()
            );
        }
        if let Some((dog, index)) = &self.watch {
            dog.before_release(*index);
        }
        loop {
            let tasks: Vec<_> = self.tasks.borrow_mut().drain().collect();
            let tasks = tasks.into_iter().chain(orphans.drain(..)).collect::<Vec<_>>();
            if tasks.is_empty() {
                break;
            }
            for task in tasks {
                task.shutdown(self);
            }
        }
        let queued = std::mem::take(&mut *self.run_queue.borrow_mut());
        drop(queued);
        let spawned = std::mem::take(&mut *self.spawned.borrow_mut());
        drop(spawned);
    }

    // ----- Debug mode ---------------------------------------------------

    /// Whether debug mode is on (asyncio's `debug=True`).
    pub(crate) fn debug(&self) -> bool {
        self.config.debug
    }

    /// A poll of `task` (`None`: the `block_on` future) begins. In debug
    /// mode it is timed; with the stall watchdog on, the watchdog is told.
    /// Neither on (the busy path): one test of one flag, and nothing to
    /// carry across the poll (the start time, when there is one, waits in
    /// `poll_started`).
    #[inline(always)]
    pub(crate) fn poll_begin(&self, task: Option<&Header>) {
        if self.checks_polls {
            self.poll_begin_checked(task);
        }
    }

    #[inline(never)]
    fn poll_begin_checked(&self, task: Option<&Header>) {
        let started = self.config.debug.then(std::time::Instant::now);
        if let Some((dog, index)) = &self.watch {
            dog.poll_begin(*index, task, started);
        }
        self.poll_started.set(started);
    }

    /// The poll that [`poll_begin`](Self::poll_begin) started is over:
    /// count its time, and report it if it hogged the loop (the watchdog's
    /// "stall over" replaces debug mode's slow-poll warning for the same
    /// poll). `what` names it in messages.
    #[inline(always)]
    pub(crate) fn poll_end(&self, task: Option<&Header>, what: &dyn fmt::Display) {
        if self.checks_polls {
            self.poll_end_checked(task, what);
        }
    }

    #[inline(never)]
    fn poll_end_checked(&self, task: Option<&Header>, what: &dyn fmt::Display) {
        let started = self.poll_started.take();
        let took = started.map(|started| started.elapsed());
        if let (Some(task), Some(took)) = (task, took) {
            *self.busy.borrow_mut().entry(std::ptr::from_ref(task).addr()).or_default() += took;
        }
        if let Some((dog, index)) = &self.watch {
            if dog.poll_end(*index, took, what) {
                if self.config.trace.dump_on_stall {
                    self.trace_dump(DumpReason::Stall);
                }
                return; // Reported: no slow-poll warning on top.
            }
        }
        self.check_slow_poll(started, what);
    }

    /// Whether polls are timed (debug mode), so busy times are known.
    #[inline]
    pub(crate) fn times_polls(&self) -> bool {
        self.config.debug
    }

    /// Marks the loop awake for the watchdog until the guard drops.
    fn awake(&self) -> Awake<'_> {
        if let Some((dog, index)) = &self.watch {
            dog.awake(*index);
        }
        Awake(self)
    }

    /// Warns if the poll that started at `started` hogged the loop.
    /// `task` names what was polled: a task's [`TaskInfo`](crate::task::TaskInfo), or the main
    /// future. Inlined down to one test of `started` on every poll; the
    /// rest is out of line, since it only runs in debug mode.
    #[inline]
    fn check_slow_poll(&self, started: Option<std::time::Instant>, task: &dyn fmt::Display) {
        if let Some(started) = started {
            self.warn_if_slow(started, task);
        }
    }

    #[cold]
    #[inline(never)]
    fn warn_if_slow(&self, started: std::time::Instant, task: &dyn fmt::Display) {
        let took = started.elapsed();
        if took >= self.config.slow_poll_threshold {
            if self.config.trace.dump_on_slow_poll {
                self.trace_dump(DumpReason::SlowPoll);
            }
            log::warn!(
                "{task} took {took:?} in one poll (threshold {:?}); nothing else on loop {} could run \
                 meanwhile. Move blocking work to eddy::task::spawn_blocking",
                self.config.slow_poll_threshold,
                self.loop_id(),
            );
        }
    }

    // ----- The flight recorder (see `trace/`) ---------------------------

    /// This loop's recorder.
    pub(crate) fn trace(&self) -> &Recorder {
        &self.trace
    }

    /// A task panicked or was cancelled: records it, and dumps the ring if
    /// it panicked and the runtime asked for that.
    #[cold]
    pub(crate) fn trace_failure(&self, task: &crate::task::cell::Header, how: u8) {
        self.trace.finish(task.seq() as u32, task.trace_label(), how);
        if how == outcome::PANICKED && self.config.trace.dump_on_panic {
            self.trace_dump(DumpReason::Panic);
        }
    }

    /// Copies this loop's ring out.
    pub(crate) fn trace_snapshot(&self) -> LoopTrace {
        self.trace.snapshot(self.index, self.clock.is_paused(), self.trace_live_labels())
    }

    /// The live tasks' trace labels, (task, label): how a reader of the
    /// ring names a task whose end is not recorded yet (poll records carry
    /// what woke the task, not its label).
    pub(crate) fn trace_live_labels(&self) -> Vec<(u32, u32)> {
        let tasks = self.tasks.borrow();
        tasks.iter().map(|(_, task)| (task.header().seq() as u32, task.header().trace_label())).collect()
    }

    /// Writes the ring to the dump directory, if one is configured (Go's
    /// flight recorder: the moments before something went wrong). Blocks
    /// the loop for the write, which is rare by construction.
    fn trace_dump(&self, reason: DumpReason) {
        let Some(dir) = &self.config.trace.dump_dir else { return };
        if !self.trace.is_on() || self.dumps.get() >= crate::trace::MAX_DUMPS {
            return;
        }
        let number = self.dumps.get() + 1;
        self.dumps.set(number);
        let name = match reason {
            DumpReason::Panic => "panic",
            DumpReason::SlowPoll => "slow-poll",
            DumpReason::Stall => "stall",
        };
        let path = dir.join(format!("eddy-trace-loop{}-{number}-{name}.json", self.index));
        let snapshot = crate::trace::Snapshot { loops: vec![self.trace_snapshot()] };
        match snapshot.write_chrome_json(&path) {
            Ok(()) => log::warn!(
                "loop {}: {name}: flight recorder written to {} (open it in ui.perfetto.dev)",
                self.loop_id(),
                path.display()
            ),
            Err(error) => log::error!("loop {}: {name}: {error}", self.loop_id()),
        }
    }

    // ----- Accessors for the other modules ------------------------------

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    #[inline]
    pub(crate) fn loop_id(&self) -> u32 {
        self.shared.loop_id
    }

    pub(crate) fn reactor(&self) -> &Rc<Reactor> {
        &self.reactor
    }

    #[inline]
    pub(crate) fn clock(&self) -> &Clock {
        &self.clock
    }

    pub(crate) fn blocking_pool(&self) -> &BlockingPool {
        &self.shared.blocking
    }

    /// Arms a timer for `deadline` that wakes `waker`.
    pub(crate) fn insert_timer(&self, deadline: Instant, waker: &Waker) -> TimerKey {
        let tick = self.clock.deadline_tick(deadline);
        let key = self.timers.borrow_mut().insert(tick, waker.clone());
        key
    }

    /// Whether a timer fired; if not, updates who it wakes.
    #[inline]
    pub(crate) fn poll_timer(&self, key: TimerKey, waker: &Waker) -> bool {
        self.timers.borrow_mut().poll_fired(key, waker)
    }

    /// Calls `f` with every live task of the loop (for task dumps).
    pub(crate) fn for_each_task(&self, mut f: impl FnMut(&Arc<dyn Runnable>)) {
        self.tasks.borrow().iter().for_each(|(_, task)| f(task));
    }

    /// Calls `f` with the deadline and waker of every timer holding one.
    pub(crate) fn for_each_timer(&self, mut f: impl FnMut(Instant, &Waker)) {
        self.timers.borrow().for_each_waker(|tick, waker| f(self.clock.tick_instant(tick), waker));
    }

    /// Cancels a timer.
    pub(crate) fn remove_timer(&self, key: TimerKey) {
        let waker = self.timers.borrow_mut().remove(key);
        if let Some((_, tick)) = &waker {
            // Still armed (a fired timer has given its waker away).
            self.trace.timer_cancelled(key.index(), *tick);
        }
        drop(waker); // After the borrow: dropping a waker may run code.
    }

    /// A number from the loop's seeded generator (`Builder::seed`), or
    /// `None` without a seed. For choices that seeded tests must replay,
    /// such as `select!`'s branch order; see `context::next_random_u32`.
    pub(crate) fn seeded_random(&self) -> Option<u64> {
        self.shuffler.as_ref().map(|shuffler| shuffler.borrow_mut().next_u64())
    }

    /// How many timers this loop has fired.
    pub(crate) fn timers_fired(&self) -> u64 {
        self.timers_fired.get()
    }

    /// When the next timer is due, if any.
    pub(crate) fn next_timer_deadline(&self) -> Option<Instant> {
        self.timers.borrow().next_deadline().map(|tick| self.clock.tick_instant(tick))
    }
}

#[cfg(test)]
thread_local! {
    /// Makes this thread's loop panic at the start of its next tick: how
    /// the runtime's own tests reach the "a loop itself failed" path, which
    /// no user code can reach (user code's panics are all contained).
    pub(crate) static FAIL_NEXT_TICK: Cell<bool> = const { Cell::new(false) };
}

/// Marks a loop idle for the watchdog when it stops being driven.
struct Awake<'a>(&'a Core);

impl Drop for Awake<'_> {
    fn drop(&mut self) {
        if let Some((dog, index)) = &self.0.watch {
            dog.idle(*index);
        }
    }
}

/// What step 3 saw of the timer wheel when no timer fired. Nothing arms,
/// fires or drops a timer between step 3 and the park (no task runs
/// there), so step 4 plans its timeout and counts its timers from this,
/// without borrowing the wheel again (two `RefCell` borrows per wake).
#[derive(Debug, Clone, Copy)]
struct TimersSeen {
    /// The wheel's next deadline, in ticks.
    next: Option<u64>,
    /// How many timers exist.
    len: usize,
}

/// How step 4 parks.
#[derive(Debug, Clone, Copy)]
enum Park {
    /// Tasks are ready and I/O was looked at recently: no syscall at all.
    Skip,
    /// Tasks are ready but I/O has waited `tick_budget` polls: collect the
    /// events that are already there, without sleeping.
    Poll,
    /// Sleep until an event, or the timeout (ns: until the next timer)
    /// passes.
    Wait(Option<u64>),
    /// Paused clock, idle loop: check for I/O without sleeping; if there is
    /// none, let the runtime's clock move time (when every loop is idle) or
    /// wait for the loop that will, warning once if time cannot move.
    Paused,
}

/// How debug mode names the future given to `block_on`: `main`, like the
/// coroutine handed to `asyncio.run`, with the call site that started it.
struct MainFuture {
    location: &'static Location<'static>,
}

impl fmt::Display for MainFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "main (the future passed to eddy::run or block_on at {})", self.location)
    }
}

impl Park {
    /// The code a trace records for this kind of park.
    fn trace_code(self) -> u8 {
        match self {
            Park::Skip => park_code::SKIP,
            Park::Poll => park_code::POLL,
            Park::Wait(_) => park_code::WAIT,
            Park::Paused => park_code::PAUSED,
        }
    }
}

/// A park's timeout (ns) in µs, as a trace records it (`u32::MAX`:
/// none). A paused clock's park records its first look (zero), not the
/// wait the runtime's clock may decide after it.
fn trace_timeout(timeout: Option<u64>) -> u32 {
    match timeout {
        Some(nanos) => (nanos / 1_000).min(u64::from(u32::MAX) - 1) as u32,
        None => u32::MAX,
    }
}

/// Real time an idle loop waits on a paused clock before it warns.
const PAUSED_IDLE_WARNING: Duration = Duration::from_secs(1);

/// The waker of the future passed to `block_on`, which is not a task: it
/// lives on the caller's stack. Waking it sets a flag the loop checks before
/// parking (and interrupts the park when the wake comes from elsewhere).
struct MainWaker {
    woken: AtomicBool,
    owner: Arc<Shared>,
}

impl ArcWake for MainWaker {
    fn wake_by_ref(arc_self: &Arc<Self>) {
        if arc_self.woken.swap(true, Ordering::AcqRel) {
            return;
        }
        let on_own_loop = crate::context::with_core(|core| {
            let own = Arc::ptr_eq(core.shared(), &arc_self.owner);
            if own {
                core.trace().wake(0); // Task 0 is the block_on future.
            }
            own
        })
        .unwrap_or(false);
        if !on_own_loop {
            arc_self.owner.notify();
        }
    }
}
