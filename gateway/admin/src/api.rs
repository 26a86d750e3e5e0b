//! Wire types of the admin API (JSON, serde). Shared by the server and the
//! `tf` client so both sides agree by construction.
//!
//! Secrets travel in one direction only: [`AddConnector::token`] carries a
//! credential in; no response type has a field that can carry one out.

use std::fmt;

use serde::{Deserialize, Serialize};
use tf_core::{AuditRecord, Checkpoint, Placement, Rule};

/// A credential on its way into the vault. Its `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The plaintext, for the one place that seals it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// `GET /v1/status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub version: String,
    pub data_dir: String,
    /// Proxy listener address, when a gateway is serving.
    pub proxy: Option<String>,
    /// Admin API address, when a gateway is serving.
    pub admin: Option<String>,
    pub gateways: Vec<String>,
    pub connectors: usize,
    pub rules: usize,
    pub audit_records: u64,
    /// When request records are written, in one sentence (the proxy's
    /// `AUDIT_POLICY`): mutations write-ahead, read-only on completion.
    #[serde(default)]
    pub audit_policy: String,
}

/// One connector instance as shown to users. Never carries the secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectorInfo {
    pub name: String,
    pub kind: String,
    /// The loaded connector's version, or `None` when its kind is not loaded.
    pub version: Option<String>,
    pub domains: Vec<String>,
    pub actions: usize,
    pub placement: Placement,
    pub credential_set: bool,
    /// The credential was entered for another kind or other domains (or in
    /// the old format) and is not injected until entered again or confirmed
    /// with `--keep-credential`.
    #[serde(default)]
    pub credential_suspended: bool,
    pub created_ms: u64,
}

/// A connector kind that can be instantiated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindInfo {
    pub kind: String,
    pub version: String,
    pub domains: Vec<String>,
    pub actions: usize,
}

/// One component file of `<data>/connectors/` and its load state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentInfo {
    /// File name, `<name>.wasm`.
    pub file: String,
    /// `loaded`, `refused`, `loaded (newer file refused)` or `pending`.
    pub state: String,
    pub name: Option<String>,
    pub version: Option<String>,
    /// The SDK that built it (`tameflare-sdk 0.1.0`), when it says.
    pub sdk: Option<String>,
    pub domains: Vec<String>,
    pub actions: usize,
    /// Embedded fixtures that passed at load.
    pub fixtures: usize,
    /// Hex SHA-256 of the serving (or, if refused, the refused) bytes.
    pub sha256: Option<String>,
    /// Why the latest version of the file was refused.
    pub last_error: Option<String>,
    /// Unix ms of the last load or refusal.
    pub changed_ms: u64,
}

/// `GET /v1/connectors`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectorList {
    pub connectors: Vec<ConnectorInfo>,
    pub kinds: Vec<KindInfo>,
    /// Components in `<data>/connectors/`.
    #[serde(default)]
    pub components: Vec<ComponentInfo>,
}

/// `POST /v1/components` query: who installs, and whether the component may
/// take over domains (or a built-in name) something else serves.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstallQuery {
    #[serde(default)]
    pub actor: Option<String>,
    #[serde(default)]
    pub take_over: bool,
}

/// `POST /v1/connectors`: create or replace a connector instance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddConnector {
    pub kind: String,
    /// Instance name; defaults to the kind.
    #[serde(default)]
    pub name: Option<String>,
    /// Domains; default to the connector's own.
    #[serde(default)]
    pub domains: Vec<String>,
    #[serde(default)]
    pub token: Option<Secret>,
    /// Placement override; defaults to the connector's own.
    #[serde(default)]
    pub placement: Option<Placement>,
    /// Without a new `token`: confirm that the instance's stored credential
    /// may serve its new kind or domains (rebound, audited). Without it, a
    /// change of kind or domains of an instance holding a credential fails.
    #[serde(default)]
    pub keep_credential: bool,
    /// Who makes the change, for the audit record of a rebinding.
    #[serde(default)]
    pub actor: Option<String>,
}

/// `GET /v1/credentials/digests`: how to recognize the vault's secrets in
/// an agent's environment without either side seeing the other's
/// plaintext. The client hashes its own values as `SHA-256(salt || value)`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialDigests {
    /// Hex of the data dir's random salt.
    pub salt: String,
    pub credentials: Vec<CredentialDigest>,
}

/// One stored credential's salted digest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialDigest {
    pub instance: String,
    /// Hex `SHA-256(salt || secret)`.
    pub sha256: String,
}

/// `GET /v1/permissions`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleList {
    pub rules: Vec<Rule>,
}

/// `DELETE /v1/permissions` body: which rule to remove.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleKey {
    pub gateway: String,
    pub connector: String,
    pub action: String,
}

/// `POST /v1/gateways` body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnsureGateway {
    pub name: String,
}

/// `POST /v1/gateways` response: the gateway's proxy credentials. This is
/// the agent's own token (what it presents to the proxy), not an upstream secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayToken {
    pub name: String,
    pub token: String,
    pub created_ms: u64,
}

impl fmt::Debug for GatewayToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GatewayToken")
            .field("name", &self.name)
            .field("token", &"***")
            .field("created_ms", &self.created_ms)
            .finish()
    }
}

/// `GET /v1/audit` query.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditQuery {
    /// Records with a sequence number greater than this.
    #[serde(default)]
    pub after: u64,
    /// At most this many (server caps it).
    #[serde(default)]
    pub limit: Option<usize>,
}

/// `GET /v1/audit` response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPage {
    pub records: Vec<AuditRecord>,
}

/// `GET /v1/audit/checkpoints` response: signed checkpoints of the chain
/// head, in order (query: [`AuditQuery`], `after` a record number).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointPage {
    pub checkpoints: Vec<Checkpoint>,
}

/// `POST /v1/audit/checkpoint` response: the newest checkpoint after the
/// writer committed everything queued and signed its head (`None` when the
/// chain is empty or the gateway signs no checkpoints).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatestCheckpoint {
    pub checkpoint: Option<Checkpoint>,
}

/// `GET /v1/audit/verify`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    pub ok: bool,
    pub records: u64,
    /// Where the chain breaks, when it does.
    pub error: Option<String>,
}

/// Every error response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Machine-readable: `unauthorized`, `not_found`, `invalid`, `conflict`, `internal`.
    pub code: String,
    /// What went wrong and how to fix it.
    pub error: String,
}

/// The largest page `GET /v1/audit` returns.
pub const MAX_AUDIT_PAGE: usize = 1000;
