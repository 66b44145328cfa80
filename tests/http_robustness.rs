//! Robustness: whatever one client or handler does, it harms only itself.
//! A panicking handler gets its client a 500; clients that reset, half-close,
//! never read or hold a request hostage do not disturb anyone else; a
//! thousand connections at once are all served; and no request smuggled
//! inside another's body is ever answered.
//!
//! Several tests cap the server at one connection: that a next client is
//! served at all then proves the misbehaving connection was cleaned up.

mod http_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use eddy::time::Instant;
use eddy_http::{App, Limits, Request, Response};
use http_support::{bind, get, ok, parse_all, refusal, run_paused, AsyncClient, TestServer};

/// Eight MiB: more than the kernel buffers of both ends together.
const BIG: usize = 8 << 20;

fn app() -> App {
    App::new()
        .get("/", |_req| async { "root" })
        .get("/panic-now", |_req: Request| -> std::future::Ready<Response> { panic!("handler exploded") })
        .get("/panic-later", |_req| async {
            eddy::task::yield_now().await;
            panic!("handler exploded after a wait");
            #[allow(unreachable_code)]
            "never"
        })
        .get("/big", |_req| async { Response::bytes(vec![b'x'; BIG]) })
        .post("/echo", |mut req: Request| async move {
            match req.bytes().await {
                Ok(body) => Response::bytes(body),
                Err(error) => error.into(),
            }
        })
}

fn one_connection_at_a_time() -> Limits {
    Limits { max_connections: 1, ..Limits::default() }
}

// ----- Panics -----------------------------------------------------------------

#[test]
fn a_handler_that_panics_gets_500_and_a_close_and_the_server_serves_others() {
    let server = TestServer::start(app().limits(one_connection_at_a_time()));
    for path in ["/panic-now", "/panic-later"] {
        let mut client = server.client();
        client.send(format!("{}{}", get(path), get("/")));
        assert_eq!(client.response().text(), refusal("500 Internal Server Error", None));
        client.assert_closed();
        drop(client);
        let mut other = server.client();
        other.send(get("/"));
        assert_eq!(other.response().text(), ok("root"));
    }
}

#[test]
fn a_panic_in_a_pipeline_leaves_the_answers_before_it_intact() {
    let server = TestServer::start(app());
    let mut client = server.client();
    client.send(format!("{}{}{}", get("/"), get("/panic-later"), get("/")));
    let replies = parse_all(&client.rest());
    assert_eq!(replies.len(), 2);
    assert_eq!(replies[0].text(), ok("root"));
    assert_eq!(replies[1].text(), refusal("500 Internal Server Error", None));
}

#[test]
fn a_handler_that_answers_with_a_1xx_status_gets_its_client_a_500_not_an_endless_wait() {
    // A 1xx is never a final answer: sent as one, the client would wait for
    // the real answer forever, and take the next one for it.
    let server =
        TestServer::start(app().get("/interim", |_req| async {
            Response::empty(eddy_http::StatusCode::from_u16(103).unwrap())
        }));
    let mut client = server.client();
    client.send(format!("{}{}", get("/interim"), get("/")));
    assert_eq!(client.response().text(), refusal("500 Internal Server Error", None));
    client.assert_closed();
}

// ----- Resets --------------------------------------------------------------------

#[test]
fn a_client_that_resets_mid_head_harms_only_itself() {
    let server = TestServer::start(app().limits(one_connection_at_a_time()));
    let mut client = server.client();
    client.send("GET / HTTP/1.1\r\nHo");
    client.reset();
    let mut other = server.client();
    other.send(get("/"));
    assert_eq!(other.response().text(), ok("root"));
}

#[test]
fn a_client_that_resets_mid_body_fails_only_its_own_handler() {
    let (tx, rx) = mpsc::channel::<String>();
    let tx = Mutex::new(tx);
    let app = app()
        .post("/upload", move |mut req: Request| {
            let tx = tx.lock().unwrap().clone();
            async move {
                tx.send("started".to_string()).unwrap();
                let outcome = match req.bytes().await {
                    Ok(body) => format!("read {} bytes", body.len()),
                    Err(error) => format!("error: {error}"),
                };
                tx.send(outcome.clone()).unwrap();
                Response::text(outcome)
            }
        })
        .limits(one_connection_at_a_time());
    let server = TestServer::start(app);
    let mut client = server.client();
    client.send("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\npartial body");
    assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap(), "started");
    client.reset();
    let outcome = rx.recv_timeout(Duration::from_secs(10)).expect("the handler never finished");
    assert!(outcome.starts_with("error: "), "{outcome}");
    let mut other = server.client();
    other.send(get("/"));
    assert_eq!(other.response().text(), ok("root"));
}

