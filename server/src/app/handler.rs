//! Handlers: what answers a request, and the memory their futures live in.
//!
//! Any `Fn(Request) -> impl Future<Output = impl Into<Response>>` that is
//! `Send + Sync` is a handler: an `async fn`, or a closure returning an
//! `async` block. The function is shared by every worker loop (hence `Send +
//! Sync`); the future it returns runs on the loop that received the request
//! and never moves, so it need not be `Send` (it may hold `Rc`s).
//!
//! ## Where a handler's future lives
//!
//! Every route may have its own handler type, so the connection holds the
//! future type-erased, behind a pointer: a [`HandlerFuture`]. A `Box` per
//! request was one `malloc` and one `free`, ~130 instructions under
//! callgrind, a twentieth of a whole keep-alive request. So the memory is
//! recycled instead: a future of up to [`BLOCK_CLASSES`] × [`BLOCK`] bytes
//! (and an alignment the blocks have) is written into a block taken from
//! this loop's free list for its size class, and the block goes back to
//! that list as soon as the future is done: by the very poll that finds it
//! ready, or when it is dropped unfinished (cancelled with its
//! connection). Taking and giving back are a pop and a push on a
//! thread-local list threaded through the free blocks. The lists are per
//! thread (one per loop), freed when the thread exits, and hold at most
//! [`MAX_POOLED`] blocks per class (more are freed), and a larger or
//! over-aligned future is boxed as before. A `HandlerFuture` is not
//! `Send`, so it is dropped on the thread whose list its block came from
//! (and a block is plain global-allocator memory in any case).
//!
//! The same blocks hold the connection's per-request state
//! ([`Recycled`], a future of a known type): it is most of a connection's
//! future, and held inline it made every idle connection keep ~400 bytes
//! of room for a request it was not serving. Both are built on
//! [`Pooled`], a typed box over the blocks.
//!
//! ```text
//!   Handler::call ─▶ HandlerFuture::new: a block from the free list,
//!        │           the future written into it
//!        ▼
//!   poll ─ Pending ─▶ (the connection waits, polls again)
//!        │ Ready
//!        ▼
//!   the future dropped, its block back on the list, in that same poll;
//!   dropping the HandlerFuture afterwards does nothing
//! ```

use std::alloc::{self, Layout};
use std::cell::Cell;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll};

use crate::app::request::Request;
use crate::app::response::Response;

/// Block sizes are multiples of this: one cache line. A greeting handler's
/// future (its `Request` plus the wrapper's state) takes two.
const BLOCK: usize = 64;

/// Size classes: blocks of 64, 128, …, 512 bytes. Handler futures that
/// await little are a few hundred bytes; larger ones are boxed.
const BLOCK_CLASSES: usize = 8;

/// Alignment of every block: enough for any future that holds only
/// ordinary fields (over-aligned ones are boxed).
const BLOCK_ALIGN: usize = 16;

/// Blocks of one class kept per loop; more are freed. 64 covers a loop
/// with 64 handlers waiting at once; picked, not tuned.
const MAX_POOLED: usize = 64;

// Per size class, a free list threaded through the free blocks themselves
// (each holds the address of the next in its first word) and its length.
// Plain `Cell`s with constant initialisers: reaching them is one
// thread-pointer-relative load, with none of the lazy-initialisation and
// destructor-registration checks (and the `RefCell` flag) a
// `RefCell<Vec<_>>` pays on every access, ~20 instructions per take or
// give under callgrind.
thread_local! {
    static FREE_HEADS: [Cell<*mut u8>; BLOCK_CLASSES] =
        const { [const { Cell::new(std::ptr::null_mut()) }; BLOCK_CLASSES] };
    /// Blocks listed per class. Set to `MAX_POOLED` (full) once the lists
    /// have been freed as the thread exits, so that blocks given back
    /// after that are freed at once: one check per give, not two.
    static FREE_COUNTS: [Cell<usize>; BLOCK_CLASSES] = const { [const { Cell::new(0) }; BLOCK_CLASSES] };
    /// Frees the lists when the thread exits. Touched when a block is
    /// first allocated on the thread, which registers its destructor.
    static RELEASER: Releaser = const { Releaser };
}

/// Frees this thread's free lists at thread exit.
struct Releaser;

