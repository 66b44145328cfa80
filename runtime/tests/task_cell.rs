//! The task cell's promises, as its users see them: the future and its
//! result share the cell's bytes (see `task/cell.rs`), so each is dropped
//! exactly once, by whoever owns it at that moment, and the future always
//! before the result exists; the `JoinHandle`'s waker slot (locked by a bit
//! of the task's state word) keeps one clone of a waker, wakes it once when
//! the task finishes, and lets go of it when nobody awaits any more. Each
//! test counts drops, clones and wakes and asserts every step.

use std::cell::Cell;
use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use eddy::sync::oneshot;
use eddy::task::yield_now;
use eddy::test::{MockTask, WakeCounter};

/// Counts its drops into a shared counter.
struct Counted(Rc<Cell<usize>>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

fn counter() -> Rc<Cell<usize>> {
    Rc::new(Cell::new(0))
}

/// Spawns a task that holds a counted value across one yield and returns
/// another: its handle, and how often each of the two has been dropped.
fn spawn_counted() -> (eddy::task::JoinHandle<Counted>, Rc<Cell<usize>>, Rc<Cell<usize>>) {
    let (future_drops, output_drops) = (counter(), counter());
    let probe = Counted(future_drops.clone());
    let output = Counted(output_drops.clone());
    let handle = eddy::spawn(async move {
        let _probe = probe;
        yield_now().await;
        output
    });
    (handle, future_drops, output_drops)
}

/// Yields until `finished` says so (a bounded number of times: a task
/// that never finishes fails the test instead of hanging it).
async fn until(finished: impl Fn() -> bool) {
    for _ in 0..100 {
        if finished() {
            return;
        }
        yield_now().await;
    }
    panic!("the task did not finish within 100 yields");
}

/// A future that is ready at once and panics when dropped (counting the
/// drop first): the future's destructor, not its poll, is what fails.
struct ReadyThenPanicsWhenDropped {
    drops: Rc<Cell<usize>>,
    ready: bool,
}

impl Future for ReadyThenPanicsWhenDropped {
    type Output = u32;

    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<u32> {
        if self.ready {
            Poll::Ready(7)
        } else {
            Poll::Pending
        }
    }
}

impl Drop for ReadyThenPanicsWhenDropped {
    fn drop(&mut self) {
        self.drops.set(self.drops.get() + 1);
        panic!("probe: this future panics when dropped");
    }
}

// ----- The stage: the future, then the result, each dropped once ----------

#[test]
fn the_future_is_dropped_once_and_before_its_result_is_seen() {
    eddy::test::run(async {
        let (handle, future_drops, output_drops) = spawn_counted();
        let result = handle.await.unwrap();
        assert_eq!(future_drops.get(), 1, "the future is gone once its result is out");
        assert_eq!(output_drops.get(), 0, "the result is the awaiter's now");
        drop(result);
        assert_eq!(output_drops.get(), 1);
        assert_eq!(future_drops.get(), 1);
    });
}

#[test]
fn a_result_nobody_awaits_is_dropped_once_by_the_loop() {
    eddy::test::run(async {
        let (handle, future_drops, output_drops) = spawn_counted();
        drop(handle);
        until(|| output_drops.get() > 0).await;
        assert_eq!((future_drops.get(), output_drops.get()), (1, 1));
    });
}

#[test]
fn a_result_left_in_a_handle_is_dropped_once_with_the_handle() {
    eddy::test::run(async {
        let output_drops = counter();
        let output = Counted(output_drops.clone());
        let handle = eddy::spawn(async move { output });
        until(|| handle.is_finished()).await;
        assert_eq!(output_drops.get(), 0, "the loop leaves the result to the handle");
        drop(handle);
        assert_eq!(output_drops.get(), 1);
    });
}

#[test]
fn a_future_that_panics_when_dropped_after_finishing_is_reported_as_a_panic() {
    eddy::test::run(async {
        let drops = counter();
        let handle = eddy::spawn(ReadyThenPanicsWhenDropped { drops: drops.clone(), ready: true });
        let error = handle.await.unwrap_err();
        assert!(error.is_panic(), "{error}");
        assert_eq!(error.panic_message(), Some("probe: this future panics when dropped"));
        assert_eq!(drops.get(), 1, "a destructor that panicked is not run again");
        // The loop goes on.
        assert_eq!(eddy::spawn(async { 3 }).await.unwrap(), 3);
    });
}

#[test]
fn an_aborted_future_that_panics_when_dropped_is_dropped_once_and_cancelled() {
    eddy::test::run(async {
        let drops = counter();
        let handle = eddy::spawn(ReadyThenPanicsWhenDropped { drops: drops.clone(), ready: false });
        yield_now().await;
        handle.abort();
        let error = handle.await.unwrap_err();
        assert!(error.is_cancelled(), "{error}");
        assert_eq!(drops.get(), 1);
    });
}

#[test]
fn a_named_task_keeps_its_name_and_site_in_errors_and_an_unnamed_one_its_site() {
    eddy::test::run(async {
        let named = eddy::task::spawn_named(String::from("cell-probe"), async { panic!("named boom") });
        let error = named.await.unwrap_err().to_string();
        assert!(error.contains("'cell-probe' (spawned at "), "{error}");
        assert!(error.contains(file!()), "{error}");

        let unnamed = eddy::spawn(async { panic!("unnamed boom") });
        let error = unnamed.await.unwrap_err().to_string();
        assert!(error.contains("(spawned at ") && error.contains(file!()), "{error}");
        assert!(!error.contains('\''), "no name shown: {error}");
    });
}

// ----- The join waker ------------------------------------------------------

#[test]
fn a_handle_polled_twice_with_one_waker_keeps_one_clone_and_wakes_it_once() {
    eddy::test::run(async {
        let (tx, rx) = oneshot::channel::<u32>();
        let mut joiner = MockTask::new(eddy::spawn(async move { rx.await.unwrap() }));
        assert!(joiner.poll().is_pending());
        assert!(joiner.poll().is_pending());
        assert_eq!(joiner.waker_ref_count(), 1, "the second poll reuses the stored clone");
        tx.send(5).unwrap();
        let counter = &joiner;
        until(|| counter.is_woken()).await;
        assert_eq!(joiner.wake_count(), 1);
        assert_eq!(joiner.waker_ref_count(), 0, "woken by value: the slot holds nothing");
        assert!(matches!(joiner.poll(), Poll::Ready(Ok(5))));
    });
}

#[test]
fn a_waker_left_by_a_dropped_handle_is_released_unwoken_when_the_task_finishes() {
    eddy::test::run(async {
        let (tx, rx) = oneshot::channel::<()>();
        let done = Rc::new(Cell::new(false));
        let finished = done.clone();
        let mut handle = eddy::spawn(async move {
            rx.await.unwrap();
            finished.set(true);
        });
        let counter = WakeCounter::new();
        let waker = counter.waker();
        assert!(Pin::new(&mut handle).poll(&mut Context::from_waker(&waker)).is_pending());
        drop(waker);
        assert_eq!(counter.live_wakers(), 1, "the handle's slot holds a clone");
        drop(handle);
        assert_eq!(counter.live_wakers(), 1, "the slot belongs to the task, not the handle");
        tx.send(()).unwrap();
        until(|| done.get()).await;
        yield_now().await;
        assert_eq!(counter.live_wakers(), 0, "released when the task finished");
        assert_eq!(counter.wakes(), 0, "nobody awaits any more: nothing to wake");
    });
}

#[test]
fn a_handle_polled_before_its_task_ran_is_woken_once_and_then_ready() {
    eddy::test::run(async {
        let handle = eddy::spawn(async { 11 });
        let mut handle = pin!(handle);
        let polls = Cell::new(0);
        // The first poll registers (the task has not run yet); the task
        // then runs, and the next poll takes the result without a wait.
        let result = poll_fn(|cx| {
            polls.set(polls.get() + 1);
            handle.as_mut().poll(cx)
        })
        .await;
        assert_eq!(result.unwrap(), 11);
        assert_eq!(polls.get(), 2);
    });
}

/// The join waker's lock is a bit of the state word, taken and released by
/// the handle while the loop may be completing the task on another thread.
/// Whichever order the two take, the handle's future is woken or finds the
/// result: a thousand tasks on a worker loop, each awaited from the main
/// thread's loop right as it finishes, all come back.
#[test]
fn handles_awaited_from_another_thread_always_get_their_result() {
    const TASKS: usize = 1000;
    let runtime = eddy::Builder::new().workers(2).build().unwrap();
    let worker = runtime.handles()[1].clone();
    let finished = Arc::new(AtomicUsize::new(0));
    let sum = runtime.block_on(async move {
        let mut sum = 0;
        for i in 0..TASKS {
            let finished = finished.clone();
            let handle = worker.spawn(async move {
                finished.fetch_add(1, Ordering::Relaxed);
                i
            });
            sum += handle.await.unwrap();
        }
        assert_eq!(finished.load(Ordering::Relaxed), TASKS);
        sum
    });
    assert_eq!(sum, TASKS * (TASKS - 1) / 2);
}
