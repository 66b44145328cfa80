//! `run_app`: serve until SIGTERM, then shut down gracefully: the request
//! in flight is answered, the cleanup hooks run, and `run_app` returns.
//!
//! The signal goes to `run_app`'s signal thread only (`tgkill`), not to the
//! whole process: the test harness's own threads do not block SIGTERM, and
//! a process-wide signal could land on one of them and end the run.
//!
//! Linux only: finding the thread (`/proc/self/task`) and `tgkill` have no
//! portable equivalent; elsewhere the file compiles to nothing.
#![cfg(target_os = "linux")]

mod http_support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use eddy_http::App;
use http_support::{get, reply, Client};

/// A port nothing listens on right now (the kernel just handed it out).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The thread id of this process's thread named `name`, once it exists.
fn thread_id(name: &str) -> libc::pid_t {
    for _ in 0..2000 {
        for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
            let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
            if comm.trim_end() == name {
                return task.file_name().to_str().unwrap().parse().unwrap();
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("no thread named {name:?}");
}

#[test]
fn sigterm_finishes_the_request_in_flight_runs_cleanup_and_returns() {
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

    let signal_thread = thread_id("eddy-signals");
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
    started.recv_timeout(Duration::from_secs(10)).expect("the handler never started");

    // SAFETY: tgkill only sends a signal; the ids are this process's own.
    let sent = unsafe { libc::syscall(libc::SYS_tgkill, libc::getpid(), signal_thread, libc::SIGTERM) };
    assert_eq!(sent, 0, "tgkill: {}", std::io::Error::last_os_error());

    assert_eq!(
        client.response().text(),
        reply("200 OK", &[], "finished after the listener closed", Some("close"))
    );
    client.assert_closed();
    server.join().unwrap().expect("run_app failed");
    assert!(cleaned.load(Ordering::SeqCst), "the cleanup hook did not run");
}
