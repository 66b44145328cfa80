//! Strict where RFC 9112 says so: every rule that refuses a request, each
//! answered with a real response (status line, `Date`, `Content-Length`,
//! `Connection: close`) and followed by a close, so that nothing sent after
//! the refused request is ever parsed.
//!
//! Each test sends the bad request and, in the same write, a good request
//! for `/canary`; the canary must never be answered.

mod http_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use eddy_http::{App, Request, Response};
use http_support::{get, ok, refusal, reply, TestServer};

/// A server whose `/canary` route counts its calls, and whose `/echo`
/// route echoes a request body.
struct Strict {
    server: TestServer,
    canaries: Arc<AtomicUsize>,
}

impl Strict {
    fn start() -> Strict {
        let canaries = Arc::new(AtomicUsize::new(0));
        let counter = canaries.clone();
        let app = App::new()
            .get("/", |_req| async { "root" })
            .post("/", |_req| async { "posted" })
            .get("/canary", move |_req| {
                counter.fetch_add(1, Ordering::SeqCst);
                async { "canary" }
            })
            .post("/echo", |mut req: Request| async move {
                match req.bytes().await {
                    Ok(body) => Response::bytes(body),
                    Err(error) => error.into(),
                }
            });
        Strict { server: TestServer::start(app), canaries }
    }

    /// Sends `request` followed by a canary request in one write, and
    /// asserts that the answer is exactly `expected` and then a close.
    fn assert_refused(&self, request: &str, expected: &str) {
        let mut client = self.server.client();
        client.send(format!("{request}{}", get("/canary")));
        let rest = client.rest();
        assert_eq!(
            http_support::parse_all(&rest).iter().map(|r| r.text()).collect::<Vec<_>>(),
            vec![expected.to_string()],
            "for {request:?}"
        );
        assert_eq!(self.canaries.load(Ordering::SeqCst), 0, "the request after {request:?} was answered");
    }
}

fn bad_request(reason: &str) -> String {
    refusal("400 Bad Request", Some(reason))
}

#[test]
fn an_http11_request_without_host_is_refused_with_400_and_closed() {
    Strict::start()
        .assert_refused("GET / HTTP/1.1\r\n\r\n", &bad_request("HTTP/1.1 request without a Host header"));
}

#[test]
fn an_http10_request_without_host_is_served() {
    let strict = Strict::start();
    let mut client = strict.server.client();
    client.send("GET / HTTP/1.0\r\n\r\n");
    assert_eq!(client.response().text(), reply("200 OK", &[], "root", Some("close")));
    client.assert_closed();
}

#[test]
fn two_host_headers_are_refused_with_400() {
    Strict::start().assert_refused(
        "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        &bad_request("more than one Host header"),
    );
}

#[test]
fn two_different_content_lengths_are_refused_with_400_and_closed() {
    let strict = Strict::start();
    strict.assert_refused(
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
        &bad_request("conflicting Content-Length values"),
    );
    strict.assert_refused(
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 4\r\n\r\nabcd",
        &bad_request("conflicting Content-Length values"),
    );
}

#[test]
fn repeated_equal_content_lengths_are_one_length() {
    let strict = Strict::start();
    let mut client = strict.server.client();
    client.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3, 3\r\n\r\nabc");
    assert_eq!(client.response().body, b"abc");
    client.send(get("/"));
    assert_eq!(client.response().text(), ok("root"));
}

#[test]
fn a_content_length_that_is_not_plain_digits_is_refused_with_400() {
    let strict = Strict::start();
    for value in ["+3", "-3", "0x3", "3 3", "3a", "", "99999999999999999999"] {
        strict.assert_refused(
            &format!("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: {value}\r\n\r\nabc"),
            &bad_request("invalid Content-Length"),
        );
    }
}

#[test]
fn content_length_with_transfer_encoding_is_refused_with_400_in_either_order() {
    let strict = Strict::start();
    let expected = bad_request("both Content-Length and Transfer-Encoding");
    strict.assert_refused(
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        &expected,
    );
    strict.assert_refused(
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
        &expected,
    );
}

#[test]
fn transfer_encoding_in_http10_is_refused_with_400_and_closed() {
    Strict::start().assert_refused(
        "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        &bad_request("Transfer-Encoding in an HTTP/1.0 request"),
    );
}

