use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use axum::body::Body;
use axum::http::Request as HttpRequest;
use http_body_util::BodyExt;
use tf_core::{Decision, Placement};
use tower::ServiceExt;

use super::*;
use crate::api::{
    AuditPage, ConnectorInfo, ConnectorList, GatewayToken, RuleList, Secret, Status, Verification,
};

const TOKEN: &str = "admin-token-123";

/// How long any one step of a test (a request, a shutdown) may take.
const BOUND: Duration = Duration::from_secs(10);

/// Awaits `step`, failing the test (naming `what`) if it takes longer than [`BOUND`].
async fn bounded<F: Future>(what: &str, step: F) -> F::Output {
    tokio::time::timeout(BOUND, step)
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within {BOUND:?}"))
}

#[derive(Default)]
struct Fake {
    rules: Mutex<Vec<Rule>>,
    added: Mutex<Vec<AddConnector>>,
}

impl Control for Fake {
    fn status(&self) -> Result<Status, ControlError> {
        Ok(Status {
            version: "0.1.0".into(),
            data_dir: "/d".into(),
            proxy: None,
            admin: None,
            gateways: vec![],
            connectors: 0,
            rules: self.rules.lock().unwrap().len(),
            audit_records: 0,
            audit_policy: "write-ahead for mutations".into(),
        })
    }
    fn connectors(&self) -> Result<ConnectorList, ControlError> {
        Ok(ConnectorList {
            connectors: vec![],
            kinds: vec![],
            components: vec![],
        })
    }
    fn add_connector(&self, request: AddConnector) -> Result<ConnectorInfo, ControlError> {
        if request.kind == "nope" {
            return Err(ControlError::Invalid("unknown kind nope".into()));
        }
        if request.domains.iter().any(|d| d == "taken.example") {
            return Err(ControlError::Conflict("domain taken".into()));
        }
        let info = ConnectorInfo {
            name: request.name.clone().unwrap_or_else(|| request.kind.clone()),
            kind: request.kind.clone(),
            version: Some("1".into()),
            domains: request.domains.clone(),
            actions: 3,
            placement: Placement::bearer(),
            credential_set: request.token.is_some(),
            credential_suspended: false,
            created_ms: 1,
        };
        self.added.lock().unwrap().push(request);
        Ok(info)
    }
    fn remove_connector(&self, name: &str) -> Result<(), ControlError> {
        Err(ControlError::NotFound(format!("no connector named {name}")))
    }
    fn install_component(
        &self,
        wasm: &[u8],
        actor: &str,
        _take_over: bool,
    ) -> Result<api::ComponentInfo, ControlError> {
        Err(ControlError::Invalid(format!(
            "{} bytes from {actor} refused",
            wasm.len()
        )))
    }
    fn uninstall_component(&self, name: &str, _actor: &str) -> Result<(), ControlError> {
        Err(ControlError::NotFound(format!("no component {name}")))
    }
    fn rules(&self) -> Result<RuleList, ControlError> {
        Ok(RuleList {
            rules: self.rules.lock().unwrap().clone(),
        })
    }
    fn set_rule(&self, rule: Rule) -> Result<(), ControlError> {
        self.rules.lock().unwrap().push(rule);
        Ok(())
    }
    fn remove_rule(&self, key: &RuleKey) -> Result<(), ControlError> {
        let mut rules = self.rules.lock().unwrap();
        let before = rules.len();
        rules.retain(|r| {
            !(r.gateway == key.gateway && r.connector == key.connector && r.action == key.action)
        });
        if rules.len() == before {
            return Err(ControlError::NotFound("no such rule".into()));
        }
        Ok(())
    }
    fn ensure_gateway(&self, name: &str) -> Result<GatewayToken, ControlError> {
        Ok(GatewayToken {
            name: name.into(),
            token: "gw-token".into(),
            created_ms: 5,
        })
    }
    fn audit(&self, after: u64, limit: usize) -> Result<AuditPage, ControlError> {
        // Echo the effective paging through an error the test can read.
        Err(ControlError::Internal(format!(
            "after={after} limit={limit}"
        )))
    }
    fn verify_audit(&self) -> Result<Verification, ControlError> {
        Ok(Verification {
            ok: true,
            records: 0,
            error: None,
        })
    }
    fn audit_checkpoints(
        &self,
        _after: u64,
        _limit: usize,
    ) -> Result<api::CheckpointPage, ControlError> {
        Ok(api::CheckpointPage {
            checkpoints: vec![],
        })
    }
    fn audit_checkpoint(&self) -> Result<api::LatestCheckpoint, ControlError> {
        Ok(api::LatestCheckpoint { checkpoint: None })
    }
    fn ca_pem(&self) -> Result<String, ControlError> {
        Ok("-----BEGIN CERTIFICATE-----\n".into())
    }
    fn credential_digests(&self) -> Result<crate::api::CredentialDigests, ControlError> {
        Ok(crate::api::CredentialDigests {
            salt: "5a17".into(),
            credentials: vec![crate::api::CredentialDigest {
                instance: "mcp".into(),
                sha256: "ab".repeat(32),
            }],
        })
    }
}

