//! `Server`: listeners on one or more loops, and graceful shutdown. aiohttp's
//! `AppRunner` + `TCPSite` + `cleanup()`.
//!
//! Each worker loop runs its own accept loop on its own `SO_REUSEPORT`
//! listener, and each accepted connection is a task on that loop, so a
//! connection never crosses threads and a loop never takes a lock to serve.
//!
//! Shutdown, in order:
//! 1. every loop stops accepting (its listener closes);
//! 2. idle keep-alive connections close at once;
//! 3. busy connections finish the requests they have already received
//!    (pipelined ones included) and close at the next request boundary;
//! 4. after `Limits::shutdown_timeout`, connections still busy are closed;
//! 5. the cleanup hooks run.

use std::cell::{Cell, RefCell};
use std::error::Error as _;
use std::future::{poll_fn, Future};
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use eddy::net::TcpListener;
use eddy::sync::oneshot;
use eddy::{Handle, JoinHandle};
use slab::Slab;

use crate::app::{App, AppInner, LoopApp};
use crate::conn::Connection;
use crate::conn_io::ConnIo;

/// After `accept` fails for lack of file descriptors (or memory), wait this
/// long before trying again, so the loop keeps serving the connections it
/// has instead of spinning on an error that will not clear by itself.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

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
    local_addr: SocketAddr,
    /// Per loop: the signal that stops it and its serving task.
    loops: Vec<(oneshot::Sender<()>, JoinHandle<()>)>,
    app: Arc<AppInner>,
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
    pub async fn bind_on(loops: &[Handle], addr: impl ToSocketAddrs, app: App) -> io::Result<Server> {
        let addr = addr
            .to_socket_addrs()
            .map_err(|e| io::Error::new(e.kind(), format!("resolve listen address: {e}")))?
            .next()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address to listen on"))?;
        if loops.is_empty() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "no event loop to serve on"));
        }
        let app = Arc::new(app.into_inner());
        app.run_startup().await?;

        // Bind every listener before serving on any, so a failure leaves
        // nothing half-started. Port 0 becomes a real port with the first.
        let mut listeners = Vec::with_capacity(loops.len());
        let mut local_addr = addr;
        for _ in loops {
            let listener = crate::socket::listen(local_addr, loops.len() > 1)?;
            local_addr = listener.local_addr()?;
            listeners.push(listener);
        }
        let per_loop_cap = app.limits.max_connections.div_ceil(loops.len()).max(1);
        let serving = loops
            .iter()
            .zip(listeners)
            .map(|(handle, listener)| {
                let (stop, stopped) = oneshot::channel();
                let app = app.clone();
                let task = handle.spawn_with(move || serve_loop(listener, app, stopped, per_loop_cap));
                (stop, task)
            })
            .collect();
        log::info!(target: "eddy_http::server", "listening on http://{local_addr} ({} loop(s))", loops.len());
        Ok(Server { local_addr, loops: serving, app })
    }

    /// The address the server listens on (with the real port if it was
    /// bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Graceful shutdown (see the module docs for the order); returns once
    /// every loop is done and the cleanup hooks have run.
    ///
    /// # Errors
    /// The first cleanup hook error (every hook runs regardless).
    pub async fn shutdown(mut self) -> io::Result<()> {
        log::info!(target: "eddy_http::server", "shutting down http://{}", self.local_addr);
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
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .field("loops", &self.loops.len())
            .finish()
    }
}

/// One loop's server state: its connections, and the shutdown flag they
/// watch.
pub(crate) struct LoopServer {
    shutting_down: Cell<bool>,
    /// Open connections: the task (to abort at the deadline) and, while
    /// idle, the waker to call at shutdown.
    conns: RefCell<Slab<ConnSlot>>,
    max_connections: usize,
    /// The accept loop, waiting for a free slot under the cap.
    accept_waiter: Cell<Option<Waker>>,
    /// Shutdown, waiting for the last connection to end.
    drain_waiter: Cell<Option<Waker>>,
}

#[derive(Default)]
struct ConnSlot {
    waker: Option<Waker>,
    task: Option<JoinHandle<()>>,
}

impl LoopServer {
    pub(crate) fn is_shutting_down(&self) -> bool {
        self.shutting_down.get()
    }

