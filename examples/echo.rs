//! A TCP echo server: one task per connection, everything on one thread.
//!
//! ```text
//! cargo run --example echo -- 127.0.0.1:7000
//! # elsewhere:  nc 127.0.0.1 7000
//! ```
//!
//! Each accepted connection gets its own task that reads into a buffer and
//! writes back what it read, until the client closes. The listener task
//! never blocks on a client: while it waits in `accept`, the loop serves all
//! connections, each woken only when its socket is readable or writable.

use std::io;

use eddy::net::{TcpListener, TcpStream};

async fn serve(stream: TcpStream) -> io::Result<u64> {
    let mut buf = vec![0; 16 * 1024];
    let mut echoed = 0;
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(echoed); // the client closed its side
        }
        stream.write_all(&buf[..n]).await?;
        echoed += n as u64;
    }
}

fn main() -> io::Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:7000".to_string());
    eddy::run(async {
        let listener = TcpListener::bind(addr.as_str())?;
        log::info!("echo server listening on {}", listener.local_addr()?);
        loop {
            let (stream, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of descriptors, say: keep serving the others.
                    log::warn!("{error}");
                    eddy::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            };
            log::info!("{peer} connected");
            eddy::spawn(async move {
                match serve(stream).await {
                    Ok(bytes) => log::info!("{peer} closed after {bytes} bytes"),
                    Err(error) => log::warn!("{peer}: {error}"),
                }
            });
        }
    })
}
