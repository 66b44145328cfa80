//! The waiting line that `Semaphore` (and so `Mutex` and `RwLock`),
//! `Notify`, `Event`, `Barrier`, `watch` and `broadcast` share.
//!
//! # How it is built
//!
//! A doubly linked list whose nodes live in a [`Slab`]: each node names its
//! neighbours by slab key, so a waiter leaves the middle of the line in O(1)
//! (a `VecDeque` would need a scan) and the whole thing is safe code. The
//! list sits inside its primitive's state, behind that primitive's one
//! `std::sync::Mutex`: every operation is a few field updates, so the lock
//! is held for nanoseconds and is almost never contended.
//!
//! ```text
//!            head                                tail
//!             │                                   │
//!   slab: [ key 3 ] ⇄ [ key 0 ] ⇄ [ key 5 ] ⇄ [ key 1 ]      granted: key 2
//!           need 1      need 4      need 1      need 1        (off the line,
//!                                                              not yet back)
//! ```
//!
//! # A node's life
//!
//! ```text
//!   push_back ──▶ QUEUED ──grant──▶ GRANTED ──owner polls or drops──▶ removed
//!                   │                          (it holds what it was given)
//!                   └──────────owner drops──────────────────────────▶ removed
//! ```
//!
//! The **owner** (the waiting future that pushed the node) is the only one
//! who ever removes it, from its `poll` or its `Drop`. Others only *grant*
//! it: unlink it from the line, mark it granted and take its waker to wake.
//! So a node's key stays valid for exactly as long as its owner holds it,
//! and no generation counter is needed: a key can only be reused after its
//! owner gave it up.
//!
//! One exception, for speed: [`take_front`](WaitList::take_front) removes
//! the granted node outright, so its owner need not take the lock again to
//! leave. `Notify` uses it: its waiters learn of the grant from an atomic
//! counter, and store a sequence number as their node's `need`, so that
//! [`need_at`](WaitList::need_at) tells a node that is still theirs from one
//! that reused their key.
//!
//! # Cancel safety lives in the owners' `Drop`
//!
//! A future that is dropped while its node is **queued** just leaves the
//! line. One dropped while **granted** was given something (permits, a
//! notification) that nobody received: its `Drop` hands it on (releases the
//! permits to the next in line, passes the notification to the next
//! waiter). Each primitive writes that one rule in its future's `Drop`;
//! this module only keeps the line.
//!
//! Wakers are never woken under the lock: grants push them into a
//! [`WakeList`], woken once the guard is dropped, because a waker may run
//! arbitrary code (another primitive, a `Drop` that takes this same lock).

use std::task::Waker;

use slab::Slab;

use crate::debug::holders::{held, Kind, Resource};

/// The line of waiters, oldest at the head.
#[derive(Debug, Default)]
pub(crate) struct WaitList {
    nodes: Slab<Node>,
    head: Option<usize>,
    tail: Option<usize>,
    /// Nodes on the line (granted ones excluded).
    queued: usize,
}

#[derive(Debug)]
struct Node {
    /// Whom to wake when granted; `None` once taken by a grant.
    waker: Option<Waker>,
    /// What the waiter asks for (permits); 0 where it means nothing.
    need: usize,
    prev: Option<usize>,
    next: Option<usize>,
    /// Off the line and given what it asked for.
    granted: bool,
    /// On the line (not granted, not woken by `wake_all_ungranted`).
    linked: bool,
}

impl WaitList {
    /// An empty line.
    pub(crate) const fn new() -> WaitList {
        WaitList { nodes: Slab::new(), head: None, tail: None, queued: 0 }
    }

    /// Whether nobody is on the line.
    pub(crate) fn is_empty(&self) -> bool {
        self.queued == 0
    }

    /// Waiters on the line.
    pub(crate) fn len(&self) -> usize {
        self.queued
    }

    /// Joins the end of the line, asking for `need`; returns the key the
    /// owner keeps.
    pub(crate) fn push_back(&mut self, need: usize, waker: &Waker) -> usize {
        let waker = held(waker, Resource::At(Kind::WaitList, std::ptr::from_ref(self).addr()));
        let key = self.nodes.insert(Node {
            waker: Some((*waker).clone()),
            need,
            prev: self.tail,
            next: None,
            granted: false,
            linked: true,
        });
        match self.tail {
            Some(tail) => self.nodes[tail].next = Some(key),
            None => self.head = Some(key),
        }
        self.tail = Some(key);
        self.queued += 1;
        key
    }

    /// Records the waker the owner was last polled with (cloning only if it
    /// changed: a task's waker usually does not).
    pub(crate) fn set_waker(&mut self, key: usize, waker: &Waker) {
        let waker = held(waker, Resource::At(Kind::WaitList, std::ptr::from_ref(self).addr()));
        let node = &mut self.nodes[key];
        match &node.waker {
            Some(old) if old.will_wake(&waker) => {}
            _ => node.waker = Some((*waker).clone()),
        }
    }

    /// Whether `key` was granted.
    pub(crate) fn is_granted(&self, key: usize) -> bool {
        self.nodes[key].granted
    }

    /// Whether `key` is still on the line.
    pub(crate) fn is_linked(&self, key: usize) -> bool {
        self.nodes[key].linked
    }

