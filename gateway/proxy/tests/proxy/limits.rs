//! Resource limits: connection cap, head and idle timeouts, classification
//! slots, the 407 aggregate.

use std::time::Duration;

use http::{Request, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;

use super::harness::*;

#[tokio::test]
async fn connections_over_the_cap_get_a_clear_503() {
    let h = Harness::start_with(|c| c.max_connections = 1).await;
    let held = h.tunnel("api.test:443", "api.test", &[b"http/1.1"]).await;
    let mut tcp = TcpStream::connect(h.addr).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(
        BOUND,
        tokio::io::AsyncReadExt::read_to_end(&mut tcp, &mut answer),
    )
    .await
    .expect("the refusal must come at once")
    .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 503 "), "{answer}");
    assert!(answer.contains("too_many_connections"), "{answer}");
    drop(held);
    h.finish().await;
}

#[tokio::test]
async fn a_peer_that_never_finishes_its_head_is_cut_off() {
    let h = Harness::start_with(|c| c.header_read_timeout = Duration::from_millis(200)).await;
    let mut tcp = TcpStream::connect(h.addr).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut tcp, b"CONNECT api.test:443 HTTP/1.1\r\nHost: api")
        .await
        .unwrap();
    let mut rest = Vec::new();
    // The gateway closes the connection (possibly after a 408); it does not wait forever.
    tokio::time::timeout(
        BOUND,
        tokio::io::AsyncReadExt::read_to_end(&mut tcp, &mut rest),
    )
    .await
    .expect("a slow head must be cut off by the header-read timeout")
    .ok();
    h.finish().await;
}

#[tokio::test]
async fn an_idle_intercepted_connection_is_closed() {
    let h = Harness::start_with(|c| c.idle_timeout = Duration::from_millis(200)).await;
    let io = h
        .connect("api.test:443", Some(("Bot", TOKEN)))
        .await
        .unwrap();
    let tls = h
        .client_tls(&[b"h2"])
        .connect(ServerName::try_from("api.test".to_owned()).unwrap(), io)
        .await
        .unwrap();
    let (mut send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .unwrap();
    let conn = tokio::spawn(conn);
    let resp = send
        .send_request(
            Request::get("https://api.test/allowed")
                .body(ReqBody::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let _ = text(resp).await;
    // With no request in flight, the gateway sends GOAWAY and the connection ends.
    tokio::time::timeout(BOUND, conn)
        .await
        .expect("the idle connection must be closed")
        .unwrap()
        .ok();
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn slow_connectors_cannot_take_every_worker() {
    let h = Harness::start_with(|c| {
        c.max_concurrent_classifications = 1;
        c.classify_wait = Duration::from_millis(50);
    })
    .await;
    let mut a = h.tunnel("api.test:443", "api.test", &[b"http/1.1"]).await;
    let mut b = h.tunnel("api.test:443", "api.test", &[b"http/1.1"]).await;
    let slow = tokio::spawn(async move {
        let resp = a.get("api.test", "/slow").await;
        resp.status()
    });
    // The slow classification holds the only slot: the next request waits
    // `classify_wait` for it, then is refused.
    h.slow.entered().await;
    let resp = b.get("api.test", "/allowed").await;
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(json(resp).await["reason"], "gateway_busy");
    h.slow.open();
    let status = tokio::time::timeout(BOUND, slow)
        .await
        .expect("the slow request finishes once its classification does")
        .unwrap();
    assert_eq!(status, StatusCode::OK);
    // The slot is free again.
    let resp = b.get("api.test", "/allowed").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let _ = text(resp).await;
    h.finish().await;
}

#[tokio::test]
async fn a_407_flood_is_recorded_as_aggregates() {
    let h = Harness::start_with(|c| c.auth_failure_records_per_sec = 3).await;
    for _ in 0..40 {
        let resp = h.connect("api.test:443", None).await.expect_err("refused");
        assert_eq!(resp.status(), StatusCode::PROXY_AUTHENTICATION_REQUIRED);
    }
    let entries = h.finish().await;
    let single = entries
        .iter()
        .filter(|e| e.reason == "proxy_auth_required" && e.params.is_empty())
        .count();
    let aggregated: i64 = entries
        .iter()
        .filter(|e| e.reason == "proxy_auth_required")
        .flat_map(|e| &e.params)
        .filter(|p| p.name == "aggregated_requests")
        .map(|p| match p.value {
            tf_core::ParamValue::Integer(n) => n,
            _ => panic!("count is an integer"),
        })
        .sum();
    // At most 3 per second individually (the loop may straddle a second).
    assert!(single <= 6, "{single} individual records");
    assert_eq!(single as i64 + aggregated, 40, "every 407 is accounted for");
    assert!(
        entries.len() < 12,
        "{} records for 40 refusals",
        entries.len()
    );
}
