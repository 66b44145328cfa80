//! `Server`: listeners on one or more loops, one connection budget, and
//! graceful shutdown. aiohttp's `AppRunner` + `TCPSite` + `cleanup()`.
//!
//! Each worker loop runs its own accept loop on its own `SO_REUSEPORT`
//! listener, and each accepted connection is a task on that loop, so a
//! connection never crosses threads and a loop never takes a lock to serve.
//!
//! ## Accepting
//!
//! One wake of the accept loop admits every client already in the
//! kernel's queue (until `accept` says `WouldBlock`, or the task's
//! cooperative budget says to yield), so the loop's own state and the stop
//! signal are looked at once per wake, not per client. Admitting is one
//! slot in this loop's slab, one `ConnIo`, one task; no system call beyond
//! `accept4` itself: `TCP_NODELAY` comes from the listener on Linux (see
//! `server/socket.rs`), and the socket joins the reactor only if its
//! first read finds nothing. That first read races the client's request:
//! a connection accepted before its request lands pays a second turn of
//! the loop, which `Limits::defer_accept` avoids.
//!
//! ## The connection budget
//!
//! `Limits::max_connections` is one budget for the whole server, an atomic
//! count shared by every loop (touched once when a connection opens and once
//! when it closes, never per request), so an uneven `SO_REUSEPORT` hash
//! cannot stall one loop while another has room. At the cap, an accept
//! loop still accepts the next client, and makes room for it by
//! *reclaiming* an idle keep-alive connection, the one idle longest, as
//! nginx does; if its own loop has none idle, it asks the other loops for
//! one. Only when no connection anywhere is idle does the new client wait
//! (accepted, unserved, the accept loop paused) until one closes. A
//! reclaimed connection is closed like an idle one at shutdown (below), so
//! a request already in its socket is answered, not lost. Finding the
//! oldest idle connection scans the loop's connections: O(n), but only at
//! the cap, where the alternative is refusing service.
//!
//! ```text
//!   accept ──▶ room in the budget? ── yes ──▶ serve
//!                     │ no
//!                     ▼
//!   hold the client; reclaim the oldest idle connection here, or ask the
//!   other loops for one; serve the client when a slot frees
//! ```
//!
//! ## Shutdown, in order
//! 1. every loop stops accepting: it first accepts whatever the kernel has
//!    already queued for it (those clients have sent their requests and
//!    would otherwise be reset), then closes its listener;
//! 2. every connection is woken. An idle one makes a last read; requests
//!    found are answered with `Connection: close`; then it half-closes and
//!    lingers briefly (reading and discarding until the client closes) so
//!    that bytes still in flight do not turn the close into a reset;
//! 3. busy connections finish the requests they have already received
//!    (pipelined ones included) and close at the next request boundary;
//! 4. a connection waiting on its *client* (mid-head, mid-body, or a fresh
//!    connection whose first bytes have not come) gets `SHUTDOWN_GRACE` (1 s, or the shutdown timeout if shorter)
//!    from the start of shutdown; then it is answered `408` and closed;
//! 5. after `Limits::shutdown_timeout`, connections still busy (a handler
//!    that does not finish) are closed;
//! 6. the cleanup hooks run.
//!
//! A client connecting after step 1 is refused by the OS (on a Unix
//! socket, the socket file is gone from step 1 on).
//!
//! ## Over a Unix socket
//!
//! [`Server::bind_unix`] serves on a Unix domain socket (aiohttp's
//! `UnixSite`): the same connections, limits, budget and shutdown, over
//! `UnixStream`s. The file is created by the bind, which never replaces an
//! existing one (a stale socket file is an error that says to remove it),
//! and removed at shutdown if it is still the file the bind created. The residual
//! window is the microseconds between the last `accept` that finds the
//! queue empty and the `close` of the listener.

