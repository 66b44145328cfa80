//! The greeting server on tokio + hyper 1.x: the peer eddy is measured against.
//!
//! Written the way the hyper guides write a server, with the few settings a
//! benchmark of small pipelined responses needs (`pipeline_flush`, `TCP_NODELAY`),
//! and nothing hand-tuned beyond them, so it stands for "what a Rust user gets".
//!
//! ```text
//! hyper-greeting --addr 127.0.0.1:8080 --workers 1
//! ```
//!
//! SIGTERM or SIGINT ends the process with status 0 (see `exit_on_signal`),
//! so `bench/instr`'s callgrind and strace runs end with a normal exit.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ALLOW, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// Command-line settings, shared in spirit with every server in the harness.
struct Args {
    /// Where to listen, e.g. `127.0.0.1:8080` (port 0 picks a free one).
    addr: SocketAddr,
    /// Runtime threads: 1 means a `current_thread` runtime, more a `multi_thread` one.
    workers: usize,
}

impl Args {
    /// Parses `--addr ADDR --workers N`; both are optional.
    fn parse() -> Result<Args, String> {
        let mut args = Args { addr: SocketAddr::from(([127, 0, 0, 1], 8080)), workers: 1 };
        let mut it = std::env::args().skip(1);
        while let Some(flag) = it.next() {
            let value = it.next().ok_or(format!("{flag} needs a value"))?;
            match flag.as_str() {
                "--addr" => args.addr = value.parse().map_err(|e| format!("--addr: {e}"))?,
                "--workers" => {
                    args.workers = value.parse().map_err(|e| format!("--workers: {e}"))?;
                    if args.workers == 0 {
                        return Err("--workers must be at least 1".into());
                    }
                }
                _ => return Err(format!("unknown flag {flag}; usage: --addr ADDR --workers N")),
            }
        }
        Ok(args)
    }
}

/// `GET /` greets "Anonymous", `GET /{name}` greets `name` (one path segment,
/// not decoded); other paths are 404 and other methods 405, like aiohttp's router.
async fn greet(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut resp = Response::new(Full::new(Bytes::from_static(b"Method Not Allowed")));
        *resp.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
        resp.headers_mut().insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return Ok(resp);
    }
    let name = match req.uri().path().strip_prefix('/') {
        Some("") => "Anonymous",
        Some(name) if !name.contains('/') => name,
        _ => {
            let mut resp = Response::new(Full::new(Bytes::from_static(b"Not Found")));
            *resp.status_mut() = StatusCode::NOT_FOUND;
            return Ok(resp);
        }
    };
    let mut resp = Response::new(Full::new(Bytes::from(format!("Hello, {name}!"))));
    resp.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    Ok(resp)
}

/// Accepts forever, one task per connection.
async fn serve(addr: SocketAddr) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    // The harness waits for this line (and then for the port to accept).
    println!("listening on {}", listener.local_addr()?);
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Usually EMFILE: back off instead of spinning on the error.
                eprintln!("accept: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        // Small responses must leave at once, not wait for Nagle's timer.
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            // pipeline_flush: answer every pipelined request in the read buffer
            // before flushing, so a batch of 16 leaves in one write.
            let result = http1::Builder::new()
                .pipeline_flush(true)
                .serve_connection(TokioIo::new(stream), service_fn(greet))
                .await;
            // Resets and aborted connections are the client's business, not ours.
            drop(result);
        });
    }
}

/// Blocks SIGTERM and SIGINT in every thread and exits with status 0 when one
/// arrives, so profilers (callgrind, strace: `bench/instr`) see a normal exit
/// and write their totals. Call before any other thread exists: threads
/// inherit the mask.
fn exit_on_signal() -> std::io::Result<()> {
    // SAFETY: sigset_t is plain data; sigemptyset/sigaddset initialise it, and
    // pthread_sigmask/sigwait only read it. No Rust state is touched.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        std::thread::Builder::new().name("signals".into()).spawn(move || {
            let mut sig = 0;
            libc::sigwait(&set, &mut sig);
            std::process::exit(0);
        })?;
    }
    Ok(())
}

/// Builds the runtime the `--workers` flag asks for and serves on it.
fn main() {
    let args = match Args::parse() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("hyper-greeting: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = exit_on_signal() {
        eprintln!("hyper-greeting: signals: {e}");
        std::process::exit(1);
    }
    let runtime = if args.workers == 1 {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_multi_thread().worker_threads(args.workers).enable_all().build()
    };
    let result = runtime.and_then(|rt| rt.block_on(serve(args.addr)));
    if let Err(e) = result {
        eprintln!("hyper-greeting: {e}");
        std::process::exit(1);
    }
}
