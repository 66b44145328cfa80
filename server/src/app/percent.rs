//! Percent-decoding of path segments and query components (RFC 3986 §2.1).

use std::borrow::Cow;

/// Decodes `%XX` escapes (and, for query components, `+` as a space).
/// Borrows when there is nothing to decode. Fails on a malformed escape or
/// if the result is not UTF-8: both are the client's error (400).
pub(crate) fn decode(raw: &str, plus_is_space: bool) -> Option<Cow<'_, str>> {
    let needs_work = raw.bytes().any(|b| b == b'%' || (plus_is_space && b == b'+'));
    if !needs_work {
        return Some(Cow::Borrowed(raw));
    }
    let raw = raw.as_bytes();
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'%' => {
                let high = hex_value(*raw.get(i + 1)?)?;
                let low = hex_value(*raw.get(i + 2)?)?;
                out.push(high << 4 | low);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok().map(Cow::Owned)
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn decodes_escapes_and_borrows_when_it_can() {
        assert!(matches!(decode("alice", false), Some(std::borrow::Cow::Borrowed("alice"))));
        assert_eq!(decode("J%C3%BCrgen", false).as_deref(), Some("Jürgen"));
        assert_eq!(decode("a%2Fb", false).as_deref(), Some("a/b"));
        assert_eq!(decode("a+b", false).as_deref(), Some("a+b"));
        assert_eq!(decode("a+b", true).as_deref(), Some("a b"));
    }

    #[test]
    fn rejects_malformed_escapes_and_invalid_utf8() {
        assert_eq!(decode("%zz", false), None);
        assert_eq!(decode("%4", false), None);
        assert_eq!(decode("%ff", false), None);
    }
}
