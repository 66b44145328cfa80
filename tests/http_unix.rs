//! `Server::bind_unix`: eddy-http on a Unix domain socket (aiohttp's
//! `UnixSite`), tested with a real client over a real socket file: exact
//! answers, keep-alive and pipelining, graceful shutdown (the request in
//! flight is answered, the file is removed), and a clear error for a path
//! that exists.
#![cfg(unix)]

mod http_support;

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::Duration;

use eddy::sync::oneshot;
use eddy_http::{App, Request, Response, Server};
use http_support::{get, ok, parse_reply, reply, Reply};

/// How long the client waits for the server before the test fails; never
/// reached by a passing test.
const PATIENCE: Duration = Duration::from_secs(10);

/// A fresh socket path for `test`, in the temp directory (short enough for
/// `sun_path`'s 108 bytes).
fn socket_path(test: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("eddy-unix-{}-{test}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

async fn greet(req: Request) -> Response {
    let name = req.param("name").unwrap_or("Anonymous");
    Response::text(format!("Hello, {name}!"))
}

/// A server on a Unix socket, on its own thread and runtime.
struct UnixServer {
    path: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<io::Result<()>>>,
}

impl UnixServer {
    fn start(path: &Path, app: App) -> UnixServer {
        let (stop, stopped) = oneshot::channel::<()>();
        let (ready_tx, ready) = mpsc::channel();
        let bind_path = path.to_path_buf();
        let thread = thread::spawn(move || {
            eddy::run(async move {
                let server = match Server::bind_unix(&bind_path, app).await {
                    Ok(server) => server,
                    Err(error) => {
                        let _ = ready_tx.send(Err(error.to_string()));
                        return Err(error);
                    }
                };
                let _ = ready_tx.send(Ok(()));
                let _ = stopped.await;
                server.shutdown().await
            })
        });
        ready.recv().expect("server thread died").expect("server failed to start");
        UnixServer { path: path.to_path_buf(), stop: Some(stop), thread: Some(thread) }
    }

    fn client(&self) -> Client {
        Client::connect(&self.path)
    }

    /// Starts the graceful shutdown without waiting for it.
    fn begin_shutdown(&mut self) {
        let _ = self.stop.take().expect("stopped twice").send(());
    }

    /// Waits for the shutdown begun by `begin_shutdown`.
    fn join(mut self) -> io::Result<()> {
        self.thread.take().expect("joined twice").join().expect("server thread panicked")
    }
}

impl Drop for UnixServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A raw Unix socket client: exact bytes in, whole responses out.
struct Client {
    stream: UnixStream,
    buf: Vec<u8>,
}

impl Client {
    fn connect(path: &Path) -> Client {
        let stream = UnixStream::connect(path).expect("connect to the unix socket");
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        stream.set_write_timeout(Some(PATIENCE)).unwrap();
        Client { stream, buf: Vec::new() }
    }

    fn send(&mut self, bytes: impl AsRef<[u8]>) {
        self.stream.write_all(bytes.as_ref()).expect("send to the server");
    }

    fn response(&mut self) -> Reply {
        loop {
            if let Some((reply, used)) = parse_reply(&self.buf, false) {
                self.buf.drain(..used);
                return reply;
            }
            let mut chunk = [0; 64 * 1024];
            let n = self.stream.read(&mut chunk).expect("read a response");
            assert!(n > 0, "closed before a whole response; got {:?}", String::from_utf8_lossy(&self.buf));
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    fn assert_closed(&mut self) {
        let mut rest = Vec::new();
        self.stream.read_to_end(&mut rest).expect("wait for the close");
        assert!(rest.is_empty(), "expected a close, got {:?}", String::from_utf8_lossy(&rest));
    }
}

#[test]
fn get_root_and_get_name_answer_the_exact_greetings() {
    let path = socket_path("greet");
    let server = UnixServer::start(&path, App::new().get("/", greet).get("/{name}", greet));
    let mut client = server.client();
    client.send(get("/"));
    assert_eq!(client.response().text(), ok("Hello, Anonymous!"));
    client.send(get("/Alice"));
    assert_eq!(client.response().text(), ok("Hello, Alice!"));
    client.send(get("/J%C3%BCrgen"));
    assert_eq!(client.response().text(), ok("Hello, Jürgen!"));
}

#[test]
fn a_kept_alive_connection_answers_pipelined_requests_in_order() {
    let path = socket_path("pipeline");
    let server = UnixServer::start(&path, App::new().get("/", greet).get("/{name}", greet));
    let mut client = server.client();
    client.send(format!("{}{}{}", get("/a"), get("/b"), get("/")));
    assert_eq!(client.response().text(), ok("Hello, a!"));
    assert_eq!(client.response().text(), ok("Hello, b!"));
    assert_eq!(client.response().text(), ok("Hello, Anonymous!"));
    // Still open for more, one at a time.
    for name in ["c", "d"] {
        client.send(get(&format!("/{name}")));
        assert_eq!(client.response().text(), ok(&format!("Hello, {name}!")));
    }
}

#[test]
fn a_request_has_no_peer_address_over_a_unix_socket() {
    let path = socket_path("peer");
    let app = App::new().get("/", |req: Request| async move { format!("{:?}", req.peer_addr()) });
    let server = UnixServer::start(&path, app);
    let mut client = server.client();
    client.send(get("/"));
    assert_eq!(client.response().text(), ok("None"));
}

#[test]
fn shutdown_answers_the_request_in_flight_then_removes_the_socket_file() {
    let path = socket_path("shutdown");
    let (started_tx, started) = mpsc::channel::<()>();
    let started_tx = Mutex::new(started_tx);
    let watched = path.clone();
    let cleaned = Arc::new(AtomicUsize::new(0));
    let cleaned_by_hook = cleaned.clone();
    let app = App::new()
        .get("/in-flight", move |_req| {
            started_tx.lock().unwrap().send(()).unwrap();
            let watched = watched.clone();
            async move {
                // Finish only once the server has stopped accepting (its
                // socket file is gone): then this request is certainly in
                // flight during the shutdown.
                while watched.exists() {
                    eddy::time::sleep(Duration::from_millis(1)).await;
                }
                "finished after the listener closed"
            }
        })
        .on_cleanup(move || {
            let cleaned = cleaned_by_hook.clone();
            async move {
                cleaned.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
        });
    let mut server = UnixServer::start(&path, app);
    assert!(path.exists(), "bind_unix did not create the socket file");
    let mut client = server.client();
    client.send(get("/in-flight"));
    started.recv_timeout(PATIENCE).expect("the handler never started");

    server.begin_shutdown();
    assert_eq!(
        client.response().text(),
        reply("200 OK", &[], "finished after the listener closed", Some("close"))
    );
    client.assert_closed();
    // Closed on our side too, or the server lingers for it up to its grace.
    drop(client);
    server.join().expect("shutdown failed");
    assert!(!path.exists(), "the socket file outlived the server");
    assert!(UnixStream::connect(&path).is_err(), "a client could still connect");
    assert_eq!(cleaned.load(Ordering::SeqCst), 1, "the cleanup hook did not run once");
}

#[test]
fn an_existing_path_is_a_clear_error_and_is_left_alone() {
    let path = socket_path("exists");
    std::fs::write(&path, b"not a socket").unwrap();
    let hooks = Arc::new(AtomicUsize::new(0));
    let (started, cleaned) = (hooks.clone(), hooks.clone());
    let app = App::new()
        .get("/", greet)
        .on_startup(move || {
            let started = started.clone();
            async move {
                started.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
        })
        .on_cleanup(move || {
            let cleaned = cleaned.clone();
            async move {
                cleaned.fetch_add(10, Ordering::SeqCst);
                Ok(())
            }
        });
    let error = eddy::run(Server::bind_unix(&path, app)).expect_err("bound over an existing file");
    assert_eq!(error.kind(), io::ErrorKind::AddrInUse, "{error}");
    let message = error.to_string();
    assert!(message.contains(&path.display().to_string()), "the error does not name the path: {message}");
    assert!(message.contains("stale socket file"), "the error does not say what to do: {message}");
    assert_eq!(std::fs::read(&path).unwrap(), b"not a socket", "the existing file was touched");
    assert_eq!(hooks.load(Ordering::SeqCst), 11, "startup ran once and its cleanup once");
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn the_second_bind_of_a_live_path_fails_and_the_first_server_keeps_serving() {
    let path = socket_path("twice");
    let server = UnixServer::start(&path, App::new().get("/", greet));
    let error = eddy::run(Server::bind_unix(&path, App::new())).expect_err("bound a live socket twice");
    assert_eq!(error.kind(), io::ErrorKind::AddrInUse, "{error}");
    let mut client = server.client();
    client.send(get("/"));
    assert_eq!(client.response().text(), ok("Hello, Anonymous!"));
}

#[test]
fn at_the_connection_cap_an_idle_unix_connection_is_reclaimed_for_a_new_client() {
    let path = socket_path("cap");
    let limits = eddy_http::Limits { max_connections: 1, ..eddy_http::Limits::default() };
    let server = UnixServer::start(&path, App::new().get("/{name}", greet).limits(limits));
    let mut first = server.client();
    first.send(get("/first"));
    assert_eq!(first.response().text(), ok("Hello, first!"));
    // `first` now idles on the only slot: the new client takes it.
    let mut second = server.client();
    second.send(get("/second"));
    first.assert_closed();
    drop(first);
    assert_eq!(second.response().text(), ok("Hello, second!"));
}