impl Drop for Releaser {
    fn drop(&mut self) {
        for class in 0..BLOCK_CLASSES {
            while let Some(block) = pop_block(class) {
                // SAFETY: a listed block was allocated by `take_block` with
                // this layout, and the list held the only reference to it.
                unsafe { alloc::dealloc(block.as_ptr(), block_layout(class)) };
            }
            // Full from now on: later gives free their block.
            FREE_COUNTS.with(|counts| counts[class].set(MAX_POOLED));
        }
    }
}

/// The size class for a value of `layout`, if a block can hold it. A
/// `const fn`, so that a [`Pooled`] value's class is known when compiled.
const fn class_of(layout: Layout) -> Option<usize> {
    if layout.align() > BLOCK_ALIGN {
        return None;
    }
    let class = layout.size().saturating_sub(1) / BLOCK;
    if class < BLOCK_CLASSES {
        Some(class)
    } else {
        None
    }
}

fn block_layout(class: usize) -> Layout {
    // Sizes up to 512 and a power-of-two alignment: always valid.
    Layout::from_size_align((class + 1) * BLOCK, BLOCK_ALIGN).unwrap_or(Layout::new::<[u128; 32]>())
}

/// Takes the first block off this thread's list for `class`.
#[inline]
fn pop_block(class: usize) -> Option<NonNull<u8>> {
    let head = NonNull::new(FREE_HEADS.with(|heads| heads[class].get()))?;
    // SAFETY: a listed block is free memory of at least 64 bytes, aligned
    // to 16, whose first word `give_block` set to the next block.
    let next = unsafe { head.as_ptr().cast::<*mut u8>().read() };
    FREE_HEADS.with(|heads| heads[class].set(next));
    FREE_COUNTS.with(|counts| counts[class].set(counts[class].get() - 1));
    Some(head)
}

/// A block of `class`, from this loop's free list or newly allocated.
#[inline]
fn take_block(class: usize) -> NonNull<u8> {
    pop_block(class).unwrap_or_else(|| {
        // Registers the list's destructor on this thread (a no-op after
        // the first time).
        RELEASER.with(|_| {});
        let layout = block_layout(class);
        // SAFETY: the layout's size is at least 64, never zero.
        let raw = unsafe { alloc::alloc(layout) };
        NonNull::new(raw).unwrap_or_else(|| alloc::handle_alloc_error(layout))
    })
}

/// Returns a block of `class` (its future already dropped) to this loop's
/// free list, or frees it if the list is full or the thread is exiting.
#[inline]
fn give_block(class: usize, block: NonNull<u8>) {
    let count = FREE_COUNTS.with(|counts| counts[class].get());
    if count >= MAX_POOLED {
        // SAFETY: the block was allocated by `take_block` with this very
        // layout, and nothing refers to it any more.
        unsafe { alloc::dealloc(block.as_ptr(), block_layout(class)) };
        return;
    }
    let head = FREE_HEADS.with(|heads| heads[class].get());
    // SAFETY: the block is free, at least 64 bytes and 16-aligned: its
    // first word can hold the list's next pointer.
    unsafe { block.as_ptr().cast::<*mut u8>().write(head) };
    FREE_HEADS.with(|heads| heads[class].set(block.as_ptr()));
    FREE_COUNTS.with(|counts| counts[class].set(count + 1));
}

/// The future a [`Handler`] returns for one request: the handler's own
/// future, type-erased, in memory this loop recycles (see the module
/// docs). It resolves to the response.
///
/// Type-erased by hand rather than as a `dyn Future`: two functions made
/// for the future's type, which know its block's size class when
/// compiled. The one that polls also drops the future and gives its block
/// back as soon as it is ready, in the same call, so that the usual
/// request (answered at the first poll) pays for one indirect call, not
/// two, and dropping the finished `HandlerFuture` costs a test.
pub struct HandlerFuture {
    /// The future, in its block (or box): never moved until dropped (it may
    /// be self-referential). `None` once it has finished and been dropped.
    future: Option<NonNull<()>>,
    /// What the future's type does.
    vtable: &'static FutureVTable,
}

