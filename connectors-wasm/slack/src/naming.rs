//! Slack's naming and risk choices for the generated `routes.rs`
//! (`specs/slack.operations.jsonl` → [`tameflare_sdk::codegen`]): one row
//! per Web API method, routed on `POST` and `GET /api/<method>`. Test code
//! only; `routes_are_current` fails when the committed table is stale, and
//! `cargo xtask codegen` (or `UPDATE_ROUTES=1 cargo test -p slack`)
//! rewrites it.
//!
//! The naming rule (also in the README): a method `a.bC.dEF` becomes
//! `slack.a.b_c.d_ef`: `slack.` followed by the method's dot-separated
//! segments, each converted from camelCase to snake_case ([`snake`]).
//! [`OVERRIDES`] pins the names that policies rely on and that the rule
//! would not produce.

use tameflare_sdk::Risk;
use tameflare_sdk::codegen::{self, Naming, Operation};

use crate::actions::HTTP_METHODS;

const SPEC: &str = include_str!("../../../specs/slack.operations.jsonl");
const ROUTES_RS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/routes.rs");

/// Slack method → pinned action name.
pub(crate) const OVERRIDES: &[(&str, &str)] = &[
    ("chat.postMessage", "slack.message.send"),
    ("conversations.archive", "slack.channel.archive"),
];

/// Reads: the first word of the last segment (snake_case) is one of these…
const READ_FIRST_WORDS: &[&str] = &["get", "list", "lookup"];
/// …or its last word is one of these…
const READ_LAST_WORDS: &[&str] = &[
    "list",
    "info",
    "history",
    "replies",
    "members",
    "conversations",
    "identity",
    "export",
    "validate",
    "test",
    "logs",
    "lookup",
    "search",
];
/// …or the method is in the `search` namespace or listed here.
const READ_EXTRA: &[&str] = &["migration.exchange"];
/// Methods the word rule would call reads but that change state.
const NOT_READ: &[&str] = &[
    // Reserves an upload slot for a new file.
    "files.getUploadURLExternal",
];

/// Irreversible deletions of org-level resources.
const CRITICAL: &[&str] = &[
    "admin.conversations.delete",
    "admin.conversations.bulkDelete",
    "apps.manifest.delete",
];

/// Namespaces whose every write is high: org administration and token
/// issuance.
const HIGH_NAMESPACES: &[&str] = &["admin", "oauth", "openid"];

/// Words (of any segment after the first) that make a write high risk:
/// destructive, or access and credential changes.
const HIGH_WORDS: &[&str] = &[
    "delete",
    "remove",
    "archive",
    "kick",
    "revoke",
    "uninstall",
    "disable",
    "invalidate",
    "reset",
    "disconnect",
    "restrict",
    "unpublish",
    "rotate",
    "token",
    "tokens",
    "public",
    "permissions",
    "access",
];

/// camelCase → snake_case; a run of capitals is one word (`URLExternal` →
/// `url_external`).
pub(crate) fn snake(seg: &str) -> String {
    codegen::snake_case(seg)
}

/// The action name of Slack method `method` under the naming rule and
/// overrides.
pub(crate) fn action_name(method: &str) -> String {
    if let Some(&(_, name)) = OVERRIDES.iter().find(|(m, _)| *m == method) {
        return name.to_string();
    }
    let segs: Vec<String> = method.split('.').map(snake).collect();
    format!("slack.{}", segs.join("."))
}

/// True when Slack method `method` only reads.
pub(crate) fn read_only(method: &str) -> bool {
    if NOT_READ.contains(&method) {
        return false;
    }
    if method.starts_with("search.") || READ_EXTRA.contains(&method) {
        return true;
    }
    let last = snake(method.rsplit('.').next().unwrap_or(method));
    let first_word = last.split('_').next().unwrap_or(&last);
    let last_word = last.rsplit('_').next().unwrap_or(&last);
    READ_FIRST_WORDS.contains(&first_word) || READ_LAST_WORDS.contains(&last_word)
}

/// The risk of Slack method `method`.
pub(crate) fn risk(method: &str) -> Risk {
    if read_only(method) {
        return Risk::Low;
    }
    if CRITICAL.contains(&method) {
        return Risk::Critical;
    }
    let mut segs = method.split('.');
    let namespace = segs.next().unwrap_or_default();
    let high_word = segs.any(|s| snake(s).split('_').any(|w| HIGH_WORDS.contains(&w)));
    if high_word || HIGH_NAMESPACES.contains(&namespace) {
        return Risk::High;
    }
    Risk::Medium
}

