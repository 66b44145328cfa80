//! Write interest on demand: a socket joins the poller for reads alone
//! when it first waits to read, and for writes only once a write has to
//! wait (see "Write interest on demand" in `reactor/mod.rs`). These tests
//! pin the property that must survive that laziness: **no writer misses
//! its wakeup**, whatever the socket waited for before, whoever else waits
//! on it, and whichever API writes.
//!
//! Each test fills the server's send buffer with non-blocking writes until
//! the kernel says `WouldBlock` (so the write after it is sure to wait,
//! whatever the buffer sizes), and the client drains only after the
//! server is parked: one thread, one loop, so "parked" is certain, not a
//! guess about timing.

use std::future::poll_fn;
use std::io;
use std::task::Poll;

use eddy::net::{TcpListener, TcpStream};
use eddy::sync::oneshot;

/// Written after the send buffer is full: the write that has to wait.
const TAIL: usize = 256 * 1024;

/// A connected pair on loopback: (client, server side).
async fn pair() -> io::Result<(TcpStream, TcpStream)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let client = TcpStream::connect(listener.local_addr()?).await?;
    let (server, _) = listener.accept().await?;
    Ok((client, server))
}

/// Writes without waiting until the kernel takes no more; returns how much
/// it took.
fn fill_send_buffer(stream: &TcpStream) -> usize {
    let chunk = [7u8; 64 * 1024];
    let mut sent = 0;
    loop {
        match stream.try_write(&chunk) {
            Ok(n) => sent += n,
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => return sent,
            Err(error) => panic!("filling the send buffer: {error}"),
        }
    }
}

/// Reads until EOF; returns how many bytes came.
async fn drain(stream: &TcpStream) -> io::Result<usize> {
    let mut buf = vec![0; 64 * 1024];
    let mut total = 0;
    loop {
        match stream.read(&mut buf).await? {
            0 => return Ok(total),
            n => total += n,
        }
    }
}

/// Reads exactly `len` bytes.
async fn read_exact(stream: &TcpStream, len: usize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0; len];
    let mut filled = 0;
    while filled < len {
        match stream.read(&mut buf[filled..]).await? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => filled += n,
        }
    }
    Ok(buf)
}

#[test]
fn a_writer_that_first_waited_to_read_wakes_when_its_full_send_buffer_drains() -> io::Result<()> {
    eddy::run(async {
        let (client, server) = pair().await?;
        let (parked_tx, parked_rx) = oneshot::channel();
        let server_task = eddy::spawn(async move {
            let _ = parked_tx.send(());
            // Polled in this same poll, before the client sends: it waits,
            // so the socket joins the poller for reads alone.
            read_exact(&server, 1).await?;
            let filled = fill_send_buffer(&server);
            // Has to wait: needs write interest added before it parks.
            server.write_all(&vec![1u8; TAIL]).await?;
            server.shutdown().await?;
            Ok::<_, io::Error>(filled + TAIL)
        });
        parked_rx.await.expect("the server task runs");
        client.write_all(b"x").await?;
        let received = drain(&client).await?;
        let sent = server_task.await.expect("the server task finishes")?;
        assert_eq!(received, sent, "every byte the server wrote arrived");
        Ok(())
    })
}

#[test]
fn a_socket_whose_first_wait_is_a_write_still_wakes_its_reader() -> io::Result<()> {
    eddy::run(async {
        let (client, server) = pair().await?;
        let (count_tx, count_rx) = oneshot::channel();
        let server_task = eddy::spawn(async move {
            let filled = fill_send_buffer(&server);
            let _ = count_tx.send(filled + TAIL);
            // The socket's first wait: it joins the poller here.
            server.write_all(&vec![1u8; TAIL]).await?;
            // The write's registration covers reads too: this wait must
            // end when the client answers.
            read_exact(&server, 4).await
        });
        let count = count_rx.await.expect("the server task runs");
        read_exact(&client, count).await?;
        client.write_all(b"done").await?;
        let answer = server_task.await.expect("the server task finishes")?;
        assert_eq!(answer, b"done");
        Ok(())
    })
}

