//! A 1 GiB streamed response to a client that reads slowly: the server's
//! memory stays flat. In its own test binary (so its own process), because
//! it measures the process's RSS, which other tests running in parallel
//! would disturb.

mod http_support;

use std::io::Read;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use eddy_http::{App, Request, Response, Stream, STREAM_HIGH_WATER};
use http_support::*;

static CHUNK_OF_X: [u8; 64 * 1024] = [b'x'; 64 * 1024];

/// As fast as it is polled: 64 KiB chunks, `left` bytes in all.
struct Firehose {
    left: u64,
    produced: Arc<AtomicU64>,
}

impl Stream for Firehose {
    type Item = std::io::Result<&'static [u8]>;
    fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        let n = (CHUNK_OF_X.len() as u64).min(self.left);
        self.left -= n;
        self.produced.fetch_add(n, Ordering::SeqCst);
        Poll::Ready(Some(Ok(&CHUNK_OF_X[..n as usize])))
    }
}

fn one_route(path: &'static str, handler: impl Fn() -> Response + Send + Sync + 'static) -> App {
    let handler = Arc::new(handler);
    App::new().get(path, move |_req: Request| {
        let handler = handler.clone();
        async move { handler() }
    })
}

/// VmRSS of this process, in bytes.
#[cfg(target_os = "linux")]
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("VmRSS in /proc/self/status");
    let kib: u64 = line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).expect("parse VmRSS");
    kib * 1024
}

/// Streams `total` bytes to a client reading 16 KiB at a time, and checks
/// that the server's buffering stays bounded throughout: the per-connection
/// high-water counter, and the process's RSS (which holds both ends).
#[cfg(target_os = "linux")]
fn stream_to_a_slow_reader(total: u64) {
    let produced = Arc::new(AtomicU64::new(0));
    let counter = produced.clone();
    let server = TestServer::start(one_route("/big", move || {
        Response::stream(Firehose { left: total, produced: counter.clone() })
    }));
    let mut client = server.client();
    client.send("GET /big HTTP/1.0\r\n\r\n");
    client.until("\r\n\r\n");
    let mut received = client.take_buffered().len() as u64;
    let mut stream = client.stream();
    let mut buf = vec![0; 16 * 1024];
    let mut rss_start = None;
    let mut rss_max = 0;
    loop {
        let n = stream.read(&mut buf).expect("read the stream");
        if n == 0 {
            break;
        }
        received += n as u64;
        // Sampled every 4 MiB, from the moment the pipe is full.
        if received % (4 << 20) < n as u64 {
            let now = rss();
            rss_start.get_or_insert(now);
            rss_max = rss_max.max(now);
        }
    }
    assert_eq!(received, total, "the whole stream arrives");
    let growth = rss_max.saturating_sub(rss_start.unwrap_or(rss_max));
    assert!(growth < 16 << 20, "RSS grew by {growth} bytes while streaming {total} bytes");
    assert!(eddy_http::max_buffered_while_streaming() <= STREAM_HIGH_WATER + CHUNK_OF_X.len() + 16);
    eprintln!(
        "streamed {total} bytes: RSS {rss_max} bytes at most, grew by {growth}; \
         most buffered by the connection {}",
        eddy_http::max_buffered_while_streaming()
    );
}

/// The figure, 1 GiB: about 1.5 s in a debug build (the client
/// reads 16 KiB per call, so it is always the slow side). Prints the RSS
/// figures with `--nocapture`.
#[test]
#[cfg(target_os = "linux")]
fn a_1_gib_stream_to_a_slow_reader_keeps_server_memory_flat() {
    stream_to_a_slow_reader(1 << 30);
}
