//! A hostile component dropped into `<data>/connectors/`: every way it fails
//! (deadline, memory, trap, oversized output, stack) is a `connector_error`
//! denial, and the gateway keeps serving.

use tf_e2e::{Configure, Gateway};

use crate::harness::{GH_SECRET, WASM_ARTIFACTS, decisions, setup};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_connector_is_denied_with_connector_error_and_the_gateway_keeps_serving() {
    let (ca, up) = setup().await;
    let hostile = std::path::Path::new(WASM_ARTIFACTS).join("test_hostile.wasm");
    let mut g = Gateway::builder()
        .route("hostile.test", &up)
        .route("api.github.com", &up)
        .upstream_ca(&ca)
        .prepare()
        .await;
    // A third-party component dropped into the data dir's connectors/ folder.
    std::fs::copy(&hostile, g.data_dir().join("connectors/hostile.wasm")).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (built by tf-builtins' build script)",
            hostile.display()
        )
    });
    g.setup()
        .connector("hostile")
        .token("hostile-token")
        .connector("github")
        .token(GH_SECRET)
        .allow("Bot", "hostile", "*")
        .allow("Bot", "github", "*")
        .apply()
        .await;
    g.serve().await;
    let script = r#"
for p in loop oom panic huge deep ok; do
  curl -sS -o /dev/null -w "$p %{http_code}\n" https://hostile.test/$p
done
curl -sS -o /dev/null -w "github %{http_code}\n" https://api.github.com/repos/octo/hello/pulls/1
"#;
    let out = g.run_agent("Bot", &["sh", "-c", script]).await.ok();
    // (request, status, the reason its record gives): each failure of the
    // component is its own row; the gateway serves on after every one.
    let expected = [
        ("loop", 403, "connector_error"),
        ("oom", 403, "connector_error"),
        ("panic", 403, "connector_error"),
        ("huge", 403, "connector_error"),
        ("deep", 403, "connector_error"),
        ("ok", 200, "rule:Bot/hostile/*"),
        ("github", 200, "rule:Bot/github/*"),
    ];
    let lines: Vec<&str> = out.stdout.lines().collect();
    let want: Vec<String> = expected
        .iter()
        .map(|(what, status, _)| format!("{what} {status}"))
        .collect();
    assert_eq!(lines, want, "{out:?}");
    let audit = g.request_records().await;
    let reasons: Vec<(String, String)> = audit
        .iter()
        // Requests only (the component's install is an event record).
        .filter(|r| r["host"] == "hostile.test" || r["host"] == "api.github.com")
        .map(|r| {
            let path = r["path"].as_str().unwrap_or("-");
            let what = if r["host"] == "api.github.com" {
                "github"
            } else {
                path.trim_start_matches('/')
            };
            (
                what.to_owned(),
                r["reason"].as_str().unwrap_or("-").to_owned(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = expected
        .iter()
        .map(|(what, _, reason)| ((*what).to_owned(), (*reason).to_owned()))
        .collect();
    assert_eq!(reasons, want, "{:?}", decisions(&audit));
    assert_eq!(up.requests_to("/ok").len(), 1);
    assert!(up.requests_to("/loop").is_empty() && up.requests_to("/panic").is_empty());
}
