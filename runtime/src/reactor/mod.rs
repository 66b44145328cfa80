//! The reactor: turns OS readiness events (epoll on Linux, kqueue on BSD and
//! macOS, through `mio`) into task wakeups.
//!
//! # Platforms
//!
//! eddy runs on Unix-like systems: Linux (and Android) with epoll, macOS,
//! iOS, FreeBSD, NetBSD, OpenBSD and DragonFly with kqueue, all through
//! `mio`, which hides the difference. Windows is not supported (sockets
//! are named by file descriptor throughout). The platform-specific choices,
//! each portable by construction:
//!
//! - **Edge-triggered readiness** on every OS: mio registers with
//!   `EPOLLET` on Linux and `EV_CLEAR` on kqueue, which behave alike for
//!   the draining rule below.
//! - **The cross-thread waker** (`mio::Waker`) is an eventfd on Linux and a
//!   kqueue user event (`EVFILT_USER`) on macOS and the BSDs. Messages say
//!   "poller" and "waker", never the Linux names.
//! - **No deregistration on close** (see [`Reactor::forget`]): closing a
//!   descriptor takes it out of an epoll set, and removes its kqueue
//!   events, on every supported OS.
//! - **The listen backlog** (`TcpListener::BACKLOG`) is capped by each OS:
//!   `net.core.somaxconn` on Linux, `kern.ipc.somaxconn` on macOS (128 by
//!   default), `kern.ipc.soacceptqueue` on FreeBSD.
//!
//! Nothing in the runtime is `cfg`-gated on the OS: it uses only what mio
//! and POSIX `listen(2)` offer everywhere, and `cargo check --target
//! x86_64-apple-darwin` / `x86_64-unknown-freebsd` pass.
//!
//! Each registered socket owns an [`IoSlot`]: what the OS last said about it
//! (readable, writable, closed, error) and which task waits to read and which
//! to write. When the loop parks in [`Reactor::poll`], every event updates its
//! slot and hands the slot's waiting wakers back to the loop, which wakes
//! them once the reactor's own state is no longer borrowed.
//!
//! # Edge-triggered readiness and draining (mio's contract)
//!
//! mio registers sockets edge-triggered: the OS reports a socket once when it
//! *becomes* readable, not every time we ask. So a slot remembers readiness
//! until an operation proves it stale by returning `WouldBlock`; only then is
//! it cleared and the task parked. Clearing on anything else would lose the
//! edge and hang the task; never clearing would spin.
//!
//! One refinement, the same one tokio makes: a *short* read or write (fewer
//! bytes than asked for) also clears readiness. The kernel's buffer was
//! drained at that moment, and any byte arriving later raises a new edge, so
//! the extra `read` that would only return `WouldBlock` (a wasted syscall per
//! request in an HTTP server) is skipped.
//!
//! # Optimistic start, lazy registration
//!
//! A new socket starts out *assumed* ready, and joins epoll only the first
//! time an operation on it returns `WouldBlock` (`IoSource`). A server's
//! accepted connection usually has its request waiting already, so it is
//! read at once, without the `epoll_ctl` and the extra trip through
//! `epoll_wait` that registering first would cost; a short-lived connection
//! served without ever blocking never enters epoll at all. Registering late
//! loses nothing: adding a socket to an edge-triggered epoll set reports it
//! at once if it became ready in between. The price is one `WouldBlock` on
//! a socket that was not ready after all.
//!
//! # Write interest on demand
//!
//! A socket that first has to wait to *read* joins the poller for reads
//! only; write interest is added (`EPOLL_CTL_MOD`) the first time a write
//! has to wait, and then kept. A socket registered for writes is reported
//! writable at once, since its send buffer is empty: for a server's
//! connection that waits for its request, that event is a wasted trip
//! through `epoll_wait` (and, if nothing else is ready, a whole extra loop
//! turn), on every connection that the server accepts before its request
//! lands. Most connections never fill their send buffer, so most never pay
//! the `MOD`. A socket whose first wait is a write (a client's `connect`)
//! registers for both directions at once: it will read too.
//!
//! No wakeup is lost by adding interest late: the writer registers the
//! interest before it parks, and the `MOD` re-arms the edge, so a send
//! buffer that drained in between is reported right away. Until then a
//! writer has nothing to miss: it does not wait, because the slot keeps
//! its "writable" bit (assumed at the start) until a write proves it
//! stale, and the write that does so is the one that adds the interest.
//!
//! # Recycled slots
//!
//! A slot is a small allocation (an `Rc`, shared between the socket and the
//! reactor's table), made when a socket is created and freed when it
//! closes: a `malloc` and a `free` per connection, ~160 instructions when
//! every request opens one. So a closed socket's slot goes to a short list
//! of spares ([`SPARE_SLOTS`]), emptied of its wakers, and the next socket
//! takes it from there. A slot is reused only once nothing else holds it
//! (the closed socket drops its reference right after handing the slot
//! back), so two sockets never share one. A socket that moves to another
//! loop keeps its slot and is not recycled.
//!
//! # Why no locks
//!
//! A socket belongs to the loop that registered it (`TcpStream` is `!Send`),
//! events are dispatched only between task polls, and so slots are plain
//! `Cell`s. Spurious events (a stale token reused by a newer socket, say) are
//! harmless: they set readiness, the next operation gets `WouldBlock`, and the
//! slot is cleared again.

