//! `spawn_blocking`: run blocking code on a small thread pool and await its
//! result like any task. asyncio's `to_thread`.
//!
//! A loop thread must never block: while one task sits in a blocking call,
//! every other task, timer and socket on that loop waits. Blocking work (file
//! I/O, DNS, CPU-heavy hashing) goes to this pool instead; its result travels
//! back through a [`oneshot`](crate::sync::oneshot::channel), whose send wakes the
//! awaiting task from the pool thread.
//!
//! Threads are started on demand, up to a cap (16 by default: a few per core
//! for I/O-bound work on the 2-core machines eddy targets, picked rather than
//! measured), and exit after 10 seconds idle (tokio's default), so an idle
//! runtime holds no pool threads. Jobs beyond the cap wait in a FIFO queue.
//!
//! # Bursts
//!
//! A submit hands its job to an idle thread only if that thread is not
//! already promised to an earlier submit: between `notify_one` and the
//! woken thread taking the lock, the thread still counts as idle, so the
//! pool keeps a separate count of such *claimed* threads. A burst of `n`
//! jobs arriving while `k` threads are idle thus wakes the `k` and starts
//! `n - k` new ones (up to the cap): all `n` run at once, none waits
//! behind another on the one thread that happened to be idle.
//!
//! The pool belongs to the runtime. When the runtime drops, jobs that have not
//! started are dropped (their handles report cancellation); running jobs
//! finish on their own, since a thread cannot be interrupted safely.

use std::collections::VecDeque;
use std::panic::{self, AssertUnwindSafe, Location};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use super::{JoinError, JoinHandle, Site, TaskId, TaskInfo};
use crate::shared::Shared;
use crate::sync::oneshot;

type Job = Box<dyn FnOnce() + Send>;

/// A runtime's blocking thread pool. Cheap to clone.
#[derive(Clone)]
pub(crate) struct BlockingPool {
    inner: Arc<PoolInner>,
}

struct PoolInner {
    state: Mutex<PoolState>,
    /// Signalled when a job is queued or the pool shuts down.
    job_ready: Condvar,
    max_threads: usize,
    keep_alive: Duration,
    /// Jobs queued or running. A loop with a paused clock must not jump
    /// time forward while one of these may still wake a task.
    in_flight: AtomicUsize,
    /// Loops that are idle on a paused clock, waiting for `in_flight` to
    /// drop to zero (see `notify_when_idle`); `has_idle_waiters` lets a job
    /// skip the lock when there are none.
    idle_waiters: Mutex<Vec<Arc<Shared>>>,
    has_idle_waiters: AtomicBool,
    /// Numbers blocking jobs for their `TaskId`s.
    next_seq: AtomicU64,
}

struct PoolState {
    queue: VecDeque<Job>,
    /// Pool threads alive (running a job, idle, or about to exit).
    threads: usize,
    /// Threads waiting on `job_ready`.
    idle: usize,
    /// Idle threads a submit has already notified and so promised a job,
    /// but which have not woken up to take it yet. Only `idle - claimed`
    /// threads are free for the next submit: counting `idle` alone made a
    /// burst of submits all count on the same sleeping thread, and run
    /// serially on it (see "Bursts" in the module docs).
    claimed: usize,
    shutdown: bool,
}

/// Decrements `in_flight` when a job is done or dropped unrun.
struct InFlight(Arc<PoolInner>);

impl Drop for InFlight {
    fn drop(&mut self) {
        // The job's result woke its task *before* this count drops (so a
        // paused clock cannot move between the two), which means the task's
        // loop may already have run it and gone idle while the pool still
        // looked busy. It asked to be told when the pool drains: tell it,
        // or its paused clock would stall until its next timeout.
        // SeqCst pairs with `notify_when_idle`: either the waiter sees the
        // count at zero, or this sees the waiter.
        if self.0.in_flight.fetch_sub(1, Ordering::SeqCst) == 1
            && self.0.has_idle_waiters.load(Ordering::SeqCst)
        {
            self.0.has_idle_waiters.store(false, Ordering::SeqCst);
            let waiters = std::mem::take(&mut *self.0.idle_waiters.lock().unwrap_or_else(|p| p.into_inner()));
            waiters.iter().for_each(|waiter| waiter.notify());
        }
    }
}

impl BlockingPool {
    pub(crate) fn new(max_threads: usize) -> BlockingPool {
        BlockingPool {
            inner: Arc::new(PoolInner {
                state: Mutex::new(PoolState {
                    queue: VecDeque::new(),
                    threads: 0,
                    idle: 0,
                    claimed: 0,
                    shutdown: false,
                }),
                job_ready: Condvar::new(),
                max_threads: max_threads.max(1),
                keep_alive: Duration::from_secs(10),
                in_flight: AtomicUsize::new(0),
                idle_waiters: Mutex::new(Vec::new()),
                has_idle_waiters: AtomicBool::new(false),
                next_seq: AtomicU64::new(1),
            }),
        }
    }

    /// Whether any job is queued or running.
    pub(crate) fn is_busy(&self) -> bool {
        self.inner.in_flight.load(Ordering::Acquire) > 0
    }

    /// For a loop idle on a paused clock: returns whether a job is still in
    /// flight, and if so arranges for `waiter` to be notified once none is.
    pub(crate) fn notify_when_idle(&self, waiter: &Arc<Shared>) -> bool {
        {
            let mut waiters = self.inner.idle_waiters.lock().unwrap_or_else(|p| p.into_inner());
            if !waiters.iter().any(|known| Arc::ptr_eq(known, waiter)) {
                waiters.push(waiter.clone());
            }
            self.inner.has_idle_waiters.store(true, Ordering::SeqCst);
        }
        self.inner.in_flight.load(Ordering::SeqCst) > 0
    }

