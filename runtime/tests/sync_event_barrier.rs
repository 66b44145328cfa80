//! `Event` (asyncio.Event) and `Barrier`: waking everyone, and what a
//! cancelled waiter does to each.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use eddy::sync::{Barrier, Event};
use eddy::test::MockTask;
use eddy::{assert_pending, assert_ready};

#[test]
fn set_wakes_every_waiter_and_later_waits_return_at_once() {
    let event = Event::new();
    let mut a = MockTask::new(event.wait());
    let mut b = MockTask::new(event.wait());
    assert_pending!(a.poll());
    assert_pending!(b.poll());
    assert!(!event.is_set());
    event.set();
    assert!(event.is_set() && a.is_woken() && b.is_woken());
    assert_ready!(a.poll());
    assert_ready!(b.poll());
    assert_ready!(MockTask::new(event.wait()).poll());
}

#[test]
fn clear_makes_later_waits_wait_but_a_waiter_woken_by_set_still_returns() {
    let event = Event::new();
    let mut woken = MockTask::new(event.wait());
    assert_pending!(woken.poll());
    event.set();
    event.clear();
    assert!(!event.is_set());
    assert_ready!(woken.poll()); // as in asyncio: it was set while we waited
    let mut later = MockTask::new(event.wait());
    assert_pending!(later.poll());
    event.set();
    assert_ready!(later.poll());
}

#[test]
fn dropping_a_waiting_wait_leaves_the_line_and_the_others_still_wake() {
    let event = Event::new();
    let mut a = MockTask::new(event.wait());
    let mut b = MockTask::new(event.wait());
    assert_pending!(a.poll());
    assert_pending!(b.poll());
    drop(a);
    event.set();
    assert!(b.is_woken());
    assert_ready!(b.poll());
}

#[test]
fn a_waker_that_panics_is_contained_and_the_others_still_wake() {
    use std::future::Future;
    use std::task::{Context, Poll};

    struct Panics;
    impl futures_task::ArcWake for Panics {
        fn wake_by_ref(_: &Arc<Self>) {
            panic!("a user waker panicked");
        }
    }
    let event = Event::new();
    let waker = futures_task::waker(Arc::new(Panics));
    let mut bad = Box::pin(event.wait());
    assert!(bad.as_mut().poll(&mut Context::from_waker(&waker)).is_pending());
    let mut good = MockTask::new(event.wait());
    assert_pending!(good.poll());
    event.set(); // the panic is contained (and logged at error)
    assert!(good.is_woken(), "the other waiter was still woken");
    assert_ready!(good.poll());
    assert_eq!(bad.as_mut().poll(&mut Context::from_waker(&waker)), Poll::Ready(()));
}

#[test]
fn an_event_set_from_another_thread_wakes_tasks_on_two_loops() {
    let runtime = eddy::Builder::new().workers(2).build().unwrap();
    let event = Arc::new(Event::new());
    let woken = runtime.block_on(async {
        let tasks: Vec<_> = runtime
            .handles()
            .iter()
            .map(|handle| {
                let event = event.clone();
                handle.spawn(async move { event.wait().await })
            })
            .collect();
        eddy::task::yield_now().await;
        let remote = event.clone();
        std::thread::spawn(move || remote.set()).join().unwrap();
        let mut woken = 0;
        for task in tasks {
            task.await.unwrap();
            woken += 1;
        }
        woken
    });
    assert_eq!(woken, 2);
}

