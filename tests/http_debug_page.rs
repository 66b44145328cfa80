//! The live page's data (`App::debug_page`), over real sockets: off by
//! default; the page served as HTML; every JSON endpoint parses and has the
//! contract's fields, with counters that move as requests are served;
//! `/events` sends stats, timeline and tasks at once; the token rule.

mod http_support;

use std::collections::BTreeMap;

use eddy_http::{App, Response, StatusCode};
use http_support::*;

// ----- A small JSON reader, enough to check the documents' shapes ----------

#[derive(Clone, Debug, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    Number(f64),
    Text(String),
    List(Vec<Json>),
    Object(BTreeMap<String, Json>),
}

impl Json {
    fn parse(text: &str) -> Json {
        let mut parser = Parser { bytes: text.as_bytes(), at: 0 };
        let value = parser.value();
        parser.space();
        assert_eq!(parser.at, text.len(), "trailing bytes after the JSON document: {text}");
        value
    }

    /// The member `key` of an object (panics with the document otherwise).
    fn get(&self, key: &str) -> &Json {
        match self {
            Json::Object(members) => members.get(key).unwrap_or_else(|| panic!("no {key:?} in {self:?}")),
            _ => panic!("not an object, looking for {key:?}: {self:?}"),
        }
    }

    fn num(&self) -> f64 {
        match self {
            Json::Number(n) => *n,
            _ => panic!("not a number: {self:?}"),
        }
    }

    fn text(&self) -> &str {
        match self {
            Json::Text(s) => s,
            _ => panic!("not a string: {self:?}"),
        }
    }

    fn list(&self) -> &[Json] {
        match self {
            Json::List(items) => items,
            _ => panic!("not a list: {self:?}"),
        }
    }

    fn keys(&self) -> Vec<&str> {
        match self {
            Json::Object(members) => members.keys().map(String::as_str).collect(),
            _ => panic!("not an object: {self:?}"),
        }
    }
}

struct Parser<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn space(&mut self) {
        while self.bytes.get(self.at).is_some_and(u8::is_ascii_whitespace) {
            self.at += 1;
        }
    }

    fn eat(&mut self, byte: u8) {
        self.space();
        assert_eq!(self.bytes.get(self.at), Some(&byte), "expected {:?} at {}", byte as char, self.at);
        self.at += 1;
    }

    fn value(&mut self) -> Json {
        self.space();
        match self.bytes[self.at] {
            b'{' => {
                self.at += 1;
                let mut members = BTreeMap::new();
                self.space();
                if self.bytes[self.at] == b'}' {
                    self.at += 1;
                    return Json::Object(members);
                }
                loop {
                    self.space();
                    let Json::Text(key) = self.value() else { panic!("a key must be a string") };
                    self.eat(b':');
                    let value = self.value();
                    assert!(members.insert(key.clone(), value).is_none(), "duplicate key {key}");
                    self.space();
                    self.at += 1;
                    match self.bytes[self.at - 1] {
                        b',' => continue,
                        b'}' => return Json::Object(members),
                        other => panic!("unexpected {:?} in an object", other as char),
                    }
                }
            }
            b'[' => {
                self.at += 1;
                let mut items = Vec::new();
                self.space();
                if self.bytes[self.at] == b']' {
                    self.at += 1;
                    return Json::List(items);
                }
                loop {
                    items.push(self.value());
                    self.space();
                    self.at += 1;
                    match self.bytes[self.at - 1] {
                        b',' => continue,
                        b']' => return Json::List(items),
                        other => panic!("unexpected {:?} in a list", other as char),
                    }
                }
            }
            b'"' => {
                self.at += 1;
                let mut text = String::new();
                loop {
                    let c = self.bytes[self.at];
                    self.at += 1;
                    match c {
                        b'"' => return Json::Text(text),
                        b'\\' => {
                            let escaped = self.bytes[self.at];
                            self.at += 1;
                            match escaped {
                                b'n' => text.push('\n'),
                                b't' => text.push('\t'),
                                b'r' => text.push('\r'),
                                b'u' => {
                                    let hex = std::str::from_utf8(&self.bytes[self.at..self.at + 4]).unwrap();
                                    text.push(char::from_u32(u32::from_str_radix(hex, 16).unwrap()).unwrap());
                                    self.at += 4;
                                }
                                other => text.push(other as char),
                            }
                        }
                        c if c < 0x20 => panic!("a raw control character in a string"),
                        _ => {
                            // Copy the whole UTF-8 sequence.
                            let start = self.at - 1;
                            let len = match c {
                                0xF0.. => 4,
                                0xE0.. => 3,
                                0xC0.. => 2,
                                _ => 1,
                            };
                            text.push_str(std::str::from_utf8(&self.bytes[start..start + len]).unwrap());
                            self.at = start + len;
                        }
                    }
                }
            }
            b't' => self.word("true", Json::Bool(true)),
            b'f' => self.word("false", Json::Bool(false)),
            b'n' => self.word("null", Json::Null),
            _ => {
                let start = self.at;
                while self.bytes.get(self.at).is_some_and(|b| b"-+.eE0123456789".contains(b)) {
                    self.at += 1;
                }
                let text = std::str::from_utf8(&self.bytes[start..self.at]).unwrap();
                Json::Number(text.parse().unwrap_or_else(|_| panic!("not a number: {text:?} at {start}")))
            }
        }
    }

    fn word(&mut self, word: &str, value: Json) -> Json {
        assert!(self.bytes[self.at..].starts_with(word.as_bytes()), "expected {word}");
        self.at += word.len();
        value
    }
}

