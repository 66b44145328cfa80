//! TCP sockets driven by the loop's reactor. asyncio's streams, at the level
//! of `read` and `write` calls.
//!
//! Also here: [`UdpSocket`] (datagram endpoints), [`UnixListener`],
//! [`UnixStream`] and [`UnixDatagram`] (Unix domain sockets),
//! [`TcpSocket`] (options before `bind`/`connect`), split halves of a
//! [`TcpStream`], and [`lookup_host`] (name resolution off the loop). The
//! byte-stream helpers that work on all of them are in [`crate::io`].
//!
//! Sockets belong to the loop that created them (they are `!Send`): their
//! readiness lives in that loop's reactor without any locking. A socket made
//! elsewhere (a `std::net` one with hand-set options, say) joins a loop with
//! [`TcpStream::from_std`] / [`TcpListener::from_std`] called on that loop.
//!
//! # A socket whose loop is not running
//!
//! Only a running loop can wake a task. If a socket has to wait while its
//! own loop is not running — its runtime was dropped, or another runtime's
//! `block_on` runs on this thread — it moves to the loop that is running
//! and waits there, as if it had been handed over with `from_std`: the
//! read, write or accept completes normally. The choice, over failing with
//! an error: a socket outliving the runtime that opened it is ordinary
//! (built in one `block_on`, used in the next), and moving costs nothing
//! until it happens (a pointer comparison on the path that parks anyway).
//! If *no* eddy loop runs on the thread (the socket is polled by another
//! executor), nothing could wake the task, so the operation fails at once
//! with an `io::Error` that says so, never hangs. See `reactor/source.rs`.
//!
//! Every error carries what was being done and to whom
//! (`connect to 127.0.0.1:9: Connection refused`), keeping the original
//! [`std::io::ErrorKind`] so callers can still match on it. The original
//! error is the wrapper's [`source`](std::error::Error::source), so its OS
//! error code stays reachable (a server must tell `EMFILE` from the rest):
//!
//! ```
//! use std::error::Error;
//!
//! fn os_code(error: &std::io::Error) -> Option<i32> {
//!     error.raw_os_error().or_else(|| error.source()?.downcast_ref::<std::io::Error>()?.raw_os_error())
//! }
//! ```

use std::fmt;
use std::io;

mod listener;
mod stream;

pub use listener::TcpListener;
pub use stream::TcpStream;

// The asyncio toolbox, part 2: name lookup, pre-connect sockets, split
// halves, UDP, Unix sockets.
mod lookup;
mod socket;
mod split;
mod udp;

#[doc(hidden)]
pub use lookup::set_resolver_for_this_thread;
pub use lookup::{lookup_host, ToSocketAddrs};
pub use socket::TcpSocket;
pub use split::{OwnedReadHalf, OwnedWriteHalf, ReuniteError};
pub use udp::UdpSocket;

#[cfg(unix)]
mod unix_datagram;
#[cfg(unix)]
mod unix_listener;
#[cfg(unix)]
mod unix_stream;

#[cfg(unix)]
pub use unix_datagram::UnixDatagram;
#[cfg(unix)]
pub use unix_listener::UnixListener;
#[cfg(unix)]
pub use unix_stream::UnixStream;

/// Wraps `error` with what was being done, keeping its kind and, as the
/// source, the error itself.
pub(crate) fn context(error: io::Error, doing: impl fmt::Display) -> io::Error {
    io::Error::new(error.kind(), Contextual { doing: doing.to_string(), source: error })
}

/// An I/O error with what was being done when it happened.
#[derive(Debug)]
struct Contextual {
    doing: String,
    source: io::Error,
}

impl fmt::Display for Contextual {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.doing, self.source)
    }
}

impl std::error::Error for Contextual {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}
