//! The request-head parser against the strict model in
//! `tests/fuzz_model`: whenever the server accepts a head, the model must
//! read the same head (same length, method, target, framing, and whether
//! the connection closes); whenever the model reads a complete head, the
//! server must decide (accept or refuse), not wait for more bytes.
#![no_main]

use eddy_http::__fuzz::{self, Framing, HeadOutcome};
use libfuzzer_sys::fuzz_target;

#[path = "../../tests/fuzz_model/mod.rs"]
mod fuzz_model;

fuzz_target!(|data: &[u8]| {
    let server = __fuzz::parse_head(data);
    let model = fuzz_model::parse_head(data);
    match (&server, &model) {
        (HeadOutcome::Complete { len, method, target, framing, closes }, Ok(head)) => {
            let framing_model = match head.framing {
                fuzz_model::Framing::None => Framing::None,
                fuzz_model::Framing::Length(n) => Framing::Length(n),
                fuzz_model::Framing::Chunked => Framing::Chunked,
            };
            assert_eq!(*len, head.len, "head length differs");
            assert_eq!(method.as_bytes(), head.method, "method differs");
            assert_eq!(target.as_bytes(), head.target, "target differs");
            assert_eq!(*framing, framing_model, "framing differs");
            assert_eq!(*closes, head.closes, "persistence differs");
        }
        (HeadOutcome::Complete { .. }, Err(stop)) => {
            panic!("the server accepted a head the model reads as {stop:?}")
        }
        (HeadOutcome::Partial, Ok(head)) => {
            panic!("the model read a complete {}-byte head, the server waits for more", head.len)
        }
        (HeadOutcome::Partial | HeadOutcome::Rejected(_), _) => {}
    }
    // A refusal of a HEAD request is recognised the same way.
    assert_eq!(__fuzz::announces_head(data), fuzz_model::announces_head(data));
});
