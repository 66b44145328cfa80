//! `UdpSocket`: datagrams on the loop's reactor. asyncio's datagram
//! endpoints, as a socket you await instead of a protocol with callbacks.
//!
//! # How it maps onto the reactor
//!
//! One mio `UdpSocket`, in the reactor for both directions (joining epoll
//! lazily, on its first `WouldBlock`, like every eddy socket). Unlike a TCP
//! stream, readiness is cleared **only** on `WouldBlock`: a datagram read
//! is never "short" in a way that proves the queue empty (the next one may
//! be waiting), and a send either takes the whole datagram or would block.
//! One task may wait to receive and another to send at the same time; a
//! second waiter in the same direction replaces the first one's wakeup.
//!
//! Every receive and send is cancel-safe: a datagram is taken (or sent)
//! inside one poll or not at all, so dropping the future loses nothing.
//!
//! Errors name what was being done and the socket's address, e.g.
//! `send_to 127.0.0.1:9 from 127.0.0.1:40000: Connection refused`.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::task::{Context, Poll};

use mio::Interest;

use super::{context, lookup::resolve, ToSocketAddrs};
use crate::reactor::{Direction, IoSource};
use crate::task::budget;

/// A UDP socket.
///
/// ```
/// use eddy::net::UdpSocket;
///
/// eddy::run(async {
///     let server = UdpSocket::bind("127.0.0.1:0").await?;
///     let client = UdpSocket::bind("127.0.0.1:0").await?;
///     client.connect(server.local_addr()?).await?;
///     client.send(b"ping").await?;
///     let mut buf = [0; 16];
///     let (n, from) = server.recv_from(&mut buf).await?;
///     server.send_to(&buf[..n], from).await?;
///     let n = client.recv(&mut buf).await?;
///     assert_eq!(&buf[..n], b"ping");
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UdpSocket {
    io: IoSource<mio::net::UdpSocket>,
    /// Cached for error messages, which should not need a syscall.
    local: Option<SocketAddr>,
}

