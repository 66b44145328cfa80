//! The runtime's clock, which tests can pause and move by hand; and
//! [`Instant`], a point in time read from it.
//!
//! Every timer in eddy is measured against its runtime's clock instead of
//! the OS clock directly. Normally the two agree. Paused, the clock stands
//! still until [`advance`](super::advance) moves it or, when nothing else
//! can happen anywhere in the runtime, until it jumps to the next timer, so
//! a test of a one-hour timeout runs in microseconds and always sees the
//! same times.
//!
//! One clock serves all the loops of a runtime ([`RuntimeClock`], behind an
//! `Arc` and a mutex); each loop reads it through its own [`Clock`], a
//! cached copy that costs no lock and no atomic read-modify-write: a loop
//! re-reads the shared state only when a generation counter says another
//! loop changed it, and a single-loop runtime never checks at all. The
//! mutex is taken only to change the state (pause, resume, advance) and,
//! with the clock paused, when a loop goes idle or wakes from idle.
//!
//! ```text
//!   paused clock, every loop:  busy ──(nothing ready, no I/O)──▶ idle(next)
//!                                ▲                                  │
//!        tick starts (wake_up) ──┘    all loops idle, nothing       │
//!                                     injected, no blocking job ◀───┘
//!                                            │
//!               clock := min(next deadlines, advance targets); others
//!               marked busy and notified; they fire what came due
//! ```
//!
//! Timer deadlines are kept as whole milliseconds since the runtime started
//! ("ticks"), the wheel's resolution. A deadline rounds *up* to its tick
//! and the current time rounds *down*, so a timer can fire up to a
//! millisecond late but never early.

use std::cell::Cell;
use std::fmt;
use std::ops::{Add, AddAssign, Sub, SubAssign};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::{Poll, Waker};
use std::time::Duration;

use crate::shared::Shared;
use crate::task::BlockingPool;

/// A wheel tick (one millisecond) in nanoseconds.
const NANOS_PER_TICK: u64 = 1_000_000;

/// A measurement of the current loop's clock: like `std::time::Instant`,
/// but it follows a paused clock.
///
/// It is a count of nanoseconds on eddy's timeline (the OS's monotonic
/// clock, the one `std::time::Instant` reads, counted from a zero taken
/// once per process), so comparing two, adding a `Duration` or reading the
/// loop's clock is integer arithmetic, not `timespec` arithmetic with its
/// carries (~40 instructions a subtraction, callgrind; the loop converts
/// every reading for its timers and its trace). [`Instant::into_std`] and
/// `From<std::time::Instant>` convert exactly through that zero.
///
/// Inside a runtime, [`Instant::now`] reads the loop's clock; outside one, the
/// OS clock. Use it for anything compared with timers (deadlines, elapsed
/// time in tests with paused time).
///
/// ```
/// use std::time::Duration;
/// use eddy::time::Instant;
///
/// eddy::run(async {
///     let start = Instant::now();
///     eddy::time::sleep(Duration::from_millis(5)).await;
///     assert!(start.elapsed() >= Duration::from_millis(5));
/// });
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(u64);

impl Instant {
    /// The current time on this thread's loop clock (the OS clock outside a
    /// runtime).
    #[inline]
    pub fn now() -> Instant {
        crate::context::with_loop(|core| core.clock().now()).unwrap_or_else(Instant::from_os)
    }

    /// The loop clock as last read: by the loop itself once per tick, or by
    /// any [`Instant::now`] since. Costs no clock read; never later than
    /// `now()`, and behind it by at most the time the current tick has spent
    /// polling tasks. Good for deadlines measured in seconds (a server's
    /// keep-alive timeout) on a hot path where ~50 ns per read adds up.
    /// Outside a runtime it is `now()`.
    #[inline]
    pub fn recent() -> Instant {
        crate::context::with_loop(|core| core.clock().recent()).unwrap_or_else(Instant::from_os)
    }

    /// Time elapsed from `earlier` to `self`, or zero if `earlier` is later.
    #[inline]
    pub fn duration_since(&self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }

    /// Time elapsed since this instant, on the loop clock.
    pub fn elapsed(&self) -> Duration {
        Instant::now().duration_since(*self)
    }

    /// `self + duration`, or `None` on overflow.
    #[inline]
    pub fn checked_add(&self, duration: Duration) -> Option<Instant> {
        self.0.checked_add(nanos_of(duration)?).map(Instant)
    }

