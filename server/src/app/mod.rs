//! What a program is written against: [`App`](crate::App), the router,
//! handlers, [`Request`](crate::Request), [`Response`](crate::Response),
//! [`Body`](crate::Body), streamed bodies, server-sent events and
//! percent-decoding.
//!
//! Depends on: `http` (methods, statuses, parsed heads) and `crate::error`;
//! nothing of listeners, sockets or loops. From `server` it uses only the
//! pieces a request is made of: `limits`, the pooled buffers of `pool`, and
//! `conn_io`, through which a [`Body`](crate::Body) reads its bytes.
//!
//! | file | what |
//! |---|---|
//! | `application.rs` | `App`: routes, hooks and limits. |
//! | `router.rs` | Routing: path patterns with `{param}` segments, matched without allocating. |
//! | `handler.rs` | Handlers: what answers a request, and the memory their futures live in. |
//! | `request.rs` | `Request`: what a handler receives. |
//! | `response.rs` | `Response`: status, headers and body, and how a response head is written straight into the connection's output buffer. |
//! | `body.rs` | `Body`: a request body as an async stream of bytes, read as it arrives. |
//! | `stream_body.rs` | Streamed response bodies: a body produced while it is being sent, by a [`Stream`](crate::Stream) of byte chunks ([`Response::stream`](crate::Response::stream)) or by a task pushing into a [`BodySender`](crate::BodySender) ([`Response::channel`](crate::Response::channel)). |
//! | `sse.rs` | Server-sent events (`text/event-stream`): a streamed response whose chunks are [`Event`](crate::sse::Event)s, with comment keep-alives. |
//! | `percent.rs` | Percent-decoding of path segments and query components (RFC 3986 §2.1). |

pub(crate) mod application;
pub(crate) mod body;
pub(crate) mod handler;
pub(crate) mod percent;
pub(crate) mod request;
pub(crate) mod response;
pub(crate) mod router;
pub mod sse;
pub(crate) mod stream_body;
