//! Server-sent events over real sockets: the `text/event-stream` head,
//! each event as one chunk with its exact fields, keep-alive comments at
//! their interval (paused clock), `Last-Event-ID` reaching the handler, and
//! the producer told when the client leaves.

mod http_support;

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use eddy::time::Instant;
use eddy_http::sse::{self, Event, Sse};
use eddy_http::{App, Request, Response, Stream};
use http_support::*;

fn sse_head() -> String {
    streamed_head("text/event-stream", &["Cache-Control: no-cache"], "Transfer-Encoding: chunked")
}

/// `text` as one chunk.
fn chunk(text: &str) -> String {
    format!("{:x}\r\n{text}\r\n", text.len())
}

/// Yields the given events at once, then ends.
struct Events(VecDeque<Event>);

impl Stream for Events {
    type Item = Event;
    fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Event>> {
        Poll::Ready(self.0.pop_front())
    }
}

#[test]
fn events_go_out_one_chunk_each_with_their_fields() {
    let app = App::new().get("/events", |_req: Request| async {
        let events = [
            Event::data("first"),
            Event::data("two\nlines").event("update").id("2"),
            Event::data("x").retry(Duration::from_secs(3)),
            Event::comment("just a comment"),
        ];
        Response::from(Sse::new(Events(events.into_iter().collect())))
    });
    let server = TestServer::start(app);
    let mut client = server.client();
    client.send(get("/events"));
    let expected = sse_head()
        + &chunk("data: first\n\n")
        + &chunk("event: update\nid: 2\ndata: two\ndata: lines\n\n")
        + &chunk("retry: 3000\ndata: x\n\n")
        + &chunk(": just a comment\n\n")
        + "0\r\n\r\n";
    assert_eq!(client.until("0\r\n\r\n"), expected);
}

#[test]
fn the_handler_sees_last_event_id() {
    let app = App::new().get("/events", |req: Request| {
        let resume = sse::last_event_id(&req).unwrap_or("none").to_string();
        async move { Response::from(Sse::new(Events([Event::data(format!("after {resume}"))].into()))) }
    });
    let server = TestServer::start(app);
    let mut client = server.client();
    client.send("GET /events HTTP/1.1\r\nHost: t\r\nLast-Event-ID: 41\r\n\r\n");
    assert_eq!(client.until("0\r\n\r\n"), sse_head() + &chunk("data: after 41\n\n") + "0\r\n\r\n");
    client.send(get("/events"));
    assert_eq!(client.until("0\r\n\r\n"), sse_head() + &chunk("data: after none\n\n") + "0\r\n\r\n");
}

#[test]
fn keep_alive_comments_fill_silences_at_their_interval() {
    run_paused(|| async {
        let app = App::new().get("/events", |_req: Request| async {
            let (mut events, sse) = Sse::channel();
            eddy::spawn(async move {
                // Silent for 25 s, then one event, then silent again.
                eddy::time::sleep(Duration::from_secs(25)).await;
                let _ = events.send(&Event::data("news")).await;
                events.closed().await;
            });
            Response::from(sse.keep_alive(Duration::from_secs(10)))
        });
        let server = bind(app).await;
        let mut client = AsyncClient::connect(server.local_addr()).await;
        let start = Instant::now();
        client.send(get("/events")).await;
        assert_eq!(client.until("\r\n\r\n").await, sse_head());
        let comment = chunk(": keep-alive\n\n");
        assert_eq!(client.until("\n\r\n").await, comment);
        assert_elapsed(start.elapsed(), Duration::from_secs(10));
        assert_eq!(client.until("\n\r\n").await, comment);
        assert_elapsed(start.elapsed(), Duration::from_secs(20));
        assert_eq!(client.until("\n\r\n").await, chunk("data: news\n\n"));
        assert_elapsed(start.elapsed(), Duration::from_secs(25));
        // The event reset the silence: the next comment is 10 s after it.
        assert_eq!(client.until("\n\r\n").await, comment);
        assert_elapsed(start.elapsed(), Duration::from_secs(35));
    });
}

#[test]
fn a_client_that_leaves_fails_the_senders_next_send() {
    let told = Arc::new(AtomicBool::new(false));
    let seen = told.clone();
    let app = App::new().get("/events", move |_req: Request| {
        let seen = seen.clone();
        async move {
            let (mut events, sse) = Sse::channel();
            eddy::spawn(async move {
                events.send(&Event::data("hello")).await.unwrap();
                events.closed().await;
                seen.store(events.send(&Event::data("anyone?")).await.is_err(), Ordering::SeqCst);
            });
            Response::from(sse)
        }
    });
    let server = TestServer::start(app);
    let mut client = server.client();
    client.send(get("/events"));
    client.until("hello\n\n\r\n");
    drop(client);
    wait_until("the sender is told", || told.load(Ordering::SeqCst));
}
