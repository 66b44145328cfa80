//! Waiting for SIGINT or SIGTERM, for [`run_app`](crate::run_app), with
//! [`eddy::signal`]: two listeners on the loop that runs `run_app`, made
//! before the server binds (so a signal that comes during startup is not
//! lost, and a client that sees the server listening may signal it).
//!
//! eddy's handler only counts the delivery and wakes the listener through
//! its reactor, so nothing depends on which thread the kernel picks, and
//! an embedding program's own threads need not block anything (the
//! `sigwait` thread this replaces needed every thread to block both).
//!
//! The first signal starts the graceful shutdown. A second one exits at
//! once with `128 + signal`, skipping the cleanup hooks, as users expect
//! from a second Ctrl-C (see [`run_app`](crate::run_app) for why): a task
//! on the same loop waits for it for as long as the shutdown runs, and is
//! dropped with the runtime when `run_app` returns.

use std::io;

use eddy::signal::unix::{signal, Signal, SignalKind};

/// Listeners for SIGINT and SIGTERM.
pub(crate) struct ShutdownSignals {
    interrupt: Signal,
    terminate: Signal,
}

impl ShutdownSignals {
    /// Starts listening (installing eddy's handlers, which stay for the
    /// life of the process). Inside the runtime.
    pub(crate) fn listen() -> io::Result<ShutdownSignals> {
        let listen = |kind, name| {
            signal(kind).map_err(|e| io::Error::new(e.kind(), format!("listen for {name}: {e}")))
        };
        Ok(ShutdownSignals {
            interrupt: listen(SignalKind::interrupt(), "SIGINT")?,
            terminate: listen(SignalKind::terminate(), "SIGTERM")?,
        })
    }

    /// Waits for the first SIGINT or SIGTERM and returns its number; from
    /// then on, a second one exits the process at once.
    pub(crate) async fn first(mut self) -> i32 {
        let first = self.next().await;
        log::info!(target: "eddy_http::server", "received signal {first}; shutting down gracefully (again to force)");
        eddy::spawn(async move {
            let second = self.next().await;
            log::warn!(target: "eddy_http::server", "second signal {second}: exiting now");
            std::process::exit(128 + second);
        });
        first
    }

    /// The next delivery of either signal.
    async fn next(&mut self) -> i32 {
        let ShutdownSignals { interrupt, terminate } = self;
        eddy::select! {
            _ = interrupt.recv() => libc::SIGINT,
            _ = terminate.recv() => libc::SIGTERM,
        }
    }
}