/// The functions a [`HandlerFuture`] calls on its future.
struct FutureVTable {
    /// Polls the future in the slot; if it is ready, empties the slot,
    /// then drops the future and frees its memory.
    poll_then_release: unsafe fn(&mut Option<NonNull<()>>, &mut Context<'_>) -> Poll<Response>,
    /// Drops an unfinished future and frees its memory.
    release: unsafe fn(NonNull<()>),
}

/// The [`FutureVTable`] of futures of type `F`.
struct VTableOf<F>(PhantomData<F>);

impl<F: Future<Output = Response>> VTableOf<F> {
    const VTABLE: FutureVTable =
        FutureVTable { poll_then_release: Self::poll_then_release, release: Self::release };

    /// The slot is emptied before the future is dropped: if a destructor
    /// of what the future held panics, the future is not dropped a second
    /// time when its `HandlerFuture` is (its block is leaked instead).
    ///
    /// # Safety
    /// The slot holds a live `F` from `Pooled::<F>::into_raw`, owned by the
    /// slot alone.
    unsafe fn poll_then_release(slot: &mut Option<NonNull<()>>, cx: &mut Context<'_>) -> Poll<Response> {
        let Some(future) = *slot else {
            // What an `async` block does: the connection never polls a
            // finished handler (and catches the panic if it did).
            panic!("a HandlerFuture polled after it finished");
        };
        // SAFETY: a live `F` that never moves until it is released (moving
        // a `HandlerFuture` moves the pointer, not the future).
        let pinned = unsafe { Pin::new_unchecked(&mut *future.cast::<F>().as_ptr()) };
        let poll = pinned.poll(cx);
        if poll.is_ready() {
            *slot = None;
            // SAFETY: finished, and forgotten by the slot: released once.
            unsafe { Self::release(future) };
        }
        poll
    }

    /// # Safety
    /// `future` is a live `F` from `Pooled::<F>::into_raw`, released once.
    unsafe fn release(future: NonNull<()>) {
        // SAFETY: as the caller promises; dropping the `Pooled` drops the
        // future and gives its block back.
        drop(unsafe { Pooled::from_raw(future.cast::<F>()) });
    }
}

impl HandlerFuture {
    /// Puts `future` in a recycled block (or a box, if it is too large).
    #[cfg(test)]
    pub(crate) fn new<F: Future<Output = Response> + 'static>(future: F) -> HandlerFuture {
        HandlerFuture::from_pooled(Pooled::new(future))
    }

    /// The handler future of a future already in its block.
    #[inline(always)]
    fn from_pooled<F: Future<Output = Response> + 'static>(future: Pooled<F>) -> HandlerFuture {
        let future = Pooled::into_raw(future).cast::<()>();
        HandlerFuture { future: Some(future), vtable: &VTableOf::<F>::VTABLE }
    }
}

impl Future for HandlerFuture {
    type Output = Response;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Response> {
        let this = self.get_mut();
        // SAFETY: the slot holds the live future of the vtable's type (or
        // nothing, once it finished), owned by this value alone.
        unsafe { (this.vtable.poll_then_release)(&mut this.future, cx) }
    }
}

impl Drop for HandlerFuture {
    #[inline]
    fn drop(&mut self) {
        if let Some(future) = self.future.take() {
            // SAFETY: the live, unfinished future of the vtable's type,
            // released once: `take` forgets it.
            unsafe { (self.vtable.release)(future) };
        }
    }
}

/// A value of a known type in a recycled block (a `Box` if it is too
/// large or over-aligned): a `Box` whose memory costs a pop and a push on
/// this loop's free list instead of a `malloc` and a `free`. One pointer
/// wide: the class is known from the type when compiled. What
/// [`HandlerFuture`] and [`Recycled`] put their futures in.
pub(crate) struct Pooled<T> {
    value: NonNull<T>,
    /// Owns a `T`, for the drop checker.
    _owns: PhantomData<T>,
}

// Moving a `Pooled` moves the pointer, never the value: the value may be
// pinned (see `Recycled`) whatever `T` is.
impl<T> Unpin for Pooled<T> {}

impl<T> Pooled<T> {
    /// The block class for a `T`, or `None`: boxed.
    const CLASS: Option<usize> = class_of(Layout::new::<T>());

    /// Puts `value` in a block taken from this loop's list.
    #[inline]
    pub(crate) fn new(value: T) -> Pooled<T> {
        let value = match Self::CLASS {
            Some(class) => {
                let block = take_block(class).cast::<T>();
                // SAFETY: the block is at least `size_of::<T>()` bytes,
                // aligned to `BLOCK_ALIGN` ≥ `align_of::<T>()` (`class_of`
                // checked both), and unused.
                unsafe { block.as_ptr().write(value) };
                block
            }
            None => NonNull::from(Box::leak(Box::new(value))),
        };
        Pooled { value, _owns: PhantomData }
    }
}

