//! Per-loop buffer pools: an idle connection holds no buffers.
//!
//! A connection borrows a read buffer, a write buffer and request-head
//! storage from its loop when data arrives, and gives them back once every
//! request in the buffer has been answered, the answers written, and a look
//! at the socket found nothing more (a request already waiting there reuses
//! them instead of a give and a take). So a
//! server with 10 000 idle keep-alive connections holds 10 000 sockets and a
//! few hundred bytes of task state each, not 10 000 × 20 KiB of buffers; and
//! a busy one recycles the same few buffers instead of allocating per
//! request. Pools are thread-local (one per loop), so taking and returning
//! is a push and pop on a bounded stack of plain `Cell`s (see `Stack`), no
//! lock; what they hold is freed when the thread exits.

use crate::app::router::ParamSpans;
use std::cell::Cell;

/// At most this many buffers of each kind wait in a loop's pool; more are
/// freed. 64 covers a loop serving 64 connections at the same instant;
/// picked, not tuned.
const MAX_POOLED: usize = 64;

/// A buffer grown past this (a large request or response body) is freed
/// rather than pooled, so one big request does not pin memory forever.
const MAX_POOLED_CAPACITY: usize = 64 * 1024;

/// Everything a `Request` owns, recycled through the pool: the raw head,
/// where its headers are, its target, and its route parameters.
#[derive(Default)]
pub(crate) struct HeadStorage {
    /// The raw head and where its target is.
    pub(crate) head: KeptHead,
    /// (name, value) byte ranges into the head.
    pub(crate) headers: Vec<(Span, Span)>,
    /// Route parameter values, for a target with a `%` only: (whether
    /// decoded, span into the target or into `decoded`). Empty otherwise,
    /// and then the values are where the router found them (`spans`):
    /// copying them here cost ~19 instructions a request.
    pub(crate) params: Vec<(bool, Span)>,
    /// Percent-decoded parameter values, for those that had escapes.
    pub(crate) decoded: String,
    /// Where the router found the parameters (relative to the path). Kept
    /// here, not on the connection's stack, so that it is zeroed once when
    /// the storage is made rather than per request (~6 instructions;
    /// `route` sets its length before writing), and not on the connection,
    /// which would add its 72 bytes to an idle one.
    pub(crate) spans: ParamSpans,
}

impl HeadStorage {
    /// The target, with the parameter fields beside it to fill in while it
    /// is borrowed.
    #[inline(always)]
    pub(crate) fn target_and_params(&mut self) -> TargetAndParams<'_> {
        TargetAndParams {
            target: self.head.target(),
            spans: &mut self.spans,
            params: &mut self.params,
            decoded: &mut self.decoded,
        }
    }

    /// Storage holding nothing (what a `Request` that gave its storage
    /// back reads through).
    pub(crate) const EMPTY: HeadStorage = HeadStorage {
        head: KeptHead { bytes: Vec::new(), target: Span { start: 0, end: 0 } },
        headers: Vec::new(),
        params: Vec::new(),
        decoded: String::new(),
        spans: ParamSpans::EMPTY,
    };

    /// Forgets the request, keeping the memory.
    fn clear(&mut self) {
        self.head.clear();
        self.headers.clear();
        self.params.clear();
        self.decoded.clear();
        // A request that was never routed (one made for a test) reads no
        // parameters left from the last.
        self.spans.len = 0;
    }
}

/// A complete head's bytes and where its request target is in them. Its
/// fields are private so that the target is always text: only
/// [`keep`](Self::keep) sets them, from a `&str` inside the head, so the
/// path, query and parameters are `&str` slices of it with no second
/// validation per access. A span rather than a copy of its own: the head
/// is copied anyway, and copying the target too cost ~25 instructions a
/// request.
#[derive(Default)]
pub(crate) struct KeptHead {
    bytes: Vec<u8>,
    target: Span,
}

impl KeptHead {
    /// Keeps a complete head: copies `head` and notes where `target`, a
    /// slice of it, is. A `target` that is not inside `head` (a caller's
    /// bug) is kept as an empty target.
    #[inline(always)]
    pub(crate) fn keep(&mut self, head: &[u8], target: &str) {
        let start = (target.as_ptr() as usize).wrapping_sub(head.as_ptr() as usize);
        let inside = start <= head.len() && target.len() <= head.len() - start;
        debug_assert!(inside, "the target lies inside the head");
        self.target = if inside { Span::of(start, start + target.len()) } else { Span::default() };
        self.bytes.clear();
        self.bytes.extend_from_slice(head);
    }

    /// The raw head.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The request target as sent.
    #[inline(always)]
    pub(crate) fn target(&self) -> &str {
        let bytes = self.bytes.get(self.target.range()).unwrap_or_default();
        // SAFETY: `keep` is the only writer of `bytes` and `target` but
        // `clear`, which empties both. It set `target` to where a `&str`
        // lay in the head whose bytes it copied, so these are that
        // `str`'s bytes: valid UTF-8.
        unsafe { std::str::from_utf8_unchecked(bytes) }
    }

