//! Median native cost of `classify` over a mix of OpenAI requests:
//! `cargo run --release --example openai_classify_timing -p openai`.

use std::hint::black_box;
use std::time::Instant;

use openai::Openai;
use tameflare_sdk::{Connector, Request};

fn main() {
    let big_prompt = format!(
        r#"{{"messages":[{{"role":"user","content":"{}"}}],"model":"gpt-4o","stream":true,"max_tokens":512}}"#,
        "lorem ipsum ".repeat(80_000)
    );
    let requests = [
        Request::new("POST", "api.openai.com", "/v1/chat/completions").with_body(
            r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stream":true}"#,
        ),
        Request::new("POST", "api.openai.com", "/v1/chat/completions").with_body(big_prompt),
        Request::new(
            "GET",
            "api.openai.com",
            "/v1/vector_stores/vs_1/files/file-1",
        ),
        Request::new("POST", "api.openai.com", "/v1/responses?beta=true")
            .with_body(r#"{"model":"gpt-5","input":"hi"}"#),
        Request::new(
            "DELETE",
            "api.openai.com",
            "/v1/organization/projects/proj_1/api_keys/key_1",
        ),
        Request::new("GET", "api.openai.com", "/v1/no/such/path"),
    ];
    for req in &requests {
        let mut samples: Vec<u128> = (0..2_001)
            .map(|_| {
                let start = Instant::now();
                black_box(Openai::classify(black_box(req)).ok());
                start.elapsed().as_nanos()
            })
            .collect();
        samples.sort_unstable();
        let action = Openai::classify(req).map(|a| a.name).unwrap_or_default();
        println!(
            "{:>6} {:<50} body {:>7} B {:<36} median {:>8} ns  p99 {:>8} ns",
            req.method,
            req.path,
            req.body.as_ref().map_or(0, Vec::len),
            action,
            samples[samples.len() / 2],
            samples[samples.len() * 99 / 100]
        );
    }
    let start = Instant::now();
    let d = black_box(Openai::describe());
    println!(
        "describe: {} actions in {:?}",
        d.actions.len(),
        start.elapsed()
    );
}
