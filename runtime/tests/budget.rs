//! The cooperative budget, resource by resource: within one poll of a task,
//! no eddy resource returns `Ready` more than `PER_POLL` times in a row; the
//! next poll returns `Pending` *and wakes the task at once* (which tells a
//! budget yield from a real wait), and whatever the resource held (queued
//! values, unread bytes, queued connections) is still there afterwards.
//! Outside a runtime the budget is unlimited.
//!
//! Each test sets up a resource that is ready far more than `PER_POLL`
//! times, then measures a [`streak`]: how many `Ready` results it gives
//! within one poll before the first `Pending`.

use std::cell::Cell;
use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use eddy::net::{TcpListener, TcpStream};
use eddy::sync::{broadcast, mpsc, oneshot, watch, Barrier, Event, Mutex, Notify, RwLock, Semaphore};
use eddy::task::{poll_consume_budget, yield_now, PER_POLL};
use eddy::test::WakeCounter;
use eddy::time::{self, Instant, MissedTickBehavior};

/// More than the budget, so every streak is cut by the budget, not by the
/// resource running dry.
const PLENTY: usize = 3 * PER_POLL as usize;

/// Cuts a streak that the budget failed to cut, so a broken budget fails the
/// test instead of looping forever on a resource that is always ready.
const RUNAWAY: usize = 100_000;

/// How one poll of a resource, repeated, ended.
#[derive(Debug, PartialEq)]
struct Streak {
    /// `Ready` results before the first `Pending`.
    ready: usize,
    /// Whether that `Pending` woke the task at once (the budget's way of
    /// yielding) rather than leaving it to wait for the resource.
    woke_at_once: bool,
}

/// What every budgeted resource must give when it stays ready.
const BUDGET_CUT: Streak = Streak { ready: PER_POLL as usize, woke_at_once: true };

