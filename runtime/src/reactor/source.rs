//! `IoSource`: a mio socket attached to the current loop's reactor, and the
//! one loop that every socket operation goes through ("try it; on
//! `WouldBlock`, clear readiness and wait for the next edge").

use std::cell::Cell;
use std::io;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::task::{Context, Poll};

use mio::Interest;

use super::{Direction, IoSlot, Reactor};

/// A socket attached to the loop's reactor. It joins epoll lazily, the
/// first time it has to wait (see "Optimistic start, lazy registration" in
/// the reactor docs), and leaves the reactor when dropped. `!Send`: it
/// belongs to the loop whose reactor it is attached to.
pub(crate) struct IoSource<S: AsRawFd> {
    io: S,
    token: usize,
    slot: Rc<IoSlot>,
    reactor: Rc<Reactor>,
    interest: Interest,
    /// Whether the socket is in epoll yet.
    registered: Cell<bool>,
}

impl<S: AsRawFd> IoSource<S> {
    /// Attaches `io` to the current loop, for `interest`.
    pub(crate) fn new(io: S, interest: Interest) -> io::Result<IoSource<S>> {
        let reactor = crate::context::with_core(|core| core.reactor().clone()).ok_or_else(|| {
            io::Error::other("eddy sockets must be created inside an eddy runtime (eddy::run or block_on)")
        })?;
        let (token, slot) = reactor.add();
        Ok(IoSource { io, token, slot, reactor, interest, registered: Cell::new(false) })
    }

    /// The mio socket, for operations that cannot block (addresses, options).
    pub(crate) fn get_ref(&self) -> &S {
        &self.io
    }

    /// Ready if `direction` may proceed; otherwise makes sure the socket is
    /// in epoll and remembers who to wake.
    pub(crate) fn poll_ready(&self, direction: Direction, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.slot.is_ready(direction) {
            return Poll::Ready(Ok(()));
        }
        if !self.registered.get() {
            self.reactor.register(self.io.as_raw_fd(), self.token, self.interest)?;
            self.registered.set(true);
        }
        self.slot.poll_ready(direction, cx).map(Ok)
    }

    /// Forgets `direction`'s readiness until the next edge.
    pub(crate) fn clear_ready(&self, direction: Direction) {
        self.slot.clear_ready(direction);
    }

    /// Runs the non-blocking operation `op` once readiness allows, parking
    /// the task on `WouldBlock`. `op` returns its value and whether it
    /// proved the socket drained (a short read or write; see the reactor
    /// docs), in which case readiness is cleared without the extra syscall
    /// that would only return `WouldBlock`.
    pub(crate) fn poll_io<R>(
        &self,
        direction: Direction,
        cx: &mut Context<'_>,
        mut op: impl FnMut(&S) -> io::Result<(R, bool)>,
    ) -> Poll<io::Result<R>> {
        loop {
            std::task::ready!(self.poll_ready(direction, cx))?;
            match op(&self.io) {
                Ok((value, drained)) => {
                    if drained {
                        self.slot.clear_drained(direction);
                    }
                    return Poll::Ready(Ok(value));
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    self.slot.clear_ready(direction);
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Poll::Ready(Err(error)),
            }
        }
    }

    /// Tries `op` once without waiting: `WouldBlock` if not ready.
    pub(crate) fn try_io<R>(
        &self,
        direction: Direction,
        op: impl FnOnce(&S) -> io::Result<R>,
    ) -> io::Result<R> {
        if !self.slot.is_ready(direction) {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let result = op(&self.io);
        if matches!(&result, Err(e) if e.kind() == io::ErrorKind::WouldBlock) {
            self.slot.clear_ready(direction);
        }
        result
    }
}

impl<S: AsRawFd> Drop for IoSource<S> {
    fn drop(&mut self) {
        // The socket itself closes right after, as the `io` field drops:
        // that is what takes it out of epoll (see `Reactor::forget`).
        self.reactor.forget(self.token);
    }
}
