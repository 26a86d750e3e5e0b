//! The Slack connector: every method of Slack's Web API (`slack.com/api/…`)
//! named as an action, from `slack.message.send` (`chat.postMessage`) to
//! `slack.admin.conversations.bulk_archive`.
//!
//! Owns the action catalogue (generated from `specs/slack.operations.jsonl`
//! into `routes.rs`, see `naming.rs`), classification of one request
//! (`POST` or `GET /api/<method>`, with `channel`, `user` and `text_len`
//! taken from a JSON or form body or the query), and the credential
//! placement (`authorization: Bearer {secret}`). Never sees a credential,
//! never keeps state between calls.

mod actions;
#[cfg(test)]
mod naming;
#[rustfmt::skip]
mod routes;

use tameflare_sdk::{Action, ClassifyError, Connector, Descriptor, Placement, Request};

/// The connector type exported as the component.
pub struct Slack;

impl Connector for Slack {
    fn describe() -> Descriptor {
        Descriptor {
            name: "slack".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            domains: vec!["slack.com".into(), "api.slack.com".into()],
            actions: actions::catalogue(),
            placement: Placement::bearer(),
            needs_body: true,
        }
    }

    fn classify(req: &Request) -> Result<Action, ClassifyError> {
        Ok(actions::classify(req))
    }
}

tameflare_sdk::export_connector!(Slack);
