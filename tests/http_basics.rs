//! The basics, byte for byte: routing (static beats `{param}`, 404, 405 with
//! `Allow`), HEAD, the headers every response carries (`Date`, `Server`,
//! `Content-Length`), percent-decoded parameters, the query string, and the
//! headers a handler may not set.

mod http_support;

use eddy_http::{App, Method, Request, Response, StatusCode};
use http_support::{get, ok, refusal, reply, TestServer};

async fn greet(req: Request) -> Response {
    let name = req.param("name").unwrap_or("Anonymous");
    Response::text(format!("Hello, {name}!"))
}

fn app() -> App {
    App::new()
        .get("/", greet)
        .get("/{name}", greet)
        .get("/about", |_req| async { "about" })
        .post("/{name}", |_req| async { "posted to a name" })
        .post("/items/{id}", |req: Request| {
            let id = req.param("id").unwrap_or_default().to_string();
            async move { format!("updated {id}") }
        })
        .route(Method::Put, "/items/{id}", |_req| async { "put" })
        .get("/users/{user}/posts/{post}", |req: Request| {
            let text = format!("{} {}", req.param("user").unwrap(), req.param("post").unwrap());
            async move { text }
        })
        .get("/search", |req: Request| {
            let text = format!(
                "path={} query={:?} q={:?} missing={:?}",
                req.path(),
                req.query(),
                req.query_param("q"),
                req.query_param("missing")
            );
            async move { text }
        })
        .get("/echo-header", |req: Request| {
            let text = format!("{:?}", req.header("x-name"));
            async move { text }
        })
        .get("/nothing", |_req| async { Response::empty(StatusCode::NO_CONTENT) })
        .get("/created", |_req| async {
            Response::text("made").with_status(StatusCode::CREATED).with_header("Location", "/made")
        })
        .get("/liar", |_req| async {
            Response::text("four")
                .with_header("Content-Length", "999")
                .with_header("Transfer-Encoding", "chunked")
                .with_header("Connection", "close")
                .with_header("X-Evil", "a\r\nSet-Cookie: stolen")
        })
}

#[test]
fn a_get_is_answered_with_status_server_date_type_and_length_exactly() {
    let server = TestServer::start(app());
    let mut client = server.client();
    client.send(get("/"));
    let reply = client.response();
    assert_eq!(reply.text(), ok("Hello, Anonymous!"));
}

#[test]
fn a_param_segment_is_passed_to_the_handler() {
    let server = TestServer::start(app());
    let mut client = server.client();
    client.send(get("/Alice"));
    assert_eq!(client.response().text(), ok("Hello, Alice!"));
}

#[test]
fn a_static_segment_beats_a_param_whatever_the_registration_order() {
    let server = TestServer::start(app());
    let mut client = server.client();
    client.send(get("/about"));
    assert_eq!(client.response().text(), ok("about"));
}

#[test]
fn several_params_are_each_passed_by_name() {
    let server = TestServer::start(app());
    let mut client = server.client();
    client.send(get("/users/ann/posts/42"));
    assert_eq!(client.response().text(), ok("ann 42"));
}

#[test]
fn a_param_is_percent_decoded_and_its_length_counted_in_bytes() {
    let server = TestServer::start(app());
    let mut client = server.client();
    client.send(get("/J%C3%BCrgen%20Smith"));
    assert_eq!(client.response().text(), ok("Hello, Jürgen Smith!"));
    // An encoded slash stays inside its segment.
    client.send(get("/a%2Fb"));
    assert_eq!(client.response().text(), ok("Hello, a/b!"));
}

