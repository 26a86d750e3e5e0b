//! Two connectors claiming one domain: refused, unless installed with `--take-
//! over`.

use tf_e2e::{Configure, Gateway, MockUpstream, TestCa};

use super::{DOMAIN, allowed, authored, denied, get, list, path_str};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn colliding_domains_are_refused_unless_installed_with_take_over() {
    let ca = TestCa::new();
    let up = MockUpstream::start(&ca, Default::default()).await;
    let built = tokio::task::spawn_blocking(authored)
        .await
        .expect("author build");
    let g = Gateway::builder()
        .route(DOMAIN, &up)
        .upstream_ca(&ca)
        .connector("generic")
        .name("legacy")
        .domains(DOMAIN)
        .token("x")
        .allow("Bot", "*", "*")
        .start()
        .await;
    let refused = g.tf(&["connector", "install", path_str(&built.v1)]).await;
    assert_ne!(refused.code, Some(0));
    assert!(
        refused
            .stderr
            .contains("domain api.acme.internal is claimed by both"),
        "{}",
        refused.stderr
    );
    assert!(!g.data_dir().join("connectors/acme.wasm").exists());
    assert_eq!(get(&g, "/v1/items/1").await, allowed("http.get"));

    g.tf(&["connector", "install", "--take-over", path_str(&built.v1)])
        .await
        .ok();
    // acme classifies the domain now, but holds no credential of its own
    // (the domain's credential was legacy's, and acme cannot take another
    // instance's domain with `tf connector add`), so the request is refused.
    assert_eq!(
        get(&g, "/v1/items/1").await,
        denied(403, "credential_error")
    );
    // The list shows who serves the domain now.
    let listed = list(&g).await;
    let legacy = listed
        .lines()
        .find(|l| l.starts_with("legacy"))
        .unwrap_or_else(|| panic!("{listed}"));
    assert!(!legacy.contains(DOMAIN), "{listed}");
}
