//! `IoSource`: a mio socket attached to a loop's reactor, and the one loop
//! that every socket operation goes through ("try it; on `WouldBlock`,
//! clear readiness and wait for the next edge").
//!
//! # A socket follows the loop that waits on it
//!
//! A socket is attached to the loop that was current when it was created.
//! Only a loop that is running can wake a task, so before a task parks on
//! a socket, the socket checks that it is attached to the loop running the
//! task; if not (its runtime was dropped, or it is used from `block_on` of
//! another runtime on the same thread), it *moves*: it leaves its old
//! reactor (taking itself out of that loop's poller, and waking whoever
//! waited on it there so no wakeup is lost), joins the current loop's
//! reactor as a fresh socket assumed ready, and carries on. That is what
//! [`TcpStream::from_std`](crate::net::TcpStream::from_std) does for a
//! socket made outside eddy, done lazily. The check costs a thread-local
//! read and a pointer comparison, and only on the path that is about to
//! park anyway; an operation that does not block never makes it.
//!
//! With no eddy loop running on the thread at all (a socket polled by
//! another executor), nothing could ever wake the task, so the operation
//! fails at once with an error that says so instead of hanging.

use std::cell::{Cell, RefCell};
use std::io;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::task::{Context, Poll};

use mio::Interest;

use super::{Direction, IoSlot, Reactor};

/// A socket attached to a loop's reactor. It joins the poller lazily, the
/// first time it has to wait (see "Optimistic start, lazy registration" in
/// the reactor docs), moves to another loop if it has to wait there (see
/// the module docs), and leaves its reactor when dropped. `!Send`: a
/// socket stays on the thread that created it.
pub(crate) struct IoSource<S: AsRawFd> {
    io: S,
    /// Readiness and waiters. The same slot travels with the socket when it
    /// moves to another loop, so the hot path never looks anything up.
    slot: Rc<IoSlot>,
    /// The reactor the socket is attached to; replaced only when it moves.
    reactor: RefCell<Rc<Reactor>>,
    /// The socket's key in that reactor (its slab index and poller token).
    token: Cell<usize>,
    /// Everything the socket can wait for: what a wait to write registers
    /// (see "Write interest on demand" in the reactor docs).
    interest: Interest,
    /// Which directions the socket is in that reactor's poller for
    /// ([`direction_bit`]s; 0: not in the poller yet).
    registered: Cell<u8>,
}

/// `IoSource::registered`'s bit for each direction.
#[inline]
fn direction_bit(direction: Direction) -> u8 {
    match direction {
        Direction::Read => 1,
        Direction::Write => 2,
    }
}

/// The events to ask the poller for when a wait in `direction` finds the
/// socket's registration lacking (`registered` bits), for a socket that can
/// wait for `all`. A wait to read asks for reads alone (a server's
/// connection waiting for its request must not be told its empty send
/// buffer is writable); a wait to write asks for everything, reads
/// included, since a socket that writes first (a client's `connect`)
/// reads next, and one `EPOLL_CTL_ADD` beats an `ADD` and a `MOD`.
fn wanted_interest(registered: u8, direction: Direction, all: Interest) -> Interest {
    match direction {
        Direction::Write => all.add(Interest::WRITABLE),
        Direction::Read if registered & direction_bit(Direction::Write) != 0 => all.add(Interest::READABLE),
        Direction::Read => Interest::READABLE,
    }
}

/// Which `registered` bits an interest stands for.
fn interest_bits(interest: Interest) -> u8 {
    let mut bits = 0;
    if interest.is_readable() {
        bits |= direction_bit(Direction::Read);
    }
    if interest.is_writable() {
        bits |= direction_bit(Direction::Write);
    }
    bits
}

impl<S: AsRawFd> IoSource<S> {
    /// Attaches `io` to the current loop, for `interest`.
    pub(crate) fn new(io: S, interest: Interest) -> io::Result<IoSource<S>> {
        let reactor = crate::context::with_core(|core| core.reactor().clone()).ok_or_else(|| {
            io::Error::other("eddy sockets must be created inside an eddy runtime (eddy::run or block_on)")
        })?;
        let (slot, token) = reactor.attach(io.as_raw_fd());
        Ok(IoSource {
            io,
            slot,
            reactor: RefCell::new(reactor),
            token: Cell::new(token),
            interest,
            registered: Cell::new(0),
        })
    }

