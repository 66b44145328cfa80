//! Server statistics: connections accepted and closed, requests, responses
//! by status, refusals by reason, and the connections reading, writing and
//! idle right now. nginx's `stub_status` and HAProxy's stats, for eddy-http;
//! [`Server::stats`](crate::Server::stats) reads them and the live page
//! (`App::debug_page`) shows them.
//!
//! # How it is built, and what it costs
//!
//! Each serving loop owns one [`LoopHttpStats`] block (aligned to its own
//! cache lines), and only that loop's connections write it. So an event
//! costs one relaxed load and one relaxed store on memory no other core
//! writes: no locked instruction, no contention, no false sharing. A reader
//! (any thread) sums the blocks. Per request that is three such adds
//! (request, status, and the idle gauge going up and down around a
//! keep-alive wait: the "idle" add and its undo count as one each way);
//! per connection two (accepted, closed).
//!
//! Gauges that would cost a write per state change are derived instead:
//! *active* is accepted − closed, *writing* (a request being handled or its
//! answer streamed) is requests − responses, *reading* is what remains
//! (connections waiting for, or reading, a request head). Only *idle*
//! (waiting between requests) is counted, by the connection as it starts
//! and ends its keep-alive wait. Each figure is read on its own, relaxed:
//! exact per figure, and the derived ones may be off by the few events in
//! flight while they are read (they are clamped at zero).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::error::Reject;

/// Status codes counted one by one: 100 to 999, every code a response may
/// carry (`StatusCode` allows exactly these).
const STATUS_CODES: usize = 900;

/// The refusals the server tells apart: a request it would not (or could
/// not) take, answered with an error status and a closed connection. Names
/// are the `refused` keys of the live page's JSON.
pub(crate) const REFUSALS: [&str; 8] = [
    "bad_request",
    "uri_too_long",
    "header_too_large",
    "body_too_large",
    "timeout",
    "expectation_failed",
    "not_implemented",
    "version_not_supported",
];

/// One loop's counters (see the module docs). Written by its own loop only.
#[repr(align(128))]
pub(crate) struct LoopHttpStats {
    accepted: AtomicU64,
    closed: AtomicU64,
    requests: AtomicU64,
    idle: AtomicU64,
    /// Idle connections closed to make room at the connection cap.
    reclaimed: AtomicU64,
    refused: [AtomicU64; REFUSALS.len()],
    /// Responses by status code, from 100.
    status: [AtomicU64; STATUS_CODES],
}

