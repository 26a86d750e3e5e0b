//! The compiled-artifact cache: `<key>.cwasm` files in a directory the
//! gateway owns (`cache/` in the data dir).
//!
//! The key is the sha256 of the component's bytes and of the engine's
//! compatibility hash, so an artifact from a different wasmtime or engine
//! configuration is never looked up. A file holds the sha256 of the artifact
//! followed by the artifact; a file that is truncated or whose checksum does
//! not match is ignored (and overwritten by a fresh compilation). Files are
//! written under a temporary name and renamed into place, and read into
//! memory, never memory-mapped, so replacing one can never crash a reader.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};

use cap_std::fs::Dir;
use sha2::{Digest, Sha256};

const SUM_LEN: usize = 32;
/// Largest cache file read back.
const MAX_ARTIFACT: u64 = 256 << 20;

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Feeds an engine's `precompile_compatibility_hash` into sha256, so the
/// cache key is stable across runs of the same build.
#[derive(Default)]
pub(crate) struct Sha256Hasher(Sha256);

impl std::hash::Hasher for Sha256Hasher {
    fn finish(&self) -> u64 {
        let digest = self.0.clone().finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        u64::from_le_bytes(first)
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

impl Sha256Hasher {
    pub(crate) fn digest(self) -> [u8; 32] {
        self.0.finalize().into()
    }
}

/// Why an artifact was not taken from the cache.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CacheMiss {
    #[error("no cached artifact")]
    Absent,
    #[error("reading the cached artifact failed: {0}")]
    Read(io::Error),
    #[error("the cached artifact is too large")]
    TooLarge,
    #[error("the cached artifact is truncated or corrupt (checksum mismatch)")]
    Corrupt,
}

#[derive(Debug)]
pub(crate) struct Cache {
    dir: Dir,
}

impl Cache {
    pub(crate) fn new(dir: Dir) -> Self {
        Self { dir }
    }

    /// The cache key of `wasm` for an engine with compatibility digest `engine`.
    pub(crate) fn key(wasm_sha256: &[u8; 32], engine: &[u8; 32]) -> String {
        let mut h = Sha256::new();
        h.update(b"tameflare-cwasm-v1\0");
        h.update(wasm_sha256);
        h.update(engine);
        hex::encode(h.finalize())
    }

    fn file_name(key: &str) -> String {
        format!("{key}.cwasm")
    }

    /// Reads and verifies the artifact stored under `key`.
    pub(crate) fn get(&self, key: &str) -> Result<Vec<u8>, CacheMiss> {
        let name = Self::file_name(key);
        let len = match self.dir.metadata(&name) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(CacheMiss::Absent),
            Err(e) => return Err(CacheMiss::Read(e)),
        };
        if len > MAX_ARTIFACT {
            return Err(CacheMiss::TooLarge);
        }
        let mut bytes = self.dir.read(&name).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => CacheMiss::Absent,
            _ => CacheMiss::Read(e),
        })?;
        if bytes.len() < SUM_LEN {
            return Err(CacheMiss::Corrupt);
        }
        let artifact = bytes.split_off(SUM_LEN);
        if Sha256::digest(&artifact).as_slice() != bytes.as_slice() {
            return Err(CacheMiss::Corrupt);
        }
        Ok(artifact)
    }

    /// Stores `artifact` under `key`: temp file, then rename.
    pub(crate) fn put(&self, key: &str, artifact: &[u8]) -> io::Result<()> {
        let name = Self::file_name(key);
        let temp = format!(
            ".{name}.{}.{}.tmp",
            std::process::id(),
            TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let mut contents = Vec::with_capacity(SUM_LEN + artifact.len());
        contents.extend_from_slice(&Sha256::digest(artifact));
        contents.extend_from_slice(artifact);
        let result = self
            .dir
            .write(&temp, &contents)
            .and_then(|()| self.dir.rename(&temp, &self.dir, &name));
        if result.is_err() {
            // Best effort: do not leave temp files behind.
            let _ = self.dir.remove_file(&temp);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_cache() -> (tempfile::TempDir, Cache) {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = Dir::open_ambient_dir(tmp.path(), cap_std::ambient_authority()).expect("open");
        (tmp, Cache::new(dir))
    }

    #[test]
    fn round_trip_and_corruption() {
        let (tmp, cache) = temp_cache();
        let key = Cache::key(&[1; 32], &[2; 32]);
        assert!(matches!(cache.get(&key), Err(CacheMiss::Absent)));
        cache.put(&key, b"artifact bytes").expect("put");
        assert_eq!(cache.get(&key).expect("get"), b"artifact bytes");

        let path = tmp.path().join(format!("{key}.cwasm"));
        let full = std::fs::read(&path).expect("read");
        std::fs::write(&path, &full[..full.len() - 3]).expect("truncate");
        assert!(matches!(cache.get(&key), Err(CacheMiss::Corrupt)));
        std::fs::write(&path, &full[..10]).expect("truncate more");
        assert!(matches!(cache.get(&key), Err(CacheMiss::Corrupt)));

        cache.put(&key, b"artifact bytes").expect("overwrite");
        assert_eq!(cache.get(&key).expect("get"), b"artifact bytes");
        let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(leftovers.len(), 1, "{leftovers:?}");
    }

    #[test]
    fn keys_depend_on_engine_and_component() {
        let a = Cache::key(&[1; 32], &[2; 32]);
        assert_ne!(a, Cache::key(&[1; 32], &[3; 32]));
        assert_ne!(a, Cache::key(&[4; 32], &[2; 32]));
        assert_eq!(a.len(), 64);
    }
}
