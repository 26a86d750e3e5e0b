//! The generator of `routes.rs`: the Anthropic API's operations
//! (`specs/anthropic.operations.jsonl`, one row per unique method + path) →
//! action names, risks, body fields to read and a static route trie. Test
//! code only; `routes_are_current` fails when the committed table is stale,
//! and `UPDATE_ROUTES=1 cargo test -p anthropic` rewrites it.
//!
//! The naming rule (also in the README): take the operation id (the SDK
//! method path, e.g. `messages.batches.create`) without a leading `beta.`;
//! its last segment is the verb, and the segments before it, each made
//! singular ([`singular`]) and joined with `_`, are the noun:
//! `anthropic.<noun>.<verb>`. The admin namespace `organization` stays a
//! segment of its own, so `anthropic.organization.*` is the whole Admin API:
//! `organization.api_keys.update` → `anthropic.organization.api_key.update`.
//! [`OVERRIDES`] pins the names policies rely on.

use std::collections::HashMap;
use std::fmt::Write as _;

use serde_json::Value;
use tameflare_sdk::Risk;
use tameflare_sdk::route::RouterBuilder;

use crate::actions::{BODY_MAX_TOKENS, BODY_MODEL, BODY_STREAM};

pub(crate) const SPEC: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../specs/anthropic.operations.jsonl"
);
const ROUTES_RS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/routes.rs");

/// Operation id → pinned action name. The rule gives the same name today;
/// pinning keeps it if the rule ever changes.
pub(crate) const OVERRIDES: &[(&str, &str)] = &[("messages.create", "anthropic.message.create")];

/// The admin namespace, kept as its own name segment.
const ADMIN_NAMESPACE: &str = "organization";

/// Irreversible account-level deletions.
const CRITICAL: &[&str] = &["organization.users.remove"];

/// POST operations that only read (nothing is created or changed).
const READ_ONLY_POSTS: &[&str] = &["messages.count_tokens"];

/// Words of an operation id that make a write high risk: secrets,
/// credentials and irreversible content removal.
const HIGH_WORDS: &[&str] = &[
    "token",
    "credential",
    "credentials",
    "secret",
    "key",
    "keys",
    "webhook",
    "webhooks",
    "redact",
    "permission",
    "permissions",
];

/// The singular of one name segment: only its last `_` word changes
/// (`rate_limits` → `rate_limit`, `memories` → `memory`, `batches` →
/// `batch`); words ending in `ics`, `ss` or `us` and words without a
/// trailing `s` stay as they are (`analytics`, `work`, `claude_code`).
pub(crate) fn singular(seg: &str) -> String {
    let (head, word) = match seg.rsplit_once('_') {
        Some((h, w)) => (Some(h), w),
        None => (None, seg),
    };
    let one = if word.ends_with("ics") || word.ends_with("ss") || word.ends_with("us") {
        word.to_string()
    } else if let Some(stem) = word.strip_suffix("ies") {
        format!("{stem}y")
    } else if ["ches", "shes", "sses", "xes"]
        .iter()
        .any(|s| word.ends_with(s))
    {
        word[..word.len() - 2].to_string()
    } else if let Some(stem) = word.strip_suffix('s') {
        stem.to_string()
    } else {
        word.to_string()
    };
    match head {
        Some(h) => format!("{h}_{one}"),
        None => one,
    }
}

/// The action name of operation `id` under the naming rule and overrides.
pub(crate) fn action_name(id: &str) -> String {
    if let Some(&(_, name)) = OVERRIDES.iter().find(|(o, _)| *o == id) {
        return name.to_string();
    }
    let id = id.strip_prefix("beta.").unwrap_or(id);
    let segs: Vec<&str> = id.split('.').collect();
    let (verb, nouns) = segs.split_last().expect("operation id has a verb");
    let (namespace, nouns) = match nouns.split_first() {
        Some((&first, rest)) if first == ADMIN_NAMESPACE && !rest.is_empty() => (Some(first), rest),
        _ => (None, nouns),
    };
    let noun = nouns
        .iter()
        .map(|s| singular(s))
        .collect::<Vec<_>>()
        .join("_");
    match namespace {
        Some(ns) => format!("anthropic.{ns}.{noun}.{verb}"),
        None => format!("anthropic.{noun}.{verb}"),
    }
}

/// True when operation `id` called with `method` only reads.
pub(crate) fn read_only(method: &str, id: &str) -> bool {
    method == "GET" || method == "HEAD" || READ_ONLY_POSTS.contains(&id)
}

