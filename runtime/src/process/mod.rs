//! Child processes, asyncio's `create_subprocess_exec`: spawn a program
//! with its stdin, stdout and stderr as eddy byte streams, and wait for it
//! without blocking the loop. Unix only.
//!
//! # How it is built
//!
//! Spawning is std's `Command` (fork/exec, argument and environment
//! handling). The pipes become eddy streams (see `pipes.rs`). Waiting uses
//! no thread at all: a [`Child`] owns a `SIGCHLD` listener
//! ([`signal`](crate::signal)) created *before* the child is spawned, and
//! [`Child::wait`] loops "`waitpid(pid, WNOHANG)`; if still running, await
//! the next SIGCHLD". The kernel may merge several children's SIGCHLDs
//! into one delivery, which is why every waiter re-checks its own pid on
//! every delivery rather than trusting the count.
//!
//! # When the handle drops
//!
//! Dropping a [`Child`] whose process still runs leaves it running, as in
//! std and asyncio; with [`Command::kill_on_drop`] it is sent `SIGKILL`
//! instead. Either way the exit status is collected later: such a child is
//! kept on a list of orphans that is reaped (`waitpid(WNOHANG)`) whenever
//! this module spawns or waits for a child, so it does not stay a zombie
//! for long in a program that keeps using processes.
//!
//! ```
//! use eddy::process::Command;
//!
//! eddy::run(async {
//!     let output = Command::new("echo").arg("hello").output().await?;
//!     assert!(output.status.success());
//!     assert_eq!(output.stdout, b"hello\n");
//!     Ok::<(), std::io::Error>(())
//! })?;
//! # Ok::<(), std::io::Error>(())
//! ```

use std::ffi::OsStr;
use std::fmt;
use std::io;
use std::path::Path;
use std::process::{ExitStatus, Output, Stdio};
use std::sync::Mutex;

use crate::net::context;
use crate::signal::unix::{signal, Signal, SignalKind};

mod pipes;

pub use pipes::{ChildStderr, ChildStdin, ChildStdout};

/// A program to run, with its arguments, environment and stdio. A thin
/// layer over `std::process::Command`; see [`spawn`](Self::spawn).
pub struct Command {
    inner: std::process::Command,
    kill_on_drop: bool,
}

impl Command {
    /// Runs `program` (looked up in `PATH` if it has no slash).
    pub fn new(program: impl AsRef<OsStr>) -> Command {
        Command { inner: std::process::Command::new(program), kill_on_drop: false }
    }

    /// Adds an argument.
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Command {
        self.inner.arg(arg);
        self
    }

    /// Adds arguments.
    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(&mut self, args: I) -> &mut Command {
        self.inner.args(args);
        self
    }

    /// Sets an environment variable.
    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Command {
        self.inner.env(key, value);
        self
    }

    /// Removes an environment variable.
    pub fn env_remove(&mut self, key: impl AsRef<OsStr>) -> &mut Command {
        self.inner.env_remove(key);
        self
    }

    /// Starts from an empty environment.
    pub fn env_clear(&mut self) -> &mut Command {
        self.inner.env_clear();
        self
    }

    /// Sets the working directory.
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Command {
        self.inner.current_dir(dir);
        self
    }

    /// Sets stdin (`Stdio::piped()` for a [`ChildStdin`]; inherited by default).
    pub fn stdin(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.inner.stdin(cfg);
        self
    }

    /// Sets stdout (`Stdio::piped()` for a [`ChildStdout`]; inherited by default).
    pub fn stdout(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.inner.stdout(cfg);
        self
    }

    /// Sets stderr (`Stdio::piped()` for a [`ChildStderr`]; inherited by default).
    pub fn stderr(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.inner.stderr(cfg);
        self
    }

    /// Whether dropping the [`Child`] while it runs sends it `SIGKILL`
    /// (off by default: see the module docs).
    pub fn kill_on_drop(&mut self, kill: bool) -> &mut Command {
        self.kill_on_drop = kill;
        self
    }

    /// Starts the program. Must be called inside an eddy runtime (the
    /// pipes join the current loop).
    ///
    /// # Errors
    /// Naming the program, e.g. `spawn "no-such-program": No such file or
    /// directory (os error 2)`.
    pub fn spawn(&mut self) -> io::Result<Child> {
        reap_orphans();
        // Listen before spawning: a child that exits at once must not slip
        // between spawn and the first wait.
        let sigchld = signal(SignalKind::child())?;
        let program = self.inner.get_program().to_owned();
        let mut child = self.inner.spawn().map_err(|e| context(e, format_args!("spawn {program:?}")))?;
        let stdin = child.stdin.take().map(ChildStdin::new).transpose();
        let stdout = child.stdout.take().map(ChildStdout::new).transpose();
        let stderr = child.stderr.take().map(ChildStderr::new).transpose();
        let mut child = Child {
            child: Some(child),
            status: None,
            sigchld,
            kill_on_drop: self.kill_on_drop,
            stdin: None,
            stdout: None,
            stderr: None,
        };
        // On a pipe error the half-built Child is dropped: reaped or killed
        // per kill_on_drop, like any other.
        child.stdin = stdin?;
        child.stdout = stdout?;
        child.stderr = stderr?;
        Ok(child)
    }