    /// The piece of the target at `span` (relative to the target), in one
    /// bounds check; empty if it is not inside the head.
    ///
    /// # Safety
    /// Both ends of `span` are character boundaries of the target (the
    /// callers cut at ASCII delimiters).
    #[inline(always)]
    pub(crate) unsafe fn target_piece(&self, span: Span) -> &str {
        debug_assert!(self.target().is_char_boundary(span.start as usize));
        debug_assert!(self.target().is_char_boundary(span.end as usize));
        let from = self.target.start as usize;
        let bytes = self.bytes.get(from + span.start as usize..from + span.end as usize).unwrap_or_default();
        // SAFETY: a slice of the target's bytes (see `target()`) between
        // character boundaries (the caller's promise): whole characters.
        unsafe { std::str::from_utf8_unchecked(bytes) }
    }

    fn clear(&mut self) {
        self.bytes.clear();
        self.target = Span::default();
    }
}

/// [`HeadStorage::target_and_params`]: the target and the parameter
/// fields, borrowed together.
pub(crate) struct TargetAndParams<'a> {
    pub(crate) target: &'a str,
    pub(crate) spans: &'a mut ParamSpans,
    pub(crate) params: &'a mut Vec<(bool, Span)>,
    pub(crate) decoded: &'a mut String,
}

/// A byte range into a head (u32: heads are at most a few KiB).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) start: u32,
    pub(crate) end: u32,
}

impl Span {
    pub(crate) fn of(start: usize, end: usize) -> Span {
        Span { start: start as u32, end: end as u32 }
    }

    pub(crate) fn get<'a>(&self, bytes: &'a [u8]) -> &'a [u8] {
        &bytes[self.range()]
    }

    pub(crate) fn range(&self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }

    /// The same range, relative to a text starting at `origin`.
    pub(crate) fn relative_to(&self, origin: Span) -> Span {
        Span { start: self.start - origin.start, end: self.end - origin.start }
    }
}

/// A pooled `Vec<u8>` taken apart, so that the pool needs no destructor
/// of its own (see [`Stack`]).
#[derive(Clone, Copy)]
struct RawBuffer {
    ptr: *mut u8,
    len: usize,
    capacity: usize,
}

const EMPTY: RawBuffer = RawBuffer { ptr: std::ptr::null_mut(), len: 0, capacity: 0 };

/// A bounded stack of pooled things in plain `Cell`s. Thread-locals with
/// constant initialisers and no destructor are reached with one
/// thread-pointer-relative address: no lazy-initialisation check, no
/// destructor registration check, no `RefCell` flag. As
/// `RefCell<Vec<Vec<u8>>>` each take or give cost ~20 instructions under
/// callgrind, and a keep-alive request makes six of them. What the stacks
/// hold is freed by [`Releaser`] when the thread exits.
struct Stack<T: Copy> {
    items: [Cell<T>; MAX_POOLED],
    len: Cell<usize>,
}

impl<T: Copy> Stack<T> {
    fn pop(&self) -> Option<T> {
        let len = self.len.get().checked_sub(1)?;
        self.len.set(len);
        Some(self.items[len].get())
    }

    /// False (and `item` not taken) if the stack is full.
    fn push(&self, item: T) -> bool {
        let len = self.len.get();
        let Some(slot) = self.items.get(len) else { return false };
        slot.set(item);
        self.len.set(len + 1);
        true
    }
}

thread_local! {
    static READS: Stack<RawBuffer> = const { Stack { items: [const { Cell::new(EMPTY) }; MAX_POOLED], len: Cell::new(0) } };
    static WRITES: Stack<RawBuffer> = const { Stack { items: [const { Cell::new(EMPTY) }; MAX_POOLED], len: Cell::new(0) } };
    static HEADS: Stack<*mut HeadStorage> =
        const { Stack { items: [const { Cell::new(std::ptr::null_mut()) }; MAX_POOLED], len: Cell::new(0) } };
    /// Set once the stacks have been emptied at thread exit: what is given
    /// back later is freed at once.
    static RELEASED: Cell<bool> = const { Cell::new(false) };
    /// Frees the stacks at thread exit; touched whenever a take finds its
    /// stack empty and makes a new thing, which registers its destructor
    /// the first time. Everything given back was made by a take on the
    /// same thread (buffers and head storage never leave their loop's
    /// thread: a `Request` is not `Send`), so the destructor is registered
    /// before anything is pooled, and a give need not check (it did, per
    /// give: a keep-alive request makes two or three).
    static RELEASER: Releaser = const { Releaser };
}

/// Empties this thread's pools when the thread exits.
struct Releaser;

impl Drop for Releaser {
    fn drop(&mut self) {
        let _ = RELEASED.try_with(|released| released.set(true));
        for pool in [&READS, &WRITES] {
            while let Some(buffer) = pool.with(Stack::pop) {
                drop(into_vec(buffer));
            }
        }
        while let Some(head) = HEADS.with(Stack::pop) {
            drop(into_box(head));
        }
    }
}

