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
//!
//! Tasks are named in messages like `task 1.3 'broken' (spawned at
//! examples/futures.rs:LINE:COLUMN)`: the third task spawned on loop 1, its
//! name if it was given one (`spawn_named`), and where it was spawned.

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

        // A task that panics. Rust reports every panic through its panic
        // hook the moment it happens, before anything catches it: by default
        // a "thread 'main' panicked at ..." message on stderr ('main'
        // because the loop runs on the main thread), which looks like a
        // crash but is not one. eddy catches the panic where it polls the
        // task (`catch_unwind` in runtime/src/task/cell.rs); the loop and
        // every other task carry on, and the task's handle returns an error.
        // A one-line hook stands in for the default one here, so the output
        // shows that order plainly.
        let default_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|info| {
            let message = info.payload().downcast_ref::<&str>().copied().unwrap_or("(not a string)");
            let place = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
            println!("panic hook: a panic{place}: {message:?} (next, eddy catches it)");
        }));
        let broken = eddy::task::spawn_named("broken", async { panic!("something went wrong") });
        let outcome = broken.await;
        std::panic::set_hook(default_hook);
        match outcome {
            Ok(()) => unreachable!(),
            Err(error) => println!("the broken task failed as expected: {error}"),
        }
        println!("...and the loop carries on: this line runs on it");

        // A task cancelled while it waits.
        let sleeper = eddy::spawn(async {
            sleep(Duration::from_secs(3600)).await;
            println!("never printed");
        });
        sleep(Duration::from_millis(10)).await;
        sleeper.abort();
        let cancelled = sleeper.await.expect_err("aborted before it finished");
        println!("cancelled after 10 ms of its hour-long sleep: {cancelled}");
    });
}
