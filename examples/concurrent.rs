//! Many sleeps at once: the total time is that of the longest, not the sum.
//!
//! Three tasks sleep for 3, 2 and 1 seconds. Run one after the other that
//! would take 6 seconds; spawned as tasks on one event loop they overlap and
//! the program finishes in about 3. Nothing here uses threads: the loop
//! simply has three timers armed and wakes each task when its timer fires.
//!
//! ```text
//! cargo run --example concurrent
//! ```
//!
//! Every line starts with the milliseconds since the start, read from the
//! loop's clock (real time, so a millisecond or two over the sleeps). The
//! tasks start together at 0 ms and finish in the order their timers fire:
//! fast, medium, slow. Then `main` collects their results by awaiting the
//! `JoinHandle`s in the order it spawned them, slow first. That await takes
//! until slow is done, at 3 s; by then the other two have long finished
//! (each handle keeps its task's result), so their awaits return at once:
//! the results come back in spawn order, each saying when its task really
//! finished. (To handle results in the order tasks finish instead, use a
//! `JoinSet`: see `examples/toolbox.rs`.)

use std::time::Duration;

use eddy::time::{sleep, Instant};

/// Prints `message` after the time since `start`, in milliseconds.
fn say(start: Instant, message: &str) {
    println!("[{:>4} ms] {message}", start.elapsed().as_millis());
}

/// Sleeps `seconds`, then returns its name and when it finished.
async fn work(start: Instant, name: &'static str, seconds: u64) -> (&'static str, u128) {
    say(start, &format!("{name}: starting, will take {seconds} s"));
    sleep(Duration::from_secs(seconds)).await;
    say(start, &format!("{name}: done"));
    (name, start.elapsed().as_millis())
}

fn main() {
    eddy::run(async {
        let start = Instant::now();
        let tasks = [
            eddy::spawn(work(start, "slow", 3)),
            eddy::spawn(work(start, "medium", 2)),
            eddy::spawn(work(start, "fast", 1)),
        ];
        for task in tasks {
            let (name, finished_at) = task.await.expect("the work tasks do not panic");
            say(start, &format!("main: awaited {name}'s handle: it finished at {finished_at} ms"));
        }
        say(start, "main: all three done in the time of the longest (3 s), not the sum (6 s)");
    });
}
