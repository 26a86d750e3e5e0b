//! Who may send what where: proxy authentication, hosts and SNI, decisions
//! (rules, batches), denials as JSON, private upstreams.

use base64::Engine;
use http::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use tf_core::{ConnectorFailure, Outcome};
use tokio::net::TcpStream;

use super::harness::*;

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
    // (path, status, reason, connector, action): what each denial names.
    for (path, status, reason, connector, action) in [
        (
            "/denied",
            403,
            "permission_denied",
            Some("github"),
            Some("test.delete"),
        ),
        (
            "/nomatch",
            403,
            "no_permission",
            Some("github"),
            Some("test.other"),
        ),
        ("/reject", 403, "connector_rejected", Some("github"), None),
        ("/trap", 403, "connector_error", Some("github"), None),
        ("/a/../allowed", 400, "non_canonical_path", None, None),
        ("/a%zz", 400, "non_canonical_path", None, None),
    ] {
        let resp = c.get("api.test", path).await;
        assert_eq!(resp.status().as_u16(), status, "{path}");
        assert_eq!(header(&resp, "x-tameflare-decision"), "denied");
        assert_eq!(header(&resp, "content-type"), "application/json");
        let j = json(resp).await;
        assert_eq!(j["decision"], "denied", "{path}");
        assert_eq!(j["ok"], false, "{path}");
        assert_eq!(j["error"]["type"], "tameflare_denied", "{path}");
        assert_eq!(j["error"]["code"], reason, "{path}");
        assert_eq!(j["reason"], reason, "{path}");
        assert_eq!(j["gateway"], "Bot");
        assert_eq!(j["connector"].as_str(), connector, "{path}: {j}");
        assert_eq!(j["action"].as_str(), action, "{path}: {j}");
        assert_eq!(j["request_id"].as_str().unwrap().len(), 28);
        assert!(!j["message"].as_str().unwrap().is_empty());
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
    assert!(resp.headers().get("x-tameflare-connector").is_none());
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
