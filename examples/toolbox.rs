//! The asyncio toolbox in eddy: one section per tool, each with real (short)
//! sleeps standing in for network calls, printing when things happen.
//!
//! | section | asyncio | eddy |
//! |---|---|---|
//! | gather | `await asyncio.gather(a, b, c)` | `eddy::join!(a, b, c)` |
//! | wait-first | `asyncio.wait(..., return_when=FIRST_COMPLETED)` | `eddy::select!` |
//! | task group | `async with asyncio.TaskGroup() as tg` | `eddy::task::JoinSet` |
//!
//! ```text
//! cargo run --example toolbox
//! ```
//!
//! Every line starts with the milliseconds since its section began (read
//! from the loop's clock), so the overlap is visible: three 100–300 ms
//! fetches gathered take about 300 ms, not 600. Timings are real, so they
//! are a few milliseconds over the sleeps.
//!
//! Each section is one `async fn`; add a section by writing another and
//! calling it from `main`.

use std::time::Duration;

use eddy::task::JoinSet;
use eddy::time::{sleep, Instant};

/// A fake network call: waits `ms` milliseconds, then answers.
async fn fetch(url: &'static str, ms: u64) -> String {
    sleep(Duration::from_millis(ms)).await;
    format!("<contents of {url}>")
}

/// Prints `message` after the time since `start`, in milliseconds.
fn say(start: Instant, message: &str) {
    println!("  [{:>4} ms] {message}", start.elapsed().as_millis());
}

/// Shows a cancellation: prints a line if dropped before `finished` is
/// called, that is, if the future holding it was dropped mid-way.
struct CancelNotice {
    start: Instant,
    what: &'static str,
    finished: bool,
}

impl CancelNotice {
    fn new(start: Instant, what: &'static str) -> CancelNotice {
        CancelNotice { start, what, finished: false }
    }

    /// The work ran to its end: nothing to report.
    fn finished(mut self) {
        self.finished = true;
    }
}

impl Drop for CancelNotice {
    fn drop(&mut self) {
        if !self.finished {
            say(self.start, &format!("{} cancelled (its future was dropped)", self.what));
        }
    }
}

/// gather: three fetches at once in one task; all results, in argument
/// order, after the slowest.
async fn gather() {
    println!("gather: join! three fetches of 300, 100 and 200 ms");
    let start = Instant::now();
    let (a, b, c) = eddy::join!(fetch("a.example", 300), fetch("b.example", 100), fetch("c.example", 200));
    say(start, &format!("all three: {a}, {b}, {c}"));
    say(start, "took the longest of the three (300 ms), not their sum (600 ms)");
}

/// wait-first: a primary that answers in 300 ms, a mirror in 100 ms, and
/// a 250 ms deadline. The mirror wins; the primary and the deadline are
/// dropped, which cancels them, *before* the winning branch runs: so the
/// "cancelled" line comes first.
async fn wait_first() {
    println!("wait-first: select! between a 300 ms primary, a 100 ms mirror and a 250 ms deadline");
    let start = Instant::now();
    let primary = async {
        let notice = CancelNotice::new(start, "the primary request");
        let body = fetch("primary.example", 300).await;
        notice.finished();
        body
    };
    let answer = eddy::select! {
        body = primary => format!("primary answered: {body}"),
        body = fetch("mirror.example", 100) => format!("mirror answered: {body}"),
        _ = sleep(Duration::from_millis(250)) => "deadline passed".to_string(),
    };
    say(start, &answer);
}

/// One worker of the task group: worker 2 fails after 150 ms; the others
/// would take 400 ms.
async fn worker(start: Instant, id: u32) -> Result<u32, String> {
    let notice = CancelNotice::new(start, ["worker 0", "worker 1", "worker 2", "worker 3"][id as usize]);
    if id == 2 {
        sleep(Duration::from_millis(150)).await;
        say(start, "worker 2 fails");
        notice.finished();
        return Err("worker 2: disk full".to_string());
    }
    sleep(Duration::from_millis(400)).await;
    notice.finished();
    Ok(id)
}

/// The TaskGroup recipe: collect results as tasks finish; on the first
/// error, return, which drops the set, which aborts every task still in it.
async fn run_group(start: Instant) -> Result<Vec<u32>, String> {
    let mut group = JoinSet::new();
    for id in 0..4 {
        group.spawn(worker(start, id));
    }
    let mut done = Vec::new();
    while let Some(result) = group.join_next().await {
        done.push(result.map_err(|e| e.to_string())??);
    }
    Ok(done)
}

/// task group: four workers as tasks; the first failure cancels the rest.
async fn task_group() {
    println!("task group: JoinSet with four workers; worker 2 fails at 150 ms, the rest would take 400 ms");
    let start = Instant::now();
    let outcome = run_group(start).await;
    // Returning dropped the set, which aborted workers 0, 1 and 3; the loop
    // drops their futures at its next turn, so their "cancelled" lines
    // follow this one.
    say(start, &format!("group returned {outcome:?}"));
    eddy::task::yield_now().await;
    say(start, "no worker ran to 400 ms: the failure cancelled its siblings");
}

fn main() {
    eddy::run(async {
        gather().await;
        println!();
        wait_first().await;
        println!();
        task_group().await;
    });
}
