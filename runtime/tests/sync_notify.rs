//! `Notify`: one waiter per `notify_one` (FIFO), a stored permit when nobody
//! waits, `notify_waiters` for everyone present, and no notification lost
//! to a cancelled waiter.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use eddy::sync::Notify;
use eddy::test::MockTask;
use eddy::{assert_pending, assert_ready};

#[test]
fn notify_one_wakes_the_oldest_waiter_only() {
    let notify = Notify::new();
    let mut a = MockTask::new(notify.notified());
    let mut b = MockTask::new(notify.notified());
    assert_pending!(a.poll());
    assert_pending!(b.poll());
    notify.notify_one();
    assert!(a.is_woken() && !b.is_woken());
    assert_ready!(a.poll());
    assert_pending!(b.poll());
}

#[test]
fn notify_one_with_nobody_waiting_stores_one_permit() {
    let notify = Notify::new();
    notify.notify_one();
    notify.notify_one(); // still one permit
    let mut first = MockTask::new(notify.notified());
    assert_ready!(first.poll());
    let mut second = MockTask::new(notify.notified());
    assert_pending!(second.poll());
}

#[test]
fn notify_waiters_wakes_everyone_present_even_futures_not_yet_polled() {
    let notify = Notify::new();
    let mut polled = MockTask::new(notify.notified());
    assert_pending!(polled.poll());
    let mut created = MockTask::new(notify.notified());
    notify.notify_waiters();
    assert!(polled.is_woken());
    assert_ready!(polled.poll());
    assert_ready!(created.poll());
    // No permit is stored for later.
    let mut later = MockTask::new(notify.notified());
    assert_pending!(later.poll());
}

#[test]
fn dropping_a_queued_notified_leaves_the_line() {
    let notify = Notify::new();
    let mut a = MockTask::new(notify.notified());
    let mut b = MockTask::new(notify.notified());
    assert_pending!(a.poll());
    assert_pending!(b.poll());
    drop(a);
    notify.notify_one();
    assert!(b.is_woken());
    assert_ready!(b.poll());
}

#[test]
fn dropping_a_notified_that_was_given_notify_one_passes_it_to_the_next() {
    let notify = Notify::new();
    let mut a = MockTask::new(notify.notified());
    let mut b = MockTask::new(notify.notified());
    assert_pending!(a.poll());
    assert_pending!(b.poll());
    notify.notify_one();
    drop(a); // granted, never saw it
    assert!(b.is_woken(), "the notification went on to the next waiter");
    assert_ready!(b.poll());
}

#[test]
fn dropping_the_only_notified_after_notify_one_stores_the_permit() {
    let notify = Notify::new();
    let mut a = MockTask::new(notify.notified());
    assert_pending!(a.poll());
    notify.notify_one();
    drop(a);
    let mut later = MockTask::new(notify.notified());
    assert_ready!(later.poll());
}

#[test]
fn dropping_a_notified_woken_by_notify_waiters_stores_nothing() {
    let notify = Notify::new();
    let mut a = MockTask::new(notify.notified());
    assert_pending!(a.poll());
    notify.notify_waiters();
    drop(a);
    let mut later = MockTask::new(notify.notified());
    assert_pending!(later.poll());
}

#[test]
fn a_waiter_woken_by_notify_waiters_is_not_confused_by_later_grants() {
    let notify = Notify::new();
    let mut a = MockTask::new(notify.notified());
    assert_pending!(a.poll());
    notify.notify_waiters();
    let mut b = MockTask::new(notify.notified());
    assert_pending!(b.poll());
    notify.notify_one(); // for b, who came later than a
    assert!(b.is_woken());
    assert_ready!(a.poll());
    assert_ready!(b.poll());
    // Nothing left over: the next notify_one is for the next waiter.
    let mut c = MockTask::new(notify.notified());
    assert_pending!(c.poll());
    notify.notify_one();
    assert_ready!(c.poll());
}

#[test]
fn a_notify_one_granted_before_a_notify_waiters_is_still_passed_on_if_dropped() {
    let notify = Notify::new();
    let mut a = MockTask::new(notify.notified());
    assert_pending!(a.poll());
    notify.notify_one(); // granted to a
    notify.notify_waiters(); // nobody else is waiting
    drop(a);
    let mut later = MockTask::new(notify.notified());
    assert_ready!(later.poll());
}

#[test]
fn a_notify_from_another_thread_wakes_a_task() {
    eddy::run(async {
        let notify = Arc::new(Notify::new());
        let waiter = eddy::spawn({
            let notify = notify.clone();
            async move { notify.notified().await }
        });
        eddy::task::yield_now().await;
        let remote = notify.clone();
        std::thread::spawn(move || remote.notify_one()).join().unwrap();
        waiter.await.unwrap();
    });
}

#[test]
fn stress_ping_pong_between_four_threads_loses_no_notification() {
    // Two pairs of threads bounce notifications each way; a lost
    // notify_one would hang the pair (the stored permit makes the order of
    // notify and notified irrelevant). Every round is a cross-thread wake
    // (an eventfd write and a park), ~25 µs here: 2k rounds keep it fast.
    const ROUNDS: usize = 2_000;
    let threads: Vec<_> = (0..2)
        .flat_map(|_| {
            let ping = Arc::new(Notify::new());
            let pong = Arc::new(Notify::new());
            let (ping2, pong2) = (ping.clone(), pong.clone());
            [
                std::thread::spawn(move || {
                    eddy::run(async move {
                        for _ in 0..ROUNDS {
                            ping.notify_one();
                            pong.notified().await;
                        }
                    })
                }),
                std::thread::spawn(move || {
                    eddy::run(async move {
                        for _ in 0..ROUNDS {
                            ping2.notified().await;
                            pong2.notify_one();
                        }
                    })
                }),
            ]
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
}

#[test]
fn under_every_ordering_each_notify_one_wakes_one_live_waiter() {
    eddy::test::check_orderings(0..200, || async {
        let notify = Arc::new(Notify::new());
        let woken = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let (notify, woken) = (notify.clone(), woken.clone());
                eddy::spawn(async move {
                    notify.notified().await;
                    woken.fetch_add(1, Ordering::SeqCst);
                })
            })
            .collect();
        eddy::task::yield_now().await;
        notify.notify_one();
        notify.notify_one();
        tasks[0].abort(); // maybe waiting, maybe given a notification
        for _ in 0..3 {
            eddy::task::yield_now().await;
        }
        // Two notifications, and whichever task was aborted did not eat one.
        assert_eq!(woken.load(Ordering::SeqCst), 2);
        notify.notify_waiters();
        for task in tasks {
            let _ = task.await;
        }
    });
}
