//! The state a connection shares with the body of the request it is
//! serving: the socket, the input buffer, and where the body stands.
//!
//! A handler reads its request's body through [`Body`](crate::Body) while
//! the connection task waits for the handler, so both need the socket and
//! the bytes already read. They take turns (one task, never at once), so
//! `RefCell`s suffice, each borrowed only inside a synchronous poll.
//!
//! Body reads have three deadlines, the earliest wins: `io_timeout` for
//! each read (a client that stops), `body_timeout` for the whole body from
//! its first read (a client that trickles a byte at a time), and, once the
//! connection is closing (shutdown, reclaim), the closing grace. Each read
//! also registers for the closing signal, so a shutdown reaches a handler
//! blocked on a silent client at once.
//!
//! Every body carries the sequence number of its request. Once the
//! connection moves on to the next request, an old `Body` (kept alive by a
//! handler that stashed its request somewhere) reads nothing: it can never
//! consume bytes of the request after it.
//!
//! ## Over TCP or a Unix socket
//!
//! The socket is any [`Transport`] (`TcpStream`, `UnixStream`). The
//! connection task holds a `ConnIo<S>` of the concrete stream, so its
//! reads and writes are monomorphised: serving TCP costs what it cost
//! before there was a choice. A [`Body`](crate::Body) holds the same
//! `ConnIo` unsized to `ConnIo<dyn Transport>` (the stream is its last
//! field), so the public `Body` type stays one type; a body read pays one
//! indirect call, next to a syscall.

use std::cell::{Cell, RefCell};
use std::future::{poll_fn, Future};
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::os::fd::AsFd;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use eddy::net::{TcpStream, UnixStream};
use eddy::time::{sleep_until, Instant};

use crate::error::{BodyError, Reject};
use crate::http::chunked::ChunkedDecoder;
use crate::server::limits::Limits;
use crate::server::pool;
use crate::server::serve::LoopServer;

/// What goes out before the body is read when the client sent
/// `Expect: 100-continue`.
const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// Bytes read from the socket and not yet consumed.
pub(crate) struct Input {
    /// Borrowed from the loop's pool while there is something in it; an
    /// empty `Vec` (no allocation) while the connection is idle.
    pub(crate) buf: Vec<u8>,
    /// Where the unconsumed bytes start and end in `buf`. `u32`s: a read
    /// buffer is a few KiB (see `Limits::read_buffer_size`), and two
    /// `usize`s made every connection 16 bytes larger.
    start: u32,
    end: u32,
    /// The client closed its sending side.
    pub(crate) eof: bool,
}

impl Input {
    pub(crate) fn new() -> Input {
        Input { buf: Vec::new(), start: 0, end: 0, eof: false }
    }

    pub(crate) fn pending(&self) -> &[u8] {
        &self.buf[self.start as usize..self.end as usize]
    }

    pub(crate) fn consume(&mut self, n: usize) {
        self.start += n as u32;
    }

    pub(crate) fn has_pending(&self) -> bool {
        self.start < self.end
    }

    /// The free part of the buffer, to read into; then [`filled`](Self::filled).
    pub(crate) fn spare(&mut self) -> &mut [u8] {
        &mut self.buf[self.end as usize..]
    }

    /// `n` more bytes were read into [`spare`](Self::spare).
    pub(crate) fn filled(&mut self, n: usize) {
        self.end += n as u32;
    }

    /// Makes room at the end: borrows a buffer (of the size `limits` ask
    /// for, worked out only then) if there is none, slides unconsumed bytes
    /// to the front.
    #[inline(always)]
    pub(crate) fn make_room(&mut self, limits: &Limits) {
        if self.buf.is_empty() {
            // Positions are u32: a buffer is never allowed past that.
            self.buf = pool::take_read_buffer(limits.read_buffer_size().min(u32::MAX as usize));
        }
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.end as usize == self.buf.len() && self.start > 0 {
            self.buf.copy_within(self.start as usize..self.end as usize, 0);
            self.end -= self.start;
            self.start = 0;
        }
    }

    /// Whether the buffer is full of unconsumed bytes.
    pub(crate) fn is_full(&self) -> bool {
        !self.buf.is_empty() && self.start == 0 && self.end as usize == self.buf.len()
    }

