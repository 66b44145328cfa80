//! Two asyncio classics with `eddy::sync`: a crawl bounded by a
//! `Semaphore`, started by an `Event`.
//!
//! Ten "pages" each take 100 ms to "fetch" (a real sleep stands in for the
//! network). Every page gets its own task at once, but a semaphore of three
//! permits lets only three fetch at a time: the others wait in line (first
//! come, first served) and each starts the moment a permit comes back. So
//! the crawl takes four rounds of 100 ms (3 + 3 + 3 + 1 pages), about
//! 400 ms: not 100 ms (unbounded) and not 1 s (one at a time).
//!
//! Nothing starts before the `Event` is set: the tasks are spawned first
//! and all wait on `start.wait()`, the way workers wait for a "ready" signal
//! (asyncio's `Event`). Main sets it after 50 ms, and every waiter wakes.
//!
//! Each line shows the time since the program started and how many pages
//! are in flight, which never exceeds three.
//!
//! ```text
//! cargo run --example sync_toolbox
//! ```

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use eddy::sync::{Event, Semaphore};
use eddy::time::{sleep, Instant};

/// Pages fetched at most at once.
const LIMIT: usize = 3;
/// Pages to fetch.
const PAGES: usize = 10;
/// How long one fake fetch takes.
const FETCH: Duration = Duration::from_millis(100);

fn main() {
    let started = Instant::now();
    let ms = move || started.elapsed().as_millis();
    let pages = eddy::run(async move {
        let start = Arc::new(Event::new());
        let limit = Arc::new(Semaphore::new(LIMIT));
        let in_flight = Arc::new(AtomicUsize::new(0));

        let tasks: Vec<_> = (0..PAGES)
            .map(|page| {
                let (start, limit, in_flight) = (start.clone(), limit.clone(), in_flight.clone());
                eddy::spawn(async move {
                    start.wait().await;
                    // `async with sem:` — held until `_permit` drops.
                    let _permit = limit.acquire().await.expect("the semaphore is never closed");
                    let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                    println!("{:>4} ms  page {page:>2}: fetching ({now} in flight)", ms());
                    sleep(FETCH).await;
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                    println!("{:>4} ms  page {page:>2}: done", ms());
                    page
                })
            })
            .collect();

        println!("{:>4} ms  {PAGES} tasks spawned, all waiting for the start event", ms());
        sleep(Duration::from_millis(50)).await;
        println!("{:>4} ms  start.set(): every waiter wakes; {LIMIT} get a permit", ms());
        start.set();

        let mut pages = Vec::new();
        for task in tasks {
            pages.push(task.await.expect("the crawl tasks do not panic"));
        }
        pages
    });
    let total = ms();
    println!(
        "crawled {} pages in {total} ms: 50 ms before the start, then {} rounds of {} ms \
         ({LIMIT} at a time; one at a time would be {} ms)",
        pages.len(),
        PAGES.div_ceil(LIMIT),
        FETCH.as_millis(),
        PAGES as u128 * FETCH.as_millis(),
    );
}
