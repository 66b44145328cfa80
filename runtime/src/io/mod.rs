//! Byte streams, the way asyncio's `StreamReader` / `StreamWriter` offer
//! them: read exactly *n* bytes, read to EOF, read a line, copy one stream
//! into another.
//!
//! Everything here is generic over the `futures-io` traits
//! ([`AsyncRead`], [`AsyncWrite`], [`AsyncBufRead`]), which eddy's sockets
//! implement, so the helpers work on any of them and on any other crate's
//! streams too. They are plain loops over the `poll_*` methods: no extra
//! buffering beyond what [`BufReader`] holds, no task, no allocation except
//! into the buffers the caller hands over.
//!
//! | asyncio | eddy |
//! |---|---|
//! | `await reader.readexactly(n)` | [`read_exact`]`(&mut r, &mut buf)` / [`AsyncReadExt::read_exact`] |
//! | `await reader.read()` (to EOF) | [`read_to_end`] |
//! | `await reader.readline()` | [`BufReader::read_line`] |
//! | `await reader.readuntil(sep)` | [`BufReader::read_until`] |
//! | `async for line in reader` | [`BufReader::lines`] (a `futures_core::Stream`) |
//! | `LimitOverrunError` | an `io::Error` of kind `InvalidData` naming the limit |
//!
//! Lines are bounded: a [`BufReader`] gives up on a line longer than its
//! limit (64 KiB by default, asyncio's `_DEFAULT_LIMIT`) with a clear
//! error, instead of buffering whatever a peer sends without a newline.
//!
//! ```
//! use eddy::io::BufReader;
//! use eddy::net::{TcpListener, TcpStream};
//!
//! eddy::run(async {
//!     let listener = TcpListener::bind("127.0.0.1:0")?;
//!     let addr = listener.local_addr()?;
//!     eddy::spawn(async move {
//!         let (stream, _) = listener.accept().await?;
//!         stream.write_all(b"HELO eddy\r\nQUIT\r\n").await
//!     });
//!     let mut reader = BufReader::new(TcpStream::connect(addr).await?);
//!     let mut line = String::new();
//!     reader.read_line(&mut line).await?;
//!     assert_eq!(line, "HELO eddy\r\n");
//!     Ok::<(), std::io::Error>(())
//! })?;
//! # Ok::<(), std::io::Error>(())
//! ```

use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

pub use futures_io::{AsyncBufRead, AsyncRead, AsyncWrite};

mod buf_reader;

pub use buf_reader::{BufReader, Lines};

/// How many bytes [`copy`] and [`read_to_end`] move per read: big enough
/// that a bulk transfer costs few syscalls, small enough not to matter per
/// task. The same size as std's `io::copy` buffer.
const COPY_BUFFER: usize = 8 * 1024;

/// Fills `buf` completely, reading as often as needed. asyncio's
/// `readexactly`.
///
/// Not cancel-safe: if the future is dropped before it finishes, the bytes
/// it had read are in `buf` but how many is lost. Read into a
/// [`BufReader`] and use [`read_until`] where a record may be cut short.
///
/// # Errors
/// `UnexpectedEof` if the stream ends first (saying how many bytes came);
/// otherwise the reader's error. On error, `buf` holds an unknown prefix.
pub async fn read_exact<R: AsyncRead + Unpin + ?Sized>(reader: &mut R, buf: &mut [u8]) -> io::Result<()> {
    let wanted = buf.len();
    let mut filled = 0;
    while filled < wanted {
        match poll_fn(|cx| Pin::new(&mut *reader).poll_read(cx, &mut buf[filled..])).await? {
            0 => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("read_exact: the stream ended after {filled} of {wanted} bytes"),
                ))
            }
            n => filled += n,
        }
    }
    Ok(())
}

/// Reads until EOF, appending to `buf`; returns how many bytes were added.
/// asyncio's `read()` with no size. Unbounded by nature: use it on streams
/// whose size you trust, or wrap the reader in a limit of your own.
///
/// Cancel-safe: bytes read before the future is dropped stay in `buf`.
pub async fn read_to_end<R: AsyncRead + Unpin + ?Sized>(
    reader: &mut R,
    buf: &mut Vec<u8>,
) -> io::Result<usize> {
    /// Cuts the vector back to the bytes really read, also when the future
    /// is dropped mid-read, so no zeroed padding is left behind.
    struct Filled<'a> {
        buf: &'a mut Vec<u8>,
        len: usize,
    }
    impl Drop for Filled<'_> {
        fn drop(&mut self) {
            self.buf.truncate(self.len);
        }
    }

    let start = buf.len();
    loop {
        // Read straight into the vector, grown by a zeroed chunk each time
        // (no buffer in the future itself: it stays small to spawn).
        let len = buf.len();
        buf.resize(len + COPY_BUFFER, 0);
        let mut filled = Filled { buf: &mut *buf, len };
        let n = poll_fn(|cx| Pin::new(&mut *reader).poll_read(cx, &mut filled.buf[len..])).await?;
        filled.len += n;
        drop(filled);
        if n == 0 {
            return Ok(buf.len() - start);
        }
    }
}

/// Writes all of `buf`.
///
/// # Errors
/// `WriteZero` if the writer accepts no more bytes; otherwise the writer's.
pub async fn write_all<W: AsyncWrite + Unpin + ?Sized>(writer: &mut W, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        match poll_fn(|cx| Pin::new(&mut *writer).poll_write(cx, buf)).await? {
            0 => {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "write_all: the writer accepted no bytes",
                ))
            }
            n => buf = &buf[n..],
        }
    }
    Ok(())
}

