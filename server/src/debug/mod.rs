//! The live page: a running server's loops, connections, tasks and recent
//! timeline, served by the server itself under a path of your choice.
//! Go's `/debug/pprof` and `expvar`, nginx's `stub_status`, HAProxy's stats
//! page, for eddy. Off by default; [`App::debug_page`](crate::App::debug_page)
//! turns it on.
//!
//! **It shows internals** (task names and spawn sites, socket descriptors,
//! request counts): when the server listens on anything but loopback, every
//! path below requires a token, `?token=T` or the header `X-Eddy-Token: T`,
//! and answers `401` without it. The token is the one given to
//! [`App::debug_page_token`](crate::App::debug_page_token), or, if none was,
//! one generated at startup and logged at `warn` with the page's full URL.
//! A server with an explicit token requires it on loopback too; one on
//! loopback or a Unix socket without one requires none (only local users
//! can reach it).
//!
//! # Paths (under the base, e.g. `/_eddy`)
//!
//! | path | what |
//! |---|---|
//! | *base* | the page: one self-contained HTML file (no external scripts) |
//! | `/stats.json` | per loop: ticks, polls, busy and parked ns, ready tasks, timers, sockets, tasks; the server: connections active / reading / writing / idle, accepted, handled, requests, responses by class and status, refusals by reason |
//! | `/tasks.json` | every loop's task dump: id, name, spawn site, state, polls, busy, since last poll, who holds its waker |
//! | `/timeline.json?ms=N` | each loop's last N ms (default 1,000, at most 10,000) of the flight recorder: polls, parks, wakes |
//! | `/trace.json` | the flight recorder as Chrome Trace Event JSON (a download; open in ui.perfetto.dev) |
//! | `/events` | server-sent events: `stats` every 500 ms, `timeline` and `tasks` every second, the first of each at once |
//!
//! Counters are cumulative since the server started, times are
//! nanoseconds, and every time in `timeline.json` is on one axis, ns since
//! the server started (the axis of `stats.json`'s `uptime_ns`). A loop's
//! figures lag it by at most 1 ms of its time while it runs, and are
//! current while it is parked (`eddy::LoopStats`).
//!
//! # What it costs
//!
//! Nobody watching: nothing. The loop and server counters are kept
//! anyway (a relaxed store per event, see `server/stats.rs` and
//! `eddy::LoopStats`), and nothing else runs until a request comes. Each
//! request does bounded work: a timeline holds at most
//! [`eddy::trace::MAX_WINDOW_POLLS`] polls per loop, read from the ring's
//! tail only. A request that needs a loop's own view (tasks, timeline,
//! trace) sends that loop a small task and waits for its answer, at most
//! [`ANSWER_TIMEOUT`]: a loop stuck in a poll shows as not answering rather
//! than hanging the page. `/events` runs one task per viewer, which ends
//! when the viewer leaves (its next send fails).

mod json;
mod token;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use eddy::time::Instant;
use eddy::Handle;

use crate::app::request::Request;
use crate::app::response::Response;
use crate::app::sse::{Event, Sse};
use crate::http::status::StatusCode;
use crate::server::stats::{LoopHttpStats, ServerStats};

pub(crate) use token::decide_token;

/// The page (written in `page/`, served as is).
const PAGE: &str = include_str!("page/index.html");

/// How long a request waits for one loop's answer (its task dump, its
/// timeline): a healthy loop answers between two polls, well within it; a
/// loop stuck in one poll is reported as not answering instead.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(1);

/// The timeline's default span and its cap, in ms: a second is what the
/// page scrolls through; ten bound what one request may ask for.
const DEFAULT_TIMELINE_MS: u64 = 1_000;
const MAX_TIMELINE_MS: u64 = 10_000;

/// How often `/events` sends `stats` (and `timeline` and `tasks`, every
/// other time): fast enough to look live, slow enough that one viewer
/// costs little. The timeline is most of a viewer's cost (a loaded loop's
/// is ~400 kB of JSON and ~2.5 ms of CPU, bounded by the window's 4,000
/// polls), so it goes once a second: at 500 ms one viewer cost ~5 ms of
/// CPU per second, +3.4-4.6 % per request on a lightly loaded server
/// (tests/browser/cost.py); the page scrolls smoothly either way.
const EVENT_PERIOD: Duration = Duration::from_millis(500);

