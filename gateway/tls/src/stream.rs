//! The TLS stream types the proxy drives, re-exported from the one crate that
//! owns rustls and tokio-rustls (versions, features and the crypto provider
//! are chosen here and nowhere else).
//!
//! Owns nothing of its own: it names the types. Never configures anything;
//! configs come from [`crate::server_config`] and [`crate::upstream_client_config`].

/// A client-side configuration: what [`crate::upstream_client_config`] returns.
pub use rustls::ClientConfig;
/// A server-side configuration: what [`crate::server_config`] returns.
pub use rustls::ServerConfig;
/// The name a client verifies and sends as SNI.
pub use rustls::pki_types::ServerName;
/// Reads a ClientHello before choosing a configuration (SNI-less clients
/// get a leaf for the CONNECT host).
pub use rustls::server::Acceptor;
/// A TLS stream to an upstream.
pub use tokio_rustls::client::TlsStream as ClientTlsStream;
pub use tokio_rustls::{LazyConfigAcceptor, StartHandshake, TlsConnector};