use std::cell::{Cell, RefCell};
use std::io;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll as MioPoll, Registry, Token};
use slab::Slab;

use crate::shared::WAKER_TOKEN;
use crate::trace::record::cause;

mod source;
pub(crate) use source::IoSource;

/// Readiness bits kept per socket.
const READABLE: u8 = 1 << 0;
const WRITABLE: u8 = 1 << 1;
const READ_CLOSED: u8 = 1 << 2;
const WRITE_CLOSED: u8 = 1 << 3;
const ERROR: u8 = 1 << 4;

/// Which half of a socket an operation waits on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    Read,
    Write,
}

impl Direction {
    /// The readiness bits that let an operation in this direction proceed
    /// (possibly only to report EOF or an error).
    #[inline]
    fn mask(self) -> u8 {
        match self {
            Direction::Read => READABLE | READ_CLOSED | ERROR,
            Direction::Write => WRITABLE | WRITE_CLOSED | ERROR,
        }
    }
}

/// Per-socket state: last known readiness and the two waiting wakers.
#[derive(Default)]
pub(crate) struct IoSlot {
    /// The socket's descriptor, for task dumps.
    pub(crate) fd: Cell<RawFd>,
    readiness: Cell<u8>,
    reader: Cell<Option<Waker>>,
    writer: Cell<Option<Waker>>,
}

impl IoSlot {
    /// Assumes the socket ready in both directions and wakes both waiters:
    /// used when a socket moves to another loop, where nothing is known
    /// about it yet and whoever waited must look again.
    pub(crate) fn assume_ready_and_wake(&self) {
        self.readiness.set(self.readiness.get() | READABLE | WRITABLE);
        for waker in [self.reader.take(), self.writer.take()].into_iter().flatten() {
            waker.wake();
        }
    }

    fn waiter(&self, direction: Direction) -> &Cell<Option<Waker>> {
        match direction {
            Direction::Read => &self.reader,
            Direction::Write => &self.writer,
        }
    }

    /// Whether `direction` may proceed as far as we know.
    #[inline]
    pub(crate) fn is_ready(&self, direction: Direction) -> bool {
        self.readiness.get() & direction.mask() != 0
    }

    /// Ready now, or remember who to wake when it is.
    pub(crate) fn poll_ready(&self, direction: Direction, cx: &mut Context<'_>) -> Poll<()> {
        if self.readiness.get() & direction.mask() != 0 {
            return Poll::Ready(());
        }
        let waiter = self.waiter(direction);
        // Keep the stored waker if it already wakes this task: no Arc clone
        // (an atomic increment) per pending poll of the same task.
        let waker = match waiter.take() {
            Some(waker) if waker.will_wake(cx.waker()) => waker,
            _ => cx.waker().clone(),
        };
        waiter.set(Some(waker));
        Poll::Pending
    }

