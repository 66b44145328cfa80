//! `Semaphore`: a count of permits that tasks acquire and give back.
//! asyncio's `Semaphore` (`async with sem:` is holding a
//! [`SemaphorePermit`]); the building block of [`Mutex`](super::Mutex)
//! (one permit) and [`RwLock`](super::RwLock) (many).
//!
//! ```
//! use std::sync::Arc;
//! use eddy::sync::Semaphore;
//!
//! eddy::run(async {
//!     // At most two "downloads" at a time.
//!     let limit = Arc::new(Semaphore::new(2));
//!     let tasks: Vec<_> = (0..5)
//!         .map(|i| {
//!             let limit = limit.clone();
//!             eddy::spawn(async move {
//!                 let _permit = limit.acquire().await.unwrap();
//!                 eddy::time::sleep(std::time::Duration::from_millis(1)).await;
//!                 i
//!             })
//!         })
//!         .collect();
//!     for task in tasks {
//!         task.await.unwrap();
//!     }
//!     assert_eq!(limit.available_permits(), 2);
//! });
//! ```
//!
//! # How it is built
//!
//! A permit count and a `WaitList` (`wait_list.rs`) behind one `std::sync::Mutex`.
//!
//! - **Fairness: strictly first come, first served.** `acquire` takes
//!   permits at once only if nobody is waiting; otherwise it queues. When
//!   permits come back, they go to the head of the line while it fits, and
//!   the head is *granted* them directly (the permits never become visible
//!   to `try_acquire` in between), so a stream of newcomers cannot starve a
//!   waiter, and a large `acquire_many` at the head holds back the smaller
//!   requests behind it until it is served (this is what keeps an
//!   `RwLock`'s writers from starving).
//! - **Dropping a waiting `acquire`** (cancelling it: a `select!`, a
//!   `timeout`, an aborted task) never loses permits and never strands the
//!   next waiter: a future still in line just leaves it (and if it was the
//!   head, the waiters behind it are re-checked against the free permits); a
//!   future that had been granted permits but not yet polled gives them
//!   back, which hands them to the next in line.
//! - **Closing** fails every waiting and later `acquire`; permits already
//!   granted stay with their holders.
//!
//! Every acquire (and so every `lock`, `read`, `write`) goes through one
//! future, `Acquire`, whose `poll` charges the task's cooperative budget
//! (see [`crate::task::poll_budgeted`]): a lock taken and released in a
//! loop without contention would otherwise never yield. The check comes
//! before anything is taken, so a budget yield keeps the task's place and
//! any permits already granted to it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use super::wait_list::{lock, WaitList, WakeList};

/// The most permits a semaphore can hold. Far above any real use; the
/// headroom lets `add_permits` detect overflow instead of wrapping.
pub const MAX_PERMITS: usize = usize::MAX >> 3;

/// A count of permits with a fair waiting line. See the [module
/// docs](self).
pub struct Semaphore {
    state: Mutex<State>,
}

struct State {
    /// Free permits: not held, not granted to a waiter.
    permits: usize,
    closed: bool,
    waiters: WaitList,
}

impl State {
    /// Grants free permits to the head of the line while it fits.
    fn serve_waiters(&mut self, wakes: &mut WakeList) {
        while let Some(need) = self.waiters.front_need() {
            if need > self.permits {
                break;
            }
            self.permits -= need;
            self.waiters.grant_front(wakes);
        }
    }
}

/// The semaphore was closed: no permit for you.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcquireError(());

impl fmt::Display for AcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the semaphore is closed")
    }
}

impl std::error::Error for AcquireError {}

/// Why [`Semaphore::try_acquire`] gave no permit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryAcquireError {
    /// Not enough free permits right now (or others are waiting for them).
    NoPermits,
    /// The semaphore is closed.
    Closed,
}

impl fmt::Display for TryAcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryAcquireError::NoPermits => f.write_str("no permits available right now"),
            TryAcquireError::Closed => f.write_str("the semaphore is closed"),
        }
    }
}

impl std::error::Error for TryAcquireError {}