/// The risk of operation `id` called with `method` on spec `path`.
pub(crate) fn risk(method: &str, path: &str, id: &str) -> Risk {
    if read_only(method, id) {
        return Risk::Low;
    }
    if CRITICAL.contains(&id) {
        return Risk::Critical;
    }
    let admin = path == "/v1/organizations" || path.starts_with("/v1/organizations/");
    let high_word = id.split(['.', '_']).any(|w| HIGH_WORDS.contains(&w));
    if method == "DELETE" || admin || high_word {
        return Risk::High;
    }
    Risk::Medium
}

/// One operation of the spec.
#[derive(Clone, Debug)]
pub(crate) struct SpecOp {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) id: String,
    pub(crate) summary: String,
    pub(crate) beta: bool,
    pub(crate) body_params: Vec<String>,
}

pub(crate) fn load_spec() -> Vec<SpecOp> {
    let text = std::fs::read_to_string(SPEC).expect("read the Anthropic spec");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("spec line is JSON");
            let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
            SpecOp {
                method: s("method"),
                path: s("path"),
                id: s("operation_id"),
                summary: s("summary"),
                beta: v["beta"].as_bool().unwrap_or(false),
                body_params: v["body_params"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|p| p.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default(),
            }
        })
        .collect()
}

/// The body fields `classify` reads for an operation, as a bit set.
pub(crate) fn body_bits(op: &SpecOp) -> u8 {
    let has = |f: &str| op.body_params.iter().any(|p| p == f);
    let mut bits = 0;
    if has("model") {
        bits |= BODY_MODEL;
    }
    if has("stream") {
        bits |= BODY_STREAM;
    }
    if has("max_tokens") {
        bits |= BODY_MAX_TOKENS;
    }
    bits
}

/// How many leading path segments make the resource: up to the last
/// parameter; all when there is none.
fn keep(template: &str) -> u8 {
    let segs: Vec<&str> = template.trim_start_matches('/').split('/').collect();
    match segs.iter().rposition(|s| s.contains('{')) {
        Some(i) => u8::try_from(i + 1).expect("short path"),
        None => u8::MAX,
    }
}

/// The first summary line, short enough for a catalogue.
fn short_summary(summary: &str) -> String {
    let line = summary.lines().next().unwrap_or_default().trim();
    match line.char_indices().nth(160) {
        Some((i, _)) => format!("{}…", &line[..i]),
        None => line.to_string(),
    }
}

/// The whole `routes.rs` source.
pub(crate) fn generate(ops: &[SpecOp]) -> String {
    let mut names: HashMap<String, Vec<&str>> = HashMap::new();
    let mut routes: HashMap<(&str, &str), Vec<&str>> = HashMap::new();
    for op in ops {
        names.entry(action_name(&op.id)).or_default().push(&op.id);
        routes
            .entry((&op.method, &op.path))
            .or_default()
            .push(&op.id);
    }
    let shared: Vec<_> = names.iter().filter(|(_, ids)| ids.len() > 1).collect();
    assert!(
        shared.is_empty(),
        "action names naming two operations: {shared:?}"
    );
    let dup: Vec<_> = routes.iter().filter(|(_, ids)| ids.len() > 1).collect();
    assert!(dup.is_empty(), "spec rows sharing a method + path: {dup:?}");
    for name in names.keys() {
        let valid = name.split('.').all(|seg| {
            !seg.is_empty()
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        });
        assert!(valid, "invalid action name {name}");
    }

    let mut builder = RouterBuilder::new();
    for (i, op) in ops.iter().enumerate() {
        builder
            .insert(&op.method, &op.path, i as u32)
            .unwrap_or_else(|e| panic!("{}: {e}", op.id));
    }
    let router = builder.build();

    let mut s = String::new();
    s.push_str(
        "//! Anthropic API operations → actions, generated from `specs/anthropic.operations.jsonl`\n\
         //! by `src/codegen.rs`. Do not edit: run `UPDATE_ROUTES=1 cargo test -p anthropic`.\n\n\
         use tameflare_sdk::Risk;\n\nuse crate::actions::Op;\n\n",
    );
    let _ = writeln!(
        s,
        "/// Every operation, in spec order; the router returns indices into it."
    );
    let _ = writeln!(s, "pub(crate) static OPS: [Op; {}] = [", ops.len());
    for op in ops {
        let params: Vec<String> = tameflare_sdk::route::param_names(&op.path)
            .map(|p| format!("{p:?}"))
            .collect();
        let _ = writeln!(
            s,
            "    Op {{ method: {:?}, path: {:?}, operation_id: {:?}, action: {:?}, summary: {:?}, params: &[{}], keep: {}, risk: Risk::{:?}, read_only: {}, beta: {}, body: {} }},",
            op.method,
            op.path,
            op.id,
            action_name(&op.id),
            short_summary(&op.summary),
            params.join(", "),
            keep(&op.path),
            risk(&op.method, &op.path, &op.id),
            read_only(&op.method, &op.id),
            op.beta,
            body_bits(op),
        );
    }
    s.push_str("];\n\n/// The route trie over [`OPS`].\npub(crate) static ROUTER: tameflare_sdk::route::Router<'static> = ");
    s.push_str(&router.to_rust("tameflare_sdk::route"));
    s.push_str(";\n");
    s
}

