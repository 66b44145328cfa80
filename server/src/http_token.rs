//! RFC 9110 `token`s: method names, header field names, transfer codings,
//! chunk extension names. One definition, used by the request parser, the
//! chunked decoder and the response's header check, so the three can never
//! disagree on what a token is (a smuggling bug hides in exactly such a
//! disagreement).
//!
//! The check is a 256-entry table built at compile time: one load per
//! byte, where `b"!#$..".contains(&b)` was a `memchr` call per byte whose
//! cost also swung with where the linker put the string.

/// `TCHAR[b]` is whether byte `b` is an RFC 9110 `tchar`:
/// `"!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA`.
static TCHAR: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        let b = byte as u8;
        table[byte] = b.is_ascii_alphanumeric();
        byte += 1;
    }
    let symbols = b"!#$%&'*+-.^_`|~";
    let mut i = 0;
    while i < symbols.len() {
        table[symbols[i] as usize] = true;
        i += 1;
    }
    table
};

/// Whether `byte` may appear in a token.
#[inline]
pub(crate) fn is_tchar(byte: u8) -> bool {
    TCHAR[byte as usize]
}

/// Whether `bytes` is a token: one or more `tchar`s.
#[inline]
pub(crate) fn is_token(bytes: &[u8]) -> bool {
    !bytes.is_empty() && bytes.iter().all(|&b| is_tchar(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_exactly_rfc_9110_tchar() {
        let symbols = b"!#$%&'*+-.^_`|~";
        for byte in 0..=255u8 {
            let expected = byte.is_ascii_alphanumeric() || symbols.contains(&byte);
            assert_eq!(is_tchar(byte), expected, "byte {byte:#04x}");
        }
    }

    #[test]
    fn tokens_are_non_empty_runs_of_tchar() {
        assert!(is_token(b"chunked"));
        assert!(is_token(b"X-Custom_1.2~"));
        assert!(!is_token(b""));
        assert!(!is_token(b"a b"));
        assert!(!is_token(b"a:b"));
        assert!(!is_token(b"caf\xc3\xa9"));
    }
}
