//! Proxy configuration and curl-style `--connect-to` mappings.

use std::sync::Arc;
use std::time::Duration;

/// Settings of the proxy. Build with [`ProxyConfig::new`] and adjust fields.
#[derive(Clone, Debug)]
pub struct ProxyConfig {
    /// TLS client config for upstreams (see `tf_tls::upstream_client_config`).
    pub upstream_tls: Arc<tf_tls::stream::ClientConfig>,
    /// Address overrides; the first matching entry wins.
    pub connect_to: Vec<ConnectTo>,
    /// Largest request body read for a connector that needs bodies (default 1 MiB).
    pub max_body_bytes: usize,
    /// Allow upstreams resolving to loopback, private, link-local or metadata
    /// addresses (default false). Connect-to targets are always allowed.
    pub allow_private_upstreams: bool,
    /// Bound on resolving, connecting and the upstream TLS handshake (default 10 s).
    pub connect_timeout: Duration,
    /// Bound on waiting for the upstream response head (default 120 s).
    pub response_timeout: Duration,
    /// Bound on waiting for a mutation's write-ahead audit record to be
    /// committed before it is forwarded (default 5 s); past it the request
    /// is refused with `audit_unavailable`.
    pub write_ahead_timeout: Duration,
    /// Bound on the agent's TLS handshake inside a CONNECT tunnel (default 10 s).
    pub handshake_timeout: Duration,
    /// How long an idle pooled upstream connection is kept (default 90 s).
    pub pool_idle_timeout: Duration,
    /// How long `serve` waits for in-flight connections after shutdown (default 10 s).
    pub shutdown_grace: Duration,
    /// Agent connections served at once (default 4096); past it a new
    /// connection is answered `503` and closed. A CONNECT tunnel counts as
    /// the connection it was opened on.
    pub max_connections: usize,
    /// Bound on receiving a request head from an agent, which also closes an
    /// HTTP/1.1 connection idle between requests for that long (default 30 s).
    pub header_read_timeout: Duration,
    /// An intercepted connection with no request in flight for this long is
    /// closed gracefully (default 120 s). Covers HTTP/2, which has no head timeout.
    pub idle_timeout: Duration,
    /// Classifications running at once (default: the machine's cores − 1,
    /// at least 1), so slow connectors cannot hold every tokio worker.
    pub max_concurrent_classifications: usize,
    /// How long a request waits for a classification slot before it is
    /// refused with `503 gateway_busy` (default 2 s).
    pub classify_wait: Duration,
    /// `407` answers recorded one by one per second (default 20); past it
    /// they are counted and recorded as one aggregate record per second, so
    /// a flood cannot grow the audit table without bound.
    pub auth_failure_records_per_sec: u32,
}

impl ProxyConfig {
    /// The defaults, with the given upstream TLS config.
    pub fn new(upstream_tls: Arc<tf_tls::stream::ClientConfig>) -> Self {
        Self {
            upstream_tls,
            connect_to: Vec::new(),
            max_body_bytes: 1024 * 1024,
            allow_private_upstreams: false,
            connect_timeout: Duration::from_secs(10),
            response_timeout: Duration::from_secs(120),
            write_ahead_timeout: Duration::from_secs(5),
            handshake_timeout: Duration::from_secs(10),
            pool_idle_timeout: Duration::from_secs(90),
            shutdown_grace: Duration::from_secs(10),
            max_connections: 4096,
            header_read_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(120),
            max_concurrent_classifications: std::thread::available_parallelism()
                .map_or(1, |n| n.get().saturating_sub(1).max(1)),
            classify_wait: Duration::from_secs(2),
            auth_failure_records_per_sec: 20,
        }
    }
}

/// One `HOST:PORT:CONNECT_HOST:CONNECT_PORT` mapping with curl semantics:
/// an empty `HOST` or `PORT` matches any; an empty `CONNECT_HOST` or
/// `CONNECT_PORT` keeps the original. IPv6 addresses go in brackets.
/// The original name is still used for SNI and certificate verification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectTo {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub connect_host: Option<String>,
    pub connect_port: Option<u16>,
}

