//! `Sleep`: a future that completes at a deadline. asyncio's `sleep`.
//!
//! ```text
//!   created ──first poll──▶ armed in the wheel ──deadline──▶ fired ──▶ Ready
//!      │ (deadline passed: Ready at once)  │
//!      └──────────── drop ─────────────────┴──▶ removed from the wheel, O(1)
//! ```
//!
//! A `Sleep` registers its timer on first poll, not on creation, and holds
//! only the timer's key and its loop's number. So it is `Send` (a future
//! holding one can be handed to [`Handle::spawn`](crate::Handle::spawn)) and
//! creating one costs nothing until it is awaited.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use super::wheel::TimerKey;
use super::Instant;
use crate::context;

/// Waits until `duration` has elapsed on the loop clock.
///
/// Resolution is one millisecond; a sleep never completes early.
/// `Duration::MAX` sleeps (practically) forever.
///
/// ```
/// use std::time::Duration;
///
/// eddy::run(async {
///     eddy::time::sleep(Duration::from_millis(10)).await;
///     println!("ten milliseconds later");
/// });
/// ```
pub fn sleep(duration: Duration) -> Sleep {
    sleep_until(Instant::now().saturating_add(duration))
}

/// Waits until the loop clock reaches `deadline`.
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep { deadline, timer: None }
}

/// The future returned by [`sleep`] and [`sleep_until`].
///
/// Dropping it cancels its timer in O(1). It must be polled on one loop;
/// polled on another it re-registers there (the first loop's timer then
/// fires into the void when due).
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct Sleep {
    deadline: Instant,
    timer: Option<Registration>,
}

#[derive(Debug, Clone, Copy)]
struct Registration {
    loop_id: u32,
    key: TimerKey,
}

impl Sleep {
    /// The instant at which this sleep completes.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Whether the deadline has passed on the loop clock.
    pub fn is_elapsed(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// Moves the deadline. The timer is re-armed on the next poll.
    pub fn reset(&mut self, deadline: Instant) {
        self.cancel();
        self.deadline = deadline;
    }

    fn cancel(&mut self) {
        if let Some(timer) = self.timer.take() {
            context::with_core(|core| {
                if core.loop_id() == timer.loop_id {
                    core.remove_timer(timer.key);
                }
            });
        }
    }
}

impl Future for Sleep {
    type Output = ();

    /// Inlined into the caller: a server's connection polls its armed
    /// keep-alive timer on every wait, and as a call the frame was a
    /// quarter of the poll.
    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // Budgeted: a loop over sleeps that are already due never waits.
        crate::task::poll_budgeted(cx, |cx| self.get_mut().poll_elapsed(cx))
    }
}

impl Sleep {
    /// The wait itself; [`Future::poll`] adds the cooperative budget.
    ///
    /// Borrows the current loop rather than cloning its `Rc` (an increment
    /// and a decrement on every poll of an armed timer, which a server's
    /// connection makes once per request).
    #[inline]
    fn poll_elapsed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let this = self;
        let polled = context::with_loop(|core| match this.timer {
            Some(timer) if timer.loop_id == core.loop_id() => {
                if core.poll_timer(timer.key, cx.waker()) {
                    return Poll::Ready(());
                }
                Poll::Pending
            }
            _ => this.arm(core, cx),
        });
        match polled {
            Some(polled) => polled,
            None => no_loop(),
        }
    }

    /// The first poll on this loop: ready if the deadline has passed,
    /// otherwise a timer in the loop's wheel.
    #[cold]
    fn arm(&mut self, core: &crate::event_loop::Core, cx: &mut Context<'_>) -> Poll<()> {
        if core.clock().now() >= self.deadline {
            return Poll::Ready(());
        }
        let key = core.insert_timer(self.deadline, cx.waker());
        self.timer = Some(Registration { loop_id: core.loop_id(), key });
        Poll::Pending
    }
}

/// A `Sleep` polled with no eddy loop running on the thread: nothing could
/// ever fire it, which is a programming error (as for `expect_core`).
#[cold]
#[track_caller]
fn no_loop() -> ! {
    panic!(
        "polling a Sleep must be called from inside an eddy runtime \
         (eddy::run, Runtime::block_on, or a task they spawned)"
    )
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.cancel();
    }
}
