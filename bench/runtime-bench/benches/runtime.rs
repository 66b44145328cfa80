//! eddy's runtime benchmark: twelve scenarios (the runtime, `select!`, UDP
//! and Unix sockets, and four of `sync`) on three single-threaded runtimes
//! (eddy, tokio current-thread, smol `LocalExecutor`; smol skips
//! `timers_fire`, `select_loop`, UDP/Unix and the `sync` rows).
//!
//! ```text
//! cargo bench --manifest-path bench/Cargo.toml -p runtime-bench
//! ROUNDS=3 SCENARIOS=ping_pong,tcp_echo RUNTIMES=eddy,tokio cargo bench ...
//! QUICK=1 cargo bench ...        # small sizes, 2 rounds, no result file
//! ```
//!
//! # How a run is measured
//!
//! The bench binary is a *parent* that never runs a scenario itself. For
//! each round, for each scenario, it runs every runtime once, in an order
//! rotated by one every round (so a machine that slows down during the
//! benchmark does not always hurt the same runtime), and each of those runs
//! is a *child* process: the same binary started again with
//! `--child SCENARIO RUNTIME`. A process per run, because
//!
//! - runs cannot leak into each other: no allocator state, no grown slabs,
//!   no warm caches from the previous runtime;
//! - tokio's `test-util` (needed for its paused clock) turns on a
//!   process-wide flag the first time any clock is paused, after which every
//!   `tokio::time::Instant::now()` takes a mutex: a `timers_cancel` run in a
//!   process that had already run `timers_fire` would be slowed by that;
//! - smol's reactor is process-global, and is fresh in a new process.
//!
//! The child builds a fresh runtime, runs the scenario once untimed (to
//! fault in the heap: `WARMUP=0` skips it), builds another fresh runtime,
//! and times `block_on` of the scenario with both the wall clock and the
//! process CPU clock. It checks the scenario's outcome (counts and
//! checksums) and exits non-zero, saying why, if a runtime got it wrong;
//! the parent then stops and shows that message. The child prints
//! `RESULT <wall ns> <cpu ns>` for the parent to read.
//!
//! To profile one scenario: `--child ping_pong eddy --repeat 50` runs it 50
//! times in one process (e.g. under `perf record`).

mod scenarios;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Duration;

use runtime_bench::measure::Sample;
use runtime_bench::report::{self, Cell, Machine, Row, Unit};
use runtime_bench::stats::Summary;
use scenarios::{quick_from_env, Runtime, Scenario, Sizes};

/// The command this benchmark is documented to be run with.
const COMMAND: &str = "cargo bench --manifest-path bench/Cargo.toml -p runtime-bench";

/// Environment variables that change what runs, echoed into the report's
/// command line when set.
const KNOBS: [&str; 5] = ["QUICK", "ROUNDS", "SCENARIOS", "RUNTIMES", "WARMUP"];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.iter().position(|arg| arg == "--child") {
        Some(at) => child(&args[at + 1..]),
        None => parent(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("runtime-bench: {message}");
            ExitCode::FAILURE
        }
    }
}

// ----- The parent -----------------------------------------------------------

/// What the environment asks for.
struct Config {
    rounds: usize,
    quick: bool,
    scenarios: Vec<Scenario>,
    runtimes: Vec<Runtime>,
}

impl Config {
    fn from_env() -> Result<Config, String> {
        let quick = quick_from_env();
        let rounds = match std::env::var("ROUNDS") {
            Ok(text) => text
                .parse::<usize>()
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| format!("ROUNDS must be a positive number, not {text:?}"))?,
            // Seven rounds give a median with three runs on either side;
            // two are enough to see that everything works.
            Err(_) if quick => 2,
            Err(_) => 7,
        };
        Ok(Config {
            rounds,
            quick,
            scenarios: list_from_env("SCENARIOS", &Scenario::ALL)?,
            runtimes: list_from_env("RUNTIMES", &Runtime::ALL)?,
        })
    }

    /// The command line that reproduces this run.
    fn command(&self) -> String {
        let mut command = String::new();
        for knob in KNOBS {
            if let Ok(value) = std::env::var(knob) {
                let _ = write!(command, "{knob}={value} ");
            }
        }
        command + COMMAND
    }
}

