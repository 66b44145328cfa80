//! The wire-protocol pieces, reachable from outside the crate for the
//! `cargo fuzz` targets in `fuzz/` (which compare them with an independent
//! model of RFC 9112). Not part of the API: hidden from the docs, no
//! stability promised, nothing here is used by the server itself.

use std::ops::Range;

use crate::http::parse::{self as http_parse, Parsed};
use crate::server::limits::Limits;
use crate::server::pool::HeadStorage;

/// How a parsed head frames its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body.
    None,
    /// `Content-Length` bytes.
    Length(u64),
    /// Chunked.
    Chunked,
}

/// What the head parser made of a buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadOutcome {
    /// More bytes needed.
    Partial,
    /// A complete, accepted head.
    Complete {
        /// Bytes of the head, final empty line included.
        len: usize,
        /// The method token.
        method: String,
        /// The request target as sent.
        target: String,
        /// How the body is framed.
        framing: Framing,
        /// Whether the connection closes after this request.
        closes: bool,
    },
    /// Refused, with this status.
    Rejected(u16),
}

/// Parses the head at the start of `buf` with the default [`Limits`].
pub fn parse_head(buf: &[u8]) -> HeadOutcome {
    let mut storage = HeadStorage::default();
    match http_parse::parse_head(buf, &Limits::default(), &mut storage) {
        Parsed::Partial => HeadOutcome::Partial,
        Parsed::Rejected(reject) => HeadOutcome::Rejected(reject.status().as_u16()),
        Parsed::Complete(head) => HeadOutcome::Complete {
            len: head.len,
            method: head.method.as_str().to_string(),
            target: storage.head.target().to_string(),
            framing: match head.framing {
                http_parse::Framing::None => Framing::None,
                http_parse::Framing::Length(n) => Framing::Length(n),
                http_parse::Framing::Chunked => Framing::Chunked,
            },
            closes: head.close,
        },
    }
}

/// Whether a refusal of the request at the start of `buf` is for a HEAD
/// request (and so carries no body).
pub fn announces_head(buf: &[u8]) -> bool {
    http_parse::announces_head(buf)
}

/// The chunked decoder, with the default [`Limits`].
#[derive(Debug)]
pub struct ChunkedDecoder(crate::http::chunked::ChunkedDecoder);

impl Default for ChunkedDecoder {
    fn default() -> ChunkedDecoder {
        ChunkedDecoder(crate::http::chunked::ChunkedDecoder::new(&Limits::default()))
    }
}

impl ChunkedDecoder {
    /// Decodes framing up to the next run of data (at most `max_data`
    /// bytes): bytes consumed and where the data is, or why the framing is
    /// malformed.
    pub fn decode(
        &mut self,
        input: &[u8],
        max_data: usize,
    ) -> Result<(usize, Option<Range<usize>>), &'static str> {
        self.0.decode(input, max_data).map_err(|error| error.describe())
    }

    /// Whether the body is complete.
    pub fn is_done(&self) -> bool {
        self.0.is_done()
    }
}
