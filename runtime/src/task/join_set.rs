//! `JoinSet`: a set of spawned tasks whose results come back in the order
//! they finish. asyncio's `TaskGroup` and `as_completed`, tokio's `JoinSet`.
//!
//! # How it is built
//!
//! The set owns the [`JoinHandle`] of each task, in a slab. Polling every
//! handle on every wake would cost O(n) per completion, so each entry gets
//! a waker of its own instead:
//!
//! ```text
//!   task finishes ──▶ wakes its entry's waker ──▶ pushes the entry's index on
//!                                                  the `ready` queue (once)
//!                                                  and wakes the set's waiter
//!   join_next ──▶ pops indices from `ready`, polls only those handles
//! ```
//!
//! A new entry starts on the `ready` queue, so its handle is polled once
//! (registering the entry's waker) by the next `join_next`. A wake that finds
//! the entry already queued does nothing, so an entry is queued at most once;
//! a stale index (its entry already gone, or its slot reused) only causes one
//! spurious poll that returns `Pending`. The queue is behind a `Mutex`
//! because a task's join waker may be woken from any thread (a task on
//! another loop, a `Handle`); it is held only to push or pop an index.
//!
//! So `join_next` costs O(1) per finished task, results come back in
//! completion order (the order the wakes arrived), and a set can hold many
//! thousands of tasks.
//!
//! # Cancellation
//!
//! - Dropping the set **aborts every task it still holds** (like leaving a
//!   `TaskGroup` that failed): their futures are dropped at their loop's next
//!   turn. To let tasks outlive the set, spawn them with `eddy::spawn`
//!   instead, or [`detach_all`](JoinSet::detach_all) first.
//! - `join_next` is cancel-safe: dropping its future loses no result; the
//!   next call returns it.
//! - [`shutdown`](JoinSet::shutdown) aborts everything and waits until every
//!   task has actually stopped.

use std::collections::VecDeque;
use std::fmt;
use std::future::{poll_fn, Future};
use std::panic::Location;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use atomic_waker::AtomicWaker;
use slab::Slab;

use super::{AbortHandle, JoinError, JoinHandle};
use crate::debug::holders::{self, Kind, Resource};
use crate::Handle;

/// A set of tasks spawned on the current loop (or through a [`Handle`]),
/// whose results [`join_next`](JoinSet::join_next) yields as they finish.
///
/// ```
/// use std::time::Duration;
/// use eddy::task::JoinSet;
/// use eddy::time::sleep;
///
/// eddy::test::run(async {
///     let mut set = JoinSet::new();
///     for secs in [3, 1, 2] {
///         set.spawn(async move {
///             sleep(Duration::from_secs(secs)).await;
///             secs
///         });
///     }
///     let mut finished = Vec::new();
///     while let Some(result) = set.join_next().await {
///         finished.push(result.unwrap());
///     }
///     assert_eq!(finished, [1, 2, 3]); // completion order
/// });
/// ```
///
/// # TaskGroup: the first error cancels the others
///
/// asyncio's `TaskGroup` cancels the remaining tasks when one fails. With a
/// `JoinSet` that is a loop that returns on the first error: returning drops
/// the set, and dropping the set aborts every task still in it.
///
/// ```
/// use std::time::Duration;
/// use eddy::task::JoinSet;
/// use eddy::time::sleep;
///
/// async fn fetch(page: u32) -> Result<String, String> {
///     sleep(Duration::from_secs(page.into())).await;
///     if page == 2 { Err(format!("page {page}: 404")) } else { Ok(format!("page {page}")) }
/// }
///
/// async fn fetch_all() -> Result<Vec<String>, String> {
///     let mut group = JoinSet::new();
///     for page in 1..=5 {
///         group.spawn(fetch(page));
///     }
///     let mut pages = Vec::new();
///     while let Some(result) = group.join_next().await {
///         // A panic or cancellation is an error too.
///         pages.push(result.map_err(|e| e.to_string())??);
///     }
///     Ok(pages)
/// } // an early `?` return drops `group`, which aborts pages 3, 4 and 5
///
/// eddy::test::run(async {
///     assert_eq!(fetch_all().await, Err("page 2: 404".to_string()));
/// });
/// ```
pub struct JoinSet<T> {
    entries: Slab<Entry<T>>,
    /// Shared with every entry's waker.
    ready: Arc<ReadyQueue>,
}

/// One task of the set.
struct Entry<T> {
    handle: JoinHandle<T>,
    /// Polls the handle, so the task's completion queues this entry.
    waker: Arc<EntryWaker>,
}

/// The entries whose tasks may have finished, and who waits for one.
struct ReadyQueue {
    indices: Mutex<VecDeque<usize>>,
    /// The task blocked in `join_next`, if any.
    waiter: AtomicWaker,
}

impl ReadyQueue {
    fn lock(&self) -> MutexGuard<'_, VecDeque<usize>> {
        // A panic while holding the lock (only a push or a pop) leaves the
        // queue consistent: keep using it.
        self.indices.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The waker of one entry: queues the entry's index, then wakes the waiter.
struct EntryWaker {
    index: usize,
    /// Set while the index is on the queue, so it is queued at most once.
    queued: AtomicBool,
    ready: Arc<ReadyQueue>,
}

impl std::task::Wake for EntryWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.queued.swap(true, Ordering::AcqRel) {
            self.ready.lock().push_back(self.index);
        }
        self.ready.waiter.wake();
    }
}

impl<T> JoinSet<T> {
    /// An empty set.
    pub fn new() -> JoinSet<T> {
        JoinSet {
            entries: Slab::new(),
            ready: Arc::new(ReadyQueue { indices: Mutex::new(VecDeque::new()), waiter: AtomicWaker::new() }),
        }
    }

