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
//! A [`WaitList`] and a stored-permit flag behind one `std::sync::Mutex`.
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
//! The ready path of [`Notified::poll`] is where the loop's cooperative
//! budget check belongs.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::task::{Context, Poll};

use super::wait_list::{lock, WaitList, WakeList};

/// Wakes waiting tasks. See the [module docs](self).
pub struct Notify {
    /// `notify_waiters` calls so far, so a `Notified` created before one can
    /// tell that it happened. Changed only under the `state` lock, but an
    /// atomic so that `notified()` reads it without taking the lock (in a
    /// ping-pong that is one lock in four per notification).
    epoch: AtomicU64,
    state: Mutex<State>,
}

struct State {
    /// A `notify_one` arrived while nobody waited.
    permit: bool,
    /// Waiters granted by `notify_one` are *granted*; those woken by
    /// `notify_waiters` are taken off the line ungranted (nothing to hand on
    /// if they are dropped).
    waiters: WaitList,
}

impl Notify {
    /// A `Notify` with no stored permit. `const`, so it can be a `static`.
    pub const fn new() -> Notify {
        Notify {
            epoch: AtomicU64::new(0),
            state: Mutex::new(State { permit: false, waiters: WaitList::new() }),
        }
    }

    /// A future that completes at the next notification for it: a stored
    /// permit, a `notify_one` that reaches it in line, or a `notify_waiters`
    /// called after this future was created.
    pub fn notified(&self) -> Notified<'_> {
        let epoch = self.epoch.load(Ordering::Acquire);
        Notified { notify: self, epoch, key: None, done: false }
    }

    /// Wakes the oldest waiter, or stores a permit if nobody waits.
    pub fn notify_one(&self) {
        let mut wakes = WakeList::new();
        let mut state = lock(&self.state);
        state.notify_one_locked(&mut wakes);
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
}

impl State {
    fn notify_one_locked(&mut self, wakes: &mut WakeList) {
        if !self.waiters.grant_front(wakes) {
            self.permit = true;
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
    /// Our node in the line, once we wait.
    key: Option<usize>,
    done: bool,
}

impl Future for Notified<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // Ready paths below: where the cooperative budget check belongs.
        let this = self.get_mut();
        assert!(!this.done, "Notified polled after it completed");
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
                    this.key = Some(state.waiters.push_back(0, cx.waker()));
                    false
                }
            }
            // Off the line: granted by notify_one, or woken by
            // notify_waiters. Either way, ours.
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
        if state.waiters.remove(key) {
            // A notify_one was meant for us and we will never see it: hand
            // it to the next waiter, or keep it as the permit.
            state.notify_one_locked(&mut wakes);
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