use std::cell::{Cell, RefCell};
use std::error::Error as _;
use std::future::{poll_fn, Future};
use std::io;
use std::net::{Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use eddy::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use eddy::sync::oneshot;
use eddy::task::AbortHandle;
use eddy::time::Instant;
use eddy::{Handle, JoinHandle};
use slab::Slab;

use crate::app::application::{App, AppInner, LoopApp};
use crate::server::conn::Connection;
use crate::server::conn_io::{ConnIo, Peer, Transport};
use crate::server::limits::Limits;
use crate::server::stats::{LoopHttpStats, ServerStats};

/// After `accept` fails for lack of file descriptors (or memory), wait this
/// long before trying again, so the loop keeps serving the connections it
/// has instead of spinning on an error that will not clear by itself.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// How long, from the start of shutdown (or from its reclaim), a connection
/// may keep the server waiting on its *client*: the rest of a head or body,
/// the first bytes of a fresh connection, the client's close after ours.
/// Long enough for bytes already in flight on any real network; short
/// enough that a slow or silent client cannot hold the exit. Capped by
/// `Limits::shutdown_timeout`. Picked, not tuned.
pub(crate) const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

/// The name of every connection's task, as task dumps, the flight
/// recorder's timeline and the live page show it.
pub(crate) const CONNECTION_TASK: &str = "eddy-http connection";

/// A running server. Dropping it shuts the server down without running the
/// cleanup hooks; call [`shutdown`](Server::shutdown) for the full sequence.
///
/// ```
/// use eddy_http::{App, Response, Server};
///
/// eddy::run(async {
///     let app = App::new().get("/", |_req| async { Response::text("hi") });
///     let server = Server::bind("127.0.0.1:0", app).await?;
///     println!("listening on {}", server.local_addr());
///     server.shutdown().await
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[must_use = "dropping a Server shuts it down"]
pub struct Server {
    endpoint: Endpoint,
    /// Per loop: the signal that stops it and its serving task.
    loops: Vec<(oneshot::Sender<()>, JoinHandle<()>)>,
    app: Arc<AppInner>,
    /// Per serving loop: its statistics block (see `server/stats.rs`).
    stats: Vec<Arc<LoopHttpStats>>,
}

impl Server {
    /// Runs the startup hooks, then serves `app` on `addr` on the current
    /// loop.
    ///
    /// # Errors
    /// If a startup hook fails, or the address cannot be bound (the error
    /// names it).
    ///
    /// # Panics
    /// Outside an eddy runtime.
    pub async fn bind(addr: impl ToSocketAddrs, app: App) -> io::Result<Server> {
        Server::bind_on(&[Handle::current()], addr, app).await
    }

    /// Like [`bind`](Self::bind), on every loop in `loops`, each with its own
    /// `SO_REUSEPORT` listener on the same address.
    ///
    /// All or nothing: it returns only once *every* loop listens. If one
    /// cannot (its socket cannot be bound, cannot join that loop's reactor,
    /// or the loop has ended), the loops already listening are stopped, the
    /// cleanup hooks run (the startup hooks did), and the error names the
    /// loop and the address. A server that quietly listens on
    /// fewer loops than asked would look healthy while serving at a
    /// fraction of its capacity.
    ///
    /// # Errors
    /// As [`bind`](Self::bind), and `"loop N cannot listen on ADDR: …"`.
    pub async fn bind_on(loops: &[Handle], addr: impl ToSocketAddrs, mut app: App) -> io::Result<Server> {
        let addr = addr
            .to_socket_addrs()
            .map_err(|e| io::Error::new(e.kind(), format!("resolve listen address: {e}")))?
            .next()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address to listen on"))?;
        if loops.is_empty() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "no event loop to serve on"));
        }
        let debug = app.take_debug();
        let app = Arc::new(app.into_inner());
        app.run_startup().await?;

        // Bind every listener before serving on any, so a failure leaves
        // nothing half-started. Port 0 becomes a real port with the first.
        let mut listeners = Vec::with_capacity(loops.len());
        let mut local_addr = addr;
        for (index, _) in loops.iter().enumerate() {
            let defer = app.limits.defer_accept.then_some(app.limits.head_timeout);
            let listener = crate::server::socket::listen(local_addr, loops.len() > 1, defer)
                .map_err(|e| io::Error::new(e.kind(), format!("loop {index}: {e}")))?;
            local_addr = listener.local_addr()?;
            listeners.push(listener);
        }
        let budget = Arc::new(Budget::new(app.limits.max_connections, loops.len()));
        let stats: Vec<Arc<LoopHttpStats>> = loops.iter().map(|_| Arc::default()).collect();
        let mut serving = Vec::with_capacity(loops.len());
        let mut ready = Vec::with_capacity(loops.len());
        for (index, (handle, listener)) in loops.iter().zip(listeners).enumerate() {
            let (stop, stopped) = oneshot::channel();
            let (listening, listens) = oneshot::channel();
            let app = app.clone();
            let budget = budget.clone();
            let loop_stats = stats[index].clone();
            let task = handle.spawn_with(move || async move {
                // Says whether the listener could join this loop's reactor.
                let (listener, backlog) = match join_tcp(listener) {
                    Ok(pair) => {
                        let _ = listening.send(Ok(()));
                        pair
                    }
                    Err(error) => {
                        let _ = listening.send(Err(error));
                        return;
                    }
                };
                serve_loop(LoopSetup {
                    index,
                    listener,
                    backlog,
                    app,
                    budget,
                    stop: stopped,
                    stats: loop_stats,
                })
                .await;
            });
            serving.push((stop, task));
            ready.push(listens);
        }
        // Every loop says whether its listener joined its reactor.
        let mut failure = None;
        for (index, listens) in ready.into_iter().enumerate() {
            let outcome = listens.await.unwrap_or_else(|_| Err(io::Error::other("its task ended first")));
            if let Err(error) = outcome {
                failure.get_or_insert(io::Error::new(
                    error.kind(),
                    format!("loop {index} cannot listen on {local_addr}: {error}"),
                ));
            }
        }
        let server = Server { endpoint: Endpoint::Tcp(local_addr), loops: serving, app, stats };
        if let Some(error) = failure {
            // The startup hooks ran: their cleanup runs too (as aiohttp's
            // `run_app` does when a site fails to start), after the loops
            // that do listen have stopped.
            if let Err(cleanup) = server.shutdown().await {
                log::error!("after a failed start: {cleanup}");
            }
            return Err(error);
        }
        if let Some((page, token)) = debug {
            page.start(loops.to_vec(), server.stats.clone(), Some(local_addr), token);
        }
        log::info!(target: "eddy_http::server", "listening on http://{local_addr} ({} loop(s))", loops.len());
        Ok(server)
    }

    /// Runs the startup hooks, then serves `app` on a Unix domain socket
    /// created at `path`, on the current loop (aiohttp's `UnixSite`).
    /// Requests see no peer address ([`Request::peer_addr`] is `None`).
    ///
    /// One loop, not several as [`bind_on`](Self::bind_on) offers for TCP:
    /// there is no `SO_REUSEPORT` balancing between Unix listeners (a
    /// second bind of the path fails), so more loops would all wake for
    /// every client on one shared socket. And a Unix socket's client is a
    /// local proxy or sidecar with few, long-lived connections, which one
    /// loop serves; the loop parses and answers, the proxy holds the
    /// internet's connections.
    ///
    /// The socket file is removed at shutdown (or when the server drops),
    /// unless it was replaced meanwhile: it is then not ours to remove.
    ///
    /// ```
    /// use eddy_http::{App, Response, Server};
    ///
    /// let path = std::env::temp_dir().join(format!("eddy-doc-{}.sock", std::process::id()));
    /// eddy::run(async {
    ///     let app = App::new().get("/", |_req| async { Response::text("hi") });
    ///     let server = Server::bind_unix(&path, app).await?;
    ///     assert!(path.exists());
    ///     server.shutdown().await?;
    ///     assert!(!path.exists());
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    /// If a startup hook fails (nothing is bound then), or the socket
    /// cannot be created; if `path` exists, `AddrInUse` with
    /// `bind unix socket PATH: …; if no server is running there, it is a
    /// stale socket file: remove it`. The cleanup hooks run after a failed
    /// bind (the startup hooks did).
    ///
    /// [`Request::peer_addr`]: crate::Request::peer_addr
    ///
    /// # Panics
    /// Outside an eddy runtime.
    pub async fn bind_unix(path: impl AsRef<Path>, mut app: App) -> io::Result<Server> {
        let path = path.as_ref();
        let debug = app.take_debug();
        let app = Arc::new(app.into_inner());
        app.run_startup().await?;
        let bound = UnixListener::bind(path).and_then(|listener| {
            // The plain handle that drains the accept queue at shutdown
            // (see `join_tcp`); it shares the non-blocking file status.
            let backlog = listener.as_fd().try_clone_to_owned().map_err(|e| {
                io::Error::new(e.kind(), format!("duplicate unix socket {}: {e}", path.display()))
            })?;
            Ok((listener, std::os::unix::net::UnixListener::from(backlog)))
        });
        let (listener, backlog) = match bound {
            Ok(pair) => pair,
            Err(error) => {
                if let Err(cleanup) = app.run_cleanup().await {
                    log::error!("after a failed start: {cleanup}");
                }
                return Err(error);
            }
        };
        let budget = Arc::new(Budget::new(app.limits.max_connections, 1));
        let (stop, stopped) = oneshot::channel();
        let stats: Arc<LoopHttpStats> = Arc::default();
        let setup = LoopSetup {
            index: 0,
            listener,
            backlog,
            app: app.clone(),
            budget,
            stop: stopped,
            stats: stats.clone(),
        };
        let task = eddy::spawn(serve_loop(setup));
        if let Some((page, token)) = debug {
            page.start(vec![Handle::current()], vec![stats.clone()], None, token);
        }
        let endpoint = Endpoint::Unix(path.to_path_buf());
        log::info!(target: "eddy_http::server", "listening on {endpoint} (1 loop)");
        Ok(Server { endpoint, loops: vec![(stop, task)], app, stats: vec![stats] })
    }

    /// The address the server listens on (with the real port if it was
    /// bound to port 0). For a server on a Unix socket, which has none,
    /// the unspecified address `0.0.0.0:0`; see
    /// [`unix_path`](Self::unix_path).
    pub fn local_addr(&self) -> SocketAddr {
        match &self.endpoint {
            Endpoint::Tcp(addr) => *addr,
            Endpoint::Unix(_) => SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
        }
    }

    /// The server's statistics so far, summed over its loops: connections
    /// (active, reading, writing, idle, accepted, handled), requests,
    /// responses by status, refusals by reason (see [`ServerStats`]).
    /// From any thread, at any time: a few hundred relaxed loads.
    pub fn stats(&self) -> ServerStats {
        ServerStats::read(self.stats.iter().map(Arc::as_ref))
    }

    /// The socket file, for a server started with
    /// [`bind_unix`](Self::bind_unix); `None` for TCP.
    pub fn unix_path(&self) -> Option<&Path> {
        match &self.endpoint {
            Endpoint::Tcp(_) => None,
            Endpoint::Unix(path) => Some(path),
        }
    }

    /// Graceful shutdown (see the module docs for the order); returns once
    /// every loop is done and the cleanup hooks have run.
    ///
    /// # Errors
    /// The first cleanup hook error (every hook runs regardless).
    pub async fn shutdown(mut self) -> io::Result<()> {
        log::info!(target: "eddy_http::server", "shutting down {}", self.endpoint);
        // Every loop stops accepting before any is waited for: one loop's
        // drain (up to the shutdown timeout) must not leave the others
        // taking new connections meanwhile.
        let (stops, tasks): (Vec<_>, Vec<_>) = std::mem::take(&mut self.loops).into_iter().unzip();
        for stop in stops {
            let _ = stop.send(());
        }
        for task in tasks {
            if let Err(error) = task.await {
                log::error!("a server loop ended badly: {error}");
            }
        }
        self.app.run_cleanup().await
    }
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("endpoint", &self.endpoint).field("loops", &self.loops.len()).finish()
    }
}

