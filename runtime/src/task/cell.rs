//! The task cell: one allocation that holds a task's future, then its
//! result, and the bookkeeping its wakers and `JoinHandle` share. All of
//! eddy's task `unsafe` lives in this file.
//!
//! ```text
//!  Arc<Task<F>>: 16 bytes of counts, then
//!  ┌─────────────────────────── header (shared, thread-safe) ─────┐
//!  │ state: SCHEDULED|COMPLETE|CANCELLED|JOIN_INTEREST|JOIN_REG.. │ 4
//!  │ slot, trace_label (owner loop only)                          │ 8
//!  │ stage_holds: FUTURE | OUTPUT | NOTHING; warned_lost          │ 2 (+2)
//!  │ owner: the loop's cross-thread half (injection queue)        │ 8
//!  │ join_waker: who to wake when the result is ready             │ 16
//!  │ seq (the id's number), site (spawn place, or boxed + name)   │ 16
//!  │ trace_woken: what made it ready, for its next poll's record  │ 8
//!  │ probe: held wakers, polls, last resource, last poll          │ 24
//!  ├─────────────────────────── stage (one at a time) ────────────┤
//!  │ union { future: F, output: Result<F::Output, JoinError> }    │ max
//!  └──────────────────────────────────────────────────────────────┘
//! ```
//!
//! The same `Arc` is the run-queue entry (as `Arc<dyn Runnable>`), the waker
//! (through `futures-task`'s [`ArcWake`], no hand-written vtable) and the
//! `JoinHandle`'s target. One allocation per spawn is what lets spawn + join
//! keep up with tokio's; splitting the future into a `Box` and the bookkeeping
//! into an `Arc` would cost a second allocation and a second pointer chase.
//!
//! # Why the cell is packed
//!
//! The header is 88 bytes, so a task whose future and output are 16 bytes
//! each (an `async move` block around a `u64`, say) is a 104-byte cell and a
//! 120-byte allocation. That is the largest request glibc's malloc serves
//! from its *fastbins* (chunks of up to 128 bytes, header included): freeing
//! such a chunk pushes it on a per-size list, and the next `malloc` of that
//! size pops it, with no search and no coalescing. A larger chunk is
//! coalesced with its free neighbours at every `free`, and a hundred
//! thousand tasks freed one after another merge, chunk by chunk, into one
//! free block. At 192 bytes (the cell before it was packed) spawn-and-join
//! spent ~380 of its ~1,060 instructions per task in `malloc` and `free`.
//! So every field is sized to what it holds: the state word and the
//! loop-only indices are 32-bit and share words, the spawn site and an
//! optional name are one tagged word ([`Site`]), the loop number of the
//! task's id is its owner's (not stored again), the probe packs its
//! counters into three words, the join waker's lock is a bit of the state
//! word, and the future and the result share their bytes. `size_of` tests
//! below pin the figures.
//!
//! What packing does not change: glibc still merges its fastbins into the
//! heap's top when the program frees a block of 64 KiB or more, and gives
//! the top back to the kernel once it is large enough; the next hundred
//! thousand spawns then fault those pages in again. The runtime benchmark
//! meets this between runs (dropping a runtime frees its task list and run
//! queue); `bench/README.md`'s runtime notes give the figures.
//!
//! # The stage: the future, then the result, in the same bytes
//!
//! The future and the result never exist together: the future is dropped
//! (in place: it is pinned) before the result is stored. So they share one
//! `union`, and `stage_holds` says which is there. A `union` rather than an
//! `enum`, because assigning a small result to an enum as large as the
//! future compiles to a copy of the whole enum (over a kilobyte for a
//! server connection), once per task; writing the union's `output` field
//! writes only the result's bytes. Rust's enums can also not hide their tag
//! in the padding of the header, and the tag is one byte of the header's
//! spare ones here.
//!
//! # Why the `unsafe` is sound
//!
//! The stage and the join waker sit in `UnsafeCell`s, and the cell is
//! declared `Send + Sync` whatever `F` is, because wakers must be
//! `Send + Sync`. That is only sound because of three rules, each enforced
//! where those fields are touched:
//!
//! 1. **Until COMPLETE, only the owning loop touches the stage.** Polling and
//!    dropping the future happen in [`Runnable::run`] and
//!    [`Runnable::shutdown`], which take the loop's `&Core`. `Core` is `!Send`
//!    and lives on its thread, so a `&Core` whose shared half is our `owner`
//!    proves we are on the owning thread; both functions assert it. Nothing
//!    else reads the stage before COMPLETE. The future is also never dropped
//!    anywhere else: the loop keeps a strong reference to every live task and
//!    drops all remaining futures itself at shutdown. (The cell's own
//!    `Drop` drops whatever is left: a result nobody took, or the future
//!    of a task whose spawn failed before the loop listed it, on the
//!    spawning thread, which is the owning one.)
//! 2. **After COMPLETE, only the join side touches the stage**, and only once
//!    it has observed COMPLETE with `Acquire` (which pairs with the loop's
//!    `Release` when it stored the result). There is exactly one join side:
//!    the `JoinHandle`, or the loop itself if the handle was dropped first (the
//!    JOIN_INTEREST bit decides, see `state.rs`). A `JoinHandle<T>` is `Send`
//!    only if `T` is, so a `!Send` output never changes threads.
//!    `stage_holds` is read and written under the same rules as the stage.
//! 3. **The join waker belongs to whoever holds the state word's claim on
//!    it.** The `JoinHandle` writes it only between setting and clearing
//!    JOIN_REGISTERING, and only if COMPLETE was clear when it set the bit;
//!    the loop reads it only when its `fetch_or` of COMPLETE found
//!    JOIN_REGISTERING clear (or found no JOIN_INTEREST: then no handle is
//!    left to register). Both are read-modify-writes of one atomic, so one
//!    of them comes first and the other sees its bit (see `state.rs`).
//!
//! A [`Site`] is a pointer with a tag in its low bit; its own `unsafe` is
//! explained where it is defined.

