//! Name resolution off the loop: `lookup_host` runs the system resolver
//! (`getaddrinfo`, through std) on the blocking pool, so a slow DNS server
//! stalls only the task that asked, never the loop. asyncio's
//! `loop.getaddrinfo`.
//!
//! Addresses that need no lookup (an IP literal, a `SocketAddr`) are used
//! at once without a trip to the pool. That is what eddy's own
//! [`ToSocketAddrs`] is for: std's trait of the same name resolves host
//! names inside a blocking call, and a generic caller cannot tell in
//! advance whether it will. `TcpStream::connect` and `UdpSocket::connect`
//! take eddy's trait.

use std::cell::RefCell;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::sync::Arc;

use super::context;

/// What an address argument needs before it can be used.
mod sealed {
    use std::net::SocketAddr;

    /// The addresses are known, or a host name needs a lookup.
    #[derive(Debug)]
    pub enum Plan {
        Ready(Vec<SocketAddr>),
        Lookup { host: String, port: u16 },
    }

    /// Keeps [`ToSocketAddrs`](super::ToSocketAddrs) implemented only here.
    pub trait Sealed {
        fn plan(&self) -> std::io::Result<Plan>;
    }
}

use sealed::{Plan, Sealed};

/// Something that names one or more socket addresses: a [`SocketAddr`],
/// an `(ip, port)` pair, a `"host:port"` string or a `(host, port)` pair, a
/// slice of addresses. Like std's `ToSocketAddrs`, except that host names
/// are resolved on the blocking pool (see the module docs). Sealed: eddy
/// implements it for the types above.
pub trait ToSocketAddrs: Sealed {}

impl<T: Sealed + ?Sized> ToSocketAddrs for T {}

impl Sealed for SocketAddr {
    fn plan(&self) -> io::Result<Plan> {
        Ok(Plan::Ready(vec![*self]))
    }
}

impl Sealed for SocketAddrV4 {
    fn plan(&self) -> io::Result<Plan> {
        Ok(Plan::Ready(vec![SocketAddr::V4(*self)]))
    }
}

impl Sealed for SocketAddrV6 {
    fn plan(&self) -> io::Result<Plan> {
        Ok(Plan::Ready(vec![SocketAddr::V6(*self)]))
    }
}

impl Sealed for (IpAddr, u16) {
    fn plan(&self) -> io::Result<Plan> {
        Ok(Plan::Ready(vec![SocketAddr::from(*self)]))
    }
}

impl Sealed for (Ipv4Addr, u16) {
    fn plan(&self) -> io::Result<Plan> {
        Ok(Plan::Ready(vec![SocketAddr::from(*self)]))
    }
}

impl Sealed for (Ipv6Addr, u16) {
    fn plan(&self) -> io::Result<Plan> {
        Ok(Plan::Ready(vec![SocketAddr::from(*self)]))
    }
}

impl Sealed for [SocketAddr] {
    fn plan(&self) -> io::Result<Plan> {
        Ok(Plan::Ready(self.to_vec()))
    }
}

impl Sealed for Vec<SocketAddr> {
    fn plan(&self) -> io::Result<Plan> {
        Ok(Plan::Ready(self.clone()))
    }
}

impl Sealed for str {
    fn plan(&self) -> io::Result<Plan> {
        if let Ok(addr) = self.parse::<SocketAddr>() {
            return Ok(Plan::Ready(vec![addr]));
        }
        let invalid = || {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("invalid socket address {self:?}: expected host:port"),
            )
        };
        let (host, port) = self.rsplit_once(':').ok_or_else(invalid)?;
        let port = port.parse().map_err(|_| invalid())?;
        (host, port).plan()
    }
}

impl Sealed for String {
    fn plan(&self) -> io::Result<Plan> {
        self.as_str().plan()
    }
}

impl Sealed for (&str, u16) {
    fn plan(&self) -> io::Result<Plan> {
        let (host, port) = *self;
        match host.parse::<IpAddr>() {
            Ok(ip) => Ok(Plan::Ready(vec![SocketAddr::new(ip, port)])),
            Err(_) => Ok(Plan::Lookup { host: host.to_string(), port }),
        }
    }
}

impl Sealed for (String, u16) {
    fn plan(&self) -> io::Result<Plan> {
        (self.0.as_str(), self.1).plan()
    }
}

impl<T: Sealed + ?Sized> Sealed for &T {
    fn plan(&self) -> io::Result<Plan> {
        (**self).plan()
    }
}

/// A function that resolves `(host, port)`, blocking; runs on the pool.
#[doc(hidden)]
pub type Resolver = Arc<dyn Fn(&str, u16) -> io::Result<Vec<SocketAddr>> + Send + Sync>;

thread_local! {
    /// The resolver lookups started on this thread use; `None`: the
    /// system's. Per thread so that tests running in parallel in one
    /// process do not see each other's.
    static RESOLVER: RefCell<Option<Resolver>> = const { RefCell::new(None) };
}

/// Replaces the resolver for lookups started on this thread (`None`
/// restores the system resolver). For tests that must not depend on the
/// machine's DNS: not a stable API.
#[doc(hidden)]
pub fn set_resolver_for_this_thread(resolver: Option<Resolver>) {
    RESOLVER.with(|current| *current.borrow_mut() = resolver);
}

/// Resolves `host` (`"name:port"`, `("name", port)`, or anything else that
/// names addresses) to socket addresses, on the blocking pool so the loop
/// keeps running. asyncio's `loop.getaddrinfo`.
///
/// ```
/// eddy::run(async {
///     let addrs: Vec<_> = eddy::net::lookup_host("127.0.0.1:80").await?.collect();
///     assert_eq!(addrs, ["127.0.0.1:80".parse().unwrap()]);
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Errors
/// `InvalidInput` for a malformed `"host:port"`; the resolver's error,
/// naming the host (`resolve example.invalid:80: failed to lookup address`).
///
/// # Panics
/// Outside an eddy runtime, when a lookup is needed.
pub async fn lookup_host(host: impl ToSocketAddrs) -> io::Result<std::vec::IntoIter<SocketAddr>> {
    resolve(&host).await.map(Vec::into_iter)
}

/// The addresses `addr` names, looked up on the pool if need be.
pub(crate) async fn resolve<A: ToSocketAddrs + ?Sized>(addr: &A) -> io::Result<Vec<SocketAddr>> {
    match addr.plan()? {
        Plan::Ready(addrs) => Ok(addrs),
        Plan::Lookup { host, port } => {
            let resolver = RESOLVER.with(|current| current.borrow().clone());
            let doing = format!("resolve {host}:{port}");
            let lookup = crate::task::spawn_blocking(move || match resolver {
                Some(resolver) => resolver(&host, port),
                None => {
                    std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port)).map(Iterator::collect)
                }
            });
            match lookup.await {
                Ok(result) => result.map_err(|e| context(e, doing)),
                Err(error) => Err(io::Error::other(format!("{doing}: the lookup did not finish: {error}"))),
            }
        }
    }
}
