//! Builds the proxy's immutable [`Snapshot`] from stored configuration and
//! the loaded connector kinds. Pure apart from the credential callback
//! (which the service points at the vault), so it is tested with fakes.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use anyhow::{Context, bail};
use tf_core::{
    Classifier, Descriptor, GatewayEntry, Injector, PermissionSet, Placement, ReadOnlyIndex, Route,
    Rule, Snapshot,
};

/// A loaded connector (one kind), by its descriptor name.
#[derive(Clone)]
pub(crate) struct Kind {
    pub(crate) descriptor: Arc<Descriptor>,
    pub(crate) classifier: Arc<dyn Classifier>,
}

/// A configured instance, as the builder needs it.
#[derive(Debug, Clone)]
pub(crate) struct InstanceConfig {
    pub(crate) name: String,
    pub(crate) kind: String,
    pub(crate) domains: Vec<String>,
    pub(crate) placement: Option<Placement>,
    /// Allowed (by `tf connector install --take-over`) to take domains that
    /// another instance serves.
    pub(crate) take_over: bool,
}

/// The domains an instance serves: its own, else its connector's.
pub(crate) fn effective_domains(domains: &[String], descriptor: &Descriptor) -> Vec<String> {
    if domains.is_empty() {
        descriptor.domains.clone()
    } else {
        domains.to_vec()
    }
}

/// The placement an instance uses: its override, else its connector's.
pub(crate) fn effective_placement(
    placement: Option<&Placement>,
    descriptor: &Descriptor,
) -> Placement {
    placement
        .cloned()
        .unwrap_or_else(|| descriptor.placement.clone())
}

/// The credential of one instance, as the snapshot serves it.
pub(crate) enum Credential {
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
pub(crate) fn current_binding(instance: &str, kind: &str, domains: &[String]) -> tf_vault::Binding {
    tf_vault::Binding::new(instance, kind, domains)
}

/// The stored binding of a credential (without decrypting), when known:
/// its meta record says what it was sealed for and its bytes are in the
/// current format.
pub(crate) fn stored_binding(
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
pub(crate) fn credential_serves(
    current: &tf_vault::Binding,
    meta: Option<&tf_store::CredentialMeta>,
    sealed: &[u8],
) -> bool {
    stored_binding(current.instance(), meta, sealed).as_ref() == Some(current)
}

/// The [`tf_store::CredentialMeta`] recording `binding`.
pub(crate) fn meta_of(
    binding: &tf_vault::Binding,
    digest: Option<String>,
) -> tf_store::CredentialMeta {
    tf_store::CredentialMeta {
        kind: binding.kind().to_owned(),
        domains: binding.domains().to_vec(),
        port: binding.port(),
        digest,
    }
}

/// Everything a snapshot is made of.
pub(crate) struct SnapshotInput<'a> {
    pub(crate) version: u64,
    /// (name, proxy token) per gateway.
    pub(crate) gateways: Vec<(String, String)>,
    pub(crate) instances: &'a [InstanceConfig],
    pub(crate) kinds: &'a BTreeMap<String, Kind>,
    pub(crate) rules: Vec<Rule>,
    /// Warn about instances whose kind is not loaded (off while the
    /// components directory is first loaded, when that is expected).
    pub(crate) warn_missing_kinds: bool,
}

/// Builds the snapshot. `credential` returns the state of an instance's
/// stored secret, given its placement and the domains it serves now. Fails (and the caller keeps the
/// previous snapshot) on an invalid rule, a domain claimed twice, or a
/// credential that cannot be prepared: never a partial configuration.
pub(crate) fn build(
    input: SnapshotInput<'_>,
    mut credential: impl FnMut(&InstanceConfig, &Placement, &[String]) -> anyhow::Result<Credential>,
) -> anyhow::Result<Snapshot> {
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
        let credential = credential(instance, &placement, &domains).with_context(|| {
            format!(
                "preparing the credential of connector instance {:?}",
                instance.name
            )
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
                bail!(
                    "domain {domain} is claimed by both {:?} and {:?}; remove one (`tf connector remove` for an instance, `tf connector uninstall` for a component), or install the component with `--take-over`",
                    other.instance,
                    instance.name
                );
            }
            routes.insert(domain, Arc::clone(&route));
        }
    }

    let permissions =
        PermissionSet::compile(input.rules).context("a stored permission rule is invalid")?;
    Ok(Snapshot {
        version: input.version,
        gateways,
        routes,
        permissions,
    })
}

#[cfg(test)]
mod tests;
