//! Graceful shutdown and the app's hooks: stop accepting, close idle
//! connections at once, finish every request already received, close what
//! is still busy after the shutdown timeout, then run the cleanup hooks;
//! a failing startup hook aborts the start.
//!
//! On the paused clock, server and clients in one runtime, so "at once"
//! and "after 10 s" are exact; except the multi-loop test, which needs a
//! loop per thread and holds its requests with a flag instead of time.

mod http_support;

use std::collections::BTreeSet;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eddy::sync::mpsc;
use eddy::time::{self, Instant};
use eddy_http::{App, Limits, Request, Response, Server};
use http_support::{
    assert_elapsed, bind, get, ok, refusal, reply, run_paused, AsyncClient, Client, TestServer,
};

/// What happened, in order: handlers finishing and hooks running.
type Journal = Arc<Mutex<Vec<String>>>;

/// An app whose `/slow/{n}` takes 2 s (reporting its start on `started`),
/// `/stuck` takes an hour, and whose cleanup hook writes to the journal.
fn app(journal: &Journal, started: mpsc::Sender<String>) -> App {
    let done = journal.clone();
    let cleaned = journal.clone();
    let stuck = started.clone();
    App::new()
        .get("/", |_req| async { "root" })
        .get("/slow/{n}", move |req: Request| {
            let n = req.param("n").unwrap_or_default().to_string();
            let started = started.clone();
            let done = done.clone();
            async move {
                started.send(n.clone()).await.unwrap();
                time::sleep(Duration::from_secs(2)).await;
                done.lock().unwrap().push(format!("done {n}"));
                format!("slow {n}")
            }
        })
        .post("/echo", |mut req: Request| async move {
            match req.body_mut().bytes().await {
                Ok(body) => Response::bytes(body),
                Err(error) => error.into(),
            }
        })
        .get("/stuck", move |_req| {
            let stuck = stuck.clone();
            async move {
                stuck.send("stuck".to_string()).await.unwrap();
                time::sleep(Duration::from_secs(3600)).await;
                "unstuck"
            }
        })
        .on_cleanup(move || {
            let cleaned = cleaned.clone();
            async move {
                cleaned.lock().unwrap().push("cleanup".to_string());
                Ok(())
            }
        })
}

#[test]
fn requests_in_flight_all_complete_before_shutdown_returns_and_cleanup_runs_last() {
    run_paused(|| async {
        let journal = Journal::default();
        let (started, mut starts) = mpsc::channel(16);
        let server = bind(app(&journal, started)).await;
        let addr = server.local_addr();
        let mut clients = Vec::new();
        for i in 0..5 {
            let client = AsyncClient::connect(addr).await;
            client.send(get(&format!("/slow/{i}"))).await;
            clients.push(client);
        }
        for _ in 0..5 {
            starts.recv().await.unwrap();
        }
        let start = Instant::now();
        let shutdown = eddy::spawn(server.shutdown());
        for (i, client) in clients.iter_mut().enumerate() {
            assert_eq!(
                client.response().await.text(),
                reply("200 OK", &[], &format!("slow {i}"), Some("close"))
            );
            client.assert_closed().await;
        }
        shutdown.await.unwrap().unwrap();
        assert_elapsed(start.elapsed(), Duration::from_secs(2));
        let journal = journal.lock().unwrap().clone();
        assert_eq!(journal.len(), 6, "{journal:?}");
        assert_eq!(journal.last().unwrap(), "cleanup", "{journal:?}");
    });
}

#[test]
fn pipelined_requests_already_received_are_all_answered_during_shutdown() {
    run_paused(|| async {
        let journal = Journal::default();
        let (started, mut starts) = mpsc::channel(16);
        let server = bind(app(&journal, started)).await;
        let mut client = AsyncClient::connect(server.local_addr()).await;
        client.send(format!("{}{}{}", get("/slow/a"), get("/"), get("/slow/b"))).await;
        assert_eq!(starts.recv().await.unwrap(), "a");
        let shutdown = eddy::spawn(server.shutdown());
        assert_eq!(client.response().await.text(), ok("slow a"));
        assert_eq!(client.response().await.text(), ok("root"));
        // The last one the connection had received says it is the last.
        assert_eq!(client.response().await.text(), reply("200 OK", &[], "slow b", Some("close")));
        client.assert_closed().await;
        shutdown.await.unwrap().unwrap();
    });
}

