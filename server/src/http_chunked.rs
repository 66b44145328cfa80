//! The chunked transfer coding, decoded (RFC 9112 §7.1).
//!
//! ```text
//!  Size ──hex──▶ Size ──CR──▶ SizeLf ──LF──▶ Data ──(n bytes)──▶ DataCr ─CR─▶ DataLf ─LF─┐
//!   ▲  └─ ';' ─▶ Extension ─CR─┘   │ size 0                                                │
//!   └──────────────────────────────┼───────────────────────────────────────────────────────┘
//!                                  ▼
//!                             TrailerStart ──CR──▶ FinalLf ──LF──▶ Done
//!                                  └── field ──▶ Trailer ─CR─▶ TrailerLf ─LF─┘ (back to TrailerStart)
//! ```
//!
//! The decoder is a byte-at-a-time state machine over whatever the socket
//! delivered, so a chunk header split across two reads is no problem. It is
//! strict where leniency has enabled request smuggling: sizes are hex digits
//! only (no sign, no `0x`, at most 16 digits), every line ends in CRLF (a
//! bare LF is an error), and it stops exactly at the end of the body, so the
//! bytes after it are left for the next request. Extensions and trailer
//! fields are skipped, within a size limit.

use std::ops::Range;

/// Longest chunk-size line extension, and total trailer section, accepted.
const MAX_LINE_EXTRA: usize = 8 * 1024;

/// What the decoder is waiting for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Size,
    Extension,
    SizeLf,
    Data,
    DataCr,
    DataLf,
    TrailerStart,
    Trailer,
    TrailerLf,
    FinalLf,
    Done,
}

/// Malformed chunked framing: always answered with 400 and a closed
/// connection, since where the body ends is no longer known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ChunkError {
    /// A chunk size that is not 1–16 hex digits.
    BadSize,
    /// A line not ended by CRLF.
    BadLineEnding,
    /// Chunk extensions or trailers beyond the limit.
    TooLong,
}

impl ChunkError {
    pub(crate) fn describe(self) -> &'static str {
        match self {
            ChunkError::BadSize => "invalid chunk size",
            ChunkError::BadLineEnding => "chunked body line not ended by CRLF",
            ChunkError::TooLong => "chunk extensions or trailers too long",
        }
    }
}

/// Decoder state for one chunked body.
#[derive(Debug)]
pub(crate) struct ChunkedDecoder {
    state: State,
    /// Bytes left in the current chunk (or the size being parsed).
    chunk_left: u64,
    size_digits: u8,
    /// Extension and trailer bytes seen, against `MAX_LINE_EXTRA`.
    extra: usize,
}

impl ChunkedDecoder {
    pub(crate) fn new() -> ChunkedDecoder {
        ChunkedDecoder { state: State::Size, chunk_left: 0, size_digits: 0, extra: 0 }
    }

