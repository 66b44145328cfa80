//! Accepting: every client already waiting in the kernel's accept queue is
//! admitted in one go (one poll of the accept loop per wake), and a burst
//! larger than one poll's cooperative budget (`eddy::task::PER_POLL`) is
//! admitted in full over several polls, each client answered.

mod http_support;

use std::io::Write;

use eddy_http::App;
use http_support::{bind, get, ok, parse_reply, run_paused};

/// More than one poll's budget of accepts.
const BURST: usize = eddy::task::PER_POLL as usize * 2 + 7;

#[test]
fn a_burst_of_queued_clients_larger_than_one_polls_budget_is_admitted_and_answered() {
    run_paused(|| async {
        let server = bind(App::new().get("/", |_req| async { "hi" })).await;
        // Plain blocking connects and writes: the kernel completes them
        // while the server's loop is not running (this task does not
        // yield), so the whole burst sits in the accept queue at once.
        let clients: Vec<std::net::TcpStream> = (0..BURST)
            .map(|_| {
                let mut client = std::net::TcpStream::connect(server.local_addr()).unwrap();
                client.write_all(get("/").as_bytes()).unwrap();
                client
            })
            .collect();
        for client in clients {
            let client = eddy::net::TcpStream::from_std(client).unwrap();
            let mut received = Vec::new();
            let reply = loop {
                if let Some((reply, _)) = parse_reply(&received, false) {
                    break reply;
                }
                let mut chunk = [0; 512];
                let n = client.read(&mut chunk).await.unwrap();
                assert!(n > 0, "closed before answering: {received:?}");
                received.extend_from_slice(&chunk[..n]);
            };
            assert_eq!(reply.text(), ok("hi"));
        }
        let stats = server.stats();
        assert_eq!(stats.accepted, BURST as u64);
        assert_eq!(stats.requests, BURST as u64);
        server.shutdown().await.unwrap();
    });
}
