//! The fast path of request-head parsing: one pass over a head of the plain
//! shape nearly every client sends, which splits it, classifies its fields
//! and applies the same rules as the general path (`parse.rs`), or declines.
//!
//! The plain shape: a known method and one space, an origin-form target of
//! visible ASCII and one space, `HTTP/1.1` or `HTTP/1.0`, CRLF; then
//! `name: value` lines of a token, a colon, at most one space and a
//! non-empty value of visible ASCII, space and tab; then CRLF; at most
//! `max_headers` fields and within the size limits. The fields the rules
//! read (`Host`, `Content-Length`, `Transfer-Encoding`, `Connection`,
//! `Expect`) are taken only in their common form (one host, one decimal
//! length, `chunked`, `close` or `keep-alive`, `100-continue`). On
//! anything else — incomplete,
//! unusual, or refused — [`parse`] answers `None` and the general path
//! (httparse, then the rules one field at a time) decides, so a refusal
//! and its reason are worked out in one place only.
//!
//! Why a second path: parsing is every request's first cost. The general
//! path (httparse's split, then a chain of case-insensitive name compares
//! per field, a method search, per-byte table lookups) cost ~730
//! instructions for a 45-byte head under callgrind; this one ~320. The
//! method is one masked word compare (which also yields the `Method`); the
//! names the rules read are recognised by their first byte and one or
//! three masked word compares, and their values by one or two; what was
//! seen is a few bits, judged once at the end; the target, names and
//! values are scanned sixteen bytes at a time with SSE2 (x86_64's
//! baseline), eight at a time with word arithmetic where fewer are left or
//! on other targets.
//!
//! ```text
//! GET /bench HTTP/1.1\r\n        method word · target block (end, `?`) · version word
//! Host: 127.0.0.1:8080\r\n       name word · one block of host bytes · CRLF
//! \r\n                           limits, then the cross-field rules on the bits seen
//! ```
//!
//! Safety of having two paths: the differential test in `parse.rs`
//! (`the_plain_splitter_reads_every_head_it_takes_exactly_as_httparse_does`)
//! checks on generated and mutated heads that wherever this path answers,
//! httparse splits the head identically and the general path accepts it
//! with the identical result.

use crate::http::method::Method;
use crate::http::parse::{connection, Fields, Framing, Head, Version};
use crate::http::token::is_host;
use crate::server::limits::{Limits, HEADER_ARRAY};
use crate::server::pool::Span;

