//! `Response`: status, headers and body, and how a response is written
//! straight into the connection's output buffer.
//!
//! Most responses are a `200` with one of the constructors' content types,
//! no extra headers and a body in memory; writing one is the fast path of
//! [`Response::write_to`]: the loop's rendered head up to the
//! `Content-Length` digits ([`CommonLines::ok_head`]), the digits, the blank
//! line and the body, appended under one capacity check
//! ([`append_response`]). Everything else (other statuses, custom types and
//! headers, streamed bodies) takes the general path, which writes the same
//! bytes the same way piece by piece. Such a response is also small (48
//! bytes, moved a few times between handler and connection) and frees
//! nothing when dropped: what only some responses have lives behind one
//! optional box.

use std::borrow::Cow;
use std::fmt;
use std::io;
use std::mem::ManuallyDrop;

use crate::app::stream_body::{self, BodySender, FromStream, Stream, StreamBody};
use crate::http::append::{append_decimal, append_response, Body, Ending};
use crate::http::date::{CommonLines, KnownType};
use crate::http::status::StatusCode;

/// An HTTP response. Build one with a constructor and the `with_*` methods:
///
/// ```
/// use eddy_http::{Response, StatusCode};
///
/// let hello = Response::text("Hello, Anonymous!");
/// let created = Response::text(format!("created item {}", 7))
///     .with_status(StatusCode::CREATED)
///     .with_header("Location", "/items/7");
/// let gone = Response::empty(StatusCode::NO_CONTENT);
/// assert_eq!(created.status(), StatusCode::CREATED);
/// assert_eq!(created.header("location"), Some("/items/7"));
/// ```
///
/// The server adds `Date`, `Server` (unless the response sets them),
/// `Content-Length` and, when the connection is closing, `Connection:
/// close`. Framing headers (`Content-Length`, `Transfer-Encoding`,
/// `Connection`) are the server's alone: set on a response, they are ignored,
/// so a handler can never make the framing lie.
///
/// A body can also be produced while it is sent: see [`Response::stream`]
/// and [`Response::channel`].
pub struct Response {
    /// Dropped by hand (see `Drop`), like `extra`.
    body: ManuallyDrop<Payload>,
    /// What only some responses have, boxed so that the others stay small
    /// and have nothing here to free.
    extra: ManuallyDrop<Option<Box<Extra>>>,
    status: StatusCode,
    content_type: ContentType,
}

/// The drop glue of the fields, out of line, costs a call and a dozen
/// register saves per response even when there is nothing to free (~30
/// instructions per request, measured); this is one check inline, and the
/// glue only for a response that owns memory.
impl Drop for Response {
    #[inline(always)]
    fn drop(&mut self) {
        if self.extra.is_some() || self.body.owns_memory() {
            self.free();
        }
    }
}

/// A response's content type.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ContentType {
    None,
    /// One whose head the loop keeps rendered.
    Known(KnownType),
    /// Any other, in [`Extra::content_type`].
    Custom,
}

/// The rarer parts of a response.
#[derive(Default)]
struct Extra {
    /// The value of a [`ContentType::Custom`] content type (`None` when the
    /// type is not custom).
    content_type: Option<Cow<'static, str>>,
    /// Headers added with [`Response::with_header`], validated there.
    headers: Vec<(Cow<'static, str>, Cow<'static, str>)>,
}

/// A response body: all of it at once, or produced while it is sent.
enum Payload {
    Full(Cow<'static, [u8]>),
    /// A short body held in the response itself ([`Response::text_parts`]):
    /// no allocation to build it, none to free.
    Inline {
        len: u8,
        bytes: [u8; INLINE_BODY],
    },
    Stream(StreamBody),
}

impl Payload {
    /// An empty body.
    const EMPTY: Payload = Payload::Full(Cow::Borrowed(b""));

