//! The only axum user: the JSON admin API the `tf` CLI (and later the
//! dashboard) drives, on loopback.
//!
//! Owns routing, bearer authentication (constant-time), the wire types
//! ([`api`]) and the single mapping from errors to status codes
//! ([`respond`]). It has no business rules of its own: every route calls one
//! [`Control`] method on the blocking pool. It never returns a secret: secrets
//! only come in (`POST /v1/connectors`).
//!
//! Routes ([`routes`], the one list the router and the [`client`] share;
//! all require `Authorization: Bearer <admin token>`):
//! `GET /v1/status`, `GET|POST /v1/connectors`, `DELETE /v1/connectors/{name}`,
//! `GET|POST|DELETE /v1/permissions`, `POST /v1/gateways`,
//! `GET /v1/audit?after=SEQ&limit=N`, `GET /v1/audit/verify`,
//! `GET /v1/audit/checkpoints?after=SEQ&limit=N`, `POST /v1/audit/checkpoint`,
//! `GET /v1/ca.pem`, `GET /v1/credentials/digests`.
//!
//! [`serve`] takes any listener axum accepts: `tf serve` runs the same
//! router on a loopback TCP listener (the dashboard) and on a Unix socket in
//! the data dir (the CLI, which never sends the token over TCP).

pub mod api;
pub mod client;
pub mod control;
pub mod routes;

use std::future::Future;
use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::on;
use axum::{Json, Router};
use tf_core::Rule;

pub use control::{Control, ControlError};

use api::{
    AddConnector, AuditQuery, EnsureGateway, ErrorBody, InstallQuery, MAX_AUDIT_PAGE, RuleKey,
};

/// Why an admin request failed at the HTTP layer.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("missing or wrong admin token")]
    Unauthorized,
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error(transparent)]
    Control(#[from] ControlError),
    #[error("the admin operation did not complete")]
    Aborted,
}

/// The one place errors become responses. Every variant is placed on purpose.
pub fn respond(err: &ApiError) -> (StatusCode, ErrorBody) {
    let (status, code, message) = match err {
        ApiError::Unauthorized => (
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or wrong admin token: send `Authorization: Bearer <admin.token from the data dir>`"
                .to_owned(),
        ),
        ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, "invalid", m.clone()),
        ApiError::Control(ControlError::NotFound(m)) => {
            (StatusCode::NOT_FOUND, "not_found", m.clone())
        }
        ApiError::Control(ControlError::Invalid(m)) => {
            (StatusCode::BAD_REQUEST, "invalid", m.clone())
        }
        ApiError::Control(ControlError::Conflict(m)) => {
            (StatusCode::CONFLICT, "conflict", m.clone())
        }
        ApiError::Control(ControlError::Internal(m)) => {
            (StatusCode::INTERNAL_SERVER_ERROR, "internal", m.clone())
        }
        ApiError::Aborted => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the admin operation did not complete; see the gateway log".to_owned(),
        ),
    };
    (
        status,
        ErrorBody {
            code: code.to_owned(),
            error: message,
        },
    )
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = respond(&self);
        if status.is_server_error() {
            tracing::warn!(error = %self, "admin request failed");
        }
        (status, Json(body)).into_response()
    }
}

#[derive(Clone)]
struct AppState {
    control: Arc<dyn Control>,
    token: Arc<str>,
}

/// Constant-time equality (the length is not secret).
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn authorized(headers: &HeaderMap, token: &str) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|presented| ct_eq(presented.trim().as_bytes(), token.as_bytes()))
}

async fn auth(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if authorized(request.headers(), &state.token) {
        next.run(request).await
    } else {
        ApiError::Unauthorized.into_response()
    }
}

/// Runs a control operation on the blocking pool.
async fn call<T, F>(state: &AppState, op: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&dyn Control) -> Result<T, ControlError> + Send + 'static,
{
    let control = Arc::clone(&state.control);
    tokio::task::spawn_blocking(move || op(control.as_ref()))
        .await
        .map_err(|_| ApiError::Aborted)?
        .map_err(ApiError::from)
}

fn body<T>(payload: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    payload
        .map(|Json(v)| v)
        .map_err(|e| ApiError::BadRequest(e.body_text()))
}

async fn status(State(s): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(call(&s, |c| c.status()).await?))
}

async fn list_connectors(State(s): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(call(&s, |c| c.connectors()).await?))
}

async fn add_connector(
    State(s): State<AppState>,
    payload: Result<Json<AddConnector>, JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let request = body(payload)?;
    let info = call(&s, move |c| c.add_connector(request)).await?;
    Ok((StatusCode::CREATED, Json(info)))
}

