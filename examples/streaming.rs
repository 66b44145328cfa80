//! Processing data as it arrives, rather than after it has all been
//! gathered: through a bounded channel, and through a socket.
//!
//! ```text
//! cargo run --example streaming
//! ```
//!
//! Every line starts with the milliseconds since its part began, read from
//! the loop's clock. The timings are real, so they may be a millisecond or
//! two over the sleeps.
//!
//! 1. **Backpressure through a bounded channel.** A producer task reads
//!    eight records as fast as it can (think: lines of a file) and sends
//!    them through an `mpsc` channel with room for 3. The consumer needs
//!    40 ms to get ready, then 40 ms per record. The producer fills the
//!    channel at once (`queued 1/3` … `3/3`), then finds it full and
//!    *waits*: each later record is sent only when the consumer takes one
//!    out, so its `sent` line comes right after a `consumer` line, 40 ms
//!    after the one before, saying how long it waited. However fast the
//!    producer, at most three records wait in memory. Once the producer is
//!    done (record 8 sent), the consumer works through the last three; the
//!    channel closes when the producer is gone and the queue is empty. The
//!    consumer starts on record 1 at 40 ms, while records 5 to 8 are not
//!    even read yet: it never waits for all of them.
//! 2. **A socket, line by line.** A server task writes five lines, 50 ms
//!    apart, and sends line 3 in two pieces. The client prints each line
//!    the moment its newline arrives (the same millisecond the server's
//!    `wrote` line shows), not when the connection closes; a piece without
//!    a newline is kept until the rest comes.

use std::time::Duration;

use eddy::net::{TcpListener, TcpStream};
use eddy::sync::mpsc;
use eddy::time::{sleep, Instant};

fn main() -> std::io::Result<()> {
    eddy::run(async {
        println!("1. a bounded channel (room for 3): a fast producer, a consumer taking 40 ms per record");
        through_a_channel().await;
        println!();
        println!("2. a socket: a server writing a line every 50 ms, a client handling each as it comes");
        through_a_socket().await
    })
}

/// Prints `message` after the time since `start`, in milliseconds.
fn say(start: Instant, message: &str) {
    println!("  [{:>4} ms] {message}", start.elapsed().as_millis());
}

const CAPACITY: usize = 3;
const RECORDS: u32 = 8;

async fn through_a_channel() {
    let start = Instant::now();
    let (records, mut incoming) = mpsc::channel::<u32>(CAPACITY);
    let producer = eddy::spawn(async move {
        for record in 1..=RECORDS {
            // `send` alone would wait silently; trying first shows when and
            // for how long the bound holds the producer back.
            let record = match records.try_send(record) {
                Ok(()) => {
                    let queued = CAPACITY - records.capacity();
                    say(start, &format!("producer: sent record {record} (queued {queued}/{CAPACITY})"));
                    continue;
                }
                Err(mpsc::TrySendError::Full(record)) => record,
                Err(mpsc::TrySendError::Closed(_)) => return, // consumer gone
            };
            say(start, &format!("producer: channel full, waiting to send record {record}"));
            let waiting_since = Instant::now();
            if records.send(record).await.is_err() {
                return;
            }
            let waited = waiting_since.elapsed().as_millis();
            let queued = CAPACITY - records.capacity();
            say(
                start,
                &format!(
                    "producer: sent record {record} after waiting {waited} ms (queued {queued}/{CAPACITY})"
                ),
            );
        }
        // Dropping the sender here closes the channel: `recv` drains what
        // is queued, then returns `None`.
    });

    // The consumer needs 40 ms to get ready (think: opening its output), so
    // the producer meets the bound before anything is taken out.
    say(start, "consumer: getting ready for 40 ms");
    sleep(Duration::from_millis(40)).await;
    while let Some(record) = incoming.recv().await {
        say(start, &format!("consumer: took record {record}, processing it for 40 ms"));
        sleep(Duration::from_millis(40)).await;
    }
    say(start, "consumer: channel closed and drained: all 8 records processed");
    producer.await.expect("the producer does not panic");
}

async fn through_a_socket() -> std::io::Result<()> {
    let start = Instant::now();
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let server = eddy::spawn(async move {
        let (stream, _) = listener.accept().await?;
        for i in 1..=5 {
            if i == 3 {
                // Half a line now, the rest 20 ms later.
                stream.write_all(b"line ").await?;
                say(start, "server: wrote \"line \" (no newline yet)");
                sleep(Duration::from_millis(20)).await;
                stream.write_all(b"3\n").await?;
                say(start, "server: wrote \"3\\n\"");
            } else {
                stream.write_all(format!("line {i}\n").as_bytes()).await?;
                say(start, &format!("server: wrote \"line {i}\\n\""));
            }
            sleep(Duration::from_millis(50)).await;
        }
        say(start, "server: closing the connection");
        Ok::<_, std::io::Error>(())
        // The stream is dropped here, which closes the connection.
    });

    let stream = TcpStream::connect(addr).await?;
    let mut pending = Vec::new();
    let mut buf = [0; 256];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            say(start, "client: the server closed the connection; every line was handled before this");
            break;
        }
        pending.extend_from_slice(&buf[..n]);
        if !pending.contains(&b'\n') {
            say(start, &format!("client: got {n} bytes, no complete line yet: keeping them"));
        }
        // Handle every complete line now; keep a partial one for later.
        while let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            say(start, &format!("client: handled {:?}", String::from_utf8_lossy(&line[..end])));
        }
    }
    server.await?
}
