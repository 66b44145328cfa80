//! eddy-http: an HTTP/1.1 server on the eddy runtime (under construction).
#![deny(missing_docs)]
