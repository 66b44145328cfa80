//! The report: the machine it ran on, and markdown tables of the results.
//!
//! A figure without its machine is not worth keeping, so every result file
//! starts with the core count, CPU, kernel, compiler, peer versions, eddy's
//! commit, the date, and the exact command that produced it.

use std::fmt::Write as _;
use std::process::Command;
use std::time::Duration;

use crate::stats::Summary;

/// The compiler that built this benchmark (recorded by `build.rs`).
pub const RUSTC_VERSION: &str = env!("RUNTIME_BENCH_RUSTC");

/// Versions of the peer runtimes in `bench/Cargo.lock` (recorded by
/// `build.rs`).
pub const PEER_VERSIONS: &str = env!("RUNTIME_BENCH_PEERS");

/// What a result file says about where and when it was produced.
#[derive(Clone, Debug)]
pub struct Machine {
    /// Logical CPUs available to this process.
    pub nproc: usize,
    /// `model name` from `/proc/cpuinfo`.
    pub cpu: String,
    /// The running kernel's release (`uname -r`).
    pub kernel: String,
    /// eddy's commit (`git rev-parse --short HEAD`), which may have
    /// uncommitted changes on top.
    pub commit: String,
    /// Local date and time of the run, `YYYY-MM-DD HH:MM TZ`.
    pub date: String,
    /// The same instant as `YYYYMMDD-HHMM`, for the result file's name.
    pub stamp: String,
    /// The 1, 5 and 15 minute load averages when the run started: on a
    /// 2-core machine, anything near 1 or above means something else was
    /// competing for the cores, and the figures are suspect.
    pub load: String,
}

impl Machine {
    /// Looks everything up; a field that cannot be found reads `unknown`.
    pub fn detect() -> Machine {
        let unknown = || "unknown".to_string();
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|info| {
                info.lines()
                    .find(|line| line.starts_with("model name"))
                    .and_then(|line| line.split_once(':'))
                    .map(|(_, model)| model.trim().to_string())
            })
            .unwrap_or_else(unknown);
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|release| release.trim().to_string())
            .unwrap_or_else(|_| unknown());
        // A read-only query: the benchmark must never change the repository.
        let commit = Command::new("git")
            .args(["rev-parse", "--short", "HEAD"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .ok()
            .filter(|out| out.status.success())
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
            .unwrap_or_else(unknown);
        let (date, stamp) = local_time();
        let load = load_average();
        Machine {
            nproc: std::thread::available_parallelism().map_or(0, |n| n.get()),
            cpu,
            kernel,
            commit,
            date,
            stamp,
            load,
        }
    }

    /// A markdown bullet list of the machine and the `command`.
    pub fn to_markdown(&self, command: &str) -> String {
        format!(
            "- date: {}\n- machine: {} CPUs ({}), Linux {}, load average {} at the start\n\
             - compiler: {}\n- eddy: commit {} (plus any uncommitted changes)\n- peers: {}\n\
             - command: `{}`\n",
            self.date,
            self.nproc,
            self.cpu,
            self.kernel,
            self.load,
            RUSTC_VERSION,
            self.commit,
            PEER_VERSIONS,
            command
        )
    }
}

/// The 1, 5 and 15 minute load averages, as `/proc/loadavg` shows them.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| text.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_string())
}

/// The local time as (`YYYY-MM-DD HH:MM TZ`, `YYYYMMDD-HHMM`), through libc
/// because std has no calendar (and one is not worth a dependency).
fn local_time() -> (String, String) {
    // SAFETY: `time` accepts a null pointer (it then only returns the value).
    let now = unsafe { libc::time(std::ptr::null_mut()) };
    // SAFETY: `tm` is plain old data, for which all-zero bytes are valid (the
    // `tm_zone` pointer becomes null, which we check before reading it).
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the call; `localtime_r` is the
    // thread-safe variant that writes only into `tm`.
    if unsafe { libc::localtime_r(&now, &mut tm) }.is_null() {
        return ("unknown".to_string(), "unknown".to_string());
    }
    let zone = if tm.tm_zone.is_null() {
        String::new()
    } else {
        // SAFETY: non-null `tm_zone` points at a NUL-terminated abbreviation
        // owned by libc that lives as long as the process's time zone data.
        unsafe { std::ffi::CStr::from_ptr(tm.tm_zone) }.to_string_lossy().into_owned()
    };
    let (year, month, day, hour, minute) =
        (tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min);
    (
        format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02} {zone}").trim_end().to_string(),
        format!("{year:04}{month:02}{day:02}-{hour:02}{minute:02}"),
    )
}

