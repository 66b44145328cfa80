//! The unbounded flavour of [`mpsc`](super): `send` never waits.
//!
//! Use it where a producer must not wait (a callback, a `Drop`, code on
//! another thread that cannot block) and something else bounds the
//! traffic; otherwise prefer the bounded [`channel`](super::channel), whose
//! backpressure keeps a slow consumer from turning into unbounded memory.
//!
//! ```
//! use eddy::sync::mpsc;
//!
//! eddy::run(async {
//!     let (tx, mut rx) = mpsc::unbounded_channel();
//!     for i in 0..3 {
//!         tx.send(i).unwrap(); // not async: never waits
//!     }
//!     drop(tx);
//!     let mut got = Vec::new();
//!     while let Some(i) = rx.recv().await {
//!         got.push(i);
//!     }
//!     assert_eq!(got, [0, 1, 2]);
//! });
//! ```
//!
//! # How it is built
//!
//! It *is* the bounded channel, with a bound no queue reaches
//! (`usize::MAX`), so no sender ever waits for room; the types only wrap
//! it to drop the `async` from `send`. Everything the module docs say about
//! closing, cancel safety and threads holds unchanged.

use std::fmt;
use std::task::{Context, Poll};

use super::{Receiver, SendError, Sender, TryRecvError};

/// Creates an unbounded channel.
pub fn unbounded_channel<T>() -> (UnboundedSender<T>, UnboundedReceiver<T>) {
    let (sender, receiver) = super::new_channel(usize::MAX, 0);
    (UnboundedSender { inner: sender }, UnboundedReceiver { inner: receiver })
}

/// The sending half of an unbounded channel. Clone it for more producers.
pub struct UnboundedSender<T> {
    inner: Sender<T>,
}

/// The receiving half of an unbounded channel.
pub struct UnboundedReceiver<T> {
    inner: Receiver<T>,
}

impl<T> UnboundedSender<T> {
    /// Queues `value` at once. Fails, giving it back, if the receiver is
    /// gone or closed.
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        let mut state = self.inner.chan.lock();
        if state.receiver_closed {
            return Err(SendError(value));
        }
        state.queue.push_back(value);
        let waker = state.receiver_waker.take();
        drop(state);
        super::wake(waker);
        Ok(())
    }

    /// Whether the receiver is gone (every send would fail).
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// Waits until the receiver is dropped or closed. Cancel-safe.
    pub async fn closed(&self) {
        self.inner.closed().await
    }

    /// Whether two senders feed the same channel.
    pub fn same_channel(&self, other: &UnboundedSender<T>) -> bool {
        self.inner.same_channel(&other.inner)
    }
}

impl<T> Clone for UnboundedSender<T> {
    fn clone(&self) -> UnboundedSender<T> {
        UnboundedSender { inner: self.inner.clone() }
    }
}

impl<T> UnboundedReceiver<T> {
    /// Receives the next value, waiting if none is queued; `None` once every
    /// sender is gone (or the receiver closed) and the queue is drained.
    /// Cancel-safe: a dropped `recv` took nothing.
    pub async fn recv(&mut self) -> Option<T> {
        self.inner.recv().await
    }

    /// Poll form of [`recv`](Self::recv).
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.inner.poll_recv(cx)
    }

    /// Receives a value if one is queued, without waiting.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        self.inner.try_recv()
    }

    /// Receives from code that is not async. Panics on an eddy event loop
    /// thread (see [`Receiver::blocking_recv`]).
    #[track_caller]
    pub fn blocking_recv(&mut self) -> Option<T> {
        self.inner.blocking_recv()
    }

    /// Stops the channel: sends fail from now on; what is queued can still
    /// be received, then `recv` returns `None`.
    pub fn close(&mut self) {
        self.inner.close();
    }

    /// Values queued right now.
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    /// Whether nothing is queued right now.
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }
}

/// The values, until the channel ends.
impl<T> futures_core::Stream for UnboundedReceiver<T> {
    type Item = T;

    fn poll_next(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.get_mut().inner.poll_recv(cx)
    }
}

impl<T> fmt::Debug for UnboundedSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnboundedSender").finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for UnboundedReceiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnboundedReceiver").field("queued", &self.len()).finish()
    }
}
