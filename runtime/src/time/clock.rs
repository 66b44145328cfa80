//! The loop's clock, which tests can pause and move by hand; and
//! [`Instant`], a point in time read from it.
//!
//! Every timer in eddy is measured against its loop's clock instead of the
//! OS clock directly. Normally the two agree. Paused, the clock stands still
//! until [`advance`](super::advance) moves it (or, when nothing else can
//! happen, until the loop jumps it to the next timer), so a test of a
//! one-hour timeout runs in microseconds and always sees the same times.
//!
//! Timer deadlines are kept as whole milliseconds since the loop started
//! ("ticks"), the wheel's resolution. A deadline rounds *up* to its tick and
//! the current time rounds *down*, so a timer can fire up to a millisecond
//! late but never early.

use std::cell::Cell;
use std::fmt;
use std::ops::{Add, AddAssign, Sub, SubAssign};
use std::time::Duration;

/// A measurement of the current loop's clock: `std::time::Instant` that
/// follows a paused clock.
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
pub struct Instant(std::time::Instant);

impl Instant {
    /// The current time on this thread's loop clock (the OS clock outside a
    /// runtime).
    pub fn now() -> Instant {
        crate::context::with_core(|core| core.clock().now())
            .unwrap_or_else(|| Instant(std::time::Instant::now()))
    }

    /// The loop clock as last read: by the loop itself once per tick, or by
    /// any [`Instant::now`] since. Costs no clock read; never later than
    /// `now()`, and behind it by at most the time the current tick has spent
    /// polling tasks. Good for deadlines measured in seconds (a server's
    /// keep-alive timeout) on a hot path where ~50 ns per read adds up.
    /// Outside a runtime it is `now()`.
    pub fn recent() -> Instant {
        crate::context::with_core(|core| core.clock().recent())
            .unwrap_or_else(|| Instant(std::time::Instant::now()))
    }

    /// Time elapsed from `earlier` to `self`, or zero if `earlier` is later.
    pub fn duration_since(&self, earlier: Instant) -> Duration {
        self.0.saturating_duration_since(earlier.0)
    }

    /// Time elapsed since this instant, on the loop clock.
    pub fn elapsed(&self) -> Duration {
        Instant::now().duration_since(*self)
    }

    /// `self + duration`, or `None` on overflow.
    pub fn checked_add(&self, duration: Duration) -> Option<Instant> {
        self.0.checked_add(duration).map(Instant)
    }

    /// `self - duration`, or `None` on underflow.
    pub fn checked_sub(&self, duration: Duration) -> Option<Instant> {
        self.0.checked_sub(duration).map(Instant)
    }

    /// The standard library instant this wraps.
    pub fn into_std(self) -> std::time::Instant {
        self.0
    }

    /// `self + duration`, saturating at a point about 30 years ahead rather
    /// than overflowing (a `sleep(Duration::MAX)` means "forever").
    pub(crate) fn saturating_add(self, duration: Duration) -> Instant {
        const FAR: Duration = Duration::from_secs(30 * 365 * 24 * 3600);
        self.checked_add(duration.min(FAR)).unwrap_or(self)
    }
}