    /// Gives the buffer back to the loop if nothing in it is pending.
    #[inline]
    pub(crate) fn release_if_drained(&mut self) {
        if self.start == self.end && !self.buf.is_empty() {
            pool::give_read_buffer(std::mem::take(&mut self.buf));
            self.start = 0;
            self.end = 0;
        }
    }
}

/// How the current request's body is delimited, and how far it has come.
pub(crate) enum BodyFraming {
    /// No body, or all of it consumed.
    Done,
    /// This many bytes still to come.
    Length(u64),
    /// Boxed (allocated per chunked request, which is rare): inline, its
    /// 56 bytes sat in every connection, idle or not.
    Chunked(Box<ChunkedDecoder>),
}

/// Progress of `Expect: 100-continue`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Continue {
    NotExpected,
    /// The client waits for `100 Continue`; this many bytes of it are out
    /// (fewer than its 25: a `u8` keeps the body state small).
    Owed(u8),
    Sent,
}

/// The current request's body state.
pub(crate) struct BodyState {
    /// Which request this is (counts from 1 per connection).
    pub(crate) seq: u64,
    pub(crate) framing: BodyFraming,
    /// Body bytes delivered so far, against the limit.
    pub(crate) received: u64,
    pub(crate) expect: Continue,
    /// The framing broke (too large, malformed): the connection must answer
    /// with this and close, whatever the handler says.
    ///
    /// Boxed: rare, and inline its 24 bytes sat in every connection.
    pub(crate) failed: Option<Box<Reject>>,
    /// When the whole body must have arrived (`body_timeout` from its first
    /// read); `None` until then.
    pub(crate) deadline: Option<Instant>,
}

/// The byte stream a connection is served over (see the module docs). The
/// methods are the stream's own, which both eddy streams have with the same
/// contract; `AsFd` is for the closing connection's last real read.
pub(crate) trait Transport: AsFd + 'static {
    fn poll_read(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>>;
    fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>>;
    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
    fn try_write(&self, buf: &[u8]) -> io::Result<usize>;
    fn shutdown_std(&self, how: Shutdown) -> io::Result<()>;
}

/// Implements [`Transport`] by forwarding to the stream's inherent methods.
macro_rules! transport {
    ($stream:ty) => {
        impl Transport for $stream {
            #[inline]
            fn poll_read(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
                <$stream>::poll_read(self, cx, buf)
            }
            #[inline]
            fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
                <$stream>::poll_write(self, cx, buf)
            }
            #[inline]
            fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                <$stream>::poll_read_ready(self, cx)
            }
            #[inline]
            fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
                <$stream>::try_write(self, buf)
            }
            #[inline]
            fn shutdown_std(&self, how: Shutdown) -> io::Result<()> {
                <$stream>::shutdown_std(self, how)
            }
        }
    };
}
transport!(TcpStream);
transport!(UnixStream);

/// Writes all of `buf`, waiting for room as needed (the slow-reader path).
pub(crate) async fn write_all<S: Transport + ?Sized>(stream: &S, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        let n = poll_fn(|cx| stream.poll_write(cx, buf)).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "write a response: the socket took nothing",
            ));
        }
        buf = &buf[n..];
    }
    Ok(())
}

/// Who is at the other end, for `Request::peer_addr` and log lines.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Peer {
    Tcp(SocketAddr),
    /// A Unix socket client: its address is almost always unnamed (clients
    /// do not bind), so there is nothing more to say.
    Unix,
}

impl Peer {
    /// The client's IP address and port; `None` over a Unix socket.
    pub(crate) fn socket_addr(self) -> Option<SocketAddr> {
        match self {
            Peer::Tcp(addr) => Some(addr),
            Peer::Unix => None,
        }
    }
}

impl std::fmt::Display for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Peer::Tcp(addr) => addr.fmt(f),
            Peer::Unix => f.write_str("unix client"),
        }
    }
}

/// [`Peer`] as a connection keeps it: 16 bytes instead of 32 (an IPv4
/// address inline, the rarer, larger IPv6 one boxed), in every
/// connection for its whole life, for a value read only by log lines and
/// `Request::peer_addr`.
enum PeerAddr {
    V4([u8; 4], u16),
    V6(Box<std::net::SocketAddrV6>),
    Unix,
}

