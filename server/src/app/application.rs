//! `App`: routes, hooks and limits. aiohttp's `web.Application`.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use eddy::time::Instant;

use crate::app::handler::Handler;
use crate::app::router::Router;
use crate::debug::DebugPage;
use crate::http::date::CommonLines;
use crate::http::method::Method;
use crate::server::limits::Limits;

type HookFuture = Pin<Box<dyn Future<Output = io::Result<()>>>>;
type Hook = Box<dyn Fn() -> HookFuture + Send + Sync>;

/// An application: a routing table, startup and cleanup hooks, and limits.
///
/// ```
/// use eddy_http::{App, Request, Response};
///
/// async fn handle(req: Request) -> Response {
///     let name = req.param("name").unwrap_or("Anonymous");
///     Response::text(format!("Hello, {name}!"))
/// }
///
/// let app = App::new().get("/", handle).get("/{name}", handle);
/// ```
///
/// Routes are matched by specificity (a literal segment beats a `{param}`),
/// not by order. An unknown path gets `404`; a known path with another
/// method gets `405` and an `Allow` header. GET routes also answer HEAD.
pub struct App {
    router: Router<Arc<dyn Handler>>,
    startup: Vec<Hook>,
    cleanup: Vec<Hook>,
    limits: Limits,
    server_name: String,
    /// The live page, if on (`debug_page`), and its explicit token.
    debug: Option<Arc<DebugPage>>,
    debug_token: Option<String>,
}

impl Default for App {
    fn default() -> App {
        App::new()
    }
}

impl App {
    /// An app with no routes, default [`Limits`], and `Server: eddy`.
    pub fn new() -> App {
        App {
            router: Router::default(),
            startup: Vec::new(),
            cleanup: Vec::new(),
            limits: Limits::default(),
            server_name: "eddy".to_string(),
            debug: None,
            debug_token: None,
        }
    }

    /// Adds a GET route (which answers HEAD too). aiohttp's `web.get`.
    ///
    /// # Panics
    /// If `pattern` is malformed (it must start with `/`; a segment is a
    /// literal or a whole `{name}`) or the route already exists.
    pub fn get(self, pattern: &str, handler: impl Handler) -> App {
        self.route(Method::Get, pattern, handler)
    }

    /// Adds a POST route.
    ///
    /// # Panics
    /// As [`get`](Self::get).
    pub fn post(self, pattern: &str, handler: impl Handler) -> App {
        self.route(Method::Post, pattern, handler)
    }

    /// Adds a PUT route.
    ///
    /// # Panics
    /// As [`get`](Self::get).
    pub fn put(self, pattern: &str, handler: impl Handler) -> App {
        self.route(Method::Put, pattern, handler)
    }

    /// Adds a DELETE route.
    ///
    /// # Panics
    /// As [`get`](Self::get).
    pub fn delete(self, pattern: &str, handler: impl Handler) -> App {
        self.route(Method::Delete, pattern, handler)
    }

    /// Adds a route for any method.
    ///
    /// # Panics
    /// As [`get`](Self::get).
    pub fn route(mut self, method: Method, pattern: &str, handler: impl Handler) -> App {
        self.router.add(method, pattern, Arc::new(handler));
        self
    }

    /// Runs `hook` when the server starts, before it accepts connections;
    /// an error aborts the start. aiohttp's `app.on_startup`.
    pub fn on_startup<F, Fut>(mut self, hook: F) -> App
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = io::Result<()>> + 'static,
    {
        self.startup.push(Box::new(move || Box::pin(hook())));
        self
    }

    /// Runs `hook` at the end of a graceful shutdown, after the last
    /// request. aiohttp's `app.on_cleanup`.
    pub fn on_cleanup<F, Fut>(mut self, hook: F) -> App
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = io::Result<()>> + 'static,
    {
        self.cleanup.push(Box::new(move || Box::pin(hook())));
        self
    }

    /// Replaces the limits.
    pub fn limits(mut self, limits: Limits) -> App {
        self.limits = limits;
        self
    }

    /// The `Server` header value (default `eddy`).
    pub fn server_name(mut self, name: impl Into<String>) -> App {
        self.server_name = name.into();
        self
    }

