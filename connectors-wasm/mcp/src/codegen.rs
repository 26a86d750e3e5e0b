//! The generator of `routes.rs`: MCP's JSON-RPC methods
//! (`specs/mcp.methods.jsonl`, one row per method and direction) → the
//! methods a client can send, with action names and risks. Test code only;
//! `routes_are_current` fails when the committed table is stale, and
//! `UPDATE_ROUTES=1 cargo test -p mcp` rewrites it.
//!
//! The naming rule (also in the README): a method `noun` becomes
//! `mcp.<noun>`, a method `noun/rest…` becomes `mcp.<noun>.<rest>` with the
//! remaining `/` turned into `_`; camelCase words become snake_case. So
//! `tools/list` → `mcp.tools.list`, `resources/templates/list` →
//! `mcp.resources.templates_list`, `logging/setLevel` →
//! `mcp.logging.set_level`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde_json::Value;
use tameflare_sdk::Risk;

pub(crate) const SPEC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../specs/mcp.methods.jsonl");
const ROUTES_RS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/routes.rs");

/// Last words of a method that only read (besides `ping`).
const READ_WORDS: &[&str] = &[
    "list", "get", "read", "discover", "complete", "result", "ping",
];

/// Names the connector returns besides the generated ones; no method may
/// take them.
pub(crate) const FIXED_NAMES: &[&str] = &[
    "mcp.response",
    "mcp.batch",
    "mcp.unknown",
    "mcp.stream.open",
    "mcp.session.delete",
];

fn snake(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    for c in s.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else if c == '/' || c == '-' {
            out.push('_');
        } else {
            out.push(c);
        }
    }
    out
}

/// The action name of JSON-RPC method `method` under the naming rule.
pub(crate) fn action_name(method: &str) -> String {
    match method.split_once('/') {
        None => format!("mcp.{}", snake(method)),
        Some((noun, rest)) => format!("mcp.{}.{}", snake(noun), snake(rest)),
    }
}

/// Risk and read-only flag of client method `method`: tool calls high;
/// notifications and `initialize` low; methods whose last word only reads
/// (list, get, read, discover, complete, result, ping) low and read-only;
/// every other request (logging level, subscriptions, task cancel) medium.
pub(crate) fn risk(method: &str) -> (Risk, bool) {
    if method == "tools/call" {
        return (Risk::High, false);
    }
    if method.starts_with("notifications/") || method == "initialize" {
        return (Risk::Low, false);
    }
    let last = method.rsplit('/').next().unwrap_or(method);
    if READ_WORDS.contains(&last) {
        return (Risk::Low, true);
    }
    (Risk::Medium, false)
}

/// One row of the spec.
#[derive(Clone, Debug)]
pub(crate) struct SpecRow {
    pub(crate) method: String,
    pub(crate) direction: String,
    pub(crate) kind: String,
    pub(crate) definition: String,
    pub(crate) versions: Vec<String>,
}

impl SpecRow {
    /// True when a client may send this row's method.
    pub(crate) fn client_sends(&self) -> bool {
        self.direction == "client->server"
    }
}

pub(crate) fn load_spec() -> Vec<SpecRow> {
    let text = std::fs::read_to_string(SPEC).expect("read the MCP spec");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("spec line is JSON");
            let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
            SpecRow {
                method: s("method"),
                direction: s("direction"),
                kind: s("kind"),
                definition: s("definition"),
                versions: v["versions"]
                    .as_array()
                    .expect("versions")
                    .iter()
                    .map(|x| x.as_str().expect("version").to_string())
                    .collect(),
            }
        })
        .collect()
}

/// The whole `routes.rs` source.
pub(crate) fn generate(rows: &[SpecRow]) -> String {
    // Client-sendable methods, sorted by method for binary search.
    let mut methods: BTreeMap<&str, &SpecRow> = BTreeMap::new();
    for row in rows.iter().filter(|r| r.client_sends()) {
        let prev = methods.insert(&row.method, row);
        assert!(prev.is_none(), "two client rows for {}", row.method);
    }
    let mut names = BTreeSet::new();
    for m in methods.keys() {
        let name = action_name(m);
        let valid = name.split('.').all(|seg| {
            !seg.is_empty()
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        });
        assert!(valid, "invalid action name {name} for {m}");
        assert!(!FIXED_NAMES.contains(&name.as_str()), "{m} takes {name}");
        assert!(names.insert(name.clone()), "{name} names two methods");
    }

    let mut s = String::new();
    s.push_str(
        "//! MCP JSON-RPC methods a client can send → actions, generated from\n\
         //! `specs/mcp.methods.jsonl` by `src/codegen.rs`. Do not edit: run\n\
         //! `UPDATE_ROUTES=1 cargo test -p mcp`.\n\n\
         use tameflare_sdk::Risk;\n\nuse crate::actions::Method;\n\n",
    );
    let _ = writeln!(
        s,
        "/// Every client-sendable method, sorted by method name (binary search)."
    );
    let _ = writeln!(
        s,
        "pub(crate) static METHODS: [Method; {}] = [",
        methods.len()
    );
    for (m, row) in &methods {
        let (risk, read_only) = risk(m);
        let description = format!(
            "{} ({}; protocol {})",
            row.definition,
            row.kind,
            row.versions.join(", ")
        );
        let _ = writeln!(
            s,
            "    Method {{ method: {m:?}, action: {:?}, risk: Risk::{risk:?}, read_only: {read_only}, description: {description:?} }},",
            action_name(m),
        );
    }
    s.push_str("];\n");
    s
}

#[test]
fn routes_are_current() {
    tameflare_sdk::testing::check_generated(ROUTES_RS, &generate(&load_spec()), "mcp");
}

#[test]
fn naming_rule() {
    let cases: &[(&str, &str)] = &[
        ("tools/list", "mcp.tools.list"),
        ("tools/call", "mcp.tools.call"),
        ("notifications/initialized", "mcp.notifications.initialized"),
        ("resources/templates/list", "mcp.resources.templates_list"),
        (
            "notifications/roots/list_changed",
            "mcp.notifications.roots_list_changed",
        ),
        ("logging/setLevel", "mcp.logging.set_level"),
        ("initialize", "mcp.initialize"),
        ("ping", "mcp.ping"),
    ];
    for &(method, want) in cases {
        assert_eq!(action_name(method), want, "method {method}");
    }
}

#[test]
fn risk_rule() {
    let cases: &[(&str, Risk, bool)] = &[
        ("tools/call", Risk::High, false),
        ("tools/list", Risk::Low, true),
        ("resources/templates/list", Risk::Low, true),
        ("resources/read", Risk::Low, true),
        ("prompts/get", Risk::Low, true),
        ("completion/complete", Risk::Low, true),
        ("ping", Risk::Low, true),
        ("initialize", Risk::Low, false),
        ("notifications/initialized", Risk::Low, false),
        ("notifications/cancelled", Risk::Low, false),
        ("logging/setLevel", Risk::Medium, false),
        ("resources/subscribe", Risk::Medium, false),
        ("tasks/cancel", Risk::Medium, false),
    ];
    for &(method, want, ro) in cases {
        assert_eq!(risk(method), (want, ro), "method {method}");
    }
}
