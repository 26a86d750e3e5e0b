//! GitHub's naming and risk choices for the generated `routes.rs`
//! (`specs/github.operations.jsonl` → [`tameflare_sdk::codegen`]). Test code
//! only; `routes_are_current` fails when the committed table is stale, and
//! `cargo xtask codegen` (or `UPDATE_ROUTES=1 cargo test -p github`)
//! rewrites it.
//!
//! The naming rule (also in the README): an operation id `tag/words` becomes
//! `github.<alias(tag)>.<words with '-' → '_'>`, where `alias` maps a few
//! plural tags to singular nouns ([`TAG_ALIASES`]) and leaves any other tag
//! as is (with '-' → '_'). [`OVERRIDES`] pins the handful of names that
//! policies rely on and that the rule would not produce.

use tameflare_sdk::Risk;
use tameflare_sdk::codegen::{self, Naming, Operation};

const SPEC: &str = include_str!("../../../specs/github.operations.jsonl");
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

/// GitHub's choices.
pub(crate) struct GithubNaming;

impl Naming for GithubNaming {
    fn connector(&self) -> &str {
        "github"
    }

    fn header(&self) -> String {
        "GitHub REST operations → actions, generated from `specs/github.operations.jsonl`\nwith the naming in `src/naming.rs`.".into()
    }

    fn regenerate(&self) -> &str {
        "`cargo xtask codegen`"
    }

    fn action_name(&self, op: &Operation) -> String {
        action_name(&op.operation_id)
    }

    fn risk(&self, op: &Operation, _action: &str) -> Risk {
        risk(&op.method, &op.operation_id)
    }

    fn template(&self, op: &Operation) -> String {
        router_template(&op.path)
    }

    fn shared_names(&self) -> &[&str] {
        &["github.repo.create"]
    }
}

/// Every operation of the spec, in spec order.
pub(crate) fn load_spec() -> Vec<Operation> {
    codegen::parse_operations(SPEC).expect("the GitHub spec")
}

/// The whole `routes.rs` source.
pub(crate) fn generate() -> String {
    codegen::generate(&GithubNaming, &load_spec()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn routes_are_current() {
    tameflare_sdk::testing::check_generated(ROUTES_RS, &generate(), "github");
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
