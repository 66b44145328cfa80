//! Parsing and validating a request head: `plain.rs` (the usual shape) or
//! `httparse` (any other) finds the pieces; this file decides whether the
//! request is acceptable, and how its body is framed, following RFC 9112
//! wherever it says "MUST".
//!
//! The rules that matter for safety (request smuggling) are the framing
//! ones: a body's length must be unambiguous, or the server cannot know
//! where the next request starts. So two different `Content-Length`s,
//! `Content-Length` together with `Transfer-Encoding`, a transfer coding
//! other than a final `chunked`, or `Transfer-Encoding` in HTTP/1.0 are all
//! refused, and the connection closed after the refusal. Lines end in CRLF
//! only: httparse also takes a bare LF, which RFC 9112 §2.2 allows but a
//! front end may not, and two parsers that split lines differently see
//! different requests.
//!
//! Most heads never reach httparse: `plain.rs` parses the plain shape
//! nearly every client sends in one pass, with these same rules, and hands
//! everything else (including every refusal) to the general path here, so
//! each refusal and its reason are decided in one place.
//!
//! Targets: origin-form (`/path?query`); absolute-form (`http://host/path`,
//! and `http://host` meaning `/`), whose authority needs a host and no
//! userinfo; asterisk-form (`*`) for OPTIONS only, answered by the server
//! itself with the methods the app routes.

use std::mem::MaybeUninit;

use crate::error::Reject;
use crate::http::method::Method;
use crate::http::plain;
use crate::http::token::{is_host, is_token};
use crate::server::limits::{Limits, HEADER_ARRAY};
use crate::server::pool::{HeadStorage, Span};

/// HTTP/1.0 or HTTP/1.1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// HTTP/1.0: the connection closes after each response unless the
    /// request asks for `Connection: keep-alive`.
    Http10,
    /// HTTP/1.1: connections stay open unless `Connection: close`.
    Http11,
}

impl Version {
    /// `HTTP/1.0` or `HTTP/1.1`.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        }
    }
}

/// How the request body is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    /// No body.
    None,
    /// Exactly this many bytes.
    Length(u64),
    /// The chunked transfer coding.
    Chunked,
}

/// A complete, valid request head.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Head {
    /// Length of the head in bytes, final empty line included.
    pub(crate) len: usize,
    pub(crate) method: Method,
    pub(crate) version: Version,
    /// The request target as sent.
    pub(crate) target: Span,
    /// The path part of the target (for absolute-form, after the authority).
    pub(crate) path: Span,
    pub(crate) query: Option<Span>,
    /// The target holds a `%`: only then can a route parameter need
    /// percent-decoding (the connection skips looking for escapes
    /// otherwise).
    pub(crate) escaped: bool,
    pub(crate) framing: Framing,
    /// The connection closes after this response (`Connection: close`, or
    /// HTTP/1.0 without `keep-alive`).
    pub(crate) close: bool,
    /// HTTP/1.0 with `Connection: keep-alive`: the response must say so.
    pub(crate) keep_alive_10: bool,
    pub(crate) expect_continue: bool,
}

/// The result of looking at the start of a buffer.
#[derive(Debug)]
pub(crate) enum Parsed {
    /// More bytes are needed.
    Partial,
    Complete(Head),
    Rejected(Reject),
}

/// Parses the head at the start of `buf`, recording header positions (relative
/// to `buf`) in `out` (cleared first); a complete head is copied into `out`
/// with where its target is (see `KeptHead::keep`).
///
/// Two ways, one set of rules: a head of the plain shape nearly every
/// client sends is parsed by [`plain::parse`], written for it, which
/// declines anything else (or anything it is unsure of, or would refuse);
/// the general path, [`parse_general`], splits that with httparse, refuses
/// httparse's bare-LF leniency, and applies the rules field by field.
///
/// Always inlined: the connection's loop is its one hot caller, and as a
/// call the head went out through memory into `Parsed` and was read back
/// (~19 instructions per request, keep-alive and pipelined alike).
#[inline(always)]
pub(crate) fn parse_head(buf: &[u8], limits: &Limits, out: &mut HeadStorage) -> Parsed {
    out.headers.clear();
    if let Some((head, target)) = plain::parse(buf, limits, &mut out.headers) {
        // The target is text already (checked ASCII): kept as text, so
        // nothing downstream validates it again.
        out.head.keep(&buf[..head.len], target);
        return Parsed::Complete(head);
    }
    out.headers.clear();
    parse_general(buf, limits, out)
}