#[test]
fn a_client_that_resets_while_its_handler_runs_harms_only_itself() {
    let (started_tx, started) = mpsc::channel::<()>();
    let started_tx = Mutex::new(started_tx);
    let (release, released) = eddy::sync::oneshot::channel::<()>();
    let released = Mutex::new(Some(released));
    let app = app()
        .get("/wait", move |_req| {
            started_tx.lock().unwrap().send(()).unwrap();
            let released = released.lock().unwrap().take();
            async move {
                if let Some(released) = released {
                    let _ = released.await;
                }
                "waited"
            }
        })
        .limits(one_connection_at_a_time());
    let server = TestServer::start(app);
    let mut client = server.client();
    client.send(get("/wait"));
    started.recv_timeout(Duration::from_secs(10)).expect("the handler never started");
    client.reset();
    release.send(()).unwrap();
    let mut other = server.client();
    other.send(get("/"));
    assert_eq!(other.response().text(), ok("root"));
}

// ----- Half-close -------------------------------------------------------------

#[test]
fn a_client_that_half_closes_after_its_request_still_gets_the_response() {
    let server = TestServer::start(app());
    let mut client = server.client();
    client.send(get("/"));
    client.half_close();
    assert_eq!(client.response().text(), ok("root"));
    client.assert_closed();
}

#[test]
fn a_client_that_half_closes_after_pipelined_requests_gets_every_response() {
    let server = TestServer::start(app());
    let mut client = server.client();
    client.send(format!(
        "{}POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nbody{}",
        get("/"),
        get("/panic-later")
    ));
    client.half_close();
    let replies = parse_all(&client.rest());
    assert_eq!(replies.len(), 3);
    assert_eq!(replies[0].text(), ok("root"));
    assert_eq!(replies[1].body, b"body");
    assert_eq!(replies[2].status, 500);
}

#[test]
fn a_client_that_half_closes_gets_the_response_of_a_handler_that_waits() {
    let server = TestServer::start(app().get("/later", |_req| async {
        for _ in 0..10 {
            eddy::task::yield_now().await;
        }
        "later"
    }));
    let mut client = server.client();
    client.send(get("/later"));
    client.half_close();
    assert_eq!(client.response().text(), ok("later"));
    client.assert_closed();
}

// ----- Slow and silent clients -------------------------------------------------

#[test]
fn a_client_that_never_reads_its_responses_does_not_block_others() {
    let server = TestServer::start(app());
    let mut hog = server.client();
    hog.send(format!("{}{}{}", get("/big"), get("/big"), get("/big")));
    for _ in 0..10 {
        let mut other = server.client();
        other.send(get("/"));
        assert_eq!(other.response().text(), ok("root"));
    }
    // The hog's response is intact when it finally reads.
    let reply = hog.response();
    assert_eq!(reply.body.len(), BIG);
}

#[test]
fn a_client_that_never_reads_is_dropped_after_io_timeout() {
    run_paused(|| async {
        let limits = Limits { io_timeout: Duration::from_secs(5), max_connections: 1, ..Limits::default() };
        let server = bind(app().limits(limits)).await;
        let hog = AsyncClient::connect(server.local_addr()).await;
        hog.send(get("/big")).await;
        // The server is capped at one connection: the next client is
        // accepted only once the hog's connection is gone.
        let start = Instant::now();
        let mut next = AsyncClient::connect(server.local_addr()).await;
        next.send(get("/")).await;
        assert_eq!(next.response().await.text(), ok("root"));
        // Dropped after the 5 s I/O timeout, not sooner, not later.
        http_support::assert_elapsed(start.elapsed(), Duration::from_secs(5));
        drop(hog);
    });
}