impl Semaphore {
    /// A semaphore with `permits` free permits. `const`, so it can be a
    /// `static`.
    ///
    /// # Panics
    /// If `permits` exceeds [`MAX_PERMITS`].
    pub const fn new(permits: usize) -> Semaphore {
        assert!(permits <= MAX_PERMITS, "a semaphore holds at most MAX_PERMITS permits");
        Semaphore { state: Mutex::new(State { permits, closed: false, waiters: WaitList::new() }) }
    }

    /// Free permits right now.
    pub fn available_permits(&self) -> usize {
        lock(&self.state).permits
    }

    /// Adds `n` permits, serving waiters first in line.
    ///
    /// # Panics
    /// If the total would exceed [`MAX_PERMITS`].
    pub fn add_permits(&self, n: usize) {
        self.release(n);
    }

    /// Closes the semaphore: every waiting and later acquire fails with
    /// [`AcquireError`]. Permits already held are unaffected.
    pub fn close(&self) {
        let mut wakes = WakeList::new();
        let mut state = lock(&self.state);
        state.closed = true;
        state.waiters.wake_all_ungranted(&mut wakes);
        drop(state);
        wakes.wake();
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        lock(&self.state).closed
    }

    /// Waits for one permit. Cancel-safe: see the [module docs](self).
    pub async fn acquire(&self) -> Result<SemaphorePermit<'_>, AcquireError> {
        self.acquire_many(1).await
    }

    /// Waits for `n` permits at once (all or nothing; the request keeps its
    /// place in line until all `n` are free). Cancel-safe.
    pub async fn acquire_many(&self, n: u32) -> Result<SemaphorePermit<'_>, AcquireError> {
        let permits = n as usize;
        self.acquire_raw(permits).await?;
        Ok(SemaphorePermit { semaphore: self, permits })
    }

    /// Takes one permit if one is free and nobody is waiting.
    pub fn try_acquire(&self) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.try_acquire_many(1)
    }

    /// Takes `n` permits if they are free and nobody is waiting.
    pub fn try_acquire_many(&self, n: u32) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        let permits = n as usize;
        self.try_acquire_raw(permits)?;
        Ok(SemaphorePermit { semaphore: self, permits })
    }

    /// Like [`acquire`](Self::acquire), for a semaphore in an `Arc`: the
    /// permit owns a clone of the `Arc`, so it can move into another task
    /// (or thread) and be released there.
    pub async fn acquire_owned(self: Arc<Self>) -> Result<OwnedSemaphorePermit, AcquireError> {
        self.acquire_many_owned(1).await
    }

    /// `n` permits, owned. See [`acquire_owned`](Self::acquire_owned).
    pub async fn acquire_many_owned(self: Arc<Self>, n: u32) -> Result<OwnedSemaphorePermit, AcquireError> {
        let permits = n as usize;
        self.acquire_raw(permits).await?;
        Ok(OwnedSemaphorePermit { semaphore: self, permits })
    }

    /// Like [`try_acquire`](Self::try_acquire), owned.
    pub fn try_acquire_owned(self: Arc<Self>) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        self.try_acquire_raw(1)?;
        Ok(OwnedSemaphorePermit { semaphore: self, permits: 1 })
    }

    /// The waiting part of every acquire, without a permit guard (used by
    /// `Mutex` and `RwLock`, whose guards release on their own).
    pub(crate) fn acquire_raw(&self, permits: usize) -> Acquire<'_> {
        Acquire { semaphore: self, need: permits, key: None }
    }

    pub(crate) fn try_acquire_raw(&self, permits: usize) -> Result<(), TryAcquireError> {
        let mut state = lock(&self.state);
        if state.closed {
            return Err(TryAcquireError::Closed);
        }
        if state.permits >= permits && state.waiters.is_empty() {
            state.permits -= permits;
            return Ok(());
        }
        Err(TryAcquireError::NoPermits)
    }

    /// Gives `permits` back (or adds them), serving the line.
    pub(crate) fn release(&self, permits: usize) {
        if permits == 0 {
            return;
        }
        let mut wakes = WakeList::new();
        let mut state = lock(&self.state);
        let total = state.permits.checked_add(permits).filter(|&total| total <= MAX_PERMITS);
        let Some(total) = total else {
            drop(state);
            panic!("Semaphore::add_permits: more than MAX_PERMITS ({MAX_PERMITS}) permits");
        };
        state.permits = total;
        state.serve_waiters(&mut wakes);
        drop(state);
        wakes.wake();
    }
}

