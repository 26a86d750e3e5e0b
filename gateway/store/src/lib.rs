//! Persistence: one redb file, its tables and their schema version, the
//! gateway's configuration (gateways, connector instances, sealed secrets,
//! permission rules) and the append-only, hash-chained audit log with its
//! group-committing writer thread, which signs checkpoints of the chain head
//! with an Ed25519 key handed in by the caller (`checkpoint.rs`).
//!
//! This is the only crate that uses redb; every table is declared in
//! `tables.rs`. Nothing here interprets policy, sees secret plaintext (secrets
//! arrive sealed by the vault and stay opaque bytes), speaks HTTP, or builds a
//! path: the caller opens the file (through its data-dir handle) and passes it in.

mod audit;
mod checkpoint;
mod config;
mod error;
mod tables;

use std::io::{Read, Seek, SeekFrom};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use redb::{Database, ReadableDatabase, TableError, WriteTransaction};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use audit::{
    AuditFlusher, AuditHandle, AuditWriter, CheckpointPolicy, DEFAULT_CHECKPOINT_INTERVAL,
    DEFAULT_CHECKPOINT_RECORDS, DEFAULT_COMMIT_DELAY, WriterOptions,
};
pub use checkpoint::{AuditPublicKey, AuditSigner, KeyError};
pub use config::{ComponentRecord, ConnectorInstance, CredentialMeta, GatewayRecord};
pub use error::{
    CommitError, FlushError, OpenError, ReadError, ShutdownError, VerifyError, WriteError,
};

use tables::{
    AUDIT, AUDIT_CHECKPOINTS, COMPONENTS, CONNECTORS, CREDENTIALS, GATEWAYS, META,
    META_SCHEMA_VERSION, RULES, SCHEMA_VERSION, SECRETS,
};

/// The first bytes of every redb file.
const REDB_MAGIC: [u8; 9] = [b'r', b'e', b'd', b'b', 0x1A, 0x0A, 0xA9, 0x0D, 0x0A];

