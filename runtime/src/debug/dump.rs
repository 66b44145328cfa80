//! [`TaskDump`]: every live task of one loop, and who holds its waker.
//!
//! Taken on the loop itself (see [`Handle::dump`](crate::Handle::dump)),
//! between two polls or from inside one, so nothing it reads can change
//! under it except what other threads do to wakers; see the module docs of
//! [`crate::debug`] for how each figure is obtained and what is exact.

use std::collections::HashMap;
use std::fmt;
use std::os::fd::RawFd;
use std::panic::Location;
use std::sync::Arc;
use std::time::Duration;

use super::holders::Kind;
use crate::event_loop::Core;
use crate::task::cell::Header;
use crate::task::{Runnable, TaskId};
use crate::time::Instant;

/// A snapshot of one event loop's live tasks.
///
/// `Display` prints a table, one task a line; the fields (public, and the
/// same through [`TaskEntry`]'s accessors) are there for programs: tests, a
/// health endpoint, a live page.
///
/// ```
/// use std::time::Duration;
///
/// eddy::run(async {
///     let sleeper = eddy::task::spawn_named("sleeper", eddy::time::sleep(Duration::from_secs(60)));
///     eddy::task::yield_now().await; // let it arm its timer
///     let dump = eddy::Handle::current().dump();
///     let entry = dump.task(sleeper.id()).unwrap();
///     assert!(matches!(entry.holders[..], [eddy::debug::Holder::Timer { .. }]));
///     assert_eq!(dump.lost().count(), 0);
///     println!("{dump}");
/// });
/// ```
#[derive(Clone, Debug)]
pub struct TaskDump {
    /// The loop's number (as in task ids).
    pub loop_id: u32,
    /// False when the loop did not answer in time (it is stuck inside a
    /// poll, or it is loop 0 and no `block_on` drives it): `tasks` is then
    /// empty and says nothing.
    pub answered: bool,
    /// Every live task of the loop, in the order of the loop's task list.
    pub tasks: Vec<TaskEntry>,
}

/// One task in a [`TaskDump`].
#[derive(Clone, Debug)]
pub struct TaskEntry {
    /// The task's id.
    pub id: TaskId,
    /// The name given to `spawn_named`, if any.
    pub name: Option<String>,
    /// Where it was spawned.
    pub spawned_at: &'static Location<'static>,
    /// What it is doing.
    pub state: TaskState,
    /// Polls so far.
    pub polls: u64,
    /// Total time spent inside its polls; `None` when the loop does not time
    /// polls (it does in debug mode only: timing costs two clock reads per
    /// poll).
    pub busy: Option<Duration>,
    /// Loop-clock time since its last poll began, as the loop's cached clock
    /// saw it (which the loop refreshes once per tick, after it parks: so
    /// to within one tick); `None` if it was never polled.
    pub since_last_poll: Option<Duration>,
    /// Who holds its waker right now. Empty for a task that is scheduled or
    /// running (it needs no waker) — or, if it is idle, that is lost.
    pub holders: Vec<Holder>,
}

/// A task's state, as the loop sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskState {
    /// Woken (or just spawned, or aborted): in the run queue or on its way
    /// there from another thread.
    Scheduled,
    /// Being polled right now (the dump was taken from inside this task).
    Running,
    /// Its last poll returned `Pending`; it waits for a wake.
    Idle,
    /// It completed while the dump was being taken.
    Finished,
}

/// Something that holds a task's waker, and so can wake it. Non-exhaustive:
/// new kinds of resources may be told apart later.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Holder {
    /// A timer of the loop's wheel, due at `deadline`.
    Timer {
        /// When it fires (loop clock).
        deadline: Instant,
        /// How long that was from the moment of the dump.
        due_in: Duration,
    },
    /// A socket (or pipe) waiting for readiness.
    Socket {
        /// Its file descriptor.
        fd: RawFd,
        /// The direction the task waits for.
        interest: Interest,
    },
    /// A channel, or a sync primitive's wait list.
    Resource {
        /// What it is ("mpsc receiver (awaiting a value)", ...).
        kind: &'static str,
        /// Its address, to tell two of them apart.
        address: usize,
        /// How many of the task's wakers such resources hold (a task in a
        /// `select!` over two channels waits on both); `kind` and `address`
        /// name the last one that stored one.
        wakers: usize,
    },
    /// The `JoinHandle` of another task: this task awaits `task`.
    JoinHandle {
        /// The awaited task.
        task: TaskId,
    },
    /// Clones of the waker outside eddy: a user struct, another
    /// executor's combinator, a foreign thread. eddy cannot tell whether
    /// they will ever be woken, so such a task is never reported as lost.
    UserCode {
        /// How many clones.
        wakers: usize,
    },
}

