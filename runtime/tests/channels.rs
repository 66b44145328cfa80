//! Channels: oneshot (a value set later) and bounded mpsc (a queue with
//! backpressure), within a loop and across threads.

use std::time::Duration;

use eddy::sync::{mpsc, oneshot};
use eddy::time::{sleep, timeout};

fn paused() -> eddy::Runtime {
    eddy::Builder::new().start_paused(true).build().unwrap()
}

#[test]
fn a_oneshot_delivers_a_value_set_later() {
    paused().block_on(async {
        let (tx, rx) = oneshot::channel();
        eddy::spawn(async move {
            sleep(Duration::from_secs(1)).await;
            tx.send("later").unwrap();
        });
        assert_eq!(rx.await, Ok("later"));
    });
}

#[test]
fn a_oneshot_whose_sender_is_dropped_reports_it() {
    eddy::run(async {
        let (tx, rx) = oneshot::channel::<u8>();
        drop(tx);
        let error = rx.await.unwrap_err();
        assert_eq!(error.to_string(), "the oneshot sender was dropped without sending a value");
    });
}

#[test]
fn sending_to_a_dropped_oneshot_receiver_gives_the_value_back() {
    let (tx, rx) = oneshot::channel();
    drop(rx);
    assert!(tx.is_closed());
    assert_eq!(tx.send(vec![1, 2]), Err(vec![1, 2]));
}

#[test]
fn a_oneshot_sender_learns_that_the_receiver_went_away() {
    eddy::run(async {
        let (mut tx, rx) = oneshot::channel::<()>();
        let watcher = eddy::spawn(async move {
            tx.closed().await;
            "receiver gone"
        });
        eddy::task::yield_now().await;
        drop(rx);
        assert_eq!(watcher.await.unwrap(), "receiver gone");
    });
}

#[test]
fn a_oneshot_crosses_threads() {
    let (tx, rx) = oneshot::channel();
    let thread = std::thread::spawn(move || tx.send(String::from("from a thread")).unwrap());
    assert_eq!(eddy::run(rx).unwrap(), "from a thread");
    thread.join().unwrap();
}

#[test]
fn mpsc_delivers_in_order_and_ends_when_senders_are_gone() {
    eddy::run(async {
        let (tx, mut rx) = mpsc::channel(4);
        for producer in 0..3u32 {
            let tx = tx.clone();
            eddy::spawn(async move {
                for i in 0..100u32 {
                    tx.send((producer, i)).await.unwrap();
                }
            });
        }
        drop(tx);
        let mut last = [None; 3];
        let mut count = 0;
        while let Some((producer, i)) = rx.recv().await {
            assert!(last[producer as usize].is_none_or(|previous| previous + 1 == i));
            last[producer as usize] = Some(i);
            count += 1;
        }
        assert_eq!(count, 300);
    });
}

#[test]
fn a_full_mpsc_makes_senders_wait_for_room() {
    paused().block_on(async {
        let (tx, mut rx) = mpsc::channel(2);
        tx.send(1).await.unwrap();
        tx.send(2).await.unwrap();
        assert!(matches!(tx.try_send(3), Err(mpsc::TrySendError::Full(3))));
        // The third send waits; nothing on the loop makes room, so it times out.
        assert!(timeout(Duration::from_secs(1), tx.send(3)).await.is_err());
        assert_eq!(rx.recv().await, Some(1));
        tx.send(3).await.unwrap();
        assert_eq!(rx.recv().await, Some(2));
        assert_eq!(rx.recv().await, Some(3));
    });
}

#[test]
fn waiting_mpsc_senders_are_served_first_come_first_served() {
    paused().block_on(async {
        let (tx, mut rx) = mpsc::channel(1);
        tx.send(0).await.unwrap();
        let mut waiters = Vec::new();
        for i in 1..=3 {
            let tx = tx.clone();
            waiters.push(eddy::spawn(async move { tx.send(i).await.unwrap() }));
            eddy::task::yield_now().await; // let it join the line in order
        }
        let mut got = Vec::new();
        for _ in 0..4 {
            got.push(rx.recv().await.unwrap());
        }
        assert_eq!(got, [0, 1, 2, 3]);
    });
}

#[test]
fn a_sender_that_gives_up_passes_its_turn_on() {
    paused().block_on(async {
        let (tx, mut rx) = mpsc::channel(1);
        tx.send(0).await.unwrap();
        let quitter = {
            let tx = tx.clone();
            eddy::spawn(async move { tx.send(1).await })
        };
        eddy::task::yield_now().await;
        let patient = {
            let tx = tx.clone();
            eddy::spawn(async move { tx.send(2).await })
        };
        eddy::task::yield_now().await;
        // Room frees up and the quitter is woken for it, but is cancelled
        // before it can use it: the patient sender must get the slot.
        assert_eq!(rx.recv().await, Some(0));
        quitter.abort();
        assert!(quitter.await.unwrap_err().is_cancelled());
        patient.await.unwrap().unwrap();
        assert_eq!(rx.recv().await, Some(2));
    });
}

