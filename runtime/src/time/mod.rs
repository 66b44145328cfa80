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
//! [`pause`] freezes the runtime's clock: one clock for all the runtime's
//! loops (`clock.rs`, `RuntimeClock`), so every loop reads the same time and
//! a pause, resume or advance on one loop is seen by all. While it is paused,
//! time moves only when the whole runtime is *idle*: no task ready, no I/O
//! event, nothing injected, no blocking job running, on any loop. Then:
//! - an idle runtime jumps to the earliest deadline of all its loops by
//!   itself ("auto-advance"), so a test that awaits a one-hour timeout
//!   finishes in microseconds. Turn that off with [`set_auto_advance`] to
//!   assert that something is still pending;
//! - [`advance`] moves it forward by hand, stopping at every deadline on the
//!   way, and returns once the target is reached and the runtime is idle
//!   there;
//! - [`advance_to_next`] jumps straight to the next timer.
//!
//! Because time never moves while something is ready, every task woken by a
//! timer at deadline D observes `Instant::now() == D`, however many tasks D
//! woke and on whichever loop they live, and so does every task they wake in
//! turn. A runtime whose tasks never stop waking each other never becomes
//! idle: its paused clock cannot move. `advance` notices (a loop busy for
//! 100,000 ticks in a row while it waits) and panics saying so.
//!
//! One limit: a loop cannot see I/O on its way to another loop (a byte one
//! loop wrote to a socket that another reads), so such a wake-up may arrive
//! just after the clock moved. Tests that pass data between loops through
//! eddy's channels, wakers or `Handle::spawn` are exact.
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

use std::sync::Arc;
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

/// Freezes the runtime's clock (for every loop of the runtime). Idempotent.
///
/// # Panics
/// Outside an eddy runtime.
pub fn pause() {
    context::expect_core("eddy::time::pause", |core| core.clock().pause());
}

/// Lets the runtime's clock run again from where it stands. Time moved
/// forward while paused is kept: the clock never goes backwards. An
/// [`advance`] still waiting returns.
///
/// # Panics
/// Outside an eddy runtime.
pub fn resume() {
    context::expect_core("eddy::time::resume", |core| core.clock().resume());
}

/// Whether the runtime's clock is paused (false outside a runtime).
pub fn is_paused() -> bool {
    context::with_core(|core| core.clock().is_paused()).unwrap_or(false)
}

/// Chooses whether an idle runtime with a paused clock jumps to its next
/// timer on its own (on by default; for every loop of the runtime). With it off, time moves only through
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
    let outcome = AdvanceUntil { target, registration: None }.await;
    if let Err(message) = outcome {
        panic!("{message}");
    }
}

/// The future behind [`advance`]: registered with the runtime's clock,
/// woken when the clock has reached `target` and settled there.
struct AdvanceUntil {
    target: Instant,
    /// The clock it waits on and its registration there, once made; kept
    /// so that a drop anywhere unregisters from the right runtime.
    registration: Option<(Arc<RuntimeClock>, u64)>,
}

impl std::future::Future for AdvanceUntil {
    type Output = Result<(), String>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let this = self.get_mut();
        let clock = match &this.registration {
            Some((clock, _)) => clock.clone(),
            None => context::expect_core("eddy::time::advance", |core| core.clock().runtime().clone()),
        };
        let mut id = this.registration.as_ref().map(|(_, id)| *id);
        let poll = clock.poll_advance(this.target, &mut id, cx.waker());
        this.registration = id.map(|id| (clock, id));
        poll
    }
}

impl Drop for AdvanceUntil {
    fn drop(&mut self) {
        if let Some((clock, id)) = self.registration.take() {
            clock.cancel_advance(id);
        }
    }
}
