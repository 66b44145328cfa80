//! Watch eddy work: a small program (a producer and a consumer on a
//! channel, a timer, a socket round trip) records itself with eddy's
//! always-on flight recorder and writes the timeline as Chrome Trace Event
//! JSON, plus a rough SVG drawing of it.
//!
//! ```text
//! cargo run --example timeline                 # writes eddy-timeline.json and .svg in the temp dir
//! cargo run --example timeline -- my-trace.json
//! ```
//!
//! Then open the JSON in <https://ui.perfetto.dev> ("Open trace file"), or in
//! Chrome at `chrome://tracing` ("Load"). Nothing to install or convert. What
//! you see, on the track "loop 0":
//!
//! - a slice per **poll**, named by the task's name (`producer`, `consumer`,
//!   `echo server`) or, for the future passed to `block_on`, `block_on`;
//!   click one: `woken_by` says what made the task ready, `result` whether
//!   the poll returned `Pending` or `Ready`;
//! - **arrows** from each wake to the poll it caused: from the producer's
//!   send into the consumer's next poll, from `fire timers` to the task
//!   whose sleep ended, from `dispatch I/O` to the task whose socket became
//!   readable;
//! - **park** slices: the loop asleep in epoll_wait (`why`: `wait` with the
//!   planned timeout until the next timer, or `poll`, a quick look);
//! - instants for timers armed and fired and sockets ready, counters for
//!   the ready queue and armed timers, and each task's lifetime as a
//!   separate async track.
//!
//! The SVG is a plain drawing of the same track (polls coloured by task,
//! parks grey) for a quick look without a browser tab.

use std::path::PathBuf;
use std::time::Duration;

use eddy::net::{TcpListener, TcpStream};
use eddy::sync::mpsc;
use eddy::time::sleep;

fn main() -> std::io::Result<()> {
    let json_path = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("eddy-timeline.json"));

    // Precise poll times: read the clock around every poll, so each slice
    // has its real length (by default the recorder saves those two clock
    // reads and shows polls between two clock reads 1 ns apart).
    let runtime = eddy::Builder::new().trace_poll_times(true).build()?;
    runtime.block_on(program())?;

    runtime.write_trace(&json_path)?;
    let svg_path = json_path.with_extension("svg");
    std::fs::write(&svg_path, svg::render(&std::fs::read_to_string(&json_path)?))?;
    println!("wrote the timeline to {}", json_path.display());
    println!("  open it in https://ui.perfetto.dev (\"Open trace file\") or chrome://tracing (\"Load\")");
    println!("wrote a rough drawing of it to {}", svg_path.display());
    Ok(())
}

/// The program being watched.
async fn program() -> std::io::Result<()> {
    // A producer sends five numbers through a channel that holds two; it
    // sleeps 1 ms between sends, so its timer shows on the timeline.
    let (tx, mut rx) = mpsc::channel::<u64>(2);
    let producer = eddy::task::spawn_named("producer", async move {
        for n in 1..=5 {
            tx.send(n).await.expect("the consumer outlives the producer");
            sleep(Duration::from_millis(1)).await;
        }
    });
    // The consumer does a little work per number (tens of µs of
    // arithmetic), so its polls are visibly wide.
    let consumer = eddy::task::spawn_named("consumer", async move {
        let mut total = 0u64;
        while let Some(n) = rx.recv().await {
            total += (0..2_000u64).fold(n, |acc, x| acc.wrapping_mul(31).wrapping_add(x)) % 7;
        }
        total
    });

    // A socket round trip: the echo server's poll after the client's write
    // is woken by the socket becoming readable (an arrow from `dispatch I/O`).
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let server = eddy::task::spawn_named("echo server", async move {
        let (stream, _) = listener.accept().await?;
        let mut buf = [0; 5];
        let n = stream.read(&mut buf).await?;
        stream.write_all(&buf[..n]).await
    });
    let client = TcpStream::connect(addr).await?;
    sleep(Duration::from_millis(2)).await;
    client.write_all(b"hello").await?;
    let mut buf = [0; 5];
    client.read(&mut buf).await?;

    server.await.map_err(|e| std::io::Error::other(e.to_string()))??;
    producer.await.map_err(|e| std::io::Error::other(e.to_string()))?;
    consumer.await.map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(())
}

