//! A `watch` channel: one value that changes over time; receivers see the
//! latest one and can wait for the next change. For configuration, status,
//! "shutting down" flags: readers want the current state, not every step.
//!
//! ```
//! use eddy::sync::watch;
//!
//! eddy::run(async {
//!     let (tx, mut rx) = watch::channel("starting");
//!     let observer = eddy::spawn(async move {
//!         rx.changed().await.unwrap();
//!         *rx.borrow_and_update()
//!     });
//!     tx.send("running").unwrap();
//!     assert_eq!(observer.await.unwrap(), "running");
//! });
//! ```
//!
//! # How it is built
//!
//! The value sits in a `std::sync::RwLock` next to a version number that
//! every send bumps (under the write lock, so a reader sees a value and its
//! version together). Each receiver remembers the version it last saw;
//! [`Receiver::changed`] completes when the channel's version differs. Tasks
//! waiting for a change sit in a `WaitList` (`wait_list.rs`): a send wakes them all.
//!
//! Only the latest value is kept: a receiver that looks rarely skips the
//! values in between (that is the point). A waiting `changed()` that is
//! dropped loses nothing: the version it would have reported is still
//! there for the next call. `borrow()` holds a read lock: keep the [`Ref`]
//! short and never across an `.await`. A send waits for that lock, so a
//! `Ref` held across an await can block the sending thread, and with it its
//! whole loop (the compiler does not stop it: a task spawned with
//! `eddy::spawn` need not be `Send`, and the guard only makes a task
//! non-`Send`).

use std::fmt;
use std::future::poll_fn;
use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};
use std::task::{Context, Poll};

use super::wait_list::{lock, WaitList, WakeList};

/// Creates a watch channel holding `initial`. Receivers start having seen
/// it: `changed()` waits for the first send.
pub fn channel<T>(initial: T) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        value: RwLock::new(initial),
        version: AtomicU64::new(0),
        state: Mutex::new(State {
            sender_alive: true,
            receivers: 1,
            waiters: WaitList::new(),
            closed_waiters: WaitList::new(),
        }),
    });
    (Sender { shared: shared.clone() }, Receiver { shared, seen: 0, key: None })
}

struct Shared<T> {
    value: RwLock<T>,
    /// Bumped by every send, while the write lock is held.
    version: AtomicU64,
    state: Mutex<State>,
}

struct State {
    sender_alive: bool,
    receivers: usize,
    /// Receivers waiting in `changed()`.
    waiters: WaitList,
    /// The sender waiting in `closed()`.
    closed_waiters: WaitList,
}

impl<T> Shared<T> {
    fn read(&self) -> RwLockReadGuard<'_, T> {
        // A panic in `send_modify`'s closure poisons the lock; the value is
        // whatever the closure left, which is what a later reader should see.
        self.value.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The sending half: sets the value.
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

/// A receiving half: reads the value, waits for changes. Clone it for more.
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
    /// The version this receiver last saw.
    seen: u64,
    /// Our node in the wait list while `changed()` waits.
    key: Option<usize>,
}

/// Every receiver is gone; the value comes back.
#[derive(PartialEq, Eq, Clone, Copy)]
pub struct SendError<T>(pub T);

/// The sender is gone: the value will not change again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecvError(());

/// A read lock on the value: keep it short, never across an `.await`
/// (see the [module docs](self)).
pub struct Ref<'a, T> {
    guard: RwLockReadGuard<'a, T>,
}

