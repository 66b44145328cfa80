//! Pipelining and connection reuse: many requests in one write are all
//! answered, in order, in one write; a request may arrive a byte at a time;
//! a connection serves request after request; HTTP/1.0 closes unless asked
//! to keep alive; `Connection: close` is honoured both ways.

mod http_support;

use eddy_http::{App, Request, Response};
use http_support::{get, ok, parse_all, reply, TestServer};

fn app() -> App {
    App::new()
        .get("/", |_req| async { "root" })
        .get("/{n}", |req: Request| {
            let n = req.param("n").unwrap_or_default().to_string();
            async move { format!("response {n}") }
        })
        .get("/slow/{n}", |req: Request| {
            let n = req.param("n").unwrap_or_default().to_string();
            async move {
                // Pending a few times: the connection must wait for it,
                // in order, while the answers before it go out.
                for _ in 0..3 {
                    eddy::task::yield_now().await;
                }
                format!("slow {n}")
            }
        })
        .get("/woken/{n}", |req: Request| {
            let n = req.param("n").unwrap_or_default().to_string();
            async move {
                // Woken exactly once, by another task, after the server's
                // first look at this handler: the server must be waiting
                // with the task's own waker by then.
                let (wake, woken) = eddy::sync::oneshot::channel();
                eddy::spawn(async move {
                    for _ in 0..3 {
                        eddy::task::yield_now().await;
                    }
                    let _ = wake.send(());
                });
                match woken.await {
                    Ok(()) => format!("woken {n}"),
                    Err(_) => "never woken".to_string(),
                }
            }
        })
        .post("/echo", |mut req: Request| async move {
            match req.bytes().await {
                Ok(body) => Response::bytes(body),
                Err(error) => error.into(),
            }
        })
}

#[test]
fn ten_requests_in_one_write_get_ten_responses_in_order_in_one_read() {
    let server = TestServer::start(app());
    let mut client = server.client();
    let requests: String = (0..10).map(|i| get(&format!("/{i}"))).collect();
    client.send(requests);
    // The server answers them all with one write (about 1.3 KB), which
    // loopback delivers at once: the first read holds all ten.
    let first_read = client.read_once();
    let replies = parse_all(&first_read);
    assert_eq!(replies.len(), 10, "the ten answers did not arrive in one read");
    for (i, reply) in replies.iter().enumerate() {
        assert_eq!(reply.text(), ok(&format!("response {i}")));
    }
}

#[test]
fn a_thousand_pipelined_requests_larger_than_any_buffer_are_all_answered_in_order() {
    let server = TestServer::start(app());
    let mut client = server.client();
    // ~37 KB of requests (more than the 16 KiB read buffer) and ~130 KB
    // of answers (more than the 64 KiB flush threshold).
    let requests: String = (0..1000).map(|i| get(&format!("/{i}"))).collect();
    let writer = {
        let mut stream = client.stream().try_clone().unwrap();
        std::thread::spawn(move || std::io::Write::write_all(&mut stream, requests.as_bytes()))
    };
    for i in 0..1000 {
        assert_eq!(client.response().text(), ok(&format!("response {i}")));
    }
    writer.join().unwrap().unwrap();
}

#[test]
fn a_handler_that_waits_keeps_its_place_in_the_pipeline() {
    let server = TestServer::start(app());
    let mut client = server.client();
    client.send(format!("{}{}{}{}", get("/a"), get("/slow/b"), get("/c"), get("/slow/d")));
    assert_eq!(client.response().text(), ok("response a"));
    assert_eq!(client.response().text(), ok("slow b"));
    assert_eq!(client.response().text(), ok("response c"));
    assert_eq!(client.response().text(), ok("slow d"));
}

#[test]
fn pipelined_requests_with_bodies_and_misses_are_answered_in_order() {
    let server = TestServer::start(app());
    let mut client = server.client();
    client.send(format!(
        "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nonePOST /echo HTTP/1.1\r\nHost: a\r\n\
         Transfer-Encoding: chunked\r\n\r\n3\r\ntwo\r\n0\r\n\r\n{}{}DELETE / HTTP/1.1\r\nHost: a\r\n\r\n{}",
        get("/x/y/z"),
        get("/three"),
        get("/"),
    ));
    assert_eq!(client.response().body, b"one");
    assert_eq!(client.response().body, b"two");
    assert_eq!(client.response().status, 404);
    assert_eq!(client.response().text(), ok("response three"));
    assert_eq!(client.response().status, 405);
    assert_eq!(client.response().text(), ok("root"));
}

