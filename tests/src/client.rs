//! An agent-side HTTPS client for load: CONNECT through the gateway with
//! `Proxy-Authorization`, TLS trusting the gateway's CA, then HTTP/1.1
//! keep-alive requests on that tunnel. For tests that need hundreds of
//! concurrent requests without a process per request.

use std::net::SocketAddr;
use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Opens tunnels through one gateway as one agent.
#[derive(Clone)]
pub struct ProxyClient {
    proxy: SocketAddr,
    auth: String,
    tls: Arc<ClientConfig>,
}

/// Why a request through the gateway did not complete (expected once the
/// gateway is killed).
/// An HTTP/1.1 TLS client config that trusts only the CAs in `ca_pem`.
pub fn tls_client_config(ca_pem: &[u8]) -> Arc<ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem) {
        roots.add(cert.expect("CA PEM")).expect("add root");
    }
    let mut cfg =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(cfg)
}

pub type ClientError = Box<dyn std::error::Error + Send + Sync>;

impl ProxyClient {
    /// `credentials` is `user:password` as `tf run` puts it in `HTTPS_PROXY`
    /// (percent-decoded); `gateway_ca_pem` is the data dir's `ca.pem`.
    pub fn new(proxy: SocketAddr, credentials: &str, gateway_ca_pem: &[u8]) -> Self {
        Self {
            proxy,
            auth: base64::engine::general_purpose::STANDARD.encode(credentials.as_bytes()),
            tls: tls_client_config(gateway_ca_pem),
        }
    }

    /// A keep-alive HTTP/1.1 connection to `host:443` through the gateway.
    pub async fn connect(&self, host: &str) -> Result<SendRequest<Full<Bytes>>, ClientError> {
        let mut tcp = TcpStream::connect(self.proxy).await?;
        tcp.set_nodelay(true)?;
        let req = format!(
            "CONNECT {host}:443 HTTP/1.1\r\nHost: {host}:443\r\nProxy-Authorization: Basic {}\r\n\r\n",
            self.auth
        );
        tcp.write_all(req.as_bytes()).await?;
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            tcp.read_exact(&mut byte).await?;
            head.push(byte[0]);
        }
        if !head.starts_with(b"HTTP/1.1 200") {
            return Err(format!("CONNECT refused: {}", String::from_utf8_lossy(&head)).into());
        }
        let tls = tokio_rustls::TlsConnector::from(Arc::clone(&self.tls))
            .connect(ServerName::try_from(host.to_owned())?, tcp)
            .await?;
        let (send, conn) = http1::handshake(TokioIo::new(tls)).await?;
        tokio::spawn(conn);
        Ok(send)
    }
}

/// Sends one request on `send`; returns the response (body not read).
pub async fn request(
    send: &mut SendRequest<Full<Bytes>>,
    method: &str,
    host: &str,
    path: &str,
    body: &[u8],
) -> Result<hyper::Response<hyper::body::Incoming>, ClientError> {
    let req = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", host)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::copy_from_slice(body)))?;
    send.ready().await?;
    Ok(send.send_request(req).await?)
}