#[test]
fn sending_after_the_receiver_is_gone_gives_the_value_back() {
    eddy::run(async {
        let (tx, rx) = mpsc::channel(1);
        tx.send(1).await.unwrap();
        let blocked = {
            let tx = tx.clone();
            eddy::spawn(async move { tx.send(2).await })
        };
        eddy::task::yield_now().await;
        drop(rx);
        assert_eq!(blocked.await.unwrap().unwrap_err().0, 2);
        assert!(tx.is_closed());
        assert_eq!(tx.send(3).await.unwrap_err().0, 3);
    });
}

#[test]
fn mpsc_ping_pong_across_two_loops() {
    let runtime = eddy::Builder::new().workers(2).build().unwrap();
    let worker = runtime.handles()[1].clone();
    let (ping_tx, mut ping_rx) = mpsc::channel::<u32>(1);
    let (pong_tx, mut pong_rx) = mpsc::channel::<u32>(1);
    let echo = worker.spawn(async move {
        while let Some(n) = ping_rx.recv().await {
            pong_tx.send(n + 1).await.unwrap();
        }
    });
    runtime.block_on(async move {
        for i in 0..1000 {
            ping_tx.send(i).await.unwrap();
            assert_eq!(pong_rx.recv().await, Some(i + 1));
        }
        drop(ping_tx);
        echo.await.unwrap();
    });
}

// ----- Closing from the receiver's side (issue 7, item 3) -------------------

#[test]
fn after_close_the_receiver_drains_what_was_queued_then_gets_none_while_senders_live() {
    eddy::test::run(async {
        let (tx, mut rx) = mpsc::channel(4);
        tx.send(1).await.unwrap();
        tx.send(2).await.unwrap();
        rx.close();
        assert!(tx.send(3).await.is_err(), "sends fail once closed");
        assert_eq!(rx.recv().await, Some(1));
        assert_eq!(rx.try_recv(), Ok(2));
        // `tx` is alive, yet nothing more can come: the end, not a hang.
        assert_eq!(timeout(Duration::from_secs(1), rx.recv()).await, Ok(None));
        assert_eq!(rx.try_recv(), Err(mpsc::TryRecvError::Disconnected));
        drop(tx);
    });
}

#[test]
fn close_with_nothing_queued_ends_at_once_for_bounded_and_unbounded() {
    eddy::test::run(async {
        let (tx, mut rx) = mpsc::channel::<u8>(1);
        rx.close();
        assert_eq!(rx.recv().await, None);
        let (utx, mut urx) = mpsc::unbounded_channel::<u8>();
        urx.close();
        assert_eq!(urx.recv().await, None);
        assert_eq!(urx.try_recv(), Err(mpsc::TryRecvError::Disconnected));
        assert!(utx.send(1).is_err());
        drop(tx);
    });
}

#[test]
fn a_sender_waiting_for_room_is_released_by_close_with_its_value() {
    eddy::test::run(async {
        let (tx, mut rx) = mpsc::channel(1);
        tx.send(1).await.unwrap();
        let blocked = eddy::spawn(async move { tx.send(2).await.map_err(|e| e.0) });
        eddy::task::yield_now().await;
        rx.close();
        assert_eq!(blocked.await.unwrap(), Err(2));
        assert_eq!(rx.recv().await, Some(1));
        assert_eq!(rx.recv().await, None);
    });
}

// ----- Sender::closed -------------------------------------------------------

#[test]
fn sender_closed_completes_when_the_receiver_closes_or_drops() {
    eddy::test::run(async {
        let (tx, mut rx) = mpsc::channel::<u8>(1);
        let watcher = eddy::spawn({
            let tx = tx.clone();
            async move { tx.closed().await }
        });
        eddy::task::yield_now().await;
        assert!(!watcher.is_finished());
        rx.close();
        watcher.await.unwrap();

        let (tx, rx) = mpsc::unbounded_channel::<u8>();
        let watcher = eddy::spawn(async move { tx.closed().await });
        eddy::task::yield_now().await;
        drop(rx);
        watcher.await.unwrap();
    });
}

