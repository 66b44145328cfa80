//! `BufReader`: a read buffer in front of any [`AsyncRead`], for reading
//! lines and other delimited records. asyncio's `StreamReader`.
//!
//! The buffer has a fixed capacity (8 KiB by default) and is refilled by one
//! read of the inner stream when empty; a read larger than the buffer when
//! the buffer is empty goes straight to the inner stream. Lines are capped
//! by a separate limit (64 KiB by default), so a peer that never sends a
//! newline costs at most that much memory before the read fails with a
//! clear `InvalidData` error.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use futures_core::Stream;
use futures_io::{AsyncBufRead, AsyncRead, AsyncWrite};

use super::{poll_read_until, read_until};

/// Default buffer size: one refill fits a typical request head or a few
/// dozen lines; the same as std's `BufReader`.
const DEFAULT_CAPACITY: usize = 8 * 1024;

/// Default line limit: asyncio's `_DEFAULT_LIMIT` (2**16).
const DEFAULT_MAX_LINE: usize = 64 * 1024;

/// Buffers reads from `R` and reads lines and delimited records from it.
///
/// ```
/// use eddy::io::BufReader;
/// use eddy::net::{TcpListener, TcpStream};
///
/// eddy::run(async {
///     let listener = TcpListener::bind("127.0.0.1:0")?;
///     let addr = listener.local_addr()?;
///     eddy::spawn(async move {
///         let (stream, _) = listener.accept().await?;
///         stream.write_all(b"first\nsecond\n").await
///     });
///     let mut reader = BufReader::new(TcpStream::connect(addr).await?);
///     let mut record = Vec::new();
///     reader.read_until(b'\n', &mut record).await?;
///     assert_eq!(record, b"first\n");
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct BufReader<R> {
    inner: R,
    buf: Box<[u8]>,
    /// Next unread byte of `buf`.
    pos: usize,
    /// End of the bytes the last refill put in `buf`.
    filled: usize,
    /// Longest line (delimiter included) `read_line`/`read_until`/`lines`
    /// accept before failing.
    max_line: usize,
}

impl<R: AsyncRead> BufReader<R> {
    /// Wraps `inner` with an 8 KiB buffer and a 64 KiB line limit.
    pub fn new(inner: R) -> BufReader<R> {
        BufReader::with_capacity(DEFAULT_CAPACITY, inner)
    }

    /// Wraps `inner` with a buffer of `capacity` bytes (at least 1).
    pub fn with_capacity(capacity: usize, inner: R) -> BufReader<R> {
        BufReader {
            inner,
            buf: vec![0; capacity.max(1)].into_boxed_slice(),
            pos: 0,
            filled: 0,
            max_line: DEFAULT_MAX_LINE,
        }
    }
}

impl<R> BufReader<R> {
    /// Sets the line limit (at least 1 byte; the delimiter counts).
    pub fn set_max_line_length(&mut self, limit: usize) {
        self.max_line = limit.max(1);
    }

    /// The line limit.
    pub fn max_line_length(&self) -> usize {
        self.max_line
    }

    /// The inner stream.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// The inner stream, mutably. Reading from it directly skips what is
    /// buffered.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// The bytes read from the stream but not yet consumed.
    pub fn buffer(&self) -> &[u8] {
        &self.buf[self.pos..self.filled]
    }

