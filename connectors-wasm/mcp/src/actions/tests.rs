use std::collections::{BTreeMap, BTreeSet};

use tameflare_sdk::{Connector, Request, testing};

use super::*;
use crate::Mcp;
use crate::naming::{FIXED_NAMES, action_name, load_spec};

/// The names policies rely on.
const REQUIRED: &[&str] = &["mcp.tools.list", "mcp.tools.call", "mcp.tools.*"];

fn post(body: &str) -> Request {
    Request::new("POST", "mcp.example.com", "/mcp").with_body(body)
}

/// Does some catalogue entry cover `name` (exact, or a `.*` family of one
/// more `[A-Za-z0-9_-]` segment, as the host's `ActionSpec::covers`)?
fn covered(catalogue: &[ActionSpec], name: &str) -> bool {
    catalogue.iter().any(|a| match a.name.strip_suffix(".*") {
        None => a.name == name,
        Some(prefix) => name
            .strip_prefix(prefix)
            .and_then(|r| r.strip_prefix('.'))
            .is_some_and(|seg| {
                !seg.is_empty()
                    && seg
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
            }),
    })
}

#[test]
fn fixtures() {
    let fixtures = testing::check::<Mcp>(
        include_str!("../../fixtures/actions.jsonl"),
        "mcp.example.com",
    )
    .unwrap_or_else(|report| panic!("fixture mismatches:\n{report}"));
    let named: BTreeSet<&str> = fixtures
        .iter()
        .filter_map(|f| f.expect.as_ref().map(|e| e.name.as_str()))
        .collect();
    let catalogue = catalogue();
    // Every classified name is in the catalogue; every entry has a fixture
    // (the family through a per-tool name).
    let uncovered: Vec<&&str> = named.iter().filter(|n| !covered(&catalogue, n)).collect();
    assert!(uncovered.is_empty(), "not in the catalogue: {uncovered:?}");
    let missing: Vec<&str> = catalogue
        .iter()
        .map(|a| a.name.as_str())
        .filter(|n| match n.strip_suffix(".*") {
            None => !named.contains(n),
            Some(prefix) => !named.iter().any(|f| {
                f.strip_prefix(prefix).is_some_and(|r| r.starts_with('.'))
                    && !catalogue.iter().any(|a| a.name == *f)
            }),
        })
        .collect();
    assert!(
        missing.is_empty(),
        "catalogue entries without a fixture: {missing:?}"
    );
    for r in REQUIRED {
        assert!(
            catalogue.iter().any(|a| a.name == *r),
            "required name {r} not in the catalogue"
        );
    }
}

