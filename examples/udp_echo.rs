//! A UDP echo server, and a client that talks to it, on one loop.
//!
//! ```text
//! cargo run --example udp_echo                  # server + demo client, then exit
//! cargo run --example udp_echo -- 127.0.0.1:7001 serve   # server only
//! # elsewhere:  nc -u 127.0.0.1 7001
//! ```
//!
//! UDP has no connections: the server is one task in a loop of
//! `recv_from` (a datagram and who sent it) and `send_to` (the same bytes
//! back to that sender). The demo client `connect`s its socket to the
//! server, which only sets the default destination and filters what it
//! receives; every `send` is still one datagram, and every `recv` returns
//! exactly one.

use std::io;
use std::time::Duration;

use eddy::net::UdpSocket;

async fn serve(socket: UdpSocket) -> io::Result<()> {
    // One datagram can be up to 64 KiB; a smaller buffer would truncate.
    let mut buf = vec![0; 65_536];
    loop {
        let (n, peer) = socket.recv_from(&mut buf).await?;
        log::debug!("{n} bytes from {peer}");
        socket.send_to(&buf[..n], peer).await?;
    }
}

fn main() -> io::Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:0".to_string());
    let serve_only = std::env::args().nth(2).as_deref() == Some("serve");
    eddy::run(async move {
        let socket = UdpSocket::bind(addr.as_str()).await?;
        let server_addr = socket.local_addr()?;
        log::info!("udp echo server on {server_addr}");
        let server = eddy::spawn(serve(socket));
        if serve_only {
            return server.await.map_err(|e| io::Error::other(e.to_string()))?;
        }

        let client = UdpSocket::bind("127.0.0.1:0").await?;
        client.connect(server_addr).await?;
        let mut buf = [0; 1024];
        for message in ["hello", "datagrams keep their boundaries", "bye"] {
            client.send(message.as_bytes()).await?;
            // UDP may lose a datagram (not on loopback, but in general), so
            // a client waits for its answer with a deadline.
            let n = eddy::time::timeout(Duration::from_secs(1), client.recv(&mut buf))
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no echo within 1 s"))??;
            println!("sent {message:?}, echoed {:?}", String::from_utf8_lossy(&buf[..n]));
        }
        server.abort();
        Ok(())
    })
}
