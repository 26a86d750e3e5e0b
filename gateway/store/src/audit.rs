//! The append-only audit chain: the group-committing writer thread and the
//! readers.
//!
//! [`AuditWriter`] is the [`AuditSink`] the proxy holds: `record` only pushes
//! into a channel. One std thread per writer takes everything queued (up to
//! [`MAX_BATCH`] entries), seals each entry onto the chain head read inside
//! the same write transaction, and commits once with `Durability::Immediate`.
//! Reading the head inside the transaction keeps the chain correct even if
//! two writers exist. A failed commit is retried; records are never dropped
//! silently.

use std::ops::Bound;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use redb::{Durability, ReadableDatabase, ReadableTable, ReadableTableMetadata};
use serde::{Deserialize, Serialize};
use tf_core::audit::{GENESIS_HASH, verify_chain};
use tf_core::{AuditEntry, AuditRecord, AuditSink, AuditUnavailable, ChainError, DurableAck};

use crate::tables::{AUDIT, META, META_AUDIT_HEAD};
use crate::{
    CommitError, FlushError, ReadError, ShutdownError, Store, VerifyError, decode, encode,
};

/// Most entries sealed in one transaction.
pub(crate) const MAX_BATCH: usize = 1024;
/// How long the writer gathers entries after the first one before it
/// commits (PostgreSQL's `commit_delay`). Each durable commit costs an fsync
/// and CPU on the machine serving requests; gathering for a few milliseconds
/// turns a commit per request into one commit per batch. A flush or shutdown
/// request ends the wait at once, so neither waits for it; a crash (not a
/// clean shutdown) can lose at most this much more than the queue in flight.
pub const DEFAULT_COMMIT_DELAY: Duration = Duration::from_millis(5);
/// Entries kept in memory while commits keep failing; past this the oldest
/// are dropped (and logged at error level).
const MAX_PENDING: usize = 1 << 20;
/// Immediate retries of a failed commit before reporting it.
const RETRY_BACKOFF: [Duration; 3] = [
    Duration::from_millis(1),
    Duration::from_millis(10),
    Duration::from_millis(100),
];
/// How long the writer waits before retrying again after a reported failure.
const FAILED_RETRY_INTERVAL: Duration = Duration::from_secs(1);
/// Records per chunk when verifying.
const VERIFY_CHUNK: usize = 4096;

/// The last sealed record, stored in `meta` beside the chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Head {
    pub(crate) seq: u64,
    pub(crate) hash: String,
}

impl Head {
    fn genesis() -> Self {
        Head {
            seq: 0,
            hash: GENESIS_HASH.to_owned(),
        }
    }
}

enum Msg {
    Entry(AuditEntry),
    /// An entry whose sender waits for its commit.
    Durable(AuditEntry, DurableAck),
    Flush(mpsc::SyncSender<Result<(), FlushError>>),
    Shutdown,
}

/// The non-blocking [`AuditSink`]: queues entries for the writer thread.
pub struct AuditWriter {
    tx: mpsc::Sender<Msg>,
}

impl std::fmt::Debug for AuditWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditWriter").finish_non_exhaustive()
    }
}

impl AuditSink for AuditWriter {
    fn record(&self, entry: AuditEntry) {
        if let Err(mpsc::SendError(Msg::Entry(e))) = self.tx.send(Msg::Entry(entry)) {
            tracing::error!(
                request_id = %e.request_id,
                "audit record lost: the audit writer has shut down"
            );
        }
    }

    fn record_durable(&self, entry: AuditEntry, done: DurableAck) {
        if let Err(mpsc::SendError(Msg::Durable(e, done))) = self.tx.send(Msg::Durable(entry, done))
        {
            tracing::error!(
                request_id = %e.request_id,
                "audit record not written: the audit writer has shut down"
            );
            done(Err(AuditUnavailable::WriterGone));
        }
    }
}