/// Parses a head of the plain shape at the start of `buf` (see the module
/// doc), recording its fields' positions in `headers` (at most
/// `max_headers` of them); also returns the target as text. `None`: not
/// plain, incomplete, over a limit or refused by a rule; `headers` may then
/// hold some fields.
#[inline(always)]
pub(super) fn parse<'b>(
    buf: &'b [u8],
    limits: &Limits,
    headers: &mut Vec<(Span, Span)>,
) -> Option<(Head, &'b str)> {
    let (method, target_start) = method_of(word_at(buf, 0)?)?;
    // Origin-form only: absolute-form and `*` are for the general path.
    if buf.get(target_start) != Some(&b'/') {
        return None;
    }
    let (target_end, query_at, escaped) = scan_target(buf, target_start)?;
    // ` HTTP/1.x` and CRLF: one word compare for the version.
    let version_at = target_end + 1;
    if buf.get(target_end) != Some(&b' ') || buf.get(version_at + 8..version_at + 10)? != b"\r\n" {
        return None;
    }
    let version = match word_at(buf, version_at)? {
        HTTP_1_1 => Version::Http11,
        HTTP_1_0 => Version::Http10,
        _ => return None,
    };
    let mut at = version_at + 10;
    // The fields the rules read, as bits, and the length: two values live
    // through the loop where `Fields`' six spilled from registers.
    let mut seen = 0u8;
    let mut length = 0u64;
    loop {
        if buf.get(at..at + 2)? == b"\r\n" {
            break;
        }
        // Eight bytes exist at every field line of a complete head but the
        // shortest last ones (`X:y` CRLF CRLF), which go the general way.
        let (colon, name) = name_of(buf, at, word_at(buf, at)?)?;
        // A bound on what a head can make this store (the limit itself is
        // checked once, after the loop).
        if headers.len() == HEADER_ARRAY {
            return None;
        }
        let (value, value_end) = value_at(buf, colon + 1, name == Name::Host)?;
        let text = || value.get(buf);
        match name {
            Name::Other => {}
            Name::Host if seen & HOST == 0 => seen |= HOST,
            Name::ContentLength if seen & LENGTH == 0 => {
                length = crate::http::parse::parse_length(text())?;
                seen |= LENGTH;
            }
            Name::TransferEncoding if seen & CHUNKED == 0 && V_CHUNKED.is(buf, value) => seen |= CHUNKED,
            Name::Connection if V_CLOSE.is(buf, value) => seen |= CLOSE,
            Name::Connection if V_KEEP_ALIVE.is(buf, value) => seen |= KEEP_ALIVE,
            Name::Expect if V_CONTINUE.is(buf, value) => seen |= EXPECT,
            // A list, a repeat or an unknown option: the general path's.
            _ => return None,
        }
        headers.push((Span::of(at, colon), value));
        at = value_end + 2;
    }
    let len = at + 2;
    // The limits, once: a head past one is the general path's to refuse.
    // `max_headers` rather than `header_slots()` (it clamps to 1..=256): at
    // most 256 fields get here, and declining one more kind of head (a
    // field with `max_headers` 0) is always safe.
    if target_end - target_start > limits.max_uri
        || len > limits.max_head
        || headers.len() > limits.max_headers
    {
        return None;
    }
    let (framing, close, keep_alive_10) = if seen == HOST {
        // The most usual head of all: `connection` folded by hand.
        (Framing::None, version == Version::Http10, false)
    } else if seen & (HOST | LENGTH | CHUNKED) == HOST {
        // The usual head: one Host and no body. Of the cross-field rules
        // only the connection's is left (a shortcut through `finish`
        // worth ~15 instructions a request).
        let (close, keep_alive_10) = connection(version, seen & CLOSE != 0, seen & KEEP_ALIVE != 0);
        (Framing::None, close, keep_alive_10)
    } else {
        // The cross-field rules are the general path's own, on what was seen.
        let fields = Fields {
            content_length: (seen & LENGTH != 0).then_some(length),
            transfer_encoding: (seen & CHUNKED != 0).then_some(true),
            hosts: usize::from(seen & HOST != 0),
            connection_close: seen & CLOSE != 0,
            connection_keep_alive: seen & KEEP_ALIVE != 0,
            expect_continue: seen & EXPECT != 0,
        };
        fields.finish(version, limits).ok()?
    };
    let head = Head {
        len,
        method,
        version,
        target: Span::of(target_start, target_end),
        path: Span::of(target_start, query_at.unwrap_or(target_end)),
        query: query_at.map(|at| Span::of(at + 1, target_end)),
        escaped,
        framing,
        close,
        keep_alive_10,
        // RFC 9110 §10.1.1, as in the general path.
        expect_continue: seen & EXPECT != 0 && version == Version::Http11,
    };
    // SAFETY: `scan_target` took only visible ASCII (`!`..`~`) between
    // these positions, which is valid UTF-8.
    let target = unsafe { std::str::from_utf8_unchecked(&buf[target_start..target_end]) };
    Some((head, target))
}

/// Bits of `seen` in [`parse`]: which of the fields the rules read a head
/// had (a repeated Host, length or coding goes the general way).
const HOST: u8 = 1;
const LENGTH: u8 = 2;
const CHUNKED: u8 = 4;
const CLOSE: u8 = 8;
const KEEP_ALIVE: u8 = 16;
const EXPECT: u8 = 32;

const HTTP_1_1: u64 = u64::from_le_bytes(*b"HTTP/1.1");
const HTTP_1_0: u64 = u64::from_le_bytes(*b"HTTP/1.0");

/// The sixteen bytes at `at`, for the SSE2 scans.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn block_at(buf: &[u8], at: usize) -> Option<&[u8; 16]> {
    buf.get(at..at + 16)?.try_into().ok()
}

/// The eight bytes at `at` as one word, the first byte in the lowest lane.
#[inline(always)]
fn word_at(buf: &[u8], at: usize) -> Option<u64> {
    let bytes: [u8; 8] = buf.get(at..at + 8)?.try_into().ok()?;
    Some(u64::from_le_bytes(bytes))
}

/// Up to eight bytes to find at the start of a word: `word` matches if
/// `(word | case) & mask == text`. `case` sets bit 5 in the lanes of
/// letters, so that both cases of a letter match its lower case and
/// nothing else does (`b | 0x20 == b'h'` only for `h` and `H`); every other
/// lane must be exactly its byte (a `-` with bit 5 forced would also match
/// CR, a `:` also SUB).
#[derive(Clone, Copy)]
struct Pattern {
    text: u64,
    case: u64,
    mask: u64,
}

