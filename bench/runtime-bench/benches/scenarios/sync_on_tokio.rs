//! The synchronisation rows on tokio: `tokio::sync::{Mutex, Semaphore,
//! Notify, broadcast}`. The same code shape as `sync_on_eddy`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::{broadcast, Mutex, Notify, Semaphore};
use tokio::task::yield_now;

use super::{
    Outcome, Scenario, Sizes, FANOUT_BURST, FANOUT_CAPACITY, FANOUT_RECEIVERS, MUTEX_TASKS,
    SEMAPHORE_PERMITS, SEMAPHORE_TASKS,
};

/// Runs one synchronisation scenario inside `block_on`.
pub async fn run(scenario: Scenario, sizes: &Sizes) -> Outcome {
    match scenario {
        Scenario::MutexContention => mutex_contention(sizes.sync_ops_per_task).await,
        Scenario::Semaphore => semaphore(sizes.sync_ops_per_task).await,
        Scenario::NotifyPingPong => notify_ping_pong(sizes.notify_messages).await,
        Scenario::BroadcastFanout => broadcast_fanout(sizes.fanout_values).await,
        other => panic!("{other} is not a synchronisation scenario"),
    }
}

async fn mutex_contention(locks_per_task: u64) -> Outcome {
    let mutex = Arc::new(Mutex::new(0u64));
    let tasks: Vec<_> = (0..MUTEX_TASKS)
        .map(|_| {
            let mutex = mutex.clone();
            tokio::spawn(async move {
                for _ in 0..locks_per_task {
                    let mut guard = mutex.lock().await;
                    *guard += 1;
                    // Held across a yield: everyone else queues behind it.
                    yield_now().await;
                }
                locks_per_task
            })
        })
        .collect();
    let mut count = 0;
    for task in tasks {
        count += task.await.expect("tokio mutex_contention: a task failed");
    }
    let sum = *mutex.lock().await;
    Outcome { count, sum }
}

async fn semaphore(acquires_per_task: u64) -> Outcome {
    let semaphore = Arc::new(Semaphore::new(SEMAPHORE_PERMITS));
    let held = Arc::new(AtomicU64::new(0));
    let most = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..SEMAPHORE_TASKS)
        .map(|_| {
            let (semaphore, held, most) = (semaphore.clone(), held.clone(), most.clone());
            tokio::spawn(async move {
                for _ in 0..acquires_per_task {
                    let _permit = semaphore.acquire().await.expect("tokio semaphore: closed");
                    most.fetch_max(held.fetch_add(1, Ordering::Relaxed) + 1, Ordering::Relaxed);
                    yield_now().await;
                    held.fetch_sub(1, Ordering::Relaxed);
                }
                acquires_per_task
            })
        })
        .collect();
    let mut count = 0;
    for task in tasks {
        count += task.await.expect("tokio semaphore: a task failed");
    }
    Outcome { count, sum: most.load(Ordering::Relaxed) }
}

async fn notify_ping_pong(messages: u64) -> Outcome {
    let rounds = messages / 2;
    let ping = Arc::new(Notify::new());
    let pong = Arc::new(Notify::new());
    let ponger = tokio::spawn({
        let (ping, pong) = (ping.clone(), pong.clone());
        async move {
            for _ in 0..rounds {
                ping.notified().await;
                pong.notify_one();
            }
            rounds
        }
    });
    let pinger = tokio::spawn(async move {
        for _ in 0..rounds {
            ping.notify_one();
            pong.notified().await;
        }
        rounds
    });
    let pongs = pinger.await.expect("tokio notify_ping_pong: the pinger failed");
    let pings = ponger.await.expect("tokio notify_ping_pong: the ponger failed");
    Outcome { count: pings + pongs, sum: 0 }
}

async fn broadcast_fanout(values: u64) -> Outcome {
    let (tx, rx) = broadcast::channel::<u64>(FANOUT_CAPACITY);
    let receivers: Vec<_> = (0..FANOUT_RECEIVERS)
        .map(|_| {
            let mut rx = rx.resubscribe();
            tokio::spawn(async move {
                let (mut count, mut sum) = (0, 0);
                loop {
                    match rx.recv().await {
                        Ok(value) => {
                            count += 1;
                            sum += value;
                        }
                        Err(broadcast::error::RecvError::Closed) => return (count, sum),
                        Err(broadcast::error::RecvError::Lagged(n)) => {
                            panic!("tokio broadcast_fanout: lagged by {n}")
                        }
                    }
                }
            })
        })
        .collect();
    drop(rx);
    // Let every receiver reach its first `recv` before sending.
    yield_now().await;
    for value in 0..values {
        tx.send(value).expect("tokio broadcast_fanout: no receivers");
        if (value + 1) % FANOUT_BURST == 0 {
            yield_now().await;
        }
    }
    drop(tx);
    let mut outcome = Outcome { count: 0, sum: 0 };
    for receiver in receivers {
        let (count, sum) = receiver.await.expect("tokio broadcast_fanout: a receiver failed");
        outcome.count += count;
        outcome.sum += sum;
    }
    outcome
}
