//! The runtime: a set of event loops (one per thread) and the blocking pool,
//! and the entry points `eddy::run`, [`Runtime::block_on`] and [`Handle`].
//!
//! asyncio has one loop per thread and `asyncio.run(main())` to start one;
//! eddy is the same, and [`Builder::workers`] starts more loops, each on its
//! own thread and independent of the others (thread-per-core: a task stays on
//! the loop that spawned it, sockets stay with the loop that opened them, and
//! no loop ever takes a lock on its own hot path). Work reaches another loop
//! only through its [`Handle`].
//!
//! Loop 0 is driven by the thread that calls [`Runtime::block_on`]; its tasks
//! make progress only while some `block_on` runs (like tokio's
//! current-thread runtime). Worker loops 1..n run on their own threads from
//! `build()` until the runtime is dropped. A task sent to loop 0 through a
//! [`Handle`] while no `block_on` runs waits for the next one, and the
//! runtime's handle logs a warning the first time, since a program that
//! expected a background thread would otherwise wait in silence.

use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;

mod builder;
mod handle;
mod stats;

pub use builder::Builder;
pub(crate) use builder::LoopConfig;
use handle::Driver;
pub use handle::Handle;
pub use stats::LoopStats;
pub(crate) use stats::{AtPark, LoopCounters, PUBLISH_PERIOD_NS};

use crate::context;
use crate::debug::watchdog::Watchdog;
use crate::event_loop::Core;
use crate::shared::Shared;
use crate::task::{should_box, BlockingPool};
use crate::trace::Snapshot;

/// Runs `future` to completion on a new single-loop runtime and returns its
/// output, then drops the runtime (cancelling the tasks still running).
/// asyncio's `asyncio.run(main())`.
///
/// Debug mode is on if the environment has `EDDY_DEBUG=1`.
///
/// # Panics
/// If the runtime cannot be created (the process is out of file
/// descriptors), or if called from inside a runtime.
///
/// ```
/// eddy::run(async {
///     println!("hello from eddy");
/// });
/// ```
#[track_caller]
pub fn run<F: Future>(future: F) -> F::Output {
    let runtime = match Builder::new().build() {
        Ok(runtime) => runtime,
        Err(error) => panic!("eddy::run: cannot start the runtime: {error}"),
    };
    // Boxed here too, not only in `block_on`: every frame that takes the
    // future by value holds a copy of it in an unoptimised build.
    if const { should_box::<F>() } {
        runtime.block_on(Box::pin(future))
    } else {
        runtime.block_on(future)
    }
}

/// A set of event loops and a blocking pool. Dropping it shuts everything
/// down: each loop drops its remaining tasks (their destructors run) on its
/// own thread, and worker threads are joined.
pub struct Runtime {
    /// Loop 0, driven by `block_on` on the owning thread.
    core: Rc<Core>,
    /// Loops 1..n on their own threads.
    workers: Vec<Worker>,
    /// One handle per loop, loop 0 first.
    handles: Vec<Handle>,
    /// Whether a `block_on` drives loop 0 right now (shared with its handle).
    driver: Arc<Driver>,
    blocking: BlockingPool,
    /// Where to write the trace when dropped (`EDDY_TRACE`).
    trace_on_drop: Option<PathBuf>,
    /// The stall watchdog and its monitor thread, if on.
    watchdog: Option<(Arc<Watchdog>, thread::JoinHandle<()>)>,
}

