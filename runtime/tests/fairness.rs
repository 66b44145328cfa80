//! Fairness, end to end: a task whose resource is always ready cannot
//! freeze its loop, and neither can a `block_on` future that keeps waking
//! itself. These are the programs from issue 7 (items 6 and 7), each with
//! a cap that turns "the loop froze" into a failed assertion instead of a
//! hung test suite.
//!
//! The shape of each test: a *spinner* task loops over an always-ready
//! resource, ignoring what it gets, as naive code does; a *probe* task
//! counts its own polls with `yield_now`; the main future waits on a short
//! timer. The budget promises that the spinner does exactly `PER_POLL`
//! operations per poll, so the probe runs between every `PER_POLL`
//! operations, and that the timer fires at the first tick after its
//! deadline. Without the budget the spinner's first poll runs until its
//! cap, and the main future sees the cap reached.

use std::cell::Cell;
use std::future::Future;
use std::io::{Read, Write};
use std::rc::Rc;
use std::time::Duration;

use eddy::net::{TcpListener, TcpStream};
use eddy::sync::mpsc;
use eddy::task::{yield_now, PER_POLL};

/// Operations after which a spinner gives up. A budgeted spinner does a few
/// hundred before the main future's 1 ms timer fires; an unbudgeted one
/// reaches this in its first poll (a second or so), and the test fails.
const CAP: u64 = 1_000_000;

/// Real time the main future waits: short, and only the *order* of events
/// is asserted, never how long anything took.
const MAIN_WAIT: Duration = Duration::from_millis(1);

/// `Builder::tick_budget`'s default: polls between two looks at I/O.
const TICK_BUDGET: u32 = 128;

/// What the spinner did, shared with the main future.
#[derive(Default)]
struct Spin {
    /// Operations done so far.
    ops: Cell<u64>,
    /// The most operations done without the probe running in between.
    longest_run: Cell<u64>,
    run: Cell<u64>,
    probe_seen: Cell<u64>,
}

impl Spin {
    /// Records one operation, given the probe's poll count now.
    fn op(&self, probe_polls: u64) {
        self.ops.set(self.ops.get() + 1);
        if probe_polls != self.probe_seen.get() {
            self.probe_seen.set(probe_polls);
            self.run.set(0);
        }
        self.run.set(self.run.get() + 1);
        self.longest_run.set(self.longest_run.get().max(self.run.get()));
    }
}

/// Runs `spinner` (given the shared record and the probe's counter) beside a
/// probe task, waits [`MAIN_WAIT`] in the main future, and checks that the
/// main future woke while the spinner was still spinning, and that the probe
/// ran between every `PER_POLL` of its operations.
async fn spin_beside_probe_and_timer<S, F>(spinner: S)
where
    S: FnOnce(Rc<Spin>, Rc<Cell<u64>>) -> F,
    F: Future<Output = ()> + 'static,
{
    let probe_polls = Rc::new(Cell::new(0u64));
    let polls = probe_polls.clone();
    eddy::spawn(async move {
        loop {
            polls.set(polls.get() + 1);
            yield_now().await;
        }
    });
    let spin = Rc::new(Spin::default());
    eddy::spawn(spinner(spin.clone(), probe_polls.clone()));
    // Start the timer once the spinner spins (a socket spinner first
    // connects), then see what it did until the timer fired.
    let started = async {
        while spin.ops.get() == 0 {
            yield_now().await;
        }
    };
    eddy::time::timeout(Duration::from_secs(10), started).await.expect("the spinner never started");
    eddy::time::sleep(MAIN_WAIT).await;
    let ops = spin.ops.get();
    assert!(ops < CAP, "the timer fired only after the spinner gave up: the loop was frozen");
    assert_eq!(
        spin.longest_run.get(),
        u64::from(PER_POLL),
        "the spinner yields to the probe after exactly PER_POLL operations"
    );
}

#[test]
fn a_recv_loop_on_a_closed_channel_does_not_freeze_the_loop() {
    eddy::run(spin_beside_probe_and_timer(|spin, probe| async move {
        let (tx, mut rx) = mpsc::channel::<u32>(1);
        drop(tx);
        while spin.ops.get() < CAP {
            let _ = rx.recv().await; // `None`, forever, at once
            spin.op(probe.get());
        }
    }));
}

#[test]
fn a_send_loop_into_a_drained_channel_does_not_freeze_the_loop() {
    eddy::run(spin_beside_probe_and_timer(|spin, probe| async move {
        let (tx, rx) = mpsc::channel::<u32>(1);
        drop(rx);
        while spin.ops.get() < CAP {
            let _ = tx.send(1).await; // `Err(SendError)`, forever, at once
            spin.op(probe.get());
        }
    }));
}