/// Starts a fresh poll of the current task (so the budget is full), then,
/// within that one poll, calls `op` until it returns `Pending`. The task's
/// waker is swapped for a counting one so the wake can be seen.
async fn streak<T>(mut op: impl FnMut(&mut Context<'_>) -> Poll<T>) -> Streak {
    yield_now().await;
    poll_fn(|_| {
        let counter = WakeCounter::new();
        let waker = counter.waker();
        let mut cx = Context::from_waker(&waker);
        let mut ready = 0;
        while ready < RUNAWAY && op(&mut cx).is_ready() {
            ready += 1;
        }
        Poll::Ready(Streak { ready, woke_at_once: counter.wakes() == 1 })
    })
    .await
}

/// Spends what is left of the current poll's budget (capped, in case the
/// budget never runs out).
fn spend_budget(cx: &mut Context<'_>) {
    for _ in 0..RUNAWAY {
        if poll_consume_budget(cx).is_pending() {
            return;
        }
    }
}

/// Polls a fresh future from `make` once per call: for resources whose
/// operation is an `async fn`.
fn poll_once<F: Future>(cx: &mut Context<'_>, future: F) -> Poll<F::Output> {
    pin!(future).poll(cx)
}

#[test]
fn consume_budget_grants_per_poll_units_then_yields() {
    eddy::test::run(async {
        assert_eq!(streak(poll_consume_budget).await, BUDGET_CUT);
        // And the next poll has a full budget again.
        assert_eq!(streak(poll_consume_budget).await, BUDGET_CUT);
    });
}

#[test]
fn consume_budget_lets_other_tasks_run_every_per_poll_iterations() {
    eddy::test::run(async {
        let other_ran = Rc::new(Cell::new(0u32));
        let seen = other_ran.clone();
        eddy::spawn(async move {
            loop {
                seen.set(seen.get() + 1);
                yield_now().await;
            }
        });
        yield_now().await; // the other task is now running
        let before = other_ran.get();
        for _ in 0..PER_POLL {
            eddy::task::consume_budget().await;
        }
        assert_eq!(other_ran.get(), before, "no yield within the budget");
        eddy::task::consume_budget().await;
        assert_eq!(other_ran.get(), before + 1, "the unit after the budget yields once");
    });
}

#[test]
fn mpsc_recv_from_a_full_channel_yields_and_loses_nothing() {
    eddy::test::run(async {
        let (tx, mut rx) = mpsc::channel(PLENTY);
        for i in 0..PLENTY {
            tx.try_send(i).unwrap();
        }
        let mut received = Vec::new();
        let cut = streak(|cx| rx.poll_recv(cx).map(|value| received.push(value))).await;
        assert_eq!(cut, BUDGET_CUT);
        drop(tx);
        while let Some(value) = rx.recv().await {
            received.push(Some(value));
        }
        let expected: Vec<_> = (0..PLENTY).map(Some).collect();
        assert_eq!(received, expected, "every value once, in order");
    });
}

#[test]
fn mpsc_recv_from_a_closed_channel_yields() {
    eddy::test::run(async {
        let (tx, mut rx) = mpsc::channel::<u32>(1);
        drop(tx);
        // `None` forever: a loop that ignores it must still yield.
        assert_eq!(streak(|cx| rx.poll_recv(cx)).await, BUDGET_CUT);
    });
}

#[test]
fn mpsc_send_with_room_yields_and_sends_nothing_it_refused() {
    eddy::test::run(async {
        let (tx, mut rx) = mpsc::channel(PLENTY);
        let mut next = 0;
        let cut = streak(|cx| {
            let sent = poll_once(cx, tx.send(next));
            if sent.is_ready() {
                next += 1;
            }
            sent
        })
        .await;
        assert_eq!(cut, BUDGET_CUT);
        drop(tx);
        let mut received = Vec::new();
        while let Some(value) = rx.recv().await {
            received.push(value);
        }
        assert_eq!(received, (0..PER_POLL as usize).collect::<Vec<_>>());
    });
}

#[test]
fn oneshot_receivers_that_are_ready_yield_and_keep_their_values() {
    eddy::test::run(async {
        let mut receivers: Vec<_> = (0..PLENTY)
            .map(|i| {
                let (tx, rx) = oneshot::channel();
                tx.send(i).unwrap();
                rx
            })
            .collect();
        let mut at = 0;
        let cut = streak(|cx| {
            let Some(rx) = receivers.get_mut(at) else { return Poll::Pending };
            let received = Pin::new(rx).poll(cx);
            if let Poll::Ready(value) = &received {
                assert_eq!(*value, Ok(at));
                at += 1;
            }
            received
        })
        .await;
        assert_eq!(cut, BUDGET_CUT);
        // The receiver that was refused still has its value.
        for (i, rx) in receivers.into_iter().enumerate().skip(at) {
            assert_eq!(rx.await, Ok(i));
        }
    });
}

#[test]
fn join_handles_of_finished_tasks_yield_and_keep_their_results() {
    eddy::test::run(async {
        let mut handles: Vec<_> = (0..PLENTY).map(|i| eddy::spawn(async move { i })).collect();
        while !handles.iter().all(|handle| handle.is_finished()) {
            yield_now().await;
        }
        let mut at = 0;
        let cut = streak(|cx| {
            let Some(handle) = handles.get_mut(at) else { return Poll::Pending };
            let joined = Pin::new(handle).poll(cx);
            if let Poll::Ready(result) = &joined {
                assert_eq!(*result.as_ref().unwrap(), at);
                at += 1;
            }
            joined.map(drop)
        })
        .await;
        assert_eq!(cut, BUDGET_CUT);
        for (i, handle) in handles.into_iter().enumerate().skip(at) {
            assert_eq!(handle.await.unwrap(), i);
        }
    });
}

#[test]
fn sleeps_that_are_already_due_yield() {
    eddy::test::run(async {
        let now = Instant::now();
        let mut sleeps: Vec<_> = (0..PLENTY).map(|_| Box::pin(time::sleep_until(now))).collect();
        let mut at = 0;
        let cut = streak(|cx| {
            let Some(sleep) = sleeps.get_mut(at) else { return Poll::Pending };
            let slept = sleep.as_mut().poll(cx);
            at += slept.is_ready() as usize;
            slept
        })
        .await;
        assert_eq!(cut, BUDGET_CUT);
    });
}

#[test]
fn sleeps_fired_by_the_wheel_yield() {
    eddy::test::run(async {
        // Armed in the wheel first, then all due at once.
        let mut sleeps: Vec<_> =
            (0..PLENTY).map(|_| Box::pin(time::sleep(Duration::from_millis(5)))).collect();
        poll_fn(|cx| {
            for sleep in &mut sleeps {
                assert!(sleep.as_mut().poll(cx).is_pending());
            }
            Poll::Ready(())
        })
        .await;
        time::sleep(Duration::from_millis(10)).await;
        let mut at = 0;
        let cut = streak(|cx| {
            let Some(sleep) = sleeps.get_mut(at) else { return Poll::Pending };
            let slept = sleep.as_mut().poll(cx);
            at += slept.is_ready() as usize;
            slept
        })
        .await;
        assert_eq!(cut, BUDGET_CUT);
    });
}

#[test]
fn an_interval_behind_schedule_bursts_at_most_per_poll_ticks() {
    eddy::test::run(async {
        let mut interval = time::interval(Duration::from_millis(1));
        interval.set_missed_tick_behavior(MissedTickBehavior::Burst);
        interval.tick().await;
        time::sleep(Duration::from_secs(1)).await; // a thousand ticks behind
        assert_eq!(streak(|cx| interval.poll_tick(cx)).await, BUDGET_CUT);
    });
}

/// A connected pair on loopback: (the accepted side, the connecting side).
async fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    let (server, _) = listener.accept().await.unwrap();
    (server, client)
}

