//! `Notify`: wake one waiting task, or all of them, with no data attached.
//! The primitive under many others (a "something changed, go look" signal);
//! closest to asyncio's `Condition` without the lock.
//!
//! ```
//! use std::sync::Arc;
//! use eddy::sync::Notify;
//!
//! eddy::run(async {
//!     let ready = Arc::new(Notify::new());
//!     let waiter = eddy::spawn({
//!         let ready = ready.clone();
//!         async move {
//!             ready.notified().await;
//!             "notified"
//!         }
//!     });
//!     ready.notify_one();
//!     assert_eq!(waiter.await.unwrap(), "notified");
//! });
//! ```
//!
//! # How it is built
//!
//! A `WaitList` (`wait_list.rs`) and a stored-permit flag behind one `std::sync::Mutex`.
//!
//! - [`notify_one`](Notify::notify_one) grants the oldest waiter (FIFO). If
//!   nobody waits, it stores **one** permit (several calls still store one),
//!   which the next `notified().await` consumes at once: so a notification
//!   sent just before the receiver starts waiting is not lost.
//! - [`notify_waiters`](Notify::notify_waiters) wakes every waiter that
//!   exists *now* — including `Notified` futures created but not yet polled
//!   (each remembers how many `notify_waiters` calls it was born after) —
//!   and stores no permit.
//! - **Dropping a `Notified`** that was granted a `notify_one` but never
//!   returned `Ready` passes the notification on: to the next waiter in
//!   line, or back into the stored permit. A `notify_one` is never lost to a
//!   cancelled waiter. A waiter still in line just leaves it.
//!
//! A waiter granted by `notify_one` finds out without the lock: waiters are
//! numbered as they join the line and served in that order, and `Notify`
//! keeps the number of the last one it granted in an atomic; the granter
//! has already removed the waiter's node. (`tokio`'s `Notify` gets the same
//! effect with an intrusive list and an atomic in each waiter; this keeps
//! the list in a slab, in safe code.)
//!
//! [`Notified::poll`] charges the task's cooperative budget when it is
//! ready (see [`crate::task::poll_budgeted`]); with the budget spent it
//! yields before looking, so a stored permit or a grant stays where it is.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::task::{Context, Poll};

use super::wait_list::{lock, WaitList, WakeList};

/// Wakes waiting tasks. See the [module docs](self).
pub struct Notify {
    /// `notify_waiters` calls so far, so a `Notified` created before one can
    /// tell that it happened. Changed only under the `state` lock; an atomic
    /// so that `notified()` and a woken waiter read it without the lock.
    epoch: AtomicU64,
    /// The sequence number of the last waiter `notify_one` granted. Waiters
    /// are numbered from 1 as they join the line and granted in that order,
    /// so a waiter whose number is at most this was granted, and learns it
    /// without taking the lock (the granter already removed its node). In a
    /// ping-pong that saves one lock in three per notification.
    granted: AtomicUsize,
    state: Mutex<State>,
}

struct State {
    /// A `notify_one` arrived while nobody waited.
    permit: bool,
    /// The last sequence number handed to a waiter.
    last_seq: usize,
    /// Each node's `need` is its owner's sequence number. `notify_one`
    /// removes the node it grants; `notify_waiters` takes nodes off the line
    /// but leaves them for their owners to remove.
    waiters: WaitList,
}

impl Notify {
    /// A `Notify` with no stored permit. `const`, so it can be a `static`.
    pub const fn new() -> Notify {
        Notify {
            epoch: AtomicU64::new(0),
            granted: AtomicUsize::new(0),
            state: Mutex::new(State { permit: false, last_seq: 0, waiters: WaitList::new() }),
        }
    }

    /// A future that completes at the next notification for it: a stored
    /// permit, a `notify_one` that reaches it in line, or a `notify_waiters`
    /// called after this future was created.
    pub fn notified(&self) -> Notified<'_> {
        let epoch = self.epoch.load(Ordering::Acquire);
        Notified { notify: self, epoch, key: None, seq: 0, done: false }
    }

    /// Wakes the oldest waiter, or stores a permit if nobody waits.
    pub fn notify_one(&self) {
        let mut wakes = WakeList::new();
        let mut state = lock(&self.state);
        self.notify_one_locked(&mut state, &mut wakes);
        drop(state);
        wakes.wake();
    }

    /// Wakes every current waiter (stores no permit).
    pub fn notify_waiters(&self) {
        let mut wakes = WakeList::new();
        let mut state = lock(&self.state);
        self.epoch.fetch_add(1, Ordering::Release);
        state.waiters.wake_all_ungranted(&mut wakes);
        drop(state);
        wakes.wake();
    }

    fn notify_one_locked(&self, state: &mut State, wakes: &mut WakeList) {
        match state.waiters.take_front(wakes) {
            Some(seq) => self.granted.store(seq, Ordering::Release),
            None => state.permit = true,
        }
    }
}

