//! `join!`, `try_join!` and `select!`: waiting for several futures at once,
//! inside one task (asyncio's `gather` and `wait(..., FIRST_COMPLETED)`).
//!
//! # How they are built
//!
//! All three are `macro_rules!` macros with no helper crate. Each future is
//! pinned on the awaiting task's stack (`core::pin::pin!`, no allocation,
//! no `unsafe`), and one `poll_fn` polls them: the task's single waker is
//! handed to every future, so whichever becomes ready wakes the task and the
//! next poll looks at all of them again. The futures run *concurrently*, not
//! in parallel: they take turns on the task's poll, and none of them is a
//! task of its own (use [`spawn`](crate::spawn) or a
//! [`JoinSet`](crate::task::JoinSet) for that).
//!
//! Macros cannot count, so a helper (`__eddy_enumerate!`) pairs each future
//! with a slot from a fixed list of 32 (an index, and identifiers for its
//! pinned future and its output); that list is why a single invocation takes
//! at most 32 futures or branches.
//!
//! - `join!` keeps each output in an `Option` beside its future and polls
//!   only the futures whose output is still `None`; it is ready when all
//!   are.
//! - `try_join!` does the same but returns the first `Err` at once; the other
//!   futures are dropped (cancelled) when the macro's block ends.
//! - `select!` polls the enabled branches starting at a position drawn from
//!   the loop's random generator (see "Branch order" on [`select!`](crate::select!)), takes
//!   the first that is ready *and* matches its pattern, drops every other
//!   future, and only then runs that branch's handler, outside the polling
//!   closure, so `break`, `continue`, `return` and `?` in a handler act on
//!   the code around the `select!`.
//!
//! Pattern checks in `select!` look at the output by reference before it is
//! moved into the chosen branch; to make a pattern such as `Some(mut v)`
//! usable on a reference, a second helper (`__select_clean_pattern!`) strips
//! `mut` and `ref` from its bindings for that check.

/// Awaits every future concurrently and returns all their outputs as a
/// tuple, in argument order. asyncio's `gather`.
///
/// The futures share the calling task: each poll of `join!` polls every
/// future that has not finished yet, in argument order. Total time is the
/// longest future's, not the sum. At most 32 futures.
///
/// ```
/// use std::time::Duration;
/// use eddy::time::{sleep, Instant};
///
/// eddy::test::run(async {
///     let started = Instant::now();
///     let (a, b) = eddy::join!(
///         async { sleep(Duration::from_secs(1)).await; "one" },
///         async { sleep(Duration::from_secs(2)).await; 2 },
///     );
///     assert_eq!((a, b), ("one", 2));
///     assert_eq!(started.elapsed(), Duration::from_secs(2)); // not 3
/// });
/// ```
#[macro_export]
macro_rules! join {
    ($($future:expr),+ $(,)?) => {
        $crate::__eddy_enumerate!(@start __join_generate { join } $(($future))+)
    };
}

/// Like [`join!`] for futures that return `Result<_, E>` (one error type
/// `E` for all): `Ok` with every value as a tuple, or the **first** `Err`
/// as soon as one future returns it. The futures still running are then
/// dropped, which cancels them. asyncio's `gather` without
/// `return_exceptions`, except that the siblings are cancelled instead of
/// left running.
///
/// ```
/// use std::time::Duration;
/// use eddy::time::sleep;
///
/// eddy::test::run(async {
///     let quick_failure = async {
///         sleep(Duration::from_secs(1)).await;
///         Err::<u32, _>("refused")
///     };
///     let slow_success = async {
///         sleep(Duration::from_secs(60)).await;
///         Ok(7)
///     };
///     let outcome = eddy::try_join!(quick_failure, slow_success);
///     assert_eq!(outcome, Err("refused")); // after 1 s; the 60 s one is dropped
/// });
/// ```
#[macro_export]
macro_rules! try_join {
    ($($future:expr),+ $(,)?) => {
        $crate::__eddy_enumerate!(@start __join_generate { try_join } $(($future))+)
    };
}

