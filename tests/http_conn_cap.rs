//! The connection cap (`Limits::max_connections`): one budget for all
//! loops; at the cap, the connection idle the longest makes room for a new
//! client (as nginx does), without losing a request already in its socket;
//! only when nothing is idle does a new client wait.
//!
//! Single-loop cases run on the paused clock (server and clients in one
//! runtime); the all-loops case needs a loop per thread and holds its
//! requests with a flag instead of time.

mod http_support;

use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use eddy::time::{self, Instant};
use eddy_http::{App, Limits, Request};
use http_support::{assert_elapsed, bind, get, ok, run_paused, AsyncClient, Client, TestServer};

/// `/` answers at once; `/hold` waits until `released` is set.
fn app(limits: Limits, released: &Arc<AtomicBool>) -> App {
    held_app(limits, released, &Arc::default())
}

/// [`app`], with `holding` set once `/hold` has started.
fn held_app(limits: Limits, released: &Arc<AtomicBool>, holding: &Arc<AtomicBool>) -> App {
    let released = released.clone();
    let holding = holding.clone();
    App::new()
        .get("/", |_req| async { "root" })
        .get("/hold", move |_req: Request| {
            let released = released.clone();
            holding.store(true, Ordering::SeqCst);
            async move {
                while !released.load(Ordering::SeqCst) {
                    time::sleep(Duration::from_millis(10)).await;
                }
                "held"
            }
        })
        .limits(limits)
}

fn cap(n: usize) -> Limits {
    Limits { max_connections: n, ..Limits::default() }
}

/// Reads until the server closes; true if it closed with a FIN (EOF), false
/// on a reset. Anything received first is returned too.
async fn closed_cleanly(client: &mut AsyncClient) -> (bool, Vec<u8>) {
    loop {
        match client.read_some().await {
            Ok(0) => return (true, client.rest().await),
            Ok(_) => {}
            Err(error) if error.kind() == io::ErrorKind::ConnectionReset => return (false, Vec::new()),
            Err(error) => panic!("reading until the close failed: {error}"),
        }
    }
}

#[test]
fn at_the_cap_the_connection_idle_longest_is_closed_cleanly_to_serve_a_new_client() {
    run_paused(|| async {
        let released = Arc::new(AtomicBool::new(true));
        let server = bind(app(cap(2), &released)).await;
        let addr = server.local_addr();
        let mut oldest = AsyncClient::connect(addr).await;
        oldest.send(get("/")).await;
        assert_eq!(oldest.response().await.text(), ok("root"));
        time::sleep(Duration::from_secs(1)).await;
        let mut newer = AsyncClient::connect(addr).await;
        newer.send(get("/")).await;
        assert_eq!(newer.response().await.text(), ok("root"));

        // Both idle, well within keep-alive: a third client is served at
        // once, not after the 60 s keep-alive.
        let start = Instant::now();
        let mut third = AsyncClient::connect(addr).await;
        third.send(get("/")).await;
        assert_eq!(third.response().await.text(), ok("root"));
        assert_eq!(start.elapsed(), Duration::ZERO);
        // The oldest made room, with a FIN, not a reset; the newer one
        // still works.
        assert_eq!(closed_cleanly(&mut oldest).await, (true, Vec::new()));
        newer.send(get("/")).await;
        assert_eq!(newer.response().await.text(), ok("root"));
    });
}

#[test]
fn a_silent_new_connection_counts_as_idle_and_is_reclaimed_first_if_oldest() {
    run_paused(|| async {
        let released = Arc::new(AtomicBool::new(true));
        let server = bind(app(cap(1), &released)).await;
        let addr = server.local_addr();
        let mut silent = AsyncClient::connect(addr).await;
        time::sleep(Duration::from_millis(10)).await;
        let mut client = AsyncClient::connect(addr).await;
        client.send(get("/")).await;
        assert_eq!(client.response().await.text(), ok("root"));
        assert_eq!(closed_cleanly(&mut silent).await, (true, Vec::new()));
    });
}

