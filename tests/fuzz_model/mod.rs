//! An independent, strict model of HTTP/1.1 request framing (RFC 9112),
//! written for the fuzzers only: it shares no code with the server and uses
//! no HTTP library. It answers one question about a byte stream: where does
//! each request (head and body) start and end, and where does the stream
//! stop being a valid sequence of requests?
//!
//! It is a recursive-descent reader over a cursor, unlike the server's
//! `httparse` + state machine, so that a mistake would have to be made twice,
//! in two different shapes, to go unnoticed.
//!
//! Strict on everything that decides framing: CRLF only (a bare CR or LF is
//! invalid), fields are `token ":" OWS value OWS` with no control
//! characters and no obs-fold, `Content-Length` is digits (a list of equal
//! values is allowed, RFC 9110 §8.6), `Transfer-Encoding` must end in one
//! `chunked` and never comes with `Content-Length` or in HTTP/1.0, chunk
//! lines follow §7.1 (extensions `BWS ";" BWS token [BWS "=" BWS (token /
//! quoted-string)]`, trailers are fields). Lenient on what does not decide
//! framing (target characters beyond "no space, no control", unknown
//! methods, Host), since the oracle only needs "the server never reads more
//! requests than this" and "never reads a body as a request".
//!
//! Used by `tests/http_fuzz.rs` and by the `cargo fuzz` targets in `fuzz/`
//! (through `#[path]`), so all of them assert the same model.

// Each user needs a different part of the model.
#![allow(dead_code)]

/// Why the model stopped reading: the input ended mid-way, or it is not
/// HTTP/1.1 framing (with a reason, for the failure report).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The bytes end before the model could decide.
    Partial,
    /// The bytes are not a valid request at this point.
    Invalid(&'static str),
}

/// How a request's body is delimited, as the model reads the head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body.
    None,
    /// `Content-Length`.
    Length(u64),
    /// `Transfer-Encoding: ..., chunked`.
    Chunked,
}

/// A request head as the model reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// Bytes of the head, leading empty lines and final CRLF included.
    pub len: usize,
    pub method: Vec<u8>,
    pub target: Vec<u8>,
    /// `b'0'` or `b'1'`: HTTP/1.0 or HTTP/1.1.
    pub minor: u8,
    pub framing: Framing,
    /// The connection ends after this request (`Connection: close`, or
    /// HTTP/1.0 without `keep-alive`).
    pub closes: bool,
}

/// A chunked body as the model reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunked {
    /// Bytes of the body, framing and trailers included.
    pub len: usize,
    /// The data, framing removed.
    pub data: Vec<u8>,
}

/// One complete request in a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Where it starts and ends in the stream.
    pub start: usize,
    pub end: usize,
    pub head: Head,
    pub body: Vec<u8>,
}

/// How a stream ends, after its complete requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// Exactly after the last request.
    Clean,
    /// After a request that closes the connection; what follows is not read.
    Closed,
    /// In the middle of a request.
    Partial,
    /// At a request that is not valid framing.
    Invalid(&'static str),
}

/// A whole stream as the model reads it.
#[derive(Debug, Clone)]
pub struct Stream {
    pub requests: Vec<Request>,
    pub end: End,
    /// Whether the request the stream ends in (partial or invalid) has
    /// announced itself as `HEAD ` (after any leading empty lines): its
    /// refusal, if the server sends one, has no body.
    pub last_is_head: bool,
    /// The head of the request the stream ends in, if that head is whole
    /// and valid (the body is what is cut short or malformed).
    pub last_head: Option<Head>,
}

/// Reads every request in `bytes`.
pub fn read_stream(bytes: &[u8]) -> Stream {
    let mut requests = Vec::new();
    let mut at = 0;
    loop {
        if at == bytes.len() {
            return Stream { requests, end: End::Clean, last_is_head: false, last_head: None };
        }
        let rest = &bytes[at..];
        let stop = |stop: Stop, requests, last_head| {
            let end = match stop {
                Stop::Partial => End::Partial,
                Stop::Invalid(why) => End::Invalid(why),
            };
            Stream { requests, end, last_is_head: announces_head(rest), last_head }
        };
        let head = match parse_head(rest) {
            Ok(head) => head,
            Err(error) => return stop(error, requests, None),
        };
        let (body, body_len) = match head.framing {
            Framing::None => (Vec::new(), 0),
            Framing::Length(n) => {
                let available = (rest.len() - head.len) as u64;
                if available < n {
                    return stop(Stop::Partial, requests, Some(head));
                }
                (rest[head.len..head.len + n as usize].to_vec(), n as usize)
            }
            Framing::Chunked => match parse_chunked(&rest[head.len..]) {
                Ok(chunked) => (chunked.data, chunked.len),
                Err(error) => return stop(error, requests, Some(head)),
            },
        };
        let end = at + head.len + body_len;
        let closes = head.closes;
        requests.push(Request { start: at, end, head, body });
        at = end;
        if closes {
            return Stream { requests, end: End::Closed, last_is_head: false, last_head: None };
        }
    }
}

