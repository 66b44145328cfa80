//! The exported timeline: Chrome Trace Event JSON that Perfetto and
//! chrome://tracing open as is. Every export is checked by
//! `trace_support::check` (well-formed JSON, flows bound to slices at both
//! ends, no crossing slices on a track); these tests then look for each
//! kind of event the recorder promises.

mod trace_support;

use std::time::Duration;

use eddy::net::{TcpListener, TcpStream};
use eddy::sync::mpsc;
use trace_support::{check, Json};

/// A little of everything: named tasks talking over a channel, a timer, a
/// socket, a panic.
async fn a_bit_of_everything() {
    let (tx, mut rx) = mpsc::channel::<u32>(2);
    let producer = eddy::task::spawn_named("producer", async move {
        for i in 0..5 {
            tx.send(i).await.unwrap();
        }
    });
    let consumer = eddy::task::spawn_named("consumer", async move {
        let mut sum = 0;
        while let Some(i) = rx.recv().await {
            sum += i;
        }
        sum
    });
    let sleeper = eddy::task::spawn_named("sleeper", async {
        eddy::time::sleep(Duration::from_millis(2)).await;
    });
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = eddy::task::spawn_named("server", async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut buf = [0; 5];
        let n = stream.read(&mut buf).await.unwrap();
        stream.write_all(&buf[..n]).await.unwrap();
    });
    let client = TcpStream::connect(addr).await.unwrap();
    eddy::time::sleep(Duration::from_millis(1)).await;
    client.write_all(b"hello").await.unwrap();
    let mut buf = [0; 5];
    client.read(&mut buf).await.unwrap();
    let _ = eddy::task::spawn_named("panicker", async { panic!("on purpose, for the trace") }).await;
    producer.await.unwrap();
    assert_eq!(consumer.await.unwrap(), 10);
    sleeper.await.unwrap();
    server.await.unwrap();
}

fn traced(builder: &mut eddy::Builder) -> String {
    let runtime = builder.build().unwrap();
    runtime.block_on(a_bit_of_everything());
    runtime.trace_snapshot().to_chrome_json()
}

fn polls_named<'a>(checked: &'a trace_support::Checked, name: &str) -> Vec<&'a trace_support::Slice> {
    checked.slices.values().flatten().filter(|slice| slice.cat == "poll" && slice.name == name).collect()
}

#[test]
fn the_timeline_is_well_formed_with_bound_flows_and_no_crossing_slices() {
    let checked = check(&traced(&mut eddy::Builder::new()));
    assert!(
        checked.flows > 5,
        "wakes are drawn as arrows to the polls they caused ({} flows)",
        checked.flows
    );
}

#[test]
fn each_poll_is_a_slice_named_by_its_task() {
    let checked = check(&traced(&mut eddy::Builder::new()));
    for name in ["producer", "consumer", "sleeper", "server", "panicker", "block_on"] {
        assert!(!polls_named(&checked, name).is_empty(), "no poll slice named {name}");
    }
    let unnamed = eddy::run(async {
        eddy::spawn(async {}).await.unwrap();
        eddy::trace::snapshot().unwrap().to_chrome_json()
    });
    assert!(unnamed.contains("trace_chrome.rs:"), "an unnamed task is named by its spawn site");
}

#[test]
fn a_wake_from_inside_a_poll_names_the_task_that_did_it() {
    let checked = check(&traced(&mut eddy::Builder::new()));
    let task_of = |name: &str| polls_named(&checked, name)[0].args.num("task").unwrap();
    let producer = task_of("producer");
    let woken_by_producer = polls_named(&checked, "consumer")
        .iter()
        .any(|poll| poll.args.str("woken_by") == Some(&format!("channel (in task {producer})")));
    assert!(woken_by_producer, "the consumer is woken by the producer's sends, through the channel");
    let sleeper_ended = polls_named(&checked, "sleeper")
        .iter()
        .any(|poll| poll.args.str("woken_by").is_some_and(|cause| cause.starts_with("timer")));
    assert!(sleeper_ended, "the sleeper is woken by its timer");
    let results: Vec<_> =
        polls_named(&checked, "panicker").iter().filter_map(|poll| poll.args.str("result")).collect();
    assert_eq!(results, ["panicked"]);
}

