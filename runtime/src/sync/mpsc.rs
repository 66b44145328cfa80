//! A bounded multi-producer, single-consumer queue. asyncio's `Queue`
//! (`put` is [`Sender::send`], `get` is [`Receiver::recv`]).
//!
//! The bound is what makes it a *queue* rather than a memory leak: when the
//! consumer falls behind, `send` waits for room, and the producers slow down
//! to the consumer's pace (backpressure).
//!
//! ```
//! use eddy::sync::mpsc;
//!
//! eddy::run(async {
//!     let (tx, mut rx) = mpsc::channel(8);
//!     eddy::spawn(async move {
//!         for i in 0..3 {
//!             tx.send(i).await.unwrap();
//!         }
//!         // Dropping the last sender closes the channel.
//!     });
//!     let mut got = Vec::new();
//!     while let Some(i) = rx.recv().await {
//!         got.push(i);
//!     }
//!     assert_eq!(got, [0, 1, 2]);
//! });
//! ```
//!
//! # Closing
//!
//! - When every `Sender` is dropped, `recv` drains what is queued, then
//!   returns `None`.
//! - When the `Receiver` is dropped or [`close`](Receiver::close)d, every
//!   `send` (waiting or new) fails with [`SendError`], handing the value back,
//!   and [`Sender::closed`] completes. After `close`, `recv` still drains
//!   what was queued before, then returns `None` (and `try_recv` says
//!   [`TryRecvError::Disconnected`]), even while senders live.
//!
//! # Without a runtime, and as a stream
//!
//! [`Sender::blocking_send`] and [`Receiver::blocking_recv`] let plain
//! threads (or `spawn_blocking` jobs) use the channel; they panic on an
//! event loop thread, where blocking would freeze the loop. [`Receiver`]
//! implements `futures_core::Stream`. For a queue without a bound, see
//! [`unbounded_channel`].
//!
//! # Fairness and why a `Mutex`
//!
//! Senders waiting for room are served first come, first served: a new
//! sender does not overtake one that is already waiting, and a sender that
//! was woken for a free slot but gave up (its future was dropped) passes the
//! slot on, so no waiter is left asleep next to free room.
//!
//! The state sits behind one `std::sync::Mutex`. A channel is touched from
//! several tasks, possibly on several threads, and every operation is a few
//! field updates, so the lock is uncontended and cheap; a lock-free queue
//! would be several times the code for a gain the ping-pong benchmark in
//! `bench/` does not show.

use std::collections::VecDeque;
use std::fmt;
use std::future::poll_fn;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use slab::Slab;

use super::wait_list::{WaitList, WakeList};
use crate::debug::holders::{held, Kind, Resource};

pub mod unbounded;

pub use unbounded::{unbounded_channel, UnboundedReceiver, UnboundedSender};

/// Creates a channel that holds at most `capacity` values.
///
/// # Panics
/// If `capacity` is zero.
pub fn channel<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    assert!(capacity > 0, "mpsc::channel capacity must be at least 1");
    // Room for the first values up front, but not a huge bound's worth.
    new_channel(capacity, capacity.min(1024))
}

/// A channel of `capacity`, with room for `preallocate` values up front.
fn new_channel<T>(capacity: usize, preallocate: usize) -> (Sender<T>, Receiver<T>) {
    let chan = Arc::new(Chan {
        state: Mutex::new(State {
            queue: VecDeque::with_capacity(preallocate),
            capacity,
            senders: 1,
            receiver_closed: false,
            receiver_waker: None,
            waiters: Slab::new(),
            order: VecDeque::new(),
            closed_waiters: WaitList::new(),
        }),
    });
    (Sender { chan: chan.clone() }, Receiver { chan })
}

struct Chan<T> {
    state: Mutex<State<T>>,
}

struct State<T> {
    queue: VecDeque<T>,
    capacity: usize,
    /// Live `Sender`s; at zero the receiver sees the end of the stream.
    senders: usize,
    receiver_closed: bool,
    receiver_waker: Option<Waker>,
    /// Senders waiting for room (`queued`) or woken for it and not yet back.
    waiters: Slab<Waiter>,
    /// Keys of the `queued` waiters, oldest first.
    order: VecDeque<usize>,
    /// Senders waiting in [`Sender::closed`] for the receiver to go.
    closed_waiters: WaitList,
}

