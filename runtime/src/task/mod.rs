//! Tasks: spawned futures that the event loop polls until they finish.
//!
//! A task is asyncio's `Task`: a future handed to the loop with
//! [`spawn`], which polls it whenever its waker says it can make
//! progress. The pieces, one file each:
//!
//! - `state.rs`: the four-bit state word (scheduled, complete, cancelled,
//!   join interest) and its transitions;
//! - `cell.rs`: the single allocation that holds the future, its result and
//!   its waker, and the only `unsafe` in the task system;
//! - `join.rs`: [`JoinHandle`] and [`JoinError`];
//! - `abort.rs`: [`AbortHandle`], cancelling without owning the result;
//! - `id.rs`: [`id()`] and [`try_id`], the running task's [`Id`];
//! - `join_set.rs`: [`JoinSet`], tasks collected as they finish
//!   (asyncio's `TaskGroup` and `as_completed`);
//! - `combinators.rs`: [`join_all`] and [`try_join_all`] (and, at the crate
//!   root, the `join!`, `try_join!` and `select!` macros);
//! - `local.rs`: [`LocalKey`] and [`task_local!`](crate::task_local),
//!   asyncio's `contextvars`;
//! - `blocking.rs`: [`spawn_blocking`], a small thread pool for code that
//!   would otherwise block the loop (asyncio's `to_thread`);
//! - `yield_now.rs`: [`yield_now()`], `await asyncio.sleep(0)`;
//! - `budget.rs`: the cooperative budget ([`consume_budget`],
//!   [`poll_budgeted`]) that makes a task yield after [`PER_POLL`] ready
//!   results from eddy resources within one poll.
//!
//! A task never leaves the loop that spawned it, so its future need not be
//! `Send` (`eddy::spawn` accepts `Rc` and `RefCell` inside futures). Its waker
//! is `Send + Sync`, and waking it from another thread routes it back to its
//! own loop through that loop's injection queue.
//!
//! # Large futures and the stack
//!
//! A future is a value: until it reaches its task's heap cell, spawning
//! moves it by value through several frames (`spawn`, the closure that
//! finds the current loop, `Core::spawn`, `Task::new`, `Arc::new`), and an
//! unoptimised build keeps a copy in each. A future holding a 1 MiB buffer
//! then needed several MiB of stack to spawn, more than a worker thread has.
//! So every entry point (`spawn`, [`spawn_named`], `JoinSet::spawn`,
//! `Handle::spawn`, `Handle::spawn_with`, `Runtime::block_on`, `eddy::run`) moves a future
//! larger than [`BOX_THRESHOLD`] to the heap first (`Box::pin`), as tokio
//! does. In an optimised build spawning then needs the stack for one copy
//! of the future (the caller's, which exists anyway) and a few hundred
//! bytes more. An unoptimised build needs one copy more: it moves a
//! by-value argument through a stack temporary on its way to the heap, and
//! stable Rust offers no way around that (building the future inside
//! `Box::pin(..)` at the call site avoids it). Smaller futures skip the
//! box, keeping one allocation per task. A future's *polls* run on the
//! stack of its loop's thread, like any function call; for worker loops
//! that stack's size is
//! [`Builder::thread_stack_size`](crate::Builder::thread_stack_size).
//! `runtime/tests/large_futures.rs` pins these figures.

use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::sync::Arc;

mod abort;
mod blocking;
pub mod budget;
pub(crate) mod cell;
mod combinators;
pub(crate) mod id;
mod join;
mod join_set;
mod local;
mod named_sites;
mod state;
mod yield_now;

pub use abort::AbortHandle;
pub use blocking::spawn_blocking;
pub(crate) use blocking::BlockingPool;
pub use budget::{consume_budget, poll_budgeted, poll_consume_budget, PER_POLL};
pub(crate) use cell::Site;
pub use combinators::{join_all, try_join_all, JoinAll, TryJoinAll};
pub use id::{id, try_id, Id};
pub(crate) use join::panic_message;
pub use join::{JoinError, JoinHandle};
pub use join_set::JoinSet;
pub use local::{AccessError, LocalKey, TaskLocalFuture};
pub(crate) use named_sites::site_name;
pub use named_sites::spawn_named_static;
pub use yield_now::{yield_now, YieldNow};

use crate::event_loop::Core;

/// Futures larger than this (in bytes) are moved to the heap before they
/// are spawned (see "Large futures and the stack"). Tokio's figures, kept for
/// the same reasons: in a debug build each frame of the spawn path holds its
/// own copy, so boxing early saves the most there (2 KiB); optimised builds
/// elide most copies, and below 16 KiB the extra allocation and pointer
/// chase per poll cost more than the copy (a server connection's future is
/// a little over 1 KiB and stays unboxed either way).
pub const BOX_THRESHOLD: usize = if cfg!(debug_assertions) { 2 * 1024 } else { 16 * 1024 };

