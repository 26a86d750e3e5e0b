//! rustls configurations: the interception server side and the upstream client side.

use std::sync::Arc;

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::leaf::{LeafResolver, MintError};

/// Why a rustls configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("rustls rejected the protocol versions: {0}")]
    Protocols(rustls::Error),
    #[error("the extra CA bundle is not valid PEM: {0}")]
    ExtraCaPem(rustls_pki_types::pem::Error),
    #[error("the extra CA bundle holds no certificate")]
    ExtraCaEmpty,
    #[error("a certificate of the extra CA bundle was rejected: {0}")]
    ExtraCaRejected(rustls::Error),
    #[error("no trusted root certificate could be loaded")]
    NoRoots,
    #[error(transparent)]
    Mint(#[from] MintError),
}

fn alpn() -> Vec<Vec<u8>> {
    crate::ALPN.iter().map(|p| p.to_vec()).collect()
}

/// The server config for intercepted connections: leaves minted per SNI,
/// ALPN h2 and http/1.1.
pub fn server_config(resolver: Arc<LeafResolver>) -> Result<Arc<ServerConfig>, ConfigError> {
    server_config_with(resolver)
}

fn server_config_with(
    resolver: Arc<dyn ResolvesServerCert>,
) -> Result<Arc<ServerConfig>, ConfigError> {
    let mut cfg = ServerConfig::builder_with_provider(crate::provider())
        .with_safe_default_protocol_versions()
        .map_err(ConfigError::Protocols)?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    cfg.alpn_protocols = alpn();
    Ok(Arc::new(cfg))
}

#[derive(Debug)]
struct Fixed(Arc<CertifiedKey>);

impl ResolvesServerCert for Fixed {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
}

/// A server config presenting the leaf for `host` whatever the SNI says;
/// for clients that send no SNI (e.g. when connecting to an IP address).
pub fn single_host_server_config(
    resolver: &LeafResolver,
    host: &str,
) -> Result<Arc<ServerConfig>, ConfigError> {
    let key = resolver.certified_key(host)?;
    server_config_with(Arc::new(Fixed(key)))
}

/// The client config for upstream connections: the system roots plus an
/// optional extra CA bundle (PEM), ALPN h2 and http/1.1.
pub fn upstream_client_config(
    extra_ca_pem: Option<&[u8]>,
) -> Result<Arc<ClientConfig>, ConfigError> {
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for e in &native.errors {
        tracing::debug!(error = %e, "skipping an unreadable system root");
    }
    let (_added, _ignored) = roots.add_parsable_certificates(native.certs);
    if let Some(pem) = extra_ca_pem {
        let mut n = 0usize;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(ConfigError::ExtraCaPem)?;
            roots.add(cert).map_err(ConfigError::ExtraCaRejected)?;
            n += 1;
        }
        if n == 0 {
            return Err(ConfigError::ExtraCaEmpty);
        }
    }
    if roots.is_empty() {
        return Err(ConfigError::NoRoots);
    }
    let mut cfg = ClientConfig::builder_with_provider(crate::provider())
        .with_safe_default_protocol_versions()
        .map_err(ConfigError::Protocols)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.alpn_protocols = alpn();
    Ok(Arc::new(cfg))
}
