//! Byte classes of the wire protocol. RFC 9110 `token`s (method names,
//! header field names, transfer codings, chunk extension names): one
//! definition, used by the request parser, the chunked decoder and the
//! response's header check, so the three can never disagree on what a token
//! is (a smuggling bug hides in exactly such a disagreement). And the
//! characters of a `Host` value, checked on every request.
//!
//! The check is a 256-entry table built at compile time: one load per
//! byte, where `b"!#$..".contains(&b)` was a `memchr` call per byte whose
//! cost also swung with where the linker put the string.

/// `TCHAR[b]` is whether byte `b` is an RFC 9110 `tchar`:
/// `"!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA`.
pub(crate) static TCHAR: [bool; 256] = {
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

/// `HOST_CHAR[b]` is whether byte `b` may appear in `uri-host [ ":" port ]`
/// (RFC 3986 reg-name, IPv4 or IP-literal characters: unreserved,
/// sub-delims, `%`, `:`, `[`, `]`). Every request's `Host` value passes
/// through this check, so it is a table too.
static HOST_CHAR: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        table[byte] = (byte as u8).is_ascii_alphanumeric();
        byte += 1;
    }
    let symbols = b"-._~!$&'()*+,;=%:[]";
    let mut i = 0;
    while i < symbols.len() {
        table[symbols[i] as usize] = true;
        i += 1;
    }
    table
};

/// Whether every byte of `bytes` may appear in a host (and port); empty is
/// allowed. Not a full grammar check: enough to refuse what can never be a
/// host (spaces, `/`, `@`, `?`, ...).
#[inline]
pub(crate) fn is_host(bytes: &[u8]) -> bool {
    bytes.iter().all(|&b| HOST_CHAR[b as usize])
}

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
    fn the_host_table_is_exactly_the_rfc_3986_host_characters() {
        let symbols = b"-._~!$&'()*+,;=%:[]";
        for byte in 0..=255u8 {
            let expected = byte.is_ascii_alphanumeric() || symbols.contains(&byte);
            assert_eq!(is_host(&[byte]), expected, "byte {byte:#04x}");
        }
        assert!(is_host(b""));
        assert!(is_host(b"127.0.0.1:8080"));
        assert!(!is_host(b"a b"));
        assert!(!is_host(b"a/b"));
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