    /// The last operation returned `WouldBlock`: forget everything this
    /// direction knew (even "closed" and "error": an operation that would
    /// block proves neither is pending) until the next edge.
    #[inline]
    pub(crate) fn clear_ready(&self, direction: Direction) {
        self.readiness.set(self.readiness.get() & !direction.mask());
    }

    /// The last operation was short: the kernel buffer is drained for now,
    /// but a close or error already reported is final and must stay, or a
    /// FIN that arrived with the last bytes would never be seen again.
    #[inline]
    pub(crate) fn clear_drained(&self, direction: Direction) {
        let drained = match direction {
            Direction::Read => READABLE,
            Direction::Write => WRITABLE,
        };
        self.readiness.set(self.readiness.get() & !drained);
    }
}

/// One loop's reactor.
pub(crate) struct Reactor {
    /// The poller (epoll or kqueue). Borrowed mutably only inside `poll`, which
    /// runs while no task is being polled.
    poll: RefCell<MioPoll>,
    /// A second handle on the same instance for (de)registration, which may
    /// happen from inside a task at any time.
    registry: Registry,
    /// Reused event buffer: one wait on the poller returns up to its capacity.
    events: RefCell<Events>,
    /// Registered sockets, indexed by their mio token.
    slots: RefCell<Slab<Rc<IoSlot>>>,
    /// Slots of closed sockets, kept for the next sockets (see "Recycled
    /// slots"): at most [`SPARE_SLOTS`].
    spare: RefCell<Vec<Rc<IoSlot>>>,
}

/// How many slots of closed sockets a reactor keeps for reuse: enough for
/// the connections a busy loop closes and opens within a few turns (every
/// connection of a closing burst up to this many skips `malloc`/`free`),
/// small enough not to matter (64 bytes each, 16 KiB in all). Picked, not
/// tuned.
const SPARE_SLOTS: usize = 256;

impl Reactor {
    pub(crate) fn new(poll: MioPoll, event_capacity: usize) -> io::Result<Reactor> {
        let registry = poll.registry().try_clone().map_err(|e| {
            io::Error::new(e.kind(), format!("cloning the event loop's poller registry: {e}"))
        })?;
        Ok(Reactor {
            poll: RefCell::new(poll),
            registry,
            events: RefCell::new(Events::with_capacity(event_capacity.max(1))),
            slots: RefCell::new(Slab::new()),
            spare: RefCell::new(Vec::new()),
        })
    }

    /// A slot for a new socket on `fd`, taken in: a spare one if there is
    /// one (see "Recycled slots"), else a new one. Returns it and its
    /// token, as [`add`](Self::add) does.
    pub(crate) fn attach(&self, fd: RawFd) -> (Rc<IoSlot>, usize) {
        // Only a slot nothing else holds is reused; one still shared (not
        // possible today, see `release`) is dropped and replaced.
        let spare = self.spare.borrow_mut().pop().filter(|slot| Rc::strong_count(slot) == 1);
        let slot = spare.unwrap_or_default();
        slot.fd.set(fd);
        let token = self.add(slot.clone());
        (slot, token)
    }

    /// Takes a socket's slot in and returns its token. The socket is not
    /// yet in the poller (see `IoSource`), and its slot is assumed ready.
    #[inline]
    pub(crate) fn add(&self, slot: Rc<IoSlot>) -> usize {
        slot.readiness.set(READABLE | WRITABLE);
        self.slots.borrow_mut().insert(slot)
    }

    /// Puts a socket into the poller (edge-triggered) under its token.
    pub(crate) fn register(&self, fd: RawFd, token: usize, interest: Interest) -> io::Result<()> {
        self.registry.register(&mut SourceFd(&fd), Token(token), interest).map_err(|error| {
            io::Error::new(
                error.kind(),
                format!("registering a socket with the event loop's poller: {error}"),
            )
        })
    }

