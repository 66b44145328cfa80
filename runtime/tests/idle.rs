//! An idle loop parks in epoll_wait: it burns no CPU while it waits.
//!
//! This is the one test that waits on the real clock (a parked loop is only
//! visible against real time). It waits 10 ms rather than the 200 ms the
//! runtime issue suggested: the behaviour shows at any duration, and the
//! testing issue asks that no test sleep in real time for more than a few
//! milliseconds.

use std::time::Duration;

fn thread_cpu_time() -> Duration {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes only into the timespec we pass.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    assert_eq!(status, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

#[test]
fn an_idle_block_on_uses_far_less_cpu_than_wall_time() {
    let runtime = eddy::Builder::new().build().unwrap();
    let wall_start = std::time::Instant::now();
    let cpu_start = thread_cpu_time();
    runtime.block_on(eddy::time::sleep(Duration::from_millis(10)));
    let cpu = thread_cpu_time() - cpu_start;
    let wall = wall_start.elapsed();
    assert!(wall >= Duration::from_millis(10));
    // A busy-polling loop would use ~100% of the wall time; a parked one
    // uses microseconds. A quarter leaves room for a noisy machine.
    assert!(cpu < wall / 4, "the loop spun: {cpu:?} of CPU in {wall:?}");
}
