//! HTTPS mock upstreams with their own test CA.
//!
//! The mock answers every request with a small JSON echo and records what
//! arrived (method, path, headers, body, HTTP version), so tests can assert
//! what the gateway forwarded. `GET /sse` streams two Server-Sent Events and
//! sends the second only after the test calls [`MockUpstream::release_sse`],
//! which proves event-by-event delivery without timing assumptions.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::ServerConfig;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc};
use tokio_rustls::TlsAcceptor;

/// A throwaway certificate authority for mock upstreams (not the gateway's CA).
pub struct TestCa {
    pub cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Default for TestCa {
    fn default() -> Self {
        Self::new()
    }
}

impl TestCa {
    pub fn new() -> Self {
        let key = KeyPair::generate().expect("generate CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params
            .distinguished_name
            .push(DnType::CommonName, "TameFlare e2e upstream CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key).expect("self-sign CA");
        Self {
            cert_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A leaf certificate and its key for `names`, as PEM, for servers the
    /// harness does not run itself (e.g. a Python MCP server).
    pub fn leaf_pem(&self, names: &[&str]) -> (String, String) {
        let key = KeyPair::generate().expect("leaf key");
        let names: Vec<String> = names.iter().map(|s| (*s).to_owned()).collect();
        let params = CertificateParams::new(names).expect("leaf params");
        let cert = params.signed_by(&key, &self.issuer).expect("sign leaf");
        (cert.pem(), key.serialize_pem())
    }

    /// A server config for `names`, offering h2 only if `h2`.
    pub fn server_config(&self, names: &[&str], h2: bool) -> Arc<ServerConfig> {
        let key = KeyPair::generate().expect("leaf key");
        let names: Vec<String> = names.iter().map(|s| (*s).to_owned()).collect();
        let params = CertificateParams::new(names).expect("leaf params");
        let cert = params.signed_by(&key, &self.issuer).expect("sign leaf");
        let chain = vec![CertificateDer::from(cert.der().to_vec())];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let mut cfg =
            ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .expect("protocol versions")
                .with_no_client_auth()
                .with_single_cert(chain, key)
                .expect("server cert");
        cfg.alpn_protocols = if h2 {
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        } else {
            vec![b"http/1.1".to_vec()]
        };
        Arc::new(cfg)
    }
}

/// One request as the upstream received it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub version: http::Version,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Options for a mock upstream.
#[derive(Clone, Debug)]
pub struct UpstreamOptions {
    /// Names on the upstream's certificate.
    pub names: Vec<String>,
    /// Offer HTTP/2 by ALPN.
    pub h2: bool,
    /// Record requests (off for benchmarks).
    pub record: bool,
}

impl Default for UpstreamOptions {
    fn default() -> Self {
        Self {
            names: [
                "api.github.com",
                "api.example.com",
                "hostile.test",
                "uploads.github.com",
                "api.stripe.com",
                "slack.com",
                "api.openai.com",
                "api.anthropic.com",
                "mcp.example.com",
                "hooks.example.com",
                "api.acme.internal",
                "notes.internal.test",
            ]
            .map(String::from)
            .to_vec(),
            h2: true,
            record: true,
        }
    }
}

/// A local HTTPS server standing in for an API the gateway forwards to.
pub struct MockUpstream {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    sse_gate: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for MockUpstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type Body = BoxBody<Bytes, std::convert::Infallible>;

impl MockUpstream {
    pub async fn start(ca: &TestCa, opts: UpstreamOptions) -> Self {
        let names: Vec<&str> = opts.names.iter().map(String::as_str).collect();
        let acceptor = TlsAcceptor::from(ca.server_config(&names, opts.h2));
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind upstream");
        let addr = listener.local_addr().expect("upstream addr");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sse_gate = Arc::new(Notify::new());
        let (seen2, gate2, record) = (seen.clone(), sse_gate.clone(), opts.record);
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let _ = tcp.set_nodelay(true);
                let (acceptor, seen, gate) = (acceptor.clone(), seen2.clone(), gate2.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let svc =
                        service_fn(move |req| handle(req, seen.clone(), gate.clone(), record));
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tls), svc)
                        .await;
                });
            }
        });
        Self {
            addr,
            seen,
            sse_gate,
            task,
        }
    }

    /// Everything received so far.
    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().expect("seen lock").clone()
    }

    /// Requests received for `path`.
    pub fn requests_to(&self, path: &str) -> Vec<Seen> {
        self.requests()
            .into_iter()
            .filter(|s| s.path == path)
            .collect()
    }

    /// Lets the pending `/sse` response send its second event.
    pub fn release_sse(&self) {
        self.sse_gate.notify_one();
    }
}

async fn handle(
    req: Request<Incoming>,
    seen: Arc<Mutex<Vec<Seen>>>,
    gate: Arc<Notify>,
    record: bool,
) -> Result<Response<Body>, hyper::Error> {
    let method = req.method().to_string();
    let path = req
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let version = req.version();
    let headers = req
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = req.into_body().collect().await?.to_bytes().to_vec();
    let body_len = body.len();
    let seen_body = body.clone();
    if record {
        seen.lock().expect("seen lock").push(Seen {
            method: method.clone(),
            path: path.clone(),
            version,
            headers,
            body,
        });
    }
    // A streamed chat completion (OpenAI's wire format): the second chunk is
    // held until the test releases it, like `/sse`.
    let streamed_chat = path.starts_with("/v1/chat/completions") && body_says_stream(&seen_body);
    if path == "/sse" || streamed_chat {
        let (first, second, last): (&'static [u8], &'static [u8], &'static [u8]) = if streamed_chat
        {
            (
                br#"data: {"id":"c1","object":"chat.completion.chunk","created":0,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"},"finish_reason":null}]}

"#,
                br#"data: {"id":"c1","object":"chat.completion.chunk","created":0,"model":"m","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":"stop"}]}

"#,
                b"data: [DONE]\n\n",
            )
        } else {
            (b"data: one\n\n", b"data: two\n\n", b"")
        };
        let (tx, rx) = mpsc::channel::<Frame<Bytes>>(4);
        tokio::spawn(async move {
            let _ = tx.send(Frame::data(Bytes::from_static(first))).await;
            gate.notified().await;
            let _ = tx.send(Frame::data(Bytes::from_static(second))).await;
            if !last.is_empty() {
                let _ = tx.send(Frame::data(Bytes::from_static(last))).await;
            }
        });
        return Ok(Response::builder()
            .header("content-type", "text/event-stream")
            .header("cache-control", "no-cache")
            .body(BoxBody::new(ChannelBody(rx)))
            .expect("sse response"));
    }
    // Enough for the official SDKs to parse: Slack checks `ok`, Stripe and
    // OpenAI/Anthropic build objects from whatever fields there are.
    let json = serde_json::json!({"ok": true, "id": "obj_1", "object": "mock", "method": method, "path": path, "version": format!("{version:?}"), "body_len": body_len});
    Ok(Response::builder()
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(json.to_string())).boxed())
        .expect("json response"))
}

fn body_says_stream(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body)
        .is_ok_and(|v| v["stream"] == serde_json::Value::Bool(true))
}

/// A response body fed frame by frame from a channel.
struct ChannelBody(mpsc::Receiver<Frame<Bytes>>);

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        self.0.poll_recv(cx).map(|f| f.map(Ok))
    }
}
