//! A one-shot channel: a value that will be set later, awaited now.
//! asyncio's `Future` (`set_result` is [`Sender::send`], `await fut` is
//! awaiting the [`Receiver`]).
//!
//! ```
//! use eddy::sync::oneshot;
//!
//! eddy::run(async {
//!     let (tx, rx) = oneshot::channel();
//!     eddy::spawn(async move {
//!         let _ = tx.send("done");
//!     });
//!     assert_eq!(rx.await, Ok("done"));
//! });
//! ```
//!
//! # How it works
//!
//! One allocation holds the value slot, a state word and a waker for each
//! side. The state word has two bits:
//!
//! ```text
//!   VALUE_SENT  the sender wrote the slot and will never touch it again
//!   CLOSED      one side is gone (or the receiver called close())
//! ```
//!
//! The slot is an `UnsafeCell` rather than a `Mutex<Option<T>>`: the bits
//! already say who owns it at every moment (the sender until VALUE_SENT, the
//! receiver after), so a lock would only add two atomic operations to every
//! send and receive. That ownership rule is the whole safety argument, and
//! each `unsafe` block below cites it.

use std::cell::UnsafeCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::AcqRel, Ordering::Acquire};
use std::sync::Arc;
use std::task::{Context, Poll};

use atomic_waker::AtomicWaker;

use crate::debug::holders::{self, Kind, Resource};

/// The sender stored a value. Set once, by the sender, after writing the
/// slot; from then on only the receiver touches the slot.
const VALUE_SENT: usize = 1 << 0;
/// The sender went away without sending, or the receiver went away (or
/// closed). A sender that sees it before sending keeps its value.
const CLOSED: usize = 1 << 1;

/// Creates a connected sender and receiver.
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let inner = Arc::new(Inner {
        state: AtomicUsize::new(0),
        value: UnsafeCell::new(None),
        receiver_waker: AtomicWaker::new(),
        sender_waker: AtomicWaker::new(),
    });
    (Sender { inner: Some(inner.clone()) }, Receiver { inner, terminated: false })
}

struct Inner<T> {
    state: AtomicUsize,
    value: UnsafeCell<Option<T>>,
    /// The task awaiting the value.
    receiver_waker: AtomicWaker,
    /// The task awaiting [`Sender::closed`].
    sender_waker: AtomicWaker,
}

// SAFETY: the slot is handed from sender to receiver through VALUE_SENT
// (Release on set, Acquire on read) and never accessed by both; `T: Send` is
// required because the value crosses threads.
unsafe impl<T: Send> Send for Inner<T> {}
// SAFETY: as above: `&Inner` never gives two threads the slot at once.
unsafe impl<T: Send> Sync for Inner<T> {}

/// Sends the one value. Dropping it unsent makes the receiver get
/// [`RecvError`].
pub struct Sender<T> {
    /// `None` once the value is sent.
    inner: Option<Arc<Inner<T>>>,
}

/// Awaits the one value.
pub struct Receiver<T> {
    inner: Arc<Inner<T>>,
    /// Already returned `Ready`.
    terminated: bool,
}

/// The sender was dropped without sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecvError(());

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the oneshot sender was dropped without sending a value")
    }
}

impl std::error::Error for RecvError {}

/// Why [`Receiver::try_recv`] returned no value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryRecvError {
    /// Nothing sent yet.
    Empty,
    /// The sender was dropped without sending (or the value was taken).
    Closed,
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("no value sent yet"),
            TryRecvError::Closed => f.write_str("the oneshot channel is closed"),
        }
    }
}

impl std::error::Error for TryRecvError {}

impl<T> Sender<T> {
    /// Sends `value`, waking the receiver. Gives the value back if the
    /// receiver is already gone (or closed the channel).
    pub fn send(mut self, value: T) -> Result<(), T> {
        let Some(inner) = self.inner.take() else { return Err(value) };
        if inner.state.load(Acquire) & CLOSED != 0 {
            return Err(value);
        }
        // SAFETY: VALUE_SENT is not set, so the slot is ours (the receiver
        // reads it only after seeing VALUE_SENT).
        unsafe { *inner.value.get() = Some(value) };
        let before = inner.state.fetch_or(VALUE_SENT, AcqRel);
        if before & CLOSED != 0 {
            // The receiver closed between our check and the publish, and it
            // only takes the value if VALUE_SENT was set when it closed. It
            // was not: the value is still ours to give back.
            // SAFETY: as just argued, the receiver will not touch the slot.
            let value = unsafe { (*inner.value.get()).take() };
            return value.map_or(Ok(()), Err);
        }
        inner.receiver_waker.wake();
        Ok(())
    }

