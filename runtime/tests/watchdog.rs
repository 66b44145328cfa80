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

#[test]
fn a_stall_is_reported_while_it_happens_and_again_when_it_ends() {
    capture_logs();
    let runtime = eddy::Builder::new().stall_watchdog(Duration::from_millis(100)).build().unwrap();
    runtime.block_on(async {
        eddy::task::spawn_named("staller", async {
            INSIDE_THE_POLL.store(true, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(300)); // blocks the loop
            INSIDE_THE_POLL.store(false, Ordering::SeqCst);
        })
        .await
        .unwrap();
    });
    let lines = lines_mentioning("'staller'");
    assert_eq!(lines.len(), 2, "{lines:?}");

    let (during, inside) = &lines[0];
    assert!(*inside, "the first warning came while the task was still inside its poll: {during}");
    assert!(during.starts_with("stall:") && during.contains("still is"), "{during}");
    assert!(during.contains("tests/watchdog.rs"), "names the spawn site: {during}");
    assert!(during.contains("on loop"), "names the loop: {during}");

    let (after, inside) = &lines[1];
    assert!(!*inside, "{after}");
    assert!(after.contains("the stall the watchdog reported is over"), "{after}");
    // "took 300.1ms in one poll": the total is the whole poll.
    let total = after.split(" took ").nth(1).and_then(|rest| rest.split("ms").next()).unwrap();
    assert!(total.parse::<f64>().unwrap() >= 300.0, "{after}");
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
