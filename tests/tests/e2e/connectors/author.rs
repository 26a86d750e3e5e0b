//! The author path: `tf connector new`, `cargo test`, `tf connector build` and
//! `tf connector test`, then install and classify in a running gateway.

use tf_e2e::{MockUpstream, TestCa};

use super::{
    DOMAIN, SECRET, acme_gateway, allowed, authored, denied, events, get, list, sha256_of,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn author_path_scaffold_build_test_install_and_classify() {
    let ca = TestCa::new();
    let up = MockUpstream::start(&ca, Default::default()).await;
    let g = acme_gateway(&ca, &up).await;
    let built = authored();
    let t = &built.transcript;
    assert!(t.contains("created connector crate acme"), "{t}");
    assert!(t.contains("1 fixture file(s) embedded"), "{t}");
    assert!(t.contains("sdk: tameflare-sdk 0.1.0"), "{t}");
    assert!(t.contains("ok: 4 fixtures passed"), "{t}");

    // The scaffolded connector classifies a real request; the real
    // credential reaches the upstream.
    assert_eq!(get(&g, "/v1/items/42").await, allowed("acme.item.get"));
    let seen = up.requests_to("/v1/items/42");
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].header("authorization"),
        Some(format!("Bearer {SECRET}").as_str())
    );
    // Unknown routes are refused by the connector, so denied.
    assert_eq!(
        get(&g, "/v1/other").await,
        denied(403, "connector_rejected")
    );

    let listed = list(&g).await;
    let sha = sha256_of(&built.v1);
    assert!(listed.contains("acme.wasm"), "{listed}");
    assert!(listed.contains("loaded"), "{listed}");
    assert!(listed.contains("tameflare-sdk 0.1.0"), "{listed}");
    assert!(listed.contains(&sha[..12]), "{listed}");
    assert!(listed.contains(DOMAIN), "{listed}");

    let audit = g.audit().await;
    let installed = events(&audit)
        .into_iter()
        .find(|e| e["kind"] == "installed")
        .unwrap_or_else(|| panic!("no install event in {audit:?}"));
    assert_eq!(installed["name"], "acme");
    assert_eq!(installed["version"], "0.1.0");
    assert_eq!(installed["sha256"], sha.as_str());
    let actor = installed["actor"].as_str().unwrap_or_default();
    assert!(actor.contains("via tf connector install"), "{actor}");
    // The chain including the events verifies.
    let status = g.tf(&["status"]).await.ok().stdout;
    assert!(status.contains("verified"), "{status}");
}
