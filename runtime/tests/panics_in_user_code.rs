//! A panic anywhere in user code never loses another task's wakeup.
//!
//! The loop runs user code in four places: a task's `poll`, a waker's
//! `wake` (a hand-written future may hand the loop any waker, for a timer,
//! a socket or a `JoinHandle`), the destructor that `wake` runs when it
//! consumes the waker, and a task's destructor when it finishes. Each of
//! them may panic. The panic is contained and logged at `error`; the rest
//! of the batch it arrived in is still woken; the loop (on any thread)
//! keeps serving its tasks and later spawns. The blocking pool, which wakes
//! whoever awaits a job's result, contains it the same way and keeps its
//! thread.

use std::cell::RefCell;
use std::future::Future;
use std::net::TcpStream as StdStream;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Waker};
use std::time::Duration;

use eddy::net::TcpListener;
use eddy::time::{self, sleep_until, Instant};
use futures_task::ArcWake;

// ----- Probes -------------------------------------------------------------

/// A waker whose `wake` panics: what a buggy hand-written future hands over.
struct PanicsInWake;

impl ArcWake for PanicsInWake {
    fn wake_by_ref(_: &Arc<Self>) {
        panic!("probe: this waker panics in wake");
    }
}

/// A waker whose last reference panics when dropped, which `wake` (taking
/// the waker by value) does inside the loop's dispatch.
struct PanicsOnDrop;

impl ArcWake for PanicsOnDrop {
    fn wake_by_ref(_: &Arc<Self>) {}
}

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("probe: this waker panics when dropped");
        }
    }
}

fn panics_in_wake() -> Waker {
    futures_task::waker(Arc::new(PanicsInWake))
}

fn panics_on_drop() -> Waker {
    futures_task::waker(Arc::new(PanicsOnDrop))
}

/// A future whose destructor panics: the loop drops it when its task ends.
struct PanicsWhenDropped;

impl Drop for PanicsWhenDropped {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("probe: this future panics when dropped");
        }
    }
}

/// Arms `future` (a timer or socket wait) with `waker` by polling it once,
/// then keeps it alive (so the registration stays) until the test ends.
fn arm_with<F: Future + Unpin + 'static>(
    mut future: F,
    waker: &Waker,
    keep: &Rc<RefCell<Vec<Box<dyn std::any::Any>>>>,
) {
    let _ = Pin::new(&mut future).poll(&mut Context::from_waker(waker));
    keep.borrow_mut().push(Box::new(future));
}

/// Records every `error`-level log line, so tests can check that each
/// contained panic was reported. One logger per process: lines of
/// concurrent tests mix, so each test looks for its own probe's message.
struct Errors(Mutex<Vec<String>>);

impl log::Log for Errors {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Error
    }
    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            self.0.lock().unwrap().push(record.args().to_string());
        }
    }
    fn flush(&self) {}
}

fn errors() -> &'static Errors {
    static ERRORS: OnceLock<&'static Errors> = OnceLock::new();
    ERRORS.get_or_init(|| {
        let errors: &'static Errors = Box::leak(Box::new(Errors(Mutex::new(Vec::new()))));
        let _ = log::set_logger(errors);
        log::set_max_level(log::LevelFilter::Error);
        errors
    })
}

fn error_logged(containing: &str) -> bool {
    errors().0.lock().unwrap().iter().any(|line| line.contains(containing))
}

