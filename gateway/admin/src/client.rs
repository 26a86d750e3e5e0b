//! The client of the admin API over the Unix socket in the data dir
//! (HTTP/1.1, one connection per call), with one typed method per
//! endpoint of [`crate::routes`].
//!
//! It never connects to a TCP address: the admin token goes only to the
//! socket inside the 0700 data dir, which only the gateway serving that data
//! dir (as the same user) can have bound, never to whatever answers at an
//! address in a stale `runtime.json`.

use std::path::PathBuf;
use std::time::Duration;

use axum::http::{Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tf_core::Rule;

use crate::api::{
    AddConnector, AuditPage, CheckpointPage, ComponentInfo, ConnectorInfo, ConnectorList,
    CredentialDigests, EnsureGateway, ErrorBody, GatewayToken, LatestCheckpoint, RuleKey, RuleList,
    Status, Verification,
};
use crate::routes::{self, Route};

/// How long one admin call may take before it counts as "not answering".
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Compiling an uploaded component may take a while.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(120);

/// Why an admin call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("the admin API at {} did not answer in time", socket.display())]
    Timeout { socket: PathBuf },
    #[error("calling the admin API at {}", socket.display())]
    Transport {
        socket: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The API refused the request; `message` is its explanation.
    #[error("{message}")]
    Refused {
        status: StatusCode,
        code: String,
        message: String,
    },
    #[error("the admin API answered {0}")]
    Status(StatusCode),
    #[error("the admin API answered {path} with an unexpected body (is it the same tf version?)")]
    Body {
        path: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("encoding the request")]
    Encode(#[source] serde_json::Error),
}

/// The admin API of one running gateway.
#[derive(Clone)]
pub struct AdminClient {
    socket: PathBuf,
    token: String,
}

impl std::fmt::Debug for AdminClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminClient")
            .field("socket", &self.socket)
            .finish_non_exhaustive()
    }
}