    /// Queues `f` and returns a handle to its result.
    pub(crate) fn spawn<F, R>(&self, f: F, location: &'static Location<'static>) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let id = TaskId::new(0, self.inner.next_seq.fetch_add(1, Ordering::Relaxed));
        let info = TaskInfo { id, site: Site::new(Some("spawn_blocking".into()), location) };
        let (tx, rx) = oneshot::channel();
        let cancel = Arc::new(AtomicBool::new(false));
        let handle = JoinHandle::for_blocking(rx, cancel.clone(), info.clone());
        self.inner.in_flight.fetch_add(1, Ordering::AcqRel);
        let in_flight = InFlight(self.inner.clone());
        let job: Job = Box::new(move || {
            let result = if cancel.load(Ordering::Acquire) {
                Err(JoinError::cancelled(info.id, &info.site))
            } else {
                panic::catch_unwind(AssertUnwindSafe(f))
                    .map_err(|payload| JoinError::panicked(info.id, &info.site, payload))
            };
            // Nobody listening (handle dropped) is fine: the job was detached.
            // The send wakes whoever awaits the handle, with their waker:
            // user code that may panic. Contained, so this pool thread (and
            // the pool's count of its threads) survives.
            let sent = panic::catch_unwind(AssertUnwindSafe(move || drop(tx.send(result))));
            if let Err(payload) = sent {
                log::error!(
                    "spawn_blocking: the waker awaiting a job's result panicked in wake(): {}",
                    super::panic_message(payload.as_ref())
                );
            }
            // Only now may a paused clock move on: the send above has already
            // queued the waiting task.
            drop(in_flight);
        });
        self.submit(job);
        handle
    }

    fn submit(&self, job: Job) {
        let mut state = self.lock();
        if state.shutdown {
            // Dropping the job drops its sender: the handle reports cancelled.
            return;
        }
        state.queue.push_back(job);
        if state.idle > state.claimed {
            // Every notify wakes one more waiter (we hold the lock, so none
            // of them has taken it back yet), which then takes a job.
            state.claimed += 1;
            self.inner.job_ready.notify_one();
            return;
        }
        if state.threads >= self.inner.max_threads {
            return; // Every thread is busy; the job waits its turn.
        }
        let worker_number = state.threads;
        let inner = self.inner.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("eddy-blocking-{worker_number}"))
            .spawn(move || worker(inner));
        match spawned {
            Ok(_) => state.threads += 1,
            Err(error) if state.threads == 0 => {
                // No thread will ever run what is queued: fail it now rather
                // than let its handle wait forever.
                log::error!("spawn_blocking: cannot start a pool thread ({error}); cancelling queued jobs");
                state.queue.clear();
            }
            Err(error) => {
                log::warn!("spawn_blocking: cannot start another pool thread ({error}); job queued")
            }
        }
    }

    /// Stops accepting jobs and drops the queued ones.
    pub(crate) fn shutdown(&self) {
        let queued = {
            let mut state = self.lock();
            state.shutdown = true;
            std::mem::take(&mut state.queue)
        };
        self.inner.job_ready.notify_all();
        // Dropped outside the lock: a job's drop wakes its awaiting task.
        drop(queued);
    }

    fn lock(&self) -> MutexGuard<'_, PoolState> {
        lock(&self.inner.state)
    }
}

/// Locks the pool state. Jobs run outside the lock and catch their own
/// panics, so a poisoned lock can only come from a bug in this file; the
/// state is still consistent (every critical section is a few field writes),
/// so carry on rather than take the runtime down.
fn lock(state: &Mutex<PoolState>) -> MutexGuard<'_, PoolState> {
    state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn worker(inner: Arc<PoolInner>) {
    let mut state = lock(&inner.state);
    loop {
        if let Some(job) = state.queue.pop_front() {
            drop(state);
            job();
            state = lock(&inner.state);
            continue;
        }
        if state.shutdown {
            break;
        }
        state.idle += 1;
        let (guard, timeout) = inner
            .job_ready
            .wait_timeout(state, inner.keep_alive)
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        state = guard;
        state.idle -= 1;
        // Whether this wake was the one a submit asked for or a spurious
        // one, a job in the queue is now this thread's to take, so one
        // promise is kept (or, if none was made, nothing is owed).
        state.claimed = state.claimed.saturating_sub(1).min(state.idle);
        if timeout.timed_out() && state.queue.is_empty() {
            break;
        }
    }
    state.threads -= 1;
}

/// Runs `f` on the runtime's blocking pool and returns a handle to its
/// result, so blocking code does not stall the event loop.
///
/// The closure runs on another thread, so it and its result must be `Send`.
/// A panic in it is caught and reported through the handle.
///
/// # Panics
/// Outside an eddy runtime.
///
/// ```
/// eddy::run(async {
///     let sum = eddy::task::spawn_blocking(|| (1..=100u32).sum::<u32>()).await.unwrap();
///     assert_eq!(sum, 5050);
/// });
/// ```
#[track_caller]
pub fn spawn_blocking<F, R>(f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let location = Location::caller();
    crate::context::expect_core("eddy::task::spawn_blocking", |core| core.blocking_pool().spawn(f, location))
}
