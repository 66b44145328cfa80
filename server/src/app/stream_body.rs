//! Streamed response bodies: a body produced while it is being sent, by a
//! [`Stream`] of byte chunks ([`Response::stream`](crate::Response::stream))
//! or by a task pushing into a [`BodySender`]
//! ([`Response::channel`](crate::Response::channel)).
//!
//! ## How it is sent
//!
//! The connection writes the head, then polls the body for chunks and
//! appends each to its output buffer: framed as a chunk
//! (`Transfer-Encoding: chunked`) for an HTTP/1.1 client, raw for an
//! HTTP/1.0 one, whose response is close-delimited (`Connection: close`,
//! the body ends when the connection does). The end of the stream becomes
//! the final `0\r\n\r\n` chunk, after which the connection carries on with
//! the next (pipelined) request. A HEAD request, a 204 or a 304 sends no
//! body: the producer is dropped without ever being polled.
//!
//! ## Backpressure
//!
//! The producer is polled only while the connection's output buffer holds
//! less than [`STREAM_HIGH_WATER`] (64 KiB); at that mark the connection
//! writes the buffer out, waiting (within the I/O timeout) for a slow
//! client to take it, and only then asks for more. When the producer has
//! nothing ready, what is buffered goes out at once, so a trickle (server-sent
//! events) is never held back. So a slow client costs the server at most 64
//! KiB plus one chunk per connection (plus, for a [`BodySender`], its
//! [`CHANNEL_CAPACITY`]); everything beyond is the kernel's socket buffers.
//! A [`Stream`] simply is not polled while the client lags; a
//! [`BodySender::send`] does not complete.
//!
//! ## Cancellation
//!
//! The producer is dropped (a stream) or told (`send` fails with
//! [`BodyClosed`]) as soon as the response cannot continue: the client
//! closes its side or resets (the connection keeps reading while it
//! streams, to notice), a write fails or times out, or the server shuts
//! down. A shutdown ends the stream *cleanly*: the server stops polling
//! after the current chunk, writes the final chunk and closes, so the
//! client sees a complete response rather than a cut one. A producer that
//! wants to learn of it without sending can await [`BodySender::closed`].
//! A stream that yields an error (or panics) aborts the response: the
//! connection closes without the final chunk, so the client can tell the
//! body is incomplete.

use std::cell::RefCell;
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};

pub use futures_core::Stream;

/// The connection stops polling a streamed body while its output buffer
/// holds this much, and writes it out first. 64 KiB: the same bound the
/// connection keeps under deep pipelining (`FLUSH_AT`), large enough for
/// full-sized writes to a fast client, small enough that ten thousand slow
/// clients cost well under a gigabyte.
pub const STREAM_HIGH_WATER: usize = 64 * 1024;

/// How many bytes a [`BodySender`] holds before `send` waits: 16 KiB, a
/// few writes' worth, so the producer and the connection overlap without
/// doubling the per-connection bound.
pub const CHANNEL_CAPACITY: usize = 16 * 1024;

/// Something that yields body chunks, each handed to a sink (so a chunk
/// is copied once, straight into the output buffer).
pub(crate) trait ChunkSource {
    /// `Ready(Some(Ok(())))`: one chunk went to `sink`; `Ready(None)`: the
    /// body is complete.
    fn poll_chunk(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        sink: &mut dyn FnMut(&[u8]),
    ) -> Poll<Option<io::Result<()>>>;
}

/// A body produced while it is sent; held by a streamed
/// [`Response`](crate::Response).
pub(crate) struct StreamBody {
    source: Pin<Box<dyn ChunkSource>>,
}

impl StreamBody {
    pub(crate) fn new(source: impl ChunkSource + 'static) -> StreamBody {
        StreamBody { source: Box::pin(source) }
    }

    pub(crate) fn poll_chunk(
        &mut self,
        cx: &mut Context<'_>,
        sink: &mut dyn FnMut(&[u8]),
    ) -> Poll<Option<io::Result<()>>> {
        self.source.as_mut().poll_chunk(cx, sink)
    }
}

impl fmt::Debug for StreamBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StreamBody")
    }
}

/// Adapts a `Stream` of byte chunks.
pub(crate) struct FromStream<S>(pub(crate) Pin<Box<S>>);