/// Where a server listens.
#[derive(Debug)]
enum Endpoint {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Tcp(addr) => write!(f, "http://{addr}"),
            Endpoint::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// The connection budget all loops of one server share (see the module
/// docs). Every operation is per connection or rarer; none is per request.
struct Budget {
    /// Connections open (served, or held at the cap), across all loops.
    open: AtomicUsize,
    cap: usize,
    /// Reclaims asked of any loop by loops at the cap with no idle
    /// connection of their own. A request may outlive its need (room freed
    /// another way); while some loop still holds a client, it then costs
    /// one idle connection at the cap, which is what the cap is for.
    reclaims_wanted: AtomicUsize,
    /// Loops holding an accepted client that waits for room. With none,
    /// every standing request is stale and none is granted: granting one
    /// would close the next connection to go idle for nobody, even a fresh
    /// one whose request is still on its way (that was a lost request).
    holding: AtomicUsize,
    /// Per loop: its accept task, while at the cap, to wake when a slot
    /// frees or a reclaim is asked for. A lock, but taken only at the cap.
    waiters: Mutex<Vec<Option<Waker>>>,
}

impl Budget {
    fn new(cap: usize, loops: usize) -> Budget {
        Budget {
            open: AtomicUsize::new(0),
            cap: cap.max(1),
            reclaims_wanted: AtomicUsize::new(0),
            holding: AtomicUsize::new(0),
            waiters: Mutex::new(vec![None; loops]),
        }
    }