    /// Changes the events a socket in the poller reports (`EPOLL_CTL_MOD`):
    /// used to add write interest the first time a write has to wait (see
    /// "Write interest on demand"). Re-arms the edge: a socket already
    /// ready for the new interest is reported at once, so the writer that
    /// parks right after cannot miss its wakeup.
    pub(crate) fn reregister(&self, fd: RawFd, token: usize, interest: Interest) -> io::Result<()> {
        self.registry.reregister(&mut SourceFd(&fd), Token(token), interest).map_err(|error| {
            io::Error::new(
                error.kind(),
                format!("adding write interest to a socket in the event loop's poller: {error}"),
            )
        })
    }

    /// Takes a socket that moves to another loop out of this poller. Errors
    /// are only logged: the usual one is that the poller is gone already,
    /// which takes the registration with it.
    pub(crate) fn deregister(&self, fd: RawFd) {
        if let Err(error) = self.registry.deregister(&mut SourceFd(&fd)) {
            log::debug!("taking a socket that moves to another loop out of the poller: {error}");
        }
    }

    /// Forgets a socket that is about to be closed (or moves to another
    /// loop).
    ///
    /// There is deliberately no `EPOLL_CTL_DEL`: closing a descriptor removes
    /// it from every epoll set (and kqueue) once no duplicate of it remains
    /// open, and eddy never duplicates one. That saves a syscall per
    /// connection, which counts when every request opens one. (A caller that hands eddy a socket through `from_std`
    /// while keeping a `try_clone` of it open gets, at worst, spurious wakeups
    /// for a reused token, which the reactor tolerates anyway.)
    pub(crate) fn forget(&self, token: usize) {
        let removed = self.slots.borrow_mut().try_remove(token);
        // Dropped after the borrow ends: a waker's drop may run arbitrary code.
        drop(removed);
    }

    /// Forgets a socket that is about to be closed, as [`forget`] does,
    /// and keeps its slot for the next socket (see "Recycled slots").
    /// Only for a socket that is going away for good: its `IoSource` holds
    /// the one other reference to the slot, and drops it right after.
    ///
    /// [`forget`]: Self::forget
    pub(crate) fn release(&self, token: usize) {
        let Some(slot) = self.slots.borrow_mut().try_remove(token) else {
            return;
        };
        // Emptied and dropped outside every borrow: a waker's drop may run
        // arbitrary code, even code that opens or closes sockets here.
        let waiters = (slot.reader.take(), slot.writer.take());
        drop(waiters);
        let mut spare = self.spare.borrow_mut();
        if spare.len() < SPARE_SLOTS {
            spare.push(slot);
        } else {
            drop(spare);
            drop(slot);
        }
    }

    /// How many sockets are registered (for loop statistics).
    pub(crate) fn sockets(&self) -> usize {
        self.slots.borrow().len()
    }

    /// Calls `f` with the descriptor, direction (true: read) and waker of
    /// every task waiting on a socket (for task dumps; loop thread only).
    pub(crate) fn for_each_waiter(&self, mut f: impl FnMut(RawFd, bool, &Waker)) {
        for (_, slot) in self.slots.borrow().iter() {
            for (read, waiter) in [(true, &slot.reader), (false, &slot.writer)] {
                let waker = waiter.take();
                if let Some(waker) = &waker {
                    f(slot.fd.get(), read, waker);
                }
                waiter.set(waker);
            }
        }
    }

