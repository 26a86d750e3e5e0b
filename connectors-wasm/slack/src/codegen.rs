//! The generator of `routes.rs`: Slack's Web API methods
//! (`specs/slack.operations.jsonl`) → action names, risks and a static
//! route trie (`POST` and `GET /api/<method>`, one entry per method). Test
//! code only; `routes_are_current` fails when the committed table is stale,
//! and `UPDATE_ROUTES=1 cargo test -p slack` rewrites it.
//!
//! The naming rule (also in the README): a method `a.bC.dEF` becomes
//! `slack.a.b_c.d_ef`: `slack.` followed by the method's dot-separated
//! segments, each converted from camelCase to snake_case ([`snake`]).
//! [`OVERRIDES`] pins the names that policies rely on and that the rule
//! would not produce.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use serde_json::Value;
use tameflare_sdk::Risk;
use tameflare_sdk::route::RouterBuilder;

use crate::actions::HTTP_METHODS;

pub(crate) const SPEC: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../specs/slack.operations.jsonl"
);
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
    let c: Vec<char> = seg.chars().collect();
    let mut out = String::with_capacity(seg.len() + 4);
    for (i, &ch) in c.iter().enumerate() {
        if ch.is_ascii_uppercase() && i > 0 {
            let prev = c[i - 1];
            let next_lower = c.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if prev.is_ascii_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_ascii_uppercase() && next_lower)
            {
                out.push('_');
            }
        }
        out.push(ch.to_ascii_lowercase());
    }
    out
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

/// One method of the spec.
#[derive(Clone, Debug)]
pub(crate) struct SpecOp {
    pub(crate) path: String,
    pub(crate) id: String,
    pub(crate) summary: String,
}

pub(crate) fn load_spec() -> Vec<SpecOp> {
    let text = std::fs::read_to_string(SPEC).expect("read the Slack spec");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("spec line is JSON");
            let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
            assert_eq!(s("method"), "POST", "{l}");
            let op = SpecOp {
                path: s("path"),
                id: s("operation_id"),
                summary: s("summary"),
            };
            assert_eq!(op.path, format!("/api/{}", op.id), "{l}");
            op
        })
        .collect()
}

/// The whole `routes.rs` source.
pub(crate) fn generate(ops: &[SpecOp]) -> String {
    let mut names: HashMap<String, Vec<&str>> = HashMap::new();
    for op in ops {
        names.entry(action_name(&op.id)).or_default().push(&op.id);
    }
    let shared: BTreeMap<_, _> = names.iter().filter(|(_, ids)| ids.len() > 1).collect();
    assert!(shared.is_empty(), "names shared by methods: {shared:?}");
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
        for m in HTTP_METHODS {
            builder
                .insert(m, &op.path, i as u32)
                .unwrap_or_else(|e| panic!("{}: {e}", op.id));
        }
    }
    let router = builder.build();

    let mut s = String::new();
    s.push_str(
        "//! Slack Web API methods → actions, generated from `specs/slack.operations.jsonl`\n\
         //! by `src/codegen.rs`. Do not edit: run `UPDATE_ROUTES=1 cargo test -p slack`.\n\n\
         use tameflare_sdk::Risk;\n\nuse crate::actions::Op;\n\n",
    );
    let _ = writeln!(
        s,
        "/// Every method, in spec order; the router returns indices into it."
    );
    let _ = writeln!(s, "pub(crate) static OPS: [Op; {}] = [", ops.len());
    for op in ops {
        let _ = writeln!(
            s,
            "    Op {{ path: {:?}, method: {:?}, action: {:?}, summary: {:?}, read_only: {}, risk: Risk::{:?} }},",
            op.path,
            op.id,
            action_name(&op.id),
            op.summary,
            read_only(&op.id),
            risk(&op.id),
        );
    }
    s.push_str("];\n\n/// The route trie over [`OPS`] (POST and GET).\npub(crate) static ROUTER: tameflare_sdk::route::Router<'static> = ");
    s.push_str(&router.to_rust("tameflare_sdk::route"));
    s.push_str(";\n");
    s
}

#[test]
fn routes_are_current() {
    tameflare_sdk::testing::check_generated(ROUTES_RS, &generate(&load_spec()), "slack");
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
