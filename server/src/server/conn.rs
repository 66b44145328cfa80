//! One connection: read, parse every complete request, answer each, write
//! all the answers at once, and go idle holding no buffers.
//!
//! ```text
//!            ┌──────────────── idle (no buffers) ◀─────────────┐
//!            │ readable                 keep-alive timeout ──▶ close
//!            ▼                          shutdown, reclaim ──▶ last read,
//!   read into a pooled buffer                       answer what it holds,
//!            │                                      close gracefully
//!            ▼            partial head ─▶ flush answers, wait for more
//!   parse next head ──── rejected ──────▶ answer 4xx/5xx, close
//!            │ complete                   (head timeout ─▶ 408, close)
//!            ▼
//!   route ─▶ handler ─▶ append answer to output ─▶ drain unread body
//!            └── loop while complete heads remain in the buffer ─┘
//! ```
//!
//! Pipelining falls out of this shape: one read may hold many requests;
//! each is answered in order into one output buffer, and the buffer goes
//! out in one `write` when the input runs dry (or gets large). A handler
//! that has to wait first flushes the answers before it, so they are not
//! held hostage.
//!
//! Nothing after a refused request is parsed: a refusal closes the
//! connection. A body the handler did not read is drained (within the body
//! limit and the body's deadlines) so it is never mistaken for the next
//! request; if it cannot be drained, the connection closes instead. The
//! answer does not wait for that drain: what of the body is already read
//! is discarded at once, and if more must come, the answer is written
//! first and the rest drained after it.
//!
//! ## Closing without losing a request
//!
//! A connection is *closing* once the server shuts down or reclaims it
//! (an idle connection closed to make room at the connection cap). A
//! closing connection never closes on what it has not looked at: it makes
//! one last non-blocking read, answers every complete request found (the
//! last answer says `Connection: close`), and only then closes, by
//! half-closing and lingering (reading and discarding until the client
//! closes, bounded in time) so that bytes still in flight do not turn the
//! close into a reset. Waits on the client (the rest of a head, a body, the
//! first bytes of a connection that has sent none yet at shutdown) are cut
//! to the closing grace, then answered `408`.
//!
//! A new connection that has sent nothing is bounded by `head_timeout`,
//! not `keep_alive`: it has not earned a keep-alive period yet.
//!
//! ## The common path is plain code
//!
//! The loop above, for the usual request (a complete head, no body to wait
//! for, a handler that answers when first polled, output the socket takes
//! at once), runs in `poll_serve`: a synchronous function that parses,
//! answers, writes and waits for input, keeping the wait's state in the
//! connection (`wait`, `since`) so that it can return `Pending` and be
//! polled again. `serve`, the `async fn` around it, only takes over for
//! what waits on something else: a handler or body that waits, a full
//! socket, the close. So a request or a wake-up costs no async state
//! machine's saves, restores and moves, and an idle connection's future
//! holds no wait state of its own. Along that path the handler's answer
//! is written by its poll into one place and only borrowed from there
//! (a `Response` moved from result to tuple to struct cost ~20
//! instructions per move).
//!
//! The keep-alive timer is armed once and kept across requests: a later
//! keep-alive deadline never needs an earlier timer moved, so the timer
//! fires early at most once per keep-alive period, the wait's real end
//! (`since` + `keep_alive`) is checked, and only then is it re-armed.

use std::borrow::Cow;
use std::future::{poll_fn, Future};
use std::io;
use std::net::Shutdown;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use eddy::time::{sleep_until, Instant, Sleep};
use eddy::trace::EventKind;

use crate::app::body::Body;
use crate::app::handler::{HandlerFuture, Recycled};
use crate::app::percent;
use crate::app::request::{Parts, Request};
use crate::app::response::{Response, WriteMeta};
use crate::app::router::{allow_header, Routed};
use crate::app::stream_body::{note_buffered, StreamBody, STREAM_HIGH_WATER};
use crate::error::Reject;
use crate::http::chunked::ChunkedDecoder;
use crate::http::method::Method;
use crate::http::parse::{parse_head, Framing, Head, Parsed};
use crate::http::status::StatusCode;
use crate::server::conn_io::{self, BodyFraming, BodyState, ConnIo, Continue, Transport};
use crate::server::pool::{self, HeadStorage, Span, TargetAndParams};

/// Output beyond this is written before parsing more requests, bounding a
/// connection's memory under deep pipelining. 64 KiB holds hundreds of
/// small responses; picked, not tuned.
const FLUSH_AT: usize = 64 * 1024;

/// How far short of its deadline a kept keep-alive timer is taken to be
/// still armed without polling it (see `poll_wait_once`). A timer fires
/// only at its deadline on the loop clock, so any margin would do; a
/// second is far more than the clock's cached reading ever lags the one
/// that fires timers (a tick), and small next to keep-alive periods.
const TIMER_MARGIN: Duration = Duration::from_secs(1);

/// After a refusal, how long and how much the server keeps reading (and
/// discarding) before closing, so the client's unread bytes do not turn the
/// close into a reset that destroys the refusal in flight ("lingering
/// close", as nginx does).
const LINGER_TIME: Duration = Duration::from_secs(1);
const LINGER_BYTES: usize = 64 * 1024;

/// How waiting for input ended.
enum Woken {
    Readable,
    TimedOut,
    /// The connection is now closing (shutdown or reclaim).
    Closing,
}

/// A connection being served, over the stream `S` (TCP or Unix; generic,
/// so each is compiled for its own stream with no dispatch per call).
pub(crate) struct Connection<S: Transport> {
    /// The socket, input and body state; also the way to the loop's
    /// server state and app (`io.server.app`), kept there once per loop
    /// rather than in every connection.
    io: Rc<ConnIo<S>>,
    /// Answers not yet written; a pooled buffer while in use.
    out: Vec<u8>,
    /// Header positions for the head being parsed, then the request's copy.
    scratch: Option<Box<HeadStorage>>,
    /// Keep-alive, head and I/O deadlines; re-armed only when a wait blocks.
    timer: Sleep,
    /// The wait for input under way, if one is (see `poll_serve`).
    wait: Option<Wait>,
    /// When the wait under way began, or, while a head is partly
    /// received (`head_pending`), when its first bytes arrived: what its
    /// deadline counts from.
    since: Instant,
    /// A head is partly received (its deadline counts from `since`).
    head_pending: bool,
    /// The timer is armed for the end of an earlier keep-alive wait (or
    /// sooner) and was registered with this task's waker when last polled,
    /// so a keep-alive wait can keep it as it is: it fires early, the real
    /// deadline is checked, and only then is it re-armed. A keep-alive
    /// connection then touches neither the wheel nor the clock arithmetic
    /// per request, only once per keep-alive period.
    timer_for_keep_alive: bool,
    /// Requests started on this connection.
    seq: u64,
    /// The body state may hold more than its request's number: the last
    /// request had a body. Without one, nothing reads or writes the body
    /// state but its number (every body operation stops at `Done`
    /// framing), so the next request without a body need set only that.
    body_dirty: bool,
    /// Reclaimed to make room (see the module docs); shutdown is read from
    /// the server.
    reclaimed: bool,
    /// Whether access logging is on, as the loop last asked (once a second,
    /// see `LoopApp::access_log`): asking the logger per request showed up
    /// in profiles (env_logger matches its filters on every call). A
    /// changed log level applies to connections opened after the change.
    access_log: bool,
}

