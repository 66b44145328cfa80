//! Request methods.

use std::fmt;

/// The request methods eddy-http knows (RFC 9110 §9 plus PATCH). Any other
/// well-formed method gets `501 Not Implemented`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Method {
    /// `GET`
    Get,
    /// `HEAD`: a GET without the body; served by the GET handler unless a
    /// HEAD route exists.
    Head,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `DELETE`
    Delete,
    /// `CONNECT`
    Connect,
    /// `OPTIONS`
    Options,
    /// `TRACE`
    Trace,
    /// `PATCH`
    Patch,
}

impl Method {
    /// Every method, in the order `Allow` headers list them.
    pub(crate) const ALL: [Method; 9] = [
        Method::Get,
        Method::Head,
        Method::Post,
        Method::Put,
        Method::Delete,
        Method::Connect,
        Method::Options,
        Method::Trace,
        Method::Patch,
    ];

    /// The method's token, as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Connect => "CONNECT",
            Method::Options => "OPTIONS",
            Method::Trace => "TRACE",
            Method::Patch => "PATCH",
        }
    }

    /// Parses a method token (case-sensitive, as RFC 9110 requires).
    ///
    /// ```
    /// use eddy_http::Method;
    /// assert_eq!(Method::from_token("GET"), Some(Method::Get));
    /// assert_eq!(Method::from_token("get"), None);
    /// ```
    pub fn from_token(token: &str) -> Option<Method> {
        // A match, which compiles to a switch on the length and one compare,
        // where a search of `ALL` compared strings one by one.
        Some(match token {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            "CONNECT" => Method::Connect,
            "OPTIONS" => Method::Options,
            "TRACE" => Method::Trace,
            "PATCH" => Method::Patch,
            _ => return None,
        })
    }

    /// A bit for method sets.
    pub(crate) fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Method {
    type Err = UnknownMethod;
    fn from_str(token: &str) -> Result<Method, UnknownMethod> {
        Method::from_token(token).ok_or(UnknownMethod)
    }
}

/// A method token eddy-http does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownMethod;

impl fmt::Display for UnknownMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("unknown HTTP method")
    }
}

impl std::error::Error for UnknownMethod {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_method_reads_back_from_its_token_and_nothing_else_does() {
        for method in Method::ALL {
            assert_eq!(Method::from_token(method.as_str()), Some(method));
            assert_eq!(Method::from_token(&method.as_str().to_ascii_lowercase()), None);
            assert_eq!(Method::from_token(&format!("{method} ")), None);
        }
        for other in ["", "BREW", "GETS", "GE"] {
            assert_eq!(Method::from_token(other), None, "{other:?}");
        }
    }
}