struct Waiter {
    waker: Option<Waker>,
    /// Still in `order` (not yet woken).
    queued: bool,
}

impl<T> State<T> {
    /// Room freed: wake the oldest waiting sender, if any.
    fn wake_next_sender(&mut self) -> Option<Waker> {
        let key = self.order.pop_front()?;
        let waiter = &mut self.waiters[key];
        waiter.queued = false;
        waiter.waker.take()
    }

    /// Closing: every waiting sender (in `send` or in `closed`) must come
    /// back and see it.
    fn wake_all_senders(&mut self) -> WakeList {
        self.order.clear();
        let mut wakes = WakeList::new();
        for (_, waiter) in self.waiters.iter_mut() {
            waiter.queued = false;
            wakes.push(waiter.waker.take());
        }
        self.closed_waiters.wake_all_ungranted(&mut wakes);
        wakes
    }
}

impl<T> Chan<T> {
    /// Every critical section leaves the state consistent before it can
    /// panic (the only panics possible are allocation failures), so a
    /// poisoned lock is still safe to use.
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The sending half. Clone it for more producers.
pub struct Sender<T> {
    chan: Arc<Chan<T>>,
}

/// The receiving half.
pub struct Receiver<T> {
    chan: Arc<Chan<T>>,
}

/// The receiver is gone; the value comes back.
#[derive(PartialEq, Eq, Clone, Copy)]
pub struct SendError<T>(pub T);

/// Why [`Sender::try_send`] did not send.
#[derive(PartialEq, Eq, Clone, Copy)]
pub enum TrySendError<T> {
    /// No room right now (or others are already waiting for it).
    Full(T),
    /// The receiver is gone.
    Closed(T),
}

/// Why [`Receiver::try_recv`] returned nothing.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum TryRecvError {
    /// Nothing queued right now.
    Empty,
    /// Nothing queued, and every sender is gone.
    Disconnected,
}

impl<T> Sender<T> {
    /// Sends `value`, waiting for room if the channel is full. Fails, giving
    /// the value back, if the receiver is gone.
    ///
    /// Cancel-safe in the useful sense: if the future is dropped before it
    /// completes, the value was not sent (and is dropped with the future).
    pub async fn send(&self, value: T) -> Result<(), SendError<T>> {
        let mut value = Some(value);
        let mut wait = WaitSlot { chan: &self.chan, key: None };
        poll_fn(|cx| crate::task::poll_budgeted(cx, |cx| wait.poll_send(cx, &mut value))).await
    }

    /// Sends `value` only if there is room now and nobody is waiting for it.
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        let mut state = self.chan.lock();
        if state.receiver_closed {
            return Err(TrySendError::Closed(value));
        }
        if state.queue.len() >= state.capacity || !state.order.is_empty() {
            return Err(TrySendError::Full(value));
        }
        state.queue.push_back(value);
        let waker = state.receiver_waker.take();
        drop(state);
        wake(waker);
        Ok(())
    }

    /// Whether the receiver is gone (every send would fail).
    pub fn is_closed(&self) -> bool {
        self.chan.lock().receiver_closed
    }

    /// Free room right now.
    pub fn capacity(&self) -> usize {
        let state = self.chan.lock();
        state.capacity - state.queue.len()
    }

    /// Sends from code that is not async (a plain thread, a
    /// `spawn_blocking` job): blocks the thread until there is room.
    ///
    /// # Panics
    /// If called on an eddy event loop thread (it would freeze the loop);
    /// use [`send`](Self::send) there.
    #[track_caller]
    pub fn blocking_send(&self, value: T) -> Result<(), SendError<T>> {
        super::blocking::block_on("mpsc::Sender::blocking_send", self.send(value))
    }

    /// Waits until the receiver is dropped or closed: lets a producer stop
    /// work whose results nobody will read. Cancel-safe.
    pub async fn closed(&self) {
        closed(&self.chan).await
    }

    /// Whether two senders feed the same channel.
    pub fn same_channel(&self, other: &Sender<T>) -> bool {
        Arc::ptr_eq(&self.chan, &other.chan)
    }
}