/// The general path of [`parse_head`]: any head httparse can split.
/// Not inlined: the plain path takes nearly every request, and this one
/// kept inline would only grow the connection's loop.
#[inline(never)]
fn parse_general(buf: &[u8], limits: &Limits, out: &mut HeadStorage) -> Parsed {
    let line = match split_with_httparse(buf, limits, limits.header_slots(), &mut out.headers) {
        Ok(line) => line,
        Err(parsed) => return parsed,
    };
    let RequestLine { len, method, target, version } = line;
    let Some(method) = Method::from_token(method) else {
        return Parsed::Rejected(Reject::NotImplemented("unknown request method"));
    };
    // The more specific refusal first: a head too large *because* of its
    // target is a 414.
    if target.len() > limits.max_uri {
        return Parsed::Rejected(Reject::UriTooLong);
    }
    if len > limits.max_head {
        return Parsed::Rejected(Reject::HeaderFieldsTooLarge("request head too large"));
    }
    let target_start = target.as_ptr() as usize - buf.as_ptr() as usize;
    let target_span = Span::of(target_start, target_start + target.len());
    let Some((path, query)) = split_target(target, target_start, method) else {
        return Parsed::Rejected(Reject::BadRequest("invalid request target"));
    };

    let mut fields = Fields::default();
    for (name, value) in &out.headers {
        if let Err(reject) = fields.note(name.get(buf), value.get(buf)) {
            return Parsed::Rejected(reject);
        }
    }
    match fields.finish(version, limits) {
        Ok((framing, close, keep_alive_10)) => Parsed::Complete({
            // The target is text already (UTF-8, checked by httparse).
            out.head.keep(&buf[..len], target);
            Head {
                len,
                method,
                version,
                target: target_span,
                path,
                query,
                escaped: target.contains('%'),
                framing,
                close,
                keep_alive_10,
                // RFC 9110 §10.1.1: an HTTP/1.0 client cannot know `100
                // Continue`, so the expectation is ignored.
                expect_continue: fields.expect_continue && version == Version::Http11,
            }
        }),
        Err(reject) => Parsed::Rejected(reject),
    }
}

/// A request line, split, and where the head ends.
struct RequestLine<'b> {
    /// Length of the whole head, final empty line included.
    len: usize,
    method: &'b str,
    target: &'b str,
    version: Version,
}

/// Splits a head with httparse, recording header positions in `headers`;
/// an incomplete or refused head is the `Err`.
fn split_with_httparse<'b>(
    buf: &'b [u8],
    limits: &Limits,
    slots: usize,
    headers: &mut Vec<(Span, Span)>,
) -> Result<RequestLine<'b>, Parsed> {
    let mut storage = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; HEADER_ARRAY];
    let mut request = httparse::Request::new(&mut []);
    let len = match request.parse_with_uninit_headers(buf, &mut storage[..slots]) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Err(partial(buf, limits)),
        Err(error) => return Err(Parsed::Rejected(httparse_refusal(error, buf))),
    };
    // httparse takes a bare LF for a line ending (RFC 9112 §2.2 allows
    // that leniency); a front end that does not would read different
    // fields, or a different end of the head. CRLF only.
    if has_bare_lf(&buf[..len]) {
        return Err(Parsed::Rejected(Reject::BadRequest("line not ended by CRLF")));
    }
    let offset_of = |piece: &[u8]| piece.as_ptr() as usize - buf.as_ptr() as usize;
    for header in request.headers.iter() {
        let name_start = offset_of(header.name.as_bytes());
        let value_start = offset_of(header.value);
        headers.push((
            Span::of(name_start, name_start + header.name.len()),
            Span::of(value_start, value_start + header.value.len()),
        ));
    }
    let version = match request.version {
        Some(0) => Version::Http10,
        _ => Version::Http11,
    };
    // httparse fills both in a complete head; a refusal, not a panic, if not.
    let (Some(method), Some(target)) = (request.method, request.path) else {
        return Err(Parsed::Rejected(Reject::BadRequest("malformed request line")));
    };
    Ok(RequestLine { len, method, target, version })
}

