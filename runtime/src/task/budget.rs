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
//! - **Anywhere else it is unlimited** (in effect: see `REMAINING`): a
//!   future polled by hand outside a runtime (with
//!   [`MockTask`](crate::test::MockTask) in a plain `#[test]`, say, or by
//!   another executor's thread) never sees `Pending` for budget reasons,
//!   so tests that poll a resource step by step see exactly what the
//!   resource does. (A `MockTask` polled from *inside* a task or
//!   `block_on` shares that poll's budget, as any sub-future does.)
//!
//! The budget lives in a thread-local counter: a loop runs one poll at a
//! time on its thread, so "this thread's budget" is "the running task's
//! budget", and checking it costs a read and a write of a thread-local
//! (about a nanosecond) with no pointer to the task needed.
//!
//! # What charges it
//!
//! | resource | charged on every `Ready` of |
//! |---|---|
//! | `net::TcpStream`, `net::UnixStream` (and their split halves) | `read`/`poll_read`, `write`/`poll_write`, `peek`, `readable`, `writable`; `connect` (also `TcpSocket::connect`) once, before it starts |
//! | `net::TcpListener`, `net::UnixListener` | `accept`/`poll_accept` (errors too: that is the `EMFILE` loop) |
//! | `net::UdpSocket`, `net::UnixDatagram` | every send, receive and peek, `readable`, `writable` |
//! | `sync::mpsc` (bounded and unbounded) | `Receiver::recv`/`poll_recv` (`None` too), `Sender::send` (errors too), `Sender::closed` |
//! | `sync::oneshot` | awaiting the `Receiver`; `Sender::closed`/`poll_closed` |
//! | `sync::broadcast` | `Receiver::recv`/`poll_recv` (`Lagged` and `Closed` too) |
//! | `sync::watch` | `Receiver::changed`/`poll_changed` (`Err` too), `Sender::closed` |
//! | `sync::Notify` | awaiting `notified()` |
//! | `sync::Semaphore`, `Mutex`, `RwLock` | `acquire`/`acquire_many`, `lock`, `read`, `write` (one unit each, also uncontended; `Closed` too) |
//! | `sync::Event`, `sync::Barrier` | `wait` |
//! | `process` pipes | `ChildStdout`/`ChildStderr` reads, `ChildStdin` writes (EOF and errors too) |
//! | `signal::unix::Signal` | `recv`/`poll_recv` |
//! | `JoinHandle` | awaiting it (once, also for a blocking job's, which awaits a oneshot inside) |
//! | `time::Sleep` | awaiting it; so `Interval::tick` and `timeout`'s deadline |
//!
//! Errors and end-of-stream count like values: a loop that ignores them is
//! exactly the loop that never yields. The `try_*` methods never wait and
//! are not charged: they cannot hold a task in an `.await`.
//!
//! Wrappers are charged through what they wrap, never on their own: the
//! `io` helpers (`read_exact`, `write_all`, `copy`, `BufReader`, `Lines`)
//! charge once per read or write of the underlying stream (a `BufReader`
//! serving from its buffer charges nothing, and its buffer runs dry after
//! a bounded number of reads, at the next, budgeted, fill); the unbounded
//! mpsc channel is the bounded one inside; `Mutex` and `RwLock` are a
//! semaphore's `Acquire`.
//!
//! # Adding it to a resource
//!
//! One line: wrap the resource's poll function in [`poll_budgeted`]. Inside
//! eddy the pattern is a public poll function that is that one line around
//! a private, unbudgeted one (`mpsc::Receiver::poll_recv` around
//! `poll_recv_now`), so the resource's logic stays as it was. Or, in
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

thread_local! {
    /// Units left in the current poll. Const-initialised and without a
    /// destructor, so every access is a plain thread-local load or store
    /// that can never fail, even in other thread-locals' destructors.
    ///
    /// Outside a loop it starts at `u32::MAX` and counts down like any
    /// budget; should it ever reach 0 there (after four billion ready
    /// results), [`spent`] starts it over instead of refusing. That keeps
    /// the hot path to one load, one test, one store, with no "unlimited"
    /// case to test for.
    static REMAINING: Cell<u32> = const { Cell::new(u32::MAX) };
    /// Whether a loop on this thread is running polls (inside a [`Scope`]).
    static IN_LOOP: Cell<bool> = const { Cell::new(false) };
}

/// Runs `poll` if the current task still has budget, and charges one unit if
/// it returns `Ready`. If the budget is spent, `poll` is not called: the task
/// is woken and `Pending` is returned, so the resource keeps its data and
/// its readiness for the next poll.
///
/// Wrap *one* operation: the call counts as one unit whatever eddy
/// resources `poll` itself polls (the unit is written back from the value
/// read before `poll`), so a resource built on another (a blocking job's
/// `JoinHandle` on a oneshot) is charged once, not twice.
///
/// Outside a task (or `block_on`) the budget is unlimited and this is just
/// `poll(cx)`. See the [module docs](self) for where to call it.
// Always inlined: a load, a test and a store around `poll`, on the hot path
// of every resource; as a call of its own it cost more than the budget.
#[inline(always)]
pub fn poll_budgeted<T>(cx: &mut Context<'_>, poll: impl FnOnce(&mut Context<'_>) -> Poll<T>) -> Poll<T> {
    let remaining = REMAINING.get();
    if remaining == 0 && spent(cx) {
        return Poll::Pending;
    }
    let result = poll(cx);
    // Written from the value read before `poll`, not re-read: a resource
    // built on another budgeted one (a blocking job's `JoinHandle` awaits a
    // oneshot) is charged once, not twice. Wrapping: outside a loop, 0 here
    // means "start over from u32::MAX".
    if result.is_ready() {
        REMAINING.set(remaining.wrapping_sub(1));
    }
    result
}

/// The budget reads 0: inside a loop, the poll must end, so wake the task
/// and say so; outside one, there is no budget, so go on.
#[cold]
#[inline(never)]
fn spent(cx: &Context<'_>) -> bool {
    if IN_LOOP.get() {
        cx.waker().wake_by_ref();
        true
    } else {
        false
    }
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

/// Gives the poll that is about to start a full budget. Loop only: called
/// before each poll of a task or of the `block_on` future, inside a
/// [`Scope`].
#[inline]
pub(crate) fn refill() {
    REMAINING.set(PER_POLL);
}

/// While alive, the thread is running a loop whose polls have a budget; when
/// dropped (also on unwind, when the `block_on` future panics) it restores
/// what was there before, normally "no loop, no limit", so the code that
/// runs after the loop on this thread is not left with a spent budget. One
/// per `block_on` call or worker thread, not per poll: polls only need
/// [`refill`].
pub(crate) struct Scope {
    remaining: u32,
    in_loop: bool,
}

impl Scope {
    /// Enters a budgeted scope; the budget itself is set by [`refill`].
    pub(crate) fn enter() -> Scope {
        Scope { remaining: REMAINING.replace(PER_POLL), in_loop: IN_LOOP.replace(true) }
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        REMAINING.set(self.remaining);
        IN_LOOP.set(self.in_loop);
    }
}