impl Pattern {
    /// `text` (lower case) in any case.
    const fn caseless(text: &[u8]) -> Pattern {
        Pattern::new(text, true)
    }

    /// Exactly `text`.
    const fn exact(text: &[u8]) -> Pattern {
        Pattern::new(text, false)
    }

    const fn new(text: &[u8], caseless: bool) -> Pattern {
        let mut pattern = Pattern { text: 0, case: 0, mask: 0 };
        let mut i = 0;
        while i < text.len() {
            let shift = 8 * i as u32;
            pattern.text |= (text[i] as u64) << shift;
            pattern.mask |= 0xff << shift;
            if caseless && text[i].is_ascii_lowercase() {
                pattern.case |= 0x20 << shift;
            }
            i += 1;
        }
        pattern
    }

    #[inline(always)]
    fn matches(self, word: u64) -> bool {
        (word | self.case) & self.mask == self.text
    }
}

/// A field value the rules look for, 1 to 16 bytes in any case, found by
/// one or two masked word compares (its first eight bytes, and its last
/// eight, which may overlap them) where `eq_ignore_ascii_case` lowered and
/// compared a byte at a time.
struct Phrase {
    text: &'static [u8],
    head: Pattern,
    tail: Pattern,
}

impl Phrase {
    /// `text`: lower case, 1 to 16 bytes.
    const fn new(text: &'static [u8]) -> Phrase {
        let len = text.len();
        let (head, _) = text.split_at(if len < 8 { len } else { 8 });
        let (_, tail) = text.split_at(len.saturating_sub(8));
        Phrase { text, head: Pattern::caseless(head), tail: Pattern::caseless(tail) }
    }

    /// Whether the value at `value` in `buf` is this phrase.
    #[inline(always)]
    fn is(&self, buf: &[u8], value: Span) -> bool {
        let (start, len) = (value.start as usize, self.text.len());
        if value.end as usize - start != len {
            return false;
        }
        let tail_at = start + len.saturating_sub(8);
        match (word_at(buf, start), word_at(buf, tail_at)) {
            (Some(head), Some(tail)) => self.head.matches(head) && self.tail.matches(tail),
            // Too near the end of the buffer for words.
            _ => value.get(buf).eq_ignore_ascii_case(self.text),
        }
    }
}

const V_CLOSE: Phrase = Phrase::new(b"close");
const V_KEEP_ALIVE: Phrase = Phrase::new(b"keep-alive");
const V_CHUNKED: Phrase = Phrase::new(b"chunked");
const V_CONTINUE: Phrase = Phrase::new(b"100-continue");

/// The method at the start of a head and where its target starts, from
/// the head's first eight bytes: a word compare per method (with its space,
/// so `GETX` is not `GET`), `GET` first. Methods are case-sensitive (RFC
/// 9110 §9.1). `None` for any other method, known or not.
#[inline(always)]
fn method_of(word: u64) -> Option<(Method, usize)> {
    const GET: Pattern = Pattern::exact(b"GET ");
    const OTHERS: [(Pattern, Method); 8] = [
        (Pattern::exact(b"POST "), Method::Post),
        (Pattern::exact(b"HEAD "), Method::Head),
        (Pattern::exact(b"PUT "), Method::Put),
        (Pattern::exact(b"DELETE "), Method::Delete),
        (Pattern::exact(b"OPTIONS "), Method::Options),
        (Pattern::exact(b"PATCH "), Method::Patch),
        (Pattern::exact(b"CONNECT "), Method::Connect),
        (Pattern::exact(b"TRACE "), Method::Trace),
    ];
    if GET.matches(word) {
        return Some((Method::Get, 4));
    }
    OTHERS
        .into_iter()
        .find(|(pattern, _)| pattern.matches(word))
        .map(|(_, method)| (method, method.as_str().len() + 1))
}

/// A field name the rules read.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Name {
    Host,
    ContentLength,
    TransferEncoding,
    Connection,
    Expect,
    /// Any other token.
    Other,
}

