//! `JoinSet`: results in completion order, cancellation of what it holds
//! (on drop, `abort_all`, `shutdown`), TaskGroup-style "first error cancels
//! the siblings", and its `Stream` of completions. Paused clock throughout.

use std::future::{pending, poll_fn};
use std::pin::Pin;
use std::time::Duration;

use eddy::task::{yield_now, JoinSet};
use eddy::test::{DropProbe, Dropped};
use eddy::time::{sleep, timeout, Instant};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// A task body that holds `probe` until it is dropped, sleeping forever.
async fn hold_forever(probe: DropProbe) {
    let _probe = probe;
    pending::<()>().await;
}

/// Spawns `count` tasks into `set` that never finish; returns their probes.
fn spawn_forever(set: &mut JoinSet<()>, count: usize) -> Vec<Dropped> {
    (0..count)
        .map(|_| {
            let (probe, dropped) = DropProbe::new();
            set.spawn(hold_forever(probe));
            dropped
        })
        .collect()
}

/// Lets the loop run a few ticks, so aborted tasks get dropped.
async fn let_the_loop_turn() {
    for _ in 0..3 {
        yield_now().await;
    }
}

#[test]
fn join_next_yields_results_in_completion_order() {
    eddy::test::run(async {
        let mut set = JoinSet::new();
        for n in [4, 1, 3, 2] {
            set.spawn(async move {
                sleep(secs(n)).await;
                n
            });
        }
        assert_eq!(set.len(), 4);
        let started = Instant::now();
        let mut order = Vec::new();
        while let Some(result) = set.join_next().await {
            order.push((result.unwrap(), started.elapsed().as_secs()));
        }
        assert_eq!(order, [(1, 1), (2, 2), (3, 3), (4, 4)]);
        assert!(set.is_empty());
    });
}

#[test]
fn join_next_on_an_empty_set_is_none_at_once() {
    eddy::test::run(async {
        let mut set = JoinSet::<u8>::new();
        assert!(set.join_next().await.is_none());
    });
}

#[test]
fn a_panicking_task_is_an_error_in_the_set_not_a_crash() {
    eddy::test::run(async {
        let mut set = JoinSet::new();
        set.spawn(async { panic!("boom") });
        set.spawn(async { 1 });
        let mut panics = 0;
        let mut values = 0;
        while let Some(result) = set.join_next().await {
            match result {
                Ok(_) => values += 1,
                Err(error) => {
                    assert_eq!(error.panic_message(), Some("boom"));
                    panics += 1;
                }
            }
        }
        assert_eq!((panics, values), (1, 1));
    });
}

#[test]
fn dropping_the_set_aborts_every_task_it_holds() {
    eddy::test::run(async {
        let mut set = JoinSet::new();
        let dropped = spawn_forever(&mut set, 3);
        let_the_loop_turn().await;
        assert!(dropped.iter().all(|d| !d.get()), "still running while the set lives");
        drop(set);
        let_the_loop_turn().await;
        assert!(dropped.iter().all(Dropped::get), "every task was aborted with the set");
    });
}

#[test]
fn detach_all_lets_the_tasks_outlive_the_set() {
    eddy::test::run(async {
        let mut set = JoinSet::new();
        let dropped = spawn_forever(&mut set, 2);
        set.detach_all();
        assert!(set.is_empty());
        drop(set);
        let_the_loop_turn().await;
        assert!(dropped.iter().all(|d| !d.get()));
    });
}

#[test]
fn abort_all_makes_join_next_report_each_task_cancelled() {
    eddy::test::run(async {
        let mut set = JoinSet::new();
        let dropped = spawn_forever(&mut set, 3);
        set.abort_all();
        let mut cancelled = 0;
        while let Some(result) = set.join_next().await {
            assert!(result.unwrap_err().is_cancelled());
            cancelled += 1;
        }
        assert_eq!(cancelled, 3);
        assert!(dropped.iter().all(Dropped::get));
    });
}

#[test]
fn shutdown_returns_once_every_task_has_stopped() {
    eddy::test::run(async {
        let mut set = JoinSet::new();
        let dropped = spawn_forever(&mut set, 5);
        set.shutdown().await;
        assert!(set.is_empty());
        assert!(dropped.iter().all(Dropped::get), "shutdown waited for every drop");
    });
}

#[test]
fn the_abort_handle_from_spawn_cancels_one_task() {
    eddy::test::run(async {
        let mut set = JoinSet::new();
        let stopped = set.spawn(pending::<u8>());
        set.spawn(async {
            sleep(secs(1)).await;
            7
        });
        stopped.abort();
        assert!(set.join_next().await.unwrap().unwrap_err().is_cancelled());
        assert_eq!(set.join_next().await.unwrap().unwrap(), 7);
    });
}

/// The TaskGroup recipe from `JoinSet`'s docs: return on the first error;
/// dropping the set on the way out aborts the siblings.
async fn run_group(siblings: Vec<DropProbe>) -> Result<Vec<u32>, String> {
    let mut group = JoinSet::new();
    group.spawn(async {
        sleep(secs(1)).await;
        Ok(1)
    });
    group.spawn(async {
        sleep(secs(2)).await;
        Err("task 2 failed".to_string())
    });
    for probe in siblings {
        group.spawn(async move {
            let _probe = probe;
            sleep(secs(3600)).await;
            Ok(3600)
        });
    }
    let mut values = Vec::new();
    while let Some(result) = group.join_next().await {
        values.push(result.map_err(|e| e.to_string())??);
    }
    Ok(values)
}

