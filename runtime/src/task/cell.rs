//! The task cell: one allocation that holds a task's future, its result, and
//! the bookkeeping its wakers and `JoinHandle` share. All of eddy's task
//! `unsafe` lives in this file.
//!
//! ```text
//!  Arc<Task<F>>
//!  ┌──────────────────────────── header (shared, thread-safe) ─┐
//!  │ state: SCHEDULED | COMPLETE | CANCELLED | JOIN_INTEREST    │
//!  │ owner: the loop's cross-thread half (injection queue)      │
//!  │ join_waker: who to wake when the result is ready           │
//!  ├──────────────────────────── stage (owner loop only) ───────┤
//!  │ future: Some(F) ──▶ None (dropped in place)                │
//!  │ output: None ──▶ Some(Result<F::Output, JoinError>) ──▶ None│
//!  └────────────────────────────────────────────────────────────┘
//! ```
//!
//! The same `Arc` is the run-queue entry (as `Arc<dyn Runnable>`), the waker
//! (through `futures-task`'s [`ArcWake`], no hand-written vtable) and the
//! `JoinHandle`'s target. One allocation per spawn is what lets spawn + join
//! keep up with tokio's; splitting the future into a `Box` and the bookkeeping
//! into an `Arc` would cost a second allocation and a second pointer chase.
//!
//! # Why the `unsafe` is sound
//!
//! The stage sits in an `UnsafeCell` and the cell is declared `Send + Sync`
//! whatever `F` is, because wakers must be `Send + Sync`. That is only sound
//! because of two rules, each enforced where the stage is touched:
//!
//! 1. **Until COMPLETE, only the owning loop touches the stage.** Polling and
//!    dropping the future happen in [`Runnable::run`] and
//!    [`Runnable::shutdown`], which take the loop's `&Core`. `Core` is `!Send`
//!    and lives on its thread, so a `&Core` whose shared half is our `owner`
//!    proves we are on the owning thread; both functions assert it. Nothing
//!    else reads the stage before COMPLETE. The future is also never dropped
//!    anywhere else: the loop keeps a strong reference to every live task and
//!    drops all remaining futures itself at shutdown.
//! 2. **After COMPLETE, only the join side touches the stage**, and only once
//!    it has observed COMPLETE with `Acquire` (which pairs with the loop's
//!    `Release` when it stored the result). There is exactly one join side:
//!    the `JoinHandle`, or the loop itself if the handle was dropped first (the
//!    JOIN_INTEREST bit decides, see `state.rs`). A `JoinHandle<T>` is `Send`
//!    only if `T` is, so a `!Send` output never changes threads.

use std::any::Any;
use std::cell::UnsafeCell;
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

use atomic_waker::AtomicWaker;
use futures_task::{waker_ref, ArcWake};

use super::join::JoinError;
use super::state::State;
use super::{Runnable, TaskInfo};
use crate::debug::holders::{self, Probe};
use crate::event_loop::Core;
use crate::shared::Shared;
use crate::trace::record::outcome;

/// A spawned future and everything its handles share. See the module docs.
pub(crate) struct Task<F: Future> {
    header: Header,
    stage: Stage<F>,
}

/// The thread-safe half of a task.
pub(crate) struct Header {
    /// Scheduling and completion bits; see `state.rs`.
    pub(crate) state: State,
    /// The loop this task belongs to: where a wake sends it.
    pub(crate) owner: Arc<Shared>,
    /// Woken when the task completes, so a waiting `JoinHandle` resumes.
    join_waker: AtomicWaker,
    /// Index in the owning loop's task list (so completion removes it in
    /// O(1)). Only the owning loop reads or writes it; atomic only because
    /// the header must be `Sync`. 32 bits, beside `trace_label`: the two
    /// share one word of every task cell (no loop holds 4 billion tasks).
    slot: AtomicU32,
    /// Id, name and spawn location, for logs and `JoinError`.
    pub(crate) info: TaskInfo,
    /// The task's label in its loop's trace (name or spawn site, interned
    /// when the loop adopts it). Owning loop only, like `slot`.
    trace_label: AtomicU32,
    /// What last made the task ready, for its next poll's trace record: a
    /// cause and its argument (`trace::wake_cause`), stored by whoever
    /// wakes it (one relaxed store, no record).
    trace_woken: AtomicU64,
    /// Who holds the task's waker and how often it ran, for task dumps.
    pub(crate) probe: Probe,
}

impl Header {
    /// The task's label in its loop's trace, and what its first poll says
    /// made it ready (see `trace::Recorder::spawn`).
    pub(crate) fn set_trace(&self, (label, woken): (u32, u64)) {
        self.trace_label.store(label, Relaxed);
        self.trace_woken.store(woken, Relaxed);
    }

