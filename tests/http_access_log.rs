//! The access log: one `info` line per request under the target
//! `eddy_http::access`, with the client, the request line, the status and
//! the body length, routing misses (404, 405) included.
//!
//! One test in this file: it installs the process's logger.

mod http_support;

use std::sync::Mutex;

use eddy_http::{App, Request};
use http_support::{get, TestServer};

/// Keeps every access-log line.
struct Capture(Mutex<Vec<String>>);

impl log::Log for Capture {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.target() == "eddy_http::access" && metadata.level() <= log::Level::Info
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            self.0.lock().unwrap().push(record.args().to_string());
        }
    }

    fn flush(&self) {}
}

static CAPTURE: Capture = Capture(Mutex::new(Vec::new()));

#[test]
fn each_request_gets_one_access_log_line_with_request_line_status_and_length() {
    log::set_logger(&CAPTURE).unwrap();
    log::set_max_level(log::LevelFilter::Info);
    let server = TestServer::start(App::new().get("/{name}", |req: Request| {
        let text = format!("Hello, {}!", req.param("name").unwrap());
        async move { text }
    }));
    let mut client = server.client();
    let me = client.stream().local_addr().unwrap();
    client.send(format!("{}{}", get("/alice"), get("/a/b")));
    assert_eq!(client.response().status, 200);
    assert_eq!(client.response().status, 404);
    client.send("DELETE /bob?x=1 HTTP/1.0\r\n\r\n");
    assert_eq!(client.response().status, 405);
    server.shutdown().unwrap();
    assert_eq!(
        *CAPTURE.0.lock().unwrap(),
        [
            format!("{me} \"GET /alice HTTP/1.1\" 200 13"),
            format!("{me} \"GET /a/b HTTP/1.1\" 404 14"),
            format!("{me} \"DELETE /bob?x=1 HTTP/1.0\" 405 23"),
        ]
    );
}
