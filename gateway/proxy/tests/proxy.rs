//! End-to-end tests of the proxy: a real listener, a local HTTPS upstream
//! (reached via connect-to, trusted through an extra CA), in-test connector,
//! injector and audit sink, and hyper clients doing CONNECT + TLS.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use arc_swap::ArcSwap;
use base64::Engine;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Version};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tf_core::{
    Action, ActionSpec, AuditEntry, AuditSink, AuditUnavailable, Classifier, ClassifyError,
    ConnectorFailure, ConnectorRequest, Descriptor, GatewayEntry, InjectError, Injector, Outcome,
    PermissionSet, Phase, Placement, ReadOnlyIndex, Risk, Route, Rule, Snapshot,
};
use tf_proxy::{ConnectTo, Proxy, ProxyConfig, serve};
use tf_tls::{CertificateAuthority, LeafResolver};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc, oneshot};

const TOKEN: &str = "gw-token-123";
const SECRET: &str = "real-secret-xyz";
const BOUND: Duration = Duration::from_secs(10);

// ---------- in-test ports ----------

struct FnClassifier<F>(F);

impl<F> Classifier for FnClassifier<F>
where
    F: Fn(&ConnectorRequest) -> Result<Action, ClassifyError> + Send + Sync,
{
    fn classify(&self, request: ConnectorRequest) -> Result<Action, ClassifyError> {
        (self.0)(&request)
    }
}

struct BearerInjector;

impl Injector for BearerInjector {
    fn inject(&self, headers: &mut HeaderMap) -> Result<(), InjectError> {
        let v = HeaderValue::from_str(&format!("Bearer {SECRET}"))
            .map_err(|_| InjectError::InvalidHeader)?;
        headers.insert(http::header::AUTHORIZATION, v);
        Ok(())
    }
}

/// What the in-test sink does with a durable (write-ahead) entry.
#[derive(Clone, Copy, Default)]
enum Durable {
    /// Records it, then acknowledges the commit.
    #[default]
    Commit,
    /// Records nothing and reports a failed commit.
    Fail,
    /// Records nothing and drops the acknowledgement unanswered.
    Lose,
}

#[derive(Default)]
struct MemAudit {
    entries: Mutex<Vec<AuditEntry>>,
    /// Request ids whose durable entry was acknowledged as committed.
    committed: Mutex<Vec<String>>,
    durable: Mutex<Durable>,
    notify: Notify,
}

impl AuditSink for MemAudit {
    fn record(&self, entry: AuditEntry) {
        self.entries.lock().unwrap().push(entry);
        self.notify.notify_waiters();
    }

    fn record_durable(&self, entry: AuditEntry, done: tf_core::DurableAck) {
        let mode = *self.durable.lock().unwrap();
        match mode {
            Durable::Commit => {
                let id = entry.request_id.clone();
                self.record(entry);
                self.committed.lock().unwrap().push(id);
                done(Ok(()));
            }
            Durable::Fail => done(Err(AuditUnavailable::CommitFailed("disk full".into()))),
            Durable::Lose => drop(done),
        }
    }
}

impl MemAudit {
    /// Waits (bounded) until at least `n` entries were recorded.
    async fn wait_for(&self, n: usize) -> Vec<AuditEntry> {
        tokio::time::timeout(BOUND, async {
            loop {
                let notified = self.notify.notified();
                {
                    let e = self.entries.lock().unwrap();
                    if e.len() >= n {
                        return e.clone();
                    }
                }
                notified.await;
            }
        })
        .await
        .expect("audit entries did not arrive in time")
    }
}

// ---------- the upstream ----------

#[derive(Debug, Clone)]
struct Seen {
    /// The audit entries recorded when the request arrived upstream, and
    /// the request ids whose durable entry was committed by then.
    audit_at_arrival: Vec<AuditEntry>,
    committed_at_arrival: Vec<String>,
    version: Version,
    /// `:authority` (HTTP/2) or `Host` (HTTP/1.1).
    authority: String,
    path: String,
    query: Option<String>,
    headers: HeaderMap,
    body: Bytes,
}

/// A body fed through a channel, so the test decides when each frame is sent.
struct ChannelBody(mpsc::Receiver<Bytes>);

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx).map(|o| o.map(|b| Ok(Frame::data(b))))
    }
}

type UpBody = http_body_util::Either<http_body_util::Full<Bytes>, ChannelBody>;

/// What the mock upstream shares with the test.
#[derive(Clone)]
struct UpstreamState {
    seen: Arc<Mutex<Vec<Seen>>>,
    /// Notified whenever a request arrives.
    arrived: Arc<Notify>,
    ack: Arc<Notify>,
    audit: Arc<MemAudit>,
}

#[derive(Debug, thiserror::Error)]
#[error("the mock upstream resets this request")]
struct Reset;

/// Paths ending in `/hold` never get an answer; `/reset` is read, then the
/// connection is closed without one; `/sse` streams two events.
async fn upstream_handle(
    req: Request<Incoming>,
    state: UpstreamState,
) -> Result<Response<UpBody>, Reset> {
    let UpstreamState {
        seen,
        arrived,
        ack,
        audit,
    } = state;
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let authority = parts
        .uri
        .authority()
        .map(|a| a.to_string())
        .or_else(|| {
            parts
                .headers
                .get("host")
                .map(|h| h.to_str().unwrap().to_owned())
        })
        .unwrap_or_default();
    seen.lock().unwrap().push(Seen {
        audit_at_arrival: audit.entries.lock().unwrap().clone(),
        committed_at_arrival: audit.committed.lock().unwrap().clone(),
        version: parts.version,
        authority,
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts.headers,
        body,
    });
    arrived.notify_waiters();
    if parts.uri.path().ends_with("/hold") {
        std::future::pending::<()>().await;
    }
    if parts.uri.path().ends_with("/reset") {
        return Err(Reset);
    }
    if parts.uri.path() == "/sse" {
        let (tx, rx) = mpsc::channel(1);
        tokio::spawn(async move {
            let _ = tx.send(Bytes::from_static(b"data: one\n\n")).await;
            ack.notified().await;
            let _ = tx.send(Bytes::from_static(b"data: two\n\n")).await;
        });
        let mut resp = Response::new(UpBody::Right(ChannelBody(rx)));
        resp.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        );
        return Ok(resp);
    }
    let mut resp = Response::new(UpBody::Left(http_body_util::Full::new(Bytes::from_static(
        b"upstream says hi",
    ))));
    resp.headers_mut()
        .insert("x-upstream", HeaderValue::from_static("yes"));
    Ok(resp)
}

async fn start_upstream(state: UpstreamState) -> (SocketAddr, String) {
    let (ca, pem) = CertificateAuthority::generate("Upstream test CA").unwrap();
    let config = tf_tls::server_config(Arc::new(LeafResolver::new(ca))).unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let state = state.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let svc = service_fn(move |req| upstream_handle(req, state.clone()));
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), svc)
                    .await;
            });
        }
    });
    (addr, pem.cert_pem)
}

// ---------- the harness ----------

/// (method, path, query) as a classifier was given them.
type Classified = (String, String, Option<String>);

struct Harness {
    addr: SocketAddr,
    gateway_ca: String,
    audit: Arc<MemAudit>,
    seen: Arc<Mutex<Vec<Seen>>>,
    arrived: Arc<Notify>,
    ack: Arc<Notify>,
    body_seen: Arc<Mutex<Option<Vec<u8>>>>,
    /// Every (method, path, query) the `gh.test` classifier was given.
    classified: Arc<Mutex<Vec<Classified>>>,
    shutdown: Option<oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<()>,
}

fn action(name: &str) -> Action {
    Action {
        name: name.into(),
        resource: "res".into(),
        params: vec![tf_core::Param {
            name: "p".into(),
            value: tf_core::ParamValue::Integer(7),
        }],
        risk: Risk::Low,
        parts: Vec::new(),
    }
}

fn batch(parts: &[&str]) -> Action {
    Action {
        parts: parts.iter().map(|p| action(p)).collect(),
        ..action("test.batch")
    }
}

fn classify_path(r: &ConnectorRequest) -> Result<Action, ClassifyError> {
    // Under `/w/` the action is a mutation (not read-only in the catalogue).
    if r.path.starts_with("/w/") {
        return Ok(action("test.write"));
    }
    if r.path.starts_with("/r/") {
        return Ok(action("test.read"));
    }
    match r.path.as_str() {
        "/allowed" | "/sse" | "/upload" | "/" => Ok(action("test.read")),
        "/denied" => Ok(action("test.delete")),
        "/batch-ok" => Ok(batch(&["test.read", "test.read"])),
        "/batch-mixed" => Ok(batch(&["test.read", "test.delete"])),
        "/batch-unruled" => Ok(batch(&["test.read", "test.other"])),
        "/nomatch" => Ok(action("test.other")),
        "/slow" => {
            // A connector that takes its whole deadline.
            std::thread::sleep(Duration::from_millis(400));
            Ok(action("test.read"))
        }
        "/reject" => Err(ClassifyError::Rejected {
            code: "unknown-route".into(),
            message: "not in catalogue".into(),
        }),
        path => {
            // `/fail/<kind>`: a connector failure of that kind; anything
            // else a trap. The detail stands for guest-chosen text.
            let kind = path
                .strip_prefix("/fail/")
                .and_then(|k| serde_json::from_value(serde_json::json!(k)).ok())
                .unwrap_or(ConnectorFailure::Trap);
            Err(ClassifyError::failed(kind, "guest says <script>"))
        }
    }
}

