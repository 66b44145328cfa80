//! The event loop narrating its own ticks.
//!
//! ```text
//! cargo run --example trace_loop
//! ```
//!
//! (`RUST_LOG=eddy=trace` turns the same narration on for any program that
//! installs a logger, as this one does with `env_logger`: eddy itself only
//! logs, through the `log` crate.)
//!
//! # Reading a tick line
//!
//! At `trace` level every turn of the loop (`Core::tick` in
//! `runtime/src/event_loop.rs`) logs one line, its four steps in order:
//!
//! ```text
//! loop 1 tick 7: 1 injected, 1 polled, 0 timers fired, did not park (Skip: tasks are ready), 0 I/O events
//! ```
//!
//! `loop 1` is the loop's number (`eddy::run` has one loop), `tick 7` counts
//! its turns. Then:
//!
//! 1. `injected`: tasks woken (or spawned) by *other threads* since the
//!    last tick, taken from the loop's injection queue (`shared.rs`);
//! 2. `polled`: tasks polled in this tick. The future given to `eddy::run`
//!    (or `block_on`) is *not* a task and is never counted: the loop polls
//!    it between ticks, whenever it was woken. This program's `main` async
//!    block is that future, and the `---` lines are printed from it;
//! 3. `timers fired`: timers whose deadline had passed;
//! 4. how the loop parked (waited for I/O) and how many I/O events that
//!    returned. The park modes this program shows:
//!    - `did not park (Skip: tasks are ready)`: something is ready to run
//!      (a task in the run queue, or the `run` future was woken), so the
//!      loop does not call `epoll_wait` at all;
//!    - `parked 20.9ms (Wait(Some(20.4ms)))`: slept in `epoll_wait` with a
//!      timeout, the time left until the next timer. It may oversleep a
//!      little: epoll's timeout is in whole milliseconds, rounded up, and
//!      the thread must get a core back;
//!    - `parked 5.1ms (Wait(None))`: slept with no timeout, because no timer
//!      is armed: only I/O, or another thread, can wake the loop;
//!    - `parked 3µs (Poll)`: tasks are still ready, but the loop has made
//!      128 polls since it last looked at I/O, so it looks now, with a zero
//!      timeout: a busy loop cannot starve a socket.
//!
//!    One more mode exists only with a paused clock (in tests, e.g.
//!    `eddy::test::run`), so this program never reaches it: `Paused` (idle:
//!    look for I/O without sleeping, then let the runtime's clock jump to
//!    the next timer once every loop is idle; a `paused clock: ... moving
//!    ... forward` line from `eddy::time::clock` says how far).
//!
//!    `I/O events` counts what `epoll_wait` returned, including the
//!    loop's own eventfd, which other threads write to wake it up.
//!
//! The comments on each `---` line below say which tick lines follow it
//! and why. Durations differ from run to run; the counts do not (unless the
//! machine is so busy that the loop thread misses a 10 ms pause of the
//! client thread in step 3, in which case a wait is skipped).

use std::io::{Read, Write};
use std::time::Duration;

use eddy::net::TcpListener;
use eddy::time::sleep;

fn main() -> std::io::Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("eddy=trace,trace_loop=info"))
        .format_timestamp_micros()
        .init();
    eddy::run(async {
        // Before tick 1 the loop polls this future, which spawns the task and
        // waits on its JoinHandle. Tick 1 polls the new task once: it yields (wakes itself and returns
        // Pending), so it is queued again and the loop skips the park. Tick 2
        // polls it again; it finishes, which wakes this future (waiting on the
        // JoinHandle), so the loop skips the park again and polls us.
        log::info!("--- 1. a task that yields: polled on two ticks in a row, no parking");
        eddy::spawn(async {
            eddy::task::yield_now().await;
        })
        .await
        .ok();

        // Tick 3 has nothing to run: it parks with the timer's deadline as
        // the timeout (Wait(Some(..))). Tick 4 finds the timer due and fires
        // it, which wakes this future: no park.
        log::info!("--- 2. a 20 ms timer: the loop sleeps until the deadline, then fires it");
        sleep(Duration::from_millis(20)).await;

        // The client is a plain thread with blocking std sockets, so the only
        // thing that can wake the server task is epoll. Three ticks:
        // - tick 5 polls the server task: accept finds no connection (the
        //   client waits 10 ms first), the listener joins epoll, and the loop
        //   parks until the connection arrives (1 I/O event);
        // - tick 6 polls it again: accept succeeds, read finds no data (the
        //   client waits another 10 ms), so the new socket joins epoll, for
        //   reads only (joined for writes too, it would be reported writable
        //   at once: an event, and a tick, for nobody), and the loop parks
        //   until the bytes arrive (1 I/O event), which wakes the task;
        // - tick 7 polls it: it reads, echoes and finishes, waking this future.
        log::info!("--- 3. a socket: each wait in the server task ends with an I/O event from epoll");
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let server = eddy::spawn(async move {
            let (stream, _) = listener.accept().await?;
            let mut buf = [0; 5];
            let n = stream.read(&mut buf).await?;
            stream.write_all(&buf[..n]).await
        });
        let client = std::thread::spawn(move || -> std::io::Result<()> {
            std::thread::sleep(Duration::from_millis(10));
            let mut stream = std::net::TcpStream::connect(addr)?;
            std::thread::sleep(Duration::from_millis(10));
            stream.write_all(b"hello")?;
            stream.read_exact(&mut [0; 5])
        });
        server.await??;
        client.join().expect("the client thread does not panic")?;

        // The task waits on a oneshot channel that a thread fills 5 ms later.
        // The send wakes the task from that thread: the task goes into the
        // loop's injection queue and the thread writes to the loop's eventfd.
        // So: a tick that polls the task and parks until the eventfd fires
        // (1 I/O event), then a tick that takes the task in (1 injected) and
        // polls it; it finishes and wakes this future (no park).
        log::info!("--- 4. a task woken from another thread: injected, then polled");
        let (tx, rx) = eddy::sync::oneshot::channel();
        let waiter = eddy::spawn(async move { rx.await.is_ok() });
        let sender = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(5));
            let _ = tx.send(());
        });
        waiter.await.ok();
        sender.join().expect("the sender thread does not panic");

        // The same wake, but of this future, which is not a task: its waker
        // only sets a flag and writes to the eventfd. One tick parks until
        // that write (1 I/O event) with nothing injected and nothing polled;
        // then the loop polls this future, outside any tick.
        log::info!("--- 5. the run future woken from another thread: not a task, so nothing injected");
        let (tx, rx) = eddy::sync::oneshot::channel();
        let sender = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(5));
            let _ = tx.send(());
        });
        rx.await.ok();
        sender.join().expect("the sender thread does not panic");

        // 200 tasks ready at once. Tick 11 polls only the first 128 (the
        // loop's per-tick budget) and, having made at least 128 polls since
        // it last looked at I/O (this future's polls count too), looks now
        // without sleeping (Poll), so a socket cannot starve behind a crowd
        // of busy tasks. Between the ticks this future collects the first
        // 128 results and waits on task 129; tick 12 polls the other 72, and
        // task 129's end wakes this future, so: no park.
        log::info!("--- 6. 200 tasks ready at once: 128 polled per tick at most, then a look at I/O");
        let crowd: Vec<_> = (0..200).map(|_| eddy::spawn(async {})).collect();
        for task in crowd {
            task.await.ok();
        }
        log::info!("--- done");
        Ok(())
    })
}
