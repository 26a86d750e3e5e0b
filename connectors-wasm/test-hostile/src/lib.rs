//! A deliberately hostile connector, for testing the host's sandbox limits.
//! It is a test fixture and is never shipped in the gateway binary.
//!
//! Classifies by path: `/loop` spins forever, `/oom` allocates until the
//! memory limit traps, `/panic` panics, `/huge` returns a 16 MiB resource,
//! `/deep` recurses without bound, `/quit` calls a host function connectors
//! do not get (`wasi:cli/exit`); anything else is `hostile.ok`.

mod actions;

use tameflare_sdk::{Action, ClassifyError, Connector, Descriptor, Placement, Request};

/// The connector type exported as the component.
pub struct Hostile;

impl Connector for Hostile {
    fn describe() -> Descriptor {
        Descriptor {
            name: "hostile".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            domains: vec!["hostile.test".into()],
            actions: actions::catalogue(),
            placement: Placement::bearer(),
            needs_body: false,
        }
    }

    fn classify(req: &Request) -> Result<Action, ClassifyError> {
        actions::classify(req)
    }
}

tameflare_sdk::export_connector!(Hostile);
