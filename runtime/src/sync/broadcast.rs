//! A `broadcast` channel: many senders, many receivers, and every receiver
//! sees every value (a clone of it), in order. For fan-out: events to every
//! connected client, a shutdown signal to every worker.
//!
//! ```
//! use eddy::sync::broadcast;
//!
//! eddy::run(async {
//!     let (tx, mut a) = broadcast::channel(16);
//!     let mut b = tx.subscribe();
//!     tx.send("hello").unwrap();
//!     assert_eq!(a.recv().await, Ok("hello"));
//!     assert_eq!(b.recv().await, Ok("hello"));
//! });
//! ```
//!
//! # How it is built
//!
//! A ring of `capacity` slots behind one `std::sync::Mutex`, and a
//! `WaitList` (`wait_list.rs`) of receivers waiting for the next value. Values are
//! numbered; slot `n % capacity` holds value `n` along with how many
//! receivers have yet to read it. Each receiver keeps the number of the
//! next value it wants. A send writes the next slot (overwriting the oldest
//! value) and wakes every waiting receiver. A receiver clones the value out
//! of its slot, except the last reader, which takes it: a value read by
//! everyone is dropped at once instead of living until it is overwritten.
//!
//! **Lagging.** Senders never wait for receivers: a receiver more than
//! `capacity` values behind has lost the oldest ones. Its next `recv`
//! returns [`RecvError::Lagged(n)`](RecvError::Lagged), `n` being how many
//! it missed, and it continues from the oldest value still held.
//!
//! **Cancel safety.** A receiver's position lives in the receiver, not in
//! the `recv` future: dropping a waiting `recv` loses no value, and every
//! send wakes every waiter, so nobody is left asleep by it.
//!
//! [`Receiver`] is a `futures_core::Stream` of `Result<T, Lagged>`: lags
//! show up as items, and the stream ends when every sender is gone.

use std::fmt;
use std::future::poll_fn;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use super::wait_list::{lock, WaitList, WakeList};

/// Creates a broadcast channel that holds the last `capacity` values.
///
/// # Panics
/// If `capacity` is zero.
pub fn channel<T: Clone>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    assert!(capacity > 0, "broadcast::channel capacity must be at least 1");
    let ring = (0..capacity).map(|_| Slot { value: None, unread: 0 }).collect();
    let shared = Arc::new(Shared {
        state: Mutex::new(State { ring, tail: 0, senders: 1, receivers: 1, waiters: WaitList::new() }),
    });
    (Sender { shared: shared.clone() }, Receiver { shared, next: 0, key: None })
}

struct Shared<T> {
    state: Mutex<State<T>>,
}

struct State<T> {
    ring: Box<[Slot<T>]>,
    /// The number the next value sent will get (values so far).
    tail: u64,
    senders: usize,
    receivers: usize,
    /// Receivers waiting for value `tail`.
    waiters: WaitList,
}

struct Slot<T> {
    /// `None` once every receiver read it (or before the first send).
    value: Option<T>,
    /// Receivers that have yet to read it.
    unread: usize,
}

impl<T> State<T> {
    fn capacity(&self) -> u64 {
        self.ring.len() as u64
    }

    /// The oldest value still held.
    fn head(&self) -> u64 {
        self.tail.saturating_sub(self.capacity())
    }

    fn slot(&mut self, number: u64) -> &mut Slot<T> {
        let index = (number % self.capacity()) as usize;
        &mut self.ring[index]
    }
}

/// The sending half. Clone it for more senders.
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

/// A receiving half: sees every value sent after it was created.
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
    /// The number of the next value this receiver reads.
    next: u64,
    /// Our node in the wait list while a `recv` waits.
    key: Option<usize>,
}

/// No receiver exists; the value comes back.
#[derive(PartialEq, Eq, Clone, Copy)]
pub struct SendError<T>(pub T);

/// Why [`Receiver::recv`] returned no value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecvError {
    /// Every sender is gone and every value was read.
    Closed,
    /// This receiver fell behind and missed this many values; the next
    /// `recv` returns the oldest value still held.
    Lagged(u64),
}

/// Why [`Receiver::try_recv`] returned no value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryRecvError {
    /// Nothing new yet.
    Empty,
    /// Every sender is gone and every value was read.
    Closed,
    /// Missed this many values (see [`RecvError::Lagged`]).
    Lagged(u64),
}

/// A stream item: the receiver missed this many values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lagged(pub u64);

impl<T> Sender<T> {
    /// Sends `value` to every current receiver; returns how many there
    /// are. Never waits: a full ring overwrites its oldest value (receivers
    /// that had not read it will see [`RecvError::Lagged`]). Fails, giving
    /// the value back, if there are no receivers.
    pub fn send(&self, value: T) -> Result<usize, SendError<T>> {
        let mut wakes = WakeList::new();
        let mut state = lock(&self.shared.state);
        let receivers = state.receivers;
        if receivers == 0 {
            return Err(SendError(value));
        }
        let number = state.tail;
        let slot = state.slot(number);
        let overwritten = slot.value.replace(value);
        slot.unread = receivers;
        state.tail += 1;
        state.waiters.wake_all_ungranted(&mut wakes);
        drop(state);
        // Outside the lock: a destructor and the wakers may run any code.
        drop(overwritten);
        wakes.wake();
        Ok(receivers)
    }

    /// A new receiver, which will see the values sent from now on.
    pub fn subscribe(&self) -> Receiver<T> {
        let mut state = lock(&self.shared.state);
        state.receivers += 1;
        Receiver { shared: self.shared.clone(), next: state.tail, key: None }
    }

