use super::*;

fn rule(gateway: &str, connector: &str, action: &str, decision: Decision) -> Rule {
    Rule {
        gateway: gateway.into(),
        connector: connector.into(),
        action: action.into(),
        decision,
    }
}

use Decision::{Allow, Deny};

/// (rules, gateway, connector, action) → expected decision and the deciding pattern.
#[test]
fn resolution_table() {
    let rules = vec![
        rule("Bot", "github", "github.pr.*", Allow),
        rule("Bot", "github", "github.repo.delete", Deny),
        rule("Bot", "github", "github.repo.*", Allow),
        rule("Bot", "github", "github.*", Deny),
        rule("*", "github", "github.issue.list", Allow),
        rule("Bot", "generic", "*", Allow),
        rule("Bot", "generic", "http.delete", Deny),
        // Equal specificity: deny wins, whatever the order.
        rule("Bot", "stripe", "stripe.refund.create", Allow),
        rule("Bot", "stripe", "stripe.refund.create", Deny),
        rule("Bot", "stripe", "stripe.charge.create", Deny),
        rule("Bot", "stripe", "stripe.charge.create", Allow),
        // Named gateway beats `*` at the same pattern specificity.
        rule("*", "slack", "slack.message.send", Deny),
        rule("Bot", "slack", "slack.message.send", Allow),
        // Named connector beats `*`.
        rule("Ops", "*", "*", Deny),
        rule("Ops", "github", "*", Allow),
    ];
    let set = PermissionSet::compile(rules).unwrap();
    let table: &[(&str, &str, &str, Decision, Option<&str>)] = &[
        (
            "Bot",
            "github",
            "github.pr.merge",
            Allow,
            Some("github.pr.*"),
        ),
        (
            "Bot",
            "github",
            "github.pr.create",
            Allow,
            Some("github.pr.*"),
        ),
        (
            "Bot",
            "github",
            "github.repo.delete",
            Deny,
            Some("github.repo.delete"),
        ),
        (
            "Bot",
            "github",
            "github.repo.update",
            Allow,
            Some("github.repo.*"),
        ),
        (
            "Bot",
            "github",
            "github.team.create",
            Deny,
            Some("github.*"),
        ),
        (
            "Bot",
            "github",
            "github.issue.list",
            Allow,
            Some("github.issue.list"),
        ),
        (
            "Other",
            "github",
            "github.issue.list",
            Allow,
            Some("github.issue.list"),
        ),
        ("Other", "github", "github.pr.merge", Deny, None),
        ("Bot", "generic", "http.get", Allow, Some("*")),
        ("Bot", "generic", "http.delete", Deny, Some("http.delete")),
        (
            "Bot",
            "stripe",
            "stripe.refund.create",
            Deny,
            Some("stripe.refund.create"),
        ),
        (
            "Bot",
            "stripe",
            "stripe.charge.create",
            Deny,
            Some("stripe.charge.create"),
        ),
        ("Bot", "stripe", "stripe.transfer.create", Deny, None),
        (
            "Bot",
            "slack",
            "slack.message.send",
            Allow,
            Some("slack.message.send"),
        ),
        (
            "Other",
            "slack",
            "slack.message.send",
            Deny,
            Some("slack.message.send"),
        ),
        ("Ops", "github", "github.repo.delete", Allow, Some("*")),
        ("Ops", "stripe", "stripe.refund.create", Deny, Some("*")),
        ("Nobody", "nothing", "x.y", Deny, None),
        // A prefix pattern never matches a name that merely shares characters.
        ("Bot", "github", "githubx.pr.merge", Deny, None),
    ];
    for (gw, conn, action, want, pattern) in table {
        let v = set.evaluate(gw, conn, action);
        assert_eq!(v.decision(), *want, "{gw} {conn} {action}");
        let got_pattern = match v {
            Verdict::Matched(r) => Some(r.action.as_str()),
            Verdict::NoMatch => None,
        };
        assert_eq!(got_pattern, *pattern, "{gw} {conn} {action}");
    }
}

#[test]
fn exact_beats_a_prefix_even_for_a_wildcard_gateway() {
    // `github.issue.list` for `*` vs `github.*` for Bot: the action pattern is compared first.
    let set = PermissionSet::compile([
        rule("Bot", "github", "github.*", Deny),
        rule("*", "github", "github.issue.list", Allow),
    ])
    .unwrap();
    assert_eq!(
        set.evaluate("Bot", "github", "github.issue.list")
            .decision(),
        Allow
    );
}

#[test]
fn empty_set_denies_everything() {
    let set = PermissionSet::default();
    assert_eq!(
        set.evaluate("Bot", "github", "github.pr.merge"),
        Verdict::NoMatch
    );
}

#[test]
fn invalid_patterns_are_refused() {
    for bad in [
        "",
        "github.",
        "github.*.merge",
        "*.merge",
        "github..pr",
        "git hub",
        "github.pr.**",
        ".*",
    ] {
        let r = rule("Bot", "github", bad, Allow);
        assert_eq!(
            PermissionSet::compile([r]).unwrap_err(),
            RuleError::Pattern(bad.into()),
            "{bad:?}"
        );
    }
    assert!(matches!(
        PermissionSet::compile([rule("../x", "github", "*", Allow)]),
        Err(RuleError::Gateway(_))
    ));
    for ok in [
        "*",
        "github.*",
        "github.pr.merge",
        "http.get",
        "mcp.tools.my-tool",
        "a_b.*",
    ] {
        assert!(
            PermissionSet::compile([rule("Bot", "c", ok, Allow)]).is_ok(),
            "{ok}"
        );
    }
}

#[test]
fn rule_validation_is_one_table() {
    let long = "x".repeat(crate::ids::MAX_NAME);
    let too_long = "x".repeat(crate::ids::MAX_NAME + 1);
    let pattern = |s: &str| Err(RuleError::Pattern(s.into()));
    let gateway = |s: &str| Err(RuleError::Gateway(s.into()));
    let connector = |s: &str| Err(RuleError::Connector(s.into()));
    // (gateway, connector, action pattern, verdict)
    let table: Vec<(&str, &str, &str, Result<(), RuleError>)> = vec![
        ("Bot", "github", "github.pr.merge", Ok(())),
        ("*", "*", "*", Ok(())),
        ("My Bot", "gh-2", "github.*", Ok(())),
        (&long, &long, "a", Ok(())),
        ("Bot", "github", "", pattern("")),
        (
            "Bot",
            "github",
            "github.pr.merge\n",
            pattern("github.pr.merge\n"),
        ),
        ("Bot", "github", "github.\0", pattern("github.\0")),
        ("Bot", "github", "gïthub.*", pattern("gïthub.*")),
        ("Bot", "github", "**", pattern("**")),
        ("", "github", "*", gateway("")),
        ("**", "github", "*", gateway("**")),
        ("Bot\n", "github", "*", gateway("Bot\n")),
        ("Bøt", "github", "*", gateway("Bøt")),
        (&too_long, "github", "*", gateway(&too_long)),
        ("Bot", "", "*", connector("")),
        ("Bot", "git\thub", "*", connector("git\thub")),
        ("Bot", "../x", "*", connector("../x")),
        ("Bot", &too_long, "*", connector(&too_long)),
    ];
    for (g, c, a, want) in table {
        let r = rule(g, c, a, Deny);
        assert_eq!(r.validate(), want, "{r:?}");
        assert_eq!(PermissionSet::compile([r]).err(), want.err());
    }
}
