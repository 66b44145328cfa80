//! `TcpSocket`: a TCP socket not yet connected or listening, for setting
//! options that must come before `bind`, `connect` or `listen`
//! (`SO_REUSEADDR`, `SO_REUSEPORT`, buffer sizes, a chosen source address).
//!
//! It is a plain `socket2::Socket` in non-blocking mode and is not in the
//! reactor at all: nothing can be waited for on it. [`connect`] and
//! [`listen`] turn it into a [`TcpStream`] or [`TcpListener`], which join
//! the current loop's reactor the usual way (lazily, on their first
//! `WouldBlock`).
//!
//! [`connect`]: TcpSocket::connect
//! [`listen`]: TcpSocket::listen

use std::fmt;
use std::io;
use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};

use super::{context, TcpListener, TcpStream};

/// A TCP socket being set up.
///
/// ```
/// use eddy::net::TcpSocket;
///
/// eddy::run(async {
///     let socket = TcpSocket::new_v4()?;
///     socket.set_reuseaddr(true)?;
///     socket.bind("127.0.0.1:0".parse().unwrap())?;
///     let listener = socket.listen(1024)?;
///
///     let client = TcpSocket::new_v4()?;
///     client.set_recv_buffer_size(64 * 1024)?;
///     let stream = client.connect(listener.local_addr()?).await?;
///     assert_eq!(stream.peer_addr()?, listener.local_addr()?);
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct TcpSocket {
    socket: Socket,
}

impl TcpSocket {
    /// A new IPv4 TCP socket.
    pub fn new_v4() -> io::Result<TcpSocket> {
        TcpSocket::new(Domain::IPV4)
    }

    /// A new IPv6 TCP socket.
    pub fn new_v6() -> io::Result<TcpSocket> {
        TcpSocket::new(Domain::IPV6)
    }

    /// A new socket of the family of `addr`.
    pub fn new_for(addr: &SocketAddr) -> io::Result<TcpSocket> {
        TcpSocket::new(Domain::for_address(*addr))
    }

    fn new(domain: Domain) -> io::Result<TcpSocket> {
        let socket = Socket::new(domain, Type::STREAM, Some(Protocol::TCP))
            .map_err(|e| context(e, "create a TCP socket"))?;
        socket.set_nonblocking(true).map_err(|e| context(e, "set TCP socket non-blocking"))?;
        Ok(TcpSocket { socket })
    }

    /// Sets `SO_REUSEADDR`: bind a listening address still in `TIME_WAIT`
    /// from a previous run.
    pub fn set_reuseaddr(&self, reuse: bool) -> io::Result<()> {
        self.socket.set_reuse_address(reuse).map_err(|e| context(e, "set SO_REUSEADDR"))
    }

    /// Whether `SO_REUSEADDR` is set.
    pub fn reuseaddr(&self) -> io::Result<bool> {
        self.socket.reuse_address()
    }

    /// Sets `SO_REUSEPORT`: several sockets (one per loop, say) listen on
    /// the same port and the kernel spreads connections over them.
    #[cfg(all(unix, not(any(target_os = "solaris", target_os = "illumos"))))]
    pub fn set_reuseport(&self, reuse: bool) -> io::Result<()> {
        self.socket.set_reuse_port(reuse).map_err(|e| context(e, "set SO_REUSEPORT"))
    }

    /// Whether `SO_REUSEPORT` is set.
    #[cfg(all(unix, not(any(target_os = "solaris", target_os = "illumos"))))]
    pub fn reuseport(&self) -> io::Result<bool> {
        self.socket.reuse_port()
    }

    /// Sets `SO_SNDBUF` (the kernel may round or double it; read it back
    /// with [`send_buffer_size`](Self::send_buffer_size)).
    pub fn set_send_buffer_size(&self, size: u32) -> io::Result<()> {
        self.socket.set_send_buffer_size(size as usize).map_err(|e| context(e, "set SO_SNDBUF"))
    }

    /// The send buffer size.
    pub fn send_buffer_size(&self) -> io::Result<u32> {
        self.socket.send_buffer_size().map(|size| size as u32)
    }

    /// Sets `SO_RCVBUF` (rounded by the kernel like the send buffer).
    pub fn set_recv_buffer_size(&self, size: u32) -> io::Result<()> {
        self.socket.set_recv_buffer_size(size as usize).map_err(|e| context(e, "set SO_RCVBUF"))
    }

    /// The receive buffer size.
    pub fn recv_buffer_size(&self) -> io::Result<u32> {
        self.socket.recv_buffer_size().map(|size| size as u32)
    }

    /// Sets `TCP_NODELAY` before connecting.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.socket.set_tcp_nodelay(nodelay).map_err(|e| context(e, "set TCP_NODELAY"))
    }

    /// Binds to `addr`: the listening address, or before `connect` the
    /// source address of the connection.
    pub fn bind(&self, addr: SocketAddr) -> io::Result<()> {
        self.socket.bind(&addr.into()).map_err(|e| context(e, format_args!("bind {addr}")))
    }

    /// The address bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        let addr = self.socket.local_addr()?;
        addr.as_socket().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not an IP socket"))
    }

    /// Connects to `addr` and waits for the handshake. Must be called
    /// inside an eddy runtime; the stream belongs to the current loop.
    ///
    /// # Errors
    /// As [`TcpStream::connect`], e.g. `connect to 127.0.0.1:9: Connection refused`.
    pub async fn connect(self, addr: SocketAddr) -> io::Result<TcpStream> {
        // Charged up front, as in `TcpStream::connect`.
        crate::task::consume_budget().await;
        let doing = format_args!("connect to {addr}").to_string();
        match self.socket.connect(&addr.into()) {
            Ok(()) => {}
            Err(error) if error.raw_os_error() == Some(libc::EINPROGRESS) => {}
            Err(error) => return Err(context(error, doing)),
        }
        let stream = std::net::TcpStream::from(self.socket);
        let stream = TcpStream::from_mio(mio::net::TcpStream::from_std(stream), Some(addr))?;
        stream.wait_connected().await.map_err(|e| context(e, doing))?;
        Ok(stream)
    }

    /// Starts listening, with a queue of `backlog` finished handshakes (see
    /// [`TcpListener::BACKLOG`] for why it matters). Must be called inside
    /// an eddy runtime.
    pub fn listen(self, backlog: u32) -> io::Result<TcpListener> {
        let backlog = i32::try_from(backlog).unwrap_or(i32::MAX);
        self.socket.listen(backlog).map_err(|e| context(e, "listen"))?;
        TcpListener::from_std(std::net::TcpListener::from(self.socket))
    }
}

impl fmt::Debug for TcpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpSocket").field("local_addr", &self.local_addr().ok()).finish()
    }
}

impl std::os::fd::AsRawFd for TcpSocket {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.socket.as_raw_fd()
    }
}