impl UdpSocket {
    /// Binds to `addr` (trying each address it names in turn; host names
    /// are resolved off the loop). Must be called inside an eddy runtime.
    ///
    /// # Errors
    /// The last address's error, e.g. `bind udp 127.0.0.1:53: Permission denied`.
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        let mut last_error = None;
        for addr in resolve(&addr).await? {
            match mio::net::UdpSocket::bind(addr) {
                Ok(socket) => return UdpSocket::register(socket),
                Err(error) => last_error = Some(context(error, format_args!("bind udp {addr}"))),
            }
        }
        Err(last_error.unwrap_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "bind udp: no address to bind to")
        }))
    }

    /// Adopts a bound `std::net::UdpSocket` into the current loop,
    /// switching it to non-blocking mode (for options set by hand first).
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        socket.set_nonblocking(true).map_err(|e| context(e, "set udp socket non-blocking"))?;
        UdpSocket::register(mio::net::UdpSocket::from_std(socket))
    }

    fn register(socket: mio::net::UdpSocket) -> io::Result<UdpSocket> {
        let local = socket.local_addr().ok();
        let io = IoSource::new(socket, Interest::READABLE | Interest::WRITABLE)?;
        Ok(UdpSocket { io, local })
    }

    /// Sets the default peer: [`send`](Self::send) goes there, and
    /// [`recv`](Self::recv) takes datagrams only from there. Host names are
    /// resolved on the blocking pool; the first address that connects wins.
    pub async fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        let mut last_error = None;
        for addr in resolve(&addr).await? {
            match self.io.get_ref().connect(addr) {
                Ok(()) => return Ok(()),
                Err(error) => last_error = Some(context(error, self.describe(&format!("connect to {addr}")))),
            }
        }
        Err(last_error.unwrap_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "connect udp: no address to connect to")
        }))
    }

    /// Sends `buf` as one datagram to the connected peer; returns its size.
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        poll_fn(|cx| self.poll_send(cx, buf)).await
    }

    /// Poll form of [`send`](Self::send).
    pub fn poll_send(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        budget::poll_budgeted(cx, |cx| {
            self.io.poll_io(Direction::Write, cx, |socket| socket.send(buf).map(|n| (n, false)))
        })
        .map_err(|e| context(e, self.describe("send")))
    }

    /// Receives one datagram from the connected peer into `buf`; a datagram
    /// longer than `buf` is truncated (the rest is lost, as with `recv(2)`).
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| self.poll_recv(cx, buf)).await
    }

    /// Poll form of [`recv`](Self::recv).
    pub fn poll_recv(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        budget::poll_budgeted(cx, |cx| {
            self.io.poll_io(Direction::Read, cx, |socket| socket.recv(buf).map(|n| (n, false)))
        })
        .map_err(|e| context(e, self.describe("recv")))
    }

    /// Sends `buf` as one datagram to `target` (an address, not a host name:
    /// resolve names once with [`lookup_host`](super::lookup_host)).
    pub async fn send_to(&self, buf: &[u8], target: SocketAddr) -> io::Result<usize> {
        poll_fn(|cx| self.poll_send_to(cx, buf, target)).await
    }

    /// Poll form of [`send_to`](Self::send_to).
    pub fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        target: SocketAddr,
    ) -> Poll<io::Result<usize>> {
        budget::poll_budgeted(cx, |cx| {
            self.io.poll_io(Direction::Write, cx, |socket| socket.send_to(buf, target).map(|n| (n, false)))
        })
        .map_err(|e| context(e, self.describe(&format!("send_to {target}"))))
    }

    /// Receives one datagram and the address it came from.
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
        .map_err(|e| context(e, self.describe("recv_from")))
    }

    /// Like [`recv_from`](Self::recv_from), but leaves the datagram queued:
    /// the next receive returns it again.
    pub async fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        poll_fn(|cx| self.poll_peek_from(cx, buf)).await
    }

    /// Poll form of [`peek_from`](Self::peek_from).
    pub fn poll_peek_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, SocketAddr)>> {
        budget::poll_budgeted(cx, |cx| {
            self.io.poll_io(Direction::Read, cx, |socket| socket.peek_from(buf).map(|pair| (pair, false)))
        })
        .map_err(|e| context(e, self.describe("peek_from")))
    }

    /// Sends without waiting: `WouldBlock` if the socket has no room.
    pub fn try_send_to(&self, buf: &[u8], target: SocketAddr) -> io::Result<usize> {
        self.io.try_io(Direction::Write, |socket| socket.send_to(buf, target))
    }

    /// Receives without waiting: `WouldBlock` if nothing is queued.
    pub fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io.try_io(Direction::Read, |socket| socket.recv_from(buf))
    }

    /// Waits until a datagram (or an error) is there to receive.
    pub async fn readable(&self) -> io::Result<()> {
        poll_fn(|cx| budget::poll_budgeted(cx, |cx| self.io.poll_ready(Direction::Read, cx))).await
    }

    /// Waits until a send would not block.
    pub async fn writable(&self) -> io::Result<()> {
        poll_fn(|cx| budget::poll_budgeted(cx, |cx| self.io.poll_ready(Direction::Write, cx))).await
    }

    /// The address the socket is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The connected peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// Allows sending to broadcast addresses (`SO_BROADCAST`).
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.io.get_ref().set_broadcast(on).map_err(|e| context(e, self.describe("set SO_BROADCAST")))
    }

    /// Whether `SO_BROADCAST` is set.
    pub fn broadcast(&self) -> io::Result<bool> {
        self.io.get_ref().broadcast()
    }

    /// Joins the IPv4 multicast group `group` on the interface with address
    /// `interface` (`Ipv4Addr::UNSPECIFIED`: the kernel's choice).
    pub fn join_multicast_v4(&self, group: Ipv4Addr, interface: Ipv4Addr) -> io::Result<()> {
        self.io
            .get_ref()
            .join_multicast_v4(&group, &interface)
            .map_err(|e| context(e, self.describe(&format!("join multicast group {group}"))))
    }

    /// Leaves an IPv4 multicast group.
    pub fn leave_multicast_v4(&self, group: Ipv4Addr, interface: Ipv4Addr) -> io::Result<()> {
        self.io
            .get_ref()
            .leave_multicast_v4(&group, &interface)
            .map_err(|e| context(e, self.describe(&format!("leave multicast group {group}"))))
    }

    /// Joins the IPv6 multicast group `group` on interface index `interface`
    /// (0: the kernel's choice).
    pub fn join_multicast_v6(&self, group: Ipv6Addr, interface: u32) -> io::Result<()> {
        self.io
            .get_ref()
            .join_multicast_v6(&group, interface)
            .map_err(|e| context(e, self.describe(&format!("join multicast group {group}"))))
    }

    /// Leaves an IPv6 multicast group.
    pub fn leave_multicast_v6(&self, group: Ipv6Addr, interface: u32) -> io::Result<()> {
        self.io
            .get_ref()
            .leave_multicast_v6(&group, interface)
            .map_err(|e| context(e, self.describe(&format!("leave multicast group {group}"))))
    }

    /// Whether IPv4 multicast sent from this socket loops back to it.
    pub fn set_multicast_loop_v4(&self, on: bool) -> io::Result<()> {
        self.io.get_ref().set_multicast_loop_v4(on)
    }

    /// The `IP_MULTICAST_LOOP` setting.
    pub fn multicast_loop_v4(&self) -> io::Result<bool> {
        self.io.get_ref().multicast_loop_v4()
    }

    /// The hop limit of outgoing IPv4 multicast (`IP_MULTICAST_TTL`).
    pub fn set_multicast_ttl_v4(&self, ttl: u32) -> io::Result<()> {
        self.io.get_ref().set_multicast_ttl_v4(ttl)
    }

    /// The `IP_MULTICAST_TTL` setting.
    pub fn multicast_ttl_v4(&self) -> io::Result<u32> {
        self.io.get_ref().multicast_ttl_v4()
    }

    /// Whether IPv6 multicast sent from this socket loops back to it.
    pub fn set_multicast_loop_v6(&self, on: bool) -> io::Result<()> {
        self.io.get_ref().set_multicast_loop_v6(on)
    }

    /// The `IPV6_MULTICAST_LOOP` setting.
    pub fn multicast_loop_v6(&self) -> io::Result<bool> {
        self.io.get_ref().multicast_loop_v6()
    }

    /// Sets the IP time-to-live of outgoing unicast datagrams.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.get_ref().set_ttl(ttl)
    }

    /// The IP time-to-live of outgoing unicast datagrams.
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.get_ref().ttl()
    }

    /// Takes the pending socket error (`SO_ERROR`), such as an ICMP
    /// "port unreachable" reported for an earlier send.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get_ref().take_error()
    }

    fn describe(&self, doing: &str) -> String {
        match self.local {
            Some(local) => format!("{doing} from udp {local}"),
            None => doing.to_string(),
        }
    }
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpSocket").field("local_addr", &self.local).finish()
    }
}

impl std::os::fd::AsRawFd for UdpSocket {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.io.get_ref().as_raw_fd()
    }
}