/// Which readiness a task waits for on a socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interest {
    /// Readable (or closed, or an error).
    Read,
    /// Writable (or closed, or an error).
    Write,
}

impl TaskDump {
    /// The dump of a loop that did not answer.
    pub(crate) fn unanswered(loop_id: u32) -> TaskDump {
        TaskDump { loop_id, answered: false, tasks: Vec::new() }
    }

    /// The entry of task `id`, if it is alive on this loop.
    pub fn task(&self, id: TaskId) -> Option<&TaskEntry> {
        self.tasks.iter().find(|task| task.id == id)
    }

    /// The tasks that are lost: idle, and nothing holds their waker.
    pub fn lost(&self) -> impl Iterator<Item = &TaskEntry> {
        self.tasks.iter().filter(|task| task.is_lost())
    }
}

impl TaskEntry {
    /// Idle with no holder at all: no eddy resource and no user code has
    /// its waker, so nothing can ever wake it (only an abort can end it).
    pub fn is_lost(&self) -> bool {
        self.state == TaskState::Idle && self.holders.is_empty()
    }

    /// The task's id.
    pub fn id(&self) -> TaskId {
        self.id
    }

    /// The name given to `spawn_named`, if any.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Where it was spawned.
    pub fn spawned_at(&self) -> &'static Location<'static> {
        self.spawned_at
    }

    /// What it is doing.
    pub fn state(&self) -> TaskState {
        self.state
    }

    /// Polls so far.
    pub fn polls(&self) -> u64 {
        self.polls
    }

    /// Time spent inside its polls, when the loop times polls (debug mode).
    pub fn busy(&self) -> Option<Duration> {
        self.busy
    }

    /// Loop-clock time since its last poll began (see the field).
    pub fn since_last_poll(&self) -> Option<Duration> {
        self.since_last_poll
    }

    /// Who holds its waker right now (each `Display`s as one phrase, such as
    /// "timer (due in 5.0s)" or "user code (1 waker clone(s))").
    pub fn holders(&self) -> &[Holder] {
        &self.holders
    }
}

impl fmt::Display for TaskState {
    /// One lowercase word: "scheduled", "running", "idle", "finished".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TaskState::Scheduled => "scheduled",
            TaskState::Running => "running",
            TaskState::Idle => "idle",
            TaskState::Finished => "finished",
        })
    }
}

/// Takes the dump of `core`'s tasks, and warns about each lost task (once
/// per task: see [`check_after_pending`]). On the loop's thread only. With
/// `skip_current`, the task being polled (the one taking the dump on behalf
/// of another thread) is left out.
pub(crate) fn take(core: &Core, skip_current: bool) -> TaskDump {
    let now = core.clock().now();
    // Loop time in the unit the probes use (the recorder's clock), read now.
    core.trace().stamp(core.clock());
    let loop_now = core.trace().loop_time();
    // Walk what the loop owns first: timers and sockets, by task pointer
    // (their wakers are plain clones: see `holders`).
    let mut local: HashMap<*const (), Vec<Holder>> = HashMap::new();
    core.for_each_timer(|deadline, waker| {
        let due_in = deadline.duration_since(now);
        local.entry(waker.data()).or_default().push(Holder::Timer { deadline, due_in });
    });
    core.reactor().for_each_waiter(|fd, read, waker| {
        let interest = if read { Interest::Read } else { Interest::Write };
        local.entry(waker.data()).or_default().push(Holder::Socket { fd, interest });
    });
    let current = crate::task::id::polling_data();
    let mut tasks = Vec::new();
    core.for_each_task(|task| {
        let data = Arc::as_ptr(task).cast::<()>();
        let running = current == data;
        if running && skip_current {
            return;
        }
        let walked = local.remove(&data).unwrap_or_default();
        tasks.push(entry(task, running, walked, loop_now, core.busy_of(task.header())));
    });
    TaskDump { loop_id: core.loop_id(), answered: true, tasks }
}

