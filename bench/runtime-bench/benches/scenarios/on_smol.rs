//! The scenarios on smol's pieces: a `LocalExecutor` (single-threaded, like
//! the other two) driven by `async_io::block_on`, `async-channel`, and
//! `async-io`'s `Async` sockets and `Timer`.
//!
//! `async-io` keeps one reactor per process, not per runtime, so "a fresh
//! runtime" here is a fresh executor over that reactor. The benchmark runs
//! each measurement in its own process, so the reactor is fresh too.

use std::future::{poll_fn, Future};
use std::hint::black_box;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::pin::pin;
use std::rc::Rc;
use std::task::Poll;

use async_executor::LocalExecutor;
use async_io::{Async, Timer};
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use runtime_bench::measure::{Meter, Sample};

use super::{cancel_delay, echo_pattern, Outcome, Scenario, Sizes, ECHO_CHUNK};

/// Runs `scenario` on a fresh executor; only `block_on` is measured (see
/// `on_eddy::run`).
///
/// # Panics
/// On `timers_fire`, which smol cannot run on a paused clock, on
/// `select_loop`, for want of a `select!`, and on the synchronisation rows
/// (see `Runtime::supports`).
pub fn run(scenario: Scenario, sizes: &Sizes) -> (Sample, Outcome) {
    // An `Rc` so that tasks can spawn tasks (the echo server does).
    let executor = Rc::new(LocalExecutor::new());
    let meter = Meter::start();
    let outcome = match scenario {
        Scenario::SpawnJoin => async_io::block_on(executor.run(spawn_join(&executor, sizes.spawn_tasks))),
        Scenario::PingPong => {
            async_io::block_on(executor.run(ping_pong(&executor, sizes.ping_pong_messages)))
        }
        Scenario::TimersCancel => async_io::block_on(executor.run(timers_cancel(sizes.cancel_timers))),
        Scenario::TimersFire => panic!("smol has no paused clock: timers_fire is not run on it"),
        Scenario::TcpEcho => async_io::block_on(executor.run(tcp_echo(executor.clone(), *sizes))),
        Scenario::SelectLoop => panic!("smol has no select! macro: select_loop is not run on it"),
        Scenario::UdpPingPong | Scenario::UnixEcho => unreachable!("{scenario} runs in udp_unix.rs"),
        scenario => panic!("{scenario} is not run on smol (see Runtime::supports)"),
    };
    (meter.stop(), outcome)
}

async fn spawn_join(executor: &LocalExecutor<'static>, tasks: u64) -> Outcome {
    let handles: Vec<_> = (0..tasks).map(|i| executor.spawn(async move { black_box(i) })).collect();
    let mut outcome = Outcome { count: 0, sum: 0 };
    for handle in handles {
        // A smol `Task` yields the output itself; a panic would propagate.
        outcome.sum += handle.await;
        outcome.count += 1;
    }
    outcome
}

async fn ping_pong(executor: &LocalExecutor<'static>, messages: u64) -> Outcome {
    let rounds = messages / 2;
    let (ping_tx, ping_rx) = async_channel::bounded::<u64>(1);
    let (pong_tx, pong_rx) = async_channel::bounded::<u64>(1);
    let ponger = executor.spawn(async move {
        let mut received = 0u64;
        // Ends when the pinger drops `ping_tx`.
        while let Ok(value) = ping_rx.recv().await {
            received += 1;
            pong_tx.send(value + 1).await.expect("smol ping_pong: the pinger hung up");
        }
        received
    });
    let pinger = executor.spawn(async move {
        let (mut received, mut sum) = (0u64, 0u64);
        for i in 0..rounds {
            ping_tx.send(i).await.expect("smol ping_pong: the ponger hung up");
            sum += pong_rx.recv().await.expect("smol ping_pong: the pong channel closed");
            received += 1;
        }
        (received, sum)
    });
    let (pongs, sum) = pinger.await;
    let pings = ponger.await;
    Outcome { count: pings + pongs, sum }
}

async fn timers_cancel(timers: u64) -> Outcome {
    // First poll registers the timer with the reactor; drop removes it.
    let pending = poll_fn(|cx| {
        let mut pending = 0;
        for i in 0..timers {
            let mut timer = pin!(Timer::after(cancel_delay(i, timers)));
            if timer.as_mut().poll(cx).is_pending() {
                pending += 1;
            }
        }
        Poll::Ready(pending)
    })
    .await;
    Outcome { count: pending, sum: 0 }
}

async fn tcp_echo(executor: Rc<LocalExecutor<'static>>, sizes: Sizes) -> Outcome {
    let listener = Async::<TcpListener>::bind(([127, 0, 0, 1], 0)).expect("smol tcp_echo: bind");
    let addr = listener.get_ref().local_addr().expect("smol tcp_echo: local_addr");
    let clients = sizes.echo_clients;
    let server_executor = executor.clone();
    let server = executor.spawn(async move {
        let mut connections = Vec::with_capacity(clients);
        for _ in 0..clients {
            let (stream, _) = listener.accept().await.expect("smol tcp_echo: accept");
            stream.get_ref().set_nodelay(true).expect("smol tcp_echo: set_nodelay");
            connections.push(server_executor.spawn(echo(stream)));
        }
        let mut echoed = 0;
        for connection in connections {
            echoed += connection.await;
        }
        echoed
    });
    let chunks = sizes.echo_chunks_per_client();
    let handles: Vec<_> =
        (0..clients).map(|client| executor.spawn(echo_client(addr, client, chunks))).collect();
    let mut received = 0;
    for handle in handles {
        received += handle.await;
    }
    let echoed = server.await;
    Outcome { count: received, sum: echoed }
}

/// Echoes everything until the client closes; returns the bytes echoed.
async fn echo(mut stream: Async<TcpStream>) -> u64 {
    let mut buf = vec![0u8; ECHO_CHUNK];
    let mut echoed = 0;
    loop {
        let n = stream.read(&mut buf).await.expect("smol tcp_echo: server read");
        if n == 0 {
            return echoed;
        }
        stream.write_all(&buf[..n]).await.expect("smol tcp_echo: server write");
        echoed += n as u64;
    }
}

/// Writes `chunks` chunks, reading each back before the next; returns the
/// bytes that came back intact.
async fn echo_client(addr: SocketAddr, client: usize, chunks: u64) -> u64 {
    let mut stream = Async::<TcpStream>::connect(addr).await.expect("smol tcp_echo: connect");
    stream.get_ref().set_nodelay(true).expect("smol tcp_echo: set_nodelay");
    let mut out = vec![0u8; ECHO_CHUNK];
    let mut back = vec![0u8; ECHO_CHUNK];
    let mut received = 0;
    for chunk in 0..chunks {
        out.fill(echo_pattern(client, chunk));
        stream.write_all(&out).await.expect("smol tcp_echo: client write");
        let mut filled = 0;
        while filled < ECHO_CHUNK {
            let n = stream.read(&mut back[filled..]).await.expect("smol tcp_echo: client read");
            assert!(n > 0, "smol tcp_echo: the server closed client {client}'s connection early");
            filled += n;
        }
        // Slice equality is a `memcmp`: a byte-by-byte loop here cost a third
        // of the scenario's CPU time, the same for every runtime, blurring
        // the comparison.
        assert!(back == out, "smol tcp_echo: client {client} chunk {chunk} came back wrong");
        received += ECHO_CHUNK as u64;
    }
    received
}
