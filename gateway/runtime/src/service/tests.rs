use tf_core::{Action, ClassifyError, ConnectorRequest, Decision, Descriptor, Verdict};

use super::*;

struct NoClassifier;

impl tf_core::Classifier for NoClassifier {
    fn classify(&self, _request: ConnectorRequest) -> Result<Action, ClassifyError> {
        Err(ClassifyError::failed(
            tf_core::ConnectorFailure::Trap,
            "test",
        ))
    }
}

fn kind(name: &str, domains: &[&str]) -> Kind {
    Kind {
        descriptor: Arc::new(Descriptor {
            name: name.into(),
            version: "1.2.3".into(),
            domains: domains.iter().map(|d| (*d).to_owned()).collect(),
            actions: vec![],
            placement: Placement::bearer(),
            needs_body: false,
        }),
        classifier: Arc::new(NoClassifier),
    }
}

fn service(dir: &tempfile::TempDir) -> Service {
    let kinds = [
        ("github".to_owned(), kind("github", &["api.github.com"])),
        ("generic".to_owned(), kind("generic", &[])),
    ]
    .into_iter()
    .collect();
    service_with(dir, kinds, tf_vault::MasterKey::generate())
}

fn service_with(
    dir: &tempfile::TempDir,
    kinds: BTreeMap<String, Kind>,
    key: tf_vault::MasterKey,
) -> Service {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(dir.path().join("t.redb"))
        .unwrap();
    let store = Store::open(file).unwrap();
    let vault = Arc::new(Vault::new(key));
    Service::new(
        None,
        None,
        store,
        kinds,
        vault,
        "PEM".into(),
        "/data".into(),
    )
    .unwrap()
}

fn add(kind: &str, name: Option<&str>, domains: &[&str], token: Option<&str>) -> AddConnector {
    AddConnector {
        kind: kind.into(),
        name: name.map(str::to_owned),
        domains: domains.iter().map(|d| (*d).to_owned()).collect(),
        token: token.map(tf_admin::api::Secret::new),
        placement: None,
        keep_credential: false,
        actor: None,
    }
}

#[test]
fn connectors_apply_to_the_snapshot_and_never_show_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let s = service(&dir);
    assert!(s.snapshot().load().routes.is_empty());

    let info = s
        .add_connector(add("github", None, &[], Some("ghp_secret")))
        .unwrap();
    assert_eq!(info.name, "github");
    assert_eq!(info.version.as_deref(), Some("1.2.3"));
    assert_eq!(info.domains, ["api.github.com"]);
    assert!(info.credential_set);
    let snap = s.snapshot().load_full();
    let route = snap.route("api.github.com").unwrap();
    let mut headers = http::HeaderMap::new();
    route
        .credential
        .as_ref()
        .unwrap()
        .inject(&mut headers)
        .unwrap();
    assert_eq!(headers["authorization"], "Bearer ghp_secret");

    let list = s.connectors().unwrap();
    assert!(!serde_json::to_string(&list).unwrap().contains("ghp_secret"));
    assert_eq!(list.kinds.len(), 2);

    s.remove_connector("github").unwrap();
    assert!(s.snapshot().load().route("api.github.com").is_none());
    assert!(matches!(
        s.remove_connector("github"),
        Err(ControlError::NotFound(_))
    ));
}