/// How a row's wall-time cells are shown.
#[derive(Clone, Copy, Debug)]
pub enum Unit {
    /// Milliseconds per run.
    Time,
    /// Throughput: this many bytes per run, shown in MB/s (10⁶ bytes).
    Throughput {
        /// Bytes moved by one run.
        bytes: u64,
    },
}

/// One scenario's results, one cell per runtime column.
#[derive(Clone, Debug)]
pub struct Row {
    /// Scenario name.
    pub scenario: String,
    /// What one run does, in a few words (`100k tasks`).
    pub size: String,
    /// How to show the wall time.
    pub unit: Unit,
    /// Per column: `None` if that runtime does not run this scenario.
    pub cells: Vec<Option<Cell>>,
}

/// One runtime's figures for one scenario, over all rounds.
#[derive(Clone, Copy, Debug)]
pub struct Cell {
    /// Wall time per run.
    pub wall: Summary,
    /// Process CPU time per run.
    pub cpu: Summary,
}

/// Renders the wall-time table and the CPU-time table for `rows`, whose
/// cells follow `columns`. The last column of each is the ratio of the
/// medians of the `ratio` pair of columns (`(eddy, tokio)`): a ratio of
/// *times*, so below 1 means the first is faster, on every row (for a
/// throughput row it is the second's MB/s over the first's).
pub fn tables(columns: &[&str], ratio: (usize, usize), rows: &[Row]) -> String {
    let mut out = String::new();
    let ratio_header = format!("{}/{}", columns[ratio.0], columns[ratio.1]);
    let header = |out: &mut String, title: &str| {
        let _ = writeln!(out, "{title}\n");
        let _ = writeln!(out, "| scenario | size | {} | {ratio_header} |", columns.join(" | "));
        let _ = writeln!(out, "|---|---|{}---:|", "---:|".repeat(columns.len()));
    };

    header(&mut out, "Wall time per run: median (min–max); ms, or MB/s for throughput rows");
    for row in rows {
        let cells: Vec<String> = row.cells.iter().map(|cell| wall_cell(row.unit, cell.as_ref())).collect();
        let ratio = ratio_cell(row.cells[ratio.0].map(|c| c.wall), row.cells[ratio.1].map(|c| c.wall));
        let _ = writeln!(out, "| {} | {} | {} | {ratio} |", row.scenario, row.size, cells.join(" | "));
    }

    let _ = writeln!(out);
    header(&mut out, "Process CPU time per run (user + system, all threads): median (min–max), ms");
    for row in rows {
        let cells: Vec<String> =
            row.cells.iter().map(|cell| cell.map_or_else(|| "–".to_string(), |c| ms_range(c.cpu))).collect();
        let ratio = ratio_cell(row.cells[ratio.0].map(|c| c.cpu), row.cells[ratio.1].map(|c| c.cpu));
        let _ = writeln!(out, "| {} | {} | {} | {ratio} |", row.scenario, row.size, cells.join(" | "));
    }
    out
}