#[test]
fn a_transfer_coding_other_than_chunked_is_refused_with_501() {
    let strict = Strict::start();
    for coding in ["gzip", "gzip, chunked", "identity"] {
        strict.assert_refused(
            &format!("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: {coding}\r\n\r\n"),
            &refusal("501 Not Implemented", Some("transfer coding other than chunked")),
        );
    }
}

#[test]
fn chunked_that_is_not_the_final_coding_is_refused_with_400() {
    let strict = Strict::start();
    let expected = bad_request("chunked must be the final transfer coding");
    strict
        .assert_refused("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", &expected);
    strict.assert_refused(
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
        &expected,
    );
    strict.assert_refused("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \r\n\r\n", &expected);
}

#[test]
fn a_malformed_transfer_encoding_is_refused_with_400() {
    Strict::start().assert_refused(
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \"chunked\"\r\n\r\n",
        &bad_request("invalid Transfer-Encoding"),
    );
}

#[test]
fn a_bad_chunk_size_is_refused_with_400_and_closed() {
    let strict = Strict::start();
    for body in ["zz\r\nhello\r\n0\r\n\r\n", "0x5\r\nhello\r\n0\r\n\r\n", "-5\r\nhello\r\n0\r\n\r\n", "\r\n"]
    {
        strict.assert_refused(
            &format!("POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n{body}"),
            &bad_request("invalid chunk size"),
        );
    }
    // Seventeen hex digits would overflow: refused, not wrapped around.
    strict.assert_refused(
        "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000005\r\nhello\r\n",
        &bad_request("invalid chunk size"),
    );
}

#[test]
fn a_chunk_line_ended_by_a_bare_lf_is_refused_with_400_and_closed() {
    let strict = Strict::start();
    for body in ["5\nhello\r\n0\r\n\r\n", "5\r\nhello\n0\r\n\r\n", "5\r\nhelloXX0\r\n\r\n"] {
        strict.assert_refused(
            &format!("POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n{body}"),
            &bad_request("chunked body line not ended by CRLF"),
        );
    }
}

#[test]
fn a_bad_chunk_in_a_body_the_handler_ignores_is_still_refused_with_400() {
    Strict::start().assert_refused(
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nnope\r\n",
        &bad_request("invalid chunk size"),
    );
}

#[test]
fn an_obs_fold_is_refused_with_400() {
    Strict::start().assert_refused(
        "GET / HTTP/1.1\r\nHost: a\r\nX-Long: one\r\n two\r\n\r\n",
        &bad_request("invalid header field name (whitespace before the colon, or a folded line?)"),
    );
}

#[test]
fn whitespace_before_the_colon_is_refused_with_400() {
    let strict = Strict::start();
    for field in ["Host : a", "Host\t: a", "X-Thing : 1\r\nHost: a"] {
        strict.assert_refused(
            &format!("GET / HTTP/1.1\r\n{field}\r\n\r\n"),
            &bad_request("invalid header field name (whitespace before the colon, or a folded line?)"),
        );
    }
}

#[test]
fn a_control_byte_in_a_field_value_is_refused_with_400() {
    let strict = Strict::start();
    for byte in ["\u{0}", "\u{1}", "\u{1b}", "\u{7f}", "\r"] {
        strict.assert_refused(
            &format!("GET / HTTP/1.1\r\nHost: a\r\nX-Bad: a{byte}b\r\n\r\n"),
            &bad_request("invalid header field value (control character?)"),
        );
    }
}

#[test]
fn a_control_byte_or_separator_in_a_field_name_is_refused_with_400() {
    let strict = Strict::start();
    for name in ["X\u{1}Bad", "X(Bad)", "X\"Bad"] {
        strict.assert_refused(
            &format!("GET / HTTP/1.1\r\nHost: a\r\n{name}: b\r\n\r\n"),
            &bad_request("invalid header field name (whitespace before the colon, or a folded line?)"),
        );
    }
}

