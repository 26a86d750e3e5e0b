//! TameFlare's pure core: the vocabulary every other crate speaks.
//!
//! Owns ids, connector descriptors and actions (the host-side mirror of the
//! WIT types), the validation rules for names, domains, action names and
//! credential placements (each written once, here), permission rules and their resolution, audit records and their
//! hash chain, signed checkpoints of its head and their verification, and the *ports* (traits) through which the proxy reaches the
//! connector host, the vault and the audit store without depending on them.
//!
//! Never does I/O, never reads a clock (time is passed in), and depends on
//! none of tokio, hyper, rustls, redb, wasmtime or axum.

pub mod action;
pub mod audit;
pub mod canonical;
pub mod checkpoint;
pub mod ids;
pub mod permission;
pub mod placeholder;
pub mod ports;
pub mod snapshot;

pub use action::{
    Action, ActionSpec, Catalogue, ConnectorRequest, Descriptor, Param, ParamValue, Placement,
    PlacementError, ReadOnlyIndex, Risk,
};
pub use audit::{
    AuditEntry, AuditRecord, ChainError, ConnectorEvent, ConnectorEventKind, Outcome, Phase,
};
pub use canonical::{NonCanonical, canonical_path};
pub use checkpoint::{ChainVerifier, Checkpoint, LedgerError, LedgerSummary, SignatureCheck};
pub use ids::{DomainError, RequestId};
pub use permission::{Decision, PermissionSet, Rule, RuleError, Verdict};
pub use ports::{
    AuditSink, AuditUnavailable, Classifier, ClassifyError, ConnectorFailure, DurableAck,
    InjectError, Injector,
};
pub use snapshot::{GatewayEntry, Route, Snapshot};
