use std::os::unix::fs::PermissionsExt;

use super::*;

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn init_creates_everything_once_with_private_modes() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("nested").join("data");
    let dd = DataDir::open(&root).unwrap();
    assert_eq!(mode(&root), 0o700);

    let first = dd.init().unwrap();
    for name in [
        CA_PEM,
        CA_KEY,
        ADMIN_TOKEN,
        CA_BUNDLE,
        STORE,
        CONNECTORS,
        CACHE,
        AUDIT_KEY,
        AUDIT_PUB,
    ] {
        assert!(first.created.contains(&name), "{name} not created");
        assert!(root.join(name).exists(), "{name} missing");
    }
    for secret in [CA_KEY, ADMIN_TOKEN, STORE, AUDIT_KEY] {
        assert_eq!(mode(&root.join(secret)), 0o600, "{secret}");
    }
    assert_eq!(mode(&root.join(AUDIT_PUB)), 0o644);
    assert_eq!(
        dd.audit_signer().unwrap().public_key(),
        &dd.audit_public_key().unwrap()
    );
    if std::env::var_os(MASTER_KEY_ENV).is_none() {
        assert_eq!(mode(&root.join(MASTER_KEY)), 0o600);
        dd.master_key().unwrap();
    }
    let token = dd.admin_token().unwrap();
    assert_eq!(token.len(), 64);
    let ca = std::fs::read_to_string(root.join(CA_PEM)).unwrap();
    let bundle = std::fs::read_to_string(root.join(CA_BUNDLE)).unwrap();
    assert!(bundle.ends_with(&ca));
    dd.ca().unwrap();

    let second = dd.init().unwrap();
    assert!(second.created.is_empty(), "{:?}", second.created);
    assert_eq!(dd.admin_token().unwrap(), token);
    assert_eq!(std::fs::read_to_string(root.join(CA_PEM)).unwrap(), ca);
}

#[test]
fn half_a_ca_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dd = DataDir::open(tmp.path()).unwrap();
    dd.init().unwrap();
    std::fs::remove_file(tmp.path().join(CA_KEY)).unwrap();
    let err = dd.init().unwrap_err().to_string();
    assert!(err.contains("only one of ca.pem and ca.key"), "{err}");
}

#[test]
fn runtime_json_round_trips_and_is_removed_only_by_its_owner() {
    let tmp = tempfile::tempdir().unwrap();
    let dd = DataDir::open(tmp.path()).unwrap();
    assert_eq!(dd.read_runtime().unwrap(), None);
    let info = RuntimeInfo {
        pid: 42,
        proxy: "127.0.0.1:1000".parse().unwrap(),
        admin: "127.0.0.1:1001".parse().unwrap(),
        version: "0.1.0".into(),
    };
    dd.write_runtime(&info).unwrap();
    let raw: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join(RUNTIME)).unwrap()).unwrap();
    assert_eq!(raw["proxy"], "127.0.0.1:1000");
    assert_eq!(raw["admin"], "127.0.0.1:1001");
    assert_eq!(raw["pid"], 42);
    assert_eq!(dd.read_runtime().unwrap(), Some(info));
    dd.remove_runtime(7).unwrap();
    assert!(dd.read_runtime().unwrap().is_some());
    dd.remove_runtime(42).unwrap();
    assert_eq!(dd.read_runtime().unwrap(), None);
}

#[test]
fn a_lost_audit_public_key_is_rederived_and_a_lost_private_key_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dd = DataDir::open(tmp.path()).unwrap();
    dd.init().unwrap();
    let public = dd.audit_public_key().unwrap();
    std::fs::remove_file(tmp.path().join(AUDIT_PUB)).unwrap();
    assert_eq!(dd.init().unwrap().created, vec![AUDIT_PUB]);
    assert_eq!(dd.audit_public_key().unwrap(), public);
    std::fs::remove_file(tmp.path().join(AUDIT_KEY)).unwrap();
    let err = dd.init().unwrap_err().to_string();
    assert!(err.contains("not audit-signing.key"), "{err}");
}
