//! Nested runtimes: building, dropping or wrongly `block_on`-ing another
//! runtime inside a task leaves the outer loop current and working.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use eddy::time::{sleep, Instant};

/// Proves the calling loop still works: `spawn` finds it, its task runs, a
/// timer on it fires, and it is the loop we started on.
async fn outer_loop_still_works(expected_loop: u32) {
    assert_eq!(
        eddy::Handle::try_current().map(|h| h.loop_id()),
        Some(expected_loop),
        "outer loop is current"
    );
    assert_eq!(eddy::spawn(async { 7 }).await.unwrap(), 7);
    let before = Instant::now();
    sleep(Duration::from_secs(5)).await;
    assert_eq!(Instant::now() - before, Duration::from_secs(5));
}

fn paused() -> eddy::Runtime {
    eddy::Builder::new().start_paused(true).build().unwrap()
}

#[test]
fn dropping_a_runtime_inside_a_task_keeps_the_outer_loop_current() {
    paused().block_on(async {
        let outer = eddy::Handle::current().loop_id();
        drop(eddy::Builder::new().build().unwrap());
        outer_loop_still_works(outer).await;
    });
}

#[test]
fn a_nested_block_on_that_panics_leaves_the_outer_loop_working() {
    paused().block_on(async {
        let outer = eddy::Handle::current().loop_id();
        // The task owns the inner runtime; the refused block_on unwinds
        // through the task and drops the runtime on the way.
        let task = eddy::spawn(async {
            let inner = eddy::Builder::new().build().unwrap();
            inner.block_on(async {});
        });
        let error = task.await.unwrap_err();
        assert!(error.panic_message().unwrap().contains("from inside another one"), "{error}");
        outer_loop_still_works(outer).await;
    });
}

#[test]
fn a_refused_block_on_caught_in_place_leaves_the_outer_loop_current() {
    paused().block_on(async {
        let outer = eddy::Handle::current().loop_id();
        let inner = eddy::Builder::new().build().unwrap();
        let refused = catch_unwind(AssertUnwindSafe(|| inner.block_on(async {})));
        assert!(refused.is_err(), "block_on inside a task must be refused");
        outer_loop_still_works(outer).await;
        drop(inner);
        outer_loop_still_works(outer).await;
    });
}

/// Records which loop was current when it was dropped.
struct RecordLoop(Arc<AtomicU32>);

impl Drop for RecordLoop {
    fn drop(&mut self) {
        let current = eddy::Handle::try_current().map_or(0, |h| h.loop_id());
        self.0.store(current, Ordering::SeqCst);
    }
}

#[test]
fn a_nested_runtime_drops_its_tasks_with_its_own_loop_current() {
    paused().block_on(async {
        let outer = eddy::Handle::current().loop_id();
        let inner = eddy::Builder::new().build().unwrap();
        let inner_id = inner.handle().loop_id();
        let seen = Arc::new(AtomicU32::new(0));
        let probe = RecordLoop(seen.clone());
        // Queued on the inner loop, never run: shutdown drops it.
        let never_run = inner.handle().spawn(async move {
            let _probe = probe;
            std::future::pending::<()>().await;
        });
        drop(inner);
        assert_eq!(seen.load(Ordering::SeqCst), inner_id, "the inner task's destructor ran on its own loop");
        assert!(never_run.await.unwrap_err().is_cancelled());
        outer_loop_still_works(outer).await;
    });
}

/// The general property: whatever nested runtime creation, drop or panic
/// happens inside a task (on loop 0 or on a worker loop), that loop's
/// `spawn` and `sleep` keep working afterwards.
#[test]
fn any_nested_runtime_activity_leaves_the_outer_loop_working() {
    type Nested = fn();
    let activities: [(&str, Nested); 6] = [
        ("build and drop", || drop(eddy::Builder::new().build().unwrap())),
        ("build and drop with workers", || drop(eddy::Builder::new().workers(3).build().unwrap())),
        ("refused block_on, caught", || {
            let inner = eddy::Builder::new().build().unwrap();
            assert!(catch_unwind(AssertUnwindSafe(|| inner.block_on(async {}))).is_err());
        }),
        ("refused eddy::run, caught", || assert!(catch_unwind(|| eddy::run(async {})).is_err())),
        ("drop with queued tasks", || {
            let inner = eddy::Builder::new().workers(2).build().unwrap();
            for handle in inner.handles() {
                drop(handle.spawn(async { sleep(Duration::from_secs(1)).await }));
            }
        }),
        ("two runtimes dropped in reverse order", || {
            let first = eddy::Builder::new().build().unwrap();
            let second = eddy::Builder::new().build().unwrap();
            drop(second);
            drop(first);
        }),
    ];
    let runtime = eddy::Builder::new().workers(2).start_paused(true).build().unwrap();
    let worker = runtime.handles()[1].clone();
    runtime.block_on(async move {
        for (name, activity) in activities {
            // In the task body itself...
            let outer = eddy::Handle::current().loop_id();
            activity();
            outer_loop_still_works(outer).await;
            // ...in a task that panics after it (the unwind drops whatever
            // the activity left behind)...
            let panicked = eddy::spawn(async move {
                let _kept = eddy::Builder::new().build().unwrap();
                activity();
                panic!("after {name}");
            });
            assert!(panicked.await.unwrap_err().is_panic());
            outer_loop_still_works(outer).await;
            // ...and on a worker loop.
            let on_worker = worker
                .spawn(async move {
                    let here = eddy::Handle::current().loop_id();
                    activity();
                    outer_loop_still_works(here).await;
                })
                .await;
            assert!(on_worker.is_ok(), "{name} on a worker loop: {on_worker:?}");
        }
    });
}