    /// `self - duration`, or `None` on underflow.
    #[inline]
    pub fn checked_sub(&self, duration: Duration) -> Option<Instant> {
        self.0.checked_sub(nanos_of(duration)?).map(Instant)
    }

    /// The same point in time as a standard library instant.
    pub fn into_std(self) -> std::time::Instant {
        let epoch = epoch();
        if self.0 >= BIAS {
            epoch.std + Duration::from_nanos(self.0 - BIAS)
        } else {
            // Only instants made from std ones before the epoch get here,
            // and std can represent those.
            let before = Duration::from_nanos(BIAS - self.0);
            epoch.std.checked_sub(before).unwrap_or(epoch.std)
        }
    }

    /// The OS clock, now, on eddy's timeline (what `now` is outside a
    /// runtime, and a running loop clock without offset).
    #[inline]
    pub(crate) fn from_os() -> Instant {
        Instant(os_nanos().wrapping_add(epoch().to_timeline))
    }

    /// `self + duration`, saturating at a point about 30 years ahead rather
    /// than overflowing (a `sleep(Duration::MAX)` means "forever").
    pub(crate) fn saturating_add(self, duration: Duration) -> Instant {
        const FAR: Duration = Duration::from_secs(30 * 365 * 24 * 3600);
        self.checked_add(duration.min(FAR)).unwrap_or(self)
    }
}