#[test]
fn idle_keep_alive_connections_are_closed_at_once_and_silent_new_ones_after_the_grace() {
    run_paused(|| async {
        let journal = Journal::default();
        let (started, _starts) = mpsc::channel(16);
        let server = bind(app(&journal, started)).await;
        let addr = server.local_addr();
        let mut used = AsyncClient::connect(addr).await;
        used.send(get("/")).await;
        assert_eq!(used.response().await.text(), ok("root"));
        let mut fresh = AsyncClient::connect(addr).await;
        let start = Instant::now();
        let shutdown = eddy::spawn(server.shutdown());
        // Not after the 60 s keep-alive: at once.
        used.assert_closed().await;
        assert_eq!(start.elapsed(), Duration::ZERO);
        drop(used);
        // A connection that has sent nothing yet connected to send a
        // request: it gets the shutdown grace (1 s) for it, no more.
        fresh.assert_closed().await;
        assert_elapsed(start.elapsed(), Duration::from_secs(1));
        drop(fresh);
        shutdown.await.unwrap().unwrap();
        assert_elapsed(start.elapsed(), Duration::from_secs(1));
        assert_eq!(*journal.lock().unwrap(), ["cleanup"]);
    });
}

#[test]
fn after_shutdown_new_connections_are_refused() {
    run_paused(|| async {
        let journal = Journal::default();
        let (started, _starts) = mpsc::channel(16);
        let server = bind(app(&journal, started)).await;
        let addr = server.local_addr();
        server.shutdown().await.unwrap();
        let error = eddy::net::TcpStream::connect(addr).await.expect_err("connected after shutdown");
        assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused, "{error}");
    });
}

#[test]
fn connections_still_busy_after_the_shutdown_timeout_are_closed_then_cleanup_runs() {
    run_paused(|| async {
        let journal = Journal::default();
        let (started, mut starts) = mpsc::channel(16);
        let limits = Limits { shutdown_timeout: Duration::from_secs(10), ..Limits::default() };
        let server = bind(app(&journal, started).limits(limits)).await;
        let mut client = AsyncClient::connect(server.local_addr()).await;
        client.send(get("/stuck")).await;
        assert_eq!(starts.recv().await.unwrap(), "stuck");
        let start = Instant::now();
        server.shutdown().await.unwrap();
        assert_elapsed(start.elapsed(), Duration::from_secs(10));
        assert_eq!(*journal.lock().unwrap(), ["cleanup"]);
        // Closed without an answer: the handler never finished.
        client.assert_closed().await;
    });
}

#[test]
fn startup_hooks_run_in_order_before_the_server_listens() {
    run_paused(|| async {
        let journal = Journal::default();
        let (first, second) = (journal.clone(), journal.clone());
        let app = App::new()
            .get("/", |_req| async { "root" })
            .on_startup(move || {
                let first = first.clone();
                async move {
                    time::sleep(Duration::from_secs(1)).await;
                    first.lock().unwrap().push("first".to_string());
                    Ok(())
                }
            })
            .on_startup(move || {
                let second = second.clone();
                async move {
                    second.lock().unwrap().push("second".to_string());
                    Ok(())
                }
            });
        let server = Server::bind("127.0.0.1:0", app).await.unwrap();
        assert_eq!(*journal.lock().unwrap(), ["first", "second"]);
        let mut client = AsyncClient::connect(server.local_addr()).await;
        client.send(get("/")).await;
        assert_eq!(client.response().await.text(), ok("root"));
        server.shutdown().await.unwrap();
    });
}

#[test]
fn a_failing_startup_hook_aborts_the_start_with_its_error() {
    run_paused(|| async {
        let journal = Journal::default();
        let later = journal.clone();
        let app = App::new()
            .get("/", |_req| async { "root" })
            .on_startup(|| async { Err(io::Error::new(io::ErrorKind::NotFound, "no database")) })
            .on_startup(move || {
                let later = later.clone();
                async move {
                    later.lock().unwrap().push("second startup hook".to_string());
                    Ok(())
                }
            });
        let error = Server::bind("127.0.0.1:0", app).await.expect_err("the server started anyway");
        assert_eq!(error.kind(), io::ErrorKind::NotFound);
        assert_eq!(error.to_string(), "startup hook failed: no database");
        assert!(journal.lock().unwrap().is_empty(), "a hook after the failing one ran");
    });
}