/// Waits until the first of several futures completes, runs that branch,
/// and drops (cancels) the others. asyncio's `wait(..., return_when=FIRST_COMPLETED)`
/// followed by cancelling the rest.
///
/// ```text
/// eddy::select! {
///     biased;                                  // optional: poll in written order
///     pattern = future, if precondition => handler,
///     pattern = future => handler,
///     else => handler,                         // optional
/// }
/// ```
///
/// 1. Every `if precondition` is evaluated; a branch whose precondition is
///    false is *disabled*. Then every `future` expression is evaluated, in
///    the written order (those of disabled branches too, but they are never
///    polled).
/// 2. The enabled futures are polled until one is ready. Its output is
///    matched against the branch's `pattern`: on a match, every other future
///    is dropped and the `handler` runs with the pattern's bindings; its
///    value is the value of `select!`. On a mismatch that branch is disabled
///    and the others keep going.
/// 3. When every branch is disabled, the `else` handler runs; without an
///    `else`, `select!` panics (all its futures finished without a match: a
///    bug in the caller, like an exhausted `match`).
///
/// Handlers run after the losing futures are dropped and outside any
/// closure, so they can use what those futures borrowed, and `break`,
/// `continue`, `return` and `?` in them act on the surrounding code. At most
/// 32 branches.
///
/// # Branch order
///
/// When several futures are ready at once, which one wins depends on the
/// order they are polled in. By default that order starts at a random branch
/// (and goes round), so no branch starves another. The randomness comes from
/// **the event loop's generator**: with [`Builder::seed`](crate::Builder::seed)
/// (and so under [`eddy::test::check_orderings`](crate::test::check_orderings))
/// the same seed makes the same choices, so a test that uses `select!`
/// replays exactly; without a seed, the choices differ from run to run.
/// Outside a runtime a per-thread generator is used. With `biased;` the
/// branches are polled in the written order, every time: cheaper, and right
/// when one branch must take precedence (a shutdown signal before work).
///
/// # Cancellation
///
/// The losing futures are dropped, not paused: whatever they were in the
/// middle of is abandoned. Use futures that are cancel-safe (a channel's
/// `recv`, a `sleep`), or keep a future across iterations of a loop by
/// pinning it outside and selecting on `&mut fut`.
///
/// Two channels, read until both are closed and empty:
///
/// ```
/// use std::time::Duration;
/// use eddy::sync::mpsc;
/// use eddy::time::sleep;
///
/// eddy::test::run(async {
///     let (fast_tx, mut fast) = mpsc::channel::<u32>(8);
///     let (slow_tx, mut slow) = mpsc::channel::<u32>(8);
///     for (tx, every, values) in [(fast_tx, 1, [1, 2, 3]), (slow_tx, 4, [10, 20, 30])] {
///         eddy::spawn(async move {
///             for value in values {
///                 sleep(Duration::from_secs(every)).await;
///                 tx.send(value).await.unwrap();
///             }
///         }); // dropping `tx` closes the channel
///     }
///     let mut received = Vec::new();
///     loop {
///         eddy::select! {
///             // A closed channel gives `None`: the pattern fails and the
///             // branch is disabled for this round.
///             Some(value) = fast.recv() => received.push(value),
///             Some(value) = slow.recv() => received.push(value),
///             else => break, // both closed
///         }
///     }
///     assert_eq!(received, [1, 2, 3, 10, 20, 30]);
/// });
/// ```
///
/// A timeout is one more branch: `_ = sleep(limit) => ...`. (While it is
/// enabled, `else` cannot run: the sleep always completes eventually.)
///
/// `biased;`: a worker that looks at its stop signal before anything else,
/// so a stop wins even while jobs are waiting.
///
/// ```
/// use eddy::sync::{mpsc, oneshot};
///
/// eddy::test::run(async {
///     let (jobs_tx, mut jobs) = mpsc::channel::<u32>(8);
///     for job in 1..=5 {
///         jobs_tx.send(job).await.unwrap();
///     }
///     let (stop_tx, mut stop) = oneshot::channel::<()>();
///     let mut stop_tx = Some(stop_tx);
///     let mut done = Vec::new();
///     loop {
///         eddy::select! {
///             biased;
///             _ = &mut stop => break,
///             Some(job) = jobs.recv() => {
///                 done.push(job);
///                 if job == 2 {
///                     stop_tx.take().unwrap().send(()).unwrap();
///                 }
///             }
///         }
///     }
///     assert_eq!(done, [1, 2]); // jobs 3 to 5 were ready, but stop came first
/// });
/// ```
#[macro_export]
macro_rules! select {
    (biased; $($branches:tt)*) => {
        $crate::__select_parse!(@pat { true [] } [] [] $($branches)*)
    };
    ($($branches:tt)*) => {
        $crate::__select_parse!(@pat { false [] } [] [] $($branches)*)
    };
}

