//! A request's audit record: [`Recorder`] owns the entry under construction
//! and the sink, and records exactly once — when the response ends, or when
//! the recorder is dropped (the handler future was cancelled because the
//! agent closed the connection or reset the stream, or the agent hung up
//! mid-body) — so no path can skip the record.
//!
//! The audit policy lives here too: a request whose action is not read-only
//! leaves a write-ahead record, committed durably before it is forwarded,
//! and then its completion record ([`Phase`]); every other request leaves
//! one record. Nothing here decides whether a request is allowed, and an
//! entry has no field that can hold a header, a body or a credential.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use tf_core::{AuditEntry, AuditSink, Outcome, Phase};

/// The audit policy, as `tf status` shows it.
pub const AUDIT_POLICY: &str =
    "write-ahead for mutations (durable before forwarding), read-only recorded on completion";

/// Reason of a request whose agent went away before its response ended.
pub(crate) const CLIENT_CLOSED: &str = "client_closed";
/// Reason of a forwarded request whose upstream failed (before or while answering).
pub(crate) const UPSTREAM_ERROR: &str = "upstream_error";

/// Where a request is, which decides what dropping its recorder means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stage {
    /// In the pipeline, no response yet: dropped here, the handler was
    /// cancelled (`client_closed`).
    Pipeline,
    /// Relaying the upstream's body: dropped before the body ended, the
    /// agent hung up (`client_closed`).
    Relaying,
    /// Answering with a response the gateway wrote: its reason (a denial,
    /// an upstream error) stands whether or not the agent reads it.
    Answered,
}

/// The request's audit entry and where it goes; records once, at the latest
/// when dropped. Derefs to the entry, which the phases fill in.
pub(crate) struct Recorder {
    /// `None` once recorded (or discarded).
    entry: Option<AuditEntry>,
    sink: Arc<dyn AuditSink>,
    started: Instant,
    bytes_up: Arc<AtomicU64>,
    bytes_down: u64,
    stage: Stage,
}

impl Recorder {
    pub(crate) fn new(
        entry: AuditEntry,
        sink: Arc<dyn AuditSink>,
        bytes_up: Arc<AtomicU64>,
    ) -> Self {
        Self {
            entry: Some(entry),
            sink,
            started: Instant::now(),
            bytes_up,
            bytes_down: 0,
            stage: Stage::Pipeline,
        }
    }

    /// Not a request after all (an accepted CONNECT): records nothing.
    pub(crate) fn discard(mut self) {
        self.entry = None;
    }

    /// The response head is ready: fixes the latency and what a drop means.
    pub(crate) fn responded(&mut self, stage: Stage) {
        self.stage = stage;
        let latency = self.started.elapsed().as_micros() as u64;
        self.entry_mut().latency_us = latency;
    }

    /// The write-ahead record of this request (the intent: allowed,
    /// forwarded), to be committed before it is forwarded. From now on the
    /// request's own record is its completion.
    pub(crate) fn write_ahead(&mut self) -> AuditEntry {
        let latency = self.started.elapsed().as_micros() as u64;
        let entry = self.entry_mut();
        entry.phase = Some(Phase::Completed);
        let mut ahead = entry.clone();
        ahead.outcome = Outcome::Allowed;
        ahead.forwarded = true;
        ahead.phase = Some(Phase::WriteAhead);
        ahead.latency_us = latency;
        // A body read for classification is counted already; a streamed one
        // is not sent yet (the completion record has the total).
        ahead.bytes_up = self.bytes_up.load(Ordering::Relaxed);
        ahead
    }

    pub(crate) fn add_bytes_down(&mut self, n: usize) {
        self.bytes_down += n as u64;
    }

    /// The response ended: records the entry as it stands.
    pub(crate) fn finish(mut self) {
        self.record();
    }

    /// The upstream's body failed mid-stream: records `upstream_error`.
    pub(crate) fn body_failed(mut self) {
        UPSTREAM_ERROR.clone_into(&mut self.entry_mut().reason);
        self.record();
    }

    fn entry_mut(&mut self) -> &mut AuditEntry {
        self.entry
            .as_mut()
            .expect("an entry is present until recorded")
    }

    fn record(&mut self) {
        let Some(mut entry) = self.entry.take() else {
            return;
        };
        if self.stage == Stage::Pipeline {
            // No response head: the latency is until the request ended.
            entry.latency_us = self.started.elapsed().as_micros() as u64;
        }
        entry.bytes_up = self.bytes_up.load(Ordering::Relaxed);
        entry.bytes_down = self.bytes_down;
        self.sink.record(entry);
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        match self.stage {
            Stage::Pipeline | Stage::Relaying => {
                if let Some(e) = self.entry.as_mut() {
                    CLIENT_CLOSED.clone_into(&mut e.reason);
                }
            }
            Stage::Answered => {}
        }
        self.record();
    }
}

impl Deref for Recorder {
    type Target = AuditEntry;

    fn deref(&self) -> &AuditEntry {
        self.entry
            .as_ref()
            .expect("an entry is present until recorded")
    }
}

impl DerefMut for Recorder {
    fn deref_mut(&mut self) -> &mut AuditEntry {
        self.entry_mut()
    }
}
