//! Containment: schemes, ports, the agent's credential headers, placeholders,
//! suspended credentials.

use base64::Engine;
use bytes::Bytes;
use http::{HeaderValue, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tf_core::Outcome;
use tokio::net::TcpStream;

use super::harness::*;

/// The placeholder `tf run` gives the agent for the harness's `github` route.
fn own_placeholder() -> String {
    tf_core::placeholder::for_instance("github")
}

#[tokio::test]
async fn credentials_go_only_over_tls_to_the_declared_port() {
    let h = Harness::start(1024).await;
    // Plain http:// to a connector host, allowed action or not.
    let tcp = TcpStream::connect(h.addr).await.unwrap();
    let (mut send, conn) = hyper::client::conn::http1::handshake::<_, ReqBody>(TokioIo::new(tcp))
        .await
        .unwrap();
    tokio::spawn(conn);
    let b = base64::engine::general_purpose::STANDARD.encode(format!("Bot:{TOKEN}"));
    for target in [
        "http://api.test/allowed",
        "http://api.test:443/allowed",
        "http://api.test:8080/allowed",
    ] {
        let resp = send
            .send_request(
                Request::get(target)
                    .header("proxy-authorization", format!("Basic {b}"))
                    .header("authorization", format!("Bearer {}", own_placeholder()))
                    .body(ReqBody::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{target}");
        let j = json(resp).await;
        assert_eq!(j["reason"], "insecure_scheme", "{target}");
        assert!(!j.to_string().contains(SECRET));
    }
    drop(send);
    // CONNECT to the connector host on another port.
    let mut c = h.tunnel("api.test:8443", "api.test", &[b"http/1.1"]).await;
    let resp = c.get("api.test:8443", "/allowed").await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(json(resp).await["reason"], "undeclared_port");
    assert!(h.seen_paths().is_empty(), "nothing may reach the upstream");
    h.finish().await;
}

#[tokio::test]
async fn the_agents_credential_headers_never_reach_the_api() {
    let h = Harness::start(1024).await;
    for alpn in [&b"http/1.1"[..], &b"h2"[..]] {
        let mut c = h.tunnel("api.test:443", "api.test", &[alpn]).await;
        let req = match c {
            Client::H1(_) => Request::get("/allowed").header("host", "api.test"),
            Client::H2(_) => Request::get("https://api.test/allowed"),
        };
        let req = req
            // What the official Anthropic SDK sends beside x-api-key.
            .header("authorization", format!("Bearer {}", own_placeholder()))
            .header("x-api-key", "sk-agents-own-key")
            .header("api-key", "azure-style-own-key")
            .header("x-auth-token", "own-token")
            .header("cookie", "session=agents-own")
            .header("x-other", "kept")
            .body(ReqBody::empty())
            .unwrap();
        let resp = c.send(req).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let _ = text(resp).await;
    }
    let seen = h.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    for s in seen.iter() {
        let auth: Vec<_> = s.headers.get_all("authorization").iter().collect();
        assert_eq!(
            auth,
            [format!("Bearer {SECRET}").as_str()],
            "only the injected credential"
        );
        for gone in [
            "x-api-key",
            "api-key",
            "x-auth-token",
            "cookie",
            "proxy-authorization",
        ] {
            assert!(s.headers.get(gone).is_none(), "{gone} reached the upstream");
        }
        assert_eq!(s.headers["x-other"], "kept");
        assert!(!format!("{:?}", s.headers).contains("tf-placeholder-"));
    }
    h.finish().await;
}

#[tokio::test]
async fn a_placeholder_where_it_would_not_be_replaced_is_refused() {
    let h = Harness::start(1024).await;
    let own = own_placeholder();
    let other = tf_core::placeholder::for_instance("stripe");
    let encoded_own = own.replace('-', "%2D");
    let cases: Vec<(&str, &str, Request<ReqBody>)> = vec![
        (
            "another header",
            "api.test",
            Request::get("/allowed")
                .header("x-forwarded-token", own.as_str())
                .body(ReqBody::empty())
                .unwrap(),
        ),
        (
            "another connector's credential header",
            "api.test",
            Request::get("/allowed")
                .header("authorization", format!("Bearer {other}"))
                .body(ReqBody::empty())
                .unwrap(),
        ),
        (
            "Basic credentials of another connector",
            "api.test",
            Request::get("/allowed")
                .header(
                    "authorization",
                    format!(
                        "Basic {}",
                        base64::engine::general_purpose::STANDARD.encode(format!("x:{other}"))
                    ),
                )
                .body(ReqBody::empty())
                .unwrap(),
        ),
        (
            "the query",
            "api.test",
            Request::get(format!("/allowed?access_token={own}"))
                .body(ReqBody::empty())
                .unwrap(),
        ),
        (
            "the percent-encoded query",
            "api.test",
            Request::get(format!("/allowed?access_token={encoded_own}"))
                .body(ReqBody::empty())
                .unwrap(),
        ),
        (
            "a body read for classification",
            "body.test",
            Request::post("/upload")
                .body(ReqBody::full(format!("{{\"token\":\"{own}\"}}")))
                .unwrap(),
        ),
        (
            "a streamed body, split across frames",
            "api.test",
            Request::post("/upload")
                .body(ReqBody::chunked([
                    Bytes::from_static(b"{\"token\":\"tf-place"),
                    Bytes::from(format!("{}\"}}", &own["tf-place".len()..])),
                ]))
                .unwrap(),
        ),
    ];
    for (what, host, mut req) in cases {
        let mut c = h.tunnel(&format!("{host}:443"), host, &[b"http/1.1"]).await;
        req.headers_mut()
            .insert("host", HeaderValue::from_str(host).unwrap());
        let resp = c.send(req).await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{what}");
        let j = json(resp).await;
        assert_eq!(j["reason"], "placeholder_misuse", "{what}: {j}");
    }
    let seen = h.seen.lock().unwrap().clone();
    assert!(
        seen.iter().all(
            |s| !String::from_utf8_lossy(&s.body).contains("tf-placeholder-")
                && !format!("{:?}", s.headers).contains("tf-placeholder-")
        ),
        "a placeholder reached the upstream"
    );
    let entries = h.finish().await;
    assert_eq!(
        entries
            .iter()
            .filter(|e| e.reason == "placeholder_misuse")
            .count(),
        7
    );
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
