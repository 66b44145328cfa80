//! Task dumps: every live task shows who holds its waker (a timer, a socket,
//! a channel, another task's `JoinHandle`, user code), and a task that
//! nothing can wake is reported as lost, at `warn`, with where it was
//! spawned — without the false positives of a guess (a waker cloned into
//! user code, a finished task, a detached subtask).
//!
//! Each test names its tasks uniquely and looks only at its own entries and
//! log lines (tests run in parallel and share the logger).

use std::future::{pending, poll_fn, Future};
use std::os::fd::{AsFd, AsRawFd};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::Duration;

use eddy::debug::{Holder, Interest, TaskDump, TaskEntry, TaskState};
use eddy::task::{spawn_named, yield_now};
use eddy::Handle;

mod log_capture;

use log_capture::lines_mentioning;

/// Every test here reads log lines up to this level.
fn capture_logs() {
    log_capture::capture_logs(log::LevelFilter::Warn);
}

/// The entry of the task named `name` in a fresh dump of the current loop.
fn entry(name: &str) -> TaskEntry {
    let dump = Handle::current().dump();
    find(&dump, name)
}

fn find(dump: &TaskDump, name: &str) -> TaskEntry {
    match dump.tasks.iter().find(|task| task.name.as_deref() == Some(name)) {
        Some(task) => task.clone(),
        None => panic!("no task '{name}' in\n{dump}"),
    }
}

/// Lets every spawned task run until it waits.
async fn settle() {
    for _ in 0..3 {
        yield_now().await;
    }
}

#[test]
fn a_task_waiting_on_a_timer_is_held_by_the_timer() {
    eddy::test::run(async {
        spawn_named("sleeper", eddy::time::sleep(Duration::from_secs(60)));
        settle().await;
        let task = entry("sleeper");
        assert_eq!(task.state, TaskState::Idle);
        match &task.holders[..] {
            [Holder::Timer { due_in, .. }] => assert_eq!(*due_in, Duration::from_secs(60)),
            other => panic!("{other:?}"),
        }
        assert!(!task.is_lost());
        assert_eq!(task.polls, 1);
    });
}

#[test]
fn a_task_waiting_on_a_socket_is_held_by_its_descriptor_and_direction() {
    eddy::test::run(async {
        let listener = eddy::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = eddy::net::TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let fd = server.as_fd().as_raw_fd();
        let reader = spawn_named("reader", async move {
            let mut buf = [0; 8];
            server.read(&mut buf).await.unwrap()
        });
        settle().await;
        assert_eq!(entry("reader").holders, [Holder::Socket { fd, interest: Interest::Read }]);
        client.write_all(b"hi").await.unwrap();
        assert_eq!(reader.await.unwrap(), 2);
    });
}

#[test]
fn tasks_waiting_on_channels_are_held_by_that_channel() {
    eddy::test::run(async {
        let (tx, mut rx) = eddy::sync::mpsc::channel::<u8>(1);
        let (_once_tx, once_rx) = eddy::sync::oneshot::channel::<u8>();
        tx.send(1).await.unwrap(); // full: the next send waits for room
        spawn_named("receiver", once_rx);
        spawn_named("blocked-sender", async move { tx.send(2).await });
        settle().await;
        let kind = |name| match &entry(name).holders[..] {
            [Holder::Resource { kind, .. }] => *kind,
            other => panic!("{name}: {other:?}"),
        };
        assert!(kind("receiver").starts_with("oneshot receiver"));
        assert!(kind("blocked-sender").starts_with("mpsc sender"));

        let (tx2, mut rx2) = eddy::sync::mpsc::channel::<u8>(1);
        spawn_named("consumer", async move { rx2.recv().await });
        settle().await;
        assert!(kind("consumer").starts_with("mpsc receiver"));
        drop(tx2);
        assert_eq!(rx.recv().await, Some(1));
    });
}

