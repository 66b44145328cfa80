//! The chunked transfer coding, decoded (RFC 9112 §7.1).
//!
//! ```text
//!  Size ──hex──▶ Size ──CR──▶ SizeLf ──LF──▶ Data ──(n bytes)──▶ DataCr ─CR─▶ DataLf ─LF─┐
//!   ▲  └─ BWS ';' ─▶ Ext… ─CR─┘  │ size 0                                                │
//!   └────────────────────────────┼─────────────────────────────────────────────────────────┘
//!                                ▼
//!                           TrailerStart ──CR──▶ FinalLf ──LF──▶ Done
//!                                └─ name ':' ─▶ TrailerValue ─CR─▶ TrailerLf ─LF─┘ (back)
//! ```
//!
//! The decoder is a byte-at-a-time state machine over whatever the socket
//! delivered, so a chunk header split across two reads is no problem. It is
//! strict where leniency has enabled request smuggling, because a front end
//! that reads the same bytes differently ends the body somewhere else and
//! sees a different next request:
//!
//! - sizes are hex digits only (no sign, no `0x`, at most 16 digits);
//! - after the size, only `BWS ";"` may start an extension, and each
//!   extension is `token [BWS "=" BWS (token / quoted-string)]` (§7.1.1):
//!   `5 junk` is an error, not a 5-byte chunk with a comment;
//! - trailer lines are header fields, `token ":" OWS value OWS` with no
//!   control characters (§7.1.2): a request line in the trailer section
//!   (`GET /admin HTTP/1.1`) is an error, not a trailer to skip;
//! - every line ends in CRLF (a bare LF or CR is an error);
//! - it stops exactly at the end of the body, so the bytes after it are left
//!   for the next request.
//!
//! Extensions and trailer fields are checked and skipped, never stored.
//! Their size is bounded: extensions by [`MAX_EXTENSIONS`] over the whole
//! body, trailers by the head limits (`max_head` bytes, `max_headers`
//! fields), since a trailer section is a second head.

use std::ops::Range;

use crate::http::token::is_tchar;
use crate::server::limits::Limits;

/// Most chunk-extension bytes accepted over one body. Nothing uses
/// extensions in practice; the bound only keeps a client from sending
/// endless framing with 1-byte chunks. 16 KiB, as hyper allows.
pub(crate) const MAX_EXTENSIONS: usize = 16 * 1024;

/// What the decoder is waiting for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Hex digits of the size.
    Size,
    /// Whitespace after the size or an extension: only `;` may follow.
    SizeBws,
    /// After `;`: optional whitespace, then an extension name.
    ExtNameStart,
    ExtName,
    /// Whitespace after an extension name: `=` or `;` must follow.
    ExtNameBws,
    /// After `=`: optional whitespace, then a token or a quoted string.
    ExtValueStart,
    ExtToken,
    ExtQuoted,
    /// After a backslash inside a quoted string.
    ExtQuotedPair,
    /// After the closing quote.
    ExtQuotedEnd,
    SizeLf,
    Data,
    DataCr,
    DataLf,
    /// At the start of a trailer line, or of the final empty line.
    TrailerStart,
    TrailerName,
    TrailerValue,
    TrailerLf,
    FinalLf,
    Done,
}

impl State {
    /// Whether a byte in this state belongs to the chunk extensions.
    fn in_extension(self) -> bool {
        matches!(
            self,
            State::SizeBws
                | State::ExtNameStart
                | State::ExtName
                | State::ExtNameBws
                | State::ExtValueStart
                | State::ExtToken
                | State::ExtQuoted
                | State::ExtQuotedPair
                | State::ExtQuotedEnd
        )
    }
}

/// Malformed chunked framing: always answered with 400 and a closed
/// connection, since where the body ends is no longer known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ChunkError {
    /// A chunk size that is not 1–16 hex digits.
    BadSize,
    /// Something after the size that is not a well-formed extension.
    BadExtension,
    /// A trailer line that is not a well-formed header field.
    BadTrailer,
    /// A line not ended by CRLF.
    BadLineEnding,
    /// Chunk extensions beyond [`MAX_EXTENSIONS`].
    ExtensionsTooLong,
    /// A trailer section beyond the head limits.
    TrailersTooLarge,
}

