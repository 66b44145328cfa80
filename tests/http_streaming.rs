//! Streamed responses (`Response::stream`, `Response::channel`) over real
//! sockets, byte for byte: chunked framing to HTTP/1.1, close-delimited to
//! HTTP/1.0, no body for HEAD/204/304, pipelining after a stream, the final
//! chunk at shutdown, the producer dropped when the client leaves, and the
//! per-connection buffering bound under a client that does not read. (The
//! 1 GiB stream with flat RSS is in `http_stream_memory.rs`, a process of
//! its own.)

mod http_support;

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use eddy::test::DropProbe;
use eddy_http::{App, Request, Response, StatusCode, Stream, STREAM_HIGH_WATER};
use http_support::*;

/// Yields the given chunks, each at once, then ends; counts its polls.
struct Chunks {
    chunks: VecDeque<&'static str>,
    polls: Arc<AtomicUsize>,
    /// After the chunks, wait forever instead of ending.
    then_pending: bool,
    _probe: Option<DropProbe>,
}

impl Chunks {
    fn new(chunks: &[&'static str]) -> Chunks {
        Chunks {
            chunks: chunks.iter().copied().collect(),
            polls: Arc::default(),
            then_pending: false,
            _probe: None,
        }
    }
}

impl Stream for Chunks {
    type Item = std::io::Result<&'static str>;
    fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.polls.fetch_add(1, Ordering::SeqCst);
        match self.chunks.pop_front() {
            Some(chunk) => Poll::Ready(Some(Ok(chunk))),
            // Never woken: the server must notice the client or shutdown
            // on its own.
            None if self.then_pending => Poll::Pending,
            None => Poll::Ready(None),
        }
    }
}

/// As fast as it is polled: `chunk`-sized chunks, `total` bytes in all,
/// counting what it produced.
struct Firehose {
    chunk: &'static [u8],
    left: u64,
    produced: Arc<AtomicU64>,
    _probe: Option<DropProbe>,
}

impl Stream for Firehose {
    type Item = std::io::Result<&'static [u8]>;
    fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        let n = (self.chunk.len() as u64).min(self.left);
        self.left -= n;
        self.produced.fetch_add(n, Ordering::SeqCst);
        Poll::Ready(Some(Ok(&self.chunk[..n as usize])))
    }
}

static CHUNK_OF_X: [u8; 64 * 1024] = [b'x'; 64 * 1024];

fn one_route(path: &'static str, handler: impl Fn() -> Response + Send + Sync + 'static) -> App {
    let handler = Arc::new(handler);
    App::new().get(path, move |_req: Request| {
        let handler = handler.clone();
        async move { handler() }
    })
}

const OCTETS: &str = "application/octet-stream";

#[test]
fn an_http11_stream_is_sent_chunked_byte_for_byte_and_empty_chunks_are_skipped() {
    let server =
        TestServer::start(one_route("/s", || Response::stream(Chunks::new(&["hello", "", " world!"]))));
    let mut client = server.client();
    client.send(get("/s"));
    let expected =
        streamed_head(OCTETS, &[], "Transfer-Encoding: chunked") + "5\r\nhello\r\n7\r\n world!\r\n0\r\n\r\n";
    assert_eq!(client.until("0\r\n\r\n"), expected);
}

#[test]
fn a_chunk_size_is_hexadecimal() {
    let server = TestServer::start(one_route("/s", || {
        Response::stream(Chunks::new(&["0123456789abcdefghijklmnopqrstuvwxyz"]))
            .with_content_type("text/plain")
    }));
    let mut client = server.client();
    client.send(get("/s"));
    let expected = streamed_head("text/plain", &[], "Transfer-Encoding: chunked")
        + "24\r\n0123456789abcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n";
    assert_eq!(client.until("0\r\n\r\n"), expected);
}

