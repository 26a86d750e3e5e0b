//! The generator of `routes.rs`: GitHub's REST operations
//! (`specs/github.operations.jsonl`) → action names, risks and a static
//! route trie. Test code only; `routes_are_current` fails when the committed
//! table is stale, and `UPDATE_ROUTES=1 cargo test -p github` rewrites it.
//!
//! The naming rule (also in the README): an operation id `tag/words` becomes
//! `github.<alias(tag)>.<words with '-' → '_'>`, where `alias` maps a few
//! plural tags to singular nouns ([`TAG_ALIASES`]) and leaves any other tag
//! as is (with '-' → '_'). [`OVERRIDES`] pins the handful of names that
//! policies rely on and that the rule would not produce.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use serde_json::Value;
use tameflare_sdk::Risk;
use tameflare_sdk::route::RouterBuilder;

pub(crate) const SPEC: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../specs/github.operations.jsonl"
);
const ROUTES_RS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/routes.rs");

/// Operation-id tag → action noun.
pub(crate) const TAG_ALIASES: &[(&str, &str)] = &[
    ("apps", "app"),
    ("checks", "check"),
    ("codespaces", "codespace"),
    ("gists", "gist"),
    ("issues", "issue"),
    ("licenses", "license"),
    ("migrations", "migration"),
    ("orgs", "org"),
    ("packages", "package"),
    ("projects", "project"),
    ("pulls", "pr"),
    ("reactions", "reaction"),
    ("repos", "repo"),
    ("teams", "team"),
    ("users", "user"),
];

/// Operation id → pinned action name.
pub(crate) const OVERRIDES: &[(&str, &str)] = &[
    ("pulls/create-review", "github.pr.review"),
    ("git/create-ref", "github.branch.create"),
    ("git/delete-ref", "github.branch.delete"),
    ("repos/create-release", "github.release.create"),
    ("repos/delete-release", "github.release.delete"),
    ("repos/create-or-update-file-contents", "github.file.create"),
    ("repos/delete-file", "github.file.delete"),
    ("repos/create-for-authenticated-user", "github.repo.create"),
    ("repos/create-in-org", "github.repo.create"),
];

/// Operations whose misuse loses a whole repository or organization.
const CRITICAL: &[&str] = &["repos/delete", "orgs/delete"];

/// Words of an operation id that make a write high risk: destructive or
/// security/admin settings.
const HIGH_WORDS: &[&str] = &[
    "merge",
    "transfer",
    "archive",
    "protection",
    "admin",
    "admins",
    "security",
    "secret",
    "secrets",
    "permission",
    "permissions",
    "ruleset",
    "rulesets",
    "role",
    "roles",
    "hook",
    "hooks",
    "webhook",
    "key",
    "keys",
    "visibility",
    "token",
    "tokens",
    "credential",
    "credentials",
    "block",
    "rename",
    "owner",
    "owners",
    "collaborator",
    "collaborators",
    "membership",
];

/// Path parameters that may span several segments when they end the path.
const TAIL_PARAMS: &[&str] = &["path", "ref"];

/// The action name of operation `id` under the naming rule and overrides.
pub(crate) fn action_name(id: &str) -> String {
    if let Some(&(_, name)) = OVERRIDES.iter().find(|(o, _)| *o == id) {
        return name.to_string();
    }
    let (tag, words) = id.split_once('/').expect("operation id is tag/words");
    let noun = TAG_ALIASES
        .iter()
        .find(|(t, _)| *t == tag)
        .map_or_else(|| tag.replace('-', "_"), |(_, a)| a.to_string());
    format!("github.{noun}.{}", words.replace('-', "_"))
}

/// The risk of operation `id` called with `method`.
pub(crate) fn risk(method: &str, id: &str) -> Risk {
    if method == "GET" || method == "HEAD" {
        return Risk::Low;
    }
    if CRITICAL.contains(&id) {
        return Risk::Critical;
    }
    let words = id.split_once('/').map_or(id, |(_, w)| w);
    if method == "DELETE" || words.split('-').any(|w| HIGH_WORDS.contains(&w)) {
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
}

pub(crate) fn load_spec() -> Vec<SpecOp> {
    let text = std::fs::read_to_string(SPEC).expect("read the GitHub spec");
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
            }
        })
        .collect()
}

/// The router template of a spec path: a last `{path}`/`{ref}` becomes a
/// tail parameter.
pub(crate) fn router_template(path: &str) -> String {
    match path.rsplit_once('/') {
        Some((head, last)) if TAIL_PARAMS.iter().any(|p| last == format!("{{{p}}}")) => {
            format!("{head}/{}+}}", &last[..last.len() - 1])
        }
        _ => path.to_string(),
    }
}

