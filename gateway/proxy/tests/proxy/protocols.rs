//! HTTP/2 on both sides, and event streams relayed frame by frame.

use http::{StatusCode, Version};
use http_body_util::BodyExt;

use super::harness::*;

#[tokio::test]
async fn server_sent_events_are_relayed_event_by_event() {
    let h = Harness::start(1024).await;
    let mut c = h.tunnel("api.test:443", "api.test", &[b"http/1.1"]).await;
    let resp = c.get("api.test", "/sse").await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "content-type"), "text/event-stream");
    let mut body = resp.into_body();
    let mut next = async || {
        let frame = tokio::time::timeout(BOUND, body.frame())
            .await
            .expect("event did not arrive: buffered?")
            .unwrap()
            .unwrap();
        frame.into_data().unwrap()
    };
    // The upstream sends the second event only after this acknowledgement.
    assert_eq!(next().await, "data: one\n\n");
    h.ack.notify_one();
    assert_eq!(next().await, "data: two\n\n");
    drop(c);
    let entries = h.audit.wait_for(1).await;
    assert_eq!(entries[0].bytes_down, 22);
    assert_eq!(h.finish().await.len(), 1);
}

#[tokio::test]
async fn http2_on_both_sides() {
    let h = Harness::start(1024).await;
    let mut c = h.tunnel("api.test:443", "api.test", &[b"h2"]).await;
    assert!(matches!(c, Client::H2(_)));
    for _ in 0..3 {
        let resp = c.get("api.test", "/allowed").await;
        assert_eq!(resp.version(), Version::HTTP_2);
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(text(resp).await, "upstream says hi");
    }
    let seen = h.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3);
    assert!(seen.iter().all(|s| s.version == Version::HTTP_2));
    assert_eq!(
        seen[0].headers["authorization"],
        format!("Bearer {SECRET}").as_str()
    );
    drop(c);
    assert_eq!(h.finish().await.len(), 3);
}
