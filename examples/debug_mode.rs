//! Debug mode, asyncio's `asyncio.run(main(), debug=True)`.
//!
//! A task that blocks the thread (here `std::thread::sleep`, in real code a
//! slow computation or a blocking file read) stalls every other task on its
//! loop. Debug mode notices it while it happens and warns, naming the task
//! and where it was spawned. It also warns about a task nothing can ever
//! wake, reports panics that nobody awaited, and lists tasks still pending
//! when the runtime shuts down.
//!
//! ```text
//! cargo run --example debug_mode                # debug mode on (this example's default)
//! EDDY_DEBUG=0 cargo run --example debug_mode   # the same program with it off: no WARN/ERROR lines
//! ```
//!
//! `EDDY_DEBUG=1` switches debug mode on for any program whose runtime comes
//! from `eddy::run` or `eddy::Builder::new()` without a `.debug(..)` call;
//! this example calls `.debug(true)` only when `EDDY_DEBUG` is not set, so
//! the variable decides when it is. Debug mode only *logs* (through the
//! `log` crate): a program must install a logger to see anything, as this
//! one does with `env_logger`. (`hello`, for one, installs none, so
//! `EDDY_DEBUG=1` shows nothing there, and nothing in it is slow anyway.)
//!
//! What it prints, in order (the `WARN`/`ERROR` lines are debug mode's, on
//! stderr; the others are the example's own `println!`s):
//!
//! 1. `hog: blocking the thread for 250 ms`, then two `WARN`s naming task
//!    `'blocking-hog'` and where it was spawned: the stall watchdog's,
//!    about 100 ms in, while the poll is still running (`stall: ... still
//!    is`), and one when it ends, with how long it took and the fix;
//! 2. `polite: ...` twice: the same 250 ms of work on the blocking pool,
//!    while the loop stays free, so no warning;
//! 3. a `WARN` `lost wakeup` for task `'forgotten'`: it awaits
//!    `pending()`, which never stores its waker, so right after its first
//!    poll debug mode sees that nothing can ever wake it;
//! 4. `panic hook: ...`, this example's one-line stand-in for Rust's
//!    default panic message, printed the moment task `'unobserved'`
//!    panics; then an `ERROR` from debug mode: the panic was caught, but
//!    nobody will ever see it through the task's `JoinHandle`, which was
//!    dropped;
//! 5. `dropping the runtime...`, then a `WARN` with a task dump of what
//!    was still pending at shutdown and is being dropped: one line for
//!    `'forgotten'`, marked `LOST`, held by nobody.

use std::time::Duration;

fn main() -> std::io::Result<()> {
    // Library code only logs; showing the lines is the binary's choice.
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    // Rust's default panic message (a backtrace, with RUST_BACKTRACE=1) is
    // long, and printing it can take long enough that debug mode would call
    // the panicking poll slow too: one line instead.
    std::panic::set_hook(Box::new(|info| {
        let message = info.payload().downcast_ref::<&str>().copied().unwrap_or("(not a string)");
        println!("panic hook: a task panicked: {message:?}");
    }));

    let mut builder = eddy::Builder::new(); // debug mode from EDDY_DEBUG...
    if std::env::var_os("EDDY_DEBUG").is_none() {
        builder.debug(true); // ...on if the variable is not set at all
    }
    let runtime = builder.slow_poll_threshold(Duration::from_millis(100)).build()?;
    runtime.block_on(async {
        let hog = eddy::task::spawn_named("blocking-hog", async {
            println!("hog: blocking the thread for 250 ms (wrong: use spawn_blocking)");
            std::thread::sleep(Duration::from_millis(250));
        });
        hog.await.expect("no panic");

        let polite = eddy::task::spawn_named("polite", async {
            println!("polite: doing the same work on the blocking pool instead");
            eddy::task::spawn_blocking(|| std::thread::sleep(Duration::from_millis(250))).await
        });
        polite.await.expect("no panic").expect("no panic");
        println!("polite: done, and no warning: the loop was free all along");

        // Left running at shutdown: debug mode lists it.
        eddy::task::spawn_named("forgotten", std::future::pending::<()>());
        // Panics with nobody awaiting: debug mode reports it.
        drop(eddy::task::spawn_named("unobserved", async { panic!("nobody is listening") }));
        eddy::task::yield_now().await;
    });
    println!("dropping the runtime...");
    drop(runtime);
    Ok(())
}