use std::any::Any;
use std::cell::UnsafeCell;
use std::fmt;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::{self, AssertUnwindSafe, Location};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

use futures_task::{waker_ref, ArcWake};

use super::join::JoinError;
use super::state::State;
use super::{Runnable, TaskId};
use crate::debug::holders::{self, Probe};
use crate::event_loop::Core;
use crate::shared::Shared;
use crate::trace::record::outcome;

/// A spawned future and everything its handles share. See the module docs.
pub(crate) struct Task<F: Future> {
    header: Header,
    stage: Stage<F>,
}

/// The thread-safe half of a task. Fields are ordered by the compiler; the
/// 32-bit and 8-bit ones share the first two words (see the module docs).
pub(crate) struct Header {
    /// Scheduling and completion bits; see `state.rs`.
    pub(crate) state: State,
    /// Index in the owning loop's task list (so completion removes it in
    /// O(1)). Only the owning loop reads or writes it; atomic only because
    /// the header must be `Sync`. 32 bits: no loop holds 4 billion tasks.
    slot: AtomicU32,
    /// The task's label in its loop's trace (name or spawn site, interned
    /// when the loop adopts it). Owning loop only, like `slot`.
    trace_label: AtomicU32,
    /// Which of the stage's values is there: `FUTURE`, `OUTPUT` or
    /// `NOTHING`. Read and written under the stage's rules (module docs);
    /// atomic only so the header is `Sync` (relaxed: plain moves).
    stage_holds: AtomicU8,
    /// The lost-wakeup warning was given (once per task).
    warned_lost: AtomicBool,
    /// The loop this task belongs to: where a wake sends it.
    pub(crate) owner: Arc<Shared>,
    /// Woken when the task completes, so a waiting `JoinHandle` resumes.
    /// Locked by the state word's JOIN_REGISTERING bit (rule 3).
    join_waker: JoinWaker,
    /// The task's number on its loop. With the owner's loop number, its
    /// [`TaskId`] (see [`Header::id`]).
    seq: u64,
    /// Where the task was spawned, and its name if it has one.
    site: Site,
    /// What last made the task ready, for its next poll's trace record: a
    /// cause and its argument (`trace::wake_cause`), stored by whoever
    /// wakes it (one relaxed store, no record).
    trace_woken: AtomicU64,
    /// Who holds the task's waker and how often it ran, for task dumps.
    pub(crate) probe: Probe,
}

