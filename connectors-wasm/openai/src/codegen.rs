//! The generator of `routes.rs`: the OpenAI operations
//! (`specs/openai.operations.jsonl`) → action names, risks, body fields and a
//! static route trie over the wire paths (`/v1/...`). Test code only;
//! `routes_are_current` fails when the committed table is stale, and
//! `UPDATE_ROUTES=1 cargo test -p openai` rewrites it.
//!
//! The naming rule (also in the README) works on the operation's SDK method
//! name (`sdk_methods[0]`, e.g. `vector_stores.files.retrieve`), because the
//! spec's operation ids mix five styles and some cannot be split into words
//! (`CreateanAPIkeyforaserviceaccount`): drop a leading `admin.organization.`
//! and remember it as the noun prefix `org`; the last dotted segment is the
//! verb (`retrieve` → `get`); the other segments, each made singular, joined
//! with `_`, are the noun: `openai.<noun>.<verb>`. [`OVERRIDES`] pins the
//! names policies rely on and names the few operations without an SDK method.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use serde_json::Value;
use tameflare_sdk::Risk;
use tameflare_sdk::route::RouterBuilder;

use crate::actions::BODY_FIELDS;

pub(crate) const SPEC: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../specs/openai.operations.jsonl"
);
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

/// One operation of the spec.
#[derive(Clone, Debug)]
pub(crate) struct SpecOp {
    pub(crate) method: String,
    /// The wire path template without query (`/v1/responses`).
    pub(crate) path: String,
    /// The `url_path` as written, query included (`/v1/responses?beta=true`).
    pub(crate) url_path: String,
    pub(crate) id: String,
    pub(crate) sdk: Option<String>,
    pub(crate) summary: String,
    /// Bits of [`BODY_FIELDS`] the JSON body declares.
    pub(crate) body: u8,
}

impl SpecOp {
    /// True for the beta twin selected by `?beta=true`.
    pub(crate) fn is_beta(&self) -> bool {
        self.url_path.contains("?beta=true")
    }

    pub(crate) fn action(&self) -> String {
        action_name(&self.id, self.sdk.as_deref())
    }
}

pub(crate) fn load_spec() -> Vec<SpecOp> {
    let text = std::fs::read_to_string(SPEC).expect("read the OpenAI spec");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("spec line is JSON");
            let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
            let list = |k: &str| -> Vec<&str> {
                v[k].as_array()
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default()
            };
            let url_path = s("url_path");
            let json = list("body_content_types").contains(&"application/json");
            let params = list("body_params");
            let mut body = 0u8;
            for (bit, f) in BODY_FIELDS.iter().enumerate() {
                if json && params.contains(f) {
                    body |= 1 << bit;
                }
            }
            SpecOp {
                method: s("method"),
                path: url_path.split('?').next().unwrap_or_default().to_string(),
                url_path,
                id: s("operation_id"),
                sdk: list("sdk_methods").first().map(|m| m.to_string()),
                summary: s("summary"),
                body,
            }
        })
        .collect()
}

/// How many leading path segments after `/v1` make the resource: up to the
/// last parameter; all when there is none.
fn keep(template: &str) -> u8 {
    let rel = template
        .strip_prefix("/v1/")
        .expect("wire paths start /v1/");
    let segs: Vec<&str> = rel.split('/').collect();
    match segs.iter().rposition(|s| s.contains('{')) {
        Some(i) => u8::try_from(i + 1).expect("short path"),
        None => u8::MAX,
    }
}

/// The whole `routes.rs` source.
pub(crate) fn generate(ops: &[SpecOp]) -> String {
    let mut names: HashMap<String, Vec<&str>> = HashMap::new();
    for op in ops {
        names.entry(op.action()).or_default().push(&op.id);
    }
    let shared: BTreeMap<_, _> = names.iter().filter(|(_, ids)| ids.len() > 1).collect();
    assert_eq!(
        shared.keys().map(|k| k.as_str()).collect::<Vec<_>>(),
        SHARED,
        "only the pinned shared names may name two operations: {shared:?}"
    );
    for name in names.keys() {
        let segs: Vec<&str> = name.split('.').collect();
        let valid = segs.len() == 3
            && segs.iter().all(|seg| {
                !seg.is_empty()
                    && seg
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            });
        assert!(valid, "invalid action name {name}");
    }

    // Beta twins share their GA operation's route; `twin` links them.
    let mut twin = vec![u16::MAX; ops.len()];
    let mut builder = RouterBuilder::new();
    for (i, op) in ops.iter().enumerate() {
        if op.is_beta() {
            let ga = ops
                .iter()
                .position(|o| !o.is_beta() && o.method == op.method && o.path == op.path)
                .unwrap_or_else(|| panic!("{}: beta twin without GA operation", op.id));
            twin[ga] = u16::try_from(i).expect("few operations");
        } else {
            builder
                .insert(&op.method, &op.path, i as u32)
                .unwrap_or_else(|e| panic!("{}: {e}", op.id));
        }
    }
    let router = builder.build();

    let mut s = String::new();
    s.push_str(
        "//! OpenAI operations → actions, generated from `specs/openai.operations.jsonl`\n\
         //! by `src/codegen.rs`. Do not edit: run `UPDATE_ROUTES=1 cargo test -p openai`.\n\n\
         use tameflare_sdk::Risk;\n\nuse crate::actions::Op;\n\n",
    );
    let _ = writeln!(
        s,
        "/// Every operation, in spec order; the router returns indices into it."
    );
    let _ = writeln!(s, "pub(crate) static OPS: [Op; {}] = [", ops.len());
    for (op, twin) in ops.iter().zip(&twin) {
        let params: Vec<String> = tameflare_sdk::route::param_names(&op.path)
            .map(|p| format!("{p:?}"))
            .collect();
        let action = op.action();
        let _ = writeln!(
            s,
            "    Op {{ method: {:?}, path: {:?}, operation_id: {:?}, action: {:?}, summary: {:?}, params: &[{}], keep: {}, risk: Risk::{:?}, body: {}, beta_twin: {} }},",
            op.method,
            op.url_path,
            op.id,
            action,
            op.summary,
            params.join(", "),
            keep(&op.path),
            risk(&op.method, &action),
            op.body,
            twin,
        );
    }
    s.push_str("];\n\n/// The route trie over [`OPS`] (beta twins excluded).\npub(crate) static ROUTER: tameflare_sdk::route::Router<'static> = ");
    s.push_str(&router.to_rust("tameflare_sdk::route"));
    s.push_str(";\n");
    s
}

#[test]
fn routes_are_current() {
    tameflare_sdk::testing::check_generated(ROUTES_RS, &generate(&load_spec()), "openai");
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
