//! `Semaphore`: FIFO service, no barging, all-or-nothing `acquire_many`,
//! cancel safety at every stage of a waiting acquire, close, owned permits
//! across tasks and threads, and a stress test and an ordering sweep.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use eddy::sync::{AcquireError, Semaphore, TryAcquireError};
use eddy::test::MockTask;
use eddy::{assert_pending, assert_ready};

#[test]
fn acquire_takes_free_permits_at_once_and_the_permit_gives_them_back() {
    let sem = Semaphore::new(3);
    let mut a = MockTask::new(sem.acquire_many(2));
    let permit = assert_ready!(a.poll()).unwrap();
    assert_eq!((permit.num_permits(), sem.available_permits()), (2, 1));
    assert_eq!(sem.try_acquire_many(2).unwrap_err(), TryAcquireError::NoPermits);
    drop(permit);
    assert_eq!(sem.available_permits(), 3);
}

#[test]
fn waiters_are_served_first_come_first_served() {
    let sem = Semaphore::new(1);
    let held = sem.try_acquire().unwrap();
    let mut b = MockTask::new(sem.acquire());
    let mut c = MockTask::new(sem.acquire());
    assert_pending!(b.poll());
    assert_pending!(c.poll());
    drop(held);
    assert!(b.is_woken() && !c.is_woken(), "the oldest waiter, and only it, is woken");
    let b_permit = assert_ready!(b.poll()).unwrap();
    assert_pending!(c.poll());
    drop(b_permit);
    assert!(c.is_woken());
    drop(assert_ready!(c.poll()).unwrap());
}

#[test]
fn a_newcomer_does_not_overtake_a_waiter_even_when_permits_are_free() {
    let sem = Semaphore::new(0);
    let mut waiter = MockTask::new(sem.acquire());
    assert_pending!(waiter.poll());
    sem.add_permits(1);
    // Granted straight to the waiter: never visible to try_acquire.
    assert_eq!(sem.available_permits(), 0);
    assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
    let mut newcomer = MockTask::new(sem.acquire());
    assert_pending!(newcomer.poll());
    drop(assert_ready!(waiter.poll()).unwrap());
}

#[test]
fn a_large_request_at_the_head_holds_back_smaller_ones_behind_it() {
    let sem = Semaphore::new(2);
    let held = sem.try_acquire_many(2).unwrap();
    let mut big = MockTask::new(sem.acquire_many(3));
    let mut small = MockTask::new(sem.acquire());
    assert_pending!(big.poll());
    assert_pending!(small.poll());
    sem.add_permits(1); // 1 free: the head needs 3, and nobody overtakes it
    assert!(!big.is_woken() && !small.is_woken());
    drop(held); // 3 free
    assert!(big.is_woken() && !small.is_woken());
    let big_permit = assert_ready!(big.poll()).unwrap();
    assert_eq!(big_permit.num_permits(), 3);
    drop(big_permit);
    drop(assert_ready!(small.poll()).unwrap());
}

#[test]
fn dropping_a_queued_acquire_leaves_the_line_and_the_next_is_served() {
    let sem = Semaphore::new(0);
    let mut a = MockTask::new(sem.acquire());
    let mut b = MockTask::new(sem.acquire());
    assert_pending!(a.poll());
    assert_pending!(b.poll());
    drop(a);
    sem.add_permits(1);
    assert!(b.is_woken());
    drop(assert_ready!(b.poll()).unwrap());
}

#[test]
fn dropping_a_granted_but_unpolled_acquire_hands_its_permit_to_the_next() {
    let sem = Semaphore::new(0);
    let mut a = MockTask::new(sem.acquire());
    let mut b = MockTask::new(sem.acquire());
    assert_pending!(a.poll());
    assert_pending!(b.poll());
    sem.add_permits(1);
    assert!(a.is_woken() && !b.is_woken());
    drop(a); // granted, never took it
    assert!(b.is_woken(), "the permit went on to the next waiter");
    let permit = assert_ready!(b.poll()).unwrap();
    assert_eq!(sem.available_permits(), 0);
    drop(permit);
    assert_eq!(sem.available_permits(), 1, "no permit lost, none invented");
}

#[test]
fn dropping_a_granted_acquire_with_nobody_behind_returns_the_permit() {
    let sem = Semaphore::new(0);
    let mut a = MockTask::new(sem.acquire_many(2));
    assert_pending!(a.poll());
    sem.add_permits(2);
    drop(a);
    assert_eq!(sem.available_permits(), 2);
}

#[test]
fn dropping_a_head_that_does_not_fit_lets_the_waiters_behind_it_in() {
    let sem = Semaphore::new(1);
    let mut big = MockTask::new(sem.acquire_many(2));
    let mut small = MockTask::new(sem.acquire());
    assert_pending!(big.poll());
    assert_pending!(small.poll());
    drop(big);
    assert!(small.is_woken(), "the free permit fits the new head");
    drop(assert_ready!(small.poll()).unwrap());
}

