//! Listening sockets with `SO_REUSEPORT`, so every worker loop accepts on its
//! own socket and the kernel spreads new connections across them.
//!
//! The alternative, one listener shared by all loops, makes every loop wake
//! for every connection (a thundering herd) or needs a hand-off between
//! threads. With `SO_REUSEPORT` each loop owns a listener bound to the same
//! address. The option must be set before `bind`, which the standard
//! library cannot do, hence the raw `libc` calls here; this is the crate's
//! only `unsafe`.
//!
//! Also here: [`read_now`], the one read that must not trust the reactor's
//! cached readiness (a closing connection's last look at its socket).
//!
//! ## `TCP_NODELAY`, once per listener
//!
//! Every connection wants `TCP_NODELAY` (an answer written in two pieces
//! must not wait for the client's delayed ACK). Set on each accepted socket
//! it is a `setsockopt` per connection, one of the 7 system calls a new
//! connection costs. Linux copies it from the listening socket to every
//! socket `accept` returns (the child socket is a clone of the listener's
//! TCP state), so [`listen`] sets it once on the listener and
//! [`NODELAY_INHERITED`] tells the accept loop to skip the per-connection
//! call. Elsewhere the accept loop still sets it on each connection: the
//! BSDs copy it too, but that is not promised anywhere, and a wrong guess
//! would silently bring back the Nagle stalls.
//!
//! ## Deferred accepts (opt-in)
//!
//! With `Limits::defer_accept`, [`listen`] sets `TCP_DEFER_ACCEPT`: the
//! kernel queues a connection for `accept` only once its first bytes have
//! arrived. The accepted connection's first read then always finds its
//! request, which takes away the one race that made the cost of a new
//! connection vary from run to run (the server accepting before the
//! request lands, and paying a second loop turn for it). Off by default,
//! because it changes what a silent client looks like (see the field's
//! docs).
//!
//! ## Platforms
//!
//! Built on Linux, macOS and the BSDs alike, by construction: every
//! platform-specific call is behind a `cfg` with a portable fallback.
//! - **Close-on-exec.** Where `socket(2)` takes `SOCK_CLOEXEC` (Linux,
//!   Android, FreeBSD, DragonFly, NetBSD, OpenBSD, illumos, Solaris) the
//!   flag is set atomically; elsewhere (macOS, iOS) with `fcntl(FD_CLOEXEC)`
//!   right after, which is racy only against a concurrent `fork`+`exec` in
//!   another thread during those two calls (what the standard library does
//!   there too).
//! - **`sin_len`.** The BSD-derived systems (macOS, iOS, the BSDs) have a
//!   length byte at the start of `sockaddr_in`/`sockaddr_in6`; it is filled
//!   in there.
//! - **Load balancing.** On Linux (3.9+) and DragonFly, `SO_REUSEPORT`
//!   spreads new connections across the listeners by a hash. On macOS,
//!   NetBSD and OpenBSD it only lets them share the port: one listener may
//!   receive most connections, so `workers > 1` stays correct (and the
//!   connection cap is one budget for all loops anyway) but less balanced.
//!   FreeBSD balances with `SO_REUSEPORT_LB` (12.0+); this code sets the
//!   plain option there, with the same caveat.

use std::io;
use std::mem;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::time::Duration;

/// Same backlog as eddy's own `TcpListener::bind`, for the same reason: a
/// burst of connections must not overflow the accept queue.
const BACKLOG: libc::c_int = eddy::net::TcpListener::BACKLOG;

/// Whether sockets accepted from a [`listen`] socket come with
/// `TCP_NODELAY` already on (see the module docs); if not, the accept loop
/// sets it on each.
pub(crate) const NODELAY_INHERITED: bool = cfg!(any(target_os = "linux", target_os = "android"));

