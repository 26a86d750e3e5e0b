//! The service layer: [`tf_admin::Control`] over the store, the loaded
//! connector kinds, the vault and the live snapshot. Used by the admin API of
//! a running gateway and, directly, by CLI commands when none runs.
//!
//! Every mutation is serialized, written to the store, and followed by a
//! snapshot rebuild swapped in atomically; if the rebuild fails, the previous
//! snapshot stays (fail closed) and the error is returned (a configuration
//! that contradicts itself as [`ControlError::Conflict`]).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use tf_admin::api::{
    AddConnector, AuditPage, CheckpointPage, ComponentInfo, ConnectorInfo, ConnectorList,
    CredentialDigest, CredentialDigests, GatewayToken, KindInfo, LatestCheckpoint, RuleKey,
    RuleList, Status, Verification,
};
use tf_admin::{Control, ControlError};
use tf_core::{ConnectorEvent, ConnectorEventKind, Placement, Rule, Snapshot};
use tf_store::{ConnectorInstance, ReadError, Store, VerifyError, WriteError};
use tf_vault::{Binding, Vault};

use crate::datadir::{new_token, random_hex};
use crate::loader::ComponentLoader;
use crate::snapshot::{self, Credential, InstanceConfig, Kind, SnapshotError, SnapshotInput};

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn read_err(e: ReadError) -> ControlError {
    let detail = crate::error_chain(&e);
    tracing::error!(error = %detail, "store read failed");
    ControlError::Internal(format!("{detail}; check the data dir's database"))
}

fn write_err(e: WriteError) -> ControlError {
    match e {
        WriteError::InvalidName { .. }
        | WriteError::InvalidKind(_)
        | WriteError::InvalidDomain(_)
        | WriteError::InvalidPlacement(_)
        | WriteError::InvalidRule(_) => ControlError::Invalid(e.to_string()),
        WriteError::Db(_) | WriteError::Decode { .. } => {
            let detail = crate::error_chain(&e);
            tracing::error!(error = %detail, "store write failed");
            ControlError::Internal(format!("{detail}; check the data dir's database"))
        }
    }
}

mod components;

pub(crate) use components::Watcher;
pub use components::{Refusal, Scan};

/// The control plane over one open store.
pub struct Service {
    /// The connector engine: loads components from `<data>/connectors/`.
    loader: Option<Arc<dyn ComponentLoader>>,
    store: Store,
    /// The connectors built into this binary.
    builtins: BTreeMap<String, Kind>,
    /// `<data>/connectors/`, watched for components.
    connectors_dir: Option<cap_std::fs::Dir>,
    components: Mutex<components::Components>,
    vault: Arc<Vault>,
    snapshot: Arc<ArcSwap<Snapshot>>,
    ca_pem: String,
    data_dir: String,
    addrs: Mutex<Option<(SocketAddr, SocketAddr)>>,
    /// Set while this process runs the audit writer: reads flush it first,
    /// so `tf logs` shows every request answered before it was called.
    audit_flusher: Mutex<Option<tf_store::AuditFlusher>>,
    /// The checkpoint key of the data dir: the writer signs with it, and
    /// `verify_audit` checks stored checkpoints with its public half.
    audit_signer: Mutex<Option<Arc<tf_store::AuditSigner>>>,
    version: AtomicU64,
    write: Mutex<()>,
    /// True until the components directory was loaded once.
    starting: std::sync::atomic::AtomicBool,
}