impl Default for LoopHttpStats {
    fn default() -> LoopHttpStats {
        LoopHttpStats {
            accepted: AtomicU64::new(0),
            closed: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            idle: AtomicU64::new(0),
            reclaimed: AtomicU64::new(0),
            refused: std::array::from_fn(|_| AtomicU64::new(0)),
            status: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

/// Adds one to a counter only this loop writes: a load and a store.
#[inline(always)]
fn add(counter: &AtomicU64, by: u64) {
    counter.store(counter.load(Relaxed).wrapping_add(by), Relaxed);
}

impl LoopHttpStats {
    /// A connection was accepted (and is being served).
    #[inline]
    pub(crate) fn accepted(&self) {
        add(&self.accepted, 1);
    }

    /// A connection ended.
    #[inline]
    pub(crate) fn closed(&self) {
        add(&self.closed, 1);
    }

    /// A request head arrived (or was refused).
    #[inline]
    pub(crate) fn request(&self) {
        add(&self.requests, 1);
    }

    /// A response with `status` went into the output.
    #[inline]
    pub(crate) fn response(&self, status: u16) {
        if let Some(counter) = self.status.get(usize::from(status).wrapping_sub(100)) {
            add(counter, 1);
        }
    }

    /// A connection started (`true`) or ended (`false`) a keep-alive wait.
    #[inline]
    pub(crate) fn idle(&self, idle: bool) {
        add(&self.idle, if idle { 1 } else { u64::MAX });
    }

    /// An idle connection was closed to make room at the cap.
    pub(crate) fn reclaimed(&self) {
        add(&self.reclaimed, 1);
    }

    /// A request was refused for `reject` (only refusals that close the
    /// connection are counted: routing misses are ordinary answers).
    #[cold]
    pub(crate) fn refused(&self, reject: &Reject) {
        let reason = match reject {
            Reject::BadRequest(_) => 0,
            Reject::UriTooLong => 1,
            Reject::HeaderFieldsTooLarge(_) => 2,
            Reject::PayloadTooLarge => 3,
            Reject::RequestTimeout => 4,
            Reject::ExpectationFailed => 5,
            Reject::NotImplemented(_) => 6,
            Reject::VersionNotSupported => 7,
            Reject::NotFound | Reject::MethodNotAllowed(_) | Reject::HandlerPanicked => return,
        };
        add(&self.refused[reason], 1);
    }
}

/// A server's statistics, summed over its loops: see
/// [`Server::stats`](crate::Server::stats). Counters are cumulative since
/// the server started; gauges are as of the read.
///
/// ```
/// use eddy_http::{App, Response, Server};
///
/// eddy::run(async {
///     let app = App::new().get("/", |_req| async { Response::text("hi") });
///     let server = Server::bind("127.0.0.1:0", app).await?;
///     let stats = server.stats();
///     assert_eq!((stats.accepted, stats.requests), (0, 0));
///     server.shutdown().await
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerStats {
    /// Connections open now (accepted − handled).
    pub active: u64,
    /// Open connections waiting for, or reading, a request head.
    pub reading: u64,
    /// Open connections whose request is being handled or answered
    /// (requests − responses).
    pub writing: u64,
    /// Open connections idle between two requests (keep-alive).
    pub idle: u64,
    /// Connections accepted so far.
    pub accepted: u64,
    /// Connections closed so far (nginx's "handled" is the same count for
    /// a server that never refuses a connection outright, as eddy-http
    /// does not: at its cap it makes room instead).
    pub handled: u64,
    /// Requests so far (refused ones included).
    pub requests: u64,
    /// Idle connections closed to make room at the connection cap.
    pub reclaimed: u64,
    /// Responses so far, by status code (codes never sent are left out),
    /// ascending.
    pub status: Vec<(u16, u64)>,
    /// Refusals so far, by reason (every reason the server tells apart,
    /// zero or not): `bad_request`, `uri_too_long`, `header_too_large`,
    /// `body_too_large`, `timeout`, `expectation_failed`,
    /// `not_implemented`, `version_not_supported`.
    pub refused: Vec<(&'static str, u64)>,
}

impl ServerStats {
    /// Sums the loops' blocks.
    pub(crate) fn read<'a>(loops: impl IntoIterator<Item = &'a LoopHttpStats>) -> ServerStats {
        let mut status = [0u64; STATUS_CODES];
        let mut refused = [0u64; REFUSALS.len()];
        let (mut accepted, mut closed, mut requests, mut idle, mut reclaimed) =
            (0u64, 0u64, 0u64, 0u64, 0u64);
        for stats in loops {
            accepted += stats.accepted.load(Relaxed);
            closed += stats.closed.load(Relaxed);
            requests += stats.requests.load(Relaxed);
            idle = idle.wrapping_add(stats.idle.load(Relaxed));
            reclaimed += stats.reclaimed.load(Relaxed);
            for (sum, counter) in status.iter_mut().zip(&stats.status) {
                *sum += counter.load(Relaxed);
            }
            for (sum, counter) in refused.iter_mut().zip(&stats.refused) {
                *sum += counter.load(Relaxed);
            }
        }
        let responses: u64 = status.iter().sum();
        let active = accepted.saturating_sub(closed);
        // Each loop's idle count is never below zero (a connection counts
        // itself idle before it counts itself busy again, on one thread);
        // the clamps keep the derived gauges consistent with `active`.
        let idle = if idle > u64::MAX / 2 { 0 } else { idle.min(active) };
        let writing = requests.saturating_sub(responses).min(active - idle);
        ServerStats {
            active,
            reading: active - idle - writing,
            writing,
            idle,
            accepted,
            handled: closed,
            requests,
            reclaimed,
            status: (100u16..).zip(status).filter(|&(_, count)| count > 0).collect(),
            refused: REFUSALS.iter().copied().zip(refused).collect(),
        }
    }

    /// Responses so far whose status is in class `class` (1 for 1xx, ...
    /// 5 for 5xx).
    pub fn responses_of_class(&self, class: u16) -> u64 {
        self.status.iter().filter(|(code, _)| code / 100 == class).map(|(_, count)| count).sum()
    }

    /// Responses so far.
    pub fn responses(&self) -> u64 {
        self.status.iter().map(|(_, count)| count).sum()
    }
}
