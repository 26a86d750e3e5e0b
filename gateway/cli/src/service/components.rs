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
//! refused: the error goes to the log, the audit trail and `tf connector
//! list`, and what served before keeps serving.
//!
//! The watcher polls the directory (every [`POLL_INTERVAL`]) and applies a
//! file only once its size, mtime and inode were the same on two
//! consecutive polls, so a file being written in place (an editor, `cp`) is
//! not read half-way; `tf connector install` writes a temp file and renames
//! it, so the file appears whole.

use std::collections::{BTreeMap, BTreeSet};
use std::io::ErrorKind;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use cap_std::fs::{Dir, MetadataExt as _};
use tf_admin::ControlError;
use tf_admin::api::ComponentInfo;
use tf_core::{AuditEntry, ConnectorEvent, ConnectorEventKind, RequestId};
use tf_store::ComponentRecord;

use tf_connector_host::metadata::sha256_hex;

use super::{Service, now_ms, write_err};
use crate::datadir::replace_file;
use crate::snapshot::Kind;

/// Copies of the last version of each file that loaded, so a refused file
/// found at start does not leave its domains unserved: `connectors/.last-good/`.
const LAST_GOOD: &str = ".last-good";

/// Keeps `bytes` as the last good version of `file` (best effort).
fn keep_last_good(dir: &Dir, file: &str, bytes: &[u8]) {
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

/// How often the watcher lists `<data>/connectors/`.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// What identifies one version of a file without reading it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Sig {
    len: u64,
    mtime_ns: i128,
    ino: u64,
    uid: u32,
}

/// A component that loaded and serves.
#[derive(Clone)]
pub(crate) struct Loaded {
    pub(crate) kind: Kind,
    pub(crate) sha256: String,
    pub(crate) sdk: Option<String>,
    pub(crate) fixtures: usize,
}