    /// Serves the live page under `base` (e.g. `"/_eddy"`): the loops at
    /// work, the connections, the task table and a scrolling timeline of
    /// the flight recorder, updating live, with JSON endpoints for scripts
    /// (see the paths in [`crate::debug`]: `base/stats.json`,
    /// `base/tasks.json`, `base/timeline.json`, `base/trace.json`,
    /// `base/events`). Off by default.
    ///
    /// **It shows internals.** When the server listens on anything but
    /// loopback, every path of the page requires a token (`?token=T` or
    /// the `X-Eddy-Token` header; `401` without): the one given to
    /// [`debug_page_token`](Self::debug_page_token), or else one
    /// generated at startup and logged at `warn` with the page's URL. On
    /// loopback or a Unix socket no token is needed unless one was given.
    ///
    /// ```
    /// use eddy_http::{App, Response, Server};
    ///
    /// eddy::run(async {
    ///     let app = App::new()
    ///         .get("/", |_req| async { Response::text("hi") })
    ///         .debug_page("/_eddy");
    ///     let server = Server::bind("127.0.0.1:0", app).await?;
    ///     println!("open http://{}/_eddy", server.local_addr());
    ///     server.shutdown().await
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Panics
    /// If `base` is not a path (`/` then segments) or the page's paths
    /// are already routes, or if called twice.
    pub fn debug_page(self, base: &str) -> App {
        assert!(self.debug.is_none(), "App::debug_page called twice");
        let page = Arc::new(DebugPage::new(base));
        let mut app = page.install(self);
        app.debug = Some(page);
        app
    }

    /// The token the live page requires (see [`debug_page`](Self::debug_page)),
    /// on every address, loopback included. Without one, a token is
    /// generated when the server binds to a non-loopback address.
    pub fn debug_page_token(mut self, token: impl Into<String>) -> App {
        self.debug_token = Some(token.into());
        self
    }

    /// The live page and its explicit token, for the server to start it
    /// once bound.
    pub(crate) fn take_debug(&mut self) -> Option<(Arc<DebugPage>, Option<String>)> {
        let page = self.debug.take()?;
        Some((page, self.debug_token.take()))
    }

    pub(crate) fn into_inner(self) -> AppInner {
        AppInner {
            router: self.router,
            startup: self.startup,
            cleanup: self.cleanup,
            limits: self.limits,
            server_name: self.server_name,
        }
    }
}

impl fmt::Debug for App {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let patterns: Vec<_> = self.router.resources().iter().map(|r| &*r.pattern).collect();
        f.debug_struct("App").field("routes", &patterns).field("limits", &self.limits).finish()
    }
}

/// A running app, shared (read-only) by every loop.
pub(crate) struct AppInner {
    pub(crate) router: Router<Arc<dyn Handler>>,
    startup: Vec<Hook>,
    cleanup: Vec<Hook>,
    pub(crate) limits: Limits,
    pub(crate) server_name: String,
}

impl AppInner {
    pub(crate) async fn run_startup(&self) -> io::Result<()> {
        for hook in &self.startup {
            hook().await.map_err(|e| io::Error::new(e.kind(), format!("startup hook failed: {e}")))?;
        }
        Ok(())
    }

    /// Runs every cleanup hook, even after one fails; returns the first
    /// error.
    pub(crate) async fn run_cleanup(&self) -> io::Result<()> {
        let mut first_error = None;
        for hook in &self.cleanup {
            if let Err(error) = hook().await {
                log::error!("cleanup hook failed: {error}");
                first_error
                    .get_or_insert(io::Error::new(error.kind(), format!("cleanup hook failed: {error}")));
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

/// One loop's view of the app: requests hold an `Rc` to it, so per-request
/// reference counting never touches memory shared between loops.
pub(crate) struct LoopApp {
    pub(crate) inner: Arc<AppInner>,
    /// The `Server` and `Date` lines all this loop's answers start with.
    pub(crate) common: RefCell<CommonLines>,
    /// Whether access logging is on, and until when (loop time) that
    /// answer stands: the logger is asked again at most once a second.
    /// Asked per connection, env_logger matched its filters every time
    /// (~100 instructions a connection).
    access_log: Cell<(bool, Instant)>,
}

impl LoopApp {
    pub(crate) fn new(inner: Arc<AppInner>) -> LoopApp {
        let common = RefCell::new(CommonLines::new(&inner.server_name));
        LoopApp { inner, common, access_log: Cell::new((false, Instant::recent())) }
    }

    /// Brings the `Date` line up to date (a cache check; the date itself
    /// changes once a second).
    #[inline]
    pub(crate) fn refresh_common_lines(&self) {
        self.common.borrow_mut().refresh(&self.inner.server_name);
    }

    /// Whether access logging is on, as the logger said within the last
    /// second (of the loop's clock: no clock read here).
    #[inline]
    pub(crate) fn access_log(&self) -> bool {
        let now = Instant::recent();
        match self.access_log.get() {
            (on, until) if now < until => on,
            _ => {
                let on = access_log_enabled();
                self.access_log.set((on, now + Duration::from_secs(1)));
                on
            }
        }
    }
}

/// Whether the logger takes access-log lines now.
fn access_log_enabled() -> bool {
    log::log_enabled!(target: "eddy_http::access", log::Level::Info)
}
