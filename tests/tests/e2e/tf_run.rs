//! `tf run` without a running gateway: it starts its own, in process, and
//! passes the agent's exit code through.

use tf_e2e::{Configure, Gateway};

use super::harness::{GH_SECRET, decisions, setup};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tf_run_starts_its_own_gateway_and_passes_the_exit_code_through() {
    let (ca, up) = setup().await;
    let g = Gateway::builder()
        .route("api.github.com", &up)
        .upstream_ca(&ca)
        .connector("github")
        .token(GH_SECRET)
        .allow("Solo", "github", "github.pr.list")
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