    /// Takes a slot if one is free.
    fn try_acquire(&self) -> bool {
        self.open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| (open < self.cap).then_some(open + 1))
            .is_ok()
    }

    /// Takes a slot even past the cap: for clients already accepted that
    /// must be served (the backlog drained at shutdown).
    fn force_acquire(&self) {
        self.open.fetch_add(1, Ordering::AcqRel);
    }

    fn release(&self) {
        let before = self.open.fetch_sub(1, Ordering::AcqRel);
        if before >= self.cap {
            self.wake_all();
        }
    }

    fn at_cap(&self) -> bool {
        self.open.load(Ordering::Acquire) >= self.cap
    }

    fn register(&self, index: usize, waker: &Waker) {
        let mut waiters = self.waiters.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match &mut waiters[index] {
            Some(stored) if stored.will_wake(waker) => {}
            slot => *slot = Some(waker.clone()),
        }
    }

    fn wake_all(&self) {
        let wakers: Vec<Waker> = {
            let mut waiters = self.waiters.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            waiters.iter_mut().filter_map(Option::take).collect()
        };
        wakers.into_iter().for_each(Waker::wake);
    }

    fn request_reclaim(&self) {
        self.reclaims_wanted.fetch_add(1, Ordering::AcqRel);
        self.wake_all();
    }

    /// A loop starts or stops holding a client that waits for room.
    fn hold(&self, holding: bool) {
        if holding {
            self.holding.fetch_add(1, Ordering::AcqRel);
        } else {
            self.holding.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// Takes one outstanding reclaim request, if there is one, the server
    /// is still at the cap and some loop still holds a client (else room
    /// came another way, and the request waits, ungranted).
    fn take_reclaim_request(&self) -> bool {
        // A plain load first: this is asked each time a connection goes
        // idle, and is almost always 0.
        if self.reclaims_wanted.load(Ordering::Relaxed) == 0 {
            return false;
        }
        // Not cleared here: a loop may be between `hold` and its request.
        self.holding.load(Ordering::Acquire) > 0
            && self.at_cap()
            && self
                .reclaims_wanted
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |wanted| wanted.checked_sub(1))
                .is_ok()
    }
}

/// One loop's server state: its connections, and the shutdown flag they
/// watch.
pub(crate) struct LoopServer {
    shutting_down: Cell<bool>,
    /// When shutdown began plus the grace: the deadline of every wait on a
    /// client from then on.
    shutdown_deadline: Cell<Option<Instant>>,
    grace: Duration,
    /// Open connections: the task (to abort at the deadline), the waker to
    /// call at shutdown or reclaim, and whether (since when) it is idle.
    conns: RefCell<Slab<ConnSlot>>,
    /// Counts idle periods (from 1), to find the connection idle the
    /// longest.
    idle_clock: Cell<u64>,
    budget: Arc<Budget>,
    /// Shutdown, waiting for the last connection to end.
    drain_waiter: Cell<Option<Waker>>,
    /// This loop's statistics block (see `server/stats.rs`).
    pub(crate) stats: Arc<LoopHttpStats>,
    /// The app's limits, one copy per loop for its connections to read
    /// (a copy in each connection was 120 of its bytes).
    pub(crate) limits: Limits,
    /// This loop's view of the app, for its connections.
    pub(crate) app: Rc<LoopApp>,
}

#[derive(Default)]
struct ConnSlot {
    waker: Option<Waker>,
    /// To abort the task at the shutdown deadline. An `AbortHandle`, not
    /// the `JoinHandle` (the task is detached): 24 bytes against 64, in
    /// every connection's slot.
    task: Option<AbortHandle>,
    /// The connection's shared state, where it says whether (since when)
    /// it is idle: a `Cell` it sets without touching this slab, since it
    /// goes idle and busy again once per request. `None` only while the
    /// connection is being set up.
    io: Option<Weak<ConnIo>>,
    /// Asked to close to make room, and the deadline it has for it.
    reclaimed: Option<Instant>,
    /// Its slot in the budget was given back (it is lingering, answered).
    released: bool,
}

impl LoopServer {
    fn new(
        budget: Arc<Budget>,
        grace: Duration,
        limits: Limits,
        app: Rc<LoopApp>,
        stats: Arc<LoopHttpStats>,
    ) -> LoopServer {
        LoopServer {
            shutting_down: Cell::new(false),
            shutdown_deadline: Cell::new(None),
            grace,
            conns: RefCell::new(Slab::new()),
            idle_clock: Cell::new(0),
            budget,
            drain_waiter: Cell::new(None),
            limits,
            app,
            stats,
        }
    }

