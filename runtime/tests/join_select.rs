//! `join!`, `try_join!`, `join_all`, `try_join_all` and `select!`: what they
//! return, when, in which order, and what they drop. Paused clock
//! throughout (`eddy::test::run`), so every elapsed time is exact.

use std::cell::Cell;
use std::future::{pending, ready};
use std::rc::Rc;
use std::time::Duration;

use eddy::sync::mpsc;
use eddy::task::{join_all, try_join_all, yield_now};
use eddy::test::{run_with_seed, DropProbe, MockTask};
use eddy::time::{sleep, Instant};
use eddy::{assert_ready_eq, join, select, try_join};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// A future that sleeps `delay`, then returns `value`.
async fn after<T>(delay: Duration, value: T) -> T {
    sleep(delay).await;
    value
}

// ----- join! ------------------------------------------------------------

#[test]
fn join_returns_every_output_in_argument_order_after_the_longest() {
    eddy::test::run(async {
        let started = Instant::now();
        let (a, b, c) = join!(after(secs(3), 'a'), after(secs(1), "b"), after(secs(2), 3));
        assert_eq!((a, b, c), ('a', "b", 3));
        assert_eq!(started.elapsed(), secs(3), "concurrent: the longest, not the sum");
    });
}

#[test]
fn join_polls_a_finished_future_no_more() {
    eddy::test::run(async {
        let polls = Rc::new(Cell::new(0));
        let counted = {
            let polls = polls.clone();
            std::future::poll_fn(move |_| {
                polls.set(polls.get() + 1);
                std::task::Poll::Ready(())
            })
        };
        join!(counted, after(secs(1), ()), async {
            for _ in 0..5 {
                yield_now().await;
            }
        });
        assert_eq!(polls.get(), 1);
    });
}

#[test]
fn join_of_one_future_is_a_one_tuple_and_accepts_a_trailing_comma() {
    eddy::test::run(async {
        assert_eq!(join!(ready(5),), (5,));
    });
}

// ----- try_join! --------------------------------------------------------

#[test]
fn try_join_returns_all_values_when_every_future_succeeds() {
    eddy::test::run(async {
        let outcome: Result<_, ()> = try_join!(after(secs(2), Ok(1)), after(secs(1), Ok("two")));
        assert_eq!(outcome, Ok((1, "two")));
    });
}

#[test]
fn try_join_returns_the_first_error_at_once_and_drops_the_others() {
    eddy::test::run(async {
        let (probe, dropped) = DropProbe::new();
        let slow = async move {
            let _probe = probe;
            after(secs(60), Ok::<u8, &str>(1)).await
        };
        let started = Instant::now();
        let outcome =
            try_join!(slow, after(secs(1), Err::<u8, _>("first")), after(secs(2), Err::<u8, _>("second")));
        assert_eq!(outcome, Err("first"));
        assert_eq!(started.elapsed(), secs(1), "no waiting for the slow future");
        assert!(dropped.get(), "the unfinished future was dropped (cancelled)");
    });
}

// ----- join_all / try_join_all -------------------------------------------

#[test]
fn join_all_returns_outputs_in_input_order_not_completion_order() {
    eddy::test::run(async {
        let started = Instant::now();
        let outputs = join_all((1..=4).rev().map(|n| after(secs(n), n))).await;
        assert_eq!(outputs, [4, 3, 2, 1]);
        assert_eq!(started.elapsed(), secs(4));
    });
}

#[test]
fn join_all_of_nothing_is_ready_with_nothing() {
    let mut empty = MockTask::new(join_all(Vec::<std::future::Ready<u8>>::new()));
    assert_ready_eq!(empty.poll(), Vec::<u8>::new());
}

#[test]
fn try_join_all_stops_at_the_first_error_and_drops_the_rest() {
    eddy::test::run(async {
        let (probe, dropped) = DropProbe::new();
        type Boxed = std::pin::Pin<Box<dyn std::future::Future<Output = Result<u64, u64>>>>;
        let mut futures: Vec<Boxed> = vec![
            Box::pin(after(secs(1), Ok(1))),
            Box::pin(after(secs(2), Err(2))),
            Box::pin(after(secs(3), Err(3))),
        ];
        futures.push(Box::pin(async move {
            let _probe = probe;
            after(secs(60), Ok(60)).await
        }));
        let started = Instant::now();
        assert_eq!(try_join_all(futures).await, Err(2));
        assert_eq!(started.elapsed(), secs(2));
        assert!(dropped.get());

        let all_fine = try_join_all([1, 2, 3].map(|n| after(secs(n), Ok::<_, ()>(n)))).await;
        assert_eq!(all_fine, Ok(vec![1, 2, 3]));
    });
}

// ----- select! ------------------------------------------------------------

#[test]
fn select_runs_the_first_branch_to_finish_and_drops_the_losers() {
    eddy::test::run(async {
        let (probe, dropped) = DropProbe::new();
        let loser = async move {
            let _probe = probe;
            after(secs(10), "slow").await
        };
        let started = Instant::now();
        let winner = select! {
            value = loser => value,
            value = after(secs(1), "fast") => value,
        };
        assert_eq!(winner, "fast");
        assert_eq!(started.elapsed(), secs(1));
        assert!(dropped.get(), "the losing future was dropped before select! returned");
    });
}

