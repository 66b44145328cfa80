//! Parsing and validating a request head: `httparse` finds the pieces; this
//! file decides whether the request is acceptable, and how its body is
//! framed, following RFC 9112 wherever it says "MUST".
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
//! Targets: origin-form (`/path?query`); absolute-form (`http://host/path`,
//! and `http://host` meaning `/`), whose authority needs a host and no
//! userinfo; asterisk-form (`*`) for OPTIONS only, answered by the server
//! itself with the methods the app routes.

use std::mem::MaybeUninit;

use crate::error::Reject;
use crate::http::method::Method;
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
#[derive(Debug)]
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
/// to `buf`) and the request target, as text, in `out` (cleared first).
///
/// Two ways to find the pieces, one set of rules after: a head of the
/// plain shape nearly every client sends is split by [`split_plain`],
/// written for it; anything else (or anything it is unsure of) by
/// httparse, whose answer on the plain shape is the same, and whose bare-LF
/// leniency is then refused here.
#[inline]
pub(crate) fn parse_head(buf: &[u8], limits: &Limits, out: &mut HeadStorage) -> Parsed {
    out.target.clear();
    out.headers.clear();
    let slots = limits.header_slots();
    let line = match split_plain(buf, slots, &mut out.headers) {
        Some(line) => line,
        None => {
            out.headers.clear();
            match split_with_httparse(buf, limits, slots, &mut out.headers) {
                Ok(line) => line,
                Err(parsed) => return parsed,
            }
        }
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
    // The target is text already (checked ASCII, or UTF-8 by httparse):
    // keep it as text now, so nothing downstream validates it again.
    out.target.push_str(target);
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
        Ok((framing, close, keep_alive_10)) => Parsed::Complete(Head {
            len,
            method,
            version,
            target: target_span,
            path,
            query,
            framing,
            close,
            keep_alive_10,
            // RFC 9110 §10.1.1: an HTTP/1.0 client cannot know `100
            // Continue`, so the expectation is ignored.
            expect_continue: fields.expect_continue && version == Version::Http11,
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

/// Byte classes for [`split_plain`]: one table lookup tells every rule a
/// byte is checked against.
const TCHAR: u8 = 1;
/// A target byte of the plain shape: visible ASCII (`!`..`~`).
const TARGET: u8 = 2;
/// A header value byte of the plain shape: visible ASCII, space, tab.
const VALUE: u8 = 4;

static CLASS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut byte = 0;
    while byte < 256 {
        let b = byte as u8;
        let mut class = 0;
        if crate::http::token::TCHAR[byte] {
            class |= TCHAR;
        }
        if b >= b'!' && b <= b'~' {
            class |= TARGET;
        }
        if b == b'\t' || (b >= b' ' && b <= b'~') {
            class |= VALUE;
        }
        table[byte] = class;
        byte += 1;
    }
    table
};

const HTTP_1_1: u64 = u64::from_le_bytes(*b"HTTP/1.1");
const HTTP_1_0: u64 = u64::from_le_bytes(*b"HTTP/1.0");

/// Splits a head of the plain shape: `METHOD SP target SP HTTP/1.x CRLF`,
/// then `name: value CRLF` lines, then CRLF, where the method and names
/// are tokens, the target visible ASCII, the values visible ASCII, space
/// and tab, and there are at most `slots` fields. On such a head httparse
/// gives exactly these pieces (values without the whitespace around them);
/// `None` for anything else — incomplete, malformed, unusual (empty lines
/// first, bytes above 0x7f, an empty value) — which httparse then judges.
/// Header positions go into `headers`; on `None` it may hold some.
///
/// Written for the common case because it is every request's first cost:
/// httparse's general path (its UTF-8 check of the target, SIMD set-up for
/// short lines, then the bare-LF scan it needs after it) was ~640
/// instructions for a 45-byte head under callgrind. Inlined into its one
/// caller, like the other small per-request steps here: as calls, their
/// register saves and restores were a tenth of the parse.
#[inline(always)]
fn split_plain<'b>(buf: &'b [u8], slots: usize, headers: &mut Vec<(Span, Span)>) -> Option<RequestLine<'b>> {
    // Method: a token, then one space.
    let method_end = run(buf, 0, TCHAR);
    if method_end == 0 || buf.get(method_end) != Some(&b' ') {
        return None;
    }
    // Target: visible ASCII, then one space.
    let target_start = method_end + 1;
    let target_end = run_visible(buf, target_start, b'!');
    if target_end == target_start || buf.get(target_end) != Some(&b' ') {
        return None;
    }
    // `HTTP/1.` and the digit and CRLF, compared as two words rather than
    // a 10-byte slice against each literal.
    let line_end: &[u8; 10] = buf.get(target_end + 1..target_end + 11)?.try_into().ok()?;
    let (word, rest) = line_end.split_at(8);
    let version = match (u64::from_le_bytes(word.try_into().ok()?), rest) {
        (HTTP_1_1, b"\r\n") => Version::Http11,
        (HTTP_1_0, b"\r\n") => Version::Http10,
        _ => return None,
    };
    let mut at = target_end + 11;
    // Fields, until the empty line.
    loop {
        match buf.get(at..at + 2)? {
            b"\r\n" => break,
            [b'\r', _] => return None,
            _ => {}
        }
        let name_end = run(buf, at, TCHAR);
        if name_end == at || buf.get(name_end) != Some(&b':') || headers.len() == slots {
            return None;
        }
        let name = Span::of(at, name_end);
        let value_end = run_value(buf, name_end + 1);
        if buf.get(value_end..value_end + 2) != Some(b"\r\n") {
            return None;
        }
        // Without the whitespace around it; an empty value is left to
        // httparse, which places it differently.
        let value = &buf[name_end + 1..value_end];
        let first = value.iter().position(|&b| b != b' ' && b != b'\t')?;
        let last = value.iter().rposition(|&b| b != b' ' && b != b'\t')?;
        headers.push((name, Span::of(name_end + 1 + first, name_end + 2 + last)));
        at = value_end + 2;
    }
    // SAFETY: the method is tchar bytes and the target visible ASCII
    // (checked above against `CLASS`): both are ASCII, so valid UTF-8.
    // Checking again cost ~100 instructions per request under callgrind.
    let (method, target) = unsafe {
        (
            std::str::from_utf8_unchecked(&buf[..method_end]),
            std::str::from_utf8_unchecked(&buf[target_start..target_end]),
        )
    };
    Some(RequestLine { len: at + 2, method, target, version })
}

/// A byte of ones in every lane, and the lanes' high bits.
const LANES: u64 = u64::from_le_bytes([0x01; 8]);
const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);

