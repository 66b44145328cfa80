//! Child processes: piped stdio as eddy streams, waiting without blocking
//! the loop (reaped on SIGCHLD, no thread per child), many children at
//! once, kill, and kill-on-drop. Uses only `sh`, `cat`, `sleep` and `true`.
#![cfg(unix)]

use std::cell::Cell;
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::rc::Rc;
use std::time::Duration;

use eddy::io::{AsyncReadExt, BufReader};
use eddy::process::Command;

/// Bounds a wait so that a bug fails the test instead of hanging it.
async fn bounded<T>(future: impl std::future::Future<Output = T>) -> T {
    eddy::time::timeout(Duration::from_secs(10), future).await.expect("the child did not finish within 10 s")
}

#[test]
fn output_collects_stdout_stderr_and_the_exit_code() {
    eddy::run(async {
        let output = bounded(Command::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]).output())
            .await
            .unwrap();
        assert_eq!(output.stdout, b"out\n");
        assert_eq!(output.stderr, b"err\n");
        assert_eq!(output.status.code(), Some(3));
    });
}

#[test]
fn piped_stdin_and_stdout_are_byte_streams_read_line_by_line() {
    eddy::run(async {
        let mut child = Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        for i in 0..3 {
            stdin.write_all(format!("line {i}\n").as_bytes()).await.unwrap();
            // Each line comes back before the next is written: streamed,
            // not collected at exit.
            assert_eq!(lines.next_line().await.unwrap().unwrap(), format!("line {i}"));
        }
        drop(stdin);
        assert_eq!(lines.next_line().await.unwrap(), None);
        assert!(bounded(child.wait()).await.unwrap().success());
    });
}

#[test]
fn waiting_for_a_child_does_not_block_the_loop() {
    eddy::run(async {
        // The child waits for its stdin to close, which only this loop can do.
        let mut child =
            Command::new("sh").args(["-c", "cat > /dev/null"]).stdin(Stdio::piped()).spawn().unwrap();
        let stdin = child.stdin.take().unwrap();
        let ticks = Rc::new(Cell::new(0));
        let ticker = {
            let ticks = ticks.clone();
            eddy::spawn(async move {
                for _ in 0..3 {
                    eddy::time::sleep(Duration::from_millis(1)).await;
                    ticks.set(ticks.get() + 1);
                }
                drop(stdin); // now the child can finish
            })
        };
        let status = bounded(child.wait()).await.unwrap();
        assert_eq!(ticks.get(), 3, "timers ran while the child was being waited for");
        assert!(status.success());
        ticker.await.unwrap();
        // A second wait returns the same status at once.
        assert_eq!(child.wait().await.unwrap(), status);
        assert_eq!(child.id(), None, "reaped");
    });
}

#[test]
fn many_children_exiting_together_are_all_reaped() {
    eddy::run(async {
        let waits: Vec<_> = (0..20)
            .map(|i| {
                let mut child = Command::new("sh").args(["-c", &format!("exit {}", i % 4)]).spawn().unwrap();
                eddy::spawn(async move { bounded(child.wait()).await.map(|status| status.code()) })
            })
            .collect();
        for (i, wait) in waits.into_iter().enumerate() {
            assert_eq!(wait.await.unwrap().unwrap(), Some((i % 4) as i32));
        }
    });
}

#[test]
fn kill_ends_the_child_with_sigkill() {
    eddy::run(async {
        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        let status = bounded(child.kill()).await.unwrap();
        assert_eq!(status.signal(), Some(libc::SIGKILL));
    });
}

#[test]
fn kill_on_drop_kills_a_running_child_when_its_handle_drops() {
    eddy::run(async {
        // The child's stdout is a pipe this test holds the other end of: it
        // reads EOF only once the child (its only writer) is dead.
        let child =
            Command::new("sleep").arg("30").stdout(Stdio::piped()).kill_on_drop(true).spawn().unwrap();
        let mut child = child;
        let mut stdout = child.stdout.take().unwrap();
        drop(child);
        let mut rest = Vec::new();
        bounded(stdout.read_to_end(&mut rest)).await.unwrap();
        assert!(rest.is_empty());
    });
}

#[test]
fn spawning_a_missing_program_names_it() {
    eddy::run(async {
        let error = Command::new("eddy-no-such-program").spawn().unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::NotFound);
        assert!(error.to_string().contains("spawn \"eddy-no-such-program\""), "{error}");
    });
}

#[test]
fn a_child_dropped_while_running_is_reaped_later_not_left_a_zombie() {
    eddy::run(async {
        // `cat` exits once its stdin closes, which dropping the handle does:
        // it is most likely still running at the drop.
        let child = Command::new("cat").stdin(Stdio::piped()).spawn().unwrap();
        let pid = child.id().unwrap() as libc::pid_t;
        drop(child);
        // Each spawn-and-wait reaps the orphans that have exited meanwhile.
        // A zombie still answers kill(pid, 0); a reaped process does not.
        let mut reaped = false;
        for _ in 0..500 {
            bounded(Command::new("true").status()).await.unwrap();
            // SAFETY: signal 0 only checks that the process exists.
            if unsafe { libc::kill(pid, 0) } == -1 {
                reaped = true;
                break;
            }
            eddy::time::sleep(Duration::from_millis(1)).await;
        }
        assert!(reaped, "the dropped child was never reaped");
    });
}
