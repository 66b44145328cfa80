//! Signals sent to the test process itself: every delivery is counted, no
//! delivery is lost between two awaits, every listener (on any loop) sees
//! each one, and the errors are clear. Each test uses its own signal, since
//! the tests of this file share one process.
#![cfg(unix)]

use std::future::poll_fn;
use std::io;
use std::sync::mpsc;
use std::task::Poll;
use std::time::Duration;

use eddy::signal::unix::{signal, Signal, SignalKind};

/// Sends `signum` to the calling thread; its handler has run on return.
fn raise(signum: libc::c_int) {
    // SAFETY: raise only sends a signal; eddy's handler is installed.
    assert_eq!(unsafe { libc::raise(signum) }, 0);
}

/// Whether `listener` has a delivery ready right now (polled once).
async fn has_delivery(listener: &mut Signal) -> bool {
    poll_fn(|cx| Poll::Ready(listener.poll_recv(cx).is_ready())).await
}

/// Waits for a delivery, failing the test instead of hanging it.
async fn recv_bounded(listener: &mut Signal) {
    eddy::time::timeout(Duration::from_secs(5), listener.recv())
        .await
        .expect("no signal delivery within 5 s");
}

#[test]
fn every_delivery_between_two_awaits_is_counted() {
    eddy::run(async {
        let mut usr1 = signal(SignalKind::user_defined1()).unwrap();
        assert!(!has_delivery(&mut usr1).await, "nothing delivered yet");
        for _ in 0..3 {
            raise(libc::SIGUSR1);
        }
        for delivery in 1..=3 {
            assert!(has_delivery(&mut usr1).await, "delivery {delivery} of 3 is there");
        }
        assert!(!has_delivery(&mut usr1).await, "exactly three");
    });
}

#[test]
fn a_waiting_listener_is_woken_by_a_signal_sent_to_the_process() {
    eddy::run(async {
        let mut hup = signal(SignalKind::hangup()).unwrap();
        let waiter = eddy::spawn(async move {
            recv_bounded(&mut hup).await;
        });
        eddy::task::yield_now().await; // the waiter is now parked
                                       // Process-directed: the kernel may run the handler on any thread.
                                       // SAFETY: kill only sends a signal to this process.
        assert_eq!(unsafe { libc::kill(libc::getpid(), libc::SIGHUP) }, 0);
        waiter.await.unwrap();
    });
}

#[test]
fn several_listeners_on_two_loops_all_see_one_delivery() {
    let (ready_tx, ready_rx) = mpsc::channel();
    let other_loop = std::thread::spawn(move || {
        eddy::run(async move {
            let mut usr2 = signal(SignalKind::user_defined2()).unwrap();
            ready_tx.send(()).unwrap();
            recv_bounded(&mut usr2).await;
        })
    });
    eddy::run(async {
        let mut first = signal(SignalKind::user_defined2()).unwrap();
        let mut second = signal(SignalKind::user_defined2()).unwrap();
        let waiting = eddy::spawn(async move {
            recv_bounded(&mut first).await;
        });
        eddy::task::yield_now().await;
        ready_rx.recv().unwrap();
        raise(libc::SIGUSR2);
        recv_bounded(&mut second).await;
        waiting.await.unwrap();
        assert!(!has_delivery(&mut second).await, "one delivery, seen once per listener");
    });
    other_loop.join().unwrap();
}

#[test]
fn a_listener_sees_only_deliveries_after_it_was_created() {
    eddy::run(async {
        let _installed = signal(SignalKind::window_change()).unwrap();
        raise(libc::SIGWINCH);
        let mut late = signal(SignalKind::window_change()).unwrap();
        assert!(!has_delivery(&mut late).await);
        raise(libc::SIGWINCH);
        assert!(has_delivery(&mut late).await);
    });
}

#[test]
fn signals_are_a_futures_stream() {
    eddy::run(async {
        let mut alarm = signal(SignalKind::alarm()).unwrap();
        raise(libc::SIGALRM);
        let item = poll_fn(|cx| futures_core::Stream::poll_next(std::pin::Pin::new(&mut alarm), cx)).await;
        assert_eq!(item, Some(()));
    });
}

#[test]
fn ctrl_c_resolves_on_sigint() {
    eddy::run(async {
        let ctrl_c = eddy::spawn(eddy::signal::ctrl_c());
        // Let ctrl_c install its listener before the signal is sent.
        eddy::task::yield_now().await;
        raise(libc::SIGINT);
        eddy::time::timeout(Duration::from_secs(5), ctrl_c).await.unwrap().unwrap().unwrap();
    });
}

#[test]
fn signals_that_cannot_be_handled_are_refused_with_a_clear_error() {
    eddy::run(async {
        for (kind, name) in [(SignalKind::from_raw(libc::SIGKILL), "SIGKILL"), (SignalKind::from_raw(0), "")]
        {
            let error = signal(kind).unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::InvalidInput, "{name}");
            assert!(error.to_string().contains(&format!("signal {}", kind.as_raw_value())), "{error}");
        }
    });
}

#[test]
fn a_delivery_of_one_signal_does_not_wake_listeners_of_another() {
    use std::cell::Cell;
    use std::rc::Rc;
    eddy::run(async {
        let polls = Rc::new(Cell::new(0));
        let mut quiet = signal(SignalKind::from_raw(libc::SIGURG)).unwrap();
        let listener = {
            let polls = polls.clone();
            eddy::spawn(async move {
                poll_fn(|cx| {
                    polls.set(polls.get() + 1);
                    quiet.poll_recv(cx)
                })
                .await
            })
        };
        eddy::task::yield_now().await;
        assert_eq!(polls.get(), 1, "polled once, then parked");
        let mut busy = signal(SignalKind::from_raw(libc::SIGPROF)).unwrap();
        for _ in 0..10 {
            raise(libc::SIGPROF);
            recv_bounded(&mut busy).await;
        }
        eddy::task::yield_now().await;
        assert_eq!(polls.get(), 1, "ten SIGPROFs never woke the SIGURG listener");
        listener.abort();
    });
}