impl<T> Pooled<T> {
    /// Takes the block a `T` will go in, before the `T` is made: see
    /// [`PooledSlot`].
    #[inline(always)]
    pub(crate) fn slot() -> PooledSlot<T> {
        PooledSlot { block: Self::CLASS.map(take_block), _for: PhantomData }
    }
}

/// A block taken for a `T` not made yet (`None`: the `T` will be boxed).
/// Made first so that the value can be made straight into it:
/// `Pooled::new(make())` makes it on the stack, and moving what `make`
/// takes into a closure for it costs a copy too (for a handler's future,
/// of the 80-byte request). Dropped unfilled (if making the value
/// panics), it gives the block back.
pub(crate) struct PooledSlot<T> {
    block: Option<NonNull<u8>>,
    _for: PhantomData<T>,
}

impl<T> PooledSlot<T> {
    /// Puts `value` in the block.
    #[inline(always)]
    pub(crate) fn fill(self, value: T) -> Pooled<T> {
        let this = std::mem::ManuallyDrop::new(self);
        let value = match this.block {
            Some(block) => {
                let block = block.cast::<T>();
                // SAFETY: as in `Pooled::new`: the block is big and
                // aligned enough for a `T` (its class says so), and unused.
                unsafe { block.as_ptr().write(value) };
                block
            }
            None => NonNull::from(Box::leak(Box::new(value))),
        };
        Pooled { value, _owns: PhantomData }
    }
}

impl<T> Drop for PooledSlot<T> {
    fn drop(&mut self) {
        if let (Some(block), Some(class)) = (self.block, Pooled::<T>::CLASS) {
            give_block(class, block);
        }
    }
}

impl<T> Pooled<T> {
    /// The value's address; it stays put until [`from_raw`](Self::from_raw)
    /// takes it back.
    #[inline]
    pub(crate) fn into_raw(pooled: Pooled<T>) -> NonNull<T> {
        std::mem::ManuallyDrop::new(pooled).value
    }

    /// Takes back a value that [`into_raw`](Self::into_raw) gave out.
    ///
    /// # Safety
    /// `value` came from `into_raw` of a `Pooled<T>` of this very `T`, on
    /// this thread, and is taken back once.
    #[inline]
    pub(crate) unsafe fn from_raw(value: NonNull<T>) -> Pooled<T> {
        Pooled { value, _owns: PhantomData }
    }
}

impl<T> std::ops::Deref for Pooled<T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: `value` points to a live `T` that this `Pooled` owns
        // alone until it is dropped.
        unsafe { self.value.as_ref() }
    }
}

impl<T> std::ops::DerefMut for Pooled<T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and `&mut self` makes this the only
        // reference.
        unsafe { self.value.as_mut() }
    }
}

impl<T> Drop for Pooled<T> {
    #[inline]
    fn drop(&mut self) {
        match Self::CLASS {
            Some(class) => {
                // SAFETY: live and dropped exactly once, here; the block
                // goes back only after.
                unsafe { std::ptr::drop_in_place(self.value.as_ptr()) };
                give_block(class, self.value.cast::<u8>());
            }
            // SAFETY: it came from `Box::leak` in `new` and is dropped once.
            None => drop(unsafe { Box::from_raw(self.value.as_ptr()) }),
        }
    }
}

/// A future of a known type in a recycled block (see [`Pooled`]): for a
/// large future that runs on every request but is rarely pending, such as
/// the connection's per-request state, so that an idle connection does
/// not keep room for it. Pinned in place: the future never moves until
/// dropped.
pub(crate) struct Recycled<F: Future>(Pooled<F>);

impl<F: Future> Recycled<F> {
    pub(crate) fn new(future: F) -> Recycled<F> {
        Recycled(Pooled::new(future))
    }
}

impl<F: Future> Future for Recycled<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: the future is owned by this value alone, which never
        // hands out a reference to it but this pinned one, and it never
        // moves until dropped (moving a `Recycled` moves the pointer).
        unsafe { Pin::new_unchecked(&mut *self.get_mut().0) }.poll(cx)
    }
}

