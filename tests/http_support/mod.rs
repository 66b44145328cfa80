//! What every HTTP integration test needs: a server on `127.0.0.1:0`, a raw
//! TCP client that sends exact bytes and reads whole responses, and the
//! exact bytes the server is expected to answer with.
//!
//! Two ways to run a server:
//! - [`TestServer::start`]: on its own thread, in its own eddy runtime, with
//!   the real clock; the test talks to it with the blocking [`Client`]
//!   (`std::net`). For everything that does not depend on time.
//! - [`run_paused`]: server and client in *one* runtime whose clock is
//!   paused, the client being an [`AsyncClient`] (`eddy::net`). When every
//!   task waits, the loop jumps to the next timer, so a 10 s head timeout or
//!   a 60 s keep-alive takes microseconds and happens at an exact instant.
//!   (A client on another thread would race with those jumps.)
//!
//! Responses are compared as text with the `Date` value (checked to be an
//! IMF-fixdate) replaced by `<date>`: see [`Reply::text`], [`ok`],
//! [`refusal`] and [`reply`].

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::future::Future;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::thread;
use std::time::Duration;

use eddy::sync::oneshot;
use eddy_http::{App, Server};

/// How long a blocking client waits for the server before the test fails.
/// Never reached by a passing test; it turns a hang into a failure.
const CLIENT_PATIENCE: Duration = Duration::from_secs(10);

/// How long (on the paused clock) an async client waits before the test
/// fails. Later than every server timer a test relies on, so it never fires
/// first in a passing test.
const PAUSED_PATIENCE: Duration = Duration::from_secs(24 * 3600);

/// A server on its own thread and runtime, listening on `127.0.0.1:0`.
/// Dropping it starts a graceful shutdown without waiting for it.
pub struct TestServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<io::Result<()>>>,
}

impl TestServer {
    /// Starts `app` on a fresh one-loop runtime, real clock.
    pub fn start(app: App) -> TestServer {
        TestServer::start_with(eddy::Builder::new(), app)
    }