    /// Whether dropping this frees anything.
    #[inline(always)]
    fn owns_memory(&self) -> bool {
        !matches!(self, Payload::Inline { .. } | Payload::Full(Cow::Borrowed(_)))
    }
}

/// The longest body [`Response::text_parts`] keeps inline. 30 bytes keep
/// `Payload` at 32 (the size of its other variants plus the tag), so a
/// response moves no more bytes than before; a greeting fits.
const INLINE_BODY: usize = 30;

impl Response {
    /// An empty response with `status`.
    pub fn empty(status: StatusCode) -> Response {
        Response::new(status, ContentType::None, Payload::EMPTY)
    }

    /// `200 OK` with a `text/plain; charset=utf-8` body. A `&'static str`
    /// body is not copied.
    pub fn text(body: impl Into<Cow<'static, str>>) -> Response {
        let body = match body.into() {
            Cow::Borrowed(text) => Cow::Borrowed(text.as_bytes()),
            Cow::Owned(text) => Cow::Owned(text.into_bytes()),
        };
        Response::new(StatusCode::OK, ContentType::Known(KnownType::TextPlain), Payload::Full(body))
    }

    /// `200 OK` with a `text/plain; charset=utf-8` body made of `parts`,
    /// one after the other: what `Response::text(format!(...))` gives for
    /// a body of plain pieces, without the formatting machinery, and
    /// without any allocation when the body is short (up to 30 bytes, kept
    /// in the response itself). Measured under callgrind, the greeting's
    /// `format!` cost ~390 instructions per request and this ~25.
    ///
    /// ```
    /// use eddy_http::{Request, Response};
    ///
    /// async fn hello(req: Request) -> Response {
    ///     let name = req.param("name").unwrap_or("Anonymous");
    ///     Response::text_parts(&["Hello, ", name, "!"])
    /// }
    ///
    /// let response = Response::text_parts(&["Hello, ", "Alice", "!"]);
    /// assert_eq!(response.body(), b"Hello, Alice!");
    /// ```
    #[inline]
    pub fn text_parts(parts: &[&str]) -> Response {
        let len: usize = parts.iter().map(|part| part.len()).sum();
        let body = if len <= INLINE_BODY {
            let mut bytes = [0u8; INLINE_BODY];
            let mut at = 0;
            for part in parts {
                copy_short(&mut bytes[at..at + part.len()], part.as_bytes());
                at += part.len();
            }
            Payload::Inline { len: len as u8, bytes }
        } else {
            Payload::Full(Cow::Owned(parts.concat().into_bytes()))
        };
        Response::new(StatusCode::OK, ContentType::Known(KnownType::TextPlain), body)
    }

    /// `200 OK` with a `text/html; charset=utf-8` body.
    pub fn html(body: impl Into<Cow<'static, str>>) -> Response {
        let mut response = Response::text(body);
        response.content_type = ContentType::Known(KnownType::TextHtml);
        response
    }

    /// `200 OK` with an `application/octet-stream` body.
    pub fn bytes(body: impl Into<Cow<'static, [u8]>>) -> Response {
        Response::new(StatusCode::OK, ContentType::Known(KnownType::OctetStream), Payload::Full(body.into()))
    }

    /// `200 OK` with an `application/octet-stream` body produced by
    /// `chunks` while it is sent: `Transfer-Encoding: chunked` to an
    /// HTTP/1.1 client, close-delimited to an HTTP/1.0 one. The stream is
    /// polled only as fast as the client reads (backpressure), and dropped
    /// as soon as the client leaves; an `Err` item aborts the response
    /// (the client sees it cut, with no final chunk). For HEAD, 204 and 304
    /// it is never polled. At most [`STREAM_HIGH_WATER`](crate::STREAM_HIGH_WATER)
    /// bytes plus one chunk wait in the server per connection.
    ///
    /// ```
    /// use std::pin::Pin;
    /// use std::task::{Context, Poll};
    /// use eddy_http::{Response, Stream};
    ///
    /// /// Counts down from `n`, one line per chunk.
    /// struct Countdown(u32);
    ///
    /// impl Stream for Countdown {
    ///     type Item = std::io::Result<String>;
    ///     fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
    ///         if self.0 == 0 {
    ///             return Poll::Ready(None);
    ///         }
    ///         self.0 -= 1;
    ///         Poll::Ready(Some(Ok(format!("{}\n", self.0))))
    ///     }
    /// }
    ///
    /// let response = Response::stream(Countdown(3)).with_content_type("text/plain");
    /// assert!(response.is_stream());
    /// ```
    pub fn stream<S, B>(chunks: S) -> Response
    where
        S: Stream<Item = io::Result<B>> + 'static,
        B: AsRef<[u8]> + 'static,
    {
        Response::from_source(StreamBody::new(FromStream(Box::pin(chunks))))
    }

