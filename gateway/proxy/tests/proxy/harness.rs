//! The proxy under test and everything around it: a real listener, a local
//! HTTPS upstream (reached via connect-to, trusted through an extra CA) that
//! records what it receives, in-test connector, injector and audit sink, and
//! hyper clients doing CONNECT + TLS. Tests only drive it; nothing here
//! asserts on behaviour.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex};
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
    ConnectorFailure, ConnectorRequest, Descriptor, GatewayEntry, InjectError, Injector,
    PermissionSet, Placement, ReadOnlyIndex, Risk, Route, Rule, Snapshot,
};
use tf_proxy::{ConnectTo, Proxy, ProxyConfig, serve};
use tf_tls::{CertificateAuthority, LeafResolver};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc, oneshot};

pub(crate) const TOKEN: &str = "gw-token-123";
pub(crate) const SECRET: &str = "real-secret-xyz";
pub(crate) const BOUND: Duration = Duration::from_secs(10);

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
pub(crate) enum Durable {
    /// Records it, then acknowledges the commit.
    #[default]
    Commit,
    /// Records nothing and reports a failed commit.
    Fail,
    /// Records nothing and drops the acknowledgement unanswered.
    Lose,
}

#[derive(Default)]
pub(crate) struct MemAudit {
    pub(crate) entries: Mutex<Vec<AuditEntry>>,
    /// Request ids whose durable entry was acknowledged as committed.
    pub(crate) committed: Mutex<Vec<String>>,
    pub(crate) durable: Mutex<Durable>,
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
    pub(crate) async fn wait_for(&self, n: usize) -> Vec<AuditEntry> {
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
pub(crate) struct Seen {
    /// The audit entries recorded when the request arrived upstream, and
    /// the request ids whose durable entry was committed by then.
    pub(crate) audit_at_arrival: Vec<AuditEntry>,
    pub(crate) committed_at_arrival: Vec<String>,
    pub(crate) version: Version,
    /// `:authority` (HTTP/2) or `Host` (HTTP/1.1).
    pub(crate) authority: String,
    pub(crate) path: String,
    pub(crate) query: Option<String>,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
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

/// Where the `/slow` classification of `api.test` waits: it tells the test it
/// has started, then holds its classification slot (and its worker thread,
/// as a connector running to its deadline would) until the test opens it.
#[derive(Default)]
pub(crate) struct Gate {
    entered: Notify,
    open: Mutex<bool>,
    opened: Condvar,
}

impl Gate {
    /// Called by the classifier: blocks until [`Gate::open`] (at most [`BOUND`]).
    fn hold(&self) {
        self.entered.notify_one();
        let open = self.open.lock().unwrap();
        let _open = self
            .opened
            .wait_timeout_while(open, BOUND, |open| !*open)
            .unwrap();
    }

    /// Waits (bounded) until a classification is held at the gate.
    pub(crate) async fn entered(&self) {
        tokio::time::timeout(BOUND, self.entered.notified())
            .await
            .expect("the slow classification did not start");
    }

    /// Lets every held classification finish.
    pub(crate) fn open(&self) {
        *self.open.lock().unwrap() = true;
        self.opened.notify_all();
    }
}

/// (method, path, query) as a classifier was given them.
pub(crate) type Classified = (String, String, Option<String>);

pub(crate) struct Harness {
    pub(crate) addr: SocketAddr,
    gateway_ca: String,
    pub(crate) audit: Arc<MemAudit>,
    pub(crate) seen: Arc<Mutex<Vec<Seen>>>,
    arrived: Arc<Notify>,
    pub(crate) ack: Arc<Notify>,
    pub(crate) body_seen: Arc<Mutex<Option<Vec<u8>>>>,
    /// Every (method, path, query) the `gh.test` classifier was given.
    pub(crate) classified: Arc<Mutex<Vec<Classified>>>,
    /// Where `api.test`'s `/slow` classification waits.
    pub(crate) slow: Arc<Gate>,
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
    pub(crate) async fn start(max_body_bytes: usize) -> Self {
        Self::start_with(|c| c.max_body_bytes = max_body_bytes).await
    }

    /// Starts with the defaults (1 KiB body limit) adjusted by `tune`.
    pub(crate) async fn start_with(tune: impl FnOnce(&mut ProxyConfig)) -> Self {
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
        let slow = Arc::new(Gate::default());
        let gate = slow.clone();
        let plain: Arc<dyn Classifier> = Arc::new(FnClassifier(move |r: &ConnectorRequest| {
            if r.path == "/slow" {
                gate.hold();
                return Ok(action("test.read"));
            }
            classify_path(r)
        }));
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
            slow,
            shutdown: Some(tx),
            server,
        }
    }

    /// Shuts the proxy down, waits for `serve` to return, and returns every
    /// audit entry ever recorded.
    pub(crate) async fn finish(mut self) -> Vec<AuditEntry> {
        let _ = self.shutdown.take().unwrap().send(());
        tokio::time::timeout(BOUND, &mut self.server)
            .await
            .expect("serve did not stop")
            .unwrap();
        self.audit.entries.lock().unwrap().clone()
    }

    /// Waits (bounded) until the upstream has received `n` requests.
    pub(crate) async fn wait_seen(&self, n: usize) -> Vec<Seen> {
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

    pub(crate) fn seen_paths(&self) -> Vec<String> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .map(|s| s.path.clone())
            .collect()
    }

    pub(crate) fn client_tls(&self, alpn: &[&[u8]]) -> tokio_rustls::TlsConnector {
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
    pub(crate) async fn connect(
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
    pub(crate) async fn raw(
        &self,
        host: &str,
        method: &str,
        target: &str,
        extra: &str,
    ) -> (u16, String) {
        let head = format!(
            "{method} {target} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\ncontent-length: 0\r\n{extra}\r\n"
        );
        self.raw_bytes(host, &head).await
    }

    /// A request written byte for byte through a fresh tunnel to `host`.
    pub(crate) async fn raw_bytes(&self, host: &str, request: &str) -> (u16, String) {
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
    pub(crate) async fn tunnel(&self, target: &str, sni: &str, alpn: &[&[u8]]) -> Client {
        self.tunnel_conn(target, sni, alpn).await.0
    }

    /// [`Harness::tunnel`], and the task driving the client's connection
    /// (aborting it closes the connection).
    pub(crate) async fn tunnel_conn(
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
pub(crate) struct ReqBody {
    chunks: VecDeque<Bytes>,
    known_size: bool,
}

impl ReqBody {
    pub(crate) fn empty() -> Self {
        Self {
            chunks: VecDeque::new(),
            known_size: true,
        }
    }
    pub(crate) fn full(b: impl Into<Bytes>) -> Self {
        Self {
            chunks: VecDeque::from([b.into()]),
            known_size: true,
        }
    }
    pub(crate) fn chunked(chunks: impl IntoIterator<Item = Bytes>) -> Self {
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

pub(crate) enum Client {
    H1(hyper::client::conn::http1::SendRequest<ReqBody>),
    H2(hyper::client::conn::http2::SendRequest<ReqBody>),
}

impl Client {
    pub(crate) async fn send(&mut self, req: Request<ReqBody>) -> Response<Incoming> {
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

    pub(crate) async fn get(&mut self, host: &str, path: &str) -> Response<Incoming> {
        let req = self.get_request(host, path);
        self.send(req).await
    }

    pub(crate) fn get_request(&self, host: &str, path: &str) -> Request<ReqBody> {
        let req = match self {
            Client::H1(_) => Request::get(path).header("host", host),
            Client::H2(_) => Request::get(format!("https://{host}{path}")),
        };
        req.body(ReqBody::empty()).unwrap()
    }

    /// Starts a GET without waiting for it: dropping (aborting) the task
    /// abandons the request (on HTTP/2 the client resets the stream).
    pub(crate) fn spawn_get(
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

pub(crate) async fn text(resp: Response<Incoming>) -> String {
    let b = tokio::time::timeout(BOUND, resp.into_body().collect())
        .await
        .expect("body in time")
        .unwrap()
        .to_bytes();
    String::from_utf8(b.to_vec()).unwrap()
}

pub(crate) async fn json(resp: Response<Incoming>) -> serde_json::Value {
    serde_json::from_str(&text(resp).await).unwrap()
}

pub(crate) fn header<'a>(resp: &'a Response<Incoming>, name: &str) -> &'a str {
    resp.headers().get(name).map_or("", |v| v.to_str().unwrap())
}
