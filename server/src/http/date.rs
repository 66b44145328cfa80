//! The `Date` header, formatted at most once a second per loop, and the
//! head lines every response starts with, kept rendered with it.
//!
//! Every response carries `Date` (RFC 9110 §6.6.1), and formatting a date
//! is a few hundred nanoseconds of arithmetic: too much to repeat per
//! response when a loop answers 100 000 a second. Each loop keeps the last
//! formatted date in a thread-local, with the loop-clock instant at which
//! the next second begins. Until then the cached text is returned, checked
//! against [`Instant::recent`], which costs no clock read either: the wall
//! clock is read and the date formatted once a second per loop.

use std::cell::Cell;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use eddy::time::Instant;

/// `Sun, 06 Nov 1994 08:49:37 GMT`: always 29 bytes.
pub(crate) const DATE_LEN: usize = 29;

/// A formatted date and the loop-clock span in which it is current.
#[derive(Clone, Copy)]
struct Cached {
    from: Instant,
    until: Instant,
    text: [u8; DATE_LEN],
}

thread_local! {
    static CACHE: Cell<Option<Cached>> = const { Cell::new(None) };
}

impl Cached {
    /// Whether the text is the date at `recent`. `from` guards against
    /// another runtime on this thread with another clock (tests with
    /// paused clocks): time "before" the cache is a miss.
    fn covers(&self, recent: Instant) -> bool {
        self.from <= recent && recent < self.until
    }
}

/// The date at `recent` (a loop-clock reading), with the span of loop time
/// in which it stays current, from this loop's cache.
fn at(recent: Instant) -> Cached {
    CACHE.with(|cache| {
        if let Some(cached) = cache.get().filter(|c| c.covers(recent)) {
            return cached;
        }
        let wall = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let text = format_imf_fixdate(wall.as_secs());
        let until = recent + (Duration::from_secs(1) - Duration::from_nanos(u64::from(wall.subsec_nanos())));
        let cached = Cached { from: recent, until, text };
        cache.set(Some(cached));
        cached
    })
}

/// Formats seconds since the Unix epoch as an IMF-fixdate.
pub(crate) fn format_imf_fixdate(unix_seconds: u64) -> [u8; DATE_LEN] {
    const WEEKDAYS: [&[u8; 3]; 7] = [b"Thu", b"Fri", b"Sat", b"Sun", b"Mon", b"Tue", b"Wed"];
    const MONTHS: [&[u8; 3]; 12] =
        [b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec"];
    let days = unix_seconds / 86_400;
    let second_of_day = unix_seconds % 86_400;
    let (year, month, day) = civil_from_days(days as i64);
    let mut out = *b"Thu, 01 Jan 1970 00:00:00 GMT";
    out[..3].copy_from_slice(WEEKDAYS[(days % 7) as usize]);
    put_two(&mut out[5..7], day);
    out[8..11].copy_from_slice(MONTHS[(month - 1) as usize]);
    let year = year.clamp(0, 9999) as u32;
    put_two(&mut out[12..14], year / 100);
    put_two(&mut out[14..16], year % 100);
    put_two(&mut out[17..19], (second_of_day / 3600) as u32);
    put_two(&mut out[20..22], (second_of_day / 60 % 60) as u32);
    put_two(&mut out[23..25], (second_of_day % 60) as u32);
    out
}

fn put_two(out: &mut [u8], value: u32) {
    out[0] = b'0' + (value / 10 % 10) as u8;
    out[1] = b'0' + (value % 10) as u8;
}

/// Days since 1970-01-01 to (year, month 1–12, day 1–31), proleptic
/// Gregorian calendar (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The content types the constructors of `Response` set, whose whole `200`
/// head up to the `Content-Length` digits [`CommonLines`] keeps rendered.
/// Anything else a response says is written piece by piece.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum KnownType {
    /// `Response::text`, `text_parts`, and the bodies of refusals.
    TextPlain,
    /// `Response::html`.
    TextHtml,
    /// `Response::bytes` and streamed bodies.
    OctetStream,
    /// The usual type of an API's answers.
    Json,
}

impl KnownType {
    /// Every known type, in the order of the rendered heads.
    pub(crate) const ALL: [KnownType; 4] =
        [KnownType::TextPlain, KnownType::TextHtml, KnownType::OctetStream, KnownType::Json];

