use std::collections::{BTreeSet, HashMap};

use tameflare_sdk::{Connector, Request, testing};

use super::*;
use crate::Slack;
use crate::naming::{action_name, load_spec};
use tameflare_sdk::Risk;

/// The names policies rely on.
const PINNED: &[&str] = &["slack.message.send", "slack.channel.archive"];

#[test]
fn fixtures() {
    let fixtures =
        testing::check::<Slack>(include_str!("../../fixtures/actions.jsonl"), "slack.com")
            .unwrap_or_else(|report| panic!("fixture mismatches:\n{report}"));
    let named: BTreeSet<&str> = fixtures
        .iter()
        .filter_map(|f| f.expect.as_ref().map(|e| e.name.as_str()))
        .collect();
    let missing: Vec<&&str> = PINNED
        .iter()
        .chain([&UNKNOWN])
        .filter(|n| !named.contains(**n))
        .collect();
    assert!(
        missing.is_empty(),
        "pinned names without a fixture: {missing:?}"
    );
}

/// Every spec method, called with POST and with GET, classifies to its own
/// entry and expected action: none unmapped, none doubly mapped.
#[test]
fn spec_coverage() {
    let spec = load_spec();
    assert_eq!(spec.len(), 292, "the spec has 292 methods");
    assert_eq!(spec.len(), OPS.len(), "table and spec differ in size");
    let mut failures = Vec::new();
    for (i, op) in spec.iter().enumerate() {
        let want = action_name(&op.operation_id);
        for m in HTTP_METHODS {
            let got = classify(&Request::new(m, "slack.com", &op.path));
            match ROUTER.lookup(m, &op.path) {
                Some(r) if r.route as usize == i && OPS[i].action == want && got.name == want => {}
                Some(r) => failures.push(format!(
                    "{m} {} : got {} ({}), want {want}",
                    op.path, OPS[r.route as usize].action, OPS[r.route as usize].operation_id
                )),
                None => failures.push(format!("{m} {}: unmapped", op.path)),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} routes misclassified:\n{}",
        failures.len(),
        spec.len() * HTTP_METHODS.len(),
        failures.join("\n")
    );
}

/// Each action names exactly one Slack method.
#[test]
fn names_are_unique_per_method() {
    let mut by_name: HashMap<&str, Vec<&str>> = HashMap::new();
    for op in OPS.iter() {
        by_name.entry(op.action).or_default().push(op.operation_id);
    }
    let shared: Vec<_> = by_name.iter().filter(|(_, v)| v.len() > 1).collect();
    assert!(shared.is_empty(), "{shared:?}");
    assert_eq!(by_name.len(), 292);
}

#[test]
fn catalogue_is_complete_and_valid() {
    let d = Slack::describe();
    assert_eq!(d.name, "slack");
    assert_eq!(d.domains, ["slack.com", "api.slack.com"]);
    assert!(d.needs_body);
    assert_eq!(d.placement, tameflare_sdk::Placement::bearer());
    let names: BTreeSet<&str> = d.actions.iter().map(|a| a.name.as_str()).collect();
    for op in OPS.iter() {
        assert!(names.contains(op.action));
    }
    for n in PINNED.iter().chain([&UNKNOWN]) {
        assert!(names.contains(n), "catalogue lacks {n}");
    }
    let mut seen = BTreeSet::new();
    for a in &d.actions {
        assert!(
            seen.insert((a.method.as_str(), a.path_template.as_str())),
            "{a:?}"
        );
        assert_eq!(a.read_only, a.risk == Risk::Low, "{}", a.name);
    }
    assert_eq!(d.actions.len(), OPS.len() * 2 + 1);
    assert_eq!(names.len(), OPS.len() + 1);
}

fn summary(a: &Action) -> String {
    let mut s = format!("{} [{}] {}", a.name, a.risk, a.resource);
    for p in &a.params {
        s.push_str(&format!(" {}={}", p.name, p.value));
    }
    s
}

/// Params from JSON bodies, form bodies and the query, with precedence.
#[test]
fn params_from_body_and_query() {
    let post = |body: &str, q: &str| {
        let r = Request::new("POST", "slack.com", &format!("/api/chat.postMessage{q}"));
        if body.is_empty() {
            r
        } else {
            r.with_body(body)
        }
    };
    let cases: Vec<(&str, Request, &str)> = vec![
        (
            "json",
            post(r#"{"channel":"C1","text":"héllo","user":"U1"}"#, ""),
            r#"slack.message.send [medium] C1 channel="C1" user="U1" text_len=6"#,
        ),
        (
            "json escapes",
            post(r#" {"channel":"C\u0031","text":"a\nb"}"#, ""),
            r#"slack.message.send [medium] C1 channel="C1" text_len=3"#,
        ),
        (
            "form",
            post("channel=%23general&text=hi+there%21&token=xoxb-secret", ""),
            "slack.message.send [medium] #general channel=\"#general\" text_len=9",
        ),
        (
            "form, last duplicate wins",
            post("channel=C1&channel=C2", ""),
            r#"slack.message.send [medium] C2 channel="C2""#,
        ),
        (
            "query",
            post("", "?channel=C9&text=abc&token=xoxp-1"),
            r#"slack.message.send [medium] C9 channel="C9" text_len=3"#,
        ),
        (
            "body beats query",
            post("channel=C1", "?channel=C9&user=U9"),
            r#"slack.message.send [medium] C1 channel="C1" user="U9""#,
        ),
        (
            "non-string JSON values are ignored",
            post(r#"{"channel":["C1"],"text":null}"#, ""),
            "slack.message.send [medium] chat.postMessage",
        ),
        (
            "no args",
            post("", ""),
            "slack.message.send [medium] chat.postMessage",
        ),
        (
            "GET with query",
            Request::new("GET", "slack.com", "/api/conversations.history?channel=C5"),
            r#"slack.conversations.history [low] C5 channel="C5""#,
        ),
        (
            "HEAD is GET",
            Request::new("HEAD", "slack.com", "/api/users.info?user=U7"),
            r#"slack.users.info [low] users.info user="U7""#,
        ),
        (
            "literal segments ignore case",
            Request::new("POST", "api.slack.com", "/API/CONVERSATIONS.ARCHIVE")
                .with_body("channel=C3"),
            r#"slack.channel.archive [high] C3 channel="C3""#,
        ),
        (
            "unknown method",
            Request::new("POST", "slack.com", "/api/chat.postMessages").with_body("channel=C1"),
            "slack.unknown [high] api/chat.postMessages",
        ),
        (
            "unknown verb",
            Request::new("DELETE", "slack.com", "/api/chat.delete"),
            "slack.unknown [high] api/chat.delete",
        ),
        (
            "not the API",
            Request::new("GET", "slack.com", "/intl/en-gb/"),
            "slack.unknown [high] intl/en-gb/",
        ),
    ];
    let mut report = String::new();
    for (label, req, want) in &cases {
        let got = summary(&classify(req));
        if got != *want {
            report.push_str(&format!("{label}:\n  - {want}\n  + {got}\n"));
        }
    }
    assert!(report.is_empty(), "mismatches:\n{report}");
}

/// The credential Slack also accepts as an argument never becomes a param.
#[test]
fn params_never_carry_a_token() {
    let req = Request::new("POST", "slack.com", "/api/chat.postMessage?token=xoxb-q")
        .with_body("token=xoxb-b&channel=C1&text=x");
    let a = classify(&req);
    let names: Vec<&str> = a.params.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["channel", "text_len"]);
    assert!(!summary(&a).contains("xox"));
}
