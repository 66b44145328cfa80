//! `Request`: what a handler receives.
//!
//! The request owns a copy of its head (request line and headers), taken
//! from a per-loop pool and returned to it when the request is dropped, so
//! building one allocates nothing in steady state. Path, query, headers and
//! parameters are positions in that copy; a parameter is decoded into its
//! own string only if it contains a `%` escape.

use std::borrow::Cow;
use std::fmt;
use std::net::SocketAddr;
use std::rc::Rc;

use crate::app::LoopApp;
use crate::body::Body;
use crate::http_parse::Version;
use crate::method::Method;
use crate::pool::{self, HeadStorage, Span};
use crate::router::MAX_PARAMS;

/// An HTTP request. aiohttp's `web.Request`.
pub struct Request {
    /// Goes back to the pool when the request is dropped.
    head: HeadStorage,
    method: Method,
    version: Version,
    target: Span,
    path: Span,
    query: Option<Span>,
    params: Params,
    /// The app, for parameter names. An `Rc` to a per-loop wrapper, so
    /// taking a reference per request is a plain increment, not an atomic
    /// one on a cache line every loop shares.
    app: Option<Rc<LoopApp>>,
    resource: usize,
    body: Body,
    peer: Option<SocketAddr>,
}

/// Route parameters: where each value is, in the head or, once decoded,
/// in `decoded`.
#[derive(Default)]
pub(crate) struct Params {
    values: [(bool, Span); MAX_PARAMS],
    len: usize,
    decoded: String,
}

impl Params {
    /// Adds a value: `raw` is its position in the head; `decoded` is its
    /// text if percent-decoding changed it.
    pub(crate) fn push(&mut self, raw: Span, decoded: Option<&str>) {
        let value = match decoded {
            Some(text) => {
                let start = self.decoded.len();
                self.decoded.push_str(text);
                (true, Span::of(start, self.decoded.len()))
            }
            None => (false, raw),
        };
        self.values[self.len] = value;
        self.len += 1;
    }
}

/// The pieces the connection hands over to build a request.
pub(crate) struct Parts {
    pub(crate) head: HeadStorage,
    pub(crate) method: Method,
    pub(crate) version: Version,
    pub(crate) target: Span,
    pub(crate) path: Span,
    pub(crate) query: Option<Span>,
    pub(crate) params: Params,
    pub(crate) app: Rc<LoopApp>,
    pub(crate) resource: usize,
    pub(crate) body: Body,
    pub(crate) peer: SocketAddr,
}

impl Request {
    pub(crate) fn from_parts(parts: Parts) -> Request {
        Request {
            head: parts.head,
            method: parts.method,
            version: parts.version,
            target: parts.target,
            path: parts.path,
            query: parts.query,
            params: parts.params,
            app: Some(parts.app),
            resource: parts.resource,
            body: parts.body,
            peer: Some(parts.peer),
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
        let parsed =
            crate::http_parse::parse_head(raw.as_bytes(), &crate::Limits::default(), &mut head.headers);
        let crate::http_parse::Parsed::Complete(parsed) = parsed else {
            panic!("Request::for_test: not a complete, valid request head: {raw:?}");
        };
        head.bytes.extend_from_slice(&raw.as_bytes()[..parsed.len]);
        Request {
            head,
            method: parsed.method,
            version: parsed.version,
            target: parsed.target,
            path: parsed.path,
            query: parsed.query,
            params: Params::default(),
            app: None,
            resource: 0,
            body: Body::empty(),
            peer: None,
        }
    }

    fn head_bytes(&self) -> &[u8] {
        &self.head.bytes
    }

    fn text(&self, span: Span) -> &str {
        // Request lines are ASCII (httparse allows no other bytes there).
        std::str::from_utf8(span.get(self.head_bytes())).unwrap_or_default()
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
        self.text(self.target)
    }

    /// The path, still percent-encoded (`/J%C3%BCrgen`).
    pub fn path(&self) -> &str {
        self.text(self.path)
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
            let key = crate::percent::decode(key.as_bytes(), true)?;
            (key == name).then(|| crate::percent::decode(value.as_bytes(), true)).flatten()
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
    pub fn param(&self, name: &str) -> Option<&str> {
        let names = &self.app.as_ref()?.inner.router.resource(self.resource).param_names;
        let index = names.iter().position(|n| &**n == name)?;
        Some(self.param_at(index))
    }

    /// Every route parameter as (name, decoded value).
    pub fn params(&self) -> impl Iterator<Item = (&str, &str)> {
        let names = self
            .app
            .as_ref()
            .map(|app| &app.inner.router.resource(self.resource).param_names[..])
            .unwrap_or(&[]);
        names.iter().enumerate().map(|(i, name)| (&**name, self.param_at(i)))
    }

    fn param_at(&self, index: usize) -> &str {
        match self.params.values[index] {
            (true, span) => &self.params.decoded[span.start as usize..span.end as usize],
            (false, span) => self.text(span),
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
        let bytes = self.head_bytes();
        let spans = &self.head.headers[..];
        spans.iter().map(move |(name, value)| {
            (std::str::from_utf8(name.get(bytes)).unwrap_or_default(), value.get(bytes))
        })
    }

    /// The client's address (`None` for [`Request::for_test`]).
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer
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
    fn drop(&mut self) {
        pool::give_head(std::mem::take(&mut self.head));
    }
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("target", &self.target())
            .field("version", &self.version)
            .field("peer", &self.peer)
            .finish()
    }
}
