//! `TcpStream::into_split`: owned read and write halves of one connection,
//! so one task reads while another writes.
//!
//! Both halves hold the same stream through an `Rc` (a stream lives on one
//! loop, so no atomics are needed); the reactor slot behind it already
//! keeps one waiter per direction, which is exactly one per half. Dropping
//! the write half shuts down the writing direction (the peer reads EOF),
//! like closing a writer in asyncio; the socket itself closes when both
//! halves are gone. [`OwnedReadHalf::reunite`] puts the two back together.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use super::TcpStream;

pub(crate) fn split(stream: TcpStream) -> (OwnedReadHalf, OwnedWriteHalf) {
    let stream = Rc::new(stream);
    (OwnedReadHalf { stream: stream.clone() }, OwnedWriteHalf { stream, shutdown_on_drop: true })
}

/// The reading half of a [`TcpStream`], from [`TcpStream::into_split`].
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
pub struct OwnedReadHalf {
    stream: Rc<TcpStream>,
}

/// The writing half of a [`TcpStream`], from [`TcpStream::into_split`].
/// Dropping it shuts down the writing direction (see the module docs).
pub struct OwnedWriteHalf {
    stream: Rc<TcpStream>,
    /// Cleared by `reunite` and `forget`: the stream lives on.
    shutdown_on_drop: bool,
}

/// The halves passed to [`OwnedReadHalf::reunite`] came from different
/// streams; they are handed back.
#[derive(Debug)]
pub struct ReuniteError(pub OwnedReadHalf, pub OwnedWriteHalf);

impl fmt::Display for ReuniteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tried to reunite halves of two different TCP streams")
    }
}

impl std::error::Error for ReuniteError {}

impl OwnedReadHalf {
    /// Reads into `buf`; see [`TcpStream::read`].
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.stream.read(buf).await
    }

    /// Poll form of [`read`](Self::read).
    pub fn poll_read(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.stream.poll_read(cx, buf)
    }

    /// Reads without consuming; see [`TcpStream::peek`].
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.stream.peek(buf).await
    }

    /// Waits until a read would not block.
    pub async fn readable(&self) -> io::Result<()> {
        poll_fn(|cx| self.stream.poll_read_ready(cx)).await
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.stream.peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.stream.local_addr()
    }

    /// Puts the two halves of one stream back together.
    ///
    /// # Errors
    /// [`ReuniteError`] (with both halves) if they belong to different streams.
    pub fn reunite(self, mut writer: OwnedWriteHalf) -> Result<TcpStream, ReuniteError> {
        if !Rc::ptr_eq(&self.stream, &writer.stream) {
            return Err(ReuniteError(self, writer));
        }
        writer.shutdown_on_drop = false;
        let stream = writer.stream.clone();
        drop(writer);
        drop(self);
        // Both other references are gone, so this is the only one left.
        match Rc::try_unwrap(stream) {
            Ok(stream) => Ok(stream),
            Err(_) => unreachable!("a stream's two halves are its only owners"),
        }
    }
}

impl OwnedWriteHalf {
    /// Writes some of `buf`; see [`TcpStream::write`].
    pub async fn write(&self, buf: &[u8]) -> io::Result<usize> {
        self.stream.write(buf).await
    }

    /// Poll form of [`write`](Self::write).
    pub fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.stream.poll_write(cx, buf)
    }

    /// Writes all of `buf`; see [`TcpStream::write_all`].
    pub async fn write_all(&self, buf: &[u8]) -> io::Result<()> {
        self.stream.write_all(buf).await
    }

    /// Shuts down the writing direction now (the peer reads EOF).
    pub async fn shutdown(&self) -> io::Result<()> {
        self.stream.shutdown().await
    }

    /// Waits until a write would not block.
    pub async fn writable(&self) -> io::Result<()> {
        poll_fn(|cx| self.stream.poll_write_ready(cx)).await
    }

    /// Drops the half *without* shutting down the writing direction.
    pub fn forget(mut self) {
        self.shutdown_on_drop = false;
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.stream.peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.stream.local_addr()
    }
}

impl Drop for OwnedWriteHalf {
    fn drop(&mut self) {
        if self.shutdown_on_drop {
            // Best effort, like a close: the peer may be gone already.
            let _ = self.stream.shutdown_std(std::net::Shutdown::Write);
        }
    }
}

impl futures_io::AsyncRead for OwnedReadHalf {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.stream.poll_read(cx, buf)
    }
}

impl futures_io::AsyncWrite for OwnedWriteHalf {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.stream.poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.stream.poll_close_write()
    }
}

impl fmt::Debug for OwnedReadHalf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("OwnedReadHalf").field(&*self.stream).finish()
    }
}

impl fmt::Debug for OwnedWriteHalf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("OwnedWriteHalf").field(&*self.stream).finish()
    }
}