impl<T> Deref for Ref<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T> Sender<T> {
    /// Sets the value and wakes every waiting receiver. Fails, giving the
    /// value back, if there are no receivers (use
    /// [`send_replace`](Self::send_replace) to set it anyway).
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        if lock(&self.shared.state).receivers == 0 {
            return Err(SendError(value));
        }
        self.send_replace(value);
        Ok(())
    }

    /// Sets the value whether or not anyone is watching; returns the old one.
    pub fn send_replace(&self, value: T) -> T {
        self.modify_and_wake(|old| std::mem::replace(old, value))
    }

    /// Changes the value in place and wakes every waiting receiver. The
    /// closure runs under the write lock: it must not use this channel.
    pub fn send_modify(&self, modify: impl FnOnce(&mut T)) {
        self.modify_and_wake(modify)
    }

    /// Every send: change the value and bump the version under the write
    /// lock, then wake the waiting receivers.
    fn modify_and_wake<R>(&self, modify: impl FnOnce(&mut T) -> R) -> R {
        let result = {
            let mut value = self.shared.value.write().unwrap_or_else(|poisoned| poisoned.into_inner());
            let result = modify(&mut value);
            self.shared.version.fetch_add(1, Ordering::Release);
            result
        };
        let mut wakes = WakeList::new();
        lock(&self.shared.state).waiters.wake_all_ungranted(&mut wakes);
        wakes.wake();
        result
    }

    /// The current value.
    pub fn borrow(&self) -> Ref<'_, T> {
        Ref { guard: self.shared.read() }
    }

    /// A new receiver, having seen the current value.
    pub fn subscribe(&self) -> Receiver<T> {
        lock(&self.shared.state).receivers += 1;
        let seen = self.shared.version.load(Ordering::Acquire);
        Receiver { shared: self.shared.clone(), seen, key: None }
    }

    /// Receivers alive right now.
    pub fn receiver_count(&self) -> usize {
        lock(&self.shared.state).receivers
    }

    /// Whether every receiver is gone.
    pub fn is_closed(&self) -> bool {
        self.receiver_count() == 0
    }

    /// Waits until every receiver is gone. Cancel-safe.
    pub async fn closed(&self) {
        let mut waiting = Waiting { state: &self.shared.state, key: None };
        // Budgeted: once closed, `closed()` is ready forever.
        poll_fn(|cx| {
            crate::task::poll_budgeted(cx, |cx| {
                let mut state = lock(&self.shared.state);
                if state.receivers == 0 {
                    return Poll::Ready(());
                }
                match waiting.key {
                    Some(key) if state.closed_waiters.is_linked(key) => {
                        state.closed_waiters.set_waker(key, cx.waker())
                    }
                    Some(key) => {
                        state.closed_waiters.remove(key);
                        waiting.key = Some(state.closed_waiters.push_back(0, cx.waker()));
                    }
                    None => waiting.key = Some(state.closed_waiters.push_back(0, cx.waker())),
                }
                Poll::Pending
            })
        })
        .await
    }
}

/// A `closed()` in line; leaves it when dropped.
struct Waiting<'a> {
    state: &'a Mutex<State>,
    key: Option<usize>,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key {
            lock(self.state).closed_waiters.remove(key);
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let mut wakes = WakeList::new();
        let mut state = lock(&self.shared.state);
        state.sender_alive = false;
        state.waiters.wake_all_ungranted(&mut wakes);
        drop(state);
        wakes.wake();
    }
}

