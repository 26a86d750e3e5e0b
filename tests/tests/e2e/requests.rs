//! Requests through the gateway from real clients (curl, Python `requests`):
//! the real credential goes out for an allowed action, denials never leave,
//! unknown hosts and bad proxy credentials are refused, plain HTTP carries no
//! credential, and configuration changes apply to the next request.

use std::time::Duration;

use tf_e2e::{Configure, eventually};

use super::harness::{GENERIC_SECRET, GH_SECRET, decisions, github_gateway, setup, split_curl};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_allowed_request_carries_the_real_token_and_denied_never_leaves() {
    let (ca, up) = setup().await;
    let g = github_gateway(&ca, &up).await;

    let merge = g
        .run_agent(
            "Bot",
            &[
                "sh",
                "-c",
                r#"curl -sS -w '\n%{http_code}' -X PUT -H "Authorization: Bearer $GITHUB_TOKEN" \
                   https://api.github.com/repos/octo/hello/pulls/7/merge"#,
            ],
        )
        .await
        .ok();
    let (body, code) = split_curl(&merge.stdout);
    assert_eq!(code, 200, "merge: {merge:?}");
    assert!(
        body.contains(r#""ok":true"#),
        "upstream body reaches the agent: {body}"
    );

    let seen = up.requests_to("/repos/octo/hello/pulls/7/merge");
    assert_eq!(seen.len(), 1, "exactly one forwarded merge");
    let auth = seen[0]
        .header("authorization")
        .expect("authorization upstream");
    assert_eq!(auth, format!("Bearer {GH_SECRET}"), "real token injected");
    assert!(
        !seen
            .iter()
            .any(|s| s.headers.iter().any(|(_, v)| v.contains("tf-placeholder"))),
        "placeholder never forwarded"
    );
    assert!(
        seen[0].header("proxy-authorization").is_none(),
        "proxy credentials stripped"
    );
    assert!(seen[0].header("x-tameflare-request-id").is_some());
    assert_eq!(seen[0].header("x-tameflare-agent"), Some("Bot"));

    // A denied action: 403 JSON with a reason, and nothing reaches the upstream.
    let delete = g
        .run_agent(
            "Bot",
            &["sh", "-c", r#"curl -sS -i --suppress-connect-headers -X DELETE -H "Authorization: Bearer $GITHUB_TOKEN" https://api.github.com/repos/octo/hello"#],
        )
        .await
        .ok();
    assert!(
        delete.stdout.starts_with("HTTP/1.1 403") || delete.stdout.starts_with("HTTP/2 403"),
        "{}",
        delete.stdout
    );
    let lower = delete.stdout.to_ascii_lowercase();
    assert!(
        lower.contains("x-tameflare-decision: denied"),
        "{}",
        delete.stdout
    );
    assert!(
        lower.contains("x-tameflare-action: github.repo.delete"),
        "{}",
        delete.stdout
    );
    assert!(
        delete.stdout.contains(r#""reason":"permission_denied""#),
        "{}",
        delete.stdout
    );
    assert!(
        up.requests_to("/repos/octo/hello").is_empty(),
        "denied request must never arrive upstream"
    );

    // No rule at all: deny by default.
    let list = g
        .run_agent(
            "Bot",
            &[
                "curl",
                "-sS",
                "-w",
                "\n%{http_code}",
                "https://api.github.com/repos/octo/hello/issues",
            ],
        )
        .await
        .ok();
    let (body, code) = split_curl(&list.stdout);
    assert_eq!(code, 403);
    assert!(body.contains(r#""reason":"no_permission""#), "{body}");

    // The generic connector with its own credential.
    let generic = g
        .run_agent(
            "Bot",
            &[
                "curl",
                "-sS",
                "-w",
                "\n%{http_code}",
                "https://api.example.com/v1/things?page=2",
            ],
        )
        .await
        .ok();
    assert_eq!(split_curl(&generic.stdout).1, 200, "{generic:?}");
    let seen = up.requests_to("/v1/things?page=2");
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].header("authorization"),
        Some(format!("Bearer {GENERIC_SECRET}").as_str())
    );

    // `tf logs --json` tells the story with action names and decisions.
    let all = g.audit().await;
    let audit = g.request_records().await;
    let d = decisions(&audit);
    assert!(
        d.contains(&(
            "github.pr.merge".into(),
            "allowed".into(),
            "rule:Bot/github/github.pr.*".into()
        )),
        "{d:?}"
    );
    assert!(
        d.iter().any(|(a, dec, r)| a == "github.repo.delete"
            && dec == "denied"
            && r == "permission_denied"),
        "{d:?}"
    );
    assert!(
        d.iter().any(|(a, dec, r)| a == "github.issue.list_for_repo"
            && dec == "denied"
            && r == "no_permission")
            || d.iter().any(|(a, dec, r)| a.starts_with("github.issue.")
                && dec == "denied"
                && r == "no_permission"),
        "{d:?}"
    );
    assert!(
        d.iter()
            .any(|(a, dec, _)| a == "http.get" && dec == "allowed"),
        "{d:?}"
    );
    let merge_rec = audit
        .iter()
        .find(|r| r["action"] == "github.pr.merge")
        .expect("merge record");
    assert_eq!(merge_rec["gateway"], "Bot");
    assert_eq!(merge_rec["connector"], "github");
    assert_eq!(merge_rec["upstream_status"], 200);
    assert_eq!(merge_rec["forwarded"], true);
    // A merge is a mutation: its write-ahead record precedes the completion.
    assert_eq!(merge_rec["phase"], "completed");
    let ahead = all
        .iter()
        .find(|r| r["phase"] == "write_ahead" && r["request_id"] == merge_rec["request_id"])
        .unwrap_or_else(|| panic!("no write-ahead record for the merge: {all:#?}"));
    assert!(ahead["seq"].as_u64() < merge_rec["seq"].as_u64());
    assert_eq!(ahead["decision"], "allowed");
    assert_eq!(ahead["upstream_status"], serde_json::Value::Null);
    // Denials and read-only requests leave one record and no write-ahead.
    assert!(
        all.iter()
            .filter(|r| r["phase"] == "write_ahead")
            .all(|r| r["action"] != "github.repo.delete" && r["action"] != "http.get"),
        "{all:#?}"
    );
    assert_eq!(
        merge_rec["resource"]
            .as_str()
            .map(|r| r.contains("octo/hello")),
        Some(true),
        "{merge_rec}"
    );
    // The human view names the actions too.
    let table = g.tf(&["logs"]).await.ok();
    assert!(
        table.stdout.contains("github.pr.merge") && table.stdout.contains("github.repo.delete"),
        "{}",
        table.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_requests_under_tf_run() {
    let (ca, up) = setup().await;
    let g = github_gateway(&ca, &up).await;
    let script = r#"
import os, requests
h = {"Authorization": "token " + os.environ["GITHUB_TOKEN"], "Accept": "application/vnd.github+json"}
assert os.environ["GITHUB_TOKEN"].startswith("tf-placeholder-"), os.environ["GITHUB_TOKEN"]
r = requests.post("https://api.github.com/repos/octo/hello/pulls", json={"title": "t", "head": "f", "base": "main"}, headers=h)
print(r.status_code, r.headers.get("X-TameFlare-Action"), r.headers.get("X-TameFlare-Decision"))
r = requests.delete("https://api.github.com/repos/octo/hello", headers=h)
print(r.status_code, r.json()["reason"])
"#;
    let out = g.run_agent("Bot", &["python3", "-c", script]).await.ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines,
        ["200 github.pr.create allowed", "403 permission_denied"],
        "{out:?}"
    );
    let created = up.requests_to("/repos/octo/hello/pulls");
    assert_eq!(created.len(), 1);
    assert_eq!(
        created[0].header("authorization"),
        Some(format!("Bearer {GH_SECRET}").as_str())
    );
    let body: serde_json::Value =
        serde_json::from_slice(&created[0].body).expect("json body forwarded");
    assert_eq!(body["title"], "t", "body forwarded unchanged");
    assert!(up.requests_to("/repos/octo/hello").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_host_gets_a_clean_403_and_bad_proxy_credentials_get_407() {
    let (ca, up) = setup().await;
    let g = github_gateway(&ca, &up).await;

    // Unknown host: the TLS handshake succeeds (curl verifies our minted leaf) and the answer is a 403.
    let out = g
        .run_agent(
            "Bot",
            &[
                "curl",
                "-sS",
                "-w",
                "\n%{http_code}",
                "https://unknown.example.org/anything",
            ],
        )
        .await;
    assert_eq!(
        out.code,
        Some(0),
        "no TLS error for an unknown host: {out:?}"
    );
    let (body, code) = split_curl(&out.stdout);
    assert_eq!(code, 403);
    assert!(body.contains(r#""reason":"no_connector""#), "{body}");

    // The agent's gateway identity exists now; its token lives in the data dir only.
    let pulls = "https://api.github.com/repos/octo/hello/pulls";
    assert_eq!(
        g.proxy_status(None, pulls).await,
        407,
        "no proxy credentials"
    );
    assert_eq!(
        g.proxy_status(Some("Bot:not-the-token"), pulls).await,
        407,
        "wrong token"
    );
    let plain = "http://api.example.com/v1/things";
    assert_eq!(
        g.proxy_status(Some("Nobody:x"), plain).await,
        407,
        "unknown gateway, plain http"
    );
    assert!(
        up.requests().is_empty(),
        "nothing reached the upstream: {:?}",
        up.requests()
    );

    let audit = g.audit().await;
    let d = decisions(&audit);
    assert!(
        d.iter()
            .any(|(_, dec, r)| dec == "denied" && r == "no_connector"),
        "{d:?}"
    );
    assert!(
        d.iter()
            .filter(|(_, dec, r)| dec == "denied" && r == "proxy_auth_required")
            .count()
            >= 2,
        "{d:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_to_a_connector_host_is_refused_and_carries_no_credential() {
    let (ca, up) = setup().await;
    let g = github_gateway(&ca, &up).await;
    let out = g
        .run_agent(
            "Bot",
            &[
                "curl",
                "-sS",
                "-w",
                "\n%{http_code}",
                "http://api.github.com/repos/octo/hello/pulls",
            ],
        )
        .await;
    let (body, code) = split_curl(&out.stdout);
    assert_eq!(code, 403, "{out:?}");
    assert!(body.contains(r#""reason":"insecure_scheme""#), "{body}");
    assert!(!body.contains(GH_SECRET));
    assert!(up.requests().is_empty(), "{:?}", up.requests());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_changes_apply_to_new_requests_at_once() {
    let (ca, up) = setup().await;
    let g = github_gateway(&ca, &up).await;
    let create_release = || async {
        let url = "https://api.github.com/repos/octo/hello/releases";
        let curl = [
            "curl",
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-X",
            "POST",
            url,
        ];
        g.run_agent("Bot", &curl).await.ok().stdout
    };
    let release = ("Bot", "github", "github.release.create");
    assert_eq!(create_release().await, "403");
    g.setup()
        .allow(release.0, release.1, release.2)
        .apply()
        .await;
    assert_eq!(create_release().await, "200");
    g.setup()
        .unset(release.0, release.1, release.2)
        .apply()
        .await;
    assert_eq!(create_release().await, "403");
    eventually("one forwarded release", Duration::from_secs(5), || {
        (up.requests_to("/repos/octo/hello/releases").len() == 1).then_some(())
    })
    .await;
}
