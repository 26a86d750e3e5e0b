//! The vault: the master key, AES-256-GCM sealing of connector credentials,
//! and credential injection per connector placement.
//!
//! Admins get a write-only API: [`Vault::seal`] turns a credential into bytes
//! for the store, [`Vault::verify`] checks that sealed bytes open,
//! [`Vault::rebind`] moves a credential to a new [`Binding`] and
//! [`Vault::digest`] gives a salted digest for recognizing the secret in an
//! agent's environment; the only way plaintext leaves the crate is
//! [`Vault::injector`], which decrypts into a zeroizing buffer inside
//! `inject` and writes a sensitive header. Nothing here logs, prints or
//! returns plaintext: every `Debug` and every error is free of secret bytes.
//! Storage and files belong to the caller.
//!
//! A sealed credential is bound (AEAD associated data) to the [`Binding`] it
//! was entered for: instance, connector kind, domains and upstream port. It
//! does not open for any other binding, so a credential cannot follow an
//! instance to new domains or a new kind without being entered again or
//! explicitly rebound.

mod inject;
mod key;

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::RngCore;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

pub use key::{KeyError, MasterKey};

/// Format version of sealed credentials (the first byte): 2 binds instance,
/// kind, domains and port.
const VERSION: u8 = 2;
/// The old format, bound to the instance name only. Opens only to be
/// rebound ([`Vault::rebind`]) or digested, never for injection.
const VERSION_1: u8 = 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = 1 + NONCE_LEN;
/// Version 1 associated data: this prefix, then the instance name.
const AAD_PREFIX_V1: &[u8] = b"tameflare-credential-v1\0";
/// Version 2 associated data: this prefix, then length-prefixed fields.
const AAD_PREFIX_V2: &[u8] = b"tameflare-credential-v2\0";
/// The upstream port every connector serves today.
pub const DEFAULT_PORT: u16 = 443;

/// What a credential is bound to: the instance, its connector kind, the
/// domains it is sent to (lower-cased, sorted, deduplicated) and the
/// upstream port. Two bindings built from the same domains in any order or
/// case are equal.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Binding {
    instance: String,
    kind: String,
    domains: Vec<String>,
    port: u16,
}

impl Binding {
    /// A binding on [`DEFAULT_PORT`].
    pub fn new<D: AsRef<str>>(
        instance: impl Into<String>,
        kind: impl Into<String>,
        domains: impl IntoIterator<Item = D>,
    ) -> Self {
        let mut domains: Vec<String> = domains
            .into_iter()
            .map(|d| tf_core::ids::normalize_domain(d.as_ref()))
            .filter(|d| !d.is_empty())
            .collect();
        domains.sort();
        domains.dedup();
        Self {
            instance: instance.into(),
            kind: kind.into(),
            domains,
            port: DEFAULT_PORT,
        }
    }

    pub fn instance(&self) -> &str {
        &self.instance
    }

    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// Lower-cased, sorted, deduplicated.
    pub fn domains(&self) -> &[String] {
        &self.domains
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Version 2 associated data: prefix, then each field as a big-endian
    /// u32 length and its bytes (so no two bindings share an encoding).
    fn aad(&self) -> Vec<u8> {
        fn field(out: &mut Vec<u8>, bytes: &[u8]) {
            let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(bytes);
        }
        let mut aad = Vec::with_capacity(64);
        aad.extend_from_slice(AAD_PREFIX_V2);
        field(&mut aad, self.instance.as_bytes());
        field(&mut aad, self.kind.as_bytes());
        field(&mut aad, &self.port.to_be_bytes());
        let count = u32::try_from(self.domains.len()).unwrap_or(u32::MAX);
        aad.extend_from_slice(&count.to_be_bytes());
        for d in &self.domains {
            field(&mut aad, d.as_bytes());
        }
        aad
    }
}

/// Version 1 associated data: prefix and instance name.
fn aad_v1(instance: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(AAD_PREFIX_V1.len() + instance.len());
    aad.extend_from_slice(AAD_PREFIX_V1);
    aad.extend_from_slice(instance.as_bytes());
    aad
}

/// Why sealed bytes do not open. Never carries plaintext or key material.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OpenError {
    #[error("sealed credential is truncated")]
    Truncated,
    #[error("sealed credential has unknown format version {0}")]
    UnknownVersion(u8),
    /// A version-1 credential (bound to the instance name only): suspended
    /// until re-entered or rebound.
    #[error(
        "sealed credential is in the old format (bound to the instance name only); enter it again or confirm it with --keep-credential"
    )]
    OldFormat,
    /// Wrong master key, wrong binding, or modified bytes.
    #[error(
        "sealed credential does not open: wrong master key, wrong connector instance, kind or domains, or modified"
    )]
    Rejected,
}

/// Seals and opens credentials with one master key.
pub struct Vault {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault").finish_non_exhaustive()
    }
}