/// Percent-encodes one path segment or query value.
fn segment(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// `route`'s path with `{name}` filled in.
fn path_with_name(route: &Route, name: &str) -> String {
    route.path.replace("{name}", &segment(name))
}

/// A request body and its content type.
enum Body {
    None,
    Json(Vec<u8>),
    Wasm(Vec<u8>),
}

impl AdminClient {
    /// A client of the admin API on the Unix socket `socket`.
    pub fn new(socket: PathBuf, token: String) -> Self {
        Self { socket, token }
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Body,
        timeout: Duration,
    ) -> Result<(StatusCode, Bytes), ClientError> {
        let transport = |e: Box<dyn std::error::Error + Send + Sync>| ClientError::Transport {
            socket: self.socket.clone(),
            source: e,
        };
        let call = async {
            let stream = tokio::net::UnixStream::connect(&self.socket)
                .await
                .map_err(|e| transport(e.into()))?;
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|e| transport(e.into()))?;
            let driver = tokio::spawn(async move {
                if let Err(e) = conn.await {
                    tracing::debug!(error = %e, "admin connection ended");
                }
            });
            let mut req = Request::builder()
                .method(method)
                .uri(path)
                .header(header::HOST, "localhost")
                .header(header::AUTHORIZATION, format!("Bearer {}", self.token));
            let bytes = match body {
                Body::None => Vec::new(),
                Body::Json(b) => {
                    req = req.header(header::CONTENT_TYPE, "application/json");
                    b
                }
                Body::Wasm(b) => {
                    req = req.header(header::CONTENT_TYPE, "application/wasm");
                    b
                }
            };
            let req = req
                .body(Full::new(Bytes::from(bytes)))
                .map_err(|e| transport(e.into()))?;
            let resp = sender
                .send_request(req)
                .await
                .map_err(|e| transport(e.into()))?;
            let status = resp.status();
            let bytes = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| transport(e.into()))?
                .to_bytes();
            driver.abort();
            Ok((status, bytes))
        };
        tokio::time::timeout(timeout, call)
            .await
            .map_err(|_| ClientError::Timeout {
                socket: self.socket.clone(),
            })?
    }

    async fn call<T: DeserializeOwned>(
        &self,
        route: &Route,
        path: &str,
        body: Body,
        timeout: Duration,
    ) -> Result<T, ClientError> {
        let (status, bytes) = self.send(route.method.clone(), path, body, timeout).await?;
        if !status.is_success() {
            return Err(match serde_json::from_slice::<ErrorBody>(&bytes) {
                Ok(body) => ClientError::Refused {
                    status,
                    code: body.code,
                    message: body.error,
                },
                Err(_) => ClientError::Status(status),
            });
        }
        let bytes = if bytes.is_empty() {
            Bytes::from_static(b"null")
        } else {
            bytes
        };
        serde_json::from_slice(&bytes).map_err(|source| ClientError::Body {
            path: path.to_owned(),
            source,
        })
    }

    async fn bodiless<T: DeserializeOwned>(
        &self,
        route: &Route,
        path: &str,
    ) -> Result<T, ClientError> {
        self.call(route, path, Body::None, CALL_TIMEOUT).await
    }

    async fn with_json<B: Serialize, T: DeserializeOwned>(
        &self,
        route: &Route,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        let json = serde_json::to_vec(body).map_err(ClientError::Encode)?;
        self.call(route, path, Body::Json(json), CALL_TIMEOUT).await
    }

    /// True when the API answers [`routes::STATUS`] with our token within `timeout`.
    pub async fn answers(&self, timeout: Duration) -> bool {
        let route = &routes::STATUS;
        matches!(
            self.send(route.method.clone(), route.path, Body::None, timeout).await,
            Ok((status, _)) if status.is_success()
        )
    }

    pub async fn status(&self) -> Result<Status, ClientError> {
        self.bodiless(&routes::STATUS, routes::STATUS.path).await
    }

    pub async fn connectors(&self) -> Result<ConnectorList, ClientError> {
        self.bodiless(&routes::LIST_CONNECTORS, routes::LIST_CONNECTORS.path)
            .await
    }

    pub async fn add_connector(
        &self,
        request: &AddConnector,
    ) -> Result<ConnectorInfo, ClientError> {
        let route = &routes::ADD_CONNECTOR;
        self.with_json(route, route.path, request).await
    }

    pub async fn remove_connector(&self, name: &str) -> Result<(), ClientError> {
        let route = &routes::REMOVE_CONNECTOR;
        self.bodiless(route, &path_with_name(route, name)).await
    }

    /// Installs a component; `actor` names who, for the audit trail.
    pub async fn install_component(
        &self,
        wasm: Vec<u8>,
        actor: &str,
        take_over: bool,
    ) -> Result<ComponentInfo, ClientError> {
        let route = &routes::INSTALL_COMPONENT;
        let path = format!(
            "{}?actor={}&take_over={take_over}",
            route.path,
            segment(actor)
        );
        self.call(route, &path, Body::Wasm(wasm), INSTALL_TIMEOUT)
            .await
    }

    pub async fn uninstall_component(&self, name: &str, actor: &str) -> Result<(), ClientError> {
        let route = &routes::UNINSTALL_COMPONENT;
        let path = format!("{}?actor={}", path_with_name(route, name), segment(actor));
        self.bodiless(route, &path).await
    }

    pub async fn rules(&self) -> Result<RuleList, ClientError> {
        self.bodiless(&routes::LIST_RULES, routes::LIST_RULES.path)
            .await
    }

    pub async fn set_rule(&self, rule: &Rule) -> Result<(), ClientError> {
        let route = &routes::SET_RULE;
        self.with_json(route, route.path, rule).await
    }

    pub async fn remove_rule(&self, key: &RuleKey) -> Result<(), ClientError> {
        let route = &routes::REMOVE_RULE;
        self.with_json(route, route.path, key).await
    }

    pub async fn ensure_gateway(&self, name: &str) -> Result<GatewayToken, ClientError> {
        let route = &routes::ENSURE_GATEWAY;
        let body = EnsureGateway {
            name: name.to_owned(),
        };
        self.with_json(route, route.path, &body).await
    }

    pub async fn audit(&self, after: u64, limit: usize) -> Result<AuditPage, ClientError> {
        let route = &routes::AUDIT;
        let path = format!("{}?after={after}&limit={limit}", route.path);
        self.bodiless(route, &path).await
    }

    pub async fn verify_audit(&self) -> Result<Verification, ClientError> {
        self.bodiless(&routes::VERIFY_AUDIT, routes::VERIFY_AUDIT.path)
            .await
    }

    pub async fn checkpoints(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<CheckpointPage, ClientError> {
        let route = &routes::CHECKPOINTS;
        let path = format!("{}?after={after}&limit={limit}", route.path);
        self.bodiless(route, &path).await
    }

    /// Signs the chain head now; the newest checkpoint.
    pub async fn checkpoint_now(&self) -> Result<LatestCheckpoint, ClientError> {
        let route = &routes::CHECKPOINT_NOW;
        self.with_json(route, route.path, &()).await
    }

    /// The local CA certificate (PEM).
    pub async fn ca_pem(&self) -> Result<String, ClientError> {
        let route = &routes::CA_PEM;
        let (status, bytes) = self
            .send(route.method.clone(), route.path, Body::None, CALL_TIMEOUT)
            .await?;
        if !status.is_success() {
            return Err(ClientError::Status(status));
        }
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// The salt and salted digests of the vault's secrets (never the secrets).
    pub async fn credential_digests(&self) -> Result<CredentialDigests, ClientError> {
        self.bodiless(&routes::CREDENTIAL_DIGESTS, routes::CREDENTIAL_DIGESTS.path)
            .await
    }
}
