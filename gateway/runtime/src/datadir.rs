//! The data dir: opened once as a `cap_std::fs::Dir`; every file access goes
//! through that handle, by the fixed names in `docs/contracts.md`. No name
//! that comes from outside (a flag value, a connector file) ever builds a path.

use std::io::{ErrorKind, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use cap_std::ambient_authority;
use cap_std::fs::{Dir, DirBuilder, DirBuilderExt, OpenOptions, OpenOptionsExt};
use serde::{Deserialize, Serialize};

pub const STORE: &str = "tameflare.redb";
pub const CA_PEM: &str = "ca.pem";
pub const CA_KEY: &str = "ca.key";
pub const MASTER_KEY: &str = "master.key";
pub const ADMIN_TOKEN: &str = "admin.token";
/// The Ed25519 key (PKCS#8 DER, 0600) the audit writer signs checkpoints
/// with. Kept beside, never inside, the database.
pub const AUDIT_KEY: &str = "audit-signing.key";
/// Its public key (64 hex characters, 0644), for `tf audit verify`.
pub const AUDIT_PUB: &str = "audit-signing.pub";
pub const RUNTIME: &str = "runtime.json";
/// The admin API's Unix socket for the CLI (0600, inside the 0700 data dir).
pub const ADMIN_SOCK: &str = "admin.sock";
pub const CA_BUNDLE: &str = "ca-bundle.pem";
pub const CONNECTORS: &str = "connectors";
pub const CACHE: &str = "cache";
/// Python start-up hook for agents (see `python/sitecustomize.py`).
pub const PYTHON_HOOKS: &str = "python";
const SITECUSTOMIZE: &str = include_str!("python/sitecustomize.py");

/// The env var that supplies the master key instead of `master.key`.
pub const MASTER_KEY_ENV: &str = "TF_MASTER_KEY";

/// `runtime.json`, written while a gateway serves this data dir.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeInfo {
    pub pid: u32,
    pub proxy: SocketAddr,
    pub admin: SocketAddr,
    pub version: String,
}

/// What `init` created (for its report).
#[derive(Debug, Default)]
pub struct InitReport {
    pub created: Vec<&'static str>,
}

/// The open data dir.
#[derive(Debug)]
pub struct DataDir {
    path: PathBuf,
    dir: Dir,
}

