//! The connector host: the only crate that runs WebAssembly.
//!
//! Owns the wasmtime [`Engine`](wasmtime::Engine) configuration (pooling
//! allocator, epoch deadlines, per-instance memory limits), loading connector
//! components (format check, import allowlist, compilation, the on-disk cache
//! of compiled artifacts, `describe()` and descriptor validation) and calling
//! `classify` on pooled instances behind the [`tf_core::Classifier`] port.
//!
//! Never gives a guest a credential, a socket, a file, an environment
//! variable or a clock: guests get the `log` import, a bounded stdout/stderr
//! buffer and random seeds (`wasi.rs`); every other import traps. Never trusts guest output: every action is validated against
//! the connector's catalogue and size limits, and every failure (trap,
//! deadline, memory limit, bad output) is a [`tf_core::ClassifyError`], never
//! a panic, so callers fail closed. Each failure has a typed kind
//! ([`tf_core::ConnectorFailure`]) decided from the error's type, never
//! from its message.
//!
//! # Layout
//!
//! - `host.rs`: [`Host`] (shared engine, linker and epoch ticker), loading.
//! - `connector.rs`: [`Connector`], the instance pool and `classify`.
//! - `bindings.rs`: the one `bindgen!` of `wit/connector.wit`.
//! - `imports.rs`: the import allowlist.
//! - `descriptor.rs`: WIT ↔ core conversions and descriptor validation.
//! - `metadata.rs`: custom sections (SDK version, embedded fixtures) and the
//!   framing check that names truncated files.
//! - `fixtures.rs`: fixture files run against a loaded component (at load,
//!   and for `tf connector test`).
//! - `cache.rs`: compiled-artifact cache.
//! - `state.rs`: per-store data (limiter, guest log, captured output).
//! - `wasi.rs`: the minimal, synchronous WASI surface guests are linked against.

mod bindings;
mod cache;
mod config;
mod connector;
mod descriptor;
pub mod fixtures;
mod host;
mod imports;
pub mod metadata;
mod state;
mod wasi;

pub use config::HostConfig;
pub use connector::{CallFailure, Connector};
pub use descriptor::DescriptorError;
pub use fixtures::{FixtureError, FixtureReport};
pub use host::{Host, HostError, LoadError};
pub use imports::{ForbiddenImports, ImportError};
pub use metadata::{ComponentMetadata, MetadataError};
