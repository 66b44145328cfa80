//! A seeded, reproducible request-stream fuzzer against a real server, with
//! an independent strict model of RFC 9112 framing (`fuzz_model/mod.rs`) as
//! its oracle.
//!
//! Each case is a stream of requests from `fuzz_model/generate.rs` (mostly
//! well-formed, some with one rule broken, some byte-mutated), sent on a new
//! connection in randomly cut writes, then half-closed; the server's whole
//! answer is read until it closes. Every request has its own target, and the
//! app echoes method, target and a digest of the body in an `X-Echo` header
//! (and the body), so each answer names the request it answers. The server
//! must:
//!
//! - never answer more requests than the model reads from the stream, and
//!   never answer (with its handler) a request the model did not read, such
//!   as one inside a body or after a refused request;
//! - give the handler exactly the body the model reads;
//! - answer the one request the model cannot read, if at all, with a
//!   refusal (4xx/5xx);
//! - close after a request that says so, and after every refusal;
//! - send only well-formed responses: status line, `Date`, exactly one
//!   `Content-Length` that frames the body, no body for HEAD;
//! - never crash, and never hang: the client gives up after [`PATIENCE`],
//!   longer than every server timeout here;
//! - answer every request of a clean case (no rule broken) with its handler.
//!
//! `EDDY_FUZZ_CASES=n` runs n cases (default [`DEFAULT_CASES`]);
//! `EDDY_FUZZ_BASE=s` draws them from another base seed; a failure prints
//! the case's seed, its bytes and what went wrong, and `EDDY_FUZZ_SEED=seed`
//! replays that one case.

mod fuzz_model;
#[path = "fuzz_model/generate.rs"]
mod generate;
mod http_support;

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use eddy_http::{App, Limits, Method, Request, Response};
use fuzz_model::{End, Stream};
use http_support::TestServer;

/// Cases per `cargo test` run.
const DEFAULT_CASES: u64 = 20_000;

/// The base seed of the default run: fixed, so every run is the same.
const BASE_SEED: u64 = 0xedd1_f022_0000_0001;

/// Client threads sending cases at once: enough to keep one server loop
/// busy while each waits for its answer.
const THREADS: u64 = 4;

/// How long a client waits for the server; longer than every server
/// timeout below, so only a hang reaches it.
const PATIENCE: Duration = Duration::from_secs(10);

/// The server's time limits, short so that a wait that should not happen
/// shows as a hang quickly.
fn limits() -> Limits {
    Limits {
        head_timeout: Duration::from_secs(2),
        io_timeout: Duration::from_secs(2),
        keep_alive: Duration::from_secs(3),
        ..Limits::default()
    }
}