#[test]
fn a_dropped_closed_future_leaves_nothing_behind() {
    use eddy::test::MockTask;
    let (tx, rx) = mpsc::channel::<u8>(1);
    let mut closed = MockTask::new(tx.closed());
    eddy::assert_pending!(closed.poll());
    assert_eq!(closed.waker_ref_count(), 1);
    drop(closed);
    drop(rx); // wakes nobody, panics nowhere
    eddy::assert_ready!(MockTask::new(tx.closed()).poll());
}

// ----- Unbounded ------------------------------------------------------------

#[test]
fn an_unbounded_channel_never_makes_the_sender_wait() {
    eddy::run(async {
        let (tx, mut rx) = mpsc::unbounded_channel();
        for i in 0..10_000 {
            tx.send(i).unwrap();
        }
        assert_eq!(rx.len(), 10_000);
        drop(tx);
        let mut expected = 0;
        while let Some(i) = rx.recv().await {
            assert_eq!(i, expected);
            expected += 1;
        }
        assert_eq!(expected, 10_000);
    });
}

#[test]
fn an_unbounded_send_from_a_thread_wakes_the_receiving_task() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let thread = std::thread::spawn(move || {
        for i in 0..100 {
            tx.send(i).unwrap();
        }
    });
    let sum = eddy::run(async move {
        let mut sum = 0;
        while let Some(i) = rx.recv().await {
            sum += i;
        }
        sum
    });
    thread.join().unwrap();
    assert_eq!(sum, 4950);
}

// ----- Blocking from plain threads ------------------------------------------

#[test]
fn blocking_send_and_recv_connect_plain_threads_and_tasks() {
    let (to_task, mut task_rx) = mpsc::channel::<u32>(1);
    let (to_thread, mut thread_rx) = mpsc::channel::<u32>(1);
    let (done_tx, done_rx) = oneshot::channel();
    let thread = std::thread::spawn(move || {
        for i in 0..100 {
            to_task.blocking_send(i).unwrap(); // capacity 1: blocks often
            assert_eq!(thread_rx.blocking_recv(), Some(i * 2));
        }
        drop(to_task);
        done_rx.blocking_recv().unwrap()
    });
    eddy::run(async move {
        while let Some(i) = task_rx.recv().await {
            to_thread.send(i * 2).await.unwrap();
        }
        done_tx.send("done").unwrap();
    });
    assert_eq!(thread.join().unwrap(), "done");
}

#[test]
fn blocking_recv_on_a_loop_thread_panics_with_a_clear_message() {
    let (_tx, mut rx) = mpsc::channel::<u8>(1);
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        eddy::run(async move { rx.blocking_recv() })
    }))
    .unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(
        message.contains("mpsc::Receiver::blocking_recv was called on an eddy event loop thread"),
        "{message}"
    );

    let (_tx, rx) = oneshot::channel::<u8>();
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        eddy::run(async move { rx.blocking_recv() })
    }))
    .unwrap_err();
    assert!(panic.downcast_ref::<String>().unwrap().contains("oneshot::Receiver::blocking_recv"));
}

#[test]
fn blocking_send_works_from_spawn_blocking() {
    eddy::run(async {
        let (tx, mut rx) = mpsc::channel(1);
        let job = eddy::task::spawn_blocking(move || {
            for i in 0..10 {
                tx.blocking_send(i).unwrap();
            }
        });
        let mut got = Vec::new();
        while let Some(i) = rx.recv().await {
            got.push(i);
        }
        job.await.unwrap();
        assert_eq!(got, (0..10).collect::<Vec<_>>());
    });
}

// ----- Streams ----------------------------------------------------------------

/// `StreamExt::next` without the `futures` crate.
async fn next<S: futures_core::Stream + Unpin>(stream: &mut S) -> Option<S::Item> {
    std::future::poll_fn(|cx| std::pin::Pin::new(&mut *stream).poll_next(cx)).await
}

#[test]
fn mpsc_receivers_are_streams_that_end_with_the_channel() {
    eddy::run(async {
        let (tx, mut rx) = mpsc::channel(2);
        tx.send(1).await.unwrap();
        drop(tx);
        assert_eq!(next(&mut rx).await, Some(1));
        assert_eq!(next(&mut rx).await, None);

        let (tx, mut rx) = mpsc::unbounded_channel();
        tx.send('a').unwrap();
        drop(tx);
        assert_eq!(next(&mut rx).await, Some('a'));
        assert_eq!(next(&mut rx).await, None);
    });
}

#[test]
fn an_interval_is_a_stream_of_its_tick_instants() {
    eddy::test::run(async {
        let start = eddy::time::Instant::now();
        let mut ticks = eddy::time::interval(Duration::from_secs(1));
        for expected in 0..3 {
            let tick = next(&mut ticks).await.unwrap();
            assert_eq!(tick - start, Duration::from_secs(expected));
        }
    });
}
