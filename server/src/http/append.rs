//! `Appender`: writes a response head (and a short body) into the output
//! buffer with one capacity check for the whole of it, instead of one per
//! piece.
//!
//! Writing a head is most of a pipelined server's own work, and most of
//! that work was not the bytes: each `Vec::extend_from_slice` loads the
//! length and capacity, checks them, copies, and stores the length back,
//! for every piece of a head made of six or seven. An `Appender` reserves
//! room for the whole response once, keeps the write position in a
//! register, and stores the length once when it is dropped. Measured under
//! callgrind, this and the pre-rendered head blocks of
//! [`CommonLines`](crate::http::date::CommonLines) took writing the greeting
//! response from ~250 instructions to ~60.
//!
//! This file is all the `unsafe` of response writing, with one invariant:
//! **`at` never exceeds the vector's capacity, and the bytes before `at`
//! are initialised.** Every write checks its length against the room left
//! (a comparison of registers; the growth path is out of line and,
//! when the caller reserved right, never taken), so no caller's arithmetic
//! can break the invariant: a wrong reservation costs a reallocation, never
//! memory safety.
//!
//! Two writes copy more bytes than they keep, so that the copy has a size
//! known when compiling and becomes a few register moves instead of a
//! `memcpy` call: [`Appender::put_prefix`] (a short inline body, copied
//! whole from its fixed-size array) and [`Appender::put_decimal`] (built
//! on it). The bytes past the kept ones lie in the spare capacity and are
//! overwritten or never counted.

use std::ptr;

/// Appends bytes to a `Vec<u8>` within room reserved up front; the
/// vector's length is updated once, on drop. See the module docs.
///
/// Its fields are plain values (the buffer's address, the write position
/// and the capacity) so that they live in registers while a head is
/// written: nothing of it is reloaded from the vector between pieces.
pub(crate) struct Appender<'a> {
    out: &'a mut Vec<u8>,
    /// The vector's buffer (changes only in `grow`).
    buf: *mut u8,
    /// Where the next byte goes: the vector's real length, kept here until
    /// the drop stores it.
    at: usize,
    /// The vector's capacity: `at` never passes it.
    cap: usize,
}

/// `"00"` to `"99"`: two digits per lookup, so a Content-Length costs a
/// division and a load per two digits instead of one per digit.
const DIGIT_PAIRS: &[u8; 200] = b"\
0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// The most digits a `u64` has: the room [`Appender::put_decimal`] needs.
pub(crate) const MAX_DIGITS: usize = 20;