/// An SVG bar chart of every row as ratios to the `base` column (tokio):
/// one group per scenario, one bar per runtime, the bar's length its median
/// wall time over the base's (so 1.00 is as fast as tokio, shorter is
/// faster), labelled with that ratio and the same ratio of CPU times.
///
/// Hand-written SVG, the same shape `bench/http/chart.py` draws for the HTTP
/// and instruction-count reports: horizontal bars so names stay readable, a
/// dashed line at 1.0 in each group, the values in a column right of the
/// plot (where no bar or line can run through them). Scenarios the base runtime
/// does not run are left out (there is nothing to divide by).
pub fn ratio_chart(columns: &[&str], base: usize, rows: &[Row]) -> String {
    const BAR_H: f64 = 18.0;
    const GAP: f64 = 14.0;
    const LABEL_W: f64 = 130.0;
    const PLOT_W: f64 = 420.0;
    const VALUE_W: f64 = 170.0;
    const FONT: &str = r#"font-family="sans-serif" font-size="12""#;
    const COLOURS: [&str; 5] = ["#d62728", "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd"];
    let ratio = |cell: Option<Cell>, of: fn(&Cell) -> Summary, base: Cell| {
        let base = of(&base).median.as_secs_f64();
        cell.filter(|_| base > 0.0).map(|c| of(&c).median.as_secs_f64() / base)
    };
    // One scale for the whole chart: the largest ratio, but at least 1.0 so
    // the reference line is always inside the plot.
    let top = rows
        .iter()
        .filter_map(|row| row.cells[base].map(|b| (row, b)))
        .flat_map(|(row, b)| row.cells.iter().filter_map(move |&c| ratio(c, |c| c.wall, b)))
        .fold(1.0_f64, f64::max);
    let mut body = String::new();
    let mut y = 58.0;
    for row in rows {
        let Some(base_cell) = row.cells[base] else { continue };
        let _ = writeln!(
            body,
            r#"<text x="8" y="{:.0}" {FONT} font-weight="bold">{} ({})</text>"#,
            y + 12.0,
            xml_escape(&row.scenario),
            xml_escape(&row.size)
        );
        y += 18.0;
        let group_top = y;
        // The reference line first, so the bars are drawn over it.
        let one = LABEL_W + PLOT_W / top;
        let group_end = y + BAR_H * row.cells.iter().filter(|c| c.is_some()).count() as f64;
        let _ = writeln!(
            body,
            r##"<line x1="{one:.1}" y1="{group_top:.0}" x2="{one:.1}" y2="{group_end:.0}" stroke="#333" stroke-dasharray="3,3"/>"##
        );
        for (i, (&name, &cell)) in columns.iter().zip(&row.cells).enumerate() {
            let (Some(wall), Some(cpu)) =
                (ratio(cell, |c| c.wall, base_cell), ratio(cell, |c| c.cpu, base_cell))
            else {
                continue;
            };
            let w = (PLOT_W * wall / top).max(1.0);
            let _ = writeln!(
                body,
                r#"<text x="{:.0}" y="{:.0}" {FONT} text-anchor="end">{}</text>"#,
                LABEL_W - 6.0,
                y + 13.0,
                xml_escape(name)
            );
            let _ = writeln!(
                body,
                r#"<rect x="{LABEL_W:.0}" y="{:.0}" width="{w:.1}" height="{:.0}" fill="{}"/>"#,
                y + 2.0,
                BAR_H - 4.0,
                COLOURS[i % COLOURS.len()]
            );
            let _ = writeln!(
                body,
                r#"<text x="{:.1}" y="{:.0}" {FONT}>{wall:.2}× wall, {cpu:.2}× CPU</text>"#,
                LABEL_W + PLOT_W + 8.0,
                y + 13.0
            );
            y += BAR_H;
        }
        y += GAP;
    }
    let width = LABEL_W + PLOT_W + VALUE_W;
    let height = y + 8.0;
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}">
<rect width="100%" height="100%" fill="white"/>
<text x="8" y="20" font-family="sans-serif" font-size="15" font-weight="bold">Runtime benchmark: time per run relative to {base_name} (lower is faster)</text>
<text x="8" y="36" {FONT} fill="#555">bar: median wall time over {base_name}'s median (dashed line = 1.00); the CPU-time ratio beside it;</text>
<text x="8" y="50" {FONT} fill="#555">tcp_echo: the time to move the same bytes. Medians of each runtime's runs, one process per run.</text>
{body}</svg>
"##,
        base_name = xml_escape(columns[base]),
    )
}