#[test]
fn a_read_loop_on_a_socket_kept_full_by_another_thread_does_not_starve_a_timer() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // Writes until the reader's side closes (when the runtime drops it).
    let writer = std::thread::spawn(move || {
        let (mut socket, _) = listener.accept().unwrap();
        let chunk = [7u8; 16 * 1024];
        while socket.write_all(&chunk).is_ok() {}
    });
    eddy::run(spin_beside_probe_and_timer(move |spin, probe| async move {
        let stream = TcpStream::connect(addr).await.unwrap();
        // Wait until the socket is full before counting, so every counted
        // read finds data.
        stream.readable().await.unwrap();
        let mut buf = [0; 64];
        while spin.ops.get() < CAP {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => spin.op(probe.get()),
            }
        }
    }));
    writer.join().unwrap();
}

/// Issue 7, item 6's first program: `loop { match l.accept().await { Ok(..)
/// => spawn(..), Err(_) => continue } }` under `EMFILE`. The connection
/// stays in the listen queue, so the listener is always readable and every
/// `accept` fails at once. Run in a child process, because running out of
/// file descriptors would break every other test of this binary; the parent
/// only checks how the child exited, with a deadline so a frozen loop fails
/// the test instead of hanging it.
#[test]
fn an_accept_loop_out_of_file_descriptors_does_not_freeze_the_loop() {
    const CHILD: &str = "EDDY_TEST_EMFILE_CHILD";
    if std::env::var_os(CHILD).is_some() {
        return emfile_child();
    }
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["an_accept_loop_out_of_file_descriptors_does_not_freeze_the_loop", "--exact", "--nocapture"])
        .env(CHILD, "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the child's loop froze: no exit within 30 s");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let mut output = String::new();
    child.stdout.take().unwrap().read_to_string(&mut output).unwrap();
    child.stderr.take().unwrap().read_to_string(&mut output).unwrap();
    assert!(status.success(), "child failed:\n{output}");
    assert!(output.contains("1 passed"), "the child ran the scenario:\n{output}");
}

fn emfile_child() {
    eddy::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let _client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let _exhausted = exhaust_file_descriptors();
        let saw_emfile = Rc::new(Cell::new(false));
        let saw = saw_emfile.clone();
        spin_beside_probe_and_timer(move |spin, probe| async move {
            while spin.ops.get() < CAP {
                match listener.accept().await {
                    Ok(_) => {}
                    Err(error) => saw.set(saw.get() || os_code(&error) == Some(libc::EMFILE)),
                }
                spin.op(probe.get());
            }
        })
        .await;
        assert!(saw_emfile.get(), "accept failed with EMFILE");
    });
}

/// The OS error code under eddy's context wrapper (see `eddy::net`).
fn os_code(error: &std::io::Error) -> Option<i32> {
    use std::error::Error;
    error.raw_os_error().or_else(|| error.source()?.downcast_ref::<std::io::Error>()?.raw_os_error())
}

/// Lowers the open-file limit to what is open now and fills it, so the next
/// descriptor the process asks for fails with `EMFILE`. Returns the
/// descriptors it opened (closed on drop).
fn exhaust_file_descriptors() -> Vec<std::fs::File> {
    let mut held = Vec::new();
    // A limit a few above what is open, then fill those few.
    let mut open = 0;
    for fd in 0..1024 {
        // SAFETY: fcntl(F_GETFD) only asks whether `fd` is open.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } != -1 {
            open = fd + 1;
        }
    }
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes into the struct we pass.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) }, 0);
    limit.rlim_cur = (open + 8) as libc::rlim_t;
    // SAFETY: setrlimit reads the struct we pass.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) }, 0);
    while let Ok(file) = std::fs::File::open("/dev/null") {
        held.push(file);
    }
    held
}

/// Issue 7, item 7: the main future waits for a task by looping on
/// `yield_now`. It wakes itself every time, so the loop never sleeps; it
/// must still look at I/O every `tick_budget` polls, or the task's socket
/// is never read.
#[test]
fn a_main_future_that_busy_yields_does_not_starve_io() {
    eddy::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let waiting = Rc::new(Cell::new(false));
        let done = Rc::new(Cell::new(false));
        let (task_waiting, task_done) = (waiting.clone(), done.clone());
        eddy::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            task_waiting.set(true);
            let mut buf = [0; 5];
            // Nothing sent yet: this read has to wait for an I/O event.
            assert_eq!(stream.read(&mut buf).await.unwrap(), 5);
            task_done.set(true);
        });
        while !waiting.get() {
            yield_now().await;
        }
        yield_now().await; // the task is now parked in its read
        client.write_all(b"hello").unwrap();
        // A cap so a starved socket fails the test rather than hanging it:
        // the read's event is collected within 128 polls of the main future.
        let mut yields = 0u32;
        while !done.get() && yields < 100_000 {
            yield_now().await;
            yields += 1;
        }
        assert!(done.get(), "the task's socket was never polled while main kept yielding");
        assert!(yields <= 2 * TICK_BUDGET, "I/O was looked at within the tick budget (took {yields} yields)");
    });
}
