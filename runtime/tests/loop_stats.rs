//! Loop statistics (`Handle::loop_stats`, `Runtime::loop_stats`): counters
//! that move as a loop polls and parks, gauges of what it holds as of its
//! last park, and busy and parked time that account for its life. Read from
//! this thread while the loop runs on its own.

use std::time::Duration;

/// Waits (a few ms at a time, bounded) until `condition` holds.
fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(std::time::Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Keeps the calling thread busy (no sleep) for `span`.
fn hog_for(span: Duration) {
    let start = std::time::Instant::now();
    while start.elapsed() < span {
        std::hint::spin_loop();
    }
}

fn two_loops() -> eddy::Runtime {
    eddy::Builder::new().workers(2).build().expect("a runtime")
}

#[test]
fn every_loop_has_its_statistics_loop_zero_first() {
    let runtime = two_loops();
    let stats = runtime.loop_stats();
    assert_eq!(stats.len(), 2);
    assert_eq!(stats[0].loop_id, runtime.handles()[0].loop_id());
    assert_eq!(stats[1].loop_id, runtime.handles()[1].loop_id());
}

#[test]
fn polls_and_ticks_count_up_and_are_published_when_the_loop_parks() {
    let runtime = two_loops();
    let worker = runtime.handles()[1].clone();
    let before = worker.loop_stats();
    runtime
        .block_on(worker.spawn(async {
            for _ in 0..10 {
                eddy::task::yield_now().await;
            }
        }))
        .unwrap();
    // Published at the worker's next park, which comes once it is idle.
    wait_until("the worker parks", || worker.loop_stats().parked_now);
    let after = worker.loop_stats();
    assert!(after.polls >= before.polls + 11, "11 polls of the task: {before:?} → {after:?}");
    assert!(after.ticks >= before.ticks + 11, "one poll per tick while it yields: {after:?}");
    assert_eq!(after.tasks, 0, "the task is gone: {after:?}");
    assert_eq!(after.ready, 0, "nothing is ready while parked: {after:?}");
}

#[test]
fn gauges_show_the_timers_sockets_and_tasks_a_loop_holds() {
    let runtime = two_loops();
    let worker = runtime.handles()[1].clone();
    let base = {
        wait_until("the worker parks", || worker.loop_stats().parked_now);
        worker.loop_stats()
    };
    let (armed, is_armed) = std::sync::mpsc::channel();
    let _sleeper = worker.spawn_with(move || async move {
        let listener = eddy::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let sleep = eddy::time::sleep(Duration::from_secs(3600));
        let mut sleep = std::pin::pin!(sleep);
        // Armed by its first poll; then the task waits on both.
        let _ = futures_poll_once(sleep.as_mut()).await;
        armed.send(()).unwrap();
        let _ = eddy::time::timeout(Duration::from_secs(3600), listener.accept()).await;
        sleep.await;
    });
    is_armed.recv().unwrap();
    wait_until("the worker holds them, parked", || {
        let stats = worker.loop_stats();
        stats.parked_now && stats.tasks == base.tasks + 1
    });
    let stats = worker.loop_stats();
    assert_eq!(stats.timers, base.timers + 2, "the sleep and the accept's timeout: {stats:?}");
    assert_eq!(stats.sockets, base.sockets + 1, "the listener: {stats:?}");
    drop(runtime);
}

/// Polls `future` once, then resolves (whatever it returned).
async fn futures_poll_once<F: std::future::Future + Unpin>(mut future: F) -> bool {
    std::future::poll_fn(|cx| std::task::Poll::Ready(std::pin::Pin::new(&mut future).poll(cx).is_ready()))
        .await
}

#[test]
fn busy_time_counts_the_polls_and_parked_time_the_park_in_progress() {
    let runtime = two_loops();
    let worker = runtime.handles()[1].clone();
    let before = worker.loop_stats();
    runtime
        // Hogs the loop for 5 ms in one poll (as a bad task would).
        .block_on(worker.spawn(async { hog_for(Duration::from_millis(5)) }))
        .unwrap();
    // Parked *after* the hog's poll: a `parked_now` alone could still be
    // the park before it, read before the worker published again (it
    // publishes at most once per ms of loop time).
    wait_until("the worker parks after the poll", || {
        let stats = worker.loop_stats();
        stats.parked_now && stats.polls > before.polls
    });
    let parked = worker.loop_stats();
    assert!(parked.busy >= before.busy + Duration::from_millis(5), "{before:?} → {parked:?}");
    // Parked now: the park in progress counts, read after read.
    std::thread::sleep(Duration::from_millis(3));
    let later = worker.loop_stats();
    assert!(later.parked >= parked.parked + Duration::from_millis(3), "{parked:?} → {later:?}");
    assert_eq!(later.busy, parked.busy, "a parked loop does no work");
}

/// The same with a timer armed, so every park is a timed wait planned
/// from the wake's clock reading: the park reads the clock again after the
/// polls, or a loop answering one request per wake (a server) would count
/// its whole busy stretch as parked and look idle.
#[test]
fn busy_time_counts_the_polls_of_a_loop_that_holds_a_timer() {
    let runtime = two_loops();
    let worker = runtime.handles()[1].clone();
    let _timer = worker.spawn(eddy::time::sleep(Duration::from_secs(3600)));
    wait_until("the worker parks on its timer", || worker.loop_stats().parked_now);
    for round in 1..=3 {
        let before = worker.loop_stats();
        runtime.block_on(worker.spawn(async { hog_for(Duration::from_millis(5)) })).unwrap();
        wait_until("the worker publishes the poll", || {
            let stats = worker.loop_stats();
            stats.parked_now && stats.polls > before.polls
        });
        let after = worker.loop_stats();
        assert!(
            after.busy >= before.busy + Duration::from_millis(5),
            "round {round}: {before:?} → {after:?}"
        );
    }
}

#[test]
fn a_loop_that_parks_right_after_publishing_still_publishes_within_a_millisecond() {
    // Timed waits (the worker holds a timer) publish at most once per ms
    // of loop time; a park that skips publishing waits at most until the
    // ms is up, then publishes: the figures never stay stale while parked.
    let runtime = two_loops();
    let worker = runtime.handles()[1].clone();
    let _timer = worker.spawn(eddy::time::sleep(Duration::from_secs(3600)));
    for round in 1..=5u64 {
        let before = worker.loop_stats();
        // Fifty wakes in quick succession: the worker polls one task and
        // parks again each time, most parks well within 1 ms of the last
        // publication.
        for _ in 0..50 {
            runtime.block_on(worker.spawn(async {})).unwrap();
        }
        let started = std::time::Instant::now();
        wait_until("the worker publishes its polls", || {
            let stats = worker.loop_stats();
            stats.parked_now && stats.polls >= before.polls + 50
        });
        // Generous for a loaded machine; the loop itself waits at most 1 ms.
        assert!(started.elapsed() < Duration::from_secs(5), "round {round}");
        let stats = worker.loop_stats();
        assert_eq!((stats.ready, stats.timers, stats.tasks), (0, 1, 1), "round {round}: {stats:?}");
        assert!(stats.busy + stats.parked > before.busy + before.parked, "time moves: {stats:?}");
    }
}
