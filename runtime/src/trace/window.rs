//! A recent window of one loop's flight recorder, decoded into what a live
//! timeline draws: polls (start, length, task), parks, and wakes (when, why,
//! which task). [`window`] takes one from inside a task; eddy-http's live
//! page asks each loop for one every half second.
//!
//! # Bounded work
//!
//! A viewer must cost little however busy the loop is, so the window reads
//! only the ring's tail, newest record first, and stops at whichever comes
//! first: the start of the window, the [`MAX_WINDOW_POLLS`]th poll, or
//! [`MAX_WINDOW_RECORDS`] records. Then it decodes that tail forward, the
//! way the Chrome exporter (`chrome.rs`) reads the whole ring: a poll ends
//! at its `POLL_END` or at the loop's next record of its own (the next
//! poll, a park, a tick step), since the recorder leaves `Pending` ends
//! implicit.
//!
//! # Times
//!
//! Loop time in nanoseconds, the recorder's 48-bit stamps unwrapped against
//! "now". The loop stamps records with its cached clock, refreshed around
//! each park and when timers fire; so several polls in one busy stretch
//! share a stamp. Unless the runtime times every poll
//! ([`Builder::trace_poll_times`](crate::Builder::trace_poll_times)), the
//! window splits such a stretch evenly between its polls (and
//! [`Window::estimated`] says so): the bars then show how the stretch was
//! shared out in order, not each poll's true length.

use std::collections::HashMap;
use std::time::Duration;

use super::record::{cause, kind, phase, Record, TIME_BITS};
use crate::event_loop::Core;
use crate::task::TaskId;

/// The most polls a window holds (the most recent ones): a busy loop's
/// window stops there, so one viewer costs a bounded amount of decoding
/// and JSON however fast the loop polls. 4,000 bars is more than a
/// timeline one screen wide can tell apart.
pub const MAX_WINDOW_POLLS: usize = 4_000;

/// The most records a window reads from the ring (256 KiB of its 1 MiB):
/// the bound on the copy when polls are few but other records many (user
/// events, timers armed).
pub const MAX_WINDOW_RECORDS: usize = 16_384;

/// One loop's recent timeline; see [`window`].
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct Window {
    /// The loop's number (as in task ids).
    pub loop_id: u32,
    /// The loop clock's zero: loop time `t` ns is `origin + t`. Loops of
    /// one runtime start a little apart; this puts them on one axis.
    pub origin: Option<crate::time::Instant>,
    /// Loop time when the window was taken, ns since the loop started.
    pub now_ns: u64,
    /// Where the window starts (loop time, ns): `now_ns` minus the span
    /// asked for, or later if the poll or record bound was reached first
    /// (or the ring holds nothing older).
    pub start_ns: u64,
    /// Polls, oldest first.
    pub polls: Vec<PollSpan>,
    /// Parks in the OS poller, oldest first.
    pub parks: Vec<ParkSpan>,
    /// Wakes, oldest first.
    pub wakes: Vec<Wake>,
    /// Whether poll times were split evenly within stretches that share a
    /// clock stamp (see the module docs).
    pub estimated: bool,
}

/// A poll of a task.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PollSpan {
    /// When it started (loop time, ns).
    pub start_ns: u64,
    /// How long it took, ns.
    pub duration_ns: u64,
    /// The task (sequence 0 is the future given to `block_on`).
    pub task: TaskId,
    /// Its name, or where it was spawned.
    pub name: String,
}

/// The loop parked (waiting in `epoll_wait` or its like).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParkSpan {
    /// When it parked (loop time, ns).
    pub start_ns: u64,
    /// How long, ns.
    pub duration_ns: u64,
}

/// A task was woken (made ready).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Wake {
    /// When (loop time, ns).
    pub at_ns: u64,
    /// Why, as text: "socket readable (token 9)", "timer", "task 1.17", ...
    pub cause: String,
    /// The task woken.
    pub task: TaskId,
}