/// Whether `bytes` starts (after empty lines) with the HEAD method.
pub fn announces_head(bytes: &[u8]) -> bool {
    let start = bytes.iter().position(|&b| b != b'\r' && b != b'\n').unwrap_or(bytes.len());
    bytes[start..].starts_with(b"HEAD ")
}

/// A cursor over the input; running off its end is `Stop::Partial`.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Result<u8, Stop> {
        self.bytes.get(self.at).copied().ok_or(Stop::Partial)
    }

    fn next(&mut self) -> Result<u8, Stop> {
        let byte = self.peek()?;
        self.at += 1;
        Ok(byte)
    }

    /// Consumes bytes while `accept` holds; returns them.
    fn take_while(&mut self, accept: impl Fn(u8) -> bool) -> Result<&'a [u8], Stop> {
        let start = self.at;
        while accept(self.peek()?) {
            self.at += 1;
        }
        Ok(&self.bytes[start..self.at])
    }

    fn literal(&mut self, expected: &[u8], why: &'static str) -> Result<(), Stop> {
        for &wanted in expected {
            if self.next()? != wanted {
                return Err(Stop::Invalid(why));
            }
        }
        Ok(())
    }

    fn crlf(&mut self, why: &'static str) -> Result<(), Stop> {
        self.literal(b"\r\n", why)
    }
}

/// RFC 9110 `tchar`.
pub fn is_tchar(b: u8) -> bool {
    matches!(
        b,
        b'!' | b'#'
            | b'$'
            | b'%'
            | b'&'
            | b'\''
            | b'*'
            | b'+'
            | b'-'
            | b'.'
            | b'^'
            | b'_'
            | b'`'
            | b'|'
            | b'~'
    ) || b.is_ascii_digit()
        || b.is_ascii_alphabetic()
}

fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// A field-value byte: VCHAR, obs-text, or whitespace inside.
fn is_field_byte(b: u8) -> bool {
    is_ows(b) || (0x21..=0x7e).contains(&b) || b >= 0x80
}

/// A request-target byte: anything visible (the model does not judge the
/// target's grammar, only where it ends).
fn is_target_byte(b: u8) -> bool {
    b > 0x20 && b != 0x7f
}

/// Parses the request head at the start of `bytes`.
pub fn parse_head(bytes: &[u8]) -> Result<Head, Stop> {
    let mut c = Cursor { bytes, at: 0 };
    // RFC 9112 §2.2: empty lines before a request line are ignored.
    while c.peek()? == b'\r' {
        c.crlf("bare CR before the request line")?;
    }
    let method = c.take_while(is_tchar)?.to_vec();
    if method.is_empty() {
        return Err(Stop::Invalid("no method"));
    }
    c.literal(b" ", "method not followed by one space")?;
    let target = c.take_while(is_target_byte)?.to_vec();
    if target.is_empty() {
        return Err(Stop::Invalid("no target"));
    }
    c.literal(b" ", "target not followed by one space")?;
    c.literal(b"HTTP/1.", "not HTTP/1.x")?;
    let minor = c.next()?;
    if minor != b'0' && minor != b'1' {
        return Err(Stop::Invalid("HTTP version other than 1.0 or 1.1"));
    }
    c.crlf("request line not ended by CRLF")?;

    let mut lengths: Vec<u64> = Vec::new();
    let mut codings: Vec<Vec<u8>> = Vec::new();
    let mut saw_te = false;
    let mut close = false;
    let mut keep_alive = false;
    loop {
        if c.peek()? == b'\r' {
            c.crlf("bare CR in the head")?;
            break;
        }
        let name = c.take_while(is_tchar)?;
        if name.is_empty() {
            return Err(Stop::Invalid("field line without a name (obs-fold?)"));
        }
        c.literal(b":", "field name not followed by a colon")?;
        let value = c.take_while(is_field_byte)?;
        c.crlf("field line not ended by CRLF")?;
        let value = trim_ows(value);
        let list = || value.split(|&b| b == b',').map(trim_ows).filter(|item| !item.is_empty());
        if name.eq_ignore_ascii_case(b"content-length") {
            if value.split(|&b| b == b',').any(|item| {
                let item = trim_ows(item);
                item.is_empty() || !item.iter().all(u8::is_ascii_digit)
            }) {
                return Err(Stop::Invalid("Content-Length is not a list of digits"));
            }
            for item in list() {
                let digits = &item[item.iter().position(|&d| d != b'0').unwrap_or(item.len())..];
                if digits.len() > 19 {
                    return Err(Stop::Invalid("Content-Length out of range"));
                }
                let n = digits.iter().fold(0u64, |n, &d| n * 10 + u64::from(d - b'0'));
                lengths.push(n);
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            saw_te = true;
            codings.extend(list().map(<[u8]>::to_vec));
        } else if name.eq_ignore_ascii_case(b"connection") {
            for option in list() {
                close |= option.eq_ignore_ascii_case(b"close");
                keep_alive |= option.eq_ignore_ascii_case(b"keep-alive");
            }
        }
    }

    let framing = if saw_te {
        if minor == b'0' {
            return Err(Stop::Invalid("Transfer-Encoding in HTTP/1.0"));
        }
        if !lengths.is_empty() {
            return Err(Stop::Invalid("Transfer-Encoding with Content-Length"));
        }
        let chunked = |coding: &Vec<u8>| coding.eq_ignore_ascii_case(b"chunked");
        match codings.split_last() {
            Some((last, before)) if chunked(last) && !before.iter().any(chunked) => Framing::Chunked,
            _ => return Err(Stop::Invalid("Transfer-Encoding does not end in one chunked")),
        }
    } else {
        match lengths.split_first() {
            None => Framing::None,
            Some((&first, rest)) if rest.iter().all(|&n| n == first) => {
                if first == 0 {
                    Framing::None
                } else {
                    Framing::Length(first)
                }
            }
            Some(_) => return Err(Stop::Invalid("conflicting Content-Length values")),
        }
    };
    let closes = close || (minor == b'0' && !keep_alive);
    Ok(Head { len: c.at, method, target, minor, framing, closes })
}

fn trim_ows(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| !is_ows(b)).unwrap_or(bytes.len());
    let end = bytes.iter().rposition(|&b| !is_ows(b)).map_or(start, |i| i + 1);
    &bytes[start..end]
}

