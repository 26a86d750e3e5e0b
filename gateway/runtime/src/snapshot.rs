//! Builds the proxy's immutable [`Snapshot`] from stored configuration and
//! the loaded connector kinds. Pure apart from the credential callback
//! (which the service points at the vault), so it is tested with fakes.
//! It never stores anything: the service swaps in what this returns.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use tf_core::{
    Classifier, Descriptor, GatewayEntry, Injector, PermissionSet, Placement, ReadOnlyIndex, Route,
    Rule, RuleError, Snapshot,
};

/// Why a snapshot could not be built; the previous one keeps serving.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The stored configuration could not be read.
    #[error("reading the configuration")]
    Read(#[from] tf_store::ReadError),
    /// An instance's stored credential could not be prepared.
    #[error("preparing the credential of connector instance {instance:?}: {error}")]
    Credential {
        instance: String,
        error: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Two instances serve the same domain (neither installed with `--take-over`).
    #[error(
        "domain {domain} is claimed by both {first:?} and {second:?}; remove one (`tf connector remove` for an instance, `tf connector uninstall` for a component), or install the component with `--take-over`"
    )]
    DomainClaimed {
        domain: String,
        first: String,
        second: String,
    },
    /// A stored permission rule does not compile.
    #[error("a stored permission rule is invalid")]
    Rules(#[from] RuleError),
}

impl SnapshotError {
    /// True when the configuration contradicts itself (an operator must
    /// choose), rather than the gateway failing to read it.
    pub fn is_conflict(&self) -> bool {
        match self {
            SnapshotError::DomainClaimed { .. } => true,
            SnapshotError::Read(_) | SnapshotError::Credential { .. } | SnapshotError::Rules(_) => {
                false
            }
        }
    }
}

/// A loaded connector (one kind), by its descriptor name.
#[derive(Clone)]
pub struct Kind {
    pub descriptor: Arc<Descriptor>,
    pub classifier: Arc<dyn Classifier>,
}

/// A configured instance, as the builder needs it.
#[derive(Debug, Clone)]
pub struct InstanceConfig {
    pub name: String,
    pub kind: String,
    pub domains: Vec<String>,
    pub placement: Option<Placement>,
    /// Allowed (by `tf connector install --take-over`) to take domains that
    /// another instance serves.
    pub take_over: bool,
}

/// The domains an instance serves: its own, else its connector's.
pub fn effective_domains(domains: &[String], descriptor: &Descriptor) -> Vec<String> {
    if domains.is_empty() {
        descriptor.domains.clone()
    } else {
        domains.to_vec()
    }
}

/// The placement an instance uses: its override, else its connector's.
pub fn effective_placement(placement: Option<&Placement>, descriptor: &Descriptor) -> Placement {
    placement
        .cloned()
        .unwrap_or_else(|| descriptor.placement.clone())
}

/// The credential of one instance, as the snapshot serves it.
pub enum Credential {
    /// The instance has none.
    None,
    /// Sealed for the instance's current binding: injected.
    Ready(Arc<dyn Injector>),
    /// Sealed for another kind or other domains, or in the old format: not
    /// injected until entered again or confirmed (`--keep-credential`).
    Suspended,
}

/// The binding an instance's credential must have been sealed for to serve:
/// its name, its kind and the domains it serves now.
pub fn current_binding(instance: &str, kind: &str, domains: &[String]) -> tf_vault::Binding {
    tf_vault::Binding::new(instance, kind, domains)
}

/// The stored binding of a credential (without decrypting), when known:
/// its meta record says what it was sealed for and its bytes are in the
/// current format.
pub fn stored_binding(
    instance: &str,
    meta: Option<&tf_store::CredentialMeta>,
    sealed: &[u8],
) -> Option<tf_vault::Binding> {
    let meta = meta?;
    if tf_vault::sealed_version(sealed) != Some(2) || meta.port != tf_vault::DEFAULT_PORT {
        return None;
    }
    Some(tf_vault::Binding::new(instance, &meta.kind, &meta.domains))
}

/// Whether a stored credential serves the instance as it is now. Pure: the
/// comparison never decrypts.
pub fn credential_serves(
    current: &tf_vault::Binding,
    meta: Option<&tf_store::CredentialMeta>,
    sealed: &[u8],
) -> bool {
    stored_binding(current.instance(), meta, sealed).as_ref() == Some(current)
}

