//! `into_split`: owned read and write halves of one connection
//! ([`TcpStream`] or [`UnixStream`](super::UnixStream)), so one task reads
//! while another writes.
//!
//! Both halves hold the same stream through an `Rc` (a stream lives on one
//! loop, so no atomics are needed); the reactor slot behind it already
//! keeps one waiter per direction, which is exactly one per half. Dropping
//! the write half shuts down the writing direction (the peer reads EOF),
//! like closing a writer in asyncio; the socket itself closes when both
//! halves are gone. [`OwnedReadHalf::reunite`] puts the two back together.
//!
//! The halves are generic over the stream, defaulting to `TcpStream`:
//! `OwnedReadHalf` alone means the TCP one.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use super::TcpStream;

/// What a stream offers its halves. Sealed: implemented by eddy's streams.
mod sealed {
    use std::io;
    use std::task::{Context, Poll};

    pub trait Splittable {
        /// The stream's address type.
        type Addr;
        fn poll_read(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>>;
        fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>>;
        fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
        fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
        /// Shuts down writing; already shut down or disconnected is fine.
        fn close_write(&self) -> io::Result<()>;
        fn local_addr(&self) -> io::Result<Self::Addr>;
        fn peer_addr(&self) -> io::Result<Self::Addr>;
    }
}

use sealed::Splittable;

impl Splittable for TcpStream {
    type Addr = std::net::SocketAddr;
    fn poll_read(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        TcpStream::poll_read(self, cx, buf)
    }
    fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        TcpStream::poll_write(self, cx, buf)
    }
    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        TcpStream::poll_read_ready(self, cx)
    }
    fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        TcpStream::poll_write_ready(self, cx)
    }
    fn close_write(&self) -> io::Result<()> {
        match self.poll_close_write() {
            Poll::Ready(result) => result,
            Poll::Pending => Ok(()),
        }
    }
    fn local_addr(&self) -> io::Result<Self::Addr> {
        TcpStream::local_addr(self)
    }
    fn peer_addr(&self) -> io::Result<Self::Addr> {
        TcpStream::peer_addr(self)
    }
}

#[cfg(unix)]
impl Splittable for super::UnixStream {
    type Addr = std::os::unix::net::SocketAddr;
    fn poll_read(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        super::UnixStream::poll_read(self, cx, buf)
    }
    fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        super::UnixStream::poll_write(self, cx, buf)
    }
    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        super::UnixStream::poll_read_ready(self, cx)
    }
    fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        super::UnixStream::poll_write_ready(self, cx)
    }
    fn close_write(&self) -> io::Result<()> {
        match self.shutdown_std(std::net::Shutdown::Write) {
            Err(error) if error.kind() == io::ErrorKind::NotConnected => Ok(()),
            result => result,
        }
    }
    fn local_addr(&self) -> io::Result<Self::Addr> {
        super::UnixStream::local_addr(self)
    }
    fn peer_addr(&self) -> io::Result<Self::Addr> {
        super::UnixStream::peer_addr(self)
    }
}

pub(crate) fn split<S: Splittable>(stream: S) -> (OwnedReadHalf<S>, OwnedWriteHalf<S>) {
    let stream = Rc::new(stream);
    (OwnedReadHalf { stream: stream.clone() }, OwnedWriteHalf { stream: Some(stream) })
}

/// The reading half of a stream, from [`TcpStream::into_split`] or
/// [`UnixStream::into_split`](super::UnixStream::into_split).
///
/// ```
/// use eddy::net::{TcpListener, TcpStream};
///
/// eddy::run(async {
///     let listener = TcpListener::bind("127.0.0.1:0")?;
///     let addr = listener.local_addr()?;
///     eddy::spawn(async move {
///         let (stream, _) = listener.accept().await?;
///         let (mut reader, mut writer) = stream.into_split();
///         // Echo: this task copies what the other half receives.
///         eddy::io::copy(&mut reader, &mut writer).await
///     });
///     let (mut reader, writer) = TcpStream::connect(addr).await?.into_split();
///     let sender = eddy::spawn(async move { writer.write_all(b"ping").await });
///     let mut reply = [0; 4];
///     eddy::io::read_exact(&mut reader, &mut reply).await?;
///     assert_eq!(&reply, b"ping");
///     sender.await??;
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct OwnedReadHalf<S: Splittable = TcpStream> {
    stream: Rc<S>,
}

/// The writing half of a stream, from `into_split`. Dropping it shuts down
/// the writing direction (see the module docs).
pub struct OwnedWriteHalf<S: Splittable = TcpStream> {
    /// `None` only while `reunite` or `forget` takes it apart: the stream
    /// then lives on and is not shut down.
    stream: Option<Rc<S>>,
}

