//! Watching `<data>/connectors/`: listing it, the signature that identifies
//! a file version without reading it, and the poller thread. What a change
//! means is `decide`'s; applying it is `apply`'s.

use std::collections::{BTreeMap, BTreeSet};
use std::io::ErrorKind;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use cap_std::fs::{Dir, MetadataExt as _};
use tf_connector_host::metadata::sha256_hex;

use super::decide::{Observation, Step, decide};
use super::{Refused, Service};

/// How often the watcher lists `<data>/connectors/`.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// What identifies one version of a file without reading it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Sig {
    len: u64,
    mtime_ns: i128,
    ino: u64,
    pub(super) uid: u32,
}

#[cfg(test)]
impl Sig {
    /// A distinct signature per `n`.
    pub(super) fn for_test(n: u64) -> Self {
        Self {
            len: n,
            mtime_ns: 0,
            ino: n,
            uid: 0,
        }
    }
}

/// How a scan treats files that changed since the last poll.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scan {
    /// Apply every change now (start-up, `tf connector list` without a gateway).
    Immediate,
    /// Apply a change only once it was seen unchanged on two polls.
    Settled,
}

/// The connector name a file must declare: its stem.
pub(super) fn stem(file: &str) -> Option<&str> {
    file.strip_suffix(".wasm")
        .filter(|s| !s.is_empty() && !s.starts_with('.'))
}

pub(super) fn sig(meta: &cap_std::fs::Metadata) -> Sig {
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

impl Service {
    /// Lists `<data>/connectors/` and applies what changed. Called by the
    /// watcher every [`POLL_INTERVAL`] and once at start.
    pub fn sync_components(&self, scan: Scan) {
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
                let step = decide(&state.known(), Observation::Listed(*s, scan));
                state.observed = Some(*s);
                if step == Step::Read {
                    due.push((file.clone(), Some(*s)));
                }
            }
            for (file, state) in &comps.files {
                if !listed.contains_key(file)
                    && decide(&state.known(), Observation::Missing) == Step::Remove
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
            match decide(&state.known(), Observation::Read(&sha)) {
                Step::AlreadyLoaded => {
                    state.refused = None;
                    state.applied = Some(s);
                    return;
                }
                Step::AlreadyRefused => {
                    state.applied = Some(s);
                    return;
                }
                _ => {}
            }
        }
        let result = self.load_component(file, &bytes, &sha, actor);
        if result.is_ok() {
            super::apply::keep_last_good(dir, file, &bytes);
        }
        if result.is_err() {
            let step = {
                let comps = self.lock_components();
                let state = comps.files.get(file).cloned().unwrap_or_default();
                decide(&state.known(), Observation::Refused)
            };
            if step == Step::RestoreLastGood {
                self.restore_last_good(dir, file);
                // Restoring rewrote the record; keep the refusal on it.
                if let Some(mut record) = self.component_record(file) {
                    record.refused_sha256 = Some(sha.clone());
                    if let Err(e) = self.store.put_component(file, Some(&record)) {
                        tracing::error!(file, error = %e, "recording the refusal failed");
                    }
                }
            }
        }
        let mut comps = self.lock_components();
        let state = comps.files.entry(file.to_owned()).or_default();
        state.applied = Some(s);
        if let Err(reason) = result {
            state.refused = Some(Refused {
                sha256: sha,
                reason,
            });
        }
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