/// The field name of the line at `at` (whose first eight bytes are
/// `word`): the position of its colon, and which name it is. The names
/// the rules read are recognised whole, colon included, by their first
/// byte and masked word compares (overlapping words for the long ones);
/// any other is a run of `tchar`s, which must end at a colon.
///
/// A known name is never taken for another: the patterns match exactly
/// its letters in either case, its `-` and its colon; and if the buffer is
/// too short for the second or third word, it is too short to hold that
/// name and its colon, so the `tchar` run reaches its end and no colon.
#[inline(always)]
fn name_of(buf: &[u8], at: usize, word: u64) -> Option<(usize, Name)> {
    const HOST_: Pattern = Pattern::caseless(b"host:");
    const EXPECT_: Pattern = Pattern::caseless(b"expect:");
    const CONTENT_: Pattern = Pattern::caseless(b"content-");
    const _LENGTH: Pattern = Pattern::caseless(b"-length:");
    const CONNECTI: Pattern = Pattern::caseless(b"connecti");
    const NECTION: Pattern = Pattern::caseless(b"nection:");
    const TRANSFER: Pattern = Pattern::caseless(b"transfer");
    const _ENCODIN: Pattern = Pattern::caseless(b"-encodin");
    const NCODING: Pattern = Pattern::caseless(b"ncoding:");
    let then =
        |offset: usize, pattern: Pattern| word_at(buf, at + offset).is_some_and(|w| pattern.matches(w));
    // Host first: every HTTP/1.1 request has one, most have few others.
    if HOST_.matches(word) {
        return Some((at + 4, Name::Host));
    }
    let known = match word as u8 | 0x20 {
        b'c' if CONTENT_.matches(word) && then(7, _LENGTH) => Some((14, Name::ContentLength)),
        b'c' if CONNECTI.matches(word) && then(3, NECTION) => Some((10, Name::Connection)),
        b't' if TRANSFER.matches(word) && then(8, _ENCODIN) && then(10, NCODING) => {
            Some((17, Name::TransferEncoding))
        }
        b'e' if EXPECT_.matches(word) => Some((6, Name::Expect)),
        _ => None,
    };
    if let Some((len, name)) = known {
        return Some((at + len, name));
    }
    let end = run_tchar(buf, at);
    (end > at && buf.get(end) == Some(&b':')).then_some((end, Name::Other))
}

/// The value of the field whose colon is just before `from`: its span
/// without the whitespace around it, and where its CRLF starts. `None` for
/// an empty value (httparse places it differently), a byte outside visible
/// ASCII, space and tab, a line not ended by CRLF, and for a `host` value
/// that is not `uri-host [ ":" port ]` characters.
#[inline(always)]
fn value_at(buf: &[u8], from: usize, host: bool) -> Option<(Span, usize)> {
    let is_space = |b: u8| b == b' ' || b == b'\t';
    // One space or none before the value, as clients write it; more
    // whitespace, rare, goes the general way.
    let start = from + usize::from(buf.get(from) == Some(&b' '));
    if is_space(*buf.get(start)?) {
        return None;
    }
    // The usual Host value (`127.0.0.1:8080`, `example.com`) is one run of
    // letters, digits, `.`, `-` and `:` up to the CRLF: checked by words.
    if host {
        let end = run_common_host(buf, start);
        if end > start && buf.get(end..end + 2) == Some(b"\r\n") {
            return Some((Span::of(start, end), end));
        }
    }
    let line_end = run_value(buf, start);
    if line_end == start || buf.get(line_end..line_end + 2) != Some(b"\r\n") {
        return None;
    }
    let mut end = line_end;
    // Stops at `start`, which is not whitespace.
    while is_space(buf[end - 1]) {
        end -= 1;
    }
    if host && !is_host(&buf[start..end]) {
        return None;
    }
    Some((Span::of(start, end), line_end))
}

/// A byte of ones in every lane, and the lanes' high bits.
const LANES: u64 = u64::from_le_bytes([0x01; 8]);
const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);

/// The lanes of `word` whose byte is in `low..=high` (both below 0x80), as
/// their high bits, for every lane below 0x80 (the caller masks the
/// others out, and trusts only the lowest lane it flags: a lane at or
/// above 0x80 can carry into the next one up).
#[inline(always)]
fn in_range(word: u64, low: u8, high: u8) -> u64 {
    // Per lane v < 0x80: v + (0x80 - low) has its high bit set iff v >= low,
    // v + (0x7f - high) iff v > high, which implies the first; so the two
    // differ exactly when low <= v <= high. No lane overflows into the next.
    word.wrapping_add(LANES * u64::from(0x80 - low)) ^ word.wrapping_add(LANES * u64::from(0x7f - high))
}