/// The page's state, shared by its routes: created by `App::debug_page`,
/// completed when the server binds (it then knows its loops and address).
pub(crate) struct DebugPage {
    base: String,
    target: OnceLock<Target>,
}

/// What the routes read, known once the server is bound.
struct Target {
    loops: Vec<Handle>,
    stats: Vec<Arc<LoopHttpStats>>,
    /// Required on every request, if set.
    token: Option<String>,
    /// The server's start: zero of `uptime_ns` and of the timeline's axis.
    zero: Instant,
}

/// The routes, by what they serve.
#[derive(Clone, Copy, Debug)]
enum Route {
    Page,
    Stats,
    Tasks,
    Timeline,
    Trace,
    Events,
}

impl DebugPage {
    /// A page served under `base` (a trailing `/` is dropped).
    pub(crate) fn new(base: &str) -> DebugPage {
        DebugPage { base: base.trim_end_matches('/').to_string(), target: OnceLock::new() }
    }

    /// The routes to add: (pattern, route).
    fn patterns(&self) -> Vec<(String, Route)> {
        // The page answers with and without a trailing slash.
        let mut routes = vec![(format!("{}/", self.base), Route::Page)];
        if !self.base.is_empty() {
            routes.push((self.base.clone(), Route::Page));
        }
        for (path, route) in [
            ("/stats.json", Route::Stats),
            ("/tasks.json", Route::Tasks),
            ("/timeline.json", Route::Timeline),
            ("/trace.json", Route::Trace),
            ("/events", Route::Events),
        ] {
            routes.push((format!("{}{path}", self.base), route));
        }
        routes
    }

    /// Adds the page's routes to `app`.
    pub(crate) fn install(self: &Arc<Self>, mut app: crate::App) -> crate::App {
        for (pattern, route) in self.patterns() {
            let page = self.clone();
            app = app.get(&pattern, move |request: Request| {
                let page = page.clone();
                async move { page.serve(route, request).await }
            });
        }
        app
    }

    /// The server is bound: from now on the routes answer. `address` is
    /// where it listens (`None`: a Unix socket), for the token rule.
    pub(crate) fn start(
        &self,
        loops: Vec<Handle>,
        stats: Vec<Arc<LoopHttpStats>>,
        address: Option<std::net::SocketAddr>,
        explicit_token: Option<String>,
    ) {
        let token = decide_token(address, explicit_token.as_deref());
        if let (Some(token), Some(address), None) = (&token, address, &explicit_token) {
            log::warn!(
                target: "eddy_http::debug",
                "the live page shows the server's internals and {address} is not loopback: it needs a token. \
                 Open http://{address}{}?token={token}",
                if self.base.is_empty() { "/" } else { &self.base }
            );
        } else if let Some(address) = address {
            log::info!(target: "eddy_http::debug", "live page at http://{address}{}", self.base);
        }
        let _ = self.target.set(Target { loops, stats, token, zero: Instant::now() });
    }

    async fn serve(&self, route: Route, request: Request) -> Response {
        let Some(target) = self.target.get() else {
            return Response::text("503 Service Unavailable: the server is starting\n")
                .with_status(StatusCode::SERVICE_UNAVAILABLE);
        };
        if let Some(token) = &target.token {
            let given = request
                .query_param("token")
                .map(|value| value.into_owned())
                .or_else(|| request.header("x-eddy-token").map(str::to_owned));
            if !given.is_some_and(|given| token::matches(&given, token)) {
                return json_error(
                    StatusCode::UNAUTHORIZED,
                    "this page needs its token: add ?token=... (or the X-Eddy-Token header); \
                     it is logged at startup",
                );
            }
        }
        match route {
            Route::Page => Response::html(PAGE).with_header("Cache-Control", "no-store"),
            Route::Stats => json(target.stats_json()),
            Route::Tasks => json(target.tasks_json().await),
            Route::Timeline => {
                let ms = request.query_param("ms").and_then(|ms| ms.parse::<u64>().ok());
                json(target.timeline_json(timeline_span(ms)).await)
            }
            Route::Trace => match target.trace_json().await {
                Ok(trace) => {
                    json(trace).with_header("Content-Disposition", "attachment; filename=\"eddy-trace.json\"")
                }
                Err(error) => json_error(StatusCode::SERVICE_UNAVAILABLE, &error),
            },
            Route::Events => {
                let (mut events, sse) = Sse::channel();
                let target = target.clone_for_events();
                eddy::task::spawn_named_static("eddy-http live page events", async move {
                    let mut every = eddy::time::interval(EVENT_PERIOD);
                    for round in 0u64.. {
                        every.tick().await;
                        let mut batch = vec![Event::data(target.stats_json()).event("stats")];
                        if round % 2 == 0 {
                            batch.push(
                                Event::data(target.timeline_json(timeline_span(None)).await)
                                    .event("timeline"),
                            );
                            batch.push(Event::data(target.tasks_json().await).event("tasks"));
                        }
                        for event in &batch {
                            if events.send(event).await.is_err() {
                                return; // The viewer left: no more work.
                            }
                        }
                    }
                });
                Response::from(sse).with_header("Cache-Control", "no-store")
            }
        }
    }
}

