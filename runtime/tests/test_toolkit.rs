//! The testing toolkit itself (`eddy::test`): paused time, hand polling,
//! seeded orderings.

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::Duration;

use eddy::test::{check_orderings, run_with_seed, DropProbe, MockTask, WakeCounter};
use eddy::time::{self, sleep, Instant};
use eddy::{assert_pending, assert_ready, assert_ready_eq};

#[test]
fn advancing_fires_exactly_the_timers_that_are_due() {
    eddy::test::run(async {
        time::set_auto_advance(false);
        let mut early = MockTask::new(sleep(Duration::from_millis(10)));
        let mut on_time = MockTask::new(sleep(Duration::from_millis(20)));
        let mut late = MockTask::new(sleep(Duration::from_millis(21)));
        for task in [&mut early, &mut on_time, &mut late] {
            assert_pending!(task.poll());
        }
        time::advance(Duration::from_millis(20)).await;
        assert!(early.is_woken() && on_time.is_woken());
        assert!(!late.is_woken());
        assert_ready!(early.poll());
        assert_ready!(on_time.poll());
        assert_pending!(late.poll());
        assert_eq!(early.wake_count(), 1, "fired once");
    });
}

#[test]
fn with_auto_advance_off_a_sleep_stays_pending() {
    eddy::test::run(async {
        time::set_auto_advance(false);
        let start = Instant::now();
        let sleeper = eddy::spawn(sleep(Duration::from_secs(1)));
        for _ in 0..100 {
            eddy::task::yield_now().await;
        }
        assert!(!sleeper.is_finished());
        assert_eq!(Instant::now(), start, "time did not move by itself");
        assert_eq!(time::advance_to_next().await, Some(start + Duration::from_secs(1)));
        assert!(sleeper.is_finished());
    });
}

#[test]
fn with_auto_advance_on_an_idle_loop_jumps_to_the_next_timer() {
    let real = std::time::Instant::now();
    eddy::test::run(async {
        let start = Instant::now();
        sleep(Duration::from_secs(86_400)).await;
        assert_eq!(Instant::now() - start, Duration::from_secs(86_400));
    });
    assert!(real.elapsed() < Duration::from_millis(100));
}

/// The order in which 12 tasks first run under `seed` (`None`: FIFO).
fn first_poll_order(seed: Option<u64>) -> Vec<u32> {
    let body = || async {
        let order = Rc::new(RefCell::new(Vec::new()));
        let tasks: Vec<_> = (0..12)
            .map(|i| {
                let order = order.clone();
                eddy::spawn(async move { order.borrow_mut().push(i) })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        let order = order.borrow().clone();
        order
    };
    match seed {
        Some(seed) => run_with_seed(seed, body()),
        None => eddy::test::run(body()),
    }
}

#[test]
fn without_a_seed_tasks_run_in_spawn_order() {
    assert_eq!(first_poll_order(None), (0..12).collect::<Vec<_>>());
}

#[test]
fn the_same_seed_gives_the_same_order_twice() {
    for seed in [1, 7, 12345] {
        assert_eq!(first_poll_order(Some(seed)), first_poll_order(Some(seed)));
    }
}

#[test]
fn different_seeds_give_different_orders() {
    let orders: std::collections::HashSet<_> = (0..8).map(|seed| first_poll_order(Some(seed))).collect();
    assert!(orders.len() >= 7, "8 seeds gave only {} orders", orders.len());
    assert!(!orders.contains(&(0..12).collect::<Vec<_>>()), "a seeded run should not look FIFO");
}

#[test]
fn check_orderings_names_the_seed_that_fails() {
    let failure = std::panic::catch_unwind(|| {
        check_orderings(0..100, || async {
            let order = Rc::new(RefCell::new(Vec::new()));
            let (a, b) = (order.clone(), order.clone());
            let first = eddy::spawn(async move { a.borrow_mut().push("first") });
            let second = eddy::spawn(async move { b.borrow_mut().push("second") });
            first.await.unwrap();
            second.await.unwrap();
            assert_eq!(*order.borrow(), ["first", "second"], "assumed spawn order");
        })
    })
    .unwrap_err();
    let message = failure.downcast_ref::<String>().unwrap();
    assert!(message.contains("under seed") && message.contains("run_with_seed("), "{message}");
}

/// A future that parks its waker in a shared slot, for waking by hand.
struct Parked {
    slot: Arc<Mutex<Option<Waker>>>,
    polls: usize,
}

impl Future for Parked {
    type Output = usize;
    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<usize> {
        self.polls += 1;
        if self.polls == 3 {
            return Poll::Ready(self.polls);
        }
        *self.slot.lock().unwrap() = Some(cx.waker().clone());
        Poll::Pending
    }
}

#[test]
fn the_mock_waker_counts_wakes_exactly() {
    let slot = Arc::new(Mutex::new(None));
    let mut task = MockTask::new(Parked { slot: slot.clone(), polls: 0 });
    assert_pending!(task.poll());
    assert!(!task.is_woken());
    assert_eq!(task.waker_ref_count(), 1, "the future kept its waker");
    let waker = slot.lock().unwrap().clone().unwrap();
    waker.wake_by_ref();
    waker.wake_by_ref();
    let owned = waker.clone();
    owned.wake(); // the by-value path counts too
    assert!(task.is_woken());
    assert_eq!(task.wake_count(), 3);
    assert_pending!(task.poll());
    assert!(!task.is_woken(), "polling clears 'woken since'");
    drop(waker);
    slot.lock().unwrap().take();
    assert_ready_eq!(task.poll(), 3);
    assert_eq!(task.waker_ref_count(), 0, "nothing holds the waker of a finished future");
}

#[test]
fn a_wake_counter_works_on_its_own() {
    let counter = WakeCounter::new();
    let waker = counter.waker();
    assert_eq!((counter.wakes(), counter.live_wakers()), (0, 1));
    waker.wake_by_ref();
    let clone = waker.clone();
    assert_eq!(counter.live_wakers(), 2);
    clone.wake();
    assert_eq!((counter.wakes(), counter.live_wakers()), (2, 1));
}

#[test]
fn dropping_a_mock_task_runs_its_futures_destructors() {
    let (probe, dropped) = DropProbe::new();
    let mut task = MockTask::new(async move {
        let _probe = probe;
        std::future::pending::<()>().await;
    });
    assert_pending!(task.poll());
    assert!(!dropped.get());
    drop(task);
    assert!(dropped.get());
}