/// Parses a chunked body (data, last chunk, trailers) at the start of
/// `bytes`.
pub fn parse_chunked(bytes: &[u8]) -> Result<Chunked, Stop> {
    let mut c = Cursor { bytes, at: 0 };
    let mut data = Vec::new();
    loop {
        let digits = c.take_while(|b| b.is_ascii_hexdigit())?;
        if digits.is_empty() {
            return Err(Stop::Invalid("chunk size without digits"));
        }
        let significant = &digits[digits.iter().position(|&d| d != b'0').unwrap_or(digits.len())..];
        if significant.len() > 15 {
            return Err(Stop::Invalid("chunk size out of range"));
        }
        let size =
            significant.iter().fold(0u64, |n, &d| n * 16 + u64::from((d as char).to_digit(16).unwrap_or(0)));
        chunk_extensions(&mut c)?;
        c.crlf("chunk size line not ended by CRLF")?;
        if size == 0 {
            break;
        }
        let available = (bytes.len() - c.at) as u64;
        if available < size {
            return Err(Stop::Partial);
        }
        data.extend_from_slice(&bytes[c.at..c.at + size as usize]);
        c.at += size as usize;
        c.crlf("chunk data not followed by CRLF")?;
    }
    // The trailer section: field lines, then an empty line.
    loop {
        if c.peek()? == b'\r' {
            c.crlf("bare CR in the trailer section")?;
            return Ok(Chunked { len: c.at, data });
        }
        let name = c.take_while(is_tchar)?;
        if name.is_empty() {
            return Err(Stop::Invalid("trailer line without a field name"));
        }
        c.literal(b":", "trailer name not followed by a colon")?;
        c.take_while(is_field_byte)?;
        c.crlf("trailer line not ended by CRLF")?;
    }
}

/// `*( BWS ";" BWS ext-name [ BWS "=" BWS ext-value ] )`, stopping before
/// the CR.
fn chunk_extensions(c: &mut Cursor<'_>) -> Result<(), Stop> {
    loop {
        c.take_while(is_ows)?;
        match c.peek()? {
            b'\r' if !matches!(c.bytes.get(c.at.wrapping_sub(1)), Some(b' ' | b'\t')) => return Ok(()),
            b';' => c.at += 1,
            _ => return Err(Stop::Invalid("junk after the chunk size")),
        }
        c.take_while(is_ows)?;
        if c.take_while(is_tchar)?.is_empty() {
            return Err(Stop::Invalid("chunk extension without a name"));
        }
        let before_ws = c.at;
        c.take_while(is_ows)?;
        if c.peek()? != b'=' {
            // No value: back to before the whitespace, which the next round
            // reads as the BWS before ";" (and refuses before CR).
            c.at = before_ws;
            continue;
        }
        c.at += 1;
        c.take_while(is_ows)?;
        if c.peek()? == b'"' {
            c.at += 1;
            loop {
                match c.next()? {
                    b'"' => break,
                    b'\\' => {
                        let escaped = c.next()?;
                        if !is_field_byte(escaped) {
                            return Err(Stop::Invalid("bad quoted-pair in a chunk extension"));
                        }
                    }
                    b if is_field_byte(b) => {}
                    _ => return Err(Stop::Invalid("control character in a chunk extension")),
                }
            }
        } else if c.take_while(is_tchar)?.is_empty() {
            return Err(Stop::Invalid("chunk extension value is neither token nor quoted-string"));
        }
    }
}
