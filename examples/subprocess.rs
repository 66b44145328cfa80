//! Run a child process and stream its output line by line as it comes.
//! asyncio's `create_subprocess_exec` + `async for line in proc.stdout`.
//!
//! ```text
//! cargo run --example subprocess
//! cargo run --example subprocess -- ls -l /      # any command
//! ```
//!
//! The child's stdout is a pipe, wrapped as an eddy byte stream; a
//! `BufReader` cuts it into lines. Each line is printed with the time it
//! arrived: the default child prints one line every 100 ms, and the times
//! show the lines arriving one by one while the child runs, not all at
//! exit. Meanwhile the loop stays free: a ticker task prints a dot every
//! 50 ms. The exit status comes from `wait()`, which sleeps until SIGCHLD
//! says a child exited (no thread waits in `waitpid`).

use std::io;
use std::process::Stdio;
use std::time::{Duration, Instant};

use eddy::io::BufReader;
use eddy::process::Command;

fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (program, args) = match args.split_first() {
        Some((program, args)) => (program.clone(), args.to_vec()),
        None => (
            "sh".to_string(),
            vec!["-c".to_string(), "for i in 1 2 3 4; do echo \"line $i\"; sleep 0.1; done".to_string()],
        ),
    };
    eddy::run(async move {
        let started = Instant::now();
        let mut child = Command::new(&program).args(&args).stdout(Stdio::piped()).spawn()?;
        println!("started {program} (pid {})", child.id().unwrap_or(0));

        // Proof that the loop is not blocked while we read and wait.
        let ticker = eddy::spawn(async {
            loop {
                eddy::time::sleep(Duration::from_millis(50)).await;
                println!("  . (the loop is free)");
            }
        });

        let stdout = child.stdout.take().ok_or_else(|| io::Error::other("stdout was not piped"))?;
        let mut lines = BufReader::new(stdout).lines();
        while let Some(line) = lines.next_line().await? {
            println!("{:>6.0} ms  {line}", started.elapsed().as_secs_f64() * 1000.0);
        }
        let status = child.wait().await?;
        ticker.abort();
        println!("{program} exited: {status}");
        Ok(())
    })
}
