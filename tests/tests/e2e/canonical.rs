//! Issue 9 end to end: with a deny-list policy (`*` allowed, then
//! `github.repo.delete` and `github.pr.merge` denied), no spelling of a
//! denied request that an upstream folds into the same request gets
//! through. Each is refused (`400 non_canonical_path`) or classified as the
//! denied action, and the mock upstream sees none of them. A gzipped body
//! is classified decoded, so `{"state":"closed"}` is `github.pr.close`.

use tf_e2e::{Configure, Gateway, MockUpstream, TestCa, UpstreamOptions};

const SECRET: &str = "ghp_e2eCanonicalSecret7c1d";

async fn deny_list_gateway(ca: &TestCa, up: &MockUpstream) -> Gateway {
    Gateway::builder()
        .route("api.github.com", up)
        .upstream_ca(ca)
        .connector("github")
        .token(SECRET)
        .allow("Bot", "github", "*")
        .deny("Bot", "github", "github.repo.delete")
        .deny("Bot", "github", "github.pr.merge")
        .deny("Bot", "github", "github.pr.close")
        .start()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_spelling_of_a_denied_request_is_refused_or_denied_and_never_forwarded() {
    let ca = TestCa::new();
    let up = MockUpstream::start(&ca, UpstreamOptions::default()).await;
    let g = deny_list_gateway(&ca, &up).await;

    // (method, path, expected status, expected action or reason)
    let variants: &[(&str, &str, u16, &str)] = &[
        ("DELETE", "/repos/o/r/", 403, "github.repo.delete"),
        ("DELETE", "/repos//o/r", 403, "github.repo.delete"),
        ("DELETE", "//repos/o/r", 403, "github.repo.delete"),
        ("DELETE", "/%72epos/o/r", 403, "github.repo.delete"),
        ("DELETE", "/REPOS/o/r", 403, "github.repo.delete"),
        ("PUT", "/repos/o/r/pulls/7/merge/", 403, "github.pr.merge"),
        ("PUT", "/repos/o/r/pulls/7//merge", 403, "github.pr.merge"),
        ("PUT", "/repos/o/r/pulls/7/%6derge", 403, "github.pr.merge"),
        ("DELETE", "/repos/o/r;x=1", 400, "non_canonical_path"),
        ("DELETE", "/repos/o%2Fr", 400, "non_canonical_path"),
        ("DELETE", "/%2572epos/o/r", 400, "non_canonical_path"),
        (
            "PUT",
            "/repos/o/r/pulls/7/./merge",
            400,
            "non_canonical_path",
        ),
    ];
    let mut script = String::from("set -e\n");
    for (method, path, _, _) in variants {
        script.push_str(&format!(
            "curl -sS --path-as-is -o /dev/null -w '{method} {path} %{{http_code}}\\n' -X {method} \
             -H \"Authorization: Bearer $GITHUB_TOKEN\" 'https://api.github.com{path}'\n"
        ));
    }
    let out = g.run_agent("Bot", &["sh", "-c", &script]).await.ok();
    let codes: Vec<u16> = out
        .stdout
        .lines()
        .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
        .collect();
    let expected: Vec<u16> = variants.iter().map(|v| v.2).collect();
    assert_eq!(codes, expected, "{}", out.stdout);
    assert!(
        up.requests().is_empty(),
        "the upstream saw {:?}",
        up.requests()
    );
    let audit = audit_with(&g, variants.len()).await;
    let denied: Vec<_> = audit.iter().filter(|r| r["decision"] == "denied").collect();
    assert_eq!(denied.len(), variants.len(), "{audit:?}");
    for (record, (method, path, status, what)) in denied.iter().zip(variants) {
        if *status == 403 {
            assert_eq!(record["action"], *what, "{method} {path}: {record}");
            assert_eq!(record["reason"], "permission_denied", "{method} {path}");
            // The audited path is the canonical one.
            let canonical = if *what == "github.repo.delete" {
                "/repos/o/r"
            } else {
                "/repos/o/r/pulls/7/merge"
            };
            assert!(
                record["path"]
                    .as_str()
                    .unwrap()
                    .eq_ignore_ascii_case(canonical),
                "{method} {path}: {record}"
            );
        } else {
            assert_eq!(record["reason"], *what, "{method} {path}: {record}");
        }
    }
}

/// The audit trail once it holds at least `n` request records (bounded).
async fn audit_with(g: &Gateway, n: usize) -> Vec<serde_json::Value> {
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(100));
    for _ in 0..50 {
        tick.tick().await;
        let audit = g.audit().await;
        if audit.iter().filter(|r| r["decision"].is_string()).count() >= n {
            return audit;
        }
    }
    panic!("the audit trail never held {n} request records");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gzipped_body_is_classified_and_forwarded_decoded() {
    let ca = TestCa::new();
    let up = MockUpstream::start(&ca, UpstreamOptions::default()).await;
    let g = deny_list_gateway(&ca, &up).await;
    let script = r#"set -e
d=$(mktemp -d)
printf '{"state":"closed"}' | gzip -c > "$d/close.gz"
printf '{"title":"renamed"}' | gzip -c > "$d/title.gz"
for f in close title; do
  curl -sS -o /dev/null -w "$f %{http_code}\n" -X PATCH \
    -H "Authorization: Bearer $GITHUB_TOKEN" -H 'Content-Type: application/json' \
    -H 'Content-Encoding: gzip' --data-binary "@$d/$f.gz" \
    https://api.github.com/repos/o/r/pulls/7
done
rm -r "$d""#;
    let out = g.run_agent("Bot", &["sh", "-c", script]).await.ok();
    assert_eq!(out.stdout, "close 403\ntitle 200\n", "{out:?}");
    let seen = up.requests_to("/repos/o/r/pulls/7");
    assert_eq!(seen.len(), 1, "only the rename is forwarded");
    assert_eq!(seen[0].body, br#"{"title":"renamed"}"#, "forwarded decoded");
    assert_eq!(seen[0].header("content-encoding"), None);
    let audit = audit_with(&g, 2).await;
    let actions: Vec<(&str, &str)> = audit
        .iter()
        .map(|r| {
            (
                r["action"].as_str().unwrap_or(""),
                r["decision"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert!(
        actions.contains(&("github.pr.close", "denied")),
        "{actions:?}"
    );
    assert!(
        actions.contains(&("github.pr.update", "allowed")),
        "{actions:?}"
    );
}
