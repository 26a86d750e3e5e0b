//! Ports: the traits through which the proxy reaches parts it must not
//! depend on (the Wasm connector host, the vault, the audit store).
//! The composition root (`tf-cli`) plugs the real implementations in.

use crate::action::{Action, ConnectorRequest};
use crate::audit::AuditEntry;

/// Why a connector could not classify a request. Every variant is a deny.
#[derive(Debug, thiserror::Error)]
pub enum ClassifyError {
    /// The connector itself refused the request (its `classify-error`).
    #[error("connector rejected the request: {code}: {message}")]
    Rejected { code: String, message: String },
    /// The connector trapped, timed out, exceeded its memory, returned output
    /// that is too large or not in its catalogue. Reported as `connector_error`.
    #[error("connector failed: {0}")]
    Failed(String),
}

/// Classifies requests for one connector instance. Synchronous and bounded
/// by the implementation's own deadline; safe to call from async code.
/// Takes the request by value: the Wasm host moves it into the guest's
/// call instead of copying headers and body once more.
pub trait Classifier: Send + Sync {
    fn classify(&self, request: ConnectorRequest) -> Result<Action, ClassifyError>;
}

/// Why a credential could not be injected. Every variant is a deny.
#[derive(Debug, thiserror::Error)]
pub enum InjectError {
    #[error("no credential is configured for connector instance {0:?}")]
    Missing(String),
    #[error("credential for connector instance {0:?} could not be decrypted")]
    Decrypt(String),
    #[error("credential does not form a valid header value")]
    InvalidHeader,
}

/// Puts the real credential on an outgoing request. Implemented by the vault;
/// the plaintext exists only inside `inject`.
pub trait Injector: Send + Sync {
    fn inject(&self, headers: &mut http::HeaderMap) -> Result<(), InjectError>;
}

/// Why a durable audit write did not commit. The request it guards must not
/// be forwarded.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum AuditUnavailable {
    /// The writer has shut down or its thread is gone.
    #[error("the audit writer is not running")]
    WriterGone,
    /// The commit failed (disk full, I/O error); the message names why.
    #[error("the audit commit failed: {0}")]
    CommitFailed(String),
}

/// Called once, from the writer, when a durable entry is committed (or
/// cannot be). Must not block.
pub type DurableAck = Box<dyn FnOnce(Result<(), AuditUnavailable>) + Send>;

/// Receives the audit entries of requests. Must not block: implementations
/// queue and group-commit off the request path.
pub trait AuditSink: Send + Sync {
    /// Queues `entry`; it is committed with the next group commit.
    fn record(&self, entry: AuditEntry);

    /// Queues `entry` and calls `done` once it is durably committed (with the
    /// same bounded group-commit delay as [`AuditSink::record`]), or with the
    /// reason it cannot be. The write-ahead record of a mutation goes here,
    /// and the request waits for `done` before it is forwarded.
    fn record_durable(&self, entry: AuditEntry, done: DurableAck);
}
