//! Third-party connectors, the whole author path: `tf connector new` scaffolds
//! a crate, `cargo test` runs its fixtures natively, `tf connector build`
//! makes the component (fixtures embedded), `tf connector test` runs them in
//! the real host, and the gateway hot-loads `<data>/connectors/`: installs,
//! swaps under load without a failed request, refusals that leave the old
//! version serving, take-over of claimed domains, and removals, each in the
//! audit trail.
//!
//! The connector is built once per test binary (v1, a v2 that renames
//! `acme.item.get` to `acme.item.read`, and a v2 carrying v1's fixtures,
//! which fails them) and shared by the tests.
//!
//! This file holds what those tests share (the authored build, the acme
//! gateway, reading answers and `tf connector list`); one module per feature
//! sits in `connectors/`.

#[path = "connectors/author.rs"]
mod author;
#[path = "connectors/hostile.rs"]
mod hostile;
#[path = "connectors/hot_load.rs"]
mod hot_load;
#[path = "connectors/python.rs"]
mod python;
#[path = "connectors/take_over.rs"]
mod take_over;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use tf_e2e::{Configure, Gateway, MockUpstream, TestCa, eventually, tf_bin};

pub(crate) const DOMAIN: &str = "api.acme.internal";
pub(crate) const SECRET: &str = "acme-e2e-secret-5b0c";

/// The built components and what the author commands printed.
pub(crate) struct Authored {
    pub(crate) v1: PathBuf,
    pub(crate) v2: PathBuf,
    pub(crate) v2_stale_fixtures: PathBuf,
    /// `tf connector new`, `cargo test`, `tf connector build` and
    /// `tf connector test` output, for the author-path test.
    pub(crate) transcript: String,
}

pub(crate) fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives in the repo root")
        .to_path_buf()
}

/// Runs a command to completion; panics with its output when it fails.
pub(crate) fn run(what: &str, cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    let text = format!(
        "$ {what}\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{what} failed:\n{text}");
    text
}

fn replace_in(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).expect("read");
    assert!(text.contains(from), "{} has no {from:?}", path.display());
    std::fs::write(path, text.replace(from, to)).expect("write");
}

/// Scaffolds, tests and builds the `acme` connector once.
pub(crate) fn authored() -> &'static Authored {
    static BUILT: OnceLock<Authored> = OnceLock::new();
    BUILT.get_or_init(|| {
        let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join("e2e-author");
        let _ = std::fs::remove_dir_all(&work);
        std::fs::create_dir_all(&work).expect("work dir");
        let krate = work.join("acme");
        let tf = tf_bin();
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        // Share compiled dependencies (wit-bindgen, the SDK) with the
        // connectors workspace, built earlier by the same test run.
        let target = repo_root().join("connectors-wasm/target");
        let mut transcript = String::new();

        transcript += &run(
            "tf connector new acme --domains api.acme.internal",
            Command::new(&tf).current_dir(&work).args([
                "connector",
                "new",
                "acme",
                "--domains",
                DOMAIN,
            ]),
        );
        transcript += &run(
            "cargo test",
            Command::new(&cargo)
                .current_dir(&krate)
                .env("CARGO_TARGET_DIR", &target)
                .args(["test", "--quiet"]),
        );
        let build = |out: &Path, extra: &[&str]| {
            run(
                "tf connector build",
                Command::new(&tf)
                    .current_dir(&krate)
                    .env("CARGO_TARGET_DIR", &target)
                    .args(["connector", "build", "--out"])
                    .arg(out)
                    .args(extra),
            )
        };
        let v1 = work.join("acme-v1.wasm");
        transcript += &build(&v1, &[]);
        transcript += &run(
            "tf connector test acme-v1.wasm --fixtures fixtures/",
            Command::new(&tf)
                .current_dir(&krate)
                .args(["connector", "test"])
                .arg(&v1)
                .args(["--fixtures", "fixtures"]),
        );
        // Keep v1's fixtures for the stale build below.
        let v1_fixtures = work.join("v1-fixtures");
        std::fs::create_dir_all(&v1_fixtures).expect("dir");
        std::fs::copy(
            krate.join("fixtures/basic.jsonl"),
            v1_fixtures.join("basic.jsonl"),
        )
        .expect("copy fixtures");

        // v2: the author renames an action, in the table and the fixtures.
        replace_in(
            &krate.join("src/actions.rs"),
            "acme.item.get",
            "acme.item.read",
        );
        replace_in(
            &krate.join("fixtures/basic.jsonl"),
            "acme.item.get",
            "acme.item.read",
        );
        let v2 = work.join("acme-v2.wasm");
        build(&v2, &[]);
        let v2_stale_fixtures = work.join("acme-v2-stale.wasm");
        run(
            "tf connector build --component (v2) --fixtures v1-fixtures",
            Command::new(&tf)
                .args(["connector", "build", "--component"])
                .arg(&v2)
                .arg("--fixtures")
                .arg(&v1_fixtures)
                .arg("--out")
                .arg(&v2_stale_fixtures),
        );
        Authored {
            v1,
            v2,
            v2_stale_fixtures,
            transcript,
        }
    })
}

