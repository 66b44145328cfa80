//! The scenarios, what they must produce, and the sizes they run at.
//!
//! Each runtime has its own module (`on_eddy`, `on_tokio`, `on_smol`) that
//! writes every scenario the way a user of that runtime would, with the same
//! shape of work everywhere: same task count, same channel capacity, same
//! buffer sizes, same socket options. A scenario returns an [`Outcome`] (a
//! count and a checksum) that must equal [`Sizes::expected`], so a runtime
//! that drops a message, a task or a byte fails the benchmark instead of
//! winning it.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use runtime_bench::measure::Sample;

pub mod on_eddy;
pub mod on_smol;
pub mod on_tokio;
pub mod sync_on_eddy;
pub mod sync_on_tokio;
pub mod udp_unix;

/// A workload, run on one single-threaded runtime.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scenario {
    /// Spawn N tasks returning a number, then await every handle in order.
    SpawnJoin,
    /// Two tasks bounce N messages (N/2 each way) over two capacity-1 channels.
    PingPong,
    /// Create N sleeps 1..1000 s ahead, poll each once (arming its timer),
    /// drop it (cancelling the timer).
    TimersCancel,
    /// N tasks each sleep `1 + i % 1000` ms on a paused clock.
    TimersFire,
    /// Clients echo 16 KiB chunks through a server on loopback.
    TcpEcho,
    /// One task receives N messages from two channels with `select!` in a
    /// loop, two producer tasks sending N/2 each.
    SelectLoop,
    /// Two UDP sockets on one loop bounce N datagrams, one at a time.
    UdpPingPong,
    /// `TcpEcho` over Unix domain stream sockets.
    UnixEcho,
    /// `MUTEX_TASKS` tasks each lock one mutex N times, holding it across a
    /// `yield_now`: every unlock hands the lock to a waiting task.
    MutexContention,
    /// `SEMAPHORE_TASKS` tasks each acquire one of `SEMAPHORE_PERMITS`
    /// permits N times, holding it across a `yield_now`.
    Semaphore,
    /// Two tasks bounce N notifications (N/2 each way) through two `Notify`s.
    NotifyPingPong,
    /// One sender broadcasts N values to `FANOUT_RECEIVERS` receiving tasks.
    BroadcastFanout,
}

impl Scenario {
    /// Every scenario, in report order.
    pub const ALL: [Scenario; 12] = [
        Scenario::SpawnJoin,
        Scenario::PingPong,
        Scenario::TimersCancel,
        Scenario::TimersFire,
        Scenario::TcpEcho,
        Scenario::SelectLoop,
        Scenario::UdpPingPong,
        Scenario::UnixEcho,
        Scenario::MutexContention,
        Scenario::Semaphore,
        Scenario::NotifyPingPong,
        Scenario::BroadcastFanout,
    ];

    /// The name used on the command line, in `SCENARIOS` and in the report.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::SpawnJoin => "spawn_join",
            Scenario::PingPong => "ping_pong",
            Scenario::TimersCancel => "timers_cancel",
            Scenario::TimersFire => "timers_fire",
            Scenario::TcpEcho => "tcp_echo",
            Scenario::SelectLoop => "select_loop",
            Scenario::UdpPingPong => "udp_ping_pong",
            Scenario::UnixEcho => "unix_echo",
            Scenario::MutexContention => "mutex_contention",
            Scenario::Semaphore => "semaphore",
            Scenario::NotifyPingPong => "notify_ping_pong",
            Scenario::BroadcastFanout => "broadcast_fanout",
        }
    }

    /// The synchronisation rows (`sync_on_eddy`, `sync_on_tokio`).
    pub fn is_sync(self) -> bool {
        matches!(
            self,
            Scenario::MutexContention
                | Scenario::Semaphore
                | Scenario::NotifyPingPong
                | Scenario::BroadcastFanout
        )
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Scenario {
    type Err = String;
    fn from_str(name: &str) -> Result<Scenario, String> {
        Scenario::ALL.into_iter().find(|s| s.name() == name).ok_or_else(|| {
            let known: Vec<_> = Scenario::ALL.iter().map(|s| s.name()).collect();
            format!("unknown scenario {name:?} (known: {})", known.join(", "))
        })
    }
}

/// A runtime under test. Each is single-threaded: one event loop on the
/// thread that calls `block_on`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Runtime {
    /// `eddy::Builder::new().build()`: one loop, the default.
    Eddy,
    /// `tokio::runtime::Builder::new_current_thread().enable_all()`.
    Tokio,
    /// `async_executor::LocalExecutor` driven by `async_io::block_on`.
    Smol,
}