/// Something that answers requests. Implemented for every suitable function
/// and closure; you do not implement it yourself.
///
/// ```
/// use eddy_http::{App, Request, Response};
///
/// async fn hello(req: Request) -> Response {
///     Response::text(format!("Hello, {}!", req.param("name").unwrap_or("Anonymous")))
/// }
///
/// let greeting = String::from("Howdy");
/// let app = App::new()
///     .get("/{name}", hello)
///     .get("/", move |_req: Request| {
///         let greeting = greeting.clone();
///         async move { Response::text(greeting) }
///     });
/// ```
pub trait Handler: Send + Sync + 'static {
    /// Starts handling `request`.
    fn call(&self, request: Request) -> HandlerFuture;
}

impl<F, Fut> Handler for F
where
    F: Fn(Request) -> Fut + Send + Sync + 'static,
    Fut: Future + 'static,
    Fut::Output: Into<Response>,
{
    #[inline]
    fn call(&self, request: Request) -> HandlerFuture {
        // The block first, so that the future is made straight into it.
        let slot = Pooled::slot();
        HandlerFuture::from_pooled(slot.fill(IntoResponse(self(request))))
    }
}

/// A handler's future with its output turned into a [`Response`]. What
/// `async move { future.await.into() }` does, without the state byte and
/// the poll-after-completion check an `async` block adds.
struct IntoResponse<Fut>(Fut);

