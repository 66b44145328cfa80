//! `TcpStream`: a connected TCP socket with async reads and writes.

use std::fmt;
use std::future::poll_fn;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::task::{Context, Poll};

use mio::Interest;

use super::context;
use crate::reactor::{Direction, IoSource};
use crate::task::budget;

/// A TCP connection.
///
/// Methods take `&self`, so one task can read while another writes (share
/// it with an `Rc`). At most one task should wait in each direction at a
/// time: a second reader replaces the first one's wakeup.
///
/// ```
/// use eddy::net::{TcpListener, TcpStream};
///
/// eddy::run(async {
///     let listener = TcpListener::bind("127.0.0.1:0")?;
///     let addr = listener.local_addr()?;
///     eddy::spawn(async move {
///         let (stream, _) = listener.accept().await?;
///         stream.write_all(b"hello").await
///     });
///     let stream = TcpStream::connect(addr).await?;
///     let mut buf = [0; 5];
///     let mut filled = 0;
///     while filled < buf.len() {
///         filled += stream.read(&mut buf[filled..]).await?;
///     }
///     assert_eq!(&buf, b"hello");
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct TcpStream {
    io: IoSource<mio::net::TcpStream>,
    /// Cached for error messages, which should not need a syscall.
    peer: Option<SocketAddr>,
}

impl TcpStream {
    /// Opens a connection to `addr`, trying each resolved address in turn.
    ///
    /// A host name is resolved on the blocking pool
    /// ([`lookup_host`](super::lookup_host)), so the loop never waits for
    /// DNS; an IP address is used at once.
    ///
    /// # Errors
    /// The last address's error, e.g.
    /// `connect to 127.0.0.1:9: Connection refused (os error 111)`.
    pub async fn connect(addr: impl super::ToSocketAddrs) -> io::Result<TcpStream> {
        // Charged up front, whatever the outcome: a loop of connects that
        // fail at once (refused, bad address) never waits on anything and
        // would otherwise never yield.
        crate::task::consume_budget().await;
        let addrs = super::lookup::resolve(&addr).await?;
        let mut last_error = None;
        for addr in addrs {
            match TcpStream::connect_one(addr).await {
                Ok(stream) => return Ok(stream),
                Err(error) => last_error = Some(context(error, format_args!("connect to {addr}"))),
            }
        }
        Err(last_error.unwrap_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "connect: no address to connect to")
        }))
    }

    async fn connect_one(addr: SocketAddr) -> io::Result<TcpStream> {
        let stream = TcpStream::from_mio(mio::net::TcpStream::connect(addr)?, Some(addr))?;
        stream.wait_connected().await?;
        Ok(stream)
    }

    /// Waits for a non-blocking connect already started on this socket to
    /// finish (`TcpStream::connect`, `TcpSocket::connect`).
    pub(crate) async fn wait_connected(&self) -> io::Result<()> {
        let stream = self;
        // A non-blocking connect finishes when the socket turns writable;
        // then SO_ERROR says how it went. mio's recipe: a writable event
        // without an error but with no peer yet is spurious, so wait again.
        // (A new socket is first assumed ready, so the first round usually
        // finds no peer yet and registers it; see the reactor docs.)
        loop {
            poll_fn(|cx| stream.io.poll_ready(Direction::Write, cx)).await?;
            if let Some(error) = stream.io.get_ref().take_error()? {
                return Err(error);
            }
            match stream.io.get_ref().peer_addr() {
                Ok(_) => return Ok(()),
                Err(error) if error.kind() == io::ErrorKind::NotConnected => {
                    stream.io.clear_ready(Direction::Write);
                }
                Err(error) => return Err(error),
            }
        }
    }

    pub(crate) fn from_mio(stream: mio::net::TcpStream, peer: Option<SocketAddr>) -> io::Result<TcpStream> {
        let io = IoSource::new(stream, Interest::READABLE | Interest::WRITABLE)?;
        Ok(TcpStream { io, peer })
    }

    /// Adopts a connected `std::net::TcpStream` into the current loop,
    /// switching it to non-blocking mode.
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        stream.set_nonblocking(true).map_err(|e| context(e, "set stream non-blocking"))?;
        let peer = stream.peer_addr().ok();
        TcpStream::from_mio(mio::net::TcpStream::from_std(stream), peer)
    }

    /// Reads into `buf`, waiting until at least one byte (or EOF) arrives.
    /// Returns the number of bytes read; 0 means the peer closed its side
    /// (or `buf` is empty).
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| self.poll_read(cx, buf)).await
    }

    /// Poll form of [`read`](Self::read).
    ///
    /// Inlined into the caller: a server reads once per request, and as a
    /// call of its own the read's frame cost ~15 instructions of the ~50.
    #[inline]
    pub fn poll_read(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        budget::poll_budgeted(cx, |cx| self.io.poll_read(cx, buf))
            .map_err(|e| context(e, self.describe("read from")))
    }

    /// Writes some of `buf`, waiting until the socket can take at least one
    /// byte. Returns how many bytes were written.
    pub async fn write(&self, buf: &[u8]) -> io::Result<usize> {
        poll_fn(|cx| self.poll_write(cx, buf)).await
    }

    /// Poll form of [`write`](Self::write).
    pub fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        budget::poll_budgeted(cx, |cx| self.io.poll_write(cx, buf))
            .map_err(|e| context(e, self.describe("write to")))
    }

    /// Writes all of `buf`, waiting for room as often as needed.
    ///
    /// # Errors
    /// `WriteZero` if the socket accepts no more bytes; otherwise as
    /// [`write`](Self::write). On error, an unknown prefix of `buf` was sent.
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

    /// Closes the writing half: the peer reads EOF once it has read what was
    /// sent. Reading still works (a half-close).
    pub async fn shutdown(&self) -> io::Result<()> {
        self.shutdown_std(Shutdown::Write)
    }

    /// Shuts down the reading half, the writing half or both, at once.
    pub fn shutdown_std(&self, how: Shutdown) -> io::Result<()> {
        self.io.get_ref().shutdown(how).map_err(|e| context(e, self.describe("shut down connection with")))
    }

    /// Waits until a read would not block (data, EOF or an error is there).
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

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// Sets `TCP_NODELAY`: send small writes at once instead of waiting to
    /// coalesce them (Nagle). Servers that write whole responses want it.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.io.get_ref().set_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is set.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.io.get_ref().nodelay()
    }

    fn describe(&self, doing: &str) -> String {
        match self.peer {
            Some(peer) => format!("{doing} {peer}"),
            None => doing.to_string(),
        }
    }
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream").field("peer", &self.peer).finish()
    }
}

