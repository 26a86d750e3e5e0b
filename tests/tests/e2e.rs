//! End to end: the real `tf` binary, real clients (curl, Python `requests`)
//! under `tf run`, and local HTTPS mock upstreams with their own CA reached
//! through `--connect-to`. Every test has its own data dir and gateway.
//!
//! One binary: `e2e/harness.rs` (what the tests share) and one module per
//! feature. Tests wait on events (a line from a child, a record, a file)
//! with a bound, never for a fixed time.

#[path = "e2e/harness.rs"]
mod harness;

#[path = "e2e/audit.rs"]
mod audit;
#[path = "e2e/canonical.rs"]
mod canonical;
#[path = "e2e/connectors.rs"]
mod connectors;
#[path = "e2e/credentials.rs"]
mod credentials;
#[path = "e2e/openapi.rs"]
mod openapi;
#[path = "e2e/protocols.rs"]
mod protocols;
#[path = "e2e/requests.rs"]
mod requests;
#[path = "e2e/sdks.rs"]
mod sdks;
#[path = "e2e/secrets.rs"]
mod secrets;
#[path = "e2e/tf_run.rs"]
mod tf_run;
