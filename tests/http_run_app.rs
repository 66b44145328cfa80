//! `run_app`: serve until SIGINT or SIGTERM, then shut down gracefully:
//! the request in flight is answered, the cleanup hooks run, and `run_app`
//! returns. A second signal during that shutdown exits at once with
//! `128 + signal`, skipping the cleanup hooks.
//!
//! The signals go to the whole process (`kill`), as a supervisor or a
//! terminal sends them: `run_app` takes them with `eddy::signal`, whose
//! handler any thread may run, so the test harness's own threads do not
//! matter. Sending SIGTERM to the test process is safe once that handler
//! is installed, which `run_app` does before it listens: each test waits
//! until the server answers before it signals. The second-signal test
//! runs `run_app` in a child process (this test binary again, running
//! only `child_serves_until_signalled`), since it ends its process.
#![cfg(unix)]

mod http_support;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use eddy_http::App;
use http_support::{get, reply, Client};

/// Set (to the socket path) in the child process of the second-signal test.
const CHILD_ENV: &str = "EDDY_RUN_APP_CHILD";

/// What the child prints once its stuck handler has started.
const STARTED: &str = "child: the handler started";

/// What the child's cleanup hook prints (it must not run).
const CLEANED: &str = "child: cleanup ran";

/// How long a test waits for the other side; never reached when passing.
const PATIENCE: Duration = Duration::from_secs(10);

/// A port nothing listens on right now, from *below* the kernel's
/// ephemeral range. The test probes the port with `connect` until
/// `run_app` listens, and a connect to a local port that nobody listens on
/// can pick that very port as its own source port (TCP's simultaneous
/// open: the socket connects to itself) and so hold it: `run_app`'s bind
/// then fails with `AddrInUse`. A port the kernel never hands out as a
/// source port cannot be taken that way. (This failed about one run in
/// six once `run_app` took longer to start under a parallel test.)
fn free_port() -> u16 {
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    // Spread the start by process id so parallel runs of this binary
    // rarely try the same ports first.
    let span = u32::from(low.saturating_sub(10_000)).max(1);
    let first = 10_000 + (std::process::id() % span) as u16;
    (first..low)
        .chain(10_000..first)
        .find(|&port| std::net::TcpListener::bind(("127.0.0.1", port)).is_ok())
        .expect("a free port below the ephemeral range")
}

/// Held by the two tests that run a server in this process or spawn a
/// child: they must not overlap. A child is spawned by fork, then exec:
/// between the two, the child holds a copy of every descriptor of this
/// process, among them `free_port`'s short-lived listener if the fork
/// lands while it exists. That listener then outlives its drop, still
/// listening on the port, until the exec closes it: the other test's
/// probing `connect` succeeds against it, its request goes into that
/// listener's queue, and the exec resets it (the client's socket was
/// found closed, created before `run_app`'s own listener, with the loop
/// rightly waiting for a connection that never came: about one run in 20).
/// Serializing the two keeps the fork away from this test's ports.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn send_signal(pid: libc::pid_t, signal: libc::c_int) {
    // SAFETY: kill only sends a signal.
    let sent = unsafe { libc::kill(pid, signal) };
    assert_eq!(sent, 0, "kill: {}", std::io::Error::last_os_error());
}

#[test]
fn sigterm_finishes_the_request_in_flight_runs_cleanup_and_returns() {
    let _one_at_a_time = ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let port = free_port();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let (started_tx, started) = mpsc::channel::<()>();
    let started_tx = Mutex::new(started_tx);
    let cleaned = Arc::new(AtomicBool::new(false));
    let cleaned_by_hook = cleaned.clone();
    let app = App::new()
        .get("/", |_req| async { "root" })
        .get("/in-flight", move |_req| {
            started_tx.lock().unwrap().send(()).unwrap();
            async move {
                // Finish only once the server has stopped accepting: then
                // this request is certainly in flight during shutdown.
                while eddy::net::TcpStream::connect(addr).await.is_ok() {
                    eddy::time::sleep(Duration::from_millis(1)).await;
                }
                "finished after the listener closed"
            }
        })
        .on_cleanup(move || {
            let cleaned = cleaned_by_hook.clone();
            async move {
                cleaned.store(true, Ordering::SeqCst);
                Ok(())
            }
        });
    let server = std::thread::spawn(move || eddy_http::run_app(app, addr));

    // Listening means eddy's handlers are installed: signalling is safe.
    let mut client = (0..2000)
        .find_map(|_| match std::net::TcpStream::connect(addr) {
            Ok(_) => Some(Client::connect(addr)),
            Err(_) => {
                std::thread::sleep(Duration::from_millis(5));
                None
            }
        })
        .expect("run_app never listened");
    client.send(get("/in-flight"));
    started.recv_timeout(PATIENCE).expect("the handler never started");

    // SAFETY: getpid has no preconditions.
    send_signal(unsafe { libc::getpid() }, libc::SIGTERM);

    assert_eq!(
        client.response().text(),
        reply("200 OK", &[], "finished after the listener closed", Some("close"))
    );
    client.assert_closed();
    drop(client);
    server.join().unwrap().expect("run_app failed");
    assert!(cleaned.load(Ordering::SeqCst), "the cleanup hook did not run");
}

/// The child of `a_second_signal_exits_at_once_without_the_cleanup_hooks`:
/// `run_app_unix` with a handler that never finishes. Does nothing in a
/// normal test run.
#[test]
fn child_serves_until_signalled() {
    let Some(path) = std::env::var_os(CHILD_ENV) else { return };
    let app = App::new()
        .get("/stuck", |_req| async {
            println!("{STARTED}");
            std::future::pending::<&str>().await
        })
        .on_cleanup(|| async {
            println!("{CLEANED}");
            Ok(())
        });
    let outcome = eddy_http::run_app_unix(app, PathBuf::from(path));
    panic!("run_app returned ({outcome:?}) although a handler never finished");
}

#[test]
fn a_second_signal_exits_at_once_without_the_cleanup_hooks() {
    let _one_at_a_time = ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let path = std::env::temp_dir().join(format!("eddy-run-app-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_serves_until_signalled", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the child");
    let pid = child.id() as libc::pid_t;
    let deadline = Instant::now() + PATIENCE;

    // Listening (handlers installed), then a request the child never finishes.
    let mut client = loop {
        match UnixStream::connect(&path) {
            Ok(client) => break client,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            Err(error) => {
                let _ = child.kill();
                panic!("the child never listened on {}: {error}", path.display());
            }
        }
    };
    client.write_all(get("/stuck").as_bytes()).unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    // libtest prints "test NAME ... " first, on the same line.
    while !line.contains(STARTED) {
        line.clear();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "the child ended before its handler started");
    }

    // The first signal starts the graceful shutdown, which the stuck
    // handler holds up: the socket file goes, the process stays.
    send_signal(pid, libc::SIGTERM);
    while path.exists() {
        assert!(Instant::now() < deadline, "the first signal did not start the shutdown");
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(child.try_wait().unwrap().is_none(), "the first signal ended the child");

    // The second ends it at once, with 128 + SIGTERM and no cleanup.
    send_signal(pid, libc::SIGTERM);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            panic!("the second signal did not end the child");
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    assert_eq!(status.code(), Some(128 + libc::SIGTERM), "{status:?}");
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert!(!rest.contains(CLEANED), "the cleanup hooks ran: {rest:?}");
}
