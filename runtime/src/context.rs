//! The thread-local "current event loop".
//!
//! `eddy::spawn`, `time::sleep` and `net::TcpStream::connect` take no runtime
//! argument: like asyncio's `get_running_loop()`, they find the loop that is
//! running on this thread. [`enter`] installs a loop for the duration of
//! `block_on` (or a worker thread's life); [`with_core`] looks it up.
//!
//! Only one loop can *run* on a thread at a time: running `block_on` from
//! inside a task would freeze the outer loop, so it is refused with a panic
//! that says so (a programming error, like tokio's).
//!
//! # Guards restore, they never clear
//!
//! Every [`EnterGuard`] remembers what was current when it was made and puts
//! exactly that back when it drops, whether the scope ends normally or by a
//! panic unwinding through it. So whatever happens inside a task — a nested
//! runtime built and dropped (its shutdown briefly makes its own loop
//! current, see [`enter_for_shutdown`]), a nested `block_on` refused with a
//! panic — the outer loop is current again afterwards, and `spawn`, `sleep`
//! and sockets keep working there.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use crate::event_loop::Core;

thread_local! {
    static CURRENT: RefCell<Option<Rc<Core>>> = const { RefCell::new(None) };
    /// The `Core` in `CURRENT`, as a plain pointer (null when there is
    /// none), for [`with_loop`]: one thread-local load instead of a
    /// `RefCell` borrow and the check that a thread-local with a destructor
    /// is still alive (~10 instructions, several times per request on a
    /// server's hot path: the clock, timers, wakes). Set and cleared
    /// together with `CURRENT`.
    static CURRENT_CORE: Cell<*const Core> = const { Cell::new(std::ptr::null()) };
}

/// Puts back the loop that was current before it was made, when dropped.
pub(crate) struct EnterGuard {
    /// What was current before this guard (usually `None`; the outer loop
    /// when a nested runtime shuts down inside one of its tasks).
    previous: Option<Rc<Core>>,
    _not_send: std::marker::PhantomData<Rc<()>>,
}

/// Makes `core` this thread's current loop until the guard drops.
///
/// # Panics
/// If a loop is already current on this thread (`block_on` inside a task).
/// Nothing has changed then: the outer loop is still current.
pub(crate) fn enter(core: Rc<Core>) -> EnterGuard {
    let running = CURRENT.with(|current| current.borrow().is_some());
    assert!(
        !running,
        "cannot start an eddy event loop from inside another one on the same thread \
         (block_on called from within a task?); spawn the future instead"
    );
    swap_in(core)
}

/// Makes `core` current even if another loop is, so that a runtime being
/// dropped (possibly inside a task of another runtime) drops its tasks with
/// its own loop current: their destructors cancel *its* timers and forget
/// *its* sockets. The outer loop comes back when the guard drops. Never
/// panics, so destructors may use it.
pub(crate) fn enter_for_shutdown(core: Rc<Core>) -> EnterGuard {
    swap_in(core)
}

fn swap_in(core: Rc<Core>) -> EnterGuard {
    CURRENT_CORE.with(|current| current.set(Rc::as_ptr(&core)));
    let previous = CURRENT.with(|current| current.borrow_mut().replace(core));
    EnterGuard { previous, _not_send: std::marker::PhantomData }
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        // Swap first, drop after: dropping the Rc<Core> may run destructors
        // that look the current loop up again.
        let previous = self.previous.take();
        CURRENT_CORE.with(|current| current.set(previous.as_ref().map_or(std::ptr::null(), Rc::as_ptr)));
        let ours = CURRENT.with(|current| std::mem::replace(&mut *current.borrow_mut(), previous));
        drop(ours);
    }
}

/// Runs `f` with this thread's current loop, or returns `None` outside one.
pub(crate) fn with_core<R>(f: impl FnOnce(&Rc<Core>) -> R) -> Option<R> {
    CURRENT.with(|current| current.borrow().as_ref().map(f))
}

/// [`with_core`] for the hot paths that need only a `&Core` (the clock,
/// timers, the wake of a task on its own loop): one thread-local load.
#[inline(always)]
pub(crate) fn with_loop<R>(f: impl FnOnce(&Core) -> R) -> Option<R> {
    let core = CURRENT_CORE.with(Cell::get);
    if core.is_null() {
        return None;
    }
    // SAFETY: `CURRENT_CORE` is non-null only while `CURRENT` holds an
    // `Rc` of that very core (both are set in `swap_in` and restored in
    // `EnterGuard::drop`, on this thread). `CURRENT` gives its `Rc` up
    // only to the guard that replaces it (`previous`), which keeps it
    // alive until it puts it back, so the core outlives `f` even if `f`
    // (a waker's clone, say) enters or drops another runtime meanwhile.
    // Only `&Core` is handed out, and `Core` is used through shared
    // references only (its state sits in `Cell`s and `RefCell`s).
    Some(f(unsafe { &*core }))
}

/// Like [`with_core`], for the public functions that only make sense inside a
/// runtime (`spawn`, `sleep`, ...): panics with a message naming `what`.
#[track_caller]
pub(crate) fn expect_core<R>(what: &str, f: impl FnOnce(&Rc<Core>) -> R) -> R {
    match CURRENT.with(|current| current.borrow().clone()) {
        Some(core) => f(&core),
        None => panic!(
            "{what} must be called from inside an eddy runtime \
             (eddy::run, Runtime::block_on, or a task they spawned)"
        ),
    }
}

thread_local! {
    /// Random numbers for threads and loops without a seed: splitmix64
    /// started from std's per-process random hash keys (cheap, and different
    /// in every run), one generator per thread, so one per loop.
    static UNSEEDED: RefCell<crate::util::Shuffler> = RefCell::new(crate::util::Shuffler::new({
        use std::hash::{BuildHasher, Hasher};
        std::collections::hash_map::RandomState::new().build_hasher().finish()
    }));
}

/// A random-looking number for choices a seeded test must replay (which
/// ready branch `select!` polls first): from the current loop's seeded
/// generator when `Builder::seed` was given, so the same seed gives the same
/// choices; otherwise (no seed, or no loop) from a per-thread generator.
pub(crate) fn next_random_u32() -> u32 {
    let seeded = with_core(|core| core.seeded_random()).flatten();
    let bits = match seeded {
        Some(bits) => bits,
        None => UNSEEDED.with(|rng| rng.borrow_mut().next_u64()),
    };
    (bits >> 32) as u32
}