    /// The mio socket, for operations that cannot block (addresses, options).
    pub(crate) fn get_ref(&self) -> &S {
        &self.io
    }

    /// Ready if `direction` may proceed; otherwise makes sure the socket is
    /// attached to the running loop and in its poller, and remembers who to
    /// wake.
    ///
    /// Inlined down to the readiness test; everything else is the path
    /// that is about to park anyway, kept out of line so the hot path of
    /// every read and write does not pay its stack frame (callgrind: ~50
    /// instructions of prologue and epilogue per keep-alive request).
    #[inline]
    pub(crate) fn poll_ready(&self, direction: Direction, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.slot.is_ready(direction) {
            return Poll::Ready(Ok(()));
        }
        self.poll_not_ready(direction, cx)
    }

    /// [`poll_ready`](Self::poll_ready) when the slot says not ready: the
    /// common case, a registered socket on the running loop, just stores
    /// the waker. Moving to another loop and registering are out of line
    /// again, so this frame stays small (~7 instructions of prologue and
    /// epilogue per call fewer, callgrind, keep-alive).
    #[inline(never)]
    fn poll_not_ready(&self, direction: Direction, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let at_home = crate::context::with_loop(|core| Rc::ptr_eq(core.reactor(), &self.reactor.borrow()));
        if at_home != Some(true) || self.registered.get() & direction_bit(direction) == 0 {
            return self.poll_not_ready_attach(direction, cx);
        }
        self.slot.poll_ready(direction, cx).map(Ok)
    }

    /// [`poll_not_ready`](Self::poll_not_ready) for a socket not (yet) in
    /// the running loop's poller for `direction`: follows the loop,
    /// registers (or adds the interest), then waits. The interest is in the
    /// poller before the waker is stored and the task parks, and adding it
    /// reports a socket that is ready already, so no edge is missed.
    #[cold]
    #[inline(never)]
    fn poll_not_ready_attach(&self, direction: Direction, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.follow_running_loop()? {
            // Moved: assumed ready on the new loop, so try the operation.
            return Poll::Ready(Ok(()));
        }
        let registered = self.registered.get();
        if registered & direction_bit(direction) == 0 {
            let interest = wanted_interest(registered, direction, self.interest);
            let reactor = self.reactor.borrow();
            if registered == 0 {
                reactor.register(self.io.as_raw_fd(), self.token.get(), interest)?;
            } else {
                reactor.reregister(self.io.as_raw_fd(), self.token.get(), interest)?;
            }
            self.registered.set(interest_bits(interest));
        }
        self.slot.poll_ready(direction, cx).map(Ok)
    }