    /// The task's label in its loop's trace.
    pub(crate) fn trace_label(&self) -> u32 {
        self.trace_label.load(Relaxed)
    }

    /// What last made the task ready (see `trace_woken`).
    pub(crate) fn trace_woken(&self) -> u64 {
        self.trace_woken.load(Relaxed)
    }

    /// Sets what made the task ready.
    #[inline(always)]
    pub(crate) fn set_trace_woken(&self, woken: u64) {
        if cfg!(eddy_no_recorder) {
            return; // The recorder compiled out, to measure its cost.
        }
        self.trace_woken.store(woken, Relaxed);
    }

    /// The task's index in its loop's task list, or [`NO_SLOT`].
    pub(crate) fn slot(&self) -> usize {
        match self.slot.load(Relaxed) {
            UNSLOTTED => NO_SLOT,
            slot => slot as usize,
        }
    }
}

/// The future, then its result. Two fields rather than one enum: storing a
/// small result into an enum as large as the future compiles to a copy of
/// the whole future's size (over a kilobyte for a server connection), once
/// per task; two fields make each step write only what changes.
struct Stage<F: Future> {
    future: UnsafeCell<Option<F>>,
    output: UnsafeCell<Option<Result<F::Output, JoinError>>>,
}

/// Marks a task that is not yet in its loop's task list (spawned through a
/// `Handle` from another thread and still travelling).
pub(crate) const NO_SLOT: usize = usize::MAX;

/// [`NO_SLOT`] as stored in the header's 32 bits.
const UNSLOTTED: u32 = u32::MAX;

// SAFETY: see "Why the unsafe is sound" in the module docs: the only part that
// may be `!Send`/`!Sync` is the stage, and it is only ever accessed from one
// thread at a time by the rules stated there.
unsafe impl<F: Future> Send for Task<F> {}
// SAFETY: as above.
unsafe impl<F: Future> Sync for Task<F> {}

impl<F: Future + 'static> Task<F> {
    pub(crate) fn new(future: F, owner: Arc<Shared>, info: TaskInfo) -> Arc<Task<F>> {
        Arc::new(Task {
            header: Header {
                state: State::new(),
                owner,
                join_waker: AtomicWaker::new(),
                slot: AtomicU32::new(UNSLOTTED),
                info,
                trace_label: AtomicU32::new(0),
                trace_woken: AtomicU64::new(0),
                probe: Probe::new(),
            },
            stage: Stage { future: UnsafeCell::new(Some(future)), output: UnsafeCell::new(None) },
        })
    }

    fn assert_owner(&self, core: &Core) {
        assert!(
            Arc::ptr_eq(&self.header.owner, core.shared()),
            "eddy bug: task {} handled by a loop that does not own it",
            self.header.info
        );
    }

    /// Stores the result, publishes COMPLETE, and hands the output to whoever
    /// owns it now. Owner loop only (callers have asserted it).
    fn finish(&self, core: &Core, result: Result<F::Output, JoinError>) {
        // SAFETY: rule 1: we are the owning loop and COMPLETE is not set yet.
        // Assigning drops the future in place (it is pinned, so it must not
        // move); if its destructor panics the assignment still happens.
        let dropped = panic::catch_unwind(AssertUnwindSafe(|| unsafe {
            *self.stage.future.get() = None;
        }));
        let result = match (dropped, result) {
            (Err(payload), Ok(_)) => Err(JoinError::panicked(&self.header.info, payload)),
            (_, result) => result,
        };
        if let Err(error) = &result {
            core.trace_failure(&self.header, crate::trace::failure_outcome(error));
        }
        // SAFETY: rule 1 still holds: COMPLETE is published just below.
        unsafe { *self.stage.output.get() = Some(result) };
        let before = self.header.state.complete();
        core.release_task(self.header.slot(), self);
        if before.has_join_interest() {
            wake_joiner(&self.header);
        } else {
            // Nobody will ever ask for the output: drop it here, on the loop.
            // SAFETY: rule 2: COMPLETE is set and the handle is gone, so the
            // loop is the join side.
            let output = unsafe { self.take_output() };
            discard_output(output, &self.header.info, core.debug());
        }
    }

    /// Completes, as cancelled, a task that never reached its loop (spawned
    /// through a `Handle` onto a runtime that had already shut down).
    pub(crate) fn cancel_unsent(self: Arc<Self>) {
        // SAFETY: the task was never handed to a loop (the injection was
        // refused), so no loop will ever touch it: this thread is the only
        // one with access to the stage, which holds the not-yet-started
        // future (and whatever `Send` closure builds it).
        let dropped = panic::catch_unwind(AssertUnwindSafe(|| unsafe {
            *self.stage.future.get() = None;
        }));
        if let Err(payload) = dropped {
            log::error!(
                "dropping {} panicked: {}",
                self.header.info,
                super::join::panic_message(payload.as_ref() as &(dyn Any + Send))
            );
        }
        // SAFETY: as above; COMPLETE is published just below.
        unsafe { *self.stage.output.get() = Some(Err(JoinError::cancelled(&self.header.info))) };
        if self.header.state.complete().has_join_interest() {
            self.header.join_waker.wake();
        } else {
            // SAFETY: rule 2: complete, and the handle is already gone.
            drop(unsafe { self.take_output() });
        }
    }

    /// Takes the result out of a completed task.
    ///
    /// # Safety
    /// Rule 2: the caller observed COMPLETE and is the only join side.
    unsafe fn take_output(&self) -> Option<Result<F::Output, JoinError>> {
        // SAFETY: guaranteed by the caller (rule 2).
        unsafe { (*self.stage.output.get()).take() }
    }
}

