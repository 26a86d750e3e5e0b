//! End to end: the real `tf` binary, real clients (curl, Python `requests`)
//! under `tf run`, and local HTTPS mock upstreams with their own CA reached
//! through `--connect-to`. Every test has its own data dir and gateway.

#[path = "e2e/audit.rs"]
mod audit;
#[path = "e2e/canonical.rs"]
mod canonical;
#[path = "e2e/connectors.rs"]
mod connectors;
#[path = "e2e/credentials.rs"]
mod credentials;
#[path = "e2e/openapi.rs"]
mod openapi;
#[path = "e2e/sdks.rs"]
mod sdks;

use std::time::Duration;

use tf_e2e::{Gateway, MockUpstream, TestCa, UpstreamOptions, eventually};
use tokio::io::{AsyncBufReadExt, BufReader};

const GH_SECRET: &str = "ghp_e2eRealSecret4f9a1c0d";
const GENERIC_SECRET: &str = "s3cret-generic-77d1e2e";

/// A gateway with the github connector holding `GH_SECRET`, the generic
/// connector for api.example.com, and rules for gateway `Bot`.
async fn github_gateway(ca: &TestCa, up: &MockUpstream) -> Gateway {
    let g = Gateway::builder()
        .route("api.github.com", up)
        .route("api.example.com", up)
        .upstream_ca(ca)
        // Configured before the gateway runs: acts on the data dir directly.
        .setup(&["connector", "add", "github", "--token", GH_SECRET])
        .setup(&[
            "permissions",
            "set",
            "--gateway",
            "Bot",
            "--connector",
            "github",
            "--action",
            "github.pr.*",
            "--decision",
            "allow",
        ])
        .start()
        .await;
    // Configured while it runs: goes through the admin API and applies at once.
    g.tf(&[
        "permissions",
        "set",
        "--gateway",
        "Bot",
        "--connector",
        "github",
        "--action",
        "github.repo.delete",
        "--decision",
        "deny",
    ])
    .await
    .ok();
    g.tf(&[
        "connector",
        "add",
        "generic",
        "--domains",
        "api.example.com",
        "--token",
        GENERIC_SECRET,
    ])
    .await
    .ok();
    g.tf(&[
        "permissions",
        "set",
        "--gateway",
        "Bot",
        "--connector",
        "generic",
        "--action",
        "http.get",
        "--decision",
        "allow",
    ])
    .await
    .ok();
    g
}

async fn setup() -> (TestCa, MockUpstream) {
    let ca = TestCa::new();
    let up = MockUpstream::start(&ca, UpstreamOptions::default()).await;
    (ca, up)
}

/// The status code printed last by `curl -w '\n%{http_code}'`, and the body before it.
fn split_curl(stdout: &str) -> (String, u16) {
    let (body, code) = stdout
        .trim_end()
        .rsplit_once('\n')
        .unwrap_or(("", stdout.trim()));
    (
        body.to_owned(),
        code.trim()
            .parse()
            .unwrap_or_else(|_| panic!("no status code in {stdout:?}")),
    )
}