/// Where the run of bytes that starts at `from` and are letters, digits,
/// `.`, `-` or `:` ends, by sixteen bytes (SSE2) or eight (words) at a
/// time while that many are left (and 0 if fewer are: the caller then
/// takes the general way). Every such byte is a host character, so a value
/// of them alone needs no further check.
#[inline(always)]
fn run_common_host(buf: &[u8], from: usize) -> usize {
    let mut at = from;
    // A host and port (`127.0.0.1:8080`) is one block, where words took two
    // rounds of ~30 instructions under callgrind.
    #[cfg(target_arch = "x86_64")]
    while let Some(block) = block_at(buf, at) {
        let other = uncommon_host_lanes(block);
        if other != 0 {
            return at + other.trailing_zeros() as usize;
        }
        at += 16;
    }
    while let Some(word) = word_at(buf, at) {
        // Letters of either case by their lower case: `| 0x20` maps no
        // other byte below 0x80 into `a..=z`.
        let common = in_range(word, b'0', b':')
            | in_range(word | (LANES * 0x20), b'a', b'z')
            | in_range(word, b'-', b'.');
        let other = !(common & !word) & HIGHS;
        if other != 0 {
            return at + (other.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    0
}

/// Sixteen-byte lane tests for the SSE2 scans: each classifier below is a
/// few of these. Every compare is signed, so bytes from 0x80 up (negative)
/// are never in a range whose ends are ASCII.
#[cfg(target_arch = "x86_64")]
mod lanes {
    use std::arch::x86_64::{
        __m128i, _mm_and_si128, _mm_cmpeq_epi8, _mm_cmpgt_epi8, _mm_cmplt_epi8, _mm_loadu_si128,
        _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };

    pub(super) type Lanes = __m128i;

    // SAFETY (every block in this module): SSE2 is part of the x86_64
    // baseline (the target enables it: every x86_64 CPU has it), so each
    // intrinsic's instruction exists; the one load reads exactly the 16
    // bytes `block` borrows.

    #[inline(always)]
    pub(super) fn load(block: &[u8; 16]) -> Lanes {
        // SAFETY: see the module's note.
        unsafe { _mm_loadu_si128(block.as_ptr().cast()) }
    }

    /// Lanes whose byte is in `low..=high` (`1 <= low`, `high <= 0x7e`).
    #[inline(always)]
    pub(super) fn in_range(bytes: Lanes, low: u8, high: u8) -> Lanes {
        // SAFETY: see the module's note.
        unsafe {
            _mm_and_si128(
                _mm_cmpgt_epi8(bytes, _mm_set1_epi8((low - 1) as i8)),
                _mm_cmplt_epi8(bytes, _mm_set1_epi8((high + 1) as i8)),
            )
        }
    }

    /// Lanes whose byte is `byte`.
    #[inline(always)]
    pub(super) fn eq(bytes: Lanes, byte: u8) -> Lanes {
        // SAFETY: see the module's note.
        unsafe { _mm_cmpeq_epi8(bytes, _mm_set1_epi8(byte as i8)) }
    }

    #[inline(always)]
    pub(super) fn or(a: Lanes, b: Lanes) -> Lanes {
        // SAFETY: see the module's note.
        unsafe { _mm_or_si128(a, b) }
    }

    /// Letters of either case as their lower case (other bytes change too:
    /// test only letter ranges on the result).
    #[inline(always)]
    pub(super) fn lower(bytes: Lanes) -> Lanes {
        // SAFETY: see the module's note.
        unsafe { _mm_or_si128(bytes, _mm_set1_epi8(0x20)) }
    }

    /// The lanes set, as bits (bit `i` for byte `i`).
    #[inline(always)]
    pub(super) fn bits(lanes: Lanes) -> u32 {
        // SAFETY: see the module's note.
        unsafe { _mm_movemask_epi8(lanes) as u32 }
    }

    /// The lanes not set, as bits.
    #[inline(always)]
    pub(super) fn bits_outside(lanes: Lanes) -> u32 {
        !bits(lanes) & 0xffff
    }
}

/// The bytes of `block` that are not letters, digits, `.`, `-` or `:`, as
/// bits (bit `i` for byte `i`).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn uncommon_host_lanes(block: &[u8; 16]) -> u32 {
    use lanes::{bits_outside, in_range, load, lower, or};
    let bytes = load(block);
    // Letters of either case by their lower case, as in the words.
    let common =
        or(or(in_range(bytes, b'0', b':'), in_range(lower(bytes), b'a', b'z')), in_range(bytes, b'-', b'.'));
    bits_outside(common)
}

/// The bytes of `block` that are not letters, digits, `-` or `_` (the
/// usual `tchar`s of a field name), as bits (bit `i` for byte `i`).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn uncommon_name_lanes(block: &[u8; 16]) -> u32 {
    use lanes::{bits_outside, eq, in_range, load, lower, or};
    let bytes = load(block);
    let symbols = or(eq(bytes, b'-'), eq(bytes, b'_'));
    bits_outside(or(or(in_range(bytes, b'0', b'9'), in_range(lower(bytes), b'a', b'z')), symbols))
}

/// The bytes of `block` that cannot be in a header value (anything but
/// visible ASCII, space and tab), as bits (bit `i` for byte `i`).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn outside_value_lanes(block: &[u8; 16]) -> u32 {
    use lanes::{bits_outside, eq, in_range, load, or};
    let bytes = load(block);
    bits_outside(or(in_range(bytes, b' ', b'~'), eq(bytes, b'\t')))
}

