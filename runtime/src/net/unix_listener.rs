//! `UnixListener`: accepts connections on a Unix domain socket (a path in
//! the file system), like asyncio's `start_unix_server`.
//!
//! # How it maps onto the reactor
//!
//! One mio `UnixListener`, registered for reads (lazily, on its first
//! `WouldBlock`); readiness is cleared only when `accept` returns
//! `WouldBlock`, since a listen queue can hold many connections.
//!
//! # The socket file
//!
//! `bind` creates the file and never removes one it did not create: if the
//! path exists (a stale socket left by a crashed server, or anything else),
//! it fails with `AddrInUse`, naming the path and suggesting to remove a
//! stale socket. When the listener drops, it removes the file it created,
//! but only if the path still holds that same file (same device and inode),
//! so a newer server's socket at the same path is left alone.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::task::{Context, Poll};

use mio::Interest;

use super::{context, UnixStream};
use crate::reactor::{Direction, IoSource};
use crate::task::budget;

/// A Unix domain socket listening for connections.
///
/// ```
/// use eddy::net::{UnixListener, UnixStream};
///
/// eddy::run(async {
///     let path = std::env::temp_dir().join(format!("eddy-doc-{}.sock", std::process::id()));
///     let listener = UnixListener::bind(&path)?;
///     let client = eddy::spawn({
///         let path = path.clone();
///         async move { UnixStream::connect(path).await?.write_all(b"hi").await }
///     });
///     let (server_side, _) = listener.accept().await?;
///     let mut buf = [0; 2];
///     eddy::io::read_exact(&mut &server_side, &mut buf).await?;
///     assert_eq!(&buf, b"hi");
///     client.await??;
///     drop(listener); // removes the socket file it created
///     assert!(!path.exists());
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UnixListener {
    io: IoSource<mio::net::UnixListener>,
    /// The file `bind` created, to remove on drop if it is still there.
    created: Option<CreatedFile>,
}

/// A socket file and the identity it had when we created it.
struct CreatedFile {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

impl UnixListener {
    /// Creates the socket file at `path` and listens on it. Must be called
    /// inside an eddy runtime.
    ///
    /// # Errors
    /// `AddrInUse` if `path` exists, e.g. `bind unix socket /run/app.sock:
    /// Address in use (os error 98); if no server is running there, it is a
    /// stale socket file: remove it`; otherwise the OS error with the path.
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        let path = path.as_ref();
        let listener =
            mio::net::UnixListener::bind(path).map_err(|error| bind_error(error, "unix socket", path))?;
        // Remember what we created; if stat fails we simply never remove it.
        let created = std::fs::symlink_metadata(path).ok().map(|meta| CreatedFile {
            path: path.to_path_buf(),
            dev: meta.dev(),
            ino: meta.ino(),
        });
        let io = IoSource::new(listener, Interest::READABLE)?;
        Ok(UnixListener { io, created })
    }

    /// Adopts a listener created elsewhere (it will not remove its file).
    pub fn from_std(listener: std::os::unix::net::UnixListener) -> io::Result<UnixListener> {
        listener.set_nonblocking(true).map_err(|e| context(e, "set unix listener non-blocking"))?;
        let io = IoSource::new(mio::net::UnixListener::from_std(listener), Interest::READABLE)?;
        Ok(UnixListener { io, created: None })
    }

    /// Waits for the next connection. The stream belongs to the current loop.
    pub async fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// Poll form of [`accept`](Self::accept).
    ///
    /// Every result, errors included, counts against the task's cooperative
    /// budget ([`crate::task::budget`]), as for `TcpListener::poll_accept`.
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(UnixStream, SocketAddr)>> {
        budget::poll_budgeted(cx, |cx| self.poll_accept_now(cx))
    }

    fn poll_accept_now(&self, cx: &mut Context<'_>) -> Poll<io::Result<(UnixStream, SocketAddr)>> {
        let accepted = std::task::ready!(self
            .io
            .poll_io(Direction::Read, cx, |listener| { listener.accept().map(|pair| (pair, false)) }));
        Poll::Ready(match accepted {
            Ok((stream, peer)) => UnixStream::from_mio(stream, None).map(|stream| (stream, peer)),
            Err(error) => Err(context(error, self.describe("accept on"))),
        })
    }

    /// The address (path) the listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    fn describe(&self, doing: &str) -> String {
        match &self.created {
            Some(file) => format!("{doing} unix socket {}", file.path.display()),
            None => format!("{doing} unix socket"),
        }
    }
}

/// The error of binding a Unix socket at `path`; on `AddrInUse`, says
/// what to do about it.
pub(crate) fn bind_error(error: io::Error, what: &str, path: &Path) -> io::Error {
    let doing = format!("bind {what} {}", path.display());
    if error.kind() == io::ErrorKind::AddrInUse {
        let message = format!(
            "{doing}: {error}; if no server is running there, it is a stale socket file: remove it \
             (eddy never removes a file it did not create)"
        );
        io::Error::new(io::ErrorKind::AddrInUse, message)
    } else {
        context(error, doing)
    }
}

impl Drop for UnixListener {
    fn drop(&mut self) {
        let Some(file) = &self.created else { return };
        match std::fs::symlink_metadata(&file.path) {
            Ok(meta) if meta.dev() == file.dev && meta.ino() == file.ino => {
                if let Err(error) = std::fs::remove_file(&file.path) {
                    log::warn!("removing unix socket {}: {error}", file.path.display());
                }
            }
            // Gone or replaced by someone else's file: not ours to remove.
            _ => log::debug!(
                "unix socket {} is no longer the file we created; left alone",
                file.path.display()
            ),
        }
    }
}

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixListener").field("path", &self.created.as_ref().map(|file| &file.path)).finish()
    }
}

/// For a second, plain handle on the same socket (`try_clone_to_owned`):
/// eddy-http drains the accept queue at shutdown with plain `accept` calls,
/// which cached readiness could otherwise hide.
impl std::os::fd::AsFd for UnixListener {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        std::os::fd::AsFd::as_fd(self.io.get_ref())
    }
}
