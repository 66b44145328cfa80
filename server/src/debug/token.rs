//! The live page's token rule: who must show a token, and how one is made
//! and checked. Decided once, when the server binds, from where it listens.

use std::net::SocketAddr;

/// The token every request to the page must carry, if any:
///
/// - an explicit token (`App::debug_page_token`) is always required;
/// - a server listening on anything but loopback requires one, generated
///   here when none was given (the caller logs it with the page's URL);
/// - a server on loopback, or on a Unix socket (`address` is `None`),
///   requires none: only local users can reach it.
pub(crate) fn decide_token(address: Option<SocketAddr>, explicit: Option<&str>) -> Option<String> {
    match (explicit, address) {
        (Some(token), _) => Some(token.to_string()),
        (None, Some(address)) if !address.ip().is_loopback() => Some(generate()),
        (None, _) => None,
    }
}

/// Whether `given` is `token`, comparing every byte whatever the first
/// difference, so the answer's timing does not tell how much of a guess
/// was right.
pub(crate) fn matches(given: &str, token: &str) -> bool {
    let (given, token) = (given.as_bytes(), token.as_bytes());
    given.len() == token.len() && given.iter().zip(token).fold(0u8, |diff, (a, b)| diff | (a ^ b)) == 0
}

/// 128 random bits as 32 hex digits, from the OS (`/dev/urandom`); if that
/// cannot be read, from the standard library's per-process random hash
/// keys, which the OS seeds too.
fn generate() -> String {
    let mut bytes = [0u8; 16];
    let read = std::fs::File::open("/dev/urandom").and_then(|mut file| {
        use std::io::Read as _;
        file.read_exact(&mut bytes)
    });
    if let Err(error) = read {
        log::debug!("reading /dev/urandom for the live page's token: {error}; using hash keys");
        use std::hash::{BuildHasher as _, Hasher as _};
        for (i, chunk) in bytes.chunks_mut(8).enumerate() {
            let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
            hasher.write_usize(i);
            chunk.copy_from_slice(&hasher.finish().to_le_bytes());
        }
    }
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> Option<SocketAddr> {
        Some(text.parse().expect("a test address"))
    }

    #[test]
    fn loopback_and_unix_sockets_need_no_token() {
        assert_eq!(decide_token(addr("127.0.0.1:8080"), None), None);
        assert_eq!(decide_token(addr("127.9.9.9:1"), None), None);
        assert_eq!(decide_token(addr("[::1]:8080"), None), None);
        assert_eq!(decide_token(None, None), None);
    }

    #[test]
    fn any_other_address_gets_a_fresh_random_token() {
        for address in ["0.0.0.0:8080", "192.0.2.7:80", "[::]:8080", "[2001:db8::1]:443"] {
            let token = decide_token(addr(address), None).expect("a token off loopback");
            assert_eq!(token.len(), 32, "{address}: {token}");
            assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
            assert_ne!(Some(token), decide_token(addr(address), None), "tokens must not repeat");
        }
    }

    #[test]
    fn an_explicit_token_is_required_everywhere_even_on_loopback() {
        assert_eq!(decide_token(addr("127.0.0.1:8080"), Some("s3cret")).as_deref(), Some("s3cret"));
        assert_eq!(decide_token(addr("0.0.0.0:8080"), Some("s3cret")).as_deref(), Some("s3cret"));
        assert_eq!(decide_token(None, Some("s3cret")).as_deref(), Some("s3cret"));
    }

    #[test]
    fn a_token_matches_only_itself() {
        assert!(matches("abc", "abc"));
        assert!(!matches("abd", "abc"));
        assert!(!matches("ab", "abc"));
        assert!(!matches("", "abc"));
    }
}
