//! Median native cost of `classify` over a mix of Stripe requests:
//! `cargo run --release --example stripe_classify_timing -p stripe`.

use std::hint::black_box;
use std::time::Instant;

use stripe::Stripe;
use tameflare_sdk::{Connector, Request};

fn main() {
    let requests = [
        Request::new("POST", "api.stripe.com", "/v1/charges")
            .with_body("amount=2000&currency=usd&customer=cus_1&source=tok_visa"),
        Request::new("POST", "api.stripe.com", "/v1/payment_intents/pi_3/capture"),
        Request::new(
            "GET",
            "api.stripe.com",
            "/v1/charges?customer=cus_1&limit=3",
        ),
        Request::new(
            "POST",
            "api.stripe.com",
            "/v2/money_management/outbound_payments",
        )
        .with_body(r#"{"amount":{"value":1500,"currency":"usd"},"customer":"cus_7"}"#),
        Request::new(
            "GET",
            "api.stripe.com",
            "/v1/accounts/acct_1/persons/person_2",
        ),
        Request::new("GET", "api.stripe.com", "/no/such/path"),
    ];
    for req in &requests {
        let mut samples: Vec<u128> = (0..20_001)
            .map(|_| {
                let start = Instant::now();
                black_box(Stripe::classify(black_box(req)).ok());
                start.elapsed().as_nanos()
            })
            .collect();
        samples.sort_unstable();
        let action = Stripe::classify(req).map(|a| a.name).unwrap_or_default();
        println!(
            "{:>6} {:<45} {:<50} median {:>5} ns  p99 {:>6} ns",
            req.method,
            req.path,
            action,
            samples[samples.len() / 2],
            samples[samples.len() * 99 / 100]
        );
    }
    let start = Instant::now();
    let d = black_box(Stripe::describe());
    println!(
        "describe: {} actions in {:?}",
        d.actions.len(),
        start.elapsed()
    );
}