/// `stage_holds`: the future is there (it has not finished).
const FUTURE: u8 = 0;
/// `stage_holds`: the result is there, for the join side to take.
const OUTPUT: u8 = 1;
/// `stage_holds`: neither: the future was dropped and the result is not
/// stored yet, or was taken.
const NOTHING: u8 = 2;

impl Header {
    /// The task's id: its owner loop's number and its own.
    pub(crate) fn id(&self) -> TaskId {
        TaskId::new(self.owner.loop_id, self.seq)
    }

    /// The task's number on its loop (what a trace names it by).
    pub(crate) fn seq(&self) -> u64 {
        self.seq
    }

    /// Where the task was spawned, and its name.
    pub(crate) fn site(&self) -> &Site {
        &self.site
    }

    /// The task's name: the one given to `spawn_named`, or its site's
    /// (`spawn_named_static`).
    pub(crate) fn name(&self) -> Option<&str> {
        self.site.name()
    }

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

    /// Whether this is the first lost-wakeup warning for the task.
    pub(crate) fn first_lost_warning(&self) -> bool {
        !self.warned_lost.swap(true, Relaxed)
    }

    /// Takes the waker a `JoinHandle` left, to wake or drop it.
    ///
    /// # Safety
    /// Rule 3: the caller's `fetch_or` of COMPLETE found JOIN_REGISTERING
    /// clear, or found JOIN_INTEREST clear.
    unsafe fn take_join_waker(&self) -> Option<Waker> {
        // SAFETY: guaranteed by the caller: no handle is writing the slot,
        // and none will (COMPLETE is set).
        unsafe { (*self.join_waker.0.get()).take() }
    }
}

impl fmt::Display for Header {
    /// "task 1.7 'name' (spawned at src/main.rs:3:5)".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        super::Who(self.id(), &self.site).fmt(f)
    }
}

/// The slot for the waker of whoever awaits the task's `JoinHandle`.
struct JoinWaker(UnsafeCell<Option<Waker>>);

// SAFETY: the slot is only touched by the one side that rule 3 (module
// docs) gives it to at that moment, and a `Waker` is `Send + Sync`.
unsafe impl Sync for JoinWaker {}

/// The future, then its result, in the same bytes; the header's
/// `stage_holds` says which (see the module docs).
struct Stage<F: Future>(UnsafeCell<StageData<F>>);

union StageData<F: Future> {
    future: ManuallyDrop<F>,
    output: ManuallyDrop<Result<F::Output, JoinError>>,
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
    pub(crate) fn new(future: F, owner: Arc<Shared>, seq: u64, site: Site) -> Arc<Task<F>> {
        Arc::new(Task {
            header: Header {
                state: State::new(),
                slot: AtomicU32::new(UNSLOTTED),
                trace_label: AtomicU32::new(0),
                stage_holds: AtomicU8::new(FUTURE),
                warned_lost: AtomicBool::new(false),
                owner,
                join_waker: JoinWaker(UnsafeCell::new(None)),
                seq,
                site,
                trace_woken: AtomicU64::new(0),
                probe: Probe::new(),
            },
            stage: Stage(UnsafeCell::new(StageData { future: ManuallyDrop::new(future) })),
        })
    }

    fn assert_owner(&self, core: &Core) {
        assert!(
            Arc::ptr_eq(&self.header.owner, core.shared()),
            "eddy bug: task {} handled by a loop that does not own it",
            self.header
        );
    }

