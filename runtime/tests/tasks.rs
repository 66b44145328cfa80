//! Tasks: results, detaching, aborting, panics, fairness, and shutdown.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use eddy::net::{TcpListener, TcpStream};
use eddy::time::sleep;

/// Sets its flag when dropped: proves a future's destructor ran.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

fn paused_runtime() -> eddy::Runtime {
    eddy::Builder::new().start_paused(true).build().unwrap()
}

#[test]
fn a_task_runs_to_completion_and_its_handle_yields_the_output() {
    let sum = eddy::run(async {
        let handles: Vec<_> = (0..100u64).map(|i| eddy::spawn(async move { i })).collect();
        let mut sum = 0;
        for handle in handles {
            sum += handle.await.unwrap();
        }
        sum
    });
    assert_eq!(sum, 4950);
}

#[test]
fn tasks_may_hold_values_that_are_not_send() {
    eddy::run(async {
        let shared = Rc::new(Cell::new(0));
        let inner = shared.clone();
        eddy::spawn(async move { inner.set(inner.get() + 1) }).await.unwrap();
        assert_eq!(shared.get(), 1);
    });
}

#[test]
fn dropping_a_join_handle_detaches_the_task() {
    paused_runtime().block_on(async {
        let done = Rc::new(Cell::new(false));
        let flag = done.clone();
        drop(eddy::spawn(async move {
            sleep(Duration::from_secs(1)).await;
            flag.set(true);
        }));
        sleep(Duration::from_secs(2)).await;
        assert!(done.get());
    });
}

#[test]
fn aborting_a_sleeping_task_drops_its_future() {
    paused_runtime().block_on(async {
        let dropped = Arc::new(AtomicBool::new(false));
        let flag = DropFlag(dropped.clone());
        let task = eddy::spawn(async move {
            let _flag = flag;
            sleep(Duration::from_secs(3600)).await;
        });
        eddy::task::yield_now().await;
        assert!(!task.is_finished());
        task.abort();
        let error = task.await.unwrap_err();
        assert!(error.is_cancelled(), "{error}");
        assert!(dropped.load(Ordering::SeqCst));
    });
}

#[test]
fn aborting_from_another_thread_cancels_the_task() {
    // A running clock: with a paused one, the idle loop would jump to the
    // hour-long deadline while the other thread works (auto-advance).
    eddy::run(async {
        let task = eddy::spawn(sleep(Duration::from_secs(3600)));
        eddy::task::yield_now().await;
        let task = {
            // Move the handle through a thread and back: abort from there.
            let (tx, rx) = eddy::sync::oneshot::channel();
            let (back_tx, back_rx) = eddy::sync::oneshot::channel();
            let thread = std::thread::spawn(move || {
                let task: eddy::JoinHandle<()> = eddy::run(rx).unwrap();
                task.abort();
                back_tx.send(task).unwrap();
            });
            tx.send(task).unwrap();
            let task = back_rx.await.unwrap();
            thread.join().unwrap();
            task
        };
        assert!(task.await.unwrap_err().is_cancelled());
    });
}

#[test]
fn aborting_a_finished_task_keeps_its_result() {
    eddy::run(async {
        let task = eddy::spawn(async { 5 });
        eddy::task::yield_now().await;
        assert!(task.is_finished());
        task.abort();
        assert_eq!(task.await.unwrap(), 5);
    });
}

#[test]
fn a_panicking_task_does_not_take_down_the_loop() {
    eddy::run(async {
        let survivor = eddy::spawn(async {
            eddy::task::yield_now().await;
            "still here"
        });
        let panicker = eddy::task::spawn_named("doomed", async {
            eddy::task::yield_now().await;
            panic!("boom");
        });
        let error = panicker.await.unwrap_err();
        assert!(error.is_panic());
        assert_eq!(error.panic_message(), Some("boom"));
        let message = error.to_string();
        assert!(message.contains("'doomed'") && message.contains("panicked: boom"), "{message}");
        assert!(message.contains("tests/tasks.rs"), "names the spawn location: {message}");
        assert_eq!(survivor.await.unwrap(), "still here");
        // The loop still spawns and runs new tasks.
        assert_eq!(eddy::spawn(async { 1 }).await.unwrap(), 1);
    });
}