/// A GitHub-like classifier over exact canonical paths, for `gh.test`.
fn classify_github(r: &ConnectorRequest) -> Result<Action, ClassifyError> {
    let name = match (r.method.as_str(), r.path.as_str()) {
        ("DELETE", "/repos/o/r") => "github.repo.delete",
        ("GET", "/repos/o/r") => "github.repo.get",
        ("PUT", "/repos/o/r/pulls/7/merge") => "github.pr.merge",
        _ => "github.unknown",
    };
    Ok(action(name))
}

fn descriptor(needs_body: bool) -> Arc<Descriptor> {
    let spec = |name: &str, read_only| ActionSpec {
        name: name.into(),
        description: String::new(),
        method: "*".into(),
        path_template: "/{path+}".into(),
        risk: Risk::Low,
        read_only,
    };
    Arc::new(Descriptor {
        name: "test".into(),
        version: "0.1.0".into(),
        domains: vec![],
        actions: vec![
            spec("test.read", true),
            spec("test.write", false),
            spec("test.delete", false),
        ],
        placement: Placement::bearer(),
        needs_body,
    })
}

impl Harness {
    async fn start(max_body_bytes: usize) -> Self {
        Self::start_with(|c| c.max_body_bytes = max_body_bytes).await
    }

    /// Starts with the defaults (1 KiB body limit) adjusted by `tune`.
    async fn start_with(tune: impl FnOnce(&mut ProxyConfig)) -> Self {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let ack = Arc::new(Notify::new());
        let arrived = Arc::new(Notify::new());
        let audit = Arc::new(MemAudit::default());
        let (up_addr, up_ca) = start_upstream(UpstreamState {
            seen: seen.clone(),
            arrived: arrived.clone(),
            ack: ack.clone(),
            audit: audit.clone(),
        })
        .await;

        let body_seen: Arc<Mutex<Option<Vec<u8>>>> = Arc::default();
        let recorder = body_seen.clone();
        let body_classifier = FnClassifier(move |r: &ConnectorRequest| {
            *recorder.lock().unwrap() = r.body.clone();
            assert!(r.headers.iter().all(|(n, _)| n != "authorization"));
            classify_path(r)
        });
        let route = |needs_body: bool, classifier: Arc<dyn Classifier>| {
            let descriptor = descriptor(needs_body);
            Arc::new(Route {
                instance: "github".into(),
                read_only: ReadOnlyIndex::new(&descriptor.actions),
                descriptor,
                placement: Placement::bearer(),
                classifier,
                credential: Some(Arc::new(BearerInjector)),
                credential_suspended: false,
            })
        };
        let plain: Arc<dyn Classifier> = Arc::new(FnClassifier(classify_path));
        let classified: Arc<Mutex<Vec<Classified>>> = Arc::default();
        let log = classified.clone();
        let github: Arc<dyn Classifier> = Arc::new(FnClassifier(move |r: &ConnectorRequest| {
            log.lock()
                .unwrap()
                .push((r.method.clone(), r.path.clone(), r.query.clone()));
            classify_github(r)
        }));
        let mut snapshot = Snapshot::default();
        snapshot
            .gateways
            .insert("Bot".into(), GatewayEntry::new("Bot", TOKEN));
        snapshot
            .gateways
            .insert("My Bot".into(), GatewayEntry::new("My Bot", TOKEN));
        snapshot
            .routes
            .insert("api.test".into(), route(false, plain.clone()));
        snapshot
            .routes
            .insert("localhost".into(), route(false, plain));
        snapshot
            .routes
            .insert("body.test".into(), route(true, Arc::new(body_classifier)));
        snapshot
            .routes
            .insert("gh.test".into(), route(false, github));
        snapshot.routes.insert(
            "refused.test".into(),
            route(false, Arc::new(FnClassifier(classify_path))),
        );
        // A credential entered for other domains: suspended, never injected.
        snapshot.routes.insert(
            "suspended.test".into(),
            Arc::new(Route {
                instance: "github".into(),
                descriptor: descriptor(false),
                placement: Placement::bearer(),
                classifier: Arc::new(FnClassifier(classify_path)),
                credential: None,
                credential_suspended: true,
                read_only: ReadOnlyIndex::new(&descriptor(false).actions),
            }),
        );
        let rule = |action: &str, decision| Rule {
            gateway: "*".into(),
            connector: "github".into(),
            action: action.into(),
            decision,
        };
        snapshot.permissions = PermissionSet::compile([
            rule("test.read", tf_core::Decision::Allow),
            rule("test.write", tf_core::Decision::Allow),
            rule("test.delete", tf_core::Decision::Deny),
            // A deny-list for gh.test: everything but two actions.
            rule("github.*", tf_core::Decision::Allow),
            rule("github.repo.delete", tf_core::Decision::Deny),
            rule("github.pr.merge", tf_core::Decision::Deny),
        ])
        .unwrap();

        let (ca, pem) = CertificateAuthority::generate("Gateway test CA").unwrap();
        let leaves = Arc::new(LeafResolver::new(ca));
        let mut config =
            ProxyConfig::new(tf_tls::upstream_client_config(Some(up_ca.as_bytes())).unwrap());
        config.max_body_bytes = 1024;
        for host in ["api.test", "body.test", "gh.test"] {
            config.connect_to.push(
                ConnectTo::parse(&format!("{host}:443:127.0.0.1:{}", up_addr.port())).unwrap(),
            );
        }
        // A port nothing listens on: connections are refused.
        let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let closed_port = closed.local_addr().unwrap().port();
        drop(closed);
        config
            .connect_to
            .push(ConnectTo::parse(&format!("refused.test:443:127.0.0.1:{closed_port}")).unwrap());
        tune(&mut config);
        let proxy = Proxy::new(
            config,
            Arc::new(ArcSwap::from_pointee(snapshot)),
            leaves,
            audit.clone(),
        )
        .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, Arc::new(proxy), async move {
            let _ = rx.await;
        }));
        Harness {
            addr,
            gateway_ca: pem.cert_pem,
            audit,
            seen,
            arrived,
            ack,
            body_seen,
            classified,
            shutdown: Some(tx),
            server,
        }
    }

    /// Shuts the proxy down, waits for `serve` to return, and returns every
    /// audit entry ever recorded.
    async fn finish(mut self) -> Vec<AuditEntry> {
        let _ = self.shutdown.take().unwrap().send(());
        tokio::time::timeout(BOUND, &mut self.server)
            .await
            .expect("serve did not stop")
            .unwrap();
        self.audit.entries.lock().unwrap().clone()
    }

    /// Waits (bounded) until the upstream has received `n` requests.
    async fn wait_seen(&self, n: usize) -> Vec<Seen> {
        tokio::time::timeout(BOUND, async {
            loop {
                let notified = self.arrived.notified();
                {
                    let s = self.seen.lock().unwrap();
                    if s.len() >= n {
                        return s.clone();
                    }
                }
                notified.await;
            }
        })
        .await
        .expect("the upstream did not receive the request in time")
    }

    fn seen_paths(&self) -> Vec<String> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .map(|s| s.path.clone())
            .collect()
    }

    fn client_tls(&self, alpn: &[&[u8]]) -> tokio_rustls::TlsConnector {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(self.gateway_ca.as_bytes()).unwrap())
            .unwrap();
        let mut cfg = rustls::ClientConfig::builder_with_provider(tf_tls::provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        tokio_rustls::TlsConnector::from(Arc::new(cfg))
    }

    /// Sends CONNECT; returns the upgraded stream or the proxy's refusal.
    async fn connect(
        &self,
        target: &str,
        auth: Option<(&str, &str)>,
    ) -> Result<TokioIo<hyper::upgrade::Upgraded>, Response<Incoming>> {
        let tcp = TcpStream::connect(self.addr).await.unwrap();
        let (mut send, conn) =
            hyper::client::conn::http1::handshake::<_, ReqBody>(TokioIo::new(tcp))
                .await
                .unwrap();
        tokio::spawn(conn.with_upgrades());
        let mut req = Request::builder().method(Method::CONNECT).uri(target);
        if let Some((user, pass)) = auth {
            let b = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
            req = req.header("proxy-authorization", format!("Basic {b}"));
        }
        let resp = send
            .send_request(req.body(ReqBody::empty()).unwrap())
            .await
            .unwrap();
        if resp.status() != StatusCode::OK {
            return Err(resp);
        }
        Ok(TokioIo::new(hyper::upgrade::on(resp).await.unwrap()))
    }

    /// One HTTP/1.1 request written byte for byte (so the request target
    /// reaches the proxy exactly as spelled) through a fresh tunnel to
    /// `host`; returns the status and body of the answer.
    async fn raw(&self, host: &str, method: &str, target: &str, extra: &str) -> (u16, String) {
        let head = format!(
            "{method} {target} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\ncontent-length: 0\r\n{extra}\r\n"
        );
        self.raw_bytes(host, &head).await
    }

    /// A request written byte for byte through a fresh tunnel to `host`.
    async fn raw_bytes(&self, host: &str, request: &str) -> (u16, String) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let io = self
            .connect(&format!("{host}:443"), Some(("Bot", TOKEN)))
            .await
            .expect("CONNECT refused");
        let mut tls = self
            .client_tls(&[b"http/1.1"])
            .connect(ServerName::try_from(host.to_owned()).unwrap(), io)
            .await
            .expect("TLS handshake with the gateway failed");
        let answer = tokio::time::timeout(BOUND, async {
            tls.write_all(request.as_bytes()).await.unwrap();
            let mut buf = Vec::new();
            // The proxy closes after answering (`connection: close`); a
            // reset after the last byte still leaves the answer in `buf`.
            let _ = tls.read_to_end(&mut buf).await;
            buf
        })
        .await
        .expect("no answer in time");
        let text = String::from_utf8_lossy(&answer).into_owned();
        let status = text
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status line in {text:?}"));
        let body = text
            .split_once("\r\n\r\n")
            .map_or("", |(_, b)| b)
            .to_owned();
        (status, body)
    }

    /// CONNECT + TLS (SNI `sni`) + HTTP/1.1 or HTTP/2 by ALPN.
    async fn tunnel(&self, target: &str, sni: &str, alpn: &[&[u8]]) -> Client {
        self.tunnel_conn(target, sni, alpn).await.0
    }

    /// [`Harness::tunnel`], and the task driving the client's connection
    /// (aborting it closes the connection).
    async fn tunnel_conn(
        &self,
        target: &str,
        sni: &str,
        alpn: &[&[u8]],
    ) -> (Client, tokio::task::JoinHandle<()>) {
        let io = self
            .connect(target, Some(("Bot", TOKEN)))
            .await
            .expect("CONNECT refused");
        let tls = self
            .client_tls(alpn)
            .connect(ServerName::try_from(sni.to_owned()).unwrap(), io)
            .await
            .expect("TLS handshake with the gateway failed");
        let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
        let io = TokioIo::new(tls);
        if h2 {
            let (send, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
                .await
                .unwrap();
            let task = tokio::spawn(async move {
                let _ = conn.await;
            });
            (Client::H2(send), task)
        } else {
            let (send, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
            let task = tokio::spawn(async move {
                let _ = conn.await;
            });
            (Client::H1(send), task)
        }
    }
}

/// A request body: whole, or in chunks of unknown total size.
#[derive(Default)]
struct ReqBody {
    chunks: VecDeque<Bytes>,
    known_size: bool,
}

impl ReqBody {
    fn empty() -> Self {
        Self {
            chunks: VecDeque::new(),
            known_size: true,
        }
    }
    fn full(b: impl Into<Bytes>) -> Self {
        Self {
            chunks: VecDeque::from([b.into()]),
            known_size: true,
        }
    }
    fn chunked(chunks: impl IntoIterator<Item = Bytes>) -> Self {
        Self {
            chunks: chunks.into_iter().collect(),
            known_size: false,
        }
    }
}

impl Body for ReqBody {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.chunks.pop_front().map(|b| Ok(Frame::data(b))))
    }
    fn is_end_stream(&self) -> bool {
        self.chunks.is_empty()
    }
    fn size_hint(&self) -> SizeHint {
        if self.known_size {
            SizeHint::with_exact(self.chunks.iter().map(|c| c.len() as u64).sum())
        } else {
            SizeHint::default()
        }
    }
}