/// Takes a vector apart for a pool.
fn raw(buffer: Vec<u8>) -> RawBuffer {
    let mut buffer = std::mem::ManuallyDrop::new(buffer);
    RawBuffer { ptr: buffer.as_mut_ptr(), len: buffer.len(), capacity: buffer.capacity() }
}

/// Puts a pooled vector back together.
fn into_vec(buffer: RawBuffer) -> Vec<u8> {
    // SAFETY: `buffer` came from `raw`, which took apart a live `Vec<u8>`
    // without dropping it, and each pooled buffer is taken out once.
    unsafe { Vec::from_raw_parts(buffer.ptr, buffer.len, buffer.capacity) }
}

fn into_box(head: *mut HeadStorage) -> Box<HeadStorage> {
    // SAFETY: `head` came from `Box::into_raw` in `give_head`, and each
    // pooled box is taken out once.
    unsafe { Box::from_raw(head) }
}

/// A new thing for an empty pool: registers the pools' destructor first
/// (see `RELEASER`).
#[cold]
fn made<T: Default>() -> T {
    RELEASER.with(|_| {});
    T::default()
}

/// A buffer of exactly `len` initialised bytes, to read into. Pooled read
/// buffers keep their length (and old contents, which are only ever
/// overwritten by reads), so taking one does not zero 16 KiB again: that
/// `memset` was 2.6% of the server's CPU in keep-alive profiles.
#[inline(always)]
pub(crate) fn take_read_buffer(len: usize) -> Vec<u8> {
    let mut buffer = READS.with(Stack::pop).map_or_else(made, into_vec);
    if buffer.len() != len {
        sized(&mut buffer, len);
    }
    buffer
}

/// Brings a read buffer to `len` bytes: a new one (zeroed once), or one
/// made under other limits.
#[cold]
fn sized(buffer: &mut Vec<u8>, len: usize) {
    buffer.resize(len, 0);
}

/// Returns a read buffer to this loop's pool.
#[inline]
pub(crate) fn give_read_buffer(buffer: Vec<u8>) {
    give(&READS, buffer);
}

/// An empty buffer, to write answers into.
#[inline]
pub(crate) fn take_write_buffer() -> Vec<u8> {
    WRITES.with(Stack::pop).map_or_else(made, into_vec)
}

/// Returns a write buffer to this loop's pool, emptied.
#[inline]
pub(crate) fn give_write_buffer(mut buffer: Vec<u8>) {
    buffer.clear();
    give(&WRITES, buffer);
}

#[inline]
fn give(pool: &'static std::thread::LocalKey<Stack<RawBuffer>>, buffer: Vec<u8>) {
    if buffer.capacity() == 0 || buffer.capacity() > MAX_POOLED_CAPACITY || RELEASED.with(Cell::get) {
        return;
    }
    let buffer = raw(buffer);
    pool.with(|stack| {
        if !stack.push(buffer) {
            drop(into_vec(buffer));
        }
    });
}

/// Empty head storage.
#[inline]
pub(crate) fn take_head() -> Box<HeadStorage> {
    HEADS.with(Stack::pop).map_or_else(made, into_box)
}

/// Returns head storage to this loop's pool.
#[inline]
pub(crate) fn give_head(mut head: Box<HeadStorage>) {
    if head.head.bytes.capacity() > MAX_POOLED_CAPACITY || RELEASED.with(Cell::get) {
        return;
    }
    head.clear();
    let head = Box::into_raw(head);
    HEADS.with(|stack| {
        if !stack.push(head) {
            drop(into_box(head));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_given_back_is_the_next_one_taken_with_its_length_kept() {
        let mut buffer = take_read_buffer(100);
        buffer[0] = 7;
        let address = buffer.as_ptr();
        give_read_buffer(buffer);
        let again = take_read_buffer(100);
        assert_eq!((again.as_ptr(), again.len(), again[0]), (address, 100, 7));
        let mut out = take_write_buffer();
        out.extend_from_slice(b"answer");
        give_write_buffer(out);
        assert!(take_write_buffer().is_empty(), "write buffers come back empty");
        let mut head = take_head();
        let raw = "GET /x HTTP/1.1\r\n\r\n";
        head.head.keep(raw.as_bytes(), &raw[4..6]);
        assert_eq!(head.head.target(), "/x");
        give_head(head);
        let again = take_head();
        assert!(
            again.head.bytes().is_empty() && again.head.target().is_empty(),
            "head storage comes back cleared"
        );
    }

    #[test]
    fn a_pool_holds_at_most_its_bound_and_frees_the_rest_and_all_at_thread_exit() {
        std::thread::spawn(|| {
            let buffers: Vec<_> = (0..MAX_POOLED + 5).map(|_| take_read_buffer(64)).collect();
            for buffer in buffers {
                give_read_buffer(buffer);
            }
            assert_eq!(READS.with(|stack| stack.len.get()), MAX_POOLED);
            give_head(Box::default());
            // The thread exits holding pooled buffers: the releaser frees
            // them (a leak or a double free would show under Miri or ASan).
        })
        .join()
        .expect("the thread exits cleanly");
    }
}
