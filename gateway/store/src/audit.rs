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
//!
//! Given a [`CheckpointPolicy`], the same thread signs the chain head (at
//! most every [`DEFAULT_CHECKPOINT_RECORDS`] records or
//! [`DEFAULT_CHECKPOINT_INTERVAL`], when it starts, and at clean shutdown)
//! and stores the checkpoint in the transaction that commits the records it
//! covers. Signing is the writer's work, one signature per commit at most:
//! it never runs on a request's path.

use std::ops::Bound;
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use redb::{Durability, ReadableDatabase, ReadableTable, ReadableTableMetadata};
use serde::{Deserialize, Serialize};
use tf_core::audit::{GENESIS_HASH, verify_chain};
use tf_core::{
    AuditEntry, AuditRecord, AuditSink, AuditUnavailable, ChainError, ChainVerifier, Checkpoint,
    DurableAck, LedgerSummary, SignatureCheck,
};

use crate::checkpoint::AuditSigner;
use crate::tables::{AUDIT, AUDIT_CHECKPOINTS, META, META_AUDIT_HEAD};
use crate::{
    CommitError, FlushError, ReadError, ShutdownError, Store, VerifyError, decode, encode,
};

/// Most entries sealed in one transaction.
pub(crate) const MAX_BATCH: usize = 1024;
/// How long the writer gathers entries after the first one before it
/// commits (PostgreSQL's `commit_delay`). Each durable commit costs an fsync
/// and CPU on the machine serving requests; gathering for a few milliseconds
/// turns a commit per request into one commit per batch. A flush or shutdown
/// request ends the wait at once, so neither waits for it, and so does a
/// durable (write-ahead) entry, whose request is held until it commits: those
/// group by arriving during the previous commit instead. A crash (not a clean
/// shutdown) can lose at most this much more than the queue in flight, and
/// never a durable entry that was acknowledged.
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
/// Sign a checkpoint once this many records are unsigned.
pub const DEFAULT_CHECKPOINT_RECORDS: u64 = 1000;
/// Sign a checkpoint once the oldest unsigned record is this old.
pub const DEFAULT_CHECKPOINT_INTERVAL: Duration = Duration::from_secs(5);

/// When the writer signs the chain head, and with which key.
#[derive(Clone, Debug)]
pub struct CheckpointPolicy {
    pub signer: Arc<AuditSigner>,
    /// Sign once this many records are unsigned.
    pub every_records: u64,
    /// Sign once records have been unsigned this long.
    pub every: Duration,
}

impl CheckpointPolicy {
    /// The default cadence: [`DEFAULT_CHECKPOINT_RECORDS`] records or
    /// [`DEFAULT_CHECKPOINT_INTERVAL`], whichever comes first.
    pub fn new(signer: Arc<AuditSigner>) -> Self {
        Self {
            signer,
            every_records: DEFAULT_CHECKPOINT_RECORDS,
            every: DEFAULT_CHECKPOINT_INTERVAL,
        }
    }
}

/// How an audit writer runs.
#[derive(Clone, Debug)]
pub struct WriterOptions {
    /// See [`DEFAULT_COMMIT_DELAY`].
    pub commit_delay: Duration,
    /// Sign checkpoints of the head; `None`: never.
    pub checkpoints: Option<CheckpointPolicy>,
}

impl Default for WriterOptions {
    fn default() -> Self {
        Self {
            commit_delay: DEFAULT_COMMIT_DELAY,
            checkpoints: None,
        }
    }
}

/// The writer's checkpoint state: how far the chain is signed.
struct Checkpointer {
    policy: CheckpointPolicy,
    signed_seq: u64,
    head_seq: u64,
    /// When the oldest unsigned record was committed.
    since: Instant,
}

impl Checkpointer {
    /// Whether to sign `head_seq` now: records are unsigned and it is
    /// forced, enough of them, or records unsigned before this commit have
    /// waited long enough.
    fn due(&self, head_seq: u64, force: bool) -> bool {
        head_seq > self.signed_seq
            && (force
                || head_seq - self.signed_seq >= self.policy.every_records
                || (self.head_seq > self.signed_seq && self.since.elapsed() >= self.policy.every))
    }

    /// How long until unsigned records are due, if there are any.
    fn wait(&self) -> Option<Duration> {
        (self.head_seq > self.signed_seq)
            .then(|| self.policy.every.saturating_sub(self.since.elapsed()))
    }

