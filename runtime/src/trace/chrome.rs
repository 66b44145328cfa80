//! The exporter: a snapshot's records as Chrome Trace Event JSON, the format
//! both Perfetto (ui.perfetto.dev) and `chrome://tracing` open as is.
//!
//! What each record becomes, on the track (`tid`) of its loop:
//!
//! | records | JSON |
//! |---|---|
//! | `POLL_BEGIN` … `POLL_END` (or the loop's next record of its own) | an `X` slice named by the task's name or spawn site |
//! | `PARK` … `UNPARK` | an `X` slice `park` (why, planned timeout, events) |
//! | a run of `TIMERS_FIRED` or foreign `WAKE` records | an `X` slice: `fire timers`, `take injected` |
//! | an `UNPARK` … the loop's next record, if polls (or the `block_on` future's `WAKE`) name a socket as their cause | an `X` slice `dispatch I/O`, and a `socket ready` instant per socket at its start |
//! | a `POLL_BEGIN` and what its cause points at | a flow arrow, `s` at the wake, `f` with `"bp":"e"` on the poll: from the waking task's latest poll (`TASK`, `CHANNEL`, `SYNC`, `SPAWNED`), the timer step, the I/O dispatch after the latest park, or the `WAKE` record |
//! | a task's first poll (`SPAWNED`) … its `POLL_END`/`FINISH` | an async slice (`b`/`e`) per task: its lifetime |
//! | `PARK`, `UNPARK` | counters (`C`): ready tasks, armed timers |
//! | timers fired, cancelled; sockets ready (with a waiter); user events | instants (`i`) |
//!
//! A socket's readiness has no record of its own (see `record::kind`): the
//! loop dispatches I/O right after it parks, on the `UNPARK`'s stamp, and
//! the woken task's next poll names the socket. So a poll woken by a socket
//! is drawn from the dispatch after the latest park, and the `dispatch I/O`
//! step counts those polls. (A task woken by I/O but polled only after a
//! further zero-timeout park, when more than `tick_budget` tasks were
//! ready, is drawn from that later dispatch.)
//!
//! Polls carry what woke them, not their task's label: a task is named
//! from its `POLL_END`/`FINISH` (its last record) or, if still alive,
//! from the loop's task list at the snapshot.
//!
//! Timestamps are microseconds with three decimals (nanosecond
//! resolution). The loop stamps records with its cached clock, so several
//! events may carry the same time; the exporter spreads them 1 ns apart, in
//! the order they happened, so that every slice has a length, slices on a
//! track never overlap, and a wake always lies inside the slice that made it.
//! A flow is drawn only when its start lies inside a slice (a poll or a
//! tick step) in the snapshot, so both ends are always bound. A wake by a
//! task starts at the beginning of that task's latest poll before the woken
//! one (the recorder keeps which task, not where in its poll).
//!
//! Written by hand, with no JSON library: the output is a flat list of small
//! objects, and writing it directly keeps the runtime free of dependencies.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use super::record::{cause, kind, outcome, park, phase, Record, TIME_BITS};
use super::LoopTrace;

/// The process id every event carries (one runtime per trace).
const PID: u32 = 1;

/// Writes `loops` as one Chrome Trace Event JSON document.
pub(crate) fn to_json(loops: &[LoopTrace]) -> String {
    let mut out = Json {
        text: String::with_capacity(128 + loops.iter().map(|l| l.records.len() * 120).sum::<usize>()),
        first: true,
        next_flow: 0,
    };
    let lost: u64 = loops.iter().map(|l| l.lost).sum();
    out.text.push_str("{\"displayTimeUnit\":\"ns\",\"otherData\":{\"recorder\":\"eddy\",\"lost_events\":");
    let _ = write!(out.text, "{lost}");
    out.text.push_str("},\"traceEvents\":[\n");
    out.event(format_args!(
        "{{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":{PID},\"tid\":0,\"args\":{{\"name\":\"eddy\"}}}}"
    ));
    for trace in loops {
        export_loop(trace, &mut out);
    }
    out.text.push_str("\n]}\n");
    out.text
}

/// The document being written.
struct Json {
    text: String,
    first: bool,
    /// Flow ids are unique across the whole document.
    next_flow: u64,
}