impl Service {
    /// Builds the service and its first snapshot.
    /// With `loader` and `connectors_dir`, loads the components there first
    /// (a bad one is refused and reported; it does not stop the others).
    pub fn new(
        loader: Option<Arc<dyn ComponentLoader>>,
        connectors_dir: Option<cap_std::fs::Dir>,
        store: Store,
        builtins: BTreeMap<String, Kind>,
        vault: Arc<Vault>,
        ca_pem: String,
        data_dir: String,
    ) -> Result<Self, SnapshotError> {
        let service = Self {
            loader,
            store,
            builtins,
            connectors_dir,
            components: Mutex::new(components::Components::default()),
            vault,
            snapshot: Arc::new(ArcSwap::from_pointee(Snapshot::default())),
            ca_pem,
            data_dir,
            addrs: Mutex::new(None),
            audit_flusher: Mutex::new(None),
            audit_signer: Mutex::new(None),
            version: AtomicU64::new(0),
            write: Mutex::new(()),
            starting: std::sync::atomic::AtomicBool::new(true),
        };
        let first = service.build_snapshot()?;
        service.snapshot.store(Arc::new(first));
        service.sync_components(Scan::Immediate);
        service.forget_vanished_components();
        service.starting.store(false, Ordering::Relaxed);
        // Now warn about what is genuinely missing.
        let complete = service.build_snapshot()?;
        service.snapshot.store(Arc::new(complete));
        Ok(service)
    }

    fn lock_components(&self) -> std::sync::MutexGuard<'_, components::Components> {
        self.components
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The instances components serve through because none is configured
    /// for them: one per loaded component kind, named after it, with the
    /// component's own domains and no credential.
    fn implicit_instances(&self, configured: &[ConnectorInstance]) -> Vec<ConnectorInstance> {
        self.lock_components()
            .file_kinds()
            .into_iter()
            .filter(|k| !configured.iter().any(|i| i.kind == *k || i.name == *k))
            .map(|k| ConnectorInstance {
                name: k.clone(),
                kind: k,
                domains: Vec::new(),
                placement: None,
                created_ms: 0,
            })
            .collect()
    }

    /// Every loaded kind: the built-ins overlaid with the components.
    fn kinds(&self) -> BTreeMap<String, Kind> {
        self.lock_components().kinds(&self.builtins)
    }

