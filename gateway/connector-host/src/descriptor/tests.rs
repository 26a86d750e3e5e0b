use super::*;
use tf_core::Placement;

fn good() -> Descriptor {
    Descriptor {
        name: "github".into(),
        version: "0.1.0".into(),
        domains: vec!["api.github.com".into(), "uploads.github.com".into()],
        actions: vec![
            ActionSpec {
                name: "github.pr.merge".into(),
                description: "Merge a pull request".into(),
                method: "PUT".into(),
                path_template: "/repos/{owner}/{repo}/pulls/{pull_number}/merge".into(),
                risk: Risk::High,
                read_only: false,
            },
            ActionSpec {
                name: "github.repo.get".into(),
                description: "Get a repository".into(),
                method: "GET".into(),
                path_template: "/repos/{owner}/{repo}".into(),
                risk: Risk::Low,
                read_only: true,
            },
        ],
        placement: Placement::bearer(),
        needs_body: false,
    }
}

#[test]
fn a_good_descriptor_passes() {
    assert_eq!(validate(&good()), Ok(()));
}

#[test]
fn each_problem_is_named() {
    type Case = (fn(&mut Descriptor), DescriptorError);
    let cases: Vec<Case> = vec![
        (
            |d| d.name = "GitHub".into(),
            DescriptorError::Name("GitHub".into()),
        ),
        (|d| d.name = "".into(), DescriptorError::Name("".into())),
        (
            |d| d.name = "git.hub".into(),
            DescriptorError::Name("git.hub".into()),
        ),
        (
            |d| d.version = "".into(),
            DescriptorError::Version("".into()),
        ),
        (|d| d.actions.clear(), DescriptorError::NoActions),
        (
            |d| d.actions[1].name = "github.pr.merge!".into(),
            DescriptorError::ActionName("github.pr.merge!".into()),
        ),
        (
            |d| d.actions[1].name = "github".into(),
            DescriptorError::ActionName("github".into()),
        ),
        (
            |d| d.actions[1].name = "github..get".into(),
            DescriptorError::ActionName("github..get".into()),
        ),
        (
            |d| d.actions[1] = d.actions[0].clone(),
            DescriptorError::DuplicateAction("github.pr.merge".into()),
        ),
        (
            |d| d.actions[1].name = "github.pr.merge".into(),
            DescriptorError::ConflictingAction("github.pr.merge".into()),
        ),
        (
            |d| d.actions[0].method = "put".into(),
            DescriptorError::Method("github.pr.merge".into()),
        ),
        (
            |d| d.actions[0].description = "a\nb".into(),
            DescriptorError::ActionText("github.pr.merge".into()),
        ),
        (
            |d| d.domains.push("API.github.com".into()),
            DescriptorError::Domain(DomainError::Invalid("API.github.com".into())),
        ),
        (
            |d| d.domains.push("*.github.com".into()),
            DescriptorError::Domain(DomainError::Wildcard("*.github.com".into())),
        ),
        (
            |d| d.domains.push("api.github.com:443".into()),
            DescriptorError::Domain(DomainError::Invalid("api.github.com:443".into())),
        ),
        (
            |d| d.domains.push("api.github.com".into()),
            DescriptorError::DuplicateDomain("api.github.com".into()),
        ),
        (
            |d| {
                d.placement = Placement::Header {
                    name: "X Token".into(),
                    template: "{secret}".into(),
                }
            },
            DescriptorError::Placement(PlacementError::HeaderName("X Token".into())),
        ),
        (
            |d| {
                d.placement = Placement::Header {
                    name: "x-token".into(),
                    template: "{secret}\r\nx-evil: 1".into(),
                }
            },
            DescriptorError::Placement(PlacementError::TemplateText),
        ),
        (
            |d| {
                d.placement = Placement::Header {
                    name: "x-token".into(),
                    template: "static".into(),
                }
            },
            DescriptorError::Placement(PlacementError::NoSecret),
        ),
    ];
    for (i, (mutate, want)) in cases.into_iter().enumerate() {
        let mut d = good();
        mutate(&mut d);
        assert_eq!(validate(&d), Err(want), "case {i}");
    }
}

#[test]
fn one_action_may_cover_several_routes() {
    let mut d = good();
    let mut org = d.actions[0].clone();
    org.path_template = "/orgs/{org}/pulls/{pull_number}/merge".into();
    d.actions.push(org);
    assert_eq!(validate(&d), Ok(()));
}

#[test]
fn empty_domains_and_other_placements_are_fine() {
    let mut d = good();
    d.domains.clear();
    d.placement = Placement::Basic;
    assert_eq!(validate(&d), Ok(()));
    d.placement = Placement::None;
    d.actions[0].method = "*".into();
    assert_eq!(validate(&d), Ok(()));
}

#[test]
fn a_family_entry_ends_in_a_star_segment_only() {
    let mut d = good();
    d.actions[1].name = "github.tools.*".into();
    assert_eq!(validate(&d), Ok(()));
    for bad in ["github.*.merge", "*", "github.**", "github.tools.*x"] {
        d.actions[1].name = bad.into();
        assert_eq!(
            validate(&d),
            Err(DescriptorError::ActionName(bad.into())),
            "{bad}"
        );
    }
}
