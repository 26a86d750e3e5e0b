//! The request pipeline: one typed context ([`RequestCtx`]) through named
//! phases, and the single mapping from [`ProxyError`] to a response.
//!
//! Phases: identify → target → route → read → classify → authorize →
//! inject → write-ahead (actions that are not read-only) → forward → relay.
//! Any error before forwarding ends the pipeline with a denial; the request
//! is never forwarded after an error. An upstream failure after the request
//! may have been written is answered `502`/`504` and recorded as forwarded.

mod decode;
mod normalize;

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{Method, Request, Response, StatusCode, Uri, Version};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tf_core::{
    Action, AuditEntry, AuditUnavailable, ClassifyError, ConnectorRequest, Decision, InjectError,
    NonCanonical, Outcome, Placement, RequestId, Route, Snapshot, Verdict, canonical_path,
};
use tokio::sync::oneshot;

use crate::body::{ResponseBody, UpBody};
use crate::record::{Recorder, Stage, UPSTREAM_ERROR};
use crate::server::Proxy;
use crate::upstream::{ConnectError, connect_error};
use decode::DecodeError;
use normalize::{authority_agrees, percent_decode, split_authority};

const X_DECISION: HeaderName = HeaderName::from_static("x-tameflare-decision");
const X_GATEWAY: HeaderName = HeaderName::from_static("x-tameflare-gateway");
const X_CONNECTOR: HeaderName = HeaderName::from_static("x-tameflare-connector");
const X_ACTION: HeaderName = HeaderName::from_static("x-tameflare-action");
const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-tameflare-request-id");
const X_AGENT: HeaderName = HeaderName::from_static("x-tameflare-agent");

/// An authenticated CONNECT tunnel: the identity and target it carries.
#[derive(Debug)]
pub(crate) struct Tunnel {
    pub(crate) gateway: Arc<str>,
    /// Lower-case host as in the CONNECT request (IPv6 in brackets).
    pub(crate) host: String,
    pub(crate) port: u16,
    /// The upstream authority (port omitted when 443).
    pub(crate) authority: Authority,
    /// False if the TLS SNI named another host than the CONNECT request.
    pub(crate) sni_matches: bool,
}

/// Where a request came from.
pub(crate) enum Origin {
    /// Absolute-form `http://` request on the agent's plain connection.
    Plain,
    /// A request inside an intercepted CONNECT tunnel.
    Tunnel(Arc<Tunnel>),
}