/// A waiting acquire: its place in line, if it has one.
pub(crate) struct Acquire<'a> {
    semaphore: &'a Semaphore,
    need: usize,
    /// Our node in the wait list, from the first `Pending` until we are
    /// served or dropped.
    key: Option<usize>,
}

impl Future for Acquire<'_> {
    type Output = Result<(), AcquireError>;

    /// Budgeted (so `Mutex`/`RwLock` locks too): the check comes before
    /// anything is taken, so a spent budget leaves free permits, or permits
    /// already granted to this acquire, where they are.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), AcquireError>> {
        let this = self.get_mut();
        crate::task::poll_budgeted(cx, |cx| this.poll_now(cx))
    }
}

impl Acquire<'_> {
    /// The acquire itself; [`Future::poll`] adds the cooperative budget.
    fn poll_now(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), AcquireError>> {
        let this = self;
        let mut state = lock(&this.semaphore.state);
        match this.key {
            None => {
                if state.closed {
                    return Poll::Ready(Err(AcquireError(())));
                }
                // Only with nobody in line: a newcomer never overtakes.
                if state.permits >= this.need && state.waiters.is_empty() {
                    state.permits -= this.need;
                    return Poll::Ready(Ok(()));
                }
                this.key = Some(state.waiters.push_back(this.need, cx.waker()));
                Poll::Pending
            }
            Some(key) => {
                if state.waiters.is_granted(key) {
                    state.waiters.remove(key);
                    this.key = None;
                    return Poll::Ready(Ok(()));
                }
                if state.closed {
                    state.waiters.remove(key);
                    this.key = None;
                    return Poll::Ready(Err(AcquireError(())));
                }
                state.waiters.set_waker(key, cx.waker());
                Poll::Pending
            }
        }
    }
}

impl Drop for Acquire<'_> {
    fn drop(&mut self) {
        let Some(key) = self.key else { return };
        let mut wakes = WakeList::new();
        let mut state = lock(&self.semaphore.state);
        if state.waiters.remove(key) {
            // Granted but never taken: the permits go back, to the next in
            // line.
            state.permits += self.need;
        }
        // Granted or not: if we were the head, whoever is behind us may fit
        // in the free permits now.
        state.serve_waiters(&mut wakes);
        drop(state);
        wakes.wake();
    }
}

/// Permits held from a [`Semaphore`]; dropping it gives them back.
#[must_use = "the permits go back as soon as the permit is dropped"]
pub struct SemaphorePermit<'a> {
    semaphore: &'a Semaphore,
    permits: usize,
}

impl SemaphorePermit<'_> {
    /// Keeps the permits out of the semaphore for good (they are not
    /// returned on drop): a way to shrink a semaphore.
    pub fn forget(mut self) {
        self.permits = 0;
    }

    /// How many permits this holds.
    pub fn num_permits(&self) -> usize {
        self.permits
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        self.semaphore.release(self.permits);
    }
}

/// Permits held from a [`Semaphore`] in an `Arc`: `'static`, so it can be
/// moved into another task or thread. Dropping it gives them back.
#[must_use = "the permits go back as soon as the permit is dropped"]
pub struct OwnedSemaphorePermit {
    semaphore: Arc<Semaphore>,
    permits: usize,
}

impl OwnedSemaphorePermit {
    /// Keeps the permits out of the semaphore for good.
    pub fn forget(mut self) {
        self.permits = 0;
    }

    /// How many permits this holds.
    pub fn num_permits(&self) -> usize {
        self.permits
    }

    /// The semaphore the permits came from.
    pub fn semaphore(&self) -> &Arc<Semaphore> {
        &self.semaphore
    }
}

impl Drop for OwnedSemaphorePermit {
    fn drop(&mut self) {
        self.semaphore.release(self.permits);
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = lock(&self.state);
        f.debug_struct("Semaphore")
            .field("permits", &state.permits)
            .field("waiting", &state.waiters.len())
            .field("closed", &state.closed)
            .finish()
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit").field("permits", &self.permits).finish()
    }
}

impl fmt::Debug for OwnedSemaphorePermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedSemaphorePermit").field("permits", &self.permits).finish()
    }
}
