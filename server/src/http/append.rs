//! `append_response`: writes a whole response whose head is one rendered
//! block (and whose body is in memory) into the output buffer, with one
//! capacity check for all of it instead of one per piece.
//!
//! Writing a head is most of a pipelined server's own work, and most of
//! that work was not the bytes: each `Vec::extend_from_slice` loads the
//! length and capacity, checks them, copies, and stores the length back,
//! for every piece of a head made of six or seven. Here the head up to the
//! `Content-Length` digits comes rendered
//! ([`CommonLines::ok_head`](crate::http::date::CommonLines::ok_head)), and
//! the rest (digits, the ending, the body) is written after one reservation,
//! with the length stored once. Measured under callgrind, writing the
//! greeting's response went from ~250 instructions to ~60.
//!
//! This file is all the `unsafe` of response writing, in one function whose
//! reservation and writes sit side by side: it reserves what it will write,
//! counting the over-copies, before writing anything.
//!
//! Two pieces are copied with more bytes than they keep, so that each copy
//! has a size known when compiling and becomes a few register moves instead
//! of a `memcpy` call: the digits of a long `Content-Length` (from a
//! [`MAX_DIGITS`] array) and a short body kept inline in the response (its
//! whole fixed-size array). The bytes past the kept ones lie in the spare
//! capacity and are never counted.

use std::ptr;

/// `"00"` to `"99"`: two digits per lookup, so a `Content-Length` costs a
/// division and a load per two digits instead of one per digit.
const DIGIT_PAIRS: &[u8; 200] = b"\
0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// The most digits a `u64` has.
const MAX_DIGITS: usize = 20;

/// How a head ends after its `Content-Length` digits: what the connection
/// must say about itself, then the blank line.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Ending {
    /// HTTP/1.1 staying open: nothing to say.
    Open,
    /// `Connection: close`.
    Close,
    /// An HTTP/1.0 client that asked to keep the connection open:
    /// `Connection: keep-alive`.
    KeepAlive,
}

impl Ending {
    const OPEN: &'static [u8; 4] = b"\r\n\r\n";
    const CLOSE: &'static [u8; 23] = b"\r\nConnection: close\r\n\r\n";
    const KEEP_ALIVE: &'static [u8; 28] = b"\r\nConnection: keep-alive\r\n\r\n";
    /// The longest ending.
    const MAX: usize = Ending::KEEP_ALIVE.len();
}