impl From<std::time::Instant> for Instant {
    /// The same point in time on eddy's timeline (saturating some 146
    /// years either side of the process's first clock read).
    fn from(instant: std::time::Instant) -> Instant {
        let epoch = epoch();
        let since = |later: std::time::Instant, earlier| {
            u64::try_from(later.saturating_duration_since(earlier).as_nanos()).unwrap_or(u64::MAX).min(BIAS)
        };
        if instant >= epoch.std {
            Instant(BIAS + since(instant, epoch.std))
        } else {
            Instant(BIAS - since(epoch.std, instant))
        }
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    /// # Panics
    /// On overflow, like `std::time::Instant`.
    #[inline]
    fn add(self, rhs: Duration) -> Instant {
        self.checked_add(rhs).expect("overflow when adding a duration to an instant")
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, rhs: Duration) {
        *self = *self + rhs;
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;
    fn sub(self, rhs: Duration) -> Instant {
        self.checked_sub(rhs).expect("overflow when subtracting a duration from an instant")
    }
}

impl SubAssign<Duration> for Instant {
    fn sub_assign(&mut self, rhs: Duration) {
        *self = *self - rhs;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    /// Saturates at zero, like [`Instant::duration_since`].
    #[inline]
    fn sub(self, rhs: Instant) -> Duration {
        self.duration_since(rhs)
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.into_std().fmt(f)
    }
}

/// Where eddy's timeline puts the process's first clock read: 2⁶² ns
/// (146 years) up, so instants made from older `std` ones (and `checked_sub`)
/// stay representable.
const BIAS: u64 = 1 << 62;

/// The zero of eddy's timeline: one `std::time::Instant` and the raw OS
/// reading taken just after it. Taken in that order, eddy's clock lags
/// std's by the few nanoseconds between the two reads, never leads it: a
/// deadline converted from a std instant fires that much late, never early,
/// and eddy's own intervals (two eddy readings) are exact.
struct Epoch {
    std: std::time::Instant,
    /// What to add (wrapping) to a raw reading to put it on the timeline.
    to_timeline: u64,
}

static EPOCH: OnceLock<Epoch> = OnceLock::new();

fn epoch() -> &'static Epoch {
    EPOCH.get_or_init(|| {
        let std = std::time::Instant::now();
        let raw = os_nanos();
        Epoch { std, to_timeline: BIAS.wrapping_sub(raw) }
    })
}

/// The OS's monotonic clock in nanoseconds: the clock `std::time::Instant`
/// reads on each platform (`CLOCK_MONOTONIC`; on Apple systems
/// `CLOCK_UPTIME_RAW`), without the `timespec` type around it.
#[inline]
fn os_nanos() -> u64 {
    #[cfg(target_vendor = "apple")]
    const CLOCK: libc::clockid_t = libc::CLOCK_UPTIME_RAW;
    #[cfg(not(target_vendor = "apple"))]
    const CLOCK: libc::clockid_t = libc::CLOCK_MONOTONIC;
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `now` is a valid, writable timespec; `clock_gettime` with a
    // clock every supported OS has cannot fail (std's `Instant::now` makes
    // the same call and treats failure as impossible).
    unsafe { libc::clock_gettime(CLOCK, &mut now) };
    (now.tv_sec as u64).wrapping_mul(1_000_000_000).wrapping_add(now.tv_nsec as u64)
}

/// `duration` in nanoseconds, if that fits in 64 bits (584 years).
#[inline]
fn nanos_of(duration: Duration) -> Option<u64> {
    duration.as_secs().checked_mul(1_000_000_000)?.checked_add(u64::from(duration.subsec_nanos()))
}

/// The runtime's clock: one for all its loops, so every loop reads the same
/// time, pauses together and moves together.
///
/// Only the paused clock needs coordination. Running, the time is the OS
/// clock plus an offset, and each loop reads it from a cached copy of the
/// state ([`Clock`]); a loop refreshes its copy when `generation` says that
/// another loop changed the state (pause, resume, advance), which costs one
/// relaxed load per read, and nothing at all in a single-loop runtime.
///
/// Paused, the clock moves forward only when the whole runtime is *idle*:
/// every loop has no task ready and nothing injected, and no blocking job is
/// in flight. The loop that finds everyone idle moves the clock to the
/// earliest of the loops' next deadlines (auto-advance) or of the pending
/// [`advance`](super::advance) targets, then notifies the other loops so
/// they fire what came due; the clock moves again only once they are all
/// idle again. So a task woken by a timer at D always runs before time
/// passes D, however many tasks D woke and on whichever loop they live.
pub(crate) struct RuntimeClock {
    /// Tick 0 of every loop's timer wheel: when the runtime was built. One
    /// origin for all loops, so their deadlines compare.
    origin: Instant,
    /// More than one loop: another thread may change the state, so reads
    /// must check `generation`. A single loop changes it only itself.
    shared_by_loops: bool,
    /// Bumped (under the lock) by every change to the state.
    generation: AtomicU64,
    state: Mutex<ClockState>,
}

struct ClockState {
    /// While paused, the frozen current time.
    paused_at: Option<Instant>,
    /// Added to the OS clock when running: time advanced while paused is not
    /// given back on resume, so the clock never runs backwards.
    offset: Duration,
    /// Whether an idle runtime with a paused clock jumps to its next timer.
    auto_advance: bool,
    /// One entry per loop, by index in the runtime.
    loops: Vec<LoopSlot>,
    /// `time::advance` calls waiting for the clock to reach their target.
    advances: Vec<AdvanceWait>,
    next_advance_id: u64,
}

/// What the clock knows of one loop.
struct LoopSlot {
    /// Its cross-thread half: to notify it, and to see whether something
    /// was injected since it went idle.
    shared: Arc<Shared>,
    /// Some thread runs the loop (loop 0 only while a `block_on` runs). A
    /// loop nobody drives counts as idle with no timers: its tasks cannot
    /// run until it is driven again, and the others must not wait for it.
    driven: bool,
    /// The loop had nothing to do when it last parked, and has not woken
    /// since. It clears this itself before taking in injected work.
    idle: bool,
    /// The loop's next timer tick, as of when it went idle.
    next: Option<u64>,
}

/// One pending [`advance`](super::advance).
struct AdvanceWait {
    id: u64,
    target: Instant,
    waker: Option<Waker>,
    /// Set when the advance is over: `Ok` once the clock reached the target
    /// and everything due on the way ran, `Err` (a message) if a loop never
    /// became idle (the livelock guard).
    outcome: Option<Result<(), String>>,
}

/// A loop's busy ticks (tasks ready, the clock cannot move) while an
/// `advance` waits, before the livelock guard gives up on it. 10,000 tasks
/// woken at one instant need ~80 ticks (128 polls each); a hundred thousand
/// ticks without ever being idle means tasks that wake each other forever
/// (a `yield_now` loop, a timer re-armed at the current instant). Picked for
/// "far beyond any honest burst, yet well under a second of real time".
const ADVANCE_STALL_TICKS: u32 = 100_000;

impl RuntimeClock {
    pub(crate) fn new(start_paused: bool, auto_advance: bool, loops: usize) -> Arc<RuntimeClock> {
        let origin = Instant::from_os();
        Arc::new(RuntimeClock {
            origin,
            shared_by_loops: loops > 1,
            generation: AtomicU64::new(0),
            state: Mutex::new(ClockState {
                paused_at: start_paused.then_some(origin),
                offset: Duration::ZERO,
                auto_advance,
                loops: Vec::new(),
                advances: Vec::new(),
                next_advance_id: 0,
            }),
        })
    }

    /// Every critical section leaves the state consistent (a few field
    /// writes, no user code), so a poisoned lock is still good.
    fn lock(&self) -> MutexGuard<'_, ClockState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers (or polls) an `advance` to `target`: `Ready` once the clock
    /// reached it and everything due on the way ran, or with the livelock
    /// guard's message. `id` identifies the registration across polls.
    pub(crate) fn poll_advance(
        &self,
        target: Instant,
        id: &mut Option<u64>,
        waker: &Waker,
    ) -> Poll<Result<(), String>> {
        let mut state = self.lock();
        let Some(my_id) = *id else {
            let new_id = state.next_advance_id;
            state.next_advance_id += 1;
            state.advances.push(AdvanceWait {
                id: new_id,
                target,
                waker: Some(waker.clone()),
                outcome: None,
            });
            *id = Some(new_id);
            return Poll::Pending;
        };
        let Some(position) = state.advances.iter().position(|wait| wait.id == my_id) else {
            return Poll::Ready(Ok(()));
        };
        if state.advances[position].outcome.is_some() {
            let wait = state.advances.swap_remove(position);
            *id = None;
            return Poll::Ready(wait.outcome.unwrap_or(Ok(())));
        }
        let wait = &mut state.advances[position];
        let replaced = match &wait.waker {
            Some(current) if current.will_wake(waker) => None,
            _ => wait.waker.replace(waker.clone()),
        };
        drop(state);
        drop(replaced); // Outside the lock: dropping a waker runs user code.
        Poll::Pending
    }

    /// Forgets an `advance` that was dropped before it finished.
    pub(crate) fn cancel_advance(&self, id: u64) {
        let removed = {
            let mut state = self.lock();
            let position = state.advances.iter().position(|wait| wait.id == id);
            position.map(|position| state.advances.swap_remove(position))
        };
        drop(removed); // Outside the lock: dropping a waker runs user code.
    }
}

impl fmt::Debug for RuntimeClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("RuntimeClock")
            .field("paused", &state.paused_at.is_some())
            .field("auto_advance", &state.auto_advance)
            .field("loops", &state.loops.len())
            .finish()
    }
}