/// Where the run of bytes in `low..=b'~'` that starts at `from` ends: the
/// target (`low` = `!`) and header values (`low` = space) are scanned
/// eight bytes at a time, ~1.5 instructions a byte where a table lookup per
/// byte was ~7.
///
/// Per 8-byte word (little-endian, so the first byte is the lowest lane):
/// a lane below `low` sets its high bit in `word - low·LANES` (and not in
/// `word`), a lane above `~` in `word + (127 - '~')·LANES` or in `word`
/// itself. Borrows and carries only run from a flagged lane upwards, so
/// the lowest flagged lane is always the first byte out of range.
#[inline(always)]
fn run_visible(buf: &[u8], from: usize, low: u8) -> usize {
    let mut at = from;
    while let Some(chunk) = buf.get(at..at + 8) {
        let Ok(bytes) = <[u8; 8]>::try_from(chunk) else { break };
        let word = u64::from_le_bytes(bytes);
        let below = word.wrapping_sub(LANES * u64::from(low)) & !word & HIGHS;
        let above = (word.wrapping_add(LANES * u64::from(127 - b'~')) | word) & HIGHS;
        let out = below | above;
        if out != 0 {
            return at + (out.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    at + buf
        .get(at..)
        .unwrap_or_default()
        .iter()
        .position(|&b| !(low..=b'~').contains(&b))
        .unwrap_or(buf.len() - at)
}

/// Where a header value's run of bytes (visible ASCII, space, tab) that
/// starts at `from` ends.
#[inline(always)]
fn run_value(buf: &[u8], from: usize) -> usize {
    let mut at = run_visible(buf, from, b' ');
    // A tab is rare in a value: step over it and go on by words.
    while buf.get(at) == Some(&b'\t') {
        at = run_visible(buf, at + 1, b' ');
    }
    at
}

/// Where the run of bytes of `class` that starts at `from` ends (the
/// index of the first byte not in it, or the end of `buf`).
#[inline]
fn run(buf: &[u8], from: usize, class: u8) -> usize {
    let rest = buf.get(from..).unwrap_or_default();
    from + rest.iter().position(|&b| CLASS[usize::from(b)] & class == 0).unwrap_or(rest.len())
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

/// What the headers say about framing and the connection.
#[derive(Default)]
struct Fields {
    content_length: Option<u64>,
    /// `Transfer-Encoding` seen, and whether its last coding was `chunked`.
    transfer_encoding: Option<bool>,
    hosts: usize,
    connection_close: bool,
    connection_keep_alive: bool,
    expect_continue: bool,
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
    fn finish(&self, version: Version, limits: &Limits) -> Result<(Framing, bool, bool), Reject> {
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
        let (close, keep_alive_10) = match version {
            Version::Http11 => (self.connection_close, false),
            Version::Http10 => {
                let keep = self.connection_keep_alive && !self.connection_close;
                (!keep, keep)
            }
        };
        Ok((framing, close, keep_alive_10))
    }
}

/// A decimal length: 1–19 digits, nothing else.
fn parse_length(digits: &[u8]) -> Option<u64> {
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

    /// The plain splitter must never disagree with httparse: wherever it
    /// answers, httparse reads the same head (length, method, target,
    /// version, every field's name and value), so taking the fast way never
    /// changes what is accepted. Checked on heads built from the bytes that
    /// matter (CR, LF, space, tab, colon, high bytes, controls) and on
    /// single-byte mutations of plain heads.
    #[test]
    fn the_plain_splitter_reads_every_head_it_takes_exactly_as_httparse_does() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let pieces: [&[u8]; 16] = [
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
        ];
        let plain: &[u8] = b"GET /a?b=c HTTP/1.1\r\nHost: example.com \r\nX-Y:\t1 2\r\n\r\n";
        let (mut taken, mut cases) = (0, 0);
        for round in 0..60_000 {
            let mut head = Vec::new();
            if round % 2 == 0 {
                for _ in 0..next() % 24 {
                    head.extend_from_slice(pieces[(next() % 16) as usize]);
                }
                head.extend_from_slice(b"\r\n\r\n");
            } else {
                head.extend_from_slice(plain);
                let at = (next() as usize) % head.len();
                head[at] = (next() % 256) as u8;
                if next() % 4 == 0 {
                    head.truncate(at);
                }
            }
            cases += 1;
            let mut fields = Vec::new();
            let Some(line) = split_plain(&head, 100, &mut fields) else { continue };
            taken += 1;
            let mut slots = [httparse::EMPTY_HEADER; 100];
            let mut request = httparse::Request::new(&mut slots);
            let Ok(httparse::Status::Complete(len)) = request.parse(&head) else {
                panic!("httparse does not take {:?}", String::from_utf8_lossy(&head));
            };
            assert_eq!(line.len, len, "{head:?}");
            assert_eq!(Some(line.method), request.method, "{head:?}");
            assert_eq!(Some(line.target), request.path, "{head:?}");
            let version = if request.version == Some(0) { Version::Http10 } else { Version::Http11 };
            assert_eq!(line.version, version, "{head:?}");
            let theirs: Vec<_> = request.headers.iter().map(|h| (h.name.as_bytes(), h.value)).collect();
            let ours: Vec<_> = fields.iter().map(|(n, v)| (n.get(&head), v.get(&head))).collect();
            assert_eq!(ours, theirs, "{head:?}");
        }
        // Both kinds of input reach the comparison often enough to mean something.
        assert!(taken > cases / 20, "only {taken} of {cases} heads were plain");
        let mut fields = Vec::new();
        assert!(split_plain(plain, 100, &mut fields).is_some(), "the plain head itself");
        assert!(split_plain(plain, 1, &mut Vec::new()).is_none(), "more fields than slots go to httparse");
    }

    /// The word-at-a-time scans stop exactly where a byte-at-a-time scan
    /// against the class table does, for every byte value at every
    /// position of runs of every length around the word size.
    #[test]
    fn the_word_scans_stop_where_the_byte_scan_does() {
        for len in 0..20 {
            for at in 0..=len {
                for stop in 0..=255u8 {
                    let mut buf = vec![b'a'; len];
                    buf.extend_from_slice(b"zz");
                    if at < len {
                        buf[at] = stop;
                    }
                    // A second odd byte after it: only the first may count.
                    if at + 2 < len && stop % 3 == 0 {
                        buf[at + 2] = stop.wrapping_add(128);
                    }
                    assert_eq!(run_visible(&buf, 0, b'!'), run(&buf, 0, TARGET), "{buf:?}");
                    assert_eq!(run_value(&buf, 0), run(&buf, 0, VALUE), "{buf:?}");
                    assert_eq!(
                        run_value(&buf, 1.min(buf.len())),
                        run(&buf, 1.min(buf.len()), VALUE),
                        "{buf:?}"
                    );
                }
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
