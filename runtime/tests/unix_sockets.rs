//! Unix domain sockets: streams with the byte-stream helpers, the socket
//! file's lifecycle (bind creates, drop removes only what it created, an
//! existing path is refused with advice), and datagrams.
#![cfg(unix)]

use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use eddy::io::{AsyncReadExt, BufReader};
use eddy::net::{UnixDatagram, UnixListener, UnixStream};

/// A fresh socket path in the temp dir, unique per process and call.
fn socket_path(name: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("eddy-test-{}-{n}-{name}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

/// Polls a `futures_core::Stream` to its next item.
async fn next<S: futures_core::Stream + Unpin>(stream: &mut S) -> Option<S::Item> {
    std::future::poll_fn(|cx| std::pin::Pin::new(&mut *stream).poll_next(cx)).await
}

#[test]
fn a_line_protocol_runs_over_a_unix_stream() {
    let path = socket_path("lines");
    eddy::run(async {
        let listener = UnixListener::bind(&path).unwrap();
        let server = eddy::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let mut lines = BufReader::new(&stream).lines();
            while let Some(line) = next(&mut lines).await {
                stream.write_all(format!("{}\n", line.unwrap().to_uppercase()).as_bytes()).await.unwrap();
            }
        });
        let client = UnixStream::connect(&path).await.unwrap();
        client.write_all(b"hello\nunix\n").await.unwrap();
        client.shutdown().await.unwrap();
        let mut replies = String::new();
        let mut bytes = Vec::new();
        (&client).read_to_end(&mut bytes).await.unwrap();
        replies.push_str(std::str::from_utf8(&bytes).unwrap());
        assert_eq!(replies, "HELLO\nUNIX\n");
        server.await.unwrap();
    });
}

#[test]
fn dropping_the_listener_removes_the_socket_file_it_created() {
    let path = socket_path("created");
    eddy::run(async {
        let listener = UnixListener::bind(&path).unwrap();
        assert!(path.exists());
        drop(listener);
        assert!(!path.exists());
    });
}

#[test]
fn bind_refuses_an_existing_path_names_it_suggests_removing_a_stale_socket_and_removes_nothing() {
    let path = socket_path("stale");
    std::fs::write(&path, b"not ours").unwrap();
    eddy::run(async {
        let error = UnixListener::bind(&path).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::AddrInUse);
        let message = error.to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains("stale socket file: remove it"), "{message}");
    });
    assert_eq!(std::fs::read(&path).unwrap(), b"not ours", "bind removed nothing");
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_listener_leaves_alone_a_file_that_replaced_its_socket() {
    let path = socket_path("replaced");
    eddy::run(async {
        let listener = UnixListener::bind(&path).unwrap();
        // Someone else takes over the path (a newer server, say).
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, b"newer").unwrap();
        drop(listener);
    });
    assert_eq!(std::fs::read(&path).unwrap(), b"newer");
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn connecting_to_a_missing_socket_names_the_path() {
    let path = socket_path("missing");
    eddy::run(async {
        let error = UnixStream::connect(&path).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::NotFound);
        assert!(error.to_string().contains(&format!("connect to unix socket {}", path.display())), "{error}");
    });
}

#[test]
fn a_stream_pair_carries_bytes_both_ways_through_the_futures_io_traits() {
    eddy::run(async {
        let (a, mut b) = UnixStream::pair().unwrap();
        let payload: Vec<u8> = (0..300_000u32).map(|i| (i % 241) as u8).collect();
        let expected = payload.clone();
        let writer = eddy::spawn(async move {
            a.write_all(&payload).await.unwrap();
        });
        let mut received = vec![0; expected.len()];
        b.read_exact(&mut received).await.unwrap();
        assert_eq!(received, expected);
        writer.await.unwrap();
    });
}

#[test]
fn datagrams_keep_their_boundaries_and_name_their_sender() {
    let server_path = socket_path("dgram-server");
    let client_path = socket_path("dgram-client");
    eddy::run(async {
        let server = UnixDatagram::bind(&server_path).unwrap();
        let client = UnixDatagram::bind(&client_path).unwrap();
        client.send_to(b"one", &server_path).await.unwrap();
        client.send_to(b"two", &server_path).await.unwrap();
        let mut buf = [0; 16];
        let (n, from) = server.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"one");
        assert_eq!(from.as_pathname(), Some(client_path.as_path()));
        let (n, _) = server.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"two");
        let error = UnixDatagram::bind(&server_path).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::AddrInUse);
        assert!(error.to_string().contains("stale socket file"), "{error}");
        let (a, b) = UnixDatagram::pair().unwrap();
        a.send(b"paired").await.unwrap();
        let n = b.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"paired");
    });
    std::fs::remove_file(&server_path).unwrap();
    std::fs::remove_file(&client_path).unwrap();
}

#[test]
fn try_read_and_try_write_never_wait_and_readiness_can_be_awaited_without_a_buffer() {
    eddy::run(async {
        let (a, b) = UnixStream::pair().unwrap();
        let mut buf = [0; 8];
        assert_eq!(b.try_read(&mut buf).unwrap_err().kind(), io::ErrorKind::WouldBlock);
        assert_eq!(a.try_write(b"now").unwrap(), 3);
        std::future::poll_fn(|cx| b.poll_read_ready(cx)).await.unwrap();
        assert_eq!(b.try_read(&mut buf).unwrap(), 3);
        assert_eq!(&buf[..3], b"now");
    });
}

#[test]
fn a_unix_stream_splits_into_halves_for_two_tasks_and_reunites() {
    eddy::run(async {
        let (a, b) = UnixStream::pair().unwrap();
        let (reader, writer) = a.into_split();
        let writing = eddy::spawn(async move {
            writer.write_all(b"from the write half").await.unwrap();
            writer
        });
        let mut buf = [0; 19];
        (&b).read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"from the write half");
        b.write_all(b"back").await.unwrap();
        let mut back = [0; 4];
        let mut reader = reader;
        reader.read_exact(&mut back).await.unwrap();
        assert_eq!(&back, b"back");
        let writer = writing.await.unwrap();
        let a = reader.reunite(writer).unwrap();
        a.write_all(b"!").await.unwrap();
        let mut last = [0; 1];
        (&b).read_exact(&mut last).await.unwrap();
        assert_eq!(&last, b"!");
        // Dropping the write half of a split sends EOF.
        let (_reader, writer) = a.into_split();
        drop(writer);
        let mut rest = Vec::new();
        (&b).read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty());
    });
}