impl Runtime {
    /// Every runtime, in column order (eddy and tokio first: their ratio is
    /// the headline).
    pub const ALL: [Runtime; 3] = [Runtime::Eddy, Runtime::Tokio, Runtime::Smol];

    /// The name used on the command line, in `RUNTIMES` and in the report.
    pub fn name(self) -> &'static str {
        match self {
            Runtime::Eddy => "eddy",
            Runtime::Tokio => "tokio",
            Runtime::Smol => "smol",
        }
    }

    /// Whether this runtime can run `scenario` meaningfully. smol has no
    /// paused clock: `async-io`'s `Timer` always reads the OS clock, so
    /// `timers_fire` would take a real second of waiting and measure
    /// sleeping, not timer processing. Nor has it a `select!` macro
    /// (`futures-lite` offers only the two-way `or`), so no `select_loop`.
    ///
    /// The synchronisation rows compare eddy with tokio only: smol's
    /// equivalents live in further crates (`async-lock`, `event-listener`,
    /// `async-broadcast`) that the benchmark does not pull in.
    pub fn supports(self, scenario: Scenario) -> bool {
        self != Runtime::Smol
            || !(matches!(scenario, Scenario::TimersFire | Scenario::SelectLoop)
                || udp_or_unix(scenario)
                || scenario.is_sync())
    }

    /// Runs `scenario` once on a fresh runtime of this kind and returns what
    /// the measured part cost and produced.
    pub fn run(self, scenario: Scenario, sizes: &Sizes) -> (Sample, Outcome) {
        if udp_or_unix(scenario) {
            return udp_unix::run(self, scenario, sizes);
        }
        match self {
            Runtime::Eddy => on_eddy::run(scenario, sizes),
            Runtime::Tokio => on_tokio::run(scenario, sizes),
            Runtime::Smol => on_smol::run(scenario, sizes),
        }
    }
}

/// The scenarios of `udp_unix.rs`, run against tokio only (smol's would
/// need writing, and the comparison asked for is with tokio).
fn udp_or_unix(scenario: Scenario) -> bool {
    matches!(scenario, Scenario::UdpPingPong | Scenario::UnixEcho)
}

impl fmt::Display for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Runtime {
    type Err = String;
    fn from_str(name: &str) -> Result<Runtime, String> {
        Runtime::ALL.into_iter().find(|r| r.name() == name).ok_or_else(|| {
            let known: Vec<_> = Runtime::ALL.iter().map(|r| r.name()).collect();
            format!("unknown runtime {name:?} (known: {})", known.join(", "))
        })
    }
}

/// What a scenario produced: a count and a checksum, whose meaning depends
/// on the scenario (see [`Sizes::expected`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Tasks joined, messages delivered, timers armed, or bytes echoed.
    pub count: u64,
    /// A sum over the values that went through, so that a runtime that
    /// delivered the right number of wrong values is caught too.
    pub sum: u64,
}

/// How big each scenario is.
#[derive(Clone, Copy, Debug)]
pub struct Sizes {
    /// `spawn_join`: tasks spawned and joined.
    pub spawn_tasks: u64,
    /// `ping_pong`: messages sent, both directions together.
    pub ping_pong_messages: u64,
    /// `timers_cancel`: sleeps armed and cancelled.
    pub cancel_timers: u64,
    /// `timers_fire`: sleeping tasks.
    pub fire_tasks: u64,
    /// `tcp_echo`: concurrent client connections.
    pub echo_clients: usize,
    /// `tcp_echo`: bytes echoed per run, all clients together.
    pub echo_bytes: u64,
    /// `select_loop`: messages received, both channels together.
    pub select_messages: u64,
    /// `udp_ping_pong`: round trips (two datagrams each).
    pub udp_round_trips: u64,
    /// `mutex_contention` and `semaphore`: locks (acquires) per task.
    pub sync_ops_per_task: u64,
    /// `notify_ping_pong`: notifications, both directions together.
    pub notify_messages: u64,
    /// `broadcast_fanout`: values sent (each reaches every receiver).
    pub fanout_values: u64,
}