/// Controls the writer thread: flush, and shutdown (which drains the queue).
/// Dropping the handle shuts the writer down too.
pub struct AuditHandle {
    tx: mpsc::Sender<Msg>,
    thread: Option<JoinHandle<usize>>,
}

impl std::fmt::Debug for AuditHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditHandle")
            .field("running", &self.thread.is_some())
            .finish()
    }
}

/// Waits for the writer to commit what was queued; cheap to clone and share
/// (readers flush before reading, so they see every request answered so far).
#[derive(Clone)]
pub struct AuditFlusher {
    tx: mpsc::Sender<Msg>,
}

impl std::fmt::Debug for AuditFlusher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditFlusher").finish_non_exhaustive()
    }
}

impl AuditFlusher {
    /// Waits until every entry queued before this call is committed.
    pub fn flush(&self) -> Result<(), FlushError> {
        let (ack, done) = mpsc::sync_channel(1);
        self.tx
            .send(Msg::Flush(ack))
            .map_err(|_| FlushError::WriterGone)?;
        done.recv().map_err(|_| FlushError::WriterGone)?
    }
}

impl AuditHandle {
    /// Waits until every entry queued before this call is committed.
    pub fn flush(&self) -> Result<(), FlushError> {
        self.flusher().flush()
    }

    /// A handle that can only flush, for readers.
    pub fn flusher(&self) -> AuditFlusher {
        AuditFlusher {
            tx: self.tx.clone(),
        }
    }

    /// Commits everything queued (including entries recorded concurrently
    /// until the writer sees the shutdown), then stops the thread. Entries
    /// recorded afterwards are logged as lost.
    pub fn shutdown(mut self) -> Result<(), ShutdownError> {
        self.stop()
    }

    fn stop(&mut self) -> Result<(), ShutdownError> {
        let Some(thread) = self.thread.take() else {
            return Ok(());
        };
        // If the thread is already gone, join reports why.
        let _ = self.tx.send(Msg::Shutdown);
        match thread.join() {
            Ok(0) => Ok(()),
            Ok(lost) => Err(ShutdownError::Lost { lost }),
            Err(_) => Err(ShutdownError::Panicked),
        }
    }
}

impl Drop for AuditHandle {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            tracing::error!(error = %e, "audit writer did not shut down cleanly");
        }
    }
}

impl Store {
    /// Starts a group-committing audit writer thread on this store, with
    /// [`DEFAULT_COMMIT_DELAY`].
    pub fn audit_writer(&self) -> (std::sync::Arc<AuditWriter>, AuditHandle) {
        self.audit_writer_with_delay(DEFAULT_COMMIT_DELAY)
    }

    /// Starts an audit writer that gathers entries for up to `commit_delay`
    /// after the first one before committing (zero: commit at once).
    pub fn audit_writer_with_delay(
        &self,
        commit_delay: Duration,
    ) -> (std::sync::Arc<AuditWriter>, AuditHandle) {
        let (tx, rx) = mpsc::channel();
        let store = self.clone();
        let thread = std::thread::Builder::new()
            .name("tf-audit-writer".into())
            .spawn(move || writer_loop(&store, &rx, commit_delay))
            .expect("spawning the audit writer thread");
        (
            std::sync::Arc::new(AuditWriter { tx: tx.clone() }),
            AuditHandle {
                tx,
                thread: Some(thread),
            },
        )
    }

