//! `Mutex`: exclusion across awaits, FIFO hand-off, cancel safety at every
//! stage of a waiting `lock()`, owned guards, threads, and an ordering sweep.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use eddy::sync::Mutex;
use eddy::test::MockTask;
use eddy::{assert_pending, assert_ready};

#[test]
fn lock_and_try_lock_take_a_free_mutex_and_refuse_a_held_one() {
    let mutex = Mutex::new(1);
    let mut lock = MockTask::new(mutex.lock());
    let mut guard = assert_ready!(lock.poll());
    *guard += 1;
    assert!(mutex.try_lock().is_err());
    drop(guard);
    assert_eq!(*mutex.try_lock().unwrap(), 2);
}

#[test]
fn unlocking_hands_the_lock_to_the_oldest_waiter() {
    let mutex = Mutex::new(Vec::new());
    let held = mutex.try_lock().unwrap();
    let mut a = MockTask::new(async {
        mutex.lock().await.push('a');
    });
    let mut b = MockTask::new(async {
        mutex.lock().await.push('b');
    });
    assert_pending!(b.poll()); // b queued first
    assert_pending!(a.poll());
    drop(held);
    assert!(b.is_woken() && !a.is_woken());
    // Even polled first, `a` cannot take a lock already handed to `b`.
    assert_pending!(a.poll());
    assert_ready!(b.poll());
    assert!(a.is_woken());
    assert_ready!(a.poll());
    assert_eq!(*mutex.try_lock().unwrap(), ['b', 'a']);
}

#[test]
fn dropping_a_queued_lock_leaves_the_line() {
    let mutex = Mutex::new(());
    let held = mutex.try_lock().unwrap();
    let mut a = MockTask::new(mutex.lock());
    let mut b = MockTask::new(mutex.lock());
    assert_pending!(a.poll());
    assert_pending!(b.poll());
    drop(a);
    drop(held);
    assert!(b.is_woken());
    drop(assert_ready!(b.poll()));
}

#[test]
fn dropping_a_lock_that_was_handed_the_mutex_hands_it_on() {
    let mutex = Mutex::new(());
    let held = mutex.try_lock().unwrap();
    let mut a = MockTask::new(mutex.lock());
    let mut b = MockTask::new(mutex.lock());
    assert_pending!(a.poll());
    assert_pending!(b.poll());
    drop(held);
    assert!(a.is_woken());
    drop(a); // handed the lock, never took it
    assert!(b.is_woken(), "the lock went on to the next waiter");
    let guard = assert_ready!(b.poll());
    drop(guard);
    assert!(mutex.try_lock().is_ok(), "and came back when it was done");
}

#[test]
fn dropping_the_last_waiter_after_the_hand_off_unlocks() {
    let mutex = Mutex::new(());
    let held = mutex.try_lock().unwrap();
    let mut a = MockTask::new(mutex.lock());
    assert_pending!(a.poll());
    drop(held);
    drop(a);
    assert!(mutex.try_lock().is_ok());
}

#[test]
fn a_task_that_panics_holding_the_lock_hands_it_to_the_next_waiter() {
    eddy::run(async {
        let mutex = Arc::new(Mutex::new(0));
        let guard = mutex.clone().lock_owned().await;
        let doomed = eddy::spawn({
            let mutex = mutex.clone();
            async move {
                let _guard = mutex.lock().await;
                panic!("boom while holding the lock");
            }
        });
        let next = eddy::spawn({
            let mutex = mutex.clone();
            async move { *mutex.lock().await += 1 }
        });
        eddy::task::yield_now().await; // both wait, `doomed` first
        drop(guard);
        assert!(doomed.await.unwrap_err().is_panic());
        next.await.unwrap();
        assert_eq!(*mutex.lock().await, 1, "the unwinding guard released the lock");
    });
}

#[test]
fn get_mut_and_into_inner_need_no_lock() {
    let mut mutex = Mutex::new(String::from("a"));
    mutex.get_mut().push('b');
    assert_eq!(mutex.into_inner(), "ab");
}