fn decisions(audit: &[serde_json::Value]) -> Vec<(String, String, String)> {
    audit
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or("").to_owned();
            (s("action"), s("decision"), s("reason"))
        })
        .collect()
}

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
async fn server_sent_events_arrive_event_by_event() {
    let (ca, up) = setup().await;
    let g = Gateway::builder()
        .route("api.example.com", &up)
        .upstream_ca(&ca)
        .setup(&[
            "connector",
            "add",
            "generic",
            "--domains",
            "api.example.com",
            "--token",
            GENERIC_SECRET,
        ])
        .setup(&[
            "permissions",
            "set",
            "--gateway",
            "Streamer",
            "--connector",
            "generic",
            "--action",
            "*",
            "--decision",
            "allow",
        ])
        .start()
        .await;
    let mut child = g.spawn_agent("Streamer", &["curl", "-sSN", "https://api.example.com/sse"]);
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    // The upstream holds event two until the client has shown event one: if the
    // gateway buffered the stream, this would never complete.
    let first = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .expect("event one reached the client while the stream was still open")
        .expect("read")
        .expect("line");
    assert_eq!(first, "data: one");
    up.release_sse();
    let mut rest = Vec::new();
    while let Some(l) = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .expect("stream ends")
        .expect("read")
    {
        rest.push(l);
    }
    assert!(rest.contains(&"data: two".to_owned()), "{rest:?}");
    assert_eq!(child.wait().await.expect("wait").code(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_on_both_sides() {
    let (ca, up) = setup().await;
    let g = github_gateway(&ca, &up).await;
    let out = g
        .run_agent(
            "Bot",
            &[
                "curl",
                "-sS",
                "--http2",
                "-o",
                "/dev/null",
                "-w",
                "%{http_version} %{http_code}",
                "https://api.github.com/repos/octo/hello/pulls/9",
            ],
        )
        .await
        .ok();
    assert_eq!(out.stdout.trim(), "2 200", "agent side speaks h2: {out:?}");
    let seen = up.requests_to("/repos/octo/hello/pulls/9");
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].version,
        http::Version::HTTP_2,
        "upstream side speaks h2"
    );
    assert_eq!(
        seen[0].header("authorization"),
        Some(format!("Bearer {GH_SECRET}").as_str())
    );

    // An HTTP/1.1-only upstream works too.
    let ca1 = TestCa::new();
    let up1 = MockUpstream::start(
        &ca1,
        UpstreamOptions {
            h2: false,
            ..UpstreamOptions::default()
        },
    )
    .await;
    let g1 = github_gateway(&ca1, &up1).await;
    let out = g1
        .run_agent(
            "Bot",
            &[
                "curl",
                "-sS",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "https://api.github.com/repos/octo/hello/pulls/9",
            ],
        )
        .await
        .ok();
    assert_eq!(out.stdout.trim(), "200");
    assert_eq!(
        up1.requests_to("/repos/octo/hello/pulls/9")[0].version,
        http::Version::HTTP_11
    );
}

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
    for args in [
        &["connector", "add", "hostile", "--token", "hostile-token"][..],
        &["connector", "add", "github", "--token", GH_SECRET],
        &[
            "permissions",
            "set",
            "--gateway",
            "Bot",
            "--connector",
            "hostile",
            "--action",
            "*",
            "--decision",
            "allow",
        ],
        &[
            "permissions",
            "set",
            "--gateway",
            "Bot",
            "--connector",
            "github",
            "--action",
            "*",
            "--decision",
            "allow",
        ],
    ] {
        g.tf(args).await.ok();
    }
    g.serve().await;
    let script = r#"
for p in loop oom panic huge deep ok; do
  curl -sS -o /dev/null -w "$p %{http_code}\n" https://hostile.test/$p
done
curl -sS -o /dev/null -w "github %{http_code}\n" https://api.github.com/repos/octo/hello/pulls/1
"#;
    let out = g.run_agent("Bot", &["sh", "-c", script]).await.ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "loop 403",
            "oom 403",
            "panic 403",
            "huge 403",
            "deep 403",
            "ok 200",
            "github 200"
        ],
        "{out:?}"
    );
    let audit = g.audit().await;
    let errors = audit
        .iter()
        .filter(|r| r["decision"] == "denied" && r["reason"] == "connector_error")
        .count();
    assert_eq!(errors, 5, "{:?}", decisions(&audit));
    assert_eq!(up.requests_to("/ok").len(), 1);
    assert!(up.requests_to("/loop").is_empty() && up.requests_to("/panic").is_empty());
}

