//! The operations the admin API exposes, as a trait the composition root
//! implements over the store, the connector host and the vault.
//!
//! Methods are synchronous (they touch redb); the HTTP layer calls them on
//! the blocking pool. Every method returns a [`ControlError`], whose message
//! names the problem and the fix and never contains a secret.

use tf_core::Rule;

use crate::api::{
    AddConnector, AuditPage, CheckpointPage, ComponentInfo, ConnectorInfo, ConnectorList,
    CredentialDigests, GatewayToken, LatestCheckpoint, RuleKey, RuleList, Status, Verification,
};

/// Why an admin operation failed. Mapped to a status code in exactly one
/// place (`respond` in the crate root).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    /// The named thing does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The request is malformed or breaks a rule (unknown kind, bad name…).
    #[error("{0}")]
    Invalid(String),
    /// The request conflicts with existing state (domain already claimed…).
    #[error("{0}")]
    Conflict(String),
    /// Storage, vault or another internal failure. Fails closed.
    #[error("{0}")]
    Internal(String),
}

/// The admin operations. Implemented by the service layer of `tf-cli`;
/// tests use fakes.
pub trait Control: Send + Sync + 'static {
    fn status(&self) -> Result<Status, ControlError>;
    fn connectors(&self) -> Result<ConnectorList, ControlError>;
    fn add_connector(&self, request: AddConnector) -> Result<ConnectorInfo, ControlError>;
    fn remove_connector(&self, name: &str) -> Result<(), ControlError>;
    /// Checks a component (compile, fixtures, collisions), writes it to
    /// `<data>/connectors/` and serves it.
    fn install_component(
        &self,
        wasm: &[u8],
        actor: &str,
        take_over: bool,
    ) -> Result<ComponentInfo, ControlError>;
    /// Removes component `<name>.wasm`; its domains are denied again.
    fn uninstall_component(&self, name: &str, actor: &str) -> Result<(), ControlError>;
    fn rules(&self) -> Result<RuleList, ControlError>;
    fn set_rule(&self, rule: Rule) -> Result<(), ControlError>;
    fn remove_rule(&self, key: &RuleKey) -> Result<(), ControlError>;
    fn ensure_gateway(&self, name: &str) -> Result<GatewayToken, ControlError>;
    fn audit(&self, after: u64, limit: usize) -> Result<AuditPage, ControlError>;
    fn verify_audit(&self) -> Result<Verification, ControlError>;
    /// Up to `limit` signed checkpoints covering records after `after`.
    fn audit_checkpoints(&self, after: u64, limit: usize) -> Result<CheckpointPage, ControlError>;
    /// Commits what is queued, signs the head now, returns the newest checkpoint.
    fn audit_checkpoint(&self) -> Result<LatestCheckpoint, ControlError>;
    fn ca_pem(&self) -> Result<String, ControlError>;
    /// The salt and the salted digest of every stored credential (never
    /// the credentials), for `tf run` to recognize them in its environment.
    fn credential_digests(&self) -> Result<CredentialDigests, ControlError>;
}