impl ChunkError {
    pub(crate) fn describe(self) -> &'static str {
        match self {
            ChunkError::BadSize => "invalid chunk size",
            ChunkError::BadExtension => "invalid chunk extension",
            ChunkError::BadTrailer => "invalid trailer field",
            ChunkError::BadLineEnding => "chunked body line not ended by CRLF",
            ChunkError::ExtensionsTooLong => "chunk extensions too long",
            ChunkError::TrailersTooLarge => "trailer section too large",
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
    /// Extension bytes seen in this body, against [`MAX_EXTENSIONS`].
    extension_bytes: usize,
    /// Trailer bytes and fields seen, against the head limits.
    trailer_bytes: usize,
    trailer_fields: usize,
    max_trailer_bytes: usize,
    max_trailer_fields: usize,
}

impl ChunkedDecoder {
    /// A decoder for one body; its trailer section is bounded like a head.
    pub(crate) fn new(limits: &Limits) -> ChunkedDecoder {
        ChunkedDecoder {
            state: State::Size,
            chunk_left: 0,
            size_digits: 0,
            extension_bytes: 0,
            trailer_bytes: 0,
            trailer_fields: 0,
            max_trailer_bytes: limits.max_head,
            max_trailer_fields: limits.max_headers,
        }
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
            if self.state.in_extension() {
                self.count_extension()?;
            }
            match self.state {
                State::Size => match byte {
                    b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => {
                        if self.size_digits == 16 {
                            return Err(ChunkError::BadSize);
                        }
                        self.chunk_left = self.chunk_left << 4 | u64::from(hex_value(byte));
                        self.size_digits += 1;
                    }
                    _ if self.size_digits == 0 => return Err(ChunkError::BadSize),
                    b' ' | b'\t' => self.state = State::SizeBws,
                    b';' => self.state = State::ExtNameStart,
                    b'\r' => self.state = State::SizeLf,
                    b'\n' => return Err(ChunkError::BadLineEnding),
                    _ => return Err(ChunkError::BadSize),
                },
                State::SizeBws => match byte {
                    b' ' | b'\t' => {}
                    b';' => self.state = State::ExtNameStart,
                    _ => return Err(ChunkError::BadExtension),
                },
                State::ExtNameStart => match byte {
                    b' ' | b'\t' => {}
                    _ if is_tchar(byte) => self.state = State::ExtName,
                    _ => return Err(ChunkError::BadExtension),
                },
                State::ExtName => match byte {
                    _ if is_tchar(byte) => {}
                    b' ' | b'\t' => self.state = State::ExtNameBws,
                    b'=' => self.state = State::ExtValueStart,
                    b';' => self.state = State::ExtNameStart,
                    b'\r' => self.state = State::SizeLf,
                    _ => return Err(ChunkError::BadExtension),
                },
                State::ExtNameBws => match byte {
                    b' ' | b'\t' => {}
                    b'=' => self.state = State::ExtValueStart,
                    b';' => self.state = State::ExtNameStart,
                    _ => return Err(ChunkError::BadExtension),
                },
                State::ExtValueStart => match byte {
                    b' ' | b'\t' => {}
                    b'"' => self.state = State::ExtQuoted,
                    _ if is_tchar(byte) => self.state = State::ExtToken,
                    _ => return Err(ChunkError::BadExtension),
                },
                State::ExtToken => match byte {
                    _ if is_tchar(byte) => {}
                    b' ' | b'\t' => self.state = State::SizeBws,
                    b';' => self.state = State::ExtNameStart,
                    b'\r' => self.state = State::SizeLf,
                    _ => return Err(ChunkError::BadExtension),
                },
                State::ExtQuoted => match byte {
                    b'"' => self.state = State::ExtQuotedEnd,
                    b'\\' => self.state = State::ExtQuotedPair,
                    // qdtext: HTAB, SP, VCHAR but `"` and `\`, obs-text.
                    b'\t' | b' '..=b'~' | 0x80..=0xff => {}
                    _ => return Err(ChunkError::BadExtension),
                },
                State::ExtQuotedPair => match byte {
                    b'\t' | b' '..=b'~' | 0x80..=0xff => self.state = State::ExtQuoted,
                    _ => return Err(ChunkError::BadExtension),
                },
                State::ExtQuotedEnd => match byte {
                    b' ' | b'\t' => self.state = State::SizeBws,
                    b';' => self.state = State::ExtNameStart,
                    b'\r' => self.state = State::SizeLf,
                    _ => return Err(ChunkError::BadExtension),
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
                    _ if is_tchar(byte) => {
                        self.trailer_fields += 1;
                        if self.trailer_fields > self.max_trailer_fields {
                            return Err(ChunkError::TrailersTooLarge);
                        }
                        self.count_trailer()?;
                        self.state = State::TrailerName;
                    }
                    _ => return Err(ChunkError::BadTrailer),
                },
                State::TrailerName => {
                    self.count_trailer()?;
                    match byte {
                        _ if is_tchar(byte) => {}
                        b':' => self.state = State::TrailerValue,
                        _ => return Err(ChunkError::BadTrailer),
                    }
                }
                State::TrailerValue => {
                    self.count_trailer()?;
                    match byte {
                        b'\r' => self.state = State::TrailerLf,
                        // OWS, VCHAR and obs-text; no other control
                        // character (a bare LF least of all).
                        b'\t' | b' '..=b'~' | 0x80..=0xff => {}
                        _ => return Err(ChunkError::BadTrailer),
                    }
                }
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

    fn count_extension(&mut self) -> Result<(), ChunkError> {
        self.extension_bytes += 1;
        if self.extension_bytes > MAX_EXTENSIONS {
            return Err(ChunkError::ExtensionsTooLong);
        }
        Ok(())
    }

    fn count_trailer(&mut self) -> Result<(), ChunkError> {
        self.trailer_bytes += 1;
        if self.trailer_bytes > self.max_trailer_bytes {
            return Err(ChunkError::TrailersTooLarge);
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
        let mut decoder = ChunkedDecoder::new(&Limits::default());
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
        assert_eq!(decode_all(b"0\r\nA: b\n\r\n", 64).unwrap_err(), ChunkError::BadTrailer);
    }

    #[test]
    fn extensions_follow_the_grammar() {
        for good in [
            &b"5;a\r\nhello\r\n0\r\n\r\n"[..],
            b"5 ; a = b ; c\r\nhello\r\n0\r\n\r\n",
            b"5;a=\"x y;\\\"z\"\r\nhello\r\n0;last\r\n\r\n",
            b"5\t;a=b\t;c=\"\"\r\nhello\r\n0\r\n\r\n",
        ] {
            assert_eq!(decode_all(good, 1).unwrap().0, b"hello", "{:?}", String::from_utf8_lossy(good));
        }
        for bad in [
            &b"5 junk\r\nhello\r\n0\r\n\r\n"[..],
            b"5 \r\nhello\r\n0\r\n\r\n",
            b"5;\r\nhello\r\n0\r\n\r\n",
            b"5;a b\r\nhello\r\n0\r\n\r\n",
            b"5;a=\r\nhello\r\n0\r\n\r\n",
            b"5;a=\"open\r\nhello\r\n0\r\n\r\n",
            b"5;a=\"x\"y\r\nhello\r\n0\r\n\r\n",
            b"5;a=b=c\r\nhello\r\n0\r\n\r\n",
            b"5;a\0\r\nhello\r\n0\r\n\r\n",
        ] {
            assert_eq!(
                decode_all(bad, 1).unwrap_err(),
                ChunkError::BadExtension,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let endless = format!("1;{}\r\na\r\n", "x".repeat(MAX_EXTENSIONS));
        assert_eq!(decode_all(endless.as_bytes(), 64).unwrap_err(), ChunkError::ExtensionsTooLong);
    }

    #[test]
    fn trailers_must_be_header_fields_within_the_head_limits() {
        let (_, used) = decode_all(b"0\r\nA: b\r\nX-Empty:\r\nC:\td e \r\n\r\nrest", 1).unwrap();
        assert_eq!(used, b"0\r\nA: b\r\nX-Empty:\r\nC:\td e \r\n\r\n".len());
        for bad in [
            &b"0\r\nGET /admin HTTP/1.1\r\n\r\n"[..],
            b"0\r\n: no name\r\n\r\n",
            b"0\r\nA : space before colon\r\n\r\n",
            b"0\r\n folded\r\n\r\n",
            b"0\r\nA: nul\0\r\n\r\n",
            b"0\r\nno colon\r\n\r\n",
        ] {
            assert_eq!(
                decode_all(bad, 1).unwrap_err(),
                ChunkError::BadTrailer,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let many = format!("0\r\n{}\r\n", "A: b\r\n".repeat(101));
        assert_eq!(decode_all(many.as_bytes(), 64).unwrap_err(), ChunkError::TrailersTooLarge);
        let big = format!("0\r\nA: {}\r\n\r\n", "b".repeat(8 * 1024));
        assert_eq!(decode_all(big.as_bytes(), 64).unwrap_err(), ChunkError::TrailersTooLarge);
    }
}