    /// Drops the future in place, catching a panic from its destructor.
    ///
    /// # Safety
    /// Rule 1: owning loop (or a task no loop will ever see), not COMPLETE,
    /// and the stage holds the future.
    unsafe fn drop_future(&self) -> Result<(), Box<dyn Any + Send>> {
        // Marked gone first: a destructor that panics has still ended the
        // future's life, and must never run again.
        self.header.stage_holds.store(NOTHING, Relaxed);
        panic::catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: guaranteed by the caller; the future is pinned, and
            // dropped where it lies.
            unsafe { ManuallyDrop::drop(&mut (*self.stage.0.get()).future) }
        }))
    }

    /// Stores the result.
    ///
    /// # Safety
    /// Rule 1, and the stage holds nothing (the future was dropped).
    unsafe fn store_output(&self, result: Result<F::Output, JoinError>) {
        // SAFETY: guaranteed by the caller. Writing the field writes only
        // the result's bytes (see "The stage").
        unsafe { (*self.stage.0.get()).output = ManuallyDrop::new(result) };
        self.header.stage_holds.store(OUTPUT, Relaxed);
    }

    /// Takes the result out of a completed task (`None` if already taken).
    ///
    /// # Safety
    /// Rule 2: the caller observed COMPLETE and is the only join side.
    unsafe fn take_output(&self) -> Option<Result<F::Output, JoinError>> {
        if self.header.stage_holds.load(Relaxed) != OUTPUT {
            return None;
        }
        self.header.stage_holds.store(NOTHING, Relaxed);
        // SAFETY: guaranteed by the caller; `stage_holds` said the output
        // is there, and now says it is not, so it is read exactly once.
        Some(unsafe { ManuallyDrop::take(&mut (*self.stage.0.get()).output) })
    }

    /// Stores the result, publishes COMPLETE, and hands the output to whoever
    /// owns it now. Owner loop only (callers have asserted it).
    fn finish(&self, core: &Core, result: Result<F::Output, JoinError>) {
        // SAFETY: rule 1: we are the owning loop and COMPLETE is not set
        // yet, and only `finish` (once: it sets COMPLETE) drops the future.
        let dropped = unsafe { self.drop_future() };
        let result = match (dropped, result) {
            (Err(payload), Ok(_)) => Err(JoinError::panicked(self.header.id(), &self.header.site, payload)),
            (_, result) => result,
        };
        if let Err(error) = &result {
            core.trace_failure(&self.header, crate::trace::failure_outcome(error));
        }
        // SAFETY: rule 1 still holds: COMPLETE is published just below; the
        // future was dropped just above.
        unsafe { self.store_output(result) };
        let before = self.header.state.complete();
        core.release_task(self.header.slot(), self);
        self.hand_over(before, core.debug());
    }

    /// After COMPLETE (`before` is the state it replaced): wakes the
    /// `JoinHandle`'s waker, or, if the handle is gone, drops the output.
    fn hand_over(&self, before: super::state::Snapshot, debug: bool) {
        if before.has_join_interest() {
            if !before.is_registering_join() {
                // SAFETY: rule 3: our `fetch_or` of COMPLETE found
                // JOIN_REGISTERING clear.
                wake_joiner(&self.header, unsafe { self.header.take_join_waker() });
            }
            // Otherwise the handle sees COMPLETE as it lets go of the slot.
        } else {
            // Nobody will ever ask for the output: drop it here. A waker
            // left by a handle that was dropped while waiting goes too, so
            // it stops counting as a holder of the task that awaited.
            // SAFETY: rule 3 (no handle is left), and rule 2: COMPLETE is
            // set and the handle is gone, so we are the join side.
            let (waker, output) = unsafe { (self.header.take_join_waker(), self.take_output()) };
            drop(waker);
            discard_output(output, &self.header, debug);
        }
    }

    /// Completes, as cancelled, a task that never reached its loop (spawned
    /// through a `Handle` onto a runtime that had already shut down).
    pub(crate) fn cancel_unsent(self: Arc<Self>) {
        // SAFETY: the task was never handed to a loop (the injection was
        // refused), so no loop will ever touch it: this thread is the only
        // one with access to the stage, which holds the not-yet-started
        // future (and whatever `Send` closure builds it).
        if let Err(payload) = unsafe { self.drop_future() } {
            log::error!(
                "dropping {} panicked: {}",
                self.header,
                super::join::panic_message(payload.as_ref() as &(dyn Any + Send))
            );
        }
        let error = JoinError::cancelled(self.header.id(), &self.header.site);
        // SAFETY: as above; COMPLETE is published just below.
        unsafe { self.store_output(Err(error)) };
        let before = self.header.state.complete();
        self.hand_over(before, self.header.owner.debug);
    }

    /// Stores `waker` as the one to wake when the task completes. Returns
    /// false if the task completed meanwhile: the result can be taken now.
    /// Out of line: the `JoinHandle`'s poll is inlined into every awaiting
    /// future, and this is its pending path.
    #[inline(never)]
    fn register_join_waker(&self, waker: &Waker) -> bool {
        if self.header.state.lock_join_waker().is_complete() {
            return false;
        }
        // Counted as held by a `JoinHandle` in the awaiting task's probe.
        let view = holders::held(waker, holders::Resource::Join(self.header.id()));
        // SAFETY: rule 3: we set JOIN_REGISTERING while COMPLETE was clear,
        // so the slot is ours until we clear the bit.
        let slot = unsafe { &mut *self.header.join_waker.0.get() };
        if !slot.as_ref().is_some_and(|stored| stored.will_wake(&view)) {
            *slot = Some(view.clone());
        }
        if self.header.state.unlock_join_waker().is_complete() {
            // The loop completed the task meanwhile and left the slot to us
            // (rule 3): nothing will wake this waker, so it goes now.
            // SAFETY: the loop saw JOIN_REGISTERING and will not touch the
            // slot; no other handle exists.
            drop(unsafe { self.header.take_join_waker() });
            return false;
        }
        true
    }
}

