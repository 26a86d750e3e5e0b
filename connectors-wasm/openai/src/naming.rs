//! OpenAI's naming and risk choices for the generated `routes.rs`
//! (`specs/openai.operations.jsonl` → [`tameflare_sdk::codegen`]): rows on
//! the wire paths (`/v1/...`), the body fields to read, and the `?beta=true`
//! twins (rows left out of the router and reached from their GA row). Test
//! code only; `routes_are_current` fails when the committed table is stale,
//! and `cargo xtask codegen` (or `UPDATE_ROUTES=1 cargo test -p openai`)
//! rewrites it.
//!
//! The naming rule (also in the README) works on the operation's SDK method
//! name (`sdk_methods[0]`, e.g. `vector_stores.files.retrieve`), because the
//! spec's operation ids mix five styles and some cannot be split into words
//! (`CreateanAPIkeyforaserviceaccount`): drop a leading `admin.organization.`
//! and remember it as the noun prefix `org`; the last dotted segment is the
//! verb (`retrieve` → `get`); the other segments, each made singular, joined
//! with `_`, are the noun: `openai.<noun>.<verb>`. [`OVERRIDES`] pins the
//! names policies rely on and names the few operations without an SDK method.

use tameflare_sdk::Risk;
use tameflare_sdk::codegen::{self, Naming, Operation};

use crate::actions::BODY_FIELDS;

const SPEC: &str = include_str!("../../../specs/openai.operations.jsonl");
const ROUTES_RS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/routes.rs");

/// Operation id → pinned action name.
pub(crate) const OVERRIDES: &[(&str, &str)] = &[
    ("createChatCompletion", "openai.chat.create"),
    ("createFile", "openai.file.upload"),
    // No SDK method: named as the rule would name `realtime.sessions.create`,
    // `realtime.transcription_sessions.create` and `evals.runs.cancel`.
    ("create-realtime-session", "openai.realtime_session.create"),
    (
        "create-realtime-transcription-session",
        "openai.realtime_transcription_session.create",
    ),
    ("cancelEvalRun", "openai.eval_run.cancel"),
];

/// The one name two operations share: the spec's cancel (POST on the run)
/// and the SDK's newer `/cancel` path do the same thing.
pub(crate) const SHARED: &[&str] = &["openai.eval_run.cancel"];

/// Irreversible account-level operations.
const CRITICAL: &[&str] = &["openai.org_project.archive", "openai.org_user.delete"];

/// Writes that spend money on their own (training).
const HIGH_ACTIONS: &[&str] = &[
    "openai.fine_tuning_job.create",
    "openai.fine_tuning_job.resume",
];

/// `_`-separated words of a noun or verb that make a write high risk:
/// credential, permission and event-routing management.
const HIGH_WORDS: &[&str] = &[
    "key",
    "secret",
    "credential",
    "permission",
    "vault",
    "webhook",
    "certificate",
    "role",
];

/// A resource segment made singular: `batches` → `batch`, `api_keys` →
/// `api_key`, `usage` stays.
pub(crate) fn singular(seg: &str) -> String {
    if let Some(stem) = seg.strip_suffix("ies") {
        return format!("{stem}y");
    }
    for es in ["ches", "shes", "sses", "xes"] {
        if seg.ends_with(es) {
            return seg[..seg.len() - 2].to_string();
        }
    }
    if seg.ends_with('s') && !seg.ends_with("ss") && !seg.ends_with("us") {
        return seg[..seg.len() - 1].to_string();
    }
    seg.to_string()
}

/// The action name of operation `id` with SDK method `sdk`, under the naming
/// rule and overrides.
pub(crate) fn action_name(id: &str, sdk: Option<&str>) -> String {
    if let Some(&(_, name)) = OVERRIDES.iter().find(|(o, _)| *o == id) {
        return name.to_string();
    }
    let sdk = sdk.unwrap_or_else(|| panic!("{id}: no SDK method and no override"));
    let (mut noun, rest) = match sdk.strip_prefix("admin.organization.") {
        Some(rest) => (vec!["org".to_string()], rest),
        None => (Vec::new(), sdk),
    };
    let (resource, verb) = rest
        .rsplit_once('.')
        .unwrap_or_else(|| panic!("{id}: SDK method {sdk} is not resource.verb"));
    noun.extend(resource.split('.').map(singular));
    let verb = if verb == "retrieve" { "get" } else { verb };
    format!("openai.{}.{verb}", noun.join("_"))
}

/// The risk of `action` called with `method`.
pub(crate) fn risk(method: &str, action: &str) -> Risk {
    if method == "GET" || method == "HEAD" {
        return Risk::Low;
    }
    if CRITICAL.contains(&action) {
        return Risk::Critical;
    }
    let rest = action.strip_prefix("openai.").unwrap_or(action);
    let high_word = rest
        .split(['.', '_'])
        .any(|w| HIGH_WORDS.contains(&w) || HIGH_WORDS.iter().any(|h| w == format!("{h}s")));
    if method == "DELETE" || rest.starts_with("org_") || HIGH_ACTIONS.contains(&action) || high_word
    {
        return Risk::High;
    }
    Risk::Medium
}

/// True for the beta twin selected by `?beta=true`.
pub(crate) fn is_beta(op: &Operation) -> bool {
    op.path.contains("?beta=true")
}

/// The wire path template without query (`/v1/responses`).
pub(crate) fn wire_path(op: &Operation) -> &str {
    op.path.split('?').next().unwrap_or_default()
}

/// The action name of `op`.
pub(crate) fn action(op: &Operation) -> String {
    action_name(&op.operation_id, op.list("sdk_methods").first().copied())
}