enum Client {
    H1(hyper::client::conn::http1::SendRequest<ReqBody>),
    H2(hyper::client::conn::http2::SendRequest<ReqBody>),
}

impl Client {
    async fn send(&mut self, req: Request<ReqBody>) -> Response<Incoming> {
        let fut = async {
            match self {
                Client::H1(s) => s.send_request(req).await,
                Client::H2(s) => s.send_request(req).await,
            }
        };
        tokio::time::timeout(BOUND, fut)
            .await
            .expect("no response in time")
            .unwrap()
    }

    async fn get(&mut self, host: &str, path: &str) -> Response<Incoming> {
        let req = self.get_request(host, path);
        self.send(req).await
    }

    fn get_request(&self, host: &str, path: &str) -> Request<ReqBody> {
        let req = match self {
            Client::H1(_) => Request::get(path).header("host", host),
            Client::H2(_) => Request::get(format!("https://{host}{path}")),
        };
        req.body(ReqBody::empty()).unwrap()
    }

    /// Starts a GET without waiting for it: dropping (aborting) the task
    /// abandons the request (on HTTP/2 the client resets the stream).
    fn spawn_get(
        &mut self,
        host: &str,
        path: &str,
    ) -> tokio::task::JoinHandle<hyper::Result<Response<Incoming>>> {
        let req = self.get_request(host, path);
        match self {
            Client::H1(s) => tokio::spawn(s.send_request(req)),
            Client::H2(s) => tokio::spawn(s.send_request(req)),
        }
    }
}

async fn text(resp: Response<Incoming>) -> String {
    let b = tokio::time::timeout(BOUND, resp.into_body().collect())
        .await
        .expect("body in time")
        .unwrap()
        .to_bytes();
    String::from_utf8(b.to_vec()).unwrap()
}

async fn json(resp: Response<Incoming>) -> serde_json::Value {
    serde_json::from_str(&text(resp).await).unwrap()
}

fn header<'a>(resp: &'a Response<Incoming>, name: &str) -> &'a str {
    resp.headers().get(name).map_or("", |v| v.to_str().unwrap())
}

// ---------- tests ----------

#[tokio::test]
async fn allowed_request_gets_the_real_credential_not_the_placeholder() {
    let h = Harness::start(1024).await;
    let mut c = h.tunnel("api.test:443", "api.test", &[b"http/1.1"]).await;
    let req = Request::get("/allowed?x=1")
        .header("host", "api.test")
        .header("authorization", "Bearer placeholder")
        .header("proxy-connection", "keep-alive")
        .body(ReqBody::empty())
        .unwrap();
    let resp = c.send(req).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "x-tameflare-decision"), "allowed");
    assert_eq!(header(&resp, "x-tameflare-gateway"), "Bot");
    assert_eq!(header(&resp, "x-tameflare-connector"), "github");
    assert_eq!(header(&resp, "x-tameflare-action"), "test.read");
    assert_eq!(header(&resp, "x-upstream"), "yes");
    let request_id = header(&resp, "x-tameflare-request-id").to_owned();
    assert_eq!(request_id.len(), 28);
    assert_eq!(text(resp).await, "upstream says hi");

    let seen = h.seen.lock().unwrap()[0].clone();
    assert_eq!(seen.path, "/allowed");
    let auth: Vec<_> = seen.headers.get_all("authorization").iter().collect();
    assert_eq!(auth, [format!("Bearer {SECRET}").as_str()]);
    assert!(seen.headers.get("proxy-authorization").is_none());
    assert!(seen.headers.get("proxy-connection").is_none());
    assert_eq!(seen.headers["x-tameflare-agent"], "Bot");
    assert_eq!(seen.headers["x-tameflare-request-id"], request_id.as_str());
    assert_eq!(seen.authority, "api.test");

    drop(c);
    let entries = h.finish().await;
    assert_eq!(entries.len(), 1);
    let e = &entries[0];
    assert_eq!(e.outcome, Outcome::Allowed);
    assert_eq!(e.reason, "rule:*/github/test.read");
    assert_eq!(e.request_id, request_id);
    assert_eq!(e.path, "/allowed");
    assert_eq!(e.host, "api.test");
    assert_eq!(e.upstream_status, Some(200));
    assert_eq!(e.bytes_down, "upstream says hi".len() as u64);
    assert_eq!(e.params.len(), 1);
    assert!(e.forwarded);
    assert_eq!(e.phase, None, "read-only: one record");
    let as_json = serde_json::to_string(e).unwrap();
    assert!(!as_json.contains(SECRET) && !as_json.contains(TOKEN));
}

