//! TCP sockets driven by the loop's reactor. asyncio's streams, at the level
//! of `read` and `write` calls.
//!
//! Sockets belong to the loop that created them (they are `!Send`): their
//! readiness lives in that loop's reactor without any locking. A socket made
//! elsewhere (a `std::net` one with hand-set options, say) joins a loop with
//! [`TcpStream::from_std`] / [`TcpListener::from_std`] called on that loop.
//!
//! Every error carries what was being done and to whom
//! (`connect to 127.0.0.1:9: Connection refused`), keeping the original
//! [`std::io::ErrorKind`] so callers can still match on it.

use std::io;

mod listener;
mod stream;

pub use listener::TcpListener;
pub use stream::TcpStream;

/// Wraps `error` with what was being done, keeping its kind.
pub(crate) fn context(error: io::Error, doing: impl std::fmt::Display) -> io::Error {
    io::Error::new(error.kind(), format!("{doing}: {error}"))
}
