//! The process-wide half of signal handling: the handler, the per-signal
//! delivery counters, one self-pipe per signal, and the list of listeners
//! to wake.
//!
//! ```text
//!   signal ──▶ handler: COUNTS[sig] += 1; write(PIPES[sig], 1 byte)
//!                                              │ (edge on every dup of its read end)
//!   each listener of sig has a dup in its own loop's reactor ──▶ the one
//!   that drains the pipe wakes every waiting listener (any loop) whose
//!   COUNTS[sig] has passed the count that listener already reported
//! ```
//!
//! The handler is async-signal-safe: an atomic add and a `write(2)`, on a
//! pipe that is created once per signal and never closed (so its
//! descriptor can never be reused for something else while a handler
//! writes to it). A pipe per signal, so that a burst of SIGCHLDs (one per
//! child exit) does not wake the SIGINT listeners too. Handlers
//! are installed through `signal-hook-registry` (what tokio uses), which
//! chains to any handler installed before and is safe against concurrent
//! installation.
//!
//! Why the broadcast: with one pipe read by many epoll instances, the
//! first listener to drain it can make the kernel drop the edge another
//! loop had queued (epoll re-checks readiness before reporting). So the
//! one that drains wakes everyone, through plain `Send` wakers.

use std::collections::hash_map::{Entry, HashMap};
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::task::Waker;

use slab::Slab;

use crate::debug::holders::{held, Kind, Resource};

/// Signal numbers below this can be listened to: every standard and
/// real-time signal on Linux (1..=64) and the BSDs (1..=32).
pub(crate) const MAX_SIGNAL: usize = 65;

/// Deliveries of each signal since the process started listening to it.
static COUNTS: [AtomicU64; MAX_SIGNAL] = [const { AtomicU64::new(0) }; MAX_SIGNAL];

/// Each signal's self-pipe write end, for the handler (-1 until created).
static WRITE_FDS: [AtomicI32; MAX_SIGNAL] = [const { AtomicI32::new(-1) }; MAX_SIGNAL];

/// A signal's self-pipe. Kept open forever: see the module docs.
struct SelfPipe {
    _sender: mio::unix::pipe::Sender,
    /// Each listener listens on a duplicate of this.
    receiver: mio::unix::pipe::Receiver,
}

struct Globals {
    /// The pipes of the signals whose handler is installed.
    installed: Mutex<HashMap<i32, SelfPipe>>,
    /// Listeners waiting for a delivery, from any loop.
    waiters: Mutex<Slab<Waiter>>,
}

/// A listener waiting for its signal's count to pass `seen`.
struct Waiter {
    signal: i32,
    seen: u64,
    waker: Waker,
}

static GLOBALS: OnceLock<Globals> = OnceLock::new();

fn globals() -> &'static Globals {
    GLOBALS
        .get_or_init(|| Globals { installed: Mutex::new(HashMap::new()), waiters: Mutex::new(Slab::new()) })
}

/// The signal handler's action. Runs in signal context: only
/// async-signal-safe operations.
fn on_signal(signal: usize) {
    COUNTS[signal].fetch_add(1, Ordering::SeqCst);
    let fd = WRITE_FDS[signal].load(Ordering::SeqCst);
    let byte = 1u8;
    // SAFETY: `write` is async-signal-safe and reads one byte from a live
    // local. The pipe is never closed; when it is full (EAGAIN) a wakeup is
    // already pending, so the result can be ignored. errno is saved and
    // restored by signal-hook-registry around this action.
    unsafe { libc::write(fd, (&byte as *const u8).cast(), 1) };
}

/// Makes sure `signal` is handled; returns its current delivery count and
/// a new descriptor on its self-pipe's read end, for one listener.
pub(crate) fn install(signal: i32) -> io::Result<(u64, mio::unix::pipe::Receiver)> {
    let index =
        usize::try_from(signal).ok().filter(|&index| index > 0 && index < MAX_SIGNAL).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("listen for signal {signal}: not a signal number"),
            )
        })?;
    if signal_hook_registry::FORBIDDEN.contains(&signal) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "listen for signal {signal}: this signal cannot be handled (SIGKILL, SIGSTOP, or a fault)"
            ),
        ));
    }
    let mut installed = globals().installed.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let pipe = match installed.entry(signal) {
        Entry::Occupied(entry) => entry.into_mut(),
        Entry::Vacant(entry) => {
            let (sender, receiver) = mio::unix::pipe::new().map_err(|error| {
                io::Error::new(error.kind(), format!("create the self-pipe for signal {signal}: {error}"))
            })?;
            // Published before the handler exists, so it never sees -1.
            WRITE_FDS[index].store(sender.as_raw_fd(), Ordering::SeqCst);
            // SAFETY: the action (`on_signal`) only does an atomic add and a
            // write(2), both async-signal-safe.
            unsafe { signal_hook_registry::register(signal, move || on_signal(index)) }.map_err(|error| {
                io::Error::new(error.kind(), format!("install a handler for signal {signal}: {error}"))
            })?;
            entry.insert(SelfPipe { _sender: sender, receiver })
        }
    };
    // Counted before the listener exists: it reports only later deliveries.
    let seen = COUNTS[index].load(Ordering::SeqCst);
    let fd: OwnedFd = pipe.receiver.as_fd().try_clone_to_owned().map_err(|error| {
        io::Error::new(error.kind(), format!("duplicate the self-pipe of signal {signal}: {error}"))
    })?;
    Ok((seen, mio::unix::pipe::Receiver::from(fd)))
}

/// Deliveries of `signal` so far (0 for a number out of range).
pub(crate) fn count(signal: i32) -> u64 {
    usize::try_from(signal)
        .ok()
        .and_then(|index| COUNTS.get(index))
        .map_or(0, |count| count.load(Ordering::SeqCst))
}

/// Stores (or updates, under `key`) a waker to be called once `signal`
/// has been delivered more than `seen` times.
pub(crate) fn set_waiter(key: &mut Option<usize>, signal: i32, seen: u64, waker: &Waker) {
    let held = held(waker, Resource::At(Kind::Signal, signal as usize));
    let waker: &Waker = &held;
    let mut waiters = globals().waiters.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    match key.and_then(|key| waiters.get_mut(key)) {
        Some(stored) => {
            stored.seen = seen;
            if !stored.waker.will_wake(waker) {
                stored.waker = waker.clone();
            }
        }
        None => *key = Some(waiters.insert(Waiter { signal, seen, waker: waker.clone() })),
    }
}

/// Forgets a waiter (a listener dropped).
pub(crate) fn remove_waiter(key: Option<usize>) {
    let Some(key) = key else { return };
    let removed = globals().waiters.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).try_remove(key);
    drop(removed); // outside the lock: a waker's drop may run arbitrary code
}

/// Wakes every waiting listener whose signal was delivered since it last
/// looked (they stay registered: each updates or removes itself when polled
/// or dropped).
pub(crate) fn wake_all() {
    let wakers: Vec<Waker> = globals()
        .waiters
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .iter()
        .filter(|(_, waiter)| count(waiter.signal) > waiter.seen)
        .map(|(_, waiter)| waiter.waker.clone())
        .collect();
    // Woken outside the lock: a wake may re-enter (a same-loop listener).
    for waker in wakers {
        waker.wake();
    }
}