/// `select_loop`: capacity of each of the two channels. Large enough that
/// the producers rarely wait, so most `select!` calls find a branch ready
/// at once and the row measures `select!` itself more than wakeups
/// (`ping_pong` measures those).
pub const SELECT_CAPACITY: usize = 128;

/// `mutex_contention`: tasks contending for the lock.
pub const MUTEX_TASKS: u64 = 8;
/// `semaphore`: tasks contending for the permits.
pub const SEMAPHORE_TASKS: u64 = 8;
/// `semaphore`: permits; half the tasks hold one at any time.
pub const SEMAPHORE_PERMITS: usize = 4;
/// `broadcast_fanout`: receiving tasks.
pub const FANOUT_RECEIVERS: u64 = 100;
/// `broadcast_fanout`: the channel's capacity. The sender sends
/// `FANOUT_BURST` values, then yields so the receivers drain them: no
/// receiver ever lags (a lag fails the checksum).
pub const FANOUT_CAPACITY: usize = 64;
/// `broadcast_fanout`: values per burst (half the capacity).
pub const FANOUT_BURST: u64 = 32;

/// `tcp_echo`: bytes per write, and the read buffer size on both sides.
pub const ECHO_CHUNK: usize = 16 * 1024;

/// `timers_fire`: the longest sleep, which is also how far the paused clock
/// must have moved when every task is done.
pub const FIRE_SPAN: Duration = Duration::from_millis(1000);

impl Sizes {
    /// The sizes the brief asks for.
    pub const FULL: Sizes = Sizes {
        spawn_tasks: 100_000,
        ping_pong_messages: 1_000_000,
        cancel_timers: 1_000_000,
        fire_tasks: 100_000,
        echo_clients: 64,
        echo_bytes: 64 << 20,
        select_messages: 1_000_000,
        udp_round_trips: 100_000,
        sync_ops_per_task: 100_000,
        notify_messages: 1_000_000,
        fanout_values: 10_000,
    };

    /// A tenth of that, for a smoke test (`QUICK=1`).
    pub const QUICK: Sizes = Sizes {
        spawn_tasks: 10_000,
        ping_pong_messages: 100_000,
        cancel_timers: 100_000,
        fire_tasks: 10_000,
        echo_clients: 16,
        echo_bytes: 4 << 20,
        select_messages: 100_000,
        udp_round_trips: 10_000,
        sync_ops_per_task: 10_000,
        notify_messages: 100_000,
        fanout_values: 1_000,
    };

    /// `QUICK` if the environment has `QUICK` set to anything but `0` or
    /// empty, else `FULL`. Parent and child processes both call this, and
    /// the child inherits the parent's environment, so they agree.
    pub fn from_env() -> Sizes {
        if quick_from_env() {
            Sizes::QUICK
        } else {
            Sizes::FULL
        }
    }

    /// What one run of `scenario` must produce.
    pub fn expected(&self, scenario: Scenario) -> Outcome {
        let triangle = |n: u64| n * n.saturating_sub(1) / 2; // 0 + 1 + ... + (n - 1)
        match scenario {
            // Task i returns i.
            Scenario::SpawnJoin => Outcome { count: self.spawn_tasks, sum: triangle(self.spawn_tasks) },
            // The pinger sends i, the ponger answers i + 1; the pinger sums
            // the answers.
            Scenario::PingPong => {
                let rounds = self.ping_pong_messages / 2;
                Outcome { count: rounds * 2, sum: triangle(rounds) + rounds }
            }
            // Every sleep was still pending after its first poll; sum unused.
            Scenario::TimersCancel => Outcome { count: self.cancel_timers, sum: 0 },
            // Task i sleeps, then returns i.
            Scenario::TimersFire => Outcome { count: self.fire_tasks, sum: triangle(self.fire_tasks) },
            // Bytes that came back to the clients (and matched what they
            // sent), and bytes the server wrote.
            Scenario::TcpEcho => Outcome { count: self.echo_bytes, sum: self.echo_bytes },
            // The producers send 0..N between them; the receiver sums them.
            Scenario::SelectLoop => {
                Outcome { count: self.select_messages, sum: triangle(self.select_messages) }
            }
            // The client sends i and sums the answers i + 1.
            Scenario::UdpPingPong => Outcome {
                count: self.udp_round_trips,
                sum: triangle(self.udp_round_trips) + self.udp_round_trips,
            },
            Scenario::UnixEcho => Outcome { count: self.echo_bytes, sum: self.echo_bytes },
            // Locks taken, and the counter they protect.
            Scenario::MutexContention => {
                let locks = MUTEX_TASKS * self.sync_ops_per_task;
                Outcome { count: locks, sum: locks }
            }
            // Acquires, and the most permits ever held at once.
            Scenario::Semaphore => {
                Outcome { count: SEMAPHORE_TASKS * self.sync_ops_per_task, sum: SEMAPHORE_PERMITS as u64 }
            }
            // Notifications received by both sides; sum unused.
            Scenario::NotifyPingPong => Outcome { count: self.notify_messages, sum: 0 },
            // Deliveries (values x receivers) and the sum of what arrived.
            Scenario::BroadcastFanout => Outcome {
                count: self.fanout_values * FANOUT_RECEIVERS,
                sum: triangle(self.fanout_values) * FANOUT_RECEIVERS,
            },
        }
    }

