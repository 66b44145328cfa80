//! `Handle`: how another thread (or another loop) hands work to a loop.

use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::context;
use crate::shared::Shared;
use crate::task::cell::Task;
use crate::task::{should_box, JoinHandle, Site};
use crate::trace::Snapshot;

/// How long [`Handle::trace_snapshot`] waits for a loop to answer: a loop
/// answers between two polls, so only a loop stuck in one poll (or loop 0
/// with no `block_on`) takes longer. Picked to be far beyond any healthy
/// poll and short enough that a tool asking does not seem to hang.
const SNAPSHOT_TIMEOUT: Duration = Duration::from_secs(5);

/// A cheap, cloneable, `Send + Sync` reference to one event loop, for
/// spawning onto it from anywhere. Tasks spawned through it run on that loop
/// and stay there.
///
/// ```
/// let runtime = eddy::Builder::new().workers(2).build()?;
/// let worker = runtime.handles()[1].clone();
/// let answer = runtime.block_on(async move {
///     worker.spawn(async { 40 + 2 }).await
/// });
/// assert_eq!(answer.unwrap(), 42);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct Handle {
    shared: Arc<Shared>,
    /// For the runtime's own handle to loop 0: whether a `block_on` is
    /// driving that loop right now, so a spawn that nothing will run for
    /// the time being can say so. `None` for worker loops (always driven)
    /// and for handles got with `Handle::current` (which knows only the
    /// loop, not its runtime).
    driver: Option<Arc<Driver>>,
}

/// Whether loop 0 is driven by a `block_on` (see [`Handle`]'s `driver`).
#[derive(Default)]
pub(crate) struct Driver {
    driving: AtomicBool,
    /// The "nothing runs this task yet" warning is given once per runtime.
    warned: AtomicBool,
}

/// Marks loop 0 as driven for as long as it lives (a `block_on`), also when
/// the future panics.
pub(crate) struct Driving<'a>(&'a Driver);

impl Driver {
    pub(crate) fn drive(&self) -> Driving<'_> {
        self.driving.store(true, Ordering::Release);
        Driving(self)
    }
}

impl Drop for Driving<'_> {
    fn drop(&mut self) {
        self.0.driving.store(false, Ordering::Release);
    }
}

impl Handle {
    pub(crate) fn new(shared: Arc<Shared>) -> Handle {
        Handle { shared, driver: None }
    }

    /// The handle to a runtime's loop 0, which knows when it is driven.
    pub(crate) fn for_loop_zero(shared: Arc<Shared>, driver: Arc<Driver>) -> Handle {
        Handle { shared, driver: Some(driver) }
    }

    /// The handle of the loop running on this thread.
    ///
    /// # Panics
    /// Outside an eddy runtime; see [`Handle::try_current`].
    #[track_caller]
    pub fn current() -> Handle {
        context::expect_core("eddy::Handle::current", |core| Handle::new(core.shared().clone()))
    }

    /// The handle of the loop running on this thread, if any.
    pub fn try_current() -> Option<Handle> {
        context::with_core(|core| Handle::new(core.shared().clone()))
    }

    /// The loop's number (as in task ids and logs).
    pub fn loop_id(&self) -> u32 {
        self.shared.loop_id
    }

    /// The loop's statistics: ticks, polls, time busy and parked, and its
    /// ready queue, timers, sockets and tasks, as of its last park (see
    /// [`LoopStats`](crate::LoopStats)). From any thread, at any
    /// time, without disturbing the loop: a few relaxed loads.
    pub fn loop_stats(&self) -> crate::LoopStats {
        self.shared.stats.read(self.shared.loop_id)
    }

