//! The request pipeline: one typed context ([`RequestCtx`]) through named
//! phases, and the single mapping from [`ProxyError`] to a response.
//!
//! Phases: identify → target → route → read → classify → authorize →
//! inject → write-ahead (actions that are not read-only) → forward → relay.
//! Any error before forwarding ends the pipeline with a denial; the request
//! is never forwarded after an error. An upstream failure after the request
//! may have been written is answered `502`/`504` and recorded as forwarded.

mod normalize;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
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
    Outcome, Placement, RequestId, Route, Snapshot, Verdict,
};
use tokio::sync::oneshot;

use crate::body::{ResponseBody, UpBody};
use crate::record::{Recorder, Stage, UPSTREAM_ERROR};
use crate::server::Proxy;
use crate::upstream::{ConnectError, connect_error};
use normalize::{PathProblem, authority_agrees, check_path, percent_decode, split_authority};

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

        let (parts, body) = req.into_parts();
        let mut headers = parts.headers;
        strip_hop_by_hop(&mut headers);
        let (request, body) = self
            .read(ctx, &route, &parts.method, &target, &headers, body)
            .await?;
        let action = classify(ctx, &route, request)?;
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
    async fn read(
        &self,
        ctx: &mut RequestCtx,
        route: &Route,
        method: &Method,
        target: &Target,
        headers: &HeaderMap,
        body: Incoming,
    ) -> Result<(ConnectorRequest, UpBody), ProxyError> {
        let placement = route.placement.header_name();
        let mut visible = Vec::with_capacity(headers.len());
        for (name, value) in headers {
            let n = name.as_str();
            if matches!(
                n,
                "authorization" | "proxy-authorization" | "cookie" | "x-api-key"
            ) || placement.is_some_and(|p| p.eq_ignore_ascii_case(n))
            {
                continue;
            }
            if let Ok(v) = value.to_str() {
                visible.push((n.to_owned(), v.to_owned()));
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
            };
            return Ok((request, up));
        }
        let max = self.config.max_body_bytes;
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > max as u64) {
            return Err(ProxyError::BodyTooLarge { limit: max });
        }
        let bytes = match http_body_util::Limited::new(body, max).collect().await {
            Ok(c) => c.to_bytes(),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                return Err(ProxyError::BodyTooLarge { limit: max });
            }
            Err(e) => return Err(ProxyError::BodyRead(e)),
        };
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
        let err = match tokio::time::timeout(self.config.response_timeout, self.client.request(req))
            .await
        {
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
        let forwarded = ctx.audit.forwarded;
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
        let body = serde_json::json!({
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
        ctx.audit.responded(Stage::Answered);
        let bytes = Bytes::from(body.to_string());
        resp.map(|()| ResponseBody::full(bytes, Some(ctx.audit)))
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
    check_path(pq.path()).map_err(|p| ProxyError::BadRequest(p.describe()))?;
    ctx.audit.host.clone_from(&host);
    pq.path().clone_into(&mut ctx.audit.path);
    let uri = Uri::builder()
        .scheme(if https { Scheme::HTTPS } else { Scheme::HTTP })
        .authority(authority)
        .path_and_query(pq)
        .build()
        .map_err(|_| ProxyError::BadRequest(PathProblem::NotOriginForm.describe()))?;
    Ok(Target { https, host, uri })
}

/// Phase classify: the connector names the action.
fn classify(
    ctx: &mut RequestCtx,
    route: &Route,
    request: ConnectorRequest,
) -> Result<Action, ProxyError> {
    let action = route
        .classifier
        .classify(request)
        .map_err(ProxyError::Classify)?;
    ctx.audit.action = Some(action.name.clone());
    ctx.audit.resource = Some(action.resource.clone());
    ctx.audit.params.clone_from(&action.params);
    Ok(action)
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
        ProxyError::Classify(ClassifyError::Failed(_)) => (
            StatusCode::FORBIDDEN,
            "connector_error",
            format!("Connector {connector} failed while classifying the request, so it was denied; check the gateway log and the connector."),
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
    };
    Synthetic {
        status,
        reason,
        message,
    }
}
