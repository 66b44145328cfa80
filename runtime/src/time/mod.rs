//! Time: sleeping, deadlines, intervals, and a clock that tests control.
//!
//! Each loop keeps its timers in a hierarchical timing wheel (`wheel.rs`,
//! O(1) insert and cancel, 1 ms resolution) measured against the loop's own
//! clock (`clock.rs`). Each tick, the loop fires the timers that are due and,
//! when it has nothing else to do, parks in `epoll_wait` exactly until the
//! next deadline: an idle program with a timer costs no CPU.
//!
//! # Controlling time in tests
//!
//! [`pause`] freezes the current loop's clock. While it is paused:
//! - [`advance`] moves it forward, firing every timer that comes due on the
//!   way, in deadline order, and letting the woken tasks run before it
//!   returns;
//! - [`advance_to_next`] jumps straight to the next timer;
//! - an *idle* loop (no task ready, no I/O event, no blocking job running)
//!   jumps to the next deadline by itself ("auto-advance"), so a test that
//!   awaits a one-hour timeout finishes in microseconds. Turn that off with
//!   [`set_auto_advance`] to assert that something is still pending.
//!
//! ```
//! use std::time::Duration;
//! use eddy::time::{self, Instant};
//!
//! eddy::run(async {
//!     time::pause();
//!     let start = Instant::now();
//!     time::sleep(Duration::from_secs(3600)).await; // instant in real time
//!     assert_eq!(start.elapsed(), Duration::from_secs(3600));
//! });
//! ```

use std::time::Duration;

mod clock;
mod interval;
mod sleep;
mod timeout;
pub(crate) mod wheel;

pub(crate) use clock::Clock;
pub use clock::Instant;
pub use interval::{interval, interval_at, Interval, MissedTickBehavior};
pub use sleep::{sleep, sleep_until, Sleep};
pub use timeout::{timeout, timeout_at, Elapsed};

use crate::context;

/// Freezes the current loop's clock. Idempotent.
///
/// # Panics
/// Outside an eddy runtime.
pub fn pause() {
    context::expect_core("eddy::time::pause", |core| core.clock().pause());
}

/// Lets the current loop's clock run again from where it stands. Time moved
/// forward while paused is kept: the clock never goes backwards.
///
/// # Panics
/// Outside an eddy runtime.
pub fn resume() {
    context::expect_core("eddy::time::resume", |core| core.clock().resume());
}

/// Whether the current loop's clock is paused (false outside a runtime).
pub fn is_paused() -> bool {
    context::with_core(|core| core.clock().is_paused()).unwrap_or(false)
}

/// Chooses whether an idle loop with a paused clock jumps to its next timer
/// on its own (on by default). With it off, time moves only through
/// [`advance`] and [`advance_to_next`]; a task waiting on a timer stays
/// pending, which is what a test asserting "not yet" needs. (An idle loop
/// that nothing can wake then waits for I/O or another thread, forever if
/// none comes: advance the clock from the test.)
///
/// # Panics
/// Outside an eddy runtime.
pub fn set_auto_advance(enabled: bool) {
    context::expect_core("eddy::time::set_auto_advance", |core| core.clock().set_auto_advance(enabled));
}

/// Moves the paused clock forward by `duration`.
///
/// Timers are fired in deadline order as the clock passes them, and after
/// each deadline the tasks they woke run (and anything those wake, up to a
/// bound of 64 loop ticks) before time moves further. A task that re-arms a
/// shorter timer therefore sees it fire at the right moment within one
/// `advance`. Returns once the clock reads exactly `start + duration`.
///
/// # Panics
/// Outside an eddy runtime, or if the clock is not paused.
pub async fn advance(duration: Duration) {
    let target = context::expect_core("eddy::time::advance", |core| {
        assert!(core.clock().is_paused(), "time::advance needs a paused clock: call time::pause() first");
        core.clock().now().saturating_add(duration)
    });
    while let Some(next) = next_deadline().filter(|next| *next <= target) {
        step_to(next).await;
    }
    step_to(target).await;
}

/// Moves the paused clock to the next timer's deadline, fires the timers
/// due there, and lets the woken tasks run. Returns the new time, or `None`
/// (without moving the clock) if no timer is armed.
///
/// # Panics
/// Outside an eddy runtime, or if the clock is not paused.
pub async fn advance_to_next() -> Option<Instant> {
    context::expect_core("eddy::time::advance_to_next", |core| {
        assert!(
            core.clock().is_paused(),
            "time::advance_to_next needs a paused clock: call time::pause() first"
        );
    });
    // The wheel reports coarse slot boundaries for far timers; stepping to
    // one only refiles them, so keep going until something actually fires.
    loop {
        let next = next_deadline()?;
        if step_to(next).await > 0 {
            return Some(next);
        }
    }
}

/// The instant of the current loop's next timer, if any.
fn next_deadline() -> Option<Instant> {
    context::with_core(|core| core.next_timer_deadline()).flatten()
}

/// Sets the clock to `to`, fires what is due, and yields until the tasks
/// that woke (and the ones they wake) have run. Returns how many fired.
async fn step_to(to: Instant) -> usize {
    let fired = context::expect_core("eddy::time::advance", |core| {
        core.clock().advance_to(to);
        core.fire_timers()
    });
    if fired == 0 {
        return 0;
    }
    // Woken tasks were queued before we yield, so they run first. Keep
    // yielding while other tasks are still runnable, within a bound, so a
    // task that never stops waking itself cannot hang the test.
    for _ in 0..64 {
        crate::task::yield_now().await;
        if context::with_core(|core| core.ready_count() == 0).unwrap_or(true) {
            break;
        }
    }
    fired
}