    /// Seals `entries` onto the chain in one durable transaction.
    fn commit_audit(&self, entries: &[AuditEntry]) -> Result<(), CommitError> {
        let mut tx = self.db.begin_write()?;
        tx.set_durability(Durability::Immediate)?;
        {
            let mut meta = tx.open_table(META)?;
            let mut head = match meta.get(META_AUDIT_HEAD)? {
                Some(v) => serde_json::from_slice(v.value()).map_err(CommitError::BadHead)?,
                None => Head::genesis(),
            };
            let mut audit = tx.open_table(AUDIT)?;
            for entry in entries {
                let seq = head.seq + 1;
                let (hash, json) = AuditRecord::seal_to_json(entry, seq, &head.hash);
                audit.insert(seq, json.as_slice())?;
                head = Head { seq, hash };
            }
            meta.insert(META_AUDIT_HEAD, encode(&head).as_slice())?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Seals one entry at once, durably, outside the writer thread: for
    /// the rare administrative events (connector installs and removals),
    /// which must be on disk before the change is reported done.
    pub fn append_audit(&self, entry: &AuditEntry) -> Result<(), CommitError> {
        self.commit_audit(std::slice::from_ref(entry))
    }

    /// Up to `limit` records with a sequence number greater than `seq`, in order.
    pub fn audit_after(&self, seq: u64, limit: usize) -> Result<Vec<AuditRecord>, ReadError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(AUDIT)?;
        table
            .range::<u64>((Bound::Excluded(seq), Bound::Unbounded))?
            .take(limit)
            .map(|item| {
                let (k, v) = item?;
                decode("audit record", k.value(), v.value())
            })
            .collect()
    }

    /// The last `n` records, oldest first.
    pub fn audit_tail(&self, n: usize) -> Result<Vec<AuditRecord>, ReadError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(AUDIT)?;
        let mut out = table
            .iter()?
            .rev()
            .take(n)
            .map(|item| {
                let (k, v) = item?;
                decode("audit record", k.value(), v.value())
            })
            .collect::<Result<Vec<AuditRecord>, ReadError>>()?;
        out.reverse();
        Ok(out)
    }

    /// How many audit records are stored.
    pub fn audit_count(&self) -> Result<u64, ReadError> {
        let tx = self.db.begin_read()?;
        Ok(tx.open_table(AUDIT)?.len()?)
    }

    /// Verifies the whole chain on one consistent snapshot, in chunks, and
    /// checks it against the stored head. Returns the record count and the
    /// head hash.
    pub fn verify_audit(&self) -> Result<(u64, String), VerifyError> {
        let tx = self.db.begin_read().map_err(ReadError::from)?;
        let table = tx.open_table(AUDIT).map_err(ReadError::from)?;
        let head: Head = match tx
            .open_table(META)
            .map_err(ReadError::from)?
            .get(META_AUDIT_HEAD)
            .map_err(ReadError::from)?
        {
            Some(v) => decode("meta", META_AUDIT_HEAD, v.value())?,
            None => Head::genesis(),
        };
        let mut prev = GENESIS_HASH.to_owned();
        let mut count = 0u64;
        let mut chunk: Vec<AuditRecord> = Vec::with_capacity(VERIFY_CHUNK);
        let mut iter = table.iter().map_err(ReadError::from)?;
        loop {
            chunk.clear();
            for item in iter.by_ref().take(VERIFY_CHUNK) {
                let (k, v) = item.map_err(ReadError::from)?;
                let record: AuditRecord = decode("audit record", k.value(), v.value())?;
                if record.seq != k.value() {
                    return Err(ChainError::Gap {
                        seq: record.seq,
                        expected: k.value(),
                    }
                    .into());
                }
                chunk.push(record);
            }
            let Some(first) = chunk.first() else { break };
            if first.seq != count + 1 {
                if count == 0 {
                    return Err(VerifyError::BadStart(first.seq));
                }
                return Err(ChainError::Gap {
                    seq: first.seq,
                    expected: count + 1,
                }
                .into());
            }
            prev = verify_chain(&prev, &chunk)?;
            count += chunk.len() as u64;
        }
        if head.seq != count || head.hash != prev {
            return Err(VerifyError::HeadMismatch {
                head_seq: head.seq,
                last_seq: count,
            });
        }
        Ok((count, prev))
    }
}

/// What the loop does after handling one message.
enum Next {
    Continue,
    Stop,
}

