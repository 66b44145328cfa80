//! `RwLock`: readers share, writers exclude, writers do not starve, and
//! cancelled waiters strand nobody.

use std::sync::Arc;

use eddy::sync::RwLock;
use eddy::test::MockTask;
use eddy::{assert_pending, assert_ready};

#[test]
fn readers_share_and_a_writer_excludes() {
    let lock = RwLock::new(0);
    let a = lock.try_read().unwrap();
    let b = lock.try_read().unwrap();
    assert!(lock.try_write().is_err());
    drop((a, b));
    let mut w = lock.try_write().unwrap();
    *w = 1;
    assert!(lock.try_read().is_err());
    drop(w);
    assert_eq!(*lock.try_read().unwrap(), 1);
}

#[test]
fn a_waiting_writer_holds_back_later_readers_so_it_cannot_starve() {
    let lock = RwLock::new(0);
    let reader = lock.try_read().unwrap();
    let mut writer = MockTask::new(async {
        *lock.write().await += 1;
    });
    assert_pending!(writer.poll());
    let mut late_reader = MockTask::new(async { *lock.read().await });
    assert_pending!(late_reader.poll());
    assert!(lock.try_read().is_err(), "no reader overtakes the waiting writer");
    drop(reader);
    assert!(writer.is_woken() && !late_reader.is_woken());
    assert_ready!(writer.poll());
    assert!(late_reader.is_woken());
    assert_eq!(assert_ready!(late_reader.poll()), 1, "the reader saw the write it queued behind");
}

#[test]
fn readers_queued_behind_a_writer_go_in_together() {
    let lock = RwLock::new(());
    let writer = lock.try_write().unwrap();
    let mut r1 = MockTask::new(lock.read());
    let mut r2 = MockTask::new(lock.read());
    assert_pending!(r1.poll());
    assert_pending!(r2.poll());
    drop(writer);
    assert!(r1.is_woken() && r2.is_woken());
    let (_g1, _g2) = (assert_ready!(r1.poll()), assert_ready!(r2.poll()));
}

#[test]
fn dropping_a_waiting_writer_lets_the_readers_behind_it_in() {
    let lock = RwLock::new(());
    let reader = lock.try_read().unwrap();
    let mut writer = MockTask::new(lock.write());
    let mut late_reader = MockTask::new(lock.read());
    assert_pending!(writer.poll());
    assert_pending!(late_reader.poll());
    drop(writer);
    assert!(late_reader.is_woken());
    drop(assert_ready!(late_reader.poll()));
    drop(reader);
}

#[test]
fn dropping_a_writer_that_was_granted_the_lock_hands_it_on() {
    let lock = RwLock::new(());
    let reader = lock.try_read().unwrap();
    let mut writer = MockTask::new(lock.write());
    let mut next = MockTask::new(lock.write());
    assert_pending!(writer.poll());
    assert_pending!(next.poll());
    drop(reader);
    assert!(writer.is_woken());
    drop(writer);
    assert!(next.is_woken());
    drop(assert_ready!(next.poll()));
    assert!(lock.try_write().is_ok());
}

#[test]
fn stress_four_threads_of_readers_and_writers() {
    const THREADS: usize = 4;
    const OPS: usize = 10_000;
    let lock = Arc::new(RwLock::new((0usize, 0usize)));
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let lock = lock.clone();
            std::thread::spawn(move || {
                eddy::run(async move {
                    for i in 0..OPS {
                        if i % 4 == 0 {
                            let mut w = lock.write().await;
                            w.0 += 1;
                            w.1 += 1;
                        } else {
                            let r = lock.read().await;
                            assert_eq!(r.0, r.1, "a reader saw half a write");
                        }
                    }
                })
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert_eq!(lock.try_read().unwrap().0, THREADS * OPS / 4);
}

#[test]
fn under_every_ordering_aborted_readers_and_writers_strand_nobody() {
    eddy::test::check_orderings(0..200, || async {
        let lock = Arc::new(RwLock::new(0));
        let tasks: Vec<_> = (0..6)
            .map(|i| {
                let lock = lock.clone();
                eddy::spawn(async move {
                    if i % 3 == 0 {
                        let mut w = lock.write().await;
                        eddy::task::yield_now().await;
                        *w += 1;
                    } else {
                        let r = lock.read().await;
                        eddy::task::yield_now().await;
                        drop(r);
                    }
                })
            })
            .collect();
        eddy::task::yield_now().await;
        tasks[0].abort();
        tasks[4].abort();
        for task in tasks {
            finished(task.await);
        }
        assert!(lock.try_write().is_ok(), "the lock was stranded");
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
