//! Every limit, at the limit and one past it: head size and header count
//! (431), URI length (414), body size (413), the time to send a head (408,
//! slowloris), keep-alive idle time, and the time to send a body. The
//! connection cap has its own file, `http_conn_cap.rs`.
//!
//! Time limits run on the paused clock, with server and client in one
//! runtime, so "after exactly 10 s" is checked exactly and costs nothing.

mod http_support;

use std::time::Duration;

use eddy::time::{self, Instant};
use eddy_http::{App, Limits, Request, Response};
use http_support::{assert_elapsed, bind, get, ok, refusal, run_paused, AsyncClient, Reply, TestServer};

fn app(limits: Limits) -> App {
    App::new()
        .get("/", |_req| async { "root" })
        .get("/{name}", |req: Request| {
            let len = req.param("name").unwrap_or_default().len();
            async move { format!("name of {len} bytes") }
        })
        .post("/echo", |mut req: Request| async move {
            match req.bytes().await {
                Ok(body) => Response::bytes(body),
                Err(error) => error.into(),
            }
        })
        .post("/ignore", |_req| async { "ignored" })
        .limits(limits)
}

/// A GET head of exactly `len` bytes, padded with an `X-Pad` field.
fn head_of_len(len: usize) -> String {
    let bare = "GET / HTTP/1.1\r\nHost: a\r\nX-Pad: \r\n\r\n".len();
    let head = format!("GET / HTTP/1.1\r\nHost: a\r\nX-Pad: {}\r\n\r\n", "p".repeat(len - bare));
    assert_eq!(head.len(), len);
    head
}

// ----- Head size and header count: 431 ------------------------------------

#[test]
fn a_head_of_exactly_max_head_bytes_is_served() {
    let server = TestServer::start(app(Limits { max_head: 1024, ..Limits::default() }));
    let mut client = server.client();
    client.send(head_of_len(1024));
    assert_eq!(client.response().text(), ok("root"));
}

#[test]
fn a_head_one_byte_over_max_head_is_refused_with_431_and_closed() {
    let server = TestServer::start(app(Limits { max_head: 1024, ..Limits::default() }));
    let mut client = server.client();
    client.send(format!("{}{}", head_of_len(1025), get("/never")));
    assert_eq!(
        client.response().text(),
        refusal("431 Request Header Fields Too Large", Some("request head too large"))
    );
    client.assert_closed();
}

#[test]
fn an_unfinished_head_past_max_head_is_refused_with_431_without_waiting_for_its_end() {
    let server = TestServer::start(app(Limits { max_head: 1024, ..Limits::default() }));
    let mut client = server.client();
    let head = head_of_len(2000);
    client.send(&head[..1500]); // no blank line yet, and never one
    assert_eq!(
        client.response().text(),
        refusal("431 Request Header Fields Too Large", Some("request head too large"))
    );
    client.assert_closed();
}

#[test]
fn the_default_head_limit_is_8_kib() {
    let server = TestServer::start(app(Limits::default()));
    let mut client = server.client();
    client.send(head_of_len(8 * 1024));
    assert_eq!(client.response().text(), ok("root"));
    client.send(head_of_len(8 * 1024 + 1));
    assert_eq!(client.response().status, 431);
    client.assert_closed();
}

/// A GET with `Host` and `extra` more fields.
fn with_fields(extra: usize) -> String {
    let fields: String = (0..extra).map(|i| format!("X-{i}: {i}\r\n")).collect();
    format!("GET / HTTP/1.1\r\nHost: a\r\n{fields}\r\n")
}

#[test]
fn one_hundred_header_fields_are_served() {
    let server = TestServer::start(app(Limits::default()));
    let mut client = server.client();
    client.send(with_fields(99));
    assert_eq!(client.response().text(), ok("root"));
}

#[test]
fn a_hundred_and_first_header_field_is_refused_with_431_and_closed() {
    let server = TestServer::start(app(Limits::default()));
    let mut client = server.client();
    client.send(format!("{}{}", with_fields(100), get("/never")));
    assert_eq!(
        client.response().text(),
        refusal("431 Request Header Fields Too Large", Some("too many header fields"))
    );
    client.assert_closed();
}

