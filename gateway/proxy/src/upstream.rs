//! The upstream side: a connector that honours connect-to, refuses forbidden
//! addresses, and speaks TLS with the original name for SNI and verification;
//! wrapped in hyper-util's pooled client (HTTP/1.1 or HTTP/2 by ALPN).

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::Uri;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tf_tls::stream::{ClientTlsStream as TlsStream, ServerName, TlsConnector};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::body::UpBody;
use crate::config::{ConnectTo, ProxyConfig};

/// Why an upstream connection could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("upstream URI has no host")]
    NoHost,
    #[error("upstream scheme {0:?} is not supported")]
    Scheme(String),
    #[error("could not resolve {host}: {source}")]
    Resolve { host: String, source: io::Error },
    #[error("{0} resolved to no address")]
    NoAddress(String),
    #[error("{0} resolves only to loopback, private, link-local or metadata addresses")]
    Blocked(String),
    #[error("could not connect to {host}: {source}")]
    Connect { host: String, source: io::Error },
    #[error("{0:?} is not a valid TLS server name")]
    ServerName(String),
    #[error("TLS handshake with {host} failed: {source}")]
    Tls { host: String, source: io::Error },
    #[error("connecting to {0} timed out")]
    Timeout(String),
}

/// The pooled client the proxy forwards through.
pub(crate) type UpstreamClient = Client<UpstreamConnector, UpBody>;

pub(crate) fn client(config: &ProxyConfig) -> UpstreamClient {
    let connector = UpstreamConnector(Arc::new(Inner {
        tls: TlsConnector::from(config.upstream_tls.clone()),
        connect_to: config.connect_to.clone(),
        allow_private: config.allow_private_upstreams,
        connect_timeout: config.connect_timeout,
    }));
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(config.pool_idle_timeout)
        .pool_timer(hyper_util::rt::TokioTimer::new())
        .timer(hyper_util::rt::TokioTimer::new())
        .build(connector)
}

#[derive(Clone)]
pub(crate) struct UpstreamConnector(Arc<Inner>);

struct Inner {
    tls: TlsConnector,
    connect_to: Vec<ConnectTo>,
    allow_private: bool,
    connect_timeout: Duration,
}

impl tower_service::Service<Uri> for UpstreamConnector {
    type Response = TokioIo<UpstreamStream>;
    type Error = ConnectError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, ConnectError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), ConnectError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let inner = self.0.clone();
        Box::pin(async move {
            let host = uri.host().ok_or(ConnectError::NoHost)?.to_owned();
            let timeout = inner.connect_timeout;
            tokio::time::timeout(timeout, inner.connect(uri))
                .await
                .map_err(|_| ConnectError::Timeout(host))?
                .map(TokioIo::new)
        })
    }
}

impl Inner {
    async fn connect(&self, uri: Uri) -> Result<UpstreamStream, ConnectError> {
        let raw_host = uri.host().ok_or(ConnectError::NoHost)?;
        let host = raw_host.trim_start_matches('[').trim_end_matches(']');
        let tls = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            other => return Err(ConnectError::Scheme(other.unwrap_or("").to_owned())),
        };
        let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
        let mapped = self.connect_to.iter().find_map(|c| c.map(host, port));
        let forced = mapped.is_some();
        let (connect_host, connect_port) = mapped.unwrap_or((host, port));

