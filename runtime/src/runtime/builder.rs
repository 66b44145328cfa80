//! `Builder`: every knob of a runtime, each with its default and the reason
//! for it.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::Runtime;
use crate::debug::watchdog::Watchdog;
use crate::time::RuntimeClock;
use crate::trace::TraceConfig;

/// The watchdog's threshold in debug mode: the slow-poll threshold, but never
/// under 100 ms (asyncio's `slow_callback_duration`). A slow-poll threshold
/// of a few milliseconds is useful after the fact; a monitor waking that
/// often to catch polls in the act would cost more than it tells.
const DEBUG_STALL_THRESHOLD: Duration = Duration::from_millis(100);

/// Configures and builds a [`Runtime`].
///
/// ```
/// use std::time::Duration;
///
/// let runtime = eddy::Builder::new()
///     .debug(true)                                   // asyncio's debug=True
///     .slow_poll_threshold(Duration::from_millis(50))
///     .build()?;
/// runtime.block_on(async { /* ... */ });
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Builder {
    pub(super) workers: usize,
    debug: Option<bool>,
    event_capacity: usize,
    tick_budget: usize,
    slow_poll_threshold: Duration,
    start_paused: bool,
    auto_advance: bool,
    seed: Option<u64>,
    /// `None`: as debug mode says; `Some(None)`: off; `Some(Some(t))`: on.
    stall_watchdog: Option<Option<Duration>>,
    pub(super) max_blocking_threads: usize,
    pub(super) thread_name: String,
    pub(super) thread_stack_size: Option<usize>,
    pub(super) trace: TraceConfig,
}

/// The per-loop part of the configuration, copied to each loop's thread.
#[derive(Clone, Debug)]
pub(crate) struct LoopConfig {
    pub(crate) debug: bool,
    pub(crate) event_capacity: usize,
    pub(crate) tick_budget: usize,
    pub(crate) slow_poll_threshold: Duration,
    /// The runtime's one clock, shared by all its loops.
    pub(crate) clock: Arc<RuntimeClock>,
    pub(crate) seed: Option<u64>,
    pub(crate) trace: TraceConfig,
    /// The runtime's stall watchdog, if on (shared by its loops).
    pub(crate) watchdog: Option<Arc<Watchdog>>,
}

impl Default for Builder {
    fn default() -> Builder {
        Builder::new()
    }
}

impl Builder {
    /// The defaults: one loop, debug mode from `EDDY_DEBUG`, 1024 events per
    /// wait on the OS poller, a tick budget of 128 polls, a 100 ms slow-poll
    /// threshold, a running clock, FIFO order, up to 16 blocking threads.
    pub fn new() -> Builder {
        Builder {
            workers: 1,
            debug: None,
            event_capacity: 1024,
            tick_budget: 128,
            slow_poll_threshold: Duration::from_millis(100),
            start_paused: false,
            auto_advance: true,
            seed: None,
            stall_watchdog: None,
            max_blocking_threads: 16,
            thread_name: "eddy-loop".to_string(),
            thread_stack_size: None,
            trace: TraceConfig::from_env(),
        }
    }

    /// Number of event loops (default 1; 0 is treated as 1).
    ///
    /// Loop 0 has no thread of its own: it runs on the thread that calls
    /// [`Runtime::block_on`](crate::Runtime::block_on), and only while that
    /// call runs. Loops 1..n each run on a thread of their own, from
    /// `build()` until the runtime is dropped. So `workers(1)` starts no
    /// thread at all, and `workers(n)` starts `n - 1`.
    ///
    /// A task spawned onto loop 0 through its handle (`handles()[0]`) while
    /// no `block_on` runs waits for the next `block_on` on this runtime, and
    /// is cancelled if the runtime is dropped first; eddy logs a warning the
    /// first time that happens. For work that must run in the background,
    /// build with `workers(2)` or more and spawn onto `handles()[1..]`.
    ///
    /// ```
    /// let runtime = eddy::Builder::new().workers(1).build()?;
    /// let task = runtime.handles()[0].spawn(async { 6 * 7 }); // queued, not running
    /// assert_eq!(runtime.block_on(task).unwrap(), 42);         // runs now
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn workers(&mut self, loops: usize) -> &mut Builder {
        self.workers = loops.max(1);
        self
    }

    /// Debug mode, asyncio's `debug=True`: warn when one poll of a task takes
    /// longer than [`slow_poll_threshold`](Self::slow_poll_threshold), log a
    /// [task dump](crate::debug::TaskDump) of the tasks still pending at
    /// shutdown, report panics that nobody awaited, and run the
    /// [stall watchdog](Self::stall_watchdog) at 100 ms. Default: on if the environment has `EDDY_DEBUG=1` (or
    /// `true`), off otherwise; this call overrides the environment.
    pub fn debug(&mut self, enabled: bool) -> &mut Builder {
        self.debug = Some(enabled);
        self
    }

