//! The chunked decoder against the strict model in `tests/fuzz_model`. The
//! first input byte chooses how the rest is fed to the decoder (piece size
//! and most data per call), the way socket reads would split it. Whenever
//! the decoder finishes a body, the model must read the same body ending at
//! the same byte; whenever the model reads a complete body, the decoder
//! must finish it or refuse it, never want more.
#![no_main]

use eddy_http::__fuzz::ChunkedDecoder;
use libfuzzer_sys::fuzz_target;

#[path = "../../tests/fuzz_model/mod.rs"]
mod fuzz_model;

fuzz_target!(|data: &[u8]| {
    let Some((&split, input)) = data.split_first() else { return };
    let step = usize::from(split & 0x0f) + 1;
    let max_data = usize::from(split >> 4) + 1;

    let mut decoder = ChunkedDecoder::default();
    let mut body = Vec::new();
    let mut at = 0;
    let mut fed = 0;
    let server = loop {
        if decoder.is_done() {
            break Ok(at);
        }
        fed = (fed.max(at) + step).min(input.len()).max(fed);
        match decoder.decode(&input[at..fed], max_data) {
            Err(why) => break Err(why),
            Ok((used, data)) => {
                if let Some(range) = data {
                    body.extend_from_slice(&input[at..fed][range]);
                }
                at += used;
                if used == 0 && fed == input.len() && !decoder.is_done() {
                    break Err("partial");
                }
            }
        }
    };
    let model = fuzz_model::parse_chunked(input);
    match (server, &model) {
        (Ok(end), Ok(chunked)) => {
            assert_eq!(end, chunked.len, "the body ends at a different byte");
            assert_eq!(body, chunked.data, "the body differs");
        }
        (Ok(end), Err(stop)) => panic!("the decoder finished a body at {end} that the model reads as {stop:?}"),
        (Err("partial"), Ok(chunked)) => {
            panic!("the model read a complete {}-byte body, the decoder wants more", chunked.len)
        }
        (Err(_), _) => {}
    }
});
