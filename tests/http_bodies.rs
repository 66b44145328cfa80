//! Request bodies: framed by `Content-Length` or chunked, read whole or
//! streamed as they arrive, drained when the handler ignores them (never
//! parsed as the next request), refused with 400 and a close when the
//! chunked framing breaks, and `Expect: 100-continue`.

mod http_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use eddy_http::{App, Request, Response};
use http_support::{get, ok, refusal, reply, TestServer};

/// Apps whose `/smuggled` route counts its calls: no body may reach it.
struct Bodies {
    server: TestServer,
    smuggled: Arc<AtomicUsize>,
}

impl Bodies {
    fn start() -> Bodies {
        let smuggled = Arc::new(AtomicUsize::new(0));
        let counter = smuggled.clone();
        let app = App::new()
            .get("/", |_req| async { "root" })
            .get("/smuggled", move |_req| {
                counter.fetch_add(1, Ordering::SeqCst);
                async { "smuggled!" }
            })
            .post("/echo", |mut req: Request| async move {
                let declared = req.body_mut().declared_length();
                match req.bytes().await {
                    Ok(body) => Response::bytes(body).with_header("X-Declared", format!("{declared:?}")),
                    Err(error) => error.into(),
                }
            })
            .post("/text", |mut req: Request| async move {
                match req.text_body().await {
                    Ok(text) => Response::text(format!("text: {text}")),
                    Err(error) => error.into(),
                }
            })
            .post("/ignore", |_req| async { "ignored" })
            .post("/half", |mut req: Request| async move {
                // Reads three bytes and leaves the rest for the server.
                let mut three = [0; 3];
                let mut got = 0;
                while got < 3 {
                    match req.body_mut().read(&mut three[got..]).await {
                        Ok(0) => break,
                        Ok(n) => got += n,
                        Err(error) => return error.into(),
                    }
                }
                Response::bytes(three[..got].to_vec())
            });
        Bodies { server: TestServer::start(app), smuggled }
    }

    fn assert_nothing_smuggled(&self) {
        assert_eq!(self.smuggled.load(Ordering::SeqCst), 0, "a request inside a body was answered");
    }
}

fn post(path: &str, body: &str) -> String {
    format!("POST {path} HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\n\r\n{body}", body.len())
}

