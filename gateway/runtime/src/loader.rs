//! The port to the connector host: turning a component's bytes into a
//! connector kind that classifies, or a reason it does not load.
//!
//! The real implementation is [`tf_connector_host::Host`], whose load
//! compiles the component, validates its descriptor and runs its embedded
//! fixtures. Tests of the hot-load state machine use a fake, so they need
//! no wasmtime. Nothing here reads files or decides what a change means.

use std::sync::Arc;

use tf_core::{Classifier, Descriptor};

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
/// invalid, or it failed its own fixtures), as the host words it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LoadFailure(pub String);

/// Loads components; implemented by the connector host.
pub trait ComponentLoader: Send + Sync {
    /// Compiles and self-tests `bytes`.
    fn load(&self, bytes: &[u8]) -> Result<LoadedComponent, LoadFailure>;
}

impl ComponentLoader for tf_connector_host::Host {
    fn load(&self, bytes: &[u8]) -> Result<LoadedComponent, LoadFailure> {
        let connector =
            tf_connector_host::Host::load(self, bytes).map_err(|e| LoadFailure(e.to_string()))?;
        Ok(LoadedComponent {
            descriptor: Arc::clone(connector.descriptor()),
            sdk: connector.sdk().map(str::to_owned),
            fixtures_passed: connector.fixtures_passed(),
            classifier: connector,
        })
    }
}