impl PeerAddr {
    fn of(peer: Peer) -> PeerAddr {
        match peer {
            Peer::Tcp(SocketAddr::V4(addr)) => PeerAddr::V4(addr.ip().octets(), addr.port()),
            Peer::Tcp(SocketAddr::V6(addr)) => PeerAddr::V6(Box::new(addr)),
            Peer::Unix => PeerAddr::Unix,
        }
    }

    fn peer(&self) -> Peer {
        match self {
            PeerAddr::V4(ip, port) => Peer::Tcp(SocketAddr::from((*ip, *port))),
            PeerAddr::V6(addr) => Peer::Tcp(SocketAddr::V6(**addr)),
            PeerAddr::Unix => Peer::Unix,
        }
    }
}

/// A connection's socket, input and body state. `S` is the stream: a
/// concrete one for the connection task, `dyn Transport` for a `Body`
/// (see the module docs); it is the last field so that the one unsizes to
/// the other.
pub(crate) struct ConnIo<S: ?Sized = dyn Transport> {
    peer: PeerAddr,
    pub(crate) input: RefCell<Input>,
    pub(crate) body: RefCell<BodyState>,
    /// The loop's server state, to hear that this connection is closing.
    pub(crate) server: Rc<LoopServer>,
    /// This connection's slot in `server` (see [`id`](Self::id)). A `u32`,
    /// which leaves room for `watched` in the same word: a loop never
    /// holds anywhere near 2^32 connections (file descriptors run out
    /// first).
    pub(crate) slot: u32,
    /// While the connection waits for a request: when that began, as a
    /// count of idle periods on this loop (so the oldest is the smallest);
    /// 0 while it is busy. Read by the loop to pick a connection to
    /// reclaim at the connection cap.
    pub(crate) idle_since: Cell<u64>,
    /// The loop's slot for this connection holds the connection task's own
    /// waker, and the connection is not reclaimed: the task's waits for
    /// closing need not look at the slot (see `LoopServer::poll_closing_own`).
    /// Cleared whenever either stops being true.
    pub(crate) watched: Cell<bool>,
    pub(crate) stream: S,
}

impl<S: Transport> ConnIo<S> {
    pub(crate) fn new(stream: S, peer: Peer, server: Rc<LoopServer>, id: usize) -> ConnIo<S> {
        ConnIo {
            stream,
            peer: PeerAddr::of(peer),
            server,
            slot: u32::try_from(id).unwrap_or(u32::MAX),
            idle_since: Cell::new(0),
            watched: Cell::new(false),
            input: RefCell::new(Input::new()),
            body: RefCell::new(BodyState {
                seq: 0,
                framing: BodyFraming::Done,
                received: 0,
                expect: Continue::NotExpected,
                failed: None,
                deadline: None,
            }),
        }
    }
}

impl<S: ?Sized> ConnIo<S> {
    /// This connection's slot in its loop's server state.
    pub(crate) fn id(&self) -> usize {
        self.slot as usize
    }
}

impl<S: Transport + ?Sized> ConnIo<S> {
    /// Who is at the other end.
    pub(crate) fn peer(&self) -> Peer {
        self.peer.peer()
    }

    /// The app's limits (kept once per loop, in its server state).
    pub(crate) fn limits(&self) -> &Limits {
        &self.server.limits
    }

    /// Reads up to `max` bytes of request `seq`'s body into `deliver`,
    /// waiting within the body's deadlines (see the module docs). On a
    /// timeout the body is failed with `408`: the connection answers that
    /// and closes, rather than wait as long again to drain it.
    pub(crate) async fn read_body(
        &self,
        seq: u64,
        max: usize,
        deliver: &mut dyn FnMut(&[u8]),
    ) -> Result<usize, BodyError> {
        let per_read = Instant::now() + self.limits().io_timeout;
        let mut timer = None;
        poll_fn(|cx| {
            if let Poll::Ready(result) = self.poll_body(seq, cx, max, deliver) {
                return Poll::Ready(result);
            }
            // Registered so that a shutdown wakes this wait and shortens it
            // to the grace.
            let _ = self.server.poll_closing(self, false, cx);
            let deadline = self.body_deadline(per_read);
            let timer = timer.get_or_insert_with(|| sleep_until(deadline));
            if timer.deadline() != deadline {
                timer.reset(deadline);
            }
            if Pin::new(timer).poll(cx).is_ready() {
                self.fail_body(seq, Reject::RequestTimeout);
                return Poll::Ready(Err(BodyError::TimedOut));
            }
            Poll::Pending
        })
        .await
    }

