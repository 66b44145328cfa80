//! The part of an event loop that other threads may touch: its injection
//! queue and the `mio::Waker` that interrupts its `epoll_wait`.
//!
//! Everything else about a loop (run queue, timers, sockets) is owned by its
//! thread and needs no synchronisation. The only ways in from outside are a
//! wake of one of its tasks and a spawn through a [`Handle`](crate::Handle);
//! both arrive here.
//!
//! # Waking a parked loop without a syscall per wake
//!
//! A producer pushes onto the queue, then sets `notified`; only the producer
//! that flips it from false to true writes to the eventfd. The loop clears
//! `notified` *before* it drains the queue. So a push that the drain misses
//! happened after the clear, found `notified` false (or found a producer that
//! already woke the loop), and the loop's next `epoll_wait` returns at once.
//! A burst of a thousand cross-thread wakes costs one eventfd write.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::task::{BlockingPool, Runnable};

/// The token under which the loop's `mio::Waker` reports.
pub(crate) const WAKER_TOKEN: mio::Token = mio::Token(usize::MAX);

/// One loop's cross-thread half.
pub(crate) struct Shared {
    /// Number of the loop, for task ids and logs (1-based, process-wide).
    pub(crate) loop_id: u32,
    /// Debug mode (asyncio's `debug=True`) is on for this loop.
    pub(crate) debug: bool,
    /// Tasks woken (or spawned) from other threads, waiting to be picked up.
    /// `None` once the loop has shut down: later wakes are dropped.
    injected: Mutex<Option<Vec<Arc<dyn Runnable>>>>,
    /// Whether some producer has already written to the eventfd since the
    /// loop last drained the queue (see the module docs).
    notified: AtomicBool,
    /// Interrupts `epoll_wait` from another thread.
    waker: mio::Waker,
    /// Set to ask a worker loop to stop (runtime shutdown).
    stop: AtomicBool,
    /// The runtime's blocking pool, reachable from any loop.
    pub(crate) blocking: BlockingPool,
    /// Numbers this loop's tasks. Atomic because a `Handle` on another
    /// thread may spawn onto the loop; uncontended, so cheap.
    next_task_seq: AtomicU64,
    /// Which task the loop is polling, readable from any thread (for a
    /// watchdog or a task dump; see `trace::LoopActivity`).
    pub(crate) activity: Arc<crate::trace::LoopActivity>,
    /// The loop's statistics, written by the loop when it parks, read by
    /// anyone (`runtime/stats.rs`).
    pub(crate) stats: crate::runtime::LoopCounters,
}

impl Shared {
    pub(crate) fn new(loop_id: u32, debug: bool, waker: mio::Waker, blocking: BlockingPool) -> Shared {
        Shared {
            loop_id,
            debug,
            injected: Mutex::new(Some(Vec::new())),
            notified: AtomicBool::new(false),
            waker,
            stop: AtomicBool::new(false),
            blocking,
            next_task_seq: AtomicU64::new(1),
            activity: Arc::default(),
            stats: Default::default(),
        }
    }

    /// The number of a fresh task id on this loop (a task cell keeps only
    /// that: the id's loop number is its owner's).
    pub(crate) fn next_task_seq(&self) -> u64 {
        self.next_task_seq.fetch_add(1, Ordering::Relaxed)
    }

    /// Puts a woken task on its loop's run queue: directly when called on
    /// that loop's thread, through the injection queue otherwise.
    pub(crate) fn schedule(self: &Arc<Self>, task: Arc<dyn Runnable>) {
        let mut task = Some(task);
        crate::context::with_loop(|core| {
            if Arc::ptr_eq(core.shared(), self) {
                if let Some(task) = task.take() {
                    core.push_ready(task);
                }
            }
        });
        if let Some(task) = task {
            // Refused only after shutdown; the task is dropped with the Arc.
            let _ = self.inject(task);
        }
    }

    /// [`schedule`](Self::schedule) onto the task's own loop, found in its
    /// header: a wake needs no clone of the owner's `Arc` (an atomic
    /// increment and decrement per wake) to keep it alive while the task
    /// moves into the queue; only a wake from another thread takes one.
    ///
    /// Generic and inlined into each task type's `wake`, so the header is
    /// read directly rather than through the `dyn Runnable` vtable.
    #[inline]
    pub(crate) fn schedule_on_owner<T: Runnable>(task: Arc<T>) {
        let mut task = Some(task);
        crate::context::with_loop(|core| {
            if let Some(task) = task.take_if(|task| Arc::ptr_eq(core.shared(), &task.header().owner)) {
                core.push_ready(task);
            }
        });
        if let Some(task) = task {
            Self::inject_on_owner(task);
        }
    }

    /// The cross-thread half of [`schedule_on_owner`](Self::schedule_on_owner),
    /// out of line and not generic: inlined into every task type's `wake`,
    /// its `Arc` clone and drop grew the frame of the common, same-thread
    /// wake.
    #[cold]
    #[inline(never)]
    fn inject_on_owner(task: Arc<dyn Runnable>) {
        let owner = task.header().owner.clone();
        // Refused only after shutdown; the task is dropped with the Arc.
        let _ = owner.inject(task);
    }

    /// Queues a task from another thread and makes sure the loop notices.
    /// Gives the task back if the loop has shut down.
    pub(crate) fn inject(&self, task: Arc<dyn Runnable>) -> Result<(), Arc<dyn Runnable>> {
        match self.lock_injected().as_mut() {
            Some(queue) => queue.push(task),
            None => return Err(task),
        }
        self.notify();
        Ok(())
    }

    /// Interrupts the loop's `epoll_wait`, unless a wake is already on its way.
    pub(crate) fn notify(&self) {
        if !self.notified.swap(true, Ordering::AcqRel) {
            if let Err(error) = self.waker.wake() {
                log::error!("loop {}: cannot wake the event loop: {error}", self.loop_id);
            }
        }
    }

    /// Whether a notification arrived since the last [`take_injected`](Self::take_injected).
    pub(crate) fn is_notified(&self) -> bool {
        self.notified.load(Ordering::Acquire)
    }

    /// Moves everything injected since the last call into `into` (which
    /// should be empty; swapping keeps both vectors' capacity, so steady
    /// state allocates nothing). Loop only.
    pub(crate) fn take_injected(&self, into: &mut Vec<Arc<dyn Runnable>>) {
        // Nobody has pushed since we last cleared the flag (a producer sets it
        // right after pushing, and one that has not yet done so will write to
        // the eventfd, so our next park returns at once): skip the lock.
        if !self.notified.load(Ordering::Acquire) {
            return;
        }
        self.notified.store(false, Ordering::Release);
        if let Some(queue) = self.lock_injected().as_mut() {
            std::mem::swap(queue, into);
        }
    }

    /// Refuses further injections and returns what was still queued.
    pub(crate) fn close(&self) -> Vec<Arc<dyn Runnable>> {
        self.lock_injected().take().unwrap_or_default()
    }

    /// Asks a worker loop to stop after its current tick.
    pub(crate) fn request_stop(&self) {
        self.stop.store(true, Ordering::Release);
        self.notify();
    }

    pub(crate) fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    /// The queue holds only `Arc`s and every critical section is a push or
    /// a swap, so a poisoned lock still guards a consistent queue.
    fn lock_injected(&self) -> MutexGuard<'_, Option<Vec<Arc<dyn Runnable>>>> {
        self.injected.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