impl<F: Future> Drop for Task<F> {
    fn drop(&mut self) {
        let stage = self.stage.0.get_mut();
        match *self.header.stage_holds.get_mut() {
            // SAFETY: `&mut self`: nobody else can touch the cell, and
            // `stage_holds` says the future is there. By rule 1 this only
            // happens to a task that no loop ever ran (a loop drops every
            // future it holds before it lets go of the cell).
            FUTURE => unsafe { ManuallyDrop::drop(&mut stage.future) },
            // SAFETY: as above, and the output was never taken.
            OUTPUT => unsafe { ManuallyDrop::drop(&mut stage.output) },
            _ => {}
        }
    }
}

/// Where a task was spawned and, if it has one, the name it was given, in
/// one word: a `&'static Location`, or a `Box` of the name and location
/// with the pointer's low bit set. Unnamed tasks (nearly all) pay nothing
/// beyond the word; a named task pays one allocation for its name, as it
/// did before. (Two fields, a location and an optional name, took 16 bytes
/// of every task cell; see the module docs for why 8 matter.)
///
/// The tag is sound because both pointees are at least 2-aligned (they
/// hold pointers; asserted below), so a real pointer to either never has
/// its low bit set, and the bit is cleared before the pointer is used.
pub(crate) struct Site(*const ());

/// A named task's site, behind the tagged pointer.
struct Named {
    name: Box<str>,
    location: &'static Location<'static>,
}

/// The tag bit: set when the word points to a [`Named`].
const NAMED: usize = 1;

