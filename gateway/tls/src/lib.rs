//! TLS material for the gateway: the local certificate authority, leaf
//! certificates minted per SNI name (ECDSA P-256, cached), the rustls server
//! configuration used to intercept agent TLS, and the rustls client
//! configuration used to reach real upstreams.
//!
//! Takes and returns PEM bytes: this crate never touches the file system,
//! never opens a socket and makes no policy decision. Private keys never
//! appear in an error or a log line.

mod ca;
mod config;
mod leaf;
mod roots;
pub mod stream;

pub use ca::{CaError, CaPem, CertificateAuthority};
pub use config::{ConfigError, server_config, single_host_server_config, upstream_client_config};
pub use leaf::{LeafResolver, MintError};
pub use roots::ca_bundle_pem;

/// ALPN protocols offered and accepted on both sides, in preference order.
pub const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// The crypto provider every config in this crate is built with (ring; never aws-lc).
pub fn provider() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
    std::sync::Arc::new(rustls::crypto::ring::default_provider())
}

#[cfg(test)]
mod tests;