    /// Starts `app` on a runtime built by `builder` (its loops all serve).
    pub fn start_with(builder: eddy::Builder, app: App) -> TestServer {
        let (stop, stopped) = oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = thread::spawn(move || {
            let runtime = builder.build()?;
            runtime.block_on(async {
                let server = match Server::bind_on(runtime.handles(), "127.0.0.1:0", app).await {
                    Ok(server) => server,
                    Err(error) => {
                        let _ = ready_tx.send(Err(error.to_string()));
                        return Err(error);
                    }
                };
                let _ = ready_tx.send(Ok(server.local_addr()));
                let _ = stopped.await;
                server.shutdown().await
            })
        });
        let addr = ready_rx.recv().expect("server thread died").expect("server failed to start");
        TestServer { addr, stop: Some(stop), thread: Some(thread) }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A new connection to the server.
    pub fn client(&self) -> Client {
        Client::connect(self.addr)
    }

    /// Graceful shutdown; returns what `Server::shutdown` returned.
    pub fn shutdown(mut self) -> io::Result<()> {
        let _ = self.stop.take().expect("stopped twice").send(());
        self.thread.take().expect("joined twice").join().expect("server thread panicked")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Runs `test` in a one-loop runtime whose clock starts paused.
pub fn run_paused<F: Future>(test: impl FnOnce() -> F) -> F::Output {
    eddy::Builder::new().start_paused(true).build().expect("build a paused runtime").block_on(test())
}

/// Asserts that `elapsed` (paused clock) is `expected`, give or take the
/// timer wheel's 1 ms resolution (a timer may fire up to 1 ms late).
pub fn assert_elapsed(elapsed: Duration, expected: Duration) {
    assert!(
        elapsed >= expected && elapsed <= expected + Duration::from_millis(2),
        "expected it after {expected:?}, it came after {elapsed:?}"
    );
}

/// Binds `app` on `127.0.0.1:0` in the current runtime.
pub async fn bind(app: App) -> Server {
    Server::bind("127.0.0.1:0", app).await.expect("bind the test server")
}

// ----- Parsing what the server sends ------------------------------------

/// One response as received.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Every byte of it, head and body.
    pub raw: Vec<u8>,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The response as text, `Date` value replaced by `<date>` after
    /// checking that it is an IMF-fixdate. Compare it with [`ok`],
    /// [`refusal`] or [`reply`]. Panics if there is no `Date` (except on a
    /// `1xx`, which has none).
    pub fn text(&self) -> String {
        let text = String::from_utf8_lossy(&self.raw).into_owned();
        if self.status < 200 {
            return text;
        }
        let date = self.header("date").unwrap_or_else(|| panic!("no Date header in {text:?}"));
        assert!(is_imf_fixdate(date), "Date {date:?} is not an IMF-fixdate");
        text.replacen(&format!("\r\nDate: {date}\r\n"), "\r\nDate: <date>\r\n", 1)
    }

    /// Body as text.
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// `text` with the value of its first `Date` header (checked to be an
/// IMF-fixdate) replaced by `<date>`.
pub fn mask_date(text: &str) -> String {
    let Some(at) = text.find("\r\nDate: ") else { return text.to_string() };
    let start = at + "\r\nDate: ".len();
    let date = text.get(start..start + 29).unwrap_or_else(|| panic!("short Date in {text:?}"));
    assert!(is_imf_fixdate(date), "Date {date:?} is not an IMF-fixdate");
    format!("{}<date>{}", &text[..start], &text[start + 29..])
}

/// The head of a streamed `200 OK` with `content_type`, `extra` header
/// lines, and `framing` (`"Transfer-Encoding: chunked"`, or
/// `"Connection: close"` for HTTP/1.0), `Date` as `<date>`.
pub fn streamed_head(content_type: &str, extra: &[&str], framing: &str) -> String {
    let mut text =
        format!("HTTP/1.1 200 OK\r\nServer: eddy\r\nDate: <date>\r\nContent-Type: {content_type}\r\n");
    for header in extra {
        text.push_str(header);
        text.push_str("\r\n");
    }
    text.push_str(framing);
    text.push_str("\r\n\r\n");
    text
}

/// Waits (real clock, up to [`CLIENT_PATIENCE`]) until `condition` holds,
/// for something another thread does promptly; fails the test otherwise.
pub fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + CLIENT_PATIENCE;
    while !condition() {
        assert!(std::time::Instant::now() < deadline, "timed out waiting until {what}");
        thread::sleep(Duration::from_millis(2));
    }
}

/// Whether `date` looks like `Sun, 06 Nov 1994 08:49:37 GMT`.
fn is_imf_fixdate(date: &str) -> bool {
    let b = date.as_bytes();
    let digits = |range: std::ops::Range<usize>| b[range].iter().all(u8::is_ascii_digit);
    b.len() == 29
        && ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"].contains(&&date[..3])
        && &date[3..5] == ", "
        && digits(5..7)
        && ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
            .contains(&&date[8..11])
        && digits(12..16)
        && digits(17..19)
        && b[19] == b':'
        && digits(20..22)
        && b[22] == b':'
        && digits(23..25)
        && &date[25..] == " GMT"
}

/// Parses one response at the start of `buf`: `None` if incomplete. The
/// body is framed by `Content-Length` (the server always sends one), except
/// for 1xx, 204 and 304, and for the answer to a HEAD (`head_only`).
pub fn parse_reply(buf: &[u8], head_only: bool) -> Option<(Reply, usize)> {
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&buf[..head_end]).expect("response head is not UTF-8");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    assert!(status_line.starts_with("HTTP/1.1 "), "bad status line {status_line:?}");
    let status: u16 = status_line[9..12].parse().expect("bad status code");
    let headers: Vec<(String, String)> = lines
        .filter(|line| !line.is_empty())
        .map(|line| {
            let (name, value) = line.split_once(": ").unwrap_or_else(|| panic!("bad header line {line:?}"));
            (name.to_string(), value.to_string())
        })
        .collect();
    let length = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.parse::<usize>().unwrap_or_else(|_| panic!("bad Content-Length {v:?}")));
    let has_body = !(head_only || status < 200 || status == 204 || status == 304);
    let body_len = if has_body {
        length.unwrap_or_else(|| panic!("response without Content-Length: {head:?}"))
    } else {
        0
    };
    if buf.len() < head_end + body_len {
        return None;
    }
    let end = head_end + body_len;
    let reply = Reply { raw: buf[..end].to_vec(), status, headers, body: buf[head_end..end].to_vec() };
    Some((reply, end))
}

/// Parses every complete response in `bytes`, which must hold nothing else.
pub fn parse_all(bytes: &[u8]) -> Vec<Reply> {
    let mut replies = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let (reply, used) = parse_reply(&bytes[at..], false).unwrap_or_else(|| {
            panic!("trailing partial response: {:?}", String::from_utf8_lossy(&bytes[at..]))
        });
        replies.push(reply);
        at += used;
    }
    replies
}

// ----- What the server is expected to send --------------------------------

/// The exact text of a `text/plain` response with the `Date` value as
/// `<date>`: `status` like `"200 OK"`, `headers` like `"Allow: GET, HEAD"`
/// (written after `Content-Type`, as the server does), and `connection`
/// the value of the `Connection` header, if any.
pub fn reply(status: &str, headers: &[&str], body: &str, connection: Option<&str>) -> String {
    let mut text = format!(
        "HTTP/1.1 {status}\r\nServer: eddy\r\nDate: <date>\r\nContent-Type: text/plain; charset=utf-8\r\n"
    );
    for header in headers {
        text.push_str(header);
        text.push_str("\r\n");
    }
    text.push_str(&format!("Content-Length: {}\r\n", body.len()));
    if let Some(connection) = connection {
        text.push_str(&format!("Connection: {connection}\r\n"));
    }
    text.push_str("\r\n");
    text.push_str(body);
    text
}