/// Where the connectors workspace puts its components (test fixtures included).
const WASM_ARTIFACTS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../connectors-wasm/target/wasm32-wasip2/release"
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tf_run_starts_its_own_gateway_and_passes_the_exit_code_through() {
    let (ca, up) = setup().await;
    let g = Gateway::builder()
        .route("api.github.com", &up)
        .upstream_ca(&ca)
        .setup(&["connector", "add", "github", "--token", GH_SECRET])
        .setup(&[
            "permissions",
            "set",
            "--gateway",
            "Solo",
            "--connector",
            "github",
            "--action",
            "github.pr.list",
            "--decision",
            "allow",
        ])
        .prepare()
        .await;
    let out = g
        .run_agent("Solo", &["sh", "-c", r#"curl -sS -o /dev/null -w "%{http_code}" https://api.github.com/repos/octo/hello/pulls; echo " $GH_TOKEN"; exit 7"#])
        .await;
    assert_eq!(out.code, Some(7), "exit code passes through: {out:?}");
    let (code, placeholder) = out.stdout.trim().split_once(' ').expect("two fields");
    assert_eq!(code, "200", "{out:?}");
    assert!(placeholder.starts_with("tf-placeholder-"), "{placeholder}");
    assert_eq!(
        up.requests_to("/repos/octo/hello/pulls")[0].header("authorization"),
        Some(format!("Bearer {GH_SECRET}").as_str())
    );
    // The in-process gateway wrote its audit records before `tf run` returned.
    let audit = g.audit().await;
    assert!(
        audit
            .iter()
            .any(|r| r["action"] == "github.pr.list" && r["decision"] == "allowed"),
        "{:?}",
        decisions(&audit)
    );
    assert!(
        !g.data_dir().join("runtime.json").exists()
            || std::fs::read_to_string(g.data_dir().join("runtime.json")).is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_plaintext_secret_in_the_data_dir_logs_or_audit() {
    let (ca, up) = setup().await;
    let mut g = github_gateway(&ca, &up).await;
    g.tf(&[
        "connector",
        "add",
        "generic",
        "--name",
        "hooks",
        "--domains",
        "hooks.example.com",
        "--header",
        "X-Api-Key",
        "--template",
        "{secret}",
        "--token",
        "hooks-s3cret-9a8b",
    ])
    .await
    .ok();
    let out = g
        .run_agent(
            "Bot",
            &["sh", "-c", r#"curl -sS -o /dev/null -X PUT -H "Authorization: Bearer $GITHUB_TOKEN" https://api.github.com/repos/octo/hello/pulls/1/merge; curl -sS -o /dev/null https://api.github.com/repos/octo/hello?token=$GITHUB_TOKEN -X DELETE"#],
        )
        .await
        .ok();
    assert_eq!(
        up.requests_to("/repos/octo/hello/pulls/1/merge").len(),
        1,
        "{out:?}"
    );
    let listing = g.tf(&["connector", "list"]).await.ok();
    let audit_json = g.tf(&["logs", "--json"]).await.ok().stdout;
    let status = g.tf(&["status"]).await.ok();
    assert_eq!(g.stop().await, Some(0), "clean shutdown");

    let secrets = [GH_SECRET, GENERIC_SECRET, "hooks-s3cret-9a8b"];
    let mut haystacks = vec![("serve and command logs".to_owned(), g.logs().into_bytes())];
    haystacks.push(("tf connector list".into(), listing.stdout.into_bytes()));
    haystacks.push(("tf logs --json".into(), audit_json.clone().into_bytes()));
    haystacks.push(("tf status".into(), status.stdout.into_bytes()));
    for entry in walk(g.data_dir()) {
        haystacks.push((
            entry.display().to_string(),
            std::fs::read(&entry).expect("read data dir file"),
        ));
    }
    assert!(
        haystacks.len() > 5,
        "the data dir has files: {:?}",
        haystacks.iter().map(|h| &h.0).collect::<Vec<_>>()
    );
    for (name, bytes) in &haystacks {
        for secret in secrets {
            assert!(
                !contains(bytes, secret.as_bytes()),
                "plaintext secret {secret:?} found in {name}"
            );
        }
    }
    // The audit survived the shutdown and still verifies offline.
    assert!(audit_json.contains("github.pr.merge"));
    let verify = g.tf(&["status"]).await.ok();
    assert!(
        verify.stdout.to_ascii_lowercase().contains("verified") || verify.stdout.contains("ok"),
        "{}",
        verify.stdout
    );
    // The audit policy is visible.
    assert!(
        verify.stdout.contains(
            "audit:      write-ahead for mutations (durable before forwarding), read-only recorded on completion"
        ),
        "{}",
        verify.stdout
    );
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("read dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p))
        } else {
            out.push(p)
        }
    }
    out
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
    let rule = [
        "--gateway",
        "Bot",
        "--connector",
        "github",
        "--action",
        "github.release.create",
    ];
    assert_eq!(create_release().await, "403");
    let set: Vec<&str> = ["permissions", "set"]
        .into_iter()
        .chain(rule)
        .chain(["--decision", "allow"])
        .collect();
    g.tf(&set).await.ok();
    assert_eq!(create_release().await, "200");
    let remove: Vec<&str> = ["permissions", "remove"].into_iter().chain(rule).collect();
    g.tf(&remove).await.ok();
    assert_eq!(create_release().await, "403");
    eventually("one forwarded release", Duration::from_secs(5), || {
        (up.requests_to("/repos/octo/hello/releases").len() == 1).then_some(())
    })
    .await;
}
