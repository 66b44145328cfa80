//! Byte streams over real TCP sockets: the futures-io traits, asyncio's
//! `readexactly` / `readline` / `readuntil` / line iteration / copy, line
//! limits, split halves, peek and socket options.

use std::future::Future;
use std::io;
use std::time::Duration;

use eddy::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use eddy::net::{TcpListener, TcpSocket, TcpStream};

/// A connected (client, server) pair on loopback.
async fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    let (server, _) = listener.accept().await.unwrap();
    (client, server)
}

/// Polls a `futures_core::Stream` once to completion of its next item.
async fn next<S: futures_core::Stream + Unpin>(stream: &mut S) -> Option<S::Item> {
    std::future::poll_fn(|cx| std::pin::Pin::new(&mut *stream).poll_next(cx)).await
}

#[test]
fn read_exact_gathers_bytes_sent_in_many_small_writes() {
    eddy::run(async {
        let (mut client, server) = pair().await;
        let writer = eddy::spawn(async move {
            for chunk in b"hello, world".chunks(3) {
                server.write_all(chunk).await.unwrap();
                eddy::task::yield_now().await;
            }
        });
        let mut buf = [0; 12];
        client.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"hello, world");
        writer.await.unwrap();
    });
}

#[test]
fn read_exact_says_how_many_bytes_came_before_eof() {
    eddy::run(async {
        let (mut client, server) = pair().await;
        server.write_all(b"abc").await.unwrap();
        drop(server);
        let mut buf = [0; 8];
        let error = client.read_exact(&mut buf).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
        assert!(error.to_string().contains("after 3 of 8 bytes"), "{error}");
    });
}

#[test]
fn read_to_end_returns_everything_until_the_peer_closes() {
    eddy::run(async {
        let (mut client, server) = pair().await;
        let payload: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let expected = payload.clone();
        eddy::spawn(async move { server.write_all(&payload).await });
        let mut received = b"prefix".to_vec();
        let n = client.read_to_end(&mut received).await.unwrap();
        assert_eq!(n, expected.len());
        assert_eq!(&received[6..], &expected[..]);
    });
}

#[test]
fn read_line_and_read_until_return_one_record_each_and_zero_at_eof() {
    eddy::run(async {
        let (client, server) = pair().await;
        server.write_all(b"one\ntwo;three").await.unwrap();
        drop(server);
        let mut reader = BufReader::new(client);
        let mut line = String::new();
        assert_eq!(reader.read_line(&mut line).await.unwrap(), 4);
        assert_eq!(line, "one\n");
        let mut record = Vec::new();
        assert_eq!(reader.read_until(b';', &mut record).await.unwrap(), 4);
        assert_eq!(record, b"two;");
        record.clear();
        // The last record has no delimiter: returned as is, then EOF.
        assert_eq!(reader.read_until(b';', &mut record).await.unwrap(), 5);
        assert_eq!(record, b"three");
        assert_eq!(reader.read_until(b';', &mut record).await.unwrap(), 0);
    });
}

#[test]
fn lines_strip_line_endings_span_buffer_refills_and_end_at_eof() {
    eddy::run(async {
        let (client, server) = pair().await;
        // A 4-byte buffer forces every line to span several refills.
        let writer = eddy::spawn(async move {
            server.write_all(b"alpha\r\nbeta\n\ngamma").await.unwrap();
        });
        let mut lines = BufReader::with_capacity(4, client).lines();
        let mut seen = Vec::new();
        while let Some(line) = next(&mut lines).await {
            seen.push(line.unwrap());
        }
        assert_eq!(seen, ["alpha", "beta", "", "gamma"]);
        assert!(next(&mut lines).await.is_none(), "a finished stream stays finished");
        writer.await.unwrap();
    });
}

#[test]
fn a_line_over_the_limit_is_an_invalid_data_error_naming_the_limit_and_buffers_no_more() {
    eddy::run(async {
        let (client, server) = pair().await;
        // A peer that never sends a newline.
        let flood = eddy::spawn(async move {
            let chunk = [b'x'; 4096];
            while server.write_all(&chunk).await.is_ok() {}
        });
        let mut reader = BufReader::new(client);
        reader.set_max_line_length(10_000);
        let mut record = Vec::new();
        let error = reader.read_until(b'\n', &mut record).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        assert!(error.to_string().contains("10000-byte limit"), "{error}");
        assert_eq!(record.len(), 10_000, "exactly the limit was taken, no more");
        drop(reader);
        flood.await.unwrap();
    });
}