impl Json {
    fn event(&mut self, args: std::fmt::Arguments<'_>) {
        if !self.first {
            self.text.push_str(",\n");
        }
        self.first = false;
        let _ = self.text.write_fmt(args);
    }
}

/// A poll being drawn: its task, start, and what woke it.
struct OpenPoll {
    task: u32,
    begin: u64,
    woken_by: Option<(u8, u32)>,
}

/// The I/O dispatch after a park (see the module docs): from the
/// `UNPARK` to the loop's next record (`end`, once seen), and how many
/// wakes named a socket since.
struct Dispatch {
    begin: u64,
    end: Option<u64>,
    woke: u32,
}

impl Dispatch {
    /// A wake by socket `token` (`IO_READ`/`IO_WRITE` in `sub`) came from
    /// this dispatch: counted, with an instant at its start. Returns where
    /// the wake's flow starts.
    fn socket_ready(&mut self, out: &mut Json, tid: usize, sub: u8, token: u32) -> u64 {
        self.woke += 1;
        out.event(format_args!(
            "{{\"name\":\"socket ready\",\"cat\":\"io\",\"ph\":\"i\",\"s\":\"t\",\"pid\":{PID},\"tid\":{tid},\"ts\":{},\"args\":{{\"token\":{token},\"{}\":true}}}}",
            Ts(self.begin),
            if sub == cause::IO_READ { "readable" } else { "writable" },
        ));
        self.begin
    }

    /// Draws the step, if it woke anything; `end` if the step's end was
    /// not seen (the snapshot ends in it).
    fn close(self, out: &mut Json, tid: usize, end: u64) {
        if self.woke > 0 {
            close_phase(out, tid, phase::IO, self.begin, self.end.unwrap_or(end), self.woke);
        }
    }
}

/// A `WAKE` record (the `block_on` future's, or a task's from another
/// thread) waiting for the poll it caused.
struct PendingWake {
    at: u64,
    cause: (u8, u32),
    in_slice: bool,
}

