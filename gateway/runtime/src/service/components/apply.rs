//! Applying a component: the one path every loaded component takes to
//! serve, whether the watcher found it or `tf connector install` sent it.
//!
//! It checks the component against what serves (its file name, a
//! built-in's name, instance names, and domains through the snapshot
//! build), swaps in the snapshot that serves it, records it and audits the
//! change; or refuses it with a typed [`Refusal`], audited once per content,
//! and what served before keeps serving. It also keeps `.last-good/` and
//! applies removals. It never reads the directory listing or decides when
//! a file is ready (`watch`, `decide`).

use std::io::ErrorKind;
use std::sync::Arc;

use cap_std::fs::Dir;
use tf_core::{ConnectorEvent, ConnectorEventKind};
use tf_store::ComponentRecord;

use super::watch::stem;
use super::{Loaded, Service, now_ms};
use crate::datadir::replace_file;
use crate::loader::{LoadFailure, LoadedComponent};
use crate::snapshot::{Kind, SnapshotError};

/// Copies of the last version of each file that loaded, so a refused file
/// found at start does not leave its domains unserved: `connectors/.last-good/`.
pub(super) const LAST_GOOD: &str = ".last-good";

/// Why a component does not serve.
#[derive(Clone, Debug, thiserror::Error)]
pub enum Refusal {
    /// This process has no connector engine.
    #[error("no connector engine in this process")]
    NoEngine,
    /// It did not compile, has an invalid descriptor, or failed its fixtures.
    #[error(transparent)]
    Load(#[from] LoadFailure),
    /// The file name is not `<name>.wasm`.
    #[error("not a .wasm file name")]
    NotAComponentName,
    /// The component declares another name than its file's.
    #[error(
        "the component declares connector name {declared:?} but the file is {file}; name it {declared}.wasm"
    )]
    NameMismatch { declared: String, file: String },
    /// It would replace a built-in without `--take-over`.
    #[error(
        "{name:?} is a built-in connector; install with `tf connector install --take-over` to replace it"
    )]
    BuiltIn { name: String },
    /// An instance of another kind has its name.
    #[error(
        "a connector instance named {name:?} (kind {kind}) already exists; remove it first (`tf connector remove {name}`)"
    )]
    InstanceExists { name: String, kind: String },
    /// The configuration could not be read to check it.
    #[error("reading the configuration: {0}")]
    ReadConfig(Arc<tf_store::ReadError>),
    /// The snapshot that would serve it is invalid (e.g. another instance
    /// claims one of its domains).
    #[error("{}", crate::error_chain(.0.as_ref()))]
    Snapshot(Arc<SnapshotError>),
}

/// Keeps `bytes` as the last good version of `file` (best effort).
pub(super) fn keep_last_good(dir: &Dir, file: &str, bytes: &[u8]) {
    let kept = match dir.create_dir(LAST_GOOD) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
    .and_then(|()| dir.open_dir(LAST_GOOD))
    .and_then(|d| replace_file(&d, file, bytes, 0o644));
    if let Err(e) = kept {
        tracing::warn!(file, error = %e, "keeping a copy of the loaded component failed");
    }
}

impl Service {
    /// Loads (compiles and self-tests) `bytes` for `file`, then
    /// [`Service::apply_component`]. Write lock held. A refusal is already
    /// logged and audited; nothing changed.
    pub(super) fn load_component(
        &self,
        file: &str,
        bytes: &[u8],
        sha: &str,
        actor: &str,
    ) -> Result<Loaded, Refusal> {
        let Some(loader) = &self.loader else {
            return Err(self.refuse(file, sha, actor, None, Refusal::NoEngine));
        };
        let component = loader
            .load(bytes)
            .map_err(|e| self.refuse(file, sha, actor, None, Refusal::Load(e)))?;
        self.apply_component(file, component, sha, actor)
    }

