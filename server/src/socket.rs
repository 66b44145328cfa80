//! Listening sockets with `SO_REUSEPORT`, so every worker loop accepts on its
//! own socket and the kernel spreads new connections across them.
//!
//! The alternative, one listener shared by all loops, makes every loop wake
//! for every connection (a thundering herd) or needs a hand-off between
//! threads. With `SO_REUSEPORT` (Linux 3.9+, the BSDs) each loop owns a
//! listener bound to the same address, and the kernel hashes each new
//! connection to one of them. The option must be set before `bind`, which
//! the standard library cannot do, hence the raw `libc` calls here; this is
//! the crate's only `unsafe`, besides the signal mask in `signal.rs`.

use std::io;
use std::mem;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::{FromRawFd, OwnedFd};

/// Same backlog as eddy's own `TcpListener::bind`, for the same reason: a
/// burst of connections must not overflow the accept queue.
const BACKLOG: libc::c_int = eddy::net::TcpListener::BACKLOG;

/// Creates a listening socket on `addr` with `SO_REUSEADDR` and, if asked,
/// `SO_REUSEPORT`.
pub(crate) fn listen(addr: SocketAddr, reuse_port: bool) -> io::Result<TcpListener> {
    let context =
        |what: &str, error: io::Error| io::Error::new(error.kind(), format!("{what} {addr}: {error}"));
    let family = if addr.is_ipv4() { libc::AF_INET } else { libc::AF_INET6 };
    // SAFETY: plain socket(2) call; the result is checked before use.
    let fd = unsafe { libc::socket(family, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(context("create socket for", io::Error::last_os_error()));
    }
    // SAFETY: `fd` is a fresh descriptor we own; OwnedFd closes it on error.
    let socket = unsafe { OwnedFd::from_raw_fd(fd) };
    set_option(fd, libc::SO_REUSEADDR).map_err(|e| context("set SO_REUSEADDR on", e))?;
    if reuse_port {
        set_option(fd, libc::SO_REUSEPORT).map_err(|e| context("set SO_REUSEPORT on", e))?;
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

fn set_option(fd: libc::c_int, option: libc::c_int) -> io::Result<()> {
    let on: libc::c_int = 1;
    // SAFETY: `on` outlives the call and its size is passed alongside.
    let result = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            option,
            (&on as *const libc::c_int).cast(),
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
            sin.sin_port = v4.port().to_be();
            sin.sin_addr = libc::in_addr { s_addr: u32::from_ne_bytes(v4.ip().octets()) };
            mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(v6) => {
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
            let sin6 =
                unsafe { &mut *(&mut storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
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
    use super::listen;

    #[test]
    fn two_listeners_share_a_port_with_reuse_port() {
        let first = listen("127.0.0.1:0".parse().unwrap(), true).unwrap();
        let addr = first.local_addr().unwrap();
        let second = listen(addr, true).unwrap();
        assert_eq!(second.local_addr().unwrap(), addr);
        let error = listen(addr, false).unwrap_err();
        assert!(error.to_string().contains(&addr.to_string()), "{error}");
    }
}
