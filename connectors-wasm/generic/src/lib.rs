//! The generic HTTP connector: one action per method (`http.get`, …) for any
//! API that has no dedicated connector.
//!
//! Its descriptor name is `http`, the prefix of its actions; `generic` is
//! its kind (crate and artifact name). Claims no domains itself: each instance's domains are host configuration,
//! and so may be its credential placement (default `authorization: Bearer
//! {secret}`). Never reads the body, never keeps state.

mod actions;

use tameflare_sdk::{Action, ClassifyError, Connector, Descriptor, Placement, Request};

/// The connector type exported as the component.
pub struct Generic;

impl Connector for Generic {
    fn describe() -> Descriptor {
        Descriptor {
            name: "generic".into(),
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

tameflare_sdk::export_connector!(Generic);
