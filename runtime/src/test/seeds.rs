//! Reproducible task orderings: run a test body under many seeds, and name
//! the one that breaks it.
//!
//! With [`Builder::seed`](crate::Builder::seed), the loop polls each tick's
//! ready tasks (and dispatches each batch of I/O wakeups) in an order
//! shuffled by a seeded generator instead of first-in first-out. Every order
//! it produces is one a real program could see (tasks that are ready
//! together have no defined order), so a test that fails under some seed
//! has a real ordering bug; and because the shuffle depends only on the seed
//! and on the program, the same seed fails the same way every time.

use std::future::Future;
use std::panic::{self, AssertUnwindSafe};

/// Runs `future` on a paused-clock runtime that shuffles ready tasks with
/// `seed`: how to reproduce a failure [`check_orderings`] reported. Like
/// [`run`](super::run), it names the caller's line for a slow poll in debug
/// mode and moves a large `future` to the heap at once.
#[track_caller]
pub fn run_with_seed<F: Future>(seed: u64, future: F) -> F::Output {
    let runtime = super::runtime(Some(seed));
    // Boxed at the entry: see `run`.
    if const { crate::task::should_box::<F>() } {
        runtime.block_on(Box::pin(future))
    } else {
        runtime.block_on(future)
    }
}

/// Runs the test body made by `make` once per seed (each on a fresh
/// paused-clock runtime, see [`run_with_seed`]) and panics, naming the seed,
/// at the first one under which it panics.
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
///
/// // Two tasks both record "I was first" if they see no one else did. With
/// // FIFO order the first always wins; shuffled, either may, and both are
/// // correct outcomes. The check below holds under every order.
/// eddy::test::check_orderings(0..50, || async {
///     let first = Rc::new(Cell::new(None));
///     let tasks: Vec<_> = (0..2)
///         .map(|i| {
///             let first = first.clone();
///             eddy::spawn(async move {
///                 if first.get().is_none() {
///                     first.set(Some(i));
///                 }
///             })
///         })
///         .collect();
///     for task in tasks {
///         task.await.unwrap();
///     }
///     assert!(first.get().is_some());
/// });
/// ```
///
/// # Panics
/// With `ordering-dependent failure under seed N (...)`, at the first
/// failing seed.
#[track_caller]
pub fn check_orderings<M, F>(seeds: impl IntoIterator<Item = u64>, make: M)
where
    M: Fn() -> F,
    F: Future<Output = ()>,
{
    let mut tried = 0;
    for seed in seeds {
        tried += 1;
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| run_with_seed(seed, make())));
        if let Err(payload) = outcome {
            let message = crate::task::panic_message(payload.as_ref());
            panic!(
                "ordering-dependent failure under seed {seed} (after {tried} seed(s)): {message}\n\
                 reproduce with eddy::test::run_with_seed({seed}, ...)"
            );
        }
    }
}
