//! # eddy-http: aiohttp in Rust clothes, on the eddy runtime
//!
//! ```no_run
//! use eddy_http::{App, Request, Response};
//!
//! async fn handle(req: Request) -> Response {
//!     let name = req.param("name").unwrap_or("Anonymous");
//!     Response::text(format!("Hello, {name}!"))
//! }
//!
//! fn main() -> std::io::Result<()> {
//!     let app = App::new().get("/", handle).get("/{name}", handle);
//!     eddy_http::run_app(app, "127.0.0.1:8080") // web.run_app
//! }
//! ```
//!
//! ## The pieces
//!
//! | piece | file |
//! |---|---|
//! | [`App`]: routes, hooks, limits | `app/application.rs`, `app/router.rs` |
//! | [`Request`], [`Body`], [`Response`] | `app/request.rs`, `app/body.rs`, `app/response.rs` |
//! | streamed bodies ([`Response::stream`], [`Response::channel`]), [`sse`] | `app/stream_body.rs`, `app/sse.rs` |
//! | one connection's read–parse–answer–write loop | `server/conn.rs`, `server/conn_io.rs` |
//! | request heads and their RFC 9112 checks | `http/parse.rs`, `http/chunked.rs` |
//! | [`Server`]: listeners per loop, graceful shutdown | `server/serve.rs`, `server/socket.rs` |
//! | [`run_app`]: serve until SIGINT/SIGTERM | `lib.rs`, `server/signal.rs` |
//!
//! ## What the server guarantees
//!
//! - HTTP/1.0 and 1.1, keep-alive, pipelining (all answers to one read go
//!   out in one write), `Content-Length` and chunked request bodies,
//!   `Expect: 100-continue`, HEAD.
//! - Streamed responses (chunked to HTTP/1.1, close-delimited to 1.0) hold
//!   at most [`STREAM_HIGH_WATER`] plus one chunk per connection however
//!   slowly the client reads; a client that leaves drops the producer, and
//!   a shutdown ends the stream with its final chunk.
//! - Every malformed or oversized request gets a real answer (400, 404,
//!   405, 408, 413, 414, 431, 501, 505, or 500 for a panicking handler) with
//!   `Connection: close`, and nothing after a refused request is parsed.
//! - Graceful shutdown loses no request that reached the server: clients
//!   already in the accept queue are accepted and answered, every
//!   connection makes a last read before it closes, the last answer says
//!   `Connection: close`, and the close is a lingering half-close, never a
//!   reset. Waits on slow clients are cut to a 1 s grace, so only handlers
//!   can hold the exit (up to `Limits::shutdown_timeout`).
//! - The connection cap is one budget for all loops; at the cap the
//!   connection idle the longest makes room for a new client.
//! - No allocation per request in the server itself: buffers come from a
//!   per-loop pool and idle connections hold none. (The handler's future is
//!   boxed, and the handler's own response is its own business.)
//!
//! Logging: `eddy_http::server` (info: listening, shutdown),
//! `eddy_http::access` (info: one line per request), and debug lines per
//! connection.

#![deny(missing_docs)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod app;
pub mod debug;
mod error;
mod http;
mod server;

#[doc(inline)]
pub use app::sse;

/// Wire-protocol internals for the `cargo fuzz` targets in `fuzz/`; not API.
#[doc(hidden)]
#[path = "fuzz_entry.rs"]
pub mod __fuzz;

use std::future::Future;
use std::io;
use std::net::ToSocketAddrs;
use std::path::Path;

pub use app::application::App;
pub use app::body::Body;
pub use app::handler::{Handler, HandlerFuture};
pub use app::request::Request;
pub use app::response::Response;
#[doc(hidden)]
pub use app::stream_body::max_buffered_while_streaming;
pub use app::stream_body::{BodyClosed, BodySender, Stream, CHANNEL_CAPACITY, STREAM_HIGH_WATER};
pub use error::BodyError;
pub use http::method::{Method, UnknownMethod};
pub use http::parse::Version;
pub use http::status::StatusCode;
pub use server::limits::Limits;
pub use server::serve::Server;
pub use server::stats::ServerStats;

/// Serves `app` on `addr` on one event loop until SIGINT or SIGTERM, then
/// shuts down gracefully. aiohttp's `web.run_app`.
///
/// ## Signals
///
/// The first SIGINT or SIGTERM starts the graceful shutdown described in
/// [`Server`]: requests already received are answered, then the cleanup
/// hooks run. A *second* signal during that shutdown exits the process at
/// once, with status `128 + signal`, **without running the cleanup hooks**.
/// That is deliberate: it is the convention users expect from a second
/// Ctrl-C (aiohttp, uvicorn, and most servers behave the same), and the only
/// way out of a shutdown stuck in a handler or in a cleanup hook itself (a
/// database that does not answer). The graceful path is already bounded
/// (`Limits::shutdown_timeout`), so a second signal is the operator saying
/// "now", and a hook that must run no matter what belongs to the process
/// supervisor, not to a path that the operator has just asked to skip.
///
/// The signals are taken with [`eddy::signal`] on the loop that runs
/// `run_app`, so an embedding program's other threads need not block them
/// (any thread may receive them). Its handlers are installed before the
/// server binds (a client that sees it listening may signal it) and stay
/// installed for the life of the process: after `run_app` returns, SIGINT
/// and SIGTERM no longer end the program by themselves. The second signal
/// is seen by that loop too, so a handler that blocks its thread (never
/// awaits) on the loop running `run_app` delays it.
///
/// # Errors
/// If the runtime cannot start, a startup hook fails, or the address
/// cannot be bound.
pub fn run_app(app: App, addr: impl ToSocketAddrs) -> io::Result<()> {
    run_app_with(app, addr, 1)
}

/// [`run_app`] with `workers` event loops, one per thread, each accepting
/// on its own `SO_REUSEPORT` listener.
///
/// # Errors
/// As [`run_app`].
pub fn run_app_with(app: App, addr: impl ToSocketAddrs, workers: usize) -> io::Result<()> {
    let runtime = eddy::Builder::new().workers(workers).thread_name("eddy-http").build()?;
    serve_until_signal(&runtime, Server::bind_on(runtime.handles(), addr, app))
}

/// [`run_app`] on a Unix domain socket created at `path` (see
/// [`Server::bind_unix`], which also says why one loop serves it); the
/// socket file is removed at shutdown.
///
/// # Errors
/// As [`run_app`]; an existing `path` is an error (`AddrInUse`, naming it).
pub fn run_app_unix(app: App, path: impl AsRef<Path>) -> io::Result<()> {
    let runtime = eddy::Builder::new().thread_name("eddy-http").build()?;
    serve_until_signal(&runtime, Server::bind_unix(path, app))
}

/// Listens for the shutdown signals, starts the server with `bind`, and
/// shuts it down at the first signal (see [`run_app`]).
fn serve_until_signal(
    runtime: &eddy::Runtime,
    bind: impl Future<Output = io::Result<Server>>,
) -> io::Result<()> {
    runtime.block_on(async {
        let signals = server::signal::ShutdownSignals::listen()?;
        let server = bind.await?;
        signals.first().await;
        server.shutdown().await
    })
}
