//! `tf connector install` and `uninstall`: the CLI's way into
//! `<data>/connectors/`. An install loads and applies the component through
//! the same path as the watcher (`apply`), then writes the file (temp file,
//! then rename) so the watcher finds it applied. It never applies a
//! component the watcher would refuse.

use std::io::ErrorKind;

use tf_admin::ControlError;
use tf_admin::api::ComponentInfo;
use tf_connector_host::metadata::sha256_hex;
use tf_core::{ConnectorEvent, ConnectorEventKind};

use super::Service;
use super::apply::keep_last_good;
use super::watch::sig;
use crate::datadir::replace_file;
use crate::service::write_err;

impl Service {
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
        let Some(loader) = &self.loader else {
            return Err(ControlError::Internal(
                "this process has no connector engine".into(),
            ));
        };
        // Compile and self-test once; a refused component is reported, not written.
        let sha = sha256_hex(bytes);
        let component = match loader.load(bytes) {
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
        let file = format!("{}.wasm", component.descriptor.name);
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
        if let Err(reason) = self.apply_component(&file, component, &sha, actor) {
            if let Err(e) = self.store.put_component(&file, before.as_ref()) {
                tracing::error!(error = %e, "restoring the component record failed");
            }
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
}