#[test]
fn add_refuses_unknown_kinds_missing_domains_and_claimed_domains() {
    let dir = tempfile::tempdir().unwrap();
    let s = service(&dir);
    let err = s.add_connector(add("slack", None, &[], None)).unwrap_err();
    assert!(
        matches!(&err, ControlError::Invalid(m) if m.contains("github") && m.contains("generic")),
        "{err}"
    );
    let err = s
        .add_connector(add("generic", None, &[], None))
        .unwrap_err();
    assert!(
        matches!(&err, ControlError::Invalid(m) if m.contains("--domains")),
        "{err}"
    );

    s.add_connector(add("generic", None, &["API.Example.com"], None))
        .unwrap();
    let err = s
        .add_connector(add("generic", Some("other"), &["api.example.com"], None))
        .unwrap_err();
    assert!(
        matches!(&err, ControlError::Conflict(m) if m.contains("\"generic\"")),
        "{err}"
    );
    // Re-adding the same instance (e.g. to rotate its credential) is fine.
    s.add_connector(add("generic", None, &["api.example.com"], Some("k")))
        .unwrap();
    assert!(
        s.snapshot()
            .load()
            .route("api.example.com")
            .unwrap()
            .credential
            .is_some()
    );

    let err = s
        .add_connector(add("generic", Some("../x"), &["x.example"], None))
        .unwrap_err();
    assert!(matches!(err, ControlError::Invalid(_)));
}

#[test]
fn wildcards_and_unsafe_placements_are_refused_however_they_are_spelled() {
    let dir = tempfile::tempdir().unwrap();
    let s = service(&dir);
    // Domains arrive as a person typed them: the service normalizes
    // (whitespace, case, a trailing dot) and then the one rule refuses.
    for domain in [
        "*.example.com",
        "*.EXAMPLE.com.",
        " *.example.com ",
        "api.*.example.com",
        "*",
    ] {
        let err = s
            .add_connector(add("generic", None, &[domain], Some("k")))
            .unwrap_err();
        assert!(
            matches!(&err, ControlError::Invalid(m) if m.contains("wildcard")),
            "{domain:?}: {err}"
        );
    }
    let header = |name: &str, template: &str| {
        let mut a = add("generic", None, &["api.example.com"], Some("k"));
        a.placement = Some(Placement::Header {
            name: name.into(),
            template: template.into(),
        });
        a
    };
    for (name, template) in [
        ("x-api-key", "{secret}\r\nx-evil: 1"),
        ("x-api-key", "{secret}\n"),
        ("x-api-key", "{secret}\t"),
        ("x-api-key", "{secret}\u{7f}"),
        ("x-api-key", "Jeton {secret} é"),
        ("x-api-key", "static"),
        ("x api key", "{secret}"),
        ("x-api-key\r\nx-evil", "{secret}"),
        ("x:api", "{secret}"),
    ] {
        let err = s.add_connector(header(name, template)).unwrap_err();
        assert!(
            matches!(&err, ControlError::Invalid(m) if m.contains("placement")),
            "{name:?} {template:?}: {err}"
        );
    }
    // Nothing was stored or routed by any of them.
    assert!(s.connectors().unwrap().connectors.is_empty());
    assert!(s.snapshot().load().routes.is_empty());
    // A header name in another case is the same header, and is accepted.
    let info = s
        .add_connector(header("X-Api-Key", "Token {secret}"))
        .unwrap();
    assert_eq!(info.domains, ["api.example.com"]);
}

#[test]
fn rules_and_gateways_apply_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let s = service(&dir);
    let rule = Rule {
        gateway: "Bot".into(),
        connector: "github".into(),
        action: "github.pr.*".into(),
        decision: Decision::Allow,
    };
    s.set_rule(rule.clone()).unwrap();
    assert!(matches!(
        s.snapshot()
            .load()
            .permissions
            .evaluate("Bot", "github", "github.pr.merge"),
        Verdict::Matched(_)
    ));
    let bad = Rule {
        action: "not a pattern".into(),
        ..rule.clone()
    };
    assert!(matches!(s.set_rule(bad), Err(ControlError::Invalid(_))));

    let key = RuleKey {
        gateway: "Bot".into(),
        connector: "github".into(),
        action: "github.pr.*".into(),
    };
    s.remove_rule(&key).unwrap();
    assert_eq!(
        s.snapshot()
            .load()
            .permissions
            .evaluate("Bot", "github", "github.pr.merge"),
        Verdict::NoMatch
    );
    assert!(matches!(
        s.remove_rule(&key),
        Err(ControlError::NotFound(_))
    ));

    let first = s.ensure_gateway("Bot").unwrap();
    let again = s.ensure_gateway("Bot").unwrap();
    assert_eq!(first.token, again.token);
    assert!(s.snapshot().load().gateways["Bot"].token_matches(&first.token));
    assert!(matches!(
        s.ensure_gateway("a/b"),
        Err(ControlError::Invalid(_))
    ));

    let status = s.status().unwrap();
    assert_eq!(status.gateways, ["Bot"]);
    assert_eq!(status.audit_records, 0);
    assert!(s.verify_audit().unwrap().ok);
}

