//! Signed checkpoints of the audit chain head, and the verifier that checks
//! a chain, record by record, against them.
//!
//! The chain alone is unkeyed SHA-256: whoever can write the database can
//! re-hash every record after an edit. A [`Checkpoint`] is a signature, with
//! a key kept outside the database, over "record `seq` has hash `hash`";
//! a chain that no longer has that hash at that position was rewritten.
//!
//! This module owns what is signed ([`Checkpoint::message`]: a
//! domain-separation prefix, seq, head hash, time and key id) and the
//! verification logic ([`ChainVerifier`]). It never does cryptography or I/O
//! itself: signatures are checked through [`SignatureCheck`], implemented
//! (with Ed25519) by the store crate.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::audit::{AuditRecord, ChainError, GENESIS_HASH, verify_link};

/// Prefix of every signed checkpoint message (domain separation: these
/// bytes can never be mistaken for a signature over something else).
pub const CHECKPOINT_DOMAIN: &[u8] = b"tameflare-audit-checkpoint-v1\n";

/// A signed statement that record `seq` of the chain has hash `hash`.
/// Does not deny unknown fields, so export lines (which add `type`) parse.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The chain head this checkpoint covers (1-based record number).
    pub seq: u64,
    /// Hex SHA-256 of record `seq`.
    pub hash: String,
    /// Unix milliseconds when it was signed.
    pub time_ms: u64,
    /// Which key signed it (see the store's `AuditPublicKey::key_id`).
    pub key_id: String,
    /// Hex Ed25519 signature over [`Checkpoint::message`].
    pub signature: String,
}

impl Checkpoint {
    /// The exact bytes that are signed: the domain prefix, then `seq` and
    /// `time_ms` as big-endian u64, then the length-prefixed (u32 big-endian)
    /// head hash and key id.
    pub fn message(seq: u64, hash: &str, time_ms: u64, key_id: &str) -> Vec<u8> {
        let mut m = Vec::with_capacity(CHECKPOINT_DOMAIN.len() + 24 + hash.len() + key_id.len());
        m.extend_from_slice(CHECKPOINT_DOMAIN);
        m.extend_from_slice(&seq.to_be_bytes());
        m.extend_from_slice(&time_ms.to_be_bytes());
        for field in [hash, key_id] {
            let len = u32::try_from(field.len()).unwrap_or(u32::MAX);
            m.extend_from_slice(&len.to_be_bytes());
            m.extend_from_slice(field.as_bytes());
        }
        m
    }

    /// This checkpoint's signed message.
    pub fn signed_message(&self) -> Vec<u8> {
        Self::message(self.seq, &self.hash, self.time_ms, &self.key_id)
    }
}

/// A public key that checks checkpoint signatures.
pub trait SignatureCheck {
    /// The id checkpoints signed by this key carry.
    fn key_id(&self) -> &str;
    /// Whether `signature` is this key's signature over `message`.
    fn verify(&self, message: &[u8], signature: &[u8]) -> bool;
}

/// Why a chain does not verify against its checkpoints. Every variant names
/// the first record (or checkpoint) where it fails.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LedgerError {
    /// A record was edited, removed or re-linked.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// The record at a checkpoint's position has another hash than the one
    /// signed: the chain was rewritten (re-hashed) after the checkpoint.
    #[error(
        "record {seq}: hash {found} differs from the signed checkpoint of record {seq} ({signed}): the chain was rewritten"
    )]
    CheckpointMismatch {
        seq: u64,
        found: String,
        signed: String,
    },
    /// A checkpoint's signature does not verify with the public key.
    #[error("checkpoint of record {seq}: the signature does not verify with the public key")]
    BadSignature { seq: u64 },
    /// A checkpoint was signed by another key.
    #[error("checkpoint of record {seq}: signed by key {key_id}, but the public key is {expected}")]
    WrongKey {
        seq: u64,
        key_id: String,
        expected: String,
    },
    /// Checkpoints exist but no public key was given to check them.
    #[error("checkpoint of record {seq}: no public key to check its signature")]
    NoKey { seq: u64 },
    /// Checkpoints were fed after the records they cover.
    #[error("checkpoint of record {seq}: arrived after record {verified} was verified")]
    OutOfOrder { seq: u64, verified: u64 },
    /// The chain ends before a signed checkpoint: records were removed.
    #[error(
        "the chain ends at record {last}, but a signed checkpoint covers record {seq}: records were removed"
    )]
    Truncated { last: u64, seq: u64 },
}

