//! The agent-facing listener: accept, HTTP/1.1 to the proxy, CONNECT with
//! TLS interception, graceful shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::upgrade::Upgraded;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tf_core::{AuditEntry, AuditSink, Outcome, Param, ParamValue, RequestId, Snapshot};
use tf_tls::LeafResolver;
use tf_tls::stream::{Acceptor, LazyConfigAcceptor};
use tokio::net::TcpListener;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc, watch};

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
    pub(crate) server_tls: Arc<tf_tls::stream::ServerConfig>,
    pub(crate) audit: Arc<dyn AuditSink>,
    pub(crate) client: UpstreamClient,
    /// Bounds concurrent `classify` calls (`max_concurrent_classifications`).
    pub(crate) classify_slots: Semaphore,
    /// Rate of individually recorded `407`s.
    pub(crate) auth_failures: AuthFailures,
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
        let classify_slots = Semaphore::new(config.max_concurrent_classifications.max(1));
        let auth_failures = AuthFailures::new(config.auth_failure_records_per_sec);
        Ok(Self {
            config,
            snapshot,
            leaves: tls,
            server_tls,
            audit,
            client,
            classify_slots,
            auth_failures,
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
    let connections = Arc::new(Semaphore::new(proxy.config.max_connections.max(1)));
    let mut aggregate = tokio::time::interval(std::time::Duration::from_secs(1));
    aggregate.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            _ = aggregate.tick() => proxy.record_auth_failures(),
            accepted = listener.accept() => match accepted {
                Ok((tcp, _peer)) => {
                    let _ = tcp.set_nodelay(true);
                    match connections.clone().try_acquire_owned() {
                        Ok(permit) => {
                            tokio::spawn(serve_agent(tcp, proxy.clone(), drain.clone(), permit));
                        }
                        Err(_) => {
                            tokio::spawn(refuse_connection(tcp, proxy.config.max_connections));
                        }
                    }
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
    proxy.record_auth_failures();
    let _ = signal_tx.send(true);
    drop(drain);
    if tokio::time::timeout(proxy.config.shutdown_grace, done_rx.recv())
        .await
        .is_err()
    {
        tracing::warn!("shutdown grace period elapsed with connections still open");
    }
}

/// Answers a connection over the cap with `503` and closes it, without
/// reading its request (bounded, so a peer that never reads cannot hold it).
async fn refuse_connection(mut tcp: tokio::net::TcpStream, cap: usize) {
    use tokio::io::AsyncWriteExt;
    let body = format!(
        "{{\"ok\":false,\"error\":{{\"type\":\"tameflare_denied\",\"code\":\"too_many_connections\",\"message\":\"The gateway already serves {cap} connections; retry shortly.\"}},\"decision\":\"denied\",\"reason\":\"too_many_connections\"}}"
    );
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\nRetry-After: 1\r\nX-TameFlare-Decision: denied\r\n\r\n{body}",
        body.len()
    );
    let write = async {
        tcp.write_all(response.as_bytes()).await?;
        tcp.shutdown().await
    };
    if tokio::time::timeout(std::time::Duration::from_secs(2), write)
        .await
        .is_err()
    {
        tracing::debug!("a refused connection did not take its 503 in time");
    }
    tracing::debug!(cap, "connection refused: the connection cap is reached");
}

async fn serve_agent(
    tcp: tokio::net::TcpStream,
    proxy: Arc<Proxy>,
    drain: Drain,
    permit: OwnedSemaphorePermit,
) {
    // The permit lives as long as this connection, including a CONNECT
    // tunnel opened on it (the interception task holds a clone).
    let permit = Arc::new(permit);
    let svc_drain = drain.clone();
    let svc_proxy = proxy.clone();
    let svc = service_fn(move |req| {
        let proxy = svc_proxy.clone();
        let drain = svc_drain.clone();
        let permit = permit.clone();
        async move { Ok::<_, Infallible>(proxy.handle_agent(req, drain, permit).await) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(proxy.config.header_read_timeout)
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
        permit: Arc<OwnedSemaphorePermit>,
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
                Ok(upgraded) => {
                    proxy.intercept(upgraded, tunnel, drain).await;
                    drop(permit);
                }
                Err(e) => tracing::debug!(error = %e, "CONNECT upgrade failed"),
            }
        });
        let mut resp = Response::new(ResponseBody::full(Bytes::new(), None));
        *resp.status_mut() = StatusCode::OK;
        resp
    }

    /// Terminates the agent's TLS inside a tunnel and serves HTTP/1.1 or HTTP/2.
    async fn intercept(self: Arc<Self>, upgraded: Upgraded, mut tunnel: Tunnel, drain: Drain) {
        let acceptor = LazyConfigAcceptor::new(Acceptor::default(), TokioIo::new(upgraded));
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
        let activity = Arc::new(Activity::new());
        let svc_activity = activity.clone();
        let svc = service_fn(move |req| {
            let proxy = proxy.clone();
            let tunnel = tunnel.clone();
            let busy = svc_activity.begin();
            async move {
                let resp = proxy.handle(req, Origin::Tunnel(tunnel)).await;
                drop(busy);
                Ok::<_, Infallible>(resp)
            }
        });
        let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(self.config.header_read_timeout);
        builder
            .http2()
            .timer(TokioTimer::new())
            .keep_alive_interval(Some(std::time::Duration::from_secs(30)))
            .keep_alive_timeout(std::time::Duration::from_secs(20));
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
            () = activity.idle_for(self.config.idle_timeout) => {
                tracing::debug!("closing an idle intercepted connection");
                conn.as_mut().graceful_shutdown();
                conn.await
            }
        };
        if let Err(e) = result {
            tracing::debug!(error = %e, "intercepted connection ended with an error");
        }
    }
}

