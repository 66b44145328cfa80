//! TCP over loopback: echo at scale, EOF and half-close, and errors that say
//! what went wrong.

use std::io;
use std::rc::Rc;

use eddy::net::{TcpListener, TcpStream};

/// 1000 clients plus 1000 accepted sockets need more descriptors than the
/// common default soft limit of 1024: raise it to the hard limit.
fn raise_fd_limit() {
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max {
            // macOS refuses a soft limit above OPEN_MAX (10240), even when
            // the hard limit is unlimited.
            let cap = if cfg!(target_os = "macos") { 10240 } else { 65536 };
            limit.rlim_cur = limit.rlim_max.min(cap);
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

async fn echo_server(listener: TcpListener) {
    while let Ok((stream, _)) = listener.accept().await {
        eddy::spawn(async move {
            let mut buf = vec![0; 4096];
            while let Ok(n @ 1..) = stream.read(&mut buf).await {
                if stream.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        });
    }
}

async fn read_exact(stream: &TcpStream, mut buf: &mut [u8]) -> io::Result<()> {
    while !buf.is_empty() {
        match stream.read(buf).await? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => buf = &mut buf[n..],
        }
    }
    Ok(())
}

#[test]
fn echo_with_a_thousand_concurrent_clients() {
    raise_fd_limit();
    eddy::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = eddy::spawn(echo_server(listener));
        let clients: Vec<_> = (0..1000u32)
            .map(|i| {
                eddy::spawn(async move {
                    let stream = TcpStream::connect(addr).await?;
                    // 32 KiB each way, written while the echo comes back:
                    // reader and writer wait on the same socket at once.
                    let message: Vec<u8> =
                        (0..32_768u32).map(|b| (b.wrapping_mul(i + 1) % 251) as u8).collect();
                    let reader = Rc::new(stream);
                    let writer = reader.clone();
                    let sent = message.clone();
                    let write = eddy::spawn(async move { writer.write_all(&sent).await });
                    let mut echoed = vec![0; message.len()];
                    read_exact(&reader, &mut echoed).await?;
                    write.await??;
                    assert!(echoed == message, "client {i} got its bytes back scrambled");
                    Ok::<_, io::Error>(())
                })
            })
            .collect();
        for client in clients {
            client.await.unwrap().unwrap();
        }
        server.abort();
    });
}

#[test]
fn a_read_after_the_peer_closes_its_side_returns_zero_and_the_other_side_still_works() {
    eddy::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = eddy::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut buf = [0; 64];
            loop {
                match stream.read(&mut buf).await.unwrap() {
                    0 => break, // the client half-closed: its request is complete
                    n => request.extend_from_slice(&buf[..n]),
                }
            }
            stream.write_all(&request).await.unwrap();
        });
        let client = TcpStream::connect(addr).await.unwrap();
        client.write_all(b"whole request").await.unwrap();
        client.shutdown().await.unwrap();
        let mut reply = [0; 13];
        read_exact(&client, &mut reply).await.unwrap();
        assert_eq!(&reply, b"whole request");
        assert_eq!(client.read(&mut [0; 8]).await.unwrap(), 0);
        server.await.unwrap();
    });
}

#[test]
fn connecting_to_a_closed_port_names_the_address() {
    eddy::run(async {
        // Bind then drop, so the port is (almost certainly) closed.
        let addr = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let error = TcpStream::connect(addr).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused);
        assert!(error.to_string().contains(&format!("connect to {addr}")), "{error}");
    });
}

#[test]
fn binding_a_taken_port_names_the_address() {
    eddy::run(async {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap();
        let error = TcpListener::bind(addr).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::AddrInUse);
        assert!(error.to_string().contains(&format!("bind {addr}")), "{error}");
    });
}

#[test]
fn sockets_outside_a_runtime_are_an_error_not_a_panic() {
    let error = std::thread::spawn(|| {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        TcpListener::from_std(std_listener).unwrap_err()
    })
    .join()
    .unwrap();
    assert!(error.to_string().contains("inside an eddy runtime"), "{error}");
}