/// What a successful verification covered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerSummary {
    /// Records verified (the chain's length).
    pub records: u64,
    /// The last record's hash (`GENESIS_HASH` for an empty chain).
    pub head: String,
    /// Checkpoints whose signature and position verified.
    pub checkpoints: u64,
    /// The highest record a verified checkpoint covers (0: none).
    pub signed_through: u64,
}

/// Verifies a chain from record 1 onward, one record at a time, against
/// signed checkpoints. Memory is bounded by the checkpoints fed ahead of the
/// records: feed each checkpoint before (or right after) the record it covers.
pub struct ChainVerifier<'k> {
    key: Option<&'k dyn SignatureCheck>,
    prev: String,
    last: u64,
    pending: BTreeMap<u64, Vec<Checkpoint>>,
    checkpoints: u64,
    signed_through: u64,
}

impl std::fmt::Debug for ChainVerifier<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainVerifier")
            .field("last", &self.last)
            .field("pending", &self.pending.len())
            .finish_non_exhaustive()
    }
}

impl<'k> ChainVerifier<'k> {
    /// A verifier for a chain starting at record 1; `key` checks checkpoint
    /// signatures (a checkpoint without a key to check it is an error).
    pub fn new(key: Option<&'k dyn SignatureCheck>) -> Self {
        Self {
            key,
            prev: GENESIS_HASH.to_owned(),
            last: 0,
            pending: BTreeMap::new(),
            checkpoints: 0,
            signed_through: 0,
        }
    }

    /// The last record verified so far (0: none).
    pub fn last(&self) -> u64 {
        self.last
    }

    /// Checks `cp`'s signature and remembers it, to be compared with the
    /// record at its position. A checkpoint of the last verified record is
    /// compared at once; one of an earlier record is refused.
    pub fn checkpoint(&mut self, cp: Checkpoint) -> Result<(), LedgerError> {
        let Some(key) = self.key else {
            return Err(LedgerError::NoKey { seq: cp.seq });
        };
        if cp.key_id != key.key_id() {
            return Err(LedgerError::WrongKey {
                seq: cp.seq,
                key_id: cp.key_id,
                expected: key.key_id().to_owned(),
            });
        }
        let signature = hex::decode(&cp.signature).unwrap_or_default();
        if !key.verify(&cp.signed_message(), &signature) {
            return Err(LedgerError::BadSignature { seq: cp.seq });
        }
        match cp.seq.cmp(&self.last) {
            std::cmp::Ordering::Less => Err(LedgerError::OutOfOrder {
                seq: cp.seq,
                verified: self.last,
            }),
            std::cmp::Ordering::Equal => self.compare(&cp),
            std::cmp::Ordering::Greater => {
                self.pending.entry(cp.seq).or_default().push(cp);
                Ok(())
            }
        }
    }

    fn compare(&mut self, cp: &Checkpoint) -> Result<(), LedgerError> {
        // Checkpoint 0 (an empty chain) has the genesis hash.
        if cp.hash != self.prev {
            return Err(LedgerError::CheckpointMismatch {
                seq: cp.seq,
                found: self.prev.clone(),
                signed: cp.hash.clone(),
            });
        }
        self.checkpoints += 1;
        self.signed_through = self.signed_through.max(cp.seq);
        Ok(())
    }

    /// Verifies the next record: its number, link and hash, and every
    /// checkpoint fed for its position.
    pub fn record(&mut self, r: &AuditRecord) -> Result<(), LedgerError> {
        let expected = self.last + 1;
        if r.seq != expected {
            return Err(ChainError::Gap {
                seq: r.seq,
                expected,
            }
            .into());
        }
        verify_link(&self.prev, r)?;
        self.prev.clone_from(&r.hash);
        self.last = r.seq;
        if let Some(cps) = self.pending.remove(&r.seq) {
            for cp in &cps {
                self.compare(cp)?;
            }
        }
        Ok(())
    }

    /// Ends verification: fails if a checkpoint covers a record past the
    /// end of the chain.
    pub fn finish(self) -> Result<LedgerSummary, LedgerError> {
        if let Some((&seq, _)) = self.pending.iter().next() {
            return Err(LedgerError::Truncated {
                last: self.last,
                seq,
            });
        }
        Ok(LedgerSummary {
            records: self.last,
            head: self.prev,
            checkpoints: self.checkpoints,
            signed_through: self.signed_through,
        })
    }
}

#[cfg(test)]
mod tests;
