use tf_core::{Action, ClassifyError, ConnectorRequest, Decision, InjectError, Verdict};

use super::*;

struct NoClassifier;

impl Classifier for NoClassifier {
    fn classify(&self, _request: ConnectorRequest) -> Result<Action, ClassifyError> {
        Err(ClassifyError::Failed("test classifier".into()))
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
        |i, _p| {
            Ok((i.name == "hooks")
                .then(|| Arc::new(MarkInjector(i.name.clone())) as Arc<dyn Injector>))
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
    let err = build(input(&twice, vec![]), |_, _| Ok(None)).unwrap_err();
    assert!(format!("{err:#}").contains("claimed by both"), "{err:#}");

    let one = [instance("github", "github", &[], None)];
    let err = build(
        input(
            &one,
            vec![rule("Bot", "github", "bad pattern", Decision::Allow)],
        ),
        |_, _| Ok(None),
    )
    .unwrap_err();
    assert!(format!("{err:#}").contains("rule"), "{err:#}");

    let err = build(input(&one, vec![]), |_, _| anyhow::bail!("cannot decrypt")).unwrap_err();
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
