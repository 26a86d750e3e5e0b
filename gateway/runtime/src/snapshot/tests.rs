use tf_core::{Action, ClassifyError, ConnectorRequest, Decision, InjectError, Verdict};

use std::convert::Infallible;

use super::*;

struct NoClassifier;

impl Classifier for NoClassifier {
    fn classify(&self, _request: ConnectorRequest) -> Result<Action, ClassifyError> {
        Err(ClassifyError::failed(
            tf_core::ConnectorFailure::Trap,
            "test classifier",
        ))
    }
}

struct MarkInjector(String);

impl Injector for MarkInjector {
    fn inject(&self, headers: &mut http::HeaderMap) -> Result<(), InjectError> {
        headers.insert(
            "x-mark",
            self.0.parse().map_err(|_| InjectError::InvalidHeader)?,
        );
        Ok(())
    }
}

fn kind(name: &str, domains: &[&str]) -> Kind {
    Kind {
        descriptor: Arc::new(Descriptor {
            name: name.into(),
            version: "1.0.0".into(),
            domains: domains.iter().map(|d| (*d).to_owned()).collect(),
            actions: vec![],
            placement: Placement::bearer(),
            needs_body: false,
        }),
        classifier: Arc::new(NoClassifier),
    }
}

fn instance(
    name: &str,
    kind: &str,
    domains: &[&str],
    placement: Option<Placement>,
) -> InstanceConfig {
    InstanceConfig {
        name: name.into(),
        kind: kind.into(),
        domains: domains.iter().map(|d| (*d).to_owned()).collect(),
        placement,
        take_over: false,
    }
}