/// Requests in flight on one intercepted connection, and when the last one
/// ended: the idle timeout's clock.
struct Activity {
    start: tokio::time::Instant,
    inflight: AtomicUsize,
    /// Milliseconds after `start` when the connection last became idle.
    idle_since_ms: AtomicU64,
    changed: Notify,
}

/// Marks one request in flight until dropped.
struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        let a = &self.0;
        a.idle_since_ms
            .store(a.start.elapsed().as_millis() as u64, Ordering::Relaxed);
        if a.inflight.fetch_sub(1, Ordering::AcqRel) == 1 {
            a.changed.notify_waiters();
        }
    }
}

impl Activity {
    fn new() -> Self {
        Self {
            start: tokio::time::Instant::now(),
            inflight: AtomicUsize::new(0),
            idle_since_ms: AtomicU64::new(0),
            changed: Notify::new(),
        }
    }

    fn begin(self: &Arc<Self>) -> Busy {
        self.inflight.fetch_add(1, Ordering::AcqRel);
        Busy(self.clone())
    }

    /// Completes once no request has been in flight for `timeout`.
    async fn idle_for(&self, timeout: std::time::Duration) {
        loop {
            let changed = self.changed.notified();
            if self.inflight.load(Ordering::Acquire) > 0 {
                changed.await;
                continue;
            }
            let since = self.idle_since_ms.load(Ordering::Relaxed);
            let deadline = self.start + std::time::Duration::from_millis(since) + timeout;
            tokio::time::sleep_until(deadline).await;
            if self.inflight.load(Ordering::Acquire) == 0
                && self.idle_since_ms.load(Ordering::Relaxed) == since
            {
                return;
            }
        }
    }
}

/// Counts `407` answers per second: the first `limit` of each second are
/// recorded one by one, the rest are summed into one aggregate record.
pub(crate) struct AuthFailures {
    limit: u32,
    second: AtomicU64,
    in_second: AtomicU32,
    suppressed: AtomicU64,
}

impl AuthFailures {
    fn new(limit: u32) -> Self {
        Self {
            limit,
            second: AtomicU64::new(0),
            in_second: AtomicU32::new(0),
            suppressed: AtomicU64::new(0),
        }
    }

    /// True if a `407` at `now_ms` gets its own record; false if it is
    /// counted into the next aggregate instead.
    pub(crate) fn admit(&self, now_ms: u64) -> bool {
        let second = now_ms / 1000;
        let seen = self.second.load(Ordering::Relaxed);
        if seen != second
            && self
                .second
                .compare_exchange(seen, second, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        {
            self.in_second.store(0, Ordering::Relaxed);
        }
        if self.in_second.fetch_add(1, Ordering::Relaxed) < self.limit {
            return true;
        }
        self.suppressed.fetch_add(1, Ordering::Relaxed);
        false
    }

    fn take_suppressed(&self) -> u64 {
        self.suppressed.swap(0, Ordering::Relaxed)
    }
}

impl Proxy {
    /// Writes one aggregate record for the `407`s counted since the last one.
    fn record_auth_failures(&self) {
        let n = self.auth_failures.take_suppressed();
        if n == 0 {
            return;
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let mut entry = AuditEntry::new(now, RequestId::new(now, rand::random()), "-", "-", "-");
        entry.outcome = Outcome::Denied;
        "proxy_auth_required".clone_into(&mut entry.reason);
        entry.params.push(Param {
            name: "aggregated_requests".into(),
            value: ParamValue::Integer(i64::try_from(n).unwrap_or(i64::MAX)),
        });
        tracing::warn!(
            requests = n,
            "requests without a valid gateway identity were refused (407), recorded as one aggregate"
        );
        self.audit.record(entry);
    }
}
