//! Getting a trace out: from the runtime, from another thread through a
//! `Handle`, when the runtime drops, and as flight-recorder dumps when a
//! task panics or a poll is slow. Plus the ring's size knob.

mod trace_support;

use std::path::PathBuf;
use std::time::Duration;

/// A fresh, empty directory for one test's files.
fn scratch_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("eddy-trace-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn poll_names(json: &str) -> Vec<String> {
    let checked = trace_support::check(json);
    checked
        .slices
        .values()
        .flatten()
        .filter(|slice| slice.cat == "poll")
        .map(|slice| slice.name.clone())
        .collect()
}

#[test]
fn write_trace_writes_every_loop_on_its_own_track() {
    let dir = scratch_dir("write");
    let runtime = eddy::Builder::new().workers(3).build().unwrap();
    let workers: Vec<_> = runtime.handles()[1..].to_vec();
    runtime.block_on(async move {
        for worker in &workers {
            worker.spawn(async { eddy::task::yield_now().await }).await.unwrap();
        }
    });
    let path = dir.join("trace.json");
    runtime.write_trace(&path).unwrap();
    let checked = trace_support::check(&std::fs::read_to_string(&path).unwrap());
    let mut tracks: Vec<u64> = checked.slices.keys().copied().collect();
    tracks.sort();
    assert_eq!(tracks, [0, 1, 2], "one track per loop, numbered by index");
    let error = runtime.write_trace(dir.join("no/such/dir/trace.json")).unwrap_err();
    assert!(error.to_string().contains("no/such/dir"), "the error names the path: {error}");
}

#[test]
fn a_handle_reads_its_loop_from_another_thread() {
    let runtime = eddy::Builder::new().workers(2).build().unwrap();
    let worker = runtime.handles()[1].clone();
    runtime
        .block_on(worker.spawn(async { eddy::task::spawn_named("on the worker", async {}).await.unwrap() }))
        .unwrap();
    let snapshot = std::thread::spawn(move || worker.trace_snapshot()).join().unwrap().unwrap();
    assert!(poll_names(&snapshot.to_chrome_json()).contains(&"on the worker".to_string()));
}

#[test]
fn loop_zero_without_block_on_is_refused_with_a_reason() {
    let runtime = eddy::Builder::new().build().unwrap();
    let error = runtime.handle().trace_snapshot().unwrap_err();
    assert!(error.to_string().contains("no block_on"), "{error}");
    // The runtime itself reads loop 0 directly.
    assert!(runtime.trace_snapshot().to_chrome_json().contains("traceEvents"));
}

#[test]
fn the_trace_is_written_when_the_runtime_drops() {
    let dir = scratch_dir("drop");
    let path = dir.join("at-drop.json");
    let runtime = eddy::Builder::new().trace_on_drop(&path).build().unwrap();
    runtime.block_on(async { eddy::task::spawn_named("before the drop", async {}).await.unwrap() });
    assert!(!path.exists());
    drop(runtime);
    let json = std::fs::read_to_string(&path).unwrap();
    assert!(poll_names(&json).contains(&"before the drop".to_string()));
}

#[test]
fn a_panicking_task_dumps_the_flight_recorder() {
    let dir = scratch_dir("panic");
    let runtime = eddy::Builder::new().trace_dump_dir(&dir).build().unwrap();
    runtime.block_on(async {
        eddy::task::spawn_named("calm", async {}).await.unwrap();
        let _ = eddy::task::spawn_named("doomed", async { panic!("on purpose") }).await;
    });
    let dump = dir.join("eddy-trace-loop0-1-panic.json");
    let names = poll_names(&std::fs::read_to_string(&dump).unwrap());
    assert!(names.contains(&"calm".to_string()) && names.contains(&"doomed".to_string()));
}

#[test]
fn dumps_are_off_unless_asked_for_and_each_trigger_can_be_turned_off() {
    let dir = scratch_dir("no-dump");
    let runtime = eddy::Builder::new().trace_dump_dir(&dir).trace_dump_on_panic(false).build().unwrap();
    runtime.block_on(async {
        let _ = eddy::spawn(async { panic!("on purpose") }).await;
    });
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
}

#[test]
fn a_slow_poll_in_debug_mode_dumps_the_flight_recorder() {
    let dir = scratch_dir("slow");
    let runtime = eddy::Builder::new()
        .debug(true)
        .slow_poll_threshold(Duration::from_millis(1))
        .trace_dump_dir(&dir)
        .build()
        .unwrap();
    runtime.block_on(async {
        // Blocks the loop on purpose: the slow poll under test.
        eddy::task::spawn_named("hog", async { std::thread::sleep(Duration::from_millis(3)) }).await.unwrap();
    });
    let json = std::fs::read_to_string(dir.join("eddy-trace-loop0-1-slow-poll.json")).unwrap();
    let checked = trace_support::check(&json);
    let hog = checked.slices.values().flatten().find(|slice| slice.name == "hog").unwrap();
    assert!(hog.end - hog.start >= 2000.0, "debug mode times polls: the hog's slice is its real length");
}

#[test]
fn capacity_zero_records_nothing() {
    let runtime = eddy::Builder::new().trace_capacity(0).build().unwrap();
    runtime.block_on(async { eddy::spawn(async {}).await.unwrap() });
    let snapshot = runtime.trace_snapshot();
    assert_eq!(snapshot.event_count(), 0);
    trace_support::check(&snapshot.to_chrome_json());
}

#[test]
fn a_full_ring_keeps_the_newest_events_and_counts_the_rest() {
    // 1 KiB: 64 events.
    let runtime = eddy::Builder::new().trace_capacity(1024).build().unwrap();
    runtime.block_on(async {
        for _ in 0..100 {
            eddy::spawn(async {}).await.unwrap();
        }
        eddy::task::spawn_named("last", async {}).await.unwrap();
    });
    let snapshot = runtime.trace_snapshot();
    assert_eq!(snapshot.event_count(), 64);
    assert!(snapshot.lost_events() > 300);
    assert!(poll_names(&snapshot.to_chrome_json()).contains(&"last".to_string()));
}