fn export_loop(trace: &LoopTrace, out: &mut Json) {
    let tid = trace.index;
    // Task -> label: the live tasks, and every task whose end is recorded
    // (polls carry what woke them, not their label).
    let mut labels: HashMap<u32, u32> = trace.live.iter().copied().collect();
    labels.insert(0, super::BLOCK_ON_LABEL);
    for record in &trace.records {
        if matches!(record.kind(), kind::POLL_END | kind::FINISH) {
            labels.insert(record.a, record.b);
        }
    }
    let label_name = |label: u32| trace.labels.get(label as usize).map_or("?", |(name, _)| name.as_str());
    let task_name = |task: u32| labels.get(&task).map_or("?", |&label| label_name(label));
    let task_site = |task: u32| {
        labels
            .get(&task)
            .and_then(|&label| trace.labels.get(label as usize))
            .map_or("?", |(_, site)| site.as_str())
    };
    out.event(format_args!(
        "{{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":{PID},\"tid\":{tid},\"args\":{{\"name\":\"loop {tid}{}\"}}}}",
        if trace.paused { " (paused clock)" } else { "" }
    ));
    out.event(format_args!(
        "{{\"name\":\"thread_sort_index\",\"ph\":\"M\",\"pid\":{PID},\"tid\":{tid},\"args\":{{\"sort_index\":{tid}}}}}"
    ));

    let mut clock = DisplayClock::default();
    let mut poll: Option<OpenPoll> = None;
    // The tick step being drawn: which, since when, how many records.
    let mut phase_open: Option<(u8, u64, u32)> = None;
    let mut park_open: Option<(u8, u32, u64)> = None;
    // Where each flow may start: a `WAKE` record by task; the latest poll
    // of each task (a task's wakes lie in its polls); the latest timer
    // step; the I/O dispatch after the latest park.
    let mut pending: HashMap<u32, PendingWake> = HashMap::new();
    let mut last_poll: HashMap<u32, u64> = HashMap::new();
    let mut last_fire: Option<u64> = None;
    let mut dispatch: Option<Dispatch> = None;
    let mut alive: HashSet<u32> = HashSet::new();

    for record in &trace.records {
        let at = clock.display(record);
        let (a, b) = (record.a, record.b);
        let step = phase::of(record);
        let io_wake = record.kind() == kind::WAKE && matches!(record.sub(), cause::IO_READ | cause::IO_WRITE);
        // The dispatch after a park lasts until the loop's next record
        // other than an I/O wake of the `block_on` future.
        let mut in_dispatch = false;
        if let Some(open) = dispatch.as_mut().filter(|open| open.end.is_none()) {
            if io_wake {
                in_dispatch = true;
            } else {
                open.end = Some(at);
            }
        }
        if let Some((which, begin, count)) = phase_open {
            if step != Some(which) {
                close_phase(out, tid, which, begin, at, count);
                phase_open = None;
            }
        }
        if step.is_some() || matches!(record.kind(), kind::PARK | kind::UNPARK | kind::FINISH) {
            // The loop's own work: a poll still open returned `Pending`
            // (which the recorder leaves implicit) and ended here.
            if let Some(open) = poll.take() {
                close_poll(out, tid, open, at, outcome::name(outcome::PENDING), &task_name);
            }
        }
        if let Some(which) = step {
            let (_, _, count) = phase_open.get_or_insert((which, at, 0));
            *count += 1;
        }
        match record.kind() {
            kind::WAKE => {
                let mut at = at;
                if let (true, Some(open)) = (in_dispatch, dispatch.as_mut()) {
                    at = open.socket_ready(out, tid, record.sub(), b);
                }
                let in_slice = poll.is_some() || phase_open.is_some() || in_dispatch;
                pending.insert(a, PendingWake { at, cause: (record.sub(), b), in_slice });
            }
            kind::POLL_BEGIN => {
                if let Some(open) = poll.take() {
                    // It returned `Pending` (left implicit by the
                    // recorder): it ended where this one starts.
                    close_poll(out, tid, open, at, outcome::name(outcome::PENDING), &task_name);
                }
                let mut woken_by = Some((record.sub(), b));
                // Where the wake that made this poll happened, if it is in
                // the snapshot and inside a slice.
                let from = match record.sub() {
                    cause::TASK | cause::CHANNEL | cause::SYNC | cause::SPAWNED => last_poll.get(&b).copied(),
                    cause::TIMER => last_fire,
                    cause::IO_READ | cause::IO_WRITE => {
                        dispatch.as_mut().map(|open| open.socket_ready(out, tid, record.sub(), b))
                    }
                    _ => match pending.remove(&a) {
                        Some(wake) => {
                            woken_by = Some(wake.cause);
                            wake.in_slice.then_some(wake.at)
                        }
                        None if a == 0 => {
                            woken_by = None;
                            None
                        }
                        None => None,
                    },
                };
                if let Some(from) = from {
                    out.next_flow += 1;
                    let id = out.next_flow;
                    out.event(format_args!(
                        "{{\"name\":\"wake\",\"cat\":\"wake\",\"ph\":\"s\",\"id\":{id},\"pid\":{PID},\"tid\":{tid},\"ts\":{}}}",
                        Ts(from)
                    ));
                    out.event(format_args!(
                        "{{\"name\":\"wake\",\"cat\":\"wake\",\"ph\":\"f\",\"bp\":\"e\",\"id\":{id},\"pid\":{PID},\"tid\":{tid},\"ts\":{}}}",
                        Ts(at)
                    ));
                }
                if record.sub() == cause::SPAWNED && alive.insert(a) {
                    // The task's lifetime, from its first poll.
                    out.event(format_args!(
                        "{{\"name\":{},\"cat\":\"task\",\"ph\":\"b\",\"id\":{},\"pid\":{PID},\"tid\":{tid},\"ts\":{},\"args\":{{\"task\":{a},\"site\":{},\"spawned_by\":{b}}}}}",
                        Str(task_name(a)),
                        task_id(tid, a),
                        Ts(at),
                        Str(task_site(a)),
                    ));
                }
                last_poll.insert(a, at);
                poll = Some(OpenPoll { task: a, begin: at, woken_by });
            }
            kind::POLL_END => {
                if let Some(open) = poll.take() {
                    close_poll(out, tid, open, at, outcome::name(record.sub()), &task_name);
                }
                if record.sub() != outcome::PENDING {
                    end_task(out, tid, a, record.sub(), at, &mut alive, &task_name);
                }
            }
            kind::FINISH => end_task(out, tid, a, record.sub(), at, &mut alive, &task_name),
            kind::TIMER_CANCEL => out.event(format_args!(
                "{{\"name\":\"timer cancelled\",\"cat\":\"timer\",\"ph\":\"i\",\"s\":\"t\",\"pid\":{PID},\"tid\":{tid},\"ts\":{},\"args\":{{\"key\":{a},\"deadline_ms\":{b}}}}}",
                Ts(at)
            )),
            kind::TIMERS_FIRED => {
                last_fire = Some(at);
                out.event(format_args!(
                    "{{\"name\":\"timers fired\",\"cat\":\"timer\",\"ph\":\"i\",\"s\":\"t\",\"pid\":{PID},\"tid\":{tid},\"ts\":{},\"args\":{{\"timers\":{a},\"tick_ms\":{b}}}}}",
                    Ts(at)
                ));
            }
            kind::PARK => {
                out.event(format_args!(
                    "{{\"name\":\"loop {tid} ready tasks\",\"ph\":\"C\",\"pid\":{PID},\"tid\":{tid},\"ts\":{},\"args\":{{\"tasks\":{b}}}}}",
                    Ts(at)
                ));
                if record.sub() != park::SKIP {
                    park_open = Some((record.sub(), a, at));
                }
            }
            kind::UNPARK => {
                if let Some(done) = dispatch.take() {
                    done.close(out, tid, at);
                }
                if a > 0 {
                    dispatch = Some(Dispatch { begin: at, end: None, woke: 0 });
                }
                if let Some((why, timeout, begin)) = park_open.take() {
                    let timeout = match timeout {
                        u32::MAX => "null".to_string(),
                        micros => format!("{micros}"),
                    };
                    out.event(format_args!(
                        "{{\"name\":\"park\",\"cat\":\"park\",\"ph\":\"X\",\"pid\":{PID},\"tid\":{tid},\"ts\":{},\"dur\":{},\"args\":{{\"why\":\"{}\",\"timeout_us\":{timeout},\"events\":{a}}}}}",
                        Ts(begin),
                        Ts(at - begin),
                        park::name(why),
                    ));
                }
                out.event(format_args!(
                    "{{\"name\":\"loop {tid} armed timers\",\"ph\":\"C\",\"pid\":{PID},\"tid\":{tid},\"ts\":{},\"args\":{{\"timers\":{b}}}}}",
                    Ts(at)
                ));
            }
            kind::USER => {
                let spec = trace.user_kinds.get(record.sub() as usize).map_or("other", String::as_str);
                let mut parts = spec.split('|');
                let name = parts.next().unwrap_or("other");
                let first = parts.next().unwrap_or("a");
                let second = parts.next().unwrap_or("b");
                out.event(format_args!(
                    "{{\"name\":{},\"cat\":\"user\",\"ph\":\"i\",\"s\":\"t\",\"pid\":{PID},\"tid\":{tid},\"ts\":{},\"args\":{{{}:{a},{}:{b}}}}}",
                    Str(name),
                    Ts(at),
                    Str(first),
                    Str(second),
                ));
            }
            _ => {}
        }
    }
    // The snapshot was taken mid-poll (from a task) or mid-park: close what
    // is open just after the last event.
    let end = clock.after_last(trace.end);
    if let Some(open) = poll.take() {
        close_poll(out, tid, open, end, "running at snapshot", &task_name);
    }
    if let Some((which, begin, count)) = phase_open.take() {
        close_phase(out, tid, which, begin, end, count);
    }
    if let Some(open) = dispatch.take() {
        open.close(out, tid, end);
    }
}

