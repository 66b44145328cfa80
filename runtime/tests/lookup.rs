//! Name resolution runs on the blocking pool: a slow resolver never stalls
//! the loop, IP literals skip it, and its errors name the host. The
//! resolver is injected per thread, so nothing here depends on the
//! machine's DNS.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use eddy::net::{lookup_host, set_resolver_for_this_thread, TcpListener, TcpStream, UdpSocket};

/// Installs `resolver` for this test's thread and removes it when dropped.
struct ResolverGuard;

impl ResolverGuard {
    fn install(
        resolver: impl Fn(&str, u16) -> io::Result<Vec<SocketAddr>> + Send + Sync + 'static,
    ) -> ResolverGuard {
        set_resolver_for_this_thread(Some(Arc::new(resolver)));
        ResolverGuard
    }
}

impl Drop for ResolverGuard {
    fn drop(&mut self) {
        set_resolver_for_this_thread(None);
    }
}

#[test]
fn a_slow_resolver_does_not_delay_a_1ms_timer_on_the_same_loop() {
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let release_rx = Mutex::new(release_rx);
    let resolver_returned = Arc::new(AtomicBool::new(false));
    eddy::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let target = listener.local_addr().unwrap();
        let returned = resolver_returned.clone();
        // The resolver blocks until the test lets it go: as slow as needed.
        let _guard = ResolverGuard::install(move |host, port| {
            assert_eq!((host, port), ("slow.example", 8080));
            release_rx.lock().unwrap().recv().unwrap();
            returned.store(true, Ordering::SeqCst);
            Ok(vec![target])
        });
        let connecting = eddy::spawn(TcpStream::connect("slow.example:8080"));
        // The loop keeps turning: a 1 ms timer fires while the lookup hangs.
        eddy::time::sleep(Duration::from_millis(1)).await;
        assert!(!resolver_returned.load(Ordering::SeqCst), "the timer fired before the resolver returned");
        release_tx.send(()).unwrap();
        let stream = connecting.await.unwrap().unwrap();
        assert_eq!(stream.peer_addr().unwrap(), target);
    });
}

#[test]
fn ip_literals_and_socket_addresses_never_reach_the_resolver() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let _guard = ResolverGuard::install(move |_, _| {
        counted.fetch_add(1, Ordering::SeqCst);
        Err(io::Error::other("should not be called"))
    });
    eddy::run(async {
        let v4: Vec<_> = lookup_host("127.0.0.1:80").await.unwrap().collect();
        assert_eq!(v4, ["127.0.0.1:80".parse::<SocketAddr>().unwrap()]);
        let v6: Vec<_> = lookup_host("[::1]:443").await.unwrap().collect();
        assert_eq!(v6, ["[::1]:443".parse::<SocketAddr>().unwrap()]);
        let pair: Vec<_> = lookup_host(("10.0.0.1", 53)).await.unwrap().collect();
        assert_eq!(pair, ["10.0.0.1:53".parse::<SocketAddr>().unwrap()]);
    });
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[test]
fn host_names_go_to_the_resolver_with_their_port() {
    let _guard = ResolverGuard::install(|host, port| {
        Ok(vec![SocketAddr::new([192, 0, 2, host.len() as u8].into(), port)])
    });
    eddy::run(async {
        let addrs: Vec<_> = lookup_host("abc.test:7").await.unwrap().collect();
        assert_eq!(addrs, ["192.0.2.8:7".parse::<SocketAddr>().unwrap()]);
        let addrs: Vec<_> = lookup_host(("abcd".to_string(), 9)).await.unwrap().collect();
        assert_eq!(addrs, ["192.0.2.4:9".parse::<SocketAddr>().unwrap()]);
    });
}

#[test]
fn resolver_errors_name_the_host_and_malformed_addresses_are_invalid_input() {
    let _guard = ResolverGuard::install(|_, _| Err(io::Error::new(io::ErrorKind::NotFound, "no such host")));
    eddy::run(async {
        let error = lookup_host("nowhere.invalid:80").await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::NotFound);
        assert_eq!(error.to_string(), "resolve nowhere.invalid:80: no such host");
        let error = TcpStream::connect("nowhere.invalid:80").await.unwrap_err();
        assert!(error.to_string().contains("nowhere.invalid:80"), "{error}");
        for malformed in ["no-port", "host:notaport", "host:70000"] {
            let error = lookup_host(malformed).await.unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::InvalidInput, "{malformed}");
            assert!(error.to_string().contains(malformed), "{error}");
        }
    });
}

#[test]
fn udp_connect_resolves_host_names_off_the_loop() {
    eddy::run(async {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let target = server.local_addr().unwrap();
        let _guard = ResolverGuard::install(move |_, _| Ok(vec![target]));
        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        client.connect("udp.test:1").await.unwrap();
        assert_eq!(client.peer_addr().unwrap(), target);
    });
}