#[test]
fn every_cleanup_hook_runs_and_the_first_error_is_returned() {
    run_paused(|| async {
        let journal = Journal::default();
        let (a, b, c) = (journal.clone(), journal.clone(), journal.clone());
        let app = App::new()
            .get("/", |_req| async { "root" })
            .on_cleanup(move || {
                let a = a.clone();
                async move {
                    a.lock().unwrap().push("a".to_string());
                    Err(io::Error::other("a failed"))
                }
            })
            .on_cleanup(move || {
                let b = b.clone();
                async move {
                    b.lock().unwrap().push("b".to_string());
                    Err(io::Error::other("b failed"))
                }
            })
            .on_cleanup(move || {
                let c = c.clone();
                async move {
                    c.lock().unwrap().push("c".to_string());
                    Ok(())
                }
            });
        let server = bind(app).await;
        let error = server.shutdown().await.expect_err("cleanup errors were lost");
        assert_eq!(error.to_string(), "cleanup hook failed: a failed");
        assert_eq!(*journal.lock().unwrap(), ["a", "b", "c"]);
    });
}

#[test]
fn dropping_the_server_stops_it_without_running_cleanup_hooks() {
    run_paused(|| async {
        let journal = Journal::default();
        let (started, _starts) = mpsc::channel(16);
        let server = bind(app(&journal, started)).await;
        let addr = server.local_addr();
        let mut idle = AsyncClient::connect(addr).await;
        drop(server);
        idle.assert_closed().await;
        let error = eddy::net::TcpStream::connect(addr).await.expect_err("connected after the drop");
        assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused, "{error}");
        assert!(journal.lock().unwrap().is_empty());
    });
}

#[test]
fn every_loop_of_a_multi_loop_server_stops_accepting_before_any_is_drained() {
    // Requests held in flight on every loop; then shutdown. New clients
    // must be refused at once, not only once the first loop has drained.
    let released = Arc::new(AtomicBool::new(false));
    let (loop_tx, loop_rx) = std::sync::mpsc::channel::<u32>();
    let loop_tx = Mutex::new(loop_tx);
    let holding = released.clone();
    let app = App::new().get("/hold", move |_req| {
        loop_tx.lock().unwrap().send(eddy::Handle::current().loop_id()).unwrap();
        let holding = holding.clone();
        async move {
            while !holding.load(Ordering::SeqCst) {
                time::sleep(Duration::from_millis(1)).await;
            }
            "held"
        }
    });
    let mut builder = eddy::Builder::new();
    builder.workers(2);
    let server = TestServer::start_with(builder, app);
    let addr = server.addr();
    let mut held = Vec::new();
    let mut loops_seen = BTreeSet::new();
    while loops_seen.len() < 2 {
        assert!(held.len() < 200, "the kernel never picked the second loop");
        let mut client = Client::connect(addr);
        client.send(get("/hold"));
        loops_seen.insert(loop_rx.recv_timeout(Duration::from_secs(10)).unwrap());
        held.push(client);
    }
    let stopping = std::thread::spawn(move || server.shutdown());
    let refused = (0..400).any(|_| match std::net::TcpStream::connect(addr) {
        Err(error) => error.kind() == io::ErrorKind::ConnectionRefused,
        Ok(_) => {
            std::thread::sleep(Duration::from_millis(5));
            false
        }
    });
    released.store(true, Ordering::SeqCst);
    assert!(refused, "a loop kept accepting while another drained");
    for client in &mut held {
        assert_eq!(client.response().text(), reply("200 OK", &[], "held", Some("close")));
    }
    // Closed by their clients, the connections need no closing grace.
    drop(held);
    stopping.join().unwrap().unwrap();
}

// ----- Nothing that reached the server is lost -------------------------------

/// Starts `server`'s shutdown and returns once its listener is closed (a
/// connect is refused), without letting the server's connections run in
/// between more than the shutdown itself makes them: what the caller sends
/// next reaches connections that are already closing.
async fn shutdown_has_begun(server: Server) -> eddy::JoinHandle<io::Result<()>> {
    let addr = server.local_addr();
    let shutdown = eddy::spawn(server.shutdown());
    loop {
        eddy::task::yield_now().await;
        // Blocking, but instant on loopback; it must not yield to the loop.
        match std::net::TcpStream::connect(addr) {
            Err(error) if error.kind() == io::ErrorKind::ConnectionRefused => return shutdown,
            Err(error) => panic!("probing the listener: {error}"),
            Ok(probe) => drop(probe),
        }
    }
}

