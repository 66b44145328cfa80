//! Processing data as it arrives, rather than after it has all been
//! gathered: through a bounded channel, and through a socket.
//!
//! 1. A producer on a plain thread (think: a sensor, a file reader) sends
//!    readings through a bounded `mpsc` channel; a task averages them as they
//!    come. The bound gives backpressure: if the consumer falls behind, the
//!    producer waits instead of piling up memory.
//! 2. A server streams lines over TCP at its own pace; the client handles
//!    each line as soon as it is complete, not when the connection ends.
//!
//! ```text
//! cargo run --example streaming
//! ```

use std::time::Duration;

use eddy::net::{TcpListener, TcpStream};
use eddy::sync::mpsc;
use eddy::time::sleep;

fn main() -> std::io::Result<()> {
    eddy::run(async {
        through_a_channel().await;
        through_a_socket().await
    })
}

async fn through_a_channel() {
    let (readings, mut incoming) = mpsc::channel::<f64>(4);
    // A plain thread producing data: `send` needs a loop, so the thread
    // runs a tiny runtime of its own just to await the channel.
    let producer = std::thread::spawn(move || {
        eddy::run(async move {
            for i in 0..10 {
                let reading = 20.0 + f64::from(i % 4);
                if readings.send(reading).await.is_err() {
                    return; // consumer gone
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    });
    let (mut count, mut sum) = (0u32, 0.0);
    while let Some(reading) = incoming.recv().await {
        count += 1;
        sum += reading;
        println!("channel: reading {count}: {reading:.1} (running average {:.2})", sum / f64::from(count));
    }
    producer.join().expect("the producer thread does not panic");
}

async fn through_a_socket() -> std::io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    eddy::spawn(async move {
        let (stream, _) = listener.accept().await?;
        for i in 1..=5 {
            stream.write_all(format!("line {i}\n").as_bytes()).await?;
            sleep(Duration::from_millis(50)).await; // data trickles in
        }
        Ok::<_, std::io::Error>(())
    });

    let stream = TcpStream::connect(addr).await?;
    let mut pending = Vec::new();
    let mut buf = [0; 256];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break; // the server closed the connection
        }
        pending.extend_from_slice(&buf[..n]);
        // Handle every complete line now; keep a partial one for later.
        while let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            println!("socket: got {:?} as soon as it arrived", String::from_utf8_lossy(&line[..end]));
        }
    }
    Ok(())
}
