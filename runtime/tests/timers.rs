//! Timers: order, punctuality, cancellation, scale, timeouts and intervals,
//! on the paused clock (so every test here runs in microseconds of real time
//! and sees exactly the same times on every run).

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use eddy::time::{self, sleep, sleep_until, timeout, Instant, MissedTickBehavior};

fn paused() -> eddy::Runtime {
    eddy::Builder::new().start_paused(true).build().unwrap()
}

#[test]
fn timers_fire_in_deadline_order_and_never_early() {
    paused().block_on(async {
        let start = Instant::now();
        let fired = Rc::new(RefCell::new(Vec::new()));
        // Armed out of order, some sharing a millisecond, some sub-millisecond.
        let delays_us = [7000, 250, 3000, 3000, 64_000, 1, 4_096_000, 999, 1000, 65_500];
        let tasks: Vec<_> = delays_us
            .iter()
            .map(|&us| {
                let fired = fired.clone();
                let deadline = start + Duration::from_micros(us);
                eddy::spawn(async move {
                    sleep_until(deadline).await;
                    let now = Instant::now();
                    assert!(now >= deadline, "fired {:?} early", deadline - now);
                    fired.borrow_mut().push(us);
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        // Deadline order at the wheel's 1 ms resolution: deadlines within
        // the same millisecond fire together, in the order they were armed.
        let fired_ms: Vec<u64> = fired.borrow().iter().map(|us| us.div_ceil(1000)).collect();
        assert!(fired_ms.is_sorted(), "out of order: {:?}", fired.borrow());
        assert_eq!(fired.borrow().len(), delays_us.len());
        assert_eq!(fired.borrow()[..2], [250, 1], "same millisecond: arming order");
    });
}

#[test]
fn timers_are_never_early_on_the_real_clock_either() {
    eddy::run(async {
        for micros in [300, 1000, 1500] {
            let start = std::time::Instant::now();
            sleep(Duration::from_micros(micros)).await;
            assert!(start.elapsed() >= Duration::from_micros(micros));
        }
    });
}

#[test]
fn a_dropped_sleep_never_fires() {
    paused().block_on(async {
        let fired = Rc::new(RefCell::new(false));
        let flag = fired.clone();
        let task = eddy::spawn(async move {
            sleep(Duration::from_secs(10)).await;
            *flag.borrow_mut() = true;
        });
        time::advance(Duration::from_secs(5)).await;
        task.abort(); // drops the task's Sleep
        assert!(task.await.unwrap_err().is_cancelled());
        time::advance(Duration::from_secs(3600)).await;
        assert!(!*fired.borrow());
        // And a Sleep polled once (so it is armed), then dropped, leaves
        // nothing in the wheel.
        let mut probe = Box::pin(sleep(Duration::from_secs(1)));
        let waker = futures_task::noop_waker();
        let polled = probe.as_mut().poll(&mut std::task::Context::from_waker(&waker));
        assert!(polled.is_pending());
        drop(probe);
        assert_eq!(time::advance_to_next().await, None);
    });
}

#[test]
fn a_hundred_thousand_timers_all_fire_on_time() {
    paused().block_on(async {
        let start = Instant::now();
        let late = Rc::new(RefCell::new(0u32));
        let tasks: Vec<_> = (0..100_000u64)
            .map(|i| {
                // A spread of deadlines over every wheel level up to ~3 hours.
                let deadline = start + Duration::from_millis((i * 7919) % 10_000_000 + 1);
                let late = late.clone();
                eddy::spawn(async move {
                    sleep_until(deadline).await;
                    let now = Instant::now();
                    assert!(now >= deadline);
                    if now - deadline >= Duration::from_millis(1) {
                        *late.borrow_mut() += 1;
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        // With a paused clock there is no excuse for lateness at all.
        assert_eq!(*late.borrow(), 0);
    });
}

#[test]
fn timeout_drops_the_inner_future_when_the_deadline_wins() {
    paused().block_on(async {
        struct Flag(Arc<AtomicBool>);
        impl Drop for Flag {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let dropped = Arc::new(AtomicBool::new(false));
        let flag = Flag(dropped.clone());
        let slow = async move {
            let _flag = flag;
            sleep(Duration::from_secs(3600)).await;
        };
        let start = Instant::now();
        let result = timeout(Duration::from_secs(5), slow).await;
        assert!(result.is_err());
        assert_eq!(start.elapsed(), Duration::from_secs(5));
        assert!(dropped.load(Ordering::SeqCst), "the inner future was dropped");
        assert_eq!(result.unwrap_err().to_string(), "deadline has elapsed");
    });
}

#[test]
fn timeout_returns_the_output_when_the_future_wins() {
    paused().block_on(async {
        let fast = async {
            sleep(Duration::from_millis(10)).await;
            "done"
        };
        assert_eq!(timeout(Duration::from_secs(1), fast).await, Ok("done"));
    });
}

#[test]
fn an_hour_long_sleep_takes_no_real_time_on_a_paused_clock() {
    let real = std::time::Instant::now();
    paused().block_on(async {
        let start = Instant::now();
        sleep(Duration::from_secs(3600)).await;
        assert_eq!(start.elapsed(), Duration::from_secs(3600));
    });
    assert!(real.elapsed() < Duration::from_secs(1));
}

#[test]
fn an_interval_ticks_every_period() {
    paused().block_on(async {
        let start = Instant::now();
        let mut ticker = time::interval(Duration::from_millis(100));
        let mut ticks = Vec::new();
        for _ in 0..4 {
            ticks.push(ticker.tick().await - start);
        }
        let expected: Vec<_> = (0..4).map(|i| Duration::from_millis(100 * i)).collect();
        assert_eq!(ticks, expected);
    });
}

#[test]
fn an_interval_catches_up_on_missed_ticks_as_configured() {
    // Ticks due at 100, 200 and 300 ms are missed while the task is busy
    // until 350 ms. (scheduled time, time it actually completed), in ms:
    for (behavior, expected) in [
        // Catch up back to back, keep the schedule.
        (MissedTickBehavior::Burst, [(0, 0), (100, 350), (200, 350), (300, 350), (400, 400)]),
        // One late tick, then a full period from it.
        (MissedTickBehavior::Delay, [(0, 0), (100, 350), (450, 450), (550, 550), (650, 650)]),
        // One late tick, then back on the original grid.
        (MissedTickBehavior::Skip, [(0, 0), (100, 350), (400, 400), (500, 500), (600, 600)]),
    ] {
        paused().block_on(async move {
            let start = Instant::now();
            let mut ticker = time::interval(Duration::from_millis(100));
            ticker.set_missed_tick_behavior(behavior);
            let mut seen = Vec::new();
            for i in 0..5 {
                if i == 1 {
                    sleep(Duration::from_millis(350)).await; // busy
                }
                let scheduled = ticker.tick().await - start;
                seen.push((scheduled.as_millis(), (Instant::now() - start).as_millis()));
            }
            assert_eq!(seen, expected, "{behavior:?}");
        });
    }
}

#[test]
fn advance_fires_timers_in_order_including_ones_armed_on_the_way() {
    eddy::Builder::new().start_paused(true).auto_advance(false).build().unwrap().block_on(async {
        let start = Instant::now();
        let log = Rc::new(RefCell::new(Vec::new()));
        let log2 = log.clone();
        eddy::spawn(async move {
            sleep(Duration::from_secs(10)).await;
            log2.borrow_mut().push(("a", Instant::now() - start));
            // Armed at t=10 s for t=15 s: before b's deadline.
            sleep(Duration::from_secs(5)).await;
            log2.borrow_mut().push(("c", Instant::now() - start));
        });
        let log3 = log.clone();
        eddy::spawn(async move {
            sleep(Duration::from_secs(20)).await;
            log3.borrow_mut().push(("b", Instant::now() - start));
        });
        eddy::task::yield_now().await;
        time::advance(Duration::from_secs(60)).await;
        assert_eq!(
            *log.borrow(),
            [("a", Duration::from_secs(10)), ("c", Duration::from_secs(15)), ("b", Duration::from_secs(20))]
        );
        assert_eq!(Instant::now() - start, Duration::from_secs(60));
    });
}

#[test]
fn recent_time_is_never_ahead_of_now_and_follows_the_paused_clock() {
    paused().block_on(async {
        let before = Instant::recent();
        assert!(before <= Instant::now());
        time::advance(Duration::from_secs(5)).await;
        assert_eq!(Instant::recent(), Instant::now(), "a paused clock is exact");
        assert_eq!(Instant::recent() - before, Duration::from_secs(5));
    });
    eddy::run(async {
        sleep(Duration::from_millis(1)).await;
        let recent = Instant::recent();
        assert!(recent <= Instant::now());
    });
}

#[test]
#[should_panic(expected = "polling a Sleep must be called from inside an eddy runtime")]
fn a_sleep_polled_outside_any_runtime_panics_naming_the_sleep() {
    // Nothing could ever fire it: a programming error, said plainly.
    let waker = futures_task::noop_waker();
    let mut cx = std::task::Context::from_waker(&waker);
    let mut sleep = std::pin::pin!(sleep(Duration::from_millis(1)));
    let _ = sleep.as_mut().poll(&mut cx);
}

#[test]
fn instants_outside_a_runtime_follow_the_os_clock_and_convert_to_std() {
    let before = std::time::Instant::now();
    let now = Instant::now();
    let after = std::time::Instant::now();
    // eddy's reading lags std's by nanoseconds at most (never leads it).
    assert!(now.into_std() <= after);
    assert!(now.into_std() + Duration::from_millis(50) >= before);
    assert_eq!(Instant::from(before).into_std(), before);
    assert!(Instant::recent() >= now, "recent outside a runtime reads the OS clock");
}
