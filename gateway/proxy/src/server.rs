//! The agent-facing listener: accept, HTTP/1.1 to the proxy, CONNECT with
//! TLS interception, graceful shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;

use arc_swap::ArcSwap;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::upgrade::Upgraded;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tf_core::{AuditSink, Snapshot};
use tf_tls::LeafResolver;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio_rustls::LazyConfigAcceptor;

use crate::body::ResponseBody;
use crate::config::ProxyConfig;
use crate::pipeline::{Origin, Tunnel};
use crate::upstream::{self, UpstreamClient};

/// Why a [`Proxy`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum NewProxyError {
    #[error("could not build the interception TLS config: {0}")]
    ServerTls(#[from] tf_tls::ConfigError),
}

/// The proxy's shared state. Cheap to share behind an `Arc`.
pub struct Proxy {
    pub(crate) config: ProxyConfig,
    pub(crate) snapshot: Arc<ArcSwap<Snapshot>>,
    pub(crate) leaves: Arc<LeafResolver>,
    pub(crate) server_tls: Arc<rustls::ServerConfig>,
    pub(crate) audit: Arc<dyn AuditSink>,
    pub(crate) client: UpstreamClient,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy").finish_non_exhaustive()
    }
}

impl Proxy {
    pub fn new(
        config: ProxyConfig,
        snapshot: Arc<ArcSwap<Snapshot>>,
        tls: Arc<LeafResolver>,
        audit: Arc<dyn AuditSink>,
    ) -> Result<Self, NewProxyError> {
        let server_tls = tf_tls::server_config(tls.clone())?;
        let client = upstream::client(&config);
        Ok(Self {
            config,
            snapshot,
            leaves: tls,
            server_tls,
            audit,
            client,
        })
    }
}

/// Held by every connection task; `serve` waits until all are dropped.
#[derive(Clone)]
pub(crate) struct Drain {
    signal: watch::Receiver<bool>,
    _done: mpsc::Sender<()>,
}

impl Drain {
    async fn signaled(&mut self) {
        // An error means `serve` is gone, which is a shutdown too.
        let _ = self.signal.wait_for(|stop| *stop).await;
    }
}

/// Serves agents on `listener` until `shutdown` completes, then stops
/// accepting and waits (up to `shutdown_grace`) for in-flight connections.
pub async fn serve(listener: TcpListener, proxy: Arc<Proxy>, shutdown: impl Future<Output = ()>) {
    let (signal_tx, signal_rx) = watch::channel(false);
    let (done_tx, mut done_rx) = mpsc::channel::<()>(1);
    let drain = Drain {
        signal: signal_rx,
        _done: done_tx,
    };
    let mut shutdown = pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, _peer)) => {
                    let _ = tcp.set_nodelay(true);
                    tokio::spawn(serve_agent(tcp, proxy.clone(), drain.clone()));
                }
                Err(e) => {
                    // Typically EMFILE: back off briefly instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
        }
    }
    drop(listener);
    let _ = signal_tx.send(true);
    drop(drain);
    if tokio::time::timeout(proxy.config.shutdown_grace, done_rx.recv())
        .await
        .is_err()
    {
        tracing::warn!("shutdown grace period elapsed with connections still open");
    }
}

async fn serve_agent(tcp: tokio::net::TcpStream, proxy: Arc<Proxy>, drain: Drain) {
    let svc_drain = drain.clone();
    let svc = service_fn(move |req| {
        let proxy = proxy.clone();
        let drain = svc_drain.clone();
        async move { Ok::<_, Infallible>(proxy.handle_agent(req, drain).await) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(tcp), svc)
        .with_upgrades();
    let mut conn = pin!(conn);
    let mut drain = drain;
    let result = tokio::select! {
        r = conn.as_mut() => r,
        () = drain.signaled() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, "agent connection ended with an error");
    }
}

impl Proxy {
    /// A request on the agent's plain connection: CONNECT or absolute-form http.
    async fn handle_agent(
        self: Arc<Self>,
        mut req: Request<Incoming>,
        drain: Drain,
    ) -> Response<ResponseBody> {
        if req.method() != Method::CONNECT {
            return self.handle(req, Origin::Plain).await;
        }
        let tunnel = match self.open_tunnel(&req) {
            Ok(t) => t,
            Err(resp) => return *resp,
        };
        let on_upgrade = hyper::upgrade::on(&mut req);
        let proxy = self.clone();
        tokio::spawn(async move {
            match on_upgrade.await {
                Ok(upgraded) => proxy.intercept(upgraded, tunnel, drain).await,
                Err(e) => tracing::debug!(error = %e, "CONNECT upgrade failed"),
            }
        });
        let mut resp = Response::new(ResponseBody::full(Bytes::new(), None));
        *resp.status_mut() = StatusCode::OK;
        resp
    }

    /// Terminates the agent's TLS inside a tunnel and serves HTTP/1.1 or HTTP/2.
    async fn intercept(self: Arc<Self>, upgraded: Upgraded, mut tunnel: Tunnel, drain: Drain) {
        let acceptor =
            LazyConfigAcceptor::new(rustls::server::Acceptor::default(), TokioIo::new(upgraded));
        let handshake = async {
            let start = acceptor.await?;
            let config = match start.client_hello().server_name() {
                Some(sni) => {
                    tunnel.sni_matches =
                        sni.trim_end_matches('.').eq_ignore_ascii_case(&tunnel.host);
                    self.server_tls.clone()
                }
                None => tf_tls::single_host_server_config(&self.leaves, &tunnel.host)
                    .map_err(std::io::Error::other)?,
            };
            start.into_stream(config).await
        };
        let tls = match tokio::time::timeout(self.config.handshake_timeout, handshake).await {
            Ok(Ok(tls)) => tls,
            Ok(Err(e)) => {
                tracing::debug!(error = %e, host = %tunnel.host, "agent TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!(host = %tunnel.host, "agent TLS handshake timed out");
                return;
            }
        };
        let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
        let tunnel = Arc::new(tunnel);
        let proxy = self.clone();
        let svc = service_fn(move |req| {
            let proxy = proxy.clone();
            let tunnel = tunnel.clone();
            async move { Ok::<_, Infallible>(proxy.handle(req, Origin::Tunnel(tunnel)).await) }
        });
        let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        let builder = if h2 {
            builder.http2_only()
        } else {
            builder.http1_only()
        };
        let conn = builder.serve_connection(TokioIo::new(tls), svc);
        let mut conn = pin!(conn);
        let mut drain = drain;
        let result = tokio::select! {
            r = conn.as_mut() => r,
            () = drain.signaled() => {
                conn.as_mut().graceful_shutdown();
                conn.await
            }
        };
        if let Err(e) = result {
            tracing::debug!(error = %e, "intercepted connection ended with an error");
        }
    }
}