struct Worker {
    shared: Arc<Shared>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Runtime {
    fn new(builder: &Builder) -> io::Result<Runtime> {
        let watchdog =
            builder.watchdog_threshold().map(|threshold| Watchdog::new(threshold, builder.workers));
        let config = builder.loop_config(watchdog.clone());
        let blocking = BlockingPool::new(builder.max_blocking_threads);
        let core = Core::new(config.clone(), blocking.clone(), 0)?;
        let driver = Arc::new(Driver::default());
        let mut runtime = Runtime {
            handles: vec![Handle::for_loop_zero(core.shared().clone(), driver.clone())],
            driver,
            core,
            workers: Vec::new(),
            blocking: blocking.clone(),
            trace_on_drop: config.trace.on_drop.clone(),
            watchdog: None,
        };
        if let Some(dog) = watchdog {
            let monitor = dog.start(&builder.thread_name)?;
            runtime.watchdog = Some((dog, monitor));
        }
        for index in 1..builder.workers {
            // On failure `runtime` drops here, stopping the workers started
            // so far.
            let (shared, thread) = start_worker(index, builder, config.clone(), blocking.clone())?;
            runtime.handles.push(Handle::new(shared.clone()));
            runtime.workers.push(Worker { shared, thread: Some(thread) });
        }
        Ok(runtime)
    }

    /// Runs `future` to completion on loop 0, driving every task, timer and
    /// socket of that loop meanwhile. asyncio's `loop.run_until_complete`.
    ///
    /// A panic in `future` itself propagates to the caller; a panic in a
    /// spawned task does not (it goes to the task's `JoinHandle`).
    ///
    /// `future` is treated like a task: each poll gets a cooperative budget
    /// ([`crate::task::budget`]), counts toward the loop's looks at I/O, and
    /// in debug mode a slow one is reported as `main`, with the location of
    /// this call (or of `eddy::run`'s).
    ///
    /// # Panics
    /// If called from inside a runtime (block_on within a task would freeze
    /// the outer loop): spawn the future instead.
    ///
    /// A large future is moved to the heap first, as spawned ones are (see
    /// "Large futures and the stack" in [`crate::task`]).
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        let location = std::panic::Location::caller();
        let _enter = context::enter(self.core.clone());
        let _driving = self.driver.drive();
        let _driven = Driven::new(&self.core);
        if const { should_box::<F>() } {
            self.core.block_on(Box::pin(future), location)
        } else {
            self.core.block_on(future, location)
        }
    }

    /// A handle to loop 0 (the `block_on` loop).
    pub fn handle(&self) -> &Handle {
        &self.handles[0]
    }

    /// Handles to every loop, loop 0 first: `workers(n)` gives `n` of them.
    pub fn handles(&self) -> &[Handle] {
        &self.handles
    }

    /// Every loop's flight recorder, copied out (see [`crate::trace`]).
    /// Loop 0's directly; each worker loop's between two of its polls
    /// (a loop that does not answer within a few seconds, stuck in one
    /// poll, is left out with a warning).
    pub fn trace_snapshot(&self) -> Snapshot {
        let mut snapshot = Snapshot { loops: vec![self.core.trace_snapshot()] };
        for handle in &self.handles[1..] {
            match handle.trace_snapshot() {
                Ok(worker) => snapshot.merge(worker),
                Err(error) => log::warn!("leaving loop {} out of the trace: {error}", handle.loop_id()),
            }
        }
        snapshot
    }

    /// Writes [`trace_snapshot`](Self::trace_snapshot) to `path` as Chrome
    /// Trace Event JSON: open it in <https://ui.perfetto.dev> or
    /// `chrome://tracing`.
    ///
    /// # Errors
    /// If the file cannot be written; the error names the path.
    pub fn write_trace(&self, path: impl AsRef<Path>) -> io::Result<()> {
        self.trace_snapshot().write_chrome_json(path)
    }

    /// Every loop's [statistics](LoopStats), loop 0 first (see
    /// [`Handle::loop_stats`]).
    pub fn loop_stats(&self) -> Vec<LoopStats> {
        self.handles.iter().map(Handle::loop_stats).collect()
    }

    /// A [task dump](crate::debug::TaskDump) of every loop, loop 0 first.
    /// Loop 0 is read directly (this is its thread); each worker loop is
    /// asked, as by [`Handle::dump`]. Lost tasks are also logged at `warn`.
    ///
    /// ```
    /// let runtime = eddy::Builder::new().workers(2).build()?;
    /// let dumps = runtime.dump();
    /// assert_eq!(dumps.len(), 2);
    /// assert!(dumps.iter().all(|dump| dump.answered && dump.tasks.is_empty()));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn dump(&self) -> Vec<crate::debug::TaskDump> {
        let zero = crate::debug::dump::take(&self.core, false);
        std::iter::once(zero).chain(self.handles[1..].iter().map(Handle::dump)).collect()
    }
}

/// Loop 0 is driven (its tasks can run) only while a `block_on` runs; the
/// runtime's paused clock must know, so that worker loops never wait for
/// loop 0 to go idle when nobody runs it. Undone on return and on unwind.
struct Driven<'a>(&'a Core);

impl<'a> Driven<'a> {
    fn new(core: &'a Core) -> Driven<'a> {
        core.clock().set_driven(true);
        Driven(core)
    }
}

impl Drop for Driven<'_> {
    fn drop(&mut self) {
        self.0.clock().set_driven(false);
    }
}

