use std::collections::{BTreeSet, HashMap};

use tameflare_sdk::{Connector, Request, testing};

use super::*;
use crate::Github;
use crate::naming::{action_name, load_spec};

/// The 20 names policies rely on.
const PINNED: &[&str] = &[
    "github.pr.create",
    "github.pr.merge",
    "github.pr.update",
    "github.pr.close",
    "github.pr.review",
    "github.issue.create",
    "github.issue.update",
    "github.issue.close",
    "github.branch.create",
    "github.branch.delete",
    "github.release.create",
    "github.release.delete",
    "github.file.create",
    "github.file.update",
    "github.file.delete",
    "github.repo.create",
    "github.repo.delete",
    "github.repo.update",
    "github.org.update",
    "github.team.create",
];

#[test]
fn fixtures() {
    let fixtures = testing::check::<Github>(
        include_str!("../../fixtures/actions.jsonl"),
        "api.github.com",
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

/// A concrete value for a path parameter that no literal segment equals.
fn sample(param: &str) -> &'static str {
    if param == "id" || param.ends_with("_id") || param.ends_with("_number") {
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

/// Every spec operation classifies to its own entry and expected action: none
/// unmapped, none doubly mapped.
#[test]
fn spec_coverage() {
    let spec = load_spec();
    assert_eq!(spec.len(), OPS.len(), "table and spec differ in size");
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
    }
    assert!(
        failures.is_empty(),
        "{} of {} operations misclassified:\n{}",
        failures.len(),
        spec.len(),
        failures.join("\n")
    );
}

/// Each (method, path) has one action, and an action names one (method,
/// path) — except the pinned `github.repo.create` (two paths) and the body
/// variants, which share their base operation's route.
#[test]
fn names_are_unique_per_route() {
    let mut by_name: HashMap<&str, Vec<(&str, &str)>> = HashMap::new();
    for op in OPS.iter() {
        by_name
            .entry(op.action)
            .or_default()
            .push((op.method, op.path));
    }
    let shared: Vec<_> = by_name
        .iter()
        .filter(|(_, v)| v.len() > 1)
        .map(|(k, _)| *k)
        .collect();
    assert_eq!(shared, ["github.repo.create"]);
}

#[test]
fn catalogue_is_complete_and_valid() {
    let d = Github::describe();
    let names: BTreeSet<&str> = d.actions.iter().map(|a| a.name.as_str()).collect();
    for op in OPS.iter() {
        assert!(names.contains(op.action));
    }
    for n in PINNED.iter().chain([&UNKNOWN]) {
        assert!(names.contains(n), "catalogue lacks {n}");
    }
    for a in &d.actions {
        assert_eq!(
            a.read_only,
            a.method == "GET" || a.method == "HEAD",
            "{}",
            a.name
        );
        if a.read_only {
            assert_eq!(a.risk, Risk::Low, "{}", a.name);
        }
    }
    assert_eq!(d.actions.len(), OPS.len() + VARIANTS.len() + 1);
}

#[test]
fn head_is_classified_as_get() {
    let a = classify(&Request::new("HEAD", "api.github.com", "/repos/octo/hello"));
    assert_eq!((a.name.as_str(), a.risk), ("github.repo.get", Risk::Low));
}
