//! The scenarios on tokio's current-thread runtime, written as a tokio user
//! would: `tokio::spawn`, `tokio::sync::mpsc`, `tokio::time::sleep`,
//! `tokio::net`.

use std::future::{poll_fn, Future};
use std::hint::black_box;
use std::net::SocketAddr;
use std::pin::pin;
use std::task::Poll;

use runtime_bench::measure::{Meter, Sample};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::{self, Instant};

use super::{
    cancel_delay, check_virtual_elapsed, echo_pattern, fire_delay, Outcome, Runtime, Scenario, Sizes,
    ECHO_CHUNK, SELECT_CAPACITY,
};

/// Runs `scenario` on a fresh runtime; only `block_on` is measured (see
/// `on_eddy::run`).
pub fn run(scenario: Scenario, sizes: &Sizes) -> (Sample, Outcome) {
    let mut builder = tokio::runtime::Builder::new_current_thread();
    builder.enable_all();
    if scenario == Scenario::TimersFire {
        builder.start_paused(true);
    }
    let runtime = builder.build().expect("tokio: cannot build the runtime");
    let meter = Meter::start();
    let outcome = match scenario {
        Scenario::SpawnJoin => runtime.block_on(spawn_join(sizes.spawn_tasks)),
        Scenario::PingPong => runtime.block_on(ping_pong(sizes.ping_pong_messages)),
        Scenario::TimersCancel => runtime.block_on(timers_cancel(sizes.cancel_timers)),
        Scenario::TimersFire => runtime.block_on(timers_fire(sizes.fire_tasks)),
        Scenario::TcpEcho => runtime.block_on(tcp_echo(*sizes)),
        Scenario::SelectLoop => runtime.block_on(select_loop(sizes.select_messages)),
        Scenario::UdpPingPong | Scenario::UnixEcho => unreachable!("{scenario} runs in udp_unix.rs"),
        scenario => runtime.block_on(super::sync_on_tokio::run(scenario, sizes)),
    };
    (meter.stop(), outcome)
}

async fn spawn_join(tasks: u64) -> Outcome {
    let handles: Vec<_> = (0..tasks).map(|i| tokio::spawn(async move { black_box(i) })).collect();
    let mut outcome = Outcome { count: 0, sum: 0 };
    for handle in handles {
        outcome.sum += handle.await.expect("tokio spawn_join: a task failed");
        outcome.count += 1;
    }
    outcome
}

async fn ping_pong(messages: u64) -> Outcome {
    let rounds = messages / 2;
    let (ping_tx, mut ping_rx) = mpsc::channel::<u64>(1);
    let (pong_tx, mut pong_rx) = mpsc::channel::<u64>(1);
    let ponger = tokio::spawn(async move {
        let mut received = 0u64;
        while let Some(value) = ping_rx.recv().await {
            received += 1;
            pong_tx.send(value + 1).await.expect("tokio ping_pong: the pinger hung up");
        }
        received
    });
    let pinger = tokio::spawn(async move {
        let (mut received, mut sum) = (0u64, 0u64);
        for i in 0..rounds {
            ping_tx.send(i).await.expect("tokio ping_pong: the ponger hung up");
            sum += pong_rx.recv().await.expect("tokio ping_pong: the pong channel closed");
            received += 1;
        }
        (received, sum)
    });
    let (pongs, sum) = pinger.await.expect("tokio ping_pong: the pinger failed");
    let pings = ponger.await.expect("tokio ping_pong: the ponger failed");
    Outcome { count: pings + pongs, sum }
}

async fn timers_cancel(timers: u64) -> Outcome {
    // `unconstrained`: tokio's cooperative budget (128 operations per task
    // poll) would otherwise make every `Sleep` after the 128th return
    // Pending *without arming its timer*, and we would time nothing.
    let pending = tokio::task::unconstrained(poll_fn(|cx| {
        let mut pending = 0;
        for i in 0..timers {
            let mut sleep = pin!(time::sleep(cancel_delay(i, timers)));
            if sleep.as_mut().poll(cx).is_pending() {
                pending += 1;
            }
        }
        Poll::Ready(pending)
    }))
    .await;
    Outcome { count: pending, sum: 0 }
}

