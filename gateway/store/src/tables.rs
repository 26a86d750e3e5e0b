//! Every redb table, declared in one place.
//!
//! Keys and value encodings are part of the on-disk schema: changing one
//! means bumping [`SCHEMA_VERSION`] and writing a migration in `lib.rs`.

use redb::TableDefinition;

/// The schema this build reads and writes.
pub(crate) const SCHEMA_VERSION: u64 = 1;

/// `key → JSON`: `schema_version` (number), `next_rule_id` (number),
/// `audit_head` ([`crate::audit::Head`]).
pub(crate) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
pub(crate) const META_SCHEMA_VERSION: &str = "schema_version";
pub(crate) const META_NEXT_RULE_ID: &str = "next_rule_id";
pub(crate) const META_AUDIT_HEAD: &str = "audit_head";
/// Hex of the random per-data-dir salt of credential digests
/// ([`crate::CredentialMeta::digest`]).
pub(crate) const META_CREDENTIAL_SALT: &str = "credential_salt";

/// Gateway name → [`crate::GatewayRecord`] JSON.
pub(crate) const GATEWAYS: TableDefinition<&str, &[u8]> = TableDefinition::new("gateways");

/// Connector instance name → [`crate::ConnectorInstance`] JSON.
pub(crate) const CONNECTORS: TableDefinition<&str, &[u8]> = TableDefinition::new("connectors");

/// Component file name in `<data>/connectors/` → [`crate::ComponentRecord`]
/// JSON: the last version the gateway loaded (for install/replace/remove
/// audit events across restarts) and whether it may take over domains.
pub(crate) const COMPONENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("components");

/// Connector instance name → sealed credential (vault format, opaque here).
pub(crate) const SECRETS: TableDefinition<&str, &[u8]> = TableDefinition::new("secrets");

/// Connector instance name → [`crate::CredentialMeta`] JSON: what the
/// sealed credential in [`SECRETS`] was bound to (kind, domains, port), so a
/// snapshot can tell a suspended credential without decrypting it, and its
/// salted digest. Absent for credentials stored before bindings existed.
pub(crate) const CREDENTIALS: TableDefinition<&str, &[u8]> = TableDefinition::new("credentials");

/// Insertion id → [`tf_core::Rule`] JSON. Ids only grow, so iteration order
/// is insertion order.
pub(crate) const RULES: TableDefinition<u64, &[u8]> = TableDefinition::new("rules");

/// Append-only: sequence number → [`tf_core::AuditRecord`] JSON.
pub(crate) const AUDIT: TableDefinition<u64, &[u8]> = TableDefinition::new("audit");

/// Append-only: chain position → [`tf_core::Checkpoint`] JSON, a signature
/// over "record `seq` has hash `hash`" by the writer's checkpoint key (kept
/// outside this file). Added without a schema bump: opening creates it, and
/// a database without checkpoints simply has none to check.
pub(crate) const AUDIT_CHECKPOINTS: TableDefinition<u64, &[u8]> =
    TableDefinition::new("audit_checkpoints");
