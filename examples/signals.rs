//! Signals as streams: reload on SIGHUP, stop cleanly on Ctrl-C or SIGTERM.
//!
//! ```text
//! cargo run --example signals            # sends itself the signals, prints what it saw
//! cargo run --example signals -- --wait  # waits for you: kill -HUP <pid>, then Ctrl-C
//! ```
//!
//! Each signal is a listener (`eddy::signal::unix::signal`) that yields one
//! item per delivery, so a task can `recv().await` it in a loop like any
//! stream. Two SIGHUPs sent back to back are two deliveries, and the reload
//! task reports both, even though it was busy "reloading" when the second
//! one came: deliveries are counted, not just flagged.
//!
//! Once a program listens for SIGINT or SIGTERM, they no longer kill it:
//! the program decides what stopping means (here: say so and return).

use std::io;
use std::time::Duration;

use eddy::signal::unix::{signal, SignalKind};
use eddy::sync::mpsc;

/// Sends `signum` to this very thread, as `kill -<sig> <pid>` would to
/// the process. (`raise` runs the handler before returning, so two raises
/// are surely two deliveries; two quick `kill`s may be merged by the
/// kernel while the first is still pending.)
fn send_to_self(signum: libc::c_int) {
    // SAFETY: raise only sends a signal to the calling thread.
    unsafe { libc::raise(signum) };
}

fn main() -> io::Result<()> {
    let wait_for_user = std::env::args().any(|arg| arg == "--wait");
    eddy::run(async move {
        println!("pid {}", std::process::id());
        let mut hangups = signal(SignalKind::hangup())?;
        let mut interrupts = signal(SignalKind::interrupt())?;
        let mut terminates = signal(SignalKind::terminate())?;

        // The reload task: one line per SIGHUP delivery.
        eddy::spawn(async move {
            let mut reloads = 0;
            while hangups.recv().await.is_some() {
                reloads += 1;
                println!("SIGHUP #{reloads}: reloading configuration");
                // A slow reload: a SIGHUP arriving now is not lost.
                eddy::time::sleep(Duration::from_millis(20)).await;
            }
        });

        // Whichever stop signal comes first ends the program.
        let (stop_tx, mut stop_rx) = mpsc::channel::<&str>(2);
        let tx = stop_tx.clone();
        eddy::spawn(async move {
            interrupts.recv().await;
            let _ = tx.send("SIGINT (Ctrl-C)").await;
        });
        eddy::spawn(async move {
            terminates.recv().await;
            let _ = stop_tx.send("SIGTERM").await;
        });

        if wait_for_user {
            println!("waiting: try `kill -HUP {}`, then press Ctrl-C", std::process::id());
        } else {
            println!("sending myself SIGHUP twice, then SIGTERM");
            send_to_self(libc::SIGHUP);
            send_to_self(libc::SIGHUP);
            eddy::time::sleep(Duration::from_millis(100)).await;
            send_to_self(libc::SIGTERM);
        }
        let stopped_by = stop_rx.recv().await.unwrap_or("?");
        println!("{stopped_by}: stopping cleanly");
        Ok(())
    })
}