#[test]
fn reading_a_socket_that_stays_readable_yields_and_loses_no_byte() {
    eddy::test::run(async {
        let (server, client) = pair().await;
        let sent: Vec<u8> = (0..PLENTY).map(|i| i as u8).collect();
        client.write_all(&sent).await.unwrap();
        client.shutdown().await.unwrap();
        let mut received = Vec::new();
        let cut = streak(|cx| {
            let mut byte = [0];
            let read = server.poll_read(cx, &mut byte);
            if let Poll::Ready(Ok(1)) = read {
                received.push(byte[0]);
            }
            read
        })
        .await;
        assert_eq!(cut, BUDGET_CUT);
        let mut rest = [0; 4096];
        loop {
            match server.read(&mut rest).await.unwrap() {
                0 => break,
                n => received.extend_from_slice(&rest[..n]),
            }
        }
        assert_eq!(received, sent, "every byte once, in order");
    });
}

#[test]
fn readiness_of_a_readable_socket_yields() {
    eddy::test::run(async {
        let (server, client) = pair().await;
        client.write_all(b"x").await.unwrap();
        assert_eq!(streak(|cx| server.poll_read_ready(cx)).await, BUDGET_CUT);
        assert_eq!(streak(|cx| client.poll_write_ready(cx)).await, BUDGET_CUT);
    });
}

#[test]
fn writing_a_socket_with_room_yields() {
    eddy::test::run(async {
        let (server, client) = pair().await;
        let mut written = 0;
        let cut = streak(|cx| {
            let write = client.poll_write(cx, b"x");
            if let Poll::Ready(Ok(n)) = write {
                written += n;
            }
            write
        })
        .await;
        assert_eq!(cut, BUDGET_CUT);
        drop(client);
        let mut all = Vec::new();
        let mut buf = [0; 1024];
        while let n @ 1.. = server.read(&mut buf).await.unwrap() {
            all.extend_from_slice(&buf[..n]);
        }
        assert_eq!(all.len(), written);
    });
}

