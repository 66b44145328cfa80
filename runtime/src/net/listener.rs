//! `TcpListener`: accepts connections as they arrive.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::task::{Context, Poll};

use mio::Interest;

use super::{context, TcpStream};
use crate::reactor::{Direction, IoSource};
use crate::task::budget;

/// A TCP socket listening for connections.
///
/// ```
/// use eddy::net::{TcpListener, TcpStream};
///
/// eddy::run(async {
///     let listener = TcpListener::bind("127.0.0.1:0")?;
///     let addr = listener.local_addr()?;
///     let client = eddy::spawn(async move { TcpStream::connect(addr).await });
///     let (_server_side, peer) = listener.accept().await?;
///     let client = client.await??;
///     assert_eq!(peer, client.local_addr()?);
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct TcpListener {
    io: IoSource<mio::net::TcpListener>,
    /// Cached for error messages, which should not need a syscall.
    local: Option<SocketAddr>,
}

impl TcpListener {
    /// How many finished handshakes the kernel queues for `accept`.
    ///
    /// mio (like std) listens with 128. A burst of a thousand connections
    /// then overflows the queue; with SYN cookies on (Linux's default) the
    /// overflowing clients believe they are connected, send their request,
    /// and get a reset. 1024 absorbs such a burst; the kernel caps it at
    /// `net.core.somaxconn` on Linux (4096 on current kernels),
    /// `kern.ipc.somaxconn` on macOS (128 unless raised) and
    /// `kern.ipc.soacceptqueue` on FreeBSD.
    pub const BACKLOG: i32 = 1024;

    /// Binds to `addr` (trying each resolved address in turn) and starts
    /// listening, with `SO_REUSEADDR` so a restarted server can rebind at
    /// once, and a backlog of [`BACKLOG`](Self::BACKLOG) connections. Must be
    /// called inside an eddy runtime.
    ///
    /// # Errors
    /// The last address's error, with the address in its message, e.g.
    /// `bind 127.0.0.1:80: Permission denied`.
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        let addrs = addr.to_socket_addrs().map_err(|e| context(e, "resolve listen address"))?;
        let mut last_error = None;
        for addr in addrs {
            match mio::net::TcpListener::bind(addr).and_then(|listener| {
                set_backlog(&listener, Self::BACKLOG)?;
                Ok(listener)
            }) {
                Ok(listener) => return TcpListener::register(listener),
                Err(error) => last_error = Some(context(error, format_args!("bind {addr}"))),
            }
        }
        Err(last_error
            .unwrap_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "bind: no address to bind to")))
    }

    /// Adopts a listener created elsewhere (say, with socket options set by
    /// hand, like `SO_REUSEPORT`), switching it to non-blocking mode.
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        listener.set_nonblocking(true).map_err(|e| context(e, "set listener non-blocking"))?;
        TcpListener::register(mio::net::TcpListener::from_std(listener))
    }

    fn register(listener: mio::net::TcpListener) -> io::Result<TcpListener> {
        let local = listener.local_addr().ok();
        let io = IoSource::new(listener, Interest::READABLE)?;
        Ok(TcpListener { io, local })
    }

    /// Waits for the next connection and returns it with the peer's address.
    /// The new stream is registered with the current loop.
    ///
    /// # Errors
    /// As `accept(2)`: notably `EMFILE`/`ENFILE` (out of file descriptors),
    /// which a server should answer by backing off, not by exiting.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// Poll form of [`accept`](Self::accept).
    ///
    /// Every result, errors included, counts against the task's cooperative
    /// budget ([`crate::task::budget`]): a loop that retries at once on
    /// `EMFILE` (the connection stays queued, so the listener stays ready)
    /// still yields to the rest of the loop every
    /// [`PER_POLL`](crate::task::PER_POLL) attempts.
    ///
    /// Inlined into the caller (a server's accept loop), with the accept
    /// itself: the new stream and its address (~100 bytes) are then built
    /// where the caller keeps them, not copied out through each layer of
    /// `Poll` and `Result` (callgrind, with the server's accept loop inlining
    /// it too: ~100 instructions per connection).
    #[inline]
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        budget::poll_budgeted(cx, |cx| self.poll_accept_now(cx))
    }

    #[inline]
    fn poll_accept_now(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        loop {
            let accepted = std::task::ready!(self.io.poll_io(Direction::Read, cx, |listener| {
                // Never "drained" early: a listen queue can hold many.
                listener.accept().map(|pair| (pair, false))
            }));
            return match accepted {
                Ok((stream, peer)) => Poll::Ready(TcpStream::from_mio(stream, Some(peer)).map(|s| (s, peer))),
                // The peer gave up while queued: not our error, next one.
                Err(error) if error.kind() == io::ErrorKind::ConnectionAborted => continue,
                Err(error) => Poll::Ready(Err(context(error, self.describe()))),
            };
        }
    }

    /// The address the listener is bound to (with the real port after
    /// binding port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    fn describe(&self) -> String {
        match self.local {
            Some(addr) => format!("accept on {addr}"),
            None => "accept".to_string(),
        }
    }
}

/// Calls `listen` again with a larger backlog: on Linux, macOS and the BSDs
/// (POSIX leaves it open, but all of them do) this just updates the queue
/// length of a socket that is already listening.
fn set_backlog(listener: &mio::net::TcpListener, backlog: i32) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: `listen` on a descriptor we own; it touches no memory of ours.
    if unsafe { libc::listen(listener.as_raw_fd(), backlog) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener").field("local_addr", &self.local).finish()
    }
}