async fn timers_fire(tasks: u64) -> Outcome {
    let start = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|i| {
            tokio::spawn(async move {
                time::sleep(fire_delay(i)).await;
                i
            })
        })
        .collect();
    let mut outcome = Outcome { count: 0, sum: 0 };
    for handle in handles {
        outcome.sum += handle.await.expect("tokio timers_fire: a task failed");
        outcome.count += 1;
    }
    check_virtual_elapsed(Runtime::Tokio, start.elapsed());
    outcome
}

async fn tcp_echo(sizes: Sizes) -> Outcome {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("tokio tcp_echo: bind");
    let addr = listener.local_addr().expect("tokio tcp_echo: local_addr");
    let clients = sizes.echo_clients;
    let server = tokio::spawn(async move {
        let mut connections = Vec::with_capacity(clients);
        for _ in 0..clients {
            let (stream, _) = listener.accept().await.expect("tokio tcp_echo: accept");
            stream.set_nodelay(true).expect("tokio tcp_echo: set_nodelay");
            connections.push(tokio::spawn(echo(stream)));
        }
        let mut echoed = 0;
        for connection in connections {
            echoed += connection.await.expect("tokio tcp_echo: a server task failed");
        }
        echoed
    });
    let chunks = sizes.echo_chunks_per_client();
    let handles: Vec<_> =
        (0..clients).map(|client| tokio::spawn(echo_client(addr, client, chunks))).collect();
    let mut received = 0;
    for handle in handles {
        received += handle.await.expect("tokio tcp_echo: a client failed");
    }
    let echoed = server.await.expect("tokio tcp_echo: the server failed");
    Outcome { count: received, sum: echoed }
}

/// Echoes everything until the client closes; returns the bytes echoed.
async fn echo(mut stream: TcpStream) -> u64 {
    let mut buf = vec![0u8; ECHO_CHUNK];
    let mut echoed = 0;
    loop {
        let n = stream.read(&mut buf).await.expect("tokio tcp_echo: server read");
        if n == 0 {
            return echoed;
        }
        stream.write_all(&buf[..n]).await.expect("tokio tcp_echo: server write");
        echoed += n as u64;
    }
}

/// Writes `chunks` chunks, reading each back before the next; returns the
/// bytes that came back intact.
async fn echo_client(addr: SocketAddr, client: usize, chunks: u64) -> u64 {
    let mut stream = TcpStream::connect(addr).await.expect("tokio tcp_echo: connect");
    stream.set_nodelay(true).expect("tokio tcp_echo: set_nodelay");
    let mut out = vec![0u8; ECHO_CHUNK];
    let mut back = vec![0u8; ECHO_CHUNK];
    let mut received = 0;
    for chunk in 0..chunks {
        out.fill(echo_pattern(client, chunk));
        stream.write_all(&out).await.expect("tokio tcp_echo: client write");
        let mut filled = 0;
        while filled < ECHO_CHUNK {
            let n = stream.read(&mut back[filled..]).await.expect("tokio tcp_echo: client read");
            assert!(n > 0, "tokio tcp_echo: the server closed client {client}'s connection early");
            filled += n;
        }
        // Slice equality is a `memcmp`: a byte-by-byte loop here cost a third
        // of the scenario's CPU time, the same for every runtime, blurring
        // the comparison.
        assert!(back == out, "tokio tcp_echo: client {client} chunk {chunk} came back wrong");
        received += ECHO_CHUNK as u64;
    }
    received
}

async fn select_loop(messages: u64) -> Outcome {
    let half = messages / 2;
    let (a_tx, mut a_rx) = mpsc::channel::<u64>(SELECT_CAPACITY);
    let (b_tx, mut b_rx) = mpsc::channel::<u64>(SELECT_CAPACITY);
    tokio::spawn(async move {
        for i in 0..half {
            a_tx.send(i).await.expect("tokio select_loop: the receiver hung up");
        }
    });
    tokio::spawn(async move {
        for i in half..messages {
            b_tx.send(i).await.expect("tokio select_loop: the receiver hung up");
        }
    });
    let mut outcome = Outcome { count: 0, sum: 0 };
    // Ends when both channels are closed and drained: both patterns fail.
    loop {
        tokio::select! {
            Some(value) = a_rx.recv() => {
                outcome.count += 1;
                outcome.sum += value;
            }
            Some(value) = b_rx.recv() => {
                outcome.count += 1;
                outcome.sum += value;
            }
            else => break,
        }
    }
    outcome
}
