//! Per-loop buffer pools: an idle connection holds no buffers.
//!
//! A connection borrows a read buffer, a write buffer and request-head
//! storage from its loop when data arrives, and gives them back once every
//! request in the buffer has been answered and the answers written. So a
//! server with 10 000 idle keep-alive connections holds 10 000 sockets and a
//! few hundred bytes of task state each, not 10 000 × 20 KiB of buffers; and
//! a busy one recycles the same few buffers instead of allocating per
//! request. Pools are thread-local (one per loop), so taking and returning
//! is a `Vec` push and pop, no lock.

use std::cell::RefCell;

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
    pub(crate) bytes: Vec<u8>,
    /// (name, value) byte ranges into `bytes`.
    pub(crate) headers: Vec<(Span, Span)>,
    /// The request target as text. httparse has already checked that it is
    /// UTF-8, so path, query and parameters are `&str` slices of it, with no
    /// second validation per access.
    pub(crate) target: String,
    /// Route parameter values: (whether decoded, span into `target` or into
    /// `decoded`).
    pub(crate) params: Vec<(bool, Span)>,
    /// Percent-decoded parameter values, for those that had escapes.
    pub(crate) decoded: String,
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

thread_local! {
    static READS: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
    static WRITES: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
    // Boxed: a `Request` holds the box, which keeps the request small (it is
    // moved several times on its way into a handler) at no allocation cost,
    // since the boxes themselves are recycled.
    #[allow(clippy::vec_box)]
    static HEADS: RefCell<Vec<Box<HeadStorage>>> = const { RefCell::new(Vec::new()) };
}

/// A buffer of exactly `len` initialised bytes, to read into. Pooled read
/// buffers keep their length (and old contents, which are only ever
/// overwritten by reads), so taking one does not zero 16 KiB again: that
/// `memset` was 2.6% of the server's CPU in keep-alive profiles.
pub(crate) fn take_read_buffer(len: usize) -> Vec<u8> {
    let mut buffer = READS.with(|pool| pool.borrow_mut().pop()).unwrap_or_default();
    buffer.resize(len, 0);
    buffer
}

/// Returns a read buffer to this loop's pool.
pub(crate) fn give_read_buffer(buffer: Vec<u8>) {
    give(&READS, buffer);
}

/// An empty buffer, to write answers into.
pub(crate) fn take_write_buffer() -> Vec<u8> {
    WRITES.with(|pool| pool.borrow_mut().pop()).unwrap_or_default()
}

/// Returns a write buffer to this loop's pool, emptied.
pub(crate) fn give_write_buffer(mut buffer: Vec<u8>) {
    buffer.clear();
    give(&WRITES, buffer);
}

fn give(pool: &'static std::thread::LocalKey<RefCell<Vec<Vec<u8>>>>, buffer: Vec<u8>) {
    if buffer.capacity() == 0 || buffer.capacity() > MAX_POOLED_CAPACITY {
        return;
    }
    pool.with(|pool| {
        let mut pool = pool.borrow_mut();
        if pool.len() < MAX_POOLED {
            pool.push(buffer);
        }
    });
}

/// Empty head storage.
pub(crate) fn take_head() -> Box<HeadStorage> {
    HEADS.with(|pool| pool.borrow_mut().pop()).unwrap_or_default()
}

/// Returns head storage to this loop's pool.
pub(crate) fn give_head(mut head: Box<HeadStorage>) {
    if head.bytes.capacity() > MAX_POOLED_CAPACITY || head.target.capacity() > MAX_POOLED_CAPACITY {
        return;
    }
    head.bytes.clear();
    head.headers.clear();
    head.target.clear();
    head.params.clear();
    head.decoded.clear();
    HEADS.with(|pool| {
        let mut pool = pool.borrow_mut();
        if pool.len() < MAX_POOLED {
            pool.push(head);
        }
    });
}
