//! A logger for tests that assert on what eddy logs: every record at or
//! above the level the test binary asks for, kept with its level, so a test
//! can look for the lines that mention something. One logger per process
//! (`log` allows no other), installed once by the first test that asks.

use std::sync::{Mutex, OnceLock};

static LINES: Mutex<Vec<(log::Level, String)>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        LINES.lock().unwrap().push((record.level(), record.args().to_string()));
    }
    fn flush(&self) {}
}

/// Installs the capturing logger (once per test binary), keeping records
/// up to `level`.
pub fn capture_logs(level: log::LevelFilter) {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        log::set_boxed_logger(Box::new(Capture)).unwrap();
        log::set_max_level(level);
    });
}

/// The captured lines that contain `needle`, with their levels.
pub fn lines_mentioning(needle: &str) -> Vec<(log::Level, String)> {
    LINES.lock().unwrap().iter().filter(|(_, line)| line.contains(needle)).cloned().collect()
}