#[test]
fn routes_are_current() {
    tameflare_sdk::testing::check_generated(ROUTES_RS, &generate(&load_spec()), "anthropic");
}

#[test]
fn singular_rule() {
    let cases: &[(&str, &str)] = &[
        ("messages", "message"),
        ("batches", "batch"),
        ("memories", "memory"),
        ("api_keys", "api_key"),
        ("rate_limits", "rate_limit"),
        ("analytics", "analytics"),
        ("work", "work"),
        ("claude_code", "claude_code"),
        ("managed_settings", "managed_setting"),
        ("plugin_marketplaces", "plugin_marketplace"),
        ("summaries", "summary"),
    ];
    let got: Vec<(&str, String)> = cases.iter().map(|&(w, _)| (w, singular(w))).collect();
    let want: Vec<(&str, String)> = cases.iter().map(|&(w, s)| (w, s.to_string())).collect();
    assert_eq!(got, want);
}

#[test]
fn naming_rule() {
    let cases: &[(&str, &str)] = &[
        ("messages.create", "anthropic.message.create"),
        ("messages.count_tokens", "anthropic.message.count_tokens"),
        ("models.list", "anthropic.model.list"),
        ("messages.batches.create", "anthropic.message_batch.create"),
        (
            "messages.batches.results",
            "anthropic.message_batch.results",
        ),
        (
            "files.retrieve_metadata",
            "anthropic.file.retrieve_metadata",
        ),
        ("beta.agents.create", "anthropic.agent.create"),
        (
            "beta.memory_stores.memories.update",
            "anthropic.memory_store_memory.update",
        ),
        ("organization.retrieve", "anthropic.organization.retrieve"),
        (
            "organization.api_keys.update",
            "anthropic.organization.api_key.update",
        ),
        (
            "organization.workspaces.members.remove",
            "anthropic.organization.workspace_member.remove",
        ),
        (
            "beta.organization.spend_limits.set",
            "anthropic.organization.spend_limit.set",
        ),
    ];
    let got: Vec<(&str, String)> = cases.iter().map(|&(id, _)| (id, action_name(id))).collect();
    let want: Vec<(&str, String)> = cases.iter().map(|&(id, n)| (id, n.to_string())).collect();
    assert_eq!(got, want);
}

#[test]
fn risk_rule() {
    let cases: &[(&str, &str, &str, Risk)] = &[
        ("GET", "/v1/models", "models.list", Risk::Low),
        (
            "POST",
            "/v1/messages/count_tokens",
            "messages.count_tokens",
            Risk::Low,
        ),
        ("POST", "/v1/messages", "messages.create", Risk::Medium),
        (
            "POST",
            "/v1/messages/batches",
            "messages.batches.create",
            Risk::Medium,
        ),
        ("DELETE", "/v1/files/{file_id}", "files.delete", Risk::High),
        (
            "POST",
            "/v1/organizations/invites",
            "organization.invites.create",
            Risk::High,
        ),
        (
            "GET",
            "/v1/organizations/users",
            "organization.users.list",
            Risk::Low,
        ),
        (
            "POST",
            "/v1/tunnels/{tunnel_id}/rotate_token",
            "beta.tunnels.rotate_token",
            Risk::High,
        ),
        (
            "DELETE",
            "/v1/organizations/users/{user_id}",
            "organization.users.remove",
            Risk::Critical,
        ),
    ];
    let got: Vec<_> = cases
        .iter()
        .map(|&(m, p, id, _)| (m, id, risk(m, p, id)))
        .collect();
    let want: Vec<_> = cases.iter().map(|&(m, _, id, r)| (m, id, r)).collect();
    assert_eq!(got, want);
}