/// Flight-recorder events (`eddy::trace`), so one request can be followed on
/// the timeline from accept to write.
static TRACE_ACCEPTED: EventKind = EventKind::new("http connection accepted|conn|client_port");
static TRACE_HEAD: EventKind = EventKind::new("http request head parsed|conn|request");
static TRACE_RESPONSE: EventKind = EventKind::new("http response written|status|bytes");
static TRACE_CLOSED: EventKind = EventKind::new("http connection closed|conn|requests");

impl<S: Transport> Connection<S> {
    pub(crate) fn new(io: Rc<ConnIo<S>>) -> Connection<S> {
        let access_log = io.server.app.access_log();
        Connection {
            io,
            out: Vec::new(),
            scratch: None,
            timer: sleep_until(Instant::recent()),
            wait: None,
            since: Instant::recent(),
            head_pending: false,
            timer_for_keep_alive: false,
            seq: 0,
            body_dirty: false,
            reclaimed: false,
            access_log,
        }
    }

    /// Marks the start of the connection on the flight recorder. The
    /// connection's task calls this, then awaits [`serve`](Self::serve)
    /// itself, then [`ended`](Self::ended): no `run` future wrapping
    /// `serve`, which kept its own two copies of the `&mut self` (16 bytes
    /// of every connection, idle or not).
    pub(crate) fn started(&self) {
        // The client's port (0 over a Unix socket).
        let port = self.io.peer().socket_addr().map_or(0, |addr| addr.port());
        eddy::trace::event(&TRACE_ACCEPTED, self.io.slot, u32::from(port));
    }

    /// Gives back the buffers, marks the end on the flight recorder and
    /// says why it ended in the debug log.
    pub(crate) fn ended(&mut self, reason: &'static str) {
        self.release_buffers();
        eddy::trace::event(&TRACE_CLOSED, self.io.slot, self.seq as u32);
        log::debug!("{}: {reason}", self.io.peer());
    }