/// `200 OK` with a text body on a connection that stays open.
pub fn ok(body: &str) -> String {
    reply("200 OK", &[], body, None)
}

/// The server's own refusal: `status` (`"400 Bad Request"`), a body that
/// repeats it with the reason if there is one, and `Connection: close`.
pub fn refusal(status: &str, reason: Option<&str>) -> String {
    let body = match reason {
        Some(reason) => format!("{status}: {reason}\n"),
        None => format!("{status}\n"),
    };
    reply(status, &[], &body, Some("close"))
}

/// Asserts what every refusal must be, whatever its status: a real
/// response with that status (`"400"` or `"400 Bad Request"`), a `Date`, a
/// `Content-Length` that matches its body, and `Connection: close`.
pub fn assert_is_refusal(reply: &Reply, status: &str) {
    let text = reply.text();
    assert!(text.starts_with(&format!("HTTP/1.1 {status}")), "expected {status}, got {text:?}");
    assert_eq!(reply.header("content-length"), Some(reply.body.len().to_string().as_str()), "{text:?}");
    assert_eq!(reply.header("connection"), Some("close"), "{text:?}");
}

/// A GET request for `path` with a Host header.
pub fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n")
}

// ----- A blocking client (for a server on its own thread) ----------------

/// A raw TCP connection: exact bytes in, whole responses out.
pub struct Client {
    stream: TcpStream,
    /// Bytes received and not yet returned as a response.
    buf: Vec<u8>,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).expect("connect to the test server");
        stream.set_nodelay(true).unwrap();
        stream.set_read_timeout(Some(CLIENT_PATIENCE)).unwrap();
        stream.set_write_timeout(Some(CLIENT_PATIENCE)).unwrap();
        Client { stream, buf: Vec::new() }
    }

    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }

    /// Writes all of `bytes` in one call.
    pub fn send(&mut self, bytes: impl AsRef<[u8]>) {
        self.stream.write_all(bytes.as_ref()).expect("send to the server");
    }

    /// Writes `bytes` one byte per write (`TCP_NODELAY` is on).
    pub fn send_bytewise(&mut self, bytes: impl AsRef<[u8]>) {
        for byte in bytes.as_ref() {
            self.stream.write_all(std::slice::from_ref(byte)).expect("send to the server");
        }
    }

    /// Reads the next whole response.
    pub fn response(&mut self) -> Reply {
        self.next(false)
    }

    /// Reads the next response to a HEAD request (no body follows its head).
    pub fn head_response(&mut self) -> Reply {
        self.next(true)
    }

    fn next(&mut self, head_only: bool) -> Reply {
        loop {
            if let Some((reply, used)) = parse_reply(&self.buf, head_only) {
                self.buf.drain(..used);
                return reply;
            }
            match self.read_some() {
                Ok(0) => panic!(
                    "the server closed the connection before a whole response; got {:?}",
                    String::from_utf8_lossy(&self.buf)
                ),
                Ok(_) => {}
                Err(error) => {
                    panic!("reading a response failed: {error}; got {:?}", String::from_utf8_lossy(&self.buf))
                }
            }
        }
    }

    /// One `read` call's worth of bytes (at most 1 MiB), appended to the
    /// buffer and returned as well. Empty at EOF.
    pub fn read_once(&mut self) -> Vec<u8> {
        let before = self.buf.len();
        self.read_some().expect("read from the server");
        self.buf[before..].to_vec()
    }

    fn read_some(&mut self) -> io::Result<usize> {
        let mut chunk = vec![0; 1 << 20];
        let n = self.stream.read(&mut chunk)?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// Everything until the server closes the connection (buffered bytes
    /// included). A reset counts as a close; a timeout fails the test.
    pub fn rest(&mut self) -> Vec<u8> {
        loop {
            match self.read_some() {
                Ok(0) => break,
                Ok(_) => {}
                Err(error) if error.kind() == io::ErrorKind::ConnectionReset => break,
                Err(error) => panic!(
                    "waiting for the server to close failed: {error}; got {:?}",
                    String::from_utf8_lossy(&self.buf)
                ),
            }
        }
        std::mem::take(&mut self.buf)
    }

    /// Asserts that the server closes the connection without sending
    /// anything more.
    pub fn assert_closed(&mut self) {
        let rest = self.rest();
        assert!(
            rest.is_empty(),
            "expected the connection to close, got {:?}",
            String::from_utf8_lossy(&rest)
        );
    }

    /// Closes the sending side (the server reads EOF) but keeps reading.
    pub fn half_close(&self) {
        self.stream.shutdown(Shutdown::Write).expect("half-close");
    }

    /// Takes the bytes received and not yet returned.
    pub fn take_buffered(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }

    /// Reads until the received bytes hold `end`; returns (and consumes)
    /// everything up to and including it, `Date` masked as by
    /// [`mask_date`]. For streamed responses, which [`Client::response`]
    /// does not frame.
    pub fn until(&mut self, end: &str) -> String {
        loop {
            if let Some(at) = self.buf.windows(end.len()).position(|w| w == end.as_bytes()) {
                let taken: Vec<u8> = self.buf.drain(..at + end.len()).collect();
                return mask_date(&String::from_utf8_lossy(&taken));
            }
            match self.read_some() {
                Ok(0) => {
                    panic!("the server closed before {end:?}; got {:?}", String::from_utf8_lossy(&self.buf))
                }
                Ok(_) => {}
                Err(error) => panic!(
                    "waiting for {end:?} failed: {error}; got {:?}",
                    String::from_utf8_lossy(&self.buf)
                ),
            }
        }
    }

    /// Closes the connection with a reset (`SO_LINGER` 0) instead of a FIN.
    pub fn reset(self) {
        set_linger_zero(self.stream.as_raw_fd());
    }
}