/// One loop's view of the runtime's clock: a copy of the state that reads
/// need, refreshed when another loop changes it, and the loop's part in
/// deciding when a paused clock may move.
pub(crate) struct Clock {
    runtime: Arc<RuntimeClock>,
    /// This loop's index in `ClockState::loops`.
    index: usize,
    /// Copies of the runtime clock's constants, read on every clock read
    /// and timer insert without a pointer chase.
    origin: u64,
    shared_by_loops: bool,
    /// The `generation` the cached fields below were copied at.
    seen: Cell<u64>,
    paused_at: Cell<Option<Instant>>,
    /// What to add (wrapping) to a raw OS reading to get the running
    /// clock: the timeline's own shift plus the offset time was advanced
    /// by while paused. One add per read.
    to_clock: Cell<u64>,
    /// The last value `now` returned (see [`Instant::recent`]), on the
    /// timeline: `recent - origin` is the wheel's and the trace's time,
    /// one subtraction.
    recent: Cell<u64>,
    /// Mirrors this loop's `LoopSlot::idle`, so waking up costs a lock only
    /// when the loop had declared itself idle.
    marked_idle: Cell<bool>,
    /// Busy ticks since the loop was last idle (the livelock guard).
    busy_ticks: Cell<u32>,
}

/// What an idle loop with a paused clock should do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Idle {
    /// The clock moved, or a task was woken: run another tick at once.
    Run,
    /// Wait for I/O or another thread (another loop finishing, a blocking
    /// job ending, a pause/resume). `warn`: time cannot move by itself
    /// (auto-advance off, or a blocking job runs), so a long wait is worth
    /// a warning.
    Wait { warn: bool },
    /// No timer anywhere and no advance pending: only I/O or another thread
    /// can bring work.
    Forever,
}

