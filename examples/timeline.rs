//! Watch eddy work: a small program (a producer and a consumer on a
//! channel, a timer, a socket round trip) records itself with eddy's
//! always-on flight recorder and writes the timeline as Chrome Trace Event
//! JSON, plus an SVG drawing of it (the one in the README, `docs/timeline.svg`).
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
//!   poll (its send) into the consumer's next poll, from the spawning poll
//!   of `block_on` to each task's first poll, from `fire timers` to the
//!   task whose sleep ended, from `dispatch I/O` to the task whose socket
//!   became readable;
//! - **park** slices: the loop asleep in epoll_wait (`why`: `wait` with the
//!   planned timeout until the next timer, or `poll`, a quick look);
//! - instants for timers fired (and cancelled) and sockets ready, counters
//!   for the ready queue and armed timers, and each task's lifetime as a
//!   separate async track.
//!
//! The SVG draws the same track without a browser tab: a lane per task
//! with its polls, a `loop` lane with the parks (long ones cut short, with
//! their length) and tick steps, the wake arrows, and a time axis.

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

    // Precise poll times: read the clock at the end of every poll, so each
    // slice has its real length (by default the recorder saves that clock
    // read and shows polls between two clock reads 1 ns apart).
    let runtime = eddy::Builder::new().trace_poll_times(true).build()?;
    runtime.block_on(program())?;

    runtime.write_trace(&json_path)?;
    let svg_path = json_path.with_extension("svg");
    std::fs::write(&svg_path, svg::render(&std::fs::read_to_string(&json_path)?))?;
    println!("wrote the timeline to {}", json_path.display());
    println!("  open it in https://ui.perfetto.dev (\"Open trace file\") or chrome://tracing (\"Load\")");
    println!("wrote a drawing of it to {}", svg_path.display());
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

/// An SVG drawing of a one-loop trace: a lane per task (its polls), a lane
/// for the loop itself (parks, tick steps), an arrow from each wake to the
/// poll it caused, and a time axis. Long parks are cut short (marked with a
/// break and their length), so that polls microseconds long stay visible
/// next to milliseconds of sleep. It reads the JSON the way eddy writes it
/// (one event per line) rather than with a JSON library, to keep the
/// example dependency-free.
mod svg {
    use std::fmt::Write as _;

    /// One `X` slice (times in µs, as in the JSON).
    struct Slice {
        name: String,
        cat: String,
        start: f64,
        end: f64,
    }

    /// A flow end: `s` or `f`, its id and time.
    struct FlowEnd {
        start: bool,
        id: u64,
        at: f64,
    }

    fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
        let at = line.find(&format!("\"{key}\":"))? + key.len() + 3;
        let rest = &line[at..];
        if let Some(text) = rest.strip_prefix('"') {
            return text.find('"').map(|end| &text[..end]);
        }
        rest.find([',', '}']).map(|end| &rest[..end])
    }

    fn number(line: &str, key: &str) -> Option<f64> {
        field(line, key)?.parse().ok()
    }

    /// Escapes text for SVG.
    fn text(raw: &str) -> String {
        raw.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
    }

    /// Parks longer than this (µs) are drawn cut short.
    const LONG_PARK: f64 = 150.0;
    /// Width of a cut-short park, px.
    const CUT: f64 = 46.0;
    /// Pixels per µs of busy time.
    const SCALE: f64 = 1.1;

    /// Maps trace time to x: linear, except across long parks.
    struct Axis {
        /// (start, end) of each long park, in order.
        cuts: Vec<(f64, f64)>,
        origin: f64,
        left: f64,
    }

    impl Axis {
        fn x(&self, at: f64) -> f64 {
            let mut x = self.left;
            let mut from = self.origin;
            for &(start, end) in &self.cuts {
                if at <= start {
                    break;
                }
                x += (start - from) * SCALE;
                if at < end {
                    return x + (at - start) / (end - start) * CUT;
                }
                x += CUT;
                from = end;
            }
            x + (at - from) * SCALE
        }
    }

    pub fn render(json: &str) -> String {
        let mut slices = Vec::new();
        let mut flows = Vec::new();
        for line in json.lines() {
            match field(line, "ph") {
                Some("X") => {
                    let (Some(name), Some(cat), Some(start), Some(dur)) =
                        (field(line, "name"), field(line, "cat"), number(line, "ts"), number(line, "dur"))
                    else {
                        continue;
                    };
                    slices.push(Slice { name: name.into(), cat: cat.into(), start, end: start + dur });
                }
                Some(ph @ ("s" | "f")) => {
                    if let (Some(id), Some(at)) = (number(line, "id"), number(line, "ts")) {
                        flows.push(FlowEnd { start: ph == "s", id: id as u64, at });
                    }
                }
                _ => {}
            }
        }
        slices.sort_by(|a, b| a.start.total_cmp(&b.start));
        let Some(origin) = slices.first().map(|s| s.start) else {
            return "<svg xmlns=\"http://www.w3.org/2000/svg\"/>".into();
        };
        let last = slices.iter().map(|s| s.end).fold(origin, f64::max);
        let cuts: Vec<(f64, f64)> = slices
            .iter()
            .filter(|s| s.cat == "park" && s.end - s.start > LONG_PARK)
            .map(|s| (s.start, s.end))
            .collect();
        let left = 110.0;
        let axis = Axis { cuts: cuts.clone(), origin, left };

        // Lanes: the loop's own work first, then tasks in order of first poll.
        let mut lanes: Vec<String> = vec!["loop".into()];
        for slice in slices.iter().filter(|s| s.cat == "poll") {
            if !lanes.contains(&slice.name) {
                lanes.push(slice.name.clone());
            }
        }
        let lane_of = |slice: &Slice| {
            if slice.cat == "poll" {
                lanes.iter().position(|lane| *lane == slice.name).unwrap_or(0)
            } else {
                0
            }
        };
        let (top, row, bar) = (34.0, 30.0, 18.0);
        let width = axis.x(last) + 20.0;
        let height = top + lanes.len() as f64 * row + 46.0;
        let y_of = |lane: usize| top + lane as f64 * row;

        let mut svg = String::new();
        let _ = writeln!(
            svg,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" \
             font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
             <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" \
             markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#333\"/></marker></defs>"
        );
        let _ = writeln!(
            svg,
            "<text x=\"8\" y=\"18\" font-weight=\"bold\">eddy flight recorder: loop 0, one lane per task; \
             arrows go from a wake to the poll it caused</text>"
        );
        for (lane, name) in lanes.iter().enumerate() {
            let y = y_of(lane);
            let fill = if lane % 2 == 0 { "#f6f6f6" } else { "#ffffff" };
            let _ = writeln!(
                svg,
                "<rect x=\"0\" y=\"{y}\" width=\"{width:.0}\" height=\"{row}\" fill=\"{fill}\"/>"
            );
            let _ = writeln!(svg, "<text x=\"8\" y=\"{:.1}\">{}</text>", y + row / 2.0 + 4.0, text(name));
        }
        // Long parks: a break mark and how long they lasted.
        for &(start, end) in &cuts {
            let x = axis.x(start);
            let y = y_of(0) + (row - bar) / 2.0;
            let _ = writeln!(
                svg,
                "<rect x=\"{x:.1}\" y=\"{y}\" width=\"{CUT}\" height=\"{bar}\" fill=\"#d9d9d9\"/>\
                 <path d=\"M{:.1},{} l6,-6 l6,12 l6,-12 l6,12 l6,-6\" fill=\"none\" stroke=\"#777\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\" fill=\"#555\">{:.1} ms</text>",
                x + 8.0,
                y + bar / 2.0,
                x + CUT / 2.0,
                y + bar + 10.0,
                (end - start) / 1000.0
            );
        }
        for slice in &slices {
            let lane = lane_of(slice);
            if slice.cat == "park" && slice.end - slice.start > LONG_PARK {
                continue;
            }
            let x = axis.x(slice.start);
            let w = (axis.x(slice.end) - x).max(1.5);
            let y = y_of(lane) + (row - bar) / 2.0;
            let fill = match slice.cat.as_str() {
                "poll" => colour(&slice.name),
                "park" => "#d9d9d9".into(),
                _ => "#7a7a7a".into(),
            };
            let _ = writeln!(
                svg,
                "<rect x=\"{x:.1}\" y=\"{y}\" width=\"{w:.1}\" height=\"{bar}\" fill=\"{fill}\" stroke=\"#333\" \
                 stroke-width=\"0.4\"><title>{} ({:.3} µs)</title></rect>",
                text(&slice.name),
                slice.end - slice.start
            );
        }
        // Arrows: each flow's start lies in a slice (its lane), its end is
        // the poll that begins there.
        let lane_at = |at: f64, begins: bool| {
            slices
                .iter()
                .filter(|s| {
                    if begins {
                        (s.start - at).abs() < 1e-6 && s.cat == "poll"
                    } else {
                        s.start <= at && at <= s.end
                    }
                })
                .max_by(|a, b| a.start.total_cmp(&b.start))
                .map(lane_of)
        };
        for start in flows.iter().filter(|f| f.start) {
            let Some(finish) = flows.iter().find(|f| !f.start && f.id == start.id) else { continue };
            let (Some(from), Some(to)) = (lane_at(start.at, false), lane_at(finish.at, true)) else {
                continue;
            };
            let (x1, y1) = (axis.x(start.at) + 1.0, y_of(from) + row / 2.0);
            let (x2, y2) = (axis.x(finish.at), y_of(to) + row / 2.0);
            let bend = ((x2 - x1) / 2.0).max(12.0);
            let _ = writeln!(
                svg,
                "<path d=\"M{x1:.1},{y1:.1} C{:.1},{y1:.1} {:.1},{y2:.1} {x2:.1},{y2:.1}\" fill=\"none\" \
                 stroke=\"#333\" stroke-width=\"1\" marker-end=\"url(#arrow)\"/>",
                x1 + bend,
                x2 - bend
            );
        }
        // Time axis: a tick at the start and after every cut, in ms.
        let axis_y = y_of(lanes.len()) + 8.0;
        let _ = writeln!(
            svg,
            "<line x1=\"{left}\" y1=\"{axis_y}\" x2=\"{:.1}\" y2=\"{axis_y}\" stroke=\"#333\"/>",
            axis.x(last)
        );
        let mut ticks = vec![origin];
        ticks.extend(cuts.iter().map(|&(_, end)| end));
        let mut last_label = f64::NEG_INFINITY;
        for at in ticks {
            let x = axis.x(at);
            let _ = writeln!(
                svg,
                "<line x1=\"{x:.1}\" y1=\"{axis_y}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#333\"/>",
                axis_y + 5.0
            );
            if x - last_label > 60.0 {
                let _ = writeln!(
                    svg,
                    "<text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\">{:.3} ms</text>",
                    axis_y + 18.0,
                    (at - origin) / 1000.0
                );
                last_label = x;
            }
        }
        let _ = writeln!(
            svg,
            "<text x=\"{left}\" y=\"{:.1}\" font-size=\"11\" fill=\"#555\">loop time; {SCALE} px per µs while busy, \
             parks over {LONG_PARK} µs cut short (grey with a break)</text>\n</svg>",
            axis_y + 34.0
        );
        svg
    }

    /// A stable colour per task name.
    fn colour(name: &str) -> String {
        let hash = name.bytes().fold(17u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
        format!("hsl({}, 60%, 62%)", hash % 360)
    }
}