impl<S, B> ChunkSource for FromStream<S>
where
    S: Stream<Item = io::Result<B>>,
    B: AsRef<[u8]>,
{
    fn poll_chunk(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        sink: &mut dyn FnMut(&[u8]),
    ) -> Poll<Option<io::Result<()>>> {
        match std::task::ready!(self.0.as_mut().poll_next(cx)) {
            Some(Ok(chunk)) => {
                sink(chunk.as_ref());
                Poll::Ready(Some(Ok(())))
            }
            Some(Err(error)) => Poll::Ready(Some(Err(error))),
            None => Poll::Ready(None),
        }
    }
}

/// The most bytes any streaming connection has held in its output buffer
/// (after appending a chunk), process-wide: what tests check the
/// backpressure bound against.
static HIGH_WATER_SEEN: AtomicUsize = AtomicUsize::new(0);

/// Records an output-buffer size seen while streaming.
pub(crate) fn note_buffered(bytes: usize) {
    HIGH_WATER_SEEN.fetch_max(bytes, Ordering::Relaxed);
}

/// The most bytes a streaming connection of this process has held in its
/// output buffer so far. For tests of the backpressure bound; not API.
#[doc(hidden)]
pub fn max_buffered_while_streaming() -> usize {
    HIGH_WATER_SEEN.load(Ordering::Relaxed)
}

/// `send` failed: the response ended (client gone, write failed, server
/// shutting down). The producer should stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyClosed;

impl fmt::Display for BodyClosed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the streamed response has ended (client gone or server shutting down)")
    }
}

impl std::error::Error for BodyClosed {}

impl From<BodyClosed> for io::Error {
    fn from(closed: BodyClosed) -> io::Error {
        io::Error::new(io::ErrorKind::BrokenPipe, closed)
    }
}

/// What a [`BodySender`] and the connection share.
#[derive(Default)]
struct Channel {
    /// Bytes sent and not yet taken by the connection.
    buf: Vec<u8>,
    /// The sender is gone: the body ends after `buf`.
    finished: bool,
    /// The connection dropped the body: sends fail.
    closed: bool,
    /// The sender aborted with this error.
    error: Option<io::Error>,
    /// The connection, waiting for bytes.
    receiver: Option<Waker>,
    /// The sender, waiting for room (or for the close).
    sender: Option<Waker>,
}

/// The writing end of [`Response::channel`](crate::Response::channel):
/// push chunks into a streamed response from another task.
///
/// [`send`](Self::send) waits while [`CHANNEL_CAPACITY`] bytes are still
/// unsent, so a producer runs no further ahead of the client than that
/// (see the module docs). Dropping the sender ends the body (the final
/// chunk goes out); [`abort`](Self::abort) ends it as failed instead.
///
/// ```no_run
/// use eddy_http::{App, Request, Response};
///
/// async fn count(_req: Request) -> Response {
///     let (mut tx, response) = Response::channel();
///     eddy::spawn(async move {
///         for i in 0..10 {
///             if tx.send(format!("{i}\n")).await.is_err() {
///                 return; // the client left, or the server is shutting down
///             }
///         }
///     });
///     response
/// }
/// let app = App::new().get("/count", count);
/// ```
pub struct BodySender {
    shared: Rc<RefCell<Channel>>,
}

impl BodySender {
    /// Sends `chunk`, first waiting until fewer than [`CHANNEL_CAPACITY`]
    /// bytes are unsent. An empty chunk is a no-op.
    ///
    /// # Errors
    /// [`BodyClosed`] once the response has ended: the producer should stop.
    pub async fn send(&mut self, chunk: impl AsRef<[u8]>) -> Result<(), BodyClosed> {
        poll_fn(|cx| {
            let mut shared = self.shared.borrow_mut();
            if shared.closed {
                return Poll::Ready(Err(BodyClosed));
            }
            if shared.buf.len() >= CHANNEL_CAPACITY {
                shared.sender = Some(cx.waker().clone());
                return Poll::Pending;
            }
            Poll::Ready(Ok(()))
        })
        .await?;
        let chunk = chunk.as_ref();
        if !chunk.is_empty() {
            let mut shared = self.shared.borrow_mut();
            shared.buf.extend_from_slice(chunk);
            if let Some(waker) = shared.receiver.take() {
                waker.wake();
            }
        }
        Ok(())
    }