const _: () = assert!(std::mem::align_of::<Location<'static>>() > NAMED);
const _: () = assert!(std::mem::align_of::<Named>() > NAMED);

// SAFETY: a `Site` is either a shared `&'static Location` (Sync) or an
// owned `Box<Named>` (a `Box<str>` and a `&'static`, both Send + Sync),
// and it only hands out shared references to either.
unsafe impl Send for Site {}
// SAFETY: as above.
unsafe impl Sync for Site {}

impl Site {
    /// A site with an optional name.
    pub(crate) fn new(name: Option<Box<str>>, location: &'static Location<'static>) -> Site {
        match name {
            None => Site(std::ptr::from_ref(location).cast()),
            Some(name) => {
                let named = Box::into_raw(Box::new(Named { name, location }));
                Site(named.cast_const().cast::<()>().map_addr(|addr| addr | NAMED))
            }
        }
    }

    /// The boxed name and location, if the task was named (untagged).
    fn named_ptr(&self) -> Option<*mut Named> {
        (self.0.addr() & NAMED != 0).then(|| self.0.map_addr(|addr| addr & !NAMED).cast::<Named>().cast_mut())
    }

    /// The boxed name and location, if the task was named.
    fn named(&self) -> Option<&Named> {
        // SAFETY: a tagged word was made by `new` from a `Box<Named>`, which
        // lives until `drop`; only shared references are handed out.
        self.named_ptr().map(|named| unsafe { &*named })
    }

    /// Where the task was spawned.
    pub(crate) fn location(&self) -> &'static Location<'static> {
        match self.named() {
            Some(named) => named.location,
            // SAFETY: an untagged word was made by `new` from a
            // `&'static Location`.
            None => unsafe { &*self.0.cast::<Location<'static>>() },
        }
    }

    /// The name given at spawn (`spawn_named`), if any.
    pub(crate) fn given_name(&self) -> Option<&str> {
        self.named().map(|named| &*named.name)
    }

    /// The task's name: the one given at spawn, or its site's
    /// (`spawn_named_static`).
    pub(crate) fn name(&self) -> Option<&str> {
        self.given_name().or_else(|| super::site_name(self.location()))
    }
}

impl Clone for Site {
    fn clone(&self) -> Site {
        Site::new(self.given_name().map(Box::from), self.location())
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        if let Some(named) = self.named_ptr() {
            // SAFETY: made by `Box::into_raw` in `new` (the pointer keeps
            // that provenance: the tag is an address change only), and this
            // is its only owner; `&mut self` means nothing borrows from it.
            drop(unsafe { Box::from_raw(named) });
        }
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
            self.finish(core, Err(JoinError::cancelled(self.header.id(), &self.header.site)));
            return;
        }
        let waker = waker_ref(&self);
        let mut cx = Context::from_waker(&waker);
        let seq = self.header.seq as u32;
        core.trace().poll_begin(seq, || self.header.trace_woken());
        self.header.probe.polled(core.trace().loop_time());
        core.poll_begin(Some(&self.header));
        let polled = panic::catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: rule 1: we are the owning loop (asserted above) and not
            // complete, so the stage holds the future (only `finish` drops
            // it, and sets COMPLETE). The future is never moved: it lives
            // inside the Arc allocation until it is dropped in place.
            let future = unsafe { Pin::new_unchecked(&mut *(*self.stage.0.get()).future) };
            future.poll(&mut cx)
        }));
        let outcome = match &polled {
            Ok(Poll::Pending) => outcome::PENDING,
            Ok(Poll::Ready(_)) => outcome::READY,
            Err(_) => outcome::PANICKED,
        };
        core.trace().poll_end(seq, outcome, || self.header.trace_label(), core.clock());
        core.poll_end(Some(&self.header), &self.header);
        match polled {
            Ok(Poll::Pending) if core.debug() => {
                crate::debug::dump::check_after_pending(&self.header, Arc::strong_count(&self))
            }
            Ok(Poll::Pending) => {}
            Ok(Poll::Ready(output)) => self.finish(core, Ok(output)),
            Err(payload) => {
                self.finish(core, Err(JoinError::panicked(self.header.id(), &self.header.site, payload)))
            }
        }
    }

    fn shutdown(self: Arc<Self>, core: &Core) {
        self.assert_owner(core);
        if !self.header.state.load().is_complete() {
            self.finish(core, Err(JoinError::cancelled(self.header.id(), &self.header.site)));
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
    fn id(&self) -> TaskId;
    /// The same task as a run-queue entry, for an `AbortHandle`, which
    /// must not know the output type.
    fn runnable(self: Arc<Self>) -> Arc<dyn Runnable>;
}

impl<F: Future + 'static> JoinTarget<F::Output> for Task<F> {
    fn poll_join(&self, waker: &Waker) -> Poll<Result<F::Output, JoinError>> {
        if !self.header.state.load().is_complete() && self.register_join_waker(waker) {
            return Poll::Pending;
        }
        // SAFETY: rule 2: COMPLETE observed with Acquire (by the load, or by
        // the registration's read-modify-writes); this handle holds
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
            // Already taken (the handle was awaited): nothing to do, and
            // the common case of every awaited handle, so no call below.
            if output.is_some() {
                discard_output(output, &self.header, self.header.owner.debug);
            }
        }
    }

    fn id(&self) -> TaskId {
        self.header.id()
    }

    fn runnable(self: Arc<Self>) -> Arc<dyn Runnable> {
        self
    }
}

