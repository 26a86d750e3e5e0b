use std::sync::Arc;

use http::{HeaderMap, HeaderValue, header::AUTHORIZATION};
use tf_core::{InjectError, Placement};

use super::*;

const SECRET: &str = "ghp_KnownPlaintextSecret1234";

/// A binding of `instance` (kind = instance name, one domain).
fn b(instance: &str) -> Binding {
    Binding::new(instance, instance, ["api.example.com"])
}

fn vault() -> Arc<Vault> {
    Arc::new(Vault::new(MasterKey::generate()))
}

fn agent_headers(name: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    let name = http::HeaderName::from_bytes(name.as_bytes()).unwrap();
    h.append(
        &name,
        HeaderValue::from_static("tf-placeholder-github-00000000"),
    );
    h.append(&name, HeaderValue::from_static("second-agent-value"));
    h.insert("accept", HeaderValue::from_static("application/json"));
    h
}

#[test]
fn round_trip() {
    let v = vault();
    let sealed = v.seal(&b("github"), SECRET.as_bytes());
    assert_eq!(sealed[0], 2);
    assert_eq!(sealed.len(), 1 + 12 + SECRET.len() + 16);
    assert!(!sealed.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()));
    assert_eq!(
        &v.open(&b("github"), &sealed).unwrap()[..],
        SECRET.as_bytes()
    );
    v.verify(&b("github"), &sealed).unwrap();
    // Empty secrets seal too.
    let empty = v.seal(&b("github"), b"");
    assert!(v.open(&b("github"), &empty).unwrap().is_empty());
}

#[test]
fn wrong_instance_wrong_key_and_tampering_fail() {
    let v = vault();
    let sealed = v.seal(&b("github"), SECRET.as_bytes());
    assert_eq!(v.verify(&b("github2"), &sealed), Err(OpenError::Rejected));
    assert_eq!(
        Vault::new(MasterKey::generate()).verify(&b("github"), &sealed),
        Err(OpenError::Rejected)
    );
    for i in 0..sealed.len() {
        let mut t = sealed.clone();
        t[i] ^= 0x01;
        let err = v.verify(&b("github"), &t).unwrap_err();
        if i == 0 {
            assert_eq!(err, OpenError::UnknownVersion(3));
        } else {
            assert_eq!(err, OpenError::Rejected, "byte {i}");
        }
    }
    // Relabelled as version 1, it neither serves nor migrates.
    let mut downgraded = sealed.clone();
    downgraded[0] = 1;
    assert_eq!(
        v.verify(&b("github"), &downgraded),
        Err(OpenError::OldFormat)
    );
    assert_eq!(
        v.rebind(&b("github"), &b("github"), &downgraded),
        Err(OpenError::Rejected)
    );
    assert_eq!(
        v.verify(&b("github"), &sealed[..20]),
        Err(OpenError::Truncated)
    );
    assert_eq!(v.verify(&b("github"), &[]), Err(OpenError::Truncated));
}

#[test]
fn two_seals_differ() {
    let v = vault();
    let a = v.seal(&b("github"), SECRET.as_bytes());
    let b = v.seal(&b("github"), SECRET.as_bytes());
    assert_ne!(a, b);
    assert_ne!(a[1..13], b[1..13], "fresh nonce per seal");
}

#[test]
fn master_key_hex() {
    let key = MasterKey::generate();
    let hex = key.to_hex();
    assert_eq!(hex.len(), 64);
    let again = MasterKey::from_hex(&format!("  {}\n", &*hex)).unwrap();
    assert_eq!(again.bytes(), key.bytes());
    assert_eq!(
        MasterKey::from_hex("abcd").unwrap_err(),
        KeyError::Length(4)
    );
    assert_eq!(
        MasterKey::from_hex(&"zz".repeat(32)).unwrap_err(),
        KeyError::NotHex
    );
    // A sealed value opens with the same key loaded from hex.
    let sealed = Vault::new(key).seal(&b("x"), b"s");
    Vault::new(again).verify(&b("x"), &sealed).unwrap();
}