    /// Whether the whole body (last chunk and trailers) has been read.
    pub(crate) fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Consumes framing from `input` up to and including the next run of
    /// body data (at most `max_data` bytes of it). Returns how many bytes
    /// were consumed and where in `input` that data is. Consumes nothing
    /// past the end of the body.
    pub(crate) fn decode(
        &mut self,
        input: &[u8],
        max_data: usize,
    ) -> Result<(usize, Option<Range<usize>>), ChunkError> {
        let mut i = 0;
        while i < input.len() {
            let byte = input[i];
            match self.state {
                State::Size => match byte {
                    b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => {
                        if self.size_digits == 16 {
                            return Err(ChunkError::BadSize);
                        }
                        self.chunk_left = self.chunk_left << 4 | u64::from(hex_value(byte));
                        self.size_digits += 1;
                    }
                    b';' | b' ' | b'\t' if self.size_digits > 0 => self.state = State::Extension,
                    b'\r' if self.size_digits > 0 => self.state = State::SizeLf,
                    b'\n' if self.size_digits > 0 => return Err(ChunkError::BadLineEnding),
                    _ => return Err(ChunkError::BadSize),
                },
                State::Extension => match byte {
                    b'\r' => self.state = State::SizeLf,
                    b'\n' => return Err(ChunkError::BadLineEnding),
                    _ => self.count_extra()?,
                },
                State::SizeLf => {
                    expect(byte, b'\n')?;
                    self.size_digits = 0;
                    self.state = if self.chunk_left == 0 { State::TrailerStart } else { State::Data };
                }
                State::Data => {
                    let available = (input.len() - i) as u64;
                    let take = self.chunk_left.min(available).min(max_data as u64) as usize;
                    self.chunk_left -= take as u64;
                    if self.chunk_left == 0 {
                        self.state = State::DataCr;
                    }
                    return Ok((i + take, Some(i..i + take)));
                }
                State::DataCr => {
                    expect(byte, b'\r')?;
                    self.state = State::DataLf;
                }
                State::DataLf => {
                    expect(byte, b'\n')?;
                    self.state = State::Size;
                }
                State::TrailerStart => match byte {
                    b'\r' => self.state = State::FinalLf,
                    b'\n' => return Err(ChunkError::BadLineEnding),
                    _ => {
                        self.count_extra()?;
                        self.state = State::Trailer;
                    }
                },
                State::Trailer => match byte {
                    b'\r' => self.state = State::TrailerLf,
                    b'\n' => return Err(ChunkError::BadLineEnding),
                    _ => self.count_extra()?,
                },
                State::TrailerLf => {
                    expect(byte, b'\n')?;
                    self.state = State::TrailerStart;
                }
                State::FinalLf => {
                    expect(byte, b'\n')?;
                    self.state = State::Done;
                    return Ok((i + 1, None));
                }
                State::Done => return Ok((i, None)),
            }
            i += 1;
        }
        Ok((i, None))
    }

    fn count_extra(&mut self) -> Result<(), ChunkError> {
        self.extra += 1;
        if self.extra > MAX_LINE_EXTRA {
            return Err(ChunkError::TooLong);
        }
        Ok(())
    }
}

fn expect(byte: u8, wanted: u8) -> Result<(), ChunkError> {
    if byte == wanted {
        Ok(())
    } else {
        Err(ChunkError::BadLineEnding)
    }
}

fn hex_value(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        b'a'..=b'f' => digit - b'a' + 10,
        _ => digit - b'A' + 10,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes `input` fed in pieces of `step` bytes; returns the body and
    /// how many input bytes were consumed.
    fn decode_all(input: &[u8], step: usize) -> Result<(Vec<u8>, usize), ChunkError> {
        let mut decoder = ChunkedDecoder::new();
        let mut body = Vec::new();
        let mut at = 0;
        while !decoder.is_done() && at < input.len() {
            let end = (at + step).min(input.len());
            let (used, data) = decoder.decode(&input[at..end], usize::MAX)?;
            if let Some(range) = data {
                body.extend_from_slice(&input[at..end][range]);
            }
            at += used;
            if used == 0 && end == input.len() {
                break;
            }
        }
        assert!(decoder.is_done(), "body not complete");
        Ok((body, at))
    }

    #[test]
    fn decodes_chunks_in_any_split_and_stops_at_the_end() {
        let input = b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: yes\r\n\r\nGET / HTTP/1.1";
        for step in [1, 2, 3, 7, input.len()] {
            let (body, used) = decode_all(input, step).unwrap();
            assert_eq!(body, b"hello, world");
            assert_eq!(&input[used..], b"GET / HTTP/1.1", "step {step}");
        }
    }

    #[test]
    fn rejects_bad_sizes_and_bare_line_feeds() {
        assert_eq!(decode_all(b"x\r\n", 64).unwrap_err(), ChunkError::BadSize);
        assert_eq!(decode_all(b"-5\r\n", 64).unwrap_err(), ChunkError::BadSize);
        assert_eq!(decode_all(b"0x5\r\n", 64).unwrap_err(), ChunkError::BadSize);
        assert_eq!(decode_all(b"\r\n", 64).unwrap_err(), ChunkError::BadSize);
        assert_eq!(decode_all(b"11111111111111111\r\n", 64).unwrap_err(), ChunkError::BadSize);
        assert_eq!(decode_all(b"5\nhello\r\n0\r\n\r\n", 64).unwrap_err(), ChunkError::BadLineEnding);
        assert_eq!(decode_all(b"5\r\nhelloXX0\r\n\r\n", 64).unwrap_err(), ChunkError::BadLineEnding);
        assert_eq!(decode_all(b"0\r\n\n", 64).unwrap_err(), ChunkError::BadLineEnding);
    }
}