#[test]
fn a_waiter_polled_again_keeps_its_place_and_its_latest_waker() {
    let sem = Semaphore::new(0);
    let mut a = MockTask::new(sem.acquire());
    assert_pending!(a.poll());
    assert_pending!(a.poll());
    assert_eq!(a.waker_ref_count(), 1, "one waker stored, not one per poll");
    sem.add_permits(1);
    drop(assert_ready!(a.poll()).unwrap());
    assert_eq!(a.waker_ref_count(), 0, "nothing holds the waker of a finished acquire");
}

#[test]
fn close_fails_waiting_and_later_acquires_but_not_permits_held() {
    let sem = Semaphore::new(1);
    let held = sem.try_acquire().unwrap();
    let mut waiter = MockTask::new(sem.acquire());
    assert_pending!(waiter.poll());
    sem.close();
    assert!(waiter.is_woken());
    let error: AcquireError = assert_ready!(waiter.poll()).unwrap_err();
    assert_eq!(error.to_string(), "the semaphore is closed");
    assert!(sem.try_acquire().is_err());
    assert_eq!(held.num_permits(), 1);
    drop(held);
    assert_eq!(sem.available_permits(), 1);
    let mut late = MockTask::new(sem.acquire());
    assert!(assert_ready!(late.poll()).is_err());
}

#[test]
fn forget_keeps_permits_out_for_good() {
    let sem = Semaphore::new(2);
    sem.try_acquire().unwrap().forget();
    assert_eq!(sem.available_permits(), 1);
}

#[test]
fn an_owned_permit_released_on_another_thread_wakes_the_waiting_task() {
    eddy::run(async {
        let sem = Arc::new(Semaphore::new(1));
        let permit = sem.clone().acquire_owned().await.unwrap();
        let waiter = eddy::spawn({
            let sem = sem.clone();
            async move { sem.acquire_owned().await.map(|p| p.num_permits()) }
        });
        eddy::task::yield_now().await;
        std::thread::spawn(move || drop(permit)).join().unwrap();
        assert_eq!(waiter.await.unwrap(), Ok(1));
    });
}

#[test]
fn waiters_on_two_loops_share_one_semaphore() {
    let runtime = eddy::Builder::new().workers(2).build().unwrap();
    let sem = Arc::new(Semaphore::new(1));
    let total = runtime.block_on(async {
        let tasks: Vec<_> = runtime
            .handles()
            .iter()
            .flat_map(|handle| (0..4).map(move |_| handle.clone()))
            .map(|handle| {
                let sem = sem.clone();
                handle.spawn(async move {
                    for _ in 0..200 {
                        let _permit = sem.acquire().await.unwrap();
                        eddy::task::yield_now().await;
                    }
                    200
                })
            })
            .collect();
        let mut total = 0;
        for task in tasks {
            total += task.await.unwrap();
        }
        total
    });
    assert_eq!(total, 1600);
    assert_eq!(sem.available_permits(), 1);
}

#[test]
fn stress_four_threads_never_exceed_the_permits_and_lose_none() {
    const THREADS: usize = 4;
    const OPS: usize = 10_000;
    let sem = Arc::new(Semaphore::new(2));
    let inside = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let (sem, inside) = (sem.clone(), inside.clone());
            std::thread::spawn(move || {
                eddy::run(async move {
                    for i in 0..OPS {
                        let _permit = sem.acquire().await.unwrap();
                        assert!(inside.fetch_add(1, Ordering::SeqCst) < 2, "more holders than permits");
                        if i % 64 == 0 {
                            eddy::task::yield_now().await;
                        }
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                })
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert_eq!(sem.available_permits(), 2);
}

/// Counts permits in use while alive (an aborted task drops it too).
struct Inside<'a>(&'a AtomicUsize, usize);

impl Inside<'_> {
    fn enter(count: &AtomicUsize, n: usize) -> Inside<'_> {
        let before = count.fetch_add(n, Ordering::SeqCst);
        assert!(before + n <= 2, "more permits held than exist");
        Inside(count, n)
    }
}

impl Drop for Inside<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(self.1, Ordering::SeqCst);
    }
}

#[test]
fn under_every_ordering_aborted_waiters_lose_no_permit() {
    eddy::test::check_orderings(0..200, || async {
        let sem = Arc::new(Semaphore::new(2));
        let inside = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..6)
            .map(|i| {
                let (sem, inside) = (sem.clone(), inside.clone());
                eddy::spawn(async move {
                    let n = 1 + i % 2;
                    let _permit = sem.acquire_many(n).await.unwrap();
                    let _inside = Inside::enter(&inside, n as usize);
                    eddy::task::yield_now().await;
                })
            })
            .collect();
        eddy::task::yield_now().await;
        tasks[1].abort();
        tasks[4].abort();
        for task in tasks {
            finished(task.await);
        }
        assert_eq!(sem.available_permits(), 2);
        assert_eq!(inside.load(Ordering::SeqCst), 0);
    });
}

/// Whether the task finished (`false`: it was aborted); a task that
/// panicked fails the test with its message.
fn finished<T>(result: Result<T, eddy::JoinError>) -> bool {
    match result {
        Ok(_) => true,
        Err(error) if error.is_cancelled() => false,
        Err(error) => panic!("a task failed: {error}"),
    }
}
