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

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tf_e2e::{Gateway, MockUpstream, TestCa, eventually, tf_bin};

const DOMAIN: &str = "api.acme.internal";
const SECRET: &str = "acme-e2e-secret-5b0c";

/// The built components and what the author commands printed.
struct Authored {
    v1: PathBuf,
    v2: PathBuf,
    v2_stale_fixtures: PathBuf,
    /// `tf connector new`, `cargo test`, `tf connector build` and
    /// `tf connector test` output, for the author-path test.
    transcript: String,
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives in the repo root")
        .to_path_buf()
}

/// Runs a command to completion; panics with its output when it fails.
fn run(what: &str, cmd: &mut Command) -> String {
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
fn authored() -> &'static Authored {
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

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn sha256_of(path: &Path) -> String {
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
async fn acme_gateway(ca: &TestCa, up: &MockUpstream) -> Gateway {
    let built = tokio::task::spawn_blocking(authored)
        .await
        .expect("author build");
    let g = Gateway::builder()
        .route(DOMAIN, up)
        .upstream_ca(ca)
        .setup(&[
            "permissions",
            "set",
            "--gateway",
            "Bot",
            "--connector",
            "acme",
            "--action",
            "acme.*",
            "--decision",
            "allow",
        ])
        .start()
        .await;
    g.tf(&["connector", "install", path_str(&built.v1)])
        .await
        .ok();
    g.tf(&["connector", "add", "acme", "--token", SECRET])
        .await
        .ok();
    g
}

/// `(status, X-TameFlare-Action)` of one GET through `tf run` with curl.
async fn get(g: &Gateway, path: &str) -> (u16, String) {
    let url = format!("https://{DOMAIN}{path}");
    let out = g
        .run_agent(
            "Bot",
            &[
                "curl",
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code} %header{x-tameflare-action}",
                &url,
            ],
        )
        .await;
    let (code, action) = out
        .stdout
        .trim()
        .split_once(' ')
        .unwrap_or((out.stdout.trim(), ""));
    (
        code.parse()
            .unwrap_or_else(|_| panic!("curl printed {:?}", out.stdout)),
        action.to_owned(),
    )
}

/// Writes `bytes` over `<data>/connectors/<file>` in place, as `cp` does.
fn land_in_place(g: &Gateway, file: &str, bytes: &[u8]) {
    std::fs::write(g.data_dir().join("connectors").join(file), bytes).expect("write component");
}

/// `tf connector list` output.
async fn list(g: &Gateway) -> String {
    g.tf(&["connector", "list"]).await.ok().stdout
}

/// Polls `tf connector list` (for at most 10 s) until `done` holds for its
/// output, and returns that output.
async fn list_until(g: &Gateway, what: &str, done: impl Fn(&str) -> bool) -> String {
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

fn now_s() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64()
}

fn events(audit: &[serde_json::Value]) -> Vec<&serde_json::Value> {
    audit.iter().filter_map(|r| r.get("event")).collect()
}

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
    let (status, action) = get(&g, "/v1/items/42").await;
    assert_eq!((status, action.as_str()), (200, "acme.item.get"));
    let seen = up.requests_to("/v1/items/42");
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].header("authorization"),
        Some(format!("Bearer {SECRET}").as_str())
    );
    // Unknown routes are refused by the connector, so denied.
    let (status, _) = get(&g, "/v1/other").await;
    assert_eq!(status, 403);

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

/// The load client: 4 threads with keep-alive sessions for `secs`, one
/// line per request: start time, status (or ERR), action header.
const LOAD_CLIENT: &str = r#"
import sys, threading, time, requests
url, secs = sys.argv[1], float(sys.argv[2])
lines, lock = [], threading.Lock()
def worker():
    s = requests.Session()
    end = time.time() + secs
    while time.time() < end:
        t = time.time()
        try:
            r = s.get(url, timeout=10)
            line = "%.6f %d %s" % (t, r.status_code, r.headers.get("x-tameflare-action", "-"))
        except Exception as e:
            line = "%.6f ERR %s" % (t, type(e).__name__)
        with lock:
            lines.append(line)