// ----- Helpers --------------------------------------------------------------

fn hello_app() -> App {
    App::new().get("/", |_req| async { "hello" }).get("/teapot", |_req| async {
        Response::text("short and stout").with_status(StatusCode::from_u16(418).unwrap())
    })
}

/// GET `path` on a fresh connection.
fn fetch(server: &TestServer, path: &str) -> Reply {
    let mut client = server.client();
    client.send(get(path));
    client.response()
}

/// GET `path` on a fresh connection, expecting JSON.
fn fetch_json(server: &TestServer, path: &str) -> Json {
    let reply = fetch(server, path);
    assert_eq!(reply.status, 200, "{path}: {}", reply.text());
    assert_eq!(reply.header("content-type"), Some("application/json"), "{path}");
    assert_eq!(reply.header("cache-control"), Some("no-store"), "{path}");
    Json::parse(&reply.body_text())
}

fn two_loops() -> eddy::Builder {
    let mut builder = eddy::Builder::new();
    builder.workers(2);
    builder
}

// ----- Off by default, and the page ------------------------------------------

#[test]
fn the_debug_page_is_off_by_default() {
    let server = TestServer::start(hello_app());
    for path in ["/_eddy", "/_eddy/stats.json", "/_eddy/events", "/_eddy/tasks.json"] {
        assert_eq!(fetch(&server, path).status, 404, "{path}");
    }
}

#[test]
fn the_page_is_served_as_html_under_the_chosen_base() {
    let server = TestServer::start(hello_app().debug_page("/_eddy"));
    for path in ["/_eddy", "/_eddy/"] {
        let reply = fetch(&server, path);
        assert_eq!(reply.status, 200, "{path}");
        assert!(reply.header("content-type").unwrap().starts_with("text/html"), "{path}");
        assert!(reply.body_text().contains("<html"), "{path}");
    }
    // The app's own routes still answer.
    assert_eq!(fetch(&server, "/").body_text(), "hello");
}

// ----- stats.json ------------------------------------------------------------