    /// Whether the receiver is gone, so a send would fail.
    pub fn is_closed(&self) -> bool {
        self.inner.as_ref().is_none_or(|inner| inner.state.load(Acquire) & CLOSED != 0)
    }

    /// Waits until the receiver is dropped or closed: lets a producer stop
    /// work whose result nobody wants any more.
    pub async fn closed(&mut self) {
        std::future::poll_fn(|cx| self.poll_closed(cx)).await
    }

    /// Poll form of [`closed`](Self::closed). Charges the task's
    /// cooperative budget on `Ready`: once closed, it is ready forever.
    pub fn poll_closed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        crate::task::poll_budgeted(cx, |cx| self.poll_closed_now(cx))
    }

    /// The check itself; [`poll_closed`](Self::poll_closed) adds the budget.
    fn poll_closed_now(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some(inner) = &self.inner else { return Poll::Ready(()) };
        if inner.state.load(Acquire) & CLOSED != 0 {
            return Poll::Ready(());
        }
        let at = Resource::At(Kind::OneshotSender, Arc::as_ptr(inner).addr());
        holders::register(&inner.sender_waker, cx.waker(), at);
        if inner.state.load(Acquire) & CLOSED != 0 {
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            inner.state.fetch_or(CLOSED, AcqRel);
            inner.receiver_waker.wake();
        }
    }
}

impl<T> Receiver<T> {
    /// Takes the value if it has been sent, without waiting.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let state = self.inner.state.load(Acquire);
        if state & VALUE_SENT != 0 {
            // SAFETY: VALUE_SENT observed with Acquire: the sender is done
            // with the slot and we are its only reader.
            return match unsafe { (*self.inner.value.get()).take() } {
                Some(value) => {
                    self.terminated = true;
                    Ok(value)
                }
                None => Err(TryRecvError::Closed),
            };
        }
        if state & CLOSED != 0 {
            return Err(TryRecvError::Closed);
        }
        Err(TryRecvError::Empty)
    }

    /// Refuses the value: a later `send` fails and gives it back, and
    /// [`Sender::closed`] completes. A value already sent can still be taken
    /// with [`try_recv`](Self::try_recv).
    pub fn close(&mut self) {
        self.inner.state.fetch_or(CLOSED, AcqRel);
        self.inner.sender_waker.wake();
    }

    /// Whether awaiting would complete at once (a value was sent, or the
    /// sender is gone).
    pub fn is_ready(&self) -> bool {
        self.terminated || self.inner.state.load(Acquire) & (VALUE_SENT | CLOSED) != 0
    }

    /// Waits for the value from code that is not async (a plain thread, a
    /// `spawn_blocking` job), blocking the thread.
    ///
    /// # Panics
    /// If called on an eddy event loop thread, where blocking would freeze
    /// the loop; `.await` the receiver there instead.
    #[track_caller]
    pub fn blocking_recv(self) -> Result<T, RecvError> {
        super::blocking::block_on("oneshot::Receiver::blocking_recv", self)
    }
}

impl<T> Future for Receiver<T> {
    type Output = Result<T, RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T, RecvError>> {
        crate::task::poll_budgeted(cx, |cx| self.get_mut().poll_recv(cx))
    }
}

impl<T> Receiver<T> {
    /// The receive itself; [`Future::poll`] adds the cooperative budget.
    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<T, RecvError>> {
        let this = self;
        assert!(!this.terminated, "oneshot::Receiver polled after it completed");
        let mut result = this.try_recv();
        if matches!(result, Err(TryRecvError::Empty)) {
            let at = Resource::At(Kind::OneshotReceiver, Arc::as_ptr(&this.inner).addr());
            holders::register(&this.inner.receiver_waker, cx.waker(), at);
            // The sender may have finished between the check and the
            // registration; look again so that wake is not lost.
            result = this.try_recv();
        }
        match result {
            Ok(value) => Poll::Ready(Ok(value)),
            Err(TryRecvError::Empty) => Poll::Pending,
            Err(TryRecvError::Closed) => {
                this.terminated = true;
                Poll::Ready(Err(RecvError(())))
            }
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let before = self.inner.state.fetch_or(CLOSED, AcqRel);
        if before & VALUE_SENT != 0 {
            // SAFETY: VALUE_SENT observed (AcqRel): the slot is ours. Drop
            // the unreceived value here rather than wherever the last Arc
            // happens to go.
            drop(unsafe { (*self.inner.value.get()).take() });
        } else {
            self.inner.sender_waker.wake();
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender").field("closed", &self.is_closed()).finish()
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver").field("ready", &self.is_ready()).finish()
    }
}
