//! A coroutine that greets, sleeps, and greets again, run with `eddy::run`:
//! asyncio's `asyncio.run(main())`.
//!
//! ```text
//! cargo run --example hello
//! ```

use std::time::Duration;

use eddy::time::{sleep, Instant};

async fn greet(name: &str) {
    println!("Hello, {name}!");
    // `await` hands control back to the event loop until the timer fires;
    // the thread sleeps in epoll_wait meanwhile, using no CPU.
    sleep(Duration::from_millis(500)).await;
    println!("Goodbye, {name}!");
}

fn main() {
    let start = Instant::now();
    eddy::run(greet("Alice"));
    // A little over 500 ms: a timer never fires before its deadline, and
    // the loop's clock counts in whole milliseconds, rounding deadlines up.
    println!("(took {:?}: the 500 ms sleep, plus a few ms of waking up)", start.elapsed());
}