threads = [threading.Thread(target=worker) for _ in range(4)]
for t in threads: t.start()
for t in threads: t.join()
print("\n".join(lines))
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_swap_under_load_fails_no_request_and_serves_v2_within_a_second() {
    let ca = TestCa::new();
    let up = MockUpstream::start(&ca, Default::default()).await;
    let g = acme_gateway(&ca, &up).await;
    let built = authored();
    let v2 = std::fs::read(&built.v2).expect("v2");
    let url = format!("https://{DOMAIN}/v1/items/7");
    let client = g.spawn_agent("Bot", &["python3", "-c", LOAD_CLIENT, &url, "5"]);
    tokio::time::sleep(Duration::from_secs(2)).await;

    // An atomic deploy: write beside, rename over.
    let dir = g.data_dir().join("connectors");
    std::fs::write(dir.join(".acme.wasm.new"), &v2).expect("write");
    std::fs::rename(dir.join(".acme.wasm.new"), dir.join("acme.wasm")).expect("rename");
    let landed = now_s();

    let out = client.wait_with_output().await.expect("load client");
    assert!(out.status.success(), "load client failed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut samples: Vec<(f64, String, String)> = stdout
        .lines()
        .map(|l| {
            let mut f = l.split_whitespace();
            let t: f64 = f.next().and_then(|t| t.parse().ok()).expect("time");
            (
                t,
                f.next().unwrap_or("").to_owned(),
                f.next().unwrap_or("").to_owned(),
            )
        })
        .collect();
    samples.sort_by(|a, b| a.0.total_cmp(&b.0));
    let failed: Vec<_> = samples.iter().filter(|s| s.1 != "200").collect();
    assert!(
        failed.is_empty(),
        "{} of {} requests failed during the swap, e.g. {:?}",
        failed.len(),
        samples.len(),
        &failed[..failed.len().min(5)]
    );
    let v1_before = samples.iter().filter(|s| s.2 == "acme.item.get").count();
    let v2_after = samples.iter().filter(|s| s.2 == "acme.item.read").count();
    assert!(
        v1_before > 50 && v2_after > 50,
        "{v1_before} v1, {v2_after} v2 answers"
    );
    let last_v1 = samples
        .iter()
        .filter(|s| s.2 == "acme.item.get")
        .map(|s| s.0)
        .fold(f64::MIN, f64::max);
    let first_v2 = samples
        .iter()
        .find(|s| s.2 == "acme.item.read")
        .map(|s| s.0)
        .expect("v2 answered");
    eprintln!(
        "hot swap: {} requests, none failed; v2 first answered a request started {:.0} ms after the file landed; last v1 answer for a request started {:.0} ms after",
        samples.len(),
        (first_v2 - landed) * 1000.0,
        (last_v1 - landed) * 1000.0
    );
    if std::env::var_os("TF_E2E_SWAP_LOG").is_some() {
        eprintln!("landed at {landed:.3}");
        for l in g
            .logs()
            .lines()
            .filter(|l| l.contains("acme") || l.contains("applied"))
        {
            eprintln!("{l}");
        }
    }
    assert!(
        last_v1 < landed + 1.0,
        "v1 still answered a request started {:.3} s after v2 landed",
        last_v1 - landed
    );
    let audit = g.audit().await;
    let replaced = events(&audit)
        .into_iter()
        .find(|e| e["kind"] == "replaced")
        .unwrap_or_else(|| panic!("no replace event"));
    assert_eq!(replaced["sha256"], sha256_of(&built.v2).as_str());
    assert!(
        replaced["actor"]
            .as_str()
            .unwrap_or("")
            .starts_with("file owner uid"),
        "{replaced}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_components_are_refused_and_the_old_version_keeps_serving() {
    let ca = TestCa::new();
    let up = MockUpstream::start(&ca, Default::default()).await;
    let g = acme_gateway(&ca, &up).await;
    let built = authored();
    let v2 = std::fs::read(&built.v2).expect("v2");
    let stale = std::fs::read(&built.v2_stale_fixtures).expect("stale");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "not wasm",
            b"#!/bin/sh\necho not a component\n".to_vec(),
            "not a WebAssembly binary",
        ),
        (
            "a core module",
            b"\0asm\x01\0\0\0".to_vec(),
            "a core WebAssembly module, not a component",
        ),
        (
            "the wrong world (a component with no exports)",
            b"\0asm\x0d\0\x01\0".to_vec(),
            "does not export the tameflare:connector@0.1.0",
        ),
        (
            "a truncated file",
            v2[..v2.len() / 2].to_vec(),
            "the file is truncated",
        ),
        (
            "failing fixtures",
            stale,
            "fails its own fixtures: 1 of 4 fixtures failed",
        ),
    ];
    for (what, bytes, error) in &cases {
        land_in_place(&g, "acme.wasm", bytes);
        let listed = list_until(&g, what, |s| s.contains(error)).await;
        assert!(
            listed.contains("loaded (newer file refused)"),
            "{what}: {listed}"
        );
        let (status, action) = get(&g, "/v1/items/1").await;
        assert_eq!(
            (status, action.as_str()),
            (200, "acme.item.get"),
            "after {what}, v1 must keep serving"
        );
    }
    // A component whose name does not match its file.
    land_in_place(&g, "other.wasm", &v2);
    list_until(&g, "name mismatch", |s| {
        s.contains("declares connector name \"acme\" but the file is other.wasm")
    })
    .await;
    std::fs::remove_file(g.data_dir().join("connectors/other.wasm")).expect("rm");

    // The good v2, written in place, loads.
    land_in_place(&g, "acme.wasm", &v2);
    let v2_sha = sha256_of(&built.v2);
    list_until(&g, "v2 serving", |s| {
        s.contains(&v2_sha[..12]) && !s.contains("last error")
    })
    .await;
    assert_eq!(get(&g, "/v1/items/1").await, (200, "acme.item.read".into()));

    // Removed: its domain is denied again.
    std::fs::remove_file(g.data_dir().join("connectors/acme.wasm")).expect("rm");
    list_until(&g, "removal", |s| !s.contains("acme.wasm")).await;
    assert_eq!(get(&g, "/v1/items/1").await.0, 403);

    let audit = g.audit().await;
    let kinds: Vec<&str> = events(&audit)
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        kinds,
        [
            "installed",
            "refused",
            "refused",
            "refused",
            "refused",
            "refused",
            "refused",
            "replaced",
            "removed"
        ],
        "{audit:?}"
    );
    for (e, (what, _, error)) in events(&audit)[1..6].iter().zip(&cases) {
        let text = e["error"].as_str().unwrap_or("");
        assert!(text.contains(error), "{what}: {text}");
        assert!(e["sha256"].as_str().is_some_and(|s| s.len() == 64), "{e}");
    }
}

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
        .setup(&[
            "connector",
            "add",
            "generic",
            "--name",
            "legacy",
            "--domains",
            DOMAIN,
            "--token",
            "x",
        ])
        .setup(&[
            "permissions",
            "set",
            "--gateway",
            "Bot",
            "--connector",
            "*",
            "--action",
            "*",
            "--decision",
            "allow",
        ])
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
    assert_eq!(get(&g, "/v1/items/1").await, (200, "http.get".into()));

    g.tf(&["connector", "install", "--take-over", path_str(&built.v1)])
        .await
        .ok();
    assert_eq!(get(&g, "/v1/items/1").await.1, "acme.item.get");
    // The list shows who serves the domain now.
    let listed = list(&g).await;
    let legacy = listed
        .lines()
        .find(|l| l.starts_with("legacy"))
        .unwrap_or_else(|| panic!("{listed}"));
    assert!(!legacy.contains(DOMAIN), "{listed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_file_found_at_start_keeps_the_last_good_version_serving() {
    let ca = TestCa::new();
    let up = MockUpstream::start(&ca, Default::default()).await;
    let mut g = acme_gateway(&ca, &up).await;
    let built = authored();
    let v2 = std::fs::read(&built.v2).expect("v2");
    assert_eq!(g.stop().await, Some(0));
    // Overwritten while no gateway runs, and cut short.
    land_in_place(&g, "acme.wasm", &v2[..v2.len() / 3]);
    g.serve().await;
    assert_eq!(get(&g, "/v1/items/5").await, (200, "acme.item.get".into()));
    let listed = list(&g).await;
    assert!(listed.contains("loaded (newer file refused)"), "{listed}");
    assert!(listed.contains("the file is truncated"), "{listed}");
    assert!(listed.contains(&sha256_of(&built.v1)[..12]), "{listed}");

    // Without a gateway, every `tf` command looks at the directory again;
    // the refusal is audited once all the same.
    assert_eq!(g.stop().await, Some(0));
    list(&g).await;
    list(&g).await;
    let audit = g.audit().await;
    let refused = events(&audit)
        .iter()
        .filter(|e| e["kind"] == "refused")
        .count();
    assert_eq!(refused, 1, "{audit:?}");
}

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
        .setup(&[
            "permissions",
            "set",
            "--gateway",
            "Bot",
            "--connector",
            "notes",
            "--action",
            "notes.note.get",
            "--decision",
            "allow",
        ])
        .start()
        .await;
    let installed = g.tf(&["connector", "install", path_str(&notes)]).await.ok();
    assert!(
        installed.stdout.contains("installed notes 0.1.0"),
        "{}",
        installed.stdout
    );
    g.tf(&["connector", "add", "notes", "--token", "notes-secret-e2e"])
        .await
        .ok();
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
