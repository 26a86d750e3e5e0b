use std::collections::{BTreeSet, HashMap};

use tameflare_sdk::{Connector, Request, testing};

use super::*;
use crate::naming::{PINNED, action_name, host, load_spec};
use crate::{DOMAINS, Stripe};
use tameflare_sdk::Risk;

#[test]
fn fixtures() {
    let fixtures = testing::check::<Stripe>(
        include_str!("../../fixtures/actions.jsonl"),
        "api.stripe.com",
    )
    .unwrap_or_else(|report| panic!("fixture mismatches:\n{report}"));
    let named: BTreeSet<&str> = fixtures
        .iter()
        .filter_map(|f| f.expect.as_ref().map(|e| e.name.as_str()))
        .collect();
    let missing: Vec<&str> = PINNED
        .iter()
        .map(|(_, _, n)| *n)
        .chain([UNKNOWN])
        .filter(|n| !named.contains(n))
        .collect();
    assert!(
        missing.is_empty(),
        "pinned names without a fixture: {missing:?}"
    );
}

/// A concrete value for a path parameter that no literal segment equals.
fn sample(param: &str) -> String {
    format!("{param}_x1")
}

/// A concrete path for a spec template.
fn concrete(template: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').expect("closed") + start;
        out.push_str(&sample(&rest[start + 1..end]));
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Every spec operation, sent to its own host with a concrete path,
/// classifies to its own entry and expected action: none unmapped, none
/// doubly mapped.
#[test]
fn spec_coverage() {
    let spec = load_spec();
    assert_eq!(spec.len(), OPS.len(), "table and spec differ in size");
    assert_eq!(spec.len(), 648, "the spec has 648 operations");
    let mut failures = Vec::new();
    for (i, op) in spec.iter().enumerate() {
        let host = host(op);
        assert!(DOMAINS.contains(&host.as_str()), "unclaimed host {host}");
        let path = concrete(&op.path);
        let want = action_name(op);
        let got = classify(&Request::new(&op.method, &host, &path));
        match ROUTER.lookup(&op.method, &path) {
            Some(m) if m.route as usize == i && OPS[i].action == want && got.name == want => {}
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

/// Each (method, path) has its own action name, and each name one (method,
/// path).
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
    assert!(shared.is_empty(), "names on several routes: {shared:?}");
    let routes: BTreeSet<(&str, &str)> = OPS.iter().map(|op| (op.method, op.path)).collect();
    assert_eq!(routes.len(), OPS.len(), "a (method, path) appears twice");
}

#[test]
fn catalogue_is_complete_and_valid() {
    let d = Stripe::describe();
    assert_eq!(d.name, "stripe");
    assert!(d.needs_body);
    assert_eq!(d.placement, tameflare_sdk::Placement::bearer());
    assert_eq!(d.domains, DOMAINS);
    let names: BTreeSet<&str> = d.actions.iter().map(|a| a.name.as_str()).collect();
    for op in OPS.iter() {
        assert!(names.contains(op.action));
    }
    for n in PINNED.iter().map(|(_, _, n)| *n).chain([UNKNOWN]) {
        assert!(names.contains(n), "catalogue lacks {n}");
    }
    for a in &d.actions {
        assert_eq!(a.read_only, a.method == "GET", "{}", a.name);
        if a.read_only {
            assert_eq!(a.risk, Risk::Low, "{}", a.name);
        }
        if a.method == "DELETE" {
            assert!(a.risk >= Risk::High, "{}", a.name);
        }
    }
    assert_eq!(d.actions.len(), OPS.len() + 1);
    assert_eq!(names.len(), d.actions.len());
}

#[test]
fn head_is_classified_as_get() {
    let a = classify(&Request::new("HEAD", "api.stripe.com", "/v1/charges/ch_1"));
    assert_eq!((a.name.as_str(), a.risk), ("stripe.charge.get", Risk::Low));
}

/// Params never carry anything from headers, and no field outside
/// path parameters and [`FIELDS`] is reported.
#[test]
fn params_are_path_ids_and_named_fields_only() {
    let mut req = Request::new("POST", "api.stripe.com", "/v1/charges?source=tok_1")
        .with_body("amount=100&currency=usd&customer=cus_1&source=tok_secret&api_key=sk_live_x");
    req.headers.push(("stripe-account".into(), "acct_1".into()));
    let a = classify(&req);
    let names: Vec<&str> = a.params.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["amount", "currency", "customer"]);
}

/// Stripe's v1 form encoding, read through the SDK's form helpers.
#[test]
fn form_fields() {
    let cases: &[(&str, &str, Option<&str>)] = &[
        ("amount=2000&currency=usd", "amount", Some("2000")),
        ("amount=2000&currency=usd", "currency", Some("usd")),
        ("amount=2000&currency=usd", "customer", None),
        ("description=a+b%20c", "description", Some("a b c")),
        ("customer=cus%5F1", "customer", Some("cus_1")),
        ("%61mount=5", "amount", Some("5")),
        ("am+ount=5", "am ount", Some("5")),
        ("amount[value]=5&amount=7", "amount", Some("7")),
        ("amount%5Bvalue%5D=5", "amount", None),
        ("amount=1&amount=9", "amount", Some("9")),
        ("flag&x=1", "flag", Some("")),
        ("x=100%", "x", Some("100%")),
        ("x=%zz%4", "x", Some("%zz%4")),
        ("x=caf%C3%A9", "x", Some("caf\u{e9}")),
        ("x=%FF", "x", Some("\u{fffd}")),
        ("&&=3&x=", "x", Some("")),
        ("", "x", None),
        ("amount=1=2", "amount", Some("1=2")),
    ];
    for &(input, key, want) in cases {
        assert_eq!(
            form_value(input.as_bytes(), key).as_deref(),
            want,
            "field {key:?} of {input:?}"
        );
    }
    // A byte that is not UTF-8 elsewhere in the body hides no field.
    assert_eq!(
        form_value(b"memo=\xff\xfe&amount=5", "amount").as_deref(),
        Some("5")
    );
}