#[test]
fn a_task_awaiting_another_is_held_by_its_join_handle() {
    eddy::test::run(async {
        let inner = eddy::spawn(eddy::time::sleep(Duration::from_secs(60)));
        let inner_id = inner.id();
        spawn_named("awaiter", inner);
        settle().await;
        assert_eq!(entry("awaiter").holders, [Holder::JoinHandle { task: inner_id }]);
    });
}

#[test]
fn a_task_whose_future_stores_no_waker_is_reported_lost_with_its_spawn_site() {
    capture_logs();
    eddy::test::run(async {
        spawn_named("forgetful", poll_fn(|_| Poll::<()>::Pending));
        settle().await;
        let dump = Handle::current().dump();
        let task = find(&dump, "forgetful");
        assert_eq!(task.state, TaskState::Idle);
        assert!(task.holders.is_empty() && task.is_lost(), "{dump}");
        assert_eq!(dump.lost().count(), 1, "only that one:\n{dump}");
        assert!(dump.to_string().contains("nobody: lost wakeup"), "{dump}");
    });
    let lines = lines_mentioning("'forgetful'");
    assert_eq!(lines.len(), 1, "{lines:?}");
    let (level, line) = &lines[0];
    assert_eq!(*level, log::Level::Warn);
    assert!(line.starts_with("lost wakeup") && line.contains("tests/task_dump.rs"), "{line}");
}

#[test]
fn a_waker_cloned_into_user_code_is_held_by_user_code_not_lost() {
    capture_logs();
    eddy::test::run(async {
        let slot: Arc<Mutex<Option<Waker>>> = Arc::default();
        let stored = slot.clone();
        let task = spawn_named("user-parked", async move {
            poll_fn(|cx| {
                let mut stored = stored.lock().unwrap();
                if stored.is_some() {
                    return Poll::Ready(()); // woken by the user
                }
                *stored = Some(cx.waker().clone());
                Poll::Pending
            })
            .await
        });
        settle().await;
        let dump = Handle::current().dump();
        let parked = find(&dump, "user-parked");
        assert_eq!(parked.holders, [Holder::UserCode { wakers: 1 }]);
        assert!(!parked.is_lost());
        // And the user's clone does wake it.
        slot.lock().unwrap().as_ref().unwrap().wake_by_ref();
        task.await.unwrap();
    });
    assert!(lines_mentioning("'user-parked'").is_empty());
}

#[test]
fn a_finished_task_is_not_in_the_dump_even_if_its_handle_and_sender_live_on() {
    capture_logs();
    eddy::test::run(async {
        let (tx, mut rx) = eddy::sync::mpsc::channel::<u8>(4);
        // It finishes holding a sender clone that outlives it elsewhere, and
        // its JoinHandle is never awaited: the classic false "lost waker".
        let kept_tx = tx.clone();
        let finished = spawn_named("finished", async move {
            let _ = tx;
        });
        spawn_named("listener", async move { rx.recv().await });
        settle().await;
        let dump = Handle::current().dump();
        assert!(dump.task(finished.id()).is_none(), "{dump}");
        assert_eq!(dump.lost().count(), 0, "{dump}");
        assert!(matches!(find(&dump, "listener").holders[..], [Holder::Resource { .. }]), "{dump}");
        drop(kept_tx);
    });
    assert!(lines_mentioning("'finished'").is_empty());
    assert!(lines_mentioning("'listener'").is_empty());
}

#[test]
fn a_detached_subtask_waiting_on_a_timer_is_not_lost() {
    capture_logs();
    eddy::test::run(async {
        let detached = spawn_named("detached", eddy::time::sleep(Duration::from_secs(5)));
        drop(detached); // its JoinHandle is gone; the timer still holds it
        settle().await;
        let task = entry("detached");
        assert!(matches!(task.holders[..], [Holder::Timer { .. }]), "{task:?}");
        assert!(!task.is_lost());
    });
    assert!(lines_mentioning("'detached'").is_empty());
}