/// Everything that can end the pipeline early. Every variant before
/// forwarding is a deny; `Upstream` and `UpstreamTimeout` come after the
/// request may have been written upstream.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ProxyError {
    #[error("proxy authentication required")]
    ProxyAuth,
    #[error("no connector handles this host")]
    NoConnector,
    #[error("Host, :authority, SNI and the CONNECT target disagree")]
    HostMismatch,
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    #[error("non-canonical path: {0}")]
    NonCanonicalPath(NonCanonical),
    #[error("request body content coding: {0}")]
    ContentEncoding(DecodeError),
    #[error("request body exceeds the limit of {limit} bytes")]
    BodyTooLarge { limit: usize },
    #[error("could not read the request body")]
    BodyRead(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error(transparent)]
    Classify(ClassifyError),
    #[error("no permission rule matched")]
    NoPermission,
    #[error("a deny rule matched: {0}")]
    PermissionDenied(String),
    #[error("no credential is configured")]
    CredentialMissing,
    #[error("the credential of connector instance {0} is suspended")]
    CredentialSuspended(String),
    #[error(transparent)]
    Credential(InjectError),
    #[error("the write-ahead audit record was not committed: {0}")]
    AuditUnavailable(AuditUnavailable),
    #[error("upstream resolves to a forbidden address")]
    UpstreamBlocked,
    /// No connection could be made: nothing was sent.
    #[error("upstream unreachable: {0}")]
    UpstreamUnreachable(#[source] hyper_util::client::legacy::Error),
    /// Connecting timed out: nothing was sent.
    #[error("connecting upstream timed out")]
    UpstreamConnectTimeout,
    /// Failed after the request may have been written: it may have run.
    #[error("upstream request failed: {0}")]
    Upstream(#[source] hyper_util::client::legacy::Error),
    /// No response head within the response timeout: it may have run.
    #[error("upstream timed out")]
    UpstreamTimeout,
    #[error("plain HTTP to a connector host")]
    InsecureScheme,
    #[error("port {0} is not the connector's declared port")]
    UndeclaredPort(u16),
    #[error("a placeholder credential appears in {0}")]
    PlaceholderMisuse(&'static str),
    #[error("too many requests are being classified")]
    ClassifierBusy,
}

/// The per-request context carried through the phases.
pub(crate) struct RequestCtx {
    snapshot: Arc<Snapshot>,
    /// The audit entry under construction (typed: gateway, connector,
    /// action, decision, forwarded, reason), also the source of the
    /// `X-TameFlare-*` response headers. It records itself when dropped, so
    /// a cancelled request (the agent closed the connection or reset the
    /// stream) still leaves its record, as `client_closed`. On a response
    /// it moves into the response body, which records when the body ends.
    audit: Recorder,
    bytes_up: Arc<AtomicU64>,
    /// Set by the streamed body's scanner when it cut the body off because
    /// a placeholder appeared in it.
    placeholder_in_body: Arc<AtomicBool>,
}

/// The checked target of a request.
struct Target {
    https: bool,
    host: String,
    uri: Uri,
}

/// A synthesized response: status, reason code and a human sentence.
struct Synthetic {
    status: StatusCode,
    reason: &'static str,
    message: String,
}

impl Proxy {
    fn new_ctx(&self, method: &Method, host: &str, path: &str) -> RequestCtx {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let id = RequestId::new(now, rand::random());
        let bytes_up = Arc::new(AtomicU64::new(0));
        let entry = AuditEntry::new(now, id, method.as_str(), host, path);
        RequestCtx {
            snapshot: self.snapshot.load_full(),
            audit: Recorder::new(entry, self.audit.clone(), bytes_up.clone()),
            bytes_up,
            placeholder_in_body: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Authenticates a CONNECT request and parses its target. On failure the
    /// response (audited) is returned instead.
    pub(crate) fn open_tunnel(
        &self,
        req: &Request<Incoming>,
    ) -> Result<Tunnel, Box<Response<ResponseBody>>> {
        let authority = req.uri().authority().map(|a| a.as_str()).unwrap_or("");
        let mut ctx = self.new_ctx(req.method(), authority, "");
        let opened = identify(&mut ctx, req.headers(), &Origin::Plain).and_then(|()| {
            let (host, port) = split_authority(authority)
                .ok_or(ProxyError::BadRequest("invalid CONNECT target"))?;
            let host = host.trim_end_matches('.').to_ascii_lowercase();
            let port = port.unwrap_or(443);
            let upstream = if port == 443 {
                Authority::try_from(host.as_str())
            } else {
                Authority::try_from(format!("{host}:{port}"))
            }
            .map_err(|_| ProxyError::BadRequest("invalid CONNECT target"))?;
            Ok((host, port, upstream))
        });
        match opened {
            Ok((host, port, authority)) => {
                let gateway = ctx.audit.gateway.as_deref().unwrap_or_default().into();
                // An accepted CONNECT is not a request: its requests are audited.
                ctx.audit.discard();
                Ok(Tunnel {
                    gateway,
                    host,
                    port,
                    authority,
                    sni_matches: true,
                })
            }
            Err(e) => Err(Box::new(self.deny(ctx, &e))),
        }
    }

    /// Runs one request through the pipeline and answers it.
    pub(crate) async fn handle(
        &self,
        req: Request<Incoming>,
        origin: Origin,
    ) -> Response<ResponseBody> {
        let host = match &origin {
            Origin::Tunnel(t) => t.host.as_str(),
            Origin::Plain => req.uri().host().unwrap_or(""),
        };
        let mut ctx = self.new_ctx(req.method(), host, req.uri().path());
        // If this future is dropped at the await (the agent closed the
        // connection or reset the stream), `ctx` records `client_closed`.
        match self.pipeline(&mut ctx, req, &origin).await {
            Ok(resp) => self.relay(ctx, resp),
            Err(err) => {
                match &err {
                    ProxyError::Upstream(e) | ProxyError::UpstreamUnreachable(e) => {
                        tracing::debug!(error = %e, request_id = %ctx.audit.request_id, "upstream error");
                    }
                    ProxyError::AuditUnavailable(e) => {
                        tracing::warn!(error = %e, request_id = %ctx.audit.request_id, "write-ahead audit record not committed; request refused");
                    }
                    _ => {}
                }
                self.deny(ctx, &err)
            }
        }
    }

    async fn pipeline(
        &self,
        ctx: &mut RequestCtx,
        req: Request<Incoming>,
        origin: &Origin,
    ) -> Result<Response<Incoming>, ProxyError> {
        identify(ctx, req.headers(), origin)?;
        let target = target(ctx, &req, origin)?;
        let route = ctx
            .snapshot
            .route(&target.host)
            .cloned()
            .ok_or(ProxyError::NoConnector)?;
        ctx.audit.connector = Some(route.instance.clone());
        // A credential goes only over verified TLS to the connector's
        // declared port: plain HTTP and other ports never reach injection.
        match origin {
            Origin::Plain => return Err(ProxyError::InsecureScheme),
            Origin::Tunnel(t) if t.port != CONNECTOR_PORT => {
                return Err(ProxyError::UndeclaredPort(t.port));
            }
            Origin::Tunnel(_) => {}
        }

        let (parts, body) = req.into_parts();
        let mut headers = parts.headers;
        // A transfer coding other than `chunked` (`gzip, chunked`) would hide
        // the body from the connector while an upstream could still undo it.
        if headers
            .get_all(header::TRANSFER_ENCODING)
            .iter()
            .flat_map(|v| v.as_bytes().split(|b| *b == b','))
            .any(|c| !c.trim_ascii().eq_ignore_ascii_case(b"chunked"))
        {
            return Err(ProxyError::BadRequest(
                "it uses a transfer coding other than chunked",
            ));
        }
        strip_hop_by_hop(&mut headers);
        contain(&route, &mut headers, target.uri.query())?;
        let (request, body) = self
            .read(ctx, &route, &parts.method, &target, &mut headers, body)
            .await?;
        let action = self.classify(ctx, &route, request).await?;
        authorize(ctx, &route, &action)?;
        inject(&route, &mut headers)?;
        if !route.read_only.action_is_read_only(&action) {
            self.write_ahead(ctx).await?;
        }
        self.forward(ctx, parts.method, target.uri, headers, body)
            .await
    }

    /// Phase write-ahead: a request whose action is not read-only is not
    /// forwarded until its write-ahead record is durably committed; if it
    /// cannot be (error, dropped acknowledgement, timeout), it is refused.
    async fn write_ahead(&self, ctx: &mut RequestCtx) -> Result<(), ProxyError> {
        let entry = ctx.audit.write_ahead();
        let (tx, rx) = oneshot::channel();
        self.audit.record_durable(
            entry,
            Box::new(move |committed| {
                let _ = tx.send(committed);
            }),
        );
        match tokio::time::timeout(self.config.write_ahead_timeout, rx).await {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(e))) => Err(ProxyError::AuditUnavailable(e)),
            Ok(Err(_)) => Err(ProxyError::AuditUnavailable(AuditUnavailable::WriterGone)),
            Err(_) => Err(ProxyError::AuditUnavailable(
                AuditUnavailable::CommitFailed(format!(
                    "not committed within {:?}",
                    self.config.write_ahead_timeout
                )),
            )),
        }
    }

    /// Phase read: the connector's view of the request, and the body to forward.
    ///
    /// When the connector reads the body, a content-coded body is decoded
    /// (bounded by the body limit) and the decoded bytes are both classified
    /// and forwarded, without `Content-Encoding`.
    async fn read(
        &self,
        ctx: &mut RequestCtx,
        route: &Route,
        method: &Method,
        target: &Target,
        headers: &mut HeaderMap,
        body: Incoming,
    ) -> Result<(ConnectorRequest, UpBody), ProxyError> {
        // `contain` already removed every credential header the agent sent.
        let mut visible = Vec::with_capacity(headers.len());
        for (name, value) in headers.iter() {
            if let Ok(v) = value.to_str() {
                visible.push((name.as_str().to_owned(), v.to_owned()));
            }
        }
        let mut request = ConnectorRequest {
            method: method.as_str().to_owned(),
            scheme: if target.https { "https" } else { "http" }.to_owned(),
            host: target.host.clone(),
            path: target.uri.path().to_owned(),
            query: target.uri.query().map(str::to_owned),
            headers: visible,
            body: None,
        };
        if !route.descriptor.needs_body {
            let up = UpBody::Stream {
                body,
                counter: ctx.bytes_up.clone(),
                scan: crate::body::PlaceholderScan::new(ctx.placeholder_in_body.clone()),
            };
            return Ok((request, up));
        }
        let max = self.config.max_body_bytes;
        // Refused before the body is read: nothing to decode it with.
        let codings = decode::codings(headers).map_err(ProxyError::ContentEncoding)?;
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > max as u64) {
            return Err(ProxyError::BodyTooLarge { limit: max });
        }
        let mut bytes = match http_body_util::Limited::new(body, max).collect().await {
            Ok(c) => c.to_bytes(),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                return Err(ProxyError::BodyTooLarge { limit: max });
            }
            Err(e) => return Err(ProxyError::BodyRead(e)),
        };
        if headers.contains_key(header::CONTENT_ENCODING) {
            if !codings.is_empty() && !bytes.is_empty() {
                bytes = decode::decode(&bytes, &codings, max)
                    .map_err(ProxyError::ContentEncoding)?
                    .into();
            }
            // Forwarded decoded: the connector and the upstream see the
            // same bytes, described the same way.
            headers.remove(header::CONTENT_ENCODING);
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
            request
                .headers
                .retain(|(n, _)| n != "content-encoding" && n != "content-length");
            request
                .headers
                .push(("content-length".to_owned(), bytes.len().to_string()));
        }
        // Checked after decoding: a coded body hides nothing.
        if tf_core::placeholder::contains(&bytes) {
            return Err(ProxyError::PlaceholderMisuse("the request body"));
        }
        ctx.bytes_up.store(bytes.len() as u64, Ordering::Relaxed);
        request.body = Some(bytes.to_vec());
        let up = UpBody::Full((!bytes.is_empty()).then_some(bytes));
        Ok((request, up))
    }

    /// Phase forward: send upstream through the pool.
    async fn forward(
        &self,
        ctx: &mut RequestCtx,
        method: Method,
        uri: Uri,
        mut headers: HeaderMap,
        body: UpBody,
    ) -> Result<Response<Incoming>, ProxyError> {
        if let Ok(v) = HeaderValue::from_str(&ctx.audit.request_id) {
            headers.insert(X_REQUEST_ID, v);
        }
        if let Some(v) = ctx
            .audit
            .gateway
            .as_deref()
            .and_then(|g| HeaderValue::from_str(g).ok())
        {
            headers.insert(X_AGENT, v);
        }
        let mut req = Request::new(body);
        *req.method_mut() = method;
        *req.uri_mut() = uri;
        *req.version_mut() = Version::HTTP_11;
        *req.headers_mut() = headers;
        // From here the request may reach the upstream: if this future is
        // dropped, or the upstream fails, the record says forwarded.
        ctx.audit.outcome = Outcome::Allowed;
        ctx.audit.forwarded = true;
        let result =
            tokio::time::timeout(self.config.response_timeout, self.client.request(req)).await;
        if ctx.placeholder_in_body.load(Ordering::Relaxed) {
            // The scanner cut the body off before the placeholder was sent:
            // the upstream got an incomplete request (its head was forwarded).
            return Err(ProxyError::PlaceholderMisuse("the request body"));
        }
        let err = match result {
            Err(_) => ProxyError::UpstreamTimeout,
            Ok(Ok(resp)) => return Ok(resp),
            Ok(Err(e)) => match connect_error(&e) {
                Some(ConnectError::Blocked(_)) => ProxyError::UpstreamBlocked,
                Some(ConnectError::Timeout(_)) => ProxyError::UpstreamConnectTimeout,
                Some(
                    ConnectError::NoHost
                    | ConnectError::Scheme(_)
                    | ConnectError::Resolve { .. }
                    | ConnectError::NoAddress(_)
                    | ConnectError::Connect { .. }
                    | ConnectError::ServerName(_)
                    | ConnectError::Tls { .. },
                ) => ProxyError::UpstreamUnreachable(e),
                None if e.is_connect() => ProxyError::UpstreamUnreachable(e),
                None => ProxyError::Upstream(e),
            },
        };
        // Only a failure to connect proves nothing was sent.
        if matches!(
            err,
            ProxyError::UpstreamBlocked
                | ProxyError::UpstreamConnectTimeout
                | ProxyError::UpstreamUnreachable(_)
        ) {
            ctx.audit.forwarded = false;
            ctx.audit.outcome = Outcome::Denied;
        }
        Err(err)
    }

    /// Phase relay: the upstream response, streamed back frame by frame.
    fn relay(&self, mut ctx: RequestCtx, resp: Response<Incoming>) -> Response<ResponseBody> {
        let (mut parts, body) = resp.into_parts();
        strip_hop_by_hop(&mut parts.headers);
        ctx.audit.outcome = Outcome::Allowed;
        ctx.audit.upstream_status = Some(parts.status.as_u16());
        decorate(&mut parts.headers, &ctx.audit);
        parts.version = Version::HTTP_11;
        ctx.audit.responded(Stage::Relaying);
        Response::from_parts(parts, ResponseBody::upstream(body, ctx.audit))
    }

    /// Answers a request that ended in an error: JSON body, audited. A
    /// request that was forwarded (the upstream failed after it may have
    /// been written) stays `allowed` and `forwarded` in the record and the
    /// body, so neither the audit nor the agent takes it for a denial.
    fn deny(&self, mut ctx: RequestCtx, err: &ProxyError) -> Response<ResponseBody> {
        let s = respond(err, &ctx);
        // A flood of unauthenticated requests is recorded as aggregates.
        let recorded =
            !matches!(err, ProxyError::ProxyAuth) || self.auth_failures.admit(ctx.audit.time_ms);
        // A streamed body cut off for a placeholder: its head went upstream
        // (the record keeps `forwarded`), but the request was refused.
        let forwarded = ctx.audit.forwarded && !matches!(err, ProxyError::PlaceholderMisuse(_));
        ctx.audit.outcome = if forwarded {
            Outcome::Allowed
        } else {
            Outcome::Denied
        };
        s.reason.clone_into(&mut ctx.audit.reason);
        // `error` is an object and `ok` is false so that the official SDKs'
        // error parsers (Stripe, OpenAI, Anthropic: `error.type`/`message`;
        // Slack: `ok`) raise their normal permission error instead of failing
        // to parse; the top-level fields are for everyone else.
        let mut body = serde_json::json!({
            "ok": false,
            "error": {
                "type": if forwarded { "tameflare_upstream_error" } else { "tameflare_denied" },
                "code": s.reason,
                "message": s.message,
            },
            "decision": ctx.audit.outcome.as_str(),
            "forwarded": forwarded,
            "reason": s.reason,
            "message": s.message,
            "action": ctx.audit.action,
            "connector": ctx.audit.connector,
            "gateway": ctx.audit.gateway,
            "request_id": ctx.audit.request_id,
        });
        // The kind of a connector failure (never its detail, which may hold
        // guest-chosen text).
        if let Some(kind) = ctx.audit.connector_failure {
            body["connector_failure"] = serde_json::json!(kind.as_str());
        }
        let mut resp = Response::new(());
        *resp.status_mut() = s.status;
        let headers = resp.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if s.status == StatusCode::PROXY_AUTHENTICATION_REQUIRED {
            headers.insert(
                header::PROXY_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"tameflare\""),
            );
        }
        decorate(headers, &ctx.audit);
        let bytes = Bytes::from(body.to_string());
        let recorder = if recorded {
            ctx.audit.responded(Stage::Answered);
            Some(ctx.audit)
        } else {
            // Counted into the next aggregate record instead.
            ctx.audit.discard();
            None
        };
        resp.map(|()| ResponseBody::full(bytes, recorder))
    }
}

