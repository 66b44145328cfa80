//! Two socket scenarios beyond TCP, on eddy and on tokio (smol is left
//! out: `Runtime::supports`):
//!
//! - `udp_ping_pong`: two UDP sockets on loopback, on one loop, bounce a
//!   sequence number back and forth, one datagram in flight at a time.
//!   Every round trip is two `sendto` + two `recvfrom` and two task
//!   wakeups through the reactor: it measures per-datagram overhead.
//! - `unix_echo`: `tcp_echo`'s shape (the same clients, chunk size and
//!   byte count) over Unix domain stream sockets.
//!
//! Both runtimes run the same code shape, written the way their users
//! would.

use runtime_bench::measure::{Meter, Sample};

use super::{echo_pattern, Outcome, Runtime, Scenario, Sizes, ECHO_CHUNK};

/// Runs `scenario` (one of this file's) on a fresh `runtime`; only
/// `block_on` is measured, as for the other scenarios.
pub fn run(runtime: Runtime, scenario: Scenario, sizes: &Sizes) -> (Sample, Outcome) {
    match runtime {
        Runtime::Eddy => {
            let rt = eddy::Builder::new().debug(false).build().expect("eddy: cannot build the runtime");
            let meter = Meter::start();
            let outcome = match scenario {
                Scenario::UdpPingPong => rt.block_on(on_eddy::udp_ping_pong(sizes.udp_round_trips)),
                _ => rt.block_on(on_eddy::unix_echo(*sizes)),
            };
            (meter.stop(), outcome)
        }
        Runtime::Tokio => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("tokio: cannot build the runtime");
            let meter = Meter::start();
            let outcome = match scenario {
                Scenario::UdpPingPong => rt.block_on(on_tokio::udp_ping_pong(sizes.udp_round_trips)),
                _ => rt.block_on(on_tokio::unix_echo(*sizes)),
            };
            (meter.stop(), outcome)
        }
        Runtime::Smol => panic!("{scenario} is not run on smol"),
    }
}