#[test]
fn an_abort_handle_is_not_a_waker() {
    eddy::test::run(async {
        let handle = spawn_named("abortable", pending::<()>());
        let abort = handle.abort_handle();
        settle().await;
        // Nothing can wake it: only an abort can end it.
        assert!(entry("abortable").is_lost());
        abort.abort();
        assert!(handle.await.unwrap_err().is_cancelled());
    });
}

#[test]
fn states_and_poll_counts_follow_the_task() {
    eddy::test::run(async {
        let me = spawn_named("dumper", async {
            let dump = Handle::current().dump(); // from inside: no deadlock
            find(&dump, "dumper").state
        });
        spawn_named("fresh", async {});
        // Both are queued and nothing has run yet.
        let dump = Handle::current().dump();
        assert_eq!(find(&dump, "fresh").state, TaskState::Scheduled);
        assert_eq!(find(&dump, "fresh").polls, 0);
        assert_eq!(find(&dump, "fresh").since_last_poll, None);
        assert_eq!(me.await.unwrap(), TaskState::Running);

        spawn_named("yielder", async {
            for _ in 0..4 {
                yield_now().await;
            }
            pending::<()>().await
        });
        for _ in 0..8 {
            yield_now().await;
        }
        assert_eq!(entry("yielder").polls, 5);
    });
}

#[test]
fn another_loop_answers_a_dump_request_from_its_own_thread() {
    let runtime = eddy::Builder::new().workers(2).build().unwrap();
    let worker = runtime.handles()[1].clone();
    let (started, running) = std::sync::mpsc::channel();
    worker.spawn(async move {
        let parked = spawn_named("remote-sleeper", eddy::time::sleep(Duration::from_secs(60)));
        yield_now().await;
        started.send(()).unwrap();
        parked.await.unwrap();
    });
    running.recv().unwrap();
    let dump = worker.dump();
    assert!(dump.answered);
    assert_eq!(dump.loop_id, worker.loop_id());
    assert!(matches!(find(&dump, "remote-sleeper").holders[..], [Holder::Timer { .. }]), "{dump}");
    // The task that took the dump for us is not in it.
    assert_eq!(dump.tasks.len(), 2, "{dump}");

    // The runtime's dump covers every loop.
    let dumps = runtime.dump();
    assert_eq!(dumps.len(), 2);
    assert!(dumps[1].tasks.iter().any(|task| task.name.as_deref() == Some("remote-sleeper")));
}

#[test]
fn a_task_awaiting_a_join_set_is_held_by_the_set() {
    eddy::test::run(async {
        spawn_named("supervisor", async {
            let mut set = eddy::task::JoinSet::new();
            set.spawn(eddy::time::sleep(Duration::from_secs(60)));
            set.join_next().await
        });
        settle().await;
        match &entry("supervisor").holders[..] {
            [Holder::Resource { kind, .. }] => assert!(kind.starts_with("JoinSet"), "{kind}"),
            other => panic!("{other:?}"),
        }
    });
}

/// In debug mode the check runs after every poll that returns `Pending`, so
/// the warning comes when the wakeup is lost, with no dump asked for; and
/// wakers parked anywhere else (timer, user code, a task woken during its
/// own poll) never trigger it.
#[test]
fn debug_mode_reports_a_lost_wakeup_right_after_the_poll_that_lost_it() {
    capture_logs();
    let runtime = eddy::Builder::new().debug(true).build().unwrap();
    runtime.block_on(async {
        let lost = spawn_named("lost-at-once", poll_fn(|_| Poll::<()>::Pending));
        let slot: Arc<Mutex<Option<Waker>>> = Arc::default();
        let stored = slot.clone();
        spawn_named(
            "kept-by-user",
            poll_fn(move |cx| {
                *stored.lock().unwrap() = Some(cx.waker().clone());
                Poll::<()>::Pending
            }),
        );
        spawn_named("kept-by-timer", eddy::time::sleep(Duration::from_secs(60)));
        spawn_named("self-waking", async {
            for _ in 0..3 {
                yield_now().await;
            }
        });
        settle().await;
        let lines = lines_mentioning("'lost-at-once'");
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].1.starts_with("lost wakeup"), "{lines:?}");
        // A dump of the same task does not say it twice.
        assert!(Handle::current().dump().task(lost.id()).unwrap().is_lost());
        lost.abort();
        settle().await;
        drop(slot);
    });
    drop(runtime);
    assert_eq!(lines_mentioning("'lost-at-once'").len(), 1);
    for name in ["'kept-by-user'", "'kept-by-timer'", "'self-waking'"] {
        let lost = lines_mentioning(name).into_iter().filter(|(_, line)| line.starts_with("lost"));
        assert_eq!(lost.count(), 0, "{name}");
    }
}