#[test]
fn a_request_sent_one_byte_at_a_time_is_served() {
    let server = TestServer::start(app());
    let mut client = server.client();
    client.send_bytewise("GET /bytewise HTTP/1.1\r\nHost: a\r\nX-Some: header\r\n\r\n");
    assert_eq!(client.response().text(), ok("response bytewise"));
    client.send_bytewise("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nbody");
    assert_eq!(client.response().body, b"body");
}

#[test]
fn a_connection_stays_alive_across_a_hundred_requests() {
    let server = TestServer::start(app());
    let mut client = server.client();
    for i in 0..100 {
        client.send(get(&format!("/{i}")));
        assert_eq!(client.response().text(), ok(&format!("response {i}")));
    }
}

#[test]
fn an_http10_request_is_answered_with_connection_close_and_a_close() {
    let server = TestServer::start(app());
    let mut client = server.client();
    client.send(format!("GET /old HTTP/1.0\r\n\r\n{}", get("/never")));
    assert_eq!(client.response().text(), reply("200 OK", &[], "response old", Some("close")));
    client.assert_closed();
}

#[test]
fn an_http10_request_asking_for_keep_alive_is_kept_alive_and_told_so() {
    let server = TestServer::start(app());
    let mut client = server.client();
    for i in 0..3 {
        client.send(format!("GET /{i} HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
        assert_eq!(
            client.response().text(),
            reply("200 OK", &[], &format!("response {i}"), Some("keep-alive"))
        );
    }
    client.send("GET /last HTTP/1.0\r\n\r\n");
    assert_eq!(client.response().text(), reply("200 OK", &[], "response last", Some("close")));
    client.assert_closed();
}

#[test]
fn connection_close_from_the_client_is_answered_with_connection_close_and_a_close() {
    let server = TestServer::start(app());
    let mut client = server.client();
    client.send(format!(
        "{}GET /bye HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n{}",
        get("/1"),
        get("/never")
    ));
    assert_eq!(client.response().text(), ok("response 1"));
    assert_eq!(client.response().text(), reply("200 OK", &[], "response bye", Some("close")));
    client.assert_closed();
}

#[test]
fn connection_close_is_found_among_other_connection_options() {
    let server = TestServer::start(app());
    let mut client = server.client();
    client.send("GET / HTTP/1.1\r\nHost: a\r\nConnection: Keep-Alive, CLOSE\r\n\r\n");
    assert_eq!(client.response().text(), reply("200 OK", &[], "root", Some("close")));
    client.assert_closed();
}

#[test]
fn a_head_request_in_a_pipeline_does_not_desynchronise_the_ones_after_it() {
    let server = TestServer::start(app());
    let mut client = server.client();
    client.send(format!("HEAD /h HTTP/1.1\r\nHost: a\r\n\r\n{}", get("/after")));
    let head = client.head_response();
    assert_eq!(head.header("content-length"), Some("10"));
    assert_eq!(client.response().text(), ok("response after"));
}

#[test]
fn blank_lines_between_pipelined_requests_are_ignored() {
    // RFC 9112 §2.2: a server SHOULD ignore at least one empty line before
    // a request line (some clients send CRLF after a POST body).
    let server = TestServer::start(app());
    let mut client = server.client();
    client.send(format!("{}\r\n{}", get("/1"), get("/2")));
    assert_eq!(client.response().text(), ok("response 1"));
    assert_eq!(client.response().text(), ok("response 2"));
}

#[test]
fn the_answers_before_a_waiting_handler_go_out_without_waiting_for_it() {
    // `/wait` finishes only when the test says so, after it has read the
    // answer to the request before it: a server holding that answer back
    // until `/wait` is done would fail here (on the client's timeout).
    let (release, released) = eddy::sync::oneshot::channel::<()>();
    let released = std::sync::Mutex::new(Some(released));
    let app = app().get("/wait", move |_req| {
        let released = released.lock().unwrap().take();
        async move {
            if let Some(released) = released {
                let _ = released.await;
            }
            "waited"
        }
    });
    let server = TestServer::start(app);
    let mut client = server.client();
    client.send(format!("{}{}{}", get("/before"), get("/wait"), get("/after")));
    assert_eq!(client.response().text(), ok("response before"));
    release.send(()).unwrap();
    assert_eq!(client.response().text(), ok("waited"));
    assert_eq!(client.response().text(), ok("response after"));
}

#[test]
fn a_handler_woken_once_by_another_task_is_answered_in_its_place() {
    let server = TestServer::start(app());
    let mut client = server.client();
    client.send(format!("{}{}{}", get("/a"), get("/woken/b"), get("/c")));
    for expected in ["response a", "woken b", "response c"] {
        assert_eq!(client.response().text(), ok(expected));
    }
    // And alone on its connection, with nothing before or after it.
    client.send(get("/woken/d"));
    assert_eq!(client.response().text(), ok("woken d"));
}
