//! Deterministic timelines: with `Builder::seed` and a paused clock, the
//! same program writes the same trace, byte for byte, on every run, so a
//! failing seed replays with an identical timeline.

mod trace_support;

use std::time::Duration;

use eddy::sync::mpsc;

/// Several tasks ready at once (so the seed's shuffling matters), talking
/// through a channel, sleeping on timers.
async fn program() -> u64 {
    let (tx, mut rx) = mpsc::channel::<u64>(4);
    for worker in 0..6u64 {
        let tx = tx.clone();
        eddy::task::spawn_named(format!("worker {worker}"), async move {
            for round in 0..3 {
                eddy::time::sleep(Duration::from_millis(worker % 3 + 1)).await;
                eddy::task::yield_now().await;
                tx.send(worker * 10 + round).await.unwrap();
            }
        });
    }
    drop(tx);
    let mut order: u64 = 0;
    while let Some(value) = rx.recv().await {
        order = order.wrapping_mul(31).wrapping_add(value);
    }
    order
}

fn run_seeded(seed: u64) -> (u64, String) {
    let runtime = eddy::Builder::new().seed(seed).start_paused(true).build().unwrap();
    let order = runtime.block_on(program());
    (order, runtime.trace_snapshot().to_chrome_json())
}

#[test]
fn the_same_seed_writes_the_same_trace_byte_for_byte() {
    let (order, first) = run_seeded(7);
    let (replayed_order, second) = run_seeded(7);
    assert_eq!(order, replayed_order);
    assert!(first == second, "two runs with seed 7 gave different traces");
    trace_support::check(&first);
}

#[test]
fn another_seed_writes_another_timeline() {
    let (_, seven) = run_seeded(7);
    let (_, eight) = run_seeded(8);
    assert_ne!(seven, eight, "the seed reorders polls, and the trace shows it");
}

#[test]
fn paused_timestamps_are_loop_time() {
    let (_, trace) = run_seeded(1);
    let checked = trace_support::check(&trace);
    // The workers sleep 1 to 3 ms three times: loop time reaches 9 ms
    // (paused time jumps) and no further, whatever the wall clock did.
    let last = checked.events.iter().filter_map(|event| event.num("ts")).fold(0.0, f64::max);
    assert!((9000.0..9100.0).contains(&last), "last event at {last} µs of loop time");
}