/// A socket path unique to this process and runtime.
fn socket_path(runtime: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("runtime-bench-{}-{runtime}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

mod on_eddy {
    use std::path::PathBuf;

    use eddy::net::{UdpSocket, UnixListener, UnixStream};

    use super::{echo_pattern, socket_path, Outcome, Sizes, ECHO_CHUNK};

    pub async fn udp_ping_pong(round_trips: u64) -> Outcome {
        let server = UdpSocket::bind("127.0.0.1:0").await.expect("eddy udp: bind");
        let client = UdpSocket::bind("127.0.0.1:0").await.expect("eddy udp: bind");
        client.connect(server.local_addr().expect("eddy udp: local_addr")).await.expect("eddy udp: connect");
        let ponger = eddy::spawn(async move {
            let mut buf = [0u8; 8];
            for _ in 0..round_trips {
                let (_, from) = server.recv_from(&mut buf).await.expect("eddy udp: server recv");
                let answer = u64::from_le_bytes(buf) + 1;
                server.send_to(&answer.to_le_bytes(), from).await.expect("eddy udp: server send");
            }
        });
        let (mut count, mut sum) = (0, 0);
        let mut buf = [0u8; 8];
        for i in 0..round_trips {
            client.send(&i.to_le_bytes()).await.expect("eddy udp: client send");
            let n = client.recv(&mut buf).await.expect("eddy udp: client recv");
            assert_eq!(n, 8, "eddy udp: short datagram");
            sum += u64::from_le_bytes(buf);
            count += 1;
        }
        ponger.await.expect("eddy udp: the ponger failed");
        Outcome { count, sum }
    }

    pub async fn unix_echo(sizes: Sizes) -> Outcome {
        let path = socket_path("eddy");
        let listener = UnixListener::bind(&path).expect("eddy unix_echo: bind");
        let clients = sizes.echo_clients;
        let server = eddy::spawn(async move {
            let mut connections = Vec::with_capacity(clients);
            for _ in 0..clients {
                let (stream, _) = listener.accept().await.expect("eddy unix_echo: accept");
                connections.push(eddy::spawn(echo(stream)));
            }
            let mut echoed = 0;
            for connection in connections {
                echoed += connection.await.expect("eddy unix_echo: a server task failed");
            }
            echoed
        });
        let chunks = sizes.echo_chunks_per_client();
        let handles: Vec<_> =
            (0..clients).map(|client| eddy::spawn(echo_client(path.clone(), client, chunks))).collect();
        let mut received = 0;
        for handle in handles {
            received += handle.await.expect("eddy unix_echo: a client failed");
        }
        let echoed = server.await.expect("eddy unix_echo: the server failed");
        Outcome { count: received, sum: echoed }
    }

    async fn echo(stream: UnixStream) -> u64 {
        let mut buf = vec![0u8; ECHO_CHUNK];
        let mut echoed = 0;
        loop {
            let n = stream.read(&mut buf).await.expect("eddy unix_echo: server read");
            if n == 0 {
                return echoed;
            }
            stream.write_all(&buf[..n]).await.expect("eddy unix_echo: server write");
            echoed += n as u64;
        }
    }

    async fn echo_client(path: PathBuf, client: usize, chunks: u64) -> u64 {
        let stream = UnixStream::connect(&path).await.expect("eddy unix_echo: connect");
        let mut out = vec![0u8; ECHO_CHUNK];
        let mut back = vec![0u8; ECHO_CHUNK];
        let mut received = 0;
        for chunk in 0..chunks {
            out.fill(echo_pattern(client, chunk));
            stream.write_all(&out).await.expect("eddy unix_echo: client write");
            let mut filled = 0;
            while filled < ECHO_CHUNK {
                let n = stream.read(&mut back[filled..]).await.expect("eddy unix_echo: client read");
                assert!(n > 0, "eddy unix_echo: the server closed client {client}'s connection early");
                filled += n;
            }
            assert!(back == out, "eddy unix_echo: client {client} chunk {chunk} came back wrong");
            received += ECHO_CHUNK as u64;
        }
        received
    }
}

mod on_tokio {
    use std::path::PathBuf;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{UdpSocket, UnixListener, UnixStream};

    use super::{echo_pattern, socket_path, Outcome, Sizes, ECHO_CHUNK};

    pub async fn udp_ping_pong(round_trips: u64) -> Outcome {
        let server = UdpSocket::bind("127.0.0.1:0").await.expect("tokio udp: bind");
        let client = UdpSocket::bind("127.0.0.1:0").await.expect("tokio udp: bind");
        client
            .connect(server.local_addr().expect("tokio udp: local_addr"))
            .await
            .expect("tokio udp: connect");
        let ponger = tokio::spawn(async move {
            let mut buf = [0u8; 8];
            for _ in 0..round_trips {
                let (_, from) = server.recv_from(&mut buf).await.expect("tokio udp: server recv");
                let answer = u64::from_le_bytes(buf) + 1;
                server.send_to(&answer.to_le_bytes(), from).await.expect("tokio udp: server send");
            }
        });
        let (mut count, mut sum) = (0, 0);
        let mut buf = [0u8; 8];
        for i in 0..round_trips {
            client.send(&i.to_le_bytes()).await.expect("tokio udp: client send");
            let n = client.recv(&mut buf).await.expect("tokio udp: client recv");
            assert_eq!(n, 8, "tokio udp: short datagram");
            sum += u64::from_le_bytes(buf);
            count += 1;
        }
        ponger.await.expect("tokio udp: the ponger failed");
        Outcome { count, sum }
    }

    pub async fn unix_echo(sizes: Sizes) -> Outcome {
        let path = socket_path("tokio");
        let listener = UnixListener::bind(&path).expect("tokio unix_echo: bind");
        let clients = sizes.echo_clients;
        let server = tokio::spawn(async move {
            let mut connections = Vec::with_capacity(clients);
            for _ in 0..clients {
                let (stream, _) = listener.accept().await.expect("tokio unix_echo: accept");
                connections.push(tokio::spawn(echo(stream)));
            }
            let mut echoed = 0;
            for connection in connections {
                echoed += connection.await.expect("tokio unix_echo: a server task failed");
            }
            echoed
        });
        let chunks = sizes.echo_chunks_per_client();
        let handles: Vec<_> =
            (0..clients).map(|client| tokio::spawn(echo_client(path.clone(), client, chunks))).collect();
        let mut received = 0;
        for handle in handles {
            received += handle.await.expect("tokio unix_echo: a client failed");
        }
        let echoed = server.await.expect("tokio unix_echo: the server failed");
        // tokio leaves the socket file behind; eddy's listener removes it.
        let _ = std::fs::remove_file(&path);
        Outcome { count: received, sum: echoed }
    }

    async fn echo(mut stream: UnixStream) -> u64 {
        let mut buf = vec![0u8; ECHO_CHUNK];
        let mut echoed = 0;
        loop {
            let n = stream.read(&mut buf).await.expect("tokio unix_echo: server read");
            if n == 0 {
                return echoed;
            }
            stream.write_all(&buf[..n]).await.expect("tokio unix_echo: server write");
            echoed += n as u64;
        }
    }

    async fn echo_client(path: PathBuf, client: usize, chunks: u64) -> u64 {
        let mut stream = UnixStream::connect(&path).await.expect("tokio unix_echo: connect");
        let mut out = vec![0u8; ECHO_CHUNK];
        let mut back = vec![0u8; ECHO_CHUNK];
        let mut received = 0;
        for chunk in 0..chunks {
            out.fill(echo_pattern(client, chunk));
            stream.write_all(&out).await.expect("tokio unix_echo: client write");
            let mut filled = 0;
            while filled < ECHO_CHUNK {
                let n = stream.read(&mut back[filled..]).await.expect("tokio unix_echo: client read");
                assert!(n > 0, "tokio unix_echo: the server closed client {client}'s connection early");
                filled += n;
            }
            assert!(back == out, "tokio unix_echo: client {client} chunk {chunk} came back wrong");
            received += ECHO_CHUNK as u64;
        }
        received
    }
}