fn injected(s: &Service, host: &str) -> Option<String> {
    let snap = s.snapshot().load_full();
    let route = snap.route(host)?;
    let mut headers = http::HeaderMap::new();
    route.credential.as_ref()?.inject(&mut headers).ok()?;
    Some(headers["authorization"].to_str().unwrap().to_owned())
}

#[test]
fn a_credential_does_not_follow_a_new_kind_or_domains_unless_confirmed() {
    let dir = tempfile::tempdir().unwrap();
    let s = service(&dir);
    s.add_connector(add("github", None, &[], Some("ghp_secret")))
        .unwrap();
    assert_eq!(
        injected(&s, "api.github.com").as_deref(),
        Some("Bearer ghp_secret")
    );

    // The attack: same instance, another kind and domain, no token.
    let err = s
        .add_connector(add("generic", Some("github"), &["attacker.example"], None))
        .unwrap_err();
    let ControlError::Conflict(message) = &err else {
        panic!("{err:?}")
    };
    assert!(message.contains("--keep-credential"), "{message}");
    assert!(message.contains("Nothing was changed"), "{message}");
    assert!(!message.contains("ghp_secret"));
    // Nothing changed.
    let stored = s.store().connector("github").unwrap().unwrap();
    assert_eq!(stored.kind, "github");
    assert!(stored.domains.is_empty());
    assert!(s.snapshot().load().route("attacker.example").is_none());
    assert_eq!(
        injected(&s, "api.github.com").as_deref(),
        Some("Bearer ghp_secret")
    );
    // Only the domains changing is refused too.
    assert!(matches!(
        s.add_connector(add(
            "github",
            None,
            &["api.github.com", "attacker.example"],
            None
        )),
        Err(ControlError::Conflict(_))
    ));
    // Re-adding it unchanged keeps the credential.
    let info = s.add_connector(add("github", None, &[], None)).unwrap();
    assert!(info.credential_set && !info.credential_suspended);

    // Confirmed: rebound and audited.
    let before = s.store().audit_count().unwrap();
    let mut confirm = add("generic", Some("github"), &["attacker.example"], None);
    confirm.keep_credential = true;
    confirm.actor = Some("alice via test".into());
    let info = s.add_connector(confirm).unwrap();
    assert!(info.credential_set && !info.credential_suspended);
    assert_eq!(
        injected(&s, "attacker.example").as_deref(),
        Some("Bearer ghp_secret")
    );
    let records = s.store().audit_after(before, 10).unwrap();
    assert_eq!(records.len(), 1);
    let event = records[0].entry.event.as_ref().unwrap();
    assert_eq!(event.kind, tf_core::ConnectorEventKind::CredentialRebound);
    assert_eq!(event.actor, "alice via test");
    let what = event.error.as_deref().unwrap();
    assert!(
        what.contains("api.github.com") && what.contains("attacker.example"),
        "{what}"
    );
    assert!(!format!("{:?}", records[0]).contains("ghp_secret"));

    // A new secret may go anywhere.
    s.add_connector(add("github", None, &[], Some("ghp_new")))
        .unwrap();
    assert_eq!(
        injected(&s, "api.github.com").as_deref(),
        Some("Bearer ghp_new")
    );

    // Digests: salted, of the secret, and never the secret.
    let digests = s.credential_digests().unwrap();
    let salt = hex::decode(&digests.salt).unwrap();
    assert_eq!(salt.len(), 32);
    assert_eq!(digests.credentials.len(), 1);
    assert_eq!(digests.credentials[0].instance, "github");
    assert_eq!(
        digests.credentials[0].sha256,
        hex::encode(tf_vault::salted_digest(&salt, b"ghp_new"))
    );
    assert!(!format!("{digests:?}").contains("ghp_new"));
    assert_eq!(s.credential_digests().unwrap(), digests, "the salt is kept");
}