/// Phase identify: which gateway the agent is.
fn identify(ctx: &mut RequestCtx, headers: &HeaderMap, origin: &Origin) -> Result<(), ProxyError> {
    let name = match origin {
        Origin::Tunnel(t) => ctx
            .snapshot
            .gateways
            .get(&*t.gateway)
            .map(|g| g.name.clone())
            .ok_or(ProxyError::ProxyAuth)?,
        Origin::Plain => authenticate(&ctx.snapshot, headers).ok_or(ProxyError::ProxyAuth)?,
    };
    ctx.audit.gateway = Some(name);
    Ok(())
}

/// `Proxy-Authorization: Basic base64(name:token)` → the gateway's name.
fn authenticate(snapshot: &Snapshot, headers: &HeaderMap) -> Option<String> {
    let value = headers
        .get(header::PROXY_AUTHORIZATION)?
        .to_str()
        .ok()?
        .trim();
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(BASE64.decode(encoded.trim()).ok()?).ok()?;
    let (name, token) = decoded.split_once(':')?;
    let entry = match snapshot.gateways.get(name) {
        Some(e) => e,
        None if name.contains('%') => snapshot.gateways.get(&percent_decode(name)?)?,
        None => return None,
    };
    entry.token_matches(token).then(|| entry.name.clone())
}

