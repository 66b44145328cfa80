//! Handlers: what answers a request.
//!
//! Any `Fn(Request) -> impl Future<Output = impl Into<Response>>` that is
//! `Send + Sync` is a handler: an `async fn`, or a closure returning an
//! `async` block. The function is shared by every worker loop (hence `Send +
//! Sync`); the future it returns runs on the loop that received the request
//! and never moves, so it need not be `Send` (it may hold `Rc`s).

use std::future::Future;
use std::pin::Pin;

use crate::request::Request;
use crate::response::Response;

/// A type-erased handler future. One allocation per request: the price of
/// letting every route have its own handler type.
pub(crate) type HandlerFuture = Pin<Box<dyn Future<Output = Response>>>;

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
    fn call(&self, request: Request) -> Pin<Box<dyn Future<Output = Response>>>;
}

impl<F, Fut> Handler for F
where
    F: Fn(Request) -> Fut + Send + Sync + 'static,
    Fut: Future + 'static,
    Fut::Output: Into<Response>,
{
    fn call(&self, request: Request) -> HandlerFuture {
        let future = self(request);
        Box::pin(async move { future.await.into() })
    }
}
