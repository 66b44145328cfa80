//! Several independent loops: one per thread, tasks stay where they were
//! spawned, handles reach across.

use std::collections::HashSet;
use std::rc::Rc;
use std::thread::ThreadId;

#[test]
fn two_workers_run_tasks_on_two_threads() {
    let runtime = eddy::Builder::new().workers(2).build().unwrap();
    assert_eq!(runtime.handles().len(), 2);
    let ids: Vec<ThreadId> = runtime.block_on(async {
        let mut ids = Vec::new();
        for handle in runtime.handles() {
            ids.push(handle.spawn(async { std::thread::current().id() }).await.unwrap());
        }
        ids
    });
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 2, "two loops, two threads: {ids:?}");
    assert_eq!(ids[0], std::thread::current().id(), "loop 0 is driven by block_on's thread");
}

#[test]
fn a_task_stays_on_the_loop_that_spawned_it() {
    let runtime = eddy::Builder::new().workers(2).build().unwrap();
    let worker = runtime.handles()[1].clone();
    let stayed = runtime.block_on(async move {
        worker
            .spawn(async {
                let home = std::thread::current().id();
                let child = eddy::spawn(async { std::thread::current().id() });
                let mut same = child.await.unwrap() == home;
                for _ in 0..10 {
                    eddy::task::yield_now().await;
                    same &= std::thread::current().id() == home;
                }
                same
            })
            .await
            .unwrap()
    });
    assert!(stayed);
}

#[test]
fn spawn_with_builds_a_non_send_future_on_the_target_loop() {
    let runtime = eddy::Builder::new().workers(2).build().unwrap();
    let worker = runtime.handles()[1].clone();
    let len = runtime.block_on(async move {
        worker
            .spawn_with(|| async {
                let local = Rc::new(vec![1, 2, 3]);
                eddy::task::yield_now().await;
                local.len()
            })
            .await
            .unwrap()
    });
    assert_eq!(len, 3);
}

#[test]
fn spawning_onto_a_runtime_that_shut_down_reports_cancellation() {
    let runtime = eddy::Builder::new().workers(2).build().unwrap();
    let worker = runtime.handles()[1].clone();
    drop(runtime);
    let task = worker.spawn(async { 1 });
    let error = eddy::run(task).unwrap_err();
    assert!(error.is_cancelled());
}

#[test]
fn a_handle_spawns_from_a_plain_thread() {
    let runtime = eddy::Builder::new().workers(2).build().unwrap();
    let worker = runtime.handles()[1].clone();
    let answer = std::thread::spawn(move || {
        let task = worker.spawn(async { 6 * 7 });
        eddy::run(task).unwrap()
    })
    .join()
    .unwrap();
    assert_eq!(answer, 42);
}