    /// A few words for the report's "size" column.
    pub fn describe(&self, scenario: Scenario) -> String {
        let k = |n: u64| match n {
            n if n >= 1_000_000 && n.is_multiple_of(1_000_000) => format!("{}M", n / 1_000_000),
            n if n >= 1000 && n.is_multiple_of(1000) => format!("{}k", n / 1000),
            n => n.to_string(),
        };
        match scenario {
            Scenario::SpawnJoin => format!("{} tasks", k(self.spawn_tasks)),
            Scenario::PingPong => format!("{} messages", k(self.ping_pong_messages)),
            Scenario::TimersCancel => format!("{} timers", k(self.cancel_timers)),
            Scenario::TimersFire => format!("{} tasks, paused clock", k(self.fire_tasks)),
            Scenario::TcpEcho | Scenario::UnixEcho => {
                format!("{} clients, {} MiB", self.echo_clients, self.echo_bytes >> 20)
            }
            Scenario::SelectLoop => format!("{} messages, 2 channels", k(self.select_messages)),
            Scenario::UdpPingPong => format!("{} round trips", k(self.udp_round_trips)),
            Scenario::MutexContention => format!("{MUTEX_TASKS} tasks x {} locks", k(self.sync_ops_per_task)),
            Scenario::Semaphore => format!(
                "{SEMAPHORE_TASKS} tasks x {}, {SEMAPHORE_PERMITS} permits",
                k(self.sync_ops_per_task)
            ),
            Scenario::NotifyPingPong => format!("{} notifications", k(self.notify_messages)),
            Scenario::BroadcastFanout => {
                format!("{} values x {FANOUT_RECEIVERS} receivers", k(self.fanout_values))
            }
        }
    }

    /// `tcp_echo`: chunks each client writes and reads back.
    pub fn echo_chunks_per_client(&self) -> u64 {
        self.echo_bytes / self.echo_clients as u64 / ECHO_CHUNK as u64
    }
}

/// Whether `QUICK` asks for the small sizes.
pub fn quick_from_env() -> bool {
    std::env::var("QUICK").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// `timers_cancel`: how far ahead sleep `i` of `n` is due. Deadlines are
/// spread evenly over 1..1000 s and all differ, so the wheel files them
/// across many slots and levels instead of piling them into one list.
pub fn cancel_delay(i: u64, n: u64) -> Duration {
    const SPREAD_NANOS: u64 = 999_000_000_000;
    Duration::from_secs(1) + Duration::from_nanos(SPREAD_NANOS / n.max(1) * i)
}

/// `timers_fire`: how long task `i` sleeps.
pub fn fire_delay(i: u64) -> Duration {
    Duration::from_millis(1 + i % FIRE_SPAN.as_millis() as u64)
}

/// `timers_fire`: panics unless the paused clock moved by exactly the
/// longest sleep (give or take the 1 ms timer resolution). Less would mean a
/// sleep finished early; much more, that the clock was not paused after all.
pub fn check_virtual_elapsed(runtime: Runtime, elapsed: Duration) {
    assert!(
        elapsed >= FIRE_SPAN && elapsed <= FIRE_SPAN + Duration::from_millis(2),
        "{runtime} timers_fire: the paused clock moved {elapsed:?}, expected {FIRE_SPAN:?}"
    );
}

/// `tcp_echo`: the byte client `client` fills chunk `chunk` with. It varies
/// per client and chunk, so a chunk delivered to the wrong client, or
/// echoed twice, does not match.
pub fn echo_pattern(client: usize, chunk: u64) -> u8 {
    ((client as u64 * 64 + chunk) % 251) as u8
}
