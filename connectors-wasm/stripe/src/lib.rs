//! The Stripe connector: every operation of Stripe's API (`/v1` and `/v2` on
//! `api.stripe.com`, plus the `files.stripe.com` and
//! `meter-events.stripe.com` operations) named as an action, from
//! `stripe.charge.create` to `stripe.v2_money_management_payout_intent.confirm`.
//!
//! Owns the action catalogue (generated from `specs/stripe.operations.jsonl`
//! into `routes.rs`, see `naming.rs`), classification of one request (with
//! `amount`, `currency` and `customer` read from the form or JSON body or the
//! query), and the credential placement (`authorization: Bearer {secret}`).
//! Never sees a credential, never keeps state between calls.

mod actions;
#[cfg(test)]
mod naming;
#[rustfmt::skip]
mod routes;

use tameflare_sdk::{Action, ClassifyError, Connector, Descriptor, Placement, Request};

/// The domains the connector claims.
pub const DOMAINS: [&str; 3] = [
    "api.stripe.com",
    "files.stripe.com",
    "meter-events.stripe.com",
];

/// The connector type exported as the component.
pub struct Stripe;

impl Connector for Stripe {
    fn describe() -> Descriptor {
        Descriptor {
            name: "stripe".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            domains: DOMAINS.iter().map(|d| (*d).into()).collect(),
            actions: actions::catalogue(),
            placement: Placement::bearer(),
            needs_body: true,
        }
    }

    fn classify(req: &Request) -> Result<Action, ClassifyError> {
        Ok(actions::classify(req))
    }
}

tameflare_sdk::export_connector!(Stripe);
