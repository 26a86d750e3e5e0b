//! The data dir: opened once as a `cap_std::fs::Dir`; every file access goes
//! through that handle, by the fixed names in `docs/contracts.md`. No name
//! that comes from outside (a flag value, a connector file) ever builds a path.

use std::io::{ErrorKind, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use base64::Engine as _;
use cap_std::ambient_authority;
use cap_std::fs::{Dir, DirBuilder, DirBuilderExt, OpenOptions, OpenOptionsExt};
use serde::{Deserialize, Serialize};

pub(crate) const STORE: &str = "tameflare.redb";
pub(crate) const CA_PEM: &str = "ca.pem";
pub(crate) const CA_KEY: &str = "ca.key";
pub(crate) const MASTER_KEY: &str = "master.key";
pub(crate) const ADMIN_TOKEN: &str = "admin.token";
/// The Ed25519 key (PKCS#8 DER, 0600) the audit writer signs checkpoints
/// with. Kept beside, never inside, the database.
pub(crate) const AUDIT_KEY: &str = "audit-signing.key";
/// Its public key (64 hex characters, 0644), for `tf audit verify`.
pub(crate) const AUDIT_PUB: &str = "audit-signing.pub";
pub(crate) const RUNTIME: &str = "runtime.json";
/// The admin API's Unix socket for the CLI (0600, inside the 0700 data dir).
pub(crate) const ADMIN_SOCK: &str = "admin.sock";
pub(crate) const CA_BUNDLE: &str = "ca-bundle.pem";
pub(crate) const CONNECTORS: &str = "connectors";
pub(crate) const CACHE: &str = "cache";
/// Python start-up hook for agents (see `python/sitecustomize.py`).
pub(crate) const PYTHON_HOOKS: &str = "python";
const SITECUSTOMIZE: &str = include_str!("python/sitecustomize.py");

/// The env var that supplies the master key instead of `master.key`.
pub(crate) const MASTER_KEY_ENV: &str = "TF_MASTER_KEY";

/// `runtime.json`, written while a gateway serves this data dir.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RuntimeInfo {
    pub(crate) pid: u32,
    pub(crate) proxy: SocketAddr,
    pub(crate) admin: SocketAddr,
    pub(crate) version: String,
}

/// What `init` created (for its report).
#[derive(Debug, Default)]
pub(crate) struct InitReport {
    pub(crate) created: Vec<&'static str>,
}

/// The open data dir.
#[derive(Debug)]
pub(crate) struct DataDir {
    path: PathBuf,
    dir: Dir,
}

/// The data dir path: the flag/env value, else `~/.tameflare`.
pub(crate) fn resolve(flag: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(p) = flag {
        return Ok(p);
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .ok_or_else(|| anyhow!("HOME is not set; pass --data-dir DIR or set TF_DATA_DIR"))?;
    Ok(PathBuf::from(home).join(".tameflare"))
}

pub(crate) fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::fill(&mut buf[..]);
    hex::encode(buf)
}

/// A fresh random token (admin API, gateway proxy password).
pub(crate) fn new_token() -> String {
    random_hex(32)
}

/// Writes `name` in `dir` whole: a temp file beside it (`.NAME.tmp`,
/// created with `mode`, synced), renamed over the old one, so no reader
/// ever sees it half-written.
pub(crate) fn replace_file(
    dir: &Dir,
    name: &str,
    contents: &[u8],
    mode: u32,
) -> std::io::Result<()> {
    let tmp = format!(".{name}.tmp");
    match dir.remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true).mode(mode);
    let mut f = dir.open_with(&tmp, &opts)?;
    f.write_all(contents)?;
    f.sync_all()?;
    drop(f);
    dir.rename(&tmp, dir, name)
}