/// Parameters read right whether the target has a `%` or not (the server
/// reads them where the router found them unless there is one), wherever
/// the `%` is (in a parameter, in another one, only in the query), and
/// in pipelined requests that reuse the same recycled storage one after
/// the other.
#[test]
fn params_read_the_same_with_and_without_escapes_in_pipelined_requests() {
    let server = TestServer::start(app());
    let mut client = server.client();
    let cases = [
        ("/users/ann/posts/42", "ann 42"),
        ("/users/J%C3%BCrgen/posts/7", "Jürgen 7"),
        ("/users/bob/posts/%34%32", "bob 42"),
        ("/users/cy/posts/9?q=%20", "cy 9"),
        ("/users/d%25e/posts/1", "d%e 1"),
        ("/users/eve/posts/100", "eve 100"),
    ];
    let batch: String = cases.iter().map(|(path, _)| get(path)).collect();
    client.send(batch);
    for (path, expected) in cases {
        assert_eq!(client.response().text(), ok(expected), "{path}");
    }
    client.send(format!("{}{}{}", get("/%41nn"), get("/Bo"), get("/")));
    assert_eq!(client.response().text(), ok("Hello, Ann!"));
    assert_eq!(client.response().text(), ok("Hello, Bo!"));
    assert_eq!(client.response().text(), ok("Hello, Anonymous!"));
}

#[test]
fn a_param_that_decodes_to_invalid_utf8_is_refused_with_400_and_closed() {
    let server = TestServer::start(app());
    let mut client = server.client();
    client.send(format!("{}{}", get("/%FF%FE"), get("/never")));
    let reply = client.response();
    assert_eq!(
        reply.text(),
        refusal("400 Bad Request", Some("route parameter with invalid percent-encoding or UTF-8"))
    );
    client.assert_closed();
}

#[test]
fn a_param_with_a_malformed_escape_is_refused_with_400_and_closed() {
    let server = TestServer::start(app());
    let mut client = server.client();
    client.send(get("/bad%zzescape"));
    assert_eq!(
        client.response().text(),
        refusal("400 Bad Request", Some("route parameter with invalid percent-encoding or UTF-8"))
    );
    client.assert_closed();
}

#[test]
fn an_unknown_path_gets_404_and_the_connection_stays_open() {
    let server = TestServer::start(app());
    let mut client = server.client();
    client.send(get("/no/such/path"));
    assert_eq!(client.response().text(), reply("404 Not Found", &[], "404 Not Found\n", None));
    client.send(get("/"));
    assert_eq!(client.response().text(), ok("Hello, Anonymous!"));
}

#[test]
fn a_trailing_slash_or_an_empty_segment_is_a_different_path() {
    let server = TestServer::start(app());
    let mut client = server.client();
    for path in ["/Alice/", "//", "/users//posts/1"] {
        client.send(get(path));
        assert_eq!(client.response().status, 404, "{path}");
    }
}