    /// Tasks in the set: spawned and not yet returned by `join_next` (aborted
    /// tasks count until their cancellation is collected).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the set holds no task.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds a task that was already spawned; its handle now belongs to the
    /// set. Returns a handle to abort it individually.
    fn insert(&mut self, handle: JoinHandle<T>) -> AbortHandle {
        let abort = handle.abort_handle();
        let entry = self.entries.vacant_entry();
        let waker = Arc::new(EntryWaker {
            index: entry.key(),
            // Queued from the start: the first poll registers the waker.
            queued: AtomicBool::new(true),
            ready: self.ready.clone(),
        });
        self.ready.lock().push_back(entry.key());
        entry.insert(Entry { handle, waker });
        abort
    }

    /// Spawns `future` on the current loop (like [`crate::spawn`]) as a
    /// member of this set.
    ///
    /// # Panics
    /// Outside an eddy runtime.
    #[track_caller]
    pub fn spawn<F>(&mut self, future: F) -> AbortHandle
    where
        F: Future<Output = T> + 'static,
        T: 'static,
    {
        let location = Location::caller();
        // Boxed here if large, like every spawn entry point (see "Large
        // futures and the stack" in `task`).
        let handle = if const { super::should_box::<F>() } {
            super::spawn_here("eddy::task::JoinSet::spawn", Box::pin(future), None, location)
        } else {
            super::spawn_here("eddy::task::JoinSet::spawn", future, None, location)
        };
        self.insert(handle)
    }

    /// Spawns `future` on the loop of `handle` (another worker, say) as a
    /// member of this set; see [`Handle::spawn`].
    #[track_caller]
    pub fn spawn_on<F>(&mut self, future: F, handle: &Handle) -> AbortHandle
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        self.insert(handle.spawn(future))
    }

    /// Waits for the next task to finish and returns its result, or `None`
    /// if the set is empty. Results come in completion order. Cancel-safe:
    /// if this future is dropped before it completes, no result is lost.
    pub async fn join_next(&mut self) -> Option<Result<T, JoinError>> {
        poll_fn(|cx| self.poll_join_next(cx)).await
    }

    /// The poll form of [`join_next`](Self::join_next), for hand-written
    /// futures and for the `Stream` implementation.
    pub fn poll_join_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, JoinError>>> {
        // Register before looking, so a completion that lands after the
        // look still wakes us.
        let held = Resource::At(Kind::JoinSet, Arc::as_ptr(&self.ready).addr());
        holders::register(&self.ready.waiter, cx.waker(), held);
        match self.try_join_next() {
            Some(result) => Poll::Ready(Some(result)),
            None if self.entries.is_empty() => Poll::Ready(None),
            None => Poll::Pending,
        }
    }

    /// The result of a task that has already finished, if any, without
    /// waiting. `None` says only that none is finished right now.
    pub fn try_join_next(&mut self) -> Option<Result<T, JoinError>> {
        // One pass over what is queued now: a handle that answers `Pending`
        // and wakes itself at once (a cooperative budget running out) is
        // queued again, and must not keep this loop spinning. Its wake has
        // already woken the waiter, so `join_next` comes back to it.
        let mut queued = self.ready.lock().len();
        while queued > 0 {
            queued -= 1;
            let Some(index) = self.ready.lock().pop_front() else {
                break;
            };
            let Some(entry) = self.entries.get_mut(index) else {
                continue; // Stale: that entry was already collected.
            };
            // Cleared before polling, so a wake during or after the poll
            // queues the entry again.
            entry.waker.queued.store(false, Ordering::Release);
            let waker = Waker::from(entry.waker.clone());
            let mut cx = Context::from_waker(&waker);
            if let Poll::Ready(result) = Pin::new(&mut entry.handle).poll(&mut cx) {
                self.entries.remove(index);
                return Some(result);
            }
        }
        None
    }

    /// Aborts every task in the set. They stay in it until their
    /// cancellation is collected by `join_next` (as a cancelled
    /// [`JoinError`], or as their result if they finished first).
    pub fn abort_all(&mut self) {
        for (_, entry) in &self.entries {
            entry.handle.abort();
        }
    }

    /// Removes every task from the set without aborting it: they run on,
    /// detached, as if spawned with `eddy::spawn` and their handles dropped.
    pub fn detach_all(&mut self) {
        self.entries.clear();
        self.ready.lock().clear();
    }

    /// Aborts every task and waits until all of them have stopped (their
    /// futures dropped, or finished), discarding their results.
    pub async fn shutdown(&mut self) {
        self.abort_all();
        while self.join_next().await.is_some() {}
    }
}

impl<T> Default for JoinSet<T> {
    fn default() -> JoinSet<T> {
        JoinSet::new()
    }
}

impl<T> Drop for JoinSet<T> {
    fn drop(&mut self) {
        // Dropping a handle only detaches; a set cancels what it owns.
        self.abort_all();
    }
}

impl<T> fmt::Debug for JoinSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinSet").field("len", &self.len()).finish()
    }
}

/// Collects a set from already-spawned futures: `iter.map(..).collect()`.
impl<T: 'static, F: Future<Output = T> + 'static> FromIterator<F> for JoinSet<T> {
    #[track_caller]
    fn from_iter<I: IntoIterator<Item = F>>(futures: I) -> JoinSet<T> {
        let mut set = JoinSet::new();
        for future in futures {
            set.spawn(future);
        }
        set
    }
}

/// The completions, as a stream: `set.next().await` with
/// `futures::StreamExt` is `set.join_next().await`.
impl<T> futures_core::Stream for JoinSet<T> {
    type Item = Result<T, JoinError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_join_next(cx)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.len(), Some(self.len()))
    }
}