/// The halves passed to [`OwnedReadHalf::reunite`] came from different
/// streams; they are handed back.
pub struct ReuniteError<S: Splittable = TcpStream>(pub OwnedReadHalf<S>, pub OwnedWriteHalf<S>);

impl<S: Splittable> fmt::Display for ReuniteError<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tried to reunite halves of two different streams")
    }
}

impl<S: Splittable> fmt::Debug for ReuniteError<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReuniteError(..)")
    }
}

impl<S: Splittable> std::error::Error for ReuniteError<S> {}

impl<S: Splittable> OwnedReadHalf<S> {
    /// Reads into `buf`, waiting for at least one byte; 0 means EOF.
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| self.stream.poll_read(cx, buf)).await
    }

    /// Poll form of [`read`](Self::read).
    pub fn poll_read(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.stream.poll_read(cx, buf)
    }

    /// Waits until a read would not block.
    pub async fn readable(&self) -> io::Result<()> {
        poll_fn(|cx| self.stream.poll_read_ready(cx)).await
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<S::Addr> {
        self.stream.peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<S::Addr> {
        self.stream.local_addr()
    }

    /// Puts the two halves of one stream back together.
    ///
    /// # Errors
    /// [`ReuniteError`] (with both halves) if they belong to different streams.
    pub fn reunite(self, mut writer: OwnedWriteHalf<S>) -> Result<S, ReuniteError<S>> {
        let same = writer.stream.as_ref().is_some_and(|stream| Rc::ptr_eq(&self.stream, stream));
        if !same {
            return Err(ReuniteError(self, writer));
        }
        writer.forget_stream();
        match Rc::try_unwrap(self.stream) {
            Ok(stream) => Ok(stream),
            Err(_) => unreachable!("a stream's two halves are its only owners"),
        }
    }
}

impl OwnedReadHalf<TcpStream> {
    /// Reads without consuming; see [`TcpStream::peek`].
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.stream.peek(buf).await
    }
}

impl<S: Splittable> OwnedWriteHalf<S> {
    fn stream(&self) -> &S {
        // Only `reunite` and `forget` take it, and they consume the half.
        self.stream.as_deref().unwrap_or_else(|| unreachable!("the stream is taken only on the way out"))
    }

    /// Writes some of `buf`; returns how many bytes were written.
    pub async fn write(&self, buf: &[u8]) -> io::Result<usize> {
        poll_fn(|cx| self.stream().poll_write(cx, buf)).await
    }

    /// Poll form of [`write`](Self::write).
    pub fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.stream().poll_write(cx, buf)
    }

    /// Writes all of `buf`.
    ///
    /// # Errors
    /// `WriteZero` if the socket accepts no more bytes; otherwise the
    /// write's error (which names the peer).
    pub async fn write_all(&self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            match self.write(buf).await? {
                0 => {
                    return Err(io::Error::new(
                        io::ErrorKind::WriteZero,
                        "write_all: the socket accepted no bytes",
                    ))
                }
                n => buf = &buf[n..],
            }
        }
        Ok(())
    }

    /// Shuts down the writing direction now (the peer reads EOF).
    pub async fn shutdown(&self) -> io::Result<()> {
        self.stream().close_write()
    }

    /// Waits until a write would not block.
    pub async fn writable(&self) -> io::Result<()> {
        poll_fn(|cx| self.stream().poll_write_ready(cx)).await
    }

    /// Drops the half *without* shutting down the writing direction.
    pub fn forget(mut self) {
        self.forget_stream();
    }

    fn forget_stream(&mut self) {
        drop(self.stream.take());
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<S::Addr> {
        self.stream().peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<S::Addr> {
        self.stream().local_addr()
    }
}

impl<S: Splittable> Drop for OwnedWriteHalf<S> {
    fn drop(&mut self) {
        if let Some(stream) = self.stream.take() {
            // Best effort, like a close: the peer may be gone already.
            let _ = stream.close_write();
        }
    }
}

impl<S: Splittable> futures_io::AsyncRead for OwnedReadHalf<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.stream.poll_read(cx, buf)
    }
}

impl<S: Splittable> futures_io::AsyncWrite for OwnedWriteHalf<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.stream().poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.stream().close_write())
    }
}

impl<S: Splittable + fmt::Debug> fmt::Debug for OwnedReadHalf<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("OwnedReadHalf").field(&*self.stream).finish()
    }
}

impl<S: Splittable + fmt::Debug> fmt::Debug for OwnedWriteHalf<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("OwnedWriteHalf").field(&self.stream.as_deref()).finish()
    }
}
