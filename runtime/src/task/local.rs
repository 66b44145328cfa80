//! Task-local values: [`task_local!`](crate::task_local) and
//! [`LocalKey`]. asyncio's `contextvars`, for values such as a request id
//! that every function a request calls should see without passing it down.
//!
//! ```
//! eddy::task_local! {
//!     static REQUEST_ID: u64;
//! }
//!
//! async fn log_line(message: &str) -> String {
//!     format!("[request {}] {message}", REQUEST_ID.get())
//! }
//!
//! eddy::run(async {
//!     let line = REQUEST_ID.scope(42, async { log_line("hello").await }).await;
//!     assert_eq!(line, "[request 42] hello");
//! });
//! ```
//!
//! # How it is built
//!
//! Each key is a thread-local slot (`RefCell<Option<T>>`). The future
//! returned by [`LocalKey::scope`] owns the value; **around each poll of its
//! inner future** it swaps the value into the slot and, when the poll
//! returns (or unwinds), swaps it back out. One loop thread polls one future
//! at a time, so while the scoped future runs the slot holds its value, and
//! while any other task runs it holds theirs (or nothing). No per-task
//! storage, no allocation beyond boxing the inner future once (which keeps
//! this file free of `unsafe` pin projections).
//!
//! So a value is bound to a *future*, not to a task: it is visible in
//! everything the scoped future awaits directly (`join!`, `select!`, nested
//! `async fn`s), but **not** in tasks it spawns: a spawned task is polled by
//! the loop on its own, outside the scope. To hand the value on, read it and
//! scope the spawned future again: `eddy::spawn(KEY.scope(KEY.get(), fut))`.
//! Scopes nest: an inner `scope` of the same key shadows the outer value
//! until it ends. The inner future is also dropped inside the scope, so its
//! destructors can read the value.

use std::cell::RefCell;
use std::error::Error;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::thread::LocalKey as ThreadLocalKey;

