//! # eddy: an async runtime you can read in an afternoon
//!
//! eddy is asyncio's event loop, done in Rust: an executor, wakers, a
//! reactor over epoll/kqueue (through `mio`) and a timer wheel, each in a
//! short file that says why it is built the way it is.
//!
//! ```
//! use std::time::Duration;
//!
//! async fn greet(name: &str) -> String {
//!     eddy::time::sleep(Duration::from_millis(10)).await;
//!     format!("Hello, {name}!")
//! }
//!
//! // asyncio.run(main())
//! let greeting = eddy::run(async {
//!     // asyncio.create_task(...)
//!     let task = eddy::spawn(async { greet("Alice").await });
//!     task.await.unwrap()
//! });
//! assert_eq!(greeting, "Hello, Alice!");
//! ```
//!
//! ## A tour, in the order a wakeup travels
//!
//! | piece | file | asyncio |
//! |---|---|---|
//! | the event loop and its tick | `event_loop.rs` | the event loop |
//! | tasks, their state word, the one `unsafe` cell | `task/` | `Task` |
//! | wakers: `futures-task`'s `ArcWake` on the task cell | `task/cell.rs` | callbacks |
//! | wakes from other threads: injection queue + eventfd | `shared.rs` | `call_soon_threadsafe` |
//! | the reactor: epoll readiness → wakers | `reactor/` | selector |
//! | timers: a hierarchical wheel, a pausable clock | `time/` | `call_later` |
//! | TCP sockets | `net/` | streams |
//! | byte-stream helpers: `read_exact`, `BufReader`, lines, `copy` | `io/` | `StreamReader` |
//! | UDP, Unix sockets, `lookup_host` | `net/` | datagram endpoints, `getaddrinfo` |
//! | signals as streams | `signal/` | `add_signal_handler` |
//! | child processes | `process/` | `create_subprocess_exec` |
//! | locks, semaphores, events; oneshot, mpsc, watch, broadcast channels | `sync/` | `Lock`, `Semaphore`, `Event`, `Future`, `Queue` |
//! | blocking code on a thread pool | `task/blocking.rs` | `to_thread` |
//! | task dumps, lost wakeups, the stall watchdog | `debug/` | debug mode, `all_tasks()` |
//!
//! ## Semantics you can rely on
//!
//! - A task lives on the loop that spawned it; its future need not be
//!   `Send`. Its waker is `Send + Sync` and may be woken from any thread.
//! - A wake queues a task at most once; a wake after it finished (or after
//!   the runtime is gone) does nothing; a finished task is never polled.
//! - A panic in a task is caught: the loop goes on, and the task's
//!   [`JoinHandle`] yields a [`JoinError`] saying it panicked.
//! - Dropping a `JoinHandle` detaches the task; [`JoinHandle::abort`]
//!   cancels it (its future is dropped, destructors run).
//! - Dropping the [`Runtime`] drops every task still pending, on its loop.
//! - Time goes through the loop's clock, which tests can pause and advance
//!   ([`time`]).
//! - No task holds its loop for long through eddy resources: within one poll
//!   a task gets at most [`task::PER_POLL`] (128) ready results from them,
//!   then it yields ([`task::budget`]); timers and I/O get their turn.
//!
//! ## Debug mode
//!
//! `Builder::debug(true)` or `EDDY_DEBUG=1`, like asyncio's `debug=True`:
//! warns about a poll that hogs the loop (100 ms by default, naming the task
//! and where it was spawned, or `main` and the line that called `block_on`)
//! while it is still running (the stall
//! watchdog) and when it ends, warns about a task whose future returned
//! `Pending` without leaving its waker anywhere (a lost wakeup), logs a
//! [task dump](debug::TaskDump) of the tasks still pending at shutdown, and
//! reports panics that nobody awaited. [`Handle::dump`] gives the same dump
//! at any time, debug mode or not: see [`debug`]. All diagnostics go through the `log`
//! crate; eddy never installs a logger itself.

#![deny(missing_docs)]
#![warn(clippy::undocumented_unsafe_blocks)]

// Sockets are file descriptors throughout (`std::os::fd`, mio's `SourceFd`):
// say so plainly instead of failing with a wall of missing-item errors.
#[cfg(not(unix))]
compile_error!("eddy runs on Unix-like systems (Linux, macOS, the BSDs); Windows is not supported");

mod context;
pub mod debug;
mod event_loop;
pub mod guide;
pub mod io;
mod macros;
pub mod net;
#[cfg(unix)]
pub mod process;
mod reactor;
mod runtime;
mod shared;
#[cfg(unix)]
pub mod signal;
pub mod sync;
pub mod task;
pub mod test;
pub mod time;
pub mod trace;
mod util;

#[doc(hidden)]
pub use macros::__private;
pub use runtime::{run, Builder, Handle, LoopStats, Runtime};
pub use task::{spawn, JoinError, JoinHandle};