pub(crate) fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

pub(crate) fn sha256_of(path: &Path) -> String {
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .expect("sha256sum output")
        .to_owned()
}

/// A gateway serving `acme` v1 (installed through the admin API) with a
/// credential, and rules allowing gateway `Bot` every `acme.*` action.
pub(crate) async fn acme_gateway(ca: &TestCa, up: &MockUpstream) -> Gateway {
    let built = tokio::task::spawn_blocking(authored)
        .await
        .expect("author build");
    let g = Gateway::builder()
        .route(DOMAIN, up)
        .upstream_ca(ca)
        .allow("Bot", "acme", "acme.*")
        .start()
        .await;
    g.setup()
        .tf(&["connector", "install", path_str(&built.v1)])
        .connector("acme")
        .token(SECRET)
        .apply()
        .await;
    g
}

/// Writes `bytes` over `<data>/connectors/<file>` in place, as `cp` does.
pub(crate) fn land_in_place(g: &Gateway, file: &str, bytes: &[u8]) {
    std::fs::write(g.data_dir().join("connectors").join(file), bytes).expect("write component");
}

/// `tf connector list` output.
pub(crate) async fn list(g: &Gateway) -> String {
    g.tf(&["connector", "list"]).await.ok().stdout
}

/// Polls `tf connector list` (for at most 10 s) until `done` holds for its
/// output, and returns that output.
pub(crate) async fn list_until(g: &Gateway, what: &str, done: impl Fn(&str) -> bool) -> String {
    eventually(what, Duration::from_secs(10), || {
        let out = std::process::Command::new(tf_bin())
            .env("TF_DATA_DIR", g.data_dir())
            .args(["connector", "list"])
            .output()
            .ok()?;
        let s = String::from_utf8_lossy(&out.stdout).into_owned();
        done(&s).then_some(s)
    })
    .await
}

pub(crate) fn events(audit: &[serde_json::Value]) -> Vec<&serde_json::Value> {
    audit.iter().filter_map(|r| r.get("event")).collect()
}

/// What one GET through `tf run` with curl got: the action the gateway
/// classified and allowed (`X-TameFlare-Action`), or the status and reason
/// of its denial.
#[derive(Debug, PartialEq)]
pub(crate) enum Answer {
    Allowed(String),
    Denied(u16, String),
}

pub(crate) fn allowed(action: &str) -> Answer {
    Answer::Allowed(action.to_owned())
}

pub(crate) fn denied(status: u16, reason: &str) -> Answer {
    Answer::Denied(status, reason.to_owned())
}

/// One GET of `https://DOMAIN{path}` as gateway `Bot`, with curl under `tf run`.
pub(crate) async fn get(g: &Gateway, path: &str) -> Answer {
    let url = format!("https://{DOMAIN}{path}");
    let out = g
        .run_agent(
            "Bot",
            &[
                "curl",
                "-s",
                "-w",
                "\n%{http_code} %header{x-tameflare-action}",
                &url,
            ],
        )
        .await;
    let (body, last) = out
        .stdout
        .rsplit_once('\n')
        .unwrap_or_else(|| panic!("curl printed {:?}", out.stdout));
    let (code, action) = last.trim().split_once(' ').unwrap_or((last.trim(), ""));
    let status: u16 = code
        .parse()
        .unwrap_or_else(|_| panic!("curl printed {:?}", out.stdout));
    if status == 200 {
        assert!(
            !action.is_empty(),
            "an allowed answer names its action: {out:?}"
        );
        return Answer::Allowed(action.to_owned());
    }
    let denial: serde_json::Value = serde_json::from_str(body)
        .unwrap_or_else(|e| panic!("a {status} denial is JSON: {e}: {body:?}"));
    let reason = denial["reason"]
        .as_str()
        .unwrap_or_else(|| panic!("a denial names its reason: {denial}"));
    Answer::Denied(status, reason.to_owned())
}
