//! Micro benchmark of the per-request decision cost: `classify` on the
//! GitHub connector (reused instance) and `PermissionSet::evaluate` over 50
//! rules. Prints medians; no framework (`harness = false`).
//!
//! Run: `cargo bench -p tf-connector-host`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use tf_connector_host::{Host, HostConfig};
use tf_core::{Classifier, ConnectorRequest, Decision, PermissionSet, Rule};

/// Median time per call of `f`, over `samples` samples of `batch` calls.
fn median_ns(samples: usize, batch: u32, mut f: impl FnMut()) -> f64 {
    let mut times: Vec<Duration> = (0..samples)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..batch {
                f();
            }
            started.elapsed()
        })
        .collect();
    times.sort();
    times[samples / 2].as_nanos() as f64 / f64::from(batch)
}

fn rules() -> Vec<Rule> {
    let mut rules = Vec::new();
    for i in 0..48 {
        let (gateway, action) = match i % 4 {
            0 => (format!("bot-{i}"), format!("github.repo{i}.*")),
            1 => ("*".to_owned(), format!("slack.chat{i}.post")),
            2 => (format!("agent-{i}"), "*".to_owned()),
            _ => ("*".to_owned(), format!("stripe.refund{i}.*")),
        };
        rules.push(Rule {
            gateway,
            connector: "*".into(),
            action,
            decision: if i % 3 == 0 {
                Decision::Deny
            } else {
                Decision::Allow
            },
        });
    }
    rules.push(Rule {
        gateway: "Bot".into(),
        connector: "github".into(),
        action: "github.pr.*".into(),
        decision: Decision::Allow,
    });
    rules.push(Rule {
        gateway: "*".into(),
        connector: "github".into(),
        action: "github.pr.merge".into(),
        decision: Decision::Deny,
    });
    rules
}

fn main() {
    let host = Host::new(HostConfig::default(), None).expect("host");
    let started = Instant::now();
    let github = host.load(tf_builtins::GITHUB).expect("github loads");
    println!("load github (compile + describe): {:?}", started.elapsed());

    let request = ConnectorRequest {
        method: "PUT".into(),
        scheme: "https".into(),
        host: "api.github.com".into(),
        path: "/repos/octo/hello/pulls/7/merge".into(),
        query: None,
        headers: vec![
            ("accept".into(), "application/vnd.github+json".into()),
            ("user-agent".into(), "bench".into()),
        ],
        body: None,
    };
    let action = github.classify(request.clone()).expect("classifies");
    println!("classified as {}", action.name);
    let classify = median_ns(201, 200, || {
        // The proxy builds a fresh request per call; so does the benchmark.
        black_box(
            github
                .classify(black_box(request.clone()))
                .expect("classifies"),
        );
    });
    println!("classify (github, reused instance): median {classify:.0} ns");

    let set = PermissionSet::compile(rules()).expect("rules compile");
    let evaluate = median_ns(201, 10_000, || {
        black_box(set.evaluate(
            black_box("Bot"),
            black_box("github"),
            black_box(&action.name),
        ));
    });
    println!(
        "PermissionSet::evaluate ({} rules): median {evaluate:.0} ns",
        set.rules().count()
    );
    println!("classify + evaluate: {:.0} ns", classify + evaluate);
}