    /// A streamed response (as [`Response::stream`]) whose body a task
    /// pushes into the returned [`BodySender`]; the body ends when the
    /// sender is dropped. [`BodySender::send`] waits while the client lags,
    /// and fails once the response has ended (client gone, server shutting
    /// down).
    pub fn channel() -> (BodySender, Response) {
        let (sender, source) = stream_body::channel();
        (sender, Response::from_source(StreamBody::new(source)))
    }

    pub(crate) fn from_source(body: StreamBody) -> Response {
        Response::new(StatusCode::OK, ContentType::Known(KnownType::OctetStream), Payload::Stream(body))
    }

    fn new(status: StatusCode, content_type: ContentType, body: Payload) -> Response {
        Response { body: ManuallyDrop::new(body), extra: ManuallyDrop::new(None), status, content_type }
    }

    /// Drops what the response owns, leaving parts that own nothing (which
    /// `ManuallyDrop` then lets go without glue).
    #[inline(never)]
    fn free(&mut self) {
        drop(self.extra.take());
        drop(std::mem::replace(&mut *self.body, Payload::EMPTY));
    }

    /// The rarer parts, created on first use.
    fn extra_mut(&mut self) -> &mut Extra {
        self.extra.get_or_insert_with(Box::default)
    }

    /// Replaces the status.
    pub fn with_status(mut self, status: StatusCode) -> Response {
        self.status = status;
        self
    }

    /// Replaces the content type. A value with control characters (CR, LF,
    /// NUL) is refused, with an error logged, and the old one kept.
    pub fn with_content_type(mut self, content_type: impl Into<Cow<'static, str>>) -> Response {
        let content_type = content_type.into();
        if let Some(known) = KnownType::find(&content_type) {
            self.content_type = ContentType::Known(known);
            if let Some(extra) = &mut *self.extra {
                extra.content_type = None;
            }
        } else if valid_value(&content_type) {
            self.content_type = ContentType::Custom;
            self.extra_mut().content_type = Some(content_type);
        } else {
            log::error!("refusing content type {content_type:?}: it would corrupt the response");
        }
        self
    }

    /// Adds a header. A name or value that could break the response (CR,
    /// LF, NUL, or a name that is not a token) is refused right here, with an
    /// error logged: header injection is impossible, and writing the
    /// response needs no checks. So are the framing headers
    /// (`Content-Length`, `Transfer-Encoding`, `Connection`), which only the
    /// server sets.
    pub fn with_header(
        mut self,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<Cow<'static, str>>,
    ) -> Response {
        let name = name.into();
        if name.eq_ignore_ascii_case("content-type") {
            return self.with_content_type(value);
        }
        let value = value.into();
        if FRAMING_HEADERS.iter().any(|reserved| name.eq_ignore_ascii_case(reserved)) {
            log::debug!("ignoring response header {name:?}: the server sets framing headers itself");
        } else if !valid_name(&name) || !valid_value(&value) {
            log::error!("refusing response header {name:?}: {value:?} (it would corrupt the response)");
        } else {
            self.extra_mut().headers.push((name, value));
        }
        self
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The first value of the header `name` (case-insensitive), including
    /// `Content-Type`.
    pub fn header(&self, name: &str) -> Option<&str> {
        if name.eq_ignore_ascii_case("content-type") {
            return self.content_type();
        }
        self.headers().iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| &**v)
    }

