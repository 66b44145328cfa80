//! `Barrier`: `n` tasks wait until all `n` have arrived, then all go on
//! together; one of them is told it is the leader. asyncio's `Barrier`.
//!
//! ```
//! use std::sync::Arc;
//! use eddy::sync::Barrier;
//!
//! eddy::run(async {
//!     let barrier = Arc::new(Barrier::new(3));
//!     let tasks: Vec<_> = (0..3)
//!         .map(|_| {
//!             let barrier = barrier.clone();
//!             eddy::spawn(async move { barrier.wait().await.is_leader() })
//!         })
//!         .collect();
//!     let mut leaders = 0;
//!     for task in tasks {
//!         leaders += task.await.unwrap() as usize;
//!     }
//!     assert_eq!(leaders, 1);
//! });
//! ```
//!
//! # How it is built
//!
//! An arrival count and a `WaitList` (`wait_list.rs`) behind one `std::sync::Mutex`. The
//! `n`-th arrival is the leader: it resets the count (the barrier is
//! reusable, one "generation" after another) and wakes everyone waiting.
//! **Dropping a waiting `wait()`** takes its arrival back, so the barrier
//! still needs `n` live waiters to release (a cancelled task does not count
//! toward the next release); once released, dropping changes nothing.

use std::fmt;
use std::future::poll_fn;
use std::sync::Mutex;
use std::task::Poll;

use super::wait_list::{lock, WaitList, WakeList};

/// A reusable meeting point for `n` tasks. See the [module docs](self).
pub struct Barrier {
    n: usize,
    state: Mutex<State>,
}

struct State {
    /// Waiters of the current generation.
    arrived: usize,
    waiters: WaitList,
}

/// What [`Barrier::wait`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BarrierWaitResult {
    leader: bool,
}

impl BarrierWaitResult {
    /// Whether this waiter was the one that released the barrier (exactly
    /// one per generation).
    pub fn is_leader(&self) -> bool {
        self.leader
    }
}

impl Barrier {
    /// A barrier for `n` tasks (`0` is treated as `1`: every wait returns
    /// at once, as the leader).
    pub const fn new(n: usize) -> Barrier {
        let n = if n == 0 { 1 } else { n };
        Barrier { n, state: Mutex::new(State { arrived: 0, waiters: WaitList::new() }) }
    }

    /// Waits until `n` tasks are waiting, then returns in all of them.
    /// Cancel-safe in the sense of the [module docs](self).
    pub async fn wait(&self) -> BarrierWaitResult {
        let mut waiting = Waiting { barrier: self, key: None };
        // Budgeted; a spent budget returns before this wait arrives, so
        // it counts no arrival and releases nobody.
        poll_fn(|cx| {
            crate::task::poll_budgeted(cx, |cx| {
                let mut state = lock(&self.state);
                match waiting.key {
                    None => {
                        state.arrived += 1;
                        if state.arrived < self.n {
                            waiting.key = Some(state.waiters.push_back(0, cx.waker()));
                            return Poll::Pending;
                        }
                        state.arrived = 0;
                        let mut wakes = WakeList::new();
                        state.waiters.wake_all_ungranted(&mut wakes);
                        drop(state);
                        wakes.wake();
                        Poll::Ready(BarrierWaitResult { leader: true })
                    }
                    Some(key) if !state.waiters.is_linked(key) => {
                        state.waiters.remove(key);
                        waiting.key = None;
                        Poll::Ready(BarrierWaitResult { leader: false })
                    }
                    Some(key) => {
                        state.waiters.set_waker(key, cx.waker());
                        Poll::Pending
                    }
                }
            })
        })
        .await
    }
}

/// A `wait` in line: takes its arrival back if dropped before release.
struct Waiting<'a> {
    barrier: &'a Barrier,
    key: Option<usize>,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        let Some(key) = self.key else { return };
        let mut state = lock(&self.barrier.state);
        if state.waiters.is_linked(key) {
            state.arrived -= 1;
        }
        state.waiters.remove(key);
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = lock(&self.state);
        f.debug_struct("Barrier").field("n", &self.n).field("arrived", &state.arrived).finish()
    }
}