/// Declares task-local keys: `static NAME: Type;`, one or more, with
/// attributes and visibility. Each key is a [`LocalKey`]; give it a value
/// for the duration of a future with [`LocalKey::scope`], read it with
/// [`LocalKey::with`] or [`LocalKey::get`].
///
/// ```
/// eddy::task_local! {
///     /// The user the current request acts for.
///     pub static USER: String;
///     static DEPTH: u32;
/// }
///
/// eddy::run(async {
///     USER.scope("ada".to_string(), async {
///         assert_eq!(USER.with(|user| user.len()), 3);
///         assert!(DEPTH.try_with(|_| ()).is_err()); // never scoped
///     })
///     .await;
/// });
/// ```
#[macro_export]
macro_rules! task_local {
    () => {};
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty; $($rest:tt)*) => {
        $crate::__task_local_inner!($(#[$attr])* $vis $name, $t);
        $crate::task_local!($($rest)*);
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty) => {
        $crate::__task_local_inner!($(#[$attr])* $vis $name, $t);
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __task_local_inner {
    ($(#[$attr:meta])* $vis:vis $name:ident, $t:ty) => {
        $(#[$attr])*
        $vis const $name: $crate::task::LocalKey<$t> = {
            ::std::thread_local! {
                static __EDDY_TASK_LOCAL: ::std::cell::RefCell<::std::option::Option<$t>> =
                    const { ::std::cell::RefCell::new(::std::option::Option::None) };
            }
            $crate::task::LocalKey::__new(&__EDDY_TASK_LOCAL)
        };
    };
}

/// A task-local key, declared with [`task_local!`](crate::task_local).
///
/// A value is bound to a *future* by [`scope`](Self::scope): it sits in a
/// thread-local slot **around each poll** of that future (swapped in before,
/// swapped out after, also on panic), so it is visible in everything the
/// future awaits and in nothing else, and other tasks polled in between
/// never see it. Spawned tasks are polled outside the scope: they **inherit
/// nothing**; pass the value on with `eddy::spawn(KEY.scope(KEY.get(), fut))`.
/// Scopes of the same key nest, the inner value shadowing the outer.
pub struct LocalKey<T: 'static> {
    slot: &'static ThreadLocalKey<RefCell<Option<T>>>,
}

impl<T: 'static> LocalKey<T> {
    #[doc(hidden)]
    pub const fn __new(slot: &'static ThreadLocalKey<RefCell<Option<T>>>) -> LocalKey<T> {
        LocalKey { slot }
    }

    /// Runs `future` with this key set to `value`: every poll of `future`
    /// (and its drop) sees the value. asyncio's `ctx.run` with a
    /// `ContextVar` set, for one future.
    ///
    /// ```
    /// eddy::task_local! { static TRACE: &'static str; }
    ///
    /// eddy::run(async {
    ///     let seen = TRACE.scope("outer", async {
    ///         let inner = TRACE.scope("inner", async { TRACE.get() }).await;
    ///         (inner, TRACE.get())
    ///     })
    ///     .await;
    ///     assert_eq!(seen, ("inner", "outer"));
    /// });
    /// ```
    pub fn scope<F: Future>(&'static self, value: T, future: F) -> TaskLocalFuture<T, F> {
        TaskLocalFuture { key: self, value: Some(value), future: Some(Box::pin(future)) }
    }

    /// Runs the closure `f` with this key set to `value`, synchronously.
    pub fn sync_scope<F: FnOnce() -> R, R>(&'static self, value: T, f: F) -> R {
        let mut value = Some(value);
        let _guard = self.enter(&mut value);
        f()
    }

    /// Calls `f` with a reference to the current value.
    ///
    /// # Panics
    /// If the key has no value here (not inside a `scope` of it).
    #[track_caller]
    pub fn with<F: FnOnce(&T) -> R, R>(&'static self, f: F) -> R {
        match self.try_with(f) {
            Ok(result) => result,
            Err(_) => panic!(
                "a task-local value (eddy::task_local!) was read outside a scope that sets it: \
                 wrap the future in KEY.scope(value, future) (spawned tasks inherit nothing)"
            ),
        }
    }

    /// Calls `f` with a reference to the current value, or returns an
    /// [`AccessError`] if the key has no value here.
    pub fn try_with<F: FnOnce(&T) -> R, R>(&'static self, f: F) -> Result<R, AccessError> {
        self.slot
            .try_with(|slot| {
                let slot = slot.try_borrow().map_err(|_| AccessError { _private: () })?;
                match slot.as_ref() {
                    Some(value) => Ok(f(value)),
                    None => Err(AccessError { _private: () }),
                }
            })
            .unwrap_or(Err(AccessError { _private: () }))
    }

    /// Swaps `value` into the slot; the guard swaps it back out.
    fn enter<'a>(&'static self, value: &'a mut Option<T>) -> Swapped<'a, T> {
        self.swap(value);
        Swapped { key: self, value }
    }

    fn swap(&'static self, value: &mut Option<T>) {
        self.slot.with(|slot| match slot.try_borrow_mut() {
            Ok(mut slot) => std::mem::swap(&mut *slot, value),
            Err(_) => panic!(
                "eddy::task_local!: a scope was entered or left inside LocalKey::with's closure for the \
                 same key"
            ),
        });
    }
}

impl<T: Clone + 'static> LocalKey<T> {
    /// A clone of the current value.
    ///
    /// # Panics
    /// If the key has no value here; see [`with`](Self::with).
    #[track_caller]
    pub fn get(&'static self) -> T {
        self.with(T::clone)
    }
}

impl<T: 'static> fmt::Debug for LocalKey<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LocalKey { .. }")
    }
}

/// Puts the scope's value back when the poll (or drop) ends, also on panic.
struct Swapped<'a, T: 'static> {
    key: &'static LocalKey<T>,
    value: &'a mut Option<T>,
}

impl<T: 'static> Drop for Swapped<'_, T> {
    fn drop(&mut self) {
        self.key.swap(self.value);
    }
}

/// The future of [`LocalKey::scope`]: `future` with the key set around each
/// of its polls.
#[must_use = "futures do nothing unless awaited"]
pub struct TaskLocalFuture<T: 'static, F: Future> {
    key: &'static LocalKey<T>,
    /// The value, between polls (during a poll it sits in the key's slot).
    value: Option<T>,
    /// `None` once the future finished (it is dropped at once, in scope).
    future: Option<Pin<Box<F>>>,
}

// The inner future is boxed and the value is never pinned.
impl<T: 'static, F: Future> Unpin for TaskLocalFuture<T, F> {}

impl<T: 'static, F: Future> Future for TaskLocalFuture<T, F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        let key = this.key;
        let _guard = key.enter(&mut this.value);
        let Some(future) = this.future.as_mut() else {
            panic!("TaskLocalFuture polled after it completed");
        };
        let output = std::task::ready!(future.as_mut().poll(cx));
        this.future = None; // Dropped while the value is still in scope.
        Poll::Ready(output)
    }
}

impl<T: 'static, F: Future> Drop for TaskLocalFuture<T, F> {
    fn drop(&mut self) {
        if let Some(future) = self.future.take() {
            // Destructors of an unfinished future see the value too.
            let _guard = self.key.enter(&mut self.value);
            drop(future);
        }
    }
}

impl<T: 'static, F: Future> fmt::Debug for TaskLocalFuture<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskLocalFuture").field("finished", &self.future.is_none()).finish()
    }
}

/// The error of [`LocalKey::try_with`]: the key has no value here.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct AccessError {
    _private: (),
}

impl fmt::Debug for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessError")
    }
}

impl fmt::Display for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("task-local value not set (not inside a scope of this key)")
    }
}

impl Error for AccessError {}
