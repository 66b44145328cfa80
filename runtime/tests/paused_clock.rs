//! The paused clock is one clock for the whole runtime, and it moves only
//! when nothing is left to do: no task ready, nothing injected, no blocking
//! job in flight, on any loop. Then, and only then, it jumps to the
//! earliest deadline of all loops (or the next stop of a `time::advance`).
//!
//! What that promises, and what each test here pins:
//! - every task woken by a timer at D observes `Instant::now() == D`,
//!   however many there are (by hand and by auto-advance);
//! - a loop never jumps past a nearer timer of another loop;
//! - `time::advance` on one loop moves the time every loop sees;
//! - a blocking job holds time still while it runs, and releases it the
//!   moment it is done (no real-time stall);
//! - tasks that never stop running make `advance` fail loudly, not hang.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use eddy::sync::mpsc;
use eddy::task::{spawn_blocking, yield_now};
use eddy::time::{self, sleep, sleep_until, timeout, Instant};
use futures_task::ArcWake;

fn paused(workers: usize, auto_advance: bool) -> eddy::Runtime {
    eddy::Builder::new().workers(workers).start_paused(true).auto_advance(auto_advance).build().unwrap()
}

/// Spawns `count` tasks that sleep until `deadline` and report the time
/// they woke at; returns them.
fn sleepers(count: usize, deadline: Instant) -> Vec<eddy::JoinHandle<Instant>> {
    (0..count)
        .map(|_| {
            eddy::spawn(async move {
                sleep_until(deadline).await;
                Instant::now()
            })
        })
        .collect()
}

async fn late_wakers(tasks: Vec<eddy::JoinHandle<Instant>>, deadline: Instant) -> usize {
    let mut late = 0;
    for task in tasks {
        if task.await.unwrap() != deadline {
            late += 1;
        }
    }
    late
}

// ----- Every task woken at D sees D -----------------------------------------

#[test]
fn ten_thousand_tasks_woken_by_advance_all_observe_their_deadline() {
    paused(1, false).block_on(async {
        let start = Instant::now();
        let deadline = start + Duration::from_millis(5);
        let tasks = sleepers(10_000, deadline);
        // A later timer, so that moving on too early would be visible.
        let later = sleepers(1, start + Duration::from_millis(6));
        yield_now().await; // Every sleeper has armed its timer.
        time::advance(Duration::from_millis(10)).await;
        assert_eq!(Instant::now(), start + Duration::from_millis(10));
        assert_eq!(late_wakers(tasks, deadline).await, 0, "tasks woken at 5 ms saw a later time");
        assert_eq!(late_wakers(later, start + Duration::from_millis(6)).await, 0);
    });
}

#[test]
fn ten_thousand_tasks_woken_by_auto_advance_all_observe_their_deadline() {
    eddy::test::run(async {
        let start = Instant::now();
        let deadline = start + Duration::from_millis(5);
        let tasks = sleepers(10_000, deadline);
        let later = sleepers(1, start + Duration::from_millis(6));
        assert_eq!(late_wakers(tasks, deadline).await, 0, "tasks woken at 5 ms saw a later time");
        assert_eq!(late_wakers(later, start + Duration::from_millis(6)).await, 0);
    });
}

/// The general property: not only the tasks a timer wakes, but every task
/// *they* wake (through a channel here) runs before time moves on.
#[test]
fn tasks_woken_by_tasks_woken_at_a_deadline_also_observe_it() {
    for auto_advance in [true, false] {
        paused(1, auto_advance).block_on(async {
            let start = Instant::now();
            let deadline = start + Duration::from_millis(5);
            let (tx, mut rx) = mpsc::channel::<Instant>(16);
            let relay = eddy::spawn(async move {
                let mut seen = Vec::new();
                while let Some(sent_at) = rx.recv().await {
                    yield_now().await; // Still ready: time must not move.
                    seen.push((sent_at, Instant::now()));
                }
                seen
            });
            let senders: Vec<_> = (0..500)
                .map(|_| {
                    let tx = tx.clone();
                    eddy::spawn(async move {
                        sleep_until(deadline).await;
                        tx.send(Instant::now()).await.unwrap();
                    })
                })
                .collect();
            drop(tx);
            let _tempting = eddy::spawn(sleep(Duration::from_millis(6)));
            if !auto_advance {
                yield_now().await;
                time::advance(Duration::from_millis(10)).await;
            }
            for sender in senders {
                sender.await.unwrap();
            }
            let seen = relay.await.unwrap();
            assert_eq!(seen.len(), 500);
            assert!(seen.iter().all(|&(sent, received)| sent == deadline && received == deadline));
        });
    }
}