#[test]
fn http2_and_other_unknown_versions_are_refused_with_505() {
    let strict = Strict::start();
    let expected = refusal("505 HTTP Version Not Supported", None);
    for version in ["HTTP/2.0", "HTTP/1.2", "HTTP/3", "HTTP/0.9"] {
        strict.assert_refused(&format!("GET / {version}\r\nHost: a\r\n\r\n"), &expected);
    }
    // The HTTP/2 connection preface, sent to an HTTP/1.1 server.
    strict.assert_refused("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", &expected);
}

#[test]
fn a_version_that_is_not_http_is_refused_with_400() {
    let strict = Strict::start();
    for version in ["HTXP/1.1", "http/1.1", "HTTP/one"] {
        strict.assert_refused(
            &format!("GET / {version}\r\nHost: a\r\n\r\n"),
            &bad_request("malformed HTTP version"),
        );
    }
    strict.assert_refused("GET / HTTP/1.1.1\r\nHost: a\r\n\r\n", &bad_request("malformed line ending"));
}

#[test]
fn an_unknown_method_is_refused_with_501() {
    let strict = Strict::start();
    for method in ["BREW", "get", "PROPFIND"] {
        strict.assert_refused(
            &format!("{method} / HTTP/1.1\r\nHost: a\r\n\r\n"),
            &refusal("501 Not Implemented", Some("unknown request method")),
        );
    }
}

#[test]
fn a_malformed_request_line_is_refused_with_400() {
    let strict = Strict::start();
    for line in ["GET  / HTTP/1.1", "G(T / HTTP/1.1", "GET /\u{1} HTTP/1.1", "GET /"] {
        strict.assert_refused(
            &format!("{line}\r\nHost: a\r\n\r\n"),
            &bad_request("invalid method or request line"),
        );
    }
    strict.assert_refused("GET / HTTP/1.1 \r\nHost: a\r\n\r\n", &bad_request("malformed line ending"));
}

#[test]
fn a_space_inside_the_target_is_a_malformed_line_not_an_unsupported_version() {
    // The last field is a fine `HTTP/1.1`: answering 505 would be wrong.
    Strict::start()
        .assert_refused("GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", &bad_request("malformed request line"));
}

#[test]
fn a_tls_client_hello_is_refused_with_400() {
    let strict = Strict::start();
    let mut client = strict.server.client();
    client.send(b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03hello\r\n\r\n");
    let replies = http_support::parse_all(&client.rest());
    assert_eq!(replies.len(), 1);
    http_support::assert_is_refusal(&replies[0], "400 Bad Request");
}

#[test]
fn a_target_that_is_neither_origin_nor_absolute_form_is_refused_with_400() {
    let strict = Strict::start();
    for target in ["*", "test:80", "ftp://test/file", "relative/path"] {
        strict.assert_refused(
            &format!("GET {target} HTTP/1.1\r\nHost: a\r\n\r\n"),
            &bad_request("invalid request target"),
        );
    }
}

#[test]
fn an_unmet_expectation_is_refused_with_417() {
    Strict::start().assert_refused(
        "POST / HTTP/1.1\r\nHost: a\r\nExpect: the-unexpected\r\nContent-Length: 1\r\n\r\nx",
        &refusal("417 Expectation Failed", None),
    );
}

#[test]
fn a_host_with_an_invalid_value_is_refused_with_400() {
    let strict = Strict::start();
    for host in ["a b", "a/b", "user@a", "a?b", "a#b", "a\\b", "a\"b"] {
        strict.assert_refused(
            &format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n"),
            &bad_request("invalid Host header"),
        );
    }
}

#[test]
fn hosts_with_ports_ip_literals_or_no_value_are_served() {
    let strict = Strict::start();
    let mut client = strict.server.client();
    for host in ["example.com", "example.com:8080", "127.0.0.1:80", "[::1]:8080", "xn--bcher-kva.example", ""]
    {
        client.send(format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n"));
        assert_eq!(client.response().text(), ok("root"), "Host: {host}");
    }
}

#[test]
fn chunk_extensions_or_trailers_past_8_kib_are_refused_with_400() {
    let strict = Strict::start();
    let long = "a".repeat(9 * 1024);
    for body in [format!("5;{long}\r\nhello\r\n0\r\n\r\n"), format!("0\r\nX-Trailer: {long}\r\n\r\n")] {
        strict.assert_refused(
            &format!("POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n{body}"),
            &bad_request("chunk extensions or trailers too long"),
        );
    }
}