/// The "no false lost" guarantee under fire: while wakers cross threads
/// (a plain thread feeding a channel, JoinHandles and AbortHandles of idle
/// tasks made and dropped on another thread), hundreds of dumps, and the
/// debug-mode check after every poll, never call a task lost.
#[test]
fn wakers_moving_between_threads_never_look_lost() {
    capture_logs();
    let runtime = eddy::Builder::new().workers(2).debug(true).build().unwrap();
    let worker = runtime.handles()[1].clone();
    let (tx, mut rx) = eddy::sync::mpsc::channel::<u32>(4);
    let consumer = worker.spawn_with(|| {
        spawn_named("race-consumer", async move {
            let mut got = 0;
            while rx.recv().await.is_some() {
                got += 1;
            }
            got
        })
    });
    let feeder = std::thread::spawn(move || {
        let mut sent = 0;
        while sent < 20_000 {
            if tx.try_send(sent).is_ok() {
                sent += 1;
            }
        }
    });
    for round in 0..200 {
        // A task that waits on a timer; its handles live and die here,
        // on another thread than its loop.
        let sleeper = worker.spawn(eddy::time::sleep(Duration::from_secs(60)));
        let abort = sleeper.abort_handle();
        let dump = worker.dump();
        assert!(dump.answered);
        assert_eq!(dump.lost().count(), 0, "round {round}:\n{dump}");
        drop(sleeper);
        if round % 2 == 0 {
            abort.abort();
        }
    }
    feeder.join().unwrap();
    assert_eq!(runtime.block_on(consumer).unwrap().unwrap(), 20_000);
    let loop_id = worker.loop_id();
    drop(runtime);
    // Other tests in this file lose wakeups on purpose; none on this loop.
    let lost = lines_mentioning(&format!("task {loop_id}."));
    assert!(lost.iter().all(|(_, line)| !line.starts_with("lost wakeup")), "{lost:?}");
}

#[test]
fn tasks_waiting_on_a_mutex_or_a_notify_are_held_by_its_wait_list() {
    eddy::test::run(async {
        let mutex = Arc::new(eddy::sync::Mutex::new(0));
        let notify = Arc::new(eddy::sync::Notify::new());
        let guard = mutex.lock().await;
        let (m, n) = (mutex.clone(), notify.clone());
        let locker = spawn_named("locker", async move { *m.lock().await += 1 });
        let notified = spawn_named("notified", async move { n.notified().await });
        settle().await;
        for name in ["locker", "notified"] {
            match &entry(name).holders[..] {
                [Holder::Resource { kind, .. }] => assert!(kind.contains("wait list"), "{name}: {kind}"),
                other => panic!("{name}: {other:?}"),
            }
        }
        drop(guard);
        notify.notify_one();
        locker.await.unwrap();
        notified.await.unwrap();
        assert_eq!(*mutex.lock().await, 1);
    });
}

/// A loop that cannot answer (here loop 0, which only runs inside
/// `block_on`) does not hang the caller: after `DUMP_TIMEOUT` the dump says
/// it was not answered.
#[test]
fn a_loop_that_cannot_answer_gives_an_unanswered_dump_after_the_timeout() {
    let runtime = eddy::Builder::new().build().unwrap();
    let loop_zero = runtime.handle().clone();
    let started = std::time::Instant::now();
    let dump = std::thread::spawn(move || loop_zero.dump()).join().unwrap();
    assert!(!dump.answered && dump.tasks.is_empty());
    assert!(started.elapsed() >= eddy::debug::DUMP_TIMEOUT);
    assert!(dump.to_string().contains("did not answer"), "{dump}");
    // The same runtime, driven, answers.
    let answered = runtime.block_on(async { Handle::current().dump() });
    assert!(answered.answered);
}