/// A comma-separated list from `var`, kept in `all`'s order; all of them if
/// unset.
fn list_from_env<T>(var: &str, all: &[T]) -> Result<Vec<T>, String>
where
    T: Copy + PartialEq + std::str::FromStr<Err = String>,
{
    let Ok(text) = std::env::var(var) else { return Ok(all.to_vec()) };
    let wanted = text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::parse)
        .collect::<Result<Vec<T>, String>>()?;
    if wanted.is_empty() {
        return Err(format!("{var} is empty"));
    }
    Ok(all.iter().copied().filter(|item| wanted.contains(item)).collect())
}

fn parent() -> Result<(), String> {
    let config = Config::from_env()?;
    let sizes = Sizes::from_env();
    let machine = Machine::detect();
    let exe = std::env::current_exe().map_err(|e| format!("cannot find my own executable: {e}"))?;
    eprintln!(
        "runtime-bench: {} rounds of {} on {}{}",
        config.rounds,
        config.scenarios.iter().map(|s| s.name()).collect::<Vec<_>>().join(", "),
        config.runtimes.iter().map(|r| r.name()).collect::<Vec<_>>().join(", "),
        if config.quick { " (QUICK sizes)" } else { "" },
    );

    let mut samples: HashMap<(Scenario, Runtime), Vec<Sample>> = HashMap::new();
    let mut log = String::new();
    for round in 0..config.rounds {
        for &scenario in &config.scenarios {
            let mut order: Vec<Runtime> =
                config.runtimes.iter().copied().filter(|r| r.supports(scenario)).collect();
            if order.is_empty() {
                continue;
            }
            let shift = round % order.len();
            order.rotate_left(shift);
            for runtime in order {
                let sample = run_child(&exe, scenario, runtime)?;
                let line = format!(
                    "round {}/{} {scenario} {runtime}: wall {} ms, cpu {} ms",
                    round + 1,
                    config.rounds,
                    report::ms(sample.wall),
                    report::ms(sample.cpu)
                );
                eprintln!("  {line}");
                let _ = writeln!(log, "{line}");
                samples.entry((scenario, runtime)).or_default().push(sample);
            }
        }
    }

    let rows: Vec<Row> = config
        .scenarios
        .iter()
        .map(|&scenario| Row {
            scenario: scenario.name().to_string(),
            size: sizes.describe(scenario),
            unit: match scenario {
                Scenario::TcpEcho | Scenario::UnixEcho => Unit::Throughput { bytes: sizes.echo_bytes },
                _ => Unit::Time,
            },
            cells: Runtime::ALL
                .iter()
                .map(|&runtime| {
                    let runs = samples.get(&(scenario, runtime))?;
                    let wall: Vec<Duration> = runs.iter().map(|s| s.wall).collect();
                    let cpu: Vec<Duration> = runs.iter().map(|s| s.cpu).collect();
                    Some(Cell { wall: Summary::of(&wall)?, cpu: Summary::of(&cpu)? })
                })
                .collect(),
        })
        .collect();
    let columns: Vec<&str> = Runtime::ALL.iter().map(|r| r.name()).collect();
    let mut text = report::tables(&columns, (0, 1), &rows);
    text.push_str(
        "\nLast column: eddy's median over tokio's, of times (for tcp_echo and unix_echo, tokio's MB/s over \
         eddy's): below 1 means eddy is faster. smol has no timers_fire figure: async-io's \
         timers always follow the OS clock, so there is no paused clock to run it on; nor a \
         select_loop figure: smol has no select! macro; nor figures for the sync rows \
         (mutex_contention, semaphore, notify_ping_pong, broadcast_fanout): smol's locks and \
         channels of that kind live in crates this benchmark does not pull in.\n",
    );
    println!("\n{text}");

    if config.quick {
        eprintln!("runtime-bench: QUICK run, no result file written");
        return Ok(());
    }
    let command = config.command();
    // The load at the end too: a load that rose during the run means
    // something else started competing for the cores meanwhile.
    let file = format!(
        "# Runtime benchmark, {}\n\n{}- load average at the end: {}\n\n{}\n\
         ## Every run, in the order it ran\n\n```text\n{}```\n",
        machine.date,
        machine.to_markdown(&command),
        report::load_average(),
        text,
        log
    );
    let path = result_path(&machine.stamp)?;
    std::fs::write(&path, file).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    eprintln!("runtime-bench: wrote {}", path.display());
    // The chart beside the table, and again at a stable path for README.
    let svg = report::ratio_chart(&columns, 1, &rows);
    for chart in [path.with_extension("svg"), path.with_file_name("runtime-latest.svg")] {
        std::fs::write(&chart, &svg).map_err(|e| format!("cannot write {}: {e}", chart.display()))?;
    }
    Ok(())
}

