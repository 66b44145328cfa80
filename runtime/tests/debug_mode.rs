//! Debug mode (asyncio's `debug=True`): what it reports, and that it stays
//! quiet when off. Log lines are captured by a small in-memory logger; each
//! test looks only for lines naming its own task.

use std::time::Duration;

mod log_capture;

use log_capture::lines_mentioning;

/// Every test here reads log lines up to this level.
fn capture_logs() {
    log_capture::capture_logs(log::LevelFilter::Debug);
}

/// A debug-mode runtime that calls any poll longer than `slow` slow.
/// (Panicking counts: the panic hook printing a backtrace can take 100 ms.)
fn debug_runtime(slow: Duration) -> eddy::Runtime {
    eddy::Builder::new().debug(true).slow_poll_threshold(slow).build().unwrap()
}

const NEVER_SLOW: Duration = Duration::from_secs(3600);

#[test]
fn a_slow_poll_is_reported_with_the_task_name_and_location() {
    capture_logs();
    debug_runtime(Duration::from_millis(1)).block_on(async {
        eddy::task::spawn_named("hog-1", async {
            std::thread::sleep(Duration::from_millis(3)); // blocks the loop
        })
        .await
        .unwrap();
    });
    let lines = lines_mentioning("'hog-1'");
    assert_eq!(lines.len(), 1, "{lines:?}");
    let (level, line) = &lines[0];
    assert_eq!(*level, log::Level::Warn);
    assert!(line.contains("took") && line.contains("in one poll"), "{line}");
    assert!(line.contains("tests/debug_mode.rs"), "names where it was spawned: {line}");
    assert!(line.contains("spawn_blocking"), "suggests the fix: {line}");
}

#[test]
fn slow_polls_are_not_reported_outside_debug_mode() {
    capture_logs();
    let runtime =
        eddy::Builder::new().debug(false).slow_poll_threshold(Duration::from_millis(1)).build().unwrap();
    runtime.block_on(async {
        eddy::task::spawn_named("hog-2", async { std::thread::sleep(Duration::from_millis(3)) })
            .await
            .unwrap();
    });
    assert!(lines_mentioning("'hog-2'").is_empty());
}

/// The shutdown listing is a task dump (see `task_dump.rs`): one table.
/// `pending()` never stores its waker, so debug mode also warned, right
/// after its first poll, that nothing can ever wake it.
#[test]
fn tasks_still_pending_at_shutdown_are_listed() {
    capture_logs();
    let runtime = debug_runtime(NEVER_SLOW);
    runtime.block_on(async {
        eddy::task::spawn_named("forever-3", std::future::pending::<()>());
        eddy::task::yield_now().await;
    });
    drop(runtime);
    let lines = lines_mentioning("'forever-3'");
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].1.starts_with("lost wakeup") && lines[0].1.contains("debug_mode.rs"), "{lines:?}");
    assert!(lines[1].1.contains("still pending when its runtime shut down"), "{lines:?}");
    assert!(lines[1].1.contains("nobody: lost wakeup"), "{lines:?}");
}

#[test]
fn a_panic_nobody_awaited_is_reported() {
    capture_logs();
    debug_runtime(NEVER_SLOW).block_on(async {
        drop(eddy::task::spawn_named("orphan-4", async { panic!("nobody listens") }));
        eddy::task::yield_now().await;
    });
    let lines = lines_mentioning("'orphan-4'");
    assert_eq!(lines.len(), 1, "{lines:?}");
    let (level, line) = &lines[0];
    assert_eq!(*level, log::Level::Error);
    assert!(line.contains("nobody listens") && line.contains("dropped without being awaited"), "{line}");
}

#[test]
fn a_panic_whose_handle_is_dropped_after_completion_is_reported_too() {
    capture_logs();
    debug_runtime(NEVER_SLOW).block_on(async {
        let handle = eddy::task::spawn_named("orphan-5", async { panic!("late drop") });
        eddy::task::yield_now().await;
        assert!(handle.is_finished());
        drop(handle);
    });
    assert_eq!(lines_mentioning("'orphan-5'").len(), 1);
}

#[test]
fn an_awaited_panic_is_not_reported_as_unobserved() {
    capture_logs();
    debug_runtime(NEVER_SLOW).block_on(async {
        let error = eddy::task::spawn_named("observed-6", async { panic!("seen") }).await.unwrap_err();
        assert!(error.is_panic());
    });
    assert!(lines_mentioning("'observed-6'").is_empty());
}

#[test]
fn a_slow_poll_of_the_block_on_future_is_reported_as_main_with_its_call_site() {
    capture_logs();
    let runtime = debug_runtime(Duration::from_millis(1));
    let call_site = format!("block_on at {}:{}:", file!(), line!() + 1);
    runtime.block_on(async { std::thread::sleep(Duration::from_millis(3)) });
    let lines = lines_mentioning(&call_site);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let (level, line) = &lines[0];
    assert_eq!(*level, log::Level::Warn);
    assert!(line.starts_with("main "), "named main: {line}");
    assert!(line.contains("took") && line.contains("in one poll"), "{line}");
}

#[test]
fn a_fast_block_on_future_is_not_reported() {
    capture_logs();
    let runtime = debug_runtime(NEVER_SLOW);
    let call_site = format!("block_on at {}:{}:", file!(), line!() + 1);
    runtime.block_on(async { eddy::task::yield_now().await });
    assert!(lines_mentioning(&call_site).is_empty());
}

/// `eddy::run` with `EDDY_DEBUG=1` names the line that called `eddy::run`,
/// at the default threshold (100 ms). In a child process, because the
/// environment is process-wide.
#[test]
fn eddy_run_in_debug_mode_reports_a_slow_main_future_at_the_run_call_site() {
    const CHILD: &str = "EDDY_TEST_SLOW_MAIN_CHILD";
    if std::env::var_os(CHILD).is_some() {
        capture_logs();
        let call_site = format!("block_on at {}:{}:", file!(), line!() + 1);
        eddy::run(async { std::thread::sleep(Duration::from_millis(120)) });
        let lines = lines_mentioning(&call_site);
        // The poll's end is reported once, naming `main`; debug mode's stall
        // watchdog (100 ms) may also have caught it while it ran.
        let reported_once = |lines: Vec<(log::Level, String)>| {
            let Some(((_, last), during)) = lines.split_last() else { panic!("{:?}", lines_mentioning("")) };
            assert!(last.starts_with("main ") && last.contains("in one poll"), "{lines:?}");
            assert!(
                during.len() <= 1 && during.iter().all(|(_, line)| line.starts_with("stall: main")),
                "{lines:?}"
            );
        };
        reported_once(lines);
        // The test toolkit's entry points name their caller the same way
        // (the paused clock does not pause the slow-poll watch).
        let call_site = format!("block_on at {}:{}:", file!(), line!() + 1);
        eddy::test::run(async { std::thread::sleep(Duration::from_millis(120)) });
        reported_once(lines_mentioning(&call_site));
        let call_site = format!("block_on at {}:{}:", file!(), line!() + 1);
        eddy::test::run_with_seed(7, async { std::thread::sleep(Duration::from_millis(120)) });
        reported_once(lines_mentioning(&call_site));
        return;
    }
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["eddy_run_in_debug_mode_reports_a_slow_main_future_at_the_run_call_site", "--exact"])
        .env(CHILD, "1")
        .env("EDDY_DEBUG", "1")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "child failed:\n{text}");
    assert!(text.contains("1 passed"), "the child ran the check:\n{text}");
}