#[test]
fn a_known_path_with_the_wrong_method_gets_405_with_allow_and_stays_open() {
    let server = TestServer::start(app());
    let mut client = server.client();
    client.send("DELETE /about HTTP/1.1\r\nHost: test\r\n\r\n");
    assert_eq!(
        client.response().text(),
        reply("405 Method Not Allowed", &["Allow: GET, HEAD, POST"], "405 Method Not Allowed\n", None)
    );
    client.send("GET /items/7 HTTP/1.1\r\nHost: test\r\n\r\n");
    assert_eq!(
        client.response().text(),
        reply("405 Method Not Allowed", &["Allow: POST, PUT"], "405 Method Not Allowed\n", None)
    );
    client.send("POST /items/7 HTTP/1.1\r\nHost: test\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(client.response().text(), ok("updated 7"));
}

#[test]
fn a_less_specific_route_answers_when_the_best_match_lacks_the_method() {
    // `/about` beats `/{name}` but has no POST handler; `/{name}` has one.
    let server = TestServer::start(app());
    let mut client = server.client();
    client.send("POST /about HTTP/1.1\r\nHost: test\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(client.response().text(), ok("posted to a name"));
}

#[test]
fn head_gets_the_get_headers_with_the_length_and_no_body() {
    let server = TestServer::start(app());
    let mut client = server.client();
    client.send("HEAD /bob HTTP/1.1\r\nHost: test\r\n\r\n");
    let head = client.head_response();
    let full = ok("Hello, bob!");
    assert_eq!(head.text(), full.strip_suffix("Hello, bob!").unwrap());
    // Had the body been sent, it would be read here as the next response.
    client.send(get("/carol"));
    assert_eq!(client.response().text(), ok("Hello, carol!"));
}

#[test]
fn head_on_an_unknown_path_gets_a_404_head_without_its_body() {
    let server = TestServer::start(app());
    let mut client = server.client();
    client.send("HEAD /no/such/path HTTP/1.1\r\nHost: test\r\n\r\n");
    let head = client.head_response();
    assert_eq!(
        head.text(),
        reply("404 Not Found", &[], "404 Not Found\n", None).replace("404 Not Found\n", "")
    );
    client.send(get("/"));
    assert_eq!(client.response().text(), ok("Hello, Anonymous!"));
}

#[test]
fn a_204_carries_no_content_length_and_no_body() {
    let server = TestServer::start(app());
    let mut client = server.client();
    client.send(get("/nothing"));
    assert_eq!(client.response().text(), "HTTP/1.1 204 No Content\r\nServer: eddy\r\nDate: <date>\r\n\r\n");
    client.send(get("/"));
    assert_eq!(client.response().text(), ok("Hello, Anonymous!"));
}

#[test]
fn a_handler_status_and_header_go_out_as_set() {
    let server = TestServer::start(app());
    let mut client = server.client();
    client.send(get("/created"));
    assert_eq!(client.response().text(), reply("201 Created", &["Location: /made"], "made", None));
}

#[test]
fn framing_headers_and_header_injection_from_a_handler_never_reach_the_wire() {
    let server = TestServer::start(app());
    let mut client = server.client();
    client.send(get("/liar"));
    assert_eq!(client.response().text(), ok("four"));
    client.send(get("/"));
    assert_eq!(client.response().text(), ok("Hello, Anonymous!"));
}

#[test]
fn the_query_is_split_from_the_path_and_decoded_on_request() {
    let server = TestServer::start(app());
    let mut client = server.client();
    client.send(get("/search?x=1&q=caf%C3%A9+au+lait&q=second"));
    assert_eq!(
        client.response().text(),
        ok(
            r#"path=/search query=Some("x=1&q=caf%C3%A9+au+lait&q=second") q=Some("café au lait") missing=None"#
        )
    );
    client.send(get("/search"));
    assert_eq!(client.response().text(), ok("path=/search query=None q=None missing=None"));
}

#[test]
fn request_headers_are_found_case_insensitively() {
    let server = TestServer::start(app());
    let mut client = server.client();
    client.send("GET /echo-header HTTP/1.1\r\nHost: test\r\nX-NAME:   padded value  \r\n\r\n");
    assert_eq!(client.response().text(), ok(r#"Some("padded value")"#));
}

#[test]
fn an_absolute_form_target_is_routed_by_its_path() {
    let server = TestServer::start(app());
    let mut client = server.client();
    client.send("GET http://test/dave?x=1 HTTP/1.1\r\nHost: test\r\n\r\n");
    assert_eq!(client.response().text(), ok("Hello, dave!"));
}

#[test]
fn the_server_header_can_be_renamed_and_a_handler_may_set_its_own_date() {
    let app = App::new()
        .get("/", |_req| async { "x" })
        .get("/dated", |_req| async {
            Response::text("x").with_header("Date", "Sun, 06 Nov 1994 08:49:37 GMT")
        })
        .server_name("test-server/1");
    let server = TestServer::start(app);
    let mut client = server.client();
    client.send(get("/"));
    assert_eq!(client.response().text(), ok("x").replace("Server: eddy", "Server: test-server/1"));
    client.send(get("/dated"));
    assert_eq!(
        String::from_utf8(client.response().raw).unwrap(),
        "HTTP/1.1 200 OK\r\nServer: test-server/1\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Date: Sun, 06 Nov 1994 08:49:37 GMT\r\nContent-Length: 1\r\n\r\nx"
    );
}

#[test]
fn every_loop_of_a_multi_loop_runtime_serves_the_same_app() {
    let mut builder = eddy::Builder::new();
    builder.workers(2);
    let server = TestServer::start_with(builder, app());
    // SO_REUSEPORT hands each connection to one loop by a hash of its
    // addresses; every connection must be served, whichever loop has it.
    let mut clients: Vec<_> = (0..32).map(|_| server.client()).collect();
    for (i, client) in clients.iter_mut().enumerate() {
        client.send(get(&format!("/c{i}")));
    }
    for (i, client) in clients.iter_mut().enumerate() {
        assert_eq!(client.response().text(), ok(&format!("Hello, c{i}!")));
    }
    server.shutdown().unwrap();
}