#[test]
fn an_owned_guard_moves_into_another_task() {
    eddy::run(async {
        let mutex = Arc::new(Mutex::new(0));
        let guard = mutex.clone().lock_owned().await;
        let task = eddy::spawn(async move {
            let mut guard = guard;
            eddy::task::yield_now().await;
            *guard += 1;
        });
        assert_eq!(*mutex.lock().await, 1, "waited for the guard held by the other task");
        task.await.unwrap();
    });
}

#[test]
fn a_guard_held_across_an_await_excludes_everyone_else() {
    eddy::test::run(async {
        let mutex = Arc::new(Mutex::new(Vec::new()));
        let tasks: Vec<_> = (0..4)
            .map(|i| {
                let mutex = mutex.clone();
                eddy::spawn(async move {
                    let mut log = mutex.lock().await;
                    log.push(i);
                    eddy::time::sleep(std::time::Duration::from_millis(10)).await;
                    log.push(i);
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        let log = mutex.lock().await;
        assert!(log.chunks(2).all(|pair| pair[0] == pair[1]), "interleaved: {log:?}");
        assert_eq!(log.len(), 8);
    });
}

#[test]
fn tasks_on_two_loops_of_one_runtime_share_a_mutex() {
    let runtime = eddy::Builder::new().workers(2).build().unwrap();
    let mutex = Arc::new(Mutex::new(0u32));
    runtime.block_on(async {
        let tasks: Vec<_> = runtime
            .handles()
            .iter()
            .flat_map(|handle| (0..3).map(move |_| handle.clone()))
            .map(|handle| {
                let mutex = mutex.clone();
                handle.spawn(async move {
                    for _ in 0..300 {
                        let mut guard = mutex.lock().await;
                        let seen = *guard;
                        eddy::task::yield_now().await; // held across an await, on either loop
                        *guard = seen + 1;
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    });
    assert_eq!(*mutex.try_lock().unwrap(), 6 * 300);
}

#[test]
fn stress_four_threads_increment_under_the_lock() {
    const THREADS: usize = 4;
    const OPS: usize = 10_000;
    let mutex = Arc::new(Mutex::new(0usize));
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let mutex = mutex.clone();
            std::thread::spawn(move || {
                eddy::run(async move {
                    for i in 0..OPS {
                        let mut guard = mutex.lock().await;
                        let seen = *guard;
                        if i % 64 == 0 {
                            eddy::task::yield_now().await; // held across an await
                        }
                        *guard = seen + 1;
                    }
                })
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert_eq!(*mutex.try_lock().unwrap(), THREADS * OPS);
}

/// Counts holders while alive (an aborted task drops it too).
struct Inside<'a>(&'a AtomicUsize);

impl Inside<'_> {
    fn enter(count: &AtomicUsize) -> Inside<'_> {
        assert_eq!(count.fetch_add(1, Ordering::SeqCst), 0, "two holders at once");
        Inside(count)
    }
}

impl Drop for Inside<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[test]
fn under_every_ordering_aborted_waiters_never_strand_the_lock() {
    eddy::test::check_orderings(0..200, || async {
        let mutex = Arc::new(Mutex::new(0));
        let inside = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..5)
            .map(|_| {
                let (mutex, inside) = (mutex.clone(), inside.clone());
                eddy::spawn(async move {
                    let mut guard = mutex.lock().await;
                    let _inside = Inside::enter(&inside);
                    eddy::task::yield_now().await;
                    *guard += 1;
                })
            })
            .collect();
        eddy::task::yield_now().await;
        tasks[2].abort();
        tasks[3].abort();
        let mut finished = 0;
        for task in tasks {
            finished += self::finished(task.await) as i32;
        }
        // Whatever was aborted (waiting, handed the lock, or holding it), the
        // lock is free again and every finished task counted once.
        let guard = mutex.try_lock().expect("the lock was stranded");
        assert_eq!(*guard, finished);
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