/// Copies everything `reader` produces into `writer` until EOF, then
/// flushes `writer`; returns the number of bytes copied. The writer is not
/// closed (call [`AsyncWrite::poll_close`] or shut the socket down to pass
/// the EOF on). Holds one 8 KiB buffer; a slow writer slows the reader
/// (backpressure), nothing piles up. If the future is dropped, up to one
/// buffer of bytes already read but not yet written is lost.
///
/// # Errors
/// The first read or write error, with which side it came from.
pub async fn copy<R, W>(reader: &mut R, writer: &mut W) -> io::Result<u64>
where
    R: AsyncRead + Unpin + ?Sized,
    W: AsyncWrite + Unpin + ?Sized,
{
    let mut buf = vec![0u8; COPY_BUFFER];
    let mut copied = 0u64;
    loop {
        let n = poll_fn(|cx| Pin::new(&mut *reader).poll_read(cx, &mut buf))
            .await
            .map_err(|e| crate::net::context(e, "copy: reading the source"))?;
        if n == 0 {
            poll_fn(|cx| Pin::new(&mut *writer).poll_flush(cx))
                .await
                .map_err(|e| crate::net::context(e, "copy: flushing the destination"))?;
            return Ok(copied);
        }
        write_all(writer, &buf[..n])
            .await
            .map_err(|e| crate::net::context(e, "copy: writing the destination"))?;
        copied += n as u64;
    }
}

/// Method forms of [`read_exact`] and [`read_to_end`] for every
/// [`AsyncRead`].
pub trait AsyncReadExt: AsyncRead + Unpin {
    /// See [`read_exact`].
    fn read_exact<'a>(&'a mut self, buf: &'a mut [u8]) -> impl Future<Output = io::Result<()>> + 'a {
        read_exact(self, buf)
    }

    /// See [`read_to_end`].
    fn read_to_end<'a>(&'a mut self, buf: &'a mut Vec<u8>) -> impl Future<Output = io::Result<usize>> + 'a {
        read_to_end(self, buf)
    }
}

impl<R: AsyncRead + Unpin + ?Sized> AsyncReadExt for R {}

/// Method forms of [`write_all`], flush and close for every [`AsyncWrite`].
pub trait AsyncWriteExt: AsyncWrite + Unpin {
    /// See [`write_all`].
    fn write_all<'a>(&'a mut self, buf: &'a [u8]) -> impl Future<Output = io::Result<()>> + 'a {
        write_all(self, buf)
    }

    /// Flushes buffered bytes to the underlying stream.
    fn flush(&mut self) -> impl Future<Output = io::Result<()>> + '_ {
        poll_fn(|cx| Pin::new(&mut *self).poll_flush(cx))
    }

    /// Flushes and closes the writer (for a socket: shuts down writing,
    /// so the peer reads EOF).
    fn close(&mut self) -> impl Future<Output = io::Result<()>> + '_ {
        poll_fn(|cx| Pin::new(&mut *self).poll_close(cx))
    }
}

impl<W: AsyncWrite + Unpin + ?Sized> AsyncWriteExt for W {}

/// Reads into `out` up to and including `delimiter`, taking at most `limit`
/// bytes of this line. The engine of [`BufReader::read_until`], public for
/// any [`AsyncBufRead`].
///
/// Cancel-safe: bytes are moved into `out` as they are consumed, so a
/// dropped future loses nothing; calling again continues the line.
///
/// # Errors
/// `InvalidData` naming the limit when no delimiter came within `limit`
/// bytes; `out` then holds the first `limit` bytes of the line and the rest
/// is still unread. Otherwise the reader's error.
pub async fn read_until<R: AsyncBufRead + Unpin + ?Sized>(
    reader: &mut R,
    delimiter: u8,
    out: &mut Vec<u8>,
    limit: usize,
) -> io::Result<usize> {
    let mut read = 0;
    poll_fn(|cx| poll_read_until(Pin::new(&mut *reader), cx, delimiter, out, limit, &mut read)).await
}

/// The poll loop behind [`read_until`]; `read` counts the bytes of this
/// line taken so far, across polls.
pub(crate) fn poll_read_until<R: AsyncBufRead + ?Sized>(
    mut reader: Pin<&mut R>,
    cx: &mut Context<'_>,
    delimiter: u8,
    out: &mut Vec<u8>,
    limit: usize,
    read: &mut usize,
) -> Poll<io::Result<usize>> {
    loop {
        let available = ready!(reader.as_mut().poll_fill_buf(cx))?;
        if available.is_empty() {
            return Poll::Ready(Ok(std::mem::take(read))); // EOF
        }
        let room = limit - *read;
        let (used, found) = match memchr(delimiter, available) {
            Some(i) if i < room => (i + 1, true),
            _ => (available.len().min(room), false),
        };
        out.extend_from_slice(&available[..used]);
        reader.as_mut().consume(used);
        *read += used;
        if found {
            return Poll::Ready(Ok(std::mem::take(read)));
        }
        if *read == limit {
            *read = 0;
            return Poll::Ready(Err(limit_overrun(delimiter, limit)));
        }
    }
}

/// asyncio's `LimitOverrunError`, as an `io::Error`.
fn limit_overrun(delimiter: u8, limit: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "line too long: no {:?} within the {limit}-byte limit (raise it with BufReader::set_max_line_length)",
            delimiter as char
        ),
    )
}

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == needle)
}