/// Pairs each item with a slot `(index future_ident output_ident Variant)`
/// and hands the list to `$crate::$callback!(@generate { state } ...)`.
#[doc(hidden)]
#[macro_export]
macro_rules! __eddy_enumerate {
    (@start $callback:ident { $($state:tt)* } $($items:tt)+) => {
        $crate::__eddy_enumerate!(@step $callback { $($state)* } [] [
            (0 __eddy_f0 __eddy_o0 B0) (1 __eddy_f1 __eddy_o1 B1) (2 __eddy_f2 __eddy_o2 B2)
            (3 __eddy_f3 __eddy_o3 B3) (4 __eddy_f4 __eddy_o4 B4) (5 __eddy_f5 __eddy_o5 B5)
            (6 __eddy_f6 __eddy_o6 B6) (7 __eddy_f7 __eddy_o7 B7) (8 __eddy_f8 __eddy_o8 B8)
            (9 __eddy_f9 __eddy_o9 B9) (10 __eddy_f10 __eddy_o10 B10) (11 __eddy_f11 __eddy_o11 B11)
            (12 __eddy_f12 __eddy_o12 B12) (13 __eddy_f13 __eddy_o13 B13) (14 __eddy_f14 __eddy_o14 B14)
            (15 __eddy_f15 __eddy_o15 B15) (16 __eddy_f16 __eddy_o16 B16) (17 __eddy_f17 __eddy_o17 B17)
            (18 __eddy_f18 __eddy_o18 B18) (19 __eddy_f19 __eddy_o19 B19) (20 __eddy_f20 __eddy_o20 B20)
            (21 __eddy_f21 __eddy_o21 B21) (22 __eddy_f22 __eddy_o22 B22) (23 __eddy_f23 __eddy_o23 B23)
            (24 __eddy_f24 __eddy_o24 B24) (25 __eddy_f25 __eddy_o25 B25) (26 __eddy_f26 __eddy_o26 B26)
            (27 __eddy_f27 __eddy_o27 B27) (28 __eddy_f28 __eddy_o28 B28) (29 __eddy_f29 __eddy_o29 B29)
            (30 __eddy_f30 __eddy_o30 B30) (31 __eddy_f31 __eddy_o31 B31)
        ] $($items)+)
    };
    (@step $callback:ident { $($state:tt)* } [$($done:tt)*] [$slot:tt $($slots:tt)*] $item:tt $($items:tt)*) => {
        $crate::__eddy_enumerate!(@step $callback { $($state)* } [$($done)* ($slot $item)] [$($slots)*] $($items)*)
    };
    (@step $callback:ident { $($state:tt)* } [$($done:tt)*] [$($slots:tt)*]) => {
        $crate::$callback!(@generate { $($state)* } $($done)*)
    };
    (@step $callback:ident { $($state:tt)* } [$($done:tt)*] [] $($items:tt)+) => {
        ::core::compile_error!("eddy: join!, try_join! and select! take at most 32 futures or branches")
    };
}