    /// Receivers alive right now.
    pub fn receiver_count(&self) -> usize {
        lock(&self.shared.state).receivers
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Sender<T> {
        lock(&self.shared.state).senders += 1;
        Sender { shared: self.shared.clone() }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let mut wakes = WakeList::new();
        let mut state = lock(&self.shared.state);
        state.senders -= 1;
        if state.senders == 0 {
            state.waiters.wake_all_ungranted(&mut wakes);
        }
        drop(state);
        wakes.wake();
    }
}

impl<T: Clone> Receiver<T> {
    /// Receives the next value, waiting if there is none yet. Cancel-safe:
    /// dropping it loses no value.
    pub async fn recv(&mut self) -> Result<T, RecvError> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Receives the next value if there is one, without waiting.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let mut state = lock(&self.shared.state);
        match take_next(&mut self.next, &mut state) {
            Some(Ok(value)) => Ok(value),
            Some(Err(missed)) => Err(TryRecvError::Lagged(missed)),
            None if state.senders == 0 => Err(TryRecvError::Closed),
            None => Err(TryRecvError::Empty),
        }
    }

    /// Poll form of [`recv`](Self::recv).
    ///
    /// Charges the task's cooperative budget on `Ready` (values, `Lagged`
    /// and `Closed` alike); with the budget spent it wakes the task and
    /// returns `Pending` before taking anything.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<T, RecvError>> {
        crate::task::poll_budgeted(cx, |cx| self.poll_recv_now(cx))
    }

    /// The receive itself; [`poll_recv`](Self::poll_recv) adds the budget.
    fn poll_recv_now(&mut self, cx: &mut Context<'_>) -> Poll<Result<T, RecvError>> {
        let mut state = lock(&self.shared.state);
        let result = match take_next(&mut self.next, &mut state) {
            Some(Ok(value)) => Ok(value),
            Some(Err(missed)) => Err(RecvError::Lagged(missed)),
            None if state.senders == 0 => Err(RecvError::Closed),
            None => {
                match self.key {
                    Some(key) if state.waiters.is_linked(key) => state.waiters.set_waker(key, cx.waker()),
                    Some(key) => {
                        state.waiters.remove(key);
                        self.key = Some(state.waiters.push_back(0, cx.waker()));
                    }
                    None => self.key = Some(state.waiters.push_back(0, cx.waker())),
                }
                return Poll::Pending;
            }
        };
        if let Some(key) = self.key.take() {
            state.waiters.remove(key);
        }
        Poll::Ready(result)
    }
}

/// The next value for a receiver at `next`, if one is there (`Err` with
/// the count if it lagged).
fn take_next<T: Clone>(next: &mut u64, state: &mut State<T>) -> Option<Result<T, u64>> {
    if *next == state.tail {
        return None;
    }
    let head = state.head();
    if *next < head {
        let missed = head - *next;
        *next = head;
        return Some(Err(missed));
    }
    let slot = state.slot(*next);
    // The last reader takes the value instead of cloning it. A slot whose
    // value is already gone was taken by its last reader, which cannot be
    // us while we have not read it.
    let value = if slot.unread <= 1 { slot.value.take() } else { slot.value.clone() };
    slot.unread = slot.unread.saturating_sub(1);
    *next += 1;
    value.map(Ok)
}

impl<T> Receiver<T> {
    /// A new receiver starting at the same point as this one (it will see
    /// the values this one has not read yet).
    pub fn resubscribe(&self) -> Receiver<T> {
        let mut state = lock(&self.shared.state);
        state.receivers += 1;
        let head = state.head();
        for number in self.next.max(head)..state.tail {
            state.slot(number).unread += 1;
        }
        Receiver { shared: self.shared.clone(), next: self.next, key: None }
    }

    /// Values sent that this receiver has not read (or missed) yet.
    pub fn len(&self) -> usize {
        (lock(&self.shared.state).tail - self.next) as usize
    }

    /// Whether this receiver has read everything sent so far.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let mut state = lock(&self.shared.state);
        if let Some(key) = self.key.take() {
            state.waiters.remove(key);
        }
        state.receivers -= 1;
        // We will never read these: if we were their last reader, drop them.
        let mut unread = Vec::new();
        let head = state.head();
        for number in self.next.max(head)..state.tail {
            let slot = state.slot(number);
            slot.unread = slot.unread.saturating_sub(1);
            if slot.unread == 0 {
                unread.extend(slot.value.take());
            }
        }
        drop(state);
        drop(unread);
    }
}

/// Every value, in order; a lag shows up as an `Err(Lagged(n))` item and
/// the stream goes on; it ends when every sender is gone.
impl<T: Clone> futures_core::Stream for Receiver<T> {
    type Item = Result<T, Lagged>;

    fn poll_next(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<T, Lagged>>> {
        match std::task::ready!(self.get_mut().poll_recv(cx)) {
            Ok(value) => Poll::Ready(Some(Ok(value))),
            Err(RecvError::Lagged(missed)) => Poll::Ready(Some(Err(Lagged(missed)))),
            Err(RecvError::Closed) => Poll::Ready(None),
        }
    }
}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError(..)")
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no broadcast receiver exists; the value was not sent")
    }
}

impl<T> std::error::Error for SendError<T> {}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvError::Closed => f.write_str("every broadcast sender is gone"),
            RecvError::Lagged(missed) => write!(f, "the receiver lagged behind and missed {missed} values"),
        }
    }
}

impl std::error::Error for RecvError {}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("no new value yet"),
            TryRecvError::Closed => f.write_str("every broadcast sender is gone"),
            TryRecvError::Lagged(missed) => {
                write!(f, "the receiver lagged behind and missed {missed} values")
            }
        }
    }
}

impl std::error::Error for TryRecvError {}

impl fmt::Display for Lagged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the receiver lagged behind and missed {} values", self.0)
    }
}

impl std::error::Error for Lagged {}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender").finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver").field("next", &self.next).finish()
    }
}
