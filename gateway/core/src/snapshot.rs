//! The immutable configuration snapshot the proxy reads on every request.
//!
//! Built by the composition root from the store, the connector host and the
//! vault; swapped atomically (arc-swap) when anything changes, so in-flight
//! requests finish on the snapshot they started with and readers never wait.

use std::collections::HashMap;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::action::{Descriptor, Placement, ReadOnlyIndex};
use crate::permission::PermissionSet;
use crate::ports::{Classifier, Injector};

/// A gateway identity agents authenticate as (`Proxy-Authorization: Basic`).
#[derive(Clone, Debug)]
pub struct GatewayEntry {
    pub name: String,
    /// SHA-256 of the gateway's token.
    pub token_sha256: [u8; 32],
}

impl GatewayEntry {
    pub fn new(name: impl Into<String>, token: &str) -> Self {
        Self {
            name: name.into(),
            token_sha256: Sha256::digest(token.as_bytes()).into(),
        }
    }

    /// Constant-time comparison of a presented token.
    pub fn token_matches(&self, presented: &str) -> bool {
        let d: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        d.iter()
            .zip(self.token_sha256.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

/// Where requests to one host go.
#[derive(Clone)]
pub struct Route {
    /// Connector instance name (what `tf connector add` named it).
    pub instance: String,
    /// The connector's descriptor (name = action prefix).
    pub descriptor: Arc<Descriptor>,
    /// The effective placement (instance override or descriptor default).
    pub placement: Placement,
    pub classifier: Arc<dyn Classifier>,
    /// `None` when the instance has no credential configured, or when it is
    /// suspended.
    pub credential: Option<Arc<dyn Injector>>,
    /// The descriptor's read-only actions, indexed
    /// (`ReadOnlyIndex::new(&descriptor.actions)`): decides whether a
    /// request is audited write-ahead.
    pub read_only: ReadOnlyIndex,
    /// The instance has a credential, but it was entered for another kind or
    /// other domains (or in the old format): it is not injected until it is
    /// entered again or confirmed (`tf connector add … --keep-credential`).
    /// `credential` is then `None`.
    pub credential_suspended: bool,
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Route")
            .field("instance", &self.instance)
            .field("connector", &self.descriptor.name)
            .field("placement", &self.placement)
            .field("has_credential", &self.credential.is_some())
            .field("credential_suspended", &self.credential_suspended)
            .finish()
    }
}

/// Everything a request needs to be decided, frozen.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Monotonic version, for logs.
    pub version: u64,
    /// Gateway name → identity.
    pub gateways: HashMap<String, GatewayEntry>,
    /// Lower-case host (no port) → route.
    pub routes: HashMap<String, Arc<Route>>,
    pub permissions: PermissionSet,
}

impl Snapshot {
    /// The route for a host, by exact lower-case match.
    pub fn route(&self, host: &str) -> Option<&Arc<Route>> {
        self.routes.get(host)
    }
}