/// One task's entry. `holders` comes with the timers and sockets the walk
/// found; the accounting is explained in `crate::debug`.
fn entry(
    task: &Arc<dyn Runnable>,
    running: bool,
    mut holders: Vec<Holder>,
    loop_now: u64,
    busy: Option<Duration>,
) -> TaskEntry {
    // The strong count first, the state word second: a JoinHandle going
    // away clears JOIN_INTEREST before it drops its reference, so in this
    // order a race can only overstate the waker count, never understate it.
    let strong = Arc::strong_count(task);
    let header = task.header();
    let state = header.state.load();
    let structural = 1 // the loop's task list
        + usize::from(state.is_scheduled()) // the run queue (or injection queue)
        + usize::from(state.has_join_interest()) // the JoinHandle
        + usize::from(running); // the poll in progress
    let wakers = strong.saturating_sub(structural);
    let state = if state.is_complete() {
        TaskState::Finished
    } else if running {
        TaskState::Running
    } else if state.is_scheduled() {
        TaskState::Scheduled
    } else {
        TaskState::Idle
    };
    let probe = &header.probe;
    let walked = holders.len();
    let counted = probe.held() as usize;
    if counted > 0 {
        holders.push(match probe.last_resource() {
            Some((Kind::Join, at, loop_id)) => Holder::JoinHandle { task: TaskId::new(loop_id, at) },
            Some((kind, at, _)) => {
                Holder::Resource { kind: kind.name(), address: at as usize, wakers: counted }
            }
            // Unreachable: a held clone is only made after a record.
            None => Holder::Resource { kind: "eddy resource", address: 0, wakers: counted },
        });
    }
    let user = wakers.saturating_sub(walked + counted);
    if user > 0 {
        holders.push(Holder::UserCode { wakers: user });
    }
    if state == TaskState::Idle && holders.is_empty() {
        warn_lost(header);
    }
    TaskEntry {
        id: header.id(),
        name: header.name().map(str::to_owned),
        spawned_at: header.site().location(),
        state,
        polls: probe.polls(),
        busy,
        since_last_poll: probe.last_poll().map(|at| Duration::from_nanos(loop_now.saturating_sub(at))),
        holders,
    }
}

/// Checks, right after a poll of `task` returned `Pending`, whether it left
/// its waker anywhere (debug mode; owner loop only). `strong` is the task's
/// strong count, read before this call, with the poll's own reference in it.
///
/// The same accounting as a dump, at the one moment it is cheapest and most
/// useful: the poll that lost the wakeup has just returned, so the warning
/// comes when the bug happens, not when someone thinks of taking a dump.
pub(crate) fn check_after_pending(task: &Header, strong: usize) {
    let state = task.state.load();
    if state.is_scheduled() || state.is_complete() {
        return; // Woken during its own poll (or finished): nothing lost.
    }
    // The loop's task list, the poll's own reference, the JoinHandle.
    let structural = 2 + usize::from(state.has_join_interest());
    if strong <= structural {
        warn_lost(task);
    }
}

/// Warns, once per task, that `task` is lost.
fn warn_lost(task: &Header) {
    if task.first_lost_warning() {
        log::warn!(
            "lost wakeup: {} is waiting, but nothing holds its waker (no timer, socket, channel, sync \
             primitive or task, and no clone in user code), so nothing can ever wake it: its future \
             returned Pending without storing cx.waker() anywhere",
            task
        );
    }
}

impl fmt::Display for TaskDump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.answered {
            return write!(f, "loop {}: did not answer (stuck in a poll, or not running)", self.loop_id);
        }
        let label = |task: &TaskEntry| match &task.name {
            Some(name) => format!("'{name}' {}", task.spawned_at),
            None => task.spawned_at.to_string(),
        };
        let width = self.tasks.iter().map(|task| label(task).len()).max().unwrap_or(0).max(4);
        writeln!(f, "loop {}: {} live tasks", self.loop_id, self.tasks.len())?;
        writeln!(
            f,
            "  {:<8} {:<10} {:>6} {:>10} {:>10}  {:<width$}  waker held by",
            "id", "state", "polls", "busy", "idle for", "task"
        )?;
        for task in &self.tasks {
            let duration = |d: Option<Duration>| d.map_or_else(|| "-".to_string(), |d| format!("{d:.1?}"));
            let state = match task.state {
                TaskState::Scheduled => "scheduled",
                TaskState::Running => "running",
                TaskState::Idle if task.is_lost() => "LOST",
                TaskState::Idle => "idle",
                TaskState::Finished => "finished",
            };
            write!(
                f,
                "  {:<8} {:<10} {:>6} {:>10} {:>10}  {:<width$}  ",
                task.id.to_string(),
                state,
                task.polls,
                duration(task.busy),
                duration(task.since_last_poll),
                label(task)
            )?;
            if task.holders.is_empty() {
                f.write_str(match task.state {
                    TaskState::Idle => "nobody: lost wakeup",
                    TaskState::Scheduled => "- (in the run queue)",
                    _ => "-",
                })?;
            }
            for (i, holder) in task.holders.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{holder}")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Holder::Timer { due_in, .. } => write!(f, "timer (due in {due_in:.1?})"),
            Holder::Socket { fd, interest } => write!(f, "socket fd {fd} ({interest:?})"),
            Holder::Resource { kind, address, wakers } if *wakers > 1 => {
                write!(f, "{kind} at {address:#x} (+{} more)", wakers - 1)
            }
            Holder::Resource { kind, address, .. } => write!(f, "{kind} at {address:#x}"),
            Holder::JoinHandle { task } => write!(f, "JoinHandle of task {task}"),
            Holder::UserCode { wakers } => write!(f, "user code ({wakers} waker clone(s))"),
        }
    }
}