/// What the gateway knows about one file.
#[derive(Clone, Default)]
pub(crate) struct FileState {
    /// The signature seen on the last poll.
    observed: Option<Sig>,
    /// The signature last applied (loaded or refused).
    applied: Option<Sig>,
    /// What serves from this file now.
    pub(crate) loaded: Option<Loaded>,
    /// Why the latest version was refused (cleared by a successful load).
    pub(crate) last_error: Option<String>,
    /// SHA-256 of the refused bytes.
    refused_sha: Option<String>,
    pub(crate) changed_ms: u64,
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

/// The connector name a file must declare: its stem.
fn stem(file: &str) -> Option<&str> {
    file.strip_suffix(".wasm")
        .filter(|s| !s.is_empty() && !s.starts_with('.'))
}

fn sig(meta: &cap_std::fs::Metadata) -> Sig {
    let mtime_ns = meta
        .modified()
        .ok()
        .and_then(|t| t.into_std().duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as i128);
    Sig {
        len: meta.len(),
        mtime_ns,
        ino: meta.ino(),
        uid: meta.uid(),
    }
}

/// `*.wasm` regular files of the directory with their signatures.
fn list(dir: &Dir) -> std::io::Result<BTreeMap<String, Sig>> {
    let mut out = BTreeMap::new();
    for entry in dir.entries()? {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if stem(&name).is_none() {
            continue;
        }
        let meta = match dir.symlink_metadata(&name) {
            Ok(m) => m,
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        if meta.is_file() {
            out.insert(name, sig(&meta));
        }
    }
    Ok(out)
}

/// How a scan treats files that changed since the last poll.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scan {
    /// Apply every change now (start-up, `tf connector list` without a gateway).
    Immediate,
    /// Apply a change only once it was seen unchanged on two polls.
    Settled,
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

    /// Lists `<data>/connectors/` and applies what changed. Called by the
    /// watcher every [`POLL_INTERVAL`] and once at start.
    pub(crate) fn sync_components(&self, scan: Scan) {
        let Some(dir) = &self.connectors_dir else {
            return;
        };
        // List under the write lock: an install in progress must finish
        // (and its file exist) before this scan looks.
        let Ok(_guard) = self.lock() else { return };
        let listed = match list(dir) {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "listing the connectors directory failed; will retry");
                return;
            }
        };
        let mut due: Vec<(String, Option<Sig>)> = Vec::new();
        {
            let mut comps = self.lock_components();
            for (file, s) in &listed {
                let state = comps.files.entry(file.clone()).or_default();
                let settled = scan == Scan::Immediate || state.observed == Some(*s);
                state.observed = Some(*s);
                if settled && state.applied != Some(*s) {
                    due.push((file.clone(), Some(*s)));
                }
            }
            for (file, state) in &comps.files {
                if !listed.contains_key(file) && (state.loaded.is_some() || state.applied.is_some())
                {
                    due.push((file.clone(), None));
                }
            }
        }
        for (file, s) in due {
            match s {
                Some(s) => {
                    let actor = format!("file owner uid {}", s.uid);
                    self.apply_file(dir, &file, s, &actor);
                }
                None => self.apply_removal(&file, "file removed from the connectors directory"),
            }
        }
    }

    /// Reads and applies one file version (write lock held).
    fn apply_file(&self, dir: &Dir, file: &str, s: Sig, actor: &str) {
        let bytes = match dir.read(file) {
            Ok(b) => b,
            Err(e) if e.kind() == ErrorKind::NotFound => return,
            Err(e) => {
                tracing::warn!(file, error = %e, "reading a connector component failed; will retry");
                return;
            }
        };
        let sha = sha256_hex(&bytes);
        {
            let mut comps = self.lock_components();
            let state = comps.files.entry(file.to_owned()).or_default();
            let same_loaded = state.loaded.as_ref().is_some_and(|l| l.sha256 == sha);
            let same_refused = state.refused_sha.as_deref() == Some(sha.as_str());
            if same_loaded {
                // The serving bytes are back (e.g. a bad edit was undone).
                state.last_error = None;
                state.refused_sha = None;
            }
            if same_loaded || same_refused {
                state.applied = Some(s);
                return;
            }
        }
        let result = self.load_and_swap(file, &bytes, &sha, actor);
        if result.is_ok() {
            keep_last_good(dir, file, &bytes);
        }
        let nothing_serves = self
            .lock_components()
            .files
            .get(file)
            .is_none_or(|st| st.loaded.is_none());
        if result.is_err() && nothing_serves {
            // E.g. a bad file was dropped while no gateway ran: serve the
            // last version that loaded, as a running gateway would have.
            self.restore_last_good(dir, file);
            // Restoring rewrote the record; keep the refusal on it.
            if let Some(mut record) = self.component_record(file) {
                record.refused_sha256 = Some(sha.clone());
                if let Err(e) = self.store.put_component(file, Some(&record)) {
                    tracing::error!(file, error = %e, "recording the refusal failed");
                }
            }
        }
        let mut comps = self.lock_components();
        let state = comps.files.entry(file.to_owned()).or_default();
        state.applied = Some(s);
        if let Err(e) = result {
            state.refused_sha = Some(sha);
            state.last_error = Some(e);
        }
    }

    /// Loads `.last-good/<file>` if it is the version the store says was
    /// serving. Write lock held.
    fn restore_last_good(&self, dir: &Dir, file: &str) {
        let Ok(bytes) = dir.read(format!("{LAST_GOOD}/{file}")) else {
            return;
        };
        let sha = sha256_hex(&bytes);
        let recorded = self.component_record(file).and_then(|r| r.sha256);
        if recorded.as_deref() != Some(sha.as_str()) {
            return;
        }
        match self.load_and_swap(file, &bytes, &sha, "restored the last version that loaded") {
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

    /// Records (once per content) and returns why `file` was refused.
    fn refuse(
        &self,
        file: &str,
        sha: &str,
        actor: &str,
        declared: Option<(&str, &str)>,
        error: String,
    ) -> String {
        let mut record = self.component_record(file).unwrap_or_default();
        let already = record.refused_sha256.as_deref() == Some(sha);
        if already {
            // Already refused and audited (by this or another process).
            tracing::debug!(file, error, "component still refused");
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
                error: Some(error.clone()),
            });
        }
        let mut comps = self.lock_components();
        comps.files.entry(file.to_owned()).or_default().changed_ms = now_ms();
        error
    }

    /// Compiles and self-tests one component for `file`, then
    /// [`Service::swap_in`]. Write lock held. On refusal returns the reason
    /// (already logged and audited); nothing changed.
    fn load_and_swap(
        &self,
        file: &str,
        bytes: &[u8],
        sha: &str,
        actor: &str,
    ) -> Result<Loaded, String> {
        let Some(host) = &self.host else {
            let error = "no connector engine in this process".to_owned();
            return Err(self.refuse(file, sha, actor, None, error));
        };
        let connector = host
            .load(bytes)
            .map_err(|e| self.refuse(file, sha, actor, None, e.to_string()))?;
        self.swap_in(file, connector, sha, actor)
    }

    /// Checks a loaded component against what serves (its file name, a
    /// built-in's name, instance names, domains via the snapshot build),
    /// then swaps in the snapshot that serves it. Write lock held.
    fn swap_in(
        &self,
        file: &str,
        connector: Arc<tf_connector_host::Connector>,
        sha: &str,
        actor: &str,
    ) -> Result<Loaded, String> {
        let refuse = |declared: Option<(&str, &str)>, error: String| {
            self.refuse(file, sha, actor, declared, error)
        };
        let Some(expected) = stem(file) else {
            return Err(refuse(None, "not a .wasm file name".into()));
        };
        let d = Arc::clone(connector.descriptor());
        let declared = Some((d.name.as_str(), d.version.as_str()));
        if d.name != expected {
            return Err(refuse(
                declared,
                format!(
                    "the component declares connector name {:?} but the file is {file}; name it {}.wasm",
                    d.name, d.name
                ),
            ));
        }
        let take_over = self.take_over(file);
        if self.builtins.contains_key(&d.name) && !take_over {
            return Err(refuse(
                declared,
                format!(
                    "{:?} is a built-in connector; install with `tf connector install --take-over` to replace it",
                    d.name
                ),
            ));
        }
        if let Some(other) = self
            .store
            .connector(&d.name)
            .map_err(|e| refuse(declared, format!("reading the configuration: {e}")))?
            .filter(|i| i.kind != d.name)
        {
            return Err(refuse(
                declared,
                format!(
                    "a connector instance named {:?} (kind {}) already exists; remove it first (`tf connector remove {}`)",
                    other.name, other.kind, other.name
                ),
            ));
        }
        let loaded = Loaded {
            kind: Kind {
                descriptor: Arc::clone(&d),
                classifier: Arc::clone(&connector) as Arc<dyn tf_core::Classifier>,
            },
            sha256: sha.to_owned(),
            sdk: connector.sdk().map(str::to_owned),
            fixtures: connector.fixtures_passed(),
        };
        let previous = {
            let mut comps = self.lock_components();
            let state = comps.files.entry(file.to_owned()).or_default();
            state.loaded.replace(loaded.clone())
        };
        if let Err(reason) = self.apply() {
            let mut comps = self.lock_components();
            let state = comps.files.entry(file.to_owned()).or_default();
            state.loaded = previous;
            drop(comps);
            return Err(refuse(declared, reason));
        }
        {
            let mut comps = self.lock_components();
            let state = comps.files.entry(file.to_owned()).or_default();
            state.last_error = None;
            state.refused_sha = None;
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

    /// Stops serving `file` (write lock held).
    fn apply_removal(&self, file: &str, actor: &str) {
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

    /// Files that were removed while no gateway ran: their records go, with
    /// an event. Called once at start, after the first scan.
    pub(crate) fn forget_vanished_components(&self) {
        let Ok(records) = self.store.components() else {
            return;
        };
        let Ok(_guard) = self.lock() else { return };
        let present: BTreeSet<String> = self.lock_components().files.keys().cloned().collect();
        for (file, _) in records.into_iter().filter(|(f, _)| !present.contains(f)) {
            self.apply_removal(&file, "file removed while no gateway ran");
        }
    }

    fn component_record(&self, file: &str) -> Option<ComponentRecord> {
        self.store.component(file).ok()?
    }

    fn take_over(&self, file: &str) -> bool {
        self.component_record(file).is_some_and(|r| r.take_over)
    }

    /// Installs a component: checks it like the watcher would, writes it to
    /// `<data>/connectors/<name>.wasm` (temp file, then rename) and swaps it
    /// in. The running gateway serves it when this returns.
    pub(crate) fn install_component(
        &self,
        bytes: &[u8],
        actor: &str,
        take_over: bool,
    ) -> Result<ComponentInfo, ControlError> {
        let Some(dir) = &self.connectors_dir else {
            return Err(ControlError::Internal(
                "this process has no connectors directory".into(),
            ));
        };
        let Some(host) = &self.host else {
            return Err(ControlError::Internal(
                "this process has no connector engine".into(),
            ));
        };
        // Compile and self-test once; a refused component is reported, not written.
        let sha = sha256_hex(bytes);
        let connector = match host.load(bytes) {
            Ok(c) => c,
            Err(e) => {
                self.record_event(ConnectorEvent {
                    kind: ConnectorEventKind::Refused,
                    file: "(tf connector install)".into(),
                    name: None,
                    version: None,
                    sha256: Some(sha),
                    actor: actor.to_owned(),
                    error: Some(e.to_string()),
                });
                return Err(ControlError::Invalid(format!("component refused: {e}")));
            }
        };
        let file = format!("{}.wasm", connector.descriptor().name);
        let _guard = self.lock()?;
        let serving = self
            .lock_components()
            .files
            .get(&file)
            .and_then(|s| s.loaded.as_ref())
            .is_some_and(|l| l.sha256 == sha);
        if serving && self.take_over(&file) == take_over && dir.exists(&file) {
            // Already installed, byte for byte: nothing changes, no event.
            return self
                .component_info(&file)
                .ok_or_else(|| ControlError::Internal("the installed component vanished".into()));
        }
        let before = self.component_record(&file);
        let mut record = before.clone().unwrap_or_default();
        record.take_over = take_over;
        // An explicit install is audited even if these bytes were refused before.
        record.refused_sha256 = None;
        self.store
            .put_component(&file, Some(&record))
            .map_err(write_err)?;
        let restore = || {
            if let Err(e) = self.store.put_component(&file, before.as_ref()) {
                tracing::error!(error = %e, "restoring the component record failed");
            }
        };
        {
            let mut comps = self.lock_components();
            let state = comps.files.entry(file.clone()).or_default();
            state.refused_sha = None;
        }
        if let Err(reason) = self.swap_in(&file, connector, &sha, actor) {
            restore();
            return Err(ControlError::Conflict(format!(
                "component refused: {reason}"
            )));
        }
        // Serving now; make the file match (the watcher then finds it applied).
        keep_last_good(dir, &file, bytes);
        let written = replace_file(dir, &file, bytes, 0o644).and_then(|()| dir.metadata(&file));
        let mut comps = self.lock_components();
        let state = comps.files.entry(file.clone()).or_default();
        match written {
            Ok(meta) => {
                state.observed = Some(sig(&meta));
                state.applied = state.observed;
            }
            Err(e) => {
                return Err(ControlError::Internal(format!(
                    "the component serves now but writing {file} failed ({e}); it will not survive a restart"
                )));
            }
        }
        drop(comps);
        self.component_info(&file)
            .ok_or_else(|| ControlError::Internal("the installed component vanished".into()))
    }

    /// Removes `<data>/connectors/<name>.wasm`; its domains are denied again.
    pub(crate) fn uninstall_component(&self, name: &str, actor: &str) -> Result<(), ControlError> {
        let Some(dir) = &self.connectors_dir else {
            return Err(ControlError::Internal(
                "this process has no connectors directory".into(),
            ));
        };
        let file = format!("{name}.wasm");
        if !tf_core::ids::is_connector_name(name) {
            return Err(ControlError::Invalid(format!(
                "{name:?} is not a connector name"
            )));
        }
        let _guard = self.lock()?;
        match dir.remove_file(&file) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Err(ControlError::NotFound(format!(
                    "no installed component {file}; see `tf connector list`"
                )));
            }
            Err(e) => {
                return Err(ControlError::Internal(format!("removing {file}: {e}")));
            }
        }
        self.apply_removal(&file, actor);
        Ok(())
    }

    /// What `tf connector list` shows for one file.
    pub(crate) fn component_info(&self, file: &str) -> Option<ComponentInfo> {
        let comps = self.lock_components();
        let state = comps.files.get(file)?;
        Some(info(file, state))
    }

    pub(crate) fn component_infos(&self) -> Vec<ComponentInfo> {
        let comps = self.lock_components();
        comps.files.iter().map(|(f, s)| info(f, s)).collect()
    }
}

fn info(file: &str, state: &FileState) -> ComponentInfo {
    let l = state.loaded.as_ref();
    ComponentInfo {
        file: file.to_owned(),
        state: match (l, &state.last_error) {
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
            .or_else(|| state.refused_sha.clone()),
        last_error: state.last_error.clone(),
        changed_ms: state.changed_ms,
    }
}

/// Runs [`Service::sync_components`] every [`POLL_INTERVAL`] on its own
/// thread until dropped.
pub(crate) struct Watcher {
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Watcher {
    pub(crate) fn start(service: Arc<Service>) -> std::io::Result<Self> {
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("tf-connector-watch".into())
            .spawn(move || {
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(POLL_INTERVAL)
                {
                    service.sync_components(Scan::Settled);
                }
            })?;
        Ok(Self {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_map_to_connector_names() {
        for (file, want) in [
            ("acme.wasm", Some("acme")),
            ("acme-v2.wasm", Some("acme-v2")),
            (".acme.wasm.tmp", None),
            (".acme.wasm", None),
            (".wasm", None),
            ("acme.wasm.bak", None),
            ("acme", None),
        ] {
            assert_eq!(stem(file), want, "{file}");
        }
    }
}