#[test]
fn taskgroup_style_the_first_error_cancels_the_siblings() {
    eddy::test::run(async {
        let (probes, dropped): (Vec<_>, Vec<_>) = (0..3).map(|_| DropProbe::new()).unzip();
        let started = Instant::now();
        let outcome = run_group(probes).await;
        assert_eq!(outcome, Err("task 2 failed".to_string()));
        assert_eq!(started.elapsed(), secs(2), "returned at the first error, not after the siblings");
        let_the_loop_turn().await;
        assert!(dropped.iter().all(Dropped::get), "every sibling was cancelled");
    });
}

#[test]
fn join_next_is_cancel_safe() {
    eddy::test::run(async {
        let mut set = JoinSet::new();
        set.spawn(async {
            sleep(secs(2)).await;
            "done"
        });
        // The first wait gives up after one second: nothing is lost.
        assert!(timeout(secs(1), set.join_next()).await.is_err());
        assert_eq!(set.len(), 1);
        assert_eq!(set.join_next().await.unwrap().unwrap(), "done");
    });
}

#[test]
fn try_join_next_returns_only_what_has_already_finished() {
    eddy::test::run(async {
        let mut set = JoinSet::new();
        set.spawn(async { 1 });
        set.spawn(async {
            sleep(secs(1)).await;
            2
        });
        assert!(set.try_join_next().is_none(), "nothing has run yet");
        let_the_loop_turn().await;
        assert_eq!(set.try_join_next().unwrap().unwrap(), 1);
        assert!(set.try_join_next().is_none());
        assert_eq!(set.len(), 1);
    });
}

#[test]
fn completions_are_a_stream() {
    use futures_core::Stream;
    eddy::test::run(async {
        let mut set: JoinSet<u64> = (1..=3)
            .rev()
            .map(|n| async move {
                sleep(secs(n)).await;
                n
            })
            .collect();
        assert_eq!(set.size_hint(), (3, Some(3)));
        let mut seen = Vec::new();
        while let Some(result) = poll_fn(|cx| Pin::new(&mut set).poll_next(cx)).await {
            seen.push(result.unwrap());
        }
        assert_eq!(seen, [1, 2, 3]);
    });
}

#[test]
fn many_tasks_complete_through_one_set() {
    eddy::test::run(async {
        let mut set = JoinSet::new();
        for i in 0..2000u64 {
            set.spawn(async move {
                sleep(Duration::from_millis(i % 17)).await;
                i
            });
        }
        let mut sum = 0;
        while let Some(result) = set.join_next().await {
            sum += result.unwrap();
        }
        assert_eq!(sum, 2000 * 1999 / 2);
    });
}

#[test]
fn spawn_on_runs_the_task_on_another_loop_and_still_reports_to_the_set() {
    let runtime = eddy::Builder::new().workers(2).build().unwrap();
    let worker = runtime.handles()[1].clone();
    runtime.block_on(async move {
        let mut set = JoinSet::new();
        let here = eddy::Handle::current().loop_id();
        set.spawn_on(async { eddy::Handle::current().loop_id() }, &worker);
        let there = set.join_next().await.unwrap().unwrap();
        assert_ne!(there, here);
        assert_eq!(there, worker.loop_id());
    });
}

#[test]
fn join_next_waits_for_a_task_that_is_still_running() {
    eddy::test::run(async {
        let mut set = JoinSet::new();
        set.spawn(async {
            for _ in 0..100 {
                yield_now().await;
            }
            "done"
        });
        assert!(set.try_join_next().is_none());
        assert_eq!(set.join_next().await.unwrap().unwrap(), "done");
    });
}

#[test]
fn under_every_ordering_each_result_is_collected_once_and_abort_wins_or_loses_cleanly() {
    // Tasks that finish at the same instant, and an abort racing with a
    // task that is about to finish: whatever order the loop picks, every
    // task is accounted for exactly once, as a value or as cancelled.
    eddy::test::check_orderings(0..64, || async {
        let mut set = JoinSet::new();
        for i in 0..6u64 {
            set.spawn(async move {
                sleep(secs(1)).await;
                i
            });
        }
        let racer = set.spawn(async {
            yield_now().await;
            100
        });
        eddy::spawn(async move { racer.abort() });
        let (mut values, mut cancelled) = (Vec::new(), 0);
        while let Some(result) = set.join_next().await {
            match result {
                Ok(value) => values.push(value),
                Err(error) if error.is_cancelled() => cancelled += 1,
                Err(error) => panic!("unexpected {error}"),
            }
        }
        values.sort_unstable();
        match cancelled {
            0 => assert_eq!(values, [0, 1, 2, 3, 4, 5, 100]),
            1 => assert_eq!(values, [0, 1, 2, 3, 4, 5]),
            _ => panic!("{cancelled} cancelled"),
        }
    });
}
