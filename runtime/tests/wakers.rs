//! Wakers: from any thread, any number of times, at any point in a task's life.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::Duration;

/// A future that counts its polls and parks its waker where a test can reach it.
struct Parked {
    polls: Arc<AtomicUsize>,
    waker: Arc<Mutex<Option<Waker>>>,
    ready_after: usize,
}

impl std::future::Future for Parked {
    type Output = usize;
    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<usize> {
        let polls = self.polls.fetch_add(1, Ordering::SeqCst) + 1;
        if polls >= self.ready_after {
            return Poll::Ready(polls);
        }
        *self.waker.lock().unwrap() = Some(cx.waker().clone());
        Poll::Pending
    }
}

fn parked(ready_after: usize) -> (Parked, Arc<AtomicUsize>, Arc<Mutex<Option<Waker>>>) {
    let polls = Arc::new(AtomicUsize::new(0));
    let waker = Arc::new(Mutex::new(None));
    (Parked { polls: polls.clone(), waker: waker.clone(), ready_after }, polls, waker)
}

#[test]
fn a_wake_from_another_thread_runs_the_task() {
    eddy::run(async {
        let (future, polls, waker) = parked(2);
        let task = eddy::spawn(future);
        while waker.lock().unwrap().is_none() {
            eddy::task::yield_now().await;
        }
        let waker = waker.lock().unwrap().take().unwrap();
        // The loop parks in epoll_wait while the thread wakes the task.
        std::thread::spawn(move || waker.wake()).join().unwrap();
        assert_eq!(task.await.unwrap(), 2);
        assert_eq!(polls.load(Ordering::SeqCst), 2);
    });
}

#[test]
fn a_wake_after_completion_is_ignored() {
    eddy::run(async {
        let (future, polls, waker) = parked(2);
        let task = eddy::spawn(future);
        eddy::task::yield_now().await;
        let stale = waker.lock().unwrap().clone().unwrap();
        stale.wake_by_ref();
        task.await.unwrap();
        // The task is complete: further wakes, local or remote, do nothing.
        stale.wake_by_ref();
        let remote = stale.clone();
        std::thread::spawn(move || remote.wake()).join().unwrap();
        for _ in 0..3 {
            eddy::task::yield_now().await;
        }
        assert_eq!(polls.load(Ordering::SeqCst), 2);
    });
}

#[test]
fn a_task_woken_a_thousand_times_is_polled_once() {
    eddy::run(async {
        let (future, polls, waker) = parked(usize::MAX);
        let _task = eddy::spawn(future);
        eddy::task::yield_now().await;
        assert_eq!(polls.load(Ordering::SeqCst), 1);
        let waker = waker.lock().unwrap().clone().unwrap();
        for _ in 0..1000 {
            waker.wake_by_ref();
        }
        let remote = waker.clone();
        std::thread::spawn(move || (0..1000).for_each(|_| remote.wake_by_ref())).join().unwrap();
        for _ in 0..3 {
            eddy::task::yield_now().await;
        }
        assert_eq!(polls.load(Ordering::SeqCst), 2);
    });
}

#[test]
fn a_wake_after_the_runtime_is_dropped_is_harmless() {
    let (future, _polls, waker) = parked(usize::MAX);
    {
        let runtime = eddy::Builder::new().build().unwrap();
        runtime.block_on(async {
            let _task = eddy::spawn(future);
            eddy::task::yield_now().await;
        });
    }
    let waker = waker.lock().unwrap().take().unwrap();
    waker.wake_by_ref();
    std::thread::spawn(move || waker.wake()).join().unwrap();
}

#[test]
fn the_block_on_future_is_woken_from_another_thread() {
    let (tx, rx) = eddy::sync::oneshot::channel();
    let sender = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(2));
        tx.send(7).unwrap();
    });
    assert_eq!(eddy::run(rx), Ok(7));
    sender.join().unwrap();
}