/// Starts worker loop `index` on its own thread and returns its shared half
/// once the loop exists (or the error that kept it from starting).
fn start_worker(
    index: usize,
    builder: &Builder,
    config: LoopConfig,
    blocking: BlockingPool,
) -> io::Result<(Arc<Shared>, thread::JoinHandle<()>)> {
    let (ready_tx, ready_rx) = mpsc::channel();
    let mut thread = thread::Builder::new().name(format!("{}-{index}", builder.thread_name));
    if let Some(bytes) = builder.thread_stack_size {
        thread = thread.stack_size(bytes);
    }
    let thread = thread
        .spawn(move || {
            // The core is created on its own thread: it is !Send.
            let core = match Core::new(config, blocking, index) {
                Ok(core) => core,
                Err(error) => {
                    let _ = ready_tx.send(Err(error));
                    return;
                }
            };
            let _ = ready_tx.send(Ok(core.shared().clone()));
            let _enter = context::enter(core.clone());
            // Panics in user code (task polls, wakers, destructors) are
            // caught where the loop runs it; this is defence in depth
            // against a bug in eddy itself. A loop that unwound is in an
            // unknown state, so it does not carry on: it shuts down, which
            // closes its queue, so every JoinHandle of its tasks reports
            // cancellation and every later spawn onto it is refused,
            // instead of waiting forever on a thread that is gone.
            let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| core.run_until_stopped()));
            if let Err(payload) = &ran {
                log::error!(
                    "event loop {} (thread {index}) panicked and stops; its tasks are cancelled and \
                     spawns onto it will be refused: {}",
                    core.loop_id(),
                    crate::task::panic_message(payload.as_ref()),
                );
            }
            core.shutdown();
        })
        .map_err(|e| io::Error::new(e.kind(), format!("starting event loop thread {index}: {e}")))?;
    let shared = ready_rx
        .recv()
        .map_err(|_| io::Error::other(format!("event loop thread {index} died while starting")))??;
    Ok((shared, thread))
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if let Some(path) = &self.trace_on_drop {
            // Before shutdown: the workers still answer, and the trace
            // shows the program, not its cancellation.
            match self.write_trace(path) {
                Ok(()) => log::info!("eddy trace written to {} (open it in ui.perfetto.dev)", path.display()),
                Err(error) => log::error!("{error}"),
            }
        }
        if let Some((dog, monitor)) = self.watchdog.take() {
            dog.stop();
            if monitor.join().is_err() {
                log::error!("the stall watchdog thread panicked");
            }
        }
        for worker in &self.workers {
            worker.shared.request_stop();
        }
        for worker in &mut self.workers {
            if let Some(thread) = worker.thread.take() {
                if thread.join().is_err() {
                    log::error!("event loop {} panicked while shutting down", worker.shared.loop_id);
                }
            }
        }
        // Loop 0's tasks are dropped on this thread with the loop current, so
        // their destructors can still cancel timers and close sockets. If
        // this runtime is dropped inside a task of another one, that outer
        // loop is current again once the guard drops.
        let enter = context::enter_for_shutdown(self.core.clone());
        self.core.shutdown();
        drop(enter);
        self.blocking.shutdown();
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").field("loops", &self.handles.len()).finish()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::event_loop::FAIL_NEXT_TICK;

    /// Defence in depth: should a worker loop itself fail (a bug in eddy,
    /// since user code's panics are contained), its tasks and later spawns
    /// onto it report cancellation instead of waiting forever.
    #[test]
    fn a_worker_loop_that_fails_cancels_its_tasks_and_refuses_spawns() {
        let runtime = crate::Builder::new().workers(2).build().unwrap();
        let worker = runtime.handles()[1].clone();
        runtime.block_on(async {
            let stranded = worker.spawn(std::future::pending::<()>());
            worker.spawn(async { FAIL_NEXT_TICK.with(|fail| fail.set(true)) }).await.unwrap();
            // Wakes the worker, whose next tick then fails before taking it in.
            let woke_it = worker.spawn(async { 2 });
            let limit = Duration::from_secs(10);
            let woke_it = crate::time::timeout(limit, woke_it).await.expect("a JoinHandle hung");
            assert!(woke_it.unwrap_err().is_cancelled());
            let stranded = crate::time::timeout(limit, stranded).await.expect("a JoinHandle hung");
            assert!(stranded.unwrap_err().is_cancelled());
            let later = crate::time::timeout(limit, worker.spawn(async { 1 })).await.expect("a spawn hung");
            assert!(later.unwrap_err().is_cancelled());
        });
    }
}
