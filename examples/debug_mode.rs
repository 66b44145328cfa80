//! Debug mode, asyncio's `asyncio.run(main(), debug=True)`.
//!
//! A task that blocks the thread (here `std::thread::sleep`, in real code a
//! slow computation or a blocking file read) stalls every other task on its
//! loop. Debug mode times every poll and warns about the slow one, naming
//! the task and where it was spawned. It also lists tasks still pending when
//! the runtime shuts down and panics that nobody awaited.
//!
//! ```text
//! cargo run --example debug_mode          # debug mode forced on below
//! EDDY_DEBUG=1 cargo run --example hello  # or switch it on from outside
//! ```

use std::time::Duration;

fn main() -> std::io::Result<()> {
    // Library code only logs; showing the lines is the binary's choice.
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();

    let runtime = eddy::Builder::new().debug(true).slow_poll_threshold(Duration::from_millis(100)).build()?;
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