/// The refusal for an httparse error.
fn httparse_refusal(error: httparse::Error, buf: &[u8]) -> Reject {
    match error {
        httparse::Error::TooManyHeaders => Reject::HeaderFieldsTooLarge("too many header fields"),
        httparse::Error::Version => version_error(buf),
        httparse::Error::Token => Reject::BadRequest("invalid method or request line"),
        // httparse reports an obs-fold (a line starting with whitespace)
        // this way too.
        httparse::Error::HeaderName => {
            Reject::BadRequest("invalid header field name (whitespace before the colon, or a folded line?)")
        }
        httparse::Error::HeaderValue => Reject::BadRequest("invalid header field value (control character?)"),
        httparse::Error::NewLine => Reject::BadRequest("malformed line ending"),
        httparse::Error::Status => Reject::BadRequest("malformed request line"),
    }
}

/// An incomplete head: fine, unless it is already too long.
fn partial(buf: &[u8], limits: &Limits) -> Parsed {
    // Still in the request line: if the target so far, or the line alone,
    // is past the URI limit (plus room for method and version), the target
    // is too long, even if the head is too large as well (as with a 414
    // for a complete head).
    let target_so_far = || buf.split(|&b| b == b' ').nth(1).map_or(0, <[u8]>::len);
    match buf.iter().position(|&b| b == b'\n') {
        None if buf.len() > limits.max_uri + 32 || target_so_far() > limits.max_uri => {
            Parsed::Rejected(Reject::UriTooLong)
        }
        _ if buf.len() >= limits.max_head => {
            Parsed::Rejected(Reject::HeaderFieldsTooLarge("request head too large"))
        }
        _ => Parsed::Partial,
    }
}

/// httparse only speaks HTTP/1.x. A well-formed `HTTP/d.d` it refuses is a
/// version we do not support (505); anything else is a malformed line (400).
///
/// The version is the third of exactly three fields: httparse also reports
/// a space inside the target (`GET /a b HTTP/1.1`) as a bad version, and
/// that line's last field is a fine `HTTP/1.1`, which must not become 505.
fn version_error(buf: &[u8]) -> Reject {
    let line_end = buf.iter().position(|&b| b == b'\r' || b == b'\n').unwrap_or(buf.len());
    let mut fields = buf[..line_end].split(|&b| b == b' ');
    let (Some(_method), Some(_target), Some(version), None) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Reject::BadRequest("malformed request line");
    };
    match version {
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            Reject::VersionNotSupported
        }
        [b'H', b'T', b'T', b'P', b'/', major] if major.is_ascii_digit() => Reject::VersionNotSupported,
        _ => Reject::BadRequest("malformed HTTP version"),
    }
}

