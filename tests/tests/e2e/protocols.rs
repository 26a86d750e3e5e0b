//! Protocols end to end: server-sent events arrive event by event, HTTP/2 on
//! both sides, and an HTTP/1.1-only upstream.

use std::time::Duration;

use tf_e2e::{Configure, Gateway, MockUpstream, TestCa, UpstreamOptions};
use tokio::io::{AsyncBufReadExt, BufReader};

use super::harness::{GENERIC_SECRET, GH_SECRET, github_gateway, setup};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_sent_events_arrive_event_by_event() {
    let (ca, up) = setup().await;
    let g = Gateway::builder()
        .route("api.example.com", &up)
        .upstream_ca(&ca)
        .connector("generic")
        .domains("api.example.com")
        .token(GENERIC_SECRET)
        .allow("Streamer", "generic", "*")
        .start()
        .await;
    let mut child = g.spawn_agent("Streamer", &["curl", "-sSN", "https://api.example.com/sse"]);
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    // The upstream holds event two until the client has shown event one: if the
    // gateway buffered the stream, this would never complete.
    let first = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .expect("event one reached the client while the stream was still open")
        .expect("read")
        .expect("line");
    assert_eq!(first, "data: one");
    up.release_sse();
    let mut rest = Vec::new();
    while let Some(l) = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .expect("stream ends")
        .expect("read")
    {
        rest.push(l);
    }
    assert!(rest.contains(&"data: two".to_owned()), "{rest:?}");
    assert_eq!(child.wait().await.expect("wait").code(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_on_both_sides() {
    let (ca, up) = setup().await;
    let g = github_gateway(&ca, &up).await;
    let out = g
        .run_agent(
            "Bot",
            &[
                "curl",
                "-sS",
                "--http2",
                "-o",
                "/dev/null",
                "-w",
                "%{http_version} %{http_code}",
                "https://api.github.com/repos/octo/hello/pulls/9",
            ],
        )
        .await
        .ok();
    assert_eq!(out.stdout.trim(), "2 200", "agent side speaks h2: {out:?}");
    let seen = up.requests_to("/repos/octo/hello/pulls/9");
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].version,
        http::Version::HTTP_2,
        "upstream side speaks h2"
    );
    assert_eq!(
        seen[0].header("authorization"),
        Some(format!("Bearer {GH_SECRET}").as_str())
    );

    // An HTTP/1.1-only upstream works too.
    let ca1 = TestCa::new();
    let up1 = MockUpstream::start(
        &ca1,
        UpstreamOptions {
            h2: false,
            ..UpstreamOptions::default()
        },
    )
    .await;
    let g1 = github_gateway(&ca1, &up1).await;
    let out = g1
        .run_agent(
            "Bot",
            &[
                "curl",
                "-sS",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "https://api.github.com/repos/octo/hello/pulls/9",
            ],
        )
        .await
        .ok();
    assert_eq!(out.stdout.trim(), "200");
    assert_eq!(
        up1.requests_to("/repos/octo/hello/pulls/9")[0].version,
        http::Version::HTTP_11
    );
}