/// The span `ms` asks for, defaulted and capped.
fn timeline_span(ms: Option<u64>) -> Duration {
    Duration::from_millis(ms.unwrap_or(DEFAULT_TIMELINE_MS).clamp(1, MAX_TIMELINE_MS))
}

fn json(body: String) -> Response {
    Response::bytes(body.into_bytes())
        .with_content_type("application/json")
        .with_header("Cache-Control", "no-store")
}

fn json_error(status: StatusCode, message: &str) -> Response {
    let mut body = String::from("{\"error\":");
    json::string(&mut body, &format!("{status}: {message}"));
    body.push('}');
    json(body).with_status(status)
}

impl Target {
    /// A copy for one `/events` viewer's task.
    fn clone_for_events(&self) -> Arc<Target> {
        Arc::new(Target {
            loops: self.loops.clone(),
            stats: self.stats.clone(),
            token: None,
            zero: self.zero,
        })
    }

    fn stats_json(&self) -> String {
        let loops: Vec<_> = self.loops.iter().map(Handle::loop_stats).enumerate().collect();
        let server = ServerStats::read(self.stats.iter().map(Arc::as_ref));
        let mut out = String::with_capacity(1024);
        json::stats(&mut out, self.zero.elapsed(), &loops, &server);
        out
    }

    async fn tasks_json(&self) -> String {
        let mut dumps = Vec::with_capacity(self.loops.len());
        for (index, handle) in self.loops.iter().enumerate() {
            let dump = eddy::time::timeout(ANSWER_TIMEOUT, handle.dump_async()).await;
            dumps.push((index, dump.unwrap_or_else(|_| unanswered(handle))));
        }
        let mut out =
            String::with_capacity(256 * dumps.iter().map(|(_, d)| d.tasks.len() + 1).sum::<usize>());
        json::tasks(&mut out, &dumps);
        out
    }

    async fn timeline_json(&self, span: Duration) -> String {
        let mut windows = Vec::with_capacity(self.loops.len());
        for (index, handle) in self.loops.iter().enumerate() {
            let asked = handle.spawn(async move { eddy::trace::window(span) });
            let window = match eddy::time::timeout(ANSWER_TIMEOUT, asked).await {
                Ok(Ok(window)) => window,
                _ => None,
            };
            windows.push((index, handle.loop_id(), window));
        }
        let polls: usize = windows.iter().filter_map(|(_, _, w)| w.as_ref()).map(|w| w.polls.len()).sum();
        // About 110 bytes per poll with its wake and park: sized once, so a
        // 400 kB document is not copied over as it grows.
        let mut out = String::with_capacity(256 + polls * 128);
        json::timeline(&mut out, self.zero, Instant::now(), span, &windows);
        out
    }

    async fn trace_json(&self) -> Result<String, String> {
        let mut snapshot = eddy::trace::Snapshot::default();
        for handle in &self.loops {
            let asked = handle.spawn(async { eddy::trace::snapshot() });
            match eddy::time::timeout(ANSWER_TIMEOUT, asked).await {
                Ok(Ok(Some(part))) => snapshot.merge(part),
                _ => {
                    return Err(format!("loop {} did not answer within {ANSWER_TIMEOUT:?}", handle.loop_id()))
                }
            }
        }
        Ok(snapshot.to_chrome_json())
    }
}

/// The dump of a loop that did not answer in time.
fn unanswered(handle: &Handle) -> eddy::debug::TaskDump {
    eddy::debug::TaskDump { loop_id: handle.loop_id(), answered: false, tasks: Vec::new() }
}