    /// A [task dump](crate::debug::TaskDump) of this handle's loop: every
    /// live task, its state and statistics, and who holds its waker. Lost
    /// tasks (idle, with nothing able to wake them) are also logged at
    /// `warn` with their spawn site.
    ///
    /// The dump is always taken *on* the loop. Called on the loop's own
    /// thread (from one of its tasks, or its `block_on` future), it is
    /// taken right there. Called from anywhere else, it is sent to the loop
    /// as a small task and this thread waits for the answer, at most
    /// [`DUMP_TIMEOUT`](crate::debug::DUMP_TIMEOUT): a loop stuck inside a
    /// poll cannot answer (the stall watchdog names the culprit instead),
    /// and loop 0 answers only while a `block_on` drives it; the dump then
    /// says it was not answered. From a task of *another* loop, that loop
    /// would wait too: use [`dump_async`](Self::dump_async) there.
    ///
    /// ```
    /// let runtime = eddy::Builder::new().workers(2).build()?;
    /// let worker = runtime.handles()[1].clone();
    /// let (polled, was_polled) = std::sync::mpsc::channel();
    /// let parked = worker.spawn(async move {
    ///     polled.send(()).unwrap();
    ///     std::future::pending::<()>().await // waits for nothing, forever
    /// });
    /// was_polled.recv().unwrap();
    /// let dump = worker.dump(); // answered once that poll is over
    /// println!("{dump}");
    /// assert!(dump.answered);
    /// assert!(dump.task(parked.id()).unwrap().is_lost());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn dump(&self) -> crate::debug::TaskDump {
        let here = context::with_core(|core| {
            Arc::ptr_eq(core.shared(), &self.shared).then(|| crate::debug::dump::take(core, false))
        });
        match here.flatten() {
            Some(dump) => dump,
            None => self.dump_remote(),
        }
    }

    /// [`dump`](Self::dump) for a task that wants the dump of *another*
    /// loop without blocking its own: the request travels the same way, and
    /// this future waits for the answer like any other. No timeout (a loop
    /// stuck in a poll never answers): wrap it in
    /// [`time::timeout`](crate::time::timeout) if that matters. On the
    /// handle's own loop it completes at once.
    ///
    /// ```
    /// let runtime = eddy::Builder::new().workers(2).build()?;
    /// let worker = runtime.handles()[1].clone();
    /// let dump = runtime.block_on(async move { worker.dump_async().await });
    /// assert!(dump.answered);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn dump_async(&self) -> impl Future<Output = crate::debug::TaskDump> + Send + 'static {
        let here = context::with_core(|core| {
            Arc::ptr_eq(core.shared(), &self.shared).then(|| crate::debug::dump::take(core, false))
        });
        enum Answer {
            Taken(crate::debug::TaskDump),
            Asked(JoinHandle<Option<crate::debug::TaskDump>>),
        }
        let loop_id = self.shared.loop_id;
        let answer = match here.flatten() {
            Some(dump) => Answer::Taken(dump),
            None => {
                let ask = || async { context::with_core(|core| crate::debug::dump::take(core, true)) };
                Answer::Asked(self.spawn_made(ask, Location::caller()))
            }
        };
        async move {
            match answer {
                Answer::Taken(dump) => dump,
                Answer::Asked(asked) => match asked.await {
                    Ok(Some(dump)) => dump,
                    // Cancelled: the runtime shut down before the loop got to it.
                    _ => crate::debug::TaskDump::unanswered(loop_id),
                },
            }
        }
    }

    /// Asks the loop for a dump through a task, and waits for it.
    #[track_caller]
    fn dump_remote(&self) -> crate::debug::TaskDump {
        let (answer, answered) = std::sync::mpsc::sync_channel(1);
        let ask = move || async move {
            let dump = context::with_core(|core| crate::debug::dump::take(core, true));
            if let Some(dump) = dump {
                let _ = answer.send(dump);
            }
        };
        let asked = self.spawn_made(ask, Location::caller());
        match answered.recv_timeout(crate::debug::DUMP_TIMEOUT) {
            Ok(dump) => dump,
            Err(_) => {
                asked.abort();
                crate::debug::TaskDump::unanswered(self.shared.loop_id)
            }
        }
    }

    /// Spawns `future` onto this handle's loop. The future crosses threads
    /// once, so it must be `Send`; to run a `!Send` future there, build it
    /// on the loop with [`spawn_with`](Self::spawn_with).
    ///
    /// If the runtime has shut down, the task never runs and its handle
    /// reports it cancelled. Loop 0 runs only inside `block_on`: a task
    /// sent there while no `block_on` runs waits for the next one (see
    /// [`Builder::workers`](crate::Builder::workers)).
    ///
    /// A large future is moved to the heap first, as by
    /// [`spawn`](crate::spawn) (see "Large futures and the stack" in
    /// [`crate::task`]).
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let location = Location::caller();
        if const { should_box::<F>() } {
            let future = Box::pin(future);
            self.spawn_made(move || future, location)
        } else {
            self.spawn_made(move || future, location)
        }
    }

    /// Runs `make` on this handle's loop and spawns the future it returns
    /// there. Only `make` has to be `Send`: the future may hold `Rc`s and
    /// sockets, which never leave the loop. This is how a server starts one
    /// accept loop per worker.
    ///
    /// ```
    /// use std::rc::Rc;
    ///
    /// let runtime = eddy::Builder::new().workers(2).build()?;
    /// let worker = runtime.handles()[1].clone();
    /// let length = runtime.block_on(async move {
    ///     worker.spawn_with(|| async {
    ///         let local = Rc::new("not Send"); // fine: built on the loop
    ///         eddy::task::yield_now().await;
    ///         local.len()
    ///     }).await
    /// });
    /// assert_eq!(length.unwrap(), 8);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// A large future (see "Large futures and the stack" in [`crate::task`])
    /// goes straight from `make` into a box on the loop, so building it
    /// there needs the stack for one copy of it.
    #[track_caller]
    pub fn spawn_with<M, F>(&self, make: M) -> JoinHandle<F::Output>
    where
        M: FnOnce() -> F + Send + 'static,
        F: Future + 'static,
        F::Output: Send + 'static,
    {
        let location = Location::caller();
        if const { should_box::<F>() } {
            self.spawn_made(move || Box::pin(make()), location)
        } else {
            self.spawn_made(make, location)
        }
    }

    /// `spawn_with`, once the future `make` returns is known to be small
    /// (or boxed).
    fn spawn_made<M, F>(&self, make: M, location: &'static Location<'static>) -> JoinHandle<F::Output>
    where
        M: FnOnce() -> F + Send + 'static,
        F: Future + 'static,
        F::Output: Send + 'static,
    {
        // Until its first poll, on the loop, the future below holds only
        // `make`, which is `Send`: that is what makes sending it sound.
        let future = async move { make().await };
        let on_this_loop =
            context::with_core(|core| Arc::ptr_eq(core.shared(), &self.shared)).unwrap_or(false);
        if on_this_loop {
            return context::expect_core("eddy::Handle::spawn", |core| core.spawn(future, None, location));
        }
        let seq = self.shared.next_task_seq();
        let task = Task::new(future, self.shared.clone(), seq, Site::new(None, location));
        let handle = JoinHandle::for_task(task.clone());
        if let Err(refused) = self.shared.inject(task.clone()) {
            drop(refused);
            task.cancel_unsent();
            return handle;
        }
        self.warn_if_undriven(&handle);
        handle
    }

    /// This loop's flight recorder, copied out (see [`crate::trace`]).
    ///
    /// Works from any thread: on the loop's own thread the ring is read
    /// directly; from elsewhere the loop is sent a small task that reads it
    /// between two polls (it shows in the trace, still running), and the
    /// caller waits for the answer (from another loop's task this blocks
    /// that loop meanwhile, like any blocking call).
    ///
    /// ```
    /// let runtime = eddy::Builder::new().workers(2).build()?;
    /// let worker = runtime.handles()[1].clone();
    /// let job = worker.spawn(async { eddy::task::spawn_named("job", async {}).await });
    /// runtime.block_on(job).unwrap().unwrap();
    /// let snapshot = worker.trace_snapshot()?; // from this thread, not the worker's
    /// assert!(snapshot.to_chrome_json().contains("\"job\""));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    /// If the loop has shut down, is loop 0 with no `block_on` running, or
    /// does not answer within a few seconds (stuck in one poll).
    pub fn trace_snapshot(&self) -> std::io::Result<Snapshot> {
        let here = context::with_core(|core| {
            Arc::ptr_eq(core.shared(), &self.shared).then(|| Snapshot { loops: vec![core.trace_snapshot()] })
        });
        if let Some(Some(snapshot)) = here {
            return Ok(snapshot);
        }
        let loop_id = self.shared.loop_id;
        if let Some(driver) = &self.driver {
            if !driver.driving.load(Ordering::Acquire) {
                return Err(std::io::Error::other(format!(
                    "taking a trace snapshot of loop {loop_id}: it is loop 0 of its runtime and no block_on \
                     is running it (Runtime::trace_snapshot reads it directly)"
                )));
            }
        }
        let (answer, answered) = std::sync::mpsc::channel();
        let reader = self.spawn(async move {
            let _ = answer.send(context::with_core(|core| core.trace_snapshot()));
        });
        drop(reader);
        match answered.recv_timeout(SNAPSHOT_TIMEOUT) {
            Ok(Some(trace)) => Ok(Snapshot { loops: vec![trace] }),
            Ok(None) => {
                Err(std::io::Error::other(format!("taking a trace snapshot of loop {loop_id}: no loop")))
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Err(std::io::Error::other(format!(
                "taking a trace snapshot of loop {loop_id}: the loop has shut down"
            ))),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("taking a trace snapshot of loop {loop_id}: no answer within {SNAPSHOT_TIMEOUT:?}"),
            )),
        }
    }

    /// Loop 0 has no thread of its own: a task sent to it while no
    /// `block_on` runs waits for the next one. That is by design (and how
    /// `block_on(handle)` after a spawn works), but a program that expected
    /// a background thread would wait forever in silence, so say it once.
    fn warn_if_undriven<T>(&self, handle: &JoinHandle<T>) {
        let Some(driver) = &self.driver else { return };
        if driver.driving.load(Ordering::Acquire) || driver.warned.swap(true, Ordering::AcqRel) {
            return;
        }
        log::warn!(
            "task {} was spawned onto loop {} (loop 0 of its runtime) while no Runtime::block_on is running: \
             loop 0 has no thread of its own, so the task starts only when block_on next runs on that \
             runtime (and is cancelled if the runtime is dropped first). For background work, build with \
             workers(2) or more and spawn onto handles()[1..]. (Said once per runtime.)",
            handle.id(),
            self.shared.loop_id,
        );
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle").field("loop_id", &self.shared.loop_id).finish()
    }
}