#[test]
fn lines_yield_the_limit_error_once_then_end() {
    eddy::run(async {
        let (client, server) = pair().await;
        server.write_all(b"short\nthis line is far too long\nnext\n").await.unwrap();
        let mut reader = BufReader::new(client);
        reader.set_max_line_length(8);
        let mut lines = reader.lines();
        assert_eq!(next(&mut lines).await.unwrap().unwrap(), "short");
        let error = next(&mut lines).await.unwrap().unwrap_err();
        assert!(error.to_string().contains("8-byte limit"), "{error}");
        assert!(next(&mut lines).await.is_none());
    });
}

#[test]
fn invalid_utf8_in_read_line_is_an_error_and_appends_nothing() {
    eddy::run(async {
        let (client, server) = pair().await;
        server.write_all(b"\xff\xfe\n").await.unwrap();
        let mut reader = BufReader::new(client);
        let mut line = String::from("kept");
        let error = reader.read_line(&mut line).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        assert_eq!(line, "kept");
    });
}

#[test]
fn copy_moves_every_byte_and_counts_them() {
    eddy::run(async {
        let (mut a_client, a_server) = pair().await;
        let (mut b_client, mut b_server) = pair().await;
        let payload: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
        let expected = payload.clone();
        eddy::spawn(async move {
            a_server.write_all(&payload).await.unwrap();
        });
        let copier = eddy::spawn(async move {
            let copied = eddy::io::copy(&mut a_client, &mut b_server).await;
            b_server.close().await.unwrap();
            copied
        });
        let mut received = Vec::new();
        b_client.read_to_end(&mut received).await.unwrap();
        assert_eq!(copier.await.unwrap().unwrap(), expected.len() as u64);
        assert_eq!(received, expected);
    });
}

#[test]
fn futures_io_traits_work_through_shared_references() {
    fn assert_io<T: futures_io::AsyncRead + futures_io::AsyncWrite>() {}
    assert_io::<TcpStream>();
    assert_io::<&TcpStream>();
    eddy::run(async {
        let (client, server) = pair().await;
        let (mut reader, mut writer) = (&client, &client);
        let echo = eddy::spawn(async move {
            let mut buf = [0; 4];
            (&server).read_exact(&mut buf).await.unwrap();
            AsyncWriteExt::write_all(&mut &server, &buf).await.unwrap();
        });
        AsyncWriteExt::write_all(&mut writer, b"ping").await.unwrap();
        let mut buf = [0; 4];
        reader.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");
        echo.await.unwrap();
    });
}

#[test]
fn split_halves_read_and_write_from_two_tasks_and_dropping_the_writer_sends_eof() {
    eddy::run(async {
        let (client, server) = pair().await;
        let (reader, writer) = server.into_split();
        // The server echoes through two tasks: a reader that forwards over
        // a channel, and a writer.
        let (tx, mut rx) = eddy::sync::mpsc::channel::<Vec<u8>>(4);
        let reading = eddy::spawn(async move {
            let mut buf = [0; 64];
            loop {
                let n = reader.read(&mut buf).await.unwrap();
                if n == 0 || tx.send(buf[..n].to_vec()).await.is_err() {
                    return reader;
                }
            }
        });
        let writing = eddy::spawn(async move {
            while let Some(chunk) = rx.recv().await {
                writer.write_all(&chunk).await.unwrap();
            }
            // `writer` drops here: the client must read EOF.
        });
        client.write_all(b"split").await.unwrap();
        client.shutdown().await.unwrap();
        let mut echoed = Vec::new();
        (&client).read_to_end(&mut echoed).await.unwrap();
        assert_eq!(echoed, b"split");
        reading.await.unwrap();
        writing.await.unwrap();
    });
}

#[test]
fn reunite_gives_back_the_stream_and_refuses_halves_of_two_streams() {
    eddy::run(async {
        let (a, _a_peer) = pair().await;
        let (b, _b_peer) = pair().await;
        let (a_read, a_write) = a.into_split();
        let (b_read, b_write) = b.into_split();
        let error = a_read.reunite(b_write).unwrap_err();
        let eddy::net::ReuniteError(a_read, b_write) = error;
        let a = a_read.reunite(a_write).unwrap();
        let b = b_read.reunite(b_write).unwrap();
        assert_ne!(a.local_addr().unwrap(), b.local_addr().unwrap());
        // Reuniting did not shut the stream's writing side down.
        a.write_all(b"still open").await.unwrap();
    });
}

