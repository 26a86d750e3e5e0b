//! The OpenAI connector: every operation of the OpenAI API
//! (`api.openai.com/v1`) named as an action, from `openai.chat.create` to
//! `openai.org_project_api_key.delete`.
//!
//! Owns the action catalogue (generated from the flattened OpenAPI
//! description plus the newer SDK-only operations into `routes.rs`, see
//! `naming.rs`), classification of one request, and the credential
//! placement (`authorization: Bearer {secret}`). Never sees a credential,
//! never keeps state between calls.

mod actions;
#[cfg(test)]
mod naming;
#[rustfmt::skip]
mod routes;

use tameflare_sdk::{Action, ClassifyError, Connector, Descriptor, Placement, Request};

/// The connector type exported as the component.
pub struct Openai;

impl Connector for Openai {
    fn describe() -> Descriptor {
        Descriptor {
            name: "openai".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            domains: vec!["api.openai.com".into()],
            actions: actions::catalogue(),
            placement: Placement::bearer(),
            needs_body: true,
        }
    }

    fn classify(req: &Request) -> Result<Action, ClassifyError> {
        Ok(actions::classify(req))
    }
}

tameflare_sdk::export_connector!(Openai);