#[test]
fn the_header_count_limit_is_settable() {
    let server = TestServer::start(app(Limits { max_headers: 3, ..Limits::default() }));
    let mut client = server.client();
    client.send(with_fields(2));
    assert_eq!(client.response().text(), ok("root"));
    client.send(with_fields(3));
    assert_eq!(client.response().status, 431);
    client.assert_closed();
}

// ----- URI length: 414 -------------------------------------------------------

#[test]
fn a_target_of_exactly_max_uri_bytes_is_served() {
    let server = TestServer::start(app(Limits { max_uri: 1024, ..Limits::default() }));
    let mut client = server.client();
    client.send(get(&format!("/{}", "n".repeat(1023))));
    assert_eq!(client.response().text(), ok("name of 1023 bytes"));
}

#[test]
fn a_target_one_byte_over_max_uri_is_refused_with_414_and_closed() {
    let server = TestServer::start(app(Limits { max_uri: 1024, ..Limits::default() }));
    let mut client = server.client();
    client.send(format!("{}{}", get(&format!("/{}", "n".repeat(1024))), get("/never")));
    assert_eq!(client.response().text(), refusal("414 URI Too Long", None));
    client.assert_closed();
}

#[test]
fn a_target_over_the_default_8_kib_is_refused_with_414_even_though_the_head_is_too_large_too() {
    // The head that carries a 8 KiB + 1 target is itself over 8 KiB; the
    // answer must name the real problem, the target.
    let server = TestServer::start(app(Limits::default()));
    let mut client = server.client();
    client.send(get(&format!("/{}", "n".repeat(8 * 1024))));
    assert_eq!(client.response().text(), refusal("414 URI Too Long", None));
    client.assert_closed();
}

#[test]
fn an_unfinished_request_line_past_max_uri_is_refused_with_414_without_waiting_for_its_end() {
    let server = TestServer::start(app(Limits { max_uri: 1024, ..Limits::default() }));
    let mut client = server.client();
    client.send(format!("GET /{}", "n".repeat(1100)));
    assert_eq!(client.response().text(), refusal("414 URI Too Long", None));
    client.assert_closed();
}

// ----- Body size: 413 ------------------------------------------------------------

