//! MCP's naming and risk choices for the generated `routes.rs`
//! (`specs/mcp.methods.jsonl`, one row per method and direction →
//! [`tameflare_sdk::codegen`]): the methods a client can send, one row
//! each, sorted by method for binary search, with no router (JSON-RPC
//! methods are looked up by name). Test code only; `routes_are_current`
//! fails when the committed table is stale, and `cargo xtask codegen` (or
//! `UPDATE_ROUTES=1 cargo test -p mcp`) rewrites it.
//!
//! The naming rule (also in the README): a method `noun` becomes
//! `mcp.<noun>`, a method `noun/rest…` becomes `mcp.<noun>.<rest>` with the
//! remaining `/` turned into `_`; camelCase words become snake_case. So
//! `tools/list` → `mcp.tools.list`, `resources/templates/list` →
//! `mcp.resources.templates_list`, `logging/setLevel` →
//! `mcp.logging.set_level`.

use std::collections::BTreeMap;

use serde_json::Value;
use tameflare_sdk::Risk;
use tameflare_sdk::codegen::{self, Naming, Operation};

const SPEC: &str = include_str!("../../../specs/mcp.methods.jsonl");
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
    codegen::parse_rows(SPEC)
        .expect("the MCP spec")
        .into_iter()
        .map(|(_, row)| {
            let v = Value::Object(row);
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

/// The client-sendable methods of `rows` as operations, sorted by method:
/// `POST /` with the JSON-RPC method as operation id and the schema
/// definition, kind and protocol versions as summary.
pub(crate) fn operations(rows: &[SpecRow]) -> Vec<Operation> {
    let mut methods: BTreeMap<&str, &SpecRow> = BTreeMap::new();
    for row in rows.iter().filter(|r| r.client_sends()) {
        let prev = methods.insert(&row.method, row);
        assert!(prev.is_none(), "two client rows for {}", row.method);
    }
    methods
        .into_values()
        .map(|row| Operation {
            method: "POST".into(),
            path: "/".into(),
            operation_id: row.method.clone(),
            summary: format!(
                "{} ({}; protocol {})",
                row.definition,
                row.kind,
                row.versions.join(", ")
            ),
            tags: Vec::new(),
            row: serde_json::Map::new(),
        })
        .collect()
}

/// MCP's choices.
pub(crate) struct McpNaming;

impl Naming for McpNaming {
    fn connector(&self) -> &str {
        "mcp"
    }

    fn header(&self) -> String {
        "MCP JSON-RPC methods a client can send → actions, generated from\n`specs/mcp.methods.jsonl` with the naming in `src/naming.rs`; sorted by\nmethod (the operation id) for binary search.".into()
    }

    fn regenerate(&self) -> &str {
        "`cargo xtask codegen`"
    }

    fn action_name(&self, op: &Operation) -> String {
        action_name(&op.operation_id)
    }

    fn risk(&self, op: &Operation, _action: &str) -> Risk {
        risk(&op.operation_id).0
    }

    fn read_only(&self, op: &Operation, _action: &str) -> bool {
        risk(&op.operation_id).1
    }

    fn reserved_names(&self) -> &[&str] {
        FIXED_NAMES
    }

    fn router(&self) -> bool {
        false
    }
}

/// The whole `routes.rs` source.
pub(crate) fn generate() -> String {
    codegen::generate(&McpNaming, &operations(&load_spec())).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn routes_are_current() {
    tameflare_sdk::testing::check_generated(ROUTES_RS, &generate(), "mcp");
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