fn kinds() -> BTreeMap<String, Kind> {
    [
        ("github", kind("github", &["api.github.com"])),
        ("generic", kind("generic", &[])),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

fn rule(g: &str, c: &str, a: &str, d: Decision) -> Rule {
    Rule {
        gateway: g.into(),
        connector: c.into(),
        action: a.into(),
        decision: d,
    }
}

#[test]
fn builds_routes_gateways_and_permissions() {
    let kinds = kinds();
    let header = Placement::Header {
        name: "x-api-key".into(),
        template: "{secret}".into(),
    };
    let instances = [
        instance("github", "github", &[], None),
        instance(
            "hooks",
            "generic",
            &["Hooks.Example.com", "b.example"],
            Some(header.clone()),
        ),
        instance("orphan", "gone", &["orphan.example"], None),
    ];
    let snap = build(
        SnapshotInput {
            version: 3,
            gateways: vec![("Bot".into(), "tok".into())],
            instances: &instances,
            kinds: &kinds,
            rules: vec![rule("Bot", "github", "github.pr.*", Decision::Allow)],
            warn_missing_kinds: true,
        },
        |i, _p, _d| {
            Ok::<_, Infallible>(match i.name.as_str() {
                "hooks" => Credential::Ready(Arc::new(MarkInjector(i.name.clone()))),
                _ => Credential::None,
            })
        },
    )
    .unwrap();
    assert_eq!(snap.version, 3);
    assert!(snap.gateways["Bot"].token_matches("tok"));
    assert!(!snap.gateways["Bot"].token_matches("other"));

    let gh = snap.route("api.github.com").unwrap();
    assert_eq!(gh.instance, "github");
    assert_eq!(gh.placement, Placement::bearer());
    assert!(gh.credential.is_none());
    assert!(!gh.credential_suspended);

    let hooks = snap.route("hooks.example.com").unwrap();
    assert_eq!(hooks.instance, "hooks");
    assert_eq!(hooks.descriptor.name, "generic");
    assert_eq!(hooks.placement, header);
    let mut h = http::HeaderMap::new();
    hooks.credential.as_ref().unwrap().inject(&mut h).unwrap();
    assert_eq!(h["x-mark"], "hooks");
    assert!(snap.route("b.example").is_some());
    assert!(
        snap.route("orphan.example").is_none(),
        "unloaded kinds route nowhere"
    );
    assert_eq!(snap.routes.len(), 3);

    assert!(matches!(
        snap.permissions.evaluate("Bot", "github", "github.pr.merge"),
        Verdict::Matched(r) if r.decision == Decision::Allow
    ));
    assert_eq!(
        snap.permissions
            .evaluate("Bot", "github", "github.repo.delete"),
        Verdict::NoMatch
    );
}

#[test]
fn refuses_double_claims_bad_rules_and_credential_errors() {
    let kinds = kinds();
    let input = |instances, rules| SnapshotInput {
        version: 1,
        gateways: vec![],
        instances,
        kinds: &kinds,
        rules,
        warn_missing_kinds: true,
    };
    let twice = [
        instance("github", "github", &[], None),
        instance("other", "generic", &["API.github.com"], None),
    ];
    let err = build(input(&twice, vec![]), |_, _, _| {
        Ok::<_, Infallible>(Credential::None)
    })
    .unwrap_err();
    assert!(format!("{err:#}").contains("claimed by both"), "{err:#}");
    assert!(err.is_conflict());

    let one = [instance("github", "github", &[], None)];
    let err = build(
        input(
            &one,
            vec![rule("Bot", "github", "bad pattern", Decision::Allow)],
        ),
        |_, _, _| Ok::<_, Infallible>(Credential::None),
    )
    .unwrap_err();
    assert!(format!("{err:#}").contains("rule"), "{err:#}");

    let err = build(input(&one, vec![]), |_, _, _| {
        Err(std::io::Error::other("cannot decrypt"))
    })
    .unwrap_err();
    assert!(format!("{err:#}").contains("cannot decrypt"), "{err:#}");
}

#[test]
fn effective_values_fall_back_to_the_descriptor() {
    let k = kind("github", &["api.github.com"]);
    assert_eq!(effective_domains(&[], &k.descriptor), ["api.github.com"]);
    assert_eq!(
        effective_domains(&["x.test".into()], &k.descriptor),
        ["x.test"]
    );
    assert_eq!(
        effective_placement(None, &k.descriptor),
        Placement::bearer()
    );
    assert_eq!(
        effective_placement(Some(&Placement::Basic), &k.descriptor),
        Placement::Basic
    );
}

#[test]
fn suspended_credentials_route_without_an_injector() {
    let kinds = kinds();
    let instances = [
        instance("github", "github", &[], None),
        instance("hooks", "generic", &["hooks.example"], None),
    ];
    let mut seen = Vec::new();
    let snap = build(
        SnapshotInput {
            version: 1,
            gateways: vec![],
            instances: &instances,
            kinds: &kinds,
            rules: vec![],
            warn_missing_kinds: true,
        },
        |i, _p, domains| {
            seen.push((i.name.clone(), domains.to_vec()));
            Ok::<_, Infallible>(match i.name.as_str() {
                "github" => Credential::Suspended,
                _ => Credential::Ready(Arc::new(MarkInjector(i.name.clone()))),
            })
        },
    )
    .unwrap();
    // The callback sees the domains the instance serves now.
    assert_eq!(
        seen,
        [
            ("github".to_owned(), vec!["api.github.com".to_owned()]),
            ("hooks".to_owned(), vec!["hooks.example".to_owned()]),
        ]
    );
    let gh = snap.route("api.github.com").unwrap();
    assert!(gh.credential.is_none());
    assert!(gh.credential_suspended);
    let hooks = snap.route("hooks.example").unwrap();
    assert!(hooks.credential.is_some());
    assert!(!hooks.credential_suspended);
}

#[test]
fn a_credential_serves_only_the_binding_it_was_sealed_for() {
    let vault = tf_vault::Vault::new(tf_vault::MasterKey::generate());
    let sealed_for = current_binding("gh", "github", &["api.github.com".into()]);
    let sealed = vault.seal(&sealed_for, b"secret");
    let meta = meta_of(&sealed_for, None);
    let doms = |d: &[&str]| d.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let cases: &[(&str, tf_vault::Binding, bool)] = &[
        ("unchanged", sealed_for.clone(), true),
        (
            "same domains, other case and order",
            current_binding("gh", "github", &doms(&["API.github.com", "api.github.com"])),
            true,
        ),
        (
            "kind changed",
            current_binding("gh", "generic", &doms(&["api.github.com"])),
            false,
        ),
        (
            "a component changed the domains",
            current_binding(
                "gh",
                "github",
                &doms(&["api.github.com", "attacker.example"]),
            ),
            false,
        ),
        (
            "domains replaced",
            current_binding("gh", "github", &doms(&["attacker.example"])),
            false,
        ),
    ];
    for (name, current, serves) in cases {
        assert_eq!(
            credential_serves(current, Some(&meta), &sealed),
            *serves,
            "{name}"
        );
    }
    // No record of the binding (stored before bindings existed): suspended.
    assert!(!credential_serves(&sealed_for, None, &sealed));
    // A version-1 blob is suspended even with a matching record.
    let mut v1 = sealed.clone();
    v1[0] = 1;
    assert!(!credential_serves(&sealed_for, Some(&meta), &v1));
    // Another port: suspended.
    let mut other_port = meta.clone();
    other_port.port = 8443;
    assert!(!credential_serves(&sealed_for, Some(&other_port), &sealed));
}
