//! The "tokio + httparse loop" peer: one task per connection that reads,
//! parses every complete request head in the buffer with `httparse`, and
//! answers them all with one write of fixed greeting responses.
//!
//! It is what a server costs on tokio when nothing sits between the socket and
//! the parser: no router, no request object, no handler future, no body
//! handling (a request with a body is answered as if it had none). It stands
//! between the floor (`peers/floor`, raw epoll) and hyper in the tables, and
//! shows how much of a full server's cost is the runtime.
//!
//! The response matches eddy's greeting for `GET /bench` byte for byte except
//! `Server: tokio-httparse`, with a `Date` line formatted at most once a second.
//!
//! ```text
//! tokio-httparse --addr 127.0.0.1:8080 --workers 1
//! ```
//!
//! SIGTERM or SIGINT ends the process with status 0 (see `exit_on_signal`).

use std::cell::RefCell;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Most headers a request may carry; more is a parse error (the connection closes).
const MAX_HEADERS: usize = 32;
/// Read buffer: one wrk batch of 16 pipelined requests is ~1 KiB.
const READ_CHUNK: usize = 4096;
/// A head that does not fit this many bytes is refused (the connection closes).
const MAX_HEAD: usize = 64 * 1024;
const BODY: &str = "Hello, bench!";

/// Command-line settings, as every server in the harness takes them.
struct Args {
    addr: SocketAddr,
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

/// The two fixed responses for the current second, per thread.
struct Responses {
    second: u64,
    keep_alive: Vec<u8>,
    close: Vec<u8>,
}

thread_local! {
    static RESPONSES: RefCell<Responses> =
        const { RefCell::new(Responses { second: u64::MAX, keep_alive: Vec::new(), close: Vec::new() }) };
}

impl Responses {
    /// Re-formats both responses when the second has changed.
    fn refresh(&mut self) {
        let now = SystemTime::now();
        let second = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if second == self.second {
            return;
        }
        let date = httpdate::fmt_http_date(now);
        let head = |extra: &str| {
            format!(
                "HTTP/1.1 200 OK\r\nServer: tokio-httparse\r\nDate: {date}\r\n\
                 Content-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n{extra}\r\n{BODY}",
                BODY.len()
            )
            .into_bytes()
        };
        self.keep_alive = head("");
        self.close = head("Connection: close\r\n");
        self.second = second;
    }
}

/// Serves one connection until the peer closes, asks to close, or sends garbage.
async fn serve(mut stream: TcpStream) -> std::io::Result<()> {
    let mut buf: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    let mut out: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    loop {
        if buf.len() == buf.capacity() {
            if buf.len() >= MAX_HEAD {
                return Ok(());
            }
            buf.reserve(READ_CHUNK);
        }
        if stream.read_buf(&mut buf).await? == 0 {
            return Ok(());
        }
        let mut used = 0;
        let mut close = false;
        RESPONSES.with_borrow_mut(|responses| {
            responses.refresh();
            while !close {
                let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
                let mut req = httparse::Request::new(&mut headers);
                match req.parse(&buf[used..]) {
                    Ok(httparse::Status::Complete(len)) => {
                        used += len;
                        close = req.headers.iter().any(|h| {
                            h.name.eq_ignore_ascii_case("connection")
                                && h.value.eq_ignore_ascii_case(b"close")
                        });
                        let response = if close { &responses.close } else { &responses.keep_alive };
                        out.extend_from_slice(response);
                    }
                    Ok(httparse::Status::Partial) => break,
                    Err(_) => {
                        close = true;
                        used = buf.len();
                    }
                }
            }
        });
        buf.drain(..used);
        if !out.is_empty() {
            stream.write_all(&out).await?;
            out.clear();
        }
        if close {
            return Ok(());
        }
    }
}

/// Accepts forever, one task per connection.
async fn accept_loop(addr: SocketAddr) -> std::io::Result<()> {
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
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            // Resets are the client's business, not ours.
            drop(serve(stream).await);
        });
    }
}

/// Blocks SIGTERM and SIGINT in every thread and exits with status 0 when one
/// arrives, so profilers (callgrind, strace) see a normal exit and write their
/// totals. Call before any other thread exists: threads inherit the mask.
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

fn main() {
    let args = match Args::parse() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("tokio-httparse: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = exit_on_signal() {
        eprintln!("tokio-httparse: signals: {e}");
        std::process::exit(1);
    }
    let runtime = if args.workers == 1 {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_multi_thread().worker_threads(args.workers).enable_all().build()
    };
    if let Err(e) = runtime.and_then(|rt| rt.block_on(accept_loop(args.addr))) {
        eprintln!("tokio-httparse: {e}");
        std::process::exit(1);
    }
}