#[test]
fn advance_by_hand_stops_at_each_deadline_even_with_auto_advance_on() {
    eddy::test::run(async {
        let start = Instant::now();
        let tasks: Vec<_> = (1..=5).map(|ms| sleepers(100, start + Duration::from_millis(ms))).collect();
        yield_now().await;
        time::advance(Duration::from_millis(5)).await;
        assert_eq!(Instant::now(), start + Duration::from_millis(5));
        for (ms, batch) in (1..=5).zip(tasks) {
            assert_eq!(late_wakers(batch, start + Duration::from_millis(ms)).await, 0);
        }
    });
}

// ----- The livelock guard ---------------------------------------------------

#[test]
fn advance_fails_loudly_when_a_task_never_stops_running() {
    let outcome = std::panic::catch_unwind(|| {
        paused(1, false).block_on(async {
            eddy::spawn(async {
                loop {
                    yield_now().await; // Always ready: time can never move.
                }
            });
            time::advance(Duration::from_millis(1)).await;
        })
    });
    let payload = outcome.expect_err("advance returned although the loop was never idle");
    let message = payload.downcast_ref::<String>().expect("a formatted panic message");
    assert!(message.contains("time::advance cannot finish"), "{message}");
    assert!(message.contains("yield_now loop"), "{message}");
}

// ----- One clock for every loop ----------------------------------------------

#[test]
fn a_timeout_on_the_main_loop_waits_for_a_nearer_timer_on_a_worker() {
    for round in 0..100 {
        let runtime = paused(2, true);
        let worker = runtime.handles()[1].clone();
        let result = runtime.block_on(timeout(
            Duration::from_secs(10),
            worker.spawn(async {
                let start = Instant::now();
                sleep(Duration::from_millis(20)).await;
                start.elapsed()
            }),
        ));
        match result {
            Ok(Ok(slept)) => assert_eq!(slept, Duration::from_millis(20), "round {round}"),
            other => panic!("round {round}: {other:?}"),
        }
    }
}

#[test]
fn advance_on_one_loop_moves_the_clock_every_loop_sees() {
    let runtime = paused(2, false);
    let worker = runtime.handles()[1].clone();
    runtime.block_on(async {
        let start = Instant::now();
        let on_worker = worker.spawn(async move {
            let armed_at = Instant::now();
            sleep_until(start + Duration::from_millis(5)).await;
            (armed_at, Instant::now())
        });
        // Let the worker arm its timer before time moves.
        while !worker.spawn(async { true }).await.unwrap() {}
        time::advance(Duration::from_millis(10)).await;
        assert_eq!(Instant::now(), start + Duration::from_millis(10));
        let (armed_at, woke_at) = on_worker.await.unwrap();
        assert_eq!(armed_at, start, "both loops read the same paused time");
        assert_eq!(woke_at, start + Duration::from_millis(5), "the worker's timer fired on the way");
        let worker_now = worker.spawn(async { Instant::now() }).await.unwrap();
        assert_eq!(worker_now, start + Duration::from_millis(10));
    });
}

#[test]
fn pausing_on_one_loop_pauses_every_loop() {
    let runtime = eddy::Builder::new().workers(2).build().unwrap();
    let worker = runtime.handles()[1].clone();
    runtime.block_on(async {
        assert!(!worker.spawn(async { time::is_paused() }).await.unwrap());
        time::pause();
        let frozen = Instant::now();
        let (paused, now) = worker.spawn(async { (time::is_paused(), Instant::now()) }).await.unwrap();
        assert!(paused);
        assert_eq!(now, frozen);
        time::resume();
        assert!(!worker.spawn(async { time::is_paused() }).await.unwrap());
    });
}

// ----- Blocking jobs ---------------------------------------------------------