#[test]
fn accepting_from_a_full_listen_queue_yields_and_drops_no_connection() {
    eddy::test::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        // Blocking connects complete in the kernel's listen queue.
        let clients: Vec<_> = (0..PLENTY).map(|_| std::net::TcpStream::connect(addr).unwrap()).collect();
        let mut accepted = Vec::new();
        let cut = streak(|cx| {
            let accept = listener.poll_accept(cx);
            if let Poll::Ready(Ok((stream, _))) = accept {
                accepted.push(stream);
                return Poll::Ready(());
            }
            accept.map(|result| drop(result.unwrap()))
        })
        .await;
        assert_eq!(cut, BUDGET_CUT);
        while accepted.len() < clients.len() {
            accepted.push(listener.accept().await.unwrap().0);
        }
    });
}

#[test]
fn connect_charges_the_budget_before_it_starts() {
    eddy::test::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mut connect = pin!(TcpStream::connect(addr));
        let spent = poll_fn(|cx| {
            spend_budget(cx);
            let counter = WakeCounter::new();
            let waker = counter.waker();
            let first = connect.as_mut().poll(&mut Context::from_waker(&waker));
            Poll::Ready((first.is_pending(), counter.wakes()))
        })
        .await;
        assert_eq!(spent, (true, 1), "with the budget spent, connect yields first");
        let stream = connect.await.unwrap();
        let (accepted, peer) = listener.accept().await.unwrap();
        assert_eq!(peer, stream.local_addr().unwrap());
        drop(accepted);
    });
}

#[test]
fn outside_a_runtime_the_budget_is_unlimited() {
    let (tx, mut rx) = mpsc::channel(PLENTY);
    for i in 0..PLENTY {
        tx.try_send(i).unwrap();
    }
    let counter = WakeCounter::new();
    let waker = counter.waker();
    let mut cx = Context::from_waker(&waker);
    for i in 0..PLENTY {
        assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(Some(i)));
    }
    for _ in 0..PLENTY {
        assert!(poll_consume_budget(&mut cx).is_ready());
    }
    assert_eq!(counter.wakes(), 0);
}

#[test]
fn the_budget_is_unlimited_again_after_block_on_returns_or_panics() {
    let spend_it_all = || {
        poll_fn(|cx| {
            spend_budget(cx);
            Poll::Ready(())
        })
    };
    eddy::run(spend_it_all());
    let panicked = std::panic::catch_unwind(|| {
        eddy::run(async {
            spend_it_all().await;
            panic!("main panics with its budget spent");
        })
    });
    assert!(panicked.is_err());
    let counter = WakeCounter::new();
    let waker = counter.waker();
    let mut cx = Context::from_waker(&waker);
    for _ in 0..PLENTY {
        assert!(poll_consume_budget(&mut cx).is_ready());
    }
}

#[test]
fn a_real_pending_costs_no_budget() {
    // A real `Pending` (nothing to read yet) costs no budget: a task that
    // polls many idle sockets in one poll is not made to spin.
    eddy::test::run(async {
        let mut pairs = Vec::new();
        for _ in 0..4 {
            pairs.push(pair().await);
        }
        let idle_polls = poll_fn(|cx| {
            let mut pending = 0;
            for _ in 0..PLENTY {
                for (server, _) in &pairs {
                    pending += server.poll_read(cx, &mut [0; 16]).is_pending() as usize;
                }
            }
            Poll::Ready(pending)
        })
        .await;
        assert_eq!(idle_polls, 4 * PLENTY);
        let (server, client) = &pairs[0];
        client.write_all(b"ping").await.unwrap();
        let mut buf = [0; 4];
        assert_eq!(server.read(&mut buf).await.unwrap(), 4);
    });
}

#[test]
fn tasks_on_a_worker_loop_have_the_same_budget() {
    let runtime = eddy::Builder::new().workers(2).build().unwrap();
    let worker = runtime.handles()[1].clone();
    let cut = runtime.block_on(async move {
        worker
            .spawn(async {
                let (tx, mut rx) = mpsc::channel::<u32>(1);
                drop(tx);
                streak(|cx| rx.poll_recv(cx)).await
            })
            .await
            .unwrap()
    });
    assert_eq!(cut, BUDGET_CUT);
}