/// The code of `join!` and `try_join!`, once every future has a slot.
#[doc(hidden)]
#[macro_export]
macro_rules! __join_generate {
    (@generate { join } $( (($index:tt $future:ident $output:ident $variant:ident) ($value:expr)) )+) => {{
        $( let mut $future = ::core::pin::pin!($value); let mut $output = ::core::option::Option::None; )+
        ::core::future::poll_fn(|cx| {
            let mut pending = false;
            $(
                if $output.is_none() {
                    match ::core::future::Future::poll($future.as_mut(), cx) {
                        ::core::task::Poll::Ready(value) => $output = ::core::option::Option::Some(value),
                        ::core::task::Poll::Pending => pending = true,
                    }
                }
            )+
            if pending {
                return ::core::task::Poll::Pending;
            }
            ::core::task::Poll::Ready(($( $crate::__private::take_output(&mut $output), )+))
        })
        .await
    }};
    (@generate { try_join } $( (($index:tt $future:ident $output:ident $variant:ident) ($value:expr)) )+) => {{
        $( let mut $future = ::core::pin::pin!($value); let mut $output = ::core::option::Option::None; )+
        ::core::future::poll_fn(|cx| {
            let mut pending = false;
            $(
                if $output.is_none() {
                    match ::core::future::Future::poll($future.as_mut(), cx) {
                        ::core::task::Poll::Ready(::core::result::Result::Ok(value)) => {
                            $output = ::core::option::Option::Some(value)
                        }
                        ::core::task::Poll::Ready(::core::result::Result::Err(error)) => {
                            return ::core::task::Poll::Ready(::core::result::Result::Err(error));
                        }
                        ::core::task::Poll::Pending => pending = true,
                    }
                }
            )+
            if pending {
                return ::core::task::Poll::Pending;
            }
            ::core::task::Poll::Ready(::core::result::Result::Ok((
                $( $crate::__private::take_output(&mut $output), )+
            )))
        })
        .await
    }};
}

/// Parses `select!`'s branches into `([pattern] (future) (precondition)
/// (handler))` items. A tt-muncher: the pattern is collected token by token
/// up to its `=`, so that it stays raw tokens (see `__select_clean_pattern!`).
#[doc(hidden)]
#[macro_export]
macro_rules! __select_parse {
    // All branches read.
    (@pat { $biased:tt [$($else:tt)*] } [$($branches:tt)*] []) => {
        $crate::__eddy_enumerate!(@start __select_generate { $biased [$($else)*] } $($branches)*)
    };
    // The `else` branch (at most one).
    (@pat { $biased:tt [] } $branches:tt [] else => $handler:block $(, $($rest:tt)*)?) => {
        $crate::__select_parse!(@pat { $biased [$handler] } $branches [] $($($rest)*)?)
    };
    (@pat { $biased:tt [] } $branches:tt [] else => $handler:expr $(, $($rest:tt)*)?) => {
        $crate::__select_parse!(@pat { $biased [$handler] } $branches [] $($($rest)*)?)
    };
    (@pat { $biased:tt [$($else:tt)+] } $branches:tt [] else $($rest:tt)*) => {
        ::core::compile_error!("eddy::select!: more than one `else` branch")
    };
    // The pattern ends at the first `=` outside brackets (`=>` is one token).
    (@pat $state:tt $branches:tt [$($pattern:tt)+] = $($rest:tt)*) => {
        $crate::__select_parse!(@future $state $branches [$($pattern)+] $($rest)*)
    };
    (@pat $state:tt $branches:tt [$($pattern:tt)*] $token:tt $($rest:tt)*) => {
        $crate::__select_parse!(@pat $state $branches [$($pattern)* $token] $($rest)*)
    };
    (@pat $state:tt $branches:tt [$($pattern:tt)+]) => {
        ::core::compile_error!("eddy::select!: expected `pattern = future => handler`")
    };
    // The future, and its precondition if any.
    (@future $state:tt $branches:tt $pattern:tt $future:expr, if $condition:expr => $($rest:tt)*) => {
        $crate::__select_parse!(@handler $state $branches $pattern ($future) ($condition) $($rest)*)
    };
    (@future $state:tt $branches:tt $pattern:tt $future:expr => $($rest:tt)*) => {
        $crate::__select_parse!(@handler $state $branches $pattern ($future) (true) $($rest)*)
    };
    // The handler: a block (comma optional) or an expression (comma
    // required unless it is the last branch).
    (@handler $state:tt [$($branches:tt)*] $pattern:tt $future:tt $condition:tt $handler:block $(, $($rest:tt)*)?) => {
        $crate::__select_parse!(@pat $state [$($branches)* ($pattern $future $condition ($handler))] [] $($($rest)*)?)
    };
    (@handler $state:tt [$($branches:tt)*] $pattern:tt $future:tt $condition:tt $handler:block $($rest:tt)+) => {
        $crate::__select_parse!(@pat $state [$($branches)* ($pattern $future $condition ($handler))] [] $($rest)+)
    };
    (@handler $state:tt [$($branches:tt)*] $pattern:tt $future:tt $condition:tt $handler:expr $(, $($rest:tt)*)?) => {
        $crate::__select_parse!(@pat $state [$($branches)* ($pattern $future $condition ($handler))] [] $($($rest)*)?)
    };
}