impl Clock {
    /// Registers loop `index` (its cross-thread half is `shared`) with the
    /// runtime's clock. Loop 0 is driven only inside `block_on`; the other
    /// loops from now until they shut down.
    pub(crate) fn register(runtime: &Arc<RuntimeClock>, index: usize, shared: &Arc<Shared>) -> Clock {
        let mut state = runtime.lock();
        let slot = LoopSlot { shared: shared.clone(), driven: index != 0, idle: true, next: None };
        if state.loops.len() <= index {
            state.loops.resize_with(index + 1, || LoopSlot {
                shared: shared.clone(),
                driven: false,
                idle: true,
                next: None,
            });
        }
        state.loops[index] = slot;
        let clock = Clock {
            runtime: runtime.clone(),
            index,
            origin: runtime.origin.0,
            shared_by_loops: runtime.shared_by_loops,
            seen: Cell::new(0),
            paused_at: Cell::new(None),
            to_clock: Cell::new(epoch().to_timeline),
            recent: Cell::new(runtime.origin.0),
            marked_idle: Cell::new(true),
            busy_ticks: Cell::new(0),
        };
        clock.copy_state(&state);
        clock
    }

    #[inline]
    pub(crate) fn now(&self) -> Instant {
        self.refresh();
        let now = match self.paused_at.get() {
            Some(paused_at) => paused_at.0,
            None => os_nanos().wrapping_add(self.to_clock.get()),
        };
        self.recent.set(now);
        Instant(now)
    }

    #[inline]
    pub(crate) fn recent(&self) -> Instant {
        Instant(self.recent.get())
    }

    /// [`recent`](Self::recent) as nanoseconds since the clock's origin
    /// (tick 0 of the wheel, time 0 of the trace).
    #[inline]
    pub(crate) fn recent_nanos(&self) -> u64 {
        self.recent.get().saturating_sub(self.origin)
    }

    /// How long, in ns, from [`recent`](Self::recent) until wheel tick
    /// `tick` begins (zero if it has). The park timeout, without building
    /// an `Instant` for the tick (or a `Duration`: the loop compares and
    /// scales it as an integer first).
    pub(crate) fn recent_nanos_until_tick(&self, tick: u64) -> u64 {
        tick.saturating_mul(NANOS_PER_TICK).saturating_sub(self.recent_nanos())
    }

    pub(crate) fn is_paused(&self) -> bool {
        self.refresh();
        self.paused_at.get().is_some()
    }

    /// Whether the clock was paused when this loop last looked: no
    /// synchronisation at all, for the busy path of every tick.
    pub(crate) fn was_paused(&self) -> bool {
        self.paused_at.get().is_some()
    }

    /// Freezes the clock at the next whole millisecond of the wheel's grid
    /// (moving it forward by less than 1 ms), so that a paused test sleeping
    /// whole milliseconds sees its timers fire at exactly their deadlines.
    pub(crate) fn pause(&self) {
        let origin = self.origin;
        self.update(|state| {
            if state.paused_at.is_none() {
                let now = Instant::from_os().saturating_add(state.offset);
                let since = now.0.saturating_sub(origin);
                state.paused_at = Some(Instant(origin + round_up_millis(since) * NANOS_PER_TICK));
            }
        });
    }

    /// Lets the clock run again from where it stands. Pending advances end
    /// there: time now moves by itself.
    pub(crate) fn resume(&self) {
        let finished = self.update(|state| {
            if let Some(frozen) = state.paused_at.take() {
                state.offset = frozen.duration_since(Instant::from_os());
            }
            let mut finished = Vec::new();
            for wait in state.advances.iter_mut().filter(|wait| wait.outcome.is_none()) {
                wait.outcome = Some(Ok(()));
                finished.extend(wait.waker.take());
            }
            finished
        });
        wake_contained(finished);
    }

    pub(crate) fn set_auto_advance(&self, enabled: bool) {
        self.update(|state| state.auto_advance = enabled);
    }

    /// The wheel tick at which a timer for `deadline` may fire: rounded up.
    pub(crate) fn deadline_tick(&self, deadline: Instant) -> u64 {
        round_up_millis(deadline.0.saturating_sub(self.origin))
    }