        let addrs: Vec<SocketAddr> = match connect_host.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, connect_port)],
            Err(_) => tokio::net::lookup_host((connect_host, connect_port))
                .await
                .map_err(|source| ConnectError::Resolve {
                    host: connect_host.to_owned(),
                    source,
                })?
                .collect(),
        };
        if addrs.is_empty() {
            return Err(ConnectError::NoAddress(connect_host.to_owned()));
        }
        let allowed: Vec<SocketAddr> = if forced || self.allow_private {
            addrs
        } else {
            addrs
                .into_iter()
                .filter(|a| !is_forbidden(a.ip()))
                .collect()
        };
        if allowed.is_empty() {
            return Err(ConnectError::Blocked(host.to_owned()));
        }

        let mut last = None;
        let mut tcp = None;
        for addr in allowed {
            match TcpStream::connect(addr).await {
                Ok(s) => {
                    tcp = Some(s);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let tcp = tcp.ok_or_else(|| ConnectError::Connect {
            host: host.to_owned(),
            source: last.unwrap_or_else(|| io::Error::other("no address")),
        })?;
        let _ = tcp.set_nodelay(true);
        if !tls {
            return Ok(UpstreamStream::Plain(tcp));
        }
        let name = ServerName::try_from(host.to_owned())
            .map_err(|_| ConnectError::ServerName(host.to_owned()))?;
        let stream = self
            .tls
            .connect(name, tcp)
            .await
            .map_err(|source| ConnectError::Tls {
                host: host.to_owned(),
                source,
            })?;
        Ok(UpstreamStream::Tls(Box::new(stream)))
    }
}

/// Addresses no upstream may resolve to unless the operator allows private
/// upstreams: loopback, private, link-local (incl. cloud metadata), CGNAT,
/// "this network", IETF protocol assignments (192.0.0.0/24), benchmarking
/// (198.18.0.0/15), documentation, reserved (240.0.0.0/4), broadcast,
/// multicast; for IPv6 also unique-local, site-local (fec0::/10),
/// documentation, and every prefix that embeds an IPv4 address a gateway
/// could reach through a translator (IPv4-mapped, IPv4-compatible,
/// NAT64 64:ff9b::/96 and 64:ff9b:1::/48, 6to4 2002::/16, Teredo
/// 2001::/32) — those are forbidden outright, since the embedded address
/// may be anything.
pub(crate) fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                || (o[0] == 192 && o[1] == 0 && o[2] == 2)
                || (o[0] == 198 && (o[1] & 0xfe) == 18)
                || (o[0] == 198 && o[1] == 51 && o[2] == 100)
                || (o[0] == 203 && o[1] == 0 && o[2] == 113)
                || o[0] >= 240
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_forbidden(IpAddr::V4(v4));
            }
            let s = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                // IPv4-compatible ::a.b.c.d (deprecated, still routed by some stacks)
                || (s[..6] == [0; 6])
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] & 0xffc0) == 0xfec0
                || (s[0] == 0x0064 && s[1] == 0xff9b)
                || s[0] == 0x2002
                || (s[0] == 0x2001 && s[1] == 0x0000)
                || (s[0] == 0x2001 && s[1] == 0x0db8)
                || (s[0] & 0xfff0) == 0x3ff0
        }
    }
}

/// A plain or TLS upstream stream.
pub(crate) enum UpstreamStream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Connection for UpstreamStream {
    fn connected(&self) -> Connected {
        match self {
            UpstreamStream::Plain(_) => Connected::new(),
            UpstreamStream::Tls(s) => {
                if s.get_ref().1.alpn_protocol() == Some(b"h2") {
                    Connected::new().negotiated_h2()
                } else {
                    Connected::new()
                }
            }
        }
    }
}

impl AsyncRead for UpstreamStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            UpstreamStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            UpstreamStream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for UpstreamStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            UpstreamStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            UpstreamStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            UpstreamStream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            UpstreamStream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            UpstreamStream::Plain(s) => s.is_write_vectored(),
            UpstreamStream::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            UpstreamStream::Plain(s) => Pin::new(s).poll_flush(cx),
            UpstreamStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            UpstreamStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            UpstreamStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Finds our [`ConnectError`] inside a client error, if the failure was ours.
pub(crate) fn connect_error(err: &hyper_util::client::legacy::Error) -> Option<&ConnectError> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(err);
    while let Some(e) = source {
        if let Some(c) = e.downcast_ref::<ConnectError>() {
            return Some(c);
        }
        source = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::is_forbidden;

    #[test]
    fn forbidden_addresses() {
        for bad in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "::",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "192.0.0.170",
            "192.0.2.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "240.0.0.1",
            "255.255.255.254",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::1",
            "2002:7f00:1::1",
            "2001::1",
            "2001:db8::1",
            "fec0::1",
            "3fff::1",
        ] {
            assert!(is_forbidden(bad.parse().unwrap()), "{bad}");
        }
        for ok in [
            "1.1.1.1",
            "140.82.112.3",
            "198.17.255.255",
            "198.20.0.1",
            "192.0.1.1",
            "2606:4700::1111",
            "2001:4860::8888",
            "2003::1",
        ] {
            assert!(!is_forbidden(ok.parse().unwrap()), "{ok}");
        }
    }
}
