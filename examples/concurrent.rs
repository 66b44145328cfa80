//! Many sleeps at once: the total time is that of the longest, not the sum.
//!
//! Three tasks sleep for 1, 2 and 3 seconds. Run one after the other that
//! would take 6 seconds; spawned as tasks on one event loop they overlap and
//! the program finishes in about 3. Nothing here uses threads: the loop
//! simply has three timers armed and wakes each task when its timer fires.
//!
//! ```text
//! cargo run --example concurrent
//! ```

use std::time::Duration;

use eddy::time::{sleep, Instant};

async fn work(name: &'static str, seconds: u64) -> &'static str {
    println!("{name}: starting, will take {seconds} s");
    sleep(Duration::from_secs(seconds)).await;
    println!("{name}: done");
    name
}

fn main() {
    let start = Instant::now();
    let finished = eddy::run(async {
        let tasks =
            [eddy::spawn(work("slow", 3)), eddy::spawn(work("medium", 2)), eddy::spawn(work("fast", 1))];
        let mut finished = Vec::new();
        for task in tasks {
            finished.push(task.await.expect("the work tasks do not panic"));
        }
        finished
    });
    println!("all of {finished:?} finished in {:.1?} (the sum would be 6 s)", start.elapsed());
}