/// How many leading path segments make the resource: up to the last
/// parameter; all when there is none or it is a tail.
fn keep(template: &str) -> u8 {
    let segs: Vec<&str> = template.trim_start_matches('/').split('/').collect();
    match segs.iter().rposition(|s| s.contains('{')) {
        Some(i) if !segs[i].ends_with("+}") => u8::try_from(i + 1).expect("short path"),
        _ => u8::MAX,
    }
}

/// The whole `routes.rs` source.
pub(crate) fn generate(ops: &[SpecOp]) -> String {
    let mut names: HashMap<String, Vec<&str>> = HashMap::new();
    for op in ops {
        names.entry(action_name(&op.id)).or_default().push(&op.id);
    }
    let shared: BTreeMap<_, _> = names.iter().filter(|(_, ids)| ids.len() > 1).collect();
    assert_eq!(
        shared.keys().map(|k| k.as_str()).collect::<Vec<_>>(),
        ["github.repo.create"],
        "only the pinned github.repo.create may name two operations: {shared:?}"
    );
    for name in names.keys() {
        let valid = name.split('.').all(|seg| {
            !seg.is_empty()
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        });
        assert!(valid, "invalid action name {name}");
    }

    let templates: Vec<String> = ops.iter().map(|o| router_template(&o.path)).collect();
    let mut builder = RouterBuilder::new();
    for (i, (op, t)) in ops.iter().zip(&templates).enumerate() {
        builder
            .insert(&op.method, t, i as u32)
            .unwrap_or_else(|e| panic!("{}: {e}", op.id));
    }
    let router = builder.build();

    let mut s = String::new();
    s.push_str(
        "//! GitHub REST operations → actions, generated from `specs/github.operations.jsonl`\n\
         //! by `src/codegen.rs`. Do not edit: run `UPDATE_ROUTES=1 cargo test -p github`.\n\n\
         use tameflare_sdk::Risk;\n\nuse crate::actions::Op;\n\n",
    );
    let _ = writeln!(
        s,
        "/// Every operation, in spec order; the router returns indices into it."
    );
    let _ = writeln!(s, "pub(crate) static OPS: [Op; {}] = [", ops.len());
    for (op, t) in ops.iter().zip(&templates) {
        let params: Vec<String> = tameflare_sdk::route::param_names(t)
            .map(|p| format!("{p:?}"))
            .collect();
        let _ = writeln!(
            s,
            "    Op {{ method: {:?}, path: {:?}, operation_id: {:?}, action: {:?}, summary: {:?}, params: &[{}], keep: {}, risk: Risk::{:?} }},",
            op.method,
            op.path,
            op.id,
            action_name(&op.id),
            op.summary,
            params.join(", "),
            keep(t),
            risk(&op.method, &op.id),
        );
    }
    s.push_str("];\n\n/// The route trie over [`OPS`].\npub(crate) static ROUTER: tameflare_sdk::route::Router<'static> = ");
    s.push_str(&router.to_rust("tameflare_sdk::route"));
    s.push_str(";\n");
    s
}

#[test]
fn routes_are_current() {
    tameflare_sdk::testing::check_generated(ROUTES_RS, &generate(&load_spec()), "github");
}

#[test]
fn naming_rule() {
    let cases: &[(&str, &str)] = &[
        ("pulls/list", "github.pr.list"),
        ("issues/create-comment", "github.issue.create_comment"),
        ("repos/get-content", "github.repo.get_content"),
        (
            "code-scanning/list-alerts-for-repo",
            "github.code_scanning.list_alerts_for_repo",
        ),
        (
            "actions/list-workflow-runs",
            "github.actions.list_workflow_runs",
        ),
        ("git/create-ref", "github.branch.create"),
        ("repos/create-in-org", "github.repo.create"),
    ];
    for &(id, want) in cases {
        assert_eq!(action_name(id), want, "operation {id}");
    }
}

#[test]
fn risk_rule() {
    let cases: &[(&str, &str, Risk)] = &[
        ("GET", "repos/get", Risk::Low),
        ("POST", "issues/create", Risk::Medium),
        ("PUT", "pulls/merge", Risk::High),
        ("DELETE", "issues/delete-comment", Risk::High),
        ("PUT", "repos/update-branch-protection", Risk::High),
        ("POST", "repos/transfer", Risk::High),
        ("DELETE", "repos/delete", Risk::Critical),
        ("DELETE", "orgs/delete", Risk::Critical),
    ];
    for &(method, id, want) in cases {
        assert_eq!(risk(method, id), want, "{method} {id}");
    }
}
