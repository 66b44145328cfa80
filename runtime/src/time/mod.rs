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

pub use clock::Instant;
pub(crate) use clock::{Clock, Idle, RuntimeClock};
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

/// Moves the paused clock forward by `duration`, and returns once it reads
/// exactly `start + duration` and every task woken on the way has run.
///
/// The clock stops at each timer deadline on the way (on every loop of the
/// runtime) and moves on only when nothing is left to do there: no task
/// ready, nothing injected, no blocking job running, on any loop. So every
/// task woken by a timer at deadline D observes `Instant::now() == D`,
/// however many there are, and a task that re-arms a shorter timer sees it
/// fire at the right moment within the same `advance`.
///
/// # Panics
/// Outside an eddy runtime, or if the clock is not paused. Also if some
/// loop never becomes idle (tasks waking each other forever, so time could
/// never move): after 100,000 busy ticks in a row the advance gives up with
/// a message that says so, rather than hang.
pub async fn advance(duration: Duration) {
    let target = context::expect_core("eddy::time::advance", |core| {
        assert!(core.clock().is_paused(), "time::advance needs a paused clock: call time::pause() first");
        core.clock().now().saturating_add(duration)
    });
    advance_until(target).await;
}

/// Moves the paused clock to the current loop's next timer deadline, fires
/// the timers due there, and lets the woken tasks run (as [`advance`] does).
/// Returns the new time, or `None` (without moving the clock) if no timer
/// is armed on this loop.
///
/// # Panics
/// Outside an eddy runtime, or if the clock is not paused; and as
/// [`advance`] if tasks never stop waking each other.
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
        let (next, fired_before) = context::expect_core("eddy::time::advance_to_next", |core| {
            (core.next_timer_deadline(), core.timers_fired())
        });
        let next = next?;
        advance_until(next).await;
        if context::expect_core("eddy::time::advance_to_next", |core| core.timers_fired()) > fired_before {
            return Some(next);
        }
    }
}

/// Waits until the runtime's paused clock reaches `target` with nothing
/// left to run: the loops move it there (see `RuntimeClock`).
async fn advance_until(target: Instant) {
    let outcome = AdvanceUntil { target, id: None }.await;
    if let Err(message) = outcome {
        panic!("{message}");
    }
}

/// The future behind [`advance`]: registered with the runtime's clock,
/// woken when the clock has reached `target` and settled there.
struct AdvanceUntil {
    target: Instant,
    /// The registration, once made.
    id: Option<u64>,
}

impl std::future::Future for AdvanceUntil {
    type Output = Result<(), String>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let this = self.get_mut();
        context::expect_core("eddy::time::advance", |core| {
            core.clock().poll_advance(this.target, &mut this.id, cx.waker())
        })
    }
}

impl Drop for AdvanceUntil {
    fn drop(&mut self) {
        if let Some(id) = self.id {
            context::with_core(|core| core.clock().cancel_advance(id));
        }
    }
}