    /// What the head of the line asks for.
    pub(crate) fn front_need(&self) -> Option<usize> {
        self.head.map(|key| self.nodes[key].need)
    }

    /// Grants the head of the line: off the line, marked granted, its waker
    /// queued in `wakes`.
    pub(crate) fn grant_front(&mut self, wakes: &mut WakeList) -> bool {
        let Some(key) = self.head else { return false };
        self.unlink(key);
        let node = &mut self.nodes[key];
        node.granted = true;
        wakes.push(node.waker.take());
        true
    }

    /// Grants the head of the line and removes its node outright (see the
    /// module docs: its owner must learn of the grant some other way).
    /// Returns the node's `need`.
    pub(crate) fn take_front(&mut self, wakes: &mut WakeList) -> Option<usize> {
        let key = self.head?;
        self.unlink(key);
        let node = self.nodes.remove(key);
        wakes.push(node.waker);
        Some(node.need)
    }

    /// The `need` of the node at `key`, if there is one.
    pub(crate) fn need_at(&self, key: usize) -> Option<usize> {
        self.nodes.get(key).map(|node| node.need)
    }

    /// Takes everyone off the line *without* granting them (they wake, look
    /// at the primitive's state, and see it closed or changed).
    pub(crate) fn wake_all_ungranted(&mut self, wakes: &mut WakeList) {
        while let Some(key) = self.head {
            self.unlink(key);
            wakes.push(self.nodes[key].waker.take());
        }
    }

    /// The owner gives its node up. Returns whether it had been granted
    /// (and so holds something it must hand on).
    pub(crate) fn remove(&mut self, key: usize) -> bool {
        if self.nodes[key].linked {
            self.unlink(key);
        }
        self.nodes.remove(key).granted
    }

    fn unlink(&mut self, key: usize) {
        let node = &mut self.nodes[key];
        debug_assert!(node.linked, "wait list: unlinking a node that is not on the line");
        node.linked = false;
        let (prev, next) = (node.prev.take(), node.next.take());
        match prev {
            Some(prev) => self.nodes[prev].next = next,
            None => self.head = next,
        }
        match next {
            Some(next) => self.nodes[next].prev = prev,
            None => self.tail = prev,
        }
        self.queued -= 1;
    }
}

/// Wakers taken out under a lock, to be woken after it is released.
///
/// Holds a few inline (the common case is waking one waiter), so releasing a
/// lock or a permit does not allocate.
#[derive(Default)]
pub(crate) struct WakeList {
    first: Option<Waker>,
    rest: Vec<Waker>,
}

impl WakeList {
    /// Nothing to wake yet.
    pub(crate) const fn new() -> WakeList {
        WakeList { first: None, rest: Vec::new() }
    }

    /// Adds a waker to wake later (ignores `None`: a node already woken).
    pub(crate) fn push(&mut self, waker: Option<Waker>) {
        let Some(waker) = waker else { return };
        if self.first.is_none() {
            self.first = Some(waker);
        } else {
            self.rest.push(waker);
        }
    }

    /// Wakes them all. Call with no lock held.
    ///
    /// A waker is user code and may panic. The panic is contained and
    /// logged at `error`, as the loop does for its timer and I/O wakers: the
    /// other waiters still wake (a lost wakeup would strand a task for
    /// good), and the caller — often a guard's `Drop`, maybe running during
    /// an unwind, where a second panic would abort — goes on. Catching costs
    /// nothing unless something panics.
    pub(crate) fn wake(self) {
        let traced = crate::trace::waking_from(false);
        for waker in self.first.into_iter().chain(self.rest) {
            if let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| waker.wake())) {
                log::error!(
                    "a waker panicked in wake() while eddy::sync woke its waiters (the others were \
                     still woken): {}",
                    crate::task::panic_message(payload.as_ref())
                );
            }
        }
        crate::trace::waking_done(traced);
    }
}

/// Locks a primitive's state, shrugging off poisoning.
///
/// Every critical section in `sync` leaves its state consistent before
/// anything in it can panic (the only panics possible are allocation
/// failures; user code — wakers, destructors of values — runs outside the
/// lock), so a poisoned lock is still safe to use.
pub(crate) fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test::WakeCounter;

    #[test]
    fn grants_go_oldest_first_and_leaving_the_middle_keeps_the_order() {
        let counter = WakeCounter::new();
        let waker = counter.waker();
        let mut list = WaitList::new();
        let a = list.push_back(1, &waker);
        let b = list.push_back(2, &waker);
        let c = list.push_back(3, &waker);
        assert_eq!(list.len(), 3);
        assert!(!list.remove(b));
        assert_eq!(list.front_need(), Some(1));
        let mut wakes = WakeList::new();
        assert!(list.grant_front(&mut wakes));
        assert!(list.is_granted(a) && !list.is_linked(a));
        assert_eq!(list.front_need(), Some(3));
        assert!(list.grant_front(&mut wakes));
        assert!(list.is_granted(c));
        assert!(list.is_empty() && !list.grant_front(&mut wakes));
        wakes.wake();
        assert_eq!(counter.wakes(), 2);
        assert!(list.remove(a) && list.remove(c));
    }
}