    /// Runs the program to completion and collects its stdout and stderr
    /// (this sets stdout and stderr to piped, and stdin to null).
    pub async fn output(&mut self) -> io::Result<Output> {
        self.inner.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        self.spawn()?.wait_with_output().await
    }

    /// Runs the program to completion (stdio inherited) and returns its
    /// exit status.
    pub async fn status(&mut self) -> io::Result<ExitStatus> {
        self.spawn()?.wait().await
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

/// A running (or finished) child process, from [`Command::spawn`].
pub struct Child {
    /// `None` once handed to the orphan list (only in `drop`).
    child: Option<std::process::Child>,
    /// Set once reaped: later waits return it at once.
    status: Option<ExitStatus>,
    sigchld: Signal,
    kill_on_drop: bool,
    /// The child's stdin, if piped. `wait` closes it first.
    pub stdin: Option<ChildStdin>,
    /// The child's stdout, if piped.
    pub stdout: Option<ChildStdout>,
    /// The child's stderr, if piped.
    pub stderr: Option<ChildStderr>,
}

impl Child {
    /// The child's process id, while it has not been reaped.
    pub fn id(&self) -> Option<u32> {
        match self.status {
            Some(_) => None,
            None => self.child.as_ref().map(std::process::Child::id),
        }
    }

    /// The exit status if the child has exited (reaping it), without waiting.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        if let Some(status) = self.status {
            return Ok(Some(status));
        }
        let Some(child) = self.child.as_mut() else { return Ok(None) };
        let pid = child.id();
        self.status = child.try_wait().map_err(|e| context(e, format_args!("wait for child {pid}")))?;
        Ok(self.status)
    }

    /// Waits for the child to exit and returns its status. Closes stdin
    /// first, so a child reading its input to the end can finish. Awaiting
    /// it again returns the same status.
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        drop(self.stdin.take());
        loop {
            if let Some(status) = self.try_wait()? {
                return Ok(status);
            }
            self.sigchld.recv().await;
            reap_orphans();
        }
    }

    /// Waits for the child while collecting all of its stdout and stderr.
    pub async fn wait_with_output(mut self) -> io::Result<Output> {
        drop(self.stdin.take());
        // Both pipes are read at once: a child that fills one while we
        // wait on the other would otherwise deadlock.
        let stderr = self.stderr.take().map(|mut stderr| {
            crate::spawn(async move {
                let mut bytes = Vec::new();
                crate::io::read_to_end(&mut stderr, &mut bytes).await.map(|_| bytes)
            })
        });
        let mut stdout = Vec::new();
        if let Some(mut pipe) = self.stdout.take() {
            crate::io::read_to_end(&mut pipe, &mut stdout).await?;
        }
        let stderr = match stderr {
            Some(task) => task.await.map_err(|e| io::Error::other(format!("read child stderr: {e}")))??,
            None => Vec::new(),
        };
        let status = self.wait().await?;
        Ok(Output { status, stdout, stderr })
    }

    /// Sends `SIGKILL` without waiting (then [`wait`](Self::wait) to reap).
    /// Does nothing if the child was already reaped.
    pub fn start_kill(&mut self) -> io::Result<()> {
        if self.status.is_some() {
            return Ok(());
        }
        let Some(child) = self.child.as_mut() else { return Ok(()) };
        let pid = child.id();
        child.kill().map_err(|e| context(e, format_args!("kill child {pid}")))
    }

    /// Sends `SIGKILL` and waits for the child to exit.
    pub async fn kill(&mut self) -> io::Result<ExitStatus> {
        self.start_kill()?;
        self.wait().await
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if self.status.is_some() {
            return;
        }
        let Some(mut child) = self.child.take() else { return };
        if self.kill_on_drop {
            let _ = child.kill();
        }
        match child.try_wait() {
            Ok(None) => orphans().push(child),
            Ok(Some(_)) => {}
            Err(error) => log::warn!("reaping child {} on drop: {error}", child.id()),
        }
    }
}

impl fmt::Debug for Child {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Child").field("pid", &self.id()).field("status", &self.status).finish()
    }
}

/// Children whose handle dropped while they ran, still to be reaped.
static ORPHANS: Mutex<Vec<std::process::Child>> = Mutex::new(Vec::new());

fn orphans() -> std::sync::MutexGuard<'static, Vec<std::process::Child>> {
    ORPHANS.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Collects the status of every orphan that has exited.
fn reap_orphans() {
    orphans().retain_mut(|child| matches!(child.try_wait(), Ok(None)));
}