/// The bytes of `block` outside visible ASCII (`!`..`~`), its `?`s and its
/// `%`s, as bits (bit `i` for byte `i`).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn target_lanes(block: &[u8; 16]) -> (u32, u32, u32) {
    use lanes::{bits, bits_outside, eq, in_range, load};
    let bytes = load(block);
    (bits_outside(in_range(bytes, b'!', b'~')), bits(eq(bytes, b'?')), bits(eq(bytes, b'%')))
}

/// Where the origin-form target that starts at `from` ends (the first
/// byte that is not visible ASCII), where its first `?` is, if any, and
/// whether it holds a `%` (so that a request without one, nearly all,
/// skips looking for escapes in its route parameters); sixteen bytes
/// (SSE2) or eight (words) at a time (a complete head has at least 13
/// bytes after its target). `None` if the buffer ends first.
#[inline(always)]
fn scan_target(buf: &[u8], from: usize) -> Option<(usize, Option<usize>, bool)> {
    let mut at = from;
    let mut query = None;
    let mut escaped = false;
    // Most targets are one block, where words took ~35 instructions.
    #[cfg(target_arch = "x86_64")]
    while let Some(block) = block_at(buf, at) {
        let (stop, marks, percents) = target_lanes(block);
        // The bytes up to the first that ends the target (all sixteen if
        // none does); the one that ends it is neither `?` nor `%`.
        let within = stop ^ stop.wrapping_sub(1);
        let marks = marks & within;
        if query.is_none() && marks != 0 {
            query = Some(at + marks.trailing_zeros() as usize);
        }
        escaped |= percents & within != 0;
        if stop != 0 {
            return Some((at + stop.trailing_zeros() as usize, query, escaped));
        }
        at += 16;
    }
    loop {
        let word = word_at(buf, at)?;
        let stop = outside_visible(word, b'!');
        if query.is_none() {
            let marks = zero_lanes(word ^ (LANES * u64::from(b'?')));
            if marks.trailing_zeros() < stop.trailing_zeros() {
                query = Some(at + (marks.trailing_zeros() / 8) as usize);
            }
        }
        escaped |= zero_lanes(word ^ (LANES * u64::from(b'%'))).trailing_zeros() < stop.trailing_zeros();
        if stop != 0 {
            return Some((at + (stop.trailing_zeros() / 8) as usize, query, escaped));
        }
        at += 8;
    }
}

