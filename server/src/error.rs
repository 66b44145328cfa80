//! Errors: every way a request can be refused, each mapped to one status in
//! one place ([`Reject::status`]), and [`BodyError`] for handlers reading a
//! body.

use std::fmt;
use std::io;

use crate::http::status::StatusCode;

/// Why the server refuses a request on its own, before (or instead of) a
/// handler answering it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reject {
    /// Malformed request; the reason goes in the body.
    BadRequest(&'static str),
    NotFound,
    /// The path exists, not for this method: the `Allow` set.
    MethodNotAllowed(u16),
    /// The head did not arrive in time.
    RequestTimeout,
    PayloadTooLarge,
    UriTooLong,
    HeaderFieldsTooLarge(&'static str),
    ExpectationFailed,
    NotImplemented(&'static str),
    VersionNotSupported,
    /// The handler panicked (or answered with a 1xx, which cannot be a
    /// final answer).
    HandlerPanicked,
}

impl Reject {
    /// The one status each refusal is answered with.
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Reject::BadRequest(_) => StatusCode::BAD_REQUEST,
            Reject::NotFound => StatusCode::NOT_FOUND,
            Reject::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Reject::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Reject::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Reject::UriTooLong => StatusCode::URI_TOO_LONG,
            Reject::HeaderFieldsTooLarge(_) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Reject::ExpectationFailed => StatusCode::EXPECTATION_FAILED,
            Reject::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            Reject::VersionNotSupported => StatusCode::HTTP_VERSION_NOT_SUPPORTED,
            Reject::HandlerPanicked => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Whether the connection must close after the answer. Routing misses
    /// keep it (the request was well-formed and its body is drained); every
    /// other refusal means the server cannot trust where the next request
    /// starts, so nothing after it is parsed.
    pub(crate) fn closes_connection(&self) -> bool {
        !matches!(self, Reject::NotFound | Reject::MethodNotAllowed(_))
    }

    /// The body text: status line and, where there is one, the reason.
    pub(crate) fn body(&self) -> String {
        let status = self.status();
        match self {
            Reject::BadRequest(why) | Reject::HeaderFieldsTooLarge(why) | Reject::NotImplemented(why) => {
                format!("{status}: {why}\n")
            }
            _ => format!("{status}\n"),
        }
    }
}

/// Why a request body could not be read.
#[derive(Debug)]
pub enum BodyError {
    /// The body is larger than [`Limits::max_body`](crate::Limits::max_body).
    TooLarge,
    /// The chunked framing is malformed.
    Malformed(&'static str),
    /// The client closed the connection before sending the whole body.
    Incomplete,
    /// The client sent nothing for [`Limits::io_timeout`](crate::Limits::io_timeout).
    TimedOut,
    /// The body belongs to a request that was already answered.
    Stale,
    /// The socket failed.
    Io(io::Error),
}

impl BodyError {
    /// The status a handler should answer with when it gives up because of
    /// this error.
    pub fn status(&self) -> StatusCode {
        match self {
            BodyError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            BodyError::Malformed(_) | BodyError::Incomplete | BodyError::Stale => StatusCode::BAD_REQUEST,
            BodyError::TimedOut => StatusCode::REQUEST_TIMEOUT,
            BodyError::Io(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodyError::TooLarge => f.write_str("request body exceeds the size limit"),
            BodyError::Malformed(why) => write!(f, "malformed request body: {why}"),
            BodyError::Incomplete => {
                f.write_str("the client closed the connection before the body was complete")
            }
            BodyError::TimedOut => f.write_str("timed out waiting for the request body"),
            BodyError::Stale => f.write_str("the body of an already answered request cannot be read"),
            BodyError::Io(error) => write!(f, "reading the request body: {error}"),
        }
    }
}

impl std::error::Error for BodyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BodyError::Io(error) => Some(error),
            _ => None,
        }
    }
}

/// A handler can answer a body error with `return error.into()`.
impl From<BodyError> for crate::Response {
    fn from(error: BodyError) -> crate::Response {
        crate::Response::text(format!("{}: {error}\n", error.status())).with_status(error.status())
    }
}