#[test]
fn bearer_injection_replaces_the_agent_header() {
    let v = vault();
    let inj = v.injector(
        &b("github"),
        v.seal(&b("github"), SECRET.as_bytes()),
        Placement::bearer(),
    );
    let mut h = agent_headers("authorization");
    inj.inject(&mut h).unwrap();
    let values: Vec<_> = h.get_all(AUTHORIZATION).iter().collect();
    assert_eq!(values.len(), 1);
    assert_eq!(values[0], &format!("Bearer {SECRET}"));
    assert!(values[0].is_sensitive());
    assert_eq!(h["accept"], "application/json");
}

#[test]
fn header_template_injection() {
    let v = vault();
    let placement = Placement::Header {
        name: "x-api-key".into(),
        template: "{secret}".into(),
    };
    let inj = v.injector(
        &b("anthropic"),
        v.seal(&b("anthropic"), SECRET.as_bytes()),
        placement,
    );
    let mut h = agent_headers("x-api-key");
    inj.inject(&mut h).unwrap();
    let values: Vec<_> = h.get_all("x-api-key").iter().collect();
    assert_eq!(values, [SECRET]);
    assert!(values[0].is_sensitive());
    assert_eq!(
        &fill_template_for_test("token={secret};again={secret}", b"s")[..],
        b"token=s;again=s"
    );
}

fn fill_template_for_test(t: &str, s: &[u8]) -> Vec<u8> {
    super::inject::fill_template(t, s).to_vec()
}

#[test]
fn basic_injection() {
    let v = vault();
    let inj = v.injector(
        &b("jira"),
        v.seal(&b("jira"), b"me@example.com:tok"),
        Placement::Basic,
    );
    let mut h = agent_headers("authorization");
    inj.inject(&mut h).unwrap();
    let values: Vec<_> = h.get_all(AUTHORIZATION).iter().collect();
    assert_eq!(values, ["Basic bWVAZXhhbXBsZS5jb206dG9r"]);
    assert!(values[0].is_sensitive());
}

#[test]
fn no_placement_leaves_headers_alone() {
    let v = vault();
    let inj = v.injector(
        &b("open"),
        v.seal(&b("open"), SECRET.as_bytes()),
        Placement::None,
    );
    let mut h = agent_headers("authorization");
    let before = h.clone();
    inj.inject(&mut h).unwrap();
    assert_eq!(h, before);
}

#[test]
fn injection_errors_carry_no_plaintext() {
    let v = vault();
    // Sealed for another instance: does not open.
    let inj = v.injector(
        &b("github"),
        v.seal(&b("other"), SECRET.as_bytes()),
        Placement::bearer(),
    );
    let mut h = agent_headers("authorization");
    let err = inj.inject(&mut h).unwrap_err();
    assert!(matches!(err, InjectError::Decrypt(ref i) if i == "github"));
    assert_no_secret(&format!("{err} {err:?}"));
    // The agent's placeholder is not replaced by anything on failure.
    assert_eq!(h.get_all(AUTHORIZATION).iter().count(), 2);

    // A secret with a newline cannot form a header value.
    let bad = format!("{SECRET}\r\nx-evil: 1");
    let inj = v.injector(
        &b("github"),
        v.seal(&b("github"), bad.as_bytes()),
        Placement::bearer(),
    );
    let err = inj.inject(&mut HeaderMap::new()).unwrap_err();
    assert!(matches!(err, InjectError::InvalidHeader));
    assert_no_secret(&format!("{err} {err:?}"));

    let bad_name = Placement::Header {
        name: "bad header".into(),
        template: "{secret}".into(),
    };
    let inj = v.injector(
        &b("github"),
        v.seal(&b("github"), SECRET.as_bytes()),
        bad_name,
    );
    assert!(matches!(
        inj.inject(&mut HeaderMap::new()),
        Err(InjectError::InvalidHeader)
    ));
}