#[tokio::test]
async fn denials_never_reach_upstream_and_are_json() {
    let h = Harness::start(1024).await;
    let mut c = h.tunnel("api.test:443", "api.test", &[b"http/1.1"]).await;
    for (path, reason) in [
        ("/denied", "permission_denied"),
        ("/nomatch", "no_permission"),
        ("/reject", "connector_rejected"),
        ("/trap", "connector_error"),
        ("/a/../allowed", "non_canonical_path"),
        ("/a%zz", "non_canonical_path"),
    ] {
        let resp = c.get("api.test", path).await;
        let status = resp.status();
        assert_eq!(header(&resp, "x-tameflare-decision"), "denied");
        assert_eq!(header(&resp, "content-type"), "application/json");
        let j = json(resp).await;
        assert_eq!(j["decision"], "denied", "{path}");
        assert_eq!(j["ok"], false, "{path}");
        assert_eq!(j["error"]["type"], "tameflare_denied", "{path}");
        assert_eq!(j["error"]["code"], reason, "{path}");
        assert_eq!(j["reason"], reason, "{path}");
        assert_eq!(j["gateway"], "Bot");
        if reason != "non_canonical_path" {
            assert_eq!(j["connector"], "github");
        }
        assert!(j["request_id"].as_str().unwrap().len() == 28);
        assert!(!j["message"].as_str().unwrap().is_empty());
        let expected = if reason == "non_canonical_path" {
            400
        } else {
            403
        };
        assert_eq!(status.as_u16(), expected, "{path}");
        if reason == "permission_denied" {
            assert_eq!(j["action"], "test.delete");
        }
    }
    assert!(h.seen_paths().is_empty(), "{:?}", h.seen_paths());
    drop(c);
    let entries = h.finish().await;
    assert_eq!(entries.len(), 6);
    assert!(entries.iter().all(|e| e.outcome == Outcome::Denied));
}

#[tokio::test]
async fn connector_failures_are_denied_and_recorded_by_kind() {
    let h = Harness::start(1024).await;
    let mut c = h.tunnel("api.test:443", "api.test", &[b"http/1.1"]).await;
    let kinds = [
        ConnectorFailure::Deadline,
        ConnectorFailure::Trap,
        ConnectorFailure::OutOfMemory,
        ConnectorFailure::NoFreeInstance,
        ConnectorFailure::InvalidOutput,
        ConnectorFailure::ForbiddenImport,
    ];
    for kind in kinds {
        let path = format!("/fail/{}", kind.as_str());
        let resp = c.get("api.test", &path).await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{path}");
        let j = json(resp).await;
        assert_eq!(j["reason"], "connector_error", "{path}");
        assert_eq!(j["connector_failure"], kind.as_str(), "{path}");
        assert!(!j.to_string().contains("<script>"), "{j}");
    }
    // Other denials carry no kind.
    let j = json(c.get("api.test", "/reject").await).await;
    assert_eq!(j["reason"], "connector_rejected");
    assert!(j.get("connector_failure").is_none(), "{j}");
    assert!(h.seen_paths().is_empty(), "{:?}", h.seen_paths());
    drop(c);
    let entries = h.finish().await;
    let recorded: Vec<_> = entries.iter().map(|e| e.connector_failure).collect();
    let mut want: Vec<_> = kinds.into_iter().map(Some).collect();
    want.push(None);
    assert_eq!(recorded, want);
    assert!(entries.iter().all(|e| e.outcome == Outcome::Denied));
    assert!(
        entries[..kinds.len()]
            .iter()
            .all(|e| e.reason == "connector_error")
    );
}

#[tokio::test]
async fn unknown_host_completes_the_handshake_then_answers_403() {
    let h = Harness::start(1024).await;
    let mut c = h
        .tunnel("unknown.test:443", "unknown.test", &[b"h2", b"http/1.1"])
        .await;
    let resp = c.get("unknown.test", "/anything").await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(header(&resp, "x-tameflare-connector"), "");
    assert_eq!(json(resp).await["reason"], "no_connector");
    drop(c);
    let entries = h.finish().await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].reason, "no_connector");
}

#[tokio::test]
async fn proxy_auth_is_required_and_checked() {
    let h = Harness::start(1024).await;
    for auth in [None, Some(("Bot", "wrong")), Some(("Nobody", TOKEN))] {
        let resp = h
            .connect("api.test:443", auth)
            .await
            .expect_err("must be refused");
        assert_eq!(resp.status(), StatusCode::PROXY_AUTHENTICATION_REQUIRED);
        assert_eq!(
            header(&resp, "proxy-authenticate"),
            "Basic realm=\"tameflare\""
        );
        let j = json(resp).await;
        assert_eq!(j["reason"], "proxy_auth_required");
        assert!(!j.to_string().contains("wrong"));
    }
    // A percent-encoded name in the proxy URL, left encoded by the client.
    assert!(
        h.connect("api.test:443", Some(("My%20Bot", TOKEN)))
            .await
            .is_ok()
    );

    // Plain http:// through the proxy: same identity check, same pipeline.
    let tcp = TcpStream::connect(h.addr).await.unwrap();
    let (mut send, conn) = hyper::client::conn::http1::handshake::<_, ReqBody>(TokioIo::new(tcp))
        .await
        .unwrap();
    tokio::spawn(conn);
    let resp = send
        .send_request(
            Request::get("http://api.test/denied")
                .body(ReqBody::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PROXY_AUTHENTICATION_REQUIRED);
    let _ = text(resp).await;
    let b = base64::engine::general_purpose::STANDARD.encode(format!("Bot:{TOKEN}"));
    let resp = send
        .send_request(
            Request::get("http://api.test/denied")
                .header("proxy-authorization", format!("Basic {b}"))
                .body(ReqBody::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    // A connector host over plain HTTP: its credential never goes in clear.
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(json(resp).await["reason"], "insecure_scheme");
    drop(send);

    let entries = h.finish().await;
    // Three refused CONNECTs and two plain requests; the accepted CONNECT is not a request.
    assert_eq!(entries.len(), 5);
    assert_eq!(
        entries
            .iter()
            .filter(|e| e.reason == "proxy_auth_required")
            .count(),
        4
    );
}

#[tokio::test]
async fn host_and_sni_must_agree_with_the_connect_target() {
    let h = Harness::start(1024).await;
    let mut c = h.tunnel("api.test:443", "api.test", &[b"http/1.1"]).await;
    let resp = c.get("body.test", "/allowed").await;
    assert_eq!(resp.status(), StatusCode::MISDIRECTED_REQUEST);
    assert_eq!(json(resp).await["reason"], "host_mismatch");
    let resp = c.get("api.test:8443", "/allowed").await;
    assert_eq!(resp.status(), StatusCode::MISDIRECTED_REQUEST);
    let _ = text(resp).await;

    let mut c2 = h.tunnel("api.test:443", "body.test", &[b"h2"]).await;
    let resp = c2.get("body.test", "/allowed").await;
    assert_eq!(resp.status(), StatusCode::MISDIRECTED_REQUEST);
    let _ = text(resp).await;
    assert!(h.seen_paths().is_empty());
    drop((c, c2));
    assert_eq!(h.finish().await.len(), 3);
}

#[tokio::test]
async fn server_sent_events_are_relayed_event_by_event() {
    let h = Harness::start(1024).await;
    let mut c = h.tunnel("api.test:443", "api.test", &[b"http/1.1"]).await;
    let resp = c.get("api.test", "/sse").await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "content-type"), "text/event-stream");
    let mut body = resp.into_body();
    let mut next = async || {
        let frame = tokio::time::timeout(BOUND, body.frame())
            .await
            .expect("event did not arrive: buffered?")
            .unwrap()
            .unwrap();
        frame.into_data().unwrap()
    };
    // The upstream sends the second event only after this acknowledgement.
    assert_eq!(next().await, "data: one\n\n");
    h.ack.notify_one();
    assert_eq!(next().await, "data: two\n\n");
    drop(c);
    let entries = h.audit.wait_for(1).await;
    assert_eq!(entries[0].bytes_down, 22);
    assert_eq!(h.finish().await.len(), 1);
}

#[tokio::test]
async fn http2_on_both_sides() {
    let h = Harness::start(1024).await;
    let mut c = h.tunnel("api.test:443", "api.test", &[b"h2"]).await;
    assert!(matches!(c, Client::H2(_)));
    for _ in 0..3 {
        let resp = c.get("api.test", "/allowed").await;
        assert_eq!(resp.version(), Version::HTTP_2);
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(text(resp).await, "upstream says hi");
    }
    let seen = h.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3);
    assert!(seen.iter().all(|s| s.version == Version::HTTP_2));
    assert_eq!(
        seen[0].headers["authorization"],
        format!("Bearer {SECRET}").as_str()
    );
    drop(c);
    assert_eq!(h.finish().await.len(), 3);
}

