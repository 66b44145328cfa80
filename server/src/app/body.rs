//! `Body`: a request body as an async stream of bytes, read as it arrives.
//!
//! Nothing is read until the handler asks: a handler that streams a large
//! upload to disk never holds more than one buffer of it, and a handler that
//! ignores the body costs nothing (the server drains or closes afterwards,
//! so the unread bytes are never taken for the next request). Reading is
//! also what sends `100 Continue` to a client that asked for it.

use std::fmt;
use std::rc::Rc;

use crate::error::BodyError;
use crate::server::conn_io::ConnIo;

/// The body of one request. See the module docs.
///
/// ```no_run
/// use eddy_http::{Request, Response};
///
/// async fn upload(mut req: Request) -> Response {
///     let mut total = 0;
///     while let Some(chunk) = req.body_mut().chunk().await.transpose() {
///         match chunk {
///             Ok(bytes) => total += bytes.len(), // process it as it arrives
///             Err(error) => return error.into(),  // 413, 400, ...
///         }
///     }
///     Response::text(format!("received {total} bytes"))
/// }
/// ```
pub struct Body {
    conn: Option<Rc<ConnIo>>,
    seq: u64,
    /// The declared length, or [`NO_LENGTH`]. Not an `Option`: its tag
    /// would take a word of its own, and a request (which holds its body)
    /// is copied twice on its way into the handler's future.
    length: u64,
}

/// [`Body::length`] of a chunked body. No declared length is this: the
/// parser takes at most 19 digits, and `u64::MAX` has 20.
const NO_LENGTH: u64 = u64::MAX;

/// Largest chunk [`Body::chunk`] returns at once.
const CHUNK: usize = 16 * 1024;

impl Body {
    pub(crate) fn new(conn: Rc<ConnIo>, seq: u64, length: Option<u64>) -> Body {
        Body { conn: Some(conn), seq, length: length.unwrap_or(NO_LENGTH) }
    }

    /// A body with nothing in it (for requests built in tests).
    pub(crate) fn empty() -> Body {
        Body { conn: None, seq: 0, length: 0 }
    }

    /// The connection the body arrives on (`None` in a request built for a
    /// test).
    pub(crate) fn conn(&self) -> Option<&ConnIo> {
        self.conn.as_deref()
    }

    /// The client's address, if the body belongs to a TCP connection.
    pub(crate) fn peer(&self) -> Option<std::net::SocketAddr> {
        self.conn.as_ref().and_then(|conn| conn.peer().socket_addr())
    }

    /// The declared length (`Content-Length`), if there is one; `None` for a
    /// chunked body.
    pub fn declared_length(&self) -> Option<u64> {
        (self.length != NO_LENGTH).then_some(self.length)
    }

    /// Reads some body bytes into `buf`, waiting until at least one arrives.
    /// Returns 0 at the end of the body.
    ///
    /// # Errors
    /// [`BodyError`]: too large, malformed chunking, the client went away,
    /// went quiet for longer than the I/O timeout, or took longer than the
    /// body timeout for the whole body (see [`Limits`](crate::Limits)), or
    /// the server is shutting down and the body did not come within the
    /// grace.
    pub async fn read(&mut self, buf: &mut [u8]) -> Result<usize, BodyError> {
        let Some(conn) = &self.conn else { return Ok(0) };
        conn.read_body(self.seq, buf.len(), &mut |data| {
            // `read_body` delivers at most `buf.len()` bytes.
            buf[..data.len()].copy_from_slice(data);
        })
        .await
    }

    /// The next piece of the body as it arrives (at most 16 KiB), or `None`
    /// at the end.
    pub async fn chunk(&mut self) -> Result<Option<Vec<u8>>, BodyError> {
        let mut piece = vec![0; CHUNK];
        let n = self.read(&mut piece).await?;
        if n == 0 {
            return Ok(None);
        }
        piece.truncate(n);
        Ok(Some(piece))
    }

    /// Reads the whole body (up to the server's body limit).
    pub async fn bytes(&mut self) -> Result<Vec<u8>, BodyError> {
        let mut all = Vec::with_capacity(self.declared_length().unwrap_or(0).min(CHUNK as u64) as usize);
        let mut buf = [0; 4096];
        loop {
            let n = self.read(&mut buf).await?;
            if n == 0 {
                return Ok(all);
            }
            all.extend_from_slice(&buf[..n]);
        }
    }

    /// Reads the whole body as UTF-8 text.
    pub async fn text(&mut self) -> Result<String, BodyError> {
        String::from_utf8(self.bytes().await?).map_err(|_| BodyError::Malformed("body is not valid UTF-8"))
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Body").field("declared_length", &self.declared_length()).finish()
    }
}
