//! Configuration tables: gateways, connector instances, sealed secrets and
//! permission rules. Values are JSON; names, domains, placements and rules
//! are validated with tf-core's rules before they are written.

use redb::{ReadableDatabase, ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};
use tf_core::ids::{check_domain, is_connector_name, is_valid_name};
use tf_core::{Placement, Rule};

use crate::tables::{
    COMPONENTS, CONNECTORS, CREDENTIALS, GATEWAYS, META, META_CREDENTIAL_SALT, META_NEXT_RULE_ID,
    RULES, SECRETS,
};
use crate::{ReadError, Store, WriteError, decode, encode};

/// A gateway identity agents authenticate as.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayRecord {
    pub name: String,
    /// The proxy password agents present. Never printed by `Debug`.
    pub token: String,
    pub created_ms: u64,
}

impl std::fmt::Debug for GatewayRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayRecord")
            .field("name", &self.name)
            .field("token", &"<redacted>")
            .field("created_ms", &self.created_ms)
            .finish()
    }
}

/// A configured connector instance: which connector (`kind`) serves which
/// domains, and an optional credential placement overriding the connector's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectorInstance {
    pub name: String,
    pub kind: String,
    pub domains: Vec<String>,
    pub placement: Option<Placement>,
    pub created_ms: u64,
}

/// What a stored credential was sealed for (the vault's binding, minus the
/// instance name, which is the key), kept beside the sealed bytes so the
/// snapshot builder can compare it with an instance's current kind and
/// domains without decrypting. Also its salted digest, for recognizing the
/// secret in an agent's environment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialMeta {
    pub kind: String,
    /// Lower-cased, sorted, deduplicated.
    pub domains: Vec<String>,
    pub port: u16,
    /// Hex `SHA-256(salt || secret)` with the data dir's credential salt;
    /// `None` until computed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

/// What the gateway last loaded from one file of `<data>/connectors/`, and
/// the operator's explicit permission for it to take over domains (or a
/// built-in connector's name) that something else already serves.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentRecord {
    /// Connector name the component declared (`None` until one loaded).
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub version: Option<String>,
    /// Hex SHA-256 of the loaded bytes.
    #[serde(default)]
    pub sha256: Option<String>,
    /// Set by `tf connector install --take-over`.
    #[serde(default)]
    pub take_over: bool,
    /// Hex SHA-256 of the last bytes refused for this file, so a refusal is
    /// audited once, not by every process that looks at the directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused_sha256: Option<String>,
}

fn check_name(what: &'static str, name: &str) -> Result<(), WriteError> {
    if is_valid_name(name) {
        Ok(())
    } else {
        Err(WriteError::InvalidName {
            what,
            name: name.to_owned(),
        })
    }
}

fn same_key(a: &Rule, gateway: &str, connector: &str, action: &str) -> bool {
    a.gateway == gateway && a.connector == connector && a.action == action
}

/// Finds the id of the rule with this key, if any.
fn find_rule(
    tx: &WriteTransaction,
    gateway: &str,
    connector: &str,
    action: &str,
) -> Result<Option<u64>, WriteError> {
    let table = tx.open_table(RULES)?;
    for item in table.iter()? {
        let (id, value) = item?;
        let rule: Rule = decode("rule", id.value(), value.value())?;
        if same_key(&rule, gateway, connector, action) {
            return Ok(Some(id.value()));
        }
    }
    Ok(None)
}

impl Store {
    /// Returns the gateway `name`, creating it with `new_token()` on first use.
    pub fn ensure_gateway(
        &self,
        name: &str,
        new_token: impl FnOnce() -> String,
        now_ms: u64,
    ) -> Result<GatewayRecord, WriteError> {
        check_name("gateway", name)?;
        self.write(|tx| {
            let mut table = tx.open_table(GATEWAYS)?;
            if let Some(v) = table.get(name)? {
                return Ok(decode("gateway", name, v.value())?);
            }
            let record = GatewayRecord {
                name: name.to_owned(),
                token: new_token(),
                created_ms: now_ms,
            };
            table.insert(name, encode(&record).as_slice())?;
            Ok(record)
        })
    }

