//! A small client for the admin API of a running gateway (hyper, HTTP/1.1,
//! one connection per call) over the Unix socket in the data dir.
//!
//! It never connects to a TCP address: the admin token goes only to the
//! socket inside the 0700 data dir, which only the gateway serving that data
//! dir (as the same user) can have bound, never to whatever answers at an
//! address in a stale `runtime.json`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, anyhow};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tf_admin::api::ErrorBody;

/// How long one admin call may take before it counts as "not answering".
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// The admin API of one running gateway.
#[derive(Clone)]
pub(crate) struct AdminClient {
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

impl AdminClient {
    /// A client of the admin API on the Unix socket `socket`.
    pub(crate) fn new(socket: PathBuf, token: String) -> Self {
        Self { socket, token }
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        timeout: Duration,
    ) -> anyhow::Result<(StatusCode, Bytes)> {
        let call = async {
            let stream = tokio::net::UnixStream::connect(&self.socket).await?;
            let (mut sender, conn) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
            let driver = tokio::spawn(async move {
                if let Err(e) = conn.await {
                    tracing::debug!(error = %e, "admin connection ended");
                }
            });
            let mut req = Request::builder()
                .method(method)
                .uri(path)
                .header(hyper::header::HOST, "localhost")
                .header(
                    hyper::header::AUTHORIZATION,
                    format!("Bearer {}", self.token),
                );
            if body.is_some() {
                let kind = if path.starts_with("/v1/components") {
                    "application/wasm"
                } else {
                    "application/json"
                };
                req = req.header(hyper::header::CONTENT_TYPE, kind);
            }
            let req = req.body(Full::new(Bytes::from(body.unwrap_or_default())))?;
            let resp = sender.send_request(req).await?;
            let status = resp.status();
            let bytes = resp.into_body().collect().await?.to_bytes();
            driver.abort();
            anyhow::Ok((status, bytes))
        };
        tokio::time::timeout(timeout, call)
            .await
            .map_err(|_| {
                anyhow!(
                    "the admin API at {} did not answer in time",
                    self.socket.display()
                )
            })?
            .with_context(|| format!("calling the admin API at {}", self.socket.display()))
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> anyhow::Result<T> {
        self.call_within(method, path, body, CALL_TIMEOUT).await
    }

    async fn call_within<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        timeout: Duration,
    ) -> anyhow::Result<T> {
        let (status, bytes) = self.send(method, path, body, timeout).await?;
        if !status.is_success() {
            return Err(error_from(status, &bytes));
        }
        let bytes = if bytes.is_empty() {
            Bytes::from_static(b"null")
        } else {
            bytes
        };
        serde_json::from_slice(&bytes).with_context(|| {
            format!(
                "the admin API answered {path} with an unexpected body (is it the same tf version?)"
            )
        })
    }

    pub(crate) async fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        self.call(Method::GET, path, None).await
    }

    pub(crate) async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> anyhow::Result<T> {
        self.call(Method::POST, path, Some(serde_json::to_vec(body)?))
            .await
    }

    /// Posts raw bytes (a component); compiling one may take a while.
    pub(crate) async fn post_bytes<T: DeserializeOwned>(
        &self,
        path: &str,
        body: Vec<u8>,
    ) -> anyhow::Result<T> {
        self.call_within(Method::POST, path, Some(body), Duration::from_secs(120))
            .await
    }

    pub(crate) async fn delete<B: Serialize>(
        &self,
        path: &str,
        body: Option<&B>,
    ) -> anyhow::Result<()> {
        let body = body.map(serde_json::to_vec).transpose()?;
        self.call::<()>(Method::DELETE, path, body).await
    }

    /// True when the API answers `/v1/status` with our token within `timeout`.
    pub(crate) async fn answers(&self, timeout: Duration) -> bool {
        matches!(
            self.send(Method::GET, "/v1/status", None, timeout).await,
            Ok((status, _)) if status.is_success()
        )
    }
}

fn error_from(status: StatusCode, bytes: &[u8]) -> anyhow::Error {
    match serde_json::from_slice::<ErrorBody>(bytes) {
        Ok(body) => anyhow!("{}", body.error),
        Err(_) => anyhow!("the admin API answered {status}"),
    }
}

/// Percent-encodes one path segment.
pub(crate) fn segment(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}