#[test]
fn peek_shows_bytes_that_the_next_read_still_returns() {
    eddy::run(async {
        let (client, server) = pair().await;
        server.write_all(b"peekaboo").await.unwrap();
        let mut peeked = [0; 4];
        let n = client.peek(&mut peeked).await.unwrap();
        assert_eq!(&peeked[..n], &b"peekaboo"[..n]);
        let mut all = [0; 8];
        (&client).read_exact(&mut all).await.unwrap();
        assert_eq!(&all, b"peekaboo");
    });
}

#[test]
fn stream_options_read_back_what_was_set() {
    eddy::run(async {
        let (client, _server) = pair().await;
        client.set_ttl(42).unwrap();
        assert_eq!(client.ttl().unwrap(), 42);
        client.set_keepalive(Some(Duration::from_secs(60))).unwrap();
        assert!(client.keepalive().unwrap());
        client.set_keepalive(None).unwrap();
        assert!(!client.keepalive().unwrap());
        client.set_linger(Some(Duration::from_secs(1))).unwrap();
        assert_eq!(client.linger().unwrap(), Some(Duration::from_secs(1)));
        client.set_linger(None).unwrap();
        assert_eq!(client.linger().unwrap(), None);
    });
}

#[test]
fn tcp_socket_reuseport_lets_two_listeners_share_a_port() {
    eddy::run(async {
        let first = TcpSocket::new_v4().unwrap();
        first.set_reuseaddr(true).unwrap();
        first.set_reuseport(true).unwrap();
        first.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = first.local_addr().unwrap();
        let _first = first.listen(16).unwrap();
        let second = TcpSocket::new_v4().unwrap();
        second.set_reuseport(true).unwrap();
        assert!(second.reuseport().unwrap());
        second.bind(addr).unwrap();
        let second = second.listen(16).unwrap();
        assert_eq!(second.local_addr().unwrap(), addr);
    });
}

#[test]
fn tcp_socket_binds_before_connecting_and_sets_buffer_sizes() {
    eddy::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_send_buffer_size(32 * 1024).unwrap();
        socket.set_recv_buffer_size(32 * 1024).unwrap();
        assert!(socket.send_buffer_size().unwrap() >= 32 * 1024);
        assert!(socket.recv_buffer_size().unwrap() >= 32 * 1024);
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let source = socket.local_addr().unwrap();
        let stream = socket.connect(listener.local_addr().unwrap()).await.unwrap();
        let (_, peer) = listener.accept().await.unwrap();
        assert_eq!(peer, source, "the connection leaves from the bound address");
        assert_eq!(stream.local_addr().unwrap(), source);
    });
}

#[test]
fn tcp_socket_connect_error_names_the_address() {
    eddy::run(async {
        // A port that was just free: nobody listens there.
        let addr = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let error = TcpSocket::new_v4().unwrap().connect(addr).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused);
        assert!(error.to_string().contains(&format!("connect to {addr}")), "{error}");
    });
}

#[test]
fn read_until_cancelled_mid_record_loses_nothing_and_resumes() {
    eddy::run(async {
        let (client, server) = pair().await;
        server.write_all(b"hal").await.unwrap();
        let mut reader = BufReader::new(client);
        let mut record = Vec::new();
        // Poll once: the first bytes are taken, then it waits for the rest.
        let first_poll = std::future::poll_fn(|cx| {
            let future = std::pin::pin!(reader.read_until(b'\n', &mut record));
            std::task::Poll::Ready(future.poll(cx).is_pending())
        })
        .await;
        assert!(first_poll, "no newline yet: still pending, then dropped");
        assert_eq!(record, b"hal", "the bytes taken before the cancel are in the caller's buffer");
        server.write_all(b"f\nrest").await.unwrap();
        reader.read_until(b'\n', &mut record).await.unwrap();
        assert_eq!(record, b"half\n");
    });
}

#[test]
fn read_to_end_cancelled_mid_read_leaves_only_the_bytes_read() {
    eddy::run(async {
        let (mut client, server) = pair().await;
        server.write_all(b"partial").await.unwrap();
        let mut received = Vec::new();
        // The peer has not closed: read_to_end takes "partial", then waits.
        let pending = std::future::poll_fn(|cx| {
            let future = std::pin::pin!(client.read_to_end(&mut received));
            std::task::Poll::Ready(future.poll(cx).is_pending())
        })
        .await;
        assert!(pending);
        assert_eq!(received, b"partial", "no padding left in the caller's vector");
        drop(server);
    });
}
