use std::collections::{BTreeSet, HashMap};

use tameflare_sdk::{Connector, Request, testing};

use super::*;
use crate::Openai;
use crate::naming::{SHARED, action, is_beta, load_spec, wire_path};
use tameflare_sdk::Risk;

/// The names policies rely on.
const PINNED: &[&str] = &["openai.chat.create", "openai.file.upload"];

#[test]
fn fixtures() {
    let fixtures = testing::check::<Openai>(
        include_str!("../../fixtures/actions.jsonl"),
        "api.openai.com",
    )
    .unwrap_or_else(|report| panic!("fixture mismatches:\n{report}"));
    let named: BTreeSet<&str> = fixtures
        .iter()
        .filter_map(|f| f.expect.as_ref().map(|e| e.name.as_str()))
        .collect();
    let missing: Vec<&&str> = PINNED.iter().filter(|n| !named.contains(**n)).collect();
    assert!(
        missing.is_empty(),
        "pinned names without a fixture: {missing:?}"
    );
}

/// A concrete path for a spec template: each `{param}` becomes a value no
/// literal segment equals.
fn concrete(template: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').expect("closed") + start;
        out.push_str("x_");
        out.push_str(&rest[start + 1..end]);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Every spec operation, sent on the wire (`/v1/...`, `?beta=true` for the
/// beta twins), classifies to its own entry and expected action: none
/// unmapped, none doubly mapped.
#[test]
fn spec_coverage() {
    let spec = load_spec();
    assert_eq!(spec.len(), OPS.len(), "table and spec differ in size");
    assert_eq!(spec.len(), 389);
    let mut failures = Vec::new();
    for (i, op) in spec.iter().enumerate() {
        let path = concrete(wire_path(op));
        let query = is_beta(op).then_some("beta=true");
        let want = action(op);
        let mut req = Request::new(&op.method, "api.openai.com", &path);
        req.query = query.map(str::to_string);
        let got = classify(&req);
        match lookup(&op.method, &path, query) {
            Some((j, _)) if j == i && OPS[i].action == want && got.name == want => {}
            Some((j, _)) => failures.push(format!(
                "{} {path} ({}): got {} ({}), want {want}",
                op.method, op.operation_id, OPS[j].action, OPS[j].operation_id
            )),
            None => failures.push(format!(
                "{} {path} ({}): unmapped",
                op.method, op.operation_id
            )),
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

/// Each operation has its own action, except the pinned shared names.
#[test]
fn names_are_unique_per_operation() {
    let mut by_name: HashMap<&str, Vec<&str>> = HashMap::new();
    for op in OPS.iter() {
        by_name.entry(op.action).or_default().push(op.path);
    }
    let mut shared: Vec<&str> = by_name
        .iter()
        .filter(|(_, v)| v.len() > 1)
        .map(|(k, _)| *k)
        .collect();
    shared.sort_unstable();
    assert_eq!(shared, SHARED);
}

#[test]
fn catalogue_is_complete_and_valid() {
    let d = Openai::describe();
    let names: BTreeSet<&str> = d.actions.iter().map(|a| a.name.as_str()).collect();
    for op in OPS.iter() {
        assert!(names.contains(op.action));
    }
    for n in PINNED.iter().chain([&UNKNOWN]) {
        assert!(names.contains(n), "catalogue lacks {n}");
    }
    for a in &d.actions {
        assert_eq!(a.read_only, a.method == "GET", "{}", a.name);
        if a.read_only {
            assert_eq!(a.risk, Risk::Low, "{}", a.name);
        }
    }
    assert_eq!(d.actions.len(), OPS.len() + 1);
    assert_eq!(d.domains, ["api.openai.com"]);
    assert!(d.needs_body);
}

#[test]
fn head_is_classified_as_get() {
    let a = classify(&Request::new("HEAD", "api.openai.com", "/v1/models/gpt-4o"));
    assert_eq!((a.name.as_str(), a.risk), ("openai.model.get", Risk::Low));
}

/// Multipart bodies are never parsed, even when they look like JSON.
#[test]
fn multipart_bodies_are_not_parsed() {
    let mut req = Request::new("POST", "api.openai.com", "/v1/chat/completions")
        .with_body(r#"{"model":"gpt-4o","stream":true}"#);
    req.headers.push((
        "content-type".into(),
        "Multipart/form-data; boundary=x".into(),
    ));
    let a = classify(&req);
    assert_eq!((a.name.as_str(), a.params.len()), ("openai.chat.create", 0));
}

/// Params carry path ids and the named body fields only: never a header,
/// never another body field.
#[test]
fn params_never_carry_credentials() {
    let mut req = Request::new("POST", "api.openai.com", "/v1/responses")
        .with_body(r#"{"client_secret":{"value":"sk-live"},"api_key":"sk-x","model":"gpt-5"}"#);
    req.headers
        .push(("authorization".into(), "Bearer sk-secret".into()));
    let a = classify(&req);
    let got: Vec<(String, String)> = a
        .params
        .iter()
        .map(|p| (p.name.clone(), p.value.to_string()))
        .collect();
    assert_eq!(got, [("model".to_string(), "\"gpt-5\"".to_string())]);
}