/// From inside a loop, `dump_async` asks another loop and awaits the
/// answer like any future (this loop's other tasks run meanwhile).
#[test]
fn dump_async_gets_another_loops_dump_from_inside_a_loop() {
    let runtime = eddy::Builder::new().workers(2).build().unwrap();
    let worker = runtime.handles()[1].clone();
    let parked = worker.spawn_with(|| spawn_named("far-sleeper", eddy::time::sleep(Duration::from_secs(60))));
    let dump = runtime.block_on(async move {
        let ticker = spawn_named("ticker", async {
            for _ in 0..10 {
                yield_now().await;
            }
        });
        let dump = loop {
            let dump = worker.dump_async().await;
            if dump
                .tasks
                .iter()
                .any(|task| task.name.as_deref() == Some("far-sleeper") && !task.holders.is_empty())
            {
                break dump;
            }
        };
        ticker.await.unwrap();
        // Here, it is the plain dump.
        assert!(Handle::current().dump_async().await.answered);
        dump
    });
    assert!(matches!(find(&dump, "far-sleeper").holders[..], [Holder::Timer { .. }]), "{dump}");
    drop(parked);
}

#[test]
fn a_timer_and_a_clone_in_user_code_are_told_apart_on_one_task() {
    eddy::test::run(async {
        let slot: Arc<Mutex<Option<Waker>>> = Arc::default();
        let stored = slot.clone();
        spawn_named("timer-and-user", async move {
            let mut sleep = std::pin::pin!(eddy::time::sleep(Duration::from_secs(60)));
            poll_fn(|cx| {
                *stored.lock().unwrap() = Some(cx.waker().clone());
                sleep.as_mut().poll(cx)
            })
            .await
        });
        settle().await;
        let task = entry("timer-and-user");
        match &task.holders[..] {
            [Holder::Timer { due_in, .. }, Holder::UserCode { wakers: 1 }] => {
                assert_eq!(*due_in, Duration::from_secs(60))
            }
            other => panic!("{other:?}"),
        }
        drop(slot);
    });
}

#[test]
fn time_since_the_last_poll_is_loop_time_and_busy_time_is_known_in_debug_mode_only() {
    eddy::test::run(async {
        let (_tx, mut rx) = eddy::sync::mpsc::channel::<u8>(1);
        spawn_named("waiting-5s", async move { rx.recv().await });
        settle().await;
        eddy::time::sleep(Duration::from_secs(5)).await; // the paused clock jumps
        let task = entry("waiting-5s");
        let since = task.since_last_poll().unwrap();
        assert!(since >= Duration::from_secs(5) && since < Duration::from_millis(5_010), "{since:?}");
        assert_eq!(task.polls(), 1);
        assert_eq!(task.busy(), None, "polls are not timed outside debug mode");
        assert_eq!(task.state(), TaskState::Idle);
        assert_eq!(task.state().to_string(), "idle");
        assert_eq!(task.name(), Some("waiting-5s"));
        assert!(task.spawned_at().file().ends_with("task_dump.rs"));
        assert!(task.holders()[0].to_string().starts_with("mpsc receiver"), "{:?}", task.holders());
    });
    let runtime = eddy::Builder::new().debug(true).build().unwrap();
    runtime.block_on(async {
        spawn_named("timed", async {
            std::thread::sleep(Duration::from_millis(2)); // busy, for real
            pending::<()>().await
        });
        settle().await;
        let busy = entry("timed").busy().expect("debug mode times polls");
        assert!(busy >= Duration::from_millis(2), "{busy:?}");
    });
}
