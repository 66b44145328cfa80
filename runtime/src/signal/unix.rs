//! Unix signals as streams of deliveries: `signal(SignalKind::terminate())`.
//! asyncio's `loop.add_signal_handler`, as something you await.
//!
//! # How it maps onto the reactor
//!
//! Each [`Signal`] registers, in its own loop's reactor, a duplicate of
//! its signal's process-wide self-pipe, which the handler writes a byte to
//! (see `registry.rs` for the handler and why it is safe). When its
//! duplicate turns readable, the listener drains the pipe until
//! `WouldBlock` (which clears readiness and re-arms the edge), then wakes
//! every other waiting listener, on any loop, whose signal came. Each
//! listener keeps the number of deliveries it has reported and compares it
//! with the process-wide count for its signal, so no delivery is lost
//! between two awaits and every listener sees every delivery.
//!
//! `recv` is cancel-safe: a delivery is taken only in the poll that
//! returns it. Dropping a [`Signal`] removes it from the waiters and its
//! pipe duplicate from the reactor; other listeners are unaffected.
//!
//! The kernel itself merges deliveries of one signal that arrive while it
//! is still pending (before the handler ran): two `kill`s in quick
//! succession may count as one. What the handler ran for is never lost.
//!
//! Once a signal has a listener, eddy's handler stays installed for the
//! life of the process: the signal's default action (say, SIGINT ending
//! the program) no longer happens, even after the listener drops. A
//! program that wants the default back exits itself when it sees the
//! signal.

use std::fmt;
use std::future::poll_fn;
use std::io::{self, Read};
use std::pin::Pin;
use std::task::{Context, Poll};

use mio::Interest;

use super::registry;
use crate::reactor::{Direction, IoSource};

/// Which signal to listen for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SignalKind(libc::c_int);

impl SignalKind {
    /// A signal by number, e.g. a real-time one.
    pub const fn from_raw(signum: libc::c_int) -> SignalKind {
        SignalKind(signum)
    }

    /// The signal's number.
    pub const fn as_raw_value(self) -> libc::c_int {
        self.0
    }

    /// `SIGINT`: Ctrl-C in a terminal.
    pub const fn interrupt() -> SignalKind {
        SignalKind(libc::SIGINT)
    }

    /// `SIGTERM`: a polite request to stop (what `kill` and service
    /// managers send).
    pub const fn terminate() -> SignalKind {
        SignalKind(libc::SIGTERM)
    }

    /// `SIGHUP`: the terminal went away; by convention, "reload".
    pub const fn hangup() -> SignalKind {
        SignalKind(libc::SIGHUP)
    }

    /// `SIGQUIT`: Ctrl-\ in a terminal.
    pub const fn quit() -> SignalKind {
        SignalKind(libc::SIGQUIT)
    }

    /// `SIGCHLD`: a child process exited or stopped.
    pub const fn child() -> SignalKind {
        SignalKind(libc::SIGCHLD)
    }

    /// `SIGUSR1`.
    pub const fn user_defined1() -> SignalKind {
        SignalKind(libc::SIGUSR1)
    }

    /// `SIGUSR2`.
    pub const fn user_defined2() -> SignalKind {
        SignalKind(libc::SIGUSR2)
    }

    /// `SIGWINCH`: the terminal was resized.
    pub const fn window_change() -> SignalKind {
        SignalKind(libc::SIGWINCH)
    }

    /// `SIGALRM`.
    pub const fn alarm() -> SignalKind {
        SignalKind(libc::SIGALRM)
    }

    /// `SIGPIPE`: a write to a closed pipe or socket (Rust programs ignore
    /// it by default and get `EPIPE` instead).
    pub const fn pipe() -> SignalKind {
        SignalKind(libc::SIGPIPE)
    }
}

/// Starts listening for `kind`. Deliveries from now on are counted for the
/// returned listener; it yields one item per delivery.
///
/// ```
/// use eddy::signal::unix::{signal, SignalKind};
///
/// eddy::run(async {
///     let mut usr1 = signal(SignalKind::user_defined1())?;
///     // SAFETY: raise only sends a signal to this thread.
///     unsafe { libc::raise(libc::SIGUSR1) };
///     usr1.recv().await;
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Errors
/// `InvalidInput` for a signal that cannot be handled (`SIGKILL`,
/// `SIGSTOP`, `SIGSEGV`, ...) or a number out of range; an OS error if the
/// handler or the pipe cannot be set up. Must be called inside an eddy
/// runtime.
pub fn signal(kind: SignalKind) -> io::Result<Signal> {
    let (seen, pipe) = registry::install(kind.0)?;
    let pipe = IoSource::new(pipe, Interest::READABLE)?;
    Ok(Signal { kind, seen, pipe, waiter: None })
}

/// A stream of deliveries of one signal, from [`signal`]. Also a
/// `futures_core::Stream<Item = ()>`.
pub struct Signal {
    kind: SignalKind,
    /// Deliveries already reported to the user.
    seen: u64,
    /// This listener's duplicate of the self-pipe, in its loop's reactor.
    pipe: IoSource<mio::unix::pipe::Receiver>,
    /// This listener's key in the process-wide list of waiters.
    waiter: Option<usize>,
}

impl Signal {
    /// Waits for the next delivery. Never returns `None` (the type matches
    /// tokio's, whose streams can end).
    pub async fn recv(&mut self) -> Option<()> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Poll form of [`recv`](Self::recv). Charges the task's cooperative
    /// budget on `Ready`; with the budget spent it wakes the task and
    /// returns `Pending` before taking a delivery.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<()>> {
        crate::task::poll_budgeted(cx, |cx| self.poll_recv_now(cx))
    }

    /// The receive itself; [`poll_recv`](Self::poll_recv) adds the budget.
    fn poll_recv_now(&mut self, cx: &mut Context<'_>) -> Poll<Option<()>> {
        if self.take_delivery() {
            return Poll::Ready(Some(()));
        }
        // Register first, check last: a delivery in between is not lost.
        registry::set_waiter(&mut self.waiter, self.kind.0, self.seen, cx.waker());
        if self.drain_pipe(cx) {
            registry::wake_all();
        }
        if self.take_delivery() {
            return Poll::Ready(Some(()));
        }
        Poll::Pending
    }

    /// The signal this listens for.
    pub fn kind(&self) -> SignalKind {
        self.kind
    }

    fn take_delivery(&mut self) -> bool {
        if registry::count(self.kind.0) > self.seen {
            self.seen += 1;
            true
        } else {
            false
        }
    }

    /// Reads the pipe until it would block (which re-arms its edge and
    /// parks this task on it). Returns whether any byte was there.
    fn drain_pipe(&self, cx: &mut Context<'_>) -> bool {
        let mut drained = false;
        let mut bytes = [0u8; 64];
        loop {
            match self.pipe.poll_io(Direction::Read, cx, |mut pipe| pipe.read(&mut bytes).map(|n| (n, false)))
            {
                Poll::Ready(Ok(n)) if n > 0 => drained = true,
                Poll::Ready(Ok(_)) => return drained, // never: the write end stays open
                Poll::Ready(Err(error)) => {
                    log::error!("reading the signal self-pipe: {error}");
                    return drained;
                }
                Poll::Pending => return drained,
            }
        }
    }
}

impl futures_core::Stream for Signal {
    type Item = ();

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<()>> {
        self.get_mut().poll_recv(cx)
    }
}

impl Drop for Signal {
    fn drop(&mut self) {
        registry::remove_waiter(self.waiter.take());
    }
}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signal").field("kind", &self.kind).field("seen", &self.seen).finish()
    }
}
