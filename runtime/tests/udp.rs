//! UDP over loopback: datagram exchange between two loops at volume,
//! connected and unconnected use, peeking, truncation, options, and errors
//! that say what was being done.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use eddy::net::UdpSocket;

/// Datagrams sent from one loop to the other.
const DATAGRAMS: u64 = 100_000;
/// Datagrams in flight at once: enough to keep both loops busy, few enough
/// (64 × ~1 KiB of kernel accounting each) that loopback's default 208 KiB
/// receive buffer never overflows, so none is dropped.
const WINDOW: u64 = 64;
/// The receiver acknowledges every this many datagrams (with the count it
/// has), which opens the sender's window again.
const ACK_EVERY: u64 = WINDOW / 4;

#[test]
fn a_hundred_thousand_datagrams_cross_between_two_loops_in_order() {
    let (addr_tx, addr_rx) = mpsc::channel::<SocketAddr>();
    // The receiving loop, on its own thread: checks the sequence numbers
    // and acknowledges progress.
    let receiver = std::thread::spawn(move || {
        eddy::run(async move {
            let socket = UdpSocket::bind("127.0.0.1:0").await?;
            addr_tx.send(socket.local_addr()?).unwrap();
            let mut buf = [0; 64];
            for expected in 0..DATAGRAMS {
                let (n, from) = socket.recv_from(&mut buf).await?;
                assert_eq!(n, 8);
                // Loopback neither drops nor reorders within the window.
                assert_eq!(u64::from_le_bytes(buf[..8].try_into().unwrap()), expected);
                let have = expected + 1;
                if have % ACK_EVERY == 0 || have == DATAGRAMS {
                    socket.send_to(&have.to_le_bytes(), from).await?;
                }
            }
            Ok::<(), io::Error>(())
        })
    });
    let server = addr_rx.recv().unwrap();
    let started = Instant::now();
    let acknowledged = eddy::run(async move {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        socket.connect(server).await.unwrap();
        let exchange = async {
            let (mut sent, mut acknowledged) = (0u64, 0u64);
            let mut buf = [0; 64];
            while acknowledged < DATAGRAMS {
                while sent < DATAGRAMS && sent - acknowledged < WINDOW {
                    socket.send(&sent.to_le_bytes()).await.unwrap();
                    sent += 1;
                }
                let n = socket.recv(&mut buf).await.unwrap();
                assert_eq!(n, 8);
                acknowledged = u64::from_le_bytes(buf[..8].try_into().unwrap());
            }
            acknowledged
        };
        // Bounded: a lost datagram fails the test instead of hanging it.
        eddy::time::timeout(Duration::from_secs(20), exchange).await.expect("the exchange stalled")
    });
    assert_eq!(acknowledged, DATAGRAMS);
    receiver.join().unwrap().unwrap();
    eprintln!("{DATAGRAMS} datagrams from one loop to another in {:?}", started.elapsed());
}

#[test]
fn send_to_and_recv_from_name_the_peer() {
    eddy::run(async {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        assert_eq!(a.send_to(b"hi", b.local_addr().unwrap()).await.unwrap(), 2);
        let mut buf = [0; 8];
        let (n, from) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"hi"[..], a.local_addr().unwrap()));
    });
}

#[test]
fn peek_from_leaves_the_datagram_for_the_next_receive() {
    eddy::run(async {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        a.send_to(b"first", b.local_addr().unwrap()).await.unwrap();
        a.send_to(b"second", b.local_addr().unwrap()).await.unwrap();
        let mut buf = [0; 16];
        let (n, _) = b.peek_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"first");
        let (n, _) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"first");
        let (n, _) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"second");
    });
}

#[test]
fn a_datagram_longer_than_the_buffer_is_truncated_and_the_next_one_is_intact() {
    eddy::run(async {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        a.send_to(b"0123456789", b.local_addr().unwrap()).await.unwrap();
        a.send_to(b"next", b.local_addr().unwrap()).await.unwrap();
        let mut small = [0; 4];
        let (n, _) = b.recv_from(&mut small).await.unwrap();
        assert_eq!(&small[..n], b"0123");
        let (n, _) = b.recv_from(&mut small).await.unwrap();
        assert_eq!(&small[..n], b"next");
    });
}

#[test]
fn a_connected_socket_receives_only_from_its_peer() {
    eddy::run(async {
        let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let stranger = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        socket.connect(peer.local_addr().unwrap()).await.unwrap();
        assert_eq!(socket.peer_addr().unwrap(), peer.local_addr().unwrap());
        stranger.send_to(b"ignored", socket.local_addr().unwrap()).await.unwrap();
        peer.send_to(b"from peer", socket.local_addr().unwrap()).await.unwrap();
        let mut buf = [0; 16];
        let n = socket.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"from peer");
    });
}

#[test]
fn recv_after_sending_to_a_closed_port_is_refused_and_says_where() {
    eddy::run(async {
        let closed = UdpSocket::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        socket.connect(closed).await.unwrap();
        socket.send(b"anyone?").await.unwrap();
        let mut buf = [0; 8];
        let error =
            eddy::time::timeout(Duration::from_secs(5), socket.recv(&mut buf)).await.unwrap().unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused);
        let local = socket.local_addr().unwrap();
        assert!(error.to_string().contains(&format!("recv from udp {local}")), "{error}");
    });
}

#[test]
fn bind_error_names_the_address() {
    eddy::run(async {
        let taken = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = taken.local_addr().unwrap();
        let error = UdpSocket::bind(addr).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::AddrInUse);
        assert!(error.to_string().contains(&format!("bind udp {addr}")), "{error}");
    });
}

#[test]
fn broadcast_and_multicast_options_read_back_what_was_set() {
    eddy::run(async {
        let socket = UdpSocket::bind("0.0.0.0:0").await.unwrap();
        socket.set_broadcast(true).unwrap();
        assert!(socket.broadcast().unwrap());
        socket.set_multicast_loop_v4(false).unwrap();
        assert!(!socket.multicast_loop_v4().unwrap());
        socket.set_multicast_ttl_v4(3).unwrap();
        assert_eq!(socket.multicast_ttl_v4().unwrap(), 3);
        socket.set_ttl(17).unwrap();
        assert_eq!(socket.ttl().unwrap(), 17);
        // Joining may be refused where there is no multicast route (some
        // containers); either way, it must not panic, and a refusal names
        // the group.
        let group = Ipv4Addr::new(239, 255, 0, 1);
        match socket.join_multicast_v4(group, Ipv4Addr::LOCALHOST) {
            Ok(()) => socket.leave_multicast_v4(group, Ipv4Addr::LOCALHOST).unwrap(),
            Err(error) => assert!(error.to_string().contains("239.255.0.1"), "{error}"),
        }
    });
}