#[test]
fn a_connector_whose_domains_change_suspends_its_instances_credential() {
    let dir = tempfile::tempdir().unwrap();
    let key = tf_vault::MasterKey::generate();
    let kinds = |domains: &[&str]| -> BTreeMap<String, Kind> {
        [("github".to_owned(), kind("github", domains))]
            .into_iter()
            .collect()
    };
    let s = service_with(&dir, kinds(&["api.github.com"]), key.clone());
    s.add_connector(add("github", None, &[], Some("ghp_secret")))
        .unwrap();
    drop(s);

    // The connector now also claims another domain (as a hot-loaded
    // component replacing it would): the instance, which has no --domains
    // of its own, serves it too, so its credential is suspended.
    let s = service_with(
        &dir,
        kinds(&["api.github.com", "evil.example"]),
        key.clone(),
    );
    let snap = s.snapshot().load_full();
    for host in ["api.github.com", "evil.example"] {
        let route = snap.route(host).unwrap();
        assert!(route.credential.is_none(), "{host}");
        assert!(route.credential_suspended, "{host}");
    }
    let list = s.connectors().unwrap();
    assert!(list.connectors[0].credential_set);
    assert!(list.connectors[0].credential_suspended);
    // Re-adding it as it is does not lift the suspension silently.
    assert!(matches!(
        s.add_connector(add("github", None, &[], None)),
        Err(ControlError::Conflict(_))
    ));
    // Confirming does.
    let mut confirm = add("github", None, &[], None);
    confirm.keep_credential = true;
    let info = s.add_connector(confirm).unwrap();
    assert!(!info.credential_suspended);
    assert_eq!(
        injected(&s, "evil.example").as_deref(),
        Some("Bearer ghp_secret")
    );
    drop(s);

    // Back to the original domains: suspended again until confirmed.
    let s = service_with(&dir, kinds(&["api.github.com"]), key);
    assert!(
        s.snapshot()
            .load()
            .route("api.github.com")
            .unwrap()
            .credential_suspended
    );
}

#[test]
fn a_configuration_that_contradicts_itself_is_a_conflict_409() {
    let dir = tempfile::tempdir().unwrap();
    let s = service(&dir);
    // Two instances claiming one domain, as a store written by hand (or by
    // an older tf) could hold: every later change then fails to apply.
    for name in ["one", "two"] {
        s.store()
            .put_connector(&ConnectorInstance {
                name: name.into(),
                kind: "generic".into(),
                domains: vec!["x.example".into()],
                placement: None,
                created_ms: 0,
            })
            .unwrap();
    }
    let err = s.build_snapshot().unwrap_err();
    assert!(err.is_conflict(), "{err}");
    let rule = Rule {
        gateway: "Bot".into(),
        connector: "one".into(),
        action: "generic.*".into(),
        decision: Decision::Allow,
    };
    let err = s.set_rule(rule).unwrap_err();
    let ControlError::Conflict(message) = &err else {
        panic!("{err:?}")
    };
    assert!(message.contains("claimed by both"), "{message}");
    let (status, body) = tf_admin::respond(&tf_admin::ApiError::Control(err));
    assert_eq!(status, http::StatusCode::CONFLICT);
    assert_eq!(body.code, "conflict");
}