    fn committed(&mut self, head_seq: u64, signed: Option<&Checkpoint>) {
        if self.head_seq == self.signed_seq && head_seq > self.head_seq {
            self.since = Instant::now();
        }
        self.head_seq = head_seq;
        if let Some(cp) = signed {
            self.signed_seq = cp.seq;
            self.since = Instant::now();
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

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
    /// A flush that also signs the head now (if anything is unsigned).
    Checkpoint(mpsc::SyncSender<Result<(), FlushError>>),
    Shutdown,
}

/// The non-blocking [`AuditSink`]: queues entries for the writer thread.
pub struct AuditWriter {
    tx: mpsc::Sender<Msg>,
    /// The writer thread, unparked by a durable entry so that it does not
    /// sit out the rest of a commit delay another entry started.
    writer: std::thread::Thread,
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
            return;
        }
        self.writer.unpark();
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

    /// Waits until every entry queued before this call is committed and,
    /// if the writer signs checkpoints, the head is signed.
    pub fn checkpoint(&self) -> Result<(), FlushError> {
        let (ack, done) = mpsc::sync_channel(1);
        self.tx
            .send(Msg::Checkpoint(ack))
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
    /// [`DEFAULT_COMMIT_DELAY`] and no checkpoints.
    pub fn audit_writer(&self) -> (Arc<AuditWriter>, AuditHandle) {
        self.audit_writer_with(WriterOptions::default())
    }

    /// Starts an audit writer that gathers entries for up to `commit_delay`
    /// after the first one before committing (zero: commit at once).
    pub fn audit_writer_with_delay(
        &self,
        commit_delay: Duration,
    ) -> (Arc<AuditWriter>, AuditHandle) {
        self.audit_writer_with(WriterOptions {
            commit_delay,
            checkpoints: None,
        })
    }

    /// Starts an audit writer with `options` (commit delay, checkpoints).
    pub fn audit_writer_with(&self, options: WriterOptions) -> (Arc<AuditWriter>, AuditHandle) {
        let (tx, rx) = mpsc::channel();
        let store = self.clone();
        let thread = std::thread::Builder::new()
            .name("tf-audit-writer".into())
            .spawn(move || writer_loop(&store, &rx, options))
            .expect("spawning the audit writer thread");
        (
            Arc::new(AuditWriter {
                tx: tx.clone(),
                writer: thread.thread().clone(),
            }),
            AuditHandle {
                tx,
                thread: Some(thread),
            },
        )
    }

    /// Seals `entries` onto the chain in one durable transaction, and signs
    /// the new head in it if `checkpoints` says it is due (or `force`).
    /// Returns the new head and the checkpoint signed, if any.
    fn commit_audit(
        &self,
        entries: &[AuditEntry],
        checkpoints: Option<&Checkpointer>,
        force: bool,
    ) -> Result<(Head, Option<Checkpoint>), CommitError> {
        let mut tx = self.db.begin_write()?;
        tx.set_durability(Durability::Immediate)?;
        let signed;
        let head;
        {
            let mut meta = tx.open_table(META)?;
            let mut h = match meta.get(META_AUDIT_HEAD)? {
                Some(v) => serde_json::from_slice(v.value()).map_err(CommitError::BadHead)?,
                None => Head::genesis(),
            };
            let mut audit = tx.open_table(AUDIT)?;
            for entry in entries {
                let seq = h.seq + 1;
                let (hash, json) = AuditRecord::seal_to_json(entry, seq, &h.hash);
                audit.insert(seq, json.as_slice())?;
                h = Head { seq, hash };
            }
            if !entries.is_empty() {
                meta.insert(META_AUDIT_HEAD, encode(&h).as_slice())?;
            }
            signed = match checkpoints {
                Some(c) if c.due(h.seq, force) => {
                    let cp = c.policy.signer.sign(h.seq, &h.hash, now_ms());
                    tx.open_table(AUDIT_CHECKPOINTS)?
                        .insert(cp.seq, encode(&cp).as_slice())?;
                    Some(cp)
                }
                Some(_) | None => None,
            };
            head = h;
        }
        if entries.is_empty() && signed.is_none() {
            tx.abort()?;
        } else {
            tx.commit()?;
        }
        Ok((head, signed))
    }

    /// The stored head's seq and the highest signed checkpoint's seq.
    fn signed_state(&self) -> Result<(u64, u64), ReadError> {
        let tx = self.db.begin_read()?;
        let head: Head = match tx.open_table(META)?.get(META_AUDIT_HEAD)? {
            Some(v) => decode("meta", META_AUDIT_HEAD, v.value())?,
            None => Head::genesis(),
        };
        let signed = tx
            .open_table(AUDIT_CHECKPOINTS)?
            .last()?
            .map_or(0, |(k, _)| k.value());
        Ok((head.seq, signed))
    }

    /// Up to `limit` stored checkpoints covering records after `seq`, in order.
    pub fn checkpoints_after(&self, seq: u64, limit: usize) -> Result<Vec<Checkpoint>, ReadError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(AUDIT_CHECKPOINTS)?;
        table
            .range::<u64>((Bound::Excluded(seq), Bound::Unbounded))?
            .take(limit)
            .map(|item| {
                let (k, v) = item?;
                decode("audit checkpoint", k.value(), v.value())
            })
            .collect()
    }

    /// The newest stored checkpoint.
    pub fn latest_checkpoint(&self) -> Result<Option<Checkpoint>, ReadError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(AUDIT_CHECKPOINTS)?;
        table
            .last()?
            .map(|(k, v)| decode("audit checkpoint", k.value(), v.value()))
            .transpose()
    }