/// Phase target: where the request goes, after checking that every name
/// for the host agrees and that the path is in normal form.
fn target(
    ctx: &mut RequestCtx,
    req: &Request<Incoming>,
    origin: &Origin,
) -> Result<Target, ProxyError> {
    let uri = req.uri();
    let host_header = match req.headers().get(header::HOST) {
        Some(v) => Some(v.to_str().map_err(|_| ProxyError::HostMismatch)?),
        None => None,
    };
    let (https, host, authority) = match origin {
        Origin::Tunnel(t) => {
            if !t.sni_matches {
                return Err(ProxyError::HostMismatch);
            }
            let from_uri = uri.authority().map(Authority::as_str);
            if from_uri.is_none() && host_header.is_none() {
                return Err(ProxyError::HostMismatch);
            }
            for a in from_uri.into_iter().chain(host_header) {
                if !authority_agrees(a, &t.host, t.port, 443) {
                    return Err(ProxyError::HostMismatch);
                }
            }
            (true, t.host.clone(), t.authority.clone())
        }
        Origin::Plain => {
            match uri.scheme_str() {
                Some("http") => {}
                Some(_) => return Err(ProxyError::BadRequest("use CONNECT for https")),
                None => return Err(ProxyError::BadRequest("not an absolute-form request")),
            }
            let authority = uri
                .authority()
                .ok_or(ProxyError::BadRequest("not an absolute-form request"))?;
            let (host, port) = split_authority(authority.as_str())
                .ok_or(ProxyError::BadRequest("invalid request target"))?;
            let host = host.trim_end_matches('.').to_ascii_lowercase();
            let port = port.unwrap_or(80);
            if let Some(h) = host_header
                && !authority_agrees(h, &host, port, 80)
            {
                return Err(ProxyError::HostMismatch);
            }
            (false, host, authority.clone())
        }
    };
    let pq = uri
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| PathAndQuery::from_static("/"));
    // The one spelling that is classified, audited and forwarded.
    let pq = match canonical_path(pq.path()).map_err(ProxyError::NonCanonicalPath)? {
        Cow::Borrowed(path) if path.len() == pq.path().len() => pq,
        path => {
            let rebuilt = match pq.query() {
                Some(q) => format!("{path}?{q}"),
                None => path.into_owned(),
            };
            PathAndQuery::try_from(rebuilt)
                .map_err(|_| ProxyError::BadRequest("the request target is not a valid URI"))?
        }
    };
    ctx.audit.host.clone_from(&host);
    pq.path().clone_into(&mut ctx.audit.path);
    let uri = Uri::builder()
        .scheme(if https { Scheme::HTTPS } else { Scheme::HTTP })
        .authority(authority)
        .path_and_query(pq)
        .build()
        .map_err(|_| ProxyError::BadRequest("the request target is not a valid URI"))?;
    Ok(Target { https, host, uri })
}

