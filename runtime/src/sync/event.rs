//! `Event`: asyncio's `Event`, a flag that tasks can wait to become set.
//!
//! ```
//! use std::sync::Arc;
//! use eddy::sync::Event;
//!
//! eddy::run(async {
//!     let started = Arc::new(Event::new());
//!     let waiter = eddy::spawn({
//!         let started = started.clone();
//!         async move { started.wait().await }
//!     });
//!     assert!(!started.is_set());
//!     started.set();
//!     waiter.await.unwrap();
//!     assert!(started.is_set());
//!     started.wait().await; // set: returns at once
//! });
//! ```
//!
//! # How it is built
//!
//! The flag and a `WaitList` (`wait_list.rs`) behind one `std::sync::Mutex`.
//! [`set`](Event::set) raises the flag and wakes every waiter; while it is
//! set, [`wait`](Event::wait) returns at once; [`clear`](Event::clear)
//! lowers it again. As in asyncio, a waiter woken by `set` returns even if
//! the event was cleared before it ran: it was set while it waited.
//! Dropping a waiting `wait()` just leaves the line (every waiter is woken
//! by a `set`, so there is nothing to hand on).

use std::fmt;
use std::future::poll_fn;
use std::sync::Mutex;
use std::task::Poll;

use super::wait_list::{lock, WaitList, WakeList};

/// A settable flag to wait on. See the [module docs](self).
pub struct Event {
    state: Mutex<State>,
}

struct State {
    set: bool,
    waiters: WaitList,
}

impl Event {
    /// An event, not set. `const`, so it can be a `static`.
    pub const fn new() -> Event {
        Event { state: Mutex::new(State { set: false, waiters: WaitList::new() }) }
    }

    /// Sets the flag and wakes every waiter.
    pub fn set(&self) {
        let mut wakes = WakeList::new();
        let mut state = lock(&self.state);
        state.set = true;
        state.waiters.wake_all_ungranted(&mut wakes);
        drop(state);
        wakes.wake();
    }

    /// Lowers the flag: later `wait`s wait for the next `set`.
    pub fn clear(&self) {
        lock(&self.state).set = false;
    }

    /// Whether the flag is set.
    pub fn is_set(&self) -> bool {
        lock(&self.state).set
    }

    /// Waits until the flag is set (returns at once if it is).
    /// Cancel-safe: dropping it loses nothing.
    pub async fn wait(&self) {
        let mut waiting = Waiting { event: self, key: None };
        // Budgeted: a flag that stays set is ready forever, so a loop of
        // `wait`s must still yield. A spent budget returns before the lock.
        poll_fn(|cx| {
            crate::task::poll_budgeted(cx, |cx| {
                let mut state = lock(&self.state);
                match waiting.key {
                    Some(key) if !state.waiters.is_linked(key) => {
                        // Woken by a `set`: done, even if cleared since.
                        state.waiters.remove(key);
                        waiting.key = None;
                        Poll::Ready(())
                    }
                    _ if state.set => Poll::Ready(()),
                    Some(key) => {
                        state.waiters.set_waker(key, cx.waker());
                        Poll::Pending
                    }
                    None => {
                        waiting.key = Some(state.waiters.push_back(0, cx.waker()));
                        Poll::Pending
                    }
                }
            })
        })
        .await
    }
}

/// A `wait` in line; leaves it when dropped.
struct Waiting<'a> {
    event: &'a Event,
    key: Option<usize>,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key {
            lock(&self.event.state).waiters.remove(key);
        }
    }
}

impl Default for Event {
    fn default() -> Event {
        Event::new()
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = lock(&self.state);
        f.debug_struct("Event").field("set", &state.set).field("waiting", &state.waiters.len()).finish()
    }
}