/// The body that follows the head.
pub(crate) enum Body<'a, const N: usize> {
    /// None (a HEAD request).
    Omitted,
    /// The first `len` bytes of an array (a body kept inside the response),
    /// copied as the whole array.
    Short(&'a [u8; N], usize),
    /// Any body in memory.
    Bytes(&'a [u8]),
}

/// Appends to `out` a response made of `head` (rendered up to the
/// `Content-Length` digits), `length` in decimal, `ending` and `body`.
#[inline(always)]
pub(crate) fn append_response<const N: usize>(
    out: &mut Vec<u8>,
    head: &[u8],
    length: u64,
    ending: Ending,
    body: Body<'_, N>,
) {
    let body_room = match body {
        Body::Omitted => 0,
        Body::Short(..) => N,
        Body::Bytes(bytes) => bytes.len(),
    };
    // A slice is at most `isize::MAX` bytes, so the first sum cannot wrap;
    // the second saturates rather than wrap (and `reserve` then refuses),
    // so `room` is never less than what is written below.
    let room = (head.len() + MAX_DIGITS + Ending::MAX).saturating_add(body_room);
    out.reserve(room);
    let start = out.len();
    // SAFETY: `reserve` left capacity for `room` bytes after `start`, and
    // the copies below write, in order, at most `head.len()`, `MAX_DIGITS`,
    // `Ending::MAX` and `body_room` bytes, each at the end of what the
    // previous ones kept: never past `start + room`. The sources are shared
    // borrows (and constants), so none can overlap the spare capacity of
    // `out`, which is borrowed mutably. The length is set last, to what was
    // written; every byte below it was written here or was there before.
    unsafe {
        let base = out.as_mut_ptr().add(start);
        ptr::copy_nonoverlapping(head.as_ptr(), base, head.len());
        let mut at = head.len();
        if length < 10 {
            *base.add(at) = b'0' + length as u8;
            at += 1;
        } else if length < 100 {
            ptr::copy_nonoverlapping(DIGIT_PAIRS.as_ptr().add(length as usize * 2), base.add(at), 2);
            at += 2;
        } else {
            let (digits, count) = long_decimal(length);
            ptr::copy_nonoverlapping(digits.as_ptr(), base.add(at), MAX_DIGITS);
            at += count;
        }
        // Each ending a copy of its own constant size: a store or two.
        match ending {
            Ending::Open => {
                ptr::copy_nonoverlapping(Ending::OPEN.as_ptr(), base.add(at), Ending::OPEN.len());
                at += Ending::OPEN.len();
            }
            Ending::Close => {
                ptr::copy_nonoverlapping(Ending::CLOSE.as_ptr(), base.add(at), Ending::CLOSE.len());
                at += Ending::CLOSE.len();
            }
            Ending::KeepAlive => {
                ptr::copy_nonoverlapping(Ending::KEEP_ALIVE.as_ptr(), base.add(at), Ending::KEEP_ALIVE.len());
                at += Ending::KEEP_ALIVE.len();
            }
        }
        match body {
            Body::Omitted => {}
            Body::Short(bytes, len) => {
                ptr::copy_nonoverlapping(bytes.as_ptr(), base.add(at), N);
                at += len.min(N);
            }
            Body::Bytes(bytes) => {
                ptr::copy_nonoverlapping(bytes.as_ptr(), base.add(at), bytes.len());
                at += bytes.len();
            }
        }
        out.set_len(start + at);
    }
}

/// Appends `n` in decimal, without the formatting machinery.
pub(crate) fn append_decimal(out: &mut Vec<u8>, n: u64) {
    let (digits, count) = long_decimal(n);
    out.extend_from_slice(&digits[..count]);
}

/// The decimal digits of `n` at the start of the array, and how many
/// there are: counted first, then written from the last, two at a time.
/// Out of line: the common lengths (one or two digits) never come here.
#[inline(never)]
fn long_decimal(mut n: u64) -> ([u8; MAX_DIGITS], usize) {
    let mut count = 1;
    let mut rest = n;
    while rest >= 10 {
        rest /= 10;
        count += 1;
    }
    let mut digits = [0; MAX_DIGITS];
    let mut end = count;
    while n >= 10 {
        let pair = (n % 100) as usize * 2;
        n /= 100;
        end -= 2;
        digits[end..end + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
    }
    // An odd count leaves the first digit; an even one, nothing.
    if end > 0 {
        digits[0] = b'0' + n as u8;
    }
    (digits, count)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn appended(length: u64, ending: Ending, body: Body<'_, 8>) -> String {
        let mut out = b"before|".to_vec();
        append_response(&mut out, b"HEAD:", length, ending, body);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_pieces_follow_what_was_in_the_buffer_in_order() {
        assert_eq!(appended(3, Ending::Open, Body::Bytes(b"abc")), "before|HEAD:3\r\n\r\nabc");
        assert_eq!(appended(3, Ending::Close, Body::Omitted), "before|HEAD:3\r\nConnection: close\r\n\r\n");
        assert_eq!(
            appended(0, Ending::KeepAlive, Body::Bytes(b"")),
            "before|HEAD:0\r\nConnection: keep-alive\r\n\r\n"
        );
    }

    #[test]
    fn a_short_body_keeps_only_its_length() {
        assert_eq!(appended(5, Ending::Open, Body::Short(b"hello\0\0\0", 5)), "before|HEAD:5\r\n\r\nhello");
        assert_eq!(appended(8, Ending::Open, Body::Short(b"12345678", 99)), "before|HEAD:8\r\n\r\n12345678");
    }

    #[test]
    fn lengths_match_the_formatter_at_every_digit_count() {
        let mut cases = vec![0, 1, 9, 10, 13, 99, 100, 101, 999, 1000, 65_535, u64::MAX, u64::MAX - 1];
        cases.extend((0..20).map(|p| 10u64.pow(p)));
        cases.extend((1..20).map(|p| 10u64.pow(p) - 1));
        for n in cases {
            assert_eq!(appended(n, Ending::Open, Body::Omitted), format!("before|HEAD:{n}\r\n\r\n"), "{n}");
            let mut out = Vec::new();
            append_decimal(&mut out, n);
            assert_eq!(out, n.to_string().as_bytes(), "{n}");
        }
    }

    #[test]
    fn a_full_buffer_grows_and_a_large_body_fits() {
        let body = vec![b'x'; 100_000];
        let mut out = Vec::new();
        for _ in 0..3 {
            append_response::<0>(&mut out, b"H:", 100_000, Ending::Open, Body::Bytes(&body));
        }
        let one = [&b"H:100000\r\n\r\n"[..], &body].concat();
        assert_eq!(out, one.repeat(3));
    }
}