    /// Ready once shutdown starts; otherwise remembers who to wake then.
    pub(crate) fn poll_shutdown(&self, id: usize, cx: &mut Context<'_>) -> Poll<()> {
        if self.shutting_down.get() {
            return Poll::Ready(());
        }
        if let Some(slot) = self.conns.borrow_mut().get_mut(id) {
            if !slot.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                slot.waker = Some(cx.waker().clone());
            }
        }
        Poll::Pending
    }

    fn begin_shutdown(&self) {
        self.shutting_down.set(true);
        let wakers: Vec<Waker> =
            self.conns.borrow_mut().iter_mut().filter_map(|(_, slot)| slot.waker.take()).collect();
        wakers.into_iter().for_each(Waker::wake);
    }

    fn has_room(&self) -> bool {
        self.conns.borrow().len() < self.max_connections
    }

    fn remove(&self, id: usize) {
        let slot = self.conns.borrow_mut().try_remove(id);
        drop(slot);
        if let Some(waker) = self.accept_waiter.take() {
            waker.wake();
        }
        if self.conns.borrow().is_empty() {
            if let Some(waker) = self.drain_waiter.take() {
                waker.wake();
            }
        }
    }
}

/// Unregisters a connection when its task ends, however it ends (an abort
/// drops the task's future, and this with it).
struct Registration {
    server: Rc<LoopServer>,
    id: usize,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.server.remove(self.id);
    }
}

/// What the accept loop woke up for.
enum Event {
    Stop,
    Accepted(io::Result<(eddy::net::TcpStream, SocketAddr)>),
}

/// Serves one loop until told to stop, then drains it.
async fn serve_loop(
    listener: std::net::TcpListener,
    app: Arc<AppInner>,
    mut stop: oneshot::Receiver<()>,
    max_connections: usize,
) {
    let listener = match TcpListener::from_std(listener) {
        Ok(listener) => listener,
        Err(error) => {
            log::error!("cannot serve on this loop: {error}");
            return;
        }
    };
    let shutdown_timeout = app.limits.shutdown_timeout;
    let app = Rc::new(LoopApp::new(app));
    let server = Rc::new(LoopServer {
        shutting_down: Cell::new(false),
        conns: RefCell::new(Slab::new()),
        max_connections,
        accept_waiter: Cell::new(None),
        drain_waiter: Cell::new(None),
    });

    loop {
        // Stop, or wait for room under the cap, or accept.
        let event = poll_fn(|cx| {
            if Pin::new(&mut stop).poll(cx).is_ready() {
                return Poll::Ready(Event::Stop);
            }
            if !server.has_room() {
                server.accept_waiter.set(Some(cx.waker().clone()));
                return Poll::Pending;
            }
            listener.poll_accept(cx).map(Event::Accepted)
        })
        .await;
        match event {
            Event::Stop => break,
            Event::Accepted(Ok((stream, peer))) => {
                if let Err(error) = stream.set_nodelay(true) {
                    log::debug!("{peer}: cannot set TCP_NODELAY: {error}");
                }
                let id = server.conns.borrow_mut().insert(ConnSlot::default());
                log::debug!("{peer}: connected");
                let io = ConnIo::new(stream, peer, app.inner.limits.clone());
                let connection = Connection::new(io, app.clone(), server.clone(), id);
                let registration = Registration { server: server.clone(), id };
                let task = eddy::spawn(async move {
                    let _registration = registration;
                    let reason = connection.run().await;
                    log::debug!("{peer}: {reason}");
                });
                if let Some(slot) = server.conns.borrow_mut().get_mut(id) {
                    slot.task = Some(task);
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

    drop(listener);
    server.begin_shutdown();
    let open = server.conns.borrow().len();
    if open > 0 {
        log::info!(target: "eddy_http::server", "waiting for {open} connection(s) to finish");
    }
    let drained = poll_fn(|cx| {
        if server.conns.borrow().is_empty() {
            return Poll::Ready(());
        }
        server.drain_waiter.set(Some(cx.waker().clone()));
        Poll::Pending
    });
    if eddy::time::timeout(shutdown_timeout, drained).await.is_err() {
        let tasks: Vec<JoinHandle<()>> =
            server.conns.borrow_mut().iter_mut().filter_map(|(_, slot)| slot.task.take()).collect();
        log::warn!("{} connection(s) still busy after {shutdown_timeout:?}; closing them", tasks.len());
        for task in tasks {
            task.abort();
            let _ = task.await;
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