#[test]
fn a_branch_whose_pattern_fails_is_disabled_and_the_others_go_on() {
    eddy::test::run(async {
        let started = Instant::now();
        let got = select! {
            Some(v) = after(secs(1), None::<u32>) => v,
            Some(v) = after(secs(2), Some(7)) => v * 10,
        };
        assert_eq!(got, 70);
        assert_eq!(started.elapsed(), secs(2));
    });
}

#[test]
fn else_runs_when_every_branch_is_disabled() {
    eddy::test::run(async {
        let got = select! {
            Some(v) = ready(None::<u8>) => v,
            Ok(v) = ready(Err::<u8, ()>(())) => v,
            else => 99,
        };
        assert_eq!(got, 99);
    });
}

#[test]
fn a_false_precondition_disables_its_branch_without_polling_it() {
    eddy::test::run(async {
        let polled = Cell::new(false);
        let watched = async {
            polled.set(true);
            1
        };
        let got = select! {
            v = watched, if false => v,
            v = after(secs(1), 2) => v,
        };
        assert_eq!(got, 2);
        assert!(!polled.get());

        let nothing_enabled = select! {
            v = ready(1), if false => v,
            else => 0,
        };
        assert_eq!(nothing_enabled, 0);
    });
}

#[test]
#[should_panic(expected = "no `else` branch")]
fn without_else_select_panics_when_every_branch_is_disabled() {
    eddy::test::run(async {
        let _: u8 = select! {
            Some(v) = ready(None) => v,
        };
    });
}

#[test]
fn patterns_may_bind_by_mut_and_nest() {
    eddy::test::run(async {
        let got = select! {
            Some((mut text, [first, ..])) = ready(Some((String::from("a"), [1, 2]))) => {
                text.push('!');
                (text, first)
            }
        };
        assert_eq!(got, (String::from("a!"), 1));
    });
}

#[test]
fn handlers_break_and_continue_the_surrounding_loop_and_may_use_what_losers_borrowed() {
    eddy::test::run(async {
        let (tx, mut rx) = mpsc::channel::<u32>(4);
        eddy::spawn(async move {
            for i in 0..6 {
                tx.send(i).await.unwrap();
                sleep(secs(1)).await;
            }
            pending::<()>().await;
        });
        let mut odd = Vec::new();
        loop {
            select! {
                Some(value) = rx.recv() => {
                    if value % 2 == 0 {
                        continue;
                    }
                    odd.push(value);
                }
                _ = sleep(secs(5)) => {
                    // `rx.recv()` was dropped before this runs: `rx` is free.
                    rx.close();
                    break;
                }
            }
        }
        assert_eq!(odd, [1, 3, 5]);
    });
}

#[test]
fn biased_polls_branches_in_written_order() {
    let mut winners = Vec::new();
    for seed in 0..20 {
        winners.push(run_with_seed(seed, async {
            select! {
                biased;
                _ = ready(()) => 0,
                _ = ready(()) => 1,
                _ = ready(()) => 2,
            }
        }));
    }
    assert!(winners.iter().all(|&w| w == 0), "{winners:?}");
}

/// Which of four always-ready branches wins, `rounds` times in a row.
async fn choices(rounds: usize) -> Vec<u8> {
    let mut chosen = Vec::new();
    for _ in 0..rounds {
        chosen.push(select! {
            _ = ready(()) => 0,
            _ = ready(()) => 1,
            _ = ready(()) => 2,
            _ = ready(()) => 3,
        });
        // Other tasks and ticks in between draw from the same generator.
        eddy::spawn(async {}).await.unwrap();
    }
    chosen
}

#[test]
fn with_a_seed_the_branch_choices_replay_exactly() {
    assert_eq!(run_with_seed(7, choices(32)), run_with_seed(7, choices(32)));
    assert_ne!(run_with_seed(7, choices(32)), run_with_seed(8, choices(32)));
}

#[test]
fn without_a_seed_every_ready_branch_gets_chosen() {
    // 200 rounds: the chance that a fair choice misses a branch is ~1e-25.
    let chosen = eddy::test::run(choices(200));
    for branch in 0..4 {
        assert!(chosen.contains(&branch), "branch {branch} never won: {chosen:?}");
    }
    let chosen = eddy::test::run(choices(200));
    assert!(chosen.windows(2).any(|pair| pair[0] != pair[1]), "no variety: {chosen:?}");
}

#[test]
fn select_works_outside_a_runtime() {
    let mut task = MockTask::new(async {
        select! {
            v = pending::<u8>() => v,
            v = ready(3) => v,
        }
    });
    assert_ready_eq!(task.poll(), 3);
}

#[test]
fn under_every_ordering_select_takes_exactly_one_value_and_loses_none() {
    // Two channels with a value each, ready at the same instant: whichever
    // branch a seed picks, the other value stays in its channel.
    eddy::test::check_orderings(0..64, || async {
        let (a_tx, mut a) = mpsc::channel::<u32>(1);
        let (b_tx, mut b) = mpsc::channel::<u32>(1);
        eddy::spawn(async move { a_tx.send(1).await.unwrap() });
        eddy::spawn(async move { b_tx.send(2).await.unwrap() });
        sleep(secs(1)).await;
        let first = select! {
            Some(v) = a.recv() => v,
            Some(v) = b.recv() => v,
        };
        let second = if first == 1 { b.recv().await } else { a.recv().await };
        assert_eq!(first + second.expect("the other value was not lost"), 3);
    });
}