impl Proxy {
    /// Phase classify: the connector names the action. At most
    /// `max_concurrent_classifications` calls run at once (each holds a
    /// tokio worker until it returns or hits its deadline), so slow
    /// connectors cannot take every worker; a request that waits longer
    /// than `classify_wait` for a slot is refused.
    async fn classify(
        &self,
        ctx: &mut RequestCtx,
        route: &Route,
        request: ConnectorRequest,
    ) -> Result<Action, ProxyError> {
        let _slot = match self.classify_slots.try_acquire() {
            Ok(slot) => slot,
            Err(_) => {
                tokio::time::timeout(self.config.classify_wait, self.classify_slots.acquire())
                    .await
                    .map_err(|_| ProxyError::ClassifierBusy)?
                    .map_err(|_| ProxyError::ClassifierBusy)?
            }
        };
        let action = route.classifier.classify(request).map_err(|e| {
            ctx.audit.connector_failure = e.failure();
            ProxyError::Classify(e)
        })?;
        ctx.audit.action = Some(action.name.clone());
        ctx.audit.resource = Some(action.resource.clone());
        ctx.audit.params.clone_from(&action.params);
        Ok(action)
    }
}

/// The only port a connector's credential is sent to (the 0.1 contract has
/// no way to declare another).
const CONNECTOR_PORT: u16 = 443;

