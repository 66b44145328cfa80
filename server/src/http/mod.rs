//! The wire protocol, HTTP/1.1 as bytes: request heads and their RFC 9112
//! checks, the chunked coding, tokens, methods, status codes and the `Date`
//! header.
//!
//! Depends on: nothing of `app` or of sockets. It turns bytes into checked heads
//! and statuses into bytes, so it can be tested and fuzzed alone (`__fuzz`). It
//! uses `crate::error` (the refusals) and, from `server`, only plain data: the
//! sizes in `limits` and the byte spans of `pool`.
//!
//! | file | what |
//! |---|---|
//! | `parse.rs` | Parsing and validating a request head: `plain.rs` or `httparse` finds the pieces; this file decides whether the request is acceptable, and how its body is framed, following RFC 9112 wherever it says "MUST". |
//! | `plain.rs` | The fast path of `parse.rs`: one pass that splits, classifies and checks a head of the plain shape, or declines. |
//! | `chunked.rs` | The chunked transfer coding, decoded (RFC 9112 §7.1). |
//! | `token.rs` | Byte classes of the wire protocol. |
//! | `method.rs` | Request methods. |
//! | `status.rs` | HTTP status codes and their reason phrases. |
//! | `date.rs` | The `Date` header, formatted at most once a second per loop, and the head lines every answer starts with, kept rendered. |
//! | `append.rs` | Appending a response head to the output with one capacity check: all the `unsafe` of response writing. |

pub(crate) mod append;
pub(crate) mod chunked;
pub(crate) mod date;
pub(crate) mod method;
pub(crate) mod parse;
pub(crate) mod plain;
pub(crate) mod status;
pub(crate) mod token;
