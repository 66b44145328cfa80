//! A task spawned by a task runs in the same tick, at the end of step 2,
//! while the loop has made fewer than `Builder::tick_budget` polls since it
//! last looked at I/O; past that, next tick like any other (see "Fairness, in numbers"
//! in `event_loop.rs`). Each test logs the order tasks run in: the order is
//! the specification, no timing is involved (except the last test's short
//! real timer, whose only assertion is an order too).

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use eddy::sync::oneshot;

type Log = Rc<RefCell<Vec<String>>>;

fn note(log: &Log, what: impl Into<String>) {
    log.borrow_mut().push(what.into());
}

/// Spawns `waiter` (parks on a channel, notes "woken") and a parent that
/// wakes it and then spawns `children` tasks (each notes "c{i}"): all from
/// the main future, so both run in the same tick's snapshot, waiter first.
async fn wake_then_spawn(children: usize) -> Vec<String> {
    let log: Log = Rc::default();
    let (tx, rx) = oneshot::channel::<()>();
    let waiter_log = log.clone();
    let waiter = eddy::spawn(async move {
        rx.await.expect("the parent sends");
        note(&waiter_log, "woken");
    });
    let parent_log = log.clone();
    let parent = eddy::spawn(async move {
        tx.send(()).expect("the waiter listens");
        (0..children)
            .map(|i| {
                let log = parent_log.clone();
                eddy::spawn(async move { note(&log, format!("c{i}")) })
            })
            .collect::<Vec<_>>()
    });
    for child in parent.await.expect("the parent finishes") {
        child.await.expect("a child finishes");
    }
    waiter.await.expect("the waiter finishes");
    Rc::try_unwrap(log).expect("every task is done").into_inner()
}

#[test]
fn a_task_spawned_by_a_task_runs_in_the_same_tick_before_the_tasks_woken_in_it() {
    let order = eddy::run(wake_then_spawn(1));
    // The waiter was woken first, but a wake waits for the next tick; the
    // child joins this one.
    assert_eq!(order, ["c0", "woken"]);
}

#[test]
fn spawned_tasks_join_the_tick_only_while_its_budget_has_room() {
    const BUDGET: usize = 4;
    let runtime = eddy::Builder::new().tick_budget(BUDGET).build().expect("a runtime");
    let order = runtime.block_on(wake_then_spawn(10));
    // Since the loop last looked at I/O it polled the main future once and
    // the snapshot's waiter and parent: room for 1 more poll. The rest of
    // the children queue behind the woken waiter, in order.
    let expected: Vec<String> = ["c0", "woken", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9"]
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(order, expected);
}

#[test]
fn a_task_spawned_outside_a_tick_waits_for_the_next_one() {
    eddy::run(async {
        let ran = Rc::new(Cell::new(false));
        let flag = ran.clone();
        let child = eddy::spawn(async move { flag.set(true) });
        // The main future is not one of step 2's tasks: nothing has run yet.
        assert!(!ran.get(), "ran before the spawner's poll ended");
        child.await.expect("the child finishes");
        assert!(ran.get());
    });
}

/// Each link spawns the next, until told to stop or `CAP` links: with no
/// bound on spawns joining a tick, the whole chain would run in one tick
/// and the timer would not fire until it ended.
#[test]
fn a_chain_of_tasks_each_spawning_the_next_does_not_starve_a_timer() {
    const CAP: u64 = 1_000_000;
    struct Chain {
        links: Cell<u64>,
        stop: Cell<bool>,
    }
    fn link(chain: Rc<Chain>) {
        eddy::spawn(async move {
            if chain.stop.get() || chain.links.get() >= CAP {
                return;
            }
            chain.links.set(chain.links.get() + 1);
            link(chain);
        });
    }
    eddy::run(async {
        let chain = Rc::new(Chain { links: Cell::new(0), stop: Cell::new(false) });
        // Started from a task, so the chain runs inside step 2.
        let starter = chain.clone();
        eddy::spawn(async move { link(starter) });
        eddy::time::sleep(Duration::from_millis(1)).await;
        let links = chain.links.get();
        chain.stop.set(true);
        assert!(links < CAP, "the timer fired only after the whole chain ran ({links} links)");
        assert!(links > 0, "the chain ran");
    });
}
