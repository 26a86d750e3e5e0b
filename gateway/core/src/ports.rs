//! Ports: the traits through which the proxy reaches parts it must not
//! depend on (the Wasm connector host, the vault, the audit store).
//! The composition root (`tf-cli`) plugs the real implementations in.

use serde::{Deserialize, Serialize};

use crate::action::{Action, ConnectorRequest};
use crate::audit::AuditEntry;

/// What kind of failure ended a connector call, decided from the failure
/// itself (a trap code, the memory limiter, the instance pool, the host's
/// own checks), never from an error message. Recorded in the audit entry of
/// the denied request (`connector_failure`) and shown by `tf logs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectorFailure {
    /// The call ran past its deadline (epoch interruption).
    Deadline,
    /// The guest trapped: a panic, `unreachable`, a stack overflow, a host
    /// function that refused its arguments.
    Trap,
    /// The guest tried to grow its memory past the limit.
    OutOfMemory,
    /// No instance slot was free (the pool's limit on live instances).
    NoFreeInstance,
    /// The guest returned an action (or a descriptor) the host refuses: too
    /// large, not in its catalogue, malformed.
    InvalidOutput,
    /// The guest imports, or called, a host interface connectors do not get.
    ForbiddenImport,
}

impl ConnectorFailure {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectorFailure::Deadline => "deadline",
            ConnectorFailure::Trap => "trap",
            ConnectorFailure::OutOfMemory => "out_of_memory",
            ConnectorFailure::NoFreeInstance => "no_free_instance",
            ConnectorFailure::InvalidOutput => "invalid_output",
            ConnectorFailure::ForbiddenImport => "forbidden_import",
        }
    }
}

impl std::fmt::Display for ConnectorFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a connector could not classify a request. Every variant is a deny.
#[derive(Debug, thiserror::Error)]
pub enum ClassifyError {
    /// The connector itself refused the request (its `classify-error`).
    #[error("connector rejected the request: {code}: {message}")]
    Rejected { code: String, message: String },
    /// The connector trapped, timed out, exceeded its memory, returned output
    /// that is too large or not in its catalogue. Reported as
    /// `connector_error` with `kind` in the audit record; `detail` is a short
    /// bounded phrase for the gateway's log, never request data.
    #[error("connector failed ({kind}): {detail}")]
    Failed {
        kind: ConnectorFailure,
        detail: String,
    },
}

impl ClassifyError {
    /// A [`ClassifyError::Failed`] of `kind`.
    pub fn failed(kind: ConnectorFailure, detail: impl Into<String>) -> Self {
        ClassifyError::Failed {
            kind,
            detail: detail.into(),
        }
    }

    /// The kind of a connector failure; `None` for a rejection.
    pub fn failure(&self) -> Option<ConnectorFailure> {
        match self {
            ClassifyError::Rejected { .. } => None,
            ClassifyError::Failed { kind, .. } => Some(*kind),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_kinds_serialize_as_their_names() {
        let kinds = [
            (ConnectorFailure::Deadline, "deadline"),
            (ConnectorFailure::Trap, "trap"),
            (ConnectorFailure::OutOfMemory, "out_of_memory"),
            (ConnectorFailure::NoFreeInstance, "no_free_instance"),
            (ConnectorFailure::InvalidOutput, "invalid_output"),
            (ConnectorFailure::ForbiddenImport, "forbidden_import"),
        ];
        for (kind, name) in kinds {
            assert_eq!(kind.as_str(), name);
            assert_eq!(serde_json::to_string(&kind).unwrap(), format!("\"{name}\""));
            let back: ConnectorFailure = serde_json::from_str(&format!("\"{name}\"")).unwrap();
            assert_eq!(back, kind);
            let err = ClassifyError::failed(kind, "x");
            assert_eq!(err.failure(), Some(kind));
            assert_eq!(err.to_string(), format!("connector failed ({name}): x"));
        }
        let rejected = ClassifyError::Rejected {
            code: "c".into(),
            message: "m".into(),
        };
        assert_eq!(rejected.failure(), None);
    }
}
