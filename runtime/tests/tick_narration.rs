//! The `trace`-level line each tick logs (`RUST_LOG=eddy=trace`), which
//! `examples/trace_loop.rs` and the `eddy::guide` teach people to read: it
//! must say what really happened. Log lines are captured by a small
//! in-memory logger, each tagged with the thread that logged it; a
//! `block_on` loop runs on its caller's thread, so each test reads only the
//! lines of its own loop.

use std::future::poll_fn;
use std::sync::{Mutex, OnceLock};
use std::task::Poll;
use std::thread::ThreadId;
use std::time::Duration;

static LINES: Mutex<Vec<(ThreadId, String)>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.target().starts_with("eddy")
    }
    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            LINES.lock().unwrap().push((std::thread::current().id(), record.args().to_string()));
        }
    }
    fn flush(&self) {}
}

/// The tick lines logged so far by this thread's loop.
fn tick_lines() -> Vec<String> {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        log::set_boxed_logger(Box::new(Capture)).unwrap();
        log::set_max_level(log::LevelFilter::Trace);
    });
    let me = std::thread::current().id();
    LINES
        .lock()
        .unwrap()
        .iter()
        .filter(|(thread, line)| *thread == me && line.contains(" tick "))
        .map(|(_, line)| line.clone())
        .collect()
}

/// A future that is pending once, hands its waker to a new thread which
/// wakes it from there, and is ready when polled again.
fn woken_from_another_thread() -> impl std::future::Future<Output = ()> {
    let mut waiting = None;
    poll_fn(move |cx| match waiting.take() {
        Some(thread) => {
            std::thread::JoinHandle::join(thread).unwrap();
            Poll::Ready(())
        }
        None => {
            let waker = cx.waker().clone();
            waiting = Some(std::thread::spawn(move || waker.wake()));
            Poll::Pending
        }
    })
}

#[test]
fn a_tick_that_skips_the_park_says_it_did_not_park_instead_of_timing_a_sleep() {
    tick_lines(); // installs the logger before the loop runs
    eddy::run(async {
        eddy::spawn(eddy::task::yield_now()).await.unwrap();
    });
    let lines = tick_lines();
    let skipped: Vec<_> = lines.iter().filter(|line| line.contains("Skip")).collect();
    assert!(!skipped.is_empty(), "a yielding task makes the loop skip the park: {lines:#?}");
    for line in skipped {
        assert!(line.contains("did not park"), "{line}");
        assert!(!line.contains("parked"), "no park happened, so no park time: {line}");
    }
}

#[test]
fn a_tick_that_waits_for_a_timer_says_how_long_it_parked_and_the_next_tick_fires_it() {
    tick_lines();
    eddy::run(eddy::time::sleep(Duration::from_millis(2)));
    let lines = tick_lines();
    let waited = lines.iter().position(|line| line.contains("parked") && line.contains("Wait(Some("));
    let fired = lines.iter().position(|line| line.contains("1 timers fired"));
    assert!(matches!((waited, fired), (Some(w), Some(f)) if w < f), "{lines:#?}");
}

#[test]
fn a_task_woken_from_another_thread_is_counted_as_injected_then_polled() {
    tick_lines();
    eddy::run(async {
        eddy::spawn(woken_from_another_thread()).await.unwrap();
    });
    let lines = tick_lines();
    assert!(lines.iter().any(|line| line.contains("1 injected, 1 polled")), "{lines:#?}");
}

#[test]
fn waking_the_run_future_from_another_thread_injects_nothing_it_is_not_a_task() {
    tick_lines();
    eddy::run(woken_from_another_thread());
    let lines = tick_lines();
    assert!(!lines.is_empty(), "the loop ticked while the future waited");
    for line in &lines {
        assert!(line.contains("0 injected, 0 polled"), "{line}");
    }
}