#[test]
fn a_task_that_yields_forever_does_not_starve_a_timer() {
    eddy::run(async {
        let stop = Rc::new(Cell::new(false));
        let spins = Rc::new(Cell::new(0u64));
        let (stop2, spins2) = (stop.clone(), spins.clone());
        let spinner = eddy::spawn(async move {
            while !stop2.get() {
                spins2.set(spins2.get() + 1);
                // A starved timer fails the test here instead of hanging
                // it: 2 ms take a few thousand yields (one under valgrind).
                assert!(spins2.get() < 10_000_000, "the timer never fired while a task yielded");
                eddy::task::yield_now().await;
            }
        });
        // The spinner is running before the timer is armed, however slow
        // the machine (under valgrind the 2 ms could pass before its
        // first poll, and it then never spun).
        while spins.get() == 0 {
            eddy::task::yield_now().await;
        }
        // Real time on purpose: the spinner keeps the loop busy, and the
        // loop must still notice that 2 ms have passed (a starved timer
        // hangs this test).
        sleep(Duration::from_millis(2)).await;
        stop.set(true);
        spinner.await.unwrap();
    });
}

#[test]
fn a_task_that_yields_forever_does_not_starve_a_socket() {
    eddy::run(async {
        let stop = Rc::new(Cell::new(false));
        let stop2 = stop.clone();
        let spinner = eddy::spawn(async move {
            while !stop2.get() {
                eddy::task::yield_now().await;
            }
        });
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = eddy::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let mut buf = [0; 4];
            let n = stream.read(&mut buf).await.unwrap();
            stream.write_all(&buf[..n]).await.unwrap();
        });
        let client = TcpStream::connect(addr).await.unwrap();
        client.write_all(b"ping").await.unwrap();
        let mut buf = [0; 4];
        assert_eq!(client.read(&mut buf).await.unwrap(), 4);
        assert_eq!(&buf, b"ping");
        server.await.unwrap();
        stop.set(true);
        spinner.await.unwrap();
    });
}

#[test]
fn dropping_the_runtime_drops_pending_tasks() {
    let dropped = Arc::new(AtomicUsize::new(0));
    struct Counted(Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let runtime = paused_runtime();
    runtime.block_on(async {
        for _ in 0..10 {
            let counted = Counted(dropped.clone());
            eddy::spawn(async move {
                let _counted = counted;
                sleep(Duration::from_secs(3600)).await;
            });
        }
        // Never polled at all: dropped just the same.
        let counted = Counted(dropped.clone());
        eddy::spawn(async move { drop(counted) });
    });
    assert_eq!(dropped.load(Ordering::SeqCst), 0);
    drop(runtime);
    assert_eq!(dropped.load(Ordering::SeqCst), 11);
}

#[test]
fn a_finished_task_is_never_polled_again() {
    eddy::run(async {
        let polls = Rc::new(Cell::new(0));
        let counter = polls.clone();
        let task = eddy::spawn(std::future::poll_fn(move |cx| {
            counter.set(counter.get() + 1);
            cx.waker().wake_by_ref(); // wake ourselves while completing
            std::task::Poll::Ready(())
        }));
        task.await.unwrap();
        for _ in 0..3 {
            eddy::task::yield_now().await;
        }
        assert_eq!(polls.get(), 1);
    });
}

#[test]
fn spawn_blocking_runs_off_the_loop_and_reports_panics() {
    eddy::run(async {
        let loop_thread = std::thread::current().id();
        let pool_thread = eddy::task::spawn_blocking(|| std::thread::current().id()).await.unwrap();
        assert_ne!(loop_thread, pool_thread);
        let error = eddy::task::spawn_blocking(|| panic!("blocking boom")).await.unwrap_err();
        assert_eq!(error.panic_message(), Some("blocking boom"));
    });
}

#[test]
#[should_panic(expected = "must be called from inside an eddy runtime")]
fn spawning_outside_a_runtime_says_why_it_cannot() {
    drop(eddy::spawn(async {}));
}
