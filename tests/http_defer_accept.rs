//! `Limits::defer_accept` (Linux's `TCP_DEFER_ACCEPT`): the kernel hands the
//! server a connection only once its first bytes are there, and the server
//! answers it exactly as it answers any other. What a silent client sees
//! (it is held by the kernel, not the server) is the kernel's behaviour,
//! pinned by the unit tests in `server/src/server/socket.rs`.
//!
//! Linux only; elsewhere the option is ignored and the file compiles to
//! nothing.
#![cfg(target_os = "linux")]

mod http_support;

use eddy_http::{App, Limits};
use http_support::{get, ok, TestServer};

fn deferred() -> App {
    App::new().limits(Limits { defer_accept: true, ..Limits::default() }).get("/", |_req| async { "hi" })
}

#[test]
fn a_deferred_listener_answers_each_new_connection_and_keeps_it_alive() {
    let server = TestServer::start(deferred());
    for _ in 0..3 {
        let mut client = server.client();
        client.send(get("/"));
        assert_eq!(client.response().text(), ok("hi"));
        // The connection is an ordinary one from then on.
        client.send(get("/"));
        assert_eq!(client.response().text(), ok("hi"));
    }
    server.shutdown().unwrap();
}

#[test]
fn a_deferred_listener_closes_after_a_connection_close_request() {
    let server = TestServer::start(deferred());
    let mut client = server.client();
    client.send("GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    let reply = client.response();
    assert_eq!(reply.header("connection"), Some("close"));
    client.assert_closed();
    server.shutdown().unwrap();
}