/// The last `span` of the current loop's flight recorder, decoded (see
/// the module docs for its bounds). `None` outside a runtime. The calling
/// task's own poll is still open: it shows running at the end.
///
/// ```
/// use std::time::Duration;
///
/// eddy::run(async {
///     eddy::task::spawn_named("worker", async {}).await.unwrap();
///     let window = eddy::trace::window(Duration::from_secs(1)).unwrap();
///     assert!(window.polls.iter().any(|poll| poll.name == "worker"));
/// });
/// ```
pub fn window(span: Duration) -> Option<Window> {
    crate::context::with_core(|core| take(core, span))
}

/// Reads and decodes the window on `core`'s thread.
pub(crate) fn take(core: &Core, span: Duration) -> Window {
    let recorder = core.trace();
    let loop_id = core.loop_id();
    let now = recorder.read_loop_time(core.clock());
    let wanted_start = now.saturating_sub(span.as_nanos().min(u128::from(u64::MAX)) as u64);

    // The tail, newest first, times unwrapped against `now`.
    let mask = (1u64 << TIME_BITS) - 1;
    let mut tail: Vec<(u64, Record)> = Vec::new();
    let mut polls = 0;
    recorder.for_each_recent(|record| {
        let age = (now & mask).wrapping_sub(record.time()) & mask;
        let at = now.saturating_sub(age);
        if at < wanted_start || tail.len() >= MAX_WINDOW_RECORDS {
            return false;
        }
        tail.push((at, record));
        if record.kind() == kind::POLL_BEGIN {
            polls += 1;
        }
        polls < MAX_WINDOW_POLLS
    });
    tail.reverse();
    let start = match tail.first() {
        Some(&(at, _)) if tail.len() >= MAX_WINDOW_RECORDS || polls >= MAX_WINDOW_POLLS => at,
        _ => wanted_start,
    };

    // Task -> label: polls carry what woke them, not their label; the
    // live tasks' labels come from the loop, the ended ones' from their
    // `POLL_END`/`FINISH` records.
    let mut labels: HashMap<u32, u32> = core.trace_live_labels().into_iter().collect();
    labels.insert(0, super::BLOCK_ON_LABEL);
    for &(_, record) in &tail {
        if matches!(record.kind(), kind::POLL_END | kind::FINISH) {
            labels.insert(record.a, record.b);
        }
    }
    let mut names: HashMap<u32, String> = HashMap::new();
    let mut name_of = |task: u32| match labels.get(&task) {
        Some(&label) => names
            .entry(label)
            .or_insert_with(|| recorder.label_name(label).unwrap_or_else(|| "?".to_string()))
            .clone(),
        None => format!("task {task}"),
    };
    let task = |seq: u32| TaskId::new(loop_id, u64::from(seq));
    let mut out = Window {
        loop_id,
        origin: Some(recorder.origin()),
        now_ns: now,
        start_ns: start,
        estimated: !recorder.is_precise(),
        ..Window::default()
    };
    // The poll being decoded: its index in `out.polls`.
    let mut open: Option<usize> = None;
    let mut parked_at: Option<u64> = None;
    // Per wake: the poll it was made in, if any (to place it there once
    // poll times are spread).
    let mut made_in: Vec<Option<usize>> = Vec::new();
    // Where wakes come from: each task's latest poll, the latest timer
    // step, the latest return from a park (sockets are dispatched right
    // after it, on its stamp; see `record::kind::UNPARK`).
    let mut last_poll: HashMap<u32, usize> = HashMap::new();
    let mut timers_at: Option<u64> = None;
    let mut unparked_at: Option<u64> = None;
    let close = |open: &mut Option<usize>, polls: &mut Vec<PollSpan>, at: u64| {
        if let Some(index) = open.take() {
            let poll = &mut polls[index];
            poll.duration_ns = at.saturating_sub(poll.start_ns);
        }
    };
    for &(at, record) in &tail {
        let (a, b) = (record.a, record.b);
        if phase::of(&record).is_some() {
            // The loop's own step: a poll still open has ended.
            close(&mut open, &mut out.polls, at);
        }
        match record.kind() {
            kind::POLL_BEGIN => {
                close(&mut open, &mut out.polls, at);
                // The wake this poll answers, placed where its cause was.
                let sub = record.sub();
                let wake = match sub {
                    cause::TASK | cause::CHANNEL | cause::SYNC | cause::SPAWNED => {
                        let text = match sub {
                            cause::TASK => format!("task {}", task(b)),
                            cause::SPAWNED if b == 0 => "spawned".to_string(),
                            cause::SPAWNED => format!("spawned by task {}", task(b)),
                            _ => format!("{} (in task {})", cause::name(sub), task(b)),
                        };
                        let by = last_poll.get(&b).copied();
                        let when = by.map_or(at, |index| out.polls[index].start_ns);
                        Some((when, text, by))
                    }
                    cause::TIMER => Some((timers_at.unwrap_or(at), "timer".to_string(), None)),
                    cause::IO_READ | cause::IO_WRITE => {
                        Some((unparked_at.unwrap_or(at), format!("{} (token {b})", cause::name(sub)), None))
                    }
                    // The loop's own and other threads' wakes are `WAKE` records.
                    _ => None,
                };
                if let Some((when, text, by)) = wake {
                    made_in.push(by);
                    out.wakes.push(Wake { at_ns: when.min(at), cause: text, task: task(a) });
                }
                out.polls.push(PollSpan { start_ns: at, duration_ns: 0, task: task(a), name: name_of(a) });
                open = Some(out.polls.len() - 1);
                last_poll.insert(a, out.polls.len() - 1);
            }
            kind::POLL_END | kind::FINISH => close(&mut open, &mut out.polls, at),
            kind::PARK => {
                close(&mut open, &mut out.polls, at);
                parked_at = Some(at);
            }
            kind::UNPARK => {
                close(&mut open, &mut out.polls, at);
                // A park that began before the window shows from its start.
                let began = parked_at.take().unwrap_or(start);
                out.parks.push(ParkSpan { start_ns: began, duration_ns: at.saturating_sub(began) });
                unparked_at = Some(at);
            }
            kind::TIMERS_FIRED => timers_at = Some(at),
            kind::WAKE => {
                let sub = record.sub();
                let text = match sub {
                    cause::TASK => format!("task {}", task(b)),
                    cause::CHANNEL | cause::SYNC => format!("{} (in task {})", cause::name(sub), task(b)),
                    other => cause::name(other).to_string(),
                };
                made_in.push(open);
                out.wakes.push(Wake { at_ns: at, cause: text, task: task(a) });
            }
            _ => {}
        }
    }
    // The poll taking this window (or a park seen half) is still open.
    close(&mut open, &mut out.polls, now);
    if let Some(began) = parked_at {
        out.parks.push(ParkSpan { start_ns: began, duration_ns: now.saturating_sub(began) });
    }
    if out.estimated {
        spread(&mut out.polls);
        for (wake, poll) in out.wakes.iter_mut().zip(&made_in) {
            if let Some(poll) = poll.and_then(|index| out.polls.get(index)) {
                // Inside the poll that made it.
                wake.at_ns = poll.start_ns + poll.duration_ns / 2;
            }
        }
    }
    out
}