#[test]
fn a_request_sent_on_an_idle_keep_alive_connection_as_shutdown_begins_is_answered_not_reset() {
    run_paused(|| async {
        let journal = Journal::default();
        let (started, _starts) = mpsc::channel(16);
        let server = bind(app(&journal, started)).await;
        let mut client = AsyncClient::connect(server.local_addr()).await;
        client.send(get("/")).await;
        assert_eq!(client.response().await.text(), ok("root"));
        let shutdown = shutdown_has_begun(server).await;
        // In the socket before the server closes the connection: answered,
        // and told that it is the last.
        client.send(get("/")).await;
        assert_eq!(client.response().await.text(), reply("200 OK", &[], "root", Some("close")));
        client.assert_closed().await;
        drop(client);
        shutdown.await.unwrap().unwrap();
        assert_eq!(*journal.lock().unwrap(), ["cleanup"]);
    });
}

#[test]
fn a_request_on_a_new_connection_not_yet_read_when_shutdown_begins_is_answered_not_reset() {
    run_paused(|| async {
        let journal = Journal::default();
        let (started, _starts) = mpsc::channel(16);
        let server = bind(app(&journal, started)).await;
        let mut client = AsyncClient::connect(server.local_addr()).await;
        // Accepted, waiting for its first byte.
        time::sleep(Duration::from_millis(1)).await;
        let shutdown = shutdown_has_begun(server).await;
        client.send(format!("{}{}", get("/"), get("/"))).await;
        assert_eq!(client.response().await.text(), ok("root"));
        assert_eq!(client.response().await.text(), reply("200 OK", &[], "root", Some("close")));
        client.assert_closed().await;
        drop(client);
        shutdown.await.unwrap().unwrap();
    });
}

#[test]
fn clients_waiting_in_the_accept_queue_at_shutdown_are_answered_not_reset() {
    // A cap of one connection, held by a slow request: the next clients
    // wait in the kernel's accept queue, requests sent. Shutdown accepts
    // and answers them before it closes the listener.
    run_paused(|| async {
        let journal = Journal::default();
        let (started, mut starts) = mpsc::channel(16);
        let limits = Limits { max_connections: 1, ..Limits::default() };
        let server = bind(app(&journal, started).limits(limits)).await;
        let addr = server.local_addr();
        let mut busy = AsyncClient::connect(addr).await;
        busy.send(get("/slow/a")).await;
        assert_eq!(starts.recv().await.unwrap(), "a");
        let slow_started = Instant::now();
        let mut queued = Vec::new();
        for _ in 0..5 {
            let client = AsyncClient::connect(addr).await;
            client.send(get("/")).await;
            queued.push(client);
        }
        time::sleep(Duration::from_millis(1)).await;
        let start = Instant::now();
        let shutdown = eddy::spawn(server.shutdown());
        for mut client in queued {
            assert_eq!(client.response().await.text(), reply("200 OK", &[], "root", Some("close")));
            client.assert_closed().await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
        assert_eq!(busy.response().await.text(), reply("200 OK", &[], "slow a", Some("close")));
        busy.assert_closed().await;
        drop(busy);
        shutdown.await.unwrap().unwrap();
        assert_elapsed(slow_started.elapsed(), Duration::from_secs(2));
    });
}

#[test]
fn on_every_loop_clients_waiting_in_the_accept_queue_at_shutdown_are_answered_not_reset() {
    // Two loops, each with its own SO_REUSEPORT queue, one connection
    // budget of 1 held by a request: twenty clients queue up across both.
    let released = Arc::new(AtomicBool::new(false));
    let holding = Arc::new(AtomicBool::new(false));
    let (hold_released, hold_started) = (released.clone(), holding.clone());
    let app = App::new()
        .get("/", |_req| async { "root" })
        .get("/hold", move |_req| {
            hold_started.store(true, Ordering::SeqCst);
            let released = hold_released.clone();
            async move {
                while !released.load(Ordering::SeqCst) {
                    time::sleep(Duration::from_millis(1)).await;
                }
                "held"
            }
        })
        .limits(Limits { max_connections: 1, ..Limits::default() });
    let mut builder = eddy::Builder::new();
    builder.workers(2);
    let server = TestServer::start_with(builder, app);
    let addr = server.addr();
    let mut busy = Client::connect(addr);
    busy.send(get("/hold"));
    while !holding.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(1));
    }
    let mut queued: Vec<Client> = (0..20)
        .map(|_| {
            let mut client = Client::connect(addr);
            client.send(get("/"));
            client
        })
        .collect();
    let stopping = std::thread::spawn(move || server.shutdown());
    // Once connecting is refused, both listeners are closed, their queues
    // drained.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(addr).is_ok() {
        assert!(std::time::Instant::now() < deadline, "the server kept listening");
        std::thread::sleep(Duration::from_millis(1));
    }
    for client in &mut queued {
        assert_eq!(client.response().text(), reply("200 OK", &[], "root", Some("close")));
        client.assert_closed();
    }
    drop(queued);
    released.store(true, Ordering::SeqCst);
    assert_eq!(busy.response().text(), reply("200 OK", &[], "held", Some("close")));
    busy.assert_closed();
    drop(busy);
    stopping.join().unwrap().unwrap();
}

