//! The stall watchdog: a poll that blocks its loop is reported *while* it
//! blocks (the monitor thread sees it from outside), and again when it
//! ends, with the total.
//!
//! These two tests block a loop for real (`std::thread::sleep` inside a
//! task): a stall is the point. Everything else about time uses the loop.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// Set by the stalling task while it is inside its poll.
static INSIDE_THE_POLL: AtomicBool = AtomicBool::new(false);

/// Every warning, with whether the stalling task was inside its poll when
/// it was logged.
static LINES: Mutex<Vec<(String, bool)>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Warn
    }
    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            let inside = INSIDE_THE_POLL.load(Ordering::SeqCst);
            LINES.lock().unwrap().push((record.args().to_string(), inside));
        }
    }
    fn flush(&self) {}
}

fn capture_logs() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        log::set_boxed_logger(Box::new(Capture)).unwrap();
        log::set_max_level(log::LevelFilter::Warn);
    });
}

fn lines_mentioning(needle: &str) -> Vec<(String, bool)> {
    LINES.lock().unwrap().iter().filter(|(line, _)| line.contains(needle)).cloned().collect()
}

/// Parses a `Duration`'s `Debug` text such as `300.1ms` or `1.2s`, in ms.
fn millis(text: &str) -> f64 {
    let text = text.trim();
    let (number, scale) = if let Some(ms) = text.strip_suffix("ms") {
        (ms, 1.0)
    } else if let Some(us) = text.strip_suffix("µs") {
        (us, 0.001)
    } else if let Some(s) = text.strip_suffix('s') {
        (s, 1000.0)
    } else {
        panic!("not a duration: {text}")
    };
    number.parse::<f64>().unwrap() * scale
}

/// Blocks its loop for 300 ms inside one poll, flagging the time inside.
async fn stall_300ms() {
    INSIDE_THE_POLL.store(true, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(300)); // blocks the loop
    INSIDE_THE_POLL.store(false, Ordering::SeqCst);
}

#[test]
fn a_stall_is_reported_while_it_happens_and_again_when_it_ends() {
    capture_logs();
    let runtime = eddy::Builder::new().stall_watchdog(Duration::from_millis(100)).build().unwrap();
    runtime.block_on(async { eddy::task::spawn_named("staller", stall_300ms()).await.unwrap() });
    let lines = lines_mentioning("'staller'");
    assert_eq!(lines.len(), 2, "{lines:?}");

    let (during, inside) = &lines[0];
    assert!(*inside, "the first warning came while the task was still inside its poll: {during}");
    assert!(during.starts_with("stall:") && during.contains("still is"), "{during}");
    assert!(during.contains("tests/watchdog.rs"), "names the spawn site: {during}");
    assert!(during.contains("on loop"), "names the loop: {during}");
    // Polls are not timed outside debug mode: "so far" is a lower bound,
    // and it is past the threshold (that is when the monitor speaks).
    let so_far = during.split(" for at least ").nth(1).and_then(|rest| rest.split(" in one poll").next());
    assert!(millis(so_far.unwrap()) >= 100.0, "{during}");

    let (after, inside) = &lines[1];
    assert!(!*inside, "{after}");
    assert!(after.contains("the stall the watchdog reported is over"), "{after}");
    // "took between 280ms and 305ms": a range that holds the true 300 ms.
    let range =
        after.split(" took between ").nth(1).and_then(|rest| rest.split(" in one poll").next()).unwrap();
    let (low, high) = range.split_once(" and ").unwrap();
    assert!(millis(low) <= millis(high) && millis(high) >= 300.0 && millis(low) > 100.0, "{after}");
}

#[test]
fn in_debug_mode_the_stall_is_timed_exactly_and_not_warned_about_twice() {
    capture_logs();
    let runtime = eddy::Builder::new().debug(true).build().unwrap(); // watchdog on at 100 ms
    runtime.block_on(async { eddy::task::spawn_named("debug-staller", stall_300ms()).await.unwrap() });
    let lines = lines_mentioning("'debug-staller'");
    // The stall while it happens, and its end; not also a slow-poll warning.
    assert_eq!(lines.len(), 2, "{lines:?}");
    let (during, inside) = &lines[0];
    assert!(*inside && during.starts_with("stall:") && !during.contains("at least"), "{during}");
    let (after, _) = &lines[1];
    let total = after.split(" took ").nth(1).and_then(|rest| rest.split(" in one poll").next()).unwrap();
    assert!(millis(total) >= 300.0, "the whole poll, timed: {after}");
}

#[test]
fn the_end_of_a_stall_dumps_the_flight_recorder_when_asked() {
    capture_logs();
    let dir = std::env::temp_dir().join(format!("eddy-watchdog-dump-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let runtime =
        eddy::Builder::new().stall_watchdog(Duration::from_millis(50)).trace_dump_dir(&dir).build().unwrap();
    runtime.block_on(async {
        eddy::task::spawn_named("dumped-staller", async { std::thread::sleep(Duration::from_millis(150)) })
            .await
            .unwrap()
    });
    drop(runtime);
    let dumped: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|entry| entry.unwrap().path()).collect();
    assert_eq!(dumped.len(), 1, "{dumped:?}");
    let name = dumped[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("eddy-trace-loop0-") && name.ends_with("-stall.json"), "{name}");
    // The stalled poll is in it, whole: the task's slice by its name.
    let json = std::fs::read_to_string(&dumped[0]).unwrap();
    assert!(json.contains("dumped-staller"), "{json}");
    std::fs::remove_dir_all(&dir).unwrap();

    // And not when turned off.
    let quiet = std::env::temp_dir().join(format!("eddy-watchdog-nodump-{}", std::process::id()));
    std::fs::create_dir_all(&quiet).unwrap();
    let runtime = eddy::Builder::new()
        .stall_watchdog(Duration::from_millis(50))
        .trace_dump_dir(&quiet)
        .trace_dump_on_stall(false)
        .build()
        .unwrap();
    runtime.block_on(async {
        eddy::task::spawn_named("undumped-staller", async { std::thread::sleep(Duration::from_millis(150)) })
            .await
            .unwrap()
    });
    drop(runtime);
    assert_eq!(std::fs::read_dir(&quiet).unwrap().count(), 0);
    std::fs::remove_dir_all(&quiet).unwrap();
}

#[test]
fn a_stall_on_a_worker_loop_names_that_loop_and_short_polls_are_never_reported() {
    capture_logs();
    let runtime = eddy::Builder::new().workers(2).stall_watchdog(Duration::from_millis(50)).build().unwrap();
    let worker = runtime.handles()[1].clone();
    let loop_id = worker.loop_id();
    runtime.block_on(async move {
        // Many quick polls, well under the threshold: no report.
        worker
            .spawn(async {
                eddy::task::spawn_named("quick", async {
                    for _ in 0..100 {
                        eddy::task::yield_now().await;
                    }
                })
                .await
                .unwrap();
                eddy::task::spawn_named("worker-staller", async {
                    std::thread::sleep(Duration::from_millis(150));
                })
                .await
                .unwrap();
            })
            .await
            .unwrap();
    });
    assert!(lines_mentioning("'quick'").is_empty());
    let lines = lines_mentioning("'worker-staller'");
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].0.contains(&format!("on loop {loop_id} ")), "{lines:?}");
}