    /// How long one poll may take before debug mode warns (default 100 ms,
    /// asyncio's `slow_callback_duration`).
    pub fn slow_poll_threshold(&mut self, threshold: Duration) -> &mut Builder {
        self.slow_poll_threshold = threshold;
        self
    }

    /// The stall watchdog: one monitor thread for the runtime that warns
    /// *while* a loop is stuck inside one poll for longer than `threshold`
    /// (naming the loop, the task, where it was spawned and how long so
    /// far), and again when the poll ends, with the total. `None` turns it
    /// off. Default: on in [debug mode](Self::debug), at the
    /// [slow-poll threshold](Self::slow_poll_threshold) but at least 100 ms;
    /// off otherwise. See [`crate::debug`] for what it costs.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let runtime = eddy::Builder::new().stall_watchdog(Duration::from_millis(250)).build()?;
    /// # drop(runtime);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stall_watchdog(&mut self, threshold: impl Into<Option<Duration>>) -> &mut Builder {
        self.stall_watchdog = Some(threshold.into());
        self
    }

    /// The watchdog threshold this builder asks for, if any.
    pub(super) fn watchdog_threshold(&self) -> Option<Duration> {
        match self.stall_watchdog {
            Some(setting) => setting,
            None => self
                .debug
                .unwrap_or_else(debug_from_env)
                .then_some(self.slow_poll_threshold.max(DEBUG_STALL_THRESHOLD)),
        }
    }

    /// Capacity of the event buffer of one wait on the OS poller
    /// (`epoll_wait` on Linux, `kevent` on macOS and the BSDs; default 1024). More
    /// ready sockets than this are simply picked up on the next tick.
    pub fn event_capacity(&mut self, events: usize) -> &mut Builder {
        self.event_capacity = events.max(1);
        self
    }

    /// Most tasks polled per tick before the loop looks at timers and I/O
    /// again (default 128; see the event loop's docs for why).
    pub fn tick_budget(&mut self, polls: usize) -> &mut Builder {
        self.tick_budget = polls.max(1);
        self
    }

    /// Starts the runtime's clock paused, for tests: see [`crate::time`].
    /// All loops share that one clock; it moves only when every loop is
    /// idle, so `workers(n)` tests see the same times as single-loop ones.
    pub fn start_paused(&mut self, paused: bool) -> &mut Builder {
        self.start_paused = paused;
        self
    }

    /// Whether an idle runtime with a paused clock jumps to its next timer
    /// (default true). See [`crate::time::set_auto_advance`].
    pub fn auto_advance(&mut self, enabled: bool) -> &mut Builder {
        self.auto_advance = enabled;
        self
    }

    /// Polls ready tasks (and dispatches I/O wakeups) in an order shuffled
    /// by this seed instead of FIFO: the same seed gives the same order, so
    /// an ordering bug found under one seed reproduces. For tests; see
    /// `eddy::test`.
    pub fn seed(&mut self, seed: u64) -> &mut Builder {
        self.seed = Some(seed);
        self
    }

    /// Most threads in the blocking pool (default 16).
    pub fn max_blocking_threads(&mut self, threads: usize) -> &mut Builder {
        self.max_blocking_threads = threads.max(1);
        self
    }

    /// Stack size, in bytes, of each worker loop's thread (loops 1..n;
    /// loop 0 runs on whichever thread calls `block_on`). Default: the
    /// standard library's, 2 MiB unless the `RUST_MIN_STACK` environment
    /// variable says otherwise.
    ///
    /// Every task of a loop is polled on its thread's stack, so this bounds
    /// how deep a poll may go, and how large a future a task may build
    /// there: a future is a value, and it exists on the stack from the
    /// moment it is created until it is spawned. Spawning moves a future
    /// larger than [`BOX_THRESHOLD`](crate::task::BOX_THRESHOLD) to the heap
    /// at once (see "Large futures and the stack" in [`crate::task`]), so
    /// spawning needs the stack for the caller's copy of the future in an
    /// optimised build, and for one more copy in an unoptimised one (Rust
    /// moves a by-value argument through a stack temporary there). A task
    /// on a 2 MiB worker can therefore spawn a 1 MiB future in release
    /// builds; give it more stack (or build the future inside `Box::pin(..)`
    /// yourself, which needs no second copy) for debug builds or larger
    /// futures.
    ///
    /// ```
    /// let runtime = eddy::Builder::new().workers(2).thread_stack_size(8 << 20).build()?;
    /// # drop(runtime);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn thread_stack_size(&mut self, bytes: usize) -> &mut Builder {
        self.thread_stack_size = Some(bytes);
        self
    }

    /// Prefix of worker loop thread names (default `eddy-loop`).
    pub fn thread_name(&mut self, name: impl Into<String>) -> &mut Builder {
        self.thread_name = name.into();
        self
    }

    /// Size of each loop's flight recorder, in bytes (default 1 MiB, about
    /// 65,536 events; the `EDDY_TRACE_CAPACITY` environment variable sets
    /// the default). Rounded down to a power of two events of 16 bytes;
    /// `0` turns recording off. See [`crate::trace`].
    pub fn trace_capacity(&mut self, bytes: usize) -> &mut Builder {
        self.trace.capacity = bytes;
        self
    }

    /// Reads the clock at the end of every poll, so the trace shows each
    /// poll's true length (default: on in debug mode, off otherwise): a poll
    /// starts where the loop's previous record was stamped (the previous
    /// poll's end, or the loop's last clock read), so a slice also holds the
    /// loop's few instructions between two polls. Off, events carry the
    /// loop's cached time, which moves only when the loop reads the clock
    /// anyway (after parking, when firing timers): polls in between show in
    /// order, 1 ns apart. Costs one clock read and one record per poll.
    pub fn trace_poll_times(&mut self, enabled: bool) -> &mut Builder {
        self.trace.poll_times = Some(enabled);
        self
    }

    /// Makes the flight recorder dump a loop's ring into `dir`, as Chrome
    /// trace JSON, when one of its tasks panics, when debug mode sees a
    /// slow poll and when a stall the [watchdog](Self::stall_watchdog)
    /// reported ends (each can be turned off below): the moments before the
    /// trouble, Go's flight-recorder pattern. Off by default; at most 8
    /// dumps per loop. The file names say the loop, the dump's number and
    /// why (`eddy-trace-loop0-1-panic.json`), and a warning logs the path.
    pub fn trace_dump_dir(&mut self, dir: impl Into<PathBuf>) -> &mut Builder {
        self.trace.dump_dir = Some(dir.into());
        self
    }

    /// Whether a panicking task dumps the ring (default true; needs
    /// [`trace_dump_dir`](Self::trace_dump_dir)).
    pub fn trace_dump_on_panic(&mut self, enabled: bool) -> &mut Builder {
        self.trace.dump_on_panic = enabled;
        self
    }

    /// Whether a slow poll (in debug mode) dumps the ring (default true;
    /// needs [`trace_dump_dir`](Self::trace_dump_dir)).
    pub fn trace_dump_on_slow_poll(&mut self, enabled: bool) -> &mut Builder {
        self.trace.dump_on_slow_poll = enabled;
        self
    }

    /// Whether a stall the [watchdog](Self::stall_watchdog) reported dumps
    /// the ring when it ends (default true; needs
    /// [`trace_dump_dir`](Self::trace_dump_dir)). The dump is written by the
    /// stalled loop itself, right after the stalled poll returns, so it
    /// holds that poll whole (a ring cannot be read while its loop writes).
    pub fn trace_dump_on_stall(&mut self, enabled: bool) -> &mut Builder {
        self.trace.dump_on_stall = enabled;
        self
    }

    /// Writes every loop's trace to `path` when the runtime is dropped
    /// (before its tasks are cancelled). Default: the `EDDY_TRACE`
    /// environment variable's path, if set.
    pub fn trace_on_drop(&mut self, path: impl Into<PathBuf>) -> &mut Builder {
        self.trace.on_drop = Some(path.into());
        self
    }

    /// Creates the runtime: its loops, their I/O pollers and threads.
    ///
    /// # Errors
    /// When the OS refuses a poller (epoll, kqueue), a cross-thread waker or
    /// a thread (usually: out of file descriptors); the error says which.
    pub fn build(&self) -> io::Result<Runtime> {
        Runtime::new(self)
    }

    pub(super) fn loop_config(&self, watchdog: Option<Arc<Watchdog>>) -> LoopConfig {
        LoopConfig {
            watchdog,
            debug: self.debug.unwrap_or_else(debug_from_env),
            event_capacity: self.event_capacity,
            tick_budget: self.tick_budget,
            slow_poll_threshold: self.slow_poll_threshold,
            clock: RuntimeClock::new(self.start_paused, self.auto_advance, self.workers),
            seed: self.seed,
            trace: self.trace.clone(),
        }
    }
}

/// `EDDY_DEBUG=1` (or `true`, `yes`, `on`) turns debug mode on.
fn debug_from_env() -> bool {
    std::env::var("EDDY_DEBUG")
        .map(|value| matches!(value.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"))
        .unwrap_or(false)
}