    /// The wheel tick [`recent`](Self::recent) falls in: rounded down.
    pub(crate) fn recent_tick(&self) -> u64 {
        self.recent_nanos() / NANOS_PER_TICK
    }

    /// Whether [`recent`](Self::recent) is at or past the start of wheel
    /// tick `tick` (`recent_tick() >= tick`, without dividing).
    #[inline]
    pub(crate) fn reached_tick(&self, tick: u64) -> bool {
        tick.saturating_mul(NANOS_PER_TICK) <= self.recent_nanos()
    }

    /// The wheel tick the clock is in now: rounded down.
    #[cfg(test)]
    pub(crate) fn now_tick(&self) -> u64 {
        self.now();
        self.recent_nanos() / NANOS_PER_TICK
    }

    /// The instant at which tick `tick` begins.
    pub(crate) fn tick_instant(&self, tick: u64) -> Instant {
        Instant(self.origin.saturating_add(tick.saturating_mul(NANOS_PER_TICK)))
    }

    // ----- Paused time: when may the clock move? ---------------------------

    /// The loop is about to take in work (start of a tick): it is no longer
    /// idle. Must come before it drains its injection queue, so that no
    /// other loop can see it idle *and* un-notified while it holds work.
    pub(crate) fn wake_up(&self) {
        if self.marked_idle.get() {
            self.marked_idle.set(false);
            self.runtime.lock().loops[self.index].idle = false;
        }
    }

    /// Loop 0 starts (`driving`) or stops being driven by a `block_on`.
    pub(crate) fn set_driven(&self, driving: bool) {
        let mut state = self.runtime.lock();
        let slot = &mut state.loops[self.index];
        slot.driven = driving;
        slot.idle = true;
        slot.next = None;
        self.marked_idle.set(true);
    }

    /// One tick of this loop had tasks ready. Counts towards the livelock
    /// guard; every [`ADVANCE_STALL_TICKS`] such ticks in a row it checks
    /// whether an `advance` is waiting on this loop, and if so ends it with
    /// an error that names the cause.
    pub(crate) fn busy_tick(&self, loop_id: u32) {
        let ticks = self.busy_ticks.get() + 1;
        if ticks < ADVANCE_STALL_TICKS {
            self.busy_ticks.set(ticks);
            return;
        }
        self.busy_ticks.set(0);
        let mut stalled = Vec::new();
        {
            let mut state = self.runtime.lock();
            let now = state.paused_at;
            for wait in state.advances.iter_mut().filter(|wait| wait.outcome.is_none()) {
                wait.outcome = Some(Err(format!(
                    "time::advance cannot finish: loop {loop_id} has had tasks ready for \
                     {ADVANCE_STALL_TICKS} ticks in a row at {now:?}, so the paused clock, which \
                     moves only when no task is ready, can never move. Some task wakes itself (or \
                     others) forever without waiting for time to pass: a yield_now loop, or a \
                     timer re-armed at the current instant"
                )));
                stalled.extend(wait.waker.take());
            }
        }
        wake_contained(stalled);
    }

