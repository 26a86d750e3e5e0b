//! The Anthropic connector: every operation of the Anthropic API
//! (`api.anthropic.com`: Messages, Message Batches, Models, Files, Skills,
//! the beta Managed Agents resources and the Admin API) named as an action,
//! from `anthropic.message.create` to `anthropic.organization.api_key.update`.
//!
//! Owns the action catalogue (generated from the operations list derived
//! from Anthropic's Python SDK into `routes.rs`, see `naming.rs`),
//! classification of one request, and the credential placement
//! (`x-api-key: {secret}`). Never sees a credential, never keeps state
//! between calls.

mod actions;
#[cfg(test)]
mod naming;
#[rustfmt::skip]
mod routes;

use tameflare_sdk::{Action, ClassifyError, Connector, Descriptor, Placement, Request};

/// The connector type exported as the component.
pub struct Anthropic;

impl Connector for Anthropic {
    fn describe() -> Descriptor {
        Descriptor {
            name: "anthropic".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            domains: vec![actions::DOMAIN.into()],
            actions: actions::catalogue(),
            placement: Placement::Header {
                name: "x-api-key".into(),
                template: "{secret}".into(),
            },
            needs_body: true,
        }
    }

    fn classify(req: &Request) -> Result<Action, ClassifyError> {
        Ok(actions::classify(req))
    }
}

tameflare_sdk::export_connector!(Anthropic);