fn assert_no_secret(text: &str) {
    assert!(!text.contains(SECRET), "{text}");
}

#[test]
fn debug_and_display_never_show_secrets() {
    let hex_key = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    let key = MasterKey::from_hex(hex_key).unwrap();
    let key_dbg = format!("{key:?}");
    assert!(
        !key_dbg.contains("0011") && !key_dbg.contains("[0"),
        "{key_dbg}"
    );
    let v = Arc::new(Vault::new(key));
    let v_dbg = format!("{v:?}");
    assert!(!v_dbg.contains("0011"), "{v_dbg}");
    assert_no_secret(&v_dbg);

    let sealed = v.seal(&b("github"), SECRET.as_bytes());
    let mut h = HeaderMap::new();
    v.injector(&b("github"), sealed, Placement::bearer())
        .inject(&mut h)
        .unwrap();
    // http prints sensitive values as "Sensitive".
    assert_no_secret(&format!("{h:?}"));

    let bad_key = format!("{}zz", &hex_key[..62]);
    for e in [
        MasterKey::from_hex(&bad_key).unwrap_err(),
        MasterKey::from_hex(&hex_key[..10]).unwrap_err(),
    ] {
        let text = format!("{e} {e:?}");
        assert!(!text.contains("0011"), "{text}");
    }
    for e in [
        OpenError::Truncated,
        OpenError::UnknownVersion(7),
        OpenError::OldFormat,
        OpenError::Rejected,
    ] {
        assert_no_secret(&format!("{e} {e:?}"));
    }
}