impl Default for Notify {
    fn default() -> Notify {
        Notify::new()
    }
}

/// Waits for a notification. See [`Notify::notified`].
#[must_use = "futures do nothing unless awaited"]
pub struct Notified<'a> {
    notify: &'a Notify,
    /// The `notify_waiters` count when this future was created.
    epoch: u64,
    /// Our node in the line, once we wait (valid only while the node there
    /// still carries our `seq`).
    key: Option<usize>,
    /// Our sequence number in the line.
    seq: usize,
    done: bool,
}

impl Notified<'_> {
    /// Granted by `notify_one`, read without the lock. Only conclusive while
    /// no `notify_waiters` happened: `granted` is read first, and a
    /// `notify_waiters` that came before the grant it shows would be seen in
    /// `epoch` (read second, after the Acquire on `granted`).
    fn granted_lock_free(&self) -> bool {
        self.notify.granted.load(Ordering::Acquire) >= self.seq
            && self.notify.epoch.load(Ordering::Acquire) == self.epoch
    }

    /// Whether the node at our key is still ours (not granted away).
    fn node_is_ours(&self, state: &State, key: usize) -> bool {
        state.waiters.need_at(key) == Some(self.seq)
    }
}

impl Future for Notified<'_> {
    type Output = ();

    /// Budgeted: a notification that is already there (a permit, a grant)
    /// counts as a ready result, and a spent budget leaves it in place.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        crate::task::poll_budgeted(cx, |cx| this.poll_now(cx))
    }
}

impl Notified<'_> {
    /// The poll itself; [`Future::poll`] adds the cooperative budget.
    fn poll_now(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let this = self;
        assert!(!this.done, "Notified polled after it completed");
        if this.key.is_some() && this.granted_lock_free() {
            this.key = None;
            this.done = true;
            return Poll::Ready(());
        }
        let mut state = lock(&this.notify.state);
        let ready = match this.key {
            None => {
                // Under the lock, so no notify_waiters can slip between
                // this check and joining the line.
                if this.notify.epoch.load(Ordering::Acquire) != this.epoch {
                    true
                } else if state.permit {
                    state.permit = false;
                    true
                } else {
                    state.last_seq += 1;
                    this.seq = state.last_seq;
                    this.key = Some(state.waiters.push_back(this.seq, cx.waker()));
                    false
                }
            }
            // Granted by notify_one: the granter removed our node.
            Some(key) if !this.node_is_ours(&state, key) => {
                this.key = None;
                true
            }
            // Woken by notify_waiters: off the line, ours to remove.
            Some(key) if !state.waiters.is_linked(key) => {
                state.waiters.remove(key);
                this.key = None;
                true
            }
            Some(key) => {
                state.waiters.set_waker(key, cx.waker());
                false
            }
        };
        if ready {
            this.done = true;
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

impl Drop for Notified<'_> {
    fn drop(&mut self) {
        let Some(key) = self.key else { return };
        let mut wakes = WakeList::new();
        let mut state = lock(&self.notify.state);
        if self.node_is_ours(&state, key) {
            // Still in line, or woken by notify_waiters: nothing to hand on.
            state.waiters.remove(key);
        } else {
            // A notify_one was meant for us and we will never see it: hand
            // it to the next waiter, or keep it as the permit.
            self.notify.notify_one_locked(&mut state, &mut wakes);
        }
        drop(state);
        wakes.wake();
    }
}

impl fmt::Debug for Notify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = lock(&self.state);
        f.debug_struct("Notify")
            .field("permit", &state.permit)
            .field("waiting", &state.waiters.len())
            .finish()
    }
}

impl fmt::Debug for Notified<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notified").field("waiting", &self.key.is_some()).finish()
    }
}