/// The open database. Cheap to clone; every clone shares one redb handle.
/// `Send + Sync`: reads run concurrently, writes are serialized by redb.
#[derive(Clone)]
pub struct Store {
    db: Arc<Database>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {
    /// Opens the database in `file` (read + write), creating it if the file
    /// is empty. The file stays locked until the last clone of the store (and
    /// any audit writer) is dropped.
    pub fn open(mut file: std::fs::File) -> Result<Store, OpenError> {
        // redb asserts on some malformed headers; refuse files that are not
        // redb databases before handing them over.
        let len = file.metadata().map_err(OpenError::Io)?.len();
        if len > 0 {
            let mut magic = [0u8; REDB_MAGIC.len()];
            file.seek(SeekFrom::Start(0)).map_err(OpenError::Io)?;
            let read = file.read_exact(&mut magic);
            file.seek(SeekFrom::Start(0)).map_err(OpenError::Io)?;
            if read.is_err() || magic != REDB_MAGIC {
                return Err(OpenError::Corrupt(None));
            }
        }
        let backend = redb::backends::FileBackend::new(file).map_err(map_db_error)?;
        let db = catch_unwind(AssertUnwindSafe(|| {
            Database::builder().create_with_backend(backend)
        }))
        .map_err(|_| OpenError::Corrupt(None))?
        .map_err(map_db_error)?;
        let store = Store { db: Arc::new(db) };
        store.init()?;
        Ok(store)
    }

    /// Checks the schema version and creates what is missing.
    fn init(&self) -> Result<(), OpenError> {
        let found = self.schema_version()?;
        match found {
            Some(v) if v > SCHEMA_VERSION => {
                return Err(OpenError::NewerSchema {
                    found: v,
                    supported: SCHEMA_VERSION,
                });
            }
            // Version 1 is the first schema: nothing to migrate from yet.
            Some(_) | None => {}
        }
        let tx = self
            .db
            .begin_write()
            .map_err(|e| OpenError::Init(e.into()))?;
        {
            let init = |e: TableError| OpenError::Init(e.into());
            let mut meta = tx.open_table(META).map_err(init)?;
            for def in [GATEWAYS, CONNECTORS, SECRETS, CREDENTIALS, COMPONENTS] {
                tx.open_table(def).map_err(init)?;
            }
            tx.open_table(RULES).map_err(init)?;
            tx.open_table(AUDIT).map_err(init)?;
            tx.open_table(AUDIT_CHECKPOINTS).map_err(init)?;
            if found != Some(SCHEMA_VERSION) {
                meta.insert(META_SCHEMA_VERSION, encode(&SCHEMA_VERSION).as_slice())
                    .map_err(|e| OpenError::Init(e.into()))?;
            }
        }
        tx.commit().map_err(|e| OpenError::Init(e.into()))?;
        Ok(())
    }

    fn schema_version(&self) -> Result<Option<u64>, OpenError> {
        let tx = self
            .db
            .begin_read()
            .map_err(|e| OpenError::Init(e.into()))?;
        let meta = match tx.open_table(META) {
            Ok(t) => t,
            Err(TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(OpenError::Init(e.into())),
        };
        let Some(v) = meta
            .get(META_SCHEMA_VERSION)
            .map_err(|e| OpenError::Init(e.into()))?
        else {
            return Ok(None);
        };
        serde_json::from_slice(v.value())
            .map(Some)
            .map_err(|source| OpenError::BadMeta {
                key: META_SCHEMA_VERSION,
                source,
            })
    }

    /// Runs `f` in one durable write transaction; aborts on error.
    fn write<T, E>(&self, f: impl FnOnce(&WriteTransaction) -> Result<T, E>) -> Result<T, E>
    where
        E: From<redb::TransactionError> + From<redb::CommitError>,
    {
        let tx = self.db.begin_write()?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// Test support: overwrites the stored JSON of audit record `seq`,
    /// bypassing the chain (to prove that tampering is detected).
    #[doc(hidden)]
    pub fn test_overwrite_audit_json(&self, seq: u64, json: &[u8]) -> Result<(), WriteError> {
        self.write(|tx| {
            tx.open_table(AUDIT)?.insert(seq, json)?;
            Ok(())
        })
    }

    /// Test support: overwrites the stored chain head (an attacker who
    /// re-hashed the chain rewrites it too).
    #[doc(hidden)]
    pub fn test_set_audit_head(&self, seq: u64, hash: &str) -> Result<(), WriteError> {
        let head = audit::Head {
            seq,
            hash: hash.to_owned(),
        };
        self.write(|tx| {
            tx.open_table(META)?
                .insert(tables::META_AUDIT_HEAD, encode(&head).as_slice())?;
            Ok(())
        })
    }

    /// Test support: stores a raw checkpoint (`None`: deletes every one).
    #[doc(hidden)]
    pub fn test_put_checkpoint(&self, cp: Option<&tf_core::Checkpoint>) -> Result<(), WriteError> {
        self.write(|tx| {
            let mut table = tx.open_table(AUDIT_CHECKPOINTS)?;
            match cp {
                Some(cp) => {
                    table.insert(cp.seq, encode(cp).as_slice())?;
                }
                None => {
                    table.retain(|_, _| false)?;
                }
            }
            Ok(())
        })
    }

    /// Test support: writes a raw `schema_version`.
    #[doc(hidden)]
    pub fn test_set_schema_version(&self, version: u64) -> Result<(), WriteError> {
        self.write(|tx| {
            tx.open_table(META)?
                .insert(META_SCHEMA_VERSION, encode(&version).as_slice())?;
            Ok(())
        })
    }
}

fn map_db_error(e: redb::DatabaseError) -> OpenError {
    match e {
        redb::DatabaseError::DatabaseAlreadyOpen => OpenError::Locked,
        redb::DatabaseError::Storage(redb::StorageError::Corrupted(_)) => {
            OpenError::Corrupt(Some(e))
        }
        other => OpenError::Database(other),
    }
}

/// Serializes a value we own the type of; cannot fail for our types.
fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("store values serialize to JSON")
}

fn decode<T: DeserializeOwned>(
    what: &'static str,
    key: impl ToString,
    bytes: &[u8],
) -> Result<T, ReadError> {
    serde_json::from_slice(bytes).map_err(|source| ReadError::Decode {
        what,
        key: key.to_string(),
        source,
    })
}

impl From<ReadError> for WriteError {
    fn from(e: ReadError) -> Self {
        match e {
            ReadError::Db(e) => WriteError::Db(e),
            ReadError::Decode { what, key, source } => WriteError::Decode { what, key, source },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_is_send_sync_and_clone() {
        fn check<T: Send + Sync + Clone>() {}
        check::<Store>();
    }
}