    /// Moves the socket to the loop running on this thread if it is not
    /// attached to it already (see the module docs). Returns whether it
    /// moved.
    #[inline]
    fn follow_running_loop(&self) -> io::Result<bool> {
        let running = crate::context::with_loop(|core| {
            (!Rc::ptr_eq(core.reactor(), &self.reactor.borrow())).then(|| core.reactor().clone())
        });
        let new = match running {
            None => return Err(no_running_loop()),
            Some(None) => return Ok(false),
            Some(Some(new)) => new,
        };
        let old = self.reactor.replace(new.clone());
        if self.registered.replace(0) != 0 {
            // Best effort: if the old poller is already gone, so is the
            // registration.
            old.deregister(self.io.as_raw_fd());
        }
        old.forget(self.token.get());
        drop(old);
        self.token.set(new.add(self.slot.clone()));
        // Whoever waited on the old loop re-polls and finds out for itself.
        self.slot.assume_ready_and_wake();
        log::debug!("a socket moved to the event loop running on this thread (its own loop is not running)");
        Ok(true)
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

    /// Reads into `buf` once the source is readable. A short read (fewer
    /// bytes than asked, but not EOF) proves the kernel buffer drained, so
    /// readiness is cleared without the extra `read` that would only say
    /// `WouldBlock`. The one place this draining rule is written for byte
    /// streams (TCP, Unix, pipes).
    pub(crate) fn poll_read(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>>
    where
        for<'a> &'a S: io::Read,
    {
        let wanted = buf.len();
        self.poll_io(Direction::Read, cx, |mut stream| {
            let n = io::Read::read(&mut stream, buf)?;
            Ok((n, n > 0 && n < wanted))
        })
    }

    /// Writes some of `buf` once the source is writable; a short write
    /// proves the send buffer full and clears readiness (as for reads).
    pub(crate) fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>>
    where
        for<'a> &'a S: io::Write,
    {
        self.poll_io(Direction::Write, cx, |mut stream| {
            let n = io::Write::write(&mut stream, buf)?;
            Ok((n, n < buf.len()))
        })
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

/// The error for a socket that would have to wait with no eddy loop running
/// on this thread.
fn no_running_loop() -> io::Error {
    io::Error::other(
        "an eddy socket had to wait outside any eddy runtime (polled by another executor, or after its \
         runtime was dropped): no event loop is running on this thread to wake the task; use the socket \
         inside eddy::run or Runtime::block_on",
    )
}

impl<S: AsRawFd> Drop for IoSource<S> {
    fn drop(&mut self) {
        // The socket itself closes right after, as the `io` field drops:
        // that is what takes it out of the poller (see `Reactor::forget`).
        // The slot goes back to the reactor for the next socket: this
        // source's own reference to it drops right after, with the field.
        self.reactor.borrow().release(self.token.get());
    }
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;
    use std::io;
    use std::task::Poll;

    use mio::Interest;

    use super::{direction_bit, wanted_interest, Direction, IoSource};

    const READ: u8 = 1;
    const WRITE: u8 = 2;

    #[test]
    fn the_direction_bits_are_the_ones_the_tests_name() {
        assert_eq!(direction_bit(Direction::Read), READ);
        assert_eq!(direction_bit(Direction::Write), WRITE);
    }

    #[test]
    fn a_wait_to_read_asks_for_reads_alone_and_a_wait_to_write_for_everything() {
        let both = Interest::READABLE | Interest::WRITABLE;
        assert_eq!(wanted_interest(0, Direction::Read, both), Interest::READABLE);
        assert_eq!(wanted_interest(0, Direction::Write, both), both);
        assert_eq!(wanted_interest(READ, Direction::Write, both), both);
        // A write-only pipe never asks for reads it cannot do.
        assert_eq!(wanted_interest(0, Direction::Write, Interest::WRITABLE), Interest::WRITABLE);
    }

    /// The socket's registration as each wait finds it: nothing before
    /// any wait, reads alone after a read waited, both once a write did.
    #[test]
    fn a_connection_joins_the_poller_for_reads_and_adds_writes_only_when_a_write_waits() {
        crate::run(async {
            let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
            let _client = std::net::TcpStream::connect(listener.local_addr()?)?;
            let (accepted, _) = listener.accept()?;
            accepted.set_nonblocking(true)?;
            let source = IoSource::new(
                mio::net::TcpStream::from_std(accepted),
                Interest::READABLE | Interest::WRITABLE,
            )?;
            assert_eq!(source.registered.get(), 0, "not in the poller before it waits");

            let mut buf = [0; 16];
            let read = poll_fn(|cx| Poll::Ready(source.poll_read(cx, &mut buf))).await;
            assert!(read.is_pending(), "nothing was sent: the read waits");
            assert_eq!(source.registered.get(), READ, "a wait to read registers reads alone");

            let chunk = [0; 64 * 1024];
            let wrote = poll_fn(|cx| {
                Poll::Ready(loop {
                    match source.poll_write(cx, &chunk) {
                        Poll::Ready(Ok(_)) => continue,
                        other => break other,
                    }
                })
            })
            .await;
            assert!(wrote.is_pending(), "the client never reads: the writes end up waiting");
            assert_eq!(source.registered.get(), READ | WRITE, "a wait to write adds write interest");
            Ok::<_, io::Error>(())
        })
        .unwrap();
    }
}