impl<'a> Appender<'a> {
    /// An appender onto `out`, with room for `reserve` bytes: what the
    /// caller will write, counting the over-copies (see the module docs).
    #[inline(always)]
    pub(crate) fn new(out: &'a mut Vec<u8>, reserve: usize) -> Appender<'a> {
        out.reserve(reserve);
        Appender { buf: out.as_mut_ptr(), at: out.len(), cap: out.capacity(), out }
    }

    /// Appends `bytes`.
    #[inline(always)]
    pub(crate) fn put(&mut self, bytes: &[u8]) {
        self.make_room(bytes.len());
        // SAFETY: `make_room` left at least `bytes.len()` bytes of capacity
        // at `at`; `bytes` is a shared borrow, so it cannot lie in the
        // vector's spare capacity, which only `self.out` can reach.
        unsafe { ptr::copy_nonoverlapping(bytes.as_ptr(), self.buf.add(self.at), bytes.len()) };
        self.at += bytes.len();
    }

    /// Appends the first `len` bytes of `bytes` (all of them if `len` is
    /// larger) by copying the whole array: a copy of a size known when
    /// compiling, with no `memcpy` call. Needs room for all `N` bytes.
    #[inline(always)]
    pub(crate) fn put_prefix<const N: usize>(&mut self, bytes: &[u8; N], len: usize) {
        self.make_room(N);
        // SAFETY: as in `put`: room for `N` bytes at `at` was just made, and
        // `bytes` cannot overlap the spare capacity.
        unsafe { ptr::copy_nonoverlapping(bytes.as_ptr(), self.buf.add(self.at), N) };
        // Only the first `len` count; the rest stay in the spare capacity.
        self.at += len.min(N);
    }

    /// Appends `n` in decimal, without the formatting machinery (which cost
    /// as much as the rest of the head): one or two digits directly, more
    /// out of line. Needs room for [`MAX_DIGITS`] bytes.
    #[inline(always)]
    pub(crate) fn put_decimal(&mut self, n: u64) {
        if n < 10 {
            self.put_prefix(&[b'0' + n as u8], 1);
        } else if n < 100 {
            let pair = n as usize * 2;
            self.put_prefix(&[DIGIT_PAIRS[pair], DIGIT_PAIRS[pair + 1]], 2);
        } else {
            let (digits, count) = long_decimal(n);
            self.put_prefix(&digits, count);
        }
    }

    /// Makes room for `len` more bytes: a comparison when the caller
    /// reserved enough, a reallocation when it did not.
    #[inline(always)]
    fn make_room(&mut self, len: usize) {
        if len > self.cap - self.at {
            (self.buf, self.cap) = grow(self.out, self.at, len);
        }
    }
}

/// Gives `out` the length `at` (what was written so far) and room for `len`
/// more; returns the buffer's new address and capacity. A free function,
/// so that the appender's fields stay in registers on the path where this
/// is never called.
#[cold]
#[inline(never)]
fn grow(out: &mut Vec<u8>, at: usize, len: usize) -> (*mut u8, usize) {
    // SAFETY: the invariant: `at` is within the capacity, and every byte
    // before it was written by the appender (or was there before).
    unsafe { out.set_len(at) };
    out.reserve(len);
    (out.as_mut_ptr(), out.capacity())
}

/// The decimal digits of `n` at the start of the array, and how many
/// there are: counted first, then written from the last, two at a time.
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

impl Drop for Appender<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        // SAFETY: as in `grow`.
        unsafe { self.out.set_len(self.at) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn appended(reserve: usize, write: impl FnOnce(&mut Appender<'_>)) -> Vec<u8> {
        let mut out = b"before|".to_vec();
        write(&mut Appender::new(&mut out, reserve));
        out
    }

    #[test]
    fn pieces_follow_what_was_in_the_buffer() {
        let out = appended(64, |a| {
            a.put(b"HTTP/1.1 ");
            a.put(b"");
            a.put(b"200 OK");
        });
        assert_eq!(out, b"before|HTTP/1.1 200 OK");
    }

    #[test]
    fn a_prefix_keeps_only_its_length() {
        let out = appended(64, |a| {
            a.put_prefix(b"Hello, bench!\0\0\0", 13);
            a.put(b"|");
            a.put_prefix(b"abc", 99);
        });
        assert_eq!(out, b"before|Hello, bench!|abc");
    }

    #[test]
    fn decimals_match_the_formatter_at_every_digit_count() {
        let mut cases = vec![0, 1, 9, 10, 13, 99, 100, 101, 999, 1000, 65_535, u64::MAX, u64::MAX - 1];
        cases.extend((0..20).map(|p| 10u64.pow(p)));
        cases.extend((1..20).map(|p| 10u64.pow(p) - 1));
        for n in cases {
            let out = appended(32, |a| a.put_decimal(n));
            assert_eq!(out, format!("before|{n}").as_bytes(), "{n}");
        }
    }

    #[test]
    fn a_short_reservation_grows_instead_of_overrunning() {
        // Nothing reserved at all: every write takes the growth path.
        let mut out = Vec::new();
        {
            let mut a = Appender::new(&mut out, 0);
            for _ in 0..100 {
                a.put(b"0123456789");
                a.put_decimal(1234);
                a.put_prefix(&[b'x'; 40], 3);
            }
        }
        assert_eq!(out, "01234567891234xxx".repeat(100).as_bytes());
    }
}
