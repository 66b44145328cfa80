//! # Testing async code with eddy
//!
//! Tools for instant, deterministic tests of futures and timers:
//!
//! - **Paused time.** [`run`] runs a test body on a runtime whose clock
//!   starts paused: sleeps and timeouts complete as soon as nothing else
//!   can happen ("auto-advance"), so a one-hour timeout takes microseconds,
//!   and every run sees the same times. Move time by hand with
//!   [`time::advance`](crate::time::advance) and
//!   [`time::advance_to_next`](crate::time::advance_to_next); switch
//!   auto-advance off with [`time::set_auto_advance`](crate::time::set_auto_advance)
//!   to assert that something is *still* pending.
//! - **Polling by hand.** [`MockTask`] wraps a future and polls it once at a
//!   time with a [`WakeCounter`]'s waker, so a test sees exactly when the
//!   future returned `Pending`, whether it was woken since, and how often;
//!   [`assert_pending!`](crate::assert_pending), [`assert_ready!`](crate::assert_ready)
//!   and [`assert_ready_eq!`](crate::assert_ready_eq) state the results;
//!   [`DropProbe`] proves a destructor ran.
//! - **Reproducible orderings.** [`check_orderings`] runs a test body under
//!   many seeds, each polling ready tasks (and dispatching I/O wakeups) in a
//!   different shuffled order, and names the seed that fails so
//!   [`run_with_seed`] reproduces it exactly.
//!
//! The README's "Testing async code with eddy" walks through four worked
//! examples (retry with exponential backoff, a timeout around a slow call,
//! a ticker that skips missed ticks, and a race found by the seed sweep);
//! they are real tests in `runtime/tests/guide.rs`.
//!
//! ```
//! use std::time::Duration;
//! use eddy::test::MockTask;
//! use eddy::{assert_pending, assert_ready, time};
//!
//! eddy::test::run(async {
//!     time::set_auto_advance(false);
//!     let mut sleep = MockTask::new(time::sleep(Duration::from_secs(60)));
//!     assert_pending!(sleep.poll());
//!
//!     time::advance(Duration::from_secs(59)).await;
//!     assert!(!sleep.is_woken());
//!     assert_pending!(sleep.poll());
//!
//!     time::advance(Duration::from_secs(1)).await;
//!     assert!(sleep.is_woken());
//!     assert_ready!(sleep.poll());
//! });
//! ```

use std::future::Future;

mod macros;
mod mock;
mod seeds;

pub use mock::{DropProbe, Dropped, MockTask, WakeCounter};
pub use seeds::{check_orderings, run_with_seed};

/// Runs `future` on a fresh single-loop runtime whose clock starts paused
/// (auto-advance on), and returns its output. The one-line way to test
/// time-dependent code.
///
/// As with [`eddy::run`](crate::run), debug mode (`EDDY_DEBUG=1`) names the
/// line that called this for a slow poll of `future`, and a large `future`
/// is moved to the heap at once, so the test's stack holds one copy of it.
///
/// # Panics
/// If the runtime cannot be created, or if `future` panics.
#[track_caller]
pub fn run<F: Future>(future: F) -> F::Output {
    let runtime = runtime(None);
    // Boxed here, not only in `block_on`: in an unoptimised build (tests)
    // every frame that takes the future by value holds a copy of it.
    if const { crate::task::should_box::<F>() } {
        runtime.block_on(Box::pin(future))
    } else {
        runtime.block_on(future)
    }
}

/// A paused-clock runtime, seeded or not.
fn runtime(seed: Option<u64>) -> crate::Runtime {
    let mut builder = crate::Builder::new();
    builder.start_paused(true);
    if let Some(seed) = seed {
        builder.seed(seed);
    }
    match builder.build() {
        Ok(runtime) => runtime,
        Err(error) => panic!("eddy::test: cannot start a runtime: {error}"),
    }
}