impl DataDir {
    /// Creates the directory (0700) if missing, then opens it once.
    pub(crate) fn open(path: &Path) -> anyhow::Result<Self> {
        if !path.exists() {
            let mut builder = std::fs::DirBuilder::new();
            builder.recursive(true);
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            builder
                .create(path)
                .with_context(|| format!("cannot create the data dir {}", path.display()))?;
        }
        let path = path
            .canonicalize()
            .with_context(|| format!("cannot resolve the data dir {}", path.display()))?;
        let dir = Dir::open_ambient_dir(&path, ambient_authority())
            .with_context(|| format!("cannot open the data dir {}", path.display()))?;
        Ok(Self { path, dir })
    }

    /// The absolute path of the data dir.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The absolute path of one of the fixed files (for agents' env vars).
    pub(crate) fn file_path(&self, fixed_name: &'static str) -> PathBuf {
        self.path.join(fixed_name)
    }

    fn exists(&self, name: &str) -> bool {
        self.dir.exists(name)
    }

    fn ensure_subdir(&self, name: &'static str, report: &mut InitReport) -> anyhow::Result<()> {
        if !self.dir.is_dir(name) {
            let mut b = DirBuilder::new();
            b.mode(0o700);
            self.dir
                .create_dir_with(name, &b)
                .with_context(|| format!("cannot create {}/{name}", self.path.display()))?;
            report.created.push(name);
        }
        Ok(())
    }

    /// Writes a new file with `mode`; fails if it exists.
    fn write_new(&self, name: &str, contents: &[u8], mode: u32) -> anyhow::Result<()> {
        let mut opts = OpenOptions::new();
        opts.write(true).create_new(true).mode(mode);
        let mut f = self
            .dir
            .open_with(name, &opts)
            .with_context(|| format!("cannot create {}/{name}", self.path.display()))?;
        f.write_all(contents)
            .and_then(|()| f.sync_all())
            .with_context(|| format!("cannot write {}/{name}", self.path.display()))
    }

    /// Replaces a file atomically (temp file, then rename).
    fn write_atomic(&self, name: &str, contents: &[u8], mode: u32) -> anyhow::Result<()> {
        replace_file(&self.dir, name, contents, mode)
            .with_context(|| format!("cannot replace {}/{name}", self.path.display()))
    }

    fn read_string(&self, name: &str) -> anyhow::Result<String> {
        self.dir
            .read_to_string(name)
            .with_context(|| format!("cannot read {}/{name}", self.path.display()))
    }