    /// Serves requests until the connection ends; returns why. By
    /// reference: the caller's task owns the connection (see
    /// `serve_loop`), so it is stored once in the task's future.
    pub(crate) async fn serve(&mut self) -> &'static str {
        // The common path (read, answer every complete request, write, wait
        // again) runs in `poll_serve`, a plain function polled in place:
        // as the body of this `async fn` it paid the state machine's saves,
        // restores and moves on every request and every wake. Only what has
        // to wait in a way `poll_serve` cannot (a handler or body that waits,
        // a slow reader, the close) comes back here.
        loop {
            let step = poll_fn(|cx| self.poll_serve(cx)).await;
            match step {
                Served::Later(later) => {
                    if Recycled::new(self.answer_later(*later)).await {
                        let linger = self.is_closing();
                        return self.close("closed after the response", linger).await;
                    }
                    if self.out.len() >= FLUSH_AT && !self.flush().await {
                        return "write failed or timed out";
                    }
                }
                Served::Flush => {
                    if !self.flush_rest().await {
                        return "write failed or timed out";
                    }
                }
                Served::Close(reason, linger) => return self.close(reason, linger).await,
                Served::End(reason) => return reason,
            }
        }
    }

    /// The synchronous core of [`serve`](Self::serve): parses and answers
    /// every complete request in the input, writes the answers, and waits
    /// for more input (the wait's state is `self.wait`, so that this can
    /// return `Pending` and be polled again). Returns what it cannot do
    /// without waiting in some other way.
    fn poll_serve(&mut self, cx: &mut Context<'_>) -> Poll<Served> {
        loop {
            if let Some(wait) = self.wait {
                let woken = std::task::ready!(self.poll_wait(cx));
                self.wait = None;
                match woken {
                    Woken::Readable => {}
                    Woken::Closing => continue,
                    Woken::TimedOut => return Poll::Ready(self.timed_out(wait)),
                }
                // One attempt, not a wait: readiness can be stale (a read
                // that exactly filled the buffer leaves the socket marked
                // readable with nothing in it), and a wait here would have
                // no deadline and miss shutdown. Then go back and wait
                // again, now for real.
                match self.io.poll_fill(cx) {
                    Poll::Ready(Ok(_)) => self.io.server.app.refresh_common_lines(),
                    Poll::Ready(Err(error)) => {
                        log::debug!("{}: read failed: {error}", self.io.peer());
                        return Poll::Ready(Served::End("read failed"));
                    }
                    Poll::Pending => {}
                }
            }
            let parsed = {
                let input = self.io.input.borrow();
                if input.has_pending() {
                    let scratch = self.scratch.get_or_insert_with(pool::take_head);
                    parse_head(input.pending(), &self.io.server.limits, scratch)
                } else {
                    Parsed::Partial
                }
            };
            match parsed {
                Parsed::Complete(ref head) => {
                    self.head_pending = false;
                    match self.answer_now(head) {
                        Answered::Now(false) => {}
                        Answered::Now(true) => {
                            let linger = self.is_closing();
                            return Poll::Ready(Served::Close("closed after the response", linger));
                        }
                        Answered::Later(later) => return Poll::Ready(Served::Later(Box::new(later))),
                    }
                    if self.out.len() >= FLUSH_AT {
                        match self.flush_now() {
                            Some(true) => {}
                            Some(false) => return Poll::Ready(Served::End("write failed or timed out")),
                            None => return Poll::Ready(Served::Flush),
                        }
                    }
                }
                Parsed::Rejected(reject) => {
                    self.answer_rejection(&reject);
                    return Poll::Ready(Served::Close("request refused", true));
                }
                Parsed::Partial => {
                    match self.flush_now() {
                        Some(true) => {}
                        Some(false) => return Poll::Ready(Served::End("write failed or timed out")),
                        // Once the rest is out, this comes back here, finds
                        // the same partial head, and goes on.
                        None => return Poll::Ready(Served::Flush),
                    }
                    if let Some(step) = self.prepare_wait() {
                        return Poll::Ready(step);
                    }
                }
            }
        }
    }

    /// A closing connection about to wait: past the grace it closes; before
    /// it, a last real read looks for a request already sent (`Some(None)`:
    /// one came, look again). `None`: wait, within the grace.
    #[cold]
    fn before_closing(&mut self, pending: bool) -> Option<Option<Served>> {
        // Past the grace, a client still sending (pipelining without end)
        // is not read from any more.
        let graced =
            self.io.server.closing_deadline(self.io.id()).is_some_and(|grace| Instant::now() >= grace);
        if graced {
            return if pending {
                None
            } else {
                Some(Some(Served::Close("closed: the closing grace is over", true)))
            };
        }
        // A last look before closing: a request already in the socket is
        // answered, never reset.
        match self.last_read() {
            Ok(true) => return Some(None),
            Ok(false) => {}
            Err(reason) => return Some(Some(Served::End(reason))),
        }
        // Nothing came. A connection that has sent nothing yet at shutdown
        // gets the grace for its first request (it connected to send one);
        // others close.
        if !pending && (self.seq > 0 || self.reclaimed) {
            return Some(Some(Served::Close("closed: server shutting down or connection reclaimed", true)));
        }
        None
    }

    /// What a wait that timed out ends in.
    #[cold]
    fn timed_out(&mut self, wait: Wait) -> Served {
        if !wait.idle {
            self.answer_rejection(&Reject::RequestTimeout);
            Served::Close("request head timed out", true)
        } else if wait.closing {
            Served::Close("closed: no request within the closing grace", true)
        } else if self.seq == 0 {
            Served::Close("sent nothing in time", false)
        } else {
            Served::Close("keep-alive timeout", false)
        }
    }

    /// The input holds no complete request and the answers are out: decides
    /// whether to wait for more, and for how long (into `self.wait`), or
    /// what to do instead. `None`: wait (or look again, after a last read).
    fn prepare_wait(&mut self) -> Option<Served> {
        let (pending, eof) = {
            let input = self.io.input.borrow();
            (input.has_pending(), input.eof)
        };
        if eof {
            return Some(Served::End(if pending { "client closed mid-request" } else { "client closed" }));
        }
        let closing = self.is_closing();
        if closing {
            if let Some(next) = self.before_closing(pending) {
                return next;
            }
        }
        if !pending {
            self.since = Instant::recent();
        } else if !self.head_pending {
            self.head_pending = true;
            self.since = Instant::recent();
        }
        self.wait = Some(Wait { idle: !pending, closing });
        None
    }

    /// Answers one request as far as that needs no waiting: the usual
    /// case (no `100-continue`, a handler that answers when first polled,
    /// no body left to wait for, no streamed body) is answered here
    /// completely, with no future at all. Anything that must wait goes on
    /// in [`answer_later`](Self::answer_later), from where this stopped.
    ///
    /// Synchronous, so it has no context to poll with: the handler's first
    /// poll and the look at an unread body use a no-op waker. That is
    /// sound because nothing waits on what they register: a handler that
    /// is not ready is polled again, with the task's waker, by
    /// `answer_later` before the connection waits for it, and an unread
    /// body is read on there with the task's waker too. (As one `async fn`,
    /// this path cost a block for its state, a 400-byte copy into it, and
    /// the state machine's own moves: ~200 instructions per request.)
    fn answer_now(&mut self, head: &Head) -> Answered {
        let mut cx = Context::from_waker(Waker::noop());
        // The answer, `Ready` once there is one. Filled in place by `start`
        // and then only borrowed: a `Response` is ~90 bytes, and every move
        // of it (from the handler to a result, to a tuple, to a struct)
        // cost ~20 instructions.
        let mut answer = Poll::Pending;
        let (meta, close) = match self.start(head, &mut answer, &mut cx) {
            Started::Answered(meta, close) => (meta, close),
            Started::Later(later) => return Answered::Later(later),
        };
        let Poll::Ready(response) = &mut answer else {
            // `start` answers whenever it says so; were it ever not so,
            // closing is the safe way out.
            return Answered::Now(true);
        };
        let concluded = self.conclude(&meta, response, close, &mut cx);
        if concluded.streaming || concluded.drain_later {
            let response = std::mem::replace(response, Response::empty(StatusCode::OK));
            return Answered::Later(Later::Finish(meta, response, concluded));
        }
        self.log_answer(meta.access, response, concluded.queued, None);
        Answered::Now(concluded.close)
    }

    /// Goes on answering a request from where [`answer_now`](Self::answer_now)
    /// stopped; returns whether the connection must close.
    ///
    /// What lives across these awaits is held in a recycled block (see
    /// `serve`), not in the connection's future: an idle connection keeps no
    /// room for it.
    async fn answer_later(&mut self, later: Later) -> bool {
        let (meta, mut response, concluded) = match later {
            Later::Finish(meta, response, concluded) => (meta, response, concluded),
            Later::Start(meta, next) => {
                // `100 Continue` goes straight to the socket when the
                // handler first reads the body: the answers to earlier
                // pipelined requests must be out before it, or the client
                // would take it for theirs. (A failed flush shows again at
                // the next write.)
                let _ = self.flush().await;
                let (mut response, close) = match next {
                    Next::Answer(response, close) => (response, close),
                    Next::Handler(future) => self.run_handler(future, &meta, false).await,
                };
                let concluded = self.conclude_later(&meta, &mut response, close).await;
                (meta, response, concluded)
            }
            Later::Waiting(meta, future) => {
                let (mut response, close) = self.run_handler(future, &meta, true).await;
                let concluded = self.conclude_later(&meta, &mut response, close).await;
                (meta, response, concluded)
            }
        };
        let Concluded { mut close, mut drain_later, streaming, queued } = concluded;
        // Only a streamed answer pays for any of this (a plain one's cost
        // per request was checked unchanged with callgrind).
        let mut streamed = None;
        if let Some(body) = streaming.then(|| response.take_stream()).flatten() {
            // Boxed: rare next to plain answers, and its state would
            // otherwise sit in every request's state.
            let (end, sent) = Box::pin(self.stream_body(body, !meta.http10)).await;
            streamed = Some(sent);
            match end {
                StreamEnd::Complete => {}
                // The final chunk is out; the connection closes after it.
                StreamEnd::Closing => close = true,
                StreamEnd::Aborted => {
                    close = true;
                    drain_later = false;
                }
            }
        }
        self.log_answer(meta.access, &response, queued, streamed);
        if drain_later {
            // The answer is ready: it goes now, and the rest of the body is
            // read and discarded after it. If that fails, the connection
            // closes (its answer is out already). Boxed for the same reason
            // as `write_rest`: rare, and big.
            if !self.flush().await {
                return true;
            }
            close = !Box::pin(self.drain_body()).await;
        }
        close
    }

    /// [`conclude`](Self::conclude) with the task's own context.
    async fn conclude_later(&mut self, meta: &Meta, response: &mut Response, close: bool) -> Concluded {
        // Ready at the first poll: never polled again.
        poll_fn(|cx| Poll::Ready(self.conclude(meta, response, close, cx))).await
    }

    /// What a handler's outcome answers: a panic or a 1xx becomes a 500.
    fn judge(&self, outcome: HandlerOutcome, meta: &Meta) -> (Response, bool) {
        match outcome {
            Ok(mut response) => {
                let close = self.check_final(&mut response, meta.close);
                (response, close)
            }
            Err(payload) => {
                self.handler_panicked(meta.method, payload.as_ref());
                refuse(&Reject::HandlerPanicked, meta.close)
            }
        }
    }

    /// A 1xx is not a final answer: the client would wait for another one
    /// forever. So a handler's 1xx becomes a 500. Returns whether to close.
    #[inline(always)]
    fn check_final(&self, response: &mut Response, close: bool) -> bool {
        if response.status().as_u16() >= 200 {
            return close;
        }
        log::error!(
            "{}: a handler answered with {}, not a final status; answered 500",
            self.io.peer(),
            response.status()
        );
        let (refusal, close) = refuse(&Reject::HandlerPanicked, close);
        *response = refusal;
        close
    }

    /// Everything between knowing the response and sending it that needs
    /// no waiting: what of the body is here is discarded, the connection's
    /// fate settled, and the head (and a plain body) written into the
    /// output. The response is replaced by a refusal if the body broke.
    #[inline(always)]
    fn conclude(
        &mut self,
        meta: &Meta,
        response: &mut Response,
        mut close: bool,
        cx: &mut Context<'_>,
    ) -> Concluded {
        // Whatever the handler left of the body must go before the next
        // request can be parsed. What is already here goes now; if more
        // must come, the answer does not wait for it (`drain_later`).
        let mut drain_later = false;
        if !self.io.body_done() {
            let owed_continue = matches!(self.io.body.borrow().expect, Continue::Owed(0));
            if owed_continue {
                // The client is still waiting for permission to send: it
                // will not send the body, so the connection cannot continue.
                close = true;
            } else if !close {
                match self.io.poll_drain(self.seq, cx) {
                    Poll::Ready(drained) => close = !drained,
                    Poll::Pending => drain_later = true,
                }
            }
            if let Some(reject) = self.io.body.borrow_mut().failed.take() {
                self.io.server.stats.refused(&reject);
                *response = rejection(&reject);
                close = true;
            }
        }
        // Closing, the connection closes once the requests it holds are
        // answered: the last answer says so, so the client does not send
        // another request into a closing connection.
        if self.is_closing() && !self.io.input.borrow().has_pending() {
            close = true;
        }
        // Closing anyway: the linger discards the rest of the body.
        drain_later &= !close;

        let head_only = meta.method == Method::Head;
        // A streamed body is sent only where a body is; elsewhere (HEAD,
        // 204, 304) it is dropped unpolled with the response.
        let streaming = response.is_stream() && response.status().allows_body() && !head_only;
        // HTTP/1.0 has no chunked coding: the body is close-delimited.
        close |= streaming && meta.http10;
        if self.out.capacity() == 0 {
            self.out = pool::take_write_buffer();
        }
        let queued_before = self.out.len();
        response.write_to(
            &mut self.out,
            &WriteMeta {
                common: &self.io.server.app.common.borrow(),
                server: &self.io.server.app.inner.server_name,
                head_only,
                close,
                keep_alive_10: meta.keep_alive_10 && !close,
                http10: meta.http10,
            },
        );
        let queued = (self.out.len() - queued_before) as u64;
        Concluded { close, drain_later, streaming, queued }
    }

    /// The flight-recorder event and the access log line for an answer.
    /// The head (and a plain body) went into the output buffer, which goes
    /// out with the batch; a streamed body's bytes are counted by
    /// `stream_body`.
    #[inline(always)]
    fn log_answer(&self, access: Option<String>, response: &Response, queued: u64, streamed: Option<u64>) {
        let bytes = queued + streamed.unwrap_or(0);
        let bytes = bytes.min(u64::from(u32::MAX)) as u32;
        eddy::trace::event(&TRACE_RESPONSE, u32::from(response.status().as_u16()), bytes);
        self.io.server.stats.response(response.status().as_u16());
        if let Some(request_line) = access {
            let status = response.status().as_u16();
            let length = streamed.unwrap_or(response.body().len() as u64);
            log::info!(target: "eddy_http::access", "{} {request_line} {status} {length}", self.io.peer());
        }
    }

    /// The part of answering a request that needs no waiting: consumes the
    /// head, sets up the body, routes, builds the request, calls the
    /// handler and (unless the client waits for `100 Continue`) polls its
    /// future once. Returns the request's `Meta` and whether to close once
    /// answered, with the answer in `answer`; or, if it must wait (a
    /// handler not ready, `100-continue`), where `answer_later` takes over.
    #[inline(always)]
    fn start(&mut self, head: &Head, answer: &mut Poll<Response>, cx: &mut Context<'_>) -> Started {
        self.seq += 1;
        self.io.server.stats.request();
        let mut storage = self.scratch.take().unwrap_or_else(pool::take_head);
        {
            let mut input = self.io.input.borrow_mut();
            // `parse_head` kept a copy of the head in `storage`.
            input.consume(head.len);
        }
        let framing = match head.framing {
            Framing::None => BodyFraming::Done,
            Framing::Length(length) => BodyFraming::Length(length),
            Framing::Chunked => {
                BodyFraming::Chunked(Box::new(ChunkedDecoder::new(&self.io.server.app.inner.limits)))
            }
        };
        let has_body = !matches!(framing, BodyFraming::Done);
        let expects_continue = head.expect_continue && has_body;
        {
            let mut body = self.io.body.borrow_mut();
            if has_body || self.body_dirty {
                *body = BodyState {
                    seq: self.seq,
                    framing,
                    received: 0,
                    expect: if expects_continue { Continue::Owed(0) } else { Continue::NotExpected },
                    failed: None,
                    deadline: None,
                };
            } else {
                // Between two requests without a body nothing but the
                // number changes (see `body_dirty`).
                body.seq = self.seq;
            }
        }
        self.body_dirty = has_body;
        // `parse_head` left the target as text in `storage`: path,
        // query and parameters are slices of it.
        let path = head.path.relative_to(head.target);
        let query = head.query.map(|query| query.relative_to(head.target));
        let meta = Meta {
            method: head.method,
            close: head.close,
            keep_alive_10: head.keep_alive_10,
            http10: head.version == crate::http::parse::Version::Http10,
            access: if self.access_log { Some(access_line(head, storage.head.target())) } else { None },
        };
        eddy::trace::event(&TRACE_HEAD, self.io.slot, self.seq as u32);
        let app = &self.io.server.app;
        // Routed, and the parameters recorded, in one borrow of the
        // target.
        let (routed, recorded) = {
            let mut found = storage.target_and_params();
            // As bytes: a `str` slice would check both ends for a char
            // boundary.
            let routed =
                app.inner.router.route(head.method, &found.target.as_bytes()[path.range()], found.spans);
            let recorded = match routed {
                Routed::Found { .. } => record_params(&mut found, path, head.escaped),
                _ => Ok(()),
            };
            (routed, recorded)
        };
        let close = match routed {
            Routed::Found { resource, handler } => {
                match recorded {
                    Err(reject) => {
                        pool::give_head(storage);
                        settle(answer, refuse(&reject, head.close))
                    }
                    Ok(()) => {
                        let length = match head.framing {
                            Framing::Length(length) => Some(length),
                            Framing::None => Some(0),
                            Framing::Chunked => None,
                        };
                        // One guard for the call and the first poll (a
                        // panic in either is the handler's, answered 500),
                        // and the answer written straight into its place.
                        // The request is built inside the guard: moved
                        // into it, its 80 bytes were copied twice more.
                        let poll_now = !expects_continue;
                        let mut future = None;
                        let io = &self.io;
                        let seq = self.seq;
                        let caught = panic::catch_unwind(AssertUnwindSafe(|| {
                            let request = Request::from_parts(Parts {
                                head: storage,
                                method: head.method,
                                version: head.version,
                                path,
                                query,
                                // Fits: the router holds fewer than
                                // 2^32 resources.
                                resource: resource as u32,
                                body: Body::new(io.clone(), seq, length),
                            });
                            let future = future.insert(handler.call(request));
                            if poll_now {
                                *answer = Pin::new(future).poll(cx);
                            }
                        }));
                        match caught {
                            Ok(()) => match answer {
                                Poll::Ready(response) => {
                                    // Done with: what it held goes now, as
                                    // it would have at the end of its last
                                    // poll.
                                    drop(future);
                                    self.check_final(response, head.close)
                                }
                                Poll::Pending => match future {
                                    Some(future) => {
                                        return Started::Later(if poll_now {
                                            Later::Waiting(meta, future)
                                        } else {
                                            Later::Start(meta, Next::Handler(future))
                                        });
                                    }
                                    // Called, so there is a future.
                                    None => head.close,
                                },
                            },
                            Err(payload) => {
                                drop(future);
                                self.handler_panicked(head.method, payload.as_ref());
                                settle(answer, refuse(&Reject::HandlerPanicked, head.close))
                            }
                        }
                    }
                }
            }
            Routed::MethodNotAllowed { allowed } => {
                pool::give_head(storage);
                settle(answer, refuse(&Reject::MethodNotAllowed(allowed), head.close))
            }
            Routed::NotFound => {
                pool::give_head(storage);
                settle(answer, refuse(&Reject::NotFound, head.close))
            }
            Routed::Asterisk { allowed } => {
                pool::give_head(storage);
                settle(answer, (crate::app::router::asterisk_response(allowed), head.close))
            }
        };
        if expects_continue {
            if let Poll::Ready(response) = std::mem::replace(answer, Poll::Pending) {
                return Started::Later(Later::Start(meta, Next::Answer(response, close)));
            }
        }
        Started::Answered(meta, close)
    }

    /// Runs a handler's future to its answer. `polled`: it was polled
    /// once already (by `answer_now`, and was not ready); otherwise it is
    /// polled once in place first, since most answer at once. Either way,
    /// before the connection waits for it, the answers before it are
    /// written out, and it is polled with the task's waker.
    async fn run_handler(
        &mut self,
        mut future: HandlerFuture,
        meta: &Meta,
        polled: bool,
    ) -> (Response, bool) {
        if !polled {
            if let Poll::Ready(outcome) = poll_fn(|cx| Poll::Ready(poll_handler(&mut future, cx))).await {
                return self.judge(outcome, meta);
            }
        }
        // The handler waits: the answers before it should not. A failed
        // flush will show again at the next one, which closes.
        let _ = self.flush().await;
        let outcome = poll_fn(|cx| poll_handler(&mut future, cx)).await;
        // The handler waited, maybe for seconds: date its answer now, not
        // at the read that brought the request.
        self.io.server.app.refresh_common_lines();
        self.judge(outcome, meta)
    }

    #[cold]
    fn handler_panicked(&self, method: Method, payload: &(dyn std::any::Any + Send)) {
        let message = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("(non-string panic payload)");
        log::error!("{}: handler for a {method} request panicked: {message}; answered 500", self.io.peer());
    }

    /// Reads and discards the rest of the current body, within the body's
    /// deadlines. False if that failed (the connection must close).
    async fn drain_body(&mut self) -> bool {
        loop {
            match self.io.read_body(self.seq, usize::MAX, &mut |_| {}).await {
                Ok(0) => return true,
                Ok(_) => {}
                Err(error) => {
                    log::debug!("{}: could not drain an unread request body: {error}", self.io.peer());
                    return false;
                }
            }
        }
    }

    /// Reads whatever the client has sent, without waiting for more: true
    /// if bytes (or EOF) came. A real read, not the reactor's cached
    /// readiness, which may not know yet of bytes that already arrived.
    fn last_read(&mut self) -> Result<bool, &'static str> {
        match self.io.fill_now() {
            Ok(Some(_)) => {
                self.io.server.app.refresh_common_lines();
                Ok(true)
            }
            Ok(None) => {
                self.io.input.borrow_mut().release_if_drained();
                Ok(false)
            }
            Err(error) => {
                log::debug!("{}: read failed: {error}", self.io.peer());
                Err("read failed")
            }
        }
    }

    /// Whether this connection is closing: the server shuts down, or it was
    /// reclaimed.
    fn is_closing(&self) -> bool {
        self.reclaimed || self.io.server.is_shutting_down()
    }

    /// One look at what the connection waits for (`self.wait`): input, the
    /// deadline, or (unless closing already) the connection starting to
    /// close. `idle` waits (between requests) let the connection be
    /// reclaimed.
    fn poll_wait(&mut self, cx: &mut Context<'_>) -> Poll<Woken> {
        let Some(wait) = self.wait else { return Poll::Ready(Woken::Readable) };
        let woken = match self.poll_wait_once(wait, cx) {
            Poll::Ready(woken) => woken,
            Poll::Pending => {
                // Between requests and nothing in the socket: idle, so the
                // buffers go back to the loop now, not before the look (a
                // request already there reuses them).
                if wait.idle {
                    self.release_buffers();
                }
                return Poll::Pending;
            }
        };
        let (io, server) = (&*self.io, &*self.io.server);
        if wait.idle {
            if io.idle_since.get() != 0 {
                server.stats.idle(false);
            }
            io.idle_since.set(0);
        }
        if matches!(woken, Woken::Closing) && !server.is_shutting_down() {
            self.reclaimed = true;
        }
        Poll::Ready(woken)
    }

    /// The look itself, for [`poll_wait`](Self::poll_wait).
    #[inline(always)]
    fn poll_wait_once(&mut self, wait: Wait, cx: &mut Context<'_>) -> Poll<Woken> {
        let (io, server) = (&*self.io, &*self.io.server);
        // Input first: a connection with a request in its socket is not
        // idle, and must not be picked to make room.
        if io.stream.poll_read_ready(cx).is_ready() {
            return Poll::Ready(Woken::Readable);
        }
        if !wait.closing && server.poll_closing_own(io, wait.idle, cx).is_ready() {
            return Poll::Ready(Woken::Closing);
        }
        // Only a wait that blocks needs a deadline, and re-arming the timer
        // for every request would cost two wheel operations each. So a
        // timer already armed for an *earlier* deadline is kept: it fires
        // early, the deadline is checked, and only then is it re-armed.
        let keep_alive = wait.idle && self.seq > 0 && !wait.closing;
        if keep_alive && self.timer_for_keep_alive {
            // Armed for an earlier keep-alive deadline and registered with
            // this task's waker when last polled. A timer fires only once
            // the loop clock has reached its deadline, and `recent` is never
            // behind the reading it fired by: so while `recent` is more
            // than a margin short of the deadline, it has not fired and
            // still wakes this task when it does, and polling it again
            // would only say so (the wheel's look cost ~80 instructions per
            // keep-alive request).
            if Instant::recent() + TIMER_MARGIN < self.timer.deadline() {
                return Poll::Pending;
            }
        } else {
            let wanted = self.deadline(wait);
            if self.timer.deadline() > wanted {
                self.timer.reset(wanted);
            }
        }
        // Set again once the timer is registered, below.
        self.timer_for_keep_alive = false;
        loop {
            match Pin::new(&mut self.timer).poll(cx) {
                Poll::Pending => {
                    self.timer_for_keep_alive = keep_alive;
                    return Poll::Pending;
                }
                Poll::Ready(()) => {
                    let wanted = self.deadline(wait);
                    if Instant::now() >= wanted {
                        return Poll::Ready(Woken::TimedOut);
                    }
                    self.timer.reset(wanted);
                }
            }
        }
    }

    /// When the wait under way gives up: a head (or a new connection's
    /// first one) is bounded by `head_timeout`, the wait between requests
    /// by `keep_alive`, both counted from `since`; a closing connection's
    /// waits also by the closing grace.
    fn deadline(&self, wait: Wait) -> Instant {
        let limits = &self.io.server.limits;
        let period = if self.head_pending || self.seq == 0 { limits.head_timeout } else { limits.keep_alive };
        let deadline = self.since + period;
        match wait.closing.then(|| self.io.server.closing_deadline(self.io.id())).flatten() {
            Some(grace) => deadline.min(grace),
            None => deadline,
        }
    }

    /// Writes out the pending answers. False if the client is gone or does
    /// not read them within the I/O timeout.
    async fn flush(&mut self) -> bool {
        match self.flush_now() {
            Some(ok) => ok,
            None => self.flush_rest().await,
        }
    }

    /// Writes what the socket takes now: `Some(ok)` when that settled it
    /// (all written, or the write failed), `None` when the socket is full
    /// and the rest (left in `out`) must wait: [`flush_rest`](Self::flush_rest).
    /// Usually the socket takes it all at once, so this is all a request
    /// pays: `serve` calls it directly, not through an `async fn`.
    #[inline(always)]
    fn flush_now(&mut self) -> Option<bool> {
        let mut written = 0;
        while written < self.out.len() {
            match self.io.stream.try_write(&self.out[written..]) {
                Ok(0) => break,
                Ok(n) => written += n,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => {
                    log::debug!("{}: write failed: {error}", self.io.peer());
                    self.out.clear();
                    return Some(false);
                }
            }
        }
        if written == self.out.len() {
            self.out.clear();
            return Some(true);
        }
        // Rare (a slow reader): keep only what is left.
        self.out.drain(..written);
        None
    }

    /// Writes the rest of `out`, waiting for a slow reader. Boxed (allocated
    /// only when a socket is full): inline, its timer and write state would
    /// sit in every connection's future.
    async fn flush_rest(&mut self) -> bool {
        let ok = Box::pin(self.write_rest(0)).await;
        self.out.clear();
        ok
    }

    /// Writes `out[written..]`, waiting for room, within the I/O timeout.
    async fn write_rest(&self, written: usize) -> bool {
        let rest = conn_io::write_all(&self.io.stream, &self.out[written..]);
        match eddy::time::timeout(self.io.server.app.inner.limits.io_timeout, rest).await {
            Ok(Ok(())) => true,
            Ok(Err(error)) => {
                log::debug!("{}: write failed: {error}", self.io.peer());
                false
            }
            Err(_) => {
                log::debug!("{}: client did not read its response in time", self.io.peer());
                false
            }
        }
    }

    /// Sends a streamed body after its head (see `app/stream_body.rs`): polls
    /// the producer while the output holds less than `STREAM_HIGH_WATER`,
    /// writes the output out whenever it reaches that mark or the producer
    /// has nothing ready, and meanwhile watches the client (EOF or an
    /// error means it left) and the server (closing ends the stream after
    /// the current chunk, with the final chunk). `chunked`: frame chunks
    /// (HTTP/1.1), else send them raw (close-delimited, HTTP/1.0). Returns
    /// how it ended and how many body bytes it produced.
    async fn stream_body(&mut self, mut body: StreamBody, chunked: bool) -> (StreamEnd, u64) {
        let mut sent = 0u64;
        loop {
            if self.out.len() >= STREAM_HIGH_WATER && !self.flush().await {
                return (StreamEnd::Aborted, sent);
            }
            let (io, server, out) = (&self.io, &self.io.server, &mut self.out);
            let step = poll_fn(|cx| {
                if server.poll_closing_own(io, false, cx).is_ready() {
                    return Poll::Ready(Step::Closing);
                }
                let polled = panic::catch_unwind(AssertUnwindSafe(|| {
                    body.poll_chunk(cx, &mut |chunk| {
                        // An empty chunk would read as the last one.
                        if chunk.is_empty() {
                            return;
                        }
                        if chunked {
                            write_chunk_size(out, chunk.len());
                            out.extend_from_slice(chunk);
                            out.extend_from_slice(b"\r\n");
                        } else {
                            out.extend_from_slice(chunk);
                        }
                        sent += chunk.len() as u64;
                        note_buffered(out.len());
                    })
                }));
                match polled {
                    Ok(Poll::Ready(Some(Ok(())))) => Poll::Ready(Step::Chunk),
                    Ok(Poll::Ready(None)) => Poll::Ready(Step::End),
                    Ok(Poll::Ready(Some(Err(error)))) => Poll::Ready(Step::Failed(error.to_string())),
                    Err(_) => Poll::Ready(Step::Failed("the body stream panicked".to_owned())),
                    // Nothing ready: what is buffered goes out now.
                    Ok(Poll::Pending) if !out.is_empty() => Poll::Ready(Step::Flush),
                    Ok(Poll::Pending) => poll_client_gone(io, cx),
                }
            })
            .await;
            match step {
                Step::Chunk => {}
                Step::Flush => {
                    if !self.flush().await {
                        return (StreamEnd::Aborted, sent);
                    }
                }
                Step::End | Step::Closing => {
                    if chunked {
                        self.out.extend_from_slice(b"0\r\n\r\n");
                    }
                    let end =
                        if matches!(step, Step::End) { StreamEnd::Complete } else { StreamEnd::Closing };
                    if matches!(end, StreamEnd::Closing) {
                        log::debug!("{}: streamed response ended by the server closing", self.io.peer());
                    }
                    return (end, sent);
                }
                Step::Failed(why) => {
                    log::error!("{}: streamed response aborted: {why}", self.io.peer());
                    return (StreamEnd::Aborted, sent);
                }
                Step::ClientGone(why) => {
                    log::debug!("{}: client left during a streamed response: {why}", self.io.peer());
                    self.out.clear();
                    return (StreamEnd::Aborted, sent);
                }
            }
        }
    }

    /// Appends the answer to a refused request (which always closes).
    fn answer_rejection(&mut self, reject: &Reject) {
        log::debug!("{}: refused with {}: {reject:?}", self.io.peer(), reject.status());
        // A refused head is a request too, answered with its status.
        let stats = &self.io.server.stats;
        stats.request();
        stats.response(reject.status().as_u16());
        stats.refused(reject);
        // A 408 comes long after the last read; refusals are rare enough to
        // read the clock for each.
        self.io.server.app.refresh_common_lines();
        if self.out.capacity() == 0 {
            self.out = pool::take_write_buffer();
        }
        rejection(reject).write_to(
            &mut self.out,
            &WriteMeta {
                common: &self.io.server.app.common.borrow(),
                server: &self.io.server.app.inner.server_name,
                // No body for HEAD, whatever the status (RFC 9110 §9.3.2);
                // the refused request is still at the start of the input.
                head_only: crate::http::parse::announces_head(self.io.input.borrow().pending()),
                close: true,
                keep_alive_10: false,
                http10: false,
            },
        );
    }

    /// Flushes and closes. If bytes may still be in flight from the client
    /// (some are unread, or the caller says it may well still be sending:
    /// `linger`, after a refusal or when closing a connection the client
    /// did not ask to close), half-closes and lingers first, so those bytes
    /// do not turn the close into a reset that destroys the answer.
    ///
    /// In a recycled block: it runs once per connection, and held inline
    /// in the connection's future its state was the largest thing an idle
    /// connection kept room for.
    fn close(
        &mut self,
        reason: &'static str,
        linger: bool,
    ) -> Recycled<impl Future<Output = &'static str> + '_> {
        Recycled::new(self.close_now(reason, linger))
    }

    /// The body of [`close`](Self::close).
    async fn close_now(&mut self, reason: &'static str, linger: bool) -> &'static str {
        let flushed = self.flush().await;
        let unread = self.io.input.borrow().has_pending() || !self.io.body_done();
        if flushed && (unread || linger) {
            // The client may still be sending: half-close so it sees our
            // answer and EOF, and keep reading until it stops. Answered,
            // the connection no longer needs its slot under the cap.
            let _ = self.io.stream.shutdown_std(Shutdown::Write);
            self.io.server.release_early(self.io.id());
            Box::pin(self.linger()).await;
        }
        // Otherwise dropping the stream closes it: with nothing unread, the
        // kernel sends a FIN just as `shutdown` would, one syscall cheaper
        // (which counts when every request is a new connection).
        reason
    }

    async fn linger(&mut self) {
        let io = self.io.clone();
        let discard = async {
            let mut discarded = 0;
            while discarded < LINGER_BYTES {
                {
                    let mut input = io.input.borrow_mut();
                    let pending = input.pending().len();
                    discarded += pending;
                    input.consume(pending);
                }
                match poll_fn(|cx| io.poll_fill(cx)).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        };
        // Closing, the server is waiting: the grace bounds this too.
        let now = Instant::now();
        let mut until = now + LINGER_TIME;
        if let Some(grace) = self.io.server.closing_deadline(self.io.id()) {
            until = until.min(grace);
        }
        let _ = eddy::time::timeout(until.duration_since(now), discard).await;
    }

    /// Returns every pooled buffer the connection is not using.
    #[inline(always)]
    fn release_buffers(&mut self) {
        self.io.input.borrow_mut().release_if_drained();
        if self.out.is_empty() && self.out.capacity() > 0 {
            pool::give_write_buffer(std::mem::take(&mut self.out));
        }
        if let Some(scratch) = self.scratch.take() {
            pool::give_head(scratch);
        }
    }
}

/// How a streamed body ended.
enum StreamEnd {
    /// The producer finished; the connection may go on.
    Complete,
    /// The server is closing: ended with the final chunk, then close.
    Closing,
    /// The producer failed, or the client left or cannot be written to:
    /// close without the final chunk.
    Aborted,
}

/// One step of streaming a body.
enum Step {
    /// A chunk was appended to the output.
    Chunk,
    /// The producer has nothing ready: write out what is buffered.
    Flush,
    End,
    Closing,
    Failed(String),
    ClientGone(&'static str),
}

/// While a streamed body waits for its producer: reads what the client
/// sends (a pipelined request is kept for later) to notice it leaving, as
/// EOF or an error. Stops reading once the input buffer is full; a
/// vanished client then shows as a failed write.
fn poll_client_gone<S: Transport>(io: &ConnIo<S>, cx: &mut std::task::Context<'_>) -> Poll<Step> {
    loop {
        if io.input.borrow().is_full() {
            return Poll::Pending;
        }
        match io.poll_fill(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Ok(0)) => return Poll::Ready(Step::ClientGone("it closed the connection")),
            Poll::Ready(Ok(_)) => {}
            Poll::Ready(Err(_)) => return Poll::Ready(Step::ClientGone("read failed")),
        }
    }
}

/// Writes a chunk-size line: the length in hex and CRLF.
fn write_chunk_size(out: &mut Vec<u8>, mut len: usize) {
    let mut digits = [0u8; 16];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b"0123456789abcdef"[len & 0xf];
        len >>= 4;
        if len == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
    out.extend_from_slice(b"\r\n");
}

/// Where a request that waits for `100 Continue` stands (see
/// [`Later::Start`]).
enum Next {
    /// The handler's future, not polled yet.
    Handler(HandlerFuture),
    /// The answer, already settled, and whether to close after it.
    Answer(Response, bool),
}

/// How far [`Connection::start`] got.
enum Started {
    /// The answer is in its place; the request's `Meta`, and whether the
    /// connection must close after it.
    Answered(Meta, bool),
    /// Something must be waited for: go on from here.
    Later(Later),
}

/// How far [`Connection::answer_now`] got.
enum Answered {
    /// Answered; whether the connection must close.
    Now(bool),
    /// Something must be waited for: go on from here.
    Later(Later),
}

/// Where [`Connection::answer_later`] takes over.
enum Later {
    /// Nothing done yet but routing: `100-continue` wants a flush first.
    Start(Meta, Next),
    /// The handler was polled once and is not ready.
    Waiting(Meta, HandlerFuture),
    /// Answered into the output; a streamed body or an unread request
    /// body remains.
    Finish(Meta, Response, Concluded),
}

/// What [`Connection::poll_serve`] hands back to `serve`: what it cannot
/// do without waiting on something other than input.
enum Served {
    /// A request must wait (its handler, its body, `100-continue`): go on
    /// in `answer_later`. Boxed: as large as a request's state, which by
    /// value took room in every connection's future (idle memory measured
    /// 995 -> 1,058 bytes per connection); one allocation is small next
    /// to a request that waits.
    Later(Box<Later>),
    /// The socket is full: write the rest of the output, waiting for room.
    Flush,
    /// Close (lingering if `true`), for this reason.
    Close(&'static str, bool),
    /// The connection is over, for this reason.
    End(&'static str),
}

/// A wait for input (see [`Connection::poll_wait`]).
#[derive(Clone, Copy)]
struct Wait {
    /// Between requests: the connection may be reclaimed.
    idle: bool,
    /// Closing already: no need to listen for it.
    closing: bool,
}

/// How a response settled and written into the output stands (see
/// [`Connection::conclude`]).
struct Concluded {
    close: bool,
    /// More of the request body must be read and discarded after the answer.
    drain_later: bool,
    /// The response's body is streamed after its head.
    streaming: bool,
    /// Bytes of the answer already in the output.
    queued: u64,
}

/// A handler's answer, or the payload of its panic.
type HandlerOutcome = Result<Response, Box<dyn std::any::Any + Send>>;

/// Polls a handler's future once, catching a panic.
fn poll_handler(future: &mut HandlerFuture, cx: &mut std::task::Context<'_>) -> Poll<HandlerOutcome> {
    match panic::catch_unwind(AssertUnwindSafe(|| Pin::new(&mut *future).poll(cx))) {
        Ok(Poll::Pending) => Poll::Pending,
        Ok(Poll::Ready(response)) => Poll::Ready(Ok(response)),
        Err(payload) => Poll::Ready(Err(payload)),
    }
}

/// What answering a request still needs to know once its head is gone.
struct Meta {
    method: Method,
    close: bool,
    keep_alive_10: bool,
    /// HTTP/1.0: a streamed answer is close-delimited.
    http10: bool,
    /// The access-log request line, if access logging is on.
    access: Option<String>,
}

/// Records the route parameters the router left in `found.spans`,
/// percent-decoded (the spans are relative to the path, which is at `path`
/// in the target); a malformed escape or invalid UTF-8 is the client's
/// error. `escaped`: the target holds a `%` (the parser saw it in its
/// scan); without one, nearly always, nothing is looked at again.
#[inline(always)]
fn record_params(found: &mut TargetAndParams<'_>, path: Span, escaped: bool) -> Result<(), Reject> {
    // Without a `%`, nearly always, the router's spans are the
    // parameters (see `HeadStorage::params`).
    if !escaped {
        return Ok(());
    }
    let TargetAndParams { target, params, decoded, spans } = found;
    for raw in (0..spans.len).map_while(|index| spans.in_target(index, path)) {
        match percent::decode(&target[raw.range()], false) {
            Some(Cow::Borrowed(_)) => params.push((false, raw)),
            Some(Cow::Owned(text)) => {
                let at = decoded.len();
                decoded.push_str(&text);
                params.push((true, Span::of(at, decoded.len())));
            }
            None => return Err(Reject::BadRequest("route parameter with invalid percent-encoding or UTF-8")),
        }
    }
    Ok(())
}

/// The request line as the access log shows it.
#[cold]
fn access_line(head: &Head, target: &str) -> String {
    format!("\"{} {} {}\"", head.method, target, head.version.as_str())
}

/// Puts `answer` in its place; returns `close`.
#[inline(always)]
fn settle(place: &mut Poll<Response>, (response, close): (Response, bool)) -> bool {
    *place = Poll::Ready(response);
    close
}

/// The answer to a refusal and whether the connection must close after it.
fn refuse(reject: &Reject, client_asked_to_close: bool) -> (Response, bool) {
    (rejection(reject), client_asked_to_close || reject.closes_connection())
}

/// The response for a refusal.
fn rejection(reject: &Reject) -> Response {
    let response = Response::text(reject.body()).with_status(reject.status());
    match reject {
        Reject::MethodNotAllowed(allowed) => response.with_header("Allow", allow_header(*allowed)),
        _ => response,
    }
}