/// Records `warn`-level lines mentioning the paused clock.
struct Warnings(Mutex<Vec<String>>);

impl log::Log for Warnings {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Warn
    }
    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            self.0.lock().unwrap().push(record.args().to_string());
        }
    }
    fn flush(&self) {}
}

fn paused_clock_warnings() -> usize {
    static WARNINGS: OnceLock<&'static Warnings> = OnceLock::new();
    let warnings = WARNINGS.get_or_init(|| {
        let warnings: &'static Warnings = Box::leak(Box::new(Warnings(Mutex::new(Vec::new()))));
        let _ = log::set_logger(warnings);
        log::set_max_level(log::LevelFilter::Warn);
        warnings
    });
    warnings.0.lock().unwrap().iter().filter(|line| line.contains("clock paused")).count()
}

/// Wraps a waker so that waking it also holds the waking thread for a few
/// milliseconds: a blocking job's result then reaches its task well before
/// the pool counts the job as done, every time, instead of now and then.
struct SlowWake {
    inner: Waker,
}

impl ArcWake for SlowWake {
    fn wake_by_ref(arc_self: &Arc<Self>) {
        arc_self.inner.wake_by_ref();
        std::thread::sleep(Duration::from_millis(3));
    }
}

struct WithSlowWake<F>(F);

impl<F: std::future::Future + Unpin> std::future::Future for WithSlowWake<F> {
    type Output = F::Output;
    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let waker = futures_task::waker(Arc::new(SlowWake { inner: cx.waker().clone() }));
        std::pin::Pin::new(&mut self.0).poll(&mut Context::from_waker(&waker))
    }
}

#[test]
fn the_paused_clock_moves_on_as_soon_as_a_blocking_job_is_done() {
    paused_clock_warnings();
    let wall = std::time::Instant::now();
    let hours = eddy::test::run(async {
        let start = Instant::now();
        for _ in 0..5 {
            WithSlowWake(spawn_blocking(|| ())).await.unwrap();
            sleep(Duration::from_secs(3600)).await;
        }
        start.elapsed().as_secs() / 3600
    });
    assert_eq!(hours, 5);
    // A stall waits a full second of real time in every round (5 s); without
    // one, the five rounds take the 15 ms the slow wakes cost. The bound
    // leaves a loaded machine plenty of room.
    assert!(wall.elapsed() < Duration::from_millis(2500), "the paused clock stalled: {:?}", wall.elapsed());
    assert_eq!(paused_clock_warnings(), 0);
}

#[test]
fn the_issue_loop_of_blocking_jobs_and_long_sleeps_never_stalls() {
    paused_clock_warnings();
    let wall = std::time::Instant::now();
    let rounds = Rc::new(Cell::new(0));
    let counted = rounds.clone();
    eddy::test::run(async move {
        for _ in 0..200 {
            spawn_blocking(|| ()).await.unwrap();
            sleep(Duration::from_secs(3600)).await;
            counted.set(counted.get() + 1);
        }
    });
    assert_eq!(rounds.get(), 200);
    // Each stall costs a second of real time and logs the warning counted
    // below; 200 rounds without one take milliseconds.
    assert!(wall.elapsed() < Duration::from_secs(5), "the paused clock stalled: {:?}", wall.elapsed());
    assert_eq!(paused_clock_warnings(), 0);
}

#[test]
fn a_running_blocking_job_holds_the_paused_clock() {
    eddy::test::run(async {
        let start = Instant::now();
        let release = Arc::new(AtomicUsize::new(0));
        let job_release = release.clone();
        let job = spawn_blocking(move || {
            while job_release.load(Ordering::SeqCst) == 0 {
                std::thread::yield_now();
            }
            Instant::now()
        });
        // A timer is pending, but time must not move while the job runs.
        let timer = eddy::spawn(async move {
            sleep(Duration::from_secs(60)).await;
            Instant::now()
        });
        for _ in 0..10 {
            yield_now().await;
        }
        assert_eq!(Instant::now(), start);
        release.store(1, Ordering::SeqCst);
        job.await.unwrap();
        assert_eq!(timer.await.unwrap(), start + Duration::from_secs(60));
    });
}