/// The code of `select!`, once every branch has a slot.
#[doc(hidden)]
#[macro_export]
macro_rules! __select_generate {
    (@generate { $biased:tt [$($else:tt)*] } $(
        (($index:tt $future:ident $output:ident $variant:ident)
         ([$($pattern:tt)+] ($value:expr) ($condition:expr) ($handler:expr)))
    )+) => {{
        // One variant per branch, carrying that branch's output.
        enum __EddySelectOutput<$($variant,)+> {
            $($variant($variant),)+
            AllDisabled,
        }
        // The futures live in this block only: they are dropped before a
        // handler runs.
        let output = {
            let mut disabled: u64 = 0;
            $( if !$condition { disabled |= 1u64 << $index; } )+
            $( let mut $future = ::core::pin::pin!($value); )+
            let branches: u32 = [$($index),+].len() as u32;
            ::core::future::poll_fn(|cx| {
                let start = $crate::__private::select_start($biased, branches);
                let mut pending = false;
                for turn in 0..branches {
                    let branch = (start + turn) % branches;
                    $(
                        if branch == $index && disabled & (1u64 << $index) == 0 {
                            match ::core::future::Future::poll($future.as_mut(), cx) {
                                ::core::task::Poll::Ready(value) => {
                                    // Done either way: a finished future is never polled again.
                                    disabled |= 1u64 << $index;
                                    #[allow(unused_variables)]
                                    let matches = ::core::matches!(&value, $crate::__select_clean_pattern!($($pattern)+));
                                    if matches {
                                        return ::core::task::Poll::Ready(__EddySelectOutput::$variant(value));
                                    }
                                }
                                ::core::task::Poll::Pending => pending = true,
                            }
                        }
                    )+
                }
                if pending {
                    ::core::task::Poll::Pending
                } else {
                    ::core::task::Poll::Ready(__EddySelectOutput::AllDisabled)
                }
            })
            .await
        };
        match output {
            $( __EddySelectOutput::$variant($($pattern)+) => $handler, )+
            __EddySelectOutput::AllDisabled => $crate::__select_else!($($else)*),
            #[allow(unreachable_patterns)]
            _ => ::core::unreachable!("eddy::select!: a branch was chosen whose pattern did not match"),
        }
    }};
}