fn app() -> (Router, Arc<Fake>) {
    let fake = Arc::new(Fake::default());
    (router(fake.clone(), TOKEN), fake)
}

async fn send(
    router: &Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    json: Option<&str>,
) -> (StatusCode, String) {
    let mut b = HttpRequest::builder().method(method).uri(uri);
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    let req = match json {
        Some(j) => b
            .header("content-type", "application/json")
            .body(Body::from(j.to_owned())),
        None => b.body(Body::empty()),
    }
    .unwrap();
    bounded(&format!("{method} {uri}"), async {
        let resp = router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8(bytes.to_vec()).unwrap())
    })
    .await
}

#[tokio::test]
async fn every_route_requires_the_token() {
    let (app, _) = app();
    for (method, uri) in [
        ("GET", "/v1/status"),
        ("GET", "/v1/connectors"),
        ("POST", "/v1/connectors"),
        ("DELETE", "/v1/connectors/x"),
        ("GET", "/v1/permissions"),
        ("POST", "/v1/permissions"),
        ("DELETE", "/v1/permissions"),
        ("POST", "/v1/gateways"),
        ("GET", "/v1/audit"),
        ("GET", "/v1/audit/verify"),
        ("GET", "/v1/audit/checkpoints"),
        ("POST", "/v1/audit/checkpoint"),
        ("GET", "/v1/ca.pem"),
    ] {
        for token in [None, Some("wrong"), Some("admin-token-12"), Some("")] {
            let (status, body) = send(&app, method, uri, token, None).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {uri} {token:?}");
            let err: ErrorBody = serde_json::from_str(&body).unwrap();
            assert_eq!(err.code, "unauthorized");
        }
    }
    let (status, _) = send(&app, "GET", "/v1/status", Some(TOKEN), None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn errors_map_to_status_codes() {
    let (app, _) = app();
    let cases = [
        (r#"{"kind":"nope"}"#, StatusCode::BAD_REQUEST, "invalid"),
        (
            r#"{"kind":"generic","domains":["taken.example"]}"#,
            StatusCode::CONFLICT,
            "conflict",
        ),
        (r#"{"kind":1}"#, StatusCode::BAD_REQUEST, "invalid"),
        (
            r#"{"kind":"x","extra":1}"#,
            StatusCode::BAD_REQUEST,
            "invalid",
        ),
    ];
    for (json, status, code) in cases {
        let (got, body) = send(&app, "POST", "/v1/connectors", Some(TOKEN), Some(json)).await;
        assert_eq!(got, status, "{json}: {body}");
        let err: ErrorBody = serde_json::from_str(&body).unwrap();
        assert_eq!(err.code, code);
    }
    let (got, body) = send(&app, "DELETE", "/v1/connectors/gh", Some(TOKEN), None).await;
    assert_eq!(got, StatusCode::NOT_FOUND);
    assert!(body.contains("no connector named gh"));
}

#[tokio::test]
async fn secrets_go_in_and_never_come_out() {
    let (app, fake) = app();
    let json = r#"{"kind":"github","name":"gh","token":"ghp_supersecret"}"#;
    let (status, body) = send(&app, "POST", "/v1/connectors", Some(TOKEN), Some(json)).await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(!body.contains("ghp_supersecret"));
    let info: ConnectorInfo = serde_json::from_str(&body).unwrap();
    assert!(info.credential_set);
    let added = fake.added.lock().unwrap();
    assert_eq!(added[0].token, Some(Secret::new("ghp_supersecret")));
    assert!(!format!("{:?}", added[0]).contains("supersecret"));
    assert!(!added[0].keep_credential);
}

#[tokio::test]
async fn keep_credential_and_digests_travel() {
    let (app, fake) = app();
    let json = r#"{"kind":"generic","name":"gh","domains":["x.example"],"keep_credential":true,"actor":"me"}"#;
    let (status, body) = send(&app, "POST", "/v1/connectors", Some(TOKEN), Some(json)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    {
        let added = fake.added.lock().unwrap();
        assert!(added[0].keep_credential);
        assert_eq!(added[0].actor.as_deref(), Some("me"));
    }
    let (status, body) = send(&app, "GET", "/v1/credentials/digests", Some(TOKEN), None).await;
    assert_eq!(status, StatusCode::OK);
    let d: crate::api::CredentialDigests = serde_json::from_str(&body).unwrap();
    assert_eq!(d.salt, "5a17");
    assert_eq!(d.credentials[0].instance, "mcp");
    let (status, _) = send(&app, "GET", "/v1/credentials/digests", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn permissions_round_trip() {
    let (app, _) = app();
    let rule = r#"{"gateway":"Bot","connector":"gh","action":"github.pr.*","decision":"allow"}"#;
    let (status, _) = send(&app, "POST", "/v1/permissions", Some(TOKEN), Some(rule)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, body) = send(&app, "GET", "/v1/permissions", Some(TOKEN), None).await;
    let list: RuleList = serde_json::from_str(&body).unwrap();
    assert_eq!(list.rules.len(), 1);
    assert_eq!(list.rules[0].decision, Decision::Allow);
    let key = r#"{"gateway":"Bot","connector":"gh","action":"github.pr.*"}"#;
    let (status, _) = send(&app, "DELETE", "/v1/permissions", Some(TOKEN), Some(key)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = send(&app, "DELETE", "/v1/permissions", Some(TOKEN), Some(key)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn audit_paging_is_capped() {
    let (app, _) = app();
    let (_, body) = send(&app, "GET", "/v1/audit?after=7&limit=5", Some(TOKEN), None).await;
    assert!(body.contains("after=7 limit=5"), "{body}");
    let (_, body) = send(&app, "GET", "/v1/audit?limit=999999", Some(TOKEN), None).await;
    assert!(
        body.contains(&format!("after=0 limit={MAX_AUDIT_PAGE}")),
        "{body}"
    );
    let (status, _) = send(&app, "GET", "/v1/audit?after=x", Some(TOKEN), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn gateways_and_ca() {
    let (app, _) = app();
    let (status, body) = send(
        &app,
        "POST",
        "/v1/gateways",
        Some(TOKEN),
        Some(r#"{"name":"Bot"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let gw: GatewayToken = serde_json::from_str(&body).unwrap();
    assert_eq!(gw.name, "Bot");
    assert!(!format!("{gw:?}").contains("gw-token"));
    let (status, body) = send(&app, "GET", "/v1/ca.pem", Some(TOKEN), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.starts_with("-----BEGIN CERTIFICATE"));
}

#[tokio::test]
async fn serve_stops_on_shutdown() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (app, _) = app();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, app, async {
        let _ = rx.await;
    }));
    tx.send(()).unwrap();
    bounded("serve after shutdown", task)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn checkpoint_routes_answer_json() {
    let (app, _) = app();
    let (status, body) = send(
        &app,
        "GET",
        "/v1/audit/checkpoints?after=5&limit=10",
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let page: api::CheckpointPage = serde_json::from_str(&body).unwrap();
    assert!(page.checkpoints.is_empty());
    let (status, body) = send(
        &app,
        "POST",
        "/v1/audit/checkpoint",
        Some(TOKEN),
        Some("null"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, r#"{"checkpoint":null}"#);
}

#[tokio::test]
async fn serves_on_a_unix_socket() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("admin.sock");
    let listener = tokio::net::UnixListener::bind(&path).unwrap();
    let (app, _) = app();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, app, async {
        let _ = rx.await;
    }));
    let response = bounded("GET /v1/status over the socket", async {
        let mut stream = tokio::net::UnixStream::connect(&path).await.unwrap();
        stream
            .write_all(
                format!("GET /v1/status HTTP/1.1\r\nhost: admin\r\nauthorization: Bearer {TOKEN}\r\nconnection: close\r\n\r\n")
                    .as_bytes(),
            )
            .await
            .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        response
    })
    .await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    tx.send(()).unwrap();
    bounded("serve after shutdown", task)
        .await
        .unwrap()
        .unwrap();
}

/// What one typed client call came back with: served (by the handler, even
/// if the fake refused), or not routed at all.
fn served<T>(what: &str, result: Result<T, client::ClientError>) {
    match result {
        Ok(_) | Err(client::ClientError::Refused { .. }) => {}
        Err(e) => panic!("{what}: {e:?}"),
    }
}

#[tokio::test]
async fn every_route_the_client_calls_is_served_by_the_router() {
    let tmp = tempfile::tempdir().unwrap();
    let socket = tmp.path().join("admin.sock");
    let listener = tokio::net::UnixListener::bind(&socket).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (router, _) = app();
    let server = tokio::spawn(serve(listener, router, async {
        let _ = stopped.await;
    }));
    let c = client::AdminClient::new(socket.clone(), TOKEN.into());
    let rule = Rule {
        gateway: "Bot".into(),
        connector: "github".into(),
        action: "github.pr.*".into(),
        decision: Decision::Allow,
    };
    let key = RuleKey {
        gateway: "Bot".into(),
        connector: "github".into(),
        action: "github.pr.*".into(),
    };
    let add = AddConnector {
        kind: "github".into(),
        name: None,
        domains: vec![],
        token: Some(Secret::new("s")),
        placement: None,
        keep_credential: false,
        actor: None,
    };
    let calls = async {
        assert!(c.answers(std::time::Duration::from_secs(5)).await);
        served("status", c.status().await);
        served("connectors", c.connectors().await);
        served("add_connector", c.add_connector(&add).await);
        served("remove_connector", c.remove_connector("a b/c").await);
        served(
            "install_component",
            c.install_component(b"\0asm".to_vec(), "me", true).await,
        );
        served(
            "uninstall_component",
            c.uninstall_component("acme", "me").await,
        );
        served("set_rule", c.set_rule(&rule).await);
        served("rules", c.rules().await);
        served("remove_rule", c.remove_rule(&key).await);
        served("ensure_gateway", c.ensure_gateway("Bot").await);
        served("audit", c.audit(3, 7).await);
        served("verify_audit", c.verify_audit().await);
        served("checkpoints", c.checkpoints(0, 10).await);
        served("checkpoint_now", c.checkpoint_now().await);
        served("ca_pem", c.ca_pem().await);
        served("credential_digests", c.credential_digests().await);
        // The fake's refusals come back typed, with the API's code.
        match c.audit(3, 7).await {
            Err(client::ClientError::Refused {
                status,
                code,
                message,
            }) => {
                assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
                assert_eq!(code, "internal");
                assert_eq!(message, "after=3 limit=7");
            }
            other => panic!("{other:?}"),
        }
        let wrong = client::AdminClient::new(socket.clone(), "wrong".into());
        assert!(!wrong.answers(std::time::Duration::from_secs(5)).await);
    };
    tokio::time::timeout(std::time::Duration::from_secs(30), calls)
        .await
        .expect("the admin API answers within 30 s");
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

#[test]
fn every_route_is_listed_once() {
    let mut seen = std::collections::BTreeSet::new();
    for r in &routes::ALL {
        assert!(seen.insert((r.method.to_string(), r.path)), "{r:?} twice");
        assert!(r.path.starts_with("/v1/"), "{r:?}");
    }
}