/// Draws a tick step (`fire timers`, ...) that woke `count` tasks.
fn close_phase(out: &mut Json, tid: usize, which: u8, begin: u64, end: u64, count: u32) {
    out.event(format_args!(
        "{{\"name\":\"{}\",\"cat\":\"loop\",\"ph\":\"X\",\"pid\":{PID},\"tid\":{tid},\"ts\":{},\"dur\":{},\"args\":{{\"woke\":{count}}}}}",
        phase::name(which),
        Ts(begin),
        Ts(end - begin),
    ));
}

fn close_poll<'a>(
    out: &mut Json,
    tid: usize,
    open: OpenPoll,
    end: u64,
    result: &str,
    task_name: &impl Fn(u32) -> &'a str,
) {
    let woken_by = match open.woken_by {
        Some((cause::TASK, task)) => format!("task {task}"),
        Some((cause::SPAWNED, task)) => format!("spawned by task {task}"),
        Some((cause::TIMER, tick)) => format!("timer (fired at {tick} ms)"),
        Some((cause @ (cause::IO_READ | cause::IO_WRITE), token)) => {
            format!("{} (token {token})", cause::name(cause))
        }
        Some((cause @ (cause::CHANNEL | cause::SYNC), task)) => {
            format!("{} (in task {task})", cause::name(cause))
        }
        Some((cause, _)) => cause::name(cause).to_string(),
        None => "(before the snapshot)".to_string(),
    };
    out.event(format_args!(
        "{{\"name\":{},\"cat\":\"poll\",\"ph\":\"X\",\"pid\":{PID},\"tid\":{tid},\"ts\":{},\"dur\":{},\"args\":{{\"task\":{},\"result\":\"{result}\",\"woken_by\":{}}}}}",
        Str(task_name(open.task)),
        Ts(open.begin),
        Ts(end - open.begin),
        open.task,
        Str(&woken_by),
    ));
}