/// Wakes whoever awaits the task's `JoinHandle`. That waker is user code
/// (any future may poll a `JoinHandle`) and may panic; the loop is not the
/// place for that panic to surface, and unwinding from here would leave the
/// loop mid-tick, so it is contained and logged.
fn wake_joiner(header: &Header, waker: Option<Waker>) {
    let Some(waker) = waker else { return };
    if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(|| waker.wake())) {
        log::error!(
            "the waker of the JoinHandle of {} panicked in wake(); the task's result stays \
             in its JoinHandle: {}",
            header,
            super::join::panic_message(payload.as_ref() as &(dyn Any + Send))
        );
    }
}

/// Drops a result nobody will read. A panic that nobody observed is reported
/// in debug mode (asyncio's "Task exception was never retrieved"); a panic
/// from the output's own destructor is contained and logged.
fn discard_output<T>(output: Option<Result<T, JoinError>>, info: &Header, debug: bool) {
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

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::hint::black_box;
    use std::mem::size_of;
    use std::panic::Location;

    use super::{Header, Site, Task};

    /// What `Arc` puts before the value: the strong and weak counts.
    const ARC_COUNTS: usize = 2 * size_of::<usize>();

    /// The largest request glibc's malloc serves from a fastbin on 64-bit
    /// targets (128-byte chunks, 8 of them malloc's own size field): see
    /// "Why the cell is packed" in the module docs.
    const FASTBIN_REQUEST: usize = 120;

    fn cell_size<F: Future>(_: &F) -> usize {
        ARC_COUNTS + size_of::<Task<F>>()
    }

    #[test]
    fn the_header_is_eleven_words() {
        assert_eq!(size_of::<Header>(), 88);
        assert_eq!(size_of::<Site>(), size_of::<usize>());
    }

    /// The runtime benchmark's spawn-and-join task (`bench/runtime-bench`),
    /// a future of 16 bytes with a 16-byte result (`u64` or `JoinError`).
    #[test]
    fn a_small_task_fits_a_fastbin_chunk() {
        let i = 7_u64;
        let future = async move { black_box(i) };
        let size = cell_size(&future);
        eprintln!("spawn_join's task cell: {size} bytes (future {})", size_of_val(&future));
        assert_eq!(size, 120);
        assert!(size <= FASTBIN_REQUEST);
    }

    #[test]
    fn a_site_keeps_its_location_and_name() {
        let here = Location::caller();
        let unnamed = Site::new(None, here);
        assert_eq!(unnamed.location(), here);
        assert_eq!(unnamed.given_name(), None);
        let named = Site::new(Some("worker".into()), here);
        assert_eq!(named.location(), here);
        assert_eq!(named.given_name(), Some("worker"));
        let copy = named.clone();
        drop(named);
        assert_eq!(copy.given_name(), Some("worker"));
        assert_eq!(copy.location(), here);
    }
}
