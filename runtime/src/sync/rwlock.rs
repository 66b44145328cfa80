//! `RwLock<T>`: many readers or one writer, guards held across `.await`.
//!
//! ```
//! use eddy::sync::RwLock;
//!
//! eddy::run(async {
//!     let config = RwLock::new(String::from("v1"));
//!     {
//!         let a = config.read().await;
//!         let b = config.read().await; // readers share
//!         assert_eq!((a.as_str(), b.as_str()), ("v1", "v1"));
//!     }
//!     config.write().await.push_str("-patched");
//!     assert_eq!(*config.read().await, "v1-patched");
//! });
//! ```
//!
//! # How it is built
//!
//! A [`Semaphore`] with [`MAX_READERS`] permits and the value in an
//! `UnsafeCell`: a reader holds one permit, a writer holds all of them.
//!
//! - **Fair, writers do not starve:** the semaphore serves strictly in
//!   order, so a writer waiting for the readers to leave blocks every
//!   reader that comes *after* it; once the readers ahead of it are done it
//!   gets the lock, and the readers queued behind it go next, together.
//!   (A reader-preferring lock lets a steady stream of readers keep a writer
//!   out forever.)
//! - **Dropping a waiting `read()` / `write()`** loses nothing and strands
//!   nobody: it leaves the line (readers behind a cancelled writer are let
//!   in at once), or, if it had already been granted, gives the permits
//!   back to the next in line.
//!
//! The `unsafe` is the cell access; the permits are the proof, as in
//! [`Mutex`](super::Mutex).

use std::cell::UnsafeCell;
use std::fmt;
use std::ops::{Deref, DerefMut};

use super::Semaphore;

/// How many readers may hold the lock at once (and so how many permits a
/// writer takes). Large enough never to be the limit in practice; a `u32`
/// so `acquire_many` can ask for it.
pub const MAX_READERS: u32 = u32::MAX >> 3;

/// A fair async reader-writer lock. See the [module docs](self).
pub struct RwLock<T: ?Sized> {
    semaphore: Semaphore,
    value: UnsafeCell<T>,
}

// SAFETY: a writer gets `&mut T` alone (all permits), so moving the lock
// between threads needs `T: Send`.
unsafe impl<T: ?Sized + Send> Send for RwLock<T> {}
// SAFETY: readers on several threads share `&T` (needs `T: Sync`); a writer
// on any thread gets `&mut T` (needs `T: Send`); never both at once.
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLock<T> {}

/// The lock is taken in a conflicting way (or others are waiting for it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TryLockError(());

impl fmt::Display for TryLockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the lock is held in a conflicting way (or others are waiting for it)")
    }
}

impl std::error::Error for TryLockError {}

impl<T> RwLock<T> {
    /// An unlocked lock holding `value`. `const`, so it can be a `static`.
    pub const fn new(value: T) -> RwLock<T> {
        RwLock { semaphore: Semaphore::new(MAX_READERS as usize), value: UnsafeCell::new(value) }
    }

    /// The value, taking the lock apart.
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Waits for shared access. Fair and cancel-safe (see the [module
    /// docs](self)).
    pub async fn read(&self) -> RwLockReadGuard<'_, T> {
        // Never closed: acquiring cannot fail.
        let _ = self.semaphore.acquire_raw(1).await;
        RwLockReadGuard { lock: self }
    }

    /// Waits for exclusive access. Fair and cancel-safe.
    pub async fn write(&self) -> RwLockWriteGuard<'_, T> {
        let _ = self.semaphore.acquire_raw(MAX_READERS as usize).await;
        RwLockWriteGuard { lock: self }
    }

    /// Shared access if no writer holds or waits for the lock.
    pub fn try_read(&self) -> Result<RwLockReadGuard<'_, T>, TryLockError> {
        match self.semaphore.try_acquire_raw(1) {
            Ok(()) => Ok(RwLockReadGuard { lock: self }),
            Err(_) => Err(TryLockError(())),
        }
    }

    /// Exclusive access if nobody holds or waits for the lock.
    pub fn try_write(&self) -> Result<RwLockWriteGuard<'_, T>, TryLockError> {
        match self.semaphore.try_acquire_raw(MAX_READERS as usize) {
            Ok(()) => Ok(RwLockWriteGuard { lock: self }),
            Err(_) => Err(TryLockError(())),
        }
    }

    /// The value, without locking: `&mut self` proves nobody else has it.
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }
}

impl<T: Default> Default for RwLock<T> {
    fn default() -> RwLock<T> {
        RwLock::new(T::default())
    }
}

/// Shared access; dropping it lets a waiting writer closer.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct RwLockReadGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
}

/// Exclusive access; dropping it lets the next in line in.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: we hold a read permit; no writer can hold all permits
        // until we drop it, so nobody has `&mut T`.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.semaphore.release(1);
    }
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: we hold every permit: no reader and no other writer.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: every permit, and `&mut self`.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T: ?Sized> Drop for RwLockWriteGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.semaphore.release(MAX_READERS as usize);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("RwLock");
        match self.try_read() {
            Ok(guard) => debug.field("value", &&*guard),
            Err(_) => debug.field("value", &format_args!("<locked>")),
        };
        debug.finish()
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