/// [`Sender::closed`], shared with the unbounded sender.
async fn closed<T>(chan: &Chan<T>) {
    struct Waiting<'a, T> {
        chan: &'a Chan<T>,
        key: Option<usize>,
    }
    impl<T> Drop for Waiting<'_, T> {
        fn drop(&mut self) {
            if let Some(key) = self.key {
                self.chan.lock().closed_waiters.remove(key);
            }
        }
    }
    let mut waiting = Waiting { chan, key: None };
    // Budgeted: once closed, `closed()` is ready forever.
    poll_fn(|cx| {
        crate::task::poll_budgeted(cx, |cx| {
            let mut state = chan.lock();
            if state.receiver_closed {
                if let Some(key) = waiting.key.take() {
                    state.closed_waiters.remove(key);
                }
                return Poll::Ready(());
            }
            match waiting.key {
                Some(key) => state.closed_waiters.set_waker(key, cx.waker()),
                None => waiting.key = Some(state.closed_waiters.push_back(0, cx.waker())),
            }
            Poll::Pending
        })
    })
    .await
}

/// The state of one `send` that may wait: its place in the waiting line.
struct WaitSlot<'a, T> {
    chan: &'a Chan<T>,
    key: Option<usize>,
}

impl<T> WaitSlot<'_, T> {
    fn poll_send(&mut self, cx: &mut Context<'_>, value: &mut Option<T>) -> Poll<Result<(), SendError<T>>> {
        let mut state = self.chan.lock();
        let Some(item) = value.take() else {
            panic!("mpsc send polled after completion");
        };
        if state.receiver_closed {
            self.forget(&mut state);
            return Poll::Ready(Err(SendError(item)));
        }
        // A waiter still in line must not jump it; a newcomer must not
        // overtake the line; a woken waiter (or a newcomer with nobody in
        // line) may take free room.
        let in_line = self.key.is_some_and(|key| state.waiters[key].queued);
        let may_send = !in_line && (self.key.is_some() || state.order.is_empty());
        if may_send && state.queue.len() < state.capacity {
            state.queue.push_back(item);
            if let Some(key) = self.key.take() {
                state.waiters.remove(key);
            }
            let waker = state.receiver_waker.take();
            drop(state);
            wake(waker);
            return Poll::Ready(Ok(()));
        }
        *value = Some(item);
        let waker = held(cx.waker(), Resource::At(Kind::MpscSender, std::ptr::from_ref(self.chan).addr()));
        match self.key {
            Some(key) => {
                let waiter = &mut state.waiters[key];
                if !waiter.queued {
                    // Woken, but the room was taken: back to the front.
                    waiter.queued = true;
                    state.order.push_front(key);
                }
                let waiter = &mut state.waiters[key];
                match &waiter.waker {
                    Some(stored) if stored.will_wake(&waker) => {}
                    _ => waiter.waker = Some((*waker).clone()),
                }
            }
            None => {
                let key = state.waiters.insert(Waiter { waker: Some((*waker).clone()), queued: true });
                state.order.push_back(key);
                self.key = Some(key);
            }
        }
        Poll::Pending
    }

    /// Leaves the line. A waiter that was woken for room and did not use it
    /// passes the wake on.
    fn forget(&mut self, state: &mut State<T>) -> Option<Waker> {
        let key = self.key.take()?;
        let waiter = state.waiters.remove(key);
        if waiter.queued {
            state.order.retain(|&queued| queued != key);
            None
        } else if state.queue.len() < state.capacity && !state.receiver_closed {
            state.wake_next_sender()
        } else {
            None
        }
    }
}

impl<T> Drop for WaitSlot<'_, T> {
    fn drop(&mut self) {
        if self.key.is_some() {
            let mut state = self.chan.lock();
            let waker = self.forget(&mut state);
            drop(state);
            wake(waker);
        }
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Sender<T> {
        self.chan.lock().senders += 1;
        Sender { chan: self.chan.clone() }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let mut state = self.chan.lock();
        state.senders -= 1;
        let waker = if state.senders == 0 { state.receiver_waker.take() } else { None };
        drop(state);
        wake(waker);
    }
}

