//! `Response`: status, headers and body, and how a response head is written
//! straight into the connection's output buffer.

use std::borrow::Cow;
use std::fmt;
use std::io;

use crate::app::stream_body::{self, BodySender, FromStream, Stream, StreamBody};
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
    status: StatusCode,
    content_type: Option<Cow<'static, str>>,
    headers: Vec<(Cow<'static, str>, Cow<'static, str>)>,
    body: Payload,
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

/// The longest body [`Response::text_parts`] keeps inline. 30 bytes keep
/// `Payload` at 32 (the size of its other variants plus the tag), so a
/// response moves no more bytes than before; a greeting fits.
const INLINE_BODY: usize = 30;

impl Response {
    /// An empty response with `status`.
    pub fn empty(status: StatusCode) -> Response {
        Response { status, content_type: None, headers: Vec::new(), body: Payload::Full(Cow::Borrowed(b"")) }
    }

    /// `200 OK` with a `text/plain; charset=utf-8` body. A `&'static str`
    /// body is not copied.
    pub fn text(body: impl Into<Cow<'static, str>>) -> Response {
        let body = match body.into() {
            Cow::Borrowed(text) => Cow::Borrowed(text.as_bytes()),
            Cow::Owned(text) => Cow::Owned(text.into_bytes()),
        };
        Response {
            status: StatusCode::OK,
            content_type: Some(Cow::Borrowed(TEXT_PLAIN)),
            headers: Vec::new(),
            body: Payload::Full(body),
        }
    }

    /// `200 OK` with a `text/plain; charset=utf-8` body made of `parts`,
    /// one after the other: what `Response::text(format!(...))` gives for
    /// a body of plain pieces, without the formatting machinery, and
    /// without any allocation when the body is short (up to 30 bytes, kept
    /// in the response itself). Measured under callgrind, the greeting's
    /// `format!` cost ~390 instructions per request and this ~40.
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
    pub fn text_parts(parts: &[&str]) -> Response {
        let len: usize = parts.iter().map(|part| part.len()).sum();
        let body = if len <= INLINE_BODY {
            let mut bytes = [0u8; INLINE_BODY];
            let mut at = 0;
            for part in parts {
                bytes[at..at + part.len()].copy_from_slice(part.as_bytes());
                at += part.len();
            }
            Payload::Inline { len: len as u8, bytes }
        } else {
            Payload::Full(Cow::Owned(parts.concat().into_bytes()))
        };
        Response {
            status: StatusCode::OK,
            content_type: Some(Cow::Borrowed(TEXT_PLAIN)),
            headers: Vec::new(),
            body,
        }
    }

    /// `200 OK` with a `text/html; charset=utf-8` body.
    pub fn html(body: impl Into<Cow<'static, str>>) -> Response {
        Response::text(body).with_content_type("text/html; charset=utf-8")
    }

    /// `200 OK` with an `application/octet-stream` body.
    pub fn bytes(body: impl Into<Cow<'static, [u8]>>) -> Response {
        Response {
            status: StatusCode::OK,
            content_type: Some(Cow::Borrowed("application/octet-stream")),
            headers: Vec::new(),
            body: Payload::Full(body.into()),
        }
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
        Response {
            status: StatusCode::OK,
            content_type: Some(Cow::Borrowed("application/octet-stream")),
            headers: Vec::new(),
            body: Payload::Stream(body),
        }
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
        if valid_value(&content_type) {
            self.content_type = Some(content_type);
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
            self.headers.push((name, value));
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
            return self.content_type.as_deref();
        }
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| &**v)
    }

    /// The body; empty for a streamed response.
    pub fn body(&self) -> &[u8] {
        match &self.body {
            Payload::Full(body) => body,
            Payload::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Payload::Stream(_) => &[],
        }
    }

    /// Whether the body is streamed ([`Response::stream`],
    /// [`Response::channel`]).
    pub fn is_stream(&self) -> bool {
        matches!(self.body, Payload::Stream(_))
    }

    /// Takes the streamed body out, if there is one.
    pub(crate) fn take_stream(&mut self) -> Option<StreamBody> {
        match std::mem::replace(&mut self.body, Payload::Full(Cow::Borrowed(b""))) {
            Payload::Stream(body) => Some(body),
            full => {
                self.body = full;
                None
            }
        }
    }

    /// Writes the response into `out`: head, then body unless `head_only`
    /// (a HEAD request). `date` is the cached `Date` value.
    #[inline]
    pub(crate) fn write_to(&self, out: &mut Vec<u8>, meta: &WriteMeta<'_>) {
        // Few, large copies: each `extend_from_slice` is a capacity check
        // and a `memcpy` call, and writing heads is most of a pipelined
        // server's own work.
        match self.status {
            StatusCode::OK => out.extend_from_slice(b"HTTP/1.1 200 OK\r\n"),
            _ => {
                out.extend_from_slice(b"HTTP/1.1 ");
                out.extend_from_slice(&self.status.digits());
                out.push(b' ');
                out.extend_from_slice(self.status.reason().as_bytes());
                out.extend_from_slice(b"\r\n");
            }
        }
        if self.headers.is_empty() {
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
        if let Some(content_type) = &self.content_type {
            if sends_body {
                if content_type == TEXT_PLAIN {
                    out.extend_from_slice(TEXT_PLAIN_LINE);
                } else {
                    write_header(out, "Content-Type", content_type);
                }
            }
        }
        for (name, value) in &self.headers {
            write_header(out, name, value);
        }
        // 1xx and 204 must not carry Content-Length; 304 describes the
        // resource, not this (empty) message, so it gets none either.
        if sends_body {
            match &self.body {
                Payload::Full(_) | Payload::Inline { .. } => {
                    out.extend_from_slice(b"Content-Length: ");
                    write_decimal(out, self.body().len() as u64);
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
        !self.headers.is_empty() && self.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name))
    }
}

/// The default content type, and its header line ready to copy.
const TEXT_PLAIN: &str = "text/plain; charset=utf-8";
const TEXT_PLAIN_LINE: &[u8] = b"Content-Type: text/plain; charset=utf-8\r\n";

/// What the connection knows that the response does not.
pub(crate) struct WriteMeta<'a> {
    /// `Server` and `Date` lines, ready to copy.
    pub(crate) common: &'a crate::http::date::CommonLines,
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

/// Writes a header validated when it was set.
fn write_header(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Writes `n` in decimal. Inlined into `write_to`: as a call it cost as
/// much as the digits.
#[inline(always)]
fn write_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
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
            .field("content_type", &self.content_type)
            .field("headers", &self.headers)
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
}