    fn content_type(&self) -> Option<&str> {
        match self.content_type {
            ContentType::None => None,
            ContentType::Known(known) => Some(known.as_str()),
            ContentType::Custom => self.extra.as_deref().and_then(|extra| extra.content_type.as_deref()),
        }
    }

    /// The headers added with [`Response::with_header`].
    fn headers(&self) -> &[(Cow<'static, str>, Cow<'static, str>)] {
        self.extra.as_deref().map_or(&[], |extra| &extra.headers)
    }

    /// The body; empty for a streamed response.
    pub fn body(&self) -> &[u8] {
        match &*self.body {
            Payload::Full(body) => body,
            Payload::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Payload::Stream(_) => &[],
        }
    }

    /// Whether the body is streamed ([`Response::stream`],
    /// [`Response::channel`]).
    pub fn is_stream(&self) -> bool {
        matches!(*self.body, Payload::Stream(_))
    }

    /// Takes the streamed body out, if there is one.
    pub(crate) fn take_stream(&mut self) -> Option<StreamBody> {
        match std::mem::replace(&mut *self.body, Payload::EMPTY) {
            Payload::Stream(body) => Some(body),
            full => {
                *self.body = full;
                None
            }
        }
    }

    /// Writes the response into `out`: head, then body unless `head_only`
    /// (a HEAD request), and for a streamed body nothing of it (the
    /// connection writes it as it comes).
    #[inline(always)]
    pub(crate) fn write_to(&self, out: &mut Vec<u8>, meta: &WriteMeta<'_>) {
        if let (None, StatusCode::OK, ContentType::Known(known)) =
            (&*self.extra, self.status, self.content_type)
        {
            let head = meta.common.ok_head(known);
            let ending = if meta.close {
                Ending::Close
            } else if meta.keep_alive_10 {
                Ending::KeepAlive
            } else {
                Ending::Open
            };
            match &*self.body {
                Payload::Inline { len, bytes } => {
                    let len = usize::from(*len);
                    // The whole array, a copy of known size: no `memcpy`
                    // call for the few bytes of a short body.
                    let body = if meta.head_only { Body::Omitted } else { Body::Short(bytes, len) };
                    return append_response(out, head, len as u64, ending, body);
                }
                Payload::Full(body) => {
                    let length = body.len() as u64;
                    let body = if meta.head_only { Body::Omitted } else { Body::Bytes(body) };
                    return append_response::<0>(out, head, length, ending, body);
                }
                Payload::Stream(_) => {}
            }
        }
        self.write_in_pieces(out, meta);
    }

    /// [`Response::write_to`] for any response, a piece at a time.
    #[inline(never)]
    fn write_in_pieces(&self, out: &mut Vec<u8>, meta: &WriteMeta<'_>) {
        match self.status.status_line() {
            Some(line) => out.extend_from_slice(line),
            None => {
                out.extend_from_slice(b"HTTP/1.1 ");
                out.extend_from_slice(&self.status.digits());
                out.push(b' ');
                out.extend_from_slice(self.status.reason().as_bytes());
                out.extend_from_slice(b"\r\n");
            }
        }
        if self.headers().is_empty() {
            out.extend_from_slice(meta.common.lines());
        } else {
            if !self.has_header("server") {
                write_header(out, "Server", meta.server);
            }
            if !self.has_header("date") {
                out.extend_from_slice(b"Date: ");
                out.extend_from_slice(meta.common.date());
                out.extend_from_slice(b"\r\n");
            }
        }
        let sends_body = self.status.allows_body();
        if let Some(content_type) = self.content_type() {
            if sends_body {
                write_header(out, "Content-Type", content_type);
            }
        }
        for (name, value) in self.headers() {
            write_header(out, name, value);
        }
        // 1xx and 204 must not carry Content-Length; 304 describes the
        // resource, not this (empty) message, so it gets none either.
        if sends_body {
            match &*self.body {
                Payload::Full(_) | Payload::Inline { .. } => {
                    out.extend_from_slice(b"Content-Length: ");
                    append_decimal(out, self.body().len() as u64);
                    out.extend_from_slice(b"\r\n");
                }
                // HTTP/1.0 has no chunked coding: the body ends with the
                // connection (the caller closes it).
                Payload::Stream(_) if meta.http10 => {}
                Payload::Stream(_) => out.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
            }
        }
        if meta.close {
            out.extend_from_slice(b"Connection: close\r\n");
        } else if meta.keep_alive_10 {
            out.extend_from_slice(b"Connection: keep-alive\r\n");
        }
        out.extend_from_slice(b"\r\n");
        if sends_body && !meta.head_only {
            // A streamed body follows, written by the connection.
            if !self.is_stream() {
                out.extend_from_slice(self.body());
            }
        }
    }