    /// Every gateway, by name.
    pub fn gateways(&self) -> Result<Vec<GatewayRecord>, ReadError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(GATEWAYS)?;
        table
            .iter()?
            .map(|item| {
                let (k, v) = item?;
                decode("gateway", k.value(), v.value())
            })
            .collect()
    }

    /// Removes a gateway; its rules stay. Returns whether it existed.
    pub fn remove_gateway(&self, name: &str) -> Result<bool, WriteError> {
        self.write(|tx| Ok(tx.open_table(GATEWAYS)?.remove(name)?.is_some()))
    }

    /// Adds or replaces a connector instance.
    pub fn put_connector(&self, instance: &ConnectorInstance) -> Result<(), WriteError> {
        check_name("connector instance", &instance.name)?;
        if !is_connector_name(&instance.kind) {
            return Err(WriteError::InvalidKind(instance.kind.clone()));
        }
        for domain in &instance.domains {
            check_domain(domain)?;
        }
        if let Some(placement) = &instance.placement {
            placement.validate()?;
        }
        self.write(|tx| {
            tx.open_table(CONNECTORS)?
                .insert(instance.name.as_str(), encode(instance).as_slice())?;
            Ok(())
        })
    }

    /// Every connector instance, by name.
    pub fn connectors(&self) -> Result<Vec<ConnectorInstance>, ReadError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(CONNECTORS)?;
        table
            .iter()?
            .map(|item| {
                let (k, v) = item?;
                decode("connector", k.value(), v.value())
            })
            .collect()
    }

    /// One connector instance.
    pub fn connector(&self, name: &str) -> Result<Option<ConnectorInstance>, ReadError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(CONNECTORS)?;
        table
            .get(name)?
            .map(|v| decode("connector", name, v.value()))
            .transpose()
    }

    /// Removes a connector instance and its secret (rules stay, so
    /// re-adding the instance restores its permissions). Returns whether the
    /// instance existed.
    pub fn remove_connector(&self, name: &str) -> Result<bool, WriteError> {
        self.write(|tx| {
            let existed = tx.open_table(CONNECTORS)?.remove(name)?.is_some();
            tx.open_table(SECRETS)?.remove(name)?;
            tx.open_table(CREDENTIALS)?.remove(name)?;
            Ok(existed)
        })
    }

    /// Stores the sealed credential of a connector instance (vault format;
    /// opaque bytes here) and what it was sealed for, in one transaction.
    pub fn put_secret(
        &self,
        instance: &str,
        sealed: &[u8],
        meta: &CredentialMeta,
    ) -> Result<(), WriteError> {
        check_name("connector instance", instance)?;
        self.write(|tx| {
            tx.open_table(SECRETS)?.insert(instance, sealed)?;
            tx.open_table(CREDENTIALS)?
                .insert(instance, encode(meta).as_slice())?;
            Ok(())
        })
    }

    /// What the credential of `instance` was sealed for; `None` when it has
    /// no credential or one stored before bindings existed.
    pub fn credential_meta(&self, instance: &str) -> Result<Option<CredentialMeta>, ReadError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(CREDENTIALS)?;
        table
            .get(instance)?
            .map(|v| decode("credential", instance, v.value()))
            .transpose()
    }

    /// Records the salted digest of the credential of `instance`, when its
    /// binding is known (a credential without one gets its digest when it
    /// is rebound). Returns whether it was recorded.
    pub fn set_credential_digest(&self, instance: &str, digest: &str) -> Result<bool, WriteError> {
        self.write(|tx| {
            let mut table = tx.open_table(CREDENTIALS)?;
            let current: Option<CredentialMeta> = table
                .get(instance)?
                .map(|v| decode("credential", instance, v.value()))
                .transpose()?;
            let Some(mut meta) = current else {
                return Ok(false);
            };
            meta.digest = Some(digest.to_owned());
            table.insert(instance, encode(&meta).as_slice())?;
            Ok(true)
        })
    }

    /// The data dir's credential-digest salt (hex), created with `new_salt()`
    /// on first use.
    pub fn credential_salt(&self, new_salt: impl FnOnce() -> String) -> Result<String, WriteError> {
        self.write(|tx| {
            let mut meta = tx.open_table(META)?;
            if let Some(v) = meta.get(META_CREDENTIAL_SALT)? {
                return Ok(decode("meta", META_CREDENTIAL_SALT, v.value())?);
            }
            let salt = new_salt();
            meta.insert(META_CREDENTIAL_SALT, encode(&salt).as_slice())?;
            Ok(salt)
        })
    }

    /// The sealed credential of a connector instance.
    pub fn secret(&self, instance: &str) -> Result<Option<Vec<u8>>, ReadError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(SECRETS)?;
        Ok(table.get(instance)?.map(|v| v.value().to_vec()))
    }

    /// Removes a sealed credential. Returns whether it existed.
    pub fn remove_secret(&self, instance: &str) -> Result<bool, WriteError> {
        self.write(|tx| {
            tx.open_table(CREDENTIALS)?.remove(instance)?;
            Ok(tx.open_table(SECRETS)?.remove(instance)?.is_some())
        })
    }

    /// Adds a rule, or replaces (in place, keeping its position) the rule
    /// with the same gateway, connector and action pattern.
    pub fn set_rule(&self, rule: &Rule) -> Result<(), WriteError> {
        rule.validate()?;
        self.write(|tx| {
            let id = match find_rule(tx, &rule.gateway, &rule.connector, &rule.action)? {
                Some(id) => id,
                None => {
                    let mut meta = tx.open_table(META)?;
                    let next: u64 = match meta.get(META_NEXT_RULE_ID)? {
                        Some(v) => decode("meta", META_NEXT_RULE_ID, v.value())?,
                        None => 1,
                    };
                    meta.insert(META_NEXT_RULE_ID, encode(&(next + 1)).as_slice())?;
                    next
                }
            };
            tx.open_table(RULES)?.insert(id, encode(rule).as_slice())?;
            Ok(())
        })
    }

    /// Every rule, in insertion order.
    pub fn rules(&self) -> Result<Vec<Rule>, ReadError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(RULES)?;
        table
            .iter()?
            .map(|item| {
                let (k, v) = item?;
                decode("rule", k.value(), v.value())
            })
            .collect()
    }

    /// Removes the rule with this key. Returns whether it existed.
    pub fn remove_rule(
        &self,
        gateway: &str,
        connector: &str,
        action: &str,
    ) -> Result<bool, WriteError> {
        self.write(|tx| match find_rule(tx, gateway, connector, action)? {
            Some(id) => {
                tx.open_table(RULES)?.remove(id)?;
                Ok(true)
            }
            None => Ok(false),
        })
    }
}

impl Store {
    /// Every component record, by file name.
    pub fn components(&self) -> Result<Vec<(String, ComponentRecord)>, ReadError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(COMPONENTS)?;
        table
            .iter()?
            .map(|item| {
                let (k, v) = item?;
                Ok((
                    k.value().to_owned(),
                    decode("component", k.value(), v.value())?,
                ))
            })
            .collect()
    }

    /// The record of component file `file`, if any.
    pub fn component(&self, file: &str) -> Result<Option<ComponentRecord>, ReadError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(COMPONENTS)?;
        table
            .get(file)?
            .map(|v| decode("component", file, v.value()))
            .transpose()
    }

    /// Stores (or, with `None`, removes) the record of component file `file`.
    pub fn put_component(
        &self,
        file: &str,
        record: Option<&ComponentRecord>,
    ) -> Result<(), WriteError> {
        self.write(|tx| {
            let mut table = tx.open_table(COMPONENTS)?;
            match record {
                Some(r) => {
                    table.insert(file, encode(r).as_slice())?;
                }
                None => {
                    table.remove(file)?;
                }
            }
            Ok(())
        })
    }
}
