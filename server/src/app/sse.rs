//! Server-sent events (`text/event-stream`): a streamed response whose
//! chunks are [`Event`]s, with comment keep-alives.
//!
//! An [`Sse`] is built from a [`Stream`] of events ([`Sse::new`]) or with
//! a sender a task pushes events into ([`Sse::channel`]), and turns into a
//! [`Response`] with `Content-Type: text/event-stream` and `Cache-Control:
//! no-cache`. It is sent like any streamed body (see [`Response::stream`]):
//! chunked, with backpressure, and the producer is dropped (or its sends
//! fail) when the client leaves or the server shuts down.
//!
//! [`Sse::keep_alive`] writes a comment line (`: keep-alive`) whenever
//! that long passes without an event, from an [`eddy::time::Interval`]
//! polled alongside the events: proxies and browsers that drop silent
//! connections keep this one, and a client that left is noticed by the
//! failed write even when no event is due.
//!
//! A reconnecting browser sends the last id it saw as `Last-Event-ID`:
//! [`last_event_id`] reads it.
//!
//! ```no_run
//! use std::time::Duration;
//! use eddy_http::sse::{self, Event, Sse};
//! use eddy_http::{App, Request, Response};
//!
//! async fn ticks(req: Request) -> Response {
//!     let mut n: u64 = sse::last_event_id(&req).and_then(|id| id.parse().ok()).unwrap_or(0);
//!     let (mut events, sse) = Sse::channel();
//!     eddy::spawn(async move {
//!         let mut every_second = eddy::time::interval(Duration::from_secs(1));
//!         loop {
//!             every_second.tick().await;
//!             n += 1;
//!             let event = Event::data(format!("tick {n}")).event("tick").id(n.to_string());
//!             if events.send(&event).await.is_err() {
//!                 return; // client gone or server shutting down
//!             }
//!         }
//!     });
//!     sse.keep_alive(Duration::from_secs(15)).into()
//! }
//! let app = App::new().get("/ticks", ticks);
//! ```

use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use eddy::time::{Interval, MissedTickBehavior};

use crate::app::request::Request;
use crate::app::response::Response;
use crate::app::stream_body::{self, BodyClosed, BodySender, ChunkSource, Stream, StreamBody};

/// One event: `event:`, `id:`, `retry:` and `data:` fields, or a comment.
///
/// ```
/// use eddy_http::sse::Event;
///
/// let event = Event::data("line one\nline two").event("update").id("42");
/// assert_eq!(event.encode(), b"event: update\nid: 42\ndata: line one\ndata: line two\n\n");
/// ```
///
/// Multi-line data becomes one `data:` line per line (any of CRLF, CR, LF
/// ends a line), which the client joins back with `\n`. An event name or
/// id holding CR or LF (or an id holding NUL) would break the stream's
/// framing: it is refused, with an error logged, and the field left out.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Event {
    event: Option<String>,
    id: Option<String>,
    retry: Option<Duration>,
    data: Option<String>,
    comment: Option<String>,
}

impl Event {
    /// An event carrying `data` (its type defaults to `message` on the
    /// client).
    pub fn data(data: impl Into<String>) -> Event {
        Event { data: Some(data.into()), ..Event::default() }
    }

    /// A comment: ignored by clients, useful to keep a connection alive.
    pub fn comment(text: impl Into<String>) -> Event {
        Event { comment: Some(text.into()), ..Event::default() }
    }

    /// Sets the event type (`event:`), which the client dispatches on.
    pub fn event(mut self, name: impl Into<String>) -> Event {
        let name = name.into();
        if name.contains(['\r', '\n']) {
            log::error!("refusing SSE event name {name:?}: a line break would corrupt the stream");
        } else {
            self.event = Some(name);
        }
        self
    }

    /// Sets the id (`id:`), which a reconnecting client sends back as
    /// `Last-Event-ID`.
    pub fn id(mut self, id: impl Into<String>) -> Event {
        let id = id.into();
        if id.contains(['\r', '\n', '\0']) {
            log::error!("refusing SSE event id {id:?}: line breaks and NUL are not allowed in ids");
        } else {
            self.id = Some(id);
        }
        self
    }

    /// Sets the client's reconnection delay (`retry:`, in milliseconds).
    pub fn retry(mut self, delay: Duration) -> Event {
        self.retry = Some(delay);
        self
    }

    /// The event's bytes on the wire, ending with the blank line.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_to(&mut out);
        out
    }

    /// Appends the event's bytes to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        if let Some(comment) = &self.comment {
            write_lines(out, b":", comment);
        }
        if let Some(event) = &self.event {
            write_field(out, b"event", event);
        }
        if let Some(id) = &self.id {
            write_field(out, b"id", id);
        }
        if let Some(retry) = self.retry {
            write_field(out, b"retry", &retry.as_millis().to_string());
        }
        if let Some(data) = &self.data {
            write_lines(out, b"data:", data);
        }
        out.push(b'\n');
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.encode()))
    }
}

fn write_field(out: &mut Vec<u8>, name: &[u8], value: &str) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.push(b'\n');
}

/// One `prefix value` line per line of `text`; CRLF, CR and LF all end a
/// line, as the client parses them.
fn write_lines(out: &mut Vec<u8>, prefix: &[u8], text: &str) {
    let mut rest = text;
    loop {
        let end = rest.find(['\r', '\n']).unwrap_or(rest.len());
        out.extend_from_slice(prefix);
        out.push(b' ');
        out.extend_from_slice(&rest.as_bytes()[..end]);
        out.push(b'\n');
        if end == rest.len() {
            return;
        }
        let skip = if rest[end..].starts_with("\r\n") { 2 } else { 1 };
        rest = &rest[end + skip..];
    }
}