/// A split stream, reader and writer tasks parked at once, in either order
/// of registration: both must wake for their own event.
fn split_halves_wait_at_once(reader_first: bool) -> io::Result<()> {
    eddy::run(async move {
        let (client, server) = pair().await?;
        let filled = fill_send_buffer(&server);
        let (reader, writer) = server.into_split();
        let read_half = async move {
            let mut buf = [0; 3];
            let mut got = 0;
            while got < 3 {
                match reader.read(&mut buf[got..]).await? {
                    0 => return Err(io::Error::from(io::ErrorKind::UnexpectedEof)),
                    n => got += n,
                }
            }
            Ok::<_, io::Error>(buf)
        };
        let write_half = async move {
            writer.write_all(&vec![1u8; TAIL]).await?;
            // Dropping the write half shuts the connection's sending side.
            drop(writer);
            Ok::<_, io::Error>(filled + TAIL)
        };
        let (reading, writing) = if reader_first {
            let reading = eddy::spawn(read_half);
            (reading, eddy::spawn(write_half))
        } else {
            let writing = eddy::spawn(write_half);
            (eddy::spawn(read_half), writing)
        };
        // Both tasks run (and park) before the client does anything.
        eddy::task::yield_now().await;
        assert!(!reading.is_finished() && !writing.is_finished(), "both halves wait");
        let received = drain(&client).await?;
        let sent = writing.await.expect("the writer finishes")?;
        assert_eq!(received, sent, "the writer woke as the client drained");
        client.write_all(b"bye").await?;
        assert_eq!(&reading.await.expect("the reader finishes")?, b"bye", "the reader woke too");
        Ok(())
    })
}

#[test]
fn split_halves_parked_at_once_both_wake_when_the_reader_registers_first() -> io::Result<()> {
    split_halves_wait_at_once(true)
}

#[test]
fn split_halves_parked_at_once_both_wake_when_the_writer_registers_first() -> io::Result<()> {
    split_halves_wait_at_once(false)
}

/// What woke a task that waited in both directions.
#[derive(Debug, PartialEq)]
enum Woke {
    Read(usize),
    Wrote,
}

/// Waits until `stream` can be read or `byte` written, in one poll of
/// both: the task waits in both directions at once.
async fn wait_either(stream: &TcpStream, byte: &[u8]) -> io::Result<Woke> {
    let mut buf = [0; 16];
    poll_fn(|cx| {
        if let Poll::Ready(n) = stream.poll_read(cx, &mut buf) {
            return Poll::Ready(n.map(Woke::Read));
        }
        stream.poll_write(cx, byte).map_ok(|_| Woke::Wrote)
    })
    .await
}

#[test]
fn one_task_waiting_to_read_and_to_write_wakes_for_either() -> io::Result<()> {
    eddy::run(async {
        let (client, server) = pair().await?;
        let (round_tx, round_rx) = oneshot::channel();
        let server_task = eddy::spawn(async move {
            let filled = fill_send_buffer(&server);
            let tail = vec![1u8; TAIL];
            // Waits on both (read interest, then write interest added);
            // the client's byte ends it.
            let first = wait_either(&server, &tail[..1]).await?;
            let _ = round_tx.send(());
            // Waits on both again; the client's draining ends it.
            let second = wait_either(&server, &tail[..1]).await?;
            server.write_all(&tail[1..]).await?;
            server.shutdown().await?;
            Ok::<_, io::Error>((first, second, filled + TAIL))
        });
        client.write_all(b"x").await?;
        round_rx.await.expect("the server saw the byte");
        let received = drain(&client).await?;
        let (first, second, sent) = server_task.await.expect("the server task finishes")?;
        assert_eq!(first, Woke::Read(1), "woken by the readable edge");
        assert_eq!(second, Woke::Wrote, "woken by the writable edge");
        assert_eq!(received, sent);
        Ok(())
    })
}

#[test]
fn io_copy_echoes_more_than_the_socket_buffers_hold() -> io::Result<()> {
    const TOTAL: usize = 4 * 1024 * 1024;
    eddy::run(async {
        let (client, server) = pair().await?;
        let echo = eddy::spawn(async move {
            let (mut reader, mut writer) = server.into_split();
            eddy::io::copy(&mut reader, &mut writer).await
        });
        let (client_reader, client_writer) = client.into_split();
        let sending = eddy::spawn(async move {
            let data: Vec<u8> = (0..TOTAL).map(|i| (i % 251) as u8).collect();
            client_writer.write_all(&data).await?;
            // Dropped: the server's copy sees EOF.
            drop(client_writer);
            Ok::<_, io::Error>(data)
        });
        let mut echoed = Vec::with_capacity(TOTAL);
        let mut buf = vec![0; 64 * 1024];
        loop {
            match client_reader.read(&mut buf).await? {
                0 => break,
                n => echoed.extend_from_slice(&buf[..n]),
            }
            if echoed.len() == TOTAL {
                break;
            }
        }
        let data = sending.await.expect("the sender finishes")?;
        assert_eq!(echo.await.expect("the copy finishes")?, TOTAL as u64);
        assert!(echoed == data, "the echo is the data, in order");
        Ok(())
    })
}