    /// Whether the server is shutting down (every connection is closing).
    pub(crate) fn is_shutting_down(&self) -> bool {
        self.shutting_down.get()
    }

    /// The deadline for waiting on the client of a closing connection.
    pub(crate) fn closing_deadline(&self, id: usize) -> Option<Instant> {
        let reclaimed = self.conns.borrow().get(id).and_then(|slot| slot.reclaimed);
        match (self.shutdown_deadline.get(), reclaimed) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Ready once connection `io` starts closing (shutdown, or a reclaim);
    /// otherwise remembers who to wake then. `idle`: the connection waits
    /// for a request and may be reclaimed (and becomes a candidate here,
    /// until it clears `io.idle_since`).
    ///
    /// For waits of any task on the connection (a handler's body read may
    /// run in another); the connection task's own waits use
    /// [`poll_closing_own`](Self::poll_closing_own).
    pub(crate) fn poll_closing<S: ?Sized>(
        &self,
        io: &ConnIo<S>,
        idle: bool,
        cx: &mut Context<'_>,
    ) -> Poll<()> {
        if self.shutting_down.get() {
            return Poll::Ready(());
        }
        let mut conns = self.conns.borrow_mut();
        let Some(slot) = conns.get_mut(io.id()) else { return Poll::Pending };
        if slot.reclaimed.is_some() {
            return Poll::Ready(());
        }
        if idle && io.idle_since.get() == 0 {
            // Another loop at the cap may be asking for room.
            if self.budget.take_reclaim_request() {
                slot.reclaimed = Some(Instant::now() + self.grace);
                io.watched.set(false);
                self.stats.reclaimed();
                return Poll::Ready(());
            }
            self.go_idle(io);
        }
        if !slot.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            slot.waker = Some(cx.waker().clone());
            // Someone else's waker now (see `ConnIo::watched`).
            io.watched.set(false);
        }
        Poll::Pending
    }

    /// [`poll_closing`](Self::poll_closing) for the connection task's own
    /// waits. Once its slot holds the task's waker and it is not reclaimed
    /// (`io.watched`), a wait needs no look at the slot at all: shutdown
    /// shows in `shutting_down`, and a reclaim clears `watched`. Once per
    /// keep-alive request, this skips the slab's borrow, its lookup and
    /// the waker comparison.
    #[inline]
    pub(crate) fn poll_closing_own<S: ?Sized>(
        &self,
        io: &ConnIo<S>,
        idle: bool,
        cx: &mut Context<'_>,
    ) -> Poll<()> {
        if self.shutting_down.get() {
            return Poll::Ready(());
        }
        // A reclaim request pending takes the full path, which serves it.
        if !io.watched.get() || (idle && self.budget.reclaims_wanted.load(Ordering::Relaxed) > 0) {
            let closing = self.poll_closing(io, idle, cx);
            if closing.is_pending() {
                io.watched.set(true);
            }
            return closing;
        }
        if idle && io.idle_since.get() == 0 {
            self.go_idle(io);
        }
        Poll::Pending
    }

    /// Marks connection `io` idle, as the most recent one.
    #[inline(always)]
    fn go_idle<S: ?Sized>(&self, io: &ConnIo<S>) {
        let stamp = self.idle_clock.get() + 1;
        self.idle_clock.set(stamp);
        io.idle_since.set(stamp);
        self.stats.idle(true);
    }

    /// Connection `id` has answered all it will and only lingers: its slot
    /// in the budget can go to a new client now.
    pub(crate) fn release_early(&self, id: usize) {
        let released = match self.conns.borrow_mut().get_mut(id) {
            Some(slot) if !slot.released => {
                slot.released = true;
                true
            }
            _ => false,
        };
        if released {
            self.budget.release();
        }
    }

    /// The idle connection waiting longest, not yet reclaimed.
    fn oldest_idle(&self) -> Option<usize> {
        let conns = self.conns.borrow();
        conns
            .iter()
            .filter(|(_, slot)| slot.reclaimed.is_none())
            .filter_map(|(id, slot)| {
                let since = slot.io.as_ref()?.upgrade()?.idle_since.get();
                (since > 0).then_some((since, id))
            })
            .min()
            .map(|(_, id)| id)
    }