async fn remove_connector(
    State(s): State<AppState>,
    Path(name): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    call(&s, move |c| c.remove_connector(&name)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Largest component accepted over the API (the host's own limit is 64 MiB).
const MAX_COMPONENT_UPLOAD: usize = 64 << 20;

/// `POST /v1/components?actor=…&take_over=…`, body: the component bytes.
async fn install_component(
    State(s): State<AppState>,
    query: Result<Query<InstallQuery>, QueryRejection>,
    wasm: axum::body::Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let actor = q.actor.unwrap_or_else(|| "admin API".to_owned());
    let info = call(&s, move |c| c.install_component(&wasm, &actor, q.take_over)).await?;
    Ok((StatusCode::CREATED, Json(info)))
}

/// `DELETE /v1/components/{name}?actor=…`.
async fn uninstall_component(
    State(s): State<AppState>,
    Path(name): Path<String>,
    query: Result<Query<InstallQuery>, QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let actor = q.actor.unwrap_or_else(|| "admin API".to_owned());
    call(&s, move |c| c.uninstall_component(&name, &actor)).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_rules(State(s): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(call(&s, |c| c.rules()).await?))
}

async fn set_rule(
    State(s): State<AppState>,
    payload: Result<Json<Rule>, JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let rule = body(payload)?;
    call(&s, move |c| c.set_rule(rule)).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn remove_rule(
    State(s): State<AppState>,
    payload: Result<Json<RuleKey>, JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let key = body(payload)?;
    call(&s, move |c| c.remove_rule(&key)).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn ensure_gateway(
    State(s): State<AppState>,
    payload: Result<Json<EnsureGateway>, JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let request = body(payload)?;
    Ok(Json(
        call(&s, move |c| c.ensure_gateway(&request.name)).await?,
    ))
}

async fn audit(
    State(s): State<AppState>,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let limit = q.limit.unwrap_or(MAX_AUDIT_PAGE).min(MAX_AUDIT_PAGE);
    Ok(Json(call(&s, move |c| c.audit(q.after, limit)).await?))
}

async fn verify(State(s): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(call(&s, |c| c.verify_audit()).await?))
}

async fn checkpoints(
    State(s): State<AppState>,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let limit = q.limit.unwrap_or(MAX_AUDIT_PAGE).min(MAX_AUDIT_PAGE);
    Ok(Json(
        call(&s, move |c| c.audit_checkpoints(q.after, limit)).await?,
    ))
}

async fn checkpoint_now(State(s): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(call(&s, |c| c.audit_checkpoint()).await?))
}

async fn credential_digests(State(s): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(call(&s, |c| c.credential_digests()).await?))
}

async fn ca_pem(State(s): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let pem = call(&s, |c| c.ca_pem()).await?;
    Ok(([(header::CONTENT_TYPE, "application/x-pem-file")], pem))
}

/// Mounts `handler` at `route` (method and path from [`routes`]).
fn mount<H, T>(router: Router<AppState>, route: routes::Route, handler: H) -> Router<AppState>
where
    H: axum::handler::Handler<T, AppState>,
    T: 'static,
{
    router.route(route.path, on(route.filter(), handler))
}

/// The admin API router, every route behind the bearer `token`.
pub fn router(control: Arc<dyn Control>, token: impl Into<Arc<str>>) -> Router {
    let state = AppState {
        control,
        token: token.into(),
    };
    let router = Router::new();
    let router = mount(router, routes::STATUS, status);
    let router = mount(router, routes::LIST_CONNECTORS, list_connectors);
    let router = mount(router, routes::ADD_CONNECTOR, add_connector);
    let router = mount(router, routes::REMOVE_CONNECTOR, remove_connector);
    let router = router.route(
        routes::INSTALL_COMPONENT.path,
        on(routes::INSTALL_COMPONENT.filter(), install_component)
            .layer(axum::extract::DefaultBodyLimit::max(MAX_COMPONENT_UPLOAD)),
    );
    let router = mount(router, routes::UNINSTALL_COMPONENT, uninstall_component);
    let router = mount(router, routes::LIST_RULES, list_rules);
    let router = mount(router, routes::SET_RULE, set_rule);
    let router = mount(router, routes::REMOVE_RULE, remove_rule);
    let router = mount(router, routes::ENSURE_GATEWAY, ensure_gateway);
    let router = mount(router, routes::AUDIT, audit);
    let router = mount(router, routes::VERIFY_AUDIT, verify);
    let router = mount(router, routes::CHECKPOINTS, checkpoints);
    let router = mount(router, routes::CHECKPOINT_NOW, checkpoint_now);
    let router = mount(router, routes::CA_PEM, ca_pem);
    let router = mount(router, routes::CREDENTIAL_DIGESTS, credential_digests);
    router
        .layer(middleware::from_fn_with_state(state.clone(), auth))
        .with_state(state)
}

/// Serves `router` on `listener` until `shutdown` resolves, then finishes
/// in-flight requests.
pub async fn serve<L>(
    listener: L,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

#[cfg(test)]
mod tests;
