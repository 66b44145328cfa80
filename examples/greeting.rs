//! The greeting server: `GET /` → `Hello, Anonymous!`, `GET /{name}` →
//! `Hello, {name}!`. The aiohttp program eddy is modelled on, in Rust.
//!
//! ```text
//! cargo run --release --example greeting -- --addr 127.0.0.1:8080 --workers 2
//! curl http://127.0.0.1:8080/          # Hello, Anonymous!
//! curl http://127.0.0.1:8080/Alice     # Hello, Alice!
//! RUST_LOG=info  cargo run --release --example greeting   # + an access log line per request
//! RUST_LOG=debug cargo run --release --example greeting   # + connection open/close
//! cargo run --release --example greeting -- --unix /tmp/greeting.sock
//! curl --unix-socket /tmp/greeting.sock http://x/Alice     # Hello, Alice!
//! cargo run --release --example greeting -- --trace greeting.json
//! cargo run --release --example greeting -- --debug-page  # + the live page
//! open http://127.0.0.1:8080/_eddy
//! ```
//!
//! `--trace PATH` writes the event loops' flight recorder (see `eddy::trace`)
//! to `PATH` as Chrome Trace Event JSON when the server shuts down: the
//! last ~65,000 events of each loop, to open in ui.perfetto.dev or
//! chrome://tracing. (The same as running with `EDDY_TRACE=PATH`.)
//!
//! `--debug-page` serves the live page at `/_eddy` (see `eddy_http::debug`):
//! the event loops at work, the connections, the task table and a
//! scrolling timeline of the flight recorder, updating live, with JSON
//! endpoints under `/_eddy/` for scripts. It shows internals: on an address
//! other than loopback it needs a token, which the server generates and
//! logs with the page's URL at startup.
//!
//! `--defer-accept` lets the kernel hand over a connection only once its
//! request has arrived (`Limits::defer_accept`; Linux only): each new
//! connection is then served in one turn of the loop, at the price of
//! silent clients being held by the kernel rather than timed by the server.
//!
//! Ctrl-C (or SIGTERM) shuts down gracefully: stop accepting, finish the
//! requests in flight, then exit.

use std::process::ExitCode;

use eddy_http::{App, Limits, Request, Response};

async fn handle(req: Request) -> Response {
    let name = req.param("name").unwrap_or("Anonymous");
    // `format!("Hello, {name}!")` would do, at ten times the cost: pieces
    // are copied, and a short body stays inside the response.
    Response::text_parts(&["Hello, ", name, "!"])
}

struct Options {
    addr: String,
    workers: usize,
    /// Serve on this Unix socket instead of `addr` (one loop).
    unix: Option<String>,
    /// Write the flight recorder's trace here at shutdown.
    trace: Option<String>,
    /// Serve the live page at `/_eddy`.
    debug_page: bool,
    /// Accept a connection only once its request is there
    /// (`Limits::defer_accept`, Linux's `TCP_DEFER_ACCEPT`).
    defer_accept: bool,
}

fn parse_args() -> Result<Options, String> {
    let mut options = Options {
        addr: "127.0.0.1:8080".to_string(),
        workers: 1,
        unix: None,
        trace: None,
        debug_page: false,
        defer_accept: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => options.addr = args.next().ok_or("--addr needs a value, e.g. 127.0.0.1:8080")?,
            "--workers" => {
                let value = args.next().ok_or("--workers needs a number")?;
                options.workers =
                    value.parse().map_err(|_| format!("--workers: {value:?} is not a number"))?;
            }
            "--unix" => options.unix = Some(args.next().ok_or("--unix needs a socket path")?),
            "--trace" => {
                options.trace = Some(args.next().ok_or("--trace needs a file path, e.g. greeting.json")?)
            }
            "--debug-page" => options.debug_page = true,
            "--defer-accept" => options.defer_accept = true,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(options)
}

fn main() -> ExitCode {
    // Library code only logs; the binary decides what is shown. By default:
    // the "listening on" line and anything worse than info.
    env_logger::Builder::from_env(
        env_logger::Env::default().default_filter_or("warn,eddy_http::server=info,eddy_http::debug=info"),
    )
    .init();
    let options = match parse_args() {
        Ok(options) => options,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("greeting: {message}");
            }
            eprintln!("usage: greeting [--addr HOST:PORT] [--workers N] [--unix PATH] [--trace PATH] [--debug-page] [--defer-accept]");
            return ExitCode::from(2);
        }
    };
    if let Some(path) = &options.trace {
        // The runtime reads EDDY_TRACE when it is built and writes the trace
        // there when it is dropped, after the graceful shutdown. Set here,
        // before any thread exists.
        std::env::set_var("EDDY_TRACE", path);
        eprintln!("greeting: the trace goes to {path} at shutdown (Ctrl-C)");
    }
    let mut app = App::new().get("/", handle).get("/{name}", handle);
    if options.defer_accept {
        app = app.limits(Limits { defer_accept: true, ..Limits::default() });
    }
    if options.debug_page {
        app = app.debug_page("/_eddy");
    }
    let served = match &options.unix {
        Some(path) => eddy_http::run_app_unix(app, path),
        None => eddy_http::run_app_with(app, options.addr.as_str(), options.workers),
    };
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("greeting: {error}");
            ExitCode::FAILURE
        }
    }
}