/// `select!`'s `else` handler, or the panic when there is none.
#[doc(hidden)]
#[macro_export]
macro_rules! __select_else {
    () => {
        ::core::panic!(
            "eddy::select!: every branch is disabled or failed its pattern, and there is no `else` branch"
        )
    };
    ($handler:expr) => {
        $handler
    };
}

/// Rewrites a pattern so it can be matched against a reference to the value:
/// drops `mut` and `ref` from bindings (`Some(mut v)` becomes `Some(v)`),
/// through every bracket. A tt-muncher with a stack of the enclosing
/// brackets' tokens.
#[doc(hidden)]
#[macro_export]
macro_rules! __select_clean_pattern {
    (@clean [] [$($done:tt)*]) => { $($done)* };
    (@clean $stack:tt [$($done:tt)*] & mut $($rest:tt)*) => {
        $crate::__select_clean_pattern!(@clean $stack [$($done)* & mut] $($rest)*)
    };
    (@clean $stack:tt $done:tt mut $($rest:tt)*) => {
        $crate::__select_clean_pattern!(@clean $stack $done $($rest)*)
    };
    (@clean $stack:tt $done:tt ref $($rest:tt)*) => {
        $crate::__select_clean_pattern!(@clean $stack $done $($rest)*)
    };
    (@clean [$($stack:tt)*] [$($done:tt)*] ( $($inner:tt)* ) $($rest:tt)*) => {
        $crate::__select_clean_pattern!(@clean [[$($done)*] $($stack)*] [] $($inner)* @__eddy_paren $($rest)*)
    };
    (@clean [$($stack:tt)*] [$($done:tt)*] [ $($inner:tt)* ] $($rest:tt)*) => {
        $crate::__select_clean_pattern!(@clean [[$($done)*] $($stack)*] [] $($inner)* @__eddy_bracket $($rest)*)
    };
    (@clean [$($stack:tt)*] [$($done:tt)*] { $($inner:tt)* } $($rest:tt)*) => {
        $crate::__select_clean_pattern!(@clean [[$($done)*] $($stack)*] [] $($inner)* @__eddy_brace $($rest)*)
    };
    (@clean [[$($outer:tt)*] $($stack:tt)*] [$($done:tt)*] @__eddy_paren $($rest:tt)*) => {
        $crate::__select_clean_pattern!(@clean [$($stack)*] [$($outer)* ( $($done)* )] $($rest)*)
    };
    (@clean [[$($outer:tt)*] $($stack:tt)*] [$($done:tt)*] @__eddy_bracket $($rest:tt)*) => {
        $crate::__select_clean_pattern!(@clean [$($stack)*] [$($outer)* [ $($done)* ]] $($rest)*)
    };
    (@clean [[$($outer:tt)*] $($stack:tt)*] [$($done:tt)*] @__eddy_brace $($rest:tt)*) => {
        $crate::__select_clean_pattern!(@clean [$($stack)*] [$($outer)* { $($done)* }] $($rest)*)
    };
    (@clean $stack:tt [$($done:tt)*] $token:tt $($rest:tt)*) => {
        $crate::__select_clean_pattern!(@clean $stack [$($done)* $token] $($rest)*)
    };
    ($($pattern:tt)+) => {
        $crate::__select_clean_pattern!(@clean [] [] $($pattern)+)
    };
}

/// Functions the macros call through `$crate::__private`. Not public API.
#[doc(hidden)]
pub mod __private {
    /// Where `select!` starts polling: branch 0 when `biased`, else a branch
    /// drawn from the loop's (possibly seeded) generator.
    pub fn select_start(biased: bool, branches: u32) -> u32 {
        if biased || branches <= 1 {
            0
        } else {
            crate::context::next_random_u32() % branches
        }
    }

    /// Takes a `join!` output that the macro has just seen to be there.
    pub fn take_output<T>(output: &mut Option<T>) -> T {
        match output.take() {
            Some(value) => value,
            None => unreachable!("eddy::join!: an output was taken twice"),
        }
    }
}
