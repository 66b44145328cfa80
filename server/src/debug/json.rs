//! The live page's JSON documents (see `PAGE-CONTRACT` in the module docs of
//! [`super`]), written by hand: each is a few flat objects and arrays of
//! numbers and short strings, and writing them straight into one `String`
//! keeps the server free of a JSON dependency.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Duration;

use eddy::debug::{TaskDump, TaskState};
use eddy::task::TaskId;
use eddy::trace::Window;
use eddy::LoopStats;

use crate::server::stats::ServerStats;

/// `s` as a JSON string literal, escaped, appended to `out`.
///
/// Task names and wake causes almost never need escaping, and a timeline
/// writes some 8,000 of them per loop: the runs between escapes are copied
/// whole (a char-by-char push was a sixth of a timeline's cost).
pub(crate) fn string(out: &mut String, s: &str) {
    out.push('"');
    let mut rest = s;
    while let Some(at) = rest.bytes().position(|b| b == b'"' || b == b'\\' || b < 0x20) {
        // Slicing at `at` is on a char boundary: the byte found is ASCII.
        out.push_str(&rest[..at]);
        match rest.as_bytes()[at] {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            control => {
                let _ = write!(out, "\\u{control:04x}");
            }
        }
        rest = &rest[at + 1..];
    }
    out.push_str(rest);
    out.push('"');
}

/// `n` in decimal, appended to `out`: the timeline writes three numbers per
/// poll, and `write!`'s formatting machinery cost more than the digits.
pub(crate) fn number(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20]; // u64::MAX has 20 digits
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // One push of the digits (pushing them char by char cost twice as much
    // as the arithmetic); they are ASCII, so the check cannot fail.
    out.push_str(std::str::from_utf8(&digits[at..]).unwrap_or_default());
}

fn ns(duration: Duration) -> u64 {
    duration.as_nanos().min(u128::from(u64::MAX)) as u64
}

/// `/stats.json`: the loops' and the server's figures.
pub(crate) fn stats(out: &mut String, uptime: Duration, loops: &[(usize, LoopStats)], server: &ServerStats) {
    let _ = write!(out, "{{\"uptime_ns\":{},\"loops\":[", ns(uptime));
    for (i, (index, stats)) in loops.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(
            out,
            "{{\"id\":{},\"index\":{index},\"ticks\":{},\"polls\":{},\"busy_ns\":{},\"parked_ns\":{},\
             \"parked_now\":{},\"ready\":{},\"timers\":{},\"sockets\":{},\"tasks\":{}}}",
            stats.loop_id,
            stats.ticks,
            stats.polls,
            ns(stats.busy),
            ns(stats.parked),
            stats.parked_now,
            stats.ready,
            stats.timers,
            stats.sockets,
            stats.tasks,
        );
    }
    let s = server;
    let _ = write!(
        out,
        "],\"server\":{{\"connections\":{{\"active\":{},\"reading\":{},\"writing\":{},\"idle\":{}}},\
         \"accepted\":{},\"handled\":{},\"requests\":{},\"reclaimed\":{},\"responses\":{{",
        s.active, s.reading, s.writing, s.idle, s.accepted, s.handled, s.requests, s.reclaimed
    );
    for class in 1..=5u16 {
        if class > 1 {
            out.push(',');
        }
        let _ = write!(out, "\"{class}xx\":{}", s.responses_of_class(class));
    }
    // Codes of 600 and up are legal, if odd: their own class, shown only
    // when one was sent.
    for class in 6..=9u16 {
        let count = s.responses_of_class(class);
        if count > 0 {
            let _ = write!(out, ",\"{class}xx\":{count}");
        }
    }
    out.push_str("},\"status\":{");
    for (i, (code, count)) in s.status.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "\"{code}\":{count}");
    }
    out.push_str("},\"refused\":{");
    for (i, (reason, count)) in s.refused.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "\"{reason}\":{count}");
    }
    out.push_str("}}}");
}

/// `/tasks.json`: every loop's task dump.
pub(crate) fn tasks(out: &mut String, dumps: &[(usize, TaskDump)]) {
    out.push_str("{\"loops\":[");
    for (i, (index, dump)) in dumps.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(
            out,
            "{{\"id\":{},\"index\":{index},\"answered\":{},\"tasks\":[",
            dump.loop_id, dump.answered
        );
        for (j, task) in dump.tasks.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            out.push_str("{\"id\":");
            string(out, &task.id.to_string());
            out.push_str(",\"name\":");
            match &task.name {
                Some(name) => string(out, name),
                None => out.push_str("null"),
            }
            out.push_str(",\"spawned_at\":");
            let site = task.spawned_at;
            string(out, &format!("{}:{}", site.file(), site.line()));
            let state = match task.state {
                TaskState::Scheduled => "scheduled",
                TaskState::Running => "running",
                TaskState::Idle => "idle",
                TaskState::Finished => "finished",
            };
            let _ = write!(out, ",\"state\":\"{state}\",\"polls\":{},\"busy_ns\":", task.polls);
            optional_ns(out, task.busy);
            out.push_str(",\"since_poll_ns\":");
            optional_ns(out, task.since_last_poll);
            out.push_str(",\"waker\":");
            if task.holders.is_empty() {
                out.push_str("null");
            } else {
                let holders: Vec<String> = task.holders.iter().map(ToString::to_string).collect();
                string(out, &holders.join(", "));
            }
            let _ = write!(out, ",\"lost\":{}}}", task.is_lost());
        }
        out.push_str("]}");
    }
    out.push_str("]}");
}