/// Creates a listening socket on `addr` with `SO_REUSEADDR`, `TCP_NODELAY`
/// (for the accepted sockets to inherit) and, if asked, `SO_REUSEPORT` and
/// deferred accepts for up to `defer` (see `Limits::defer_accept`).
pub(crate) fn listen(addr: SocketAddr, reuse_port: bool, defer: Option<Duration>) -> io::Result<TcpListener> {
    let context =
        |what: &str, error: io::Error| io::Error::new(error.kind(), format!("{what} {addr}: {error}"));
    let family = if addr.is_ipv4() { libc::AF_INET } else { libc::AF_INET6 };
    let socket = stream_socket(family).map_err(|e| context("create socket for", e))?;
    let fd = socket.as_raw_fd();
    set_option(fd, libc::SOL_SOCKET, libc::SO_REUSEADDR).map_err(|e| context("set SO_REUSEADDR on", e))?;
    set_option(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY).map_err(|e| context("set TCP_NODELAY on", e))?;
    if let Some(defer) = defer {
        defer_accept(fd, defer).map_err(|e| context("set TCP_DEFER_ACCEPT on", e))?;
    }
    if reuse_port {
        set_option(fd, libc::SOL_SOCKET, libc::SO_REUSEPORT)
            .map_err(|e| context("set SO_REUSEPORT on", e))?;
    }
    let (storage, len) = sockaddr(addr);
    // SAFETY: `storage` holds a valid sockaddr of `len` bytes for `fd`'s family.
    if unsafe { libc::bind(fd, (&storage as *const libc::sockaddr_storage).cast(), len) } != 0 {
        return Err(context("bind", io::Error::last_os_error()));
    }
    // SAFETY: listen(2) on a bound socket we own.
    if unsafe { libc::listen(fd, BACKLOG) } != 0 {
        return Err(context("listen on", io::Error::last_os_error()));
    }
    Ok(TcpListener::from(socket))
}