/// FNV-1a, a digest of a body for the echo.
fn digest(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| (hash ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

/// What the echo says for a request with this method, target and body.
fn echo_of(method: &[u8], target: &[u8], body: &[u8]) -> Vec<u8> {
    let mut echo = Vec::new();
    echo.extend_from_slice(method);
    echo.push(b' ');
    echo.extend_from_slice(target);
    echo.extend_from_slice(format!(" {} {:016x}", body.len(), digest(body)).as_bytes());
    echo
}

async fn echo(mut req: Request) -> Response {
    let method = req.method();
    let target = req.target().to_string();
    match req.bytes().await {
        Ok(body) => {
            let echo = String::from_utf8(echo_of(method.as_str().as_bytes(), target.as_bytes(), &body))
                .expect("method and target are text");
            Response::text(echo.clone()).with_header("X-Echo", echo)
        }
        Err(error) => error.into(),
    }
}

fn app() -> App {
    let mut app = App::new().limits(limits());
    for method in [Method::Get, Method::Post, Method::Put, Method::Delete, Method::Patch, Method::Options] {
        app = app.route(method, "/", echo).route(method, "/{name}", echo);
    }
    app
}

/// One response as received.
#[derive(Debug)]
struct Answer {
    status: u16,
    close: bool,
    echo: Option<Vec<u8>>,
}

/// Counts across a run, to show the fuzzer reaches deep.
#[derive(Default)]
struct Stats {
    cases: AtomicU64,
    clean_cases: AtomicU64,
    model_requests: AtomicU64,
    echoed: AtomicU64,
    refused: AtomicU64,
    invalid_ends: AtomicU64,
}

#[test]
fn the_server_never_reads_more_than_the_strict_model_and_answers_well_formed() {
    let env = |name: &str| {
        std::env::var(name).ok().map(|v| {
            let v = v.trim();
            let parsed = match v.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => v.parse(),
            };
            parsed.unwrap_or_else(|_| panic!("{name}={v} is not a number"))
        })
    };
    let server = TestServer::start(app());
    let addr = server.addr();
    let started = Instant::now();
    let stats = Arc::new(Stats::default());
    if let Some(seed) = env("EDDY_FUZZ_SEED") {
        if let Err(failure) = run_case(addr, seed, &stats) {
            panic!("{failure}");
        }
        eprintln!("case {seed:#018x} passed");
        return;
    }
    let cases = env("EDDY_FUZZ_CASES").unwrap_or(DEFAULT_CASES);
    let base = env("EDDY_FUZZ_BASE").unwrap_or(BASE_SEED);
    let failed = Arc::new(AtomicBool::new(false));
    let failure = Arc::new(Mutex::new(None));
    let threads: Vec<_> = (0..THREADS)
        .map(|thread| {
            let (stats, failed, failure) = (stats.clone(), failed.clone(), failure.clone());
            std::thread::spawn(move || {
                let mut n = thread;
                while n < cases && !failed.load(Ordering::Relaxed) {
                    let seed = generate::Rng::new(base ^ n).next();
                    if let Err(message) = run_case(addr, seed, &stats) {
                        failed.store(true, Ordering::Relaxed);
                        failure.lock().unwrap().get_or_insert(message);
                    }
                    n += THREADS;
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("a fuzz client thread panicked");
    }
    if let Some(message) = failure.lock().unwrap().take() {
        panic!("{message}");
    }
    let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
    eprintln!(
        "{} cases ({} clean) in {:.1?}: the model read {} requests, the handler answered {}, \
         the server refused {}; {} streams ended in invalid framing",
        load(&stats.cases),
        load(&stats.clean_cases),
        started.elapsed(),
        load(&stats.model_requests),
        load(&stats.echoed),
        load(&stats.refused),
        load(&stats.invalid_ends),
    );
    // Not vacuous: most requests get through to the handler, and many
    // streams are refused.
    assert_eq!(load(&stats.cases), cases);
    assert!(load(&stats.echoed) * 2 > load(&stats.model_requests), "too few requests reached the handler");
    assert!(load(&stats.invalid_ends) * 10 > cases, "too few invalid streams");
    server.shutdown().expect("graceful shutdown after the fuzz run");
}

/// Runs one case; `Err` is the whole failure report.
fn run_case(addr: SocketAddr, seed: u64, stats: &Stats) -> Result<(), String> {
    let case = generate::generate(seed, seed & 0xffff_ffff);
    let model = fuzz_model::read_stream(&case.bytes);
    // Half of the clean cases keep the connection open and wait for every
    // answer, as a real client does: a server that answered only on EOF
    // would pass the half-closed cases and hang this one.
    let wait_for = (case.clean && seed & 1 == 0).then_some(&model);
    let received =
        exchange(addr, &case, wait_for).map_err(|error| report(seed, &case, &model, &[], &error))?;
    let answers =
        check(&case, &model, &received).map_err(|error| report(seed, &case, &model, &received, &error))?;
    stats.cases.fetch_add(1, Ordering::Relaxed);
    stats.clean_cases.fetch_add(u64::from(case.clean), Ordering::Relaxed);
    stats.model_requests.fetch_add(model.requests.len() as u64, Ordering::Relaxed);
    stats.echoed.fetch_add(answers.iter().filter(|a| a.echo.is_some()).count() as u64, Ordering::Relaxed);
    stats.refused.fetch_add(answers.iter().filter(|a| a.status >= 400).count() as u64, Ordering::Relaxed);
    stats.invalid_ends.fetch_add(u64::from(matches!(model.end, End::Invalid(_))), Ordering::Relaxed);
    Ok(())
}

/// Sends the case in its writes, half-closes, and reads until the server
/// closes; or, with `wait_for`, keeps the connection open and reads until
/// every request the model reads is answered (or the server closes).
fn exchange(addr: SocketAddr, case: &generate::Case, wait_for: Option<&Stream>) -> Result<Vec<u8>, String> {
    let mut stream = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    stream.set_read_timeout(Some(PATIENCE)).map_err(|e| e.to_string())?;
    stream.set_write_timeout(Some(PATIENCE)).map_err(|e| e.to_string())?;
    let mut from = 0;
    for &cut in case.cuts.iter().chain(std::iter::once(&case.bytes.len())) {
        // The server may refuse and close before it has everything.
        if stream.write_all(&case.bytes[from..cut]).is_err() {
            break;
        }
        from = cut;
    }
    if wait_for.is_none() {
        let _ = stream.shutdown(Shutdown::Write);
    }
    let mut received = Vec::new();
    let mut buf = [0; 16 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Ok(received),
            Ok(n) => {
                received.extend_from_slice(&buf[..n]);
                if let Some(model) = wait_for {
                    let head_only =
                        |j: usize| model.requests.get(j).is_some_and(|r| r.head.method == b"HEAD");
                    match parse_answers(&received, head_only) {
                        Ok(answers) if answers.len() >= model.requests.len() => return Ok(received),
                        _ => {}
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return Ok(received),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                return Err(format!(
                    "the server neither answered nor closed within {PATIENCE:?}; got {:?}",
                    String::from_utf8_lossy(&received)
                ))
            }
            Err(e) => return Err(format!("read: {e}")),
        }
    }
}

/// The oracle: checks the answers against the model's reading.
fn check(case: &generate::Case, model: &Stream, received: &[u8]) -> Result<Vec<Answer>, String> {
    let n = model.requests.len();
    let head_only = |j: usize| match model.requests.get(j) {
        Some(request) => request.head.method == b"HEAD",
        None => j == n && model.last_is_head,
    };
    let answers = parse_answers(received, head_only)?;
    for (j, answer) in answers.iter().enumerate() {
        let is_last = j + 1 == answers.len();
        match model.requests.get(j) {
            Some(request) => {
                if let Some(echo) = &answer.echo {
                    let expected = echo_of(&request.head.method, &request.head.target, &request.body);
                    if *echo != expected {
                        return Err(format!(
                            "answer {j} is for {:?}, the model's request {j} is {:?}",
                            String::from_utf8_lossy(echo),
                            String::from_utf8_lossy(&expected)
                        ));
                    }
                } else if answer.status < 400 && request.head.target != b"*" {
                    return Err(format!(
                        "answer {j} ({}) is neither the handler's nor a refusal",
                        answer.status
                    ));
                }
                if request.head.closes && !(answer.close && is_last) {
                    return Err(format!(
                        "request {j} closes the connection; its answer does not, or is not last"
                    ));
                }
            }
            None if j == n && matches!(model.end, End::Partial | End::Invalid(_)) => {
                // The server answers `OPTIONS *` itself, without reading
                // the body (and may send that answer before it finds the
                // body cut short or malformed): fine if the head is valid
                // and nothing follows.
                let answered_by_server = model.last_head.as_ref().is_some_and(|head| head.target == b"*")
                    && answer.status == 200
                    && is_last;
                if answer.echo.is_some() || (answer.status < 400 && !answered_by_server) {
                    return Err(format!(
                        "answer {j} ({}) accepts a request the model reads as {:?}",
                        answer.status, model.end
                    ));
                }
            }
            None => {
                return Err(format!("{} answers for the {n} requests the model reads", answers.len()));
            }
        }
        if answer.status >= 400 && answer.status != 404 && answer.status != 405 && !answer.close {
            return Err(format!("refusal {j} ({}) keeps the connection open", answer.status));
        }
        if answer.close && !is_last {
            return Err(format!("answer {j} says Connection: close and is not the last"));
        }
    }
    if case.clean {
        let all_handled = answers.len() == n
            && answers.iter().zip(&model.requests).all(|(a, r)| a.echo.is_some() || r.head.target == b"*");
        if !all_handled || !matches!(model.end, End::Clean | End::Closed) {
            return Err(format!("a clean case: every request must be answered by its handler; {answers:?}"));
        }
    }
    Ok(answers)
}

/// Parses every response in `bytes` strictly; `head_only(j)`: whether
/// answer `j` answers a HEAD request (and so has no body).
fn parse_answers(bytes: &[u8], head_only: impl Fn(usize) -> bool) -> Result<Vec<Answer>, String> {
    let mut answers = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let rest = &bytes[at..];
        let head_end = rest
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or_else(|| format!("a response head cut short at byte {at}"))?
            + 4;
        // Each line with its CRLF (the final empty line left out); the
        // split leaves one empty piece after the last LF.
        let mut lines = rest[..head_end - 2].split(|&b| b == b'\n');
        lines.next_back();
        let status_line = lines.next().unwrap_or_default();
        let status_line = status_line.strip_suffix(b"\r").ok_or("status line without CRLF")?;
        let status = match status_line {
            [b'H', b'T', b'T', b'P', b'/', b'1', b'.', b'1', b' ', d1, d2, d3, b' ', reason @ ..]
                if [d1, d2, d3].iter().all(|d| d.is_ascii_digit())
                    && !reason.is_empty()
                    && reason.iter().all(|&b| (b' '..=b'~').contains(&b)) =>
            {
                u16::from(d1 - b'0') * 100 + u16::from(d2 - b'0') * 10 + u16::from(d3 - b'0')
            }
            _ => return Err(format!("malformed status line {:?}", String::from_utf8_lossy(status_line))),
        };
        let mut fields = Vec::new();
        for line in lines {
            let line = line.strip_suffix(b"\r").ok_or("header line without CRLF")?;
            let colon = line.iter().position(|&b| b == b':').ok_or("header line without a colon")?;
            let (name, value) = (&line[..colon], &line[colon + 1..]);
            let value = value.strip_prefix(b" ").ok_or("header value not after \": \"")?;
            if name.is_empty() || !name.iter().all(|&b| fuzz_model::is_tchar(b)) {
                return Err(format!("bad header name {:?}", String::from_utf8_lossy(name)));
            }
            if value.iter().any(|&b| (b < b' ' && b != b'\t') || b == 0x7f) {
                return Err(format!("control character in header {:?}", String::from_utf8_lossy(name)));
            }
            fields.push((name.to_ascii_lowercase(), value.to_vec()));
        }
        let all =
            |wanted: &[u8]| fields.iter().filter(|(n, _)| n == wanted).map(|(_, v)| v).collect::<Vec<_>>();
        if status < 200 {
            if status != 100 || !fields.is_empty() {
                return Err(format!("unexpected interim response {status}"));
            }
            at += head_end;
            continue;
        }
        if all(b"date").len() != 1 || !all(b"transfer-encoding").is_empty() {
            return Err(format!(
                "answer {} ({status}): not exactly one Date, or a Transfer-Encoding",
                answers.len()
            ));
        }
        let lengths = all(b"content-length");
        let length = match (status, lengths.as_slice()) {
            (204 | 304, []) => 0,
            (204 | 304, _) => return Err(format!("Content-Length on a {status}")),
            (_, [value]) => std::str::from_utf8(value)
                .ok()
                .filter(|v| v.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|v| v.parse::<usize>().ok())
                .ok_or("bad Content-Length")?,
            _ => return Err(format!("answer {} ({status}): not exactly one Content-Length", answers.len())),
        };
        let body_len = if head_only(answers.len()) { 0 } else { length };
        if rest.len() < head_end + body_len {
            return Err(format!("answer {} ({status}): body cut short", answers.len()));
        }
        let body = &rest[head_end..head_end + body_len];
        let echo = all(b"x-echo").first().map(|v| v.to_vec());
        if let Some(echo) = &echo {
            if status != 200 || (!head_only(answers.len()) && body != echo.as_slice()) {
                return Err(format!("answer {}: the echo header and body disagree", answers.len()));
            }
        }
        let close = all(b"connection").iter().any(|v| v.eq_ignore_ascii_case(b"close"));
        answers.push(Answer { status, close, echo });
        at += head_end + body_len;
    }
    Ok(answers)
}

/// The failure report: everything needed to see and replay the case.
fn report(seed: u64, case: &generate::Case, model: &Stream, received: &[u8], error: &str) -> String {
    let requests: Vec<String> = model
        .requests
        .iter()
        .map(|r| {
            format!(
                "{} {} [{}..{}] body {}",
                String::from_utf8_lossy(&r.head.method),
                String::from_utf8_lossy(&r.head.target),
                r.start,
                r.end,
                r.body.len()
            )
        })
        .collect();
    format!(
        "fuzz case failed: {error}\n  replay: EDDY_FUZZ_SEED={seed:#018x} cargo test --test http_fuzz\n  \
         sent ({} bytes, writes cut at {:?}): b\"{}\"\n  the model reads: {requests:?}, then {:?} \
         (last announces HEAD: {})\n  received: b\"{}\"",
        case.bytes.len(),
        case.cuts,
        case.bytes.escape_ascii(),
        model.end,
        model.last_is_head,
        received.escape_ascii(),
    )
}