    /// Waits for I/O events up to `timeout` (`None`: until one arrives) and
    /// collects the wakers they release into `wake`. Returns the number of
    /// events (the cross-thread wake-up included).
    ///
    /// Inlined into the loop's park, its only caller: once per real park,
    /// and its own call frame cost as much as the work for one event.
    #[inline(always)]
    pub(crate) fn poll(&self, timeout: Option<Duration>, wake: &mut Vec<(Waker, u8, u32)>) -> usize {
        let mut events = self.events.borrow_mut();
        if let Err(error) = self.poll.borrow_mut().poll(&mut events, timeout) {
            if error.kind() != io::ErrorKind::Interrupted {
                // Waiting on the poller (epoll_wait, kevent) only fails on
                // programming errors (EBADF, EINVAL): say so loudly but keep
                // the loop alive.
                log::error!("waiting on the event loop's I/O poller failed: {error}");
            }
            return 0;
        }
        let slots = self.slots.borrow();
        let mut count = 0;
        for event in events.iter() {
            count += 1;
            if event.token() == WAKER_TOKEN {
                continue; // Only there to interrupt the wait.
            }
            let Some(slot) = slots.get(event.token().0) else {
                continue; // Deregistered since the event was queued.
            };
            let mut ready = 0;
            if event.is_readable() {
                ready |= READABLE;
            }
            if event.is_writable() {
                ready |= WRITABLE;
            }
            if event.is_read_closed() {
                ready |= READ_CLOSED;
            }
            if event.is_write_closed() {
                ready |= WRITE_CLOSED;
            }
            if event.is_error() {
                ready |= ERROR;
            }
            slot.readiness.set(slot.readiness.get() | ready);
            let token = event.token().0 as u32;
            if ready & Direction::Read.mask() != 0 {
                if let Some(waker) = slot.reader.take() {
                    wake.push((waker, cause::IO_READ, token));
                }
            }
            if ready & Direction::Write.mask() != 0 {
                if let Some(waker) = slot.writer.take() {
                    wake.push((waker, cause::IO_WRITE, token));
                }
            }
        }
        count
    }
}

#[cfg(test)]
mod tests {
    use std::rc::Rc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::{Context, Wake, Waker};

    use super::{Direction, Reactor, READABLE, SPARE_SLOTS, WRITABLE};

    fn reactor() -> Reactor {
        Reactor::new(mio::Poll::new().expect("a poller"), 16).expect("a reactor")
    }

    /// A waker that counts its drops, to see a released slot let go of it.
    struct Counted(Arc<AtomicUsize>);

    impl Wake for Counted {
        fn wake(self: Arc<Self>) {}
    }

    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn a_closed_sockets_slot_is_reused_empty_and_assumed_ready_by_the_next_socket() {
        let reactor = reactor();
        let (slot, token) = reactor.attach(7);
        let dropped = Arc::new(AtomicUsize::new(0));
        let waker = Waker::from(Arc::new(Counted(dropped.clone())));
        slot.clear_ready(Direction::Read);
        assert!(slot.poll_ready(Direction::Read, &mut Context::from_waker(&waker)).is_pending());
        drop(waker);

        reactor.release(token);
        assert_eq!(dropped.load(Ordering::Relaxed), 1, "the released slot dropped its waiting waker");
        assert_eq!(reactor.sockets(), 0);
        let old = Rc::as_ptr(&slot);
        drop(slot); // What the closing socket does right after.

        let (slot, _) = reactor.attach(9);
        assert_eq!(Rc::as_ptr(&slot), old, "the spare slot was reused, not a new allocation");
        assert_eq!(slot.fd.get(), 9);
        assert_eq!(slot.readiness.get(), READABLE | WRITABLE, "assumed ready, like a new one");
        assert!(slot.reader.take().is_none() && slot.writer.take().is_none());
        assert_eq!(reactor.sockets(), 1);
    }

    #[test]
    fn a_slot_still_held_elsewhere_is_never_handed_to_a_new_socket() {
        let reactor = reactor();
        let (slot, token) = reactor.attach(7);
        reactor.release(token);
        // `slot` is still alive (as if its socket had kept it).
        let (other, _) = reactor.attach(8);
        assert!(!Rc::ptr_eq(&slot, &other), "two live sockets share a slot");
        assert_eq!(slot.fd.get(), 7, "the held slot was not touched");
    }

    #[test]
    fn at_most_spare_slots_are_kept() {
        let reactor = reactor();
        let attached: Vec<_> = (0..SPARE_SLOTS + 10).map(|fd| reactor.attach(fd as i32).1).collect();
        for token in attached {
            reactor.release(token);
        }
        assert_eq!(reactor.spare.borrow().len(), SPARE_SLOTS);
    }
}