impl<Fut> Future for IntoResponse<Fut>
where
    Fut: Future,
    Fut::Output: Into<Response>,
{
    type Output = Response;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Response> {
        // SAFETY: structural pinning of the one field: it is never moved
        // out of the wrapper nor reached other than through this pin, and
        // the wrapper has no `Drop` of its own.
        let future = unsafe { self.map_unchecked_mut(|wrapper| &mut wrapper.0) };
        future.poll(cx).map(Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::rc::Rc;
    use std::task::Waker;

    /// Counts drops of what a future holds.
    struct Probe(Rc<Cell<usize>>);

    impl Drop for Probe {
        fn drop(&mut self) {
            self.0.set(self.0.get() + 1);
        }
    }

    fn poll_once(future: &mut HandlerFuture) -> Poll<Response> {
        Pin::new(future).poll(&mut Context::from_waker(Waker::noop()))
    }

    /// The block class a value of `T`'s type goes in (`None`: boxed).
    fn class_of_val<T>(_: &T) -> Option<usize> {
        Pooled::<T>::CLASS
    }

    fn free_head(class: usize) -> *mut u8 {
        FREE_HEADS.with(|heads| heads[class].get())
    }

    #[test]
    fn a_block_is_reused_by_the_next_future_of_its_class() {
        let first = HandlerFuture::new(async { Response::text("a") });
        let block = first.future.expect("a live future");
        drop(first);
        let mut second = HandlerFuture::new(async { Response::text("b") });
        assert_eq!(second.future, Some(block), "the freed block is taken again");
        let Poll::Ready(response) = poll_once(&mut second) else { panic!("ready at once") };
        assert_eq!(response.body(), b"b");
    }

    #[test]
    fn a_cancelled_future_drops_what_it_holds_once() {
        let drops = Rc::new(Cell::new(0));
        let probe = Probe(drops.clone());
        let mut pending = HandlerFuture::new(async move {
            let _probe = probe;
            std::future::pending::<()>().await;
            Response::text("never")
        });
        assert!(poll_once(&mut pending).is_pending());
        assert_eq!(drops.get(), 0);
        drop(pending);
        assert_eq!(drops.get(), 1);
    }

    #[test]
    fn a_finished_future_is_dropped_and_its_block_given_back_when_it_is_ready() {
        let drops = Rc::new(Cell::new(0));
        let probe = Probe(drops.clone());
        let future = async move {
            let _probe = probe;
            std::future::ready(()).await;
            Response::text("done")
        };
        let class = class_of_val(&future).expect("a small future has a block class");
        let mut handler_future = HandlerFuture::new(future);
        let block = handler_future.future.expect("a live future").cast::<u8>();
        let Poll::Ready(response) = poll_once(&mut handler_future) else { panic!("ready at once") };
        assert_eq!(response.body(), b"done");
        // Released by the poll that finished it, before the handle is dropped.
        assert_eq!(drops.get(), 1);
        assert_eq!(free_head(class), block.as_ptr());
        drop(handler_future);
        assert_eq!(drops.get(), 1, "dropped once");
        assert_eq!(free_head(class), block.as_ptr(), "given back once");
    }

    /// Ready at once; panics when dropped, after which its probe is
    /// dropped (and counted) as the unwinding drops its fields.
    struct ReadyThenPanickyDrop {
        _probe: Probe,
    }

    impl Future for ReadyThenPanickyDrop {
        type Output = Response;
        fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Response> {
            Poll::Ready(Response::text("ok"))
        }
    }

    impl Drop for ReadyThenPanickyDrop {
        fn drop(&mut self) {
            panic!("a destructor that panics");
        }
    }

    #[test]
    fn a_destructor_that_panics_after_the_answer_never_drops_the_future_twice() {
        let drops = Rc::new(Cell::new(0));
        let mut future = HandlerFuture::new(ReadyThenPanickyDrop { _probe: Probe(drops.clone()) });
        let polled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| poll_once(&mut future)));
        assert!(polled.is_err(), "the destructor's panic comes out of the poll");
        assert_eq!(drops.get(), 1, "the probe inside was dropped while unwinding");
        assert!(future.future.is_none(), "the slot was emptied before the drop");
        drop(future);
        assert_eq!(drops.get(), 1, "and never dropped again");
    }

    #[test]
    fn large_and_over_aligned_futures_are_boxed_and_still_work() {
        let big = [7u8; BLOCK * BLOCK_CLASSES + 1];
        let future = async move { Response::bytes(big.to_vec()) };
        assert_eq!(class_of_val(&future), None);
        let mut large = HandlerFuture::new(future);
        let Poll::Ready(response) = poll_once(&mut large) else { panic!("ready at once") };
        assert_eq!(response.body().len(), big.len());

        #[repr(align(64))]
        struct Aligned(u8);
        let aligned = Aligned(3);
        let future = async move {
            let held = aligned;
            std::future::ready(()).await;
            Response::text(held.0.to_string())
        };
        assert_eq!(class_of_val(&future), None);
        let mut over = HandlerFuture::new(future);
        assert!(poll_once(&mut over).is_ready());
    }

    #[test]
    fn a_recycled_future_of_a_known_type_runs_and_gives_its_block_back() {
        let drops = Rc::new(Cell::new(0));
        let probe = Probe(drops.clone());
        let mut borrowed = 5;
        let target = &mut borrowed;
        let mut future = Recycled::new(async move {
            let _probe = probe;
            *target += 1;
            *target
        });
        let class = class_of_val(&*future.0).expect("a small future has a block class");
        let block = future.0.value.cast::<u8>();
        let Poll::Ready(value) = Pin::new(&mut future).poll(&mut Context::from_waker(Waker::noop())) else {
            panic!("ready at once")
        };
        assert_eq!(value, 6);
        drop(future);
        assert_eq!(drops.get(), 1);
        assert_eq!(free_head(class), block.as_ptr());
        assert_eq!(borrowed, 6);
    }

    #[test]
    fn a_handler_that_panics_when_called_gives_its_future_s_block_back() {
        let handler = |_req: Request| -> std::future::Ready<Response> { panic!("refused") };
        let class = Pooled::<IntoResponse<std::future::Ready<Response>>>::CLASS.expect("a small future");
        // A block in the list first, so that the call takes that one.
        drop(HandlerFuture::new(IntoResponse(std::future::ready(Response::text("x")))));
        let (block, count) = (free_head(class), FREE_COUNTS.with(|counts| counts[class].get()));
        let called = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            Handler::call(&handler, Request::for_test("GET / HTTP/1.1\r\n\r\n"))
        }));
        assert!(called.is_err(), "the handler's panic reaches the caller");
        assert_eq!(free_head(class), block, "the block taken for the call is back on top");
        assert_eq!(FREE_COUNTS.with(|counts| counts[class].get()), count);
    }

    #[test]
    fn a_pool_keeps_at_most_its_bound_of_blocks() {
        let make = || async { Response::text("x") };
        let class = class_of_val(&make()).expect("a small future has a block class");
        let futures: Vec<_> = (0..MAX_POOLED + 10).map(|_| HandlerFuture::new(make())).collect();
        drop(futures);
        let pooled = FREE_COUNTS.with(|counts| counts[class].get());
        assert_eq!(pooled, MAX_POOLED);
    }
}
