//! # A guided tour: from `eddy::run` to a wakeup from epoll
//!
//! This module holds no code, only this page. It follows one small program
//! through the runtime, file by file, in the order things happen, so you can
//! read the source alongside: every step names the file (under
//! `runtime/src/`) and the function to open. The last section shows how to
//! watch the same steps happen in a running program.
//!
//! The program: a server task waits for a connection, the `run` future
//! connects after a short sleep and sends five bytes, and the server's
//! answer comes back through its `JoinHandle`.
//!
//! ```
//! use std::time::Duration;
//! use eddy::net::{TcpListener, TcpStream};
//!
//! let echoed = eddy::run(async {
//!     let listener = TcpListener::bind("127.0.0.1:0")?;
//!     let addr = listener.local_addr()?;
//!     let server = eddy::spawn(async move {
//!         let (stream, _) = listener.accept().await?; // waits for epoll
//!         let mut buf = [0; 5];
//!         let n = stream.read(&mut buf).await?;
//!         Ok::<_, std::io::Error>(buf[..n].to_vec())
//!     });
//!     eddy::time::sleep(Duration::from_millis(5)).await; // waits for a timer
//!     let client = TcpStream::connect(addr).await?;
//!     client.write_all(b"hello").await?;
//!     server.await.expect("the server task does not panic")
//! })?;
//! assert_eq!(echoed, b"hello");
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! ## 1. `eddy::run` builds a runtime: `runtime/mod.rs`
//!
//! [`run`](crate::run) is `Builder::new().build()?.block_on(future)`: a
//! [`Runtime`](crate::Runtime) with one event loop ("loop 0", the `Core` of
//! `event_loop.rs`), debug mode taken from `EDDY_DEBUG`, and the runtime
//! dropped when the future is done. `Runtime::new` calls `Core::new`
//! (`event_loop.rs`), which creates the loop: its `epoll` instance and the
//! eventfd other threads use to wake it (through `mio`: `Poll` and
//! `Waker`), its empty run queue and its timer wheel.
//! Loop 0 has no thread of its own: it runs only while some `block_on` is
//! running, on the caller's thread. (`Builder::workers(n)` adds loops
//! 1..n, each on its own thread, and `Handle` sends work to them.)
//!
//! ```
//! // What `eddy::run(fut)` does, spelled out:
//! let runtime = eddy::Builder::new().build()?;
//! let answer = runtime.block_on(async { 6 * 7 });
//! drop(runtime); // drops every task still pending, on its loop
//! assert_eq!(answer, 42);
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! [`Runtime::block_on`](crate::Runtime::block_on) makes loop 0 the
//! thread's *current* loop and hands the future to `Core::block_on`.
//!
//! ## 2. The current loop: `context.rs`
//!
//! `eddy::spawn`, `time::sleep` and `TcpListener::bind` take no runtime
//! argument. Like asyncio's `get_running_loop()`, they look the loop up in a
//! thread-local, `CURRENT`, which `context::enter` sets for the length of
//! `block_on` (its guard puts back what was there before, even on panic).
//! `with_core` and `expect_core` are the lookups every other module uses.
//! `enter` also refuses a `block_on` inside a task: it would freeze the loop
//! that is running the task.
//!
//! ## 3. The loop: `event_loop.rs`, `Core::block_on` and `Core::tick`
//!
//! `Core::block_on` polls the `run` future only when its waker has been
//! called. That future is *not a task*: it lives on the caller's stack, and
//! its waker (`MainWaker`) only sets a flag (and writes to the eventfd when
//! called from another thread). Between polls, the loop turns: one call to
//! `tick` per turn, in four steps:
//!
//! 1. take in the tasks other threads woke or spawned (`take_injected`);
//! 2. poll the tasks that are ready, oldest first, at most `tick_budget`
//!    (128) of them (`run_ready_tasks`), each poll with a fresh cooperative
//!    budget of 128 ready results from eddy's resources (`task/budget.rs`),
//!    so no task can keep the loop to itself;
//! 3. fire the timers that are due (`fire_timers`);
//! 4. decide how to park (`plan_park`: not at all if anything is ready, else
//!    until the next timer, or forever) and park in `epoll_wait`, waking
//!    the tasks whose sockets became ready (`park`).
//!
//! The module docs of `event_loop.rs` give the fairness rules in numbers.
//! In our program, the first poll of the `run` future binds the listener,
//! spawns the server task and starts the 5 ms sleep, then returns
//! `Pending`; the first tick then polls the server task.
//!
//! ## 4. A task: `task/mod.rs` → `event_loop.rs` `Core::spawn` → `task/cell.rs`
//!
//! [`spawn`](crate::spawn) finds the current loop and calls `Core::spawn`,
//! which wraps the future in a `Task` (`task/cell.rs`): **one `Arc`** that
//! holds the future, later its output, and a header that wakers and the
//! [`JoinHandle`](crate::JoinHandle) share. That same `Arc` is the run
//! queue's entry, the task's waker (through `futures-task`'s `ArcWake`, no
//! hand-written vtable) and the `JoinHandle`'s target. The loop keeps it in
//! its task list (a slab, so shutdown can drop every live task) and pushes
//! it onto the run queue.
//!
//! In step 2, the loop pops it and calls `Runnable::run` (`task/cell.rs`):
//! clear the SCHEDULED bit, make a waker from the task's own `Arc`, and poll
//! the future inside `catch_unwind`, so a panic becomes a
//! [`JoinError`](crate::JoinError) instead of taking the loop down. On
//! `Ready` (or a panic) `finish` drops the future, stores the output, sets
//! COMPLETE and wakes whoever waits on the `JoinHandle`. The `unsafe` that
//! lets one cell be shared this way is all in `task/cell.rs`, with its two
//! rules written at the top.
//!
//! ## 5. The state word: `task/state.rs`
//!
//! Four bits in one atomic: SCHEDULED, COMPLETE, CANCELLED, JOIN_INTEREST,
//! each with its invariant written next to it. The one that matters for
//! waking: a wake sets SCHEDULED and queues the task *only if it was clear*.
//! So a task woken a thousand times before it runs is queued, and polled,
//! once; and a wake after COMPLETE does nothing (a finished task is never
//! polled again). Teaching executors such as mini-tokio get both wrong:
//! they queue a task once per wake, and can poll one that has finished.
//!
//! ```
//! use std::cell::Cell;
//! use std::future::poll_fn;
//! use std::rc::Rc;
//! use std::task::Poll;
//!
//! eddy::run(async {
//!     let polls = Rc::new(Cell::new(0));
//!     let counter = polls.clone();
//!     eddy::spawn(poll_fn(move |cx| {
//!         counter.set(counter.get() + 1);
//!         if counter.get() > 1 {
//!             return Poll::Ready(());
//!         }
//!         for _ in 0..1000 {
//!             cx.waker().wake_by_ref(); // sets SCHEDULED once, queues once
//!         }
//!         Poll::Pending
//!     }))
//!     .await
//!     .unwrap();
//!     assert_eq!(polls.get(), 2); // the first poll, then one more
//! });
//! ```
//!
//! ## 6. A wake from another thread: `shared.rs`
//!
//! A waker is `Send`, so it may be called from any thread.
//! `ArcWake::wake` (`task/cell.rs`) hands the task to its loop's `Shared`
//! (`shared.rs`), the only part of a loop that other threads touch.
//! `Shared::schedule` pushes the task straight onto the run queue when
//! called on the loop's own thread; from any other thread it *injects* it:
//! pushes it onto a mutex-guarded queue and writes to the loop's eventfd,
//! which makes a parked `epoll_wait` return. Only the first wake after the
//! loop last looked writes (the `notified` flag), so a burst of a thousand
//! cross-thread wakes costs one syscall. Step 1 of the next tick takes the
//! injected tasks in.
//!
//! ```
//! use std::time::Duration;
//!
//! eddy::run(async {
//!     let (tx, rx) = eddy::sync::oneshot::channel();
//!     let task = eddy::spawn(async move { rx.await.unwrap() });
//!     std::thread::spawn(move || {
//!         std::thread::sleep(Duration::from_millis(1));
//!         // Wakes the task from this thread: injection + eventfd.
//!         tx.send("from another thread").unwrap();
//!     });
//!     assert_eq!(task.await.unwrap(), "from another thread");
//! });
//! ```
//!
//! ## 7. A wakeup from epoll: `reactor/source.rs`, then `reactor/mod.rs`
//!
//! The server task's `accept` goes through `IoSource::poll_io`
//! (`reactor/source.rs`), the one loop every socket operation shares: try
//! the non-blocking syscall; on `WouldBlock`, forget the socket's readiness
//! and wait. Waiting means: put the socket into epoll if it is not there yet
//! (lazily: a socket starts out *assumed ready*, and most never need to
//! wait), and store the task's waker in the socket's `IoSlot`, its reader
//! or writer half. The task returns `Pending`.
//!
//! When the loop parks in step 4, `Reactor::poll` (`reactor/mod.rs`) calls
//! `epoll_wait`. The client's connection makes the listening socket
//! readable; for that event, the reactor sets the readiness bits in the
//! socket's slot and takes the waiting waker out. Back in `Core::park`, the
//! waker is woken: the server task is SCHEDULED and queued, and the next
//! tick polls it; `accept` tries again and succeeds. Registration is
//! edge-triggered (mio's contract): epoll reports a socket when it
//! *becomes* ready, which is why readiness is remembered until an operation
//! proves it stale with `WouldBlock`. The module docs of `reactor/mod.rs`
//! spell out that contract.
//!
//! ## 8. A wakeup from a timer: `time/sleep.rs`, `time/wheel.rs`, `time/clock.rs`
//!
//! The 5 ms [`sleep`](crate::time::sleep) arms its timer on its first poll
//! (`Sleep::poll`, `time/sleep.rs`): `Core::insert_timer` files the waker
//! in the loop's hierarchical timing wheel (`time/wheel.rs`: six levels of
//! 64 one-millisecond slots, O(1) insert and cancel). In step 4 the loop
//! asks the wheel for the next deadline and passes the time left as
//! `epoll_wait`'s timeout; in step 3 of a later tick, `fire_timers` moves
//! the wheel up to "now" (`time/clock.rs`, whole milliseconds, deadlines
//! rounded up) and wakes every due timer's waker. In our program that waker
//! is the `run` future's, so the loop polls it again: it connects and
//! writes.
//!
//! With a paused clock ([`eddy::test::run`](crate::test::run)) an idle loop
//! does not sleep at all: once every loop of the runtime is idle, the
//! runtime's one clock (`time/clock.rs`) jumps straight to the next timer.
//!
//! ```
//! use std::time::Duration;
//! use eddy::time::Instant;
//!
//! eddy::test::run(async {
//!     let start = Instant::now();
//!     eddy::time::sleep(Duration::from_secs(3600)).await; // returns at once
//!     assert_eq!(start.elapsed(), Duration::from_secs(3600));
//! });
//! ```
//!
//! ## 9. Back to the start
//!
//! The server reads the five bytes and returns; `finish` stores its output
//! and wakes whoever waits on its `JoinHandle`: here the `run` future, if
//! it is already awaiting the handle (if not, the handle finds the output
//! on its first poll). The loop polls the `run` future, the `JoinHandle`
//! hands over the output, the future is `Ready`, and `Core::block_on`
//! returns. `eddy::run` drops the
//! runtime: `Core::shutdown` drops every task still pending, on its own
//! loop, so their destructors can still cancel timers and close sockets.
//!
//! ## The same run, as the loop tells it
//!
//! Run the program above with `RUST_LOG=eddy=trace` (and a logger, such as
//! `env_logger`) and the loop narrates the steps, one line per tick (the
//! `loop 1` prefix left out here; durations vary from run to run):
//!
//! ```text
//! tick 1: 0 injected, 1 polled, 0 timers fired, parked 7.0ms (Wait(Some(5.8ms))), 0 I/O events
//! tick 2: 0 injected, 0 polled, 1 timers fired, did not park (Skip: tasks are ready), 0 I/O events
//! tick 3: 0 injected, 0 polled, 0 timers fired, parked 9µs (Wait(None)), 1 I/O events
//! tick 4: 0 injected, 1 polled, 0 timers fired, did not park (Skip: tasks are ready), 0 I/O events
//! ```
//!
//! 1. The `run` future has been polled once (step 3 above). Tick 1 polls
//!    the server task: `accept` would block, so the listener joins epoll
//!    (step 7) and the task waits. Nothing is ready, so the loop sleeps
//!    until the 5 ms timer.
//! 2. The timer fires (step 8) and wakes the `run` future: no park. The
//!    loop polls it; it connects, writes its five bytes, and waits on the
//!    `JoinHandle`.
//! 3. Nothing to poll: the loop parks with no timeout, and `epoll_wait`
//!    returns at once with one event, the listener now readable, which
//!    wakes the server task (step 7).
//! 4. The server task accepts, reads (the bytes are already there, so its
//!    read does not wait) and finishes, waking the `run` future (step 9):
//!    no park, and the loop polls it to completion.
//!
//! ## Watching it happen
//!
//! **The tick narration.** At `trace` level every tick logs one line: tasks
//! injected, tasks polled, timers fired, how the loop parked (or that it did
//! not) and how many I/O events woke it:
//!
//! ```text
//! RUST_LOG=eddy=trace cargo run --example trace_loop
//! ```
//!
//! `examples/trace_loop.rs` runs the steps above one at a time (a task that
//! yields, a timer, a socket, a task woken from another thread, the `run`
//! future woken from another thread, 200 tasks meeting the per-tick
//! budget) and explains every line it prints.
//! `RUST_LOG=eddy=trace` turns the same narration on for any program that
//! installs a logger (eddy only logs through the `log` crate).
//!
//! **The flight recorder.** For more than one line per tick, the flight
//! recorder keeps the loop's recent events (spawns, polls, wakes with their
//! cause, timers, parks, I/O readiness) in a ring and writes them as a
//! Chrome trace: run a program with `EDDY_TRACE=trace.json`, or call
//! `Runtime::write_trace(path)` from it, then open the file in
//! ui.perfetto.dev or chrome://tracing to see one track per loop, a slice
//! per poll, and an arrow from each wake to the poll it caused.
//! `examples/timeline.rs` writes one.
//!
//! **Debug mode.** `EDDY_DEBUG=1` (or `Builder::debug(true)`) warns about a
//! poll that blocks the loop, reports panics nobody awaited and lists the
//! tasks still pending at shutdown: `cargo run --example debug_mode`.