/// Whether a future of type `F` is moved to the heap before it is spawned.
///
/// Callers test it in a `const { }` block: then an unoptimised build
/// compiles only the branch taken, and the other branch's stack slot for
/// the future (a second copy, in the same frame) is never reserved.
pub(crate) const fn should_box<F>() -> bool {
    std::mem::size_of::<F>() > BOX_THRESHOLD
}

/// Identifies a task within the process for logs and errors: the number of
/// the loop it runs on and its spawn order there (`3.17` is loop 3's 17th
/// task). Blocking jobs use loop number 0 and their own sequence.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct TaskId {
    loop_id: u32,
    seq: u64,
}

impl TaskId {
    pub(crate) fn new(loop_id: u32, seq: u64) -> TaskId {
        TaskId { loop_id, seq }
    }

    /// The number of the loop the task runs on.
    pub(crate) fn loop_id(self) -> u32 {
        self.loop_id
    }

    /// The task's number on its loop (what a trace names it by).
    pub(crate) fn seq(self) -> u64 {
        self.seq
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.loop_id, self.seq)
    }
}

/// Who a task is, for humans: its id, and its spawn site with an optional
/// name. What a blocking job's `JoinHandle` keeps; a task cell keeps the
/// same two in a more compact form (see [`cell::Header`]).
#[derive(Clone)]
pub(crate) struct TaskInfo {
    pub(crate) id: TaskId,
    pub(crate) site: Site,
}

impl fmt::Display for TaskInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Who(self.id, &self.site).fmt(f)
    }
}

/// A task's id and site, displayed as logs and errors name a task:
/// "task 1.7 'name' (spawned at src/main.rs:3:5)".
pub(crate) struct Who<'a>(pub(crate) TaskId, pub(crate) &'a Site);

impl fmt::Display for Who<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Who(id, site) = self;
        match site.name() {
            Some(name) => write!(f, "task {id} '{name}' (spawned at {})", site.location()),
            None => write!(f, "task {id} (spawned at {})", site.location()),
        }
    }
}

/// What the loop needs from a task without knowing its future's type: the
/// run-queue entry is an `Arc<dyn Runnable>`.
pub(crate) trait Runnable: Send + Sync + 'static {
    /// Shared bookkeeping (state word, owner, identity).
    fn header(&self) -> &cell::Header;
    /// Records the task's index in its loop's task list.
    fn set_slot(&self, slot: usize);
    /// Polls the future once (or completes it as cancelled). Loop only.
    fn run(self: Arc<Self>, core: &Core);
    /// Drops the future at shutdown, completing the task as cancelled. Loop
    /// only.
    fn shutdown(self: Arc<Self>, core: &Core);
}

/// Spawns `future` as a new task on the current event loop and returns a
/// handle to its result. asyncio's `create_task`.
///
/// The task starts running once the spawner's poll ends (in the same tick
/// when a task spawns it, while the tick's budget lasts), stays on this loop (so
/// the future need not be `Send`) and keeps running if the handle is dropped.
///
/// A spawned task **inherits nothing** from the code that spawns it: not its
/// [task-local values](crate::task_local), not a cancellation (aborting or
/// dropping the spawner leaves the task running), not a name. Whatever it
/// needs, pass it in: move values into the future, scope task-locals again
/// (`KEY.scope(KEY.get(), future)`), keep its [`JoinHandle`] or put it in a
/// [`JoinSet`] to cancel it with its parent.
///
/// # Panics
/// Outside an eddy runtime. To spawn onto a loop from another thread, use a
/// [`Handle`](crate::Handle).
///
/// ```
/// eddy::run(async {
///     let a = eddy::spawn(async { 1 });
///     let b = eddy::spawn(async { 2 });
///     assert_eq!(a.await.unwrap() + b.await.unwrap(), 3);
/// });
/// ```
#[track_caller]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let location = Location::caller();
    if const { should_box::<F>() } {
        spawn_here("eddy::spawn", Box::pin(future), None, location)
    } else {
        spawn_here("eddy::spawn", future, None, location)
    }
}

/// [`spawn`] with a name that debug mode and `JoinError` messages use instead
/// of the spawn location alone.
///
/// ```
/// eddy::run(async {
///     let handle = eddy::task::spawn_named("worker", async { panic!("boom") });
///     let error = handle.await.unwrap_err();
///     assert!(error.to_string().contains("'worker'"));
/// });
/// ```
#[track_caller]
pub fn spawn_named<F>(name: impl Into<String>, future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let location = Location::caller();
    let name = Some(name.into().into_boxed_str());
    if const { should_box::<F>() } {
        spawn_here("eddy::task::spawn_named", Box::pin(future), name, location)
    } else {
        spawn_here("eddy::task::spawn_named", future, name, location)
    }
}

/// Spawns onto the current loop; `future` is already small (or boxed).
#[track_caller]
pub(crate) fn spawn_here<F>(
    what: &str,
    future: F,
    name: Option<Box<str>>,
    location: &'static Location<'static>,
) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    crate::context::expect_core(what, |core| core.spawn(future, name, location))
}
