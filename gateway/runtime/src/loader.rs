//! The port to the connector host: turning a component's bytes into a
//! connector kind that classifies, or a reason it does not load.
//!
//! The real implementation is [`tf_connector_host::Host`], whose load
//! compiles the component, validates its descriptor and runs its embedded
//! fixtures. Tests of the hot-load state machine use a fake, so they need
//! no wasmtime. Nothing here reads files or decides what a change means.

use std::sync::Arc;

use tf_core::{Classifier, ConnectorFailure, Descriptor};

/// A component that compiled and passed its self-test.
#[derive(Clone)]
pub struct LoadedComponent {
    /// What it declares: name, version, domains, actions, placement.
    pub descriptor: Arc<Descriptor>,
    /// What classifies its requests.
    pub classifier: Arc<dyn Classifier>,
    /// The SDK version stamped into it, if any.
    pub sdk: Option<String>,
    /// How many embedded fixtures passed at load.
    pub fixtures_passed: usize,
}

/// Why a component did not load (it did not compile, its descriptor is
/// invalid, or it failed its own fixtures), as the host words it, with the
/// typed kind of a failure of the component itself (a forbidden import, a
/// trap or deadline while instantiating or describing, invalid output).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct LoadFailure {
    /// What the component did wrong, when it was the component's fault.
    pub kind: Option<ConnectorFailure>,
    /// The host's explanation.
    pub message: String,
}

impl LoadFailure {
    /// A failure with no component fault kind (unreadable, too large, a
    /// failing fixture).
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            kind: None,
            message: message.into(),
        }
    }
}

/// Loads components; implemented by the connector host.
pub trait ComponentLoader: Send + Sync {
    /// Compiles and self-tests `bytes`.
    fn load(&self, bytes: &[u8]) -> Result<LoadedComponent, LoadFailure>;
}

impl ComponentLoader for tf_connector_host::Host {
    fn load(&self, bytes: &[u8]) -> Result<LoadedComponent, LoadFailure> {
        let connector = tf_connector_host::Host::load(self, bytes).map_err(|e| LoadFailure {
            kind: e.connector_failure(),
            message: e.to_string(),
        })?;
        Ok(LoadedComponent {
            descriptor: Arc::clone(connector.descriptor()),
            sdk: connector.sdk().map(str::to_owned),
            fixtures_passed: connector.fixtures_passed(),
            classifier: connector,
        })
    }
}