impl From<std::time::Instant> for Instant {
    fn from(instant: std::time::Instant) -> Instant {
        Instant(instant)
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    /// # Panics
    /// On overflow, like `std::time::Instant`.
    fn add(self, rhs: Duration) -> Instant {
        Instant(self.0 + rhs)
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, rhs: Duration) {
        self.0 += rhs;
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;
    fn sub(self, rhs: Duration) -> Instant {
        Instant(self.0 - rhs)
    }
}

impl SubAssign<Duration> for Instant {
    fn sub_assign(&mut self, rhs: Duration) {
        self.0 -= rhs;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    /// Saturates at zero, like [`Instant::duration_since`].
    fn sub(self, rhs: Instant) -> Duration {
        self.duration_since(rhs)
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// One loop's clock.
pub(crate) struct Clock {
    /// Tick 0 of the timer wheel: when the loop was created.
    origin: std::time::Instant,
    /// While paused, the frozen current time.
    paused_at: Cell<Option<std::time::Instant>>,
    /// Added to the OS clock when running: time advanced while paused is not
    /// given back on resume, so the clock never runs backwards.
    offset: Cell<Duration>,
    /// Whether an idle loop with a paused clock jumps to the next deadline.
    auto_advance: Cell<bool>,
    /// The last value `now` returned (see [`Instant::recent`]).
    recent: Cell<std::time::Instant>,
}

impl Clock {
    pub(crate) fn new(start_paused: bool, auto_advance: bool) -> Clock {
        let origin = std::time::Instant::now();
        Clock {
            origin,
            paused_at: Cell::new(start_paused.then_some(origin)),
            offset: Cell::new(Duration::ZERO),
            auto_advance: Cell::new(auto_advance),
            recent: Cell::new(origin),
        }
    }

    pub(crate) fn now(&self) -> Instant {
        let now = self.paused_at.get().unwrap_or_else(|| std::time::Instant::now() + self.offset.get());
        self.recent.set(now);
        Instant(now)
    }

    pub(crate) fn recent(&self) -> Instant {
        Instant(self.recent.get())
    }

    pub(crate) fn is_paused(&self) -> bool {
        self.paused_at.get().is_some()
    }

    /// Freezes the clock at the next whole millisecond of the wheel's grid
    /// (moving it forward by less than 1 ms), so that a paused test sleeping
    /// whole milliseconds sees its timers fire at exactly their deadlines.
    pub(crate) fn pause(&self) {
        if !self.is_paused() {
            let now = self.now();
            let aligned = self.tick_instant(self.deadline_tick(now)).0;
            self.paused_at.set(Some(aligned));
            self.recent.set(aligned);
        }
    }

    pub(crate) fn resume(&self) {
        if let Some(frozen) = self.paused_at.take() {
            let real = std::time::Instant::now();
            self.offset.set(frozen.saturating_duration_since(real));
        }
    }

    /// Moves a paused clock forward to `to` (never backwards).
    ///
    /// # Panics
    /// If the clock is not paused: moving the OS clock is not possible.
    pub(crate) fn advance_to(&self, to: Instant) {
        let frozen =
            self.paused_at.get().expect("time can only be advanced while the clock is paused (time::pause)");
        let to = frozen.max(to.0);
        self.paused_at.set(Some(to));
        self.recent.set(to);
    }

    pub(crate) fn auto_advance(&self) -> bool {
        self.auto_advance.get()
    }

    pub(crate) fn set_auto_advance(&self, enabled: bool) {
        self.auto_advance.set(enabled);
    }

    /// The wheel tick at which a timer for `deadline` may fire: rounded up.
    pub(crate) fn deadline_tick(&self, deadline: Instant) -> u64 {
        let since = deadline.0.saturating_duration_since(self.origin);
        let millis = since.as_millis() as u64;
        if since.subsec_nanos() % 1_000_000 == 0 {
            millis
        } else {
            millis + 1
        }
    }

    /// The wheel tick the clock is in now: rounded down.
    pub(crate) fn now_tick(&self) -> u64 {
        self.now().0.saturating_duration_since(self.origin).as_millis() as u64
    }

    /// The instant at which tick `tick` begins.
    pub(crate) fn tick_instant(&self, tick: u64) -> Instant {
        Instant(self.origin + Duration::from_millis(tick))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_round_up_and_now_rounds_down() {
        let clock = Clock::new(true, true);
        let origin = Instant(clock.origin);
        assert_eq!(clock.deadline_tick(origin + Duration::from_micros(1)), 1);
        assert_eq!(clock.deadline_tick(origin + Duration::from_millis(3)), 3);
        clock.advance_to(origin + Duration::from_micros(2_999));
        assert_eq!(clock.now_tick(), 2);
    }

    #[test]
    fn resuming_never_moves_time_backwards() {
        let clock = Clock::new(true, true);
        let ahead = clock.now() + Duration::from_secs(3600);
        clock.advance_to(ahead);
        clock.resume();
        assert!(clock.now() >= ahead);
    }
}