/// The format version of sealed bytes (their first byte), read without
/// decrypting: `Some(2)` for current credentials, `Some(1)` for ones that
/// must be rebound before they serve.
pub fn sealed_version(sealed: &[u8]) -> Option<u8> {
    sealed.first().copied()
}

/// `SHA-256(salt || value)`: how an agent's environment value is compared
/// with the vault's secrets ([`Vault::digest`]) without either side seeing
/// the other's plaintext.
pub fn salted_digest(salt: &[u8], value: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(salt);
    h.update(value);
    h.finalize().into()
}

impl Vault {
    pub fn new(key: MasterKey) -> Self {
        Self {
            cipher: Aes256Gcm::new(key.bytes().into()),
        }
    }

    /// Encrypts `secret` for `binding`:
    /// `2 || nonce (12 random bytes) || ciphertext || tag (16)`.
    /// Two seals of the same secret differ.
    pub fn seal(&self, binding: &Binding, secret: &[u8]) -> Vec<u8> {
        self.seal_with(VERSION, &binding.aad(), secret)
    }

    fn seal_with(&self, version: u8, aad: &[u8], secret: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let mut out = Vec::with_capacity(HEADER_LEN + secret.len() + TAG_LEN);
        out.push(version);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(secret);
        let tag = self
            .cipher
            .encrypt_in_place_detached(Nonce::from_slice(&nonce), aad, &mut out[HEADER_LEN..])
            // AES-GCM only refuses plaintexts over 64 GiB.
            .expect("credential within AES-GCM's length limit");
        out.extend_from_slice(&tag);
        out
    }

    /// Checks that `sealed` opens for `binding` with this key, without
    /// returning the plaintext. A version-1 credential is
    /// [`OpenError::OldFormat`].
    pub fn verify(&self, binding: &Binding, sealed: &[u8]) -> Result<(), OpenError> {
        self.open(binding, sealed).map(drop)
    }

    /// Re-seals a credential sealed for `old` so that it opens for `new`
    /// only. A version-1 credential opens with its instance name
    /// (`old.instance()`); the result is always the current format. The
    /// plaintext stays in a zeroizing buffer inside this call.
    pub fn rebind(
        &self,
        old: &Binding,
        new: &Binding,
        sealed: &[u8],
    ) -> Result<Vec<u8>, OpenError> {
        let secret = self.open_any(old, sealed)?;
        Ok(self.seal(new, &secret))
    }

    /// `SHA-256(salt || secret)` of the credential in `sealed` (which may be
    /// in either format, opened for `binding`), for recognizing the secret
    /// in an agent's environment. Never returns plaintext.
    pub fn digest(
        &self,
        salt: &[u8],
        binding: &Binding,
        sealed: &[u8],
    ) -> Result<[u8; 32], OpenError> {
        let secret = self.open_any(binding, sealed)?;
        Ok(salted_digest(salt, &secret))
    }

    /// Decrypts a current-format credential into a zeroizing buffer.
    /// Crate-private: plaintext leaves the crate only through injection.
    fn open(&self, binding: &Binding, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, OpenError> {
        match sealed_version(sealed) {
            None => Err(OpenError::Truncated),
            Some(VERSION) => self.open_with(&binding.aad(), sealed),
            Some(VERSION_1) => Err(OpenError::OldFormat),
            Some(v) => Err(OpenError::UnknownVersion(v)),
        }
    }

    /// Like [`Self::open`], but also opens a version-1 credential (bound to
    /// `binding.instance()` only), for rebinding and digests.
    fn open_any(&self, binding: &Binding, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, OpenError> {
        match sealed_version(sealed) {
            Some(VERSION_1) => self.open_with(&aad_v1(&binding.instance), sealed),
            _ => self.open(binding, sealed),
        }
    }

    fn open_with(&self, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, OpenError> {
        let rest = sealed.get(1..).ok_or(OpenError::Truncated)?;
        if rest.len() < NONCE_LEN + TAG_LEN {
            return Err(OpenError::Truncated);
        }
        let (nonce, body) = rest.split_at(NONCE_LEN);
        let (ciphertext, tag) = body.split_at(body.len() - TAG_LEN);
        let mut buf = Zeroizing::new(ciphertext.to_vec());
        self.cipher
            .decrypt_in_place_detached(Nonce::from_slice(nonce), aad, &mut buf[..], tag.into())
            .map_err(|_| OpenError::Rejected)?;
        Ok(buf)
    }

    /// Seals in the old (version 1) format, to test migrations.
    #[cfg(test)]
    fn seal_v1(&self, instance: &str, secret: &[u8]) -> Vec<u8> {
        self.seal_with(VERSION_1, &aad_v1(instance), secret)
    }
}

/// The placeholder an agent sees instead of the credential of `instance`
/// (for its environment variables). The rule lives in
/// [`tf_core::placeholder`], which the proxy uses to refuse misplaced ones.
pub fn placeholder(instance: &str) -> String {
    tf_core::placeholder::for_instance(instance)
}

#[cfg(test)]
mod tests;
