//! eddy-http marks each request in the runtime's flight recorder
//! (`eddy::trace`): connection accepted, request head parsed, response
//! written (status and bytes), connection closed, so one request can be
//! followed on the timeline from accept to write.

mod http_support;

use eddy_http::{App, Response, StatusCode};
use http_support::{get, TestServer};

/// The user events of a trace, in order: (name, args) as JSON text.
fn http_events(json: &str) -> Vec<String> {
    json.lines()
        .filter(|line| line.contains("\"cat\":\"user\"") && line.contains("\"name\":\"http "))
        .map(|line| {
            let name = line.split("\"name\":\"").nth(1).and_then(|rest| rest.split('"').next()).unwrap_or("");
            let args = line.split("\"args\":").nth(1).unwrap_or("").trim_end_matches(['}', ',']);
            format!("{name} {args}")
        })
        .collect()
}

#[test]
fn a_request_can_be_followed_from_accept_to_write() {
    let path = std::env::temp_dir().join(format!("eddy-http-trace-{}.json", std::process::id()));
    let mut builder = eddy::Builder::new();
    builder.trace_on_drop(&path);
    let app = App::new()
        .get("/", |_req| async { "hello" })
        .get("/missing", |_req| async { Response::text("nope").with_status(StatusCode::NOT_FOUND) });
    let server = TestServer::start_with(builder, app);
    let mut client = server.client();
    client.send(get("/"));
    assert_eq!(client.response().status, 200);
    client.send(get("/missing"));
    assert_eq!(client.response().status, 404);
    drop(client);
    server.shutdown().unwrap();

    let json = std::fs::read_to_string(&path).expect("the trace is written when the server's runtime drops");
    let _ = std::fs::remove_file(&path);
    let events = http_events(&json);
    let find = |prefix: &str| events.iter().position(|event| event.starts_with(prefix));
    let accepted = find("http connection accepted").expect("accepted");
    let first = find("http request head parsed {\"conn\":").expect("a head");
    let written = find("http response written {\"status\":200,").expect("a 200 written");
    let not_found = find("http response written {\"status\":404,").expect("a 404 written");
    let closed = find("http connection closed").expect("closed");
    assert!(accepted < first && first < written && written < not_found && not_found < closed, "{events:#?}");
    assert!(events[closed].contains("\"requests\":2"), "{}", events[closed]);
    let bytes: u32 =
        events[written].split("\"bytes\":").nth(1).unwrap().trim_end_matches('}').parse().unwrap();
    assert!(bytes > "hello".len() as u32, "the bytes count the whole response, head included: {bytes}");
}