#[test]
fn an_http10_stream_is_close_delimited() {
    let server = TestServer::start(one_route("/s", || Response::stream(Chunks::new(&["hello", " world"]))));
    let mut client = server.client();
    client.send("GET /s HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    let all = mask_date(&String::from_utf8(client.rest()).unwrap());
    assert_eq!(all, streamed_head(OCTETS, &[], "Connection: close") + "hello world");
}

#[test]
fn a_channel_streams_what_its_sender_sends_and_ends_when_it_drops() {
    let server = TestServer::start(one_route("/c", || {
        let (mut tx, response) = Response::channel();
        eddy::spawn(async move {
            for word in ["one", "two", "three"] {
                tx.send(word).await.unwrap();
                eddy::time::sleep(Duration::from_millis(1)).await;
            }
        });
        response
    }));
    let mut client = server.client();
    client.send(get("/c"));
    let expected = streamed_head(OCTETS, &[], "Transfer-Encoding: chunked")
        + "3\r\none\r\n3\r\ntwo\r\n5\r\nthree\r\n0\r\n\r\n";
    assert_eq!(client.until("0\r\n\r\n"), expected);
}

#[test]
fn head_204_and_304_send_no_body_and_never_poll_the_producer() {
    let polls = Arc::new(AtomicUsize::new(0));
    let dropped = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (p, d) = (polls.clone(), dropped.clone());
    let app = App::new().get("/{status}", move |req: Request| {
        let status = match req.param("status") {
            Some("204") => StatusCode::NO_CONTENT,
            Some("304") => StatusCode::NOT_MODIFIED,
            _ => StatusCode::OK,
        };
        let mut chunks = Chunks::new(&["never sent"]);
        chunks.polls = p.clone();
        let (probe, was_dropped) = DropProbe::new();
        chunks._probe = Some(probe);
        d.lock().unwrap().push(was_dropped);
        async move { Response::stream(chunks).with_status(status) }
    });
    let server = TestServer::start(app);
    let mut client = server.client();
    // A HEAD gets the head a GET would, and the connection goes on.
    client.send("HEAD /200 HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(client.until("\r\n\r\n"), streamed_head(OCTETS, &[], "Transfer-Encoding: chunked"));
    client.send(get("/204"));
    assert_eq!(client.until("\r\n\r\n"), "HTTP/1.1 204 No Content\r\nServer: eddy\r\nDate: <date>\r\n\r\n");
    client.send(get("/304"));
    assert_eq!(client.until("\r\n\r\n"), "HTTP/1.1 304 Not Modified\r\nServer: eddy\r\nDate: <date>\r\n\r\n");
    // Nothing followed any of them: the next answer is the next request's.
    client.send("HEAD /204 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert_eq!(
        mask_date(&String::from_utf8(client.rest()).unwrap()),
        "HTTP/1.1 204 No Content\r\nServer: eddy\r\nDate: <date>\r\nConnection: close\r\n\r\n"
    );
    assert_eq!(polls.load(Ordering::SeqCst), 0, "a body that is not sent is never polled");
    let dropped = dropped.lock().unwrap();
    assert_eq!(dropped.len(), 4);
    assert!(dropped.iter().all(|d| d.get()), "every unsent producer is dropped");
}

#[test]
fn a_pipelined_request_is_answered_after_the_final_chunk() {
    let app = one_route("/s", || {
        let (mut tx, response) = Response::channel();
        eddy::spawn(async move {
            for word in ["slow", "ly"] {
                eddy::time::sleep(Duration::from_millis(2)).await;
                let _ = tx.send(word).await;
            }
        });
        response
    })
    .get("/plain", |_req: Request| async { Response::text("plain") });
    let server = TestServer::start(app);
    let mut client = server.client();
    client.send(get("/s") + &get("/plain") + &get("/s"));
    let stream =
        streamed_head(OCTETS, &[], "Transfer-Encoding: chunked") + "4\r\nslow\r\n2\r\nly\r\n0\r\n\r\n";
    assert_eq!(client.until("0\r\n\r\n"), stream);
    assert_eq!(client.response().text(), ok("plain"));
    assert_eq!(client.until("0\r\n\r\n"), stream);
}

#[test]
fn shutdown_mid_stream_ends_it_with_the_final_chunk_and_drops_the_producer() {
    let (probe, dropped) = DropProbe::new();
    let probe = std::sync::Mutex::new(Some(probe));
    let server = TestServer::start(one_route("/s", move || {
        let mut chunks = Chunks::new(&["first"]);
        chunks.then_pending = true;
        chunks._probe = probe.lock().unwrap().take();
        Response::stream(chunks)
    }));
    let mut client = server.client();
    client.send(get("/s"));
    let head = streamed_head(OCTETS, &[], "Transfer-Encoding: chunked");
    assert_eq!(client.until("first\r\n"), head + "5\r\nfirst\r\n");
    assert!(!dropped.get());
    let shutdown = std::thread::spawn(move || server.shutdown());
    assert_eq!(String::from_utf8(client.rest()).unwrap(), "0\r\n\r\n");
    shutdown.join().unwrap().unwrap();
    assert!(dropped.get());
}

#[test]
fn shutdown_fails_a_channel_senders_next_send() {
    let saw_closed = Arc::new(AtomicBool::new(false));
    let seen = saw_closed.clone();
    let server = TestServer::start(one_route("/c", move || {
        let (mut tx, response) = Response::channel();
        let seen = seen.clone();
        eddy::spawn(async move {
            tx.send("first").await.unwrap();
            tx.closed().await;
            seen.store(tx.send("late").await.is_err(), Ordering::SeqCst);
        });
        response
    }));
    let mut client = server.client();
    client.send(get("/c"));
    client.until("first\r\n");
    let shutdown = std::thread::spawn(move || server.shutdown());
    assert_eq!(String::from_utf8(client.rest()).unwrap(), "0\r\n\r\n");
    shutdown.join().unwrap().unwrap();
    assert!(saw_closed.load(Ordering::SeqCst));
}

#[test]
fn a_client_that_closes_mid_stream_drops_the_producer() {
    let (probe, dropped) = DropProbe::new();
    let probe = std::sync::Mutex::new(Some(probe));
    let server = TestServer::start(one_route("/s", move || {
        let mut chunks = Chunks::new(&["first"]);
        chunks.then_pending = true;
        chunks._probe = probe.lock().unwrap().take();
        Response::stream(chunks)
    }));
    let mut client = server.client();
    client.send(get("/s"));
    client.until("first\r\n");
    assert!(!dropped.get());
    drop(client);
    // The producer is idle (never woken): only the server noticing the
    // client's close can drop it.
    wait_until("the producer is dropped", || dropped.get());
}

#[test]
fn a_client_that_resets_while_the_server_writes_drops_the_producer() {
    let (probe, dropped) = DropProbe::new();
    let probe = std::sync::Mutex::new(Some(probe));
    let produced = Arc::new(AtomicU64::new(0));
    let counter = produced.clone();
    let server = TestServer::start(one_route("/s", move || {
        Response::stream(Firehose {
            chunk: &CHUNK_OF_X,
            left: u64::MAX,
            produced: counter.clone(),
            _probe: probe.lock().unwrap().take(),
        })
    }));
    let mut client = server.client();
    client.send(get("/s"));
    client.until("\r\n\r\n");
    wait_until("the producer has started", || produced.load(Ordering::SeqCst) > 0);
    client.reset();
    wait_until("the producer is dropped", || dropped.get());
}

/// The most the kernel can buffer between the server's writes and the
/// client's reads: the server socket's send buffer (at most the autotuning
/// ceiling, `tcp_wmem`'s maximum) and the client's receive buffer
/// (`SO_RCVBUF`, fixed by the client).
fn kernel_buffers(client: &std::net::TcpStream) -> u64 {
    let wmem = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_wmem").expect("read tcp_wmem");
    let send_max: u64 = wmem.split_whitespace().last().and_then(|v| v.parse().ok()).expect("parse tcp_wmem");
    send_max + sockopt(client, libc::SO_RCVBUF) + sockopt(client, libc::SO_SNDBUF)
}

fn sockopt(socket: &std::net::TcpStream, name: libc::c_int) -> u64 {
    use std::os::fd::AsRawFd;
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `value` and `len` outlive the call and `len` is `value`'s size.
    let result = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            name,
            (&mut value as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    assert_eq!(result, 0, "getsockopt: {}", std::io::Error::last_os_error());
    value as u64
}

fn set_rcvbuf(socket: &std::net::TcpStream, bytes: libc::c_int) {
    use std::os::fd::AsRawFd;
    // SAFETY: `bytes` outlives the call and its size is passed with it.
    let result = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&bytes as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(result, 0, "setsockopt(SO_RCVBUF): {}", std::io::Error::last_os_error());
}

#[test]
fn a_producer_is_held_back_once_a_client_that_does_not_read_has_the_bound() {
    let produced = Arc::new(AtomicU64::new(0));
    let counter = produced.clone();
    let server = TestServer::start(one_route("/s", move || {
        Response::stream(Firehose {
            chunk: &CHUNK_OF_X,
            left: u64::MAX,
            produced: counter.clone(),
            _probe: None,
        })
    }));
    let client = server.client();
    set_rcvbuf(client.stream(), 64 * 1024);
    let mut client = client;
    client.send(get("/s"));
    // Wait until production stops: the bound must hold from then on.
    let mut last = u64::MAX;
    wait_until("the producer is held back", || {
        std::thread::sleep(Duration::from_millis(20));
        let now = produced.load(Ordering::SeqCst);
        std::mem::replace(&mut last, now) == now && now > 0
    });
    let produced = produced.load(Ordering::SeqCst);
    let bound = (STREAM_HIGH_WATER + CHUNK_OF_X.len()) as u64 + kernel_buffers(client.stream());
    assert!(produced <= bound, "produced {produced} bytes for a client that reads none; bound {bound}");
    assert!(
        eddy_http::max_buffered_while_streaming() <= STREAM_HIGH_WATER + CHUNK_OF_X.len() + 16,
        "the server buffered {} bytes for one connection",
        eddy_http::max_buffered_while_streaming()
    );
}

/// Yields one chunk, then fails (an error, or a panic).
struct Fails {
    sent: bool,
    panic: bool,
}

impl Stream for Fails {
    type Item = std::io::Result<&'static str>;
    fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if !self.sent {
            self.sent = true;
            return Poll::Ready(Some(Ok("partial")));
        }
        if self.panic {
            panic!("the producer panicked");
        }
        Poll::Ready(Some(Err(std::io::Error::other("the database went away"))))
    }
}

#[test]
fn a_failing_or_panicking_producer_cuts_the_response_without_the_final_chunk() {
    for panic in [false, true] {
        let server =
            TestServer::start(one_route("/s", move || Response::stream(Fails { sent: false, panic })));
        let mut client = server.client();
        client.send(get("/s") + &get("/s"));
        // No `0\r\n\r\n`: the client can tell the body is incomplete, and
        // the pipelined request after it is not answered on this connection.
        let all = mask_date(&String::from_utf8(client.rest()).unwrap());
        assert_eq!(all, streamed_head(OCTETS, &[], "Transfer-Encoding: chunked") + "7\r\npartial\r\n");
    }
}

#[test]
fn a_channel_sender_waits_once_a_client_that_does_not_read_has_the_bound() {
    let sent = Arc::new(AtomicU64::new(0));
    let counter = sent.clone();
    let server = TestServer::start(one_route("/c", move || {
        let (mut tx, response) = Response::channel();
        let counter = counter.clone();
        eddy::spawn(async move {
            while tx.send(&CHUNK_OF_X[..]).await.is_ok() {
                counter.fetch_add(CHUNK_OF_X.len() as u64, Ordering::SeqCst);
            }
        });
        response
    }));
    let client = server.client();
    set_rcvbuf(client.stream(), 64 * 1024);
    let mut client = client;
    client.send(get("/c"));
    let mut last = u64::MAX;
    wait_until("the sender is held back", || {
        std::thread::sleep(Duration::from_millis(20));
        let now = sent.load(Ordering::SeqCst);
        std::mem::replace(&mut last, now) == now && now > 0
    });
    let sent = sent.load(Ordering::SeqCst);
    let server_side = (eddy_http::CHANNEL_CAPACITY + STREAM_HIGH_WATER + 2 * CHUNK_OF_X.len()) as u64;
    let bound = server_side + kernel_buffers(client.stream());
    assert!(sent <= bound, "sent {sent} bytes to a client that reads none; bound {bound}");
}
