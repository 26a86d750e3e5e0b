use std::collections::{BTreeSet, HashMap};

use tameflare_sdk::{Connector, Placement, Request, testing};

use super::*;
use crate::Anthropic;
use crate::naming::{action_name, load_spec};
use tameflare_sdk::Risk;

/// The names policies rely on.
const PINNED: &[&str] = &["anthropic.message.create"];

/// Names every fixture file must exercise besides the pinned ones: one per
/// family (batches, models, files, beta resources, Admin API, unknown).
const SAMPLED: &[&str] = &[
    "anthropic.message.count_tokens",
    "anthropic.message_batch.create",
    "anthropic.message_batch.delete",
    "anthropic.model.list",
    "anthropic.model.retrieve",
    "anthropic.file.upload",
    "anthropic.file.delete",
    "anthropic.agent.create",
    "anthropic.organization.api_key.update",
    "anthropic.organization.workspace.create",
    "anthropic.organization.user.remove",
    "anthropic.organization.invite.create",
    "anthropic.unknown",
];

#[test]
fn fixtures() {
    let fixtures =
        testing::check::<Anthropic>(include_str!("../../fixtures/actions.jsonl"), DOMAIN)
            .unwrap_or_else(|report| panic!("fixture mismatches:\n{report}"));
    let named: BTreeSet<&str> = fixtures
        .iter()
        .filter_map(|f| f.expect.as_ref().map(|e| e.name.as_str()))
        .collect();
    let missing: Vec<&&str> = PINNED
        .iter()
        .chain(SAMPLED)
        .filter(|n| !named.contains(**n))
        .collect();
    assert!(missing.is_empty(), "names without a fixture: {missing:?}");
}

/// A concrete value for a path parameter that no literal segment equals.
fn sample(param: &str) -> &'static str {
    if param == "id" || param.ends_with("_id") {
        "42"
    } else {
        "v-x"
    }
}

/// A concrete path for a spec template.
fn concrete(template: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').expect("closed") + start;
        out.push_str(sample(&rest[start + 1..end]));
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Every spec operation (one per unique method + path), called with a
/// concrete path, classifies to its own entry and expected action: none
/// unmapped, none doubly mapped.
#[test]
fn spec_coverage() {
    let spec = load_spec();
    assert_eq!(spec.len(), OPS.len(), "table and spec differ in size");
    let unique: BTreeSet<(&str, &str)> = spec
        .iter()
        .map(|o| (o.method.as_str(), o.path.as_str()))
        .collect();
    assert_eq!(unique.len(), spec.len(), "spec rows share a method + path");
    let mut failures = Vec::new();
    for (i, op) in spec.iter().enumerate() {
        let path = concrete(&op.path);
        let want = action_name(&op.operation_id);
        match ROUTER.lookup(&op.method, &path) {
            Some(m) if m.route as usize == i && OPS[i].action == want => {}
            Some(m) => failures.push(format!(
                "{} {path} ({}): got {} ({}), want {want}",
                op.method,
                op.operation_id,
                OPS[m.route as usize].action,
                OPS[m.route as usize].operation_id
            )),
            None => failures.push(format!(
                "{} {path} ({}): unmapped",
                op.method, op.operation_id
            )),
        }
        let a = classify(&Request::new(&op.method, DOMAIN, &path));
        if a.name != want {
            failures.push(format!("{} {path}: classify gave {}", op.method, a.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} operations misclassified:\n{}",
        failures.len(),
        spec.len(),
        failures.join("\n")
    );
}

/// Each (method, path) has its own action name.
#[test]
fn names_are_unique_per_route() {
    let mut by_name: HashMap<&str, Vec<(&str, &str)>> = HashMap::new();
    for op in OPS.iter() {
        by_name
            .entry(op.action)
            .or_default()
            .push((op.method, op.path));
    }
    let shared: Vec<_> = by_name.iter().filter(|(_, v)| v.len() > 1).collect();
    assert!(shared.is_empty(), "{shared:?}");
}

#[test]
fn catalogue_is_complete_and_valid() {
    let d = Anthropic::describe();
    let names: BTreeSet<&str> = d.actions.iter().map(|a| a.name.as_str()).collect();
    for op in OPS.iter() {
        assert!(names.contains(op.action));
    }
    for n in PINNED.iter().chain(SAMPLED) {
        assert!(names.contains(n), "catalogue lacks {n}");
    }
    assert_eq!(d.actions.len(), OPS.len() + 1);
    assert_eq!(names.len(), OPS.len() + 1);
    let mut wrong = Vec::new();
    for a in &d.actions {
        let read = a.method == "GET" || a.name == "anthropic.message.count_tokens";
        if a.read_only != read || (a.read_only && a.risk != Risk::Low) {
            wrong.push(format!(
                "{} read_only={} risk={}",
                a.name, a.read_only, a.risk
            ));
        }
        let admin = a.path_template.starts_with("/v1/organizations/");
        if admin && !a.read_only && a.risk < Risk::High {
            wrong.push(format!("admin write {} is {}", a.name, a.risk));
        }
        if a.method == "DELETE" && a.risk < Risk::High {
            wrong.push(format!("deletion {} is {}", a.name, a.risk));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    assert_eq!(
        (d.name.as_str(), d.domains.as_slice(), d.needs_body),
        ("anthropic", [DOMAIN.to_string()].as_slice(), true)
    );
    assert_eq!(
        d.placement,
        Placement::Header {
            name: "x-api-key".into(),
            template: "{secret}".into()
        }
    );
}

#[test]
fn head_is_classified_as_get() {
    let a = classify(&Request::new("HEAD", DOMAIN, "/v1/models/claude-x"));
    assert_eq!(
        (a.name.as_str(), a.risk),
        ("anthropic.model.retrieve", Risk::Low)
    );
}

/// Credentials and unrelated headers never become params; only the named
/// body fields do.
#[test]
fn params_never_carry_credentials() {
    let mut req = Request::new("POST", DOMAIN, "/v1/messages?beta=true").with_body(
        r#"{"model":"claude-x","max_tokens":1024,"stream":true,"api_key":"sk-ant-secret","metadata":{"user_id":"u"}}"#,
    );
    req.headers = vec![
        ("x-api-key".into(), "sk-ant-secret".into()),
        ("anthropic-version".into(), "2023-06-01".into()),
        ("anthropic-beta".into(), "files-api-2025-04-14".into()),
    ];
    let a = classify(&req);
    let got: Vec<(String, String)> = a
        .params
        .iter()
        .map(|p| (p.name.clone(), p.value.to_string()))
        .collect();
    let want: Vec<(String, String)> = [
        ("model", "\"claude-x\""),
        ("stream", "true"),
        ("max_tokens", "1024"),
    ]
    .iter()
    .map(|(n, v)| (n.to_string(), v.to_string()))
    .collect();
    assert_eq!((a.name.as_str(), got), ("anthropic.message.create", want));
}
