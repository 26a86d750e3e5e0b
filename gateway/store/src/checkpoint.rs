//! Ed25519 keys for audit checkpoints (ring): the signing key the audit
//! writer holds and the public key that verifies offline.
//!
//! The key material comes in as bytes and goes out as bytes: the caller
//! keeps the signing key in its own file, never inside the database, so
//! whoever can rewrite the database cannot re-sign its head. What is signed
//! is [`tf_core::Checkpoint::message`].

use ring::rand::SystemRandom;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use sha2::{Digest, Sha256};
use tf_core::{Checkpoint, SignatureCheck};

/// Why key bytes were refused. Never echoes key material.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("the audit signing key is not a valid Ed25519 PKCS#8 document")]
    BadSigningKey,
    #[error("the audit public key must be 64 hex characters (32 bytes of an Ed25519 public key)")]
    BadPublicKey,
    #[error("cannot generate an audit signing key: the system random source failed")]
    Random,
}

/// The checkpoint signing key. `Debug` shows only the key id.
pub struct AuditSigner {
    pair: Ed25519KeyPair,
    public: AuditPublicKey,
}

impl std::fmt::Debug for AuditSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditSigner")
            .field("key_id", &self.public.key_id)
            .finish_non_exhaustive()
    }
}

impl AuditSigner {
    /// A fresh key as a PKCS#8 v2 document (for the key file).
    pub fn generate_pkcs8() -> Result<Vec<u8>, KeyError> {
        Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map(|doc| doc.as_ref().to_vec())
            .map_err(|_| KeyError::Random)
    }

    /// Loads a key from its PKCS#8 document.
    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<Self, KeyError> {
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8).map_err(|_| KeyError::BadSigningKey)?;
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(pair.public_key().as_ref());
        Ok(Self {
            pair,
            public: AuditPublicKey::from_bytes(bytes),
        })
    }

    /// The matching public key.
    pub fn public_key(&self) -> &AuditPublicKey {
        &self.public
    }

    /// Signs "record `seq` has hash `hash`", at `time_ms`.
    pub fn sign(&self, seq: u64, hash: &str, time_ms: u64) -> Checkpoint {
        let message = Checkpoint::message(seq, hash, time_ms, &self.public.key_id);
        Checkpoint {
            seq,
            hash: hash.to_owned(),
            time_ms,
            key_id: self.public.key_id.clone(),
            signature: hex::encode(self.pair.sign(&message).as_ref()),
        }
    }
}

/// An Ed25519 public key; its text form is 64 hex characters.
#[derive(Clone, PartialEq, Eq)]
pub struct AuditPublicKey {
    bytes: [u8; 32],
    key_id: String,
}

impl std::fmt::Debug for AuditPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditPublicKey")
            .field("key_id", &self.key_id)
            .finish()
    }
}

impl AuditPublicKey {
    fn from_bytes(bytes: [u8; 32]) -> Self {
        // The id: the first 8 bytes of SHA-256 over the key, in hex.
        let digest = Sha256::digest(bytes);
        Self {
            bytes,
            key_id: hex::encode(&digest[..8]),
        }
    }

    /// Parses the text form (surrounding whitespace ignored).
    pub fn from_text(text: &str) -> Result<Self, KeyError> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text.trim(), &mut bytes).map_err(|_| KeyError::BadPublicKey)?;
        Ok(Self::from_bytes(bytes))
    }

    /// The text form: 64 lower-case hex characters.
    pub fn to_text(&self) -> String {
        hex::encode(self.bytes)
    }
}

impl SignatureCheck for AuditPublicKey {
    fn key_id(&self) -> &str {
        &self.key_id
    }

    fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        UnparsedPublicKey::new(&ED25519, &self.bytes)
            .verify(message, signature)
            .is_ok()
    }
}
