//! The built-in connector components, compiled for wasm32-wasip2 from
//! `connectors-wasm/` by `build.rs` and embedded in the binary.
//!
//! Owns only bytes: which components ship (`github`, `generic`, `stripe`,
//! `slack`, `openai`, `anthropic`, `mcp`, `webhook`) and where the
//! guest build leaves its artifacts (for tests that load fixtures such as
//! `test_hostile.wasm`). Never compiles, loads or runs a component; that is
//! the connector host's job.

/// The GitHub connector component (`api.github.com`).
pub const GITHUB: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/github.wasm"));

/// The generic HTTP connector component (domains come from configuration).
pub const GENERIC: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/generic.wasm"));

/// Absolute path of `connectors-wasm/target/wasm32-wasip2/release`, where the
/// guest build leaves every artifact, including the test-only
/// `test_hostile.wasm`.
pub const ARTIFACT_DIR: &str = env!("TF_BUILTINS_ARTIFACT_DIR");

/// The Stripe connector component (`api.stripe.com` and its file/meter hosts).
pub const STRIPE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/stripe.wasm"));

/// The Slack Web API connector component (`slack.com`, `api.slack.com`).
pub const SLACK: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/slack.wasm"));

/// The OpenAI connector component (`api.openai.com`).
pub const OPENAI: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/openai.wasm"));

/// The Anthropic connector component (`api.anthropic.com`).
pub const ANTHROPIC: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/anthropic.wasm"));

/// The MCP connector component (Streamable HTTP; domains from configuration).
pub const MCP: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/mcp.wasm"));

/// The webhook connector component (domains from configuration).
pub const WEBHOOK: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/webhook.wasm"));

static ALL: [(&str, &[u8]); 8] = [
    ("github", GITHUB),
    ("generic", GENERIC),
    ("stripe", STRIPE),
    ("slack", SLACK),
    ("openai", OPENAI),
    ("anthropic", ANTHROPIC),
    ("mcp", MCP),
    ("webhook", WEBHOOK),
];

/// Every shipped component as (kind, bytes); test fixtures are not included.
pub fn all() -> &'static [(&'static str, &'static [u8])] {
    &ALL
}

macro_rules! fixtures_of {
    ($kind:literal) => {
        (
            $kind,
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../connectors-wasm/",
                $kind,
                "/fixtures/actions.jsonl"
            )),
        )
    };
}

static FIXTURES: [(&str, &str); 8] = [
    fixtures_of!("github"),
    fixtures_of!("generic"),
    fixtures_of!("stripe"),
    fixtures_of!("slack"),
    fixtures_of!("openai"),
    fixtures_of!("anthropic"),
    fixtures_of!("mcp"),
    fixtures_of!("webhook"),
];

/// The fixtures (JSON lines) a shipped connector is tested with: the gateway
/// embeds them before loading it, so every built-in checks itself at load
/// in the real host, as third-party components do.
pub fn fixtures(kind: &str) -> Option<&'static str> {
    FIXTURES.iter().find(|(k, _)| *k == kind).map(|(_, f)| *f)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// `\0asm` followed by the component-model version and layer (0x0d 0x00
    /// 0x01 0x00); a core module would have 0x01 0x00 0x00 0x00.
    const COMPONENT_HEADER: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];

    fn header(bytes: &[u8]) -> &[u8] {
        &bytes[..bytes.len().min(8)]
    }

    #[test]
    fn embedded_artifacts_are_components() {
        let kinds: Vec<&str> = super::all().iter().map(|(k, _)| *k).collect();
        assert_eq!(
            kinds,
            [
                "github",
                "generic",
                "stripe",
                "slack",
                "openai",
                "anthropic",
                "mcp",
                "webhook"
            ]
        );
        for (kind, bytes) in super::all() {
            assert_eq!(header(bytes), COMPONENT_HEADER, "{kind} is not a component");
        }
    }

    #[test]
    fn test_fixture_is_built_but_not_shipped() {
        let hostile = std::fs::read(Path::new(super::ARTIFACT_DIR).join("test_hostile.wasm"))
            .expect("test_hostile.wasm in ARTIFACT_DIR");
        assert_eq!(header(&hostile), COMPONENT_HEADER);
        assert!(super::all().iter().all(|(_, b)| *b != hostile.as_slice()));
        assert!(Path::new(super::ARTIFACT_DIR).is_absolute());
    }
}