    /// This loop has nothing to do (no task ready, no I/O event, nothing
    /// injected); its next timer is at tick `next`. Records that, and if the
    /// whole runtime is idle, moves the paused clock (or finishes the
    /// `advance` calls whose target it reached). `blocking` is the
    /// runtime's blocking pool; `shared` is this loop's cross-thread half.
    pub(crate) fn idle(&self, next: Option<u64>, blocking: &BlockingPool, shared: &Arc<Shared>) -> Idle {
        self.busy_ticks.set(0);
        let mut state = self.runtime.lock();
        {
            let slot = &mut state.loops[self.index];
            slot.idle = true;
            slot.next = next;
        }
        self.marked_idle.set(true);
        let Some(now) = state.paused_at else {
            return Idle::Run; // Resumed meanwhile: plan with the running clock.
        };
        let busy_elsewhere =
            state.loops.iter().any(|slot| slot.driven && (!slot.idle || slot.shared.is_notified()));
        if busy_elsewhere {
            return Idle::Wait { warn: false };
        }
        let earliest = state
            .loops
            .iter()
            .filter(|slot| slot.driven)
            .filter_map(|slot| slot.next)
            .min()
            .map(|tick| self.tick_instant(tick));
        let target =
            state.advances.iter().filter(|wait| wait.outcome.is_none()).map(|wait| wait.target).min();
        if blocking.is_busy() {
            // Its result will wake a task; the pool notifies this loop when
            // the last job is done, and the clock moves only after that.
            // A long wait is worth a warning only if time has somewhere to go.
            if blocking.notify_when_idle(shared) {
                return Idle::Wait { warn: earliest.is_some() || target.is_some() };
            }
        }
        // Settled: everything due up to `now` has run, everywhere.
        let mut woken = Vec::new();
        for wait in state.advances.iter_mut().filter(|wait| wait.outcome.is_none() && wait.target <= now) {
            wait.outcome = Some(Ok(()));
            woken.extend(wait.waker.take());
        }
        if !woken.is_empty() {
            drop(state);
            wake_contained(woken);
            return Idle::Run;
        }
        let to = match (earliest, target) {
            // An advance by hand stops at each deadline on the way.
            (Some(earliest), Some(target)) => earliest.min(target),
            (None, Some(target)) => target,
            (Some(earliest), None) if state.auto_advance => earliest,
            (Some(_), None) => return Idle::Wait { warn: true },
            (None, None) => return Idle::Forever,
        };
        if to <= now {
            // Timers already due on some loop: the loop that moved the clock
            // notified it; if it is this one, fire them now.
            let mine = next.is_some_and(|tick| self.tick_instant(tick) <= now);
            return if mine { Idle::Run } else { Idle::Wait { warn: false } };
        }
        state.paused_at = Some(to);
        log::trace!(
            "paused clock: every loop idle, moving {:?} forward to {}",
            to.duration_since(now),
            if target == Some(to) { "an advance's target" } else { "the next timer" },
        );
        // Every other loop must look at its timers before the clock moves
        // again: it counts as busy until it has been idle once more.
        let mut others = Vec::new();
        for (index, slot) in state.loops.iter_mut().enumerate() {
            if index != self.index && slot.driven {
                slot.idle = false;
                others.push(slot.shared.clone());
            }
        }
        state.loops[self.index].idle = false;
        self.marked_idle.set(false);
        self.publish(&state);
        drop(state);
        others.iter().for_each(|other| other.notify());
        Idle::Run
    }

    /// The runtime's clock this view belongs to.
    pub(crate) fn runtime(&self) -> &Arc<RuntimeClock> {
        &self.runtime
    }

    // ----- Keeping the cached copy current --------------------------------

    /// Changes the runtime's clock state, then tells the other loops, which
    /// may be parked on a plan made with the old state.
    fn update<R>(&self, change: impl FnOnce(&mut ClockState) -> R) -> R {
        let mut state = self.runtime.lock();
        let result = change(&mut state);
        self.publish(&state);
        let others: Vec<Arc<Shared>> = state
            .loops
            .iter()
            .enumerate()
            .filter(|(index, slot)| *index != self.index && slot.driven)
            .map(|(_, slot)| slot.shared.clone())
            .collect();
        drop(state);
        others.iter().for_each(|other| other.notify());
        result
    }

    /// Bumps the generation (under the lock) and refreshes this loop's copy.
    fn publish(&self, state: &ClockState) {
        self.runtime.generation.fetch_add(1, Ordering::Release);
        self.copy_state(state);
    }

    /// Re-reads the state if another loop changed it since this loop last
    /// looked. A no-op in a single-loop runtime. Inlined, with the locked
    /// re-read out of line: every `Instant::now` passes here, and as a call
    /// it cost ~26 instructions per `sleep` created (callgrind,
    /// `timers_cancel`).
    #[inline]
    fn refresh(&self) {
        if self.shared_by_loops && self.runtime.generation.load(Ordering::Relaxed) != self.seen.get() {
            self.reread();
        }
    }

    #[cold]
    #[inline(never)]
    fn reread(&self) {
        let state = self.runtime.lock();
        self.copy_state(&state);
    }

    /// Copies the state; the caller holds the lock, so the generation read
    /// here is the one that goes with it.
    fn copy_state(&self, state: &ClockState) {
        self.seen.set(self.runtime.generation.load(Ordering::Relaxed));
        self.paused_at.set(state.paused_at);
        let offset = nanos_of(state.offset).unwrap_or(u64::MAX / 4);
        self.to_clock.set(epoch().to_timeline.wrapping_add(offset));
        if let Some(paused_at) = state.paused_at {
            self.recent.set(paused_at.0);
        }
    }
}

