//! What the end-to-end tests share: the credentials they enter, the usual
//! gateway (github and generic connectors, rules for `Bot`), and readers of
//! what curl and `tf logs` print. Tests drive it; nothing here asserts on
//! the gateway's behaviour.

use tf_e2e::{Configure, Gateway, MockUpstream, TestCa, UpstreamOptions};

pub(crate) const GH_SECRET: &str = "ghp_e2eRealSecret4f9a1c0d";
pub(crate) const GENERIC_SECRET: &str = "s3cret-generic-77d1e2e";

/// Where the connectors workspace puts its components (test fixtures included).
pub(crate) const WASM_ARTIFACTS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../connectors-wasm/target/wasm32-wasip2/release"
);

/// A gateway with the github connector holding `GH_SECRET`, the generic
/// connector for api.example.com, and rules for gateway `Bot`.
pub(crate) async fn github_gateway(ca: &TestCa, up: &MockUpstream) -> Gateway {
    let g = Gateway::builder()
        .route("api.github.com", up)
        .route("api.example.com", up)
        .upstream_ca(ca)
        // Configured before the gateway runs: acts on the data dir directly.
        .connector("github")
        .token(GH_SECRET)
        .allow("Bot", "github", "github.pr.*")
        .start()
        .await;
    // Configured while it runs: goes through the admin API and applies at once.
    g.setup()
        .deny("Bot", "github", "github.repo.delete")
        .connector("generic")
        .domains("api.example.com")
        .token(GENERIC_SECRET)
        .allow("Bot", "generic", "http.get")
        .apply()
        .await;
    g
}

/// A test CA and a mock upstream trusting it, with the default options.
pub(crate) async fn setup() -> (TestCa, MockUpstream) {
    let ca = TestCa::new();
    let up = MockUpstream::start(&ca, UpstreamOptions::default()).await;
    (ca, up)
}

/// The status code printed last by `curl -w '\n%{http_code}'`, and the body before it.
pub(crate) fn split_curl(stdout: &str) -> (String, u16) {
    let (body, code) = stdout
        .trim_end()
        .rsplit_once('\n')
        .unwrap_or(("", stdout.trim()));
    (
        body.to_owned(),
        code.trim()
            .parse()
            .unwrap_or_else(|_| panic!("no status code in {stdout:?}")),
    )
}

pub(crate) fn decisions(audit: &[serde_json::Value]) -> Vec<(String, String, String)> {
    audit
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or("").to_owned();
            (s("action"), s("decision"), s("reason"))
        })
        .collect()
}