#[test]
fn placeholders() {
    let p = placeholder("My Bot.github");
    assert!(p.starts_with("tf-placeholder-My-Bot-github-"), "{p}");
    let suffix = p.rsplit('-').next().unwrap();
    assert_eq!(suffix.len(), 8);
    assert!(suffix.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_ne!(
        placeholder("a.b"),
        placeholder("a-b"),
        "the hash tells them apart"
    );
    assert_eq!(placeholder("github"), placeholder("github"));
}

#[test]
fn bindings_normalize_domains() {
    let a = Binding::new(
        "gh",
        "github",
        ["API.github.com", "uploads.github.com", "api.github.com."],
    );
    let b = Binding::new("gh", "github", ["uploads.github.com", "api.github.com"]);
    assert_eq!(a, b);
    assert_eq!(a.domains(), ["api.github.com", "uploads.github.com"]);
    assert_eq!(a.port(), DEFAULT_PORT);
    // Field boundaries are length-prefixed: moving bytes between fields
    // changes the associated data.
    assert_ne!(
        Binding::new("ab", "c", ["d"]).aad(),
        Binding::new("a", "bc", ["d"]).aad()
    );
    assert_ne!(
        Binding::new("a", "b", ["c.d"]).aad(),
        Binding::new("a", "b", ["c", "d"]).aad()
    );
}

#[test]
fn a_credential_opens_only_for_its_binding() {
    let v = vault();
    let sealed_for = Binding::new("github", "github", ["api.github.com", "uploads.github.com"]);
    let sealed = v.seal(&sealed_for, SECRET.as_bytes());
    let cases: &[(&str, Binding, Result<(), OpenError>)] = &[
        ("same binding", sealed_for.clone(), Ok(())),
        (
            "reordered and re-cased domains",
            Binding::new("github", "github", ["UPLOADS.github.com", "api.github.com"]),
            Ok(()),
        ),
        (
            "wrong kind",
            Binding::new(
                "github",
                "generic",
                ["api.github.com", "uploads.github.com"],
            ),
            Err(OpenError::Rejected),
        ),
        (
            "extra domain",
            Binding::new(
                "github",
                "github",
                ["api.github.com", "uploads.github.com", "attacker.example"],
            ),
            Err(OpenError::Rejected),
        ),
        (
            "other domains",
            Binding::new("github", "github", ["attacker.example"]),
            Err(OpenError::Rejected),
        ),
        (
            "fewer domains",
            Binding::new("github", "github", ["api.github.com"]),
            Err(OpenError::Rejected),
        ),
        (
            "other instance",
            Binding::new(
                "github2",
                "github",
                ["api.github.com", "uploads.github.com"],
            ),
            Err(OpenError::Rejected),
        ),
    ];
    for (name, binding, want) in cases {
        assert_eq!(&v.verify(binding, &sealed), want, "{name}");
        let inj = v.injector(binding, sealed.clone(), Placement::bearer());
        assert_eq!(
            inj.inject(&mut HeaderMap::new()).is_ok(),
            want.is_ok(),
            "{name}"
        );
    }
}

#[test]
fn rebind_moves_a_credential_to_a_new_binding() {
    let v = vault();
    let old = Binding::new("github", "github", ["api.github.com"]);
    let new = Binding::new("github", "generic", ["attacker.example"]);
    let sealed = v.seal(&old, SECRET.as_bytes());
    let moved = v.rebind(&old, &new, &sealed).unwrap();
    assert_eq!(moved[0], 2);
    v.verify(&new, &moved).unwrap();
    assert_eq!(v.verify(&old, &moved), Err(OpenError::Rejected));
    assert_eq!(&v.open(&new, &moved).unwrap()[..], SECRET.as_bytes());
    // Rebinding needs the binding it was sealed for.
    assert_eq!(v.rebind(&new, &old, &sealed), Err(OpenError::Rejected));
    // Tampered bytes do not rebind.
    let mut t = sealed.clone();
    *t.last_mut().unwrap() ^= 1;
    assert_eq!(v.rebind(&old, &new, &t), Err(OpenError::Rejected));
}

#[test]
fn version_1_credentials_are_suspended_until_rebound() {
    let v = vault();
    let legacy = v.seal_v1("github", SECRET.as_bytes());
    assert_eq!(sealed_version(&legacy), Some(1));
    let binding = Binding::new("github", "github", ["api.github.com"]);
    // Does not open (nor inject) under a current binding.
    assert_eq!(v.verify(&binding, &legacy), Err(OpenError::OldFormat));
    let inj = v.injector(&binding, legacy.clone(), Placement::bearer());
    assert!(inj.inject(&mut HeaderMap::new()).is_err());
    // Rebinding opens it with its instance name and seals it in the new format.
    let migrated = v.rebind(&binding, &binding, &legacy).unwrap();
    assert_eq!(sealed_version(&migrated), Some(2));
    v.verify(&binding, &migrated).unwrap();
    // A version-1 credential of another instance does not migrate.
    let other = v.seal_v1("other", SECRET.as_bytes());
    assert_eq!(
        v.rebind(&binding, &binding, &other),
        Err(OpenError::Rejected)
    );
    // Its digest matches the current one's.
    let salt = b"salt";
    assert_eq!(
        v.digest(salt, &binding, &legacy).unwrap(),
        v.digest(salt, &binding, &migrated).unwrap()
    );
}

#[test]
fn digests_are_salted_and_match_the_secret() {
    let v = vault();
    let binding = b("mcp");
    let sealed = v.seal(&binding, SECRET.as_bytes());
    let salt = [7u8; 32];
    let d = v.digest(&salt, &binding, &sealed).unwrap();
    assert_eq!(d, salted_digest(&salt, SECRET.as_bytes()));
    assert_ne!(d, salted_digest(&[8u8; 32], SECRET.as_bytes()));
    assert_ne!(d, salted_digest(&salt, b"other"));
    assert_eq!(
        v.digest(&salt, &b("other"), &sealed),
        Err(OpenError::Rejected)
    );
}
