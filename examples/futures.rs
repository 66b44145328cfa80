//! Tasks, JoinHandles and a future whose result is set later.
//!
//! - `eddy::spawn` starts a task and returns a `JoinHandle`, which is itself
//!   a future of the task's result (asyncio's Task);
//! - a `oneshot` channel is asyncio's bare `Future`: one side awaits a value,
//!   the other sets it later (`set_result` is `send`);
//! - a panicking task does not crash anything: its handle reports it;
//! - `abort` cancels a task, running its destructors.
//!
//! ```text
//! cargo run --example futures
//! ```

use std::time::Duration;

use eddy::sync::oneshot;
use eddy::time::sleep;

fn main() {
    eddy::run(async {
        // A task and its handle.
        let doubler = eddy::spawn(async { 21 * 2 });
        println!("the task returned {}", doubler.await.expect("no panic"));

        // A future whose result is set later, from another task.
        let (set_result, result) = oneshot::channel();
        eddy::spawn(async move {
            sleep(Duration::from_millis(100)).await;
            let _ = set_result.send("the answer, 100 ms later");
        });
        println!("waiting for the result...");
        println!("got: {}", result.await.expect("the sender sends before it is dropped"));

        // A task that panics: the loop and every other task carry on.
        let broken = eddy::task::spawn_named("broken", async { panic!("something went wrong") });
        match broken.await {
            Ok(()) => unreachable!(),
            Err(error) => println!("the broken task failed as expected: {error}"),
        }

        // A task cancelled while it waits.
        let sleeper = eddy::spawn(async {
            sleep(Duration::from_secs(3600)).await;
            println!("never printed");
        });
        sleep(Duration::from_millis(10)).await;
        sleeper.abort();
        let cancelled = sleeper.await.expect_err("aborted before it finished");
        println!("cancelled: {cancelled}");
    });
}