#[test]
fn a_client_that_sends_nothing_does_not_block_others() {
    let server = TestServer::start(app());
    let _silent: Vec<_> = (0..10).map(|_| server.client()).collect();
    let mut slow_head = server.client();
    slow_head.send("GET / HTTP/1.1\r\n");
    let mut other = server.client();
    other.send(get("/"));
    assert_eq!(other.response().text(), ok("root"));
}

// ----- Many connections -----------------------------------------------------------

/// 1000 clients plus 1000 accepted sockets live in this one process: more
/// descriptors than the common default soft limit of 1024.
fn raise_fd_limit() {
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max.min(65536);
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

#[test]
fn a_thousand_concurrent_connections_are_all_served() {
    raise_fd_limit();
    let server = TestServer::start(App::new().get("/{n}", |req: Request| {
        let n = req.param("n").unwrap_or_default().to_string();
        async move { format!("hello {n}") }
    }));
    // All connected before any request, so all are open at once.
    let mut clients: Vec<_> = (0..1000).map(|_| server.client()).collect();
    for (i, client) in clients.iter_mut().enumerate() {
        client.send(get(&format!("/{i}")));
    }
    for (i, client) in clients.iter_mut().enumerate() {
        assert_eq!(client.response().text(), ok(&format!("hello {i}")));
    }
    // And they are still alive for a second round.
    for (i, client) in clients.iter_mut().enumerate().rev() {
        client.send(get(&format!("/{i}")));
        assert_eq!(client.response().text(), ok(&format!("hello {i}")));
    }
}

// ----- Smuggling -------------------------------------------------------------------

/// A server whose `/smuggled` route counts its calls.
fn smuggling_target() -> (TestServer, Arc<AtomicUsize>) {
    let smuggled = Arc::new(AtomicUsize::new(0));
    let counter = smuggled.clone();
    let app = app().get("/smuggled", move |_req| {
        counter.fetch_add(1, Ordering::SeqCst);
        async { "smuggled!" }
    });
    (TestServer::start(app), smuggled)
}

/// Sends `attack`, then (in the same write) an honest request, and returns
/// every response until the server closes (or 2 responses if it does not).
fn attack(server: &TestServer, attack: &str) -> Vec<http_support::Reply> {
    let mut client = server.client();
    client.send(format!("{attack}{}", get("/")));
    let first = client.response();
    if first.header("connection") == Some("close") {
        let mut replies = vec![first];
        replies.extend(parse_all(&client.rest()));
        replies
    } else {
        vec![first, client.response()]
    }
}

const SMUGGLED: &str = "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n";

#[test]
fn content_length_plus_transfer_encoding_cannot_smuggle_a_request() {
    let (server, smuggled) = smuggling_target();
    // CL.TE: a front end going by Content-Length forwards it all; a back
    // end going by chunked would see `GET /smuggled` as a new request.
    let cl_te = format!(
        "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{SMUGGLED}",
        5 + SMUGGLED.len()
    );
    // TE.CL: the other way round.
    let chunk = format!("{:x}\r\n{SMUGGLED}\r\n0\r\n\r\n", SMUGGLED.len());
    let te_cl = format!(
        "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n{chunk}"
    );
    for request in [cl_te, te_cl] {
        let replies = attack(&server, &request);
        assert_eq!(replies.len(), 1, "{request:?}");
        assert_eq!(
            replies[0].text(),
            refusal("400 Bad Request", Some("both Content-Length and Transfer-Encoding"))
        );
    }
    assert_eq!(smuggled.load(Ordering::SeqCst), 0);
}

#[test]
fn obfuscated_transfer_encodings_cannot_smuggle_a_request() {
    let (server, smuggled) = smuggling_target();
    let chunk = format!("{:x}\r\n{SMUGGLED}\r\n0\r\n\r\n", SMUGGLED.len());
    for te in [
        "Transfer-Encoding: xchunked",
        "Transfer-Encoding : chunked",
        "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity",
        "Transfer-Encoding: chunked, identity",
        "Transfer-Encoding:\u{b}chunked",
        "Transfer-Encoding: chunked\r\n folded",
        "X: y\r\n Transfer-Encoding: chunked",
    ] {
        let request = format!("POST /echo HTTP/1.1\r\nHost: a\r\n{te}\r\nContent-Length: 3\r\n\r\n{chunk}");
        let replies = attack(&server, &request);
        assert_eq!(replies.len(), 1, "{te:?} was not refused alone");
        assert!(matches!(replies[0].status, 400 | 501), "{te:?}: {}", replies[0].text());
        http_support::assert_is_refusal(&replies[0], &replies[0].status.to_string());
    }
    assert_eq!(smuggled.load(Ordering::SeqCst), 0);
}

#[test]
fn transfer_encoding_in_http10_cannot_smuggle_a_request() {
    let (server, smuggled) = smuggling_target();
    let chunk = format!("{:x}\r\n{SMUGGLED}\r\n0\r\n\r\n", SMUGGLED.len());
    let replies =
        attack(&server, &format!("POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n{chunk}"));
    assert_eq!(replies.len(), 1);
    assert_eq!(
        replies[0].text(),
        refusal("400 Bad Request", Some("Transfer-Encoding in an HTTP/1.0 request"))
    );
    assert_eq!(smuggled.load(Ordering::SeqCst), 0);
}

#[test]
fn conflicting_content_lengths_cannot_smuggle_a_request() {
    let (server, smuggled) = smuggling_target();
    for lengths in [
        format!("Content-Length: 0\r\nContent-Length: {}", SMUGGLED.len()),
        format!("Content-Length: {}\r\nContent-Length: 0", SMUGGLED.len()),
        format!("Content-Length: 0, {}", SMUGGLED.len()),
    ] {
        let replies =
            attack(&server, &format!("POST /echo HTTP/1.1\r\nHost: a\r\n{lengths}\r\n\r\n{SMUGGLED}"));
        assert_eq!(replies.len(), 1, "{lengths:?}");
        assert_eq!(replies[0].text(), refusal("400 Bad Request", Some("conflicting Content-Length values")));
    }
    assert_eq!(smuggled.load(Ordering::SeqCst), 0);
}

#[test]
fn a_request_inside_a_body_is_never_answered_however_the_body_is_framed() {
    let (server, smuggled) = smuggling_target();
    let by_length =
        format!("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\n\r\n{SMUGGLED}", SMUGGLED.len());
    let by_chunks = format!(
        "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{SMUGGLED}\r\n0\r\n\r\n",
        SMUGGLED.len()
    );
    let unread =
        format!("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\n\r\n{SMUGGLED}", SMUGGLED.len());
    for request in [by_length, by_chunks, unread] {
        let replies = attack(&server, &request);
        assert_eq!(replies.len(), 2, "{request:?}");
        assert_eq!(replies[1].text(), ok("root"));
    }
    assert_eq!(smuggled.load(Ordering::SeqCst), 0);
}

#[test]
fn a_chunk_longer_than_its_size_cannot_smuggle_a_request() {
    let (server, smuggled) = smuggling_target();
    let request = format!(
        "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx{SMUGGLED}\r\n0\r\n\r\n"
    );
    let replies = attack(&server, &request);
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].text(), refusal("400 Bad Request", Some("chunked body line not ended by CRLF")));
    assert_eq!(smuggled.load(Ordering::SeqCst), 0);
}

#[test]
fn a_stashed_request_body_read_later_never_takes_the_next_requests_bytes() {
    let (tx, rx) = mpsc::channel::<String>();
    let tx = Mutex::new(tx);
    let app = app().post("/stash", move |req: Request| {
        let tx = tx.lock().unwrap().clone();
        // The handler answers at once and leaves its request to a task
        // that reads the body later, while the next request is served.
        eddy::spawn(async move {
            let mut req = req;
            for _ in 0..20 {
                eddy::task::yield_now().await;
            }
            let outcome = match req.bytes().await {
                Ok(body) => format!("read {:?}", String::from_utf8_lossy(&body)),
                Err(error) => format!("error: {error}"),
            };
            tx.send(outcome).unwrap();
        });
        async { "stashed" }
    });
    let server = TestServer::start(app);
    let mut client = server.client();
    client.send(
        "POST /stash HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\naaaa\
         POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nbbbb",
    );
    assert_eq!(client.response().text(), ok("stashed"));
    assert_eq!(client.response().body, b"bbbb");
    let outcome = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(!outcome.contains("bbbb") && !outcome.contains("aaaa"), "the stashed body read {outcome}");
}