/// Every method a client can send (spec rows with direction
/// client->server, both-direction ones included) classifies to exactly one
/// action, its own under the naming rule; server-only methods are unknown.
#[test]
fn spec_coverage() {
    let spec = load_spec();
    let client: BTreeSet<&str> = spec
        .iter()
        .filter(|r| r.client_sends())
        .map(|r| r.method.as_str())
        .collect();
    assert_eq!(client.len(), OPS.len(), "table and spec differ in size");
    let mut by_name: BTreeMap<String, &str> = BTreeMap::new();
    let mut failures = Vec::new();
    for row in &spec {
        let body = if row.kind == "notification" {
            format!(
                r#"{{"jsonrpc":"2.0","method":"{}","params":{{}}}}"#,
                row.method
            )
        } else {
            format!(
                r#"{{"jsonrpc":"2.0","id":7,"method":"{}","params":{{}}}}"#,
                row.method
            )
        };
        let got = Mcp::classify(&post(&body));
        let want = if client.contains(row.method.as_str()) {
            action_name(&row.method)
        } else {
            UNKNOWN.to_string()
        };
        match got {
            Ok(a) if a.name == want => {
                if want != UNKNOWN
                    && let Some(other) = by_name.insert(a.name.clone(), &row.method)
                    && other != row.method
                {
                    failures.push(format!("{} and {other} share {}", row.method, a.name));
                }
            }
            other => failures.push(format!(
                "{} {}: want {want}, got {other:?}",
                row.direction, row.method
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(
        by_name.len(),
        client.len(),
        "one distinct action per client method"
    );
}

#[test]
fn catalogue_is_complete_and_valid() {
    let catalogue = catalogue();
    let names: BTreeSet<&str> = catalogue.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names.len(), catalogue.len(), "duplicate catalogue names");
    assert_eq!(catalogue.len(), OPS.len() + 1 + FIXED_NAMES.len());
    for fixed in FIXED_NAMES {
        assert!(names.contains(fixed), "{fixed} missing");
    }
    for a in &catalogue {
        let ok = a.name.starts_with("mcp.")
            && a.name.split('.').all(|s| {
                s == "*"
                    || (!s.is_empty()
                        && s.bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'))
            });
        assert!(ok, "invalid name {}", a.name);
        assert!(
            !(a.read_only && a.risk > Risk::Low),
            "{} read-only but {}",
            a.name,
            a.risk
        );
    }
    let got: Vec<String> = [
        "mcp.tools.call",
        "mcp.tools.list",
        "mcp.tools.*",
        "mcp.batch",
    ]
    .iter()
    .map(|n| {
        let a = catalogue.iter().find(|a| a.name == *n).unwrap();
        format!("{} {} read_only={}", a.name, a.risk, a.read_only)
    })
    .collect();
    assert_eq!(
        got,
        [
            "mcp.tools.call high read_only=false",
            "mcp.tools.list low read_only=true",
            "mcp.tools.* high read_only=false",
            "mcp.batch high read_only=false",
        ]
    );
}

#[test]
fn tool_names() {
    let cases: &[(&str, &str)] = &[
        (r#""search_issues""#, "mcp.tools.search_issues"),
        (r#""get-file""#, "mcp.tools.get-file"),
        (r#""Run42""#, "mcp.tools.Run42"),
        (r#""list""#, "mcp.tools.call"),
        (r#""call""#, "mcp.tools.call"),
        (r#""LIST""#, "mcp.tools.call"),
        (r#""a.b""#, "mcp.tools.call"),
        (r#""a b""#, "mcp.tools.call"),
        (r#""*""#, "mcp.tools.call"),
        (r#""""#, "mcp.tools.call"),
        (r#""caf\u00e9""#, "mcp.tools.call"),
        (r#""\u0064elete_repo""#, "mcp.tools.delete_repo"),
        ("42", "mcp.tools.call"),
        ("null", "mcp.tools.call"),
    ];
    let mut got = String::new();
    let mut want = String::new();
    for &(name, expect) in cases {
        let body = format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":{name}}}}}"#
        );
        let a = Mcp::classify(&post(&body)).unwrap();
        got.push_str(&format!("{name} -> {} {}\n", a.name, a.risk));
        want.push_str(&format!("{name} -> {expect} high\n"));
    }
    assert_eq!(got, want, "\n{}", testing::diff(&want, &got));
    let long = "x".repeat(MAX_TEXT + 1);
    assert!(!tool_segment(&long) && tool_segment(&long[1..]));
}

#[test]
fn arguments_are_bounded() {
    let args: Vec<String> = (0..40).map(|i| format!(r#""k{i}":{i}"#)).collect();
    let long = "é".repeat(200);
    let body = format!(
        r#"{{"jsonrpc":"2.0","id":"a","method":"tools/call","params":{{"name":"t","arguments":{{"s":"{long}",{}}}}}}}"#,
        args.join(",")
    );
    let a = Mcp::classify(&post(&body)).unwrap();
    let args: Vec<&Param> = a
        .params
        .iter()
        .filter(|p| p.name.starts_with("arg."))
        .collect();
    assert_eq!(args.len(), MAX_ARGS);
    assert_eq!(a.param("arg_count"), Some(&ParamValue::Integer(41)));
    let Some(ParamValue::Text(s)) = a.param("arg.s") else {
        panic!("arg.s missing");
    };
    assert_eq!(s.len(), 256);
    assert!(s.chars().all(|c| c == 'é'));
    let Some(ParamValue::Text(names)) = a.param("arg_names") else {
        panic!("arg_names missing");
    };
    assert_eq!(names.split(',').count(), MAX_ARGS);
    assert!(
        names.starts_with("s,k0,k1,") && names.ends_with(",k30"),
        "{names}"
    );
}

#[test]
fn credentials_never_become_params() {
    let mut req = post(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#);
    req.headers = vec![
        ("authorization".into(), "Bearer sk-secret".into()),
        ("mcp-session-id".into(), "sess-secret".into()),
    ];
    for method in ["POST", "GET", "DELETE"] {
        req.method = method.into();
        let a = Mcp::classify(&req).unwrap();
        let rendered = format!("{a:?}");
        assert!(!rendered.contains("secret"), "{rendered}");
    }
}

#[test]
fn descriptor() {
    let d = Mcp::describe();
    assert_eq!(
        (d.name.as_str(), d.domains.len(), d.needs_body),
        ("mcp", 0, true)
    );
    assert_eq!(d.placement, tameflare_sdk::Placement::bearer());
}

#[test]
fn a_batch_carries_one_part_per_message_for_the_host_to_decide() {
    let a = classify(&post(
        r#"[{"jsonrpc":"2.0","id":1,"method":"tools/list"},{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"deploy","arguments":{"env":"prod"}}}]"#,
    ))
    .expect("a valid batch");
    assert_eq!(a.name, "mcp.batch");
    let parts: Vec<&str> = a.parts.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(parts, ["mcp.tools.list", "mcp.tools.deploy"]);
    assert!(a.parts.iter().all(|p| p.parts.is_empty()));
    assert_eq!(
        a.parts[1].param("arg.env"),
        Some(&tameflare_sdk::ParamValue::Text("prod".into()))
    );
    assert_eq!(a.risk, a.parts.iter().map(|p| p.risk).max().unwrap());

    let too_many = format!(
        "[{}]",
        vec![r#"{"jsonrpc":"2.0","method":"ping","id":1}"#; 65].join(",")
    );
    assert_eq!(classify(&post(&too_many)).unwrap_err().code, "bad_request");
}