    /// Unwraps the inner stream; buffered bytes are lost.
    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: AsyncRead + Unpin> BufReader<R> {
    /// Reads up to and including `delimiter`, appending to `out`; returns
    /// how many bytes were appended (0 at EOF). A last record without a
    /// delimiter is returned as is. asyncio's `readuntil`.
    ///
    /// Cancel-safe: see [`read_until`].
    ///
    /// # Errors
    /// `InvalidData` naming the limit if no delimiter came within
    /// [`max_line_length`](Self::max_line_length) bytes (`out` then holds
    /// that many bytes; the rest of the record is still unread).
    pub async fn read_until(&mut self, delimiter: u8, out: &mut Vec<u8>) -> io::Result<usize> {
        let limit = self.max_line;
        read_until(self, delimiter, out, limit).await
    }

    /// Reads a line, `\n` included, appending it to `out`; returns its
    /// length in bytes (0 at EOF). asyncio's `readline`.
    ///
    /// Not cancel-safe: if the future is dropped halfway through a line,
    /// the part read so far is lost. Use [`lines`](Self::lines) or
    /// [`read_until`](Self::read_until) where that matters.
    ///
    /// # Errors
    /// As [`read_until`](Self::read_until); `InvalidData` also if the line
    /// is not UTF-8 (then nothing is appended).
    pub async fn read_line(&mut self, out: &mut String) -> io::Result<usize> {
        let mut bytes = Vec::new();
        let n = self.read_until(b'\n', &mut bytes).await?;
        let line = String::from_utf8(bytes).map_err(|_| {
            io::Error::new(io::ErrorKind::InvalidData, "read_line: the line is not valid UTF-8")
        })?;
        out.push_str(&line);
        Ok(n)
    }

    /// The lines of the stream, without their `\n` or `\r\n`, as a
    /// [`Stream`]. `async for line in reader` in asyncio. The stream ends
    /// at EOF, and after yielding an error (a line over the limit, invalid
    /// UTF-8 or an I/O error).
    pub fn lines(self) -> Lines<R> {
        Lines { reader: self, line: Vec::new(), read: 0, done: false }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for BufReader<R> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, out: &mut [u8]) -> Poll<io::Result<usize>> {
        // Nothing buffered and a big read: skip the copy.
        if self.pos == self.filled && out.len() >= self.buf.len() {
            return Pin::new(&mut self.inner).poll_read(cx, out);
        }
        let available = ready!(self.as_mut().poll_fill_buf(cx))?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Poll::Ready(Ok(n))
    }
}

impl<R: AsyncRead + Unpin> AsyncBufRead for BufReader<R> {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        if this.pos >= this.filled {
            let n = ready!(Pin::new(&mut this.inner).poll_read(cx, &mut this.buf))?;
            this.pos = 0;
            this.filled = n;
        }
        Poll::Ready(Ok(&this.buf[this.pos..this.filled]))
    }

    fn consume(mut self: Pin<&mut Self>, amount: usize) {
        self.pos = (self.pos + amount).min(self.filled);
    }
}

/// Writes pass straight through, so a `BufReader` over a socket still
/// answers on it.
impl<R: AsyncWrite + Unpin> AsyncWrite for BufReader<R> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}

impl<R: fmt::Debug> fmt::Debug for BufReader<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BufReader")
            .field("inner", &self.inner)
            .field("buffered", &(self.filled - self.pos))
            .field("capacity", &self.buf.len())
            .field("max_line", &self.max_line)
            .finish()
    }
}

/// The lines of a [`BufReader`], from [`BufReader::lines`]. Cancel-safe:
/// a partial line stays in the stream's own buffer between polls.
pub struct Lines<R> {
    reader: BufReader<R>,
    /// The line being assembled, kept across polls.
    line: Vec<u8>,
    /// Bytes of `line` read so far, for the limit.
    read: usize,
    /// Set at EOF and after an error.
    done: bool,
}

impl<R> Lines<R> {
    /// Gives the reader back (with whatever it still buffers).
    pub fn into_inner(self) -> BufReader<R> {
        self.reader
    }
}

impl<R: AsyncRead + Unpin> Lines<R> {
    /// The next line, `None` at EOF.
    pub async fn next_line(&mut self) -> io::Result<Option<String>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await.transpose()
    }
}

impl<R: AsyncRead + Unpin> Stream for Lines<R> {
    type Item = io::Result<String>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<io::Result<String>>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        let limit = this.reader.max_line;
        let result = ready!(poll_read_until(
            Pin::new(&mut this.reader),
            cx,
            b'\n',
            &mut this.line,
            limit,
            &mut this.read
        ));
        let mut line = std::mem::take(&mut this.line);
        match result {
            Err(error) => {
                this.done = true;
                Poll::Ready(Some(Err(error)))
            }
            Ok(0) if line.is_empty() => {
                this.done = true;
                Poll::Ready(None)
            }
            Ok(_) => {
                if line.last() == Some(&b'\n') {
                    line.pop();
                    if line.last() == Some(&b'\r') {
                        line.pop();
                    }
                }
                match String::from_utf8(line) {
                    Ok(line) => Poll::Ready(Some(Ok(line))),
                    Err(_) => {
                        this.done = true;
                        Poll::Ready(Some(Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "lines: a line is not valid UTF-8",
                        ))))
                    }
                }
            }
        }
    }
}

impl<R: fmt::Debug> fmt::Debug for Lines<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lines").field("reader", &self.reader).finish()
    }
}