    /// Asks connection `id` to close (after a last read, see the module
    /// docs), to make room.
    fn reclaim(&self, id: usize) {
        let waker = {
            let mut conns = self.conns.borrow_mut();
            let Some(slot) = conns.get_mut(id) else { return };
            slot.reclaimed = Some(Instant::now() + self.grace);
            if let Some(io) = slot.io.as_ref().and_then(Weak::upgrade) {
                io.watched.set(false);
            }
            slot.waker.take()
        };
        self.stats.reclaimed();
        log::debug!("reclaiming an idle connection to make room for a new client");
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Serves this loop's share of other loops' reclaim requests.
    fn serve_reclaim_requests(&self) {
        while let Some(id) = self.oldest_idle() {
            if !self.budget.take_reclaim_request() {
                return;
            }
            self.reclaim(id);
        }
    }

    fn begin_shutdown(&self) {
        self.shutting_down.set(true);
        self.shutdown_deadline.set(Some(Instant::now() + self.grace));
        let wakers: Vec<Waker> =
            self.conns.borrow_mut().iter_mut().filter_map(|(_, slot)| slot.waker.take()).collect();
        wakers.into_iter().for_each(Waker::wake);
    }

    fn remove(&self, id: usize) {
        let slot = self.conns.borrow_mut().try_remove(id);
        if let Some(slot) = slot {
            self.stats.closed();
            if !slot.released {
                self.budget.release();
            }
        }
        // Only a shutdown waits for the last connection.
        if self.shutting_down.get() && self.conns.borrow().is_empty() {
            if let Some(waker) = self.drain_waiter.take() {
                waker.wake();
            }
        }
    }
}

/// Unregisters a connection when its task ends, however it ends (an abort
/// drops the task's future, and this with it). Holds the connection's
/// `ConnIo`, which knows its server and slot, and which the task builds
/// its connection from: the task then captures this one pointer.
struct Registration<S: Transport>(Rc<ConnIo<S>>);

impl<S: Transport> Drop for Registration<S> {
    fn drop(&mut self) {
        self.0.server.remove(self.0.id());
    }
}

/// What the accept loop woke up for.
enum Event<S> {
    Stop,
    Accepted(io::Result<(S, Peer)>),
    /// The client held at the cap got a slot.
    Admitted,
}

/// A listening socket the accept loop serves: TCP or Unix. Generic, so
/// each accept loop and its connections are compiled for their own stream.
trait Listen: Sized + 'static {
    type Stream: Transport;
    /// A second, plain handle on the same socket, to drain its accept queue
    /// at shutdown (see `serve_loop`).
    type Backlog;
    fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(Self::Stream, Peer)>>;
    /// One plain `accept` on the backlog handle (`WouldBlock` when empty);
    /// the inner error is about adopting the client into the loop.
    fn accept_queued(backlog: &Self::Backlog) -> io::Result<(io::Result<Self::Stream>, Peer)>;
    /// Per-connection socket options, on accept.
    fn configure(_stream: &Self::Stream, _peer: Peer) {}
}

impl Listen for TcpListener {
    type Stream = TcpStream;
    type Backlog = std::net::TcpListener;

    // Inlined into the accept loop, its only caller, with eddy's accept:
    // the new stream is built where the loop keeps it (see
    // `TcpListener::poll_accept`).
    #[inline]
    fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, Peer)>> {
        TcpListener::poll_accept(self, cx).map_ok(|(stream, addr)| (stream, Peer::Tcp(addr)))
    }

    fn accept_queued(backlog: &std::net::TcpListener) -> io::Result<(io::Result<TcpStream>, Peer)> {
        backlog.accept().map(|(stream, addr)| (TcpStream::from_std(stream), Peer::Tcp(addr)))
    }

    fn configure(stream: &TcpStream, peer: Peer) {
        // On Linux the listener's TCP_NODELAY is inherited (see
        // `server/socket.rs`): no `setsockopt` per connection.
        if crate::server::socket::NODELAY_INHERITED {
            return;
        }
        if let Err(error) = stream.set_nodelay(true) {
            log::debug!("{peer}: cannot set TCP_NODELAY: {error}");
        }
    }
}

impl Listen for UnixListener {
    type Stream = UnixStream;
    type Backlog = std::os::unix::net::UnixListener;

    fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(UnixStream, Peer)>> {
        UnixListener::poll_accept(self, cx).map_ok(|(stream, _)| (stream, Peer::Unix))
    }

    fn accept_queued(backlog: &Self::Backlog) -> io::Result<(io::Result<UnixStream>, Peer)> {
        backlog.accept().map(|(stream, _)| (UnixStream::from_std(stream), Peer::Unix))
    }
}

/// What one loop serves with.
struct LoopSetup<L: Listen> {
    index: usize,
    listener: L,
    backlog: L::Backlog,
    app: Arc<AppInner>,
    budget: Arc<Budget>,
    stop: oneshot::Receiver<()>,
    stats: Arc<LoopHttpStats>,
}

