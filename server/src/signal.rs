//! Waiting for SIGINT or SIGTERM, for [`run_app`](crate::run_app).
//!
//! Signal handlers may only call async-signal-safe functions, which rules
//! out waking a task. Instead the signals are *blocked* in the thread that
//! starts the server (every runtime thread inherits the mask) and a
//! dedicated thread takes them synchronously with `sigwait`: ordinary code,
//! free to send on a channel. A second signal while shutting down exits at
//! once, skipping the cleanup hooks, as users expect from a second Ctrl-C
//! (see [`run_app`](crate::run_app) for why).

use std::io;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use eddy::sync::oneshot;

/// The blocked signals and the thread waiting for them.
pub(crate) struct Signals {
    previous_mask: libc::sigset_t,
    received: oneshot::Receiver<i32>,
    done: Arc<AtomicBool>,
    thread: libc::pthread_t,
}

fn shutdown_set() -> libc::sigset_t {
    let mut set = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigemptyset initialises the set; sigaddset only adds to it.
    unsafe {
        libc::sigemptyset(set.as_mut_ptr());
        libc::sigaddset(set.as_mut_ptr(), libc::SIGINT);
        libc::sigaddset(set.as_mut_ptr(), libc::SIGTERM);
        set.assume_init()
    }
}

impl Signals {
    /// Blocks SIGINT and SIGTERM in this thread (and so in the threads it
    /// starts from now on) and starts the thread that waits for them.
    pub(crate) fn install() -> io::Result<Signals> {
        let set = shutdown_set();
        let mut previous = MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: both pointers are valid sigset_t storage.
        let status = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, previous.as_mut_ptr()) };
        if status != 0 {
            return Err(io::Error::from_raw_os_error(status));
        }
        // SAFETY: pthread_sigmask succeeded, so it filled `previous`.
        let previous_mask = unsafe { previous.assume_init() };
        let (tx, received) = oneshot::channel();
        let done = Arc::new(AtomicBool::new(false));
        let finished = done.clone();
        let thread = std::thread::Builder::new()
            .name("eddy-signals".into())
            .spawn(move || wait_for_signals(tx, finished))
            .map_err(|e| io::Error::new(e.kind(), format!("starting the signal thread: {e}")))?;
        let thread = std::os::unix::thread::JoinHandleExt::into_pthread_t(thread);
        Ok(Signals { previous_mask, received, done, thread })
    }

    /// Waits for the first SIGINT or SIGTERM; returns its number.
    pub(crate) async fn recv(&mut self) -> i32 {
        (&mut self.received).await.unwrap_or(libc::SIGTERM)
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Release);
        // Wake the waiting thread so it sees `done` and ends, instead of
        // swallowing a later Ctrl-C meant for the default handler.
        // SAFETY: the thread is detached but never exits before `done` is
        // set, so its id is still valid here.
        unsafe { libc::pthread_kill(self.thread, libc::SIGTERM) };
        // SAFETY: restores the mask saved by `install`.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.previous_mask, std::ptr::null_mut()) };
    }
}

fn wait_for_signals(tx: oneshot::Sender<i32>, done: Arc<AtomicBool>) {
    let set = shutdown_set();
    let mut tx = Some(tx);
    loop {
        let mut signal: libc::c_int = 0;
        // SAFETY: `set` and `signal` are valid for the call.
        if unsafe { libc::sigwait(&set, &mut signal) } != 0 {
            return;
        }
        if done.load(Ordering::Acquire) {
            return;
        }
        match tx.take() {
            Some(tx) => {
                log::info!(target: "eddy_http::server", "received signal {signal}; shutting down gracefully (again to force)");
                let _ = tx.send(signal);
            }
            None => {
                log::warn!(target: "eddy_http::server", "second signal {signal}: exiting now");
                std::process::exit(128 + signal);
            }
        }
    }
}
