//! The webhook connector: one action per method (`webhook.post`, …) for
//! outgoing webhooks (Slack/Discord/Teams incoming hooks, CI triggers,
//! automation endpoints).
//!
//! Claims no domains itself: each instance's domains are host configuration,
//! and so may be its credential placement (default `authorization: Bearer
//! {secret}`). Never reads the body, never keeps state.

mod actions;

use tameflare_sdk::{Action, ClassifyError, Connector, Descriptor, Placement, Request};

/// The connector type exported as the component.
pub struct Webhook;

impl Connector for Webhook {
    fn describe() -> Descriptor {
        Descriptor {
            name: "webhook".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            domains: Vec::new(),
            actions: actions::catalogue(),
            placement: Placement::bearer(),
            needs_body: false,
        }
    }

    fn classify(req: &Request) -> Result<Action, ClassifyError> {
        actions::classify(req)
    }
}

tameflare_sdk::export_connector!(Webhook);