impl<T> Receiver<T> {
    /// Receives the next value, waiting if none is queued. Returns `None`
    /// once every sender is gone and the queue is drained.
    pub async fn recv(&mut self) -> Option<T> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Poll form of [`recv`](Self::recv).
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        crate::task::poll_budgeted(cx, |cx| self.poll_recv_now(cx))
    }

    /// The receive itself; [`poll_recv`](Self::poll_recv) adds the
    /// cooperative budget.
    fn poll_recv_now(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut state = self.chan.lock();
        if let Some(value) = state.queue.pop_front() {
            let waker = state.wake_next_sender();
            drop(state);
            wake(waker);
            return Poll::Ready(Some(value));
        }
        // Drained, and nothing more can come: every sender is gone, or we
        // closed (senders may live, but their sends fail).
        if state.senders == 0 || state.receiver_closed {
            return Poll::Ready(None);
        }
        let waker = held(cx.waker(), Resource::At(Kind::MpscReceiver, Arc::as_ptr(&self.chan).addr()));
        match &state.receiver_waker {
            Some(stored) if stored.will_wake(&waker) => {}
            _ => state.receiver_waker = Some((*waker).clone()),
        }
        Poll::Pending
    }

    /// Receives a value if one is queued, without waiting.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let mut state = self.chan.lock();
        match state.queue.pop_front() {
            Some(value) => {
                let waker = state.wake_next_sender();
                drop(state);
                wake(waker);
                Ok(value)
            }
            None if state.senders == 0 || state.receiver_closed => Err(TryRecvError::Disconnected),
            None => Err(TryRecvError::Empty),
        }
    }

    /// Stops the channel: sends fail from now on, while values already
    /// queued can still be received; once they are, `recv` returns `None`.
    pub fn close(&mut self) {
        let mut state = self.chan.lock();
        state.receiver_closed = true;
        let wakes = state.wake_all_senders();
        drop(state);
        wakes.wake();
    }

    /// Receives from code that is not async: blocks the thread until a
    /// value comes or the channel ends.
    ///
    /// # Panics
    /// If called on an eddy event loop thread (it would freeze the loop);
    /// use [`recv`](Self::recv) there.
    #[track_caller]
    pub fn blocking_recv(&mut self) -> Option<T> {
        super::blocking::block_on("mpsc::Receiver::blocking_recv", self.recv())
    }

    /// Values queued right now.
    pub fn len(&self) -> usize {
        self.chan.lock().queue.len()
    }

    /// Whether nothing is queued right now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let mut state = self.chan.lock();
        state.receiver_closed = true;
        let wakes = state.wake_all_senders();
        let queued = std::mem::take(&mut state.queue);
        drop(state);
        // Outside the lock: values' destructors and wakers may run any code.
        drop(queued);
        wakes.wake();
    }
}

/// The values, until the channel ends: `futures::StreamExt` works on a
/// receiver (`rx.next().await`, `map`, `for_each`, ...).
impl<T> futures_core::Stream for Receiver<T> {
    type Item = T;

    fn poll_next(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.get_mut().poll_recv(cx)
    }
}

/// Wakes a task taken out of the state, once the lock is released.
fn wake(waker: Option<Waker>) {
    if let Some(waker) = waker {
        let traced = crate::trace::waking_from(true);
        waker.wake();
        crate::trace::waking_done(traced);
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender").finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver").field("queued", &self.len()).finish()
    }
}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError(..)")
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the receiver is gone; the value was not sent")
    }
}

impl<T> std::error::Error for SendError<T> {}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("Full(..)"),
            TrySendError::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("the channel is full"),
            TrySendError::Closed(_) => f.write_str("the receiver is gone"),
        }
    }
}

impl<T> std::error::Error for TrySendError<T> {}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("the channel is empty"),
            TryRecvError::Disconnected => f.write_str("the channel is empty and every sender is gone"),
        }
    }
}

impl std::error::Error for TryRecvError {}