/// Joins a TCP listener to the current loop, with the second handle used to
/// drain its accept queue at shutdown with plain `accept` calls (the
/// reactor's cached readiness may not know yet about clients that arrived
/// since the last event).
fn join_tcp(listener: std::net::TcpListener) -> io::Result<(TcpListener, std::net::TcpListener)> {
    let backlog = listener.try_clone()?;
    Ok((TcpListener::from_std(listener)?, backlog))
}

/// Serves one loop until told to stop, then drains it.
async fn serve_loop<L: Listen>(setup: LoopSetup<L>) {
    let LoopSetup { index, listener, backlog, app, budget, mut stop, stats } = setup;
    let limits = app.limits.clone();
    let app = Rc::new(LoopApp::new(app));
    let grace = SHUTDOWN_GRACE.min(limits.shutdown_timeout);
    let server = Rc::new(LoopServer::new(budget.clone(), grace, limits.clone(), app.clone(), stats));
    let admit = |stream: L::Stream, peer: Peer| {
        L::configure(&stream, peer);
        let id = server.conns.borrow_mut().insert(ConnSlot::default());
        server.stats.accepted();
        log::debug!("{peer}: connected");
        let io = Rc::new(ConnIo::new(stream, peer, server.clone(), id));
        let slot_io = Rc::downgrade(&io) as Weak<ConnIo>;
        let registration = Registration(io);
        // The connection is built inside the task, not captured by it: a
        // captured value keeps its own place in the task's future beside
        // the copy the running code works on, and the connection (and,
        // before, its peer address for the log line) then sat there twice,
        // 160 bytes more per connection for nothing.
        let task = eddy::task::spawn_named_static(CONNECTION_TASK, async move {
            let mut connection = Connection::new(registration.0.clone());
            connection.started();
            let reason = connection.serve().await;
            connection.ended(reason);
            drop(connection);
            drop(registration);
        });
        // Filled in after the spawn, not before: the slot's borrow must not
        // be held across it (a loop that is closing drops the task at once,
        // and with it the registration, which removes the slot).
        if let Some(slot) = server.conns.borrow_mut().get_mut(id) {
            slot.io = Some(slot_io);
            slot.task = Some(task.abort_handle());
        }
    };

    // A client accepted at the cap, waiting for a slot.
    let mut held: Option<(L::Stream, Peer)> = None;
    // The waker the stop signal holds. This task's waker does not change,
    // so once the channel holds it, a wake only needs to look at the
    // channel's state (one load), not register again (~40 instructions per
    // wake, so per new connection at low load).
    let mut stop_waker: Option<Waker> = None;
    loop {
        let event = poll_fn(|cx| {
            let stopping = if stop_waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                stop.is_ready()
            } else {
                stop_waker = Some(cx.waker().clone());
                Pin::new(&mut stop).poll(cx).is_ready()
            };
            if stopping {
                return Poll::Ready(Event::Stop);
            }
            if held.is_some() {
                if budget.try_acquire() {
                    return Poll::Ready(Event::Admitted);
                }
                server.serve_reclaim_requests();
                budget.register(index, cx.waker());
                // Checked again after registering: a slot freed in between
                // woke nobody.
                return if budget.try_acquire() { Poll::Ready(Event::Admitted) } else { Poll::Pending };
            }
            if budget.at_cap() {
                // To hear other loops asking for room.
                budget.register(index, cx.waker());
                server.serve_reclaim_requests();
            }
            // Every client already queued is admitted in this one poll, so
            // the stop signal and this future's state are looked at once per
            // wake, not once per connection (~70 instructions a connection).
            // `poll_accept`'s cooperative budget still ends the turn after
            // `eddy::task::PER_POLL` accepts, so a flood of connections
            // cannot starve the loop's other tasks.
            loop {
                match L::poll_accept(&listener, cx) {
                    Poll::Ready(Ok((stream, peer))) if budget.try_acquire() => admit(stream, peer),
                    other => return other.map(Event::Accepted),
                }
            }
        })
        .await;
        match event {
            Event::Stop => break,
            Event::Admitted => {
                if let Some((stream, peer)) = held.take() {
                    budget.hold(false);
                    admit(stream, peer);
                }
            }
            // Found at the cap (a slot freed since is taken here).
            Event::Accepted(Ok((stream, peer))) => {
                if budget.try_acquire() {
                    admit(stream, peer);
                } else {
                    // Holding first: a request is granted only while some
                    // loop holds a client (see `Budget::holding`).
                    budget.hold(true);
                    match server.oldest_idle() {
                        Some(id) => server.reclaim(id),
                        None => budget.request_reclaim(),
                    }
                    held = Some((stream, peer));
                }
            }
            Event::Accepted(Err(error)) if is_resource_exhaustion(&error) => {
                log::warn!(
                    "{error}; serving the {} open connections and retrying in {ACCEPT_BACKOFF:?}",
                    server.conns.borrow().len()
                );
                let backoff = eddy::time::sleep(ACCEPT_BACKOFF);
                let mut backoff = std::pin::pin!(backoff);
                let stopped = poll_fn(|cx| {
                    if Pin::new(&mut stop).poll(cx).is_ready() {
                        return Poll::Ready(true);
                    }
                    backoff.as_mut().poll(cx).map(|()| false)
                })
                .await;
                if stopped {
                    break;
                }
            }
            Event::Accepted(Err(error)) => log::warn!("{error}"),
        }
    }

    // From here every connection, old or new, is closing.
    server.begin_shutdown();
    if let Some((stream, peer)) = held.take() {
        budget.hold(false);
        budget.force_acquire();
        admit(stream, peer);
    }
    // The reactor's handle goes first; the socket lives on in `backlog`,
    // whose close right after the queue is found empty leaves the smallest
    // window for a client to slip in and be reset.
    drop(listener);
    let queued = drain_backlog::<L>(&backlog, |stream, peer| {
        budget.force_acquire();
        admit(stream, peer);
    });
    drop(backlog);
    if queued > 0 {
        log::info!(target: "eddy_http::server", "answering {queued} client(s) that were waiting in the accept queue");
    }
    let open = server.conns.borrow().len();
    if open > 0 {
        log::info!(target: "eddy_http::server", "waiting for {open} connection(s) to finish");
    }
    let drained = || {
        poll_fn(|cx| {
            if server.conns.borrow().is_empty() {
                return Poll::Ready(());
            }
            server.drain_waiter.set(Some(cx.waker().clone()));
            Poll::Pending
        })
    };
    let shutdown_timeout = limits.shutdown_timeout;
    if eddy::time::timeout(shutdown_timeout, drained()).await.is_err() {
        let tasks: Vec<AbortHandle> =
            server.conns.borrow_mut().iter_mut().filter_map(|(_, slot)| slot.task.take()).collect();
        log::warn!("{} connection(s) still busy after {shutdown_timeout:?}; closing them", tasks.len());
        for task in &tasks {
            task.abort();
        }
        // An aborted task drops its future when the loop next runs it,
        // and with it its registration, which empties the slab.
        drained().await;
    }
}