    /// Creates whatever is missing. Idempotent.
    pub(crate) fn init(&self) -> anyhow::Result<InitReport> {
        let mut report = InitReport::default();
        self.ensure_subdir(CONNECTORS, &mut report)?;
        self.ensure_subdir(CACHE, &mut report)?;
        self.ensure_subdir(PYTHON_HOOKS, &mut report)?;
        self.write_python_hook()?;

        let (has_cert, has_key) = (self.exists(CA_PEM), self.exists(CA_KEY));
        let mut new_ca = false;
        match (has_cert, has_key) {
            (true, true) => {}
            (false, false) => {
                let (_ca, pem) = tf_tls::CertificateAuthority::generate("TameFlare Local CA")
                    .context("cannot generate the local CA")?;
                self.write_new(CA_KEY, pem.key_pem.as_bytes(), 0o600)?;
                self.write_new(CA_PEM, pem.cert_pem.as_bytes(), 0o644)?;
                report.created.extend([CA_PEM, CA_KEY]);
                new_ca = true;
            }
            (true, false) | (false, true) => bail!(
                "{} has only one of ca.pem and ca.key; restore the missing file, or remove both to create a new CA (agents must then trust the new one)",
                self.path.display()
            ),
        }

        if std::env::var_os(MASTER_KEY_ENV).is_none() && !self.exists(MASTER_KEY) {
            let key = tf_vault::MasterKey::generate();
            self.write_new(MASTER_KEY, key.to_hex().as_bytes(), 0o600)?;
            report.created.push(MASTER_KEY);
        }

        match (self.exists(AUDIT_KEY), self.exists(AUDIT_PUB)) {
            (true, true) => {}
            (false, false) => {
                let pkcs8 = tf_store::AuditSigner::generate_pkcs8()
                    .context("cannot generate the audit signing key")?;
                let signer = tf_store::AuditSigner::from_pkcs8(&pkcs8)
                    .context("cannot load the audit signing key just generated")?;
                self.write_new(AUDIT_KEY, &pkcs8, 0o600)?;
                let public = format!("{}\n", signer.public_key().to_text());
                self.write_new(AUDIT_PUB, public.as_bytes(), 0o644)?;
                report.created.extend([AUDIT_KEY, AUDIT_PUB]);
            }
            (true, false) => {
                // The public key follows from the private one.
                let signer = self.audit_signer()?;
                let public = format!("{}\n", signer.public_key().to_text());
                self.write_new(AUDIT_PUB, public.as_bytes(), 0o644)?;
                report.created.push(AUDIT_PUB);
            }
            (false, true) => bail!(
                "{} has audit-signing.pub but not audit-signing.key; restore the key, or remove the .pub to create a new key pair (checkpoints signed by the old key then verify only with the old public key)",
                self.path.display()
            ),
        }

        if !self.exists(ADMIN_TOKEN) {
            self.write_new(ADMIN_TOKEN, new_token().as_bytes(), 0o600)?;
            report.created.push(ADMIN_TOKEN);
        }

        if new_ca || !self.exists(CA_BUNDLE) {
            let ca = self.read_string(CA_PEM)?;
            self.write_atomic(CA_BUNDLE, ca_bundle(&ca).as_bytes(), 0o644)?;
            report.created.push(CA_BUNDLE);
        }

        if !self.exists(STORE) {
            // Create the (empty) file; the store initializes it on first open.
            self.write_new(STORE, b"", 0o600)?;
            report.created.push(STORE);
        }
        Ok(report)
    }

    /// Keeps `python/sitecustomize.py` equal to the one this `tf` ships.
    fn write_python_hook(&self) -> anyhow::Result<()> {
        let dir = self
            .dir
            .open_dir(PYTHON_HOOKS)
            .with_context(|| format!("cannot open {}/{PYTHON_HOOKS}", self.path.display()))?;
        if dir
            .read_to_string("sitecustomize.py")
            .is_ok_and(|s| s == SITECUSTOMIZE)
        {
            return Ok(());
        }
        let tmp = ".sitecustomize.py.tmp";
        let _ = dir.remove_file(tmp);
        let mut opts = OpenOptions::new();
        opts.write(true).create_new(true).mode(0o644);
        let mut f = dir.open_with(tmp, &opts)?;
        f.write_all(SITECUSTOMIZE.as_bytes())?;
        f.sync_all()?;
        dir.rename(tmp, &dir, "sitecustomize.py").with_context(|| {
            format!(
                "cannot write {}/{PYTHON_HOOKS}/sitecustomize.py",
                self.path.display()
            )
        })
    }

    /// The CA and its certificate PEM.
    pub(crate) fn ca(&self) -> anyhow::Result<(tf_tls::CertificateAuthority, String)> {
        let cert = self.read_string(CA_PEM)?;
        let key = self.read_string(CA_KEY)?;
        let ca = tf_tls::CertificateAuthority::from_pem(cert.as_bytes(), key.as_bytes())
            .with_context(|| {
                format!(
                    "the CA in {} cannot be loaded; restore ca.pem/ca.key, or remove both and run `tf init`",
                    self.path.display()
                )
            })?;
        Ok((ca, cert))
    }

    /// The master key: `TF_MASTER_KEY` if set, else `master.key`.
    pub(crate) fn master_key(&self) -> anyhow::Result<tf_vault::MasterKey> {
        if let Some(v) = std::env::var_os(MASTER_KEY_ENV) {
            let v = v
                .into_string()
                .map_err(|_| anyhow!("{MASTER_KEY_ENV} is not valid UTF-8"))?;
            return tf_vault::MasterKey::from_hex(v.trim())
                .map_err(|_| anyhow!("{MASTER_KEY_ENV} must be 64 hex characters (32 bytes)"));
        }
        let hex = self.read_string(MASTER_KEY)?;
        tf_vault::MasterKey::from_hex(hex.trim()).map_err(|_| {
            anyhow!(
                "{}/master.key is malformed (expected 64 hex characters); restore it from a backup",
                self.path.display()
            )
        })
    }