#[test]
fn stats_json_has_every_contract_field_and_its_counters_move_with_requests() {
    let server = TestServer::start_with(two_loops(), hello_app().debug_page("/_eddy"));
    let before = fetch_json(&server, "/_eddy/stats.json");
    let loops = before.get("loops").list();
    assert_eq!(loops.len(), 2, "one entry per serving loop");
    for l in loops {
        for field in ["id", "ticks", "polls", "busy_ns", "parked_ns", "ready", "timers", "sockets", "tasks"] {
            assert!(l.get(field).num() >= 0.0, "{field}");
        }
    }
    let s = before.get("server");
    let connections = s.get("connections");
    for field in ["active", "reading", "writing", "idle"] {
        connections.get(field).num();
    }
    assert_eq!(s.get("responses").keys(), ["1xx", "2xx", "3xx", "4xx", "5xx"]);
    for reason in ["bad_request", "header_too_large", "body_too_large", "timeout"] {
        assert_eq!(s.get("refused").get(reason).num(), 0.0, "{reason}");
    }

    // Three answered requests on one connection, a 418, a refused one.
    let mut client = server.client();
    for _ in 0..3 {
        client.send(get("/"));
        assert_eq!(client.response().status, 200);
    }
    assert_eq!(fetch(&server, "/teapot").status, 418);
    let mut bad = server.client();
    bad.send("GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n");
    assert_eq!(bad.response().status, 400);

    let after = fetch_json(&server, "/_eddy/stats.json");
    let (s0, s1) = (before.get("server"), after.get("server"));
    let grew = |field: &str| s1.get(field).num() - s0.get(field).num();
    // The stats requests themselves count too: the first one, then these 5.
    assert_eq!(grew("requests"), 6.0);
    assert!(grew("accepted") >= 4.0, "{after:?}");
    assert_eq!(s1.get("status").get("418").num(), 1.0);
    assert!(s1.get("status").get("200").num() >= 4.0);
    assert_eq!(s1.get("status").get("400").num(), 1.0);
    assert_eq!(s1.get("responses").get("4xx").num(), 2.0);
    assert_eq!(s1.get("refused").get("bad_request").num(), 1.0);
    assert!(after.get("uptime_ns").num() > before.get("uptime_ns").num());
    let sum =
        |doc: &Json, field: &str| doc.get("loops").list().iter().map(|l| l.get(field).num()).sum::<f64>();
    assert!(sum(&after, "polls") > sum(&before, "polls"), "the loops' polls move");
    assert!(sum(&after, "ticks") > sum(&before, "ticks"), "the loops' ticks move");
    assert!(sum(&after, "parked_ns") > 0.0 && sum(&after, "busy_ns") > 0.0);
    assert!(sum(&after, "sockets") >= 2.0, "each loop has its listener");
}

#[test]
fn connections_are_counted_idle_writing_and_handled_as_they_go() {
    // One loop: the stats request is served after the other connection's
    // poll ends, so the gauges are exact.
    let server = TestServer::start(hello_app().debug_page("/_eddy"));
    let mut idle = server.client();
    idle.send(get("/"));
    assert_eq!(idle.response().status, 200);
    let stats = fetch_json(&server, "/_eddy/stats.json");
    let connections = stats.get("server").get("connections");
    // The keep-alive client waits idle; the stats request is being handled.
    assert_eq!(connections.get("active").num(), 2.0, "{stats:?}");
    assert_eq!(connections.get("idle").num(), 1.0, "{stats:?}");
    assert_eq!(connections.get("writing").num(), 1.0, "{stats:?}");
    assert_eq!(connections.get("reading").num(), 0.0, "{stats:?}");
    drop(idle);
    wait_until("both connections are handled", || {
        fetch_json(&server, "/_eddy/stats.json").get("server").get("handled").num() >= 2.0
    });
}

// ----- tasks.json -----------------------------------------------------------