/// Headers that carry a credential. The agent's values are removed on
/// every connector route before classification and injection: the agent
/// holds no credential, and whatever it sends here (its placeholder, or a
/// key of its own) must not reach the API.
const CREDENTIAL_HEADERS: [HeaderName; 6] = [
    header::AUTHORIZATION,
    header::PROXY_AUTHORIZATION,
    header::COOKIE,
    HeaderName::from_static("x-api-key"),
    HeaderName::from_static("api-key"),
    HeaderName::from_static("x-auth-token"),
];

/// Phase contain: removes the agent's credential headers (the fixed set
/// and the route's placement header) and refuses the request if a
/// placeholder appears anywhere it would not be replaced: another
/// connector's placeholder in a credential header, or any placeholder in
/// another header or the query. (The body is checked in `read`.)
fn contain(route: &Route, headers: &mut HeaderMap, query: Option<&str>) -> Result<(), ProxyError> {
    let placement = route
        .placement
        .header_name()
        .and_then(|n| HeaderName::from_bytes(n.as_bytes()).ok());
    let mut own: Option<String> = None;
    for name in CREDENTIAL_HEADERS.iter().chain(placement.as_ref()) {
        for value in headers.get_all(name) {
            if credential_misused(value.as_bytes(), || {
                own.get_or_insert_with(|| tf_core::placeholder::for_instance(&route.instance))
                    .clone()
            }) {
                return Err(ProxyError::PlaceholderMisuse(
                    "a credential header of another connector",
                ));
            }
        }
        headers.remove(name);
    }
    if headers
        .values()
        .any(|v| tf_core::placeholder::contains(v.as_bytes()))
    {
        return Err(ProxyError::PlaceholderMisuse("a request header"));
    }
    if let Some(q) = query
        && (tf_core::placeholder::contains(q.as_bytes())
            || (q.contains('%') || q.contains('+'))
                && tf_core::placeholder::contains(query_decoded(q).as_bytes()))
    {
        return Err(ProxyError::PlaceholderMisuse("the query string"));
    }
    Ok(())
}

/// True if a credential header value holds a placeholder that is not the
/// route's own (also inside `Basic` credentials).
fn credential_misused(value: &[u8], own: impl FnOnce() -> String) -> bool {
    let decoded;
    let mut hay = value;
    if let Some(b64) = value
        .strip_prefix(b"Basic ")
        .or_else(|| value.strip_prefix(b"basic "))
        && let Ok(d) = BASE64.decode(b64.trim_ascii())
    {
        decoded = d;
        hay = &decoded;
    }
    let Some(at) = tf_core::placeholder::find(hay) else {
        return false;
    };
    let own = own();
    let rest = &hay[at..];
    // The placeholder runs to the end of the token (no spaces, quotes or
    // separators inside one).
    let end = rest
        .iter()
        .position(|b| !(b.is_ascii_alphanumeric() || *b == b'-'))
        .unwrap_or(rest.len());
    !rest[..end].eq_ignore_ascii_case(own.as_bytes())
        || tf_core::placeholder::contains(&rest[end..])
}