#[test]
fn stress_four_threads_set_and_clear_while_others_wait() {
    const THREADS: usize = 4;
    const OPS: usize = 10_000;
    let event = Arc::new(Event::new());
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let event = event.clone();
            std::thread::spawn(move || {
                eddy::run(async move {
                    for i in 0..OPS {
                        if (i + t) % 2 == 0 {
                            event.set();
                            event.wait().await;
                        } else {
                            event.clear();
                        }
                    }
                    // A clear can strand a waiter only if its thread sets
                    // again later: each thread's last act is a set.
                    event.set();
                })
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
}

#[test]
fn under_every_ordering_a_set_reaches_every_live_waiter() {
    eddy::test::check_orderings(0..200, || async {
        let event = Arc::new(Event::new());
        let woken = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..5)
            .map(|_| {
                let (event, woken) = (event.clone(), woken.clone());
                eddy::spawn(async move {
                    event.wait().await;
                    woken.fetch_add(1, Ordering::SeqCst);
                })
            })
            .collect();
        eddy::task::yield_now().await;
        // A set and a clear before some waiters even ran, and one waiter
        // cancelled: whoever was waiting at the set returns; the others
        // wait for the next set. Nobody is lost, nobody wakes twice.
        event.set();
        event.clear();
        tasks[3].abort();
        eddy::task::yield_now().await;
        event.set();
        let mut finished = 0;
        for task in tasks {
            match task.await {
                Ok(()) => finished += 1,
                Err(error) => assert!(error.is_cancelled(), "a task failed: {error}"),
            }
        }
        assert_eq!(woken.load(Ordering::SeqCst), finished);
        assert!(finished >= 4);
    });
}

#[test]
fn the_nth_arrival_releases_everyone_and_exactly_one_leads() {
    let barrier = Barrier::new(3);
    let mut a = MockTask::new(barrier.wait());
    let mut b = MockTask::new(barrier.wait());
    assert_pending!(a.poll());
    assert_pending!(b.poll());
    let c = assert_ready!(MockTask::new(barrier.wait()).poll());
    assert!(c.is_leader());
    assert!(a.is_woken() && b.is_woken());
    assert!(!assert_ready!(a.poll()).is_leader());
    assert!(!assert_ready!(b.poll()).is_leader());
}

#[test]
fn a_barrier_is_reusable_generation_after_generation() {
    let barrier = Barrier::new(2);
    for _ in 0..3 {
        let mut a = MockTask::new(barrier.wait());
        assert_pending!(a.poll());
        assert!(assert_ready!(MockTask::new(barrier.wait()).poll()).is_leader());
        assert!(!assert_ready!(a.poll()).is_leader());
    }
}

#[test]
fn dropping_a_waiting_wait_takes_its_arrival_back() {
    let barrier = Barrier::new(2);
    let mut quitter = MockTask::new(barrier.wait());
    assert_pending!(quitter.poll());
    drop(quitter);
    let mut a = MockTask::new(barrier.wait());
    // One live waiter of two: not released.
    assert_pending!(a.poll());
    assert!(assert_ready!(MockTask::new(barrier.wait()).poll()).is_leader());
    assert_ready!(a.poll());
}

#[test]
fn dropping_a_released_wait_before_it_is_polled_changes_nothing() {
    let barrier = Barrier::new(2);
    let mut a = MockTask::new(barrier.wait());
    assert_pending!(a.poll());
    assert_ready!(MockTask::new(barrier.wait()).poll());
    drop(a); // released, never saw it
    let mut next = MockTask::new(barrier.wait());
    // The next generation starts from zero.
    assert_pending!(next.poll());
}

#[test]
fn stress_four_threads_meet_at_a_barrier_ten_thousand_times() {
    const THREADS: usize = 4;
    const ROUNDS: usize = 2_000; // every round wakes three threads: ~6k cross-thread wakes
    let barrier = Arc::new(Barrier::new(THREADS));
    let leaders = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let (barrier, leaders) = (barrier.clone(), leaders.clone());
            std::thread::spawn(move || {
                eddy::run(async move {
                    for _ in 0..ROUNDS {
                        if barrier.wait().await.is_leader() {
                            leaders.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                })
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert_eq!(leaders.load(Ordering::SeqCst), ROUNDS, "one leader per generation");
}

#[test]
fn under_every_ordering_a_barrier_releases_only_full_generations() {
    eddy::test::check_orderings(0..200, || async {
        let barrier = Arc::new(Barrier::new(3));
        let leaders = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..7)
            .map(|_| {
                let (barrier, leaders) = (barrier.clone(), leaders.clone());
                eddy::spawn(async move {
                    if barrier.wait().await.is_leader() {
                        leaders.fetch_add(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        // Seven arrivals, one of them aborted early: before it arrives,
        // while it waits (its arrival is taken back), or after its
        // generation was released. In every case six live arrivals make
        // exactly two generations with one leader each, and nothing else is
        // released: at most the one aborted after release misses out.
        eddy::task::yield_now().await;
        tasks[6].abort();
        for _ in 0..3 {
            eddy::task::yield_now().await;
        }
        tasks.iter().for_each(|task| task.abort()); // whoever still waits
        let mut released = 0;
        for task in tasks {
            match task.await {
                Ok(()) => released += 1,
                Err(error) => assert!(error.is_cancelled(), "a task failed: {error}"),
            }
        }
        assert_eq!(leaders.load(Ordering::SeqCst), 2);
        assert!((5..=6).contains(&released), "{released} released");
    });
}