/// Where the first `byte` in `text` is, eight bytes at a time: the
/// router's search for the `/` that ends a path segment, where a loop
/// over bytes cost ~6 instructions a byte. The last four to seven bytes
/// are one word of two overlapping halves (the first four and the last
/// four), so a short segment costs one test, not a byte loop.
#[inline(always)]
pub(crate) fn position_of(text: &[u8], byte: u8) -> Option<usize> {
    let pattern = LANES * u64::from(byte);
    let mut at = 0;
    while let Some(word) = word_at(text, at) {
        let hits = zero_lanes(word ^ pattern);
        if hits != 0 {
            return Some(at + (hits.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    let rest = text.get(at..)?;
    match (rest.first_chunk::<4>(), rest.last_chunk::<4>()) {
        (Some(&first), Some(&last)) => {
            // Lane i < 4 is `rest[i]`; lane i >= 4 is `rest[len - 8 + i]`,
            // at or after the lanes below it: the lowest hit is the first.
            let word = u64::from(u32::from_le_bytes(first)) | u64::from(u32::from_le_bytes(last)) << 32;
            let lane = (zero_lanes(word ^ pattern).trailing_zeros() / 8) as usize;
            match lane {
                0..4 => Some(at + lane),
                4..8 => Some(at + lane + rest.len() - 8),
                _ => None,
            }
        }
        _ => rest.iter().position(|&b| b == byte).map(|i| at + i),
    }
}

/// The zero lanes of `word`, as their high bits: the classic zero-byte
/// test, whose lowest flagged lane is exact (a borrow only runs upwards
/// from a zero lane; lanes above it may be flagged falsely).
#[inline(always)]
fn zero_lanes(word: u64) -> u64 {
    word.wrapping_sub(LANES) & !word & HIGHS
}

/// The lanes of `word` outside `low..=b'~'`, as their high bits; the lowest
/// flagged lane is always the first byte out of range.
///
/// Per lane (little-endian, so the first byte is the lowest lane): a lane
/// below `low` sets its high bit in `word - low·LANES` (and not in
/// `word`), a lane above `~` in `word + (127 - '~')·LANES` or in `word`
/// itself. Borrows and carries only run from a flagged lane upwards.
#[inline(always)]
fn outside_visible(word: u64, low: u8) -> u64 {
    let below = word.wrapping_sub(LANES * u64::from(low)) & !word & HIGHS;
    let above = (word.wrapping_add(LANES * u64::from(127 - b'~')) | word) & HIGHS;
    below | above
}

/// Where the run of bytes in `low..=b'~'` that starts at `from` ends:
/// header values (`low` = space) are scanned eight bytes at a time, ~1.5
/// instructions a byte where a table lookup per byte was ~7.
#[inline(always)]
pub(super) fn run_visible(buf: &[u8], from: usize, low: u8) -> usize {
    let mut at = from;
    while let Some(word) = word_at(buf, at) {
        let out = outside_visible(word, low);
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
/// starts at `from` ends: sixteen bytes (SSE2) at a time while that many
/// are left, then eight.
#[inline(always)]
pub(super) fn run_value(buf: &[u8], from: usize) -> usize {
    #[allow(unused_mut)]
    let mut from = from;
    #[cfg(target_arch = "x86_64")]
    while let Some(block) = block_at(buf, from) {
        let other = outside_value_lanes(block);
        if other != 0 {
            return from + other.trailing_zeros() as usize;
        }
        from += 16;
    }
    let mut at = run_visible(buf, from, b' ');
    // A tab is rare in a value: step over it and go on by words.
    while buf.get(at) == Some(&b'\t') {
        at = run_visible(buf, at + 1, b' ');
    }
    at
}

/// Where the run of `tchar`s that starts at `from` ends (the index of the
/// first byte not in it, or the end of `buf`). The `tchar`s of nearly
/// every field name (letters, digits, `-`, `_`) sixteen at a time (SSE2;
/// ~5 instructions a byte were a tenth of a browser's head); the rest of
/// the set, rare in names and with no shape a block test could take
/// cheaply, byte by byte from the first byte outside those.
#[inline]
fn run_tchar(buf: &[u8], from: usize) -> usize {
    #[allow(unused_mut)]
    let mut from = from;
    #[cfg(target_arch = "x86_64")]
    while let Some(block) = block_at(buf, from) {
        let other = uncommon_name_lanes(block);
        if other != 0 {
            from += other.trailing_zeros() as usize;
            break;
        }
        from += 16;
    }
    let rest = buf.get(from..).unwrap_or_default();
    from + rest.iter().position(|&b| !crate::http::token::TCHAR[usize::from(b)]).unwrap_or(rest.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The word-at-a-time scans stop exactly where a byte-at-a-time scan
    /// of the same class does, for every byte value at every position of
    /// runs of every length around the word size.
    #[test]
    fn the_word_scans_stop_where_the_byte_scan_does() {
        let visible = |b: u8| (b'!'..=b'~').contains(&b);
        let value = |b: u8| b == b'\t' || (b' '..=b'~').contains(&b);
        let common_host = |b: u8| b.is_ascii_alphanumeric() || b"-.:".contains(&b);
        let tchar = |b: u8| crate::http::token::TCHAR[usize::from(b)];
        let byte_scan = |buf: &[u8], from: usize, class: &dyn Fn(u8) -> bool| {
            from + buf[from..].iter().position(|&b| !class(b)).unwrap_or(buf.len() - from)
        };
        for len in 0..36 {
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
                    assert_eq!(run_visible(&buf, 0, b'!'), byte_scan(&buf, 0, &visible), "{buf:?}");
                    assert_eq!(run_value(&buf, 0), byte_scan(&buf, 0, &value), "{buf:?}");
                    let from = 1.min(buf.len());
                    assert_eq!(run_value(&buf, from), byte_scan(&buf, from, &value), "{buf:?}");
                    assert_eq!(run_tchar(&buf, 0), byte_scan(&buf, 0, &tchar), "{buf:?}");
                    assert_eq!(run_tchar(&buf, from), byte_scan(&buf, from, &tchar), "{buf:?}");
                    // The word-only scans answer where eight bytes are left.
                    let host = run_common_host(&buf, 0);
                    let expected = byte_scan(&buf, 0, &common_host);
                    if expected + 8 <= buf.len() || expected % 8 != 0 {
                        assert!(host == expected || host == 0, "{buf:?}: {host} vs {expected}");
                    }
                    if expected + 8 <= buf.len() {
                        assert_eq!(host, expected, "{buf:?}");
                    }
                    let mut target = buf.clone();
                    target.extend_from_slice(b" HTTP/1.1\r\n");
                    let end = byte_scan(&target, 0, &visible);
                    let query = target[..end].iter().position(|&b| b == b'?');
                    let escaped = target[..end].contains(&b'%');
                    assert_eq!(scan_target(&target, 0), Some((end, query, escaped)), "{target:?}");
                }
            }
        }
    }

    /// The word search finds the first of a byte wherever it is, for
    /// every length around the word size and every position of one or two
    /// of it (the overlapping halves of a short tail included).
    #[test]
    fn position_of_finds_the_first_byte_at_every_position() {
        for len in 0..=24 {
            let plain: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
            assert_eq!(position_of(&plain, b'/'), None, "{plain:?}");
            for first in 0..len {
                for second in first..len {
                    let mut text = plain.clone();
                    text[first] = b'/';
                    text[second] = b'/';
                    assert_eq!(position_of(&text, b'/'), Some(first), "{text:?}");
                    // Bytes next to the one sought, and high bytes, never match.
                    text[first] = b'.';
                    text[second] = 0x80 | b'/';
                    assert_eq!(position_of(&text, b'/'), None, "{text:?}");
                }
            }
        }
    }

    #[test]
    fn every_common_host_byte_is_a_host_byte() {
        for byte in 0..=255u8 {
            let mut buf = [byte; 9];
            buf[8] = b' ';
            if run_common_host(&buf, 0) > 0 {
                assert!(is_host(&[byte]), "{byte:#04x}");
            }
        }
    }

    /// A phrase matches its text in any case and nothing else: no other
    /// byte at any position, no longer or shorter value, whether or not
    /// the buffer has room for words after it.
    #[test]
    fn phrases_match_exactly_their_text_in_any_case() {
        for phrase in [&V_CLOSE, &V_KEEP_ALIVE, &V_CHUNKED, &V_CONTINUE] {
            let text = phrase.text;
            for tail in [&b""[..], b"\r\n", b"\r\n\r\nGET / HTTP/1.1"] {
                let check = |value: &[u8], expected: bool| {
                    let mut buf = b": ".to_vec();
                    buf.extend_from_slice(value);
                    buf.extend_from_slice(tail);
                    let span = Span::of(2, 2 + value.len());
                    assert_eq!(phrase.is(&buf, span), expected, "{buf:?}");
                };
                check(text, true);
                check(&text.to_ascii_uppercase(), true);
                check(&text[..text.len() - 1], false);
                check(&[text, b"x"].concat(), false);
                for at in 0..text.len() {
                    for byte in 0..=255u8 {
                        let mut value = text.to_vec();
                        value[at] = byte;
                        check(&value, value.eq_ignore_ascii_case(text));
                    }
                }
            }
        }
    }

    #[test]
    fn methods_are_recognised_by_their_word_exactly() {
        for method in Method::ALL {
            let mut head = format!("{method} /").into_bytes();
            head.resize(8, b'x');
            let word = u64::from_le_bytes(head.try_into().unwrap());
            assert_eq!(method_of(word), Some((method, method.as_str().len() + 1)));
        }
        for other in [b"get /xxx", b"GETX /xx", b"GET\t/xxx", b"POST\r\nxx", b"BREW /xx"] {
            assert_eq!(method_of(u64::from_le_bytes(*other)), None, "{other:?}");
        }
    }
}
