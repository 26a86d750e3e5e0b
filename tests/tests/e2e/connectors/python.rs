//! The contract is language-neutral: a connector written in Python goes the
//! same way as a Rust one.

use std::path::Path;
use std::process::Command;

use tf_e2e::{Configure, Gateway, MockUpstream, TestCa, tf_bin};

use super::{path_str, repo_root, run};

/// The contract is language-neutral: the Python connector in
/// `connectors-py/` (componentize-py) gets its fixtures embedded by
/// `tf connector build --component`, passes `tf connector test`, installs
/// into a running gateway and classifies a real request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_connector_installs_and_classifies_like_a_rust_one() {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("e2e-python");
    let notes = tokio::task::spawn_blocking({
        let out = out.clone();
        move || {
            run(
                "connectors-py/build.sh (needs: python3 -m pip install -r connectors-py/requirements.txt)",
                Command::new("bash")
                    .arg(repo_root().join("connectors-py/build.sh"))
                    .arg(&out),
            );
            let packed = out.join("notes-packed.wasm");
            run(
                "tf connector build --component notes.wasm --fixtures connectors-py/notes/fixtures",
                Command::new(tf_bin())
                    .args(["connector", "build", "--component"])
                    .arg(out.join("notes.wasm"))
                    .arg("--fixtures")
                    .arg(repo_root().join("connectors-py/notes/fixtures"))
                    .arg("--out")
                    .arg(&packed),
            );
            let tested = run(
                "tf connector test notes-packed.wasm",
                Command::new(tf_bin()).args(["connector", "test"]).arg(&packed),
            );
            assert!(tested.contains("fixtures passed"), "{tested}");
            assert!(tested.contains("notes 0.1.0"), "{tested}");
            packed
        }
    })
    .await
    .expect("python build");

    let ca = TestCa::new();
    let up = MockUpstream::start(&ca, Default::default()).await;
    let g = Gateway::builder()
        .route("notes.internal.test", &up)
        .upstream_ca(&ca)
        .allow("Bot", "notes", "notes.note.get")
        .start()
        .await;
    let installed = g.tf(&["connector", "install", path_str(&notes)]).await.ok();
    assert!(
        installed.stdout.contains("installed notes 0.1.0"),
        "{}",
        installed.stdout
    );
    g.setup()
        .connector("notes")
        .token("notes-secret-e2e")
        .apply()
        .await;
    let fetch = |path: &'static str| {
        let g = &g;
        async move {
            let url = format!("https://notes.internal.test{path}");
            let args = [
                "curl",
                "-s",
                "-o",
                "/dev/null",
                "-X",
                "GET",
                "-w",
                "%{http_code} %header{x-tameflare-action}",
                url.as_str(),
            ];
            g.run_agent("Bot", &args).await.stdout.trim().to_owned()
        }
    };
    assert_eq!(fetch("/v1/notes/42").await, "200 notes.note.get");
    // Classified by the Python code, denied by the rules.
    assert_eq!(fetch("/v1/notes").await, "403 notes.note.list");
    let seen = up.requests_to("/v1/notes/42");
    assert_eq!(
        seen[0].header("authorization"),
        Some("Bearer notes-secret-e2e")
    );
}