    /// Waits until the response has ended (client gone, server shutting
    /// down): for a producer that waits on something else and wants to stop
    /// without sending first.
    pub async fn closed(&self) {
        poll_fn(|cx| {
            let mut shared = self.shared.borrow_mut();
            if shared.closed {
                return Poll::Ready(());
            }
            shared.sender = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }

    /// Whether the response has ended.
    pub fn is_closed(&self) -> bool {
        self.shared.borrow().closed
    }

    /// Ends the body as failed: the connection closes without the final
    /// chunk, so the client knows the body is incomplete.
    pub fn abort(self, error: io::Error) {
        let mut shared = self.shared.borrow_mut();
        shared.error = Some(error);
        // `Drop` sets `finished` and wakes the connection.
    }
}

impl Drop for BodySender {
    fn drop(&mut self) {
        let mut shared = self.shared.borrow_mut();
        shared.finished = true;
        if let Some(waker) = shared.receiver.take() {
            waker.wake();
        }
    }
}

impl fmt::Debug for BodySender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BodySender").field("closed", &self.is_closed()).finish()
    }
}

/// The connection's end of a [`BodySender`].
pub(crate) struct ChannelSource {
    shared: Rc<RefCell<Channel>>,
    /// The chunk being handed out, swapped with the shared buffer so the
    /// sender can refill while the connection copies.
    taken: Vec<u8>,
}

/// A sender and the source the connection reads.
pub(crate) fn channel() -> (BodySender, ChannelSource) {
    let shared = Rc::new(RefCell::new(Channel::default()));
    (BodySender { shared: shared.clone() }, ChannelSource { shared, taken: Vec::new() })
}

impl ChunkSource for ChannelSource {
    fn poll_chunk(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        sink: &mut dyn FnMut(&[u8]),
    ) -> Poll<Option<io::Result<()>>> {
        let this = &mut *self;
        let mut shared = this.shared.borrow_mut();
        if !shared.buf.is_empty() {
            this.taken.clear();
            std::mem::swap(&mut this.taken, &mut shared.buf);
            if let Some(waker) = shared.sender.take() {
                waker.wake();
            }
            drop(shared);
            sink(&this.taken);
            return Poll::Ready(Some(Ok(())));
        }
        if let Some(error) = shared.error.take() {
            return Poll::Ready(Some(Err(error)));
        }
        if shared.finished {
            return Poll::Ready(None);
        }
        shared.receiver = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl Drop for ChannelSource {
    fn drop(&mut self) {
        let mut shared = self.shared.borrow_mut();
        shared.closed = true;
        shared.buf = Vec::new();
        if let Some(waker) = shared.sender.take() {
            waker.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn poll(source: &mut StreamBody) -> (Poll<Option<io::Result<()>>>, Vec<u8>) {
        let mut got = Vec::new();
        let mut cx = Context::from_waker(Waker::noop());
        let poll = source.poll_chunk(&mut cx, &mut |bytes| got.extend_from_slice(bytes));
        (poll, got)
    }

    #[test]
    fn a_channel_delivers_in_order_and_ends_when_the_sender_drops() {
        let (mut tx, rx) = channel();
        let mut body = StreamBody::new(rx);
        assert!(poll(&mut body).0.is_pending());
        eddy::test::run(async move {
            tx.send("ab").await.unwrap();
            tx.send("").await.unwrap();
            tx.send("c").await.unwrap();
            let (ready, got) = poll(&mut body);
            assert!(matches!(ready, Poll::Ready(Some(Ok(())))));
            assert_eq!(got, b"abc");
            drop(tx);
            assert!(matches!(poll(&mut body).0, Poll::Ready(None)));
        });
    }

    #[test]
    fn send_fails_once_the_connection_drops_the_body() {
        let (mut tx, rx) = channel();
        drop(rx);
        assert!(tx.is_closed());
        eddy::test::run(async move {
            assert_eq!(tx.send("x").await, Err(BodyClosed));
            tx.closed().await;
        });
    }

    #[test]
    fn an_aborted_channel_yields_its_error_after_the_bytes() {
        let (mut tx, rx) = channel();
        let mut body = StreamBody::new(rx);
        eddy::test::run(async move {
            tx.send("partial").await.unwrap();
            tx.abort(io::Error::other("database went away"));
        });
        assert!(matches!(poll(&mut body).0, Poll::Ready(Some(Ok(())))));
        assert!(matches!(poll(&mut body).0, Poll::Ready(Some(Err(_)))));
    }
}