    fn has_header(&self, name: &str) -> bool {
        self.headers().iter().any(|(n, _)| n.eq_ignore_ascii_case(name))
    }
}

/// What the connection knows that the response does not.
pub(crate) struct WriteMeta<'a> {
    /// `Server` and `Date` lines, ready to copy.
    pub(crate) common: &'a CommonLines,
    pub(crate) server: &'a str,
    pub(crate) head_only: bool,
    pub(crate) close: bool,
    pub(crate) keep_alive_10: bool,
    /// The request was HTTP/1.0: a streamed body is close-delimited.
    pub(crate) http10: bool,
}

/// Headers only the server may write.
const FRAMING_HEADERS: [&str; 3] = ["content-length", "transfer-encoding", "connection"];

/// A header field name: an RFC 9110 token.
fn valid_name(name: &str) -> bool {
    crate::http::token::is_token(name.as_bytes())
}

/// A header field value: no control characters but tab.
fn valid_value(value: &str) -> bool {
    value.bytes().all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

/// `dst.copy_from_slice(src)` for the pieces of an inline body (at most
/// [`INLINE_BODY`] bytes), without a `memcpy` call: two overlapping copies
/// of a fixed size (16, 8, 4 bytes) cover any length from that size to
/// twice it, and three single bytes any length up to 3. A call cost ~14
/// instructions per piece whose length is not known when compiling (the
/// greeting's name); this costs a few compares and two moves.
#[inline(always)]
fn copy_short(dst: &mut [u8], src: &[u8]) {
    let n = src.len();
    if n != dst.len() {
        // Not reached (the caller slices `dst` to `src`'s length); it lets
        // the compiler drop the bounds checks below.
        return dst.copy_from_slice(src);
    }
    if n >= 16 {
        if n > 32 {
            return dst.copy_from_slice(src);
        }
        dst[..16].copy_from_slice(&src[..16]);
        dst[n - 16..].copy_from_slice(&src[n - 16..]);
    } else if n >= 8 {
        dst[..8].copy_from_slice(&src[..8]);
        dst[n - 8..].copy_from_slice(&src[n - 8..]);
    } else if n >= 4 {
        dst[..4].copy_from_slice(&src[..4]);
        dst[n - 4..].copy_from_slice(&src[n - 4..]);
    } else if n > 0 {
        dst[0] = src[0];
        dst[n / 2] = src[n / 2];
        dst[n - 1] = src[n - 1];
    }
}

/// Writes a header validated when it was set.
fn write_header(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
}

impl From<&'static str> for Response {
    fn from(text: &'static str) -> Response {
        Response::text(text)
    }
}

impl From<String> for Response {
    fn from(text: String) -> Response {
        Response::text(text)
    }
}

impl From<StatusCode> for Response {
    /// A response with the status and its reason phrase as the body.
    fn from(status: StatusCode) -> Response {
        Response::text(format!("{status}\n")).with_status(status)
    }
}