/// Splits a request target into path and query spans. Accepts origin-form
/// (`/path?query`), absolute-form (`http://host/path?query`), which RFC
/// 9112 §3.2.2 requires servers to accept, and asterisk-form (`*`) for
/// OPTIONS (§3.2.4, the path is then `*`); refuses the rest.
///
/// An absolute-form target without a path (`http://host`, `http://host?q`)
/// means `/` (RFC 9110 §4.2.3): its path span is then empty, and the router
/// and [`Request::path`](crate::Request::path) read an empty path as `/`.
#[inline(always)]
fn split_target(target: &str, start: usize, method: Method) -> Option<(Span, Option<Span>)> {
    let path_offset = if target.starts_with('/') {
        0
    } else if target == "*" {
        return (method == Method::Options).then_some((Span::of(start, start + 1), None));
    } else {
        let scheme_end = target.find("://")?;
        let scheme = &target[..scheme_end];
        if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
            return None;
        }
        let authority_start = scheme_end + 3;
        // The authority ends at the path or, with no path, at the query.
        let authority_len =
            target[authority_start..].find(['/', '?']).unwrap_or(target.len() - authority_start);
        let authority = &target.as_bytes()[authority_start..authority_start + authority_len];
        // RFC 9110 §4.2.1: an http URI has a non-empty host and no userinfo.
        if authority.is_empty()
            || authority.starts_with(b":")
            || !is_host(authority)
            || authority.contains(&b'@')
        {
            return None;
        }
        authority_start + authority_len
    };
    let rest = &target.as_bytes()[path_offset..];
    let path_start = start + path_offset;
    Some(match rest.iter().position(|&b| b == b'?') {
        Some(q) => {
            (Span::of(path_start, path_start + q), Some(Span::of(path_start + q + 1, start + target.len())))
        }
        None => (Span::of(path_start, start + target.len()), None),
    })
}

/// Whether a refusal of the request at the start of `buf` answers a HEAD
/// request, which RFC 9110 §9.3.2 says gets no body whatever the status. The
/// method is known once its token and the space after it have arrived,
/// even if the rest of the request is malformed or never comes.
pub(crate) fn announces_head(buf: &[u8]) -> bool {
    // Empty lines before a request line are skipped, as the parser does.
    let start = buf.iter().position(|&b| b != b'\r' && b != b'\n').unwrap_or(buf.len());
    buf[start..].starts_with(b"HEAD ")
}

/// Whether `head` has a LF not preceded by CR.
///
/// Every head passes through here, so it is written to vectorise: each
/// byte is compared with its predecessor and the results are OR-ed with no
/// early exit (a bare LF is rare, and a branch per byte cost ~5
/// instructions per byte of every head under callgrind; this costs well
/// under one).
fn has_bare_lf(head: &[u8]) -> bool {
    let Some((&first, rest)) = head.split_first() else { return false };
    let bare_inside = rest
        .iter()
        .zip(head)
        .fold(false, |found, (&byte, &previous)| found | ((byte == b'\n') & (previous != b'\r')));
    first == b'\n' || bare_inside
}

/// What the headers say about framing and the connection (filled field
/// by field here, or by the plain path in one pass; judged by `finish`).
#[derive(Default)]
pub(super) struct Fields {
    pub(super) content_length: Option<u64>,
    /// `Transfer-Encoding` seen, and whether its last coding was `chunked`.
    pub(super) transfer_encoding: Option<bool>,
    pub(super) hosts: usize,
    pub(super) connection_close: bool,
    pub(super) connection_keep_alive: bool,
    pub(super) expect_continue: bool,
}