#[tokio::test]
async fn body_needing_connector_sees_the_body_and_upstream_gets_it_unchanged() {
    let h = Harness::start(1024).await;
    let mut c = h.tunnel("body.test:443", "body.test", &[b"http/1.1"]).await;
    let payload = Bytes::from_static(br#"{"title":"hello","n":1}"#);
    let req = Request::post("/upload")
        .header("host", "body.test")
        .header("content-type", "application/json")
        .body(ReqBody::full(payload.clone()))
        .unwrap();
    let resp = c.send(req).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let _ = text(resp).await;
    assert_eq!(h.body_seen.lock().unwrap().as_deref(), Some(&payload[..]));
    assert_eq!(h.seen.lock().unwrap()[0].body, payload);

    // Chunked, no length: the limit is enforced while reading.
    let req = Request::post("/upload")
        .header("host", "body.test")
        .body(ReqBody::chunked([
            Bytes::from_static(b"ab"),
            Bytes::from_static(b"cd"),
        ]))
        .unwrap();
    let resp = c.send(req).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let _ = text(resp).await;
    assert_eq!(h.seen.lock().unwrap()[1].body, "abcd");
    drop(c);
    let entries = h.finish().await;
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].bytes_up, payload.len() as u64);
}

#[tokio::test]
async fn body_over_the_limit_is_denied_not_passed() {
    let h = Harness::start(1024).await;
    let mut c = h.tunnel("body.test:443", "body.test", &[b"http/1.1"]).await;
    let req = Request::post("/upload")
        .header("host", "body.test")
        .body(ReqBody::full(vec![b'x'; 2048]))
        .unwrap();
    let resp = c.send(req).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(json(resp).await["reason"], "body_too_large");

    let mut c = h.tunnel("body.test:443", "body.test", &[b"h2"]).await;
    let req = Request::post("https://body.test/upload")
        .body(ReqBody::chunked(
            (0..4).map(|_| Bytes::from(vec![b'y'; 512])),
        ))
        .unwrap();
    let resp = c.send(req).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(json(resp).await["reason"], "body_too_large");
    assert!(h.seen_paths().is_empty());
    drop(c);
    assert_eq!(h.finish().await.len(), 2);
}

#[tokio::test]
async fn private_upstreams_are_blocked_without_connect_to() {
    let h = Harness::start(1024).await;
    let mut c = h.tunnel("localhost:443", "localhost", &[b"http/1.1"]).await;
    let resp = c.get("localhost", "/allowed").await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(json(resp).await["reason"], "upstream_blocked");
    drop(c);
    let entries = h.finish().await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].outcome, Outcome::Denied);
}

#[tokio::test]
async fn a_batch_is_decided_part_by_part_and_the_most_restrictive_decision_applies() {
    let h = Harness::start(1024).await;
    let mut c = h.tunnel("api.test:443", "api.test", &[b"http/1.1"]).await;
    // `test.batch` itself has no rule: only the parts are decided.
    let ok = c.get("api.test", "/batch-ok").await;
    assert_eq!(ok.status(), 200);
    for (path, reason) in [
        ("/batch-mixed", "permission_denied"),
        ("/batch-unruled", "no_permission"),
    ] {
        let resp = c.get("api.test", path).await;
        assert_eq!(resp.status(), 403, "{path}");
        let j = json(resp).await;
        assert_eq!(j["reason"], reason, "{path}");
    }
    assert_eq!(
        h.seen_paths(),
        ["/batch-ok"],
        "denied batches never reach upstream"
    );
    drop(c);
    let entries = h.finish().await;
    let ok = entries
        .iter()
        .find(|e| e.path == "/batch-ok")
        .expect("audited");
    assert_eq!(ok.action.as_deref(), Some("test.batch"));
    assert!(ok.reason.starts_with("rule:"), "{}", ok.reason);
    let mixed = entries
        .iter()
        .find(|e| e.path == "/batch-mixed")
        .expect("audited");
    assert_eq!(mixed.reason, "permission_denied");
}

// ---------- containment: schemes, ports, credential headers, placeholders ----------

/// The placeholder `tf run` gives the agent for the harness's `github` route.
fn own_placeholder() -> String {
    tf_core::placeholder::for_instance("github")
}