/// The writer thread. Returns how many records it could not commit.
fn writer_loop(store: &Store, rx: &mpsc::Receiver<Msg>, commit_delay: Duration) -> usize {
    let mut pending: Vec<AuditEntry> = Vec::new();
    let mut acks: Vec<mpsc::SyncSender<Result<(), FlushError>>> = Vec::new();
    let mut durable: Vec<DurableAck> = Vec::new();
    let mut stopping = false;
    loop {
        // Wait for work; after a reported failure, wake up to retry.
        if !stopping {
            let first = if pending.is_empty() {
                rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected)
            } else {
                rx.recv_timeout(FAILED_RETRY_INTERVAL)
            };
            match first {
                Ok(msg) => {
                    if let Next::Stop = take(msg, &mut pending, &mut acks, &mut durable) {
                        stopping = true;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                // Every sender is gone: nothing more can arrive.
                Err(mpsc::RecvTimeoutError::Disconnected) => stopping = true,
            }
        }
        // Gather for `commit_delay` unless someone already waits (flush,
        // shutdown). Sleeping rather than receiving keeps senders from waking
        // this thread once per request; a flush or shutdown that arrives
        // meanwhile waits at most the delay.
        if !stopping && acks.is_empty() && !pending.is_empty() && !commit_delay.is_zero() {
            std::thread::sleep(commit_delay);
        }
        // Group: take whatever else is queued, up to a batch (all of it when
        // stopping, so shutdown drains the queue).
        while stopping || pending.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(msg) => {
                    if let Next::Stop = take(msg, &mut pending, &mut acks, &mut durable) {
                        stopping = true;
                    }
                }
                Err(_) => break,
            }
        }
        let failed = commit_pending(store, &mut pending);
        for done in durable.drain(..) {
            done(if failed {
                Err(AuditUnavailable::CommitFailed(
                    "the store is failing to commit".to_owned(),
                ))
            } else {
                Ok(())
            });
        }
        for ack in acks.drain(..) {
            let result = if failed {
                Err(FlushError::NotCommitted {
                    pending: pending.len(),
                })
            } else {
                Ok(())
            };
            // The flusher may have given up waiting; nothing to do then.
            let _ = ack.send(result);
        }
        if failed && pending.len() > MAX_PENDING {
            let dropped = pending.len() - MAX_PENDING;
            pending.drain(..dropped);
            tracing::error!(
                dropped,
                "audit records dropped: the store has been failing to commit"
            );
        }
        if stopping {
            if !pending.is_empty() {
                tracing::error!(
                    lost = pending.len(),
                    "audit records could not be committed before shutdown"
                );
            }
            return pending.len();
        }
    }
}

fn take(
    msg: Msg,
    pending: &mut Vec<AuditEntry>,
    acks: &mut Vec<mpsc::SyncSender<Result<(), FlushError>>>,
    durable: &mut Vec<DurableAck>,
) -> Next {
    match msg {
        Msg::Entry(e) => pending.push(e),
        Msg::Durable(e, done) => {
            pending.push(e);
            durable.push(done);
        }
        Msg::Flush(ack) => acks.push(ack),
        Msg::Shutdown => return Next::Stop,
    }
    Next::Continue
}

/// Commits `pending` in batches, retrying each; removes what was committed.
/// Returns true if some records are still not committed.
fn commit_pending(store: &Store, pending: &mut Vec<AuditEntry>) -> bool {
    while !pending.is_empty() {
        let n = pending.len().min(MAX_BATCH);
        let mut attempt = 0;
        loop {
            match store.commit_audit(&pending[..n]) {
                Ok(()) => break,
                Err(e) if attempt < RETRY_BACKOFF.len() => {
                    tracing::warn!(error = %e, attempt, "audit commit failed; retrying");
                    std::thread::sleep(RETRY_BACKOFF[attempt]);
                    attempt += 1;
                }
                Err(e) => {
                    tracing::error!(
                        error = %e,
                        pending = pending.len(),
                        "audit commit keeps failing; records stay queued and will be retried"
                    );
                    return true;
                }
            }
        }
        pending.drain(..n);
    }
    false
}