impl Fields {
    fn note(&mut self, name: &[u8], value: &[u8]) -> Result<(), Reject> {
        if name.eq_ignore_ascii_case(b"content-length") {
            // "42" or, tolerated by RFC 9110 §8.6, a list of the same
            // value ("42, 42"); any disagreement is fatal.
            for item in value.split(|&b| b == b',') {
                let length = parse_length(trim(item)).ok_or(Reject::BadRequest("invalid Content-Length"))?;
                match self.content_length {
                    Some(previous) if previous != length => {
                        return Err(Reject::BadRequest("conflicting Content-Length values"))
                    }
                    _ => self.content_length = Some(length),
                }
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            for coding in value.split(|&b| b == b',').map(trim) {
                if coding.is_empty() {
                    continue;
                }
                if self.transfer_encoding == Some(true) {
                    // Something after `chunked`: chunked must be last, once.
                    return Err(Reject::BadRequest("chunked must be the final transfer coding"));
                }
                if coding.eq_ignore_ascii_case(b"chunked") {
                    self.transfer_encoding = Some(true);
                } else if is_token(coding) {
                    return Err(Reject::NotImplemented("transfer coding other than chunked"));
                } else {
                    return Err(Reject::BadRequest("invalid Transfer-Encoding"));
                }
            }
            self.transfer_encoding.get_or_insert(false);
        } else if name.eq_ignore_ascii_case(b"host") {
            // RFC 9112 §3.2: a Host with an invalid value is a 400, like a
            // missing or repeated one.
            if !is_host(trim(value)) {
                return Err(Reject::BadRequest("invalid Host header"));
            }
            self.hosts += 1;
        } else if name.eq_ignore_ascii_case(b"connection") {
            // Usually one option: no list to split (splitting and trimming
            // cost ~250 instructions per `Connection: close` request).
            if value.eq_ignore_ascii_case(b"close") {
                self.connection_close = true;
                return Ok(());
            }
            if value.eq_ignore_ascii_case(b"keep-alive") {
                self.connection_keep_alive = true;
                return Ok(());
            }
            for option in value.split(|&b| b == b',').map(trim) {
                if option.eq_ignore_ascii_case(b"close") {
                    self.connection_close = true;
                } else if option.eq_ignore_ascii_case(b"keep-alive") {
                    self.connection_keep_alive = true;
                }
            }
        } else if name.eq_ignore_ascii_case(b"expect") {
            if trim(value).eq_ignore_ascii_case(b"100-continue") {
                self.expect_continue = true;
            } else {
                return Err(Reject::ExpectationFailed);
            }
        }
        Ok(())
    }

    /// Cross-header rules; returns (framing, close, keep_alive_10).
    #[inline(always)]
    pub(super) fn finish(&self, version: Version, limits: &Limits) -> Result<(Framing, bool, bool), Reject> {
        if version == Version::Http11 && self.hosts == 0 {
            return Err(Reject::BadRequest("HTTP/1.1 request without a Host header"));
        }
        if self.hosts > 1 {
            return Err(Reject::BadRequest("more than one Host header"));
        }
        let framing = match (self.transfer_encoding, self.content_length) {
            (Some(_), _) if version == Version::Http10 => {
                return Err(Reject::BadRequest("Transfer-Encoding in an HTTP/1.0 request"))
            }
            (Some(_), Some(_)) => {
                return Err(Reject::BadRequest("both Content-Length and Transfer-Encoding"))
            }
            (Some(true), None) => Framing::Chunked,
            (Some(false), None) => {
                return Err(Reject::BadRequest("chunked must be the final transfer coding"))
            }
            (None, Some(length)) if length > limits.max_body => return Err(Reject::PayloadTooLarge),
            (None, Some(0)) | (None, None) => Framing::None,
            (None, Some(length)) => Framing::Length(length),
        };
        let (close, keep_alive_10) = connection(version, self.connection_close, self.connection_keep_alive);
        Ok((framing, close, keep_alive_10))
    }
}

/// The connection rule: whether the connection closes after the response,
/// and whether the response must say `keep-alive` (HTTP/1.0 asking for it),
/// given the version and the `Connection` options seen.
#[inline(always)]
pub(super) fn connection(version: Version, close: bool, keep_alive: bool) -> (bool, bool) {
    match version {
        Version::Http11 => (close, false),
        Version::Http10 => {
            let keep = keep_alive && !close;
            (!keep, keep)
        }
    }
}

/// A decimal length: 1–19 digits, nothing else.
pub(super) fn parse_length(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &d| n.checked_mul(10)?.checked_add(u64::from(d - b'0')))
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| !matches!(b, b' ' | b'\t')).unwrap_or(bytes.len());
    let end = bytes.iter().rposition(|b| !matches!(b, b' ' | b'\t')).map_or(start, |i| i + 1);
    &bytes[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> Parsed {
        parse_head(raw.as_bytes(), &Limits::default(), &mut HeadStorage::default())
    }

    fn rejected(raw: &str) -> Reject {
        match parse(raw) {
            Parsed::Rejected(reject) => reject,
            other => panic!("{raw:?} was not rejected: {other:?}"),
        }
    }

    #[test]
    fn a_simple_get_is_complete() {
        let raw = "GET /alice?x=1 HTTP/1.1\r\nHost: a\r\n\r\nNEXT";
        let Parsed::Complete(head) = parse(raw) else { panic!() };
        assert_eq!(head.len, raw.len() - 4);
        assert_eq!(head.method, Method::Get);
        assert_eq!(head.path.get(raw.as_bytes()), b"/alice");
        assert_eq!(head.query.unwrap().get(raw.as_bytes()), b"x=1");
        assert_eq!(head.framing, Framing::None);
        assert!(!head.close);
    }

    #[test]
    fn framing_and_connection_rules() {
        let Parsed::Complete(head) = parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n")
        else {
            panic!()
        };
        assert_eq!(head.framing, Framing::Length(5));
        let Parsed::Complete(head) =
            parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
        else {
            panic!()
        };
        assert_eq!(head.framing, Framing::Chunked);
        let Parsed::Complete(head) = parse("GET / HTTP/1.0\r\n\r\n") else { panic!() };
        assert!(head.close);
        let Parsed::Complete(head) = parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n") else {
            panic!()
        };
        assert!(!head.close && head.keep_alive_10);
    }

    #[test]
    fn smuggling_shapes_are_refused() {
        assert_eq!(
            rejected("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"),
            Reject::BadRequest("conflicting Content-Length values")
        );
        assert_eq!(
            rejected("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Reject::BadRequest("both Content-Length and Transfer-Encoding")
        );
        assert!(matches!(
            rejected("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"),
            Reject::BadRequest(_)
        ));
        assert!(matches!(
            rejected("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
            Reject::NotImplemented(_)
        ));
        assert!(matches!(
            rejected("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Reject::BadRequest(_)
        ));
        assert!(matches!(
            rejected("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n"),
            Reject::BadRequest(_)
        ));
    }

    #[test]
    fn versions_methods_and_hosts() {
        assert_eq!(rejected("GET / HTTP/2.0\r\nHost: a\r\n\r\n"), Reject::VersionNotSupported);
        assert_eq!(rejected("GET / HTTP/1.2\r\nHost: a\r\n\r\n"), Reject::VersionNotSupported);
        assert!(matches!(rejected("GET / HTXP/1.1\r\nHost: a\r\n\r\n"), Reject::BadRequest(_)));
        assert_eq!(
            rejected("GET /a b HTTP/1.1\r\nHost: a\r\n\r\n"),
            Reject::BadRequest("malformed request line")
        );
        assert!(matches!(rejected("BREW / HTTP/1.1\r\nHost: a\r\n\r\n"), Reject::NotImplemented(_)));
        assert!(matches!(rejected("GET / HTTP/1.1\r\n\r\n"), Reject::BadRequest(_)));
        assert!(matches!(rejected("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), Reject::BadRequest(_)));
        assert_eq!(
            rejected("GET / HTTP/1.1\r\nHost: a b\r\n\r\n"),
            Reject::BadRequest("invalid Host header")
        );
        assert!(matches!(parse("GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n"), Parsed::Complete(_)));
    }

    #[test]
    fn malformed_fields_are_refused() {
        assert!(matches!(rejected("GET / HTTP/1.1\r\nHost : a\r\n\r\n"), Reject::BadRequest(_)));
        assert!(matches!(
            rejected("GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n folded\r\n\r\n"),
            Reject::BadRequest(_)
        ));
        assert!(matches!(rejected("GET / HTTP/1.1\r\nHost: a\u{1}b\r\n\r\n"), Reject::BadRequest(_)));
    }

    #[test]
    fn targets_in_every_form() {
        let path_of = |raw: &str| match parse(raw) {
            Parsed::Complete(head) => {
                let path = String::from_utf8(head.path.get(raw.as_bytes()).to_vec()).unwrap();
                let query = head.query.map(|q| String::from_utf8(q.get(raw.as_bytes()).to_vec()).unwrap());
                (path, query)
            }
            other => panic!("{raw:?}: {other:?}"),
        };
        assert_eq!(path_of("GET http://a HTTP/1.1\r\nHost: a\r\n\r\n"), (String::new(), None));
        assert_eq!(
            path_of("GET http://a?b=/c HTTP/1.1\r\nHost: a\r\n\r\n"),
            (String::new(), Some("b=/c".into()))
        );
        assert_eq!(
            path_of("GET https://a:1/p?q HTTP/1.1\r\nHost: a\r\n\r\n"),
            ("/p".into(), Some("q".into()))
        );
        assert_eq!(path_of("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"), ("*".into(), None));
        for refused in
            ["GET * HTTP/1.1", "GET http:// HTTP/1.1", "GET http://u@a/ HTTP/1.1", "GET http:///p HTTP/1.1"]
        {
            assert_eq!(
                rejected(&format!("{refused}\r\nHost: a\r\n\r\n")),
                Reject::BadRequest("invalid request target"),
                "{refused}"
            );
        }
    }

    #[test]
    fn a_bare_lf_anywhere_in_the_head_is_refused_and_head_refusals_are_recognised() {
        for raw in [
            "GET / HTTP/1.1\nHost: a\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\n\n",
            "\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
        ] {
            assert_eq!(rejected(raw), Reject::BadRequest("line not ended by CRLF"), "{raw:?}");
        }
        assert!(announces_head(b"HEAD "));
        assert!(announces_head(b"\r\nHEAD /x HTTP/1.1\r\n"));
        assert!(!announces_head(b"HEAD"));
        assert!(!announces_head(b"HEADER / HTTP/1.1"));
    }

    /// The plain path must never disagree with the general one: wherever
    /// it answers, httparse splits the head the same way (length, method,
    /// target, version, every field's name and value), and the general path
    /// (httparse, then the rules field by field) accepts it with the same
    /// head (framing, connection, expectation, path and query) and target,
    /// so taking the fast way never changes what is accepted or how it is
    /// read. Checked on heads built from the bytes and words that matter
    /// (CR, LF, space, tab, colon, high bytes, controls, the field names the
    /// rules read and their values) and on mutations of plain heads.
    #[test]
    fn the_plain_splitter_reads_every_head_it_takes_exactly_as_httparse_does() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let pieces: [&[u8]; 34] = [
            b"GET",
            b" ",
            b"/a?b=c",
            b"HTTP/1.1",
            b"HTTP/1.0",
            b"\r\n",
            b"\n",
            b"\r",
            b"Host",
            b":",
            b"\t",
            b"x y",
            b"\x80",
            b"\x00",
            b"\x7f",
            b"%",
            b"POST",
            b"/",
            b"?",
            b"Content-Length",
            b"Transfer-Encoding",
            b"Connection",
            b"Expect",
            b"content-length",
            b"CONNECTION",
            b"5",
            b",",
            b"chunked",
            b"close",
            b"keep-alive",
            b"100-continue",
            b"127.0.0.1:80",
            b"[::1]",
            b"Host: a\r\n",
        ];
        let plains: [&[u8]; 8] = [
            b"HEAD /h HTTP/1.0\r\nHost: h\r\n\r\n",
            b"GET /a/long/path/to/something?x=1&y=/z?w HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: curl/8.0\r\nAccept: */*\r\n\r\n",
            b"GET /a?b=c HTTP/1.1\r\nHost: example.com \r\nX-Y:1\t2 \t\r\n\r\n",
            b"GET /bench HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n",
            b"POST /p?q HTTP/1.1\r\nhost:a\r\nContent-Length: 12\r\nConnection: close\r\n\r\n",
            b"PUT /x HTTP/1.1\r\nHost: [::1]:80\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n",
            b"DELETE /d HTTP/1.0\r\nCONNECTION: Keep-Alive\r\ncontent-length:0\r\n\r\n",
            b"OPTIONS /o HTTP/1.1\r\nHost: h\r\nTRANSFER-ENCODING: Chunked\r\nEXPECT: 100-Continue\r\n\r\n",
        ];
        let limits = Limits::default();
        let (mut taken, mut cases) = (0, 0);
        for round in 0..120_000 {
            let mut head = Vec::new();
            if round % 2 == 0 {
                for _ in 0..next() % 24 {
                    head.extend_from_slice(pieces[(next() as usize) % pieces.len()]);
                }
                head.extend_from_slice(b"\r\n\r\n");
            } else {
                head.extend_from_slice(plains[(next() as usize) % plains.len()]);
                for _ in 0..1 + usize::from(next() % 4 == 0) {
                    let at = (next() as usize) % head.len();
                    let special = b" \t\r\n:/?,-aA0";
                    head[at] = match next() % 3 {
                        0 => (next() % 256) as u8,
                        _ => special[(next() as usize) % special.len()],
                    };
                }
                if next() % 8 == 0 {
                    let at = (next() as usize) % head.len();
                    head.truncate(at);
                }
            }
            cases += 1;
            let mut fields = Vec::new();
            let Some((plain, target)) = plain::parse(&head, &limits, &mut fields) else { continue };
            taken += 1;
            let mut slots = [httparse::EMPTY_HEADER; 100];
            let mut request = httparse::Request::new(&mut slots);
            let Ok(httparse::Status::Complete(len)) = request.parse(&head) else {
                panic!("httparse does not take {:?}", String::from_utf8_lossy(&head));
            };
            assert_eq!(plain.len, len, "{head:?}");
            assert_eq!(Some(plain.method.as_str()), request.method, "{head:?}");
            assert_eq!(Some(target), request.path, "{head:?}");
            let version = if request.version == Some(0) { Version::Http10 } else { Version::Http11 };
            assert_eq!(plain.version, version, "{head:?}");
            let theirs: Vec<_> = request.headers.iter().map(|h| (h.name.as_bytes(), h.value)).collect();
            let ours: Vec<_> = fields.iter().map(|(n, v)| (n.get(&head), v.get(&head))).collect();
            assert_eq!(ours, theirs, "{head:?}");
            let mut storage = HeadStorage::default();
            match parse_general(&head, &limits, &mut storage) {
                Parsed::Complete(general) => assert_eq!(plain, general, "{head:?}"),
                other => panic!("the general path answers {other:?} to {head:?}"),
            }
            assert_eq!(storage.head.target(), target, "{head:?}");
            assert_eq!(storage.headers, fields, "{head:?}");
        }
        // Both kinds of input reach the comparison often enough to mean something.
        assert!(taken > cases / 20, "only {taken} of {cases} heads were plain");
        for plain in plains {
            let mut fields = Vec::new();
            assert!(plain::parse(plain, &limits, &mut fields).is_some(), "{plain:?}");
            let fewer = Limits { max_headers: fields.len() - 1, ..Limits::default() };
            if fewer.header_slots() < fields.len() {
                assert!(plain::parse(plain, &fewer, &mut Vec::new()).is_none(), "more fields than slots");
                assert!(matches!(
                    parse_general(plain, &fewer, &mut HeadStorage::default()),
                    Parsed::Rejected(_)
                ));
            }
        }
    }

    #[test]
    fn size_limits() {
        let long_uri = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(9000));
        assert_eq!(rejected(&long_uri), Reject::UriTooLong);
        let long_uri_partial = format!("GET /{}", "a".repeat(9000));
        assert_eq!(rejected(&long_uri_partial), Reject::UriTooLong);
        let just_past = format!("GET /{}", "a".repeat(8 * 1024 + 8));
        assert_eq!(rejected(&just_past), Reject::UriTooLong);
        let big_head = format!("GET / HTTP/1.1\r\nHost: a\r\nX: {}\r\n\r\n", "a".repeat(9000));
        assert!(matches!(rejected(&big_head), Reject::HeaderFieldsTooLarge(_)));
        let many = format!("GET / HTTP/1.1\r\nHost: a\r\n{}\r\n", "X: 1\r\n".repeat(100));
        assert!(matches!(rejected(&many), Reject::HeaderFieldsTooLarge(_)));
        assert_eq!(
            rejected("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2000000\r\n\r\n"),
            Reject::PayloadTooLarge
        );
    }
}