#[test]
fn a_tasks_first_poll_says_who_spawned_it_and_an_arrow_comes_from_there() {
    let json = eddy::run(async {
        let parent = eddy::task::spawn_named("parent", async {
            eddy::task::spawn_named("child", async {}).await.unwrap();
        });
        parent.await.unwrap();
        eddy::trace::snapshot().unwrap().to_chrome_json()
    });
    let checked = check(&json);
    let parent = polls_named(&checked, "parent")[0].args.num("task").unwrap();
    let child = polls_named(&checked, "child");
    assert_eq!(child[0].args.str("woken_by"), Some(format!("spawned by task {parent}").as_str()));
    assert_eq!(polls_named(&checked, "parent")[0].args.str("woken_by"), Some("spawned by task 0"));
    // The spawn's arrow, and the child's lifetime from its first poll.
    assert!(checked.flows >= 2, "{} flows", checked.flows);
    let lifetime =
        checked.events.iter().any(|event| event.str("ph") == Some("b") && event.str("name") == Some("child"));
    assert!(lifetime, "the child's lifetime begins at its first poll");
}

#[test]
fn a_live_task_is_named_even_when_its_spawn_has_left_the_ring() {
    // A small ring (64 records): the long-lived task's first poll is
    // overwritten by the main future's yields, yet its later polls are
    // still named, from the loop's task list.
    let runtime = eddy::Builder::new().trace_capacity(64 * 16).build().unwrap();
    let json = runtime.block_on(async {
        let (tx, mut rx) = eddy::sync::mpsc::channel::<u32>(1);
        let _listener =
            eddy::task::spawn_named("long-lived", async move { while rx.recv().await.is_some() {} });
        for i in 0..200 {
            tx.send(i).await.unwrap();
        }
        eddy::trace::snapshot().unwrap().to_chrome_json()
    });
    let checked = check(&json);
    assert!(checked.events.len() > 10);
    assert!(!polls_named(&checked, "long-lived").is_empty(), "the live task's polls are named");
    assert!(checked.slices.values().flatten().all(|slice| slice.name != "?"), "no poll is unnamed");
}

#[test]
fn a_wake_through_a_sync_primitive_names_it_and_the_task() {
    let json = eddy::run(async {
        let notify = std::rc::Rc::new(eddy::sync::Notify::new());
        let waiter = eddy::task::spawn_named("waiter", {
            let notify = notify.clone();
            async move { notify.notified().await }
        });
        eddy::task::yield_now().await;
        eddy::task::spawn_named("notifier", async move { notify.notify_one() }).await.unwrap();
        waiter.await.unwrap();
        eddy::trace::snapshot().unwrap().to_chrome_json()
    });
    let checked = check(&json);
    let notifier = polls_named(&checked, "notifier")[0].args.num("task").unwrap();
    let causes: Vec<_> =
        polls_named(&checked, "waiter").iter().filter_map(|poll| poll.args.str("woken_by")).collect();
    assert!(causes.contains(&format!("sync primitive (in task {notifier})").as_str()), "{causes:?}");
}

#[test]
fn timers_sockets_and_parks_show_with_their_causes() {
    let checked = check(&traced(&mut eddy::Builder::new()));
    let names: Vec<&str> = checked.events.iter().filter_map(|event| event.str("name")).collect();
    for expected in ["timers fired", "socket ready", "park", "fire timers", "dispatch I/O"] {
        assert!(names.contains(&expected), "no {expected:?} event");
    }
    let woken_by: Vec<&str> =
        checked.slices.values().flatten().filter_map(|slice| slice.args.str("woken_by")).collect();
    assert!(woken_by.iter().any(|cause| cause.starts_with("timer (fired at")), "a timer wake says so");
    assert!(woken_by.iter().any(|cause| cause.starts_with("socket readable")), "a socket wake says so");
    let park = checked.slices.values().flatten().find(|slice| slice.name == "park").unwrap();
    assert!(park.args.str("why").is_some() && park.args.get("events").is_some());
}

#[test]
fn a_timer_cancelled_before_it_fires_says_which_and_its_deadline() {
    let runtime = eddy::Builder::new().start_paused(true).build().unwrap();
    runtime.block_on(async {
        let sleep = std::pin::pin!(eddy::time::sleep(Duration::from_millis(250)));
        // Polled once (armed), then dropped (cancelled).
        assert!(eddy::time::timeout(Duration::from_millis(10), sleep).await.is_err());
    });
    let checked = check(&runtime.trace_snapshot().to_chrome_json());
    let cancelled: Vec<_> =
        checked.events.iter().filter(|event| event.str("name") == Some("timer cancelled")).collect();
    // The 250 ms sleep was cancelled when the timeout fired at 10 ms; the
    // timeout's own timer fired, so it is not cancelled.
    assert_eq!(cancelled.len(), 1, "{cancelled:?}");
    let deadline = cancelled[0].get("args").and_then(|args| args.num("deadline_ms"));
    assert_eq!(deadline, Some(250.0));
}

