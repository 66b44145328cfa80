//! The cooperative budget: how many times a task may find an eddy resource
//! ready within one poll before the resource makes it yield.
//!
//! # The problem
//!
//! A task yields to the loop only when something it awaits returns
//! `Pending`. A resource that is *always* ready never does: a socket that
//! another thread keeps full, a channel whose sender is faster than its
//! receiver, a listener whose `accept` keeps failing with `EMFILE` (the
//! connection stays queued, so the listener stays readable). A task looping
//! over such a resource would hold the loop forever: no timer fires, no
//! other task runs, no other socket is read. The event loop cannot help, as
//! it only runs between polls.
//!
//! # The fix, as tokio's `coop` does it
//!
//! Each poll of a task starts with a budget of [`PER_POLL`] (128) units.
//! Every eddy resource charges one unit each time it returns `Ready`
//! (a value, an error, end of stream: anything that lets the caller go on
//! looping). When the budget is spent, the next resource the task polls
//! returns `Pending` instead, after waking the task: the task goes to the back
//! of the run queue, the loop fires timers and looks at I/O, and the task's
//! next poll starts with a full budget.
//!
//! ```text
//!   loop refills (128) ──▶ poll task ──▶ resource Ready: 127, 126, … 0
//!          ▲                                      │ budget spent
//!          │                                      ▼
//!          └──── next tick ◀── task re-queued ◀── resource: wake + Pending
//! ```
//!
//! A resource that returns `Pending` for budget reasons has done *nothing*:
//! the check comes before the resource looks at its state, so no value is
//! taken off a channel, no byte read from a socket, no readiness forgotten.
//! The next poll finds everything where it was. And a `Pending` that is
//! real (nothing to read) costs no budget: a task that polls 500 idle
//! sockets in one poll is not made to spin.
//!
//! # Where the budget applies
//!
//! - In a task, for each poll: refilled by the loop just before the poll.
//! - In the future given to `block_on` / `eddy::run`, for each poll: the
//!   main future is a task in all but name (see `event_loop.rs`).
//! - **Anywhere else it is unlimited**: a future polled by hand outside a
//!   runtime (with [`MockTask`](crate::test::MockTask) in a plain `#[test]`,
//!   say) never sees `Pending` for budget reasons, so tests that poll a
//!   resource step by step see exactly what the resource does. (A
//!   `MockTask` polled from *inside* a task or `block_on` shares that
//!   poll's budget, as any sub-future does.)
//!
//! The budget lives in a thread-local counter: a loop runs one poll at a
//! time on its thread, so "this thread's budget" is "the running task's
//! budget", and checking it costs a read and a write of a thread-local
//! (about a nanosecond) with no pointer to the task needed.
//!
//! # Adding it to a resource
//!
//! One line: wrap the resource's poll function in [`poll_budgeted`], or, in
//! a resource that knows it is about to return `Ready` and has not yet done
//! anything it cannot undo, call [`poll_consume_budget`] first:
//!
//! ```
//! use std::task::{Context, Poll};
//!
//! struct Counter(u64);
//!
//! impl Counter {
//!     /// Always ready: exactly the kind of resource that needs a budget.
//!     fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<u64> {
//!         eddy::task::poll_budgeted(cx, |_| {
//!             self.0 += 1;
//!             Poll::Ready(self.0)
//!         })
//!     }
//! }
//!
//! eddy::run(async {
//!     let mut counter = Counter(0);
//!     // Without the budget this loop would hold the loop for a million
//!     // iterations; with it, it yields every 128.
//!     while std::future::poll_fn(|cx| counter.poll_next(cx)).await < 1_000_000 {}
//! });
//! ```
//!
//! Code that loops over something that is not a resource (a CPU-bound loop,
//! a `VecDeque` drained in a loop) can call [`consume_budget`] each
//! iteration to get the same behaviour.
//!
//! Interval ticks need no call of their own: each tick is a poll of the
//! interval's `Sleep`, which is budgeted. `yield_now` is not budgeted: it
//! always yields anyway.

use std::cell::Cell;
use std::future::poll_fn;
use std::task::{Context, Poll};

