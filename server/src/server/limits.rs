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
    /// beyond it, `408` and the connection is closed (slowloris). Also how
    /// long a new connection may stay silent before its first byte: it is
    /// then closed without an answer. Default 10 s.
    pub head_timeout: Duration,
    /// How long a keep-alive connection may sit idle between requests
    /// before it is closed (sooner if its slot is needed: see
    /// `max_connections`). Default 60 s.
    pub keep_alive: Duration,
    /// Longest wait for a slow client to take a response, or for the next
    /// body bytes, before the connection is dropped (or answered `408`).
    /// Default 60 s.
    pub io_timeout: Duration,
    /// Longest time a request body may take as a whole, from the first time
    /// it is read (by the handler, or by the server draining what the
    /// handler left); beyond it, `408` and the connection is closed.
    /// `io_timeout` alone would let a client that sends a byte every
    /// `io_timeout - ε` hold a connection and a handler for `max_body ×
    /// io_timeout`. A total deadline rather than a minimum rate: it is
    /// one number, predictable, and what a handler can reason about.
    /// Raise it with `max_body` for large uploads over slow links (the
    /// default admits 1 MiB at about 9 KiB/s). Default 120 s.
    pub body_timeout: Duration,
    /// Most open connections, one budget for all worker loops. At the cap
    /// the connection idle the longest (between requests, or new and
    /// silent) is closed to make room for a new client, as nginx does;
    /// only when none is idle do new clients wait in the kernel's accept
    /// queue until one closes. Default 10 000.
    pub max_connections: usize,
    /// How long graceful shutdown waits for requests in flight before it
    /// closes their connections anyway. Default 10 s. A connection waiting
    /// on its client rather than on a handler (mid-head, mid-body, silent)
    /// gets only a short grace, 1 s or this if shorter, before it is
    /// answered `408` and closed.
    pub shutdown_timeout: Duration,
    /// Let the kernel hold each new TCP connection until its first bytes
    /// arrive (Linux's `TCP_DEFER_ACCEPT`, nginx's `listen … deferred`), for
    /// up to `head_timeout` (whole seconds, at least 1). Default off.
    ///
    /// On, a connection is only accepted with its request already in the
    /// socket: the first read finds it, and the connection is served in one
    /// turn of the loop. Off, a server faster than its clients often
    /// accepts a connection before the request bytes land (the client
    /// sends them right after the handshake) and pays a second turn: it
    /// registers the socket, arms the head timer and waits: about 2,900
    /// more instructions for that connection under callgrind, on top of
    /// about 5,800 for a connection served in one turn, and the share of
    /// connections that lose the race varies from run to run (30–55% in
    /// the bench).
    ///
    /// The price: a silent client is invisible to the server until the
    /// kernel stops holding it (after about `head_timeout`; it is then
    /// accepted and gets the usual `head_timeout` again), it does not count
    /// against `max_connections`, and at shutdown it is reset with the
    /// listener instead of being answered `408`. Ignored on other systems
    /// (a debug log says so) and for Unix sockets.
    pub defer_accept: bool,
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
            body_timeout: Duration::from_secs(120),
            max_connections: 10_000,
            shutdown_timeout: Duration::from_secs(10),
            defer_accept: false,
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
