//! Seeing what the loop's tasks are doing: exact task dumps with lost-wakeup
//! detection, and the stall watchdog.
//!
//! - [`Handle::dump`](crate::Handle::dump) / [`Runtime::dump`](crate::Runtime::dump)
//!   return a [`TaskDump`]: every live task of a loop with its state, poll
//!   count, time spent polling, time since its last poll, and **who holds its
//!   waker right now** ([`Holder`]): a timer, a socket, a channel or sync
//!   primitive, another task's `JoinHandle`, user code, or nobody. In debug
//!   mode the loop logs this table at shutdown for the tasks still pending.
//! - A task that nothing can wake is reported as a **lost wakeup** at
//!   `warn`, with its spawn site, once per task: when a dump finds it, and
//!   in debug mode right after the poll that lost it (the same accounting,
//!   done after every poll that returns `Pending`).
//! - The stall watchdog (`Builder::stall_watchdog`, on at 100 ms in debug
//!   mode) warns while a poll is hogging a loop, and again when it ends;
//!   with `Builder::trace_dump_dir` the stalled loop then dumps its flight
//!   recorder (`Builder::trace_dump_on_stall`), stalled poll included. It
//!   reads the same per-loop activity word the recorder keeps
//!   (`trace::LoopActivity`), so watching costs the loops almost nothing
//!   (`debug/watchdog.rs`).
//!
//! # How the waker accounting works
//!
//! A task's waker is its task cell's `Arc` under a vtable (`task/cell.rs`),
//! so every clone of the waker is one strong reference to the cell. Besides
//! waker clones, exactly these places hold strong references, and each is
//! visible in the task's state:
//!
//! | reference | held while | seen as |
//! |---|---|---|
//! | the loop's task list | the task is alive on the loop | always 1 for a dumped task |
//! | the run queue or injection queue | the task is queued | the SCHEDULED bit |
//! | the `JoinHandle` | it exists | the JOIN_INTEREST bit |
//! | the poll in progress | the task is being polled | the thread-local "current task" (`task/id.rs`) |
//!
//! (An [`AbortHandle`](crate::task::AbortHandle) holds a *weak* reference,
//! precisely so that it does not count here.) So
//!
//! ```text
//!   waker clones = strong count − 1 − SCHEDULED − JOIN_INTEREST − running
//! ```
//!
//! Of these clones, eddy knows the ones its own resources hold, in two
//! ways (`debug/holders.rs` has the details):
//!
//! - the loop's own resources, the **timer wheel and the reactor's socket
//!   slots**, are walked at dump time: each stored waker is matched to its
//!   task by its data pointer, and reported with its deadline or its file
//!   descriptor and direction. They store plain clones: nothing is added to
//!   their hot paths;
//! - the resources that live anywhere (**channels, `JoinHandle`s, a
//!   `JoinSet`, sync primitives' wait lists, signal listeners**) store the
//!   waker through `holders::held`, which gives the clone a second vtable
//!   that counts it in the task's header while it lives (the count stays
//!   right wherever the clone goes), and records the kind and address of
//!   the last such resource.
//!
//! Then
//!
//! ```text
//!   held by user code = waker clones − walked − counted
//! ```
//!
//! and a task is reported **lost** when it is idle (not queued, not running,
//! not finished) and *waker clones* is zero: nothing, in eddy or outside
//! it, can ever wake it. Its future returned `Pending` without storing
//! `cx.waker()` anywhere (or dropped the clone it stored).
//!
//! # Guarantees
//!
//! - **No false "lost".** The verdict uses only the strong count and the
//!   state word, read in that order, and only for a task that is neither
//!   queued nor running (those are never judged). Of the other references,
//!   the only one another thread can release is the `JoinHandle`'s, and it
//!   clears JOIN_INTEREST *before* it drops its `Arc`; none can be created
//!   for a task already on the loop (an `AbortHandle` is weak; its upgrade
//!   while aborting only adds). So a race with another thread can only make
//!   the count of waker clones look higher, never lower. A waker
//!   that is cloned into user code, another executor, or a thread is counted
//!   as "held by user code", never as lost, whether or not anyone will ever
//!   wake it (eddy cannot know).
//! - **No missed "lost" for an idle task with no waker anywhere**, provided
//!   no other thread is creating or dropping a reference to that task at the
//!   instant of the dump (then the count is exact).
//! - **Holders are a best description, not a proof.** The split between
//!   eddy's resources and user code is exact at rest; while wakers move
//!   between threads it may lag by one. A task waiting on several channels at
//!   once (`select!`) shows how many channel-like resources hold it and names
//!   the last one that stored its waker. A task woken from another thread
//!   shows as scheduled from the moment of the wake.
//! - Finished tasks are not in the dump at all: a task's entry in the loop's
//!   list goes when it completes, whatever its `JoinHandle` or a leftover
//!   waker clone still holds. (tokio-console flags some of those as lost.)
//!
//! # What it costs
//!
//! Nothing on a poll that the runtime did not pay before, but two plain
//! memory operations: the poll count (an add to memory) and the time of
//! the poll (a copy of the loop's cached clock, no clock read). The
//! thread-local slot that tells `held` which task is being polled is the
//! one `task::id()` always had, widened from the id to three words of the
//! same size. Timers and sockets: nothing. Per waker stored by a counted
//! resource: one thread-local read, one comparison and one store; per
//! held clone made or dropped, one relaxed atomic add beside the `Arc`
//! count the clone moves anyway. The task header grows by 32 bytes. Debug
//! mode adds its own costs (it times every poll, and checks every
//! `Pending` for a lost wakeup); the stall watchdog's are in `watchdog.rs`.
//!
//! Measured with callgrind, instructions of a whole run against the same
//! runtime without any of this (`runtime-bench` rows in child mode,
//! `WARMUP=0 QUICK=1 valgrind --tool=callgrind BIN --child ROW eddy`):
//!
//! | row | without | with | |
//! |---|---:|---:|---:|
//! | `spawn_join` | 11,675,430 | 11,669,500 | −0.05 % |
//! | `ping_pong` | 72,668,134 | 73,173,896 | +0.70 % |
//! | `timers_fire` | 22,542,394 | 22,195,922 | −1.54 % |
//! | `timers_cancel` | 50,914,123 | 51,148,507 | +0.46 % |
//! | `tcp_echo` | 6,506,504 | 6,506,117 | −0.01 % |
//! | `select_loop` | 36,657,338 | 36,965,397 | +0.84 % |
//! | `mutex_contention` | 102,751,140 | 102,759,004 | +0.01 % |
//! | `semaphore` | 91,908,449 | 91,396,352 | −0.56 % |
//! | `notify_ping_pong` | 78,317,267 | 78,323,009 | +0.01 % |
//! | `broadcast_fanout` | 11,628,782 | 11,652,292 | +0.20 % |
//!
//! The greeting server (`SERVERS=eddy SCENARIOS=keepalive,pipelined
//! MEASURES=instr bench/instr/run.sh`), instructions per request: 5,754
//! keep-alive and 3,573 pipelined, against 5,750 and 3,572 without (+0.07 %
//! and +0.03 %).
//!
//! (The rows that got cheaper did so because the "current task" slot is
//! now set once and emptied with one store, where it used to be saved and
//! restored; `timers_fire` also because glibc happens to trim its heap
//! less often with the new task size, about 216,000 of its 347,000: an accident
//! of allocation sizes, not a saving to count on.) A first version that hooked every stored waker, published a
//! second thread-local per poll, timed every poll's end against a stored
//! `Instant` and kept 48 bytes of probe in each task cost 10–16 % on
//! `spawn_join`, `ping_pong`, `timers_fire` and the sync rows.

pub(crate) mod dump;
pub(crate) mod holders;
pub(crate) mod watchdog;

pub use dump::{Holder, Interest, TaskDump, TaskEntry, TaskState};

/// How long [`Handle::dump`](crate::Handle::dump) waits for another loop to
/// answer: a loop that does not answer in a second is stuck in a poll (or
/// not running at all), and waiting longer would only stall the caller too.
pub const DUMP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);
