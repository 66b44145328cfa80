//! Loop 0 runs only inside `block_on`: `workers(1)` starts no thread; a
//! task sent to loop 0 from outside waits for the next `block_on` (with a
//! warning the first time), or is cancelled when the runtime drops. Such a
//! task always ends one way or the other: it never hangs in silence.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// Captures log records whose message contains "no Runtime::block_on is
/// running" (the logger is process-wide; other tests' records are ignored).
struct Capture(Mutex<Vec<String>>);

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, record: &log::Record) {
        let message = record.args().to_string();
        if message.contains("no Runtime::block_on is running") {
            self.0.lock().unwrap().push(format!("{}: {message}", record.level()));
        }
    }
    fn flush(&self) {}
}

static CAPTURE: Capture = Capture(Mutex::new(Vec::new()));

/// Installs the capturing logger (once per process). Each test calls it
/// before it does anything that may warn: a warning logged before the
/// logger exists is lost, whichever test happens to run first.
fn capture_warnings() {
    let _ = log::set_logger(&CAPTURE).map(|()| log::set_max_level(log::LevelFilter::Warn));
}

/// The warnings captured so far for loop `loop_id`.
fn warnings_for(loop_id: u32) -> Vec<String> {
    let needle = format!("onto loop {loop_id} ");
    CAPTURE.0.lock().unwrap().iter().filter(|m| m.contains(&needle)).cloned().collect()
}

#[test]
fn workers_1_runs_loop_0_on_the_block_on_thread_and_starts_no_other() {
    let runtime = eddy::Builder::new().workers(1).build().unwrap();
    assert_eq!(runtime.handles().len(), 1);
    let here = thread::current().id();
    let ran_on = runtime.block_on(runtime.handles()[0].spawn(async { thread::current().id() })).unwrap();
    assert_eq!(ran_on, here);
}

#[test]
fn a_task_spawned_onto_loop_0_outside_block_on_runs_when_block_on_next_runs() {
    capture_warnings();
    let runtime = eddy::Builder::new().workers(1).build().unwrap();
    let loop_id = runtime.handle().loop_id();
    let ran = Arc::new(AtomicBool::new(false));
    let flag = ran.clone();
    let task = runtime.handles()[0].spawn(async move { flag.store(true, Ordering::SeqCst) });
    assert!(!ran.load(Ordering::SeqCst), "nothing drives loop 0 outside block_on");
    let warnings = warnings_for(loop_id);
    assert_eq!(warnings.len(), 1, "one warning says why the task waits: {warnings:?}");
    assert!(warnings[0].starts_with("WARN") && warnings[0].contains("workers(2)"), "{}", warnings[0]);
    runtime.block_on(task).unwrap();
    assert!(ran.load(Ordering::SeqCst));
    // Said once per runtime, and not at all while block_on runs.
    drop(runtime.handles()[0].spawn(async {}));
    let handle = runtime.handle().clone();
    runtime.block_on(async move { handle.spawn(async {}).await.unwrap() });
    assert_eq!(warnings_for(loop_id).len(), 1);
}

#[test]
fn a_spawn_onto_loop_0_from_another_thread_during_block_on_runs_without_a_warning() {
    capture_warnings();
    let runtime = eddy::Builder::new().build().unwrap();
    let loop_id = runtime.handle().loop_id();
    let handle = runtime.handle().clone();
    let answer = runtime.block_on(async move {
        let from_thread = thread::spawn(move || handle.spawn(async { 42 })).join().unwrap();
        from_thread.await.unwrap()
    });
    assert_eq!(answer, 42);
    assert!(warnings_for(loop_id).is_empty());
}

/// The general property: a task spawned through any handle of a runtime
/// from outside it ends, whatever happens next: it runs (on a worker at
/// once, on loop 0 at the next `block_on`) or, if the runtime is dropped
/// first, reports cancellation. Its `JoinHandle` never waits forever.
#[test]
fn a_task_spawned_from_outside_onto_any_loop_runs_or_is_cancelled() {
    for then_block_on in [true, false] {
        let runtime = eddy::Builder::new().workers(3).build().unwrap();
        let handles: Vec<_> = runtime.handles().iter().map(|h| h.spawn(async { 1 })).collect();
        if then_block_on {
            let results = runtime.block_on(async move {
                let mut results = Vec::new();
                for handle in handles {
                    results.push(handle.await.unwrap());
                }
                results
            });
            assert_eq!(results, [1, 1, 1]);
        } else {
            drop(runtime);
            // Awaited on another runtime: each result is there already.
            let results = eddy::test::run(async move {
                let mut results = Vec::new();
                for handle in handles {
                    let result = eddy::time::timeout(Duration::from_secs(3600), handle).await;
                    results.push(result.expect("a JoinHandle outlived its runtime without an answer"));
                }
                results
            });
            // Workers ran theirs at once (or cancelled at shutdown); loop 0's never ran.
            assert!(results[0].as_ref().unwrap_err().is_cancelled());
            for result in &results[1..] {
                assert!(matches!(result, Ok(1)) || result.as_ref().unwrap_err().is_cancelled(), "{result:?}");
            }
        }
    }
}