/// Accepts every client already in the listener's queue (until the queue
/// is empty), handing each to `admit`; returns how many there were.
fn drain_backlog<L: Listen>(backlog: &L::Backlog, mut admit: impl FnMut(L::Stream, Peer)) -> usize {
    let mut count = 0;
    loop {
        match L::accept_queued(backlog) {
            Ok((stream, peer)) => match stream {
                Ok(stream) => {
                    count += 1;
                    admit(stream, peer);
                }
                Err(error) => log::warn!("{peer}: cannot serve a queued client: {error}"),
            },
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => return count,
            Err(error)
                if matches!(error.kind(), io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted) => {}
            Err(error) => {
                log::warn!("draining the accept queue: {error}");
                return count;
            }
        }
    }
}

/// Errors that mean "out of descriptors or memory": transient, and not
/// fixed by retrying at once.
fn is_resource_exhaustion(error: &io::Error) -> bool {
    // eddy wraps socket errors with context; the OS code is in the source.
    let code = error.raw_os_error().or_else(|| error.source()?.downcast_ref::<io::Error>()?.raw_os_error());
    matches!(code, Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM))
        || error.kind() == io::ErrorKind::OutOfMemory
}

#[cfg(test)]
mod tests {
    use super::Budget;

    #[test]
    fn the_budget_admits_up_to_its_cap_and_frees_a_slot_per_release() {
        let budget = Budget::new(2, 1);
        assert!(budget.try_acquire());
        assert!(budget.try_acquire());
        assert!(budget.at_cap());
        assert!(!budget.try_acquire());
        budget.release();
        assert!(!budget.at_cap());
        assert!(budget.try_acquire());
    }

    #[test]
    fn a_forced_slot_goes_past_the_cap_and_room_returns_only_below_it() {
        let budget = Budget::new(1, 1);
        assert!(budget.try_acquire());
        budget.force_acquire();
        budget.release();
        assert!(budget.at_cap(), "still one open at a cap of one");
        budget.release();
        assert!(budget.try_acquire());
    }

    #[test]
    fn a_reclaim_request_is_taken_once_and_only_at_the_cap() {
        let budget = Budget::new(1, 2);
        budget.hold(true);
        budget.request_reclaim();
        assert!(!budget.take_reclaim_request(), "taken below the cap");
        assert!(budget.try_acquire());
        assert!(budget.take_reclaim_request());
        assert!(!budget.take_reclaim_request(), "taken twice");
    }

    /// The flaky `a_client_that_resets_mid_head_harms_only_itself` came
    /// from here: a loop asked for room, room came another way (a client
    /// reset), and the request stood, to reclaim the next connection that
    /// went idle: the fresh one whose request was still on its way.
    #[test]
    fn a_request_for_room_is_not_granted_once_nobody_waits_for_room() {
        let budget = Budget::new(1, 2);
        assert!(budget.try_acquire());
        budget.hold(true);
        budget.request_reclaim();
        budget.release();
        assert!(budget.try_acquire(), "the held client gets the slot a closing connection freed");
        budget.hold(false);
        assert!(!budget.take_reclaim_request(), "a reclaim granted at the cap with nobody waiting");
        // Someone waits again: a request is granted.
        budget.hold(true);
        budget.request_reclaim();
        assert!(budget.take_reclaim_request());
    }

    #[test]
    fn a_cap_of_zero_is_a_cap_of_one() {
        let budget = Budget::new(0, 1);
        assert!(budget.try_acquire());
        assert!(!budget.try_acquire());
    }
}