// ---- Socket options, peek and the futures-io traits (toolbox part 2) ----

impl TcpStream {
    /// Reads into `buf` without taking the bytes out of the socket: the next
    /// `read` sees them again. Waits until at least one byte (or EOF) is
    /// there. Readiness is never cleared as "drained" by a peek, since the
    /// bytes peeked are still waiting.
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| self.poll_peek(cx, buf)).await
    }

    /// Poll form of [`peek`](Self::peek).
    pub fn poll_peek(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        budget::poll_budgeted(cx, |cx| {
            self.io.poll_io(Direction::Read, cx, |stream| stream.peek(buf).map(|n| (n, false)))
        })
        .map_err(|e| context(e, self.describe("peek at")))
    }

    /// Turns TCP keepalive probes on (`Some(idle)`: the first probe after
    /// `idle` without traffic, where the OS supports setting it) or off.
    pub fn set_keepalive(&self, idle: Option<std::time::Duration>) -> io::Result<()> {
        let socket = socket2::SockRef::from(self.io.get_ref());
        let result = match idle {
            None => socket.set_keepalive(false),
            Some(idle) => socket.set_tcp_keepalive(&socket2::TcpKeepalive::new().with_time(idle)),
        };
        result.map_err(|e| context(e, self.describe("set SO_KEEPALIVE on connection with")))
    }

    /// Whether `SO_KEEPALIVE` is on.
    pub fn keepalive(&self) -> io::Result<bool> {
        socket2::SockRef::from(self.io.get_ref()).keepalive()
    }

    /// Sets `SO_LINGER`: with `Some(d)`, closing waits up to `d` for unsent
    /// data to leave (and `Some(ZERO)` resets the connection on close);
    /// `None` restores the default (close returns at once, the kernel keeps
    /// sending in the background). Note that eddy closes on drop, on the
    /// loop thread: a long linger there blocks the loop.
    pub fn set_linger(&self, linger: Option<std::time::Duration>) -> io::Result<()> {
        socket2::SockRef::from(self.io.get_ref())
            .set_linger(linger)
            .map_err(|e| context(e, self.describe("set SO_LINGER on connection with")))
    }

    /// The `SO_LINGER` setting.
    pub fn linger(&self) -> io::Result<Option<std::time::Duration>> {
        socket2::SockRef::from(self.io.get_ref()).linger()
    }

    /// Sets the IP time-to-live of outgoing packets.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.get_ref().set_ttl(ttl).map_err(|e| context(e, self.describe("set IP_TTL on connection with")))
    }

    /// The IP time-to-live of outgoing packets.
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.get_ref().ttl()
    }

    /// Splits the stream into a read half and a write half that can move
    /// into different tasks (of this loop). See [`OwnedReadHalf`].
    ///
    /// [`OwnedReadHalf`]: super::OwnedReadHalf
    pub fn into_split(self) -> (super::OwnedReadHalf, super::OwnedWriteHalf) {
        super::split::split(self)
    }

    pub(crate) fn poll_close_write(&self) -> Poll<io::Result<()>> {
        match self.io.get_ref().shutdown(Shutdown::Write) {
            // Already shut down, or the peer is gone: nothing left to close.
            Err(error) if error.kind() == io::ErrorKind::NotConnected => Poll::Ready(Ok(())),
            result => Poll::Ready(result.map_err(|e| context(e, self.describe("shut down connection with")))),
        }
    }
}

/// `futures-io` reads: the same operation as [`TcpStream::poll_read`], so
/// codecs, TLS wrappers and `futures::io` helpers work on eddy sockets.
impl futures_io::AsyncRead for TcpStream {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        TcpStream::poll_read(&self, cx, buf)
    }
}

/// `futures-io` writes. `poll_flush` has nothing to do (eddy does not
/// buffer; the kernel has the bytes), `poll_close` shuts the write half.
impl futures_io::AsyncWrite for TcpStream {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        TcpStream::poll_write(&self, cx, buf)
    }

    fn poll_flush(self: std::pin::Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: std::pin::Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_close_write()
    }
}

/// Reads through a shared reference, so one task can read while another
/// writes the same stream.
impl futures_io::AsyncRead for &TcpStream {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        TcpStream::poll_read(self.get_mut(), cx, buf)
    }
}

/// Writes through a shared reference.
impl futures_io::AsyncWrite for &TcpStream {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        TcpStream::poll_write(self.get_mut(), cx, buf)
    }

    fn poll_flush(self: std::pin::Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: std::pin::Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_close_write()
    }
}

/// The socket's descriptor, for options and calls eddy does not wrap (as
/// tokio and the standard library offer). Reading or writing through it
/// bypasses the reactor's readiness cache, which then only learns of it at
/// the next `WouldBlock`.
impl std::os::fd::AsFd for TcpStream {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        std::os::fd::AsFd::as_fd(self.io.get_ref())
    }
}
