//! The event loop narrating its own ticks.
//!
//! At `trace` level each tick of the loop logs one line: how many tasks
//! arrived from other threads, how many it polled, how many timers fired,
//! how long it parked in epoll_wait and why (`Poll`: work was waiting, so
//! it only collected events; `Wait(Some(..))`: asleep until the next timer;
//! `Wait(None)`: nothing to wait for but I/O), and how many I/O events woke
//! it. Watch the program below go through the loop's four steps:
//!
//! ```text
//! cargo run --example trace_loop
//! ```
//!
//! (`RUST_LOG=eddy=trace` does the same for any program.)

use std::time::Duration;

use eddy::net::{TcpListener, TcpStream};
use eddy::time::sleep;

fn main() -> std::io::Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("eddy=trace,trace_loop=info"))
        .format_timestamp_micros()
        .init();
    eddy::run(async {
        log::info!("--- a task that yields: polled again on the next tick, no parking");
        eddy::spawn(async {
            eddy::task::yield_now().await;
        })
        .await
        .ok();

        log::info!("--- a 20 ms timer: the loop parks until its deadline");
        sleep(Duration::from_millis(20)).await;

        log::info!("--- a socket round trip: I/O events wake the tasks");
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let server = eddy::spawn(async move {
            let (stream, _) = listener.accept().await?;
            let mut buf = [0; 5];
            let n = stream.read(&mut buf).await?;
            stream.write_all(&buf[..n]).await
        });
        let client = TcpStream::connect(addr).await?;
        client.write_all(b"hello").await?;
        let mut buf = [0; 5];
        client.read(&mut buf).await?;
        server.await??;

        log::info!("--- a wake from another thread: injected, then polled");
        let (tx, rx) = eddy::sync::oneshot::channel();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(5));
            let _ = tx.send(());
        });
        rx.await.ok();
        log::info!("--- done");
        Ok(())
    })
}
