//! No plaintext secret anywhere the gateway writes or prints: the data dir, its
//! logs, `tf logs`, `tf status`, `tf connector list`.

use tf_e2e::Configure;

use super::harness::{GENERIC_SECRET, GH_SECRET, github_gateway, setup};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_plaintext_secret_in_the_data_dir_logs_or_audit() {
    let (ca, up) = setup().await;
    let mut g = github_gateway(&ca, &up).await;
    g.setup()
        .connector("generic")
        .name("hooks")
        .domains("hooks.example.com")
        .header("X-Api-Key")
        .template("{secret}")
        .token("hooks-s3cret-9a8b")
        .apply()
        .await;
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
