//! `Request`: what a handler receives.
//!
//! The request owns a copy of its head (request line and headers), taken
//! from a per-loop pool and returned to it when the request is dropped, so
//! building one allocates nothing in steady state. Path, query, headers and
//! parameters are positions in that copy; a parameter is decoded into its
//! own string only if it contains a `%` escape.
//!
//! A request is moved several times on its way in (into the handler, into
//! the handler's future, and that future into its block), so it is kept
//! small: what it needs only for parameter names (the app) is reached
//! through its body's connection, not held. (Holding everything behind one
//! more pooled pointer was tried and measured: the block's take and give
//! cost more than the moves they saved, 10 instructions per request.)

use std::borrow::Cow;
use std::fmt;
use std::net::SocketAddr;

use crate::app::body::Body;
use crate::app::router::short_eq;
use crate::http::method::Method;
use crate::http::parse::Version;
use crate::server::pool::{self, HeadStorage, Span};

/// An HTTP request. aiohttp's `web.Request`.
pub struct Request {
    /// Head, target and parameters; back to the pool when dropped (an
    /// `Option` only so that `drop` can take it without allocating a
    /// replacement; it is `Some` for the request's whole life).
    head: Option<Box<HeadStorage>>,
    method: Method,
    version: Version,
    /// The path and query, as positions in `head.target`.
    path: Span,
    query: Option<Span>,
    /// The route's resource in the app's router, for parameter names.
    /// The app is reached through the body's connection (a request built
    /// by `for_test` has neither, nor parameters).
    /// (32 bits, which the router ensures: a word less to copy.)
    resource: u32,
    body: Body,
}

/// What a request reads through after it has given its storage back (never,
/// in practice: only `drop` takes it).
static EMPTY_HEAD: HeadStorage = HeadStorage::EMPTY;

/// The pieces the connection hands over to build a request. `head` has its
/// target and parameters filled in; `path` and `query` are positions in the
/// target.
pub(crate) struct Parts {
    pub(crate) head: Box<HeadStorage>,
    pub(crate) method: Method,
    pub(crate) version: Version,
    pub(crate) path: Span,
    pub(crate) query: Option<Span>,
    pub(crate) resource: u32,
    pub(crate) body: Body,
}

impl Request {
    #[inline]
    pub(crate) fn from_parts(parts: Parts) -> Request {
        Request {
            head: Some(parts.head),
            method: parts.method,
            version: parts.version,
            path: parts.path,
            query: parts.query,
            resource: parts.resource,
            body: parts.body,
        }
    }

    /// A request for testing handlers directly, without a server: `raw` is
    /// a request head such as `"GET /alice HTTP/1.1\r\nHost: x\r\n\r\n"`.
    /// Route parameters are empty; the body is empty.
    ///
    /// # Panics
    /// If `raw` is not a complete, valid request head.
    pub fn for_test(raw: &str) -> Request {
        let mut head = pool::take_head();
        let parsed = crate::http::parse::parse_head(raw.as_bytes(), &crate::Limits::default(), &mut head);
        let crate::http::parse::Parsed::Complete(parsed) = parsed else {
            panic!("Request::for_test: not a complete, valid request head: {raw:?}");
        };
        Request::from_parts(Parts {
            head,
            method: parsed.method,
            version: parsed.version,
            path: parsed.path.relative_to(parsed.target),
            query: parsed.query.map(|query| query.relative_to(parsed.target)),
            resource: 0,
            body: Body::empty(),
        })
    }

    #[inline]
    fn storage(&self) -> &HeadStorage {
        self.head.as_deref().unwrap_or(&EMPTY_HEAD)
    }

    /// A piece of the target. Spans sit on ASCII delimiters (`/`, `?`),
    /// so the slice is always on character boundaries.
    #[inline]
    fn text(&self, span: Span) -> &str {
        // SAFETY: the path, the query and the parameters are cut at ASCII
        // delimiters (see above). Unchecked, it skips `str::get`'s test of
        // both ends for a character boundary (~8 instructions per piece
        // read).
        unsafe { self.storage().head.target_piece(span) }
    }

    /// The method.
    pub fn method(&self) -> Method {
        self.method
    }

    /// The HTTP version.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The request target as sent: path and query, still percent-encoded.
    pub fn target(&self) -> &str {
        self.storage().head.target()
    }

    /// The path, still percent-encoded (`/J%C3%BCrgen`). `/` for an
    /// absolute-form target without one (`http://host`); `*` for `OPTIONS *`.
    pub fn path(&self) -> &str {
        match self.text(self.path) {
            "" => "/",
            path => path,
        }
    }

    /// The raw query string after `?`, if any.
    pub fn query(&self) -> Option<&str> {
        self.query.map(|span| self.text(span))
    }