/// Makes the next close of `fd` send RST.
fn set_linger_zero(fd: std::os::fd::RawFd) {
    let linger = libc::linger { l_onoff: 1, l_linger: 0 };
    // SAFETY: `linger` outlives the call and its size is passed with it;
    // `fd` is an open socket owned by the caller.
    let result = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(result, 0, "setsockopt(SO_LINGER): {}", io::Error::last_os_error());
}

// ----- An async client (for a server in the test's own paused runtime) ---

/// [`Client`] over `eddy::net::TcpStream`, for paused-clock tests. Reads
/// give up after a day of (paused) time, so a server that never answers
/// fails the test instead of hanging it.
pub struct AsyncClient {
    stream: eddy::net::TcpStream,
    buf: Vec<u8>,
}

impl AsyncClient {
    pub async fn connect(addr: SocketAddr) -> AsyncClient {
        let stream = eddy::net::TcpStream::connect(addr).await.expect("connect to the test server");
        stream.set_nodelay(true).unwrap();
        AsyncClient { stream, buf: Vec::new() }
    }

    pub async fn send(&self, bytes: impl AsRef<[u8]>) {
        self.stream.write_all(bytes.as_ref()).await.expect("send to the server");
    }

    pub async fn response(&mut self) -> Reply {
        loop {
            if let Some((reply, used)) = parse_reply(&self.buf, false) {
                self.buf.drain(..used);
                return reply;
            }
            let n = self.read_some().await.expect("read a response");
            assert!(
                n > 0,
                "the server closed the connection before a whole response; got {:?}",
                String::from_utf8_lossy(&self.buf)
            );
        }
    }

    /// Waits for the next bytes; `Ok(0)` at EOF.
    pub async fn read_some(&mut self) -> io::Result<usize> {
        let mut chunk = vec![0; 64 * 1024];
        let read = eddy::time::timeout(PAUSED_PATIENCE, self.stream.read(&mut chunk)).await;
        let n = read.expect("the server sent nothing for a day of paused time")?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// Everything until the server closes (a reset counts as a close).
    pub async fn rest(&mut self) -> Vec<u8> {
        loop {
            match self.read_some().await {
                Ok(0) => break,
                Ok(_) => {}
                Err(error) if error.kind() == io::ErrorKind::ConnectionReset => break,
                Err(error) => panic!("waiting for the server to close failed: {error}"),
            }
        }
        std::mem::take(&mut self.buf)
    }

    pub async fn assert_closed(&mut self) {
        let rest = self.rest().await;
        assert!(
            rest.is_empty(),
            "expected the connection to close, got {:?}",
            String::from_utf8_lossy(&rest)
        );
    }

    pub fn half_close(&self) {
        self.stream.shutdown_std(Shutdown::Write).expect("half-close");
    }

    /// [`Client::until`]: reads until the received bytes hold `end`, and
    /// returns everything up to it, `Date` masked.
    pub async fn until(&mut self, end: &str) -> String {
        loop {
            if let Some(at) = self.buf.windows(end.len()).position(|w| w == end.as_bytes()) {
                let taken: Vec<u8> = self.buf.drain(..at + end.len()).collect();
                return mask_date(&String::from_utf8_lossy(&taken));
            }
            let n = self.read_some().await.expect("read from the server");
            assert!(n > 0, "the server closed before {end:?}; got {:?}", String::from_utf8_lossy(&self.buf));
        }
    }
}