#[test]
fn tasks_json_lists_the_connection_tasks_with_who_holds_their_wakers() {
    let server = TestServer::start(hello_app().debug_page("/_eddy"));
    let mut idle = server.client();
    idle.send(get("/"));
    assert_eq!(idle.response().status, 200);
    let tasks = fetch_json(&server, "/_eddy/tasks.json");
    let loops = tasks.get("loops").list();
    assert_eq!(loops.len(), 1);
    let rows = loops[0].get("tasks").list();
    for row in rows {
        assert!(["scheduled", "running", "idle", "finished"].contains(&row.get("state").text()), "{row:?}");
        assert!(row.get("polls").num() >= 0.0);
        assert!(matches!(row.get("name"), Json::Null | Json::Text(_)));
        assert!(matches!(row.get("busy_ns"), Json::Null | Json::Number(_)));
        assert!(matches!(row.get("since_poll_ns"), Json::Null | Json::Number(_)));
        assert!(matches!(row.get("waker"), Json::Null | Json::Text(_)));
        assert!(matches!(row.get("lost"), Json::Bool(false)), "{row:?}");
        assert!(row.get("id").text().contains('.'), "a task id reads loop.task");
    }
    let connections: Vec<&Json> =
        rows.iter().filter(|row| row.get("name") == &Json::Text("eddy-http connection".into())).collect();
    assert_eq!(connections.len(), 2, "the idle client's and this request's: {rows:?}");
    let waiting = connections.iter().find(|row| row.get("state").text() == "idle").expect("the idle one");
    assert!(waiting.get("waker").text().contains("socket fd"), "{waiting:?}");
    assert!(connections.iter().any(|row| row.get("state").text() == "running"), "this request's");
}

// ----- timeline.json ----------------------------------------------------------

#[test]
fn timeline_json_has_polls_parks_and_wakes_on_one_axis() {
    let server = TestServer::start_with(two_loops(), hello_app().debug_page("/_eddy"));
    for _ in 0..3 {
        assert_eq!(fetch(&server, "/").status, 200);
    }
    let timeline = fetch_json(&server, "/_eddy/timeline.json?ms=10000");
    let now = timeline.get("now_ns").num();
    assert_eq!(timeline.get("window_ns").num(), 1e10);
    let loops = timeline.get("loops").list();
    assert_eq!(loops.len(), 2);
    let mut polls = 0;
    for l in loops {
        l.get("id").num();
        for poll in l.get("polls").list() {
            let [start, duration, task, name] = poll.list() else { panic!("a poll is 4 fields: {poll:?}") };
            assert!(start.num() >= 0.0 && start.num() <= now && duration.num() >= 0.0);
            assert!(task.text().contains('.') && !name.text().is_empty());
            polls += 1;
        }
        assert!(!l.get("parks").list().is_empty(), "an idle loop parks");
        for park in l.get("parks").list() {
            let [start, duration] = park.list() else { panic!("a park is 2 fields: {park:?}") };
            assert!(
                start.num() >= 0.0 && start.num() + duration.num() <= now + 1.0,
                "{park:?} now {now} loop {:?}",
                l.get("id")
            );
        }
        for wake in l.get("wakes").list() {
            let [at, cause, task] = wake.list() else { panic!("a wake is 3 fields: {wake:?}") };
            assert!(at.num() <= now && !cause.text().is_empty() && task.text().contains('.'));
        }
    }
    assert!(polls > 0);
    let names: Vec<String> = loops
        .iter()
        .flat_map(|l| l.get("polls").list().iter().map(|p| p.list()[3].text().to_string()))
        .collect();
    assert!(names.iter().any(|name| name == "eddy-http connection"), "{names:?}");
    // The span is capped, and defaults to a second.
    assert_eq!(fetch_json(&server, "/_eddy/timeline.json?ms=999999").get("window_ns").num(), 1e10);
    assert_eq!(fetch_json(&server, "/_eddy/timeline.json").get("window_ns").num(), 1e9);
}

// ----- trace.json -------------------------------------------------------------

#[test]
fn trace_json_is_a_chrome_trace_download() {
    let server = TestServer::start_with(two_loops(), hello_app().debug_page("/_eddy"));
    let reply = fetch(&server, "/_eddy/trace.json");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-disposition"), Some("attachment; filename=\"eddy-trace.json\""));
    let trace = Json::parse(&reply.body_text());
    assert!(!trace.get("traceEvents").list().is_empty());
}

