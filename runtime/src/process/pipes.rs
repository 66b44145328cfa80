//! A child's stdin, stdout and stderr as eddy byte streams.
//!
//! # How they map onto the reactor
//!
//! Each is one end of a pipe, switched to non-blocking mode and wrapped in
//! mio's pipe type, in the reactor for its one direction (lazily, on its
//! first `WouldBlock`). As for sockets, readiness is cleared on
//! `WouldBlock` or after a short read or write, which proves the pipe
//! drained (or full) at that moment.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use mio::Interest;

use crate::net::context;
use crate::reactor::IoSource;

/// The child's standard input: write to it, drop it (or [`close`]) to send
/// EOF.
///
/// [`close`]: crate::io::AsyncWriteExt::close
pub struct ChildStdin {
    io: Option<IoSource<mio::unix::pipe::Sender>>,
}

/// The child's standard output.
pub struct ChildStdout {
    io: IoSource<mio::unix::pipe::Receiver>,
}

/// The child's standard error.
pub struct ChildStderr {
    io: IoSource<mio::unix::pipe::Receiver>,
}

impl ChildStdin {
    pub(crate) fn new(stdin: std::process::ChildStdin) -> io::Result<ChildStdin> {
        let pipe = mio::unix::pipe::Sender::from(stdin);
        pipe.set_nonblocking(true).map_err(|e| context(e, "set child stdin non-blocking"))?;
        Ok(ChildStdin { io: Some(IoSource::new(pipe, Interest::WRITABLE)?) })
    }

    /// Writes some of `buf`; returns how many bytes the pipe took.
    pub async fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        poll_fn(|cx| self.poll_write_bytes(cx, buf)).await
    }

    /// Writes all of `buf`.
    pub async fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        crate::io::write_all(self, buf).await
    }

    /// Charges the task's cooperative budget on `Ready` (errors too), as a
    /// socket write does.
    fn poll_write_bytes(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        crate::task::poll_budgeted(cx, |cx| self.poll_write_now(cx, buf))
    }

    fn poll_write_now(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let Some(io) = &self.io else {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "write to child stdin: already closed",
            )));
        };
        io.poll_write(cx, buf).map_err(|e| context(e, "write to child stdin"))
    }
}

/// Reads from a pipe, clearing readiness after a short read. Charges the
/// task's cooperative budget on `Ready` (EOF and errors too), as a socket
/// read does: a child that writes faster than we read keeps the pipe
/// readable forever.
fn poll_read_pipe(
    io: &IoSource<mio::unix::pipe::Receiver>,
    cx: &mut Context<'_>,
    buf: &mut [u8],
    what: &str,
) -> Poll<io::Result<usize>> {
    crate::task::poll_budgeted(cx, |cx| {
        io.poll_read(cx, buf).map_err(|e| context(e, format_args!("read from child {what}")))
    })
}

impl ChildStdout {
    pub(crate) fn new(stdout: std::process::ChildStdout) -> io::Result<ChildStdout> {
        let pipe = mio::unix::pipe::Receiver::from(stdout);
        pipe.set_nonblocking(true).map_err(|e| context(e, "set child stdout non-blocking"))?;
        Ok(ChildStdout { io: IoSource::new(pipe, Interest::READABLE)? })
    }

    /// Reads into `buf`, waiting for at least one byte; 0 means EOF (the
    /// child, and any process it passed its stdout on to, closed it).
    pub async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| poll_read_pipe(&self.io, cx, buf, "stdout")).await
    }
}

impl ChildStderr {
    pub(crate) fn new(stderr: std::process::ChildStderr) -> io::Result<ChildStderr> {
        let pipe = mio::unix::pipe::Receiver::from(stderr);
        pipe.set_nonblocking(true).map_err(|e| context(e, "set child stderr non-blocking"))?;
        Ok(ChildStderr { io: IoSource::new(pipe, Interest::READABLE)? })
    }

    /// Reads into `buf`, waiting for at least one byte; 0 means EOF.
    pub async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| poll_read_pipe(&self.io, cx, buf, "stderr")).await
    }
}

impl futures_io::AsyncWrite for ChildStdin {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.poll_write_bytes(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// Closes the pipe: the child reads EOF.
    fn poll_close(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io = None;
        Poll::Ready(Ok(()))
    }
}

impl futures_io::AsyncRead for ChildStdout {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        poll_read_pipe(&self.io, cx, buf, "stdout")
    }
}

impl futures_io::AsyncRead for ChildStderr {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        poll_read_pipe(&self.io, cx, buf, "stderr")
    }
}

impl fmt::Debug for ChildStdin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildStdin").field("open", &self.io.is_some()).finish()
    }
}

impl fmt::Debug for ChildStdout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ChildStdout")
    }
}

impl fmt::Debug for ChildStderr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ChildStderr")
    }
}