/// The held vtable: the task's waker as an eddy resource stores it, which
/// counts itself in the task's probe (see `debug::holders`). Every function
/// gets the pointer of an `Arc<Task<F>>` that this waker owns one strong
/// reference to (the view that `holders::held` builds borrows instead, and
/// is never dropped or woken by value).
impl<F: Future + 'static> Task<F> {
    fn held_vtable() -> &'static RawWakerVTable {
        &RawWakerVTable::new(Self::held_clone, Self::held_wake, Self::held_wake_by_ref, Self::held_drop)
    }

    unsafe fn held_clone(data: *const ()) -> RawWaker {
        let task = data.cast::<Task<F>>();
        // SAFETY: `data` is a live `Arc<Task<F>>` pointer (see above); the
        // new waker owns the reference added here.
        unsafe {
            Arc::increment_strong_count(task);
            (*task).header.probe.clone_held();
        }
        RawWaker::new(data, Self::held_vtable())
    }

    unsafe fn held_wake(data: *const ()) {
        // SAFETY: this waker owns one strong reference; it moves into `task`.
        let task = unsafe { Arc::from_raw(data.cast::<Task<F>>()) };
        task.header.probe.release_held();
        ArcWake::wake(task);
    }

    unsafe fn held_wake_by_ref(data: *const ()) {
        // SAFETY: borrowed: the reference stays with the waker (ManuallyDrop).
        let task = std::mem::ManuallyDrop::new(unsafe { Arc::from_raw(data.cast::<Task<F>>()) });
        ArcWake::wake_by_ref(&task);
    }

    unsafe fn held_drop(data: *const ()) {
        // SAFETY: this waker owns one strong reference, released here.
        let task = unsafe { Arc::from_raw(data.cast::<Task<F>>()) };
        task.header.probe.release_held();
        drop(task);
    }
}

impl<F: Future + 'static> Runnable for Task<F> {
    fn header(&self) -> &Header {
        &self.header
    }

    fn set_slot(&self, slot: usize) {
        // Each live task holds a slab entry and a cell of 100+ bytes, so a
        // loop runs out of memory long before 4 billion of them.
        let slot = u32::try_from(slot).expect("eddy: more than 4 billion live tasks on one loop");
        self.header.slot.store(slot, Relaxed);
    }

    fn run(self: Arc<Self>, core: &Core) {
        self.assert_owner(core);
        // `task::id()` names this task until the poll (or the drop) is over;
        // task dumps recognise its waker by the same slot.
        let _current = super::id::enter(super::id::Polling {
            header: &self.header,
            data: Arc::as_ptr(&self).cast(),
            held_vtable: Self::held_vtable(),
        });
        let snapshot = self.header.state.start_poll();
        if snapshot.is_complete() {
            // A wake raced with completion; a finished task is never polled.
            return;
        }
        if snapshot.is_cancelled() {
            self.finish(core, Err(JoinError::cancelled(&self.header.info)));
            return;
        }
        let waker = waker_ref(&self);
        let mut cx = Context::from_waker(&waker);
        let seq = self.header.info.id.seq() as u32;
        core.trace().poll_begin(seq, || self.header.trace_woken());
        self.header.probe.polled(core.trace().loop_time());
        core.poll_begin(Some(&self.header));
        let polled = panic::catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: rule 1: we are the owning loop (asserted above) and not
            // complete. The future is never moved: it lives inside the Arc
            // allocation until it is dropped in place by `finish`.
            let future = unsafe { &mut *self.stage.future.get() };
            match future {
                // SAFETY: pinning: see just above; the future never moves.
                Some(future) => unsafe { Pin::new_unchecked(future) }.poll(&mut cx),
                None => unreachable!("a task without a future was not marked complete"),
            }
        }));
        let outcome = match &polled {
            Ok(Poll::Pending) => outcome::PENDING,
            Ok(Poll::Ready(_)) => outcome::READY,
            Err(_) => outcome::PANICKED,
        };
        core.trace().poll_end(seq, outcome, || self.header.trace_label(), core.clock());
        core.poll_end(Some(&self.header), &self.header.info);
        match polled {
            Ok(Poll::Pending) if core.debug() => {
                crate::debug::dump::check_after_pending(&self.header, Arc::strong_count(&self))
            }
            Ok(Poll::Pending) => {}
            Ok(Poll::Ready(output)) => self.finish(core, Ok(output)),
            Err(payload) => self.finish(core, Err(JoinError::panicked(&self.header.info, payload))),
        }
    }

    fn shutdown(self: Arc<Self>, core: &Core) {
        self.assert_owner(core);
        if !self.header.state.load().is_complete() {
            self.finish(core, Err(JoinError::cancelled(&self.header.info)));
        }
    }
}