/// Ready results a task may get from eddy resources within one poll.
///
/// 128 is tokio's figure, and for the same reasons: one ready resource
/// operation costs from ~50 ns (a channel) to ~1 µs (a socket syscall), so
/// 128 of them bound one poll's resource work to roughly 10–130 µs before
/// the loop gets to timers and I/O; and a forced yield (re-queue, one tick)
/// costs about as much as a few operations, so a task streaming from an
/// always-ready resource pays well under 1% for it. Picked, not tuned.
pub const PER_POLL: u32 = 128;

/// Outside any task poll: never runs out (see "Where the budget applies").
const UNLIMITED: u32 = u32::MAX;

thread_local! {
    /// Units left in the current poll, or `UNLIMITED`. Const-initialised
    /// and without a destructor, so every access is a plain thread-local
    /// read that can never fail, even in other thread-locals' destructors.
    static REMAINING: Cell<u32> = const { Cell::new(UNLIMITED) };
}

/// Runs `poll` if the current task still has budget, and charges one unit if
/// it returns `Ready`. If the budget is spent, `poll` is not called: the task
/// is woken and `Pending` is returned, so the resource keeps its data and
/// its readiness for the next poll.
///
/// Outside a task (or `block_on`) the budget is unlimited and this is just
/// `poll(cx)`. See the [module docs](self) for where to call it.
#[inline]
pub fn poll_budgeted<T>(cx: &mut Context<'_>, poll: impl FnOnce(&mut Context<'_>) -> Poll<T>) -> Poll<T> {
    if REMAINING.get() == 0 {
        cx.waker().wake_by_ref();
        return Poll::Pending;
    }
    let result = poll(cx);
    if result.is_ready() {
        charge();
    }
    result
}

/// Charges one unit of the current task's budget and returns `Ready`, or,
/// if the budget is spent, wakes the task and returns `Pending`. Call it
/// where a hand-written resource is about to return `Ready`, before it does
/// anything it could not undo.
///
/// ```
/// use std::future::poll_fn;
///
/// eddy::run(async {
///     // Within one poll, the 129th unit is refused.
///     let granted = poll_fn(|cx| {
///         let mut granted = 0;
///         while eddy::task::poll_consume_budget(cx).is_ready() {
///             granted += 1;
///         }
///         std::task::Poll::Ready(granted)
///     })
///     .await;
///     assert_eq!(granted, eddy::task::PER_POLL);
/// });
/// ```
#[inline]
pub fn poll_consume_budget(cx: &mut Context<'_>) -> Poll<()> {
    poll_budgeted(cx, |_| Poll::Ready(()))
}

/// Charges one unit of the current task's budget, yielding to the loop first
/// if it is spent. For loops that do not go through an eddy resource (a
/// CPU-bound loop, a queue drained by hand), so they still let timers and
/// I/O run every [`PER_POLL`] iterations.
///
/// ```
/// use std::collections::VecDeque;
///
/// eddy::run(async {
///     let mut work: VecDeque<u32> = (0..10_000).collect();
///     while let Some(item) = work.pop_front() {
///         let _ = item * 2;
///         eddy::task::consume_budget().await; // yields every 128 items
///     }
/// });
/// ```
pub async fn consume_budget() {
    poll_fn(poll_consume_budget).await
}

/// Takes one unit, if the budget is limited. Saturating: a resource built on
/// another budgeted resource (a `JoinHandle` of a blocking job awaits a
/// oneshot) may charge after the inner one took the last unit.
#[inline]
fn charge() {
    let remaining = REMAINING.get();
    if remaining != UNLIMITED {
        REMAINING.set(remaining.saturating_sub(1));
    }
}

/// Gives the poll that is about to start a full budget. Loop only: called
/// before each task poll, inside a [`Scope`].
#[inline]
pub(crate) fn refill() {
    REMAINING.set(PER_POLL);
}

/// While alive, the thread is running polls that have a budget; when dropped
/// (also on unwind) it restores what was there before, normally "unlimited",
/// so code that runs after the loop on this thread is not left with a spent
/// budget.
pub(crate) struct Scope {
    previous: u32,
}

impl Scope {
    /// Enters a budgeted scope with a full budget.
    #[inline]
    pub(crate) fn enter() -> Scope {
        let previous = REMAINING.replace(PER_POLL);
        Scope { previous }
    }
}

impl Drop for Scope {
    #[inline]
    fn drop(&mut self) {
        REMAINING.set(self.previous);
    }
}
