//! `Mutex<T>`: a lock whose guard may be held across `.await`.
//! asyncio's `Lock` (`async with lock:` is holding a [`MutexGuard`]), with
//! the data inside, as Rust's locks have it.
//!
//! ```
//! use std::sync::Arc;
//! use eddy::sync::Mutex;
//!
//! eddy::run(async {
//!     let log = Arc::new(Mutex::new(Vec::new()));
//!     let writers: Vec<_> = (0..3)
//!         .map(|i| {
//!             let log = log.clone();
//!             eddy::spawn(async move {
//!                 let mut log = log.lock().await;
//!                 log.push(i);
//!                 // Held across an await: nobody else writes meanwhile.
//!                 eddy::task::yield_now().await;
//!                 log.push(i);
//!             })
//!         })
//!         .collect();
//!     for writer in writers {
//!         writer.await.unwrap();
//!     }
//!     let log = log.lock().await;
//!     assert!(log.chunks(2).all(|pair| pair[0] == pair[1]));
//! });
//! ```
//!
//! # How it is built
//!
//! A [`Semaphore`] with one permit, and the value in an `UnsafeCell`:
//! holding the permit *is* holding the lock. Everything about waiting comes
//! from the semaphore:
//!
//! - **FIFO-fair:** `lock` takes the lock at once only if nobody waits for
//!   it; on unlock, the lock is handed straight to the oldest waiter, so a
//!   task that unlocks and relocks in a loop cannot starve the others.
//! - **Dropping a waiting `lock()`** never loses the lock: a waiter still in
//!   line leaves it; one that had been handed the lock but not yet polled
//!   hands it on to the next.
//!
//! When not to use it: if the lock is never held across an `.await`,
//! `std::sync::Mutex` is cheaper and fine in async code.
//!
//! The `unsafe` here is the cell access: the semaphore's one permit is the
//! proof of exclusive access, and each block cites it.

use std::cell::UnsafeCell;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use super::Semaphore;

/// An async mutual-exclusion lock. See the [module docs](self).
pub struct Mutex<T: ?Sized> {
    semaphore: Semaphore,
    value: UnsafeCell<T>,
}

// SAFETY: the value is reached only through a guard, and a guard exists
// only while its holder owns the semaphore's single permit, so one thread at
// a time touches it; moving `T` between threads needs `T: Send`.
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}
// SAFETY: as above, `&Mutex` gives `&mut T` to one holder at a time, which
// is exactly what `T: Send` permits (as for `std::sync::Mutex`).
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}

/// The lock is held by someone else (or others are waiting for it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TryLockError(());

impl fmt::Display for TryLockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the lock is held (or others are waiting for it)")
    }
}

impl std::error::Error for TryLockError {}

impl<T> Mutex<T> {
    /// An unlocked mutex holding `value`. `const`, so it can be a `static`.
    pub const fn new(value: T) -> Mutex<T> {
        Mutex { semaphore: Semaphore::new(1), value: UnsafeCell::new(value) }
    }

    /// The value, taking the mutex apart.
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Waits for the lock. FIFO-fair and cancel-safe (see the [module
    /// docs](self)).
    pub async fn lock(&self) -> MutexGuard<'_, T> {
        // The semaphore is never closed, so acquiring cannot fail.
        let _ = self.semaphore.acquire_raw(1).await;
        MutexGuard { mutex: self }
    }

    /// Takes the lock if it is free and nobody is waiting for it.
    pub fn try_lock(&self) -> Result<MutexGuard<'_, T>, TryLockError> {
        match self.semaphore.try_acquire_raw(1) {
            Ok(()) => Ok(MutexGuard { mutex: self }),
            Err(_) => Err(TryLockError(())),
        }
    }

    /// Waits for the lock of a mutex in an `Arc`; the guard owns a clone of
    /// the `Arc`, so it is `'static` and can move into another task.
    pub async fn lock_owned(self: Arc<Self>) -> OwnedMutexGuard<T> {
        let _ = self.semaphore.acquire_raw(1).await;
        OwnedMutexGuard { mutex: self }
    }

    /// Like [`try_lock`](Self::try_lock), owned.
    pub fn try_lock_owned(self: Arc<Self>) -> Result<OwnedMutexGuard<T>, TryLockError> {
        match self.semaphore.try_acquire_raw(1) {
            Ok(()) => Ok(OwnedMutexGuard { mutex: self }),
            Err(_) => Err(TryLockError(())),
        }
    }

    /// The value, without locking: `&mut self` proves nobody else has it.
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Mutex<T> {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(value: T) -> Mutex<T> {
        Mutex::new(value)
    }
}

/// Holds the lock; derefs to the value. Dropping it unlocks (handing the
/// lock to the oldest waiter).
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct MutexGuard<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
}

// SAFETY: sharing a guard shares `&T`, which needs `T: Sync`.
unsafe impl<T: ?Sized + Sync> Sync for MutexGuard<'_, T> {}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the only permit: nobody else can reach the
        // value until it drops.
        unsafe { &*self.mutex.value.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and `&mut self` makes this the only borrow
        // through the guard.
        unsafe { &mut *self.mutex.value.get() }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        self.mutex.semaphore.release(1);
    }
}

/// Holds the lock of a mutex in an `Arc`. See [`Mutex::lock_owned`].
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct OwnedMutexGuard<T: ?Sized> {
    mutex: Arc<Mutex<T>>,
}

// SAFETY: sharing a guard shares `&T`, which needs `T: Sync`.
unsafe impl<T: ?Sized + Sync> Sync for OwnedMutexGuard<T> {}

impl<T: ?Sized> OwnedMutexGuard<T> {
    /// The mutex this guard locks.
    pub fn mutex(&self) -> &Arc<Mutex<T>> {
        &self.mutex
    }
}

impl<T: ?Sized> Deref for OwnedMutexGuard<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the only permit (see `MutexGuard::deref`).
        unsafe { &*self.mutex.value.get() }
    }
}

impl<T: ?Sized> DerefMut for OwnedMutexGuard<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the only permit, and `&mut self`.
        unsafe { &mut *self.mutex.value.get() }
    }
}

impl<T: ?Sized> Drop for OwnedMutexGuard<T> {
    fn drop(&mut self) {
        self.mutex.semaphore.release(1);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("Mutex");
        match self.try_lock() {
            Ok(guard) => debug.field("value", &&*guard),
            Err(_) => debug.field("value", &format_args!("<locked>")),
        };
        debug.finish()
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for OwnedMutexGuard<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
