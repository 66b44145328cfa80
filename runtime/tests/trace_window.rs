//! `eddy::trace::window`: the recent tail of a loop's flight recorder,
//! decoded into polls, parks and wakes. Paused clock, so every time is
//! exact and the window is the same on every run.

use std::time::Duration;

use eddy::trace::{window, MAX_WINDOW_POLLS};

#[test]
fn a_window_holds_the_polls_parks_and_wakes_of_its_span() {
    eddy::test::run(async {
        let sleeper = eddy::task::spawn_named("sleeper", async {
            eddy::time::sleep(Duration::from_millis(10)).await;
            eddy::time::sleep(Duration::from_millis(10)).await;
        });
        let id = sleeper.id();
        sleeper.await.unwrap();
        let window = window(Duration::from_secs(1)).expect("inside a runtime");

        let polls: Vec<_> = window.polls.iter().filter(|poll| poll.task == id).collect();
        assert_eq!(polls.len(), 3, "spawned, then woken by each timer: {:#?}", window.polls);
        assert!(polls.iter().all(|poll| poll.name == "sleeper"));
        // The paused clock moved 10 ms between the polls, while parked.
        assert_eq!(polls[1].start_ns - polls[0].start_ns, 10_000_000, "{polls:#?}");
        assert_eq!(polls[2].start_ns - polls[1].start_ns, 10_000_000, "{polls:#?}");
        let timer_wakes = window.wakes.iter().filter(|wake| wake.task == id && wake.cause == "timer").count();
        assert_eq!(timer_wakes, 2, "{:#?}", window.wakes);
        assert!(window.wakes.iter().any(|wake| wake.task == id && wake.cause.starts_with("spawned")));
        assert!(
            window.parks.iter().any(|park| park.duration_ns >= 10_000_000),
            "the loop parked while time moved: {:#?}",
            window.parks
        );
        // Everything lies in the window, in order.
        for poll in &window.polls {
            assert!(poll.start_ns >= window.start_ns && poll.start_ns + poll.duration_ns <= window.now_ns);
        }
        assert!(window.polls.windows(2).all(|pair| pair[0].start_ns <= pair[1].start_ns));
    });
}

#[test]
fn a_window_reads_only_its_span() {
    eddy::test::run(async {
        eddy::task::spawn_named("early", async {}).await.unwrap();
        eddy::time::sleep(Duration::from_secs(5)).await;
        eddy::task::spawn_named("late", async {}).await.unwrap();
        let window = window(Duration::from_secs(1)).unwrap();
        let names: Vec<&str> = window.polls.iter().map(|poll| poll.name.as_str()).collect();
        assert!(names.contains(&"late"), "{names:?}");
        assert!(!names.contains(&"early"), "5 s ago, outside a 1 s window: {names:?}");
        assert_eq!(window.now_ns - window.start_ns, 1_000_000_000);
    });
}

#[test]
fn a_busy_window_keeps_only_the_most_recent_polls() {
    eddy::test::run(async {
        let busy = eddy::task::spawn_named("busy", async {
            for _ in 0..MAX_WINDOW_POLLS + 1_000 {
                eddy::task::yield_now().await;
            }
        });
        busy.await.unwrap();
        let window = window(Duration::from_secs(1)).unwrap();
        assert_eq!(window.polls.len(), MAX_WINDOW_POLLS, "bounded however busy the loop was");
        assert_eq!(window.start_ns, window.polls[0].start_ns, "the window starts at its first poll");
        let last = window.polls.last().unwrap();
        assert_eq!(last.name, "block_on", "the poll taking the window is the newest, still open");
    });
}

#[test]
fn a_socket_wake_names_the_socket_and_dates_from_the_park_that_collected_it() {
    eddy::run(async {
        let listener = eddy::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let reader = eddy::task::spawn_named("reader", async move {
            let (stream, _) = listener.accept().await.unwrap();
            let mut buf = [0; 4];
            stream.read(&mut buf).await.unwrap()
        });
        let id = reader.id();
        let client = eddy::net::TcpStream::connect(addr).await.unwrap();
        // Let the reader park on its socket before anything arrives.
        for _ in 0..3 {
            eddy::task::yield_now().await;
        }
        client.write_all(b"ping").await.unwrap();
        assert_eq!(reader.await.unwrap(), 4);
        let window = window(Duration::from_secs(60)).unwrap();

        let wakes: Vec<_> = window
            .wakes
            .iter()
            .filter(|wake| wake.task == id && wake.cause.starts_with("socket readable (token "))
            .collect();
        assert!(!wakes.is_empty(), "the reader was woken by its socket: {:#?}", window.wakes);
        for wake in wakes {
            // Sockets are dispatched as the loop returns from a park.
            let park_ends: Vec<u64> =
                window.parks.iter().map(|park| park.start_ns + park.duration_ns).collect();
            assert!(park_ends.contains(&wake.at_ns), "{wake:?} at the end of one of {:#?}", window.parks);
        }
    });
}