/// The query with `%XX` and `+` decoded (lossily), for the placeholder check.
fn query_decoded(q: &str) -> String {
    let b = q.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hex_val(b[i + 1]), hex_val(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_val(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Phase authorize: the permission rules decide.
fn authorize(ctx: &mut RequestCtx, route: &Route, action: &Action) -> Result<(), ProxyError> {
    let gateway = ctx.audit.gateway.as_deref().unwrap_or_default();
    let permissions = &ctx.snapshot.permissions;
    let decide = |name: &str| match permissions.evaluate(gateway, &route.instance, name) {
        Verdict::Matched(rule) => {
            let reason = format!("rule:{}/{}/{}", rule.gateway, rule.connector, rule.action);
            match rule.decision {
                Decision::Allow => Ok(reason),
                Decision::Deny => Err(ProxyError::PermissionDenied(reason)),
            }
        }
        Verdict::NoMatch => Err(ProxyError::NoPermission),
    };
    let reason = if action.parts.is_empty() {
        decide(&action.name)?
    } else {
        // A batch: every part is decided on its own and the most restrictive
        // decision applies, so one denied part denies the whole request.
        let mut reasons: Vec<String> = Vec::with_capacity(action.parts.len());
        for part in &action.parts {
            let reason = decide(&part.name).map_err(|e| match e {
                ProxyError::PermissionDenied(r) => {
                    ProxyError::PermissionDenied(format!("{r} (batch part {})", part.name))
                }
                other => other,
            })?;
            if !reasons.contains(&reason) {
                reasons.push(reason);
            }
        }
        reasons.join(";")
    };
    ctx.audit.reason = reason;
    Ok(())
}

/// Phase inject: replace the agent's placeholder with the real credential.
fn inject(route: &Route, headers: &mut HeaderMap) -> Result<(), ProxyError> {
    if let Some(name) = route.placement.header_name() {
        headers.remove(name);
    }
    match (&route.placement, &route.credential) {
        (Placement::None, _) => Ok(()),
        (Placement::Header { .. } | Placement::Basic, _) if route.credential_suspended => {
            Err(ProxyError::CredentialSuspended(route.instance.clone()))
        }
        (Placement::Header { .. } | Placement::Basic, None) => Err(ProxyError::CredentialMissing),
        (Placement::Header { .. } | Placement::Basic, Some(injector)) => {
            injector.inject(headers).map_err(ProxyError::Credential)
        }
    }
}

/// Removes hop-by-hop headers (and those named in `Connection`), the proxy
/// credentials, and `Host` (the upstream client sets it from the URI).
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let listed: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .collect();
    for name in listed {
        headers.remove(name);
    }
    for name in [
        header::CONNECTION,
        HeaderName::from_static("keep-alive"),
        HeaderName::from_static("proxy-connection"),
        header::PROXY_AUTHORIZATION,
        header::PROXY_AUTHENTICATE,
        header::TE,
        header::TRAILER,
        header::TRANSFER_ENCODING,
        header::UPGRADE,
        header::HOST,
    ] {
        headers.remove(name);
    }
}

/// Adds the `X-TameFlare-*` headers every agent response carries.
fn decorate(headers: &mut HeaderMap, audit: &AuditEntry) {
    headers.insert(X_DECISION, HeaderValue::from_static(audit.outcome.as_str()));
    let optional = [
        (X_GATEWAY, audit.gateway.as_deref()),
        (X_CONNECTOR, audit.connector.as_deref()),
        (X_ACTION, audit.action.as_deref()),
        (X_REQUEST_ID, Some(audit.request_id.as_str())),
    ];
    for (name, value) in optional {
        if let Some(v) = value.and_then(|v| HeaderValue::from_str(v).ok()) {
            headers.insert(name, v);
        }
    }
}

/// The one mapping from pipeline errors to responses. Every variant is
/// placed on purpose. All but two mean the request was refused or nothing
/// was sent; `Upstream` and `UpstreamTimeout` report a failure after it may
/// have been written (`502`/`504`, recorded as forwarded).
fn respond(err: &ProxyError, ctx: &RequestCtx) -> Synthetic {
    let a = &ctx.audit;
    let gateway = a.gateway.as_deref().unwrap_or("?");
    let connector = a.connector.as_deref().unwrap_or("?");
    let action = a.action.as_deref().unwrap_or("?");
    let host = a.host.as_str();
    let (status, reason, message) = match err {
        ProxyError::ProxyAuth => (
            StatusCode::PROXY_AUTHENTICATION_REQUIRED,
            "proxy_auth_required",
            "The proxy needs a gateway identity: set HTTP_PROXY/HTTPS_PROXY to http://<gateway>:<token>@host:port with a valid gateway token (tf run does this).".to_owned(),
        ),
        ProxyError::NoConnector => (
            StatusCode::FORBIDDEN,
            "no_connector",
            format!("No connector handles {host}, so it is unreachable; add a connector for this host if agents should reach it."),
        ),
        ProxyError::HostMismatch => (
            StatusCode::MISDIRECTED_REQUEST,
            "host_mismatch",
            "The Host header, :authority, TLS server name and CONNECT target must name the same host and port; send the request to the host the tunnel was opened for.".to_owned(),
        ),
        ProxyError::BadRequest(what) => (
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("The request was refused because {what}; send a normalized request."),
        ),
        ProxyError::NonCanonicalPath(why) => (
            StatusCode::BAD_REQUEST,
            "non_canonical_path",
            format!("The request path was refused because {why}, so the gateway cannot tell which operation an upstream would run. Instead, {} (the rules are in docs/canonical-requests.md).", why.remedy()),
        ),
        ProxyError::ContentEncoding(DecodeError::TooLarge { limit }) => (
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("The decoded request body exceeds {limit} bytes, the most the gateway inspects for connector {connector}; send a smaller body or raise the limit."),
        ),
        ProxyError::ContentEncoding(DecodeError::Unsupported(coding)) => (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_content_encoding",
            format!("Connector {connector} reads request bodies and the gateway cannot decode the content coding {coding}; send the body with gzip, deflate, br, zstd or no Content-Encoding."),
        ),
        ProxyError::ContentEncoding(DecodeError::Corrupt(coding)) => (
            StatusCode::BAD_REQUEST,
            "bad_content_encoding",
            format!("The request body is not a valid {coding} stream as its Content-Encoding says; send the body encoded as declared, or without Content-Encoding."),
        ),
        ProxyError::BodyRead(_) => (
            StatusCode::BAD_REQUEST,
            "bad_request",
            "The request body could not be read; resend the request.".to_owned(),
        ),
        ProxyError::BodyTooLarge { limit } => (
            StatusCode::FORBIDDEN,
            "body_too_large",
            format!("The request body is larger than the {limit} bytes the gateway inspects for connector {connector}; send a smaller body or raise the limit."),
        ),
        ProxyError::Classify(ClassifyError::Rejected { code, message }) => (
            StatusCode::FORBIDDEN,
            "connector_rejected",
            format!("Connector {connector} refused the request ({code}: {message}); change the request to one the connector recognizes."),
        ),
        ProxyError::Classify(ClassifyError::Failed { kind, .. }) => (
            StatusCode::FORBIDDEN,
            "connector_error",
            format!("Connector {connector} failed while classifying the request ({kind}), so it was denied; check the gateway log and the connector."),
        ),
        ProxyError::NoPermission => (
            StatusCode::FORBIDDEN,
            "no_permission",
            format!("No permission rule allows {action} for gateway {gateway} on connector {connector}; add an allow rule if this agent should do it."),
        ),
        ProxyError::PermissionDenied(rule) => (
            StatusCode::FORBIDDEN,
            "permission_denied",
            format!("Action {action} is denied for gateway {gateway} on connector {connector} by {rule}; change the rule if this agent should do it."),
        ),
        ProxyError::CredentialMissing => (
            StatusCode::FORBIDDEN,
            "credential_error",
            format!("Connector {connector} has no credential configured; add one to the vault for this connector."),
        ),
        ProxyError::CredentialSuspended(instance) => (
            StatusCode::FORBIDDEN,
            "credential_suspended",
            format!("The credential of connector instance {instance} was entered for another connector kind or other domains than it serves now, so it is suspended; enter it again (`tf connector add KIND --name {instance} --token-env VAR`) or confirm it for the new ones (`tf connector add KIND --name {instance} --keep-credential`)."),
        ),
        ProxyError::Credential(e) => (
            StatusCode::FORBIDDEN,
            "credential_error",
            match e {
                InjectError::Missing(_) => format!("Connector {connector} has no credential configured; add one to the vault for this connector."),
                InjectError::Decrypt(_) => format!("The credential of connector {connector} could not be decrypted; check the master key or set the credential again."),
                InjectError::InvalidHeader => format!("The credential of connector {connector} does not form a valid header; set the credential again."),
            },
        ),
        ProxyError::AuditUnavailable(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "audit_unavailable",
            format!("The gateway could not durably record {action} before forwarding it, so it was not sent; retry later, and check the gateway's audit store."),
        ),
        ProxyError::UpstreamBlocked => (
            StatusCode::FORBIDDEN,
            "upstream_blocked",
            format!("{host} resolves to a loopback, private, link-local or metadata address; allow private upstreams or map the host with connect-to if this is intended."),
        ),
        ProxyError::UpstreamUnreachable(_) => (
            StatusCode::BAD_GATEWAY,
            "upstream_unreachable",
            format!("The upstream {host} could not be reached, so nothing was sent; retry later or check the host."),
        ),
        ProxyError::UpstreamConnectTimeout => (
            StatusCode::GATEWAY_TIMEOUT,
            "upstream_unreachable",
            format!("Connecting to the upstream {host} timed out, so nothing was sent; retry later or check the host."),
        ),
        ProxyError::Upstream(_) => (
            StatusCode::BAD_GATEWAY,
            UPSTREAM_ERROR,
            format!("The request was sent to {host}, but the upstream failed before answering; {action} may have run, so check before retrying."),
        ),
        ProxyError::UpstreamTimeout => (
            StatusCode::GATEWAY_TIMEOUT,
            "upstream_timeout",
            format!("The request was sent to {host}, but the upstream did not answer in time; {action} may have run, so check before retrying."),
        ),
        ProxyError::InsecureScheme => (
            StatusCode::FORBIDDEN,
            "insecure_scheme",
            format!("{host} is served by connector {connector}, whose credential is only sent over verified TLS; use https://{host}/ instead of http://."),
        ),
        ProxyError::UndeclaredPort(port) => (
            StatusCode::FORBIDDEN,
            "undeclared_port",
            format!("Connector {connector} serves {host} on port 443 only; port {port} is refused so its credential cannot go elsewhere. Use https://{host}/."),
        ),
        ProxyError::PlaceholderMisuse(place) => (
            StatusCode::FORBIDDEN,
            "placeholder_misuse",
            format!("A TameFlare placeholder credential appears in {place}, where the gateway would not replace it, so the agent would send its credential somewhere the gateway does not control; send the placeholder only in the credential header of its own connector's host."),
        ),
        ProxyError::ClassifierBusy => (
            StatusCode::SERVICE_UNAVAILABLE,
            "gateway_busy",
            format!("Every classification slot stayed busy (slow connectors); the request to {host} was refused without being forwarded. Retry shortly."),
        ),
    };
    Synthetic {
        status,
        reason,
        message,
    }
}
