//! Every path leaves its record: closes, resets, upstream failures, and the
//! write-ahead record of mutations.

use std::time::Duration;

use http::StatusCode;
use http_body_util::BodyExt;
use tf_core::{AuditEntry, Outcome, Phase};

use super::harness::*;

/// The one record of `request_id`'s kind (`phase`), with a bound.
async fn records_of(h: &Harness, n: usize) -> Vec<AuditEntry> {
    let entries = h.audit.wait_for(n).await;
    assert_eq!(entries.len(), n, "{entries:#?}");
    entries
}

#[tokio::test]
async fn an_http1_agent_closing_while_the_upstream_holds_the_response_leaves_one_record() {
    let h = Harness::start(1024).await;
    let (mut c, conn) = h
        .tunnel_conn("api.test:443", "api.test", &[b"http/1.1"])
        .await;
    let pending = c.spawn_get("api.test", "/r/hold");
    let seen = h.wait_seen(1).await;
    assert!(
        h.audit.entries.lock().unwrap().is_empty(),
        "read-only: recorded after, not before"
    );
    // The agent goes away: its connection closes while the handler waits.
    conn.abort();
    let entries = records_of(&h, 1).await;
    let e = &entries[0];
    assert_eq!(e.reason, "client_closed");
    assert!(e.forwarded, "it reached the upstream");
    assert_eq!(e.outcome, Outcome::Allowed);
    assert_eq!(e.phase, None);
    assert_eq!(e.upstream_status, None);
    assert_eq!(
        seen[0].headers["x-tameflare-request-id"],
        e.request_id.as_str()
    );
    assert!(pending.await.unwrap().is_err());
    assert_eq!(h.finish().await.len(), 1, "exactly one record");
}

#[tokio::test]
async fn an_http2_stream_reset_while_the_upstream_holds_the_response_leaves_its_records() {
    let h = Harness::start(1024).await;
    let mut c = h.tunnel("api.test:443", "api.test", &[b"h2"]).await;
    assert!(matches!(c, Client::H2(_)));

    // Read-only: one record.
    let pending = c.spawn_get("api.test", "/r/hold");
    h.wait_seen(1).await;
    pending.abort(); // drops the response future: RST_STREAM(CANCEL)
    let entries = records_of(&h, 1).await;
    assert_eq!(entries[0].reason, "client_closed");
    assert!(entries[0].forwarded);
    assert_eq!(entries[0].phase, None);

    // A mutation: its write-ahead record, then the completion.
    let pending = c.spawn_get("api.test", "/w/hold");
    let seen = h.wait_seen(2).await;
    pending.abort();
    let entries = records_of(&h, 3).await;
    let (ahead, done) = (&entries[1], &entries[2]);
    assert_eq!(ahead.phase, Some(Phase::WriteAhead));
    assert_eq!(done.phase, Some(Phase::Completed));
    assert_eq!(ahead.request_id, done.request_id);
    assert_eq!(
        seen[1].headers["x-tameflare-request-id"],
        done.request_id.as_str()
    );
    assert_eq!(done.reason, "client_closed");
    assert!(done.forwarded);
    assert_eq!(done.action.as_deref(), Some("test.write"));

    // The connection itself is fine.
    let resp = c.get("api.test", "/allowed").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let _ = text(resp).await;
    drop(c);
    assert_eq!(h.finish().await.len(), 4);
}

#[tokio::test]
async fn an_agent_hanging_up_mid_stream_is_recorded_as_client_closed() {
    let h = Harness::start(1024).await;
    let (mut c, conn) = h
        .tunnel_conn("api.test:443", "api.test", &[b"http/1.1"])
        .await;
    let resp = c.get("api.test", "/sse").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let mut body = resp.into_body();
    let first = tokio::time::timeout(BOUND, body.frame())
        .await
        .expect("first event")
        .unwrap()
        .unwrap();
    assert_eq!(first.into_data().unwrap(), "data: one\n\n");
    conn.abort();
    drop(body);
    // The upstream would send the second event now; the agent is gone.
    h.ack.notify_one();
    let entries = records_of(&h, 1).await;
    let e = &entries[0];
    assert_eq!(e.reason, "client_closed");
    assert_eq!(e.upstream_status, Some(200));
    assert!(e.forwarded);
    assert!(e.bytes_down >= 11, "{e:?}");
    assert_eq!(h.finish().await.len(), 1);
}

#[tokio::test]
async fn an_upstream_reset_after_the_request_was_sent_is_a_forwarded_502() {
    let h = Harness::start(1024).await;
    for alpn in [&b"http/1.1"[..], b"h2"] {
        let mut c = h.tunnel("api.test:443", "api.test", &[alpn]).await;
        let resp = c.get("api.test", "/r/reset").await;
        assert_eq!(resp.status(), StatusCode::BAD_GATEWAY);
        assert_eq!(header(&resp, "x-tameflare-decision"), "allowed");
        let j = json(resp).await;
        assert_eq!(j["reason"], "upstream_error");
        assert_eq!(j["forwarded"], true);
        assert_eq!(j["decision"], "allowed");
        assert_eq!(j["error"]["type"], "tameflare_upstream_error");
        assert!(j["message"].as_str().unwrap().contains("may have run"));
    }
    let entries = h.finish().await;
    assert_eq!(entries.len(), 2);
    for e in entries {
        assert_eq!(e.outcome, Outcome::Allowed);
        assert!(e.forwarded);
        assert_eq!(e.reason, "upstream_error");
    }
}