/// Ends a task's lifetime slice, if its beginning is in the snapshot.
fn end_task<'a>(
    out: &mut Json,
    tid: usize,
    task: u32,
    how: u8,
    at: u64,
    alive: &mut HashSet<u32>,
    task_name: &impl Fn(u32) -> &'a str,
) {
    if alive.remove(&task) {
        out.event(format_args!(
            "{{\"name\":{},\"cat\":\"task\",\"ph\":\"e\",\"id\":{},\"pid\":{PID},\"tid\":{tid},\"ts\":{},\"args\":{{\"outcome\":\"{}\"}}}}",
            Str(task_name(task)),
            task_id(tid, task),
            Ts(at),
            outcome::name(how),
        ));
    }
}

/// A task's async-event id, unique across loops.
fn task_id(loop_index: usize, task: u32) -> u64 {
    (loop_index as u64) << 32 | u64::from(task)
}

/// Turns record times into strictly increasing display times (see the
/// module docs), unwrapping the 48-bit wrap.
#[derive(Default)]
struct DisplayClock {
    /// Added to raw times: 2^48 per wrap seen.
    base: u64,
    last_raw: Option<u64>,
    last: Option<u64>,
}

impl DisplayClock {
    fn display(&mut self, record: &Record) -> u64 {
        let raw = record.time();
        if let Some(last_raw) = self.last_raw {
            // A step back by more than half the range is a wrap, not a
            // stale stamp.
            if raw < last_raw && last_raw - raw > 1 << (TIME_BITS - 1) {
                self.base += 1 << TIME_BITS;
            }
        }
        self.last_raw = Some(raw);
        let at = match self.last {
            Some(last) => (self.base + raw).max(last + 1),
            None => self.base + raw,
        };
        self.last = Some(at);
        at
    }

    /// A time after every event so far, and no earlier than `end` (the
    /// snapshot's loop time).
    fn after_last(&mut self, end: u64) -> u64 {
        let at = self.last.map_or(end, |last| (last + 1).max(self.base + end));
        self.last = Some(at);
        at
    }
}

/// Nanoseconds, printed as microseconds with three decimals.
struct Ts(u64);

impl std::fmt::Display for Ts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{:03}", self.0 / 1000, self.0 % 1000)
    }
}

/// A JSON string literal, escaped.
struct Str<'a>(&'a str);

impl std::fmt::Display for Str<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"")?;
        for c in self.0.chars() {
            match c {
                '"' => f.write_str("\\\"")?,
                '\\' => f.write_str("\\\\")?,
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                c if (c as u32) < 0x20 => write!(f, "\\u{:04x}", c as u32)?,
                c => write!(f, "{c}")?,
            }
        }
        f.write_str("\"")
    }
}
