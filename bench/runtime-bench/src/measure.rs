//! Wall-clock and CPU time of one measured run.
//!
//! Wall time says how long a user waits; CPU time says how much machine the
//! runtime burnt meanwhile, which is the fairer figure on a noisy 2-core box
//! (time spent descheduled counts in wall time, not in CPU time) and the one
//! that exposes busy-polling (CPU time above wall time means a second thread
//! was busy too).

use std::time::{Duration, Instant};

/// What one run cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sample {
    /// Elapsed real time.
    pub wall: Duration,
    /// CPU time of the whole process (every thread, user plus kernel).
    pub cpu: Duration,
}

/// A running measurement: [`Meter::start`] before the work, [`Meter::stop`]
/// after it.
#[derive(Debug)]
pub struct Meter {
    wall: Instant,
    cpu: Duration,
}

impl Meter {
    /// Reads both clocks. The CPU clock is read first and the wall clock last
    /// (and the reverse in `stop`), so the wall figure brackets the CPU one.
    pub fn start() -> Meter {
        let cpu = process_cpu_time();
        Meter { wall: Instant::now(), cpu }
    }

    /// Reads both clocks again and returns the difference.
    pub fn stop(self) -> Sample {
        let wall = self.wall.elapsed();
        let cpu = process_cpu_time().saturating_sub(self.cpu);
        Sample { wall, cpu }
    }
}

/// CPU time consumed so far by every thread of this process, user and kernel.
///
/// `CLOCK_PROCESS_CPUTIME_ID` rather than `getrusage`: it has nanosecond
/// resolution and is exact (the scheduler's own runtime accounting), while
/// `getrusage` splits a tick-sampled total into user and system parts, which
/// we do not need.
///
/// # Panics
/// If the clock cannot be read, which on Linux means a broken libc.
pub fn process_cpu_time() -> Duration {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `now` is a valid, writable `timespec` for the duration of the
    // call, which is all `clock_gettime` requires.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut now) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_PROCESS_CPUTIME_ID): {}", std::io::Error::last_os_error());
    // Both fields are non-negative for this clock (it starts at zero).
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_work_costs_cpu_time() {
        let meter = Meter::start();
        let mut x = 0u64;
        while meter.wall.elapsed() < Duration::from_millis(20) {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        let sample = meter.stop();
        assert!(sample.wall >= Duration::from_millis(20));
        // Loose: the machine may deschedule us, but not for most of 20 ms.
        assert!(sample.cpu >= Duration::from_millis(5), "{sample:?}");
    }
}
