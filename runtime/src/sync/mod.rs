//! Synchronisation between tasks: asyncio's `Lock`, `Event`, `Semaphore`,
//! `Barrier`, `Condition`-like [`Notify`], and channels ([`oneshot`],
//! [`mpsc`], [`watch`], [`broadcast`]).
//!
//! | asyncio | eddy | waits in line? |
//! |---|---|---|
//! | `Lock` | [`Mutex<T>`] (the data inside; guard held across `.await`) | FIFO |
//! | — | [`RwLock<T>`] (many readers or one writer; writers do not starve) | FIFO |
//! | `Semaphore` | [`Semaphore`] (`acquire`, `acquire_many`, owned permits) | FIFO |
//! | `Condition` (roughly) | [`Notify`] (`notify_one` keeps a permit if nobody waits) | FIFO |
//! | `Event` | [`Event`] | all woken |
//! | `Barrier` | [`Barrier`] | all woken |
//! | `Future` | [`oneshot`] | — |
//! | `Queue` | [`mpsc`] (bounded, or [`mpsc::unbounded_channel`]) | FIFO senders |
//! | — | [`watch`] (latest value), [`broadcast`] (every value to every receiver) | all woken |
//!
//! # How they are built
//!
//! Every waiting primitive here keeps its state behind one
//! `std::sync::Mutex` (held for a few field updates, never across an
//! `.await` or a call into user code) and its waiting tasks in the same
//! `WaitList` (`wait_list.rs`): a slab-backed linked list where a waiter
//! leaves from anywhere in O(1). `Mutex` and `RwLock` are a `Semaphore`
//! with one permit and with many. Each module doc states the primitive's
//! fairness and what dropping a waiting future does; the short version is
//! that **dropping a waiting future never loses a permit, a lock, a
//! notification or a value, and never leaves the next waiter asleep**.
//!
//! All of them are `Send + Sync` where their contents are, and work
//! between tasks on different loops and with plain threads: a release on
//! one thread wakes the waiting task on its own loop.

pub mod barrier;
mod blocking;
pub mod broadcast;
pub mod event;
pub mod mpsc;
pub mod mutex;
pub mod notify;
pub mod oneshot;
pub mod rwlock;
pub mod semaphore;
mod wait_list;
pub mod watch;

pub use barrier::{Barrier, BarrierWaitResult};
pub use event::Event;
pub use mutex::{Mutex, MutexGuard, OwnedMutexGuard, TryLockError};
pub use notify::{Notified, Notify};
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard, MAX_READERS};
pub use semaphore::{
    AcquireError, OwnedSemaphorePermit, Semaphore, SemaphorePermit, TryAcquireError, MAX_PERMITS,
};
