//! Signals, asyncio's `loop.add_signal_handler` as futures and streams:
//! [`ctrl_c`] for the common case, [`unix::signal`] for any signal.
//! Unix only.
//!
//! A signal handler may run on any thread at any moment, so it does almost
//! nothing: it counts the delivery and writes a byte to a self-pipe. Each
//! listener watches that pipe through its own loop's reactor (see
//! [`unix`] for the mapping and `registry.rs` for the handler), so signals
//! work on every loop, with no thread of their own and no need to block
//! signals in the program's other threads.
//!
//! ```no_run
//! eddy::run(async {
//!     println!("press Ctrl-C");
//!     eddy::signal::ctrl_c().await?;
//!     println!("bye");
//!     Ok::<(), std::io::Error>(())
//! })?;
//! # Ok::<(), std::io::Error>(())
//! ```

use std::io;

mod registry;
pub mod unix;

/// Waits for the next Ctrl-C (`SIGINT`) delivered after this future is
/// first polled. To catch one that may come before that, create the
/// listener early with [`unix::signal`]`(SignalKind::interrupt())` and
/// `recv` it later: it counts from its creation.
///
/// From the first call on, SIGINT no longer ends the process by itself:
/// the program decides (see [`unix`]).
///
/// # Errors
/// If the handler or its pipe cannot be set up.
pub async fn ctrl_c() -> io::Result<()> {
    let mut interrupt = unix::signal(unix::SignalKind::interrupt())?;
    interrupt.recv().await;
    Ok(())
}