#[tokio::test]
async fn an_upstream_that_does_not_answer_in_time_is_a_forwarded_504() {
    let h = Harness::start_with(|c| c.response_timeout = Duration::from_millis(300)).await;
    let mut c = h.tunnel("api.test:443", "api.test", &[b"http/1.1"]).await;
    let resp = c.get("api.test", "/w/hold").await;
    assert_eq!(resp.status(), StatusCode::GATEWAY_TIMEOUT);
    let j = json(resp).await;
    assert_eq!(j["reason"], "upstream_timeout");
    assert_eq!(j["forwarded"], true);
    drop(c);
    let entries = h.finish().await;
    assert_eq!(entries.len(), 2, "{entries:#?}");
    let done = &entries[1];
    assert_eq!(done.phase, Some(Phase::Completed));
    assert_eq!(done.reason, "upstream_timeout");
    assert_eq!(done.outcome, Outcome::Allowed);
    assert!(done.forwarded);
}

#[tokio::test]
async fn a_refused_upstream_connection_is_not_forwarded() {
    let h = Harness::start(1024).await;
    let mut c = h
        .tunnel("refused.test:443", "refused.test", &[b"http/1.1"])
        .await;
    let resp = c.get("refused.test", "/r/x").await;
    assert_eq!(resp.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(header(&resp, "x-tameflare-decision"), "denied");
    let j = json(resp).await;
    assert_eq!(j["reason"], "upstream_unreachable");
    assert_eq!(j["forwarded"], false);
    assert_eq!(j["error"]["type"], "tameflare_denied");
    drop(c);
    let entries = h.finish().await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].reason, "upstream_unreachable");
    assert_eq!(entries[0].outcome, Outcome::Denied);
    assert!(!entries[0].forwarded);
}

#[tokio::test]
async fn a_mutation_is_durably_recorded_before_the_upstream_sees_it() {
    let h = Harness::start(1024).await;
    let mut c = h.tunnel("api.test:443", "api.test", &[b"http/1.1"]).await;
    let resp = c.get("api.test", "/w/mutate").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let id = header(&resp, "x-tameflare-request-id").to_owned();
    let _ = text(resp).await;

    let seen = h.seen.lock().unwrap()[0].clone();
    assert_eq!(
        seen.committed_at_arrival,
        std::slice::from_ref(&id),
        "acked before forwarding"
    );
    let [ahead] = &seen.audit_at_arrival[..] else {
        panic!("{:#?}", seen.audit_at_arrival);
    };
    assert_eq!(ahead.request_id, id);
    assert_eq!(ahead.phase, Some(Phase::WriteAhead));
    assert_eq!(ahead.outcome, Outcome::Allowed);
    assert!(ahead.forwarded);
    assert_eq!(ahead.action.as_deref(), Some("test.write"));
    assert_eq!(ahead.reason, "rule:*/github/test.write");
    assert_eq!(ahead.upstream_status, None);

    drop(c);
    let entries = h.finish().await;
    assert_eq!(entries.len(), 2);
    let done = &entries[1];
    assert_eq!(done.request_id, id);
    assert_eq!(done.phase, Some(Phase::Completed));
    assert_eq!(done.upstream_status, Some(200));
    assert_eq!(done.reason, "rule:*/github/test.write");
    assert!(done.forwarded);
    assert_eq!(done.bytes_down, "upstream says hi".len() as u64);
}

#[tokio::test]
async fn a_mutation_whose_write_ahead_cannot_commit_is_refused_and_never_sent() {
    let h = Harness::start(1024).await;
    let mut c = h.tunnel("api.test:443", "api.test", &[b"http/1.1"]).await;
    for mode in [Durable::Fail, Durable::Lose] {
        *h.audit.durable.lock().unwrap() = mode;
        let resp = c.get("api.test", "/w/mutate").await;
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        let j = json(resp).await;
        assert_eq!(j["reason"], "audit_unavailable");
        assert_eq!(j["forwarded"], false);
    }
    // Read-only requests are not held back by the write-ahead store.
    let resp = c.get("api.test", "/allowed").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let _ = text(resp).await;
    assert_eq!(h.seen_paths(), ["/allowed"], "no mutation reached upstream");
    drop(c);
    let entries = h.finish().await;
    assert_eq!(entries.len(), 3, "{entries:#?}");
    for e in &entries[..2] {
        assert_eq!(e.reason, "audit_unavailable");
        assert_eq!(e.outcome, Outcome::Denied);
        assert!(!e.forwarded);
        assert_eq!(e.phase, Some(Phase::Completed));
    }
    assert_eq!(entries[2].phase, None);
}