/// The id a reconnecting client last saw (its `Last-Event-ID` header), to
/// resume the stream after it.
pub fn last_event_id(request: &Request) -> Option<&str> {
    request.header("last-event-id")
}

/// A server-sent event stream, ready to become a [`Response`].
pub struct Sse {
    events: Pin<Box<dyn ChunkSource>>,
    keep_alive: Option<Duration>,
}

impl Sse {
    /// Events from a [`Stream`]; the response ends when it does.
    pub fn new<S>(events: S) -> Sse
    where
        S: Stream<Item = Event> + 'static,
    {
        Sse { events: Box::pin(Events(Box::pin(events), Vec::new())), keep_alive: None }
    }

    /// An event stream a task pushes into with the returned
    /// [`EventSender`]; it ends when the sender is dropped.
    pub fn channel() -> (EventSender, Sse) {
        let (sender, source) = stream_body::channel();
        (EventSender { sender, scratch: Vec::new() }, Sse { events: Box::pin(source), keep_alive: None })
    }

    /// Sends a `: keep-alive` comment whenever `every` passes without an
    /// event (the first one `every` after the start).
    pub fn keep_alive(mut self, every: Duration) -> Sse {
        self.keep_alive = Some(every).filter(|every| !every.is_zero());
        self
    }
}

impl From<Sse> for Response {
    fn from(sse: Sse) -> Response {
        let ticker = sse.keep_alive.map(|every| {
            let mut ticker = eddy::time::interval_at(eddy::time::Instant::now() + every, every);
            // One comment after a stall, not a burst of them.
            ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
            ticker
        });
        Response::from_source(StreamBody::new(KeepAlive { events: sse.events, ticker }))
            .with_content_type("text/event-stream")
            .with_header("Cache-Control", "no-cache")
    }
}

impl fmt::Debug for Sse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sse").field("keep_alive", &self.keep_alive).finish()
    }
}

/// The writing end of [`Sse::channel`]; see [`BodySender`] for waiting and
/// closing.
pub struct EventSender {
    sender: BodySender,
    /// Reused to encode each event.
    scratch: Vec<u8>,
}

impl EventSender {
    /// Sends `event`, waiting while the client lags.
    ///
    /// # Errors
    /// [`BodyClosed`] once the response has ended: stop producing.
    pub async fn send(&mut self, event: &Event) -> Result<(), BodyClosed> {
        self.scratch.clear();
        event.write_to(&mut self.scratch);
        let EventSender { sender, scratch } = self;
        sender.send(&scratch[..]).await
    }

    /// Waits until the response has ended (client gone, server shutting
    /// down).
    pub async fn closed(&self) {
        self.sender.closed().await
    }

    /// Whether the response has ended.
    pub fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }
}

impl fmt::Debug for EventSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventSender").field("closed", &self.is_closed()).finish()
    }
}

/// Encodes a stream of events.
struct Events<S>(Pin<Box<S>>, Vec<u8>);

impl<S: Stream<Item = Event>> ChunkSource for Events<S> {
    fn poll_chunk(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        sink: &mut dyn FnMut(&[u8]),
    ) -> Poll<Option<io::Result<()>>> {
        let Events(events, scratch) = &mut *self;
        match std::task::ready!(events.as_mut().poll_next(cx)) {
            Some(event) => {
                scratch.clear();
                event.write_to(scratch);
                sink(scratch);
                Poll::Ready(Some(Ok(())))
            }
            None => Poll::Ready(None),
        }
    }
}

/// Events, with a comment whenever the ticker fires first.
struct KeepAlive {
    events: Pin<Box<dyn ChunkSource>>,
    ticker: Option<Interval>,
}

impl ChunkSource for KeepAlive {
    fn poll_chunk(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        sink: &mut dyn FnMut(&[u8]),
    ) -> Poll<Option<io::Result<()>>> {
        let this = &mut *self;
        if let Poll::Ready(item) = this.events.as_mut().poll_chunk(cx, sink) {
            if let Some(ticker) = &mut this.ticker {
                // An event counts as traffic: the next comment is due a
                // whole period from now.
                ticker.reset();
            }
            return Poll::Ready(item);
        }
        if let Some(ticker) = &mut this.ticker {
            if ticker.poll_tick(cx).is_ready() {
                sink(b": keep-alive\n\n");
                return Poll::Ready(Some(Ok(())));
            }
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(event: &Event) -> String {
        String::from_utf8(event.encode()).unwrap()
    }

    #[test]
    fn data_lines_split_on_every_kind_of_line_break() {
        assert_eq!(text(&Event::data("a\r\nb\rc\nd")), "data: a\ndata: b\ndata: c\ndata: d\n\n");
        assert_eq!(text(&Event::data("")), "data: \n\n");
        assert_eq!(text(&Event::data("end\n")), "data: end\ndata: \n\n");
    }

    #[test]
    fn all_fields_in_order() {
        let event = Event::data("x").event("e").id("7").retry(Duration::from_millis(1500));
        assert_eq!(text(&event), "event: e\nid: 7\nretry: 1500\ndata: x\n\n");
        assert_eq!(text(&Event::comment("hi\nthere")), ": hi\n: there\n\n");
    }

    #[test]
    fn line_breaks_in_names_and_ids_are_refused() {
        let event = Event::data("x").event("evil\ndata: injected").id("1\r\nid: 2").id("ok\0");
        assert_eq!(text(&event), "data: x\n\n");
    }
}
