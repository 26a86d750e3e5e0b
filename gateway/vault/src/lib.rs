//! The vault: the master key, AES-256-GCM sealing of connector credentials,
//! and credential injection per connector placement.
//!
//! Admins get a write-only API: [`Vault::seal`] turns a credential into bytes
//! for the store, [`Vault::verify`] checks that sealed bytes open, and the only
//! way plaintext leaves the crate is [`Vault::injector`], which decrypts into a
//! zeroizing buffer inside `inject` and writes a sensitive header. Nothing here
//! logs, prints or returns plaintext: every `Debug` and every error is free of
//! secret bytes. Storage and files belong to the caller.

mod inject;
mod key;

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::RngCore;
use zeroize::Zeroizing;

pub use key::{KeyError, MasterKey};

/// Format version of sealed credentials (the first byte).
const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = 1 + NONCE_LEN;
/// Associated-data prefix; the instance name follows, binding each sealed
/// credential to its connector instance.
const AAD_PREFIX: &[u8] = b"tameflare-credential-v1\0";

/// Why sealed bytes do not open. Never carries plaintext or key material.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OpenError {
    #[error("sealed credential is truncated")]
    Truncated,
    #[error("sealed credential has unknown format version {0}")]
    UnknownVersion(u8),
    /// Wrong master key, wrong connector instance, or modified bytes.
    #[error(
        "sealed credential does not open: wrong master key, wrong connector instance, or modified"
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

fn aad(instance: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(AAD_PREFIX.len() + instance.len());
    aad.extend_from_slice(AAD_PREFIX);
    aad.extend_from_slice(instance.as_bytes());
    aad
}

impl Vault {
    pub fn new(key: MasterKey) -> Self {
        Self {
            cipher: Aes256Gcm::new(key.bytes().into()),
        }
    }

    /// Encrypts `secret` for connector instance `instance`:
    /// `1 || nonce (12 random bytes) || ciphertext || tag (16)`.
    /// Two seals of the same secret differ.
    pub fn seal(&self, instance: &str, secret: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let mut out = Vec::with_capacity(HEADER_LEN + secret.len() + TAG_LEN);
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(secret);
        let tag = self
            .cipher
            .encrypt_in_place_detached(
                Nonce::from_slice(&nonce),
                &aad(instance),
                &mut out[HEADER_LEN..],
            )
            // AES-GCM only refuses plaintexts over 64 GiB.
            .expect("credential within AES-GCM's length limit");
        out.extend_from_slice(&tag);
        out
    }

    /// Checks that `sealed` opens for `instance` with this key, without
    /// returning the plaintext.
    pub fn verify(&self, instance: &str, sealed: &[u8]) -> Result<(), OpenError> {
        self.open(instance, sealed).map(drop)
    }

    /// Decrypts into a zeroizing buffer. Crate-private: plaintext leaves the
    /// crate only through injection.
    fn open(&self, instance: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, OpenError> {
        let (&version, rest) = sealed.split_first().ok_or(OpenError::Truncated)?;
        if version != VERSION {
            return Err(OpenError::UnknownVersion(version));
        }
        if rest.len() < NONCE_LEN + TAG_LEN {
            return Err(OpenError::Truncated);
        }
        let (nonce, body) = rest.split_at(NONCE_LEN);
        let (ciphertext, tag) = body.split_at(body.len() - TAG_LEN);
        let mut buf = Zeroizing::new(ciphertext.to_vec());
        self.cipher
            .decrypt_in_place_detached(
                Nonce::from_slice(nonce),
                &aad(instance),
                &mut buf[..],
                tag.into(),
            )
            .map_err(|_| OpenError::Rejected)?;
        Ok(buf)
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