// ----- events ---------------------------------------------------------------

#[test]
fn events_sends_stats_timeline_and_tasks_at_once() {
    let server = TestServer::start(hello_app().debug_page("/_eddy"));
    let mut client = server.client();
    client.send(get("/_eddy/events"));
    let head = client.until("\r\n\r\n");
    assert!(head.contains("Content-Type: text/event-stream"), "{head}");
    let mut seen = Vec::new();
    while seen.len() < 3 {
        // Each event's `data:` line is one JSON document.
        let event = client.until("\ndata: ");
        let name = event.rsplit("event: ").next().unwrap().trim_end_matches("\ndata: ").to_string();
        let data = client.until("\n\n");
        let doc = Json::parse(data.trim_end());
        match name.as_str() {
            "stats" => assert!(doc.get("uptime_ns").num() > 0.0),
            "timeline" => assert_eq!(doc.get("window_ns").num(), 1e9),
            "tasks" => assert_eq!(doc.get("loops").list().len(), 1),
            other => panic!("unexpected event {other:?}"),
        }
        seen.push(name);
    }
    seen.sort();
    assert_eq!(seen, ["stats", "tasks", "timeline"], "all three, the first of each at once");
}

// ----- The token ------------------------------------------------------------

#[test]
fn a_loopback_server_without_a_token_needs_none() {
    let server = TestServer::start(hello_app().debug_page("/_eddy"));
    assert_eq!(fetch(&server, "/_eddy/stats.json").status, 200);
}

#[test]
fn a_server_with_an_explicit_token_requires_it_on_every_path() {
    let server = TestServer::start(hello_app().debug_page("/_eddy").debug_page_token("s3cret"));
    for path in [
        "/_eddy",
        "/_eddy/stats.json",
        "/_eddy/tasks.json",
        "/_eddy/timeline.json",
        "/_eddy/trace.json",
        "/_eddy/events",
    ] {
        let reply = fetch(&server, path);
        assert_eq!(reply.status, 401, "{path}");
        let body = reply.body_text();
        assert!(body.contains("token") && !body.contains("s3cret"), "{path}: {body}");
        assert_eq!(fetch(&server, &format!("{path}?token=wrong")).status, 401, "{path}");
    }
    assert_eq!(fetch(&server, "/_eddy/stats.json?token=s3cret").status, 200);
    let mut client = server.client();
    client.send("GET /_eddy/tasks.json HTTP/1.1\r\nHost: x\r\nX-Eddy-Token: s3cret\r\n\r\n");
    assert_eq!(client.response().status, 200);
    // The app's own routes are not the page's: no token.
    assert_eq!(fetch(&server, "/").status, 200);
}

#[test]
fn a_unix_socket_server_needs_no_token() {
    use std::io::{Read as _, Write as _};
    let path = std::env::temp_dir().join(format!("eddy-debug-page-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let reply = eddy::run(async {
        let server = eddy_http::Server::bind_unix(&path, hello_app().debug_page("/_eddy")).await.unwrap();
        let client_path = path.clone();
        let reply = eddy::task::spawn_blocking(move || {
            let mut stream = std::os::unix::net::UnixStream::connect(&client_path).unwrap();
            stream.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
            stream.write_all(get("/_eddy/stats.json").as_bytes()).unwrap();
            let mut received = Vec::new();
            loop {
                if let Some((reply, _)) = parse_reply(&received, false) {
                    return reply;
                }
                let mut chunk = [0u8; 4096];
                let n = stream.read(&mut chunk).expect("the answer");
                assert!(n > 0, "closed before the answer");
                received.extend_from_slice(&chunk[..n]);
            }
        })
        .await
        .unwrap();
        server.shutdown().await.unwrap();
        reply
    });
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(Json::parse(&reply.body_text()).get("loops").list().len(), 1);
}
