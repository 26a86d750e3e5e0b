//! The GitHub connector: every operation of GitHub's REST API
//! (`api.github.com`) named as an action, from `github.pr.merge` to
//! `github.actions.list_workflow_runs`.
//!
//! Owns the action catalogue (generated from GitHub's OpenAPI description
//! into `routes.rs`, see `naming.rs`), classification of one request, and the
//! credential placement (`authorization: Bearer {secret}`). Never sees a
//! credential, never keeps state between calls.

mod actions;
#[cfg(test)]
mod naming;
#[rustfmt::skip]
mod routes;

use tameflare_sdk::{Action, ClassifyError, Connector, Descriptor, Placement, Request};

/// The connector type exported as the component.
pub struct Github;

impl Connector for Github {
    fn describe() -> Descriptor {
        Descriptor {
            name: "github".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            domains: vec!["api.github.com".into()],
            actions: actions::catalogue(),
            placement: Placement::bearer(),
            needs_body: true,
        }
    }

    fn classify(req: &Request) -> Result<Action, ClassifyError> {
        Ok(actions::classify(req))
    }
}

tameflare_sdk::export_connector!(Github);
