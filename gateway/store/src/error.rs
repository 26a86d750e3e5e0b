//! One error type per fallible operation. redb's errors are wrapped, never
//! flattened into strings.

use tf_core::{ChainError, DomainError, LedgerError, PlacementError, RuleError};

/// Why [`crate::Store::open`] failed.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Another process (normally a running gateway) holds the file's lock.
    #[error(
        "the database file is locked by another process (is a gateway running for this data dir?)"
    )]
    Locked,
    /// The file is not a redb database, or its structure is damaged.
    #[error("the database file is corrupt or is not a TameFlare database")]
    Corrupt(#[source] Option<redb::DatabaseError>),
    /// The file was written by a newer TameFlare.
    #[error(
        "the database has schema version {found}, newer than this build supports ({supported}); upgrade tf"
    )]
    NewerSchema { found: u64, supported: u64 },
    /// A `meta` entry cannot be decoded.
    #[error("the database's meta entry {key:?} is malformed")]
    BadMeta {
        key: &'static str,
        #[source]
        source: serde_json::Error,
    },
    /// The file could not be read.
    #[error("cannot read the database file")]
    Io(#[source] std::io::Error),
    /// redb refused to open the file for another reason.
    #[error("cannot open the database")]
    Database(#[source] redb::DatabaseError),
    /// Creating the tables or the meta entries failed.
    #[error("cannot initialize the database")]
    Init(#[source] redb::Error),
}

/// Why a read failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("database read failed")]
    Db(#[source] redb::Error),
    /// A stored value does not decode (a bug, a migration gap or tampering).
    #[error("stored {what} {key:?} is malformed")]
    Decode {
        what: &'static str,
        key: String,
        #[source]
        source: serde_json::Error,
    },
}

/// Why a configuration write failed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The name is not valid (see `tf_core::ids::is_valid_name`).
    #[error(
        "{what} name {name:?} is invalid: use 1-64 characters from A-Z a-z 0-9 . _ - and space"
    )]
    InvalidName { what: &'static str, name: String },
    /// The connector (kind) name is not valid (see
    /// `tf_core::ids::is_connector_name`).
    #[error(
        "connector name {0:?} is invalid: use a lowercase identifier ([a-z][a-z0-9_-]*, at most 64 bytes)"
    )]
    InvalidKind(String),
    #[error(transparent)]
    InvalidDomain(#[from] DomainError),
    #[error(transparent)]
    InvalidPlacement(#[from] PlacementError),
    #[error(transparent)]
    InvalidRule(#[from] RuleError),
    #[error("database write failed")]
    Db(#[source] redb::Error),
    /// A stored value touched by the write does not decode.
    #[error("stored {what} {key:?} is malformed")]
    Decode {
        what: &'static str,
        key: String,
        #[source]
        source: serde_json::Error,
    },
}

/// Why a batch of audit records could not be committed.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    #[error("audit commit failed")]
    Db(#[source] redb::Error),
    /// The stored chain head does not decode.
    #[error("stored audit head is malformed")]
    BadHead(#[source] serde_json::Error),
}

/// Why [`crate::Store::verify_audit`] failed.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Read(#[from] ReadError),
    /// A record was edited, removed or re-linked.
    #[error("audit chain is broken")]
    Chain(#[from] ChainError),
    /// The chain does not start at sequence number 1.
    #[error("audit chain starts at record {0}, expected 1")]
    BadStart(u64),
    /// The stored head disagrees with the last record (records were
    /// truncated or appended outside the store).
    #[error("audit head says record {head_seq}, the table ends at record {last_seq}")]
    HeadMismatch { head_seq: u64, last_seq: u64 },
    /// The chain disagrees with a signed checkpoint, or a checkpoint's
    /// signature does not verify.
    #[error(transparent)]
    Ledger(LedgerError),
}

impl From<LedgerError> for VerifyError {
    fn from(e: LedgerError) -> Self {
        match e {
            LedgerError::Chain(c) => VerifyError::Chain(c),
            other => VerifyError::Ledger(other),
        }
    }
}

/// Why [`crate::AuditHandle::flush`] failed.
#[derive(Debug, thiserror::Error)]
pub enum FlushError {
    /// Some queued records could not be committed; they are kept and retried.
    #[error("{pending} audit records are not committed yet: the last commit failed")]
    NotCommitted { pending: usize },
    /// The writer thread is gone (shut down or panicked).
    #[error("the audit writer has stopped")]
    WriterGone,
}

/// Why [`crate::AuditHandle::shutdown`] did not commit everything.
#[derive(Debug, thiserror::Error)]
pub enum ShutdownError {
    /// These records could not be committed and are lost (logged at error level).
    #[error("{lost} audit records could not be committed before shutdown")]
    Lost { lost: usize },
    /// The writer thread panicked.
    #[error("the audit writer thread panicked")]
    Panicked,
}

macro_rules! from_redb {
    ($($target:ident),*) => {$(
        impl From<redb::TransactionError> for $target {
            fn from(e: redb::TransactionError) -> Self { Self::Db(e.into()) }
        }
        impl From<redb::TableError> for $target {
            fn from(e: redb::TableError) -> Self { Self::Db(e.into()) }
        }
        impl From<redb::StorageError> for $target {
            fn from(e: redb::StorageError) -> Self { Self::Db(e.into()) }
        }
        impl From<redb::CommitError> for $target {
            fn from(e: redb::CommitError) -> Self { Self::Db(e.into()) }
        }
        impl From<redb::SetDurabilityError> for $target {
            fn from(e: redb::SetDurabilityError) -> Self { Self::Db(e.into()) }
        }
    )*};
}

from_redb!(ReadError, WriteError, CommitError);
