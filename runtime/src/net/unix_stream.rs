//! `UnixStream`: a connected Unix domain stream socket, with the same
//! reads, writes and `futures-io` traits as `TcpStream`. asyncio's
//! `open_unix_connection`.
//!
//! # How it maps onto the reactor
//!
//! One mio `UnixStream`, registered for both directions (lazily, on the
//! first `WouldBlock`). As for TCP, readiness is cleared on `WouldBlock`
//! and also after a short read or write, which proves the kernel buffer
//! drained at that moment (a FIN or error already seen stays).

use std::fmt;
use std::future::poll_fn;
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};

use mio::Interest;

use super::context;
use crate::reactor::{Direction, IoSource};
use crate::task::budget;

/// A Unix domain stream connection. Methods take `&self`; one task may
/// read while another writes (see [`TcpStream`](super::TcpStream)).
pub struct UnixStream {
    io: IoSource<mio::net::UnixStream>,
    /// The path connected to, for error messages (`None` when accepted or
    /// made by `pair`).
    path: Option<PathBuf>,
}

impl UnixStream {
    /// Connects to the socket at `path`.
    ///
    /// # Errors
    /// The OS error with the path, e.g. `connect to unix socket
    /// /tmp/missing.sock: No such file or directory`.
    pub async fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        // Charged up front: a loop of connects that fail at once (no such
        // file) never waits on anything and would otherwise never yield.
        crate::task::consume_budget().await;
        let path = path.as_ref();
        let doing = || format!("connect to unix socket {}", path.display());
        let stream = mio::net::UnixStream::connect(path).map_err(|e| context(e, doing()))?;
        let stream = UnixStream::from_mio(stream, Some(path.to_path_buf()))?;
        // A Unix connect usually completes at once; if not, the socket
        // turns writable when it does, and SO_ERROR says how it went.
        poll_fn(|cx| stream.io.poll_ready(Direction::Write, cx)).await?;
        if let Some(error) = stream.io.get_ref().take_error()? {
            return Err(context(error, doing()));
        }
        Ok(stream)
    }

    /// A connected pair of streams, both on the current loop.
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = mio::net::UnixStream::pair().map_err(|e| context(e, "create a unix stream pair"))?;
        Ok((UnixStream::from_mio(a, None)?, UnixStream::from_mio(b, None)?))
    }

    pub(crate) fn from_mio(stream: mio::net::UnixStream, path: Option<PathBuf>) -> io::Result<UnixStream> {
        let io = IoSource::new(stream, Interest::READABLE | Interest::WRITABLE)?;
        Ok(UnixStream { io, path })
    }

    /// Adopts a connected std stream into the current loop.
    pub fn from_std(stream: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        stream.set_nonblocking(true).map_err(|e| context(e, "set unix stream non-blocking"))?;
        UnixStream::from_mio(mio::net::UnixStream::from_std(stream), None)
    }

    /// Reads into `buf`, waiting for at least one byte; 0 means EOF.
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| self.poll_read(cx, buf)).await
    }

    /// Poll form of [`read`](Self::read).
    pub fn poll_read(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        budget::poll_budgeted(cx, |cx| self.io.poll_read(cx, buf))
            .map_err(|e| context(e, self.describe("read from")))
    }

    /// Writes some of `buf`; returns how many bytes were written.
    pub async fn write(&self, buf: &[u8]) -> io::Result<usize> {
        poll_fn(|cx| self.poll_write(cx, buf)).await
    }

    /// Poll form of [`write`](Self::write).
    pub fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        budget::poll_budgeted(cx, |cx| self.io.poll_write(cx, buf))
            .map_err(|e| context(e, self.describe("write to")))
    }

    /// Writes all of `buf`.
    pub async fn write_all(&self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            match self.write(buf).await? {
                0 => {
                    let message = format!("{}: the socket accepted no bytes", self.describe("write to"));
                    return Err(io::Error::new(io::ErrorKind::WriteZero, message));
                }
                n => buf = &buf[n..],
            }
        }
        Ok(())
    }

    /// Closes the writing half (the peer reads EOF); reading still works.
    pub async fn shutdown(&self) -> io::Result<()> {
        self.shutdown_std(Shutdown::Write)
    }

    /// Shuts down the reading half, the writing half or both, at once.
    pub fn shutdown_std(&self, how: Shutdown) -> io::Result<()> {
        self.io.get_ref().shutdown(how).map_err(|e| context(e, self.describe("shut down")))
    }

    /// Waits until a read would not block.
    pub async fn readable(&self) -> io::Result<()> {
        poll_fn(|cx| self.poll_read_ready(cx)).await
    }

    /// Poll form of [`readable`](Self::readable): lets a server wait for a
    /// request without holding a buffer to read it into.
    pub fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        budget::poll_budgeted(cx, |cx| self.io.poll_ready(Direction::Read, cx))
    }

    /// Waits until a write would not block.
    pub async fn writable(&self) -> io::Result<()> {
        poll_fn(|cx| self.poll_write_ready(cx)).await
    }

    /// Poll form of [`writable`](Self::writable).
    pub fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        budget::poll_budgeted(cx, |cx| self.io.poll_ready(Direction::Write, cx))
    }

    /// Reads without waiting: `WouldBlock` if nothing is there.
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.try_io(Direction::Read, |mut stream| stream.read(buf))
    }

    /// Writes without waiting: `WouldBlock` if there is no room.
    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.try_io(Direction::Write, |mut stream| stream.write(buf))
    }

    /// Splits the stream into a read half and a write half that can move
    /// into different tasks (of this loop); see
    /// [`OwnedReadHalf`](super::OwnedReadHalf).
    pub fn into_split(self) -> (super::OwnedReadHalf<UnixStream>, super::OwnedWriteHalf<UnixStream>) {
        super::split::split(self)
    }

    /// This end's address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    fn poll_close_write(&self) -> Poll<io::Result<()>> {
        match self.io.get_ref().shutdown(Shutdown::Write) {
            Err(error) if error.kind() == io::ErrorKind::NotConnected => Poll::Ready(Ok(())),
            result => Poll::Ready(result.map_err(|e| context(e, self.describe("shut down")))),
        }
    }

    fn describe(&self, doing: &str) -> String {
        match &self.path {
            Some(path) => format!("{doing} unix socket {}", path.display()),
            None => format!("{doing} unix socket"),
        }
    }
}

impl futures_io::AsyncRead for UnixStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        UnixStream::poll_read(&self, cx, buf)
    }
}

impl futures_io::AsyncWrite for UnixStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        UnixStream::poll_write(&self, cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_close_write()
    }
}

impl futures_io::AsyncRead for &UnixStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        UnixStream::poll_read(self.get_mut(), cx, buf)
    }
}

impl futures_io::AsyncWrite for &UnixStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        UnixStream::poll_write(self.get_mut(), cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_close_write()
    }
}

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixStream").field("path", &self.path).finish()
    }
}

/// For code that needs a plain syscall on the socket (eddy-http's last
/// `read(2)` of a closing connection, which must not trust cached
/// readiness). Reads through it bypass the reactor: treat readiness as
/// unknown afterwards, as for `TcpStream`.
impl std::os::fd::AsFd for UnixStream {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        std::os::fd::AsFd::as_fd(self.io.get_ref())
    }
}