/// Why a data dir file could not be used. Messages name the file and, where
/// the operator can act, what to do.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    #[error("HOME is not set; pass --data-dir DIR or set TF_DATA_DIR")]
    NoHome,
    /// A file system operation on `path` failed.
    #[error("cannot {action} {}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot generate the local CA")]
    GenerateCa(#[source] tf_tls::CaError),
    #[error(
        "the CA in {} cannot be loaded; restore ca.pem/ca.key, or remove both and run `tf init`",
        dir.display()
    )]
    LoadCa {
        dir: PathBuf,
        #[source]
        source: tf_tls::CaError,
    },
    #[error(
        "{} has only one of ca.pem and ca.key; restore the missing file, or remove both to create a new CA (agents must then trust the new one)",
        dir.display()
    )]
    HalfCa { dir: PathBuf },
    #[error("cannot generate the audit signing key")]
    GenerateAuditKey(#[source] tf_store::KeyError),
    #[error(
        "{} has audit-signing.pub but not audit-signing.key; restore the key, or remove the .pub to create a new key pair (checkpoints signed by the old key then verify only with the old public key)",
        dir.display()
    )]
    HalfAuditKey { dir: PathBuf },
    /// A key file does not parse.
    #[error("{} is malformed{hint}", path.display())]
    MalformedKey {
        path: PathBuf,
        hint: &'static str,
        #[source]
        source: Option<tf_store::KeyError>,
    },
    #[error("TF_MASTER_KEY {0}")]
    MasterKeyEnv(&'static str),
    #[error("cannot encode runtime.json")]
    Runtime(#[source] serde_json::Error),
}

/// The data dir path: the flag/env value, else `~/.tameflare`.
pub fn resolve(flag: Option<PathBuf>) -> Result<PathBuf, DataDirError> {
    if let Some(p) = flag {
        return Ok(p);
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .ok_or(DataDirError::NoHome)?;
    Ok(PathBuf::from(home).join(".tameflare"))
}

/// Adds the action and path to an I/O error.
fn io(
    action: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(std::io::Error) -> DataDirError {
    let path = path.into();
    move |source| DataDirError::Io {
        action,
        path,
        source,
    }
}

pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::fill(&mut buf[..]);
    hex::encode(buf)
}

/// A fresh random token (admin API, gateway proxy password).
pub fn new_token() -> String {
    random_hex(32)
}

/// Writes `name` in `dir` whole: a temp file beside it (`.NAME.tmp`,
/// created with `mode`, synced), renamed over the old one, so no reader
/// ever sees it half-written.
pub fn replace_file(dir: &Dir, name: &str, contents: &[u8], mode: u32) -> std::io::Result<()> {
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
    pub fn open(path: &Path) -> Result<Self, DataDirError> {
        if !path.exists() {
            let mut builder = std::fs::DirBuilder::new();
            builder.recursive(true);
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            builder
                .create(path)
                .map_err(io("create the data dir", path))?;
        }
        let path = path
            .canonicalize()
            .map_err(io("resolve the data dir", path))?;
        let dir = Dir::open_ambient_dir(&path, ambient_authority())
            .map_err(io("open the data dir", &path))?;
        Ok(Self { path, dir })
    }

    /// The absolute path of the data dir.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The absolute path of one of the fixed files (for agents' env vars).
    pub fn file_path(&self, fixed_name: &'static str) -> PathBuf {
        self.path.join(fixed_name)
    }

    fn exists(&self, name: &str) -> bool {
        self.dir.exists(name)
    }

    fn ensure_subdir(
        &self,
        name: &'static str,
        report: &mut InitReport,
    ) -> Result<(), DataDirError> {
        if !self.dir.is_dir(name) {
            let mut b = DirBuilder::new();
            b.mode(0o700);
            self.dir
                .create_dir_with(name, &b)
                .map_err(io("create", self.path.join(name)))?;
            report.created.push(name);
        }
        Ok(())
    }

    /// Writes a new file with `mode`; fails if it exists.
    fn write_new(&self, name: &str, contents: &[u8], mode: u32) -> Result<(), DataDirError> {
        let mut opts = OpenOptions::new();
        opts.write(true).create_new(true).mode(mode);
        let mut f = self
            .dir
            .open_with(name, &opts)
            .map_err(io("create", self.path.join(name)))?;
        f.write_all(contents)
            .and_then(|()| f.sync_all())
            .map_err(io("write", self.path.join(name)))
    }

    /// Replaces a file atomically (temp file, then rename).
    fn write_atomic(&self, name: &str, contents: &[u8], mode: u32) -> Result<(), DataDirError> {
        replace_file(&self.dir, name, contents, mode).map_err(io("replace", self.path.join(name)))
    }

    fn read_string(&self, name: &str) -> Result<String, DataDirError> {
        self.dir
            .read_to_string(name)
            .map_err(io("read", self.path.join(name)))
    }

    /// Creates whatever is missing. Idempotent.
    pub fn init(&self) -> Result<InitReport, DataDirError> {
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
                    .map_err(DataDirError::GenerateCa)?;
                self.write_new(CA_KEY, pem.key_pem.as_bytes(), 0o600)?;
                self.write_new(CA_PEM, pem.cert_pem.as_bytes(), 0o644)?;
                report.created.extend([CA_PEM, CA_KEY]);
                new_ca = true;
            }
            (true, false) | (false, true) => {
                return Err(DataDirError::HalfCa {
                    dir: self.path.clone(),
                });
            }
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
                    .map_err(DataDirError::GenerateAuditKey)?;
                let signer = tf_store::AuditSigner::from_pkcs8(&pkcs8)
                    .map_err(DataDirError::GenerateAuditKey)?;
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
            (false, true) => {
                return Err(DataDirError::HalfAuditKey {
                    dir: self.path.clone(),
                });
            }
        }

        if !self.exists(ADMIN_TOKEN) {
            self.write_new(ADMIN_TOKEN, new_token().as_bytes(), 0o600)?;
            report.created.push(ADMIN_TOKEN);
        }

        if new_ca || !self.exists(CA_BUNDLE) {
            let ca = self.read_string(CA_PEM)?;
            self.write_atomic(CA_BUNDLE, tf_tls::ca_bundle_pem(&ca).as_bytes(), 0o644)?;
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
    fn write_python_hook(&self) -> Result<(), DataDirError> {
        let dir = self
            .dir
            .open_dir(PYTHON_HOOKS)
            .map_err(io("open", self.path.join(PYTHON_HOOKS)))?;
        if dir
            .read_to_string("sitecustomize.py")
            .is_ok_and(|s| s == SITECUSTOMIZE)
        {
            return Ok(());
        }
        replace_file(&dir, "sitecustomize.py", SITECUSTOMIZE.as_bytes(), 0o644).map_err(io(
            "write",
            self.path.join(PYTHON_HOOKS).join("sitecustomize.py"),
        ))
    }

    /// The CA and its certificate PEM.
    pub fn ca(&self) -> Result<(tf_tls::CertificateAuthority, String), DataDirError> {
        let cert = self.read_string(CA_PEM)?;
        let key = self.read_string(CA_KEY)?;
        let ca = tf_tls::CertificateAuthority::from_pem(cert.as_bytes(), key.as_bytes()).map_err(
            |source| DataDirError::LoadCa {
                dir: self.path.clone(),
                source,
            },
        )?;
        Ok((ca, cert))
    }

    /// The master key: `TF_MASTER_KEY` if set, else `master.key`.
    pub fn master_key(&self) -> Result<tf_vault::MasterKey, DataDirError> {
        if let Some(v) = std::env::var_os(MASTER_KEY_ENV) {
            let v = v
                .into_string()
                .map_err(|_| DataDirError::MasterKeyEnv("is not valid UTF-8"))?;
            return tf_vault::MasterKey::from_hex(v.trim())
                .map_err(|_| DataDirError::MasterKeyEnv("must be 64 hex characters (32 bytes)"));
        }
        let hex = self.read_string(MASTER_KEY)?;
        tf_vault::MasterKey::from_hex(hex.trim()).map_err(|_| DataDirError::MalformedKey {
            path: self.path.join(MASTER_KEY),
            hint: " (expected 64 hex characters); restore it from a backup",
            source: None,
        })
    }

    /// The audit checkpoint signing key.
    pub fn audit_signer(&self) -> Result<tf_store::AuditSigner, DataDirError> {
        let pkcs8 = self
            .dir
            .read(AUDIT_KEY)
            .map_err(io("read", self.path.join(AUDIT_KEY)))?;
        tf_store::AuditSigner::from_pkcs8(&pkcs8).map_err(|e| DataDirError::MalformedKey {
            path: self.path.join(AUDIT_KEY),
            hint: "; restore it from a backup",
            source: Some(e),
        })
    }

    /// The audit public key of this data dir (`audit-signing.pub`).
    pub fn audit_public_key(&self) -> Result<tf_store::AuditPublicKey, DataDirError> {
        let text = self.read_string(AUDIT_PUB)?;
        tf_store::AuditPublicKey::from_text(&text).map_err(|e| DataDirError::MalformedKey {
            path: self.path.join(AUDIT_PUB),
            hint: "",
            source: Some(e),
        })
    }

    /// The admin API bearer token.
    pub fn admin_token(&self) -> Result<String, DataDirError> {
        Ok(self.read_string(ADMIN_TOKEN)?.trim().to_owned())
    }

    /// The database file, opened read + write.
    pub fn store_file(&self) -> Result<std::fs::File, DataDirError> {
        let mut opts = OpenOptions::new();
        opts.read(true).write(true).create(true).mode(0o600);
        let f = self
            .dir
            .open_with(STORE, &opts)
            .map_err(io("open", self.path.join(STORE)))?;
        Ok(f.into_std())
    }

    /// `<data>/connectors/`.
    pub fn connectors_dir(&self) -> Result<Dir, DataDirError> {
        self.dir
            .open_dir(CONNECTORS)
            .map_err(io("open", self.path.join(CONNECTORS)))
    }

    /// `<data>/cache/`, the compiled-component cache.
    pub fn cache_dir(&self) -> Result<Dir, DataDirError> {
        self.dir
            .open_dir(CACHE)
            .map_err(io("open", self.path.join(CACHE)))
    }

    /// `runtime.json`, if a gateway wrote one (a malformed one is ignored).
    pub fn read_runtime(&self) -> Result<Option<RuntimeInfo>, DataDirError> {
        match self.dir.read_to_string(RUNTIME) {
            Ok(s) => match serde_json::from_str(&s) {
                Ok(info) => Ok(Some(info)),
                Err(e) => {
                    tracing::warn!(error = %e, "ignoring a malformed runtime.json");
                    Ok(None)
                }
            },
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("read", self.path.join(RUNTIME))(e)),
        }
    }

    /// Writes `runtime.json` whole.
    pub fn write_runtime(&self, info: &RuntimeInfo) -> Result<(), DataDirError> {
        let json = serde_json::to_vec_pretty(info).map_err(DataDirError::Runtime)?;
        self.write_atomic(RUNTIME, &json, 0o600)
    }

    /// Removes `runtime.json` if it is ours (same pid).
    pub fn remove_runtime(&self, pid: u32) -> Result<(), DataDirError> {
        if let Some(info) = self.read_runtime()?
            && info.pid == pid
        {
            match self.dir.remove_file(RUNTIME) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(io("remove", self.path.join(RUNTIME))(e)),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