/// Slack's choices.
pub(crate) struct SlackNaming;

impl Naming for SlackNaming {
    fn connector(&self) -> &str {
        "slack"
    }

    fn header(&self) -> String {
        "Slack Web API methods → actions, generated from `specs/slack.operations.jsonl`\nwith the naming in `src/naming.rs`; each method is routed on POST and GET.".into()
    }

    fn regenerate(&self) -> &str {
        "`cargo xtask codegen`"
    }

    fn action_name(&self, op: &Operation) -> String {
        action_name(&op.operation_id)
    }

    fn risk(&self, op: &Operation, _action: &str) -> Risk {
        risk(&op.operation_id)
    }

    fn read_only(&self, op: &Operation, _action: &str) -> bool {
        read_only(&op.operation_id)
    }

    fn route_methods(&self, _op: &Operation) -> Vec<String> {
        HTTP_METHODS.iter().map(|m| (*m).to_owned()).collect()
    }
}

/// Every method of the spec, in spec order (each a `POST /api/<method>`).
pub(crate) fn load_spec() -> Vec<Operation> {
    let ops = codegen::parse_operations(SPEC).expect("the Slack spec");
    for op in &ops {
        assert_eq!(op.method, "POST", "{}", op.label());
        assert_eq!(
            op.path,
            format!("/api/{}", op.operation_id),
            "{}",
            op.label()
        );
    }
    ops
}

/// The whole `routes.rs` source.
pub(crate) fn generate() -> String {
    codegen::generate(&SlackNaming, &load_spec()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn routes_are_current() {
    tameflare_sdk::testing::check_generated(ROUTES_RS, &generate(), "slack");
}

#[test]
fn naming_rule() {
    let cases: &[(&str, &str)] = &[
        ("chat.update", "slack.chat.update"),
        ("conversations.history", "slack.conversations.history"),
        ("admin.apps.approve", "slack.admin.apps.approve"),
        ("chat.postEphemeral", "slack.chat.post_ephemeral"),
        (
            "files.getUploadURLExternal",
            "slack.files.get_upload_url_external",
        ),
        ("files.revokePublicURL", "slack.files.revoke_public_url"),
        (
            "slackLists.items.deleteMultiple",
            "slack.slack_lists.items.delete_multiple",
        ),
        ("oauth.v2.access", "slack.oauth.v2.access"),
        ("chat.postMessage", "slack.message.send"),
        ("conversations.archive", "slack.channel.archive"),
    ];
    for &(method, want) in cases {
        assert_eq!(action_name(method), want, "method {method}");
    }
}

#[test]
fn risk_rule() {
    let cases: &[(&str, Risk, bool)] = &[
        ("conversations.history", Risk::Low, true),
        ("conversations.list", Risk::Low, true),
        ("users.info", Risk::Low, true),
        ("users.getPresence", Risk::Low, true),
        ("team.accessLogs", Risk::Low, true),
        ("search.messages", Risk::Low, true),
        ("admin.users.list", Risk::Low, true),
        ("migration.exchange", Risk::Low, true),
        ("files.getUploadURLExternal", Risk::Medium, false),
        ("chat.postMessage", Risk::Medium, false),
        ("chat.update", Risk::Medium, false),
        ("conversations.invite", Risk::Medium, false),
        ("conversations.unarchive", Risk::Medium, false),
        ("chat.delete", Risk::High, false),
        ("conversations.archive", Risk::High, false),
        ("conversations.kick", Risk::High, false),
        ("files.sharedPublicURL", Risk::High, false),
        ("admin.apps.approve", Risk::High, false),
        ("admin.conversations.bulkArchive", Risk::High, false),
        ("oauth.v2.access", Risk::High, false),
        ("tooling.tokens.rotate", Risk::High, false),
        ("admin.conversations.delete", Risk::Critical, false),
        ("apps.manifest.delete", Risk::Critical, false),
    ];
    for &(method, want, ro) in cases {
        assert_eq!((risk(method), read_only(method)), (want, ro), "{method}");
    }
}