    /// The first value of query parameter `name`, decoded (`+` is a space).
    /// `None` if absent or not valid UTF-8 once decoded.
    pub fn query_param(&self, name: &str) -> Option<Cow<'_, str>> {
        let query = self.query()?;
        query.split('&').find_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let key = crate::app::percent::decode(key, true)?;
            (key == name).then(|| crate::app::percent::decode(value, true)).flatten()
        })
    }

    /// The value of route parameter `name` (from a `{name}` segment),
    /// percent-decoded. aiohttp's `request.match_info.get(name)`.
    ///
    /// ```
    /// # use eddy_http::{Request, Response};
    /// async fn handle(req: Request) -> Response {
    ///     let name = req.param("name").unwrap_or("Anonymous");
    ///     Response::text(format!("Hello, {name}!"))
    /// }
    /// ```
    #[inline]
    pub fn param(&self, name: &str) -> Option<&str> {
        let index = self.param_names().iter().position(|n| short_eq(n.as_bytes(), name.as_bytes()))?;
        Some(self.param_at(index))
    }

    /// Every route parameter as (name, decoded value).
    pub fn params(&self) -> impl Iterator<Item = (&str, &str)> {
        self.param_names().iter().enumerate().map(|(i, name)| (&**name, self.param_at(i)))
    }

    /// The names of the route's parameters, in pattern order.
    #[inline]
    fn param_names(&self) -> &[Box<str>] {
        match self.body.conn() {
            Some(conn) => &conn.server.app.inner.router.resource(self.resource as usize).param_names,
            None => &[],
        }
    }

    #[inline]
    fn param_at(&self, index: usize) -> &str {
        let storage = self.storage();
        // Without a `%` in the target the values are where the router
        // found them, relative to the path (see `HeadStorage::params`).
        if storage.params.is_empty() {
            return storage.spans.in_target(index, self.path).map_or("", |span| self.text(span));
        }
        match storage.params.get(index) {
            Some((true, span)) => storage.decoded.get(span.range()).unwrap_or_default(),
            Some((false, span)) => self.text(*span),
            None => "",
        }
    }

    /// The first value of header `name` (case-insensitive), if it is valid
    /// UTF-8. See [`header_bytes`](Self::header_bytes) for any bytes.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.header_bytes(name).and_then(|value| std::str::from_utf8(value).ok())
    }

    /// The first value of header `name` (case-insensitive), as sent.
    pub fn header_bytes(&self, name: &str) -> Option<&[u8]> {
        self.headers().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, value)| value)
    }

    /// Every header field in order, as (name, value).
    pub fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> {
        let bytes = self.storage().head.bytes();
        let spans = &self.storage().headers[..];
        spans.iter().map(move |(name, value)| {
            (std::str::from_utf8(name.get(bytes)).unwrap_or_default(), value.get(bytes))
        })
    }

    /// The client's address (`None` for [`Request::for_test`]).
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.body.peer()
    }

    /// The body, to read as it arrives.
    pub fn body_mut(&mut self) -> &mut Body {
        &mut self.body
    }

    /// Reads the whole body (up to the server's limit).
    pub async fn bytes(&mut self) -> Result<Vec<u8>, crate::BodyError> {
        self.body.bytes().await
    }

    /// Reads the whole body as UTF-8 text.
    pub async fn text_body(&mut self) -> Result<String, crate::BodyError> {
        self.body.text().await
    }
}

impl Drop for Request {
    #[inline]
    fn drop(&mut self) {
        if let Some(head) = self.head.take() {
            pool::give_head(head);
        }
    }
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method())
            .field("target", &self.target())
            .field("version", &self.version())
            .field("peer", &self.peer_addr())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_stays_small() {
        // Moved into the handler and on into its future, whose size picks
        // its block: a greeting's future (the request and a state byte)
        // fits two cache lines. 72 bytes: the body's connection is a
        // two-word pointer.
        assert!(std::mem::size_of::<Request>() <= 72, "{} bytes", std::mem::size_of::<Request>());
    }

    /// Storage comes back from the pool with no parameters: a request made
    /// for a test after a routed one reads none of its predecessor's.
    #[test]
    fn recycled_storage_carries_no_parameters_over() {
        let mut head = crate::server::pool::take_head();
        head.spans.spans[0] = (1, 4);
        head.spans.len = 1;
        crate::server::pool::give_head(head);
        let request = Request::for_test("GET /abcdef HTTP/1.1\r\nHost: h\r\n\r\n");
        assert_eq!(request.param_at(0), "");
    }

    #[test]
    fn a_test_request_reads_its_head_and_has_no_parameters() {
        let request = Request::for_test("GET /a%20b?x=1&y=%C3%BC HTTP/1.1\r\nHost: h\r\nX-Id: 7\r\n\r\n");
        assert_eq!(
            (request.method(), request.path(), request.query()),
            (Method::Get, "/a%20b", Some("x=1&y=%C3%BC"))
        );
        assert_eq!(request.query_param("y").as_deref(), Some("ü"));
        assert_eq!(request.header("x-id"), Some("7"));
        assert_eq!(request.param("name"), None);
        assert_eq!(request.params().count(), 0);
    }
}
