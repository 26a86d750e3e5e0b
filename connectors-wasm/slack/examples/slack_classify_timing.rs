//! Median native cost of `classify` over a mix of Slack requests:
//! `cargo run --release --example slack_classify_timing -p slack`.

use std::hint::black_box;
use std::time::Instant;

use slack::Slack;
use tameflare_sdk::{Connector, Request};

fn main() {
    let requests = [
        Request::new("POST", "slack.com", "/api/chat.postMessage").with_body(
            r#"{"channel":"C024BE91L","text":"Deploy finished","blocks":[{"type":"section"}]}"#,
        ),
        Request::new("POST", "slack.com", "/api/chat.postMessage")
            .with_body("token=xoxb-1&channel=%23general&text=Deploy+finished%21"),
        Request::new(
            "GET",
            "slack.com",
            "/api/conversations.history?channel=C1&limit=20",
        ),
        Request::new("POST", "slack.com", "/api/admin.conversations.bulkArchive")
            .with_body(r#"{"channel_ids":["C1","C2"]}"#),
        Request::new("POST", "slack.com", "/api/no.such.method"),
    ];
    for req in &requests {
        let mut samples: Vec<u128> = (0..20_001)
            .map(|_| {
                let start = Instant::now();
                black_box(Slack::classify(black_box(req)).ok());
                start.elapsed().as_nanos()
            })
            .collect();
        samples.sort_unstable();
        let action = Slack::classify(req).map(|a| a.name).unwrap_or_default();
        println!(
            "{:>6} {:<40} {:<40} median {:>5} ns  p99 {:>6} ns",
            req.method,
            req.path,
            action,
            samples[samples.len() / 2],
            samples[samples.len() * 99 / 100]
        );
    }
    let start = Instant::now();
    let d = black_box(Slack::describe());
    println!(
        "describe: {} actions in {:?}",
        d.actions.len(),
        start.elapsed()
    );
}
