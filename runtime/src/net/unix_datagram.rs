//! `UnixDatagram`: datagrams over Unix domain sockets.
//!
//! # How it maps onto the reactor
//!
//! One mio `UnixDatagram`, registered for both directions (lazily, on the
//! first `WouldBlock`); as for UDP, readiness is cleared only on
//! `WouldBlock`, since one datagram received says nothing about the next.
//! `bind` creates a file like [`UnixListener::bind`](super::UnixListener::bind)
//! and never removes one it did not create; unlike the listener it leaves
//! its own file in place on drop (a datagram peer may still address it).

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::task::{Context, Poll};

use mio::Interest;

use super::context;
use crate::reactor::{Direction, IoSource};
use crate::task::budget;

/// A Unix domain datagram socket.
pub struct UnixDatagram {
    io: IoSource<mio::net::UnixDatagram>,
}

impl UnixDatagram {
    /// Creates the socket file at `path` and binds to it.
    ///
    /// # Errors
    /// `AddrInUse` (naming the path) if it exists.
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixDatagram> {
        let path = path.as_ref();
        let socket = mio::net::UnixDatagram::bind(path)
            .map_err(|e| super::unix_listener::bind_error(e, "unix datagram socket", path))?;
        UnixDatagram::register(socket)
    }

    /// A socket bound to no path (it can send, and receive replies only if
    /// connected or paired).
    pub fn unbound() -> io::Result<UnixDatagram> {
        UnixDatagram::register(
            mio::net::UnixDatagram::unbound().map_err(|e| context(e, "create unix datagram socket"))?,
        )
    }

    /// A connected pair of sockets.
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = mio::net::UnixDatagram::pair().map_err(|e| context(e, "create a unix datagram pair"))?;
        Ok((UnixDatagram::register(a)?, UnixDatagram::register(b)?))
    }

    fn register(socket: mio::net::UnixDatagram) -> io::Result<UnixDatagram> {
        Ok(UnixDatagram { io: IoSource::new(socket, Interest::READABLE | Interest::WRITABLE)? })
    }

    /// Sets the default peer for [`send`](Self::send) and [`recv`](Self::recv).
    pub fn connect(&self, path: impl AsRef<Path>) -> io::Result<()> {
        let path = path.as_ref();
        self.io
            .get_ref()
            .connect(path)
            .map_err(|e| context(e, format_args!("connect to unix datagram socket {}", path.display())))
    }

    /// Sends one datagram to the connected peer.
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        poll_fn(|cx| self.poll_send(cx, buf)).await
    }

    /// Poll form of [`send`](Self::send).
    pub fn poll_send(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        budget::poll_budgeted(cx, |cx| {
            self.io.poll_io(Direction::Write, cx, |socket| socket.send(buf).map(|n| (n, false)))
        })
        .map_err(|e| context(e, "send on unix datagram socket"))
    }

    /// Receives one datagram from the connected peer.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| self.poll_recv(cx, buf)).await
    }

    /// Poll form of [`recv`](Self::recv).
    pub fn poll_recv(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        budget::poll_budgeted(cx, |cx| {
            self.io.poll_io(Direction::Read, cx, |socket| socket.recv(buf).map(|n| (n, false)))
        })
        .map_err(|e| context(e, "recv on unix datagram socket"))
    }

    /// Sends one datagram to the socket at `path`.
    pub async fn send_to(&self, buf: &[u8], path: impl AsRef<Path>) -> io::Result<usize> {
        let path = path.as_ref();
        poll_fn(|cx| {
            budget::poll_budgeted(cx, |cx| {
                self.io.poll_io(Direction::Write, cx, |socket| socket.send_to(buf, path).map(|n| (n, false)))
            })
            .map_err(|e| context(e, format_args!("send_to unix datagram socket {}", path.display())))
        })
        .await
    }

    /// Receives one datagram and the address of its sender.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        poll_fn(|cx| self.poll_recv_from(cx, buf)).await
    }

    /// Poll form of [`recv_from`](Self::recv_from).
    pub fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, SocketAddr)>> {
        budget::poll_budgeted(cx, |cx| {
            self.io.poll_io(Direction::Read, cx, |socket| socket.recv_from(buf).map(|pair| (pair, false)))
        })
        .map_err(|e| context(e, "recv_from on unix datagram socket"))
    }

    /// This socket's address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The connected peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }
}

impl fmt::Debug for UnixDatagram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixDatagram").field("local_addr", &self.local_addr().ok()).finish()
    }
}
