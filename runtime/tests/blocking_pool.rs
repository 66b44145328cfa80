//! The blocking pool runs a burst of jobs at once, whatever number of its
//! threads happen to be idle when the burst arrives.
//!
//! Each job of a burst waits (on a real condition variable, bounded in time
//! so a broken pool fails instead of hanging) until every job of the burst
//! has started. That can only happen if they all run at the same time, so
//! no timing assumption decides the outcome: a pool that ran two of them
//! on one thread fails, always.

use std::sync::{Arc, Condvar, Mutex};
use std::thread::ThreadId;
use std::time::Duration;

/// Upper bound on one rendezvous: reached only when the pool is broken.
const GIVE_UP: Duration = Duration::from_secs(2);

/// A meeting point for `parties` jobs. Once one job gives up, the others
/// stop waiting too, so a failing test fails in `GIVE_UP`, not `n × GIVE_UP`.
struct Rendezvous {
    state: Mutex<(usize, bool)>,
    changed: Condvar,
    parties: usize,
}

impl Rendezvous {
    fn new(parties: usize) -> Arc<Rendezvous> {
        Arc::new(Rendezvous { state: Mutex::new((0, false)), changed: Condvar::new(), parties })
    }

    /// Arrives and waits for the others; true if all of them arrived.
    fn meet(&self) -> bool {
        let mut state = self.state.lock().unwrap();
        state.0 += 1;
        self.changed.notify_all();
        let (state, _) = self
            .changed
            .wait_timeout_while(state, GIVE_UP, |(arrived, gave_up)| *arrived < self.parties && !*gave_up)
            .unwrap();
        let met = state.0 >= self.parties;
        drop(state);
        if !met {
            self.state.lock().unwrap().1 = true;
            self.changed.notify_all();
        }
        met
    }
}

/// Runs `jobs` blocking jobs that must all run at once; returns whether they
/// did, and the threads they ran on.
async fn burst(jobs: usize) -> (bool, Vec<ThreadId>) {
    let meeting = Rendezvous::new(jobs);
    let handles: Vec<_> = (0..jobs)
        .map(|_| {
            let meeting = meeting.clone();
            eddy::task::spawn_blocking(move || (meeting.meet(), std::thread::current().id()))
        })
        .collect();
    let mut all_met = true;
    let mut threads = Vec::new();
    for handle in handles {
        let (met, thread) = handle.await.unwrap();
        all_met &= met;
        threads.push(thread);
    }
    (all_met, threads)
}

/// Lets the threads of a finished burst go back to waiting for work. If
/// they are not idle yet, the burst after it only gets new threads instead,
/// which passes as well: this wait makes the bad case *likely* on a broken
/// pool, it is never needed for a correct one to pass.
fn let_threads_go_idle() {
    std::thread::sleep(Duration::from_millis(5));
}

#[test]
fn a_burst_runs_at_once_when_one_pool_thread_is_idle() {
    eddy::run(async {
        assert!(burst(1).await.0, "warm-up job");
        let_threads_go_idle();
        let (all_met, threads) = burst(8).await;
        assert!(all_met, "8 jobs should run at once, with 1 idle thread and 7 new ones");
        let distinct: std::collections::HashSet<_> = threads.iter().collect();
        assert_eq!(distinct.len(), 8);
    });
}

/// The general property: with `k` threads idle, a burst of `n` jobs (`n` at
/// most the cap) runs all at once: idle threads take `min(k, n)` of them and
/// the rest get new threads, whether `k` is less than, equal to or more
/// than `n`. (Threads outlive their burst, so each round starts with at
/// least the `k` threads it made idle, often more.)
#[test]
fn any_burst_within_the_cap_runs_at_once_whatever_number_of_threads_is_idle() {
    let runtime = eddy::Builder::new().max_blocking_threads(8).build().unwrap();
    runtime.block_on(async {
        for (idle, jobs) in [(0, 3), (1, 2), (2, 6), (3, 3), (4, 2), (6, 8), (8, 8)] {
            if idle > 0 {
                assert!(burst(idle).await.0, "making {idle} threads");
                let_threads_go_idle();
            }
            let (all_met, _) = burst(jobs).await;
            assert!(all_met, "{jobs} jobs with {idle} threads idle should all run at once");
        }
    });
}

#[test]
fn jobs_beyond_the_cap_wait_for_a_free_thread() {
    let runtime = eddy::Builder::new().max_blocking_threads(2).build().unwrap();
    runtime.block_on(async {
        // Four jobs, two at a time: each pair meets, so the pool ran
        // exactly two at once and the others waited their turn.
        let first = Rendezvous::new(2);
        let second = Rendezvous::new(2);
        let handles: Vec<_> = [&first, &first, &second, &second]
            .into_iter()
            .map(|meeting| {
                let meeting = meeting.clone();
                eddy::task::spawn_blocking(move || meeting.meet())
            })
            .collect();
        for handle in handles {
            assert!(handle.await.unwrap());
        }
    });
}