/// Wakes the tasks waiting in `advance`. Their wakers are user code (any
/// future may await an `advance`, a `MockTask` too) and this runs inside the
/// loop's park: a panic is contained and logged, as the loop does for timer
/// and I/O wakers, so the rest still wake and the loop goes on.
fn wake_contained(wakers: Vec<Waker>) {
    for waker in wakers {
        if let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| waker.wake())) {
            log::error!(
                "the waker of a time::advance panicked in wake(): {}",
                crate::task::panic_message(payload.as_ref())
            );
        }
    }
}

/// Whole milliseconds in `since` nanoseconds, rounded up.
fn round_up_millis(since: u64) -> u64 {
    since.div_ceil(NANOS_PER_TICK)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Loop 1 of a paused one-loop runtime clock, and the poll its waker
    /// needs kept alive.
    fn paused_clock() -> (Clock, mio::Poll) {
        let poll = mio::Poll::new().unwrap();
        let waker = mio::Waker::new(poll.registry(), crate::shared::WAKER_TOKEN).unwrap();
        let shared = Arc::new(Shared::new(1, false, waker, BlockingPool::new(1)));
        (Clock::register(&RuntimeClock::new(true, true, 1), 1, &shared), poll)
    }

    fn set_now(clock: &Clock, to: Instant) {
        clock.update(|state| state.paused_at = Some(to));
    }

    #[test]
    fn std_instants_convert_there_and_back_exactly_on_both_sides_of_the_epoch() {
        let now = std::time::Instant::now();
        for std in [now, now + Duration::from_nanos(1), now + Duration::from_secs(86_400)]
            .into_iter()
            .chain(now.checked_sub(Duration::from_millis(1)))
            .chain(epoch().std.checked_sub(Duration::from_nanos(7)))
        {
            assert_eq!(Instant::from(std).into_std(), std);
        }
        let earlier = Instant::from(now);
        let later = Instant::from(now + Duration::from_nanos(1_500));
        assert_eq!(later - earlier, Duration::from_nanos(1_500));
        assert_eq!(earlier - later, Duration::ZERO, "saturates, like duration_since");
    }

    #[test]
    fn the_os_clock_on_the_timeline_never_leads_std() {
        // The epoch is read std first: eddy's reading lags by nanoseconds,
        // so a deadline made from a std instant never fires early.
        for _ in 0..1_000 {
            let eddy = Instant::from_os();
            let std = std::time::Instant::now();
            assert!(eddy.into_std() <= std);
        }
    }

    #[test]
    fn instant_arithmetic_is_checked_like_std() {
        let now = Instant::from_os();
        assert_eq!(now.checked_add(Duration::MAX), None);
        assert_eq!(Instant(5).checked_sub(Duration::from_nanos(6)), None);
        assert_eq!((now + Duration::from_millis(3)) - Duration::from_millis(3), now);
        assert_eq!(
            now.saturating_add(Duration::MAX).duration_since(now),
            Duration::from_secs(30 * 365 * 24 * 3600)
        );
    }

    #[test]
    fn deadlines_round_up_and_now_rounds_down() {
        let (clock, _poll) = paused_clock();
        let origin = clock.runtime.origin;
        assert_eq!(clock.deadline_tick(origin + Duration::from_micros(1)), 1);
        assert_eq!(clock.deadline_tick(origin + Duration::from_millis(3)), 3);
        set_now(&clock, origin + Duration::from_micros(2_999));
        assert_eq!(clock.now_tick(), 2);
    }

    #[test]
    fn resuming_never_moves_time_backwards() {
        let (clock, _poll) = paused_clock();
        let ahead = clock.now() + Duration::from_secs(3600);
        set_now(&clock, ahead);
        clock.resume();
        assert!(clock.now() >= ahead);
    }

    #[test]
    fn an_idle_runtime_jumps_to_its_earliest_deadline() {
        let (clock, _poll) = paused_clock();
        let shared = clock.runtime.lock().loops[1].shared.clone();
        let pool = BlockingPool::new(1);
        assert_eq!(clock.idle(Some(7), &pool, &shared), Idle::Run);
        assert_eq!(clock.now_tick(), 7);
        assert_eq!(clock.idle(None, &pool, &shared), Idle::Forever);
    }
}