impl<T> Receiver<T> {
    /// The current value, without marking it seen.
    pub fn borrow(&self) -> Ref<'_, T> {
        Ref { guard: self.shared.read() }
    }

    /// The current value, marking it seen (`changed()` then waits for the
    /// next send).
    pub fn borrow_and_update(&mut self) -> Ref<'_, T> {
        let guard = self.shared.read();
        // Under the read lock no send can bump the version: this is the
        // version of the value in `guard`.
        self.seen = self.shared.version.load(Ordering::Acquire);
        Ref { guard }
    }

    /// Whether a send happened since this receiver last looked. Errs if the
    /// sender is gone (and so nothing can change again).
    pub fn has_changed(&self) -> Result<bool, RecvError> {
        if !lock(&self.shared.state).sender_alive {
            return Err(RecvError(()));
        }
        Ok(self.shared.version.load(Ordering::Acquire) != self.seen)
    }

    /// Waits for a send this receiver has not seen, and marks it seen.
    /// Returns at once if one already happened; errs once the sender is
    /// gone. Cancel-safe: a dropped `changed()` marks nothing seen.
    pub async fn changed(&mut self) -> Result<(), RecvError> {
        poll_fn(|cx| self.poll_changed(cx)).await
    }

    /// Poll form of [`changed`](Self::changed).
    ///
    /// Charges the task's cooperative budget on `Ready` (`Err` too); with
    /// the budget spent it wakes the task and returns `Pending` before
    /// marking anything seen.
    pub fn poll_changed(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), RecvError>> {
        crate::task::poll_budgeted(cx, |cx| self.poll_changed_now(cx))
    }

    /// The check itself; [`poll_changed`](Self::poll_changed) adds the budget.
    fn poll_changed_now(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), RecvError>> {
        let mut state = lock(&self.shared.state);
        // Read under the state lock: a send bumps the version before it
        // takes this lock to wake, so either we see the new version here or
        // the send finds us in the line below.
        let version = self.shared.version.load(Ordering::Acquire);
        if version != self.seen || !state.sender_alive {
            if let Some(key) = self.key.take() {
                state.waiters.remove(key);
            }
            if version != self.seen {
                self.seen = version;
                return Poll::Ready(Ok(()));
            }
            return Poll::Ready(Err(RecvError(())));
        }
        match self.key {
            Some(key) if state.waiters.is_linked(key) => state.waiters.set_waker(key, cx.waker()),
            Some(key) => {
                // Woken, but by nothing for us (a change we had already
                // seen): back in line.
                state.waiters.remove(key);
                self.key = Some(state.waiters.push_back(0, cx.waker()));
            }
            None => self.key = Some(state.waiters.push_back(0, cx.waker())),
        }
        Poll::Pending
    }

    /// Whether both receivers watch the same channel.
    pub fn same_channel(&self, other: &Receiver<T>) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

impl<T> Clone for Receiver<T> {
    /// Another receiver that has seen what this one has.
    fn clone(&self) -> Receiver<T> {
        lock(&self.shared.state).receivers += 1;
        Receiver { shared: self.shared.clone(), seen: self.seen, key: None }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let mut wakes = WakeList::new();
        let mut state = lock(&self.shared.state);
        if let Some(key) = self.key.take() {
            state.waiters.remove(key);
        }
        state.receivers -= 1;
        if state.receivers == 0 {
            state.closed_waiters.wake_all_ungranted(&mut wakes);
        }
        drop(state);
        wakes.wake();
    }
}

/// A [`Receiver`] as a `futures_core::Stream`: yields the current value
/// first, then a clone of the value after each change it observes (changes
/// that come faster than it is polled are merged: it yields the latest),
/// and ends when the sender is gone.
pub struct WatchStream<T> {
    receiver: Receiver<T>,
    first: bool,
}

impl<T> WatchStream<T> {
    /// Wraps `receiver`.
    pub fn new(receiver: Receiver<T>) -> WatchStream<T> {
        WatchStream { receiver, first: true }
    }

    /// The receiver back.
    pub fn into_inner(self) -> Receiver<T> {
        self.receiver
    }
}

impl<T: Clone> futures_core::Stream for WatchStream<T> {
    type Item = T;

    fn poll_next(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = self.get_mut();
        let first = std::mem::replace(&mut this.first, false);
        if !first && std::task::ready!(this.receiver.poll_changed(cx)).is_err() {
            return Poll::Ready(None);
        }
        Poll::Ready(Some(this.receiver.borrow_and_update().clone()))
    }
}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError(..)")
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("every watch receiver is gone; the value was not sent")
    }
}

impl<T> std::error::Error for SendError<T> {}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the watch sender is gone")
    }
}

impl std::error::Error for RecvError {}

impl<T: fmt::Debug> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender").field("value", &*self.borrow()).finish()
    }
}

impl<T: fmt::Debug> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver").field("value", &*self.borrow()).field("seen", &self.seen).finish()
    }
}

impl<T: fmt::Debug> fmt::Debug for Ref<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