fn post(path: &str, body: &[u8]) -> Vec<u8> {
    let mut request =
        format!("POST {path} HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
    request.extend_from_slice(body);
    request
}

fn chunked(path: &str, body: &[u8], chunk: usize) -> Vec<u8> {
    let mut request =
        format!("POST {path} HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n").into_bytes();
    for piece in body.chunks(chunk) {
        request.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        request.extend_from_slice(piece);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    request
}

#[test]
fn a_body_of_exactly_max_body_bytes_is_served_either_way_it_is_framed() {
    let server = TestServer::start(app(Limits { max_body: 1000, ..Limits::default() }));
    let body = vec![b'b'; 1000];
    let mut client = server.client();
    client.send(post("/echo", &body));
    assert_eq!(client.response().body, body);
    client.send(chunked("/echo", &body, 300));
    assert_eq!(client.response().body, body);
}

#[test]
fn a_declared_length_over_max_body_is_refused_with_413_before_the_body_is_read() {
    let server = TestServer::start(app(Limits { max_body: 1000, ..Limits::default() }));
    let mut client = server.client();
    // Only the head is sent: the answer must not wait for the body.
    client.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 1001\r\n\r\n");
    assert_eq!(client.response().text(), refusal("413 Content Too Large", None));
    client.assert_closed();
}

#[test]
fn the_default_body_limit_is_1_mib() {
    let server = TestServer::start(app(Limits::default()));
    let mut client = server.client();
    client.send(format!("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\n\r\n", 1024 * 1024 + 1));
    assert_eq!(client.response().text(), refusal("413 Content Too Large", None));
    client.assert_closed();
}

#[test]
fn a_chunked_body_over_max_body_is_refused_with_413_and_closed_when_the_handler_reads_it() {
    let server = TestServer::start(app(Limits { max_body: 1000, ..Limits::default() }));
    let mut client = server.client();
    client.send(chunked("/echo", &[b'b'; 1001], 300));
    assert_eq!(client.response().text(), refusal("413 Content Too Large", None));
    client.assert_closed();
}

#[test]
fn a_chunked_body_over_max_body_is_refused_with_413_and_closed_when_the_handler_ignores_it() {
    let server = TestServer::start(app(Limits { max_body: 1000, ..Limits::default() }));
    let mut client = server.client();
    client.send(chunked("/ignore", &[b'b'; 1001], 300));
    assert_eq!(client.response().text(), refusal("413 Content Too Large", None));
    client.assert_closed();
}

// ----- Time to send a head: 408 (slowloris) ---------------------------------

#[test]
fn a_head_not_finished_within_head_timeout_gets_408_at_that_moment_and_a_close() {
    run_paused(|| async {
        let server = bind(app(Limits::default())).await;
        let mut client = AsyncClient::connect(server.local_addr()).await;
        let start = Instant::now();
        client.send("GET / HTTP/1.1\r\nHost: a\r\n").await;
        let early = time::timeout(Duration::from_millis(9_990), client.read_some()).await;
        assert!(early.is_err(), "the server answered before the head timeout");
        let reply = client.response().await;
        assert_elapsed(start.elapsed(), Duration::from_secs(10));
        assert_eq!(reply.text(), refusal("408 Request Timeout", None));
        client.assert_closed().await;
        server.shutdown().await.unwrap();
    });
}

#[test]
fn a_head_trickled_a_byte_a_second_gets_408_ten_seconds_after_its_first_byte() {
    run_paused(|| async {
        let server = bind(app(Limits::default())).await;
        let mut client = AsyncClient::connect(server.local_addr()).await;
        let start = Instant::now();
        let head = head_of_len(100);
        let trickle = async {
            for byte in head.as_bytes() {
                client.send([*byte]).await;
                time::sleep(Duration::from_secs(1)).await;
            }
        };
        // The trickle would take 100 s; the server cuts it off at 10 s.
        let _ = time::timeout(Duration::from_millis(10_500), trickle).await;
        let reply = client.response().await;
        assert_eq!(reply.text(), refusal("408 Request Timeout", None));
        assert!(start.elapsed() <= Duration::from_millis(10_500));
        client.assert_closed().await;
    });
}

#[test]
fn a_slow_head_finished_within_head_timeout_is_served() {
    run_paused(|| async {
        let server = bind(app(Limits::default())).await;
        let mut client = AsyncClient::connect(server.local_addr()).await;
        client.send("GET / HTTP/1.1\r\n").await;
        time::sleep(Duration::from_millis(9_900)).await;
        client.send("Host: a\r\n\r\n").await;
        assert_eq!(client.response().await.text(), ok("root"));
    });
}

#[test]
fn the_head_timeout_counts_from_the_first_byte_of_each_request_not_from_the_connection() {
    run_paused(|| async {
        let server = bind(app(Limits::default())).await;
        let mut client = AsyncClient::connect(server.local_addr()).await;
        // Idle for longer than the head timeout (but within keep-alive)
        // between requests costs nothing.
        for _ in 0..3 {
            client.send(get("/")).await;
            assert_eq!(client.response().await.text(), ok("root"));
            time::sleep(Duration::from_secs(30)).await;
        }
        let start = Instant::now();
        client.send("GET / HTTP/1.1\r\n").await;
        let reply = client.response().await;
        assert_elapsed(start.elapsed(), Duration::from_secs(10));
        assert_eq!(reply.status, 408);
    });
}

#[test]
fn the_head_timeout_is_settable() {
    run_paused(|| async {
        let limits = Limits { head_timeout: Duration::from_secs(2), ..Limits::default() };
        let server = bind(app(limits)).await;
        let mut client = AsyncClient::connect(server.local_addr()).await;
        let start = Instant::now();
        client.send("G").await;
        let reply = client.response().await;
        assert_elapsed(start.elapsed(), Duration::from_secs(2));
        assert_eq!(reply.text(), refusal("408 Request Timeout", None));
    });
}

// ----- Keep-alive idle time ----------------------------------------------------

#[test]
fn an_idle_keep_alive_connection_is_closed_after_keep_alive_without_a_response() {
    run_paused(|| async {
        let server = bind(app(Limits::default())).await;
        let mut client = AsyncClient::connect(server.local_addr()).await;
        client.send(get("/")).await;
        assert_eq!(client.response().await.text(), ok("root"));
        let start = Instant::now();
        client.assert_closed().await;
        assert_elapsed(start.elapsed(), Duration::from_secs(60));
    });
}

#[test]
fn a_fresh_connection_that_sends_nothing_is_closed_after_head_timeout_not_keep_alive() {
    // It has not earned a keep-alive period: silent connections must not
    // hold slots under the connection cap for a minute each.
    run_paused(|| async {
        let limits = Limits { head_timeout: Duration::from_secs(3), ..Limits::default() };
        let server = bind(app(limits)).await;
        let mut client = AsyncClient::connect(server.local_addr()).await;
        let start = Instant::now();
        client.assert_closed().await;
        assert_elapsed(start.elapsed(), Duration::from_secs(3));
    });
}

#[test]
fn each_request_restarts_the_keep_alive_clock() {
    run_paused(|| async {
        let server = bind(app(Limits::default())).await;
        let mut client = AsyncClient::connect(server.local_addr()).await;
        client.send(get("/")).await;
        assert_eq!(client.response().await.text(), ok("root"));
        for _ in 0..5 {
            time::sleep(Duration::from_secs(59)).await;
            client.send(get("/")).await;
            assert_eq!(client.response().await.text(), ok("root"));
        }
        let start = Instant::now();
        client.assert_closed().await;
        assert_elapsed(start.elapsed(), Duration::from_secs(60));
    });
}

#[test]
fn a_keep_alive_shorter_than_head_timeout_closes_an_idle_connection_on_time() {
    // The first wait's timer is armed for head_timeout; the keep-alive wait
    // after the request must pull it in, not keep the later one.
    run_paused(|| async {
        let limits = Limits {
            keep_alive: Duration::from_secs(2),
            head_timeout: Duration::from_secs(30),
            ..Limits::default()
        };
        let server = bind(app(limits)).await;
        let mut client = AsyncClient::connect(server.local_addr()).await;
        client.send(get("/")).await;
        assert_eq!(client.response().await.text(), ok("root"));
        let start = Instant::now();
        client.assert_closed().await;
        assert_elapsed(start.elapsed(), Duration::from_secs(2));
    });
}

#[test]
fn a_keep_alive_under_a_second_restarts_per_request_and_closes_on_time() {
    // Shorter than the margin within which a kept keep-alive timer is
    // polled rather than trusted: every wait looks at the wheel.
    run_paused(|| async {
        let limits = Limits { keep_alive: Duration::from_millis(500), ..Limits::default() };
        let server = bind(app(limits)).await;
        let mut client = AsyncClient::connect(server.local_addr()).await;
        for _ in 0..3 {
            client.send(get("/")).await;
            assert_eq!(client.response().await.text(), ok("root"));
            time::sleep(Duration::from_millis(400)).await;
        }
        client.send(get("/")).await;
        assert_eq!(client.response().await.text(), ok("root"));
        let start = Instant::now();
        client.assert_closed().await;
        assert_elapsed(start.elapsed(), Duration::from_millis(500));
    });
}

#[test]
fn a_partial_head_after_a_keep_alive_wait_gets_its_own_head_timeout() {
    // The keep-alive wait's timer (60 s) is kept between requests; a head
    // that then stops halfway must still get its 408 at head_timeout.
    run_paused(|| async {
        let limits = Limits { head_timeout: Duration::from_secs(3), ..Limits::default() };
        let server = bind(app(limits)).await;
        let mut client = AsyncClient::connect(server.local_addr()).await;
        client.send(get("/")).await;
        assert_eq!(client.response().await.text(), ok("root"));
        time::sleep(Duration::from_secs(10)).await;
        let start = Instant::now();
        client.send("GET / HTTP/1.1\r\nHost: a\r\n").await;
        let reply = client.response().await;
        assert_elapsed(start.elapsed(), Duration::from_secs(3));
        assert_eq!(reply.text(), refusal("408 Request Timeout", None));
        client.assert_closed().await;
    });
}

// ----- Time to send a body --------------------------------------------------

#[test]
fn a_body_that_stops_arriving_gets_408_after_io_timeout_and_a_close() {
    run_paused(|| async {
        let limits = Limits { io_timeout: Duration::from_secs(5), ..Limits::default() };
        let server = bind(app(limits)).await;
        let mut client = AsyncClient::connect(server.local_addr()).await;
        let start = Instant::now();
        client.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nhalf").await;
        let reply = client.response().await;
        assert_elapsed(start.elapsed(), Duration::from_secs(5));
        assert_eq!(reply.text(), refusal("408 Request Timeout", None));
        client.assert_closed().await;
    });
}

/// Sends `head`, then one body byte every `every` (each within the I/O
/// timeout) until the server answers; returns the answer and when it came.
async fn trickle_body(client: &mut AsyncClient, head: &str, every: Duration) -> (Reply, Duration) {
    let start = Instant::now();
    client.send(head).await;
    loop {
        if let Ok(reply) = time::timeout(every, client.response()).await {
            return (reply, start.elapsed());
        }
        client.send("x").await;
    }
}

#[test]
fn a_body_trickled_within_io_timeout_per_byte_gets_408_at_body_timeout() {
    // One byte every 4 s never trips the 5 s I/O timeout; without a total
    // deadline the 1000-byte body would hold the handler for over an hour.
    run_paused(|| async {
        let limits = Limits {
            io_timeout: Duration::from_secs(5),
            body_timeout: Duration::from_secs(30),
            ..Limits::default()
        };
        let server = bind(app(limits)).await;
        let mut client = AsyncClient::connect(server.local_addr()).await;
        let head = "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n";
        let (reply, elapsed) = trickle_body(&mut client, head, Duration::from_secs(4)).await;
        assert_eq!(reply.text(), refusal("408 Request Timeout", None));
        assert_elapsed(elapsed, Duration::from_secs(30));
        client.assert_closed().await;
    });
}

#[test]
fn an_ignored_body_trickled_within_io_timeout_per_byte_is_cut_off_at_body_timeout() {
    run_paused(|| async {
        let limits = Limits {
            io_timeout: Duration::from_secs(5),
            body_timeout: Duration::from_secs(30),
            ..Limits::default()
        };
        let server = bind(app(limits)).await;
        let mut client = AsyncClient::connect(server.local_addr()).await;
        let head = "POST /ignore HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n";
        let (reply, _) = trickle_body(&mut client, head, Duration::from_secs(4)).await;
        assert_eq!(reply.text(), ok("ignored"));
        let start = Instant::now();
        loop {
            match time::timeout(Duration::from_secs(4), client.read_some()).await {
                Ok(Ok(0)) => break,
                Ok(result) => panic!("expected a close, got {result:?}"),
                Err(_) => client.send("x").await,
            }
        }
        assert_elapsed(start.elapsed(), Duration::from_secs(30));
    });
}

#[test]
fn a_body_that_arrives_within_body_timeout_is_served() {
    run_paused(|| async {
        let limits = Limits {
            io_timeout: Duration::from_secs(5),
            body_timeout: Duration::from_secs(30),
            ..Limits::default()
        };
        let server = bind(app(limits)).await;
        let mut client = AsyncClient::connect(server.local_addr()).await;
        let head = "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 7\r\n\r\n";
        let (reply, elapsed) = trickle_body(&mut client, head, Duration::from_secs(4)).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert_eq!(reply.body_text(), "xxxxxxx");
        assert_elapsed(elapsed, Duration::from_secs(28));
    });
}

#[test]
fn an_unread_body_that_stops_arriving_closes_the_connection_after_io_timeout() {
    run_paused(|| async {
        let limits = Limits { io_timeout: Duration::from_secs(5), ..Limits::default() };
        let server = bind(app(limits)).await;
        let mut client = AsyncClient::connect(server.local_addr()).await;
        let start = Instant::now();
        client.send("POST /ignore HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nhalf").await;
        // The handler's answer does not wait for the body it ignored.
        assert_eq!(client.response().await.text(), ok("ignored"));
        assert_eq!(start.elapsed(), Duration::ZERO);
        client.assert_closed().await;
        assert_elapsed(start.elapsed(), Duration::from_secs(5));
    });
}

#[test]
fn the_answer_to_a_request_whose_body_the_handler_ignored_goes_before_the_body_is_drained() {
    run_paused(|| async {
        let server = bind(app(Limits::default())).await;
        let mut client = AsyncClient::connect(server.local_addr()).await;
        let start = Instant::now();
        client.send("POST /ignore HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nhalf").await;
        assert_eq!(client.response().await.text(), ok("ignored"));
        assert_eq!(start.elapsed(), Duration::ZERO);
        // The rest of the body comes later; it is drained, never taken for
        // a request, and the connection goes on.
        time::sleep(Duration::from_secs(30)).await;
        client.send(format!("{}{}", "GET / ", get("/"))).await;
        assert_eq!(client.response().await.text(), ok("root"));
    });
}

/// Pipelined GETs of exactly `total` bytes, the last one cut `cut` bytes
/// short of its end; returns the bytes and how many requests are complete.
fn pipeline_of_exactly(total: usize, cut: usize) -> (String, usize) {
    let mut requests = String::new();
    let mut complete = 0;
    loop {
        let next = get(&format!("/{complete}"));
        let room = total - requests.len();
        if next.len() + 40 > room {
            // Pad the last request's path so it ends exactly at `total`.
            let base = get("/").len();
            let last = get(&format!("/{}", "p".repeat(room + cut - base)));
            requests.push_str(&last[..last.len() - cut]);
            assert_eq!(requests.len(), total);
            return (requests, complete + usize::from(cut == 0));
        }
        requests.push_str(&next);
        complete += 1;
    }
}

#[test]
fn the_keep_alive_timeout_holds_after_a_read_that_exactly_filled_the_buffer() {
    // 16 KiB is the read buffer with the default limits: a read that fills
    // it leaves the socket marked readable with nothing left to read.
    run_paused(|| async {
        let server = bind(app(Limits { keep_alive: Duration::from_secs(5), ..Limits::default() })).await;
        let mut client = AsyncClient::connect(server.local_addr()).await;
        let (requests, complete) = pipeline_of_exactly(16 * 1024, 0);
        client.send(&requests).await;
        for _ in 0..complete {
            assert_eq!(client.response().await.status, 200);
        }
        let start = Instant::now();
        client.assert_closed().await;
        assert_elapsed(start.elapsed(), Duration::from_secs(5));
    });
}

#[test]
fn the_head_timeout_holds_after_a_read_that_exactly_filled_the_buffer() {
    run_paused(|| async {
        let server = bind(app(Limits::default())).await;
        let mut client = AsyncClient::connect(server.local_addr()).await;
        let (requests, complete) = pipeline_of_exactly(16 * 1024, 10);
        let start = Instant::now();
        client.send(&requests).await;
        for _ in 0..complete {
            assert_eq!(client.response().await.status, 200);
        }
        assert_eq!(client.response().await.text(), refusal("408 Request Timeout", None));
        assert_elapsed(start.elapsed(), Duration::from_secs(10));
    });
}

#[test]
fn an_idle_connection_after_a_read_that_exactly_filled_the_buffer_closes_at_shutdown() {
    run_paused(|| async {
        let server = bind(app(Limits::default())).await;
        let mut client = AsyncClient::connect(server.local_addr()).await;
        let (requests, complete) = pipeline_of_exactly(16 * 1024, 0);
        client.send(&requests).await;
        for _ in 0..complete {
            assert_eq!(client.response().await.status, 200);
        }
        let start = Instant::now();
        let shutdown = eddy::spawn(server.shutdown());
        client.assert_closed().await;
        assert_eq!(start.elapsed(), Duration::ZERO);
        drop(client);
        shutdown.await.unwrap().unwrap();
        assert_eq!(start.elapsed(), Duration::ZERO);
    });
}

#[test]
fn an_unfinished_target_just_past_the_default_limit_is_refused_with_414_not_431() {
    // 8 KiB + 9 bytes of target and no line end yet: the head is past
    // 8 KiB too, but the target is what is too long.
    let server = TestServer::start(app(Limits::default()));
    let mut client = server.client();
    client.send(format!("GET /{}", "n".repeat(8 * 1024 + 8)));
    assert_eq!(client.response().text(), refusal("414 URI Too Long", None));
    client.assert_closed();
}