#[tokio::test]
async fn credentials_go_only_over_tls_to_the_declared_port() {
    let h = Harness::start(1024).await;
    // Plain http:// to a connector host, allowed action or not.
    let tcp = TcpStream::connect(h.addr).await.unwrap();
    let (mut send, conn) = hyper::client::conn::http1::handshake::<_, ReqBody>(TokioIo::new(tcp))
        .await
        .unwrap();
    tokio::spawn(conn);
    let b = base64::engine::general_purpose::STANDARD.encode(format!("Bot:{TOKEN}"));
    for target in [
        "http://api.test/allowed",
        "http://api.test:443/allowed",
        "http://api.test:8080/allowed",
    ] {
        let resp = send
            .send_request(
                Request::get(target)
                    .header("proxy-authorization", format!("Basic {b}"))
                    .header("authorization", format!("Bearer {}", own_placeholder()))
                    .body(ReqBody::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{target}");
        let j = json(resp).await;
        assert_eq!(j["reason"], "insecure_scheme", "{target}");
        assert!(!j.to_string().contains(SECRET));
    }
    drop(send);
    // CONNECT to the connector host on another port.
    let mut c = h.tunnel("api.test:8443", "api.test", &[b"http/1.1"]).await;
    let resp = c.get("api.test:8443", "/allowed").await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(json(resp).await["reason"], "undeclared_port");
    assert!(h.seen_paths().is_empty(), "nothing may reach the upstream");
    h.finish().await;
}

#[tokio::test]
async fn the_agents_credential_headers_never_reach_the_api() {
    let h = Harness::start(1024).await;
    for alpn in [&b"http/1.1"[..], &b"h2"[..]] {
        let mut c = h.tunnel("api.test:443", "api.test", &[alpn]).await;
        let req = match c {
            Client::H1(_) => Request::get("/allowed").header("host", "api.test"),
            Client::H2(_) => Request::get("https://api.test/allowed"),
        };
        let req = req
            // What the official Anthropic SDK sends beside x-api-key.
            .header("authorization", format!("Bearer {}", own_placeholder()))
            .header("x-api-key", "sk-agents-own-key")
            .header("api-key", "azure-style-own-key")
            .header("x-auth-token", "own-token")
            .header("cookie", "session=agents-own")
            .header("x-other", "kept")
            .body(ReqBody::empty())
            .unwrap();
        let resp = c.send(req).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let _ = text(resp).await;
    }
    let seen = h.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    for s in seen.iter() {
        let auth: Vec<_> = s.headers.get_all("authorization").iter().collect();
        assert_eq!(
            auth,
            [format!("Bearer {SECRET}").as_str()],
            "only the injected credential"
        );
        for gone in [
            "x-api-key",
            "api-key",
            "x-auth-token",
            "cookie",
            "proxy-authorization",
        ] {
            assert!(s.headers.get(gone).is_none(), "{gone} reached the upstream");
        }
        assert_eq!(s.headers["x-other"], "kept");
        assert!(!format!("{:?}", s.headers).contains("tf-placeholder-"));
    }
    h.finish().await;
}

#[tokio::test]
async fn a_placeholder_where_it_would_not_be_replaced_is_refused() {
    let h = Harness::start(1024).await;
    let own = own_placeholder();
    let other = tf_core::placeholder::for_instance("stripe");
    let encoded_own = own.replace('-', "%2D");
    let cases: Vec<(&str, &str, Request<ReqBody>)> = vec![
        (
            "another header",
            "api.test",
            Request::get("/allowed")
                .header("x-forwarded-token", own.as_str())
                .body(ReqBody::empty())
                .unwrap(),
        ),
        (
            "another connector's credential header",
            "api.test",
            Request::get("/allowed")
                .header("authorization", format!("Bearer {other}"))
                .body(ReqBody::empty())
                .unwrap(),
        ),
        (
            "Basic credentials of another connector",
            "api.test",
            Request::get("/allowed")
                .header(
                    "authorization",
                    format!(
                        "Basic {}",
                        base64::engine::general_purpose::STANDARD.encode(format!("x:{other}"))
                    ),
                )
                .body(ReqBody::empty())
                .unwrap(),
        ),
        (
            "the query",
            "api.test",
            Request::get(format!("/allowed?access_token={own}"))
                .body(ReqBody::empty())
                .unwrap(),
        ),
        (
            "the percent-encoded query",
            "api.test",
            Request::get(format!("/allowed?access_token={encoded_own}"))
                .body(ReqBody::empty())
                .unwrap(),
        ),
        (
            "a body read for classification",
            "body.test",
            Request::post("/upload")
                .body(ReqBody::full(format!("{{\"token\":\"{own}\"}}")))
                .unwrap(),
        ),
        (
            "a streamed body, split across frames",
            "api.test",
            Request::post("/upload")
                .body(ReqBody::chunked([
                    Bytes::from_static(b"{\"token\":\"tf-place"),
                    Bytes::from(format!("{}\"}}", &own["tf-place".len()..])),
                ]))
                .unwrap(),
        ),
    ];
    for (what, host, mut req) in cases {
        let mut c = h.tunnel(&format!("{host}:443"), host, &[b"http/1.1"]).await;
        req.headers_mut()
            .insert("host", HeaderValue::from_str(host).unwrap());
        let resp = c.send(req).await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{what}");
        let j = json(resp).await;
        assert_eq!(j["reason"], "placeholder_misuse", "{what}: {j}");
    }
    let seen = h.seen.lock().unwrap().clone();
    assert!(
        seen.iter().all(
            |s| !String::from_utf8_lossy(&s.body).contains("tf-placeholder-")
                && !format!("{:?}", s.headers).contains("tf-placeholder-")
        ),
        "a placeholder reached the upstream"
    );
    let entries = h.finish().await;
    assert_eq!(
        entries
            .iter()
            .filter(|e| e.reason == "placeholder_misuse")
            .count(),
        7
    );
}

// ---------- resource limits ----------

#[tokio::test]
async fn connections_over_the_cap_get_a_clear_503() {
    let h = Harness::start_with(|c| c.max_connections = 1).await;
    let held = h.tunnel("api.test:443", "api.test", &[b"http/1.1"]).await;
    let mut tcp = TcpStream::connect(h.addr).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(
        BOUND,
        tokio::io::AsyncReadExt::read_to_end(&mut tcp, &mut answer),
    )
    .await
    .expect("the refusal must come at once")
    .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 503 "), "{answer}");
    assert!(answer.contains("too_many_connections"), "{answer}");
    drop(held);
    h.finish().await;
}

#[tokio::test]
async fn a_peer_that_never_finishes_its_head_is_cut_off() {
    let h = Harness::start_with(|c| c.header_read_timeout = Duration::from_millis(200)).await;
    let mut tcp = TcpStream::connect(h.addr).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut tcp, b"CONNECT api.test:443 HTTP/1.1\r\nHost: api")
        .await
        .unwrap();
    let mut rest = Vec::new();
    // The gateway closes the connection (possibly after a 408); it does not wait forever.
    tokio::time::timeout(
        BOUND,
        tokio::io::AsyncReadExt::read_to_end(&mut tcp, &mut rest),
    )
    .await
    .expect("a slow head must be cut off by the header-read timeout")
    .ok();
    h.finish().await;
}

#[tokio::test]
async fn an_idle_intercepted_connection_is_closed() {
    let h = Harness::start_with(|c| c.idle_timeout = Duration::from_millis(200)).await;
    let io = h
        .connect("api.test:443", Some(("Bot", TOKEN)))
        .await
        .unwrap();
    let tls = h
        .client_tls(&[b"h2"])
        .connect(ServerName::try_from("api.test".to_owned()).unwrap(), io)
        .await
        .unwrap();
    let (mut send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .unwrap();
    let conn = tokio::spawn(conn);
    let resp = send
        .send_request(
            Request::get("https://api.test/allowed")
                .body(ReqBody::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let _ = text(resp).await;
    // With no request in flight, the gateway sends GOAWAY and the connection ends.
    tokio::time::timeout(BOUND, conn)
        .await
        .expect("the idle connection must be closed")
        .unwrap()
        .ok();
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn slow_connectors_cannot_take_every_worker() {
    let h = Harness::start_with(|c| {
        c.max_concurrent_classifications = 1;
        c.classify_wait = Duration::from_millis(50);
    })
    .await;
    let mut a = h.tunnel("api.test:443", "api.test", &[b"http/1.1"]).await;
    let mut b = h.tunnel("api.test:443", "api.test", &[b"http/1.1"]).await;
    let slow = tokio::spawn(async move {
        let resp = a.get("api.test", "/slow").await;
        resp.status()
    });
    // Wait until the slow classification holds the only slot.
    tokio::time::timeout(BOUND, async {
        loop {
            let resp = b.get("api.test", "/allowed").await;
            if resp.status() == StatusCode::SERVICE_UNAVAILABLE {
                assert_eq!(json(resp).await["reason"], "gateway_busy");
                return;
            }
            let _ = text(resp).await;
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("a request waiting for a busy slot must be refused with 503");
    assert_eq!(slow.await.unwrap(), StatusCode::OK);
    h.finish().await;
}

#[tokio::test]
async fn a_407_flood_is_recorded_as_aggregates() {
    let h = Harness::start_with(|c| c.auth_failure_records_per_sec = 3).await;
    for _ in 0..40 {
        let resp = h.connect("api.test:443", None).await.expect_err("refused");
        assert_eq!(resp.status(), StatusCode::PROXY_AUTHENTICATION_REQUIRED);
    }
    let entries = h.finish().await;
    let single = entries
        .iter()
        .filter(|e| e.reason == "proxy_auth_required" && e.params.is_empty())
        .count();
    let aggregated: i64 = entries
        .iter()
        .filter(|e| e.reason == "proxy_auth_required")
        .flat_map(|e| &e.params)
        .filter(|p| p.name == "aggregated_requests")
        .map(|p| match p.value {
            tf_core::ParamValue::Integer(n) => n,
            _ => panic!("count is an integer"),
        })
        .sum();
    // At most 3 per second individually (the loop may straddle a second).
    assert!(single <= 6, "{single} individual records");
    assert_eq!(single as i64 + aggregated, 40, "every 407 is accounted for");
    assert!(
        entries.len() < 12,
        "{} records for 40 refusals",
        entries.len()
    );
}

// ---------- canonical requests ----------

/// Every spelling of issue 9's bypasses, and the ambiguous ones: each is
/// classified as its canonical form or refused, and nothing but canonical
/// paths reaches the upstream.
#[tokio::test]
async fn path_variants_classify_as_their_canonical_form_or_are_refused() {
    let h = Harness::start(1024).await;
    let denied = |action: &'static str| Ok::<_, &str>(action);
    let refused = Err("non_canonical_path");
    for (method, target, expected) in [
        ("DELETE", "/repos/o/r", denied("github.repo.delete")),
        ("DELETE", "/repos/o/r/", denied("github.repo.delete")),
        ("DELETE", "/repos//o/r", denied("github.repo.delete")),
        ("DELETE", "//repos/o/r", denied("github.repo.delete")),
        (
            "DELETE",
            "///repos///o///r///",
            denied("github.repo.delete"),
        ),
        ("DELETE", "/%72epos/o/r", denied("github.repo.delete")),
        (
            "DELETE",
            "/%72%65%70%6f%73/%6F/%72",
            denied("github.repo.delete"),
        ),
        ("DELETE", "/repos/o/r?x=1", denied("github.repo.delete")),
        ("PUT", "/repos/o/r/pulls/7/merge", denied("github.pr.merge")),
        (
            "PUT",
            "/repos/o/r/pulls/7/merge/",
            denied("github.pr.merge"),
        ),
        (
            "PUT",
            "/repos/o/r/pulls/7//merge",
            denied("github.pr.merge"),
        ),
        (
            "PUT",
            "/repos/o/r/pulls/%37/m%65rge",
            denied("github.pr.merge"),
        ),
        ("DELETE", "/repos/o/r;x=1", refused),
        ("DELETE", "/repos/o/r;", refused),
        ("DELETE", "/repos\\o\\r", refused),
        ("DELETE", "/repos/o/r%5C", refused),
        ("DELETE", "/repos/o%2Fr", refused),
        ("DELETE", "/repos%2fo/r", refused),
        ("DELETE", "/%2572epos/o/r", refused),
        ("DELETE", "/repos/o/r/.", refused),
        ("DELETE", "/repos/o/r/%2e", refused),
        ("DELETE", "/repos/o/x/../r", refused),
        ("DELETE", "/repos/o/r%00", refused),
        ("DELETE", "/repos/o/r%C3", refused),
        ("DELETE", "/repos/o/r%zz", refused),
        ("PUT", "/repos/o/r/pulls/7/merge;v=1", refused),
        ("PUT", "/repos/o/r/pulls/7%2Fmerge", refused),
    ] {
        let (status, body) = h.raw("gh.test", method, target, "").await;
        let j: serde_json::Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("{method} {target}: {e}: {body:?}"));
        match expected {
            Ok(action) => {
                assert_eq!(status, 403, "{method} {target}: {body}");
                assert_eq!(j["reason"], "permission_denied", "{method} {target}");
                assert_eq!(j["action"], action, "{method} {target}");
            }
            Err(reason) => {
                assert_eq!(status, 400, "{method} {target}: {body}");
                assert_eq!(j["reason"], reason, "{method} {target}");
                let m = j["message"].as_str().unwrap();
                assert!(m.contains("Instead, "), "{m}");
            }
        }
    }
    // Allowed, so forwarded: the upstream gets exactly what was classified.
    let (status, _) = h
        .raw("gh.test", "GET", "//repos/%6F//r/?a=%2f&b=1", "")
        .await;
    assert_eq!(status, 200);
    let seen: Vec<_> = h
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|s| (s.path.clone(), s.query.clone()))
        .collect();
    assert_eq!(
        seen,
        [("/repos/o/r".to_owned(), Some("a=%2f&b=1".to_owned()))]
    );
    let classified = h.classified.lock().unwrap().clone();
    assert!(
        classified.iter().all(|(_, p, _)| tf_core::canonical_path(p)
            .is_ok_and(|c| matches!(c, std::borrow::Cow::Borrowed(_)))),
        "only canonical paths are classified: {classified:?}"
    );
    assert_eq!(
        classified.last().unwrap(),
        &(
            "GET".to_owned(),
            "/repos/o/r".to_owned(),
            Some("a=%2f&b=1".to_owned())
        )
    );

    // HTTP/2 `:path` goes through the same rule.
    let mut c = h.tunnel("gh.test:443", "gh.test", &[b"h2"]).await;
    let req = Request::delete("https://gh.test//repos/o/r/")
        .body(ReqBody::empty())
        .unwrap();
    let resp = c.send(req).await;
    assert_eq!(resp.status(), 403);
    assert_eq!(json(resp).await["action"], "github.repo.delete");
    drop(c);
    assert_eq!(h.seen_paths(), ["/repos/o/r"]);
    let entries = h.finish().await;
    // gh.test's actions are not in the test catalogue, so they count as
    // mutations: the allowed one leaves a write-ahead and a completion record.
    let allowed: Vec<_> = entries
        .iter()
        .filter(|e| e.outcome == Outcome::Allowed && e.phase != Some(Phase::WriteAhead))
        .collect();
    assert_eq!(allowed.len(), 1);
    assert_eq!(allowed[0].path, "/repos/o/r");
    for e in entries.iter().filter(|e| e.action.is_some()) {
        assert!(
            !e.path.contains("//") && !e.path.contains('%') && !e.path.ends_with('/'),
            "audited path {:?} is canonical",
            e.path
        );
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn zlib(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A brotli stream of one uncompressed meta-block (no brotli encoder needed).
fn brotli_stored(data: &[u8]) -> Vec<u8> {
    assert!(!data.is_empty() && data.len() <= 1 << 16);
    let bits = (((data.len() - 1) as u32) << 4) | (1 << 20);
    let mut out = vec![bits as u8, (bits >> 8) as u8, (bits >> 16) as u8];
    out.extend_from_slice(data);
    out.push(0b11);
    out
}

fn post_encoded(coding: &str, body: Vec<u8>) -> Request<ReqBody> {
    Request::post("/upload")
        .header("host", "body.test")
        .header("content-type", "application/json")
        .header("content-encoding", coding)
        .body(ReqBody::full(body))
        .unwrap()
}

#[tokio::test]
async fn content_coded_bodies_are_classified_and_forwarded_decoded() {
    let h = Harness::start(1024).await;
    let mut c = h.tunnel("body.test:443", "body.test", &[b"http/1.1"]).await;
    let plain: &[u8] = br#"{"state":"closed","title":"hello"}"#;
    let zstd =
        ruzstd::encoding::compress_to_vec(plain, ruzstd::encoding::CompressionLevel::Fastest);
    let cases = [
        ("gzip", gzip(plain)),
        ("x-gzip", gzip(plain)),
        ("deflate", zlib(plain)),
        ("br", brotli_stored(plain)),
        ("zstd", zstd),
        ("identity", plain.to_vec()),
        // Applied gzip first, then br: undone in reverse order.
        ("gzip, br", brotli_stored(&gzip(plain))),
    ];
    for (i, (coding, body)) in cases.iter().enumerate() {
        let resp = c.send(post_encoded(coding, body.clone())).await;
        assert_eq!(resp.status(), StatusCode::OK, "{coding}");
        let _ = text(resp).await;
        assert_eq!(
            h.body_seen.lock().unwrap().as_deref(),
            Some(plain),
            "{coding}"
        );
        let seen = h.seen.lock().unwrap()[i].clone();
        assert_eq!(
            seen.body, plain,
            "{coding}: the decoded bytes are forwarded"
        );
        assert!(seen.headers.get("content-encoding").is_none(), "{coding}");
        assert_eq!(
            seen.headers["content-length"],
            plain.len().to_string().as_str(),
            "{coding}"
        );
    }
    drop(c);
    let entries = h.finish().await;
    assert_eq!(entries.len(), cases.len());
    assert!(entries.iter().all(|e| e.bytes_up == plain.len() as u64));
}

#[tokio::test]
async fn undecodable_or_oversized_coded_bodies_are_refused_and_not_forwarded() {
    let h = Harness::start(1024 * 1024).await;
    let mut c = h.tunnel("body.test:443", "body.test", &[b"http/1.1"]).await;
    let bomb = gzip(&vec![0u8; 10 * 1024 * 1024]);
    assert!(bomb.len() < 1024 * 1024);
    let mut corrupt = gzip(b"{}");
    corrupt.truncate(corrupt.len() - 4);
    for (coding, body, status, reason) in [
        ("gzip", bomb, 413, "body_too_large"),
        (
            "compress",
            b"x".to_vec(),
            415,
            "unsupported_content_encoding",
        ),
        (
            "gzip, lzma",
            b"x".to_vec(),
            415,
            "unsupported_content_encoding",
        ),
        ("gzip", corrupt, 400, "bad_content_encoding"),
        ("deflate", b"not zlib".to_vec(), 400, "bad_content_encoding"),
        ("zstd", b"not zstd".to_vec(), 400, "bad_content_encoding"),
    ] {
        let resp = c.send(post_encoded(coding, body)).await;
        assert_eq!(resp.status().as_u16(), status, "{coding}");
        let j = json(resp).await;
        assert_eq!(j["reason"], reason, "{coding}");
        if reason == "body_too_large" {
            let m = j["message"].as_str().unwrap();
            assert!(m.contains("decoded") && m.contains("1048576"), "{m}");
        }
    }
    assert!(h.seen_paths().is_empty(), "nothing is forwarded");
    drop(c);

    // A connector that does not read the body: streamed as sent, coding kept.
    let mut c = h.tunnel("api.test:443", "api.test", &[b"http/1.1"]).await;
    let body = gzip(b"{}");
    let req = Request::post("/allowed")
        .header("host", "api.test")
        .header("content-encoding", "gzip")
        .body(ReqBody::full(body.clone()))
        .unwrap();
    let resp = c.send(req).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let _ = text(resp).await;
    let seen = h.seen.lock().unwrap()[0].clone();
    assert_eq!(seen.body, body);
    assert_eq!(seen.headers["content-encoding"], "gzip");
    drop(c);
    assert_eq!(h.finish().await.len(), 7);
}

// ---------- every path leaves its record ----------

/// The one record of `request_id`'s kind (`phase`), with a bound.
async fn records_of(h: &Harness, n: usize) -> Vec<AuditEntry> {
    let entries = h.audit.wait_for(n).await;
    assert_eq!(entries.len(), n, "{entries:#?}");
    entries
}

#[tokio::test]
async fn an_http1_agent_closing_while_the_upstream_holds_the_response_leaves_one_record() {
    let h = Harness::start(1024).await;
    let (mut c, conn) = h
        .tunnel_conn("api.test:443", "api.test", &[b"http/1.1"])
        .await;
    let pending = c.spawn_get("api.test", "/r/hold");
    let seen = h.wait_seen(1).await;
    assert!(
        h.audit.entries.lock().unwrap().is_empty(),
        "read-only: recorded after, not before"
    );
    // The agent goes away: its connection closes while the handler waits.
    conn.abort();
    let entries = records_of(&h, 1).await;
    let e = &entries[0];
    assert_eq!(e.reason, "client_closed");
    assert!(e.forwarded, "it reached the upstream");
    assert_eq!(e.outcome, Outcome::Allowed);
    assert_eq!(e.phase, None);
    assert_eq!(e.upstream_status, None);
    assert_eq!(
        seen[0].headers["x-tameflare-request-id"],
        e.request_id.as_str()
    );
    assert!(pending.await.unwrap().is_err());
    assert_eq!(h.finish().await.len(), 1, "exactly one record");
}

#[tokio::test]
async fn an_http2_stream_reset_while_the_upstream_holds_the_response_leaves_its_records() {
    let h = Harness::start(1024).await;
    let mut c = h.tunnel("api.test:443", "api.test", &[b"h2"]).await;
    assert!(matches!(c, Client::H2(_)));

    // Read-only: one record.
    let pending = c.spawn_get("api.test", "/r/hold");
    h.wait_seen(1).await;
    pending.abort(); // drops the response future: RST_STREAM(CANCEL)
    let entries = records_of(&h, 1).await;
    assert_eq!(entries[0].reason, "client_closed");
    assert!(entries[0].forwarded);
    assert_eq!(entries[0].phase, None);

    // A mutation: its write-ahead record, then the completion.
    let pending = c.spawn_get("api.test", "/w/hold");
    let seen = h.wait_seen(2).await;
    pending.abort();
    let entries = records_of(&h, 3).await;
    let (ahead, done) = (&entries[1], &entries[2]);
    assert_eq!(ahead.phase, Some(Phase::WriteAhead));
    assert_eq!(done.phase, Some(Phase::Completed));
    assert_eq!(ahead.request_id, done.request_id);
    assert_eq!(
        seen[1].headers["x-tameflare-request-id"],
        done.request_id.as_str()
    );
    assert_eq!(done.reason, "client_closed");
    assert!(done.forwarded);
    assert_eq!(done.action.as_deref(), Some("test.write"));

    // The connection itself is fine.
    let resp = c.get("api.test", "/allowed").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let _ = text(resp).await;
    drop(c);
    assert_eq!(h.finish().await.len(), 4);
}

#[tokio::test]
async fn an_agent_hanging_up_mid_stream_is_recorded_as_client_closed() {
    let h = Harness::start(1024).await;
    let (mut c, conn) = h
        .tunnel_conn("api.test:443", "api.test", &[b"http/1.1"])
        .await;
    let resp = c.get("api.test", "/sse").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let mut body = resp.into_body();
    let first = tokio::time::timeout(BOUND, body.frame())
        .await
        .expect("first event")
        .unwrap()
        .unwrap();
    assert_eq!(first.into_data().unwrap(), "data: one\n\n");
    conn.abort();
    drop(body);
    // The upstream would send the second event now; the agent is gone.
    h.ack.notify_one();
    let entries = records_of(&h, 1).await;
    let e = &entries[0];
    assert_eq!(e.reason, "client_closed");
    assert_eq!(e.upstream_status, Some(200));
    assert!(e.forwarded);
    assert!(e.bytes_down >= 11, "{e:?}");
    assert_eq!(h.finish().await.len(), 1);
}

#[tokio::test]
async fn an_upstream_reset_after_the_request_was_sent_is_a_forwarded_502() {
    let h = Harness::start(1024).await;
    for alpn in [&b"http/1.1"[..], b"h2"] {
        let mut c = h.tunnel("api.test:443", "api.test", &[alpn]).await;
        let resp = c.get("api.test", "/r/reset").await;
        assert_eq!(resp.status(), StatusCode::BAD_GATEWAY);
        assert_eq!(header(&resp, "x-tameflare-decision"), "allowed");
        let j = json(resp).await;
        assert_eq!(j["reason"], "upstream_error");
        assert_eq!(j["forwarded"], true);
        assert_eq!(j["decision"], "allowed");
        assert_eq!(j["error"]["type"], "tameflare_upstream_error");
        assert!(j["message"].as_str().unwrap().contains("may have run"));
    }
    let entries = h.finish().await;
    assert_eq!(entries.len(), 2);
    for e in entries {
        assert_eq!(e.outcome, Outcome::Allowed);
        assert!(e.forwarded);
        assert_eq!(e.reason, "upstream_error");
    }
}

#[tokio::test]
async fn an_upstream_that_does_not_answer_in_time_is_a_forwarded_504() {
    let h = Harness::start_with(|c| c.response_timeout = Duration::from_millis(300)).await;
    let mut c = h.tunnel("api.test:443", "api.test", &[b"http/1.1"]).await;
    let resp = c.get("api.test", "/w/hold").await;
    assert_eq!(resp.status(), StatusCode::GATEWAY_TIMEOUT);
    let j = json(resp).await;
    assert_eq!(j["reason"], "upstream_timeout");
    assert_eq!(j["forwarded"], true);
    drop(c);
    let entries = h.finish().await;
    assert_eq!(entries.len(), 2, "{entries:#?}");
    let done = &entries[1];
    assert_eq!(done.phase, Some(Phase::Completed));
    assert_eq!(done.reason, "upstream_timeout");
    assert_eq!(done.outcome, Outcome::Allowed);
    assert!(done.forwarded);
}

#[tokio::test]
async fn a_refused_upstream_connection_is_not_forwarded() {
    let h = Harness::start(1024).await;
    let mut c = h
        .tunnel("refused.test:443", "refused.test", &[b"http/1.1"])
        .await;
    let resp = c.get("refused.test", "/r/x").await;
    assert_eq!(resp.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(header(&resp, "x-tameflare-decision"), "denied");
    let j = json(resp).await;
    assert_eq!(j["reason"], "upstream_unreachable");
    assert_eq!(j["forwarded"], false);
    assert_eq!(j["error"]["type"], "tameflare_denied");
    drop(c);
    let entries = h.finish().await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].reason, "upstream_unreachable");
    assert_eq!(entries[0].outcome, Outcome::Denied);
    assert!(!entries[0].forwarded);
}

#[tokio::test]
async fn a_mutation_is_durably_recorded_before_the_upstream_sees_it() {
    let h = Harness::start(1024).await;
    let mut c = h.tunnel("api.test:443", "api.test", &[b"http/1.1"]).await;
    let resp = c.get("api.test", "/w/mutate").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let id = header(&resp, "x-tameflare-request-id").to_owned();
    let _ = text(resp).await;

    let seen = h.seen.lock().unwrap()[0].clone();
    assert_eq!(
        seen.committed_at_arrival,
        std::slice::from_ref(&id),
        "acked before forwarding"
    );
    let [ahead] = &seen.audit_at_arrival[..] else {
        panic!("{:#?}", seen.audit_at_arrival);
    };
    assert_eq!(ahead.request_id, id);
    assert_eq!(ahead.phase, Some(Phase::WriteAhead));
    assert_eq!(ahead.outcome, Outcome::Allowed);
    assert!(ahead.forwarded);
    assert_eq!(ahead.action.as_deref(), Some("test.write"));
    assert_eq!(ahead.reason, "rule:*/github/test.write");
    assert_eq!(ahead.upstream_status, None);

    drop(c);
    let entries = h.finish().await;
    assert_eq!(entries.len(), 2);
    let done = &entries[1];
    assert_eq!(done.request_id, id);
    assert_eq!(done.phase, Some(Phase::Completed));
    assert_eq!(done.upstream_status, Some(200));
    assert_eq!(done.reason, "rule:*/github/test.write");
    assert!(done.forwarded);
    assert_eq!(done.bytes_down, "upstream says hi".len() as u64);
}

#[tokio::test]
async fn a_mutation_whose_write_ahead_cannot_commit_is_refused_and_never_sent() {
    let h = Harness::start(1024).await;
    let mut c = h.tunnel("api.test:443", "api.test", &[b"http/1.1"]).await;
    for mode in [Durable::Fail, Durable::Lose] {
        *h.audit.durable.lock().unwrap() = mode;
        let resp = c.get("api.test", "/w/mutate").await;
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        let j = json(resp).await;
        assert_eq!(j["reason"], "audit_unavailable");
        assert_eq!(j["forwarded"], false);
    }
    // Read-only requests are not held back by the write-ahead store.
    let resp = c.get("api.test", "/allowed").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let _ = text(resp).await;
    assert_eq!(h.seen_paths(), ["/allowed"], "no mutation reached upstream");
    drop(c);
    let entries = h.finish().await;
    assert_eq!(entries.len(), 3, "{entries:#?}");
    for e in &entries[..2] {
        assert_eq!(e.reason, "audit_unavailable");
        assert_eq!(e.outcome, Outcome::Denied);
        assert!(!e.forwarded);
        assert_eq!(e.phase, Some(Phase::Completed));
    }
    assert_eq!(entries[2].phase, None);
}

#[tokio::test]
async fn a_suspended_credential_is_denied_with_the_fix() {
    let h = Harness::start(1024).await;
    let mut c = h
        .tunnel("suspended.test:443", "suspended.test", &[b"http/1.1"])
        .await;
    let resp = c.get("suspended.test", "/allowed").await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let j = json(resp).await;
    assert_eq!(j["reason"], "credential_suspended");
    assert_eq!(j["error"]["code"], "credential_suspended");
    let message = j["message"].as_str().unwrap();
    assert!(message.contains("--keep-credential"), "{message}");
    assert!(h.seen_paths().is_empty());
    drop(c);
    let entries = h.finish().await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].outcome, Outcome::Denied);
    assert_eq!(entries[0].reason, "credential_suspended");
}

#[tokio::test]
async fn a_transfer_coding_other_than_chunked_is_refused() {
    let h = Harness::start(1024).await;
    for (host, te) in [
        ("body.test", "gzip, chunked"),
        ("api.test", "deflate,chunked"),
    ] {
        let req = format!(
            "POST /upload HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\ntransfer-encoding: {te}\r\n\r\n2\r\n{{}}\r\n0\r\n\r\n"
        );
        let (status, body) = h.raw_bytes(host, &req).await;
        assert_eq!(status, 400, "{te}: {body}");
        assert!(body.contains("transfer coding"), "{body}");
    }
    assert!(h.seen_paths().is_empty());
    h.finish().await;
}
