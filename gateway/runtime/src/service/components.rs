//! Third-party connector components in `<data>/connectors/`: hot-loading,
//! installs and removals.
//!
//! Every `<name>.wasm` there is a connector kind named `<name>` (the
//! component must declare that name). A loaded kind with no configured
//! instance serves its own domains through an implicit instance of the same
//! name, with no credential; permissions still deny everything until a rule
//! allows it.
//!
//! A change is applied only whole: the new component is compiled, its
//! embedded fixtures pass, it does not collide with what serves (a
//! built-in's name or another instance's domains, unless installed with
//! `--take-over`), and the snapshot built with it is valid; then the new
//! snapshot is swapped in atomically. Requests in flight finish on the
//! snapshot (and component) they started with. Otherwise the file is
//! refused (a typed [`Refusal`]): the reason goes to the log, the audit
//! trail and `tf connector list`, and what served before keeps serving.
//!
//! # Layout
//!
//! - `watch.rs`: listing the directory, file signatures, the poller thread
//!   (a file is read only once its size, mtime and inode held across two
//!   polls; `tf connector install` writes a temp file and renames it).
//! - `decide.rs`: what an observation means (pure, tested as a table).
//! - `apply.rs`: the one path that applies a loaded component (used by the
//!   watcher and by installs), refusals, `.last-good/`, removals.
//! - `install.rs`: `tf connector install` / `uninstall`.
//!
//! Nothing here compiles WebAssembly: components load through the
//! service's [`crate::ComponentLoader`].

mod apply;
mod decide;
mod install;
mod watch;

use std::collections::{BTreeMap, BTreeSet};

use tf_admin::api::ComponentInfo;
use tf_core::{AuditEntry, ConnectorEvent, ConnectorEventKind, RequestId};
use tf_store::ComponentRecord;

use super::{Service, now_ms};
use crate::snapshot::Kind;

pub use apply::Refusal;
pub use watch::Scan;
pub(crate) use watch::Watcher;

/// A component that loaded and serves.
#[derive(Clone)]
pub(crate) struct Loaded {
    pub(crate) kind: Kind,
    pub(crate) sha256: String,
    pub(crate) sdk: Option<String>,
    pub(crate) fixtures: usize,
}

/// The latest version of a file that was refused, and why. Kept once, here;
/// the store's `ComponentRecord::refused_sha256` only remembers that it was
/// audited, across processes and restarts.
#[derive(Clone, Debug)]
pub(crate) struct Refused {
    pub(crate) sha256: String,
    pub(crate) reason: Refusal,
}

/// What the gateway knows about one file.
#[derive(Clone, Default)]
pub(crate) struct FileState {
    /// The signature seen on the last poll.
    observed: Option<watch::Sig>,
    /// The signature last applied (loaded or refused).
    applied: Option<watch::Sig>,
    /// What serves from this file now.
    pub(crate) loaded: Option<Loaded>,
    /// Set while the newest version of the file is refused.
    pub(crate) refused: Option<Refused>,
    pub(crate) changed_ms: u64,
}

impl FileState {
    fn known(&self) -> decide::Known<'_> {
        decide::Known {
            observed: self.observed,
            applied: self.applied,
            loaded_sha: self.loaded.as_ref().map(|l| l.sha256.as_str()),
            refused_sha: self.refused.as_ref().map(|r| r.sha256.as_str()),
        }
    }
}

/// The component files and the kinds they add.
#[derive(Default)]
pub(crate) struct Components {
    pub(crate) files: BTreeMap<String, FileState>,
}

impl Components {
    /// Built-ins overlaid with the loaded components (by descriptor name).
    pub(crate) fn kinds(&self, builtins: &BTreeMap<String, Kind>) -> BTreeMap<String, Kind> {
        let mut kinds = builtins.clone();
        for state in self.files.values() {
            if let Some(l) = &state.loaded {
                kinds.insert(l.kind.descriptor.name.clone(), l.kind.clone());
            }
        }
        kinds
    }

    /// Kind names that come from files.
    pub(crate) fn file_kinds(&self) -> BTreeSet<String> {
        self.files
            .values()
            .filter_map(|s| s.loaded.as_ref())
            .map(|l| l.kind.descriptor.name.clone())
            .collect()
    }
}

fn event_entry(event: ConnectorEvent) -> AuditEntry {
    let now = now_ms();
    AuditEntry::connector_event(now, RequestId::new(now, rand::random()), event)
}

impl Service {
    /// Records an administrative event durably, and logs it.
    pub(super) fn record_event(&self, event: ConnectorEvent) {
        match event.kind {
            ConnectorEventKind::Refused => tracing::warn!(
                file = %event.file,
                actor = %event.actor,
                error = event.error.as_deref().unwrap_or(""),
                "connector component refused; what served before keeps serving"
            ),
            kind => tracing::info!(
                file = %event.file,
                connector = event.name.as_deref().unwrap_or("-"),
                version = event.version.as_deref().unwrap_or("-"),
                sha256 = event.sha256.as_deref().unwrap_or("-"),
                actor = %event.actor,
                "connector {}", kind.as_str()
            ),
        }
        if let Err(e) = self.store.append_audit(&event_entry(event)) {
            tracing::error!(error = %e, "writing the connector event to the audit trail failed");
        }
    }

    fn component_record(&self, file: &str) -> Option<ComponentRecord> {
        self.store.component(file).ok()?
    }

    fn take_over(&self, file: &str) -> bool {
        self.component_record(file).is_some_and(|r| r.take_over)
    }

    /// What `tf connector list` shows for one file.
    pub(crate) fn component_info(&self, file: &str) -> Option<ComponentInfo> {
        let comps = self.lock_components();
        let state = comps.files.get(file)?;
        Some(info(file, state))
    }

    /// What `tf connector list` shows for every file.
    pub fn component_infos(&self) -> Vec<ComponentInfo> {
        let comps = self.lock_components();
        comps.files.iter().map(|(f, s)| info(f, s)).collect()
    }
}

fn info(file: &str, state: &FileState) -> ComponentInfo {
    let l = state.loaded.as_ref();
    let r = state.refused.as_ref();
    ComponentInfo {
        file: file.to_owned(),
        state: match (l, r) {
            (Some(_), None) => "loaded",
            (Some(_), Some(_)) => "loaded (newer file refused)",
            (None, Some(_)) => "refused",
            (None, None) => "pending",
        }
        .to_owned(),
        name: l.map(|l| l.kind.descriptor.name.clone()),
        version: l.map(|l| l.kind.descriptor.version.clone()),
        sdk: l.and_then(|l| l.sdk.clone()),
        domains: l.map_or_else(Vec::new, |l| l.kind.descriptor.domains.clone()),
        actions: l.map_or(0, |l| l.kind.descriptor.actions.len()),
        fixtures: l.map_or(0, |l| l.fixtures),
        sha256: l
            .map(|l| l.sha256.clone())
            .or_else(|| r.map(|r| r.sha256.clone())),
        last_error: r.map(|r| r.reason.to_string()),
        changed_ms: state.changed_ms,
    }
}

#[cfg(test)]
mod tests;
