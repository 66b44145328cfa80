//! Waiting on a channel from code that is not async: a plain thread, or a
//! `spawn_blocking` job. Backs `mpsc::Sender::blocking_send`,
//! `mpsc::Receiver::blocking_recv` and `oneshot::Receiver::blocking_recv`.
//!
//! It polls the future with a waker that unparks the calling thread, and
//! parks between polls (`std::thread::park`; a spurious unpark only costs
//! one extra poll). Called on an event loop's thread it would freeze that
//! loop — and with it, most likely, the very task that was going to send —
//! so there it panics and says so instead of deadlocking.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::thread::Thread;

use futures_task::ArcWake;

/// Unparks the thread blocked in [`block_on`].
struct Unparker(Thread);

impl ArcWake for Unparker {
    fn wake_by_ref(arc_self: &Arc<Self>) {
        arc_self.0.unpark();
    }
}

/// Runs `future` to completion on this (non-loop) thread. `what` names the
/// caller for the panic message.
///
/// # Panics
/// If this thread runs an eddy event loop.
#[track_caller]
pub(crate) fn block_on<F: Future>(what: &str, future: F) -> F::Output {
    if crate::context::with_core(|_| ()).is_some() {
        panic!(
            "{what} was called on an eddy event loop thread: blocking here would freeze the loop \
             (and likely the task you are waiting for). Use the async form with `.await`, or call \
             it from a plain thread or eddy::task::spawn_blocking"
        );
    }
    let waker = futures_task::waker(Arc::new(Unparker(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        std::thread::park();
    }
}