/// Bits of [`BODY_FIELDS`] the JSON body of `op` declares.
fn body_bits(op: &Operation) -> u8 {
    let json = op.list("body_content_types").contains(&"application/json");
    let params = op.list("body_params");
    let mut body = 0u8;
    for (bit, f) in BODY_FIELDS.iter().enumerate() {
        if json && params.contains(f) {
            body |= 1 << bit;
        }
    }
    body
}

/// OpenAI's choices.
pub(crate) struct OpenaiNaming;

impl Naming for OpenaiNaming {
    fn connector(&self) -> &str {
        "openai"
    }

    fn header(&self) -> String {
        "OpenAI operations → actions, generated from `specs/openai.operations.jsonl`\nwith the naming in `src/naming.rs`; beta twins are reached through `extra.beta_twin`.".into()
    }

    fn regenerate(&self) -> &str {
        "`cargo xtask codegen`"
    }

    fn action_name(&self, op: &Operation) -> String {
        action(op)
    }

    fn risk(&self, op: &Operation, action: &str) -> Risk {
        risk(&op.method, action)
    }

    /// Beta twins share their GA operation's route.
    fn route_methods(&self, op: &Operation) -> Vec<String> {
        if is_beta(op) {
            Vec::new()
        } else {
            vec![op.method.clone()]
        }
    }

    fn shared_names(&self) -> &[&str] {
        SHARED
    }

    fn extra_type(&self) -> Option<&str> {
        Some("crate::actions::Extra")
    }

    fn extra(&self, index: usize, ops: &[Operation]) -> String {
        let op = &ops[index];
        let twin = if is_beta(op) {
            None
        } else {
            ops.iter()
                .rposition(|o| is_beta(o) && o.method == op.method && wire_path(o) == wire_path(op))
        };
        let twin = twin.map_or(u16::MAX, |i| u16::try_from(i).expect("few operations"));
        format!("Extra {{ body: {}, beta_twin: {twin} }}", body_bits(op))
    }
}

/// Every operation of the spec, in spec order, with its wire path (the
/// `url_path`, `?beta=true` included) as path.
pub(crate) fn load_spec() -> Vec<Operation> {
    let mut ops = codegen::parse_operations(SPEC).expect("the OpenAI spec");
    for op in &mut ops {
        op.path = op.text("url_path").to_owned();
    }
    for op in ops.iter().filter(|o| is_beta(o)) {
        assert!(
            ops.iter()
                .any(|o| !is_beta(o) && o.method == op.method && wire_path(o) == wire_path(op)),
            "{}: beta twin without GA operation",
            op.label()
        );
    }
    ops
}

/// The whole `routes.rs` source.
pub(crate) fn generate() -> String {
    codegen::generate(&OpenaiNaming, &load_spec()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn routes_are_current() {
    tameflare_sdk::testing::check_generated(ROUTES_RS, &generate(), "openai");
}

#[test]
fn naming_rule() {
    let cases: &[(&str, Option<&str>, &str)] = &[
        (
            "createEmbedding",
            Some("embeddings.create"),
            "openai.embedding.create",
        ),
        ("listModels", Some("models.list"), "openai.model.list"),
        ("retrieveModel", Some("models.retrieve"), "openai.model.get"),
        ("deleteFile", Some("files.delete"), "openai.file.delete"),
        ("listBatches", Some("batches.list"), "openai.batch.list"),
        (
            "getVectorStoreFile",
            Some("vector_stores.files.retrieve"),
            "openai.vector_store_file.get",
        ),
        (
            "delete-project-api-key",
            Some("admin.organization.projects.api_keys.delete"),
            "openai.org_project_api_key.delete",
        ),
        (
            "beta_createResponse",
            Some("beta.responses.create"),
            "openai.beta_response.create",
        ),
        (
            "createChatCompletion",
            Some("chat.completions.create"),
            "openai.chat.create",
        ),
        ("createFile", Some("files.create"), "openai.file.upload"),
        (
            "create-realtime-session",
            None,
            "openai.realtime_session.create",
        ),
    ];
    let got: Vec<(&str, String)> = cases
        .iter()
        .map(|&(id, sdk, _)| (id, action_name(id, sdk)))
        .collect();
    let want: Vec<(&str, String)> = cases
        .iter()
        .map(|&(id, _, w)| (id, w.to_string()))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn singular_rule() {
    let cases = [
        ("batches", "batch"),
        ("responses", "response"),
        ("api_keys", "api_key"),
        ("usage", "usage"),
        ("safety", "safety"),
        ("fine_tuning", "fine_tuning"),
        ("spend_alerts", "spend_alert"),
        ("messages", "message"),
    ];
    let got: Vec<(&str, String)> = cases.iter().map(|&(w, _)| (w, singular(w))).collect();
    let want: Vec<(&str, String)> = cases.iter().map(|&(w, s)| (w, s.to_string())).collect();
    assert_eq!(got, want);
}

#[test]
fn risk_rule() {
    let cases: &[(&str, &str, Risk)] = &[
        ("GET", "openai.model.list", Risk::Low),
        ("POST", "openai.chat.create", Risk::Medium),
        ("POST", "openai.embedding.create", Risk::Medium),
        ("DELETE", "openai.file.delete", Risk::High),
        ("POST", "openai.fine_tuning_job.create", Risk::High),
        ("POST", "openai.org_project.create", Risk::High),
        ("POST", "openai.realtime_client_secret.create", Risk::High),
        ("POST", "openai.webhook.rotate_secret", Risk::High),
        ("POST", "openai.org_project.archive", Risk::Critical),
        ("DELETE", "openai.org_user.delete", Risk::Critical),
    ];
    let got: Vec<_> = cases.iter().map(|&(m, a, _)| (m, a, risk(m, a))).collect();
    assert_eq!(got, cases);
}