/// Why a connect-to mapping does not parse.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConnectToError {
    #[error("connect-to {0:?} must have four fields: HOST:PORT:CONNECT_HOST:CONNECT_PORT")]
    Fields(String),
    #[error("connect-to {0:?} has an unterminated '[' in an IPv6 address")]
    Bracket(String),
    #[error("connect-to {0:?} has an invalid port {1:?}")]
    Port(String, String),
}

impl ConnectTo {
    /// Parses `HOST:PORT:CONNECT_HOST:CONNECT_PORT`.
    pub fn parse(s: &str) -> Result<Self, ConnectToError> {
        let mut fields: Vec<&str> = Vec::with_capacity(4);
        let mut rest = s;
        loop {
            let (field, after) = if let Some(inner) = rest.strip_prefix('[') {
                let end = inner
                    .find(']')
                    .ok_or_else(|| ConnectToError::Bracket(s.to_owned()))?;
                let after = &inner[end + 1..];
                if !(after.is_empty() || after.starts_with(':')) {
                    return Err(ConnectToError::Fields(s.to_owned()));
                }
                (&inner[..end], after)
            } else {
                match rest.find(':') {
                    Some(i) => (&rest[..i], &rest[i..]),
                    None => (rest, ""),
                }
            };
            fields.push(field);
            match after.strip_prefix(':') {
                Some(next) => rest = next,
                None => break,
            }
        }
        let [host, port, connect_host, connect_port] = fields[..] else {
            return Err(ConnectToError::Fields(s.to_owned()));
        };
        let port_of = |p: &str| -> Result<Option<u16>, ConnectToError> {
            if p.is_empty() {
                Ok(None)
            } else {
                p.parse::<u16>()
                    .ok()
                    .filter(|&n| n != 0)
                    .map(Some)
                    .ok_or_else(|| ConnectToError::Port(s.to_owned(), p.to_owned()))
            }
        };
        let name_of =
            |h: &str| (!h.is_empty()).then(|| h.trim_end_matches('.').to_ascii_lowercase());
        Ok(Self {
            host: name_of(host),
            port: port_of(port)?,
            connect_host: name_of(connect_host),
            connect_port: port_of(connect_port)?,
        })
    }

    /// Where to connect for `host:port`, if this mapping applies.
    pub fn map<'a>(&'a self, host: &'a str, port: u16) -> Option<(&'a str, u16)> {
        let host_ok = self
            .host
            .as_deref()
            .is_none_or(|h| h.eq_ignore_ascii_case(host.trim_end_matches('.')));
        let port_ok = self.port.is_none_or(|p| p == port);
        (host_ok && port_ok).then(|| {
            (
                self.connect_host.as_deref().unwrap_or(host),
                self.connect_port.unwrap_or(port),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_curl_forms() {
        let c = ConnectTo::parse("api.github.com:443:127.0.0.1:8443").unwrap();
        assert_eq!(c.map("API.github.com", 443), Some(("127.0.0.1", 8443)));
        assert_eq!(c.map("api.github.com", 80), None);
        assert_eq!(c.map("github.com", 443), None);

        let any = ConnectTo::parse("::localhost:").unwrap();
        assert_eq!(any.map("x.example", 8080), Some(("localhost", 8080)));

        let v6 = ConnectTo::parse("[::1]:443:[fe80::2]:8443").unwrap();
        assert_eq!(v6.host.as_deref(), Some("::1"));
        assert_eq!(v6.map("::1", 443), Some(("fe80::2", 8443)));

        let keep_host = ConnectTo::parse("example.com:443::9443").unwrap();
        assert_eq!(
            keep_host.map("example.com", 443),
            Some(("example.com", 9443))
        );
    }

    #[test]
    fn rejects_bad_forms() {
        assert!(matches!(
            ConnectTo::parse("a:1:b"),
            Err(ConnectToError::Fields(_))
        ));
        assert!(matches!(
            ConnectTo::parse("a:1:b:2:3"),
            Err(ConnectToError::Fields(_))
        ));
        assert!(matches!(
            ConnectTo::parse("a:x:b:2"),
            Err(ConnectToError::Port(..))
        ));
        assert!(matches!(
            ConnectTo::parse("a:1:b:70000"),
            Err(ConnectToError::Port(..))
        ));
        assert!(matches!(
            ConnectTo::parse("[::1:1:b:2"),
            Err(ConnectToError::Bracket(_))
        ));
    }
}
