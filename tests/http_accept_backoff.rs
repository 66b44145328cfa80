//! Out of file descriptors: when `accept` fails with `EMFILE`, the server
//! keeps serving the connections it has, retries on a timer rather than
//! spinning, and accepts again once descriptors are free.
//!
//! This file holds a single test on purpose: it exhausts the process's
//! descriptor table, which would break any test running beside it.
//!
//! Linux only (it counts open descriptors in `/proc/self/fd`); elsewhere the
//! file compiles to nothing.
#![cfg(target_os = "linux")]

mod http_support;

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use eddy::time::{self, Instant};
use eddy_http::App;
use http_support::{bind, get, ok, run_paused, AsyncClient};

/// Sets the soft descriptor limit; returns the previous one.
fn set_soft_fd_limit(soft: libc::rlim_t) -> libc::rlim_t {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        let previous = limit.rlim_cur;
        limit.rlim_cur = soft.min(limit.rlim_max);
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
        previous
    }
}

/// Duplicates `fd` until the descriptor table is full.
fn exhaust_descriptors(fd: &OwnedFd) -> Vec<OwnedFd> {
    let mut hoard = Vec::new();
    loop {
        // SAFETY: dup on a descriptor we own; the result is checked.
        let new = unsafe { libc::dup(fd.as_raw_fd()) };
        if new < 0 {
            let error = std::io::Error::last_os_error();
            assert_eq!(error.raw_os_error(), Some(libc::EMFILE), "{error}");
            return hoard;
        }
        // SAFETY: `new` is a fresh descriptor that nothing else owns.
        hoard.push(unsafe { OwnedFd::from_raw_fd(new) });
    }
}

#[test]
fn out_of_descriptors_the_server_keeps_serving_backs_off_and_accepts_again() {
    // A server that spun on EMFILE would never let the paused clock move,
    // and this test would hang: turn that into a failure.
    std::thread::spawn(|| {
        std::thread::sleep(Duration::from_secs(20));
        eprintln!("the accept back-off test hung: the server spins on EMFILE?");
        std::process::exit(1);
    });
    run_paused(|| async {
        let server = bind(App::new().get("/", |_req| async { "root" })).await;
        let addr = server.local_addr();
        let mut served = AsyncClient::connect(addr).await;
        served.send(get("/")).await;
        assert_eq!(served.response().await.text(), ok("root"));

        // Room for a few hundred more descriptors only, then none at all
        // but one, which the next client's own socket takes.
        let open = std::fs::read_dir("/proc/self/fd").unwrap().count() as libc::rlim_t;
        let previous_limit = set_soft_fd_limit(open + 256);
        let template: OwnedFd = std::fs::File::open("/dev/null").unwrap().into();
        let mut hoard = exhaust_descriptors(&template);
        drop(hoard.pop());
        let mut waiting = AsyncClient::connect(addr).await;
        waiting.send(get("/")).await;
        let refused_at = Instant::now();

        // The server cannot accept it, but serves the connection it has.
        let early = time::timeout(Duration::from_millis(250), waiting.read_some()).await;
        assert!(early.is_err(), "a connection was served without a descriptor for it");
        served.send(get("/")).await;
        assert_eq!(served.response().await.text(), ok("root"));

        // With a descriptor free again, the next retry accepts it; retries
        // come on a timer, so the clock has moved on by then.
        drop(hoard.pop());
        assert_eq!(waiting.response().await.text(), ok("root"));
        assert!(refused_at.elapsed() >= Duration::from_millis(250));

        drop(hoard);
        set_soft_fd_limit(previous_limit);
        server.shutdown().await.unwrap();
    });
}