#[test]
fn udp_receives_from_a_full_queue_yield_and_lose_no_datagram() {
    eddy::test::run(async {
        let receiver = eddy::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = receiver.local_addr().unwrap();
        // Few enough to fit in a default receive buffer (each datagram costs
        // far more than its 4 bytes there), enough to outlast the budget.
        let sent = PER_POLL as usize + 16;
        for i in 0..sent {
            sender.send_to(&(i as u32).to_be_bytes(), to).unwrap();
        }
        let mut received = Vec::new();
        let cut = streak(|cx| {
            let mut datagram = [0; 4];
            let recv = receiver.poll_recv_from(cx, &mut datagram);
            if let Poll::Ready(Ok(_)) = recv {
                received.push(u32::from_be_bytes(datagram));
            }
            recv
        })
        .await;
        assert_eq!(cut, BUDGET_CUT);
        while received.len() < sent {
            let mut datagram = [0; 4];
            let recv = eddy::time::timeout(Duration::from_secs(5), receiver.recv_from(&mut datagram));
            recv.await.expect("a datagram was lost").unwrap();
            received.push(u32::from_be_bytes(datagram));
        }
        assert_eq!(received, (0..sent as u32).collect::<Vec<_>>());
    });
}

#[cfg(unix)]
#[test]
fn unix_streams_and_listeners_yield_like_tcp_ones() {
    use eddy::net::{UnixListener, UnixStream};
    eddy::test::run(async {
        let (a, b) = UnixStream::pair().unwrap();
        b.write_all(&[1; PLENTY]).await.unwrap();
        assert_eq!(streak(|cx| a.poll_read(cx, &mut [0])).await, BUDGET_CUT);
        assert_eq!(streak(|cx| b.poll_write(cx, b"x")).await, BUDGET_CUT);
        assert_eq!(streak(|cx| a.poll_read_ready(cx)).await, BUDGET_CUT);

        let dir = std::env::temp_dir().join(format!("eddy-budget-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("listener.sock");
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).unwrap();
        // A Unix listen queue holds only ~128 (connects beyond it block),
        // so spend all but a few units first, then accept from a queue
        // longer than what is left.
        let clients: Vec<_> =
            (0..8).map(|_| std::os::unix::net::UnixStream::connect(&path).unwrap()).collect();
        let left = 4;
        let (mut spent, mut accepted) = (0, 0);
        let cut = streak(|cx| {
            if spent < PER_POLL - left {
                spent += 1;
                return poll_consume_budget(cx);
            }
            let accept = listener.poll_accept(cx);
            accepted += accept.is_ready() as usize;
            accept.map(|result| drop(result.unwrap()))
        })
        .await;
        assert_eq!(cut, BUDGET_CUT);
        assert_eq!(accepted, left as usize);
        while accepted < clients.len() {
            listener.accept().await.unwrap();
            accepted += 1;
        }
        drop(listener);
        let _ = std::fs::remove_dir_all(&dir);
    });
}

/// Whether `future` is ready at its first poll, in a fresh poll of the task
/// (full budget): for "the refused operation kept its value" checks.
async fn ready_at_once<F: Future>(future: F) -> bool {
    yield_now().await;
    let mut future = pin!(future);
    poll_fn(|cx| Poll::Ready(future.as_mut().poll(cx).is_ready())).await
}

#[test]
fn broadcast_recv_from_a_full_channel_yields_and_loses_nothing() {
    eddy::test::run(async {
        let (tx, mut rx) = broadcast::channel(PLENTY);
        for i in 0..PLENTY {
            tx.send(i).unwrap();
        }
        let mut received = Vec::new();
        let cut = streak(|cx| rx.poll_recv(cx).map(|value| received.push(value.unwrap()))).await;
        assert_eq!(cut, BUDGET_CUT);
        drop(tx);
        while let Ok(value) = rx.recv().await {
            received.push(value);
        }
        assert_eq!(received, (0..PLENTY).collect::<Vec<_>>(), "every value once, in order");
        // Closed forever: a loop that ignores the error must still yield.
        assert_eq!(streak(|cx| rx.poll_recv(cx)).await, BUDGET_CUT);
    });
}

#[test]
fn watch_changed_after_every_send_yields_and_keeps_the_change() {
    eddy::test::run(async {
        let (tx, mut rx) = watch::channel(0);
        let mut sent = 0;
        let cut = streak(|cx| {
            sent += 1;
            tx.send(sent).unwrap();
            rx.poll_changed(cx)
        })
        .await;
        assert_eq!(cut, BUDGET_CUT);
        // The refused `changed` marked nothing seen: the last send is news.
        assert_eq!(rx.has_changed(), Ok(true));
        assert_eq!(*rx.borrow_and_update(), sent);
        drop(tx);
        assert_eq!(streak(|cx| rx.poll_changed(cx)).await, BUDGET_CUT, "errs forever, yields");
    });
}

#[test]
fn notified_with_a_stored_permit_yields_and_keeps_the_permit() {
    eddy::test::run(async {
        let notify = Notify::new();
        let mut taken = 0;
        let cut = streak(|cx| {
            notify.notify_one();
            let notified = poll_once(cx, notify.notified());
            taken += notified.is_ready() as usize;
            notified
        })
        .await;
        assert_eq!(cut, BUDGET_CUT);
        assert_eq!(taken, PER_POLL as usize);
        assert!(ready_at_once(notify.notified()).await, "the refused poll left the permit");
    });
}

#[test]
fn uncontended_semaphore_acquires_yield_and_lose_no_permit() {
    eddy::test::run(async {
        let semaphore = Semaphore::new(1);
        let cut = streak(|cx| poll_once(cx, semaphore.acquire()).map(|permit| drop(permit.unwrap()))).await;
        assert_eq!(cut, BUDGET_CUT);
        assert_eq!(semaphore.available_permits(), 1);
        semaphore.close();
        assert_eq!(streak(|cx| poll_once(cx, semaphore.acquire()).map(drop)).await, BUDGET_CUT, "closed too");
    });
}

#[test]
fn uncontended_mutex_locks_yield_and_leave_it_unlocked() {
    eddy::test::run(async {
        let mutex = Mutex::new(0);
        let cut = streak(|cx| poll_once(cx, mutex.lock()).map(|mut guard| *guard += 1)).await;
        assert_eq!(cut, BUDGET_CUT);
        assert_eq!(*mutex.try_lock().expect("the refused lock holds nothing"), PER_POLL);
    });
}

#[test]
fn uncontended_rwlock_reads_and_writes_yield_and_leave_it_unlocked() {
    eddy::test::run(async {
        let lock = RwLock::new(0);
        let cut = streak(|cx| poll_once(cx, lock.write()).map(|mut guard| *guard += 1)).await;
        assert_eq!(cut, BUDGET_CUT);
        let cut = streak(|cx| poll_once(cx, lock.read()).map(|guard| assert_eq!(*guard, PER_POLL))).await;
        assert_eq!(cut, BUDGET_CUT);
        assert!(ready_at_once(lock.write()).await, "the refused acquires hold nothing");
    });
}

#[test]
fn waits_on_a_set_event_or_a_one_task_barrier_yield() {
    eddy::test::run(async {
        let event = Event::new();
        event.set();
        assert_eq!(streak(|cx| poll_once(cx, event.wait())).await, BUDGET_CUT);
        assert!(event.is_set());

        let barrier = Barrier::new(1);
        let cut = streak(|cx| poll_once(cx, barrier.wait()).map(|result| assert!(result.is_leader()))).await;
        assert_eq!(cut, BUDGET_CUT);
    });
}

#[test]
fn unbounded_recv_yields_and_loses_nothing() {
    eddy::test::run(async {
        let (tx, mut rx) = mpsc::unbounded_channel();
        for i in 0..PLENTY {
            tx.send(i).unwrap();
        }
        let mut received = Vec::new();
        let cut = streak(|cx| rx.poll_recv(cx).map(|value| received.push(value.unwrap()))).await;
        assert_eq!(cut, BUDGET_CUT);
        drop(tx);
        while let Some(value) = rx.recv().await {
            received.push(value);
        }
        assert_eq!(received, (0..PLENTY).collect::<Vec<_>>());
    });
}

#[test]
fn closed_on_senders_whose_receiver_is_gone_yields() {
    eddy::test::run(async {
        let (tx, rx) = mpsc::channel::<u32>(1);
        drop(rx);
        assert_eq!(streak(|cx| poll_once(cx, tx.closed())).await, BUDGET_CUT);

        let (tx, rx) = mpsc::unbounded_channel::<u32>();
        drop(rx);
        assert_eq!(streak(|cx| poll_once(cx, tx.closed())).await, BUDGET_CUT);

        let (mut tx, rx) = oneshot::channel::<u32>();
        drop(rx);
        assert_eq!(streak(|cx| tx.poll_closed(cx)).await, BUDGET_CUT);

        let (tx, rx) = watch::channel(0);
        drop(rx);
        assert_eq!(streak(|cx| poll_once(cx, tx.closed())).await, BUDGET_CUT);
    });
}

#[cfg(unix)]
#[test]
fn child_pipes_that_stay_ready_yield_and_lose_no_byte() {
    use eddy::io::{AsyncRead, AsyncWrite};
    use eddy::process::Command;
    use std::process::Stdio;
    eddy::test::run(async {
        let size = PLENTY.to_string();
        let mut child =
            Command::new("head").args(["-c", &size, "/dev/zero"]).stdout(Stdio::piped()).spawn().unwrap();
        let mut stdout = child.stdout.take().unwrap();
        assert!(child.wait().await.unwrap().success());
        // The first byte waits for the pipe's readiness; the rest is there.
        let mut read = stdout.read(&mut [0]).await.unwrap();
        let cut = streak(|cx| {
            let poll = Pin::new(&mut stdout).poll_read(cx, &mut [0]);
            if let Poll::Ready(n) = &poll {
                read += n.as_ref().unwrap();
            }
            poll
        })
        .await;
        assert_eq!(cut, BUDGET_CUT);
        loop {
            match stdout.read(&mut [0; 64]).await.unwrap() {
                0 => break,
                n => read += n,
            }
        }
        assert_eq!(read, PLENTY, "every byte once");
        // At end of file a read is ready forever: still cut.
        assert_eq!(streak(|cx| Pin::new(&mut stdout).poll_read(cx, &mut [0])).await, BUDGET_CUT);

        let mut child = Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::null()).spawn().unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write(b"x").await.unwrap();
        // A pipe holds far more than PER_POLL bytes.
        assert_eq!(streak(|cx| Pin::new(&mut stdin).poll_write(cx, b"x")).await, BUDGET_CUT);
        drop(stdin);
        assert!(child.wait().await.unwrap().success());
    });
}

#[cfg(unix)]
#[test]
fn signal_recv_with_deliveries_queued_yields_and_loses_none() {
    use eddy::signal::unix::{signal, SignalKind};
    eddy::test::run(async {
        let mut usr1 = signal(SignalKind::user_defined1()).unwrap();
        for _ in 0..PLENTY {
            // SAFETY: raise only sends a signal; eddy's handler is installed.
            assert_eq!(unsafe { libc::raise(libc::SIGUSR1) }, 0);
        }
        assert_eq!(streak(|cx| usr1.poll_recv(cx)).await, BUDGET_CUT);
        // Each delivery is counted once: exactly the rest are still there.
        for _ in PER_POLL as usize..PLENTY {
            assert!(ready_at_once(usr1.recv()).await);
        }
        assert!(!ready_at_once(usr1.recv()).await, "no delivery invented");
    });
}
