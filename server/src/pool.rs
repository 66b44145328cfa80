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

/// Raw request-head bytes plus the positions of each header in them: what a
/// `Request` owns, recycled through the pool.
#[derive(Default)]
pub(crate) struct HeadStorage {
    pub(crate) bytes: Vec<u8>,
    /// (name, value) byte ranges into `bytes`.
    pub(crate) headers: Vec<(Span, Span)>,
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
        &bytes[self.start as usize..self.end as usize]
    }
}

thread_local! {
    static BYTES: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
    static HEADS: RefCell<Vec<HeadStorage>> = const { RefCell::new(Vec::new()) };
}

/// A zero-filled buffer of exactly `len` bytes (for reading into).
pub(crate) fn take_read_buffer(len: usize) -> Vec<u8> {
    let mut buffer = take_bytes();
    buffer.resize(len, 0);
    buffer
}

/// An empty buffer (for writing responses into).
pub(crate) fn take_write_buffer() -> Vec<u8> {
    take_bytes()
}

fn take_bytes() -> Vec<u8> {
    BYTES.with(|pool| pool.borrow_mut().pop()).unwrap_or_default()
}

/// Returns a byte buffer to this loop's pool.
pub(crate) fn give_bytes(mut buffer: Vec<u8>) {
    if buffer.capacity() == 0 || buffer.capacity() > MAX_POOLED_CAPACITY {
        return;
    }
    // Read buffers keep their length (already zeroed bytes are fine to read
    // over); write buffers are cleared by their user.
    BYTES.with(|pool| {
        let mut pool = pool.borrow_mut();
        if pool.len() < MAX_POOLED {
            buffer.clear();
            pool.push(buffer);
        }
    });
}

/// Empty head storage.
pub(crate) fn take_head() -> HeadStorage {
    HEADS.with(|pool| pool.borrow_mut().pop()).unwrap_or_default()
}

/// Returns head storage to this loop's pool.
pub(crate) fn give_head(mut head: HeadStorage) {
    if head.bytes.capacity() > MAX_POOLED_CAPACITY {
        return;
    }
    head.bytes.clear();
    head.headers.clear();
    HEADS.with(|pool| {
        let mut pool = pool.borrow_mut();
        if pool.len() < MAX_POOLED {
            pool.push(head);
        }
    });
}