    /// The audit checkpoint signing key.
    pub(crate) fn audit_signer(&self) -> anyhow::Result<tf_store::AuditSigner> {
        let pkcs8 = self
            .dir
            .read(AUDIT_KEY)
            .with_context(|| format!("cannot read {}/{AUDIT_KEY}", self.path.display()))?;
        tf_store::AuditSigner::from_pkcs8(&pkcs8).with_context(|| {
            format!(
                "{}/{AUDIT_KEY} is malformed; restore it from a backup",
                self.path.display()
            )
        })
    }

    /// The audit public key of this data dir (`audit-signing.pub`).
    pub(crate) fn audit_public_key(&self) -> anyhow::Result<tf_store::AuditPublicKey> {
        let text = self.read_string(AUDIT_PUB)?;
        tf_store::AuditPublicKey::from_text(&text)
            .with_context(|| format!("{}/{AUDIT_PUB} is malformed", self.path.display()))
    }

    /// The admin API bearer token.
    pub(crate) fn admin_token(&self) -> anyhow::Result<String> {
        Ok(self.read_string(ADMIN_TOKEN)?.trim().to_owned())
    }

    /// The database file, opened read + write.
    pub(crate) fn store_file(&self) -> anyhow::Result<std::fs::File> {
        let mut opts = OpenOptions::new();
        opts.read(true).write(true).create(true).mode(0o600);
        let f = self
            .dir
            .open_with(STORE, &opts)
            .with_context(|| format!("cannot open {}/{STORE}", self.path.display()))?;
        Ok(f.into_std())
    }

    pub(crate) fn connectors_dir(&self) -> anyhow::Result<Dir> {
        self.dir
            .open_dir(CONNECTORS)
            .with_context(|| format!("cannot open {}/{CONNECTORS}", self.path.display()))
    }

    pub(crate) fn cache_dir(&self) -> anyhow::Result<Dir> {
        self.dir
            .open_dir(CACHE)
            .with_context(|| format!("cannot open {}/{CACHE}", self.path.display()))
    }

    pub(crate) fn read_runtime(&self) -> anyhow::Result<Option<RuntimeInfo>> {
        match self.dir.read_to_string(RUNTIME) {
            Ok(s) => match serde_json::from_str(&s) {
                Ok(info) => Ok(Some(info)),
                Err(e) => {
                    tracing::warn!(error = %e, "ignoring a malformed runtime.json");
                    Ok(None)
                }
            },
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).context("cannot read runtime.json"),
        }
    }

    pub(crate) fn write_runtime(&self, info: &RuntimeInfo) -> anyhow::Result<()> {
        self.write_atomic(RUNTIME, &serde_json::to_vec_pretty(info)?, 0o600)
    }

    /// Removes `runtime.json` if it is ours (same pid).
    pub(crate) fn remove_runtime(&self, pid: u32) -> anyhow::Result<()> {
        if let Some(info) = self.read_runtime()?
            && info.pid == pid
        {
            match self.dir.remove_file(RUNTIME) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(e).context("cannot remove runtime.json"),
            }
        }
        Ok(())
    }
}

/// PEM for one DER certificate.
fn pem(der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// The system roots plus our CA, as one PEM bundle.
fn ca_bundle(our_ca_pem: &str) -> String {
    let native = rustls_native_certs::load_native_certs();
    for e in &native.errors {
        tracing::debug!(error = %e, "skipping an unreadable system root");
    }
    let mut out = String::new();
    for cert in &native.certs {
        out.push_str(&pem(cert.as_ref()));
    }
    out.push_str(our_ca_pem);
    if !our_ca_pem.ends_with('\n') {
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests;
