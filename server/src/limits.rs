//! Limits: how much a client may send, and how long it may take.

use std::time::Duration;

/// The server's limits. Each default is what a public-facing server should
/// start with; all are settable.
///
/// ```
/// use std::time::Duration;
/// use eddy_http::{App, Limits};
///
/// let app = App::new().limits(Limits {
///     max_body: 16 * 1024 * 1024,
///     keep_alive: Duration::from_secs(5),
///     ..Limits::default()
/// });
/// ```
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest request head (request line and headers), in bytes; beyond it,
    /// `431`. Default 8 KiB (nginx and hyper use similar figures).
    pub max_head: usize,
    /// Longest request target (path and query), in bytes; beyond it, `414`.
    /// Default 8 KiB.
    pub max_uri: usize,
    /// Most header fields in one request; beyond it, `431`. Default 100;
    /// at most 256.
    pub max_headers: usize,
    /// Largest request body, in bytes; beyond it, `413`. Default 1 MiB.
    pub max_body: u64,
    /// Longest time from a request's first byte to the end of its head;
    /// beyond it, `408` and the connection is closed (slowloris). Default
    /// 10 s.
    pub head_timeout: Duration,
    /// How long a keep-alive connection may sit idle between requests
    /// before it is closed. Default 60 s.
    pub keep_alive: Duration,
    /// Longest wait for a slow client to take a response (or send body
    /// bytes) before the connection is dropped. Default 60 s.
    pub io_timeout: Duration,
    /// Most open connections; further clients wait in the kernel's accept
    /// queue until one closes. Divided evenly among worker loops. Default
    /// 10 000.
    pub max_connections: usize,
    /// How long graceful shutdown waits for requests in flight before it
    /// closes their connections anyway. Default 10 s.
    pub shutdown_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_head: 8 * 1024,
            max_uri: 8 * 1024,
            max_headers: 100,
            max_body: 1024 * 1024,
            head_timeout: Duration::from_secs(10),
            keep_alive: Duration::from_secs(60),
            io_timeout: Duration::from_secs(60),
            max_connections: 10_000,
            shutdown_timeout: Duration::from_secs(10),
        }
    }
}

/// The parser's header array lives on the stack; this is its size.
pub(crate) const HEADER_ARRAY: usize = 256;

impl Limits {
    /// Size of a connection's read buffer: room for a whole head with some
    /// pipelined requests behind it.
    pub(crate) fn read_buffer_size(&self) -> usize {
        (self.max_head.max(self.max_uri) + 1024).max(16 * 1024)
    }

    pub(crate) fn header_slots(&self) -> usize {
        self.max_headers.clamp(1, HEADER_ARRAY)
    }
}