    /// Discards what of request `seq`'s body can be had without waiting.
    /// `Ready(true)`: the body is complete; `Ready(false)`: it is broken
    /// (the connection must close); `Pending`: more must come.
    pub(crate) fn poll_drain(&self, seq: u64, cx: &mut Context<'_>) -> Poll<bool> {
        loop {
            match self.poll_body(seq, cx, usize::MAX, &mut |_| {}) {
                Poll::Ready(Ok(0)) => return Poll::Ready(true),
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(error)) => {
                    log::debug!("{}: could not drain an unread request body: {error}", self.peer());
                    return Poll::Ready(false);
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// The earliest of `per_read`, the whole body's deadline (started now if
    /// this is the body's first wait) and the closing grace.
    fn body_deadline(&self, per_read: Instant) -> Instant {
        let total = *self
            .body
            .borrow_mut()
            .deadline
            .get_or_insert_with(|| Instant::now() + self.limits().body_timeout);
        let deadline = per_read.min(total);
        match self.server.closing_deadline(self.id()) {
            Some(closing) => deadline.min(closing),
            None => deadline,
        }
    }

    /// Reads more bytes into the input buffer. `Ok(0)` means EOF.
    /// Inlined: once per wake, and its call, prologue and result cost
    /// ~15 instructions next to ~40 of work.
    #[inline(always)]
    pub(crate) fn poll_fill(&self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let mut input = self.input.borrow_mut();
        input.make_room(self.limits());
        if input.is_full() {
            // Callers check for a full buffer first (it means a too-large
            // head); reaching here would read zero bytes and look like EOF.
            return Poll::Ready(Err(io::Error::other("input buffer full")));
        }
        let n = std::task::ready!(self.stream.poll_read(cx, input.spare()))?;
        input.filled(n);
        if n == 0 {
            input.eof = true;
        }
        Poll::Ready(Ok(n))
    }

    /// Reads what the socket holds now into the input buffer, with a real
    /// read (see [`crate::server::socket::read_now`]): `Some(0)` means EOF, `None`
    /// that nothing is there.
    pub(crate) fn fill_now(&self) -> io::Result<Option<usize>> {
        let mut input = self.input.borrow_mut();
        input.make_room(self.limits());
        if input.is_full() {
            return Err(io::Error::other("input buffer full"));
        }
        loop {
            match crate::server::socket::read_now(self.stream.as_fd(), input.spare()) {
                Ok(n) => {
                    input.filled(n);
                    input.eof |= n == 0;
                    return Ok(Some(n));
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
    }

    /// Delivers up to `max` body bytes of request `seq` to `deliver`,
    /// reading from the socket as needed. `Ok(0)`: the body is complete.
    pub(crate) fn poll_body(
        &self,
        seq: u64,
        cx: &mut Context<'_>,
        max: usize,
        deliver: &mut dyn FnMut(&[u8]),
    ) -> Poll<Result<usize, BodyError>> {
        {
            let body = self.body.borrow();
            if body.seq != seq {
                return Poll::Ready(Err(BodyError::Stale));
            }
            if let Some(reject) = &body.failed {
                return Poll::Ready(Err(body_error(reject)));
            }
            if matches!(body.framing, BodyFraming::Done) || max == 0 {
                return Poll::Ready(Ok(0));
            }
        }
        std::task::ready!(self.poll_send_continue(cx)).map_err(BodyError::Io)?;
        loop {
            if self.input.borrow().has_pending() {
                if let Some(result) = self.take_body_bytes(max, deliver) {
                    return Poll::Ready(result);
                }
            }
            if self.input.borrow().eof {
                return Poll::Ready(Err(BodyError::Incomplete));
            }
            match std::task::ready!(self.poll_fill(cx)) {
                Ok(0) => return Poll::Ready(Err(BodyError::Incomplete)),
                Ok(_) => {}
                Err(error) => return Poll::Ready(Err(BodyError::Io(error))),
            }
        }
    }

    /// Decodes body bytes from the buffered input. `None`: all of it was
    /// framing, more input is needed.
    fn take_body_bytes(
        &self,
        max: usize,
        deliver: &mut dyn FnMut(&[u8]),
    ) -> Option<Result<usize, BodyError>> {
        let mut body = self.body.borrow_mut();
        let mut input = self.input.borrow_mut();
        let pending = input.pending();
        let (consumed, data) = match &mut body.framing {
            BodyFraming::Done => return Some(Ok(0)),
            BodyFraming::Length(remaining) => {
                let n = (*remaining).min(pending.len() as u64).min(max as u64) as usize;
                *remaining -= n as u64;
                (n, 0..n)
            }
            BodyFraming::Chunked(decoder) => match decoder.decode(pending, max) {
                Ok((consumed, data)) => (consumed, data.unwrap_or(0..0)),
                Err(error) => {
                    body.failed = Some(Box::new(Reject::BadRequest(error.describe())));
                    return Some(Err(BodyError::Malformed(error.describe())));
                }
            },
        };
        let finished = match &body.framing {
            BodyFraming::Length(remaining) => *remaining == 0,
            BodyFraming::Chunked(decoder) => decoder.is_done(),
            BodyFraming::Done => true,
        };
        body.received += data.len() as u64;
        if body.received > self.limits().max_body {
            body.failed = Some(Box::new(Reject::PayloadTooLarge));
            return Some(Err(BodyError::TooLarge));
        }
        if !data.is_empty() {
            deliver(&pending[data.clone()]);
        }
        input.consume(consumed);
        if finished {
            body.framing = BodyFraming::Done;
        }
        if data.is_empty() && !finished {
            return None;
        }
        Some(Ok(data.len()))
    }

    /// Sends `100 Continue` if the client is waiting for it.
    fn poll_send_continue(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            let Continue::Owed(written) = self.body.borrow().expect else {
                return Poll::Ready(Ok(()));
            };
            let n = std::task::ready!(self.stream.poll_write(cx, &CONTINUE[usize::from(written)..]))?;
            let written = usize::from(written) + n;
            self.body.borrow_mut().expect = if written >= CONTINUE.len() {
                Continue::Sent
            } else {
                // Below `CONTINUE.len()`, so it fits.
                Continue::Owed(written as u8)
            };
        }
    }

    /// Marks the body of request `seq` as broken by `reject` (if it is
    /// still the current one): further reads fail, the connection answers
    /// with `reject` and closes.
    pub(crate) fn fail_body(&self, seq: u64, reject: Reject) {
        let mut body = self.body.borrow_mut();
        if body.seq == seq && body.failed.is_none() {
            body.failed = Some(Box::new(reject));
        }
    }

    /// Whether the current request's body has been read to its end.
    pub(crate) fn body_done(&self) -> bool {
        matches!(self.body.borrow().framing, BodyFraming::Done)
    }
}

fn body_error(reject: &Reject) -> BodyError {
    match reject {
        Reject::PayloadTooLarge => BodyError::TooLarge,
        Reject::RequestTimeout => BodyError::TimedOut,
        Reject::BadRequest(why) => BodyError::Malformed(why),
        _ => BodyError::Malformed("request refused"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_peer_address_gives_back_exactly_the_one_accepted() {
        let v6: SocketAddr = "[2001:db8::1]:8080".parse().unwrap();
        for peer in [Peer::Tcp("127.0.0.1:40000".parse().unwrap()), Peer::Tcp(v6), Peer::Unix] {
            assert_eq!(PeerAddr::of(peer).peer().socket_addr(), peer.socket_addr());
        }
        let flow = std::net::SocketAddrV6::new("::1".parse().unwrap(), 1, 7, 9);
        let kept = PeerAddr::of(Peer::Tcp(SocketAddr::V6(flow))).peer().socket_addr();
        assert_eq!(kept, Some(SocketAddr::V6(flow)), "flow info and scope survive");
        assert_eq!(std::mem::size_of::<PeerAddr>(), 16);
    }
}