fn chunked_head(path: &str) -> String {
    format!("POST {path} HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
}

fn bytes_reply(body: &str, declared: &str) -> String {
    reply("200 OK", &[&format!("X-Declared: {declared}")], body, None)
        .replace("text/plain; charset=utf-8", "application/octet-stream")
}

#[test]
fn a_content_length_body_is_read_and_the_next_request_follows_on_the_same_connection() {
    let bodies = Bodies::start();
    let mut client = bodies.server.client();
    client.send(post("/echo", "hello, body"));
    assert_eq!(client.response().text(), bytes_reply("hello, body", "Some(11)"));
    client.send(get("/"));
    assert_eq!(client.response().text(), ok("root"));
}

#[test]
fn a_chunked_body_is_decoded_extensions_and_trailers_skipped_and_the_next_request_follows() {
    let bodies = Bodies::start();
    let mut client = bodies.server.client();
    client.send(format!(
        "{}5\r\nhello\r\n7;name=value\r\n, world\r\nA\r\n!!!!!!!!!!\r\n0\r\nX-Trailer: t\r\n\r\n{}",
        chunked_head("/echo"),
        get("/")
    ));
    assert_eq!(client.response().text(), bytes_reply("hello, world!!!!!!!!!!", "None"));
    assert_eq!(client.response().text(), ok("root"));
}

#[test]
fn an_empty_chunked_body_is_empty() {
    let bodies = Bodies::start();
    let mut client = bodies.server.client();
    client.send(format!("{}0\r\n\r\n", chunked_head("/echo")));
    assert_eq!(client.response().text(), bytes_reply("", "None"));
    client.send(post("/echo", ""));
    assert_eq!(client.response().text(), bytes_reply("", "Some(0)"));
}

#[test]
fn a_body_sent_after_the_head_in_pieces_is_read_whole() {
    let bodies = Bodies::start();
    let mut client = bodies.server.client();
    client.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n");
    client.send("01234");
    client.send_bytewise("56789");
    assert_eq!(client.response().body, b"0123456789");
    let mut request = chunked_head("/echo");
    request.push_str("4\r\nabcd\r\n3\r\nefg\r\n0\r\n\r\n");
    client.send_bytewise(request);
    assert_eq!(client.response().body, b"abcdefg");
}

#[test]
fn a_body_larger_than_the_read_buffer_arrives_intact() {
    let bodies = Bodies::start();
    let body: Vec<u8> = (0..300_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let mut client = bodies.server.client();
    let mut request =
        format!("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
    request.extend_from_slice(&body);
    client.send(&request);
    assert_eq!(client.response().body, body);
    let mut request = chunked_head("/echo").into_bytes();
    for piece in body.chunks(7_000) {
        request.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        request.extend_from_slice(piece);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    client.send(&request);
    assert_eq!(client.response().body, body);
}

#[test]
fn a_body_that_is_not_utf8_is_a_400_from_text_body() {
    let bodies = Bodies::start();
    let mut client = bodies.server.client();
    client.send(b"POST /text HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n\xff\xfe");
    assert_eq!(
        client.response().text(),
        reply(
            "400 Bad Request",
            &[],
            "400 Bad Request: malformed request body: body is not valid UTF-8\n",
            None
        )
    );
    client.send(get("/"));
    assert_eq!(client.response().text(), ok("root"));
}

#[test]
fn an_unread_content_length_body_is_drained_not_parsed_as_the_next_request() {
    let bodies = Bodies::start();
    let mut client = bodies.server.client();
    let inner = get("/smuggled");
    client.send(format!("{}{}", post("/ignore", &inner), get("/")));
    assert_eq!(client.response().text(), ok("ignored"));
    assert_eq!(client.response().text(), ok("root"));
    bodies.assert_nothing_smuggled();
}

#[test]
fn an_unread_chunked_body_is_drained_not_parsed_as_the_next_request() {
    let bodies = Bodies::start();
    let mut client = bodies.server.client();
    let inner = get("/smuggled");
    client.send(format!("{}{:x}\r\n{inner}\r\n0\r\n\r\n{}", chunked_head("/ignore"), inner.len(), get("/")));
    assert_eq!(client.response().text(), ok("ignored"));
    assert_eq!(client.response().text(), ok("root"));
    bodies.assert_nothing_smuggled();
}

#[test]
fn the_rest_of_a_partly_read_body_is_drained() {
    let bodies = Bodies::start();
    let mut client = bodies.server.client();
    let inner = get("/smuggled");
    client.send(format!("{}{}", post("/half", &format!("abc{inner}")), get("/")));
    assert_eq!(client.response().body, b"abc");
    assert_eq!(client.response().text(), ok("root"));
    bodies.assert_nothing_smuggled();
}

#[test]
fn a_body_sent_to_an_unknown_path_is_drained_and_the_connection_kept() {
    let bodies = Bodies::start();
    let mut client = bodies.server.client();
    let inner = get("/smuggled");
    client.send(format!("{}{}", post("/nowhere", &inner), get("/")));
    assert_eq!(client.response().text(), reply("404 Not Found", &[], "404 Not Found\n", None));
    assert_eq!(client.response().text(), ok("root"));
    client.send(format!("{}{}", post("/smuggled", &inner), get("/")));
    assert_eq!(client.response().status, 405);
    assert_eq!(client.response().text(), ok("root"));
    bodies.assert_nothing_smuggled();
}

#[test]
fn a_bad_chunk_while_the_handler_reads_is_a_400_and_a_close() {
    let bodies = Bodies::start();
    let mut client = bodies.server.client();
    client.send(format!("{}5\r\nhello\r\nnot-hex\r\n{}", chunked_head("/echo"), get("/smuggled")));
    assert_eq!(client.response().text(), refusal("400 Bad Request", Some("invalid chunk size")));
    client.assert_closed();
    bodies.assert_nothing_smuggled();
}

#[test]
fn a_bad_chunk_while_the_server_drains_is_a_400_and_a_close() {
    let bodies = Bodies::start();
    let mut client = bodies.server.client();
    client.send(format!("{}5\r\nhelloX\r\n{}", chunked_head("/ignore"), get("/smuggled")));
    assert_eq!(
        client.response().text(),
        refusal("400 Bad Request", Some("chunked body line not ended by CRLF"))
    );
    client.assert_closed();
    bodies.assert_nothing_smuggled();
}

#[test]
fn a_body_cut_short_by_the_client_closing_is_a_400_and_a_close() {
    let bodies = Bodies::start();
    let mut client = bodies.server.client();
    client.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nonly this");
    client.half_close();
    assert_eq!(
        client.response().text(),
        reply(
            "400 Bad Request",
            &[],
            "400 Bad Request: the client closed the connection before the body was complete\n",
            Some("close")
        )
    );
    client.assert_closed();
    let mut other = bodies.server.client();
    other.send(get("/"));
    assert_eq!(other.response().text(), ok("root"));
}

#[test]
fn a_body_read_one_byte_at_a_time_is_whole_and_the_next_request_follows() {
    let app = App::new().get("/", |_req| async { "root" }).post("/bytewise", |mut req: Request| async move {
        let mut body = Vec::new();
        let mut byte = [0; 1];
        loop {
            match req.body_mut().read(&mut byte).await {
                Ok(0) => break,
                Ok(_) => body.push(byte[0]),
                Err(error) => return error.into(),
            }
        }
        Response::bytes(body)
    });
    let server = TestServer::start(app);
    let mut client = server.client();
    client.send(format!("{}{}", post("/bytewise", "by length"), get("/")));
    assert_eq!(client.response().body, b"by length");
    assert_eq!(client.response().text(), ok("root"));
    client.send(format!("{}3\r\nby \r\n6\r\nchunks\r\n0\r\n\r\n{}", chunked_head("/bytewise"), get("/")));
    assert_eq!(client.response().body, b"by chunks");
    assert_eq!(client.response().text(), ok("root"));
}

// ----- Streaming ---------------------------------------------------------------

#[test]
fn a_handler_receives_body_chunks_as_they_arrive_not_all_at_the_end() {
    // The handler reports each chunk it gets; the test sends the next piece
    // only after hearing about the previous one, so a server that waited
    // for the whole body would deadlock (and fail on the timeout) here.
    let (tx, rx) = mpsc::channel::<usize>();
    let tx = Mutex::new(tx);
    let app = App::new().post("/stream", move |mut req: Request| {
        let tx = tx.lock().unwrap().clone();
        async move {
            let mut sizes = Vec::new();
            loop {
                match req.body_mut().chunk().await {
                    Ok(Some(chunk)) => {
                        sizes.push(chunk.len().to_string());
                        tx.send(chunk.len()).unwrap();
                    }
                    Ok(None) => break,
                    Err(error) => return error.into(),
                }
            }
            Response::text(sizes.join(","))
        }
    });
    let server = TestServer::start(app);
    let mut client = server.client();
    client.send("POST /stream HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
    for piece in ["first", "second!", "third..."] {
        client.send(format!("{:x}\r\n{piece}\r\n", piece.len()));
        let got = rx.recv_timeout(Duration::from_secs(10)).expect("the handler did not get the chunk");
        assert_eq!(got, piece.len());
    }
    client.send("0\r\n\r\n");
    assert_eq!(client.response().text(), ok("5,7,8"));
}

#[test]
fn a_streamed_content_length_body_comes_in_pieces_of_at_most_16_kib() {
    let app = App::new().post("/sizes", |mut req: Request| async move {
        let mut total = 0;
        let mut largest = 0;
        while let Some(chunk) = req.body_mut().chunk().await.transpose() {
            match chunk {
                Ok(chunk) => {
                    total += chunk.len();
                    largest = largest.max(chunk.len());
                }
                Err(error) => return error.into(),
            }
        }
        Response::text(format!("total {total}, largest {largest}"))
    });
    let server = TestServer::start(app);
    let mut client = server.client();
    let body = vec![b'x'; 100_000];
    let mut request =
        format!("POST /sizes HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
    request.extend_from_slice(&body);
    client.send(&request);
    let text = client.response().body_text();
    assert!(text.starts_with("total 100000, largest "), "{text}");
    let largest: usize = text.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(largest > 0 && largest <= 16 * 1024, "{text}");
}

// ----- Expect: 100-continue -------------------------------------------------------

const CONTINUE: &str = "HTTP/1.1 100 Continue\r\n\r\n";

#[test]
fn expect_100_continue_gets_100_before_the_body_is_sent_then_the_answer() {
    let bodies = Bodies::start();
    let mut client = bodies.server.client();
    client.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    assert_eq!(client.response().text(), CONTINUE);
    client.send("hello");
    assert_eq!(client.response().text(), bytes_reply("hello", "Some(5)"));
    client.send(get("/"));
    assert_eq!(client.response().text(), ok("root"));
}

#[test]
fn expect_100_continue_with_a_chunked_body_works_the_same() {
    let bodies = Bodies::start();
    let mut client = bodies.server.client();
    client
        .send("POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nExpect: 100-Continue\r\n\r\n");
    assert_eq!(client.response().text(), CONTINUE);
    client.send("3\r\nabc\r\n0\r\n\r\n");
    assert_eq!(client.response().body, b"abc");
}

#[test]
fn expect_100_continue_for_a_body_the_handler_ignores_gets_the_answer_and_a_close_without_100() {
    let bodies = Bodies::start();
    let mut client = bodies.server.client();
    client.send("POST /ignore HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    assert_eq!(client.response().text(), reply("200 OK", &[], "ignored", Some("close")));
    client.assert_closed();
}

#[test]
fn expect_100_continue_without_a_body_gets_no_100() {
    let bodies = Bodies::start();
    let mut client = bodies.server.client();
    client.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nExpect: 100-continue\r\n\r\n");
    assert_eq!(client.response().text(), bytes_reply("", "Some(0)"));
}

#[test]
fn expect_100_continue_to_an_unknown_path_gets_404_and_a_close_without_100() {
    let bodies = Bodies::start();
    let mut client = bodies.server.client();
    client.send("POST /nowhere HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    assert_eq!(client.response().text(), reply("404 Not Found", &[], "404 Not Found\n", Some("close")));
    client.assert_closed();
}

#[test]
fn expect_100_continue_with_a_body_over_the_limit_gets_413_without_100() {
    let bodies = Bodies::start();
    let mut client = bodies.server.client();
    client.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 2000000\r\nExpect: 100-continue\r\n\r\n");
    assert_eq!(client.response().text(), refusal("413 Content Too Large", None));
    client.assert_closed();
}

#[test]
fn expect_100_continue_from_an_http10_client_is_ignored() {
    // RFC 9110 §10.1.1: HTTP/1.0 has no 1xx responses to expect.
    let bodies = Bodies::start();
    let mut client = bodies.server.client();
    client.send("POST /echo HTTP/1.0\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello");
    let reply = client.response();
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.body, b"hello");
    client.assert_closed();
}

#[test]
fn a_client_that_sends_the_body_without_waiting_for_100_is_served_too() {
    let bodies = Bodies::start();
    let mut client = bodies.server.client();
    client.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello");
    assert_eq!(client.response().text(), CONTINUE);
    assert_eq!(client.response().body, b"hello");
    client.send(get("/"));
    assert_eq!(client.response().text(), ok("root"));
}

#[test]
fn a_100_continue_never_overtakes_the_answers_to_earlier_pipelined_requests() {
    let bodies = Bodies::start();
    let mut client = bodies.server.client();
    client.send(format!(
        "{}POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello",
        get("/")
    ));
    assert_eq!(client.response().text(), ok("root"));
    assert_eq!(client.response().text(), CONTINUE);
    assert_eq!(client.response().body, b"hello");
}
