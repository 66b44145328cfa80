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
