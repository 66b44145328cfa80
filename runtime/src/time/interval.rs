//! `Interval`: ticks at a fixed period, and says what to do about ticks
//! missed while the task was busy.

use std::future::poll_fn;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use super::{sleep_until, Instant, Sleep};

/// What an [`Interval`] does when ticks were missed (the task came back
/// later than one period after the previous tick).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum MissedTickBehavior {
    /// Fire the missed ticks back to back until caught up, keeping the
    /// original schedule (tokio's default; right for "N times per second on
    /// average").
    #[default]
    Burst,
    /// Fire once now, then count a full period from now (the schedule
    /// shifts; right for "at least this far apart").
    Delay,
    /// Fire once now, then resume on the original schedule, skipping the
    /// ticks that were missed (right for tickers and heartbeats).
    Skip,
}

/// Creates an interval whose first tick completes immediately and whose
/// later ticks come every `period`.
///
/// # Panics
/// If `period` is zero.
///
/// ```
/// use std::time::Duration;
///
/// eddy::run(async {
///     let mut ticker = eddy::time::interval(Duration::from_millis(2));
///     for _ in 0..3 {
///         ticker.tick().await;
///     }
/// });
/// ```
pub fn interval(period: Duration) -> Interval {
    interval_at(Instant::now(), period)
}

/// Creates an interval whose first tick completes at `start`.
///
/// # Panics
/// If `period` is zero.
pub fn interval_at(start: Instant, period: Duration) -> Interval {
    assert!(period > Duration::ZERO, "an interval's period must be greater than zero");
    Interval { period, sleep: sleep_until(start), missed: MissedTickBehavior::default() }
}

/// Ticks at a fixed period. See [`interval`].
#[derive(Debug)]
pub struct Interval {
    period: Duration,
    /// Sleeps until the next scheduled tick.
    sleep: Sleep,
    missed: MissedTickBehavior,
}

impl Interval {
    /// Waits for the next tick and returns the instant it was scheduled for.
    pub async fn tick(&mut self) -> Instant {
        poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Poll form of [`tick`](Self::tick).
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        // No budget call of its own: the sleep's poll charges for the tick.
        std::task::ready!(Pin::new(&mut self.sleep).poll(cx));
        let scheduled = self.sleep.deadline();
        let now = Instant::now();
        let next = match self.missed {
            MissedTickBehavior::Burst => scheduled.saturating_add(self.period),
            MissedTickBehavior::Delay => now.saturating_add(self.period),
            MissedTickBehavior::Skip => {
                // The first point of the original schedule after now.
                let behind = now.duration_since(scheduled).as_nanos();
                let period = self.period.as_nanos();
                let periods = behind / period + 1;
                let skip = Duration::from_nanos(u64::try_from(periods * period).unwrap_or(u64::MAX));
                scheduled.saturating_add(skip)
            }
        };
        self.sleep.reset(next);
        Poll::Ready(scheduled)
    }

    /// Sets what happens to missed ticks.
    pub fn set_missed_tick_behavior(&mut self, behavior: MissedTickBehavior) {
        self.missed = behavior;
    }

    /// The current missed-tick behaviour.
    pub fn missed_tick_behavior(&self) -> MissedTickBehavior {
        self.missed
    }

    /// The period between ticks.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// Restarts the schedule: the next tick comes one period from now.
    pub fn reset(&mut self) {
        self.sleep.reset(Instant::now().saturating_add(self.period));
    }
}

/// An `Interval` is an endless stream of tick instants, so
/// `futures::StreamExt` works on it (`ticker.next().await`, `take(3)`, ...).
impl futures_core::Stream for Interval {
    type Item = Instant;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Instant>> {
        self.get_mut().poll_tick(cx).map(Some)
    }
}