fn optional_ns(out: &mut String, duration: Option<Duration>) {
    match duration {
        Some(duration) => {
            let _ = write!(out, "{}", ns(duration));
        }
        None => out.push_str("null"),
    }
}

/// `/timeline.json`: each loop's recent window, on one clock: ns since
/// `zero` (the server's start), so loops that started apart line up.
pub(crate) fn timeline(
    out: &mut String,
    zero: eddy::time::Instant,
    now: eddy::time::Instant,
    span: Duration,
    windows: &[(usize, u32, Option<Window>)],
) {
    let _ =
        write!(out, "{{\"now_ns\":{},\"window_ns\":{},\"loops\":[", ns(now.duration_since(zero)), ns(span));
    for (i, (index, loop_id, window)) in windows.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{{\"id\":{loop_id},\"index\":{index},\"answered\":{}", window.is_some());
        let Some(window) = window else {
            out.push_str(",\"polls\":[],\"parks\":[],\"wakes\":[]}");
            continue;
        };
        // Loop time t is origin + t; on the server's axis that is
        // (origin - zero) + t, clamped at the axis' zero (events from
        // before the server started).
        let shift: i128 = window.origin.map_or(0, |origin| {
            // Signed: the loops usually started before the server.
            if origin >= zero {
                origin.duration_since(zero).as_nanos() as i128
            } else {
                -(zero.duration_since(origin).as_nanos() as i128)
            }
        });
        let at = |t: u64| (i128::from(t) + shift).max(0) as u64;
        // A loop polls a few tasks many times: each id is formatted once.
        let mut ids: HashMap<TaskId, String> = HashMap::new();
        // A span that began before the axis' zero keeps only its part after it.
        let span = |start: u64, duration: u64| {
            let (from, to) = (at(start), at(start.saturating_add(duration)));
            (from, to - from)
        };
        let _ = write!(
            out,
            ",\"estimated\":{},\"start_ns\":{},\"polls\":[",
            window.estimated,
            at(window.start_ns)
        );
        for (j, poll) in window.polls.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            let (start, duration) = span(poll.start_ns, poll.duration_ns);
            out.push('[');
            number(out, start);
            out.push(',');
            number(out, duration);
            out.push_str(",\"");
            out.push_str(ids.entry(poll.task).or_insert_with(|| poll.task.to_string()));
            out.push_str("\",");
            string(out, &poll.name);
            out.push(']');
        }
        out.push_str("],\"parks\":[");
        for (j, park) in window.parks.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            let (start, duration) = span(park.start_ns, park.duration_ns);
            out.push('[');
            number(out, start);
            out.push(',');
            number(out, duration);
            out.push(']');
        }
        out.push_str("],\"wakes\":[");
        for (j, wake) in window.wakes.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            out.push('[');
            number(out, at(wake.at_ns));
            out.push(',');
            string(out, &wake.cause);
            out.push_str(",\"");
            out.push_str(ids.entry(wake.task).or_insert_with(|| wake.task.to_string()));
            out.push_str("\"]");
        }
        out.push_str("]}");
    }
    out.push_str("]}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_so_a_task_name_cannot_break_the_document() {
        let mut out = String::new();
        string(&mut out, "a\"b\\c\nd\u{1}é");
        assert_eq!(out, "\"a\\\"b\\\\c\\nd\\u0001é\"");
    }

    #[test]
    fn strings_without_escapes_and_escapes_at_either_end_are_copied_whole() {
        for (raw, json) in [
            ("", "\"\""),
            ("eddy-http connection", "\"eddy-http connection\""),
            ("\"x\"", "\"\\\"x\\\"\""),
            ("é\t", "\"é\\t\""),
        ] {
            let mut out = String::new();
            string(&mut out, raw);
            assert_eq!(out, json, "{raw:?}");
        }
    }

    #[test]
    fn numbers_are_written_in_decimal_like_display() {
        for n in [0, 7, 10, 99, 1_000_000_007, u64::MAX] {
            let mut out = String::from("x");
            number(&mut out, n);
            assert_eq!(out, format!("x{n}"));
        }
    }
}
