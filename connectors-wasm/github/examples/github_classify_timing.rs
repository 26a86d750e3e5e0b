//! Median native cost of `classify` over a mix of GitHub requests:
//! `cargo run --release --example github_classify_timing -p github`.

use std::hint::black_box;
use std::time::Instant;

use github::Github;
use tameflare_sdk::{Connector, Request};

fn main() {
    let requests = [
        Request::new("PUT", "api.github.com", "/repos/octo/hello/pulls/7/merge"),
        Request::new("GET", "api.github.com", "/repos/octo/hello/pulls/comments"),
        Request::new(
            "GET",
            "api.github.com",
            "/repos/octo/hello/contents/a/b/c.md",
        ),
        Request::new("PATCH", "api.github.com", "/repos/octo/hello/issues/12")
            .with_body(r#"{"title":"x","state":"closed"}"#),
        Request::new(
            "GET",
            "api.github.com",
            "/orgs/acme/actions/runners/5/labels",
        ),
        Request::new("GET", "api.github.com", "/no/such/path"),
    ];
    for req in &requests {
        let mut samples: Vec<u128> = (0..20_001)
            .map(|_| {
                let start = Instant::now();
                black_box(Github::classify(black_box(req)).ok());
                start.elapsed().as_nanos()
            })
            .collect();
        samples.sort_unstable();
        let action = Github::classify(req).map(|a| a.name).unwrap_or_default();
        println!(
            "{:>6} {:<45} {:<40} median {:>5} ns  p99 {:>6} ns",
            req.method,
            req.path,
            action,
            samples[samples.len() / 2],
            samples[samples.len() * 99 / 100]
        );
    }
    let start = Instant::now();
    let d = black_box(Github::describe());
    println!(
        "describe: {} actions in {:?}",
        d.actions.len(),
        start.elapsed()
    );
}