/// The [`tf_store::CredentialMeta`] recording `binding`.
pub fn meta_of(binding: &tf_vault::Binding, digest: Option<String>) -> tf_store::CredentialMeta {
    tf_store::CredentialMeta {
        kind: binding.kind().to_owned(),
        domains: binding.domains().to_vec(),
        port: binding.port(),
        digest,
    }
}

/// Everything a snapshot is made of.
pub struct SnapshotInput<'a> {
    pub version: u64,
    /// (name, proxy token) per gateway.
    pub gateways: Vec<(String, String)>,
    pub instances: &'a [InstanceConfig],
    pub kinds: &'a BTreeMap<String, Kind>,
    pub rules: Vec<Rule>,
    /// Warn about instances whose kind is not loaded (off while the
    /// components directory is first loaded, when that is expected).
    pub warn_missing_kinds: bool,
}

/// Builds the snapshot. `credential` returns the state of an instance's
/// stored secret, given its placement and the domains it serves now. Fails (and the caller keeps the
/// previous snapshot) on an invalid rule, a domain claimed twice, or a
/// credential that cannot be prepared: never a partial configuration.
pub fn build<E>(
    input: SnapshotInput<'_>,
    mut credential: impl FnMut(&InstanceConfig, &Placement, &[String]) -> Result<Credential, E>,
) -> Result<Snapshot, SnapshotError>
where
    E: std::error::Error + Send + Sync + 'static,
{
    let gateways = input
        .gateways
        .iter()
        .map(|(name, token)| (name.clone(), GatewayEntry::new(name.clone(), token)))
        .collect();

    let mut routes: HashMap<String, Arc<Route>> = HashMap::new();
    // Instances allowed to take over go last, so they win their domains.
    let ordered = input
        .instances
        .iter()
        .filter(|i| !i.take_over)
        .chain(input.instances.iter().filter(|i| i.take_over));
    for instance in ordered {
        let Some(kind) = input.kinds.get(&instance.kind) else {
            // Its component is gone: its domains are unreachable (deny by default).
            if !input.warn_missing_kinds {
                continue;
            }
            tracing::warn!(
                instance = %instance.name,
                kind = %instance.kind,
                "connector kind is not loaded; requests to this instance's domains are denied"
            );
            continue;
        };
        let placement = effective_placement(instance.placement.as_ref(), &kind.descriptor);
        let domains: Vec<String> = effective_domains(&instance.domains, &kind.descriptor)
            .iter()
            .map(|d| d.to_ascii_lowercase())
            .collect();
        let credential =
            credential(instance, &placement, &domains).map_err(|e| SnapshotError::Credential {
                instance: instance.name.clone(),
                error: Box::new(e),
            })?;
        let (credential, credential_suspended) = match credential {
            Credential::None => (None, false),
            Credential::Ready(injector) => (Some(injector), false),
            Credential::Suspended => {
                tracing::warn!(
                    instance = %instance.name,
                    "the stored credential was entered for another connector kind or other domains; it is suspended until entered again or confirmed with `tf connector add … --keep-credential`"
                );
                (None, true)
            }
        };
        let route = Arc::new(Route {
            instance: instance.name.clone(),
            descriptor: Arc::clone(&kind.descriptor),
            placement,
            classifier: Arc::clone(&kind.classifier),
            credential,
            read_only: ReadOnlyIndex::new(&kind.descriptor.actions),
            credential_suspended,
        });
        for domain in domains {
            if let Some(other) = routes.get(&domain) {
                if instance.take_over && !other.instance.eq(&instance.name) {
                    tracing::warn!(
                        %domain,
                        from = %other.instance,
                        to = %instance.name,
                        "domain taken over (installed with --take-over)"
                    );
                    routes.insert(domain, Arc::clone(&route));
                    continue;
                }
                return Err(SnapshotError::DomainClaimed {
                    domain,
                    first: other.instance.clone(),
                    second: instance.name.clone(),
                });
            }
            routes.insert(domain, Arc::clone(&route));
        }
    }

    let permissions = PermissionSet::compile(input.rules)?;
    Ok(Snapshot {
        version: input.version,
        gateways,
        routes,
        permissions,
    })
}

#[cfg(test)]
mod tests;