    pub fn snapshot(&self) -> Arc<ArcSwap<Snapshot>> {
        Arc::clone(&self.snapshot)
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Records the addresses a gateway serves on (for `status`).
    pub(crate) fn set_addrs(&self, proxy: SocketAddr, admin: SocketAddr) {
        if let Ok(mut a) = self.addrs.lock() {
            *a = Some((proxy, admin));
        }
    }

    pub(crate) fn set_audit_flusher(&self, flusher: tf_store::AuditFlusher) {
        if let Ok(mut f) = self.audit_flusher.lock() {
            *f = Some(flusher);
        }
    }

    pub(crate) fn set_audit_signer(&self, signer: Arc<tf_store::AuditSigner>) {
        if let Ok(mut s) = self.audit_signer.lock() {
            *s = Some(signer);
        }
    }

    pub(crate) fn audit_signer(&self) -> Option<Arc<tf_store::AuditSigner>> {
        self.audit_signer.lock().ok().and_then(|s| s.clone())
    }

    fn flush_audit(&self) {
        let flusher = self.audit_flusher.lock().ok().and_then(|f| f.clone());
        if let Some(Err(e)) = flusher.map(|f| f.flush()) {
            tracing::warn!(error = %e, "audit flush before a read failed; showing what is committed");
        }
    }

    /// Builds the snapshot of the stored configuration and loaded kinds.
    pub fn build_snapshot(&self) -> Result<Snapshot, SnapshotError> {
        let gateways = self
            .store
            .gateways()?
            .into_iter()
            .map(|g| (g.name, g.token))
            .collect();
        let kinds = self.kinds();
        let take_over: std::collections::BTreeSet<String> = self
            .store
            .components()?
            .into_iter()
            .filter(|(_, r)| r.take_over)
            .filter_map(|(f, _)| f.strip_suffix(".wasm").map(str::to_owned))
            .collect();
        let mut configured = self.store.connectors()?;
        configured.extend(self.implicit_instances(&configured));
        let instances: Vec<InstanceConfig> = configured
            .into_iter()
            .map(|c| InstanceConfig {
                take_over: take_over.contains(&c.kind),
                name: c.name,
                kind: c.kind,
                domains: c.domains,
                placement: c.placement,
            })
            .collect();
        let rules = self.store.rules()?;
        let version = self.version.fetch_add(1, Ordering::Relaxed) + 1;
        let store = &self.store;
        let vault = &self.vault;
        snapshot::build(
            SnapshotInput {
                version,
                gateways,
                instances: &instances,
                kinds: &kinds,
                rules,
                warn_missing_kinds: !self.starting.load(Ordering::Relaxed),
            },
            |instance, placement, domains| -> Result<Credential, ReadError> {
                if *placement == Placement::None {
                    return Ok(Credential::None);
                }
                let Some(sealed) = store.secret(&instance.name)? else {
                    return Ok(Credential::None);
                };
                let binding = snapshot::current_binding(&instance.name, &instance.kind, domains);
                let meta = store.credential_meta(&instance.name)?;
                if !snapshot::credential_serves(&binding, meta.as_ref(), &sealed) {
                    return Ok(Credential::Suspended);
                }
                if vault.verify(&binding, &sealed).is_err() {
                    tracing::warn!(
                        instance = %instance.name,
                        "the stored credential does not decrypt with this master key; requests needing it are denied"
                    );
                }
                Ok(Credential::Ready(vault.injector(
                    &binding,
                    sealed,
                    placement.clone(),
                )))
            },
        )
    }

    /// Rebuilds the snapshot and swaps it in. Call with the write lock held.
    fn refresh(&self) -> Result<(), ControlError> {
        self.apply().map_err(|e| {
            let message = format!(
                "the change was stored but could not be applied: {}; fix or undo it",
                crate::error_chain(&e)
            );
            if e.is_conflict() {
                ControlError::Conflict(message)
            } else {
                ControlError::Internal(message)
            }
        })
    }

    /// Builds and swaps in a new snapshot; on failure the previous one
    /// stays and the reason is returned.
    fn apply(&self) -> Result<(), SnapshotError> {
        match self.build_snapshot() {
            Ok(s) => {
                tracing::info!(
                    version = s.version,
                    routes = s.routes.len(),
                    "configuration applied"
                );
                self.snapshot.store(Arc::new(s));
                Ok(())
            }
            Err(e) => {
                tracing::error!(error = %crate::error_chain(&e), "configuration not applied; the previous one stays");
                Err(e)
            }
        }
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, ()>, ControlError> {
        self.write.lock().map_err(|_| {
            ControlError::Internal("a previous admin operation panicked; restart tf".into())
        })
    }

    fn info(
        &self,
        kinds: &BTreeMap<String, Kind>,
        c: &ConnectorInstance,
    ) -> Result<ConnectorInfo, ControlError> {
        let kind = kinds.get(&c.kind);
        let sealed = self.store.secret(&c.name).map_err(read_err)?;
        let credential_set = sealed.is_some();
        let (domains, placement) = match kind {
            Some(k) => (
                snapshot::effective_domains(&c.domains, &k.descriptor),
                snapshot::effective_placement(c.placement.as_ref(), &k.descriptor),
            ),
            None => (
                c.domains.clone(),
                c.placement.clone().unwrap_or(Placement::None),
            ),
        };
        let credential_suspended = match (&sealed, kind) {
            (Some(sealed), Some(_)) if placement != Placement::None => {
                let meta = self.store.credential_meta(&c.name).map_err(read_err)?;
                let binding = snapshot::current_binding(&c.name, &c.kind, &domains);
                !snapshot::credential_serves(&binding, meta.as_ref(), sealed)
            }
            _ => false,
        };
        // Show what the instance serves now: a domain another instance took
        // over (`--take-over`) is not listed under this one.
        let mut domains = domains;
        let snapshot = self.snapshot.load();
        domains.retain(|d| {
            snapshot
                .routes
                .get(&d.to_ascii_lowercase())
                .is_none_or(|r| r.instance == c.name)
        });
        Ok(ConnectorInfo {
            name: c.name.clone(),
            kind: c.kind.clone(),
            version: kind.map(|k| k.descriptor.version.clone()),
            domains,
            actions: kind.map_or(0, |k| k.descriptor.actions.len()),
            placement,
            credential_set,
            credential_suspended,
            created_ms: c.created_ms,
        })
    }

    /// The data dir's credential-digest salt, created on first use.
    fn credential_salt(&self) -> Result<Vec<u8>, ControlError> {
        let salt = self
            .store
            .credential_salt(|| random_hex(32))
            .map_err(write_err)?;
        hex::decode(salt.trim()).map_err(|_| {
            ControlError::Internal(
                "the stored credential salt is not hex; check the data dir's database".into(),
            )
        })
    }

    /// What the stored credential of an instance must be re-sealed with,
    /// if anything, for `binding` (the instance as `request` configures
    /// it): a new secret, a confirmed rebinding (`--keep-credential`), or
    /// nothing. Refuses a change of kind or domains of an instance holding
    /// a credential without either. Changes nothing itself.
    fn credential_for(
        &self,
        request: &AddConnector,
        previous: Option<(&ConnectorInstance, &BTreeMap<String, Kind>)>,
        binding: &Binding,
    ) -> Result<Option<CredentialChange>, ControlError> {
        let name = binding.instance();
        if let Some(token) = &request.token {
            let secret = token.expose().trim();
            let salt = self.credential_salt()?;
            let sealed = self.vault.seal(binding, secret.as_bytes());
            // The digest is computed inside the vault, from what was sealed.
            let digest = self
                .vault
                .digest(&salt, binding, &sealed)
                .map(hex::encode)
                .map_err(|e| {
                    ControlError::Internal(format!("sealing the credential failed: {e}"))
                })?;
            return Ok(Some(CredentialChange {
                sealed,
                meta: snapshot::meta_of(binding, Some(digest)),
                rebound_from: None,
            }));
        }
        let Some(sealed) = self.store.secret(name).map_err(read_err)? else {
            return Ok(None);
        };
        let meta = self.store.credential_meta(name).map_err(read_err)?;
        if snapshot::credential_serves(binding, meta.as_ref(), &sealed) {
            return Ok(None);
        }
        // What it was sealed for: its record, else (old format) the
        // instance as configured until now.
        let old = snapshot::stored_binding(name, meta.as_ref(), &sealed).or_else(|| {
            previous.map(|(p, kinds)| {
                let domains = match kinds.get(&p.kind) {
                    Some(k) => snapshot::effective_domains(&p.domains, &k.descriptor),
                    None => p.domains.clone(),
                };
                snapshot::current_binding(name, &p.kind, &domains)
            })
        });
        let changed = old.as_ref() != Some(binding);
        let describe = |b: Option<&Binding>| match b {
            Some(b) => format!("kind {} and domains {}", b.kind(), b.domains().join(",")),
            None => "an unknown kind and domains".to_owned(),
        };
        if !request.keep_credential {
            if !changed {
                // Old format, same configuration: stays suspended (shown by
                // `tf connector list`) until confirmed.
                return Ok(None);
            }
            return Err(ControlError::Conflict(format!(
                "connector instance {name:?} holds a credential entered for {}; it would now go to {}. Enter the secret again (--token, --token-env or --token-stdin), or pass --keep-credential to confirm that it may (audited). Nothing was changed",
                describe(old.as_ref()),
                describe(Some(binding)),
            )));
        }
        let old = old.unwrap_or_else(|| binding.clone());
        let resealed = self.vault.rebind(&old, binding, &sealed).map_err(|e| {
            ControlError::Invalid(format!(
                "the stored credential of {name:?} cannot be confirmed ({e}); enter it again with --token, --token-env or --token-stdin"
            ))
        })?;
        Ok(Some(CredentialChange {
            sealed: resealed,
            meta: snapshot::meta_of(binding, meta.and_then(|m| m.digest)),
            rebound_from: Some(format!(
                "credential rebound from {} (format v{}) to {}",
                describe(Some(&old)),
                tf_vault::sealed_version(&sealed).unwrap_or(0),
                describe(Some(binding))
            )),
        }))
    }

    fn kind_names(&self) -> String {
        self.kinds().keys().cloned().collect::<Vec<_>>().join(", ")
    }
}

/// A credential to store with an instance (see [`Service::credential_for`]).
struct CredentialChange {
    sealed: Vec<u8>,
    meta: tf_store::CredentialMeta,
    /// Set for a rebinding: what changed, for the audit record.
    rebound_from: Option<String>,
}

/// A placement as typed (`--header X-Api-Key`: trimmed, lower-cased name),
/// checked by tf-core's one placement rule.
fn validate_placement(p: &Placement) -> Result<Placement, ControlError> {
    let p = match p {
        Placement::None | Placement::Basic => p.clone(),
        Placement::Header { name, template } => Placement::Header {
            name: name.trim().to_ascii_lowercase(),
            template: template.clone(),
        },
    };
    p.validate()
        .map_err(|e| ControlError::Invalid(format!("{e} (--header, --template)")))?;
    Ok(p)
}

impl Control for Service {
    fn status(&self) -> Result<Status, ControlError> {
        let addrs = self.addrs.lock().ok().and_then(|a| *a);
        Ok(Status {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            data_dir: self.data_dir.clone(),
            proxy: addrs.map(|a| a.0.to_string()),
            admin: addrs.map(|a| a.1.to_string()),
            gateways: self
                .store
                .gateways()
                .map_err(read_err)?
                .into_iter()
                .map(|g| g.name)
                .collect(),
            connectors: self.store.connectors().map_err(read_err)?.len(),
            rules: self.store.rules().map_err(read_err)?.len(),
            audit_records: self.store.audit_count().map_err(read_err)?,
            audit_policy: tf_proxy::AUDIT_POLICY.to_owned(),
        })
    }

    fn connectors(&self) -> Result<ConnectorList, ControlError> {
        let mut instances = self.store.connectors().map_err(read_err)?;
        instances.extend(self.implicit_instances(&instances));
        let all_kinds = self.kinds();
        let connectors = instances
            .iter()
            .map(|c| self.info(&all_kinds, c))
            .collect::<Result<_, _>>()?;
        let kinds = all_kinds
            .iter()
            .map(|(kind, k)| KindInfo {
                kind: kind.clone(),
                version: k.descriptor.version.clone(),
                domains: k.descriptor.domains.clone(),
                actions: k.descriptor.actions.len(),
            })
            .collect();
        Ok(ConnectorList {
            connectors,
            kinds,
            components: self.component_infos(),
        })
    }

    fn add_connector(&self, request: AddConnector) -> Result<ConnectorInfo, ControlError> {
        let kinds = self.kinds();
        let Some(kind) = kinds.get(&request.kind) else {
            return Err(ControlError::Invalid(format!(
                "unknown connector kind {:?}; known kinds: {} (put a component in <data dir>/connectors/ to add one)",
                request.kind,
                self.kind_names()
            )));
        };
        let name = request.name.clone().unwrap_or_else(|| request.kind.clone());
        if !tf_core::ids::is_valid_name(&name) {
            return Err(ControlError::Invalid(format!(
                "connector instance name {name:?} is invalid: use 1-64 characters from A-Z a-z 0-9 . _ - and space (--name)"
            )));
        }
        let mut domains: Vec<String> = request
            .domains
            .iter()
            .map(|d| tf_core::ids::normalize_domain(d))
            .filter(|d| !d.is_empty())
            .collect();
        if let Some(e) = domains
            .iter()
            .find_map(|d| tf_core::ids::check_domain(d).err())
        {
            return Err(ControlError::Invalid(format!("{e} (--domains)")));
        }
        domains.sort();
        domains.dedup();
        let effective = snapshot::effective_domains(&domains, &kind.descriptor);
        if effective.is_empty() {
            return Err(ControlError::Invalid(format!(
                "connector kind {:?} has no domains of its own; pass the API's host names, e.g. --domains api.example.com",
                request.kind
            )));
        }
        let placement = request
            .placement
            .as_ref()
            .map(validate_placement)
            .transpose()?;
        if let Some(token) = &request.token
            && token.expose().trim().is_empty()
        {
            return Err(ControlError::Invalid(
                "the credential is empty; pass a non-empty --token, --token-env or --token-stdin"
                    .into(),
            ));
        }

        let _guard = self.lock()?;
        let existing = self.store.connectors().map_err(read_err)?;
        let implicit = self.implicit_instances(&existing);
        // (An explicit instance of a component's kind replaces its implicit one.)
        for other in existing
            .iter()
            .filter(|c| c.name != name)
            .chain(implicit.iter().filter(|c| c.kind != request.kind))
        {
            let theirs = match kinds.get(&other.kind) {
                Some(k) => snapshot::effective_domains(&other.domains, &k.descriptor),
                None => other.domains.clone(),
            };
            if let Some(d) = effective.iter().find(|d| theirs.contains(d)) {
                return Err(ControlError::Conflict(format!(
                    "domain {d} is already claimed by connector instance {:?}; remove it first (`tf connector remove {}`) or pass other --domains",
                    other.name, other.name
                )));
            }
        }
        let previous = existing.iter().find(|c| c.name == name);
        let created_ms = previous.map_or_else(now_ms, |c| c.created_ms);
        let binding = snapshot::current_binding(&name, &request.kind, &effective);
        let credential = self.credential_for(&request, previous.map(|p| (p, &kinds)), &binding)?;
        let instance = ConnectorInstance {
            name: name.clone(),
            kind: request.kind.clone(),
            domains,
            placement,
            created_ms,
        };
        self.store.put_connector(&instance).map_err(write_err)?;
        if let Some(change) = credential {
            self.store
                .put_secret(&name, &change.sealed, &change.meta)
                .map_err(write_err)?;
            if let Some(what) = change.rebound_from {
                self.record_event(ConnectorEvent {
                    kind: ConnectorEventKind::CredentialRebound,
                    file: name.clone(),
                    name: Some(name.clone()),
                    version: None,
                    sha256: None,
                    actor: request
                        .actor
                        .clone()
                        .unwrap_or_else(|| "admin API".to_owned()),
                    error: Some(what),
                });
            }
        }
        self.refresh()?;
        self.info(&kinds, &instance)
    }

    fn remove_connector(&self, name: &str) -> Result<(), ControlError> {
        let _guard = self.lock()?;
        let existed = self.store.remove_connector(name).map_err(write_err)?;
        self.store.remove_secret(name).map_err(write_err)?;
        if !existed {
            return Err(ControlError::NotFound(format!(
                "no connector instance named {name:?}; see `tf connector list`"
            )));
        }
        self.refresh()
    }

    fn install_component(
        &self,
        wasm: &[u8],
        actor: &str,
        take_over: bool,
    ) -> Result<ComponentInfo, ControlError> {
        Service::install_component(self, wasm, actor, take_over)
    }

    fn uninstall_component(&self, name: &str, actor: &str) -> Result<(), ControlError> {
        Service::uninstall_component(self, name, actor)
    }

    fn rules(&self) -> Result<RuleList, ControlError> {
        Ok(RuleList {
            rules: self.store.rules().map_err(read_err)?,
        })
    }

    fn set_rule(&self, rule: Rule) -> Result<(), ControlError> {
        rule.validate()
            .map_err(|e| ControlError::Invalid(e.to_string()))?;
        let _guard = self.lock()?;
        self.store.set_rule(&rule).map_err(write_err)?;
        self.refresh()
    }

    fn remove_rule(&self, key: &RuleKey) -> Result<(), ControlError> {
        let _guard = self.lock()?;
        let existed = self
            .store
            .remove_rule(&key.gateway, &key.connector, &key.action)
            .map_err(write_err)?;
        if !existed {
            return Err(ControlError::NotFound(format!(
                "no rule for gateway {:?}, connector {:?}, action {:?}; see `tf permissions list`",
                key.gateway, key.connector, key.action
            )));
        }
        self.refresh()
    }

    fn ensure_gateway(&self, name: &str) -> Result<GatewayToken, ControlError> {
        if !tf_core::ids::is_valid_name(name) {
            return Err(ControlError::Invalid(format!(
                "gateway name {name:?} is invalid: use 1-64 characters from A-Z a-z 0-9 . _ - and space (--name)"
            )));
        }
        let _guard = self.lock()?;
        let record = self
            .store
            .ensure_gateway(name, new_token, now_ms())
            .map_err(write_err)?;
        if !self.snapshot.load().gateways.contains_key(name) {
            self.refresh()?;
        }
        Ok(GatewayToken {
            name: record.name.clone(),
            token: record.token.clone(),
            created_ms: record.created_ms,
        })
    }

    fn audit(&self, after: u64, limit: usize) -> Result<AuditPage, ControlError> {
        self.flush_audit();
        Ok(AuditPage {
            records: self.store.audit_after(after, limit).map_err(read_err)?,
        })
    }

    fn verify_audit(&self) -> Result<Verification, ControlError> {
        self.flush_audit();
        let signer = self.audit_signer();
        let key = signer
            .as_ref()
            .map(|s| s.public_key() as &dyn tf_core::SignatureCheck);
        match self.store.verify_ledger(key, &[]) {
            Ok(summary) => Ok(Verification {
                ok: true,
                records: summary.records,
                error: None,
            }),
            Err(VerifyError::Read(e)) => Err(read_err(e)),
            Err(
                e @ (VerifyError::Chain(_)
                | VerifyError::BadStart(_)
                | VerifyError::HeadMismatch { .. }
                | VerifyError::Ledger(_)),
            ) => Ok(Verification {
                ok: false,
                records: self.store.audit_count().map_err(read_err)?,
                error: Some(crate::error_chain(&e)),
            }),
        }
    }

    fn audit_checkpoints(&self, after: u64, limit: usize) -> Result<CheckpointPage, ControlError> {
        self.flush_audit();
        Ok(CheckpointPage {
            checkpoints: self
                .store
                .checkpoints_after(after, limit)
                .map_err(read_err)?,
        })
    }

    fn audit_checkpoint(&self) -> Result<LatestCheckpoint, ControlError> {
        let flusher = self.audit_flusher.lock().ok().and_then(|f| f.clone());
        match (flusher, self.audit_signer()) {
            (Some(flusher), _) => flusher.checkpoint().map_err(|e| {
                ControlError::Internal(format!("cannot sign an audit checkpoint: {e}"))
            })?,
            // Direct mode: a writer of our own signs what is unsigned as it starts.
            (None, Some(signer)) => {
                let (_, handle) = self.store.audit_writer_with(tf_store::WriterOptions {
                    checkpoints: Some(tf_store::CheckpointPolicy::new(signer)),
                    ..tf_store::WriterOptions::default()
                });
                handle.shutdown().map_err(|e| {
                    ControlError::Internal(format!("cannot sign an audit checkpoint: {e}"))
                })?;
            }
            (None, None) => {}
        }
        Ok(LatestCheckpoint {
            checkpoint: self.store.latest_checkpoint().map_err(read_err)?,
        })
    }

    fn ca_pem(&self) -> Result<String, ControlError> {
        Ok(self.ca_pem.clone())
    }

    fn credential_digests(&self) -> Result<CredentialDigests, ControlError> {
        let _guard = self.lock()?;
        let salt = self.credential_salt()?;
        let mut credentials = Vec::new();
        for c in self.store.connectors().map_err(read_err)? {
            let Some(sealed) = self.store.secret(&c.name).map_err(read_err)? else {
                continue;
            };
            let meta = self.store.credential_meta(&c.name).map_err(read_err)?;
            if let Some(digest) = meta.as_ref().and_then(|m| m.digest.clone()) {
                credentials.push(CredentialDigest {
                    instance: c.name,
                    sha256: digest,
                });
                continue;
            }
            // Computed once, inside the vault, and kept.
            let binding = snapshot::stored_binding(&c.name, meta.as_ref(), &sealed)
                .unwrap_or_else(|| Binding::new(c.name.as_str(), c.kind.as_str(), &c.domains));
            match self.vault.digest(&salt, &binding, &sealed) {
                Ok(d) => {
                    let digest = hex::encode(d);
                    self.store
                        .set_credential_digest(&c.name, &digest)
                        .map_err(write_err)?;
                    credentials.push(CredentialDigest {
                        instance: c.name,
                        sha256: digest,
                    });
                }
                Err(e) => tracing::warn!(
                    instance = %c.name,
                    error = %e,
                    "the stored credential does not open; it cannot be recognized in an agent's environment"
                ),
            }
        }
        Ok(CredentialDigests {
            salt: hex::encode(salt),
            credentials,
        })
    }
}

#[cfg(test)]
mod tests;