/// Splits each run of polls that share one start stamp evenly over the
/// stretch from that stamp to the end of the run's last poll (see the
/// module docs: the cached clock gives them all the same time).
fn spread(polls: &mut [PollSpan]) {
    let mut first = 0;
    while first < polls.len() {
        let stamp = polls[first].start_ns;
        let mut end = first + 1;
        while end < polls.len() && polls[end].start_ns == stamp {
            end += 1;
        }
        let count = (end - first) as u64;
        if count > 1 {
            let last = &polls[end - 1];
            let stretch = last.start_ns + last.duration_ns - stamp;
            let share = stretch / count;
            for (i, poll) in polls[first..end].iter_mut().enumerate() {
                poll.start_ns = stamp + share * i as u64;
                poll.duration_ns = share;
            }
        }
        first = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn poll(start_ns: u64, duration_ns: u64) -> PollSpan {
        PollSpan { start_ns, duration_ns, task: TaskId::new(1, 1), name: String::new() }
    }

    #[test]
    fn polls_sharing_a_stamp_split_the_stretch_evenly_and_others_keep_their_times() {
        let mut polls = vec![poll(100, 0), poll(100, 0), poll(100, 30), poll(500, 10)];
        spread(&mut polls);
        let times: Vec<_> = polls.iter().map(|p| (p.start_ns, p.duration_ns)).collect();
        assert_eq!(times, [(100, 10), (110, 10), (120, 10), (500, 10)]);
    }
}
