//! `watch`: latest value, `changed()` for the next send, closing from
//! either side, cancel safety, threads, and the stream wrapper.

use std::future::poll_fn;
use std::pin::Pin;

use eddy::sync::watch;
use eddy::test::MockTask;
use eddy::{assert_pending, assert_ready};
use futures_core::Stream;

#[test]
fn a_receiver_starts_having_seen_the_initial_value() {
    let (tx, mut rx) = watch::channel(1);
    assert_eq!(*rx.borrow(), 1);
    assert_eq!(rx.has_changed(), Ok(false));
    let mut changed = MockTask::new(rx.changed());
    assert_pending!(changed.poll());
    tx.send(2).unwrap();
    assert!(changed.is_woken());
    assert_ready!(changed.poll()).unwrap();
    drop(changed);
    assert_eq!(*rx.borrow(), 2);
}

#[test]
fn changes_faster_than_the_reader_are_merged_into_the_latest() {
    let (tx, mut rx) = watch::channel(0);
    for i in 1..=5 {
        tx.send(i).unwrap();
    }
    assert_ready!(MockTask::new(rx.changed()).poll()).unwrap();
    assert_eq!(*rx.borrow_and_update(), 5);
    assert_pending!(MockTask::new(rx.changed()).poll());
}

#[test]
fn send_modify_and_send_replace_change_the_value_and_wake_waiters() {
    let (tx, mut rx) = watch::channel(vec![1]);
    let mut changed = MockTask::new(rx.changed());
    assert_pending!(changed.poll());
    tx.send_modify(|v| v.push(2));
    assert!(changed.is_woken());
    drop(changed);
    assert_eq!(tx.send_replace(vec![9]), [1, 2]);
    assert_eq!(*rx.borrow_and_update(), [9]);
}

#[test]
fn every_receiver_is_woken_and_clones_start_where_the_original_is() {
    let (tx, mut a) = watch::channel(0);
    let mut b = a.clone();
    let mut c = tx.subscribe();
    let mut wa = MockTask::new(a.changed());
    let mut wb = MockTask::new(b.changed());
    assert_pending!(wa.poll());
    assert_pending!(wb.poll());
    tx.send(1).unwrap();
    assert!(wa.is_woken() && wb.is_woken());
    drop((wa, wb));
    assert_ready!(MockTask::new(c.changed()).poll()).unwrap();
}

#[test]
fn dropping_a_waiting_changed_loses_nothing() {
    let (tx, mut rx) = watch::channel(0);
    let mut changed = MockTask::new(rx.changed());
    assert_pending!(changed.poll());
    tx.send(1).unwrap();
    drop(changed); // woken, never polled
    assert_eq!(rx.has_changed(), Ok(true), "the change is still there to see");
    assert_ready!(MockTask::new(rx.changed()).poll()).unwrap();
}

#[test]
fn changed_fails_once_the_sender_is_gone_and_send_fails_without_receivers() {
    let (tx, mut rx) = watch::channel(0);
    let mut changed = MockTask::new(rx.changed());
    assert_pending!(changed.poll());
    drop(tx);
    assert!(changed.is_woken());
    assert!(assert_ready!(changed.poll()).is_err());
    drop(changed);
    assert_eq!(*rx.borrow(), 0, "the last value stays readable");

    let (tx, rx) = watch::channel(0);
    drop(rx);
    assert!(tx.is_closed());
    assert_eq!(tx.send(1).unwrap_err().0, 1);
}

#[test]
fn the_sender_learns_when_every_receiver_is_gone() {
    let (tx, rx) = watch::channel(());
    let rx2 = rx.clone();
    let mut closed = MockTask::new(tx.closed());
    assert_pending!(closed.poll());
    drop(rx);
    assert_pending!(closed.poll());
    drop(rx2);
    assert!(closed.is_woken());
    assert_ready!(closed.poll());
}

#[test]
fn a_watch_stream_yields_the_current_value_then_each_change_then_ends() {
    eddy::run(async {
        let (tx, rx) = watch::channel(0);
        let mut stream = watch::WatchStream::new(rx);
        assert_eq!(next(&mut stream).await, Some(0));
        tx.send(1).unwrap();
        assert_eq!(next(&mut stream).await, Some(1));
        drop(tx);
        assert_eq!(next(&mut stream).await, None);
    });
}

#[test]
fn stress_four_threads_see_the_values_in_order() {
    const SENDS: u64 = 10_000;
    let (tx, rx) = watch::channel(0u64);
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let mut rx = rx.clone();
            std::thread::spawn(move || {
                eddy::run(async move {
                    let mut last = 0;
                    while rx.changed().await.is_ok() {
                        let now = *rx.borrow_and_update();
                        assert!(now > last, "went back from {last} to {now}");
                        last = now;
                    }
                    assert_eq!(*rx.borrow(), SENDS, "the last value is seen");
                })
            })
        })
        .collect();
    drop(rx);
    std::thread::spawn(move || {
        for i in 1..=SENDS {
            tx.send_replace(i);
        }
    })
    .join()
    .unwrap();
    for reader in readers {
        reader.join().unwrap();
    }
}

#[test]
fn under_every_ordering_a_watcher_ends_on_the_last_value() {
    eddy::test::check_orderings(0..200, || async {
        let (tx, rx) = watch::channel(0);
        let watchers: Vec<_> = (0..3)
            .map(|_| {
                let mut rx = rx.clone();
                eddy::spawn(async move {
                    while rx.changed().await.is_ok() {}
                    let last = *rx.borrow();
                    last
                })
            })
            .collect();
        for i in 1..=3 {
            tx.send(i).unwrap();
            eddy::task::yield_now().await;
        }
        drop(tx);
        for watcher in watchers {
            assert_eq!(watcher.await.unwrap(), 3);
        }
    });
}

/// `StreamExt::next` without the `futures` crate.
async fn next<S: Stream + Unpin>(stream: &mut S) -> Option<S::Item> {
    poll_fn(|cx| Pin::new(&mut *stream).poll_next(cx)).await
}
