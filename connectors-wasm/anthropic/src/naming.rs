//! Anthropic's naming and risk choices for the generated `routes.rs`
//! (`specs/anthropic.operations.jsonl`, one row per unique method + path →
//! [`tameflare_sdk::codegen`]), and its extra columns (beta, body fields to
//! read). Test code only; `routes_are_current` fails when the committed
//! table is stale, and `cargo xtask codegen` (or `UPDATE_ROUTES=1 cargo
//! test -p anthropic`) rewrites it.
//!
//! The naming rule (also in the README): take the operation id (the SDK
//! method path, e.g. `messages.batches.create`) without a leading `beta.`;
//! its last segment is the verb, and the segments before it, each made
//! singular ([`singular`]) and joined with `_`, are the noun:
//! `anthropic.<noun>.<verb>`. The admin namespace `organization` stays a
//! segment of its own, so `anthropic.organization.*` is the whole Admin API:
//! `organization.api_keys.update` → `anthropic.organization.api_key.update`.
//! [`OVERRIDES`] pins the names policies rely on.

use tameflare_sdk::Risk;
use tameflare_sdk::codegen::{self, Naming, Operation};

use crate::actions::{BODY_MAX_TOKENS, BODY_MODEL, BODY_STREAM};

const SPEC: &str = include_str!("../../../specs/anthropic.operations.jsonl");
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

/// The first summary line, short enough for a catalogue.
fn short_summary(summary: &str) -> String {
    let line = summary.lines().next().unwrap_or_default().trim();
    match line.char_indices().nth(160) {
        Some((i, _)) => format!("{}…", &line[..i]),
        None => line.to_string(),
    }
}

/// The body fields `classify` reads for an operation, as a bit set.
pub(crate) fn body_bits(op: &Operation) -> u8 {
    let params = op.list("body_params");
    let has = |f: &str| params.contains(&f);
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

/// Anthropic's choices.
pub(crate) struct AnthropicNaming;

impl Naming for AnthropicNaming {
    fn connector(&self) -> &str {
        "anthropic"
    }

    fn header(&self) -> String {
        "Anthropic API operations → actions, generated from `specs/anthropic.operations.jsonl`\nwith the naming in `src/naming.rs`.".into()
    }

    fn regenerate(&self) -> &str {
        "`cargo xtask codegen`"
    }

    fn action_name(&self, op: &Operation) -> String {
        action_name(&op.operation_id)
    }

    fn risk(&self, op: &Operation, _action: &str) -> Risk {
        risk(&op.method, &op.path, &op.operation_id)
    }

    fn read_only(&self, op: &Operation, _action: &str) -> bool {
        read_only(&op.method, &op.operation_id)
    }

    fn summary(&self, op: &Operation) -> String {
        short_summary(&op.summary)
    }

    fn extra_type(&self) -> Option<&str> {
        Some("crate::actions::Extra")
    }

    fn extra(&self, index: usize, ops: &[Operation]) -> String {
        let op = &ops[index];
        format!(
            "Extra {{ beta: {}, body: {} }}",
            op.flag("beta"),
            body_bits(op)
        )
    }
}

/// Every operation of the spec, in spec order.
pub(crate) fn load_spec() -> Vec<Operation> {
    codegen::parse_operations(SPEC).expect("the Anthropic spec")
}

/// The whole `routes.rs` source.
pub(crate) fn generate() -> String {
    codegen::generate(&AnthropicNaming, &load_spec()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn routes_are_current() {
    tameflare_sdk::testing::check_generated(ROUTES_RS, &generate(), "anthropic");
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