#[test]
fn counters_and_task_lifetimes_are_exported() {
    let checked = check(&traced(&mut eddy::Builder::new()));
    let has = |ph: &str, name_part: &str| {
        checked.events.iter().any(|event| {
            event.str("ph") == Some(ph) && event.str("name").is_some_and(|name| name.contains(name_part))
        })
    };
    assert!(has("C", "ready tasks"), "ready-queue counter");
    assert!(has("C", "armed timers"), "timer counter");
    assert!(has("b", "producer") && has("e", "producer"), "a task's lifetime begins and ends");
    let panicked = checked.events.iter().any(|event| {
        event.str("ph") == Some("e")
            && event.get("args").and_then(|args| args.str("outcome")) == Some("panicked")
    });
    assert!(panicked, "a panicked task's lifetime ends as panicked");
}

#[test]
fn precise_poll_times_give_polls_their_real_length() {
    let runtime = eddy::Builder::new().trace_poll_times(true).build().unwrap();
    runtime.block_on(async {
        // One poll that takes 2 ms of real time (a blocking call, on purpose).
        eddy::task::spawn_named("busy", async { std::thread::sleep(Duration::from_millis(2)) })
            .await
            .unwrap();
    });
    let checked = check(&runtime.trace_snapshot().to_chrome_json());
    let busy = polls_named(&checked, "busy");
    assert!(busy[0].end - busy[0].start >= 1000.0, "a 2 ms poll is at least 1 ms long on the timeline");
}

#[test]
fn user_events_appear_inside_the_poll_that_recorded_them() {
    let json = eddy::run(async {
        eddy::task::spawn_named("handler", async {
            static RESPONSE: eddy::trace::EventKind =
                eddy::trace::EventKind::new("response written|status|bytes");
            eddy::trace::event(&RESPONSE, 200, 17);
        })
        .await
        .unwrap();
        eddy::trace::snapshot().unwrap().to_chrome_json()
    });
    let checked = check(&json);
    let event = checked.events.iter().find(|event| event.str("name") == Some("response written")).unwrap();
    let args = event.get("args").unwrap();
    assert_eq!((args.num("status"), args.num("bytes")), (Some(200.0), Some(17.0)));
    let handler = polls_named(&checked, "handler")[0];
    let at = event.num("ts").unwrap();
    assert!(handler.start <= at && at < handler.end, "the event lies in the handler's poll");
}

#[test]
fn names_with_quotes_and_newlines_are_escaped() {
    let json = eddy::run(async {
        eddy::task::spawn_named("a \"quoted\"\nname\\", async {}).await.unwrap();
        eddy::trace::snapshot().unwrap().to_chrome_json()
    });
    let checked = check(&json);
    assert!(!polls_named(&checked, "a \"quoted\"\nname\\").is_empty());
    let _ = Json::Null;
}

#[test]
fn a_socket_readiness_is_drawn_where_the_loop_returned_from_its_park() {
    let checked = check(&traced(&mut eddy::Builder::new()));
    let slices: Vec<_> = checked.slices.values().flatten().collect();
    let park_ends: Vec<f64> = slices.iter().filter(|s| s.name == "park").map(|s| s.end).collect();
    let dispatches: Vec<_> = slices.iter().filter(|s| s.name == "dispatch I/O").collect();
    assert!(!dispatches.is_empty());
    for dispatch in &dispatches {
        assert!(dispatch.args.num("woke").is_some_and(|woke| woke >= 1.0), "{dispatch:?}");
        let after_park = park_ends.iter().any(|end| (end - dispatch.start).abs() < 1e-6);
        assert!(after_park, "a dispatch starts as a park ends: {dispatch:?}");
    }
    for ready in checked.events.iter().filter(|event| event.str("name") == Some("socket ready")) {
        let at = ready.num("ts").unwrap();
        assert!(dispatches.iter().any(|d| (d.start - at).abs() < 1e-6), "{ready:?} at a dispatch's start");
        let args = ready.get("args").unwrap();
        assert!(
            args.num("token").is_some() && (args.get("readable").is_some() || args.get("writable").is_some())
        );
    }
}
