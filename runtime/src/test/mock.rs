//! Polling a future by hand: [`MockTask`], [`WakeCounter`], [`DropProbe`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use futures_task::ArcWake;

/// Counts the wakes of the wakers it hands out. Usable on its own, to poll
/// any future with a waker whose use you can inspect.
///
/// ```
/// use eddy::test::WakeCounter;
///
/// let counter = WakeCounter::new();
/// let waker = counter.waker();
/// waker.wake_by_ref();
/// waker.clone().wake();
/// assert_eq!(counter.wakes(), 2);
/// assert_eq!(counter.live_wakers(), 1); // `waker` itself
/// ```
#[derive(Default)]
pub struct WakeCounter {
    inner: Arc<Counts>,
}

#[derive(Default)]
struct Counts {
    wakes: AtomicUsize,
}

impl ArcWake for Counts {
    fn wake_by_ref(arc_self: &Arc<Self>) {
        arc_self.wakes.fetch_add(1, Ordering::SeqCst);
    }
}

impl WakeCounter {
    /// A counter at zero.
    pub fn new() -> WakeCounter {
        WakeCounter::default()
    }

    /// A waker that counts into this counter.
    pub fn waker(&self) -> Waker {
        futures_task::waker(self.inner.clone())
    }

    /// Wakes so far, by any of this counter's wakers.
    pub fn wakes(&self) -> usize {
        self.inner.wakes.load(Ordering::SeqCst)
    }

    /// Wakers from this counter still alive (clones included): tells
    /// whether a future kept, or let go of, the waker it was polled with.
    pub fn live_wakers(&self) -> usize {
        // One strong count per waker, plus this counter's own (which is why
        // a WakeCounter is not Clone).
        Arc::strong_count(&self.inner) - 1
    }
}

impl fmt::Debug for WakeCounter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WakeCounter").field("wakes", &self.wakes()).finish()
    }
}

/// A future polled by hand. Each [`poll`](Self::poll) uses a counting
/// waker, so the test can see whether (and how often) the future asked to be
/// polled again.
///
/// Futures that use eddy's timers or sockets must be polled inside an eddy
/// runtime (for example in [`eddy::test::run`](crate::test::run)); the
/// MockTask's waker then receives the wakeups instead of a task's.
pub struct MockTask<F: Future> {
    future: Pin<Box<F>>,
    counter: WakeCounter,
    /// Wakes seen at the last poll, to tell "woken since".
    wakes_at_last_poll: usize,
}

impl<F: Future> MockTask<F> {
    /// Wraps `future` without polling it.
    pub fn new(future: F) -> MockTask<F> {
        MockTask { future: Box::pin(future), counter: WakeCounter::new(), wakes_at_last_poll: 0 }
    }

    /// Polls the future once.
    pub fn poll(&mut self) -> Poll<F::Output> {
        self.wakes_at_last_poll = self.counter.wakes();
        let waker = self.counter.waker();
        let mut cx = Context::from_waker(&waker);
        self.future.as_mut().poll(&mut cx)
    }

    /// Whether the future was woken since the last [`poll`](Self::poll).
    pub fn is_woken(&self) -> bool {
        self.counter.wakes() > self.wakes_at_last_poll
    }

    /// Total wakes since the task was created.
    pub fn wake_count(&self) -> usize {
        self.counter.wakes()
    }

    /// How many copies of the task's waker the future (or whatever it
    /// waits on: a timer, a channel) still holds. Zero after `Ready` means
    /// nothing will wake a finished future; non-zero while `Pending` means
    /// something will.
    pub fn waker_ref_count(&self) -> usize {
        self.counter.live_wakers()
    }

    /// The future itself, pinned, to call its own methods between polls.
    pub fn future_mut(&mut self) -> Pin<&mut F> {
        self.future.as_mut()
    }
}

impl<F: Future> fmt::Debug for MockTask<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockTask")
            .field("wakes", &self.wake_count())
            .field("woken", &self.is_woken())
            .finish()
    }
}

/// Proves that something was dropped: move the probe into it, keep the
/// [`Dropped`] checker.
///
/// ```
/// use eddy::test::DropProbe;
///
/// let (probe, dropped) = DropProbe::new();
/// let future = async move {
///     let _probe = probe; // dropped when the future is
///     std::future::pending::<()>().await;
/// };
/// assert!(!dropped.get());
/// drop(future);
/// assert!(dropped.get());
/// ```
pub struct DropProbe {
    flag: Arc<AtomicBool>,
}

/// The other half of a [`DropProbe`]: says whether it was dropped.
#[derive(Clone)]
pub struct Dropped {
    flag: Arc<AtomicBool>,
}

impl DropProbe {
    /// A probe and its checker.
    pub fn new() -> (DropProbe, Dropped) {
        let flag = Arc::new(AtomicBool::new(false));
        (DropProbe { flag: flag.clone() }, Dropped { flag })
    }
}

impl Dropped {
    /// Whether the probe has been dropped.
    pub fn get(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }
}

impl Drop for DropProbe {
    fn drop(&mut self) {
        self.flag.store(true, Ordering::SeqCst);
    }
}

impl fmt::Debug for DropProbe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DropProbe")
    }
}

impl fmt::Debug for Dropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Dropped").field(&self.get()).finish()
    }
}