/// `bench/results/runtime-YYYYMMDD-HHMM.md`, with `-2`, `-3`... appended if
/// a run in the same minute already took that name.
fn result_path(stamp: &str) -> Result<PathBuf, String> {
    // `bench/results`, beside this crate's directory.
    let manifest_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = manifest_dir.parent().unwrap_or(manifest_dir).join("results");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut path = dir.join(format!("runtime-{stamp}.md"));
    let mut n = 2;
    while path.exists() {
        path = dir.join(format!("runtime-{stamp}-{n}.md"));
        n += 1;
    }
    Ok(path)
}

/// Runs one measurement in a child process and reads its result line.
fn run_child(exe: &std::path::Path, scenario: Scenario, runtime: Runtime) -> Result<Sample, String> {
    let output = Command::new(exe)
        .args(["--child", scenario.name(), runtime.name()])
        .output()
        .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "{scenario} on {runtime} failed ({}):\n{}{}",
            output.status,
            stdout,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    stdout
        .lines()
        .find_map(parse_result)
        .ok_or_else(|| format!("{scenario} on {runtime} printed no RESULT line:\n{stdout}"))
}

/// Parses `RESULT <wall ns> <cpu ns>`.
fn parse_result(line: &str) -> Option<Sample> {
    let mut fields = line.strip_prefix("RESULT ")?.split_whitespace().map(str::parse::<u64>);
    let wall = Duration::from_nanos(fields.next()?.ok()?);
    let cpu = Duration::from_nanos(fields.next()?.ok()?);
    Some(Sample { wall, cpu })
}

// ----- The child ------------------------------------------------------------

/// `--child SCENARIO RUNTIME [--repeat N]`: warm up once, then measure N
/// runs (default 1), each on a fresh runtime, checking every outcome.
fn child(args: &[String]) -> Result<(), String> {
    let usage = "usage: --child SCENARIO RUNTIME [--repeat N]";
    let scenario: Scenario = args.first().ok_or(usage)?.parse()?;
    let runtime: Runtime = args.get(1).ok_or(usage)?.parse()?;
    let repeat = match args.get(2).map(String::as_str) {
        Some("--repeat") => args.get(3).and_then(|n| n.parse::<usize>().ok()).ok_or(usage)?,
        Some(_) => return Err(usage.to_string()),
        None => 1,
    };
    if !runtime.supports(scenario) {
        return Err(format!("{runtime} does not run {scenario}"));
    }
    let sizes = Sizes::from_env();
    let expected = sizes.expected(scenario);
    let warmups = if std::env::var("WARMUP").is_ok_and(|v| v == "0") { 0 } else { 1 };
    for run in 0..warmups + repeat {
        let (sample, outcome) = runtime.run(scenario, &sizes);
        if outcome != expected {
            return Err(format!(
                "{runtime} got {scenario} wrong: produced {outcome:?}, expected {expected:?} \
                 (see Sizes::expected for what the fields mean)"
            ));
        }
        if run >= warmups {
            println!("RESULT {} {}", sample.wall.as_nanos(), sample.cpu.as_nanos());
        }
    }
    Ok(())
}