// ----- Waits on the client are cut short -------------------------------------

#[test]
fn a_connection_mid_head_at_shutdown_gets_408_after_the_grace_and_does_not_hold_the_exit() {
    run_paused(|| async {
        let journal = Journal::default();
        let (started, _starts) = mpsc::channel(16);
        let server = bind(app(&journal, started)).await;
        let mut client = AsyncClient::connect(server.local_addr()).await;
        client.send("GET / HTTP/1.1\r\nHost: a\r\n").await;
        time::sleep(Duration::from_millis(1)).await;
        let start = Instant::now();
        let shutdown = eddy::spawn(server.shutdown());
        // Not the 10 s head timeout, nor the 10 s shutdown timeout: the
        // 1 s grace.
        assert_eq!(client.response().await.text(), refusal("408 Request Timeout", None));
        assert_elapsed(start.elapsed(), Duration::from_secs(1));
        client.assert_closed().await;
        drop(client);
        shutdown.await.unwrap().unwrap();
        assert_elapsed(start.elapsed(), Duration::from_secs(1));
        assert_eq!(*journal.lock().unwrap(), ["cleanup"]);
    });
}

#[test]
fn a_handler_waiting_for_a_body_that_stopped_coming_gets_408_after_the_grace_at_shutdown() {
    run_paused(|| async {
        let journal = Journal::default();
        let (started, _starts) = mpsc::channel(16);
        let server = bind(app(&journal, started)).await;
        let mut client = AsyncClient::connect(server.local_addr()).await;
        client.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nhalf").await;
        time::sleep(Duration::from_millis(1)).await;
        let start = Instant::now();
        let shutdown = eddy::spawn(server.shutdown());
        assert_eq!(client.response().await.text(), refusal("408 Request Timeout", None));
        assert_elapsed(start.elapsed(), Duration::from_secs(1));
        client.assert_closed().await;
        drop(client);
        shutdown.await.unwrap().unwrap();
        assert_elapsed(start.elapsed(), Duration::from_secs(1));
    });
}

#[test]
fn a_body_that_completes_within_the_grace_is_served_during_shutdown() {
    run_paused(|| async {
        let journal = Journal::default();
        let (started, _starts) = mpsc::channel(16);
        let server = bind(app(&journal, started)).await;
        let mut client = AsyncClient::connect(server.local_addr()).await;
        client.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nhalf").await;
        time::sleep(Duration::from_millis(1)).await;
        let shutdown = eddy::spawn(server.shutdown());
        time::sleep(Duration::from_millis(500)).await;
        client.send("-full!").await;
        let answer = client.response().await;
        assert_eq!(answer.header("connection"), Some("close"));
        assert_eq!(answer.body_text(), "half-full!");
        drop(client);
        shutdown.await.unwrap().unwrap();
    });
}

// ----- Starting on several loops ---------------------------------------------

#[test]
fn bind_on_fails_naming_the_loop_that_cannot_listen_and_runs_the_cleanup_hooks() {
    let ended = {
        let runtime = eddy::Builder::new().build().unwrap();
        runtime.handles()[0].clone()
    };
    let journal = Journal::default();
    let (started, _starts) = mpsc::channel(16);
    let app = app(&journal, started);
    eddy::run(async move {
        let loops = [eddy::Handle::current(), ended];
        let error =
            Server::bind_on(&loops, "127.0.0.1:0", app).await.expect_err("listening on one loop of two");
        let message = error.to_string();
        assert!(message.starts_with("loop 1 cannot listen on 127.0.0.1:"), "{message}");
    });
    assert_eq!(*journal.lock().unwrap(), ["cleanup"]);
}