#[test]
fn a_request_already_in_a_reclaimed_connection_is_answered_before_it_closes() {
    run_paused(|| async {
        let released = Arc::new(AtomicBool::new(true));
        let server = bind(app(cap(1), &released)).await;
        let addr = server.local_addr();
        let mut idle = AsyncClient::connect(addr).await;
        idle.send(get("/")).await;
        assert_eq!(idle.response().await.text(), ok("root"));
        // The idle connection's client sends a request at the moment a new
        // client needs its slot: whichever the server sees first, the
        // request is answered, then the connection closes with a FIN.
        idle.send(get("/")).await;
        let mut new = AsyncClient::connect(addr).await;
        new.send(get("/")).await;
        let answer = idle.response().await;
        assert_eq!(answer.status, 200, "{}", answer.text());
        assert_eq!(answer.body_text(), "root");
        assert_eq!(closed_cleanly(&mut idle).await, (true, Vec::new()));
        assert_eq!(new.response().await.text(), ok("root"));
    });
}

#[test]
fn at_the_cap_with_every_connection_busy_a_new_client_waits_until_one_is_free() {
    run_paused(|| async {
        let released = Arc::new(AtomicBool::new(false));
        let server = bind(app(cap(1), &released)).await;
        let addr = server.local_addr();
        let mut busy = AsyncClient::connect(addr).await;
        busy.send(get("/hold")).await;
        let mut waiting = AsyncClient::connect(addr).await;
        waiting.send(get("/")).await;
        // 30 s, well within every timeout: nothing is idle, so nothing is
        // reclaimed and the new client is not served.
        let early = time::timeout(Duration::from_secs(30), waiting.read_some()).await;
        assert!(early.is_err(), "a second connection was served past the cap of 1");
        released.store(true, Ordering::SeqCst);
        // The held request is answered; its connection, now idle, makes
        // room for the waiting client.
        assert_eq!(busy.response().await.text(), ok("held"));
        assert_eq!(waiting.response().await.text(), ok("root"));
        assert_eq!(closed_cleanly(&mut busy).await, (true, Vec::new()));
    });
}

#[test]
fn silent_connections_at_the_cap_hold_their_slots_for_head_timeout_at_most() {
    // The cap is full of connections that never send a byte and are not
    // reclaimable by anyone else (there is no other client): they are
    // closed after head_timeout, not keep_alive.
    run_paused(|| async {
        let released = Arc::new(AtomicBool::new(true));
        let limits = Limits { head_timeout: Duration::from_secs(3), ..cap(3) };
        let server = bind(app(limits, &released)).await;
        let addr = server.local_addr();
        let mut silent = Vec::new();
        for _ in 0..3 {
            silent.push(AsyncClient::connect(addr).await);
        }
        let start = Instant::now();
        for client in &mut silent {
            assert_eq!(closed_cleanly(client).await, (true, Vec::new()));
        }
        assert_elapsed(start.elapsed(), Duration::from_secs(3));
    });
}

#[test]
fn the_cap_is_one_budget_for_all_loops() {
    // Cap 1 on two loops: while one request is held, no other client is
    // served on either loop (split per loop, each would have had a slot).
    // Then every waiting client is served, one after the other, each
    // connection making room for the next once idle.
    let released = Arc::new(AtomicBool::new(false));
    let holding = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicUsize::new(0));
    let counted = served.clone();
    let app = held_app(cap(1), &released, &holding).get("/count", move |_req| {
        counted.fetch_add(1, Ordering::SeqCst);
        async { "counted" }
    });
    let mut builder = eddy::Builder::new();
    builder.workers(2);
    let server = TestServer::start_with(builder, app);
    let mut busy = server.client();
    busy.send(get("/hold"));
    // Wait until the held request occupies the one slot.
    let start = std::time::Instant::now();
    while !holding.load(Ordering::SeqCst) {
        assert!(start.elapsed() < Duration::from_secs(10), "the held request never started");
        std::thread::sleep(Duration::from_millis(1));
    }
    let mut waiting: Vec<Client> = Vec::new();
    for _ in 0..16 {
        let mut client = server.client();
        client.send(get("/count"));
        waiting.push(client);
    }
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(served.load(Ordering::SeqCst), 0, "a client was served past the cap of 1");
    released.store(true, Ordering::SeqCst);
    assert_eq!(busy.response().text(), ok("held"));
    for client in &mut waiting {
        let answer = client.response();
        assert_eq!(answer.status, 200, "{}", answer.text());
        assert_eq!(answer.body_text(), "counted");
    }
    assert_eq!(served.load(Ordering::SeqCst), 16);
    // Closed by their clients, the connections need no closing grace.
    drop((busy, waiting));
    server.shutdown().unwrap();
}
