//! `broadcast`: every receiver sees every value in order, a lagging
//! receiver is told how many it missed and goes on, closing, cancel safety,
//! threads, and the stream.

use std::future::poll_fn;
use std::pin::Pin;

use eddy::sync::broadcast::{self, Lagged, RecvError, TryRecvError};
use eddy::test::{DropProbe, MockTask};
use eddy::{assert_pending, assert_ready};
use futures_core::Stream;

#[test]
fn every_receiver_sees_every_value_in_order() {
    let (tx, mut a) = broadcast::channel(4);
    let mut b = tx.subscribe();
    for i in 0..3 {
        assert_eq!(tx.send(i).unwrap(), 2, "sent to two receivers");
    }
    for rx in [&mut a, &mut b] {
        assert_eq!((rx.try_recv(), rx.try_recv(), rx.try_recv()), (Ok(0), Ok(1), Ok(2)));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    }
}

#[test]
fn a_new_subscriber_sees_only_later_values() {
    let (tx, _rx) = broadcast::channel(4);
    tx.send(1).unwrap();
    let mut late = tx.subscribe();
    tx.send(2).unwrap();
    assert_eq!(late.try_recv(), Ok(2));
}

#[test]
fn a_lagging_receiver_is_told_how_many_it_missed_then_continues_from_the_oldest() {
    let (tx, mut rx) = broadcast::channel(2);
    for i in 0..5 {
        tx.send(i).unwrap();
    }
    assert_eq!(rx.try_recv(), Err(TryRecvError::Lagged(3)));
    assert_eq!(rx.try_recv(), Ok(3));
    assert_eq!(rx.try_recv(), Ok(4));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
}

#[test]
fn a_waiting_recv_is_woken_by_a_send_and_dropping_it_loses_no_value() {
    let (tx, mut rx) = broadcast::channel(4);
    let mut recv = MockTask::new(rx.recv());
    assert_pending!(recv.poll());
    tx.send("a").unwrap();
    assert!(recv.is_woken());
    drop(recv); // woken, never polled
    let mut again = MockTask::new(rx.recv());
    assert_eq!(assert_ready!(again.poll()), Ok("a"));
}

#[test]
fn recv_ends_with_closed_after_the_last_sender_and_the_last_value() {
    let (tx, mut rx) = broadcast::channel(4);
    let tx2 = tx.clone();
    tx.send(1).unwrap();
    drop(tx);
    let mut recv = MockTask::new(rx.recv());
    assert_eq!(assert_ready!(recv.poll()), Ok(1));
    drop(recv);
    let mut recv = MockTask::new(rx.recv());
    assert_pending!(recv.poll());
    drop(tx2);
    assert!(recv.is_woken());
    assert_eq!(assert_ready!(recv.poll()), Err(RecvError::Closed));
}

#[test]
fn send_without_receivers_gives_the_value_back() {
    let (tx, rx) = broadcast::channel::<u8>(1);
    drop(rx);
    assert_eq!(tx.send(7).unwrap_err().0, 7);
}

#[test]
fn a_value_is_dropped_as_soon_as_every_receiver_has_read_it_or_left() {
    let (tx, mut a) = broadcast::channel(4);
    let b = tx.subscribe();
    let (probe, dropped) = DropProbe::new();
    tx.send(std::sync::Arc::new(probe)).unwrap();
    drop(a.try_recv().unwrap());
    assert!(!dropped.get(), "b has not read it yet");
    drop(b);
    assert!(dropped.get(), "the last reader left: the ring let it go");
}

#[test]
fn the_receiver_stream_yields_lags_as_items_and_ends_when_senders_are_gone() {
    eddy::run(async {
        let (tx, mut rx) = broadcast::channel(1);
        tx.send(1).unwrap();
        tx.send(2).unwrap();
        assert_eq!(next(&mut rx).await, Some(Err(Lagged(1))));
        assert_eq!(next(&mut rx).await, Some(Ok(2)));
        drop(tx);
        assert_eq!(next(&mut rx).await, None);
    });
}

#[test]
fn receivers_on_two_loops_get_every_value_sent_from_a_third() {
    let runtime = eddy::Builder::new().workers(2).build().unwrap();
    let (tx, rx) = broadcast::channel::<u32>(1000);
    let sums = runtime.block_on(async {
        let tasks: Vec<_> = runtime
            .handles()
            .iter()
            .map(|handle| {
                let mut rx = rx.resubscribe();
                handle.spawn(async move {
                    let mut sum = 0;
                    while let Ok(value) = rx.recv().await {
                        sum += value;
                    }
                    sum
                })
            })
            .collect();
        drop(rx);
        std::thread::spawn(move || {
            for i in 0..1000 {
                tx.send(i).unwrap();
            }
        })
        .join()
        .unwrap();
        let mut sums = Vec::new();
        for task in tasks {
            sums.push(task.await.unwrap());
        }
        sums
    });
    assert_eq!(sums, [499_500, 499_500]);
}

#[test]
fn stress_three_threads_receive_every_value_from_a_fourth() {
    const SENDS: u64 = 10_000;
    let (tx, rx) = broadcast::channel(SENDS as usize); // big enough: no lag
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let mut rx = rx.resubscribe();
            std::thread::spawn(move || {
                eddy::run(async move {
                    let mut expected = 0;
                    while let Ok(value) = rx.recv().await {
                        assert_eq!(value, expected);
                        expected += 1;
                    }
                    expected
                })
            })
        })
        .collect();
    drop(rx);
    std::thread::spawn(move || {
        for i in 0..SENDS {
            tx.send(i).unwrap();
        }
    })
    .join()
    .unwrap();
    for reader in readers {
        assert_eq!(reader.join().unwrap(), SENDS);
    }
}

#[test]
fn under_every_ordering_receivers_get_every_value_or_an_exact_lag_count() {
    eddy::test::check_orderings(0..200, || async {
        let (tx, rx) = broadcast::channel(2);
        let readers: Vec<_> = (0..3)
            .map(|_| {
                let mut rx = rx.resubscribe();
                eddy::spawn(async move {
                    let mut accounted = 0; // values read + values reported missed
                    loop {
                        match rx.recv().await {
                            Ok(_) => accounted += 1,
                            Err(RecvError::Lagged(missed)) => accounted += missed,
                            Err(RecvError::Closed) => return accounted,
                        }
                    }
                })
            })
            .collect();
        drop(rx);
        for i in 0..10 {
            tx.send(i).unwrap();
            if i % 3 == 0 {
                eddy::task::yield_now().await;
            }
        }
        drop(tx);
        for reader in readers {
            assert_eq!(reader.await.unwrap(), 10, "every value read or counted as missed");
        }
    });
}

/// `StreamExt::next` without the `futures` crate.
async fn next<S: Stream + Unpin>(stream: &mut S) -> Option<S::Item> {
    poll_fn(|cx| Pin::new(&mut *stream).poll_next(cx)).await
}
