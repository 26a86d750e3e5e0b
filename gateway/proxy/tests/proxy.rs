//! End-to-end tests of the proxy: one binary, a harness (`proxy/harness.rs`)
//! and one module per feature. Every test starts its own proxy and upstream,
//! and waits on events (a request arriving, a record written) with a bound,
//! never for a fixed time.

#[path = "proxy/harness.rs"]
mod harness;

#[path = "proxy/audit.rs"]
mod audit;
#[path = "proxy/bodies.rs"]
mod bodies;
#[path = "proxy/canonical.rs"]
mod canonical;
#[path = "proxy/containment.rs"]
mod containment;
#[path = "proxy/limits.rs"]
mod limits;
#[path = "proxy/protocols.rs"]
mod protocols;
#[path = "proxy/routing.rs"]
mod routing;