    /// The header value.
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            KnownType::TextPlain => "text/plain; charset=utf-8",
            KnownType::TextHtml => "text/html; charset=utf-8",
            KnownType::OctetStream => "application/octet-stream",
            KnownType::Json => "application/json",
        }
    }

    /// The known type spelled exactly `value`, if there is one.
    pub(crate) fn find(value: &str) -> Option<KnownType> {
        KnownType::ALL.into_iter().find(|known| known.as_str() == value)
    }
}

/// The lines every response starts with, kept rendered per loop and rebuilt
/// only when the date changes (once a second), so writing them is one copy
/// instead of six:
///
/// - `Server` and `Date`, for any response;
/// - for a `200` with a [`KnownType`], the whole head up to the
///   `Content-Length` digits (`HTTP/1.1 200 OK`, `Server`, `Date`,
///   `Content-Type`, `Content-Length: `), so the answer to a typical
///   request is this block, the digits, the blank line and the body.
pub(crate) struct CommonLines {
    /// The date in `lines`, and the loop-clock span in which it is current:
    /// checking the span is two comparisons, where comparing the text
    /// (and going through the thread-local cache) cost ~100 instructions
    /// per request.
    current: Cached,
    lines: Vec<u8>,
    /// One head per [`KnownType`], in the order of [`KnownType::ALL`].
    ok_heads: [Vec<u8>; KnownType::ALL.len()],
}

impl CommonLines {
    pub(crate) fn new(server: &str) -> CommonLines {
        let recent = Instant::recent();
        // An empty span: the first `refresh` fills the lines.
        let current = Cached { from: recent, until: recent, text: [0; DATE_LEN] };
        let mut common = CommonLines { current, lines: Vec::new(), ok_heads: Default::default() };
        common.refresh(server);
        common
    }

    /// Brings the date up to date (from this loop's cache: no clock read).
    /// The check is inlined into every read; the rebuild, once a second,
    /// is not.
    #[inline(always)]
    pub(crate) fn refresh(&mut self, server: &str) {
        let recent = Instant::recent();
        if !self.current.covers(recent) {
            self.rebuild(recent, server);
        }
    }

    #[inline(never)]
    fn rebuild(&mut self, recent: Instant, server: &str) {
        let current = at(recent);
        let changed = current.text != self.current.text || self.lines.is_empty();
        self.current = current;
        if !changed {
            return;
        }
        let date = current.text;
        self.lines.clear();
        self.lines.extend_from_slice(b"Server: ");
        self.lines.extend_from_slice(server.as_bytes());
        self.lines.extend_from_slice(b"\r\nDate: ");
        self.lines.extend_from_slice(&date);
        self.lines.extend_from_slice(b"\r\n");
        for (head, known) in self.ok_heads.iter_mut().zip(KnownType::ALL) {
            head.clear();
            head.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
            head.extend_from_slice(&self.lines);
            head.extend_from_slice(b"Content-Type: ");
            head.extend_from_slice(known.as_str().as_bytes());
            head.extend_from_slice(b"\r\nContent-Length: ");
        }
    }

    /// `Server: ...\r\nDate: ...\r\n`.
    pub(crate) fn lines(&self) -> &[u8] {
        &self.lines
    }

    /// The date alone.
    pub(crate) fn date(&self) -> &[u8] {
        &self.current.text
    }

    /// `HTTP/1.1 200 OK\r\nServer: ...\r\nDate: ...\r\nContent-Type:
    /// ...\r\nContent-Length: `, for a `200` of type `known`.
    #[inline(always)]
    pub(crate) fn ok_head(&self, known: KnownType) -> &[u8] {
        &self.ok_heads[known as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_dates() {
        assert_eq!(&format_imf_fixdate(0), b"Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(&format_imf_fixdate(784_111_777), b"Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(&format_imf_fixdate(951_782_400), b"Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(&format_imf_fixdate(1_795_000_000), b"Wed, 18 Nov 2026 11:06:40 GMT");
    }

    #[test]
    fn an_ok_head_is_the_status_line_the_common_lines_and_the_type() {
        let common = CommonLines::new("eddy");
        for known in KnownType::ALL {
            let mut expected = b"HTTP/1.1 200 OK\r\n".to_vec();
            expected.extend_from_slice(common.lines());
            expected.extend_from_slice(
                format!("Content-Type: {}\r\nContent-Length: ", known.as_str()).as_bytes(),
            );
            assert_eq!(common.ok_head(known), expected, "{known:?}");
            assert_eq!(KnownType::find(known.as_str()), Some(known));
        }
        assert!(common.lines().starts_with(b"Server: eddy\r\nDate: "));
        assert_eq!(KnownType::find("text/plain"), None);
    }
}
