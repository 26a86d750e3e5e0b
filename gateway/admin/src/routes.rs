//! Every admin endpoint, once: its method and path. The router in the
//! crate root mounts each of these, and the [`crate::client::AdminClient`]
//! calls them, so the CLI and the server cannot drift apart.

use axum::http::Method;
use axum::routing::MethodFilter;

/// One endpoint. `{name}` in a path is a segment the caller fills in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub method: Method,
    pub path: &'static str,
}

impl Route {
    const fn new(method: Method, path: &'static str) -> Self {
        Self { method, path }
    }

    /// The axum method filter for this route's method.
    pub(crate) fn filter(&self) -> MethodFilter {
        // Every route below uses one of these three.
        if self.method == Method::POST {
            MethodFilter::POST
        } else if self.method == Method::DELETE {
            MethodFilter::DELETE
        } else {
            MethodFilter::GET
        }
    }
}

pub const STATUS: Route = Route::new(Method::GET, "/v1/status");
pub const LIST_CONNECTORS: Route = Route::new(Method::GET, "/v1/connectors");
pub const ADD_CONNECTOR: Route = Route::new(Method::POST, "/v1/connectors");
pub const REMOVE_CONNECTOR: Route = Route::new(Method::DELETE, "/v1/connectors/{name}");
/// Query: `actor`, `take_over`; body: the component bytes.
pub const INSTALL_COMPONENT: Route = Route::new(Method::POST, "/v1/components");
/// Query: `actor`.
pub const UNINSTALL_COMPONENT: Route = Route::new(Method::DELETE, "/v1/components/{name}");
pub const LIST_RULES: Route = Route::new(Method::GET, "/v1/permissions");
pub const SET_RULE: Route = Route::new(Method::POST, "/v1/permissions");
pub const REMOVE_RULE: Route = Route::new(Method::DELETE, "/v1/permissions");
pub const ENSURE_GATEWAY: Route = Route::new(Method::POST, "/v1/gateways");
/// Query: `after`, `limit`.
pub const AUDIT: Route = Route::new(Method::GET, "/v1/audit");
pub const VERIFY_AUDIT: Route = Route::new(Method::GET, "/v1/audit/verify");
/// Query: `after`, `limit`.
pub const CHECKPOINTS: Route = Route::new(Method::GET, "/v1/audit/checkpoints");
pub const CHECKPOINT_NOW: Route = Route::new(Method::POST, "/v1/audit/checkpoint");
pub const CA_PEM: Route = Route::new(Method::GET, "/v1/ca.pem");
pub const CREDENTIAL_DIGESTS: Route = Route::new(Method::GET, "/v1/credentials/digests");

/// All of them, in the order the crate docs list them.
pub const ALL: [Route; 16] = [
    STATUS,
    LIST_CONNECTORS,
    ADD_CONNECTOR,
    REMOVE_CONNECTOR,
    INSTALL_COMPONENT,
    UNINSTALL_COMPONENT,
    LIST_RULES,
    SET_RULE,
    REMOVE_RULE,
    ENSURE_GATEWAY,
    AUDIT,
    VERIFY_AUDIT,
    CHECKPOINTS,
    CHECKPOINT_NOW,
    CA_PEM,
    CREDENTIAL_DIGESTS,
];