/// A new TCP socket, close-on-exec, set atomically where the OS can.
#[cfg(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_os = "dragonfly",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "illumos",
    target_os = "solaris"
))]
fn stream_socket(family: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2) call; the result is checked before use.
    let fd = unsafe { libc::socket(family, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh descriptor nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// A new TCP socket, then close-on-exec (no `SOCK_CLOEXEC` here).
#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_os = "dragonfly",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "illumos",
    target_os = "solaris"
)))]
fn stream_socket(family: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2) call; the result is checked before use.
    let fd = unsafe { libc::socket(family, libc::SOCK_STREAM, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh descriptor nothing else owns; OwnedFd closes
    // it if the next call fails.
    let socket = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: fcntl(2) on a descriptor we own; it touches no memory of ours.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(socket)
}

/// Reads from `socket` at once, with a real `read(2)`, whatever the
/// reactor believes about its readiness: `WouldBlock` if nothing is there.
/// The reactor learns readiness only when the loop polls for I/O, which it
/// skips while tasks are ready; a connection about to close must see every
/// byte that reached its socket before the close, or the close resets the
/// client's request.
pub(crate) fn read_now(socket: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes during the
    // call, and `socket` is an open descriptor for the borrow's lifetime.
    let n = unsafe { libc::read(socket.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// Accepts on `fd` only once a connection's first bytes have arrived, or
/// `defer` has passed (in whole seconds, at least 1: the kernel's unit).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn defer_accept(fd: libc::c_int, defer: Duration) -> io::Result<()> {
    let seconds = libc::c_int::try_from(defer.as_secs().max(1)).unwrap_or(libc::c_int::MAX);
    set_int_option(fd, libc::IPPROTO_TCP, libc::TCP_DEFER_ACCEPT, seconds)
}

/// No deferred accepts here (FreeBSD's accept filters are another
/// mechanism, not wired up): connections are accepted as they come.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn defer_accept(_fd: libc::c_int, _defer: Duration) -> io::Result<()> {
    log::debug!("Limits::defer_accept is Linux-only; ignored here");
    Ok(())
}

/// Turns a boolean socket option on.
fn set_option(fd: libc::c_int, level: libc::c_int, option: libc::c_int) -> io::Result<()> {
    set_int_option(fd, level, option, 1)
}

fn set_int_option(
    fd: libc::c_int,
    level: libc::c_int,
    option: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: `value` outlives the call and its size is passed alongside.
    let result = unsafe {
        libc::setsockopt(
            fd,
            level,
            option,
            (&value as *const libc::c_int).cast(),
            mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if result == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Converts a Rust socket address into the C representation.
fn sockaddr(addr: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain data for which all-zero is valid.
    let mut storage: libc::sockaddr_storage = unsafe { mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(v4) => {
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
            let sin =
                unsafe { &mut *(&mut storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            #[cfg(any(
                target_vendor = "apple",
                target_os = "freebsd",
                target_os = "dragonfly",
                target_os = "netbsd",
                target_os = "openbsd"
            ))]
            {
                sin.sin_len = mem::size_of::<libc::sockaddr_in>() as u8;
            }
            sin.sin_port = v4.port().to_be();
            sin.sin_addr = libc::in_addr { s_addr: u32::from_ne_bytes(v4.ip().octets()) };
            mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(v6) => {
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
            let sin6 =
                unsafe { &mut *(&mut storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            #[cfg(any(
                target_vendor = "apple",
                target_os = "freebsd",
                target_os = "dragonfly",
                target_os = "netbsd",
                target_os = "openbsd"
            ))]
            {
                sin6.sin6_len = mem::size_of::<libc::sockaddr_in6>() as u8;
            }
            sin6.sin6_port = v6.port().to_be();
            sin6.sin6_addr = libc::in6_addr { s6_addr: v6.ip().octets() };
            sin6.sin6_flowinfo = v6.flowinfo();
            sin6.sin6_scope_id = v6.scope_id();
            mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

#[cfg(test)]
mod tests {
    use super::{listen, NODELAY_INHERITED};
    use std::net::TcpStream;

    #[test]
    fn accepted_sockets_inherit_tcp_nodelay_from_the_listener_where_promised() {
        let listener = listen("127.0.0.1:0".parse().unwrap(), false, None).unwrap();
        let _client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (accepted, _) = listener.accept().unwrap();
        // Where it is not inherited, the accept loop sets it on each socket.
        if NODELAY_INHERITED {
            assert!(accepted.nodelay().unwrap(), "TCP_NODELAY not inherited from the listener");
        }
    }

    /// Deferred: a silent client is not handed out (the kernel holds it);
    /// its first bytes make it acceptable at once, bytes included.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[test]
    fn a_deferred_listener_hands_out_a_connection_only_with_its_first_bytes() {
        use std::io::{ErrorKind, Read, Write};
        use std::time::Duration;

        // Far longer than the test: the kernel never gives up on it here.
        let listener = listen("127.0.0.1:0".parse().unwrap(), false, Some(Duration::from_secs(30))).unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        listener.set_nonblocking(true).unwrap();
        let silent = listener.accept().map(|_| ()).unwrap_err();
        assert_eq!(silent.kind(), ErrorKind::WouldBlock, "a silent client was handed out");
        client.write_all(b"GET").unwrap();
        listener.set_nonblocking(false).unwrap();
        let (mut accepted, _) = listener.accept().unwrap();
        accepted.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut first = [0; 3];
        accepted.read_exact(&mut first).unwrap();
        assert_eq!(&first, b"GET");
    }

    #[test]
    fn two_listeners_share_a_port_with_reuse_port() {
        let first = listen("127.0.0.1:0".parse().unwrap(), true, None).unwrap();
        let addr = first.local_addr().unwrap();
        let second = listen(addr, true, None).unwrap();
        assert_eq!(second.local_addr().unwrap(), addr);
        let error = listen(addr, false, None).unwrap_err();
        assert!(error.to_string().contains(&addr.to_string()), "{error}");
    }
}
