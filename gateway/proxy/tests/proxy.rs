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
    Action, AuditEntry, AuditSink, Classifier, ClassifyError, ConnectorRequest, Descriptor,
    GatewayEntry, InjectError, Injector, Outcome, PermissionSet, Placement, Risk, Route, Rule,
    Snapshot,
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

#[derive(Default)]
struct MemAudit {
    entries: Mutex<Vec<AuditEntry>>,
    notify: Notify,
}

impl AuditSink for MemAudit {
    fn record(&self, entry: AuditEntry) {
        self.entries.lock().unwrap().push(entry);
        self.notify.notify_waiters();
    }

    fn record_durable(&self, entry: AuditEntry, done: tf_core::DurableAck) {
        self.record(entry);
        done(Ok(()));
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
    version: Version,
    /// `:authority` (HTTP/2) or `Host` (HTTP/1.1).
    authority: String,
    path: String,
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

async fn upstream_handle(
    req: Request<Incoming>,
    seen: Arc<Mutex<Vec<Seen>>>,
    ack: Arc<Notify>,
) -> Result<Response<UpBody>, Infallible> {
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
        version: parts.version,
        authority,
        path: parts.uri.path().to_owned(),
        headers: parts.headers,
        body,
    });
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

async fn start_upstream(seen: Arc<Mutex<Vec<Seen>>>, ack: Arc<Notify>) -> (SocketAddr, String) {
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
            let (seen, ack) = (seen.clone(), ack.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let svc = service_fn(move |req| upstream_handle(req, seen.clone(), ack.clone()));
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), svc)
                    .await;
            });
        }
    });
    (addr, pem.cert_pem)
}

// ---------- the harness ----------

struct Harness {
    addr: SocketAddr,
    gateway_ca: String,
    audit: Arc<MemAudit>,
    seen: Arc<Mutex<Vec<Seen>>>,
    ack: Arc<Notify>,
    body_seen: Arc<Mutex<Option<Vec<u8>>>>,
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
        _ => Err(ClassifyError::Failed("trap".into())),
    }
}

fn descriptor(needs_body: bool) -> Arc<Descriptor> {
    Arc::new(Descriptor {
        name: "test".into(),
        version: "0.1.0".into(),
        domains: vec![],
        actions: vec![],
        placement: Placement::bearer(),
        needs_body,
    })
}

impl Harness {
    async fn start(max_body_bytes: usize) -> Self {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let ack = Arc::new(Notify::new());
        let (up_addr, up_ca) = start_upstream(seen.clone(), ack.clone()).await;

        let body_seen: Arc<Mutex<Option<Vec<u8>>>> = Arc::default();
        let recorder = body_seen.clone();
        let body_classifier = FnClassifier(move |r: &ConnectorRequest| {
            *recorder.lock().unwrap() = r.body.clone();
            assert!(r.headers.iter().all(|(n, _)| n != "authorization"));
            classify_path(r)
        });
        let route = |needs_body: bool, classifier: Arc<dyn Classifier>| {
            Arc::new(Route {
                instance: "github".into(),
                descriptor: descriptor(needs_body),
                placement: Placement::bearer(),
                classifier,
                credential: Some(Arc::new(BearerInjector)),
                credential_suspended: false,
            })
        };
        let plain: Arc<dyn Classifier> = Arc::new(FnClassifier(classify_path));
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
            rule("test.delete", tf_core::Decision::Deny),
        ])
        .unwrap();

        let (ca, pem) = CertificateAuthority::generate("Gateway test CA").unwrap();
        let leaves = Arc::new(LeafResolver::new(ca));
        let mut config =
            ProxyConfig::new(tf_tls::upstream_client_config(Some(up_ca.as_bytes())).unwrap());
        config.max_body_bytes = max_body_bytes;
        for host in ["api.test", "body.test"] {
            config.connect_to.push(
                ConnectTo::parse(&format!("{host}:443:127.0.0.1:{}", up_addr.port())).unwrap(),
            );
        }
        let audit = Arc::new(MemAudit::default());
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
            ack,
            body_seen,
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

    /// CONNECT + TLS (SNI `sni`) + HTTP/1.1 or HTTP/2 by ALPN.
    async fn tunnel(&self, target: &str, sni: &str, alpn: &[&[u8]]) -> Client {
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
            tokio::spawn(conn);
            Client::H2(send)
        } else {
            let (send, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
            tokio::spawn(conn);
            Client::H1(send)
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
        let req = match self {
            Client::H1(_) => Request::get(path).header("host", host),
            Client::H2(_) => Request::get(format!("https://{host}{path}")),
        };
        self.send(req.body(ReqBody::empty()).unwrap()).await
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
        ("/a/../allowed", "bad_request"),
        ("/a%zz", "bad_request"),
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
        if reason != "bad_request" {
            assert_eq!(j["connector"], "github");
        }
        assert!(j["request_id"].as_str().unwrap().len() == 28);
        assert!(!j["message"].as_str().unwrap().is_empty());
        let expected = if reason == "bad_request" { 400 } else { 403 };
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
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(json(resp).await["reason"], "permission_denied");
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