    /// Seals one entry at once, durably, outside the writer thread: for
    /// the rare administrative events (connector installs and removals),
    /// which must be on disk before the change is reported done.
    pub fn append_audit(&self, entry: &AuditEntry) -> Result<(), CommitError> {
        self.commit_audit(std::slice::from_ref(entry), None, false)
            .map(|_| ())
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

    /// Verifies the whole chain on one consistent snapshot, record by
    /// record, against the stored head and every stored checkpoint (its
    /// signature with `key`, and that the chain has the signed hash at its
    /// position), plus `saved` checkpoints the caller kept elsewhere (so a
    /// chain re-hashed after them fails even if the stored head and
    /// checkpoints were rewritten or deleted). Without a key, checkpoints
    /// are not checked. Errors name the first bad record.
    pub fn verify_ledger(
        &self,
        key: Option<&dyn SignatureCheck>,
        saved: &[Checkpoint],
    ) -> Result<LedgerSummary, VerifyError> {
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
        let mut verifier = ChainVerifier::new(key);
        if key.is_some() {
            for cp in saved {
                verifier.checkpoint(cp.clone())?;
            }
        }
        let cps = tx.open_table(AUDIT_CHECKPOINTS).map_err(ReadError::from)?;
        let mut stored = cps.iter().map_err(ReadError::from)?.peekable();
        for item in table.iter().map_err(ReadError::from)? {
            let (k, v) = item.map_err(ReadError::from)?;
            let record: AuditRecord = decode("audit record", k.value(), v.value())?;
            if record.seq != k.value() {
                return Err(ChainError::Gap {
                    seq: record.seq,
                    expected: k.value(),
                }
                .into());
            }
            // Feed the checkpoints up to this record before it.
            while key.is_some() {
                let Some(Ok((ck, _))) = stored.peek() else {
                    break;
                };
                if ck.value() > record.seq {
                    break;
                }
                let (ck, cv) = stored.next().expect("peeked").map_err(ReadError::from)?;
                verifier.checkpoint(decode("audit checkpoint", ck.value(), cv.value())?)?;
            }
            verifier.record(&record)?;
        }
        // Checkpoints past the last record: the chain was truncated.
        if key.is_some() {
            for item in stored {
                let (ck, cv) = item.map_err(ReadError::from)?;
                verifier.checkpoint(decode("audit checkpoint", ck.value(), cv.value())?)?;
            }
        }
        let summary = verifier.finish()?;
        if head.seq != summary.records || head.hash != summary.head {
            return Err(VerifyError::HeadMismatch {
                head_seq: head.seq,
                last_seq: summary.records,
            });
        }
        Ok(summary)
    }
}

/// The writer thread. Returns how many records it could not commit.
fn writer_loop(store: &Store, rx: &mpsc::Receiver<Msg>, options: WriterOptions) -> usize {
    let commit_delay = options.commit_delay;
    let mut checkpoints = options.checkpoints.map(|policy| {
        let (head_seq, signed_seq) = store.signed_state().unwrap_or_else(|e| {
            tracing::error!(error = %e, "cannot read the audit head; checkpoints start from scratch");
            (0, 0)
        });
        Checkpointer {
            policy,
            signed_seq,
            head_seq,
            // Records left unsigned by a crash are signed at once (the
            // first round is forced).
            since: Instant::now(),
        }
    });
    let mut pending: Vec<AuditEntry> = Vec::new();
    let mut acks: Vec<mpsc::SyncSender<Result<(), FlushError>>> = Vec::new();
    let mut durable: Vec<DurableAck> = Vec::new();
    let mut stopping = false;
    // Whatever a crash (or a direct-mode append) left unsigned is signed first.
    if checkpoints.is_some() {
        commit_pending(store, &mut Vec::new(), checkpoints.as_mut(), true);
    }
    // Sign the head after this round even if not due (a checkpoint request,
    // or shutdown).
    let mut force = false;
    loop {
        // Wait for work; after a reported failure, wake up to retry; with
        // unsigned records, wake up when they are due.
        if !stopping && !force {
            let sign_wait = checkpoints.as_ref().and_then(Checkpointer::wait);
            let first = match (pending.is_empty(), sign_wait) {
                (true, None) => rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
                (true, Some(wait)) => rx.recv_timeout(wait),
                (false, _) => rx.recv_timeout(FAILED_RETRY_INTERVAL),
            };
            match first {
                Ok(msg) => match take(msg, &mut pending, &mut acks, &mut durable) {
                    Next::Stop => stopping = true,
                    Next::Sign => force = true,
                    Next::Continue => {}
                },
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                // Every sender is gone: nothing more can arrive.
                Err(mpsc::RecvTimeoutError::Disconnected) => stopping = true,
            }
        }
        // Gather for `commit_delay` unless someone already waits (flush,
        // shutdown, or a request holding its mutation until its write-ahead
        // record is durable). Sleeping rather than receiving keeps senders
        // from waking this thread once per request; a flush or shutdown that
        // arrives meanwhile waits at most the delay. Waiters are grouped
        // anyway: whatever queues during one commit's fsync goes into the next.
        if !stopping
            && acks.is_empty()
            && durable.is_empty()
            && !pending.is_empty()
            && !commit_delay.is_zero()
        {
            // Parked rather than asleep: a durable entry (whose request
            // waits for it) unparks the thread and ends the delay early; a
            // spurious or stale wake-up only commits sooner.
            std::thread::park_timeout(commit_delay);
        }
        // Group: take whatever else is queued, up to a batch (all of it when
        // stopping, so shutdown drains the queue).
        while stopping || pending.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(msg) => match take(msg, &mut pending, &mut acks, &mut durable) {
                    Next::Stop => stopping = true,
                    Next::Sign => force = true,
                    Next::Continue => {}
                },
                Err(_) => break,
            }
        }
        force |= stopping;
        let failed = commit_pending(store, &mut pending, checkpoints.as_mut(), force);
        // A failed forced signature is reported to whoever asked for it.
        force = false;
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

/// What the loop does after handling one message.
enum Next {
    Continue,
    /// Sign the head after this round.
    Sign,
    Stop,
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
        Msg::Checkpoint(ack) => {
            acks.push(ack);
            return Next::Sign;
        }
        Msg::Shutdown => return Next::Stop,
    }
    Next::Continue
}

/// Commits `pending` in batches, retrying each; removes what was committed.
/// Signs the head when due (or, with `force`, after the last batch; with
/// nothing pending, signs the head alone if it is unsigned and due).
/// Returns true if some records are still not committed.
fn commit_pending(
    store: &Store,
    pending: &mut Vec<AuditEntry>,
    mut checkpoints: Option<&mut Checkpointer>,
    force: bool,
) -> bool {
    loop {
        let n = pending.len().min(MAX_BATCH);
        let last = n == pending.len();
        let mut attempt = 0;
        loop {
            let cp = checkpoints.as_deref();
            if n == 0 && !cp.is_some_and(|c| c.due(c.head_seq, force)) {
                return false;
            }
            match store.commit_audit(&pending[..n], cp, force && last) {
                Ok((head, signed)) => {
                    if let Some(c) = checkpoints.as_deref_mut() {
                        c.committed(head.seq, signed.as_ref());
                    }
                    break;
                }
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
        if last {
            return false;
        }
    }
}
