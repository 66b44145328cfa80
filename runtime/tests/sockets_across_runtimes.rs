//! A socket whose own loop is not running (its runtime was dropped, or is
//! idle while another runtime's `block_on` runs on the same thread) moves
//! to the loop that is running when it has to wait: reads, writes and
//! accepts complete there instead of hanging. With no eddy loop running at
//! all, waiting fails at once with an error that says why.
//!
//! Every wait below is bounded by a timeout on a paused clock: a socket
//! stuck on a loop that nobody runs leaves the running loop idle, its clock
//! jumps to the timeout, and the test fails with `Elapsed` instead of
//! hanging.

use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use eddy::net::{TcpListener, TcpStream};
use eddy::test::MockTask;
use eddy::time::timeout;

/// Far longer than anything here takes: reached only if a wakeup is lost.
const LIMIT: Duration = Duration::from_secs(3600);

fn paused() -> eddy::Runtime {
    eddy::Builder::new().start_paused(true).build().unwrap()
}

/// A listener and a connected pair made on `runtime`'s loop (the client is
/// connected and the server side accepted, so all three are attached there).
struct Sockets {
    listener: Rc<TcpListener>,
    client: Rc<TcpStream>,
    server: Rc<TcpStream>,
}

fn sockets_on(runtime: &eddy::Runtime) -> Sockets {
    runtime.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        Sockets { listener: Rc::new(listener), client: Rc::new(client), server: Rc::new(server) }
    })
}

/// The server side waits for bytes that the client sends only after the
/// read is parked.
async fn read_waits_then_completes(s: &Sockets) {
    let server = s.server.clone();
    let reader = eddy::spawn(async move {
        let mut buf = [0; 5];
        let n = server.read(&mut buf).await.unwrap();
        buf[..n].to_vec()
    });
    eddy::task::yield_now().await; // the reader parks
    s.client.write_all(b"hello").await.unwrap();
    let got = timeout(LIMIT, reader).await.expect("the read never completed").unwrap();
    assert_eq!(got, b"hello");
}

/// The server side fills its send buffer, then waits for room that the
/// client makes by reading only after the write is parked. Returns how many
/// bytes filled the buffer (0 if readiness was already known to be gone,
/// in which case the write still has to wait).
async fn write_waits_then_completes(s: &Sockets) -> usize {
    let chunk = vec![7u8; 64 * 1024];
    let mut filled = 0usize;
    loop {
        match s.server.try_write(&chunk) {
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("filling the send buffer: {e}"),
        }
    }
    let server = s.server.clone();
    let writer = eddy::spawn(async move { server.write_all(&[9u8; 1024]).await });
    eddy::task::yield_now().await; // the writer parks: no room
    let client = s.client.clone();
    let drain = eddy::spawn(async move {
        let mut buf = vec![0; 64 * 1024];
        let mut total = 0;
        while total < filled + 1024 {
            total += client.read(&mut buf).await.unwrap();
        }
        total
    });
    timeout(LIMIT, writer).await.expect("the write never completed").unwrap().unwrap();
    let drained = timeout(LIMIT, drain).await.expect("the drain never completed").unwrap();
    assert_eq!(drained, filled + 1024);
    filled
}

/// The listener waits for a connection that arrives only after the accept
/// is parked.
async fn accept_waits_then_completes(s: &Sockets) {
    let listener = s.listener.clone();
    let acceptor = eddy::spawn(async move { listener.accept().await.map(|(_, peer)| peer) });
    eddy::task::yield_now().await; // the acceptor parks
    let client = TcpStream::connect(s.listener.local_addr().unwrap()).await.unwrap();
    let peer = timeout(LIMIT, acceptor).await.expect("the accept never completed").unwrap().unwrap();
    assert_eq!(peer, client.local_addr().unwrap());
}

#[test]
fn a_read_after_its_runtime_is_dropped_completes_on_the_running_loop() {
    let home = paused();
    let sockets = sockets_on(&home);
    drop(home);
    paused().block_on(read_waits_then_completes(&sockets));
}

#[test]
fn a_write_after_its_runtime_is_dropped_completes_on_the_running_loop() {
    let home = paused();
    let sockets = sockets_on(&home);
    drop(home);
    let filled = paused().block_on(write_waits_then_completes(&sockets));
    assert!(filled > 0, "the send buffer was filled, so the write had to wait");
}

#[test]
fn an_accept_after_its_runtime_is_dropped_completes_on_the_running_loop() {
    let home = paused();
    let sockets = sockets_on(&home);
    drop(home);
    paused().block_on(accept_waits_then_completes(&sockets));
}

#[test]
fn waiting_on_a_socket_outside_any_runtime_fails_at_once_with_a_clear_error() {
    let home = paused();
    let sockets = sockets_on(&home);
    for home_alive in [true, false] {
        if !home_alive {
            drop(eddy::Builder::new().build()); // a runtime that comes and goes changes nothing
        }
        let mut buf = [0; 8];
        let mut read = MockTask::new(sockets.server.read(&mut buf));
        let Poll::Ready(Err(error)) = read.poll() else { panic!("the read should fail at once") };
        assert!(error.to_string().contains("outside any eddy runtime"), "{error}");
        let mut accept = MockTask::new(sockets.listener.accept());
        let Poll::Ready(Err(error)) = accept.poll() else { panic!("the accept should fail at once") };
        assert!(error.to_string().contains("outside any eddy runtime"), "{error}");
    }
    drop(home);
    // Still usable afterwards, inside a runtime.
    paused().block_on(read_waits_then_completes(&sockets));
}

/// The general property: whichever operation waits (read, write, accept),
/// and whether the socket's own loop is gone or merely not running, the
/// operation completes on the loop that is running; and the socket keeps
/// working as it moves back and forth between two live runtimes.
#[test]
fn a_socket_waits_on_whichever_loop_is_running() {
    type Op = for<'a> fn(&'a Sockets) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + 'a>>;
    let ops: [Op; 3] = [
        |s| Box::pin(read_waits_then_completes(s)),
        |s| {
            Box::pin(async move {
                write_waits_then_completes(s).await;
            })
        },
        |s| Box::pin(accept_waits_then_completes(s)),
    ];
    for op in ops {
        // Home runtime alive but idle: alternate between it and another.
        let home = paused();
        let other = paused();
        let sockets = sockets_on(&home);
        for _ in 0..3 {
            other.block_on(op(&sockets));
            home.block_on(op(&sockets));
        }
        // Home gone, then the second runtime gone too: a third one works.
        drop(home);
        other.block_on(op(&sockets));
        drop(other);
        paused().block_on(op(&sockets));
    }
}