/// Escapes the five XML special characters for SVG text.
fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

fn wall_cell(unit: Unit, cell: Option<&Cell>) -> String {
    let Some(cell) = cell else { return "–".to_string() };
    match unit {
        Unit::Time => ms_range(cell.wall),
        Unit::Throughput { bytes } => {
            let rate = |time: Duration| bytes as f64 / 1e6 / time.as_secs_f64().max(1e-9);
            // The fastest run (min time) has the highest rate.
            format!("{:.0} ({:.0}–{:.0})", rate(cell.wall.median), rate(cell.wall.max), rate(cell.wall.min))
        }
    }
}

fn ratio_cell(a: Option<Summary>, b: Option<Summary>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if !b.median.is_zero() => {
            format!("{:.2}", a.median.as_secs_f64() / b.median.as_secs_f64())
        }
        _ => "–".to_string(),
    }
}

/// `12.3 (11.9–13.0)`: median, min and max in milliseconds, three
/// significant digits.
fn ms_range(summary: Summary) -> String {
    format!("{} ({}–{})", ms(summary.median), ms(summary.min), ms(summary.max))
}

/// Milliseconds with about three significant digits.
pub fn ms(duration: Duration) -> String {
    let ms = duration.as_secs_f64() * 1e3;
    match ms {
        ms if ms >= 100.0 => format!("{ms:.0}"),
        ms if ms >= 10.0 => format!("{ms:.1}"),
        ms if ms >= 1.0 => format!("{ms:.2}"),
        ms => format!("{ms:.3}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(ms: u64) -> Summary {
        let d = Duration::from_millis(ms);
        Summary { median: d, min: d, max: d }
    }

    #[test]
    fn ratio_is_of_times_even_for_throughput() {
        let row = Row {
            scenario: "echo".into(),
            size: "1 MB".into(),
            unit: Unit::Throughput { bytes: 1_000_000 },
            cells: vec![
                Some(Cell { wall: summary(500), cpu: summary(400) }),
                Some(Cell { wall: summary(1000), cpu: summary(800) }),
                None,
            ],
        };
        let text = tables(&["a", "b", "c"], (0, 1), &[row]);
        assert!(text.contains("| echo | 1 MB | 2 (2–2) | 1 (1–1) | – | 0.50 |"), "{text}");
        assert!(text.contains("| echo | 1 MB | 400 (400–400) | 800 (800–800) | – | 0.50 |"), "{text}");
    }

    #[test]
    fn ratio_chart_draws_each_runtime_relative_to_the_base() {
        let row = Row {
            scenario: "spawn_join".into(),
            size: "100k tasks".into(),
            unit: Unit::Time,
            cells: vec![
                Some(Cell { wall: summary(50), cpu: summary(40) }),
                Some(Cell { wall: summary(100), cpu: summary(80) }),
                None,
            ],
        };
        let svg = ratio_chart(&["eddy", "tokio", "smol"], 1, &[row]);
        assert!(svg.starts_with("<svg "), "{svg}");
        assert!(svg.contains("0.50× wall, 0.50× CPU"), "{svg}");
        assert!(svg.contains("1.00× wall, 1.00× CPU"), "{svg}");
        assert!(!svg.contains(">smol<"), "a runtime without a figure gets no bar: {svg}");
        assert!(svg.trim_end().ends_with("</svg>"), "{svg}");
    }

    #[test]
    fn milliseconds_keep_three_digits() {
        assert_eq!(ms(Duration::from_micros(123_456)), "123");
        assert_eq!(ms(Duration::from_micros(12_345)), "12.3");
        assert_eq!(ms(Duration::from_micros(1_234)), "1.23");
        assert_eq!(ms(Duration::from_micros(123)), "0.123");
    }
}