/// A minimal SVG drawing of the `X` slices of a trace, one row per loop.
/// It reads the JSON the way eddy writes it (one event per line) rather
/// than with a JSON library, to keep the example dependency-free.
mod svg {
    use std::fmt::Write as _;

    struct Slice {
        name: String,
        cat: String,
        tid: u64,
        start: f64,
        duration: f64,
    }

    fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
        let at = line.find(&format!("\"{key}\":"))? + key.len() + 3;
        let rest = &line[at..];
        if let Some(text) = rest.strip_prefix('"') {
            return text.find('"').map(|end| &text[..end]);
        }
        rest.find([',', '}']).map(|end| &rest[..end])
    }

    fn slices(json: &str) -> Vec<Slice> {
        json.lines()
            .filter(|line| line.contains("\"ph\":\"X\""))
            .filter_map(|line| {
                Some(Slice {
                    name: field(line, "name")?.to_string(),
                    cat: field(line, "cat")?.to_string(),
                    tid: field(line, "tid")?.parse().ok()?,
                    start: field(line, "ts")?.parse().ok()?,
                    duration: field(line, "dur")?.parse().ok()?,
                })
            })
            .collect()
    }

    /// A stable colour per task name.
    fn colour(name: &str, cat: &str) -> String {
        if cat == "park" {
            return "#c8c8c8".into();
        }
        if cat == "loop" {
            return "#8a8a8a".into();
        }
        let hash = name.bytes().fold(17u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
        format!("hsl({}, 65%, 55%)", hash % 360)
    }

    pub fn render(json: &str) -> String {
        let slices = slices(json);
        let start = slices.iter().map(|s| s.start).fold(f64::INFINITY, f64::min);
        let end = slices.iter().map(|s| s.start + s.duration).fold(0.0, f64::max);
        let (width, row, left) = (1200.0, 40.0, 60.0);
        let scale = (width - left - 10.0) / (end - start).max(1.0);
        let rows = slices.iter().map(|s| s.tid).max().unwrap_or(0) + 1;
        let height = rows as f64 * row + 60.0;
        let mut svg = String::new();
        let _ = write!(
            svg,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
             font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        );
        for tid in 0..rows {
            let _ = writeln!(svg, "<text x=\"4\" y=\"{}\">loop {tid}</text>", 30.0 + tid as f64 * row);
        }
        let mut legend: Vec<(String, String)> = Vec::new();
        for slice in &slices {
            let x = left + (slice.start - start) * scale;
            let w = (slice.duration * scale).max(0.5);
            let y = 14.0 + slice.tid as f64 * row;
            let fill = colour(&slice.name, &slice.cat);
            let _ = writeln!(
                svg,
                "<rect x=\"{x:.2}\" y=\"{y}\" width=\"{w:.2}\" height=\"24\" fill=\"{fill}\"><title>{} ({} µs)</title></rect>",
                slice.name, slice.duration
            );
            let key = if slice.cat == "poll" { slice.name.clone() } else { slice.cat.clone() };
            if !legend.iter().any(|(name, _)| *name == key) {
                legend.push((key, fill));
            }
        }
        let mut x = left;
        for (name, fill) in legend {
            let y = height - 20.0;
            let _ = writeln!(
                svg,
                "<rect x=\"{x}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{fill}\"/>",
                y - 9.0
            );
            let _ = writeln!(svg, "<text x=\"{}\" y=\"{y}\">{name}</text>", x + 14.0);
            x += 24.0 + name.len() as f64 * 6.5;
        }
        let _ = writeln!(
            svg,
            "<text x=\"{left}\" y=\"{}\">{:.1} ms of loop time</text>\n</svg>",
            height - 4.0,
            (end - start) / 1000.0
        );
        svg
    }
}