    /// Checks a loaded component against what serves, then swaps in the
    /// snapshot that serves it, records it and audits the change. Write lock
    /// held. On refusal nothing changed.
    pub(super) fn apply_component(
        &self,
        file: &str,
        component: LoadedComponent,
        sha: &str,
        actor: &str,
    ) -> Result<Loaded, Refusal> {
        let d = Arc::clone(&component.descriptor);
        let declared = Some((d.name.as_str(), d.version.as_str()));
        let refuse = |declared: Option<(&str, &str)>, reason: Refusal| {
            self.refuse(file, sha, actor, declared, reason)
        };
        let Some(expected) = stem(file) else {
            return Err(refuse(None, Refusal::NotAComponentName));
        };
        if d.name != expected {
            return Err(refuse(
                declared,
                Refusal::NameMismatch {
                    declared: d.name.clone(),
                    file: file.to_owned(),
                },
            ));
        }
        let take_over = self.take_over(file);
        if self.builtins.contains_key(&d.name) && !take_over {
            return Err(refuse(
                declared,
                Refusal::BuiltIn {
                    name: d.name.clone(),
                },
            ));
        }
        if let Some(other) = self
            .store
            .connector(&d.name)
            .map_err(|e| refuse(declared, Refusal::ReadConfig(Arc::new(e))))?
            .filter(|i| i.kind != d.name)
        {
            return Err(refuse(
                declared,
                Refusal::InstanceExists {
                    name: other.name,
                    kind: other.kind,
                },
            ));
        }
        let loaded = Loaded {
            kind: Kind {
                descriptor: Arc::clone(&d),
                classifier: component.classifier,
            },
            sha256: sha.to_owned(),
            sdk: component.sdk,
            fixtures: component.fixtures_passed,
        };
        let previous = {
            let mut comps = self.lock_components();
            let state = comps.files.entry(file.to_owned()).or_default();
            state.loaded.replace(loaded.clone())
        };
        if let Err(e) = self.apply() {
            let mut comps = self.lock_components();
            let state = comps.files.entry(file.to_owned()).or_default();
            state.loaded = previous;
            drop(comps);
            return Err(refuse(declared, Refusal::Snapshot(Arc::new(e))));
        }
        {
            let mut comps = self.lock_components();
            let state = comps.files.entry(file.to_owned()).or_default();
            state.refused = None;
            state.changed_ms = now_ms();
        }
        let record = ComponentRecord {
            name: Some(d.name.clone()),
            version: Some(d.version.clone()),
            sha256: Some(sha.to_owned()),
            take_over,
            refused_sha256: None,
        };
        let known = self.component_record(file);
        if let Err(e) = self.store.put_component(file, Some(&record)) {
            tracing::error!(file, error = %e, "recording the loaded component failed");
        }
        // Across restarts, the stored record tells a start-up load of an
        // unchanged file (no event) from a change made while stopped.
        let unchanged = known.as_ref().and_then(|k| k.sha256.as_deref()) == Some(sha);
        if previous.is_some() || !unchanged {
            let kind = if previous.is_some() || known.is_some_and(|k| k.sha256.is_some()) {
                ConnectorEventKind::Replaced
            } else {
                ConnectorEventKind::Installed
            };
            self.record_event(ConnectorEvent {
                kind,
                file: file.to_owned(),
                name: Some(d.name.clone()),
                version: Some(d.version.clone()),
                sha256: Some(sha.to_owned()),
                actor: actor.to_owned(),
                error: None,
            });
        }
        Ok(loaded)
    }

    /// Records (once per content: the store's record remembers what was
    /// audited) and returns why `file` was refused.
    fn refuse(
        &self,
        file: &str,
        sha: &str,
        actor: &str,
        declared: Option<(&str, &str)>,
        reason: Refusal,
    ) -> Refusal {
        let mut record = self.component_record(file).unwrap_or_default();
        if record.refused_sha256.as_deref() == Some(sha) {
            // Already refused and audited (by this or another process).
            tracing::debug!(file, error = %reason, "component still refused");
        } else {
            record.refused_sha256 = Some(sha.to_owned());
            if let Err(e) = self.store.put_component(file, Some(&record)) {
                tracing::error!(file, error = %e, "recording the refusal failed");
            }
            self.record_event(ConnectorEvent {
                kind: ConnectorEventKind::Refused,
                file: file.to_owned(),
                name: declared.map(|(n, _)| n.to_owned()),
                version: declared.map(|(_, v)| v.to_owned()),
                sha256: Some(sha.to_owned()),
                actor: actor.to_owned(),
                error: Some(reason.to_string()),
            });
        }
        let mut comps = self.lock_components();
        comps.files.entry(file.to_owned()).or_default().changed_ms = now_ms();
        reason
    }

    /// Loads `.last-good/<file>` if it is the version the store says was
    /// serving. Write lock held.
    pub(super) fn restore_last_good(&self, dir: &Dir, file: &str) {
        let Ok(bytes) = dir.read(format!("{LAST_GOOD}/{file}")) else {
            return;
        };
        let sha = tf_connector_host::metadata::sha256_hex(&bytes);
        let recorded = self.component_record(file).and_then(|r| r.sha256);
        if recorded.as_deref() != Some(sha.as_str()) {
            return;
        }
        match self.load_component(file, &bytes, &sha, "restored the last version that loaded") {
            Ok(_) => tracing::info!(
                file,
                sha256 = %sha,
                "the file in connectors/ is refused; serving the last version that loaded"
            ),
            Err(e) => {
                tracing::warn!(file, error = %e, "the last version that loaded no longer loads")
            }
        }
    }

    /// Stops serving `file` (write lock held).
    pub(super) fn apply_removal(&self, file: &str, actor: &str) {
        if let Some(dir) = &self.connectors_dir {
            match dir.remove_file(format!("{LAST_GOOD}/{file}")) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => tracing::warn!(file, error = %e, "removing the kept copy failed"),
            }
        }
        let removed = {
            let mut comps = self.lock_components();
            comps.files.remove(file).and_then(|s| s.loaded)
        };
        if let Err(e) = self.refresh() {
            tracing::error!(file, error = %e, "rebuilding the configuration after a removal failed");
        }
        let record = self.component_record(file);
        if let Err(e) = self.store.put_component(file, None) {
            tracing::error!(file, error = %e, "forgetting the removed component failed");
        }
        if removed.is_none() && record.as_ref().is_none_or(|r| r.sha256.is_none()) {
            return;
        }
        self.record_event(ConnectorEvent {
            kind: ConnectorEventKind::Removed,
            file: file.to_owned(),
            name: removed
                .as_ref()
                .map(|l| l.kind.descriptor.name.clone())
                .or_else(|| record.as_ref().and_then(|r| r.name.clone())),
            version: removed
                .as_ref()
                .map(|l| l.kind.descriptor.version.clone())
                .or_else(|| record.as_ref().and_then(|r| r.version.clone())),
            sha256: removed
                .map(|l| l.sha256)
                .or_else(|| record.and_then(|r| r.sha256)),
            actor: actor.to_owned(),
            error: None,
        });
    }
}