/// Lets a handler return `Result<Response, E>` and use `?`.
impl<T: Into<Response>, E: Into<Response>> From<Result<T, E>> for Response {
    fn from(result: Result<T, E>) -> Response {
        match result {
            Ok(ok) => ok.into(),
            Err(error) => error.into(),
        }
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("content_type", &self.content_type())
            .field("headers", &self.headers())
            .field("body_len", &self.body().len())
            .field("streamed", &self.is_stream())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(response: &Response, head_only: bool, close: bool) -> String {
        let mut out = Vec::new();
        let common = crate::http::date::CommonLines::new("eddy");
        let meta = WriteMeta {
            common: &common,
            server: "eddy",
            head_only,
            close,
            keep_alive_10: false,
            http10: false,
        };
        response.write_to(&mut out, &meta);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn writes_a_complete_response() {
        let text = written(&Response::text("Hello, Anonymous!"), false, false);
        let (head, rest) = text.split_at("HTTP/1.1 200 OK\r\nServer: eddy\r\nDate: ".len());
        assert_eq!(head, "HTTP/1.1 200 OK\r\nServer: eddy\r\nDate: ");
        assert!(rest[..29].ends_with(" GMT"), "{rest}");
        assert_eq!(
            &rest[29..],
            "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 17\r\n\r\nHello, Anonymous!"
        );
    }

    #[test]
    fn head_responses_keep_the_length_and_drop_the_body() {
        let text = written(&Response::text("abc"), true, true);
        assert!(text.ends_with("Content-Length: 3\r\nConnection: close\r\n\r\n"), "{text}");
    }

    #[test]
    fn framing_and_invalid_headers_never_reach_the_wire() {
        let response = Response::text("x")
            .with_header("Content-Length", "999")
            .with_header("X-Evil", "a\r\nSet-Cookie: b")
            .with_header("X-Fine", "ok");
        let text = written(&response, false, false);
        assert!(
            !text.contains("999") && !text.contains("Set-Cookie") && text.contains("X-Fine: ok\r\n"),
            "{text}"
        );
    }

    #[test]
    fn a_body_made_of_parts_is_written_like_one_made_by_format_whatever_its_length() {
        for name in ["", "Al", "Anonymous", "a name long enough to go past the inline limit"] {
            let parts = written(&Response::text_parts(&["Hello, ", name, "!"]), false, false);
            let formatted = written(&Response::text(format!("Hello, {name}!")), false, false);
            assert_eq!(parts, formatted, "{name:?}");
            assert_eq!(
                Response::text_parts(&["Hello, ", name, "!"]).body(),
                format!("Hello, {name}!").as_bytes()
            );
        }
        assert_eq!(Response::text_parts(&[]).body(), b"");
        let head_only = written(&Response::text_parts(&["abc"]), true, false);
        assert!(head_only.ends_with("Content-Length: 3\r\n\r\n"), "{head_only}");
    }

    #[test]
    fn no_content_has_no_length() {
        let text = written(&Response::empty(StatusCode::NO_CONTENT), false, false);
        assert!(!text.contains("Content-Length"), "{text}");
    }

    /// Every combination the fast path of `write_to` takes, against the
    /// general path: the same bytes.
    #[test]
    fn the_fast_path_writes_what_the_general_path_writes() {
        let long = "a body too long to be kept inside the response itself".to_string();
        let responses = || {
            [
                Response::text_parts(&["Hello, ", "bench", "!"]),
                Response::text_parts(&[]),
                Response::text_parts(&["x"; INLINE_BODY]),
                Response::text_parts(&[&long]),
                Response::text("Hello, Anonymous!"),
                Response::text(long.clone()),
                Response::text(""),
                Response::html("<p>hi</p>"),
                Response::bytes(vec![0u8; 1234]),
                Response::text("{}").with_content_type("application/json"),
            ]
        };
        let common = CommonLines::new("eddy");
        for (i, response) in responses().into_iter().enumerate() {
            for (head_only, close, keep_alive_10) in [
                (false, false, false),
                (true, false, false),
                (false, true, false),
                (false, false, true),
                (true, true, false),
            ] {
                let meta = WriteMeta {
                    common: &common,
                    server: "eddy",
                    head_only,
                    close,
                    keep_alive_10,
                    http10: false,
                };
                let (mut fast, mut general) = (b"queued|".to_vec(), b"queued|".to_vec());
                response.write_to(&mut fast, &meta);
                response.write_in_pieces(&mut general, &meta);
                assert_eq!(
                    String::from_utf8_lossy(&fast),
                    String::from_utf8_lossy(&general),
                    "response {i}, head_only {head_only}, close {close}, keep_alive_10 {keep_alive_10}"
                );
            }
        }
    }

    #[test]
    fn a_known_content_type_set_by_name_is_the_same_as_the_constructors() {
        let named = Response::text("<p>hi</p>").with_content_type("text/html; charset=utf-8");
        assert_eq!(written(&named, false, false), written(&Response::html("<p>hi</p>"), false, false));
        assert_eq!(named.header("Content-Type"), Some("text/html; charset=utf-8"));
        // Back from a custom type to a known one, and the other way.
        let custom = Response::text("x").with_content_type("text/csv");
        assert_eq!(custom.header("content-type"), Some("text/csv"));
        assert!(written(&custom, false, false).contains("\r\nContent-Type: text/csv\r\n"));
        let back = custom.with_content_type("application/octet-stream");
        assert_eq!(back.header("content-type"), Some("application/octet-stream"));
        assert!(written(&back, false, false).contains("\r\nContent-Type: application/octet-stream\r\n"));
        assert_eq!(Response::empty(StatusCode::OK).header("content-type"), None);
    }

    #[test]
    fn other_statuses_and_headers_are_written_in_full() {
        let response = Response::text("nope").with_status(StatusCode::NOT_FOUND).with_header("X-Trace", "7");
        let text = written(&response, false, true);
        assert!(text.starts_with("HTTP/1.1 404 Not Found\r\nServer: eddy\r\nDate: "), "{text}");
        assert!(
            text.ends_with(
                "\r\nContent-Type: text/plain; charset=utf-8\r\nX-Trace: 7\r\nContent-Length: 4\r\nConnection: close\r\n\r\nnope"
            ),
            "{text}"
        );
        let unnamed =
            written(&Response::text("x").with_status(StatusCode::from_u16(299).unwrap()), false, false);
        assert!(unnamed.starts_with("HTTP/1.1 299 \r\n"), "{unnamed}");
        let own_server = written(&Response::text("x").with_header("Server", "mine"), false, false);
        assert!(own_server.starts_with("HTTP/1.1 200 OK\r\nDate: "), "{own_server}");
        assert!(own_server.contains("\r\nServer: mine\r\n"), "{own_server}");
    }

    /// A response is moved several times between the handler and the
    /// connection: it stays as small as its inline body allows.
    #[test]
    fn a_response_is_small() {
        assert_eq!(std::mem::size_of::<Response>(), 48);
    }

    #[test]
    fn a_short_copy_copies_every_length() {
        let src: Vec<u8> = (1..=40).collect();
        for n in 0..=40 {
            let mut dst = vec![0; n];
            copy_short(&mut dst, &src[..n]);
            assert_eq!(dst, &src[..n], "{n}");
        }
    }

    /// The hand-written drop frees exactly what a response owns: a
    /// streamed body once, whether or not it was taken out first, and the
    /// boxed rarer parts.
    #[test]
    fn dropping_a_response_drops_what_it_owns_once() {
        use std::cell::Cell;
        use std::pin::Pin;
        use std::rc::Rc;
        use std::task::{Context, Poll};

        struct Counted(Rc<Cell<u32>>);
        impl Drop for Counted {
            fn drop(&mut self) {
                self.0.set(self.0.get() + 1);
            }
        }
        impl Stream for Counted {
            type Item = io::Result<Vec<u8>>;
            fn poll_next(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
                Poll::Ready(None)
            }
        }

        let drops = Rc::new(Cell::new(0));
        drop(Response::stream(Counted(drops.clone())).with_header("X-Owned", format!("{}", 1)));
        assert_eq!(drops.get(), 1);

        let mut response =
            Response::stream(Counted(drops.clone())).with_content_type(String::from("text/csv"));
        let stream = response.take_stream();
        assert!(stream.is_some() && !response.is_stream());
        drop(response);
        assert_eq!(drops.get(), 1, "the taken stream is the caller's now");
        drop(stream);
        assert_eq!(drops.get(), 2);
    }
}
