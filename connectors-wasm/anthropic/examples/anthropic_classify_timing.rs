//! Median native cost of `classify` over a mix of Anthropic requests:
//! `cargo run --release --example anthropic_classify_timing -p anthropic`.

use std::hint::black_box;
use std::time::Instant;

use anthropic::Anthropic;
use tameflare_sdk::{Connector, Request};

fn main() {
    let requests = [
        Request::new("POST", "api.anthropic.com", "/v1/messages").with_body(
            r#"{"model":"claude-sonnet-4-5","max_tokens":1024,"stream":true,"messages":[{"role":"user","content":"Hello"}]}"#,
        ),
        Request::new("GET", "api.anthropic.com", "/v1/models"),
        Request::new(
            "GET",
            "api.anthropic.com",
            "/v1/messages/batches/msgbatch_01/results",
        ),
        Request::new(
            "DELETE",
            "api.anthropic.com",
            "/v1/organizations/workspaces/wrkspc_01/members/user_01",
        ),
        Request::new("GET", "api.anthropic.com", "/no/such/path"),
    ];
    for req in &requests {
        let mut samples: Vec<u128> = (0..20_001)
            .map(|_| {
                let start = Instant::now();
                black_box(Anthropic::classify(black_box(req)).ok());
                start.elapsed().as_nanos()
            })
            .collect();
        samples.sort_unstable();
        let action = Anthropic::classify(req).map(|a| a.name).unwrap_or_default();
        println!(
            "{:>6} {:<55} {:<48} median {:>5} ns  p99 {:>6} ns",
            req.method,
            req.path,
            action,
            samples[samples.len() / 2],
            samples[samples.len() * 99 / 100]
        );
    }
    let start = Instant::now();
    let d = black_box(Anthropic::describe());
    println!(
        "describe: {} actions in {:?}",
        d.actions.len(),
        start.elapsed()
    );
}