impl<F: Future + 'static> ArcWake for Task<F> {
    fn wake(self: Arc<Self>) {
        if self.header.state.schedule() {
            self.header.set_trace_woken(crate::trace::wake_cause());
            Shared::schedule_on_owner(self);
        }
    }

    fn wake_by_ref(arc_self: &Arc<Self>) {
        if arc_self.header.state.schedule() {
            arc_self.header.set_trace_woken(crate::trace::wake_cause());
            arc_self.header.owner.schedule(arc_self.clone());
        }
    }
}

/// What a `JoinHandle` needs from a task, without knowing its future's type.
pub(crate) trait JoinTarget<T>: Send + Sync {
    fn poll_join(&self, waker: &Waker) -> Poll<Result<T, JoinError>>;
    fn abort(self: Arc<Self>);
    fn is_finished(&self) -> bool;
    fn drop_join_handle(&self);
    fn info(&self) -> &TaskInfo;
    /// The same task as a run-queue entry, for an `AbortHandle`, which
    /// must not know the output type.
    fn runnable(self: Arc<Self>) -> Arc<dyn Runnable>;
}

impl<F: Future + 'static> JoinTarget<F::Output> for Task<F> {
    fn poll_join(&self, waker: &Waker) -> Poll<Result<F::Output, JoinError>> {
        if !self.header.state.load().is_complete() {
            holders::register(&self.header.join_waker, waker, holders::Resource::Join(self.header.info.id));
            // Completion may have happened between the load and the register.
            if !self.header.state.load().is_complete() {
                return Poll::Pending;
            }
        }
        // SAFETY: rule 2: COMPLETE observed with Acquire; this handle holds
        // JOIN_INTEREST, so it is the only join side.
        match unsafe { self.take_output() } {
            Some(result) => Poll::Ready(result),
            None => panic!("JoinHandle polled after it returned the task's result"),
        }
    }

    fn abort(self: Arc<Self>) {
        if self.header.state.cancel() {
            let owner = self.header.owner.clone();
            owner.schedule(self);
        }
    }

    fn is_finished(&self) -> bool {
        self.header.state.load().is_complete()
    }

    fn drop_join_handle(&self) {
        if self.header.state.drop_join_interest().is_complete() {
            // SAFETY: rule 2: COMPLETE observed (AcqRel above) while we still
            // held JOIN_INTEREST, so the loop left the output to us.
            let output = unsafe { self.take_output() };
            discard_output(output, &self.header.info, self.header.owner.debug);
        }
    }

    fn info(&self) -> &TaskInfo {
        &self.header.info
    }

    fn runnable(self: Arc<Self>) -> Arc<dyn Runnable> {
        self
    }
}

/// Wakes whoever awaits the task's `JoinHandle`. That waker is user code
/// (any future may poll a `JoinHandle`) and may panic; the loop is not the
/// place for that panic to surface, and unwinding from here would leave the
/// loop mid-tick, so it is contained and logged.
fn wake_joiner(header: &Header) {
    if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(|| header.join_waker.wake())) {
        log::error!(
            "the waker of the JoinHandle of {} panicked in wake(); the task's result stays \
             in its JoinHandle: {}",
            header.info,
            super::join::panic_message(payload.as_ref() as &(dyn Any + Send))
        );
    }
}

/// Drops a result nobody will read. A panic that nobody observed is reported
/// in debug mode (asyncio's "Task exception was never retrieved"); a panic
/// from the output's own destructor is contained and logged.
fn discard_output<T>(output: Option<Result<T, JoinError>>, info: &TaskInfo, debug: bool) {
    if let Some(Err(error)) = &output {
        if debug && error.is_panic() {
            log::error!("{error}, and its JoinHandle was dropped without being awaited");
        }
    }
    if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(move || drop(output))) {
        log::error!(
            "the output of {info} panicked while being dropped: {}",
            super::join::panic_message(payload.as_ref() as &(dyn Any + Send))
        );
    }
}