/// Spawns `count` tasks that sleep until `deadline`; returns how many woke.
fn sleepers(count: usize, deadline: Instant) -> (Vec<eddy::JoinHandle<()>>, Arc<AtomicUsize>) {
    let woke = Arc::new(AtomicUsize::new(0));
    let tasks = (0..count)
        .map(|_| {
            let woke = woke.clone();
            eddy::spawn(async move {
                sleep_until(deadline).await;
                woke.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    (tasks, woke)
}

// ----- Timers -------------------------------------------------------------

#[test]
fn a_waker_that_panics_in_wake_does_not_lose_the_other_timers_of_its_batch() {
    errors();
    eddy::test::run(async {
        let keep = Rc::new(RefCell::new(Vec::new()));
        let deadline = Instant::now() + Duration::from_millis(5);
        let (first, woke_first) = sleepers(50, deadline);
        // Armed in the middle of the batch, so a panic that escaped would
        // drop the 50 wakers after it.
        arm_with(Box::pin(sleep_until(deadline)), &panics_in_wake(), &keep);
        let (second, woke_second) = sleepers(50, deadline);
        for task in first.into_iter().chain(second) {
            task.await.unwrap();
        }
        assert_eq!(woke_first.load(Ordering::SeqCst) + woke_second.load(Ordering::SeqCst), 100);
        assert_eq!(Instant::now(), deadline);
    });
    assert!(error_logged("this waker panics in wake"), "the contained panic was not logged at error");
}

#[test]
fn a_waker_that_panics_when_dropped_does_not_lose_the_other_timers_of_its_batch() {
    errors();
    eddy::test::run(async {
        let keep = Rc::new(RefCell::new(Vec::new()));
        let deadline = Instant::now() + Duration::from_millis(5);
        let (first, _) = sleepers(20, deadline);
        arm_with(Box::pin(sleep_until(deadline)), &panics_on_drop(), &keep);
        let (second, woke) = sleepers(20, deadline);
        for task in first.into_iter().chain(second) {
            task.await.unwrap();
        }
        assert_eq!(woke.load(Ordering::SeqCst), 20);
    });
    assert!(error_logged("this waker panics when dropped"));
}

// ----- I/O ----------------------------------------------------------------

#[test]
fn a_waker_that_panics_in_wake_does_not_lose_the_other_io_wakeups_of_its_batch() {
    errors();
    eddy::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mut clients = Vec::new();
        let mut servers = Vec::new();
        for _ in 0..3 {
            clients.push(StdStream::connect(addr).unwrap());
            servers.push(Rc::new(listener.accept().await.unwrap().0));
        }
        // Socket 1 waits with the panicking waker; sockets 0 and 2 with tasks.
        let keep = Rc::new(RefCell::new(Vec::new()));
        // A new socket is assumed ready until an operation would block.
        let would_block = servers[1].try_read(&mut [0; 8]).unwrap_err();
        assert_eq!(would_block.kind(), std::io::ErrorKind::WouldBlock);
        let waiting = servers[1].clone();
        arm_with(Box::pin(async move { waiting.readable().await }), &panics_in_wake(), &keep);
        let readers: Vec<_> = [0, 2]
            .into_iter()
            .map(|i| {
                let stream = servers[i].clone();
                eddy::spawn(async move {
                    let mut buf = [0; 8];
                    stream.read(&mut buf).await.unwrap()
                })
            })
            .collect();
        eddy::task::yield_now().await; // Both readers are parked on their sockets.
                                       // All three become readable before the loop next parks: one batch,
                                       // the panicking waker in the middle of it (epoll reports in the
                                       // order sockets became ready).
        for i in [0, 1, 2] {
            std::io::Write::write_all(&mut clients[i], b"x").unwrap();
        }
        for reader in readers {
            assert_eq!(reader.await.unwrap(), 1);
        }
    });
    assert!(error_logged("released by an I/O event panicked"));
}

// ----- JoinHandles --------------------------------------------------------

#[test]
fn a_join_handle_waker_that_panics_does_not_stop_the_loop() {
    errors();
    eddy::test::run(async {
        let keep = Rc::new(RefCell::new(Vec::new()));
        let watched = eddy::spawn(async { time::sleep(Duration::from_millis(1)).await });
        arm_with(watched, &panics_in_wake(), &keep);
        let (others, woke) = sleepers(10, Instant::now() + Duration::from_millis(1));
        for task in others {
            task.await.unwrap();
        }
        assert_eq!(woke.load(Ordering::SeqCst), 10);
    });
    assert!(error_logged("JoinHandle of"));
}

// ----- The general property, on every kind of loop ------------------------

/// At one deadline, a batch of timers wakes good tasks interleaved with
/// every kind of panicking user code: a task that panics when polled, a
/// waker that panics in `wake`, one that panics when dropped, a task whose
/// future panics when dropped. Every good task still wakes, the loop goes
/// on to serve a later spawn, and the panicking task's handle reports it.
async fn every_kind_of_panic_at_one_deadline() -> usize {
    let keep = Rc::new(RefCell::new(Vec::new()));
    let deadline = Instant::now() + Duration::from_millis(5);
    let mut good = Vec::new();
    let mut woke = Vec::new();
    let mut panicked = Vec::new();
    for round in 0..10 {
        let (tasks, count) = sleepers(10, deadline);
        good.extend(tasks);
        woke.push(count);
        match round % 4 {
            0 => panicked.push(eddy::spawn(async move {
                sleep_until(deadline).await;
                panic!("probe: this task panics when polled");
            })),
            1 => arm_with(Box::pin(sleep_until(deadline)), &panics_in_wake(), &keep),
            2 => arm_with(Box::pin(sleep_until(deadline)), &panics_on_drop(), &keep),
            _ => panicked.push(eddy::spawn(async move {
                let _bomb = PanicsWhenDropped;
                sleep_until(deadline).await;
            })),
        }
    }
    for task in good {
        task.await.unwrap();
    }
    for task in panicked {
        assert!(task.await.unwrap_err().is_panic());
    }
    assert_eq!(Instant::now(), deadline);
    let later = eddy::spawn(async { 7 }).await.unwrap();
    woke.iter().map(|count| count.load(Ordering::SeqCst)).sum::<usize>() + later
}

#[test]
fn a_panic_anywhere_in_user_code_never_loses_a_wakeup_on_the_block_on_loop() {
    errors();
    assert_eq!(eddy::test::run(every_kind_of_panic_at_one_deadline()), 100 + 7);
}

#[test]
fn a_panic_anywhere_in_user_code_never_loses_a_wakeup_on_a_worker_loop() {
    errors();
    let runtime = eddy::Builder::new().workers(2).start_paused(true).build().unwrap();
    let worker = runtime.handles()[1].clone();
    let total =
        runtime.block_on(async { worker.spawn_with(every_kind_of_panic_at_one_deadline).await.unwrap() });
    assert_eq!(total, 100 + 7);
    // The worker survived: it still runs what is spawned onto it later.
    let later = runtime.block_on(async { worker.spawn(async { 42 }).await });
    assert_eq!(later.unwrap(), 42);
}

// ----- The blocking pool ----------------------------------------------------

#[test]
fn a_waker_that_panics_on_a_blocking_jobs_result_leaves_the_pool_working() {
    errors();
    let runtime = eddy::Builder::new().max_blocking_threads(1).build().unwrap();
    let done = runtime.block_on(async {
        let keep = Rc::new(RefCell::new(Vec::new()));
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        // The job waits until its handle has been polled with the bad waker.
        let job = eddy::task::spawn_blocking(move || release_rx.recv().is_ok());
        arm_with(job, &panics_in_wake(), &keep);
        release_tx.send(()).unwrap();
        // The pool's only thread delivered that result into a panicking
        // waker; it must still be there for the next jobs.
        let limit = Duration::from_secs(10);
        let mut done = 0;
        for i in 0..20 {
            let job = eddy::task::spawn_blocking(move || i);
            done += time::timeout(limit, job).await.expect("the blocking pool stopped serving").unwrap();
        }
        done
    });
    assert_eq!(done, (0..20).sum::<i32>());
    assert!(error_logged("the waker awaiting a job's result panicked"));
}
