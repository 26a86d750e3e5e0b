//! `tf connector new --from-openapi`: a connector whose whole catalogue is
//! generated from an OpenAPI 3 document, one action per operation, builds
//! for wasm32-wasip2 (`tf connector build`) and passes its generated
//! fixtures in the real host (`tf connector test`). Two documents: the
//! Stripe customers/charges/refunds operations of `specs/`, written as an
//! OpenAPI document here, and a small third-party description
//! (`tests/data/petstore.openapi.json`). Bad documents are refused and
//! nothing is written.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Map, Value, json};
use tf_e2e::tf_bin;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives in the repo root")
        .to_path_buf()
}

/// A fresh work directory for one test.
fn work_dir(name: &str) -> PathBuf {
    let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).expect("work dir");
    work
}

fn output(what: &str, cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"))
}

/// Runs a command to completion; panics with its output when it fails.
fn run(what: &str, cmd: &mut Command) -> String {
    let out = output(what, cmd);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{what} failed:\n{text}");
    text
}

/// `tf connector new NAME --from-openapi SPEC [extra…]` in `work`, then
/// `tf connector build` and `tf connector test` (the embedded fixtures) of
/// the crate; returns what `tf connector test` printed.
fn generate_build_and_test(work: &Path, name: &str, spec: &Path, extra: &[&str]) -> String {
    let tf = tf_bin();
    run(
        "tf connector new --from-openapi",
        Command::new(&tf)
            .current_dir(work)
            .args(["connector", "new", name, "--from-openapi"])
            .arg(spec)
            .args(extra),
    );
    let krate = work.join(name);
    // Share compiled dependencies (wit-bindgen, the SDK) with the
    // connectors workspace, built earlier by the same test run.
    let target = repo_root().join("connectors-wasm/target");
    let wasm = work.join(format!("{name}.wasm"));
    run(
        "tf connector build",
        Command::new(&tf)
            .current_dir(&krate)
            .env("CARGO_TARGET_DIR", &target)
            .args(["connector", "build", "--out"])
            .arg(&wasm),
    );
    run(
        "tf connector test",
        Command::new(&tf).args(["connector", "test"]).arg(&wasm),
    )
}

/// Stripe's `/v1/customers`, `/v1/charges` and `/v1/refunds` operations of
/// `specs/stripe.operations.jsonl`, as an OpenAPI 3 document.
fn stripe_subset() -> (Value, usize) {
    let rows = std::fs::read_to_string(repo_root().join("specs/stripe.operations.jsonl"))
        .expect("read the Stripe spec");
    let mut paths = Map::new();
    let mut count = 0;
    for line in rows.lines().filter(|l| !l.trim().is_empty()) {
        let row: Value = serde_json::from_str(line).expect("spec row");
        let path = row["path"].as_str().expect("path");
        if !path.starts_with("/v1/customers")
            && !path.starts_with("/v1/charges")
            && !path.starts_with("/v1/refunds")
        {
            continue;
        }
        let method = row["method"].as_str().expect("method").to_ascii_lowercase();
        let item = paths
            .entry(path.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        item[method.as_str()] = json!({
            "operationId": row["operation_id"],
            "summary": row["summary"],
            "tags": row["tags"],
        });
        count += 1;
    }
    let doc = json!({
        "openapi": "3.0.0",
        "info": { "title": "Stripe (customers, charges, refunds)", "version": "2026-10-28" },
        "servers": [{ "url": "https://api.stripe.com/" }],
        "paths": paths,
    });
    (doc, count)
}

#[test]
fn from_openapi_stripe_subset_builds_and_passes_its_fixtures_in_the_host() {
    let work = work_dir("e2e-openapi-stripe");
    let (doc, operations) = stripe_subset();
    assert!(operations > 30, "the subset has {operations} operations");
    let spec = work.join("stripe-subset.json");
    std::fs::write(&spec, doc.to_string()).expect("write spec");
    let report = generate_build_and_test(&work, "stripe-lite", &spec, &[]);
    // Every operation is an action, plus `stripe-lite.unknown`; one fixture
    // each. The domain comes from the document's server.
    for want in [
        format!("{} actions, domains api.stripe.com", operations + 1),
        format!("ok: {} fixtures passed", operations + 1),
    ] {
        assert!(report.contains(&want), "{want:?} not in:\n{report}");
    }
    let routes = std::fs::read_to_string(work.join("stripe-lite/src/routes.rs")).expect("routes");
    for line in [
        r#"action: "stripe-lite.post_customers", "#,
        r#"action: "stripe-lite.delete_customers_customer", "#,
    ] {
        assert!(routes.contains(line), "routes.rs lacks {line}");
    }
}

#[test]
fn from_openapi_third_party_spec_builds_and_passes_its_fixtures_in_the_host() {
    let work = work_dir("e2e-openapi-petstore");
    let spec = repo_root().join("tests/data/petstore.openapi.json");
    let report = generate_build_and_test(
        &work,
        "petstore",
        &spec,
        &["--domains", "petstore.example.test,pets.example.test"],
    );
    for want in [
        "11 actions, domains petstore.example.test,pets.example.test",
        "ok: 11 fixtures passed",
    ] {
        assert!(report.contains(want), "{want:?} not in:\n{report}");
    }
    // The crate's own tests: the table is current with its spec, and every
    // fixture passes natively too.
    run(
        "cargo test (petstore)",
        Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
            .current_dir(work.join("petstore"))
            .env(
                "CARGO_TARGET_DIR",
                repo_root().join("connectors-wasm/target"),
            )
            .args(["test", "--quiet"]),
    );
    let fixtures =
        std::fs::read_to_string(work.join("petstore/fixtures/generated.jsonl")).expect("fixtures");
    for case in [
        r#"{"expect":{"name":"petstore.delete_pet","params":{"petId":"42"},"resource":"v1/pets/42","risk":"critical"},"method":"DELETE","path":"/v1/pets/42"}"#,
        r#"{"expect":{"name":"petstore.post_v1_owners_owner_id_pets_pet_id_vaccinations","params":{"owner_id":42,"petId":"42"},"resource":"v1/owners/42/pets/42","risk":"medium"},"method":"POST","path":"/v1/owners/42/pets/42/vaccinations"}"#,
        r#"{"expect":{"name":"petstore.order.cancel","params":{"order_number":42,"store_id":42},"resource":"v1/stores/42/orders/42","risk":"high"},"method":"DELETE","path":"/v1/stores/42/orders/42"}"#,
    ] {
        assert!(
            fixtures.lines().any(|l| l == case),
            "no fixture {case}\n{fixtures}"
        );
    }
}

#[test]
fn from_openapi_refuses_bad_documents_and_writes_nothing() {
    let work = work_dir("e2e-openapi-refused");
    let cases: &[(&str, &str, &str)] = &[
        ("yaml", "openapi: 3.0.0\npaths: {}\n", "not a JSON document"),
        (
            "swagger",
            r#"{"swagger":"2.0","paths":{"/a":{"get":{}}}}"#,
            "only OpenAPI 3.x",
        ),
        (
            "empty",
            r#"{"openapi":"3.1.0","paths":{}}"#,
            "no operations",
        ),
        (
            "duplicate",
            r#"{"openapi":"3.1.0","servers":[{"url":"https://a.test"}],"paths":{"/a":{"get":{"operationId":"same"}},"/b":{"get":{"operationId":"same"}}}}"#,
            "names 2 operations",
        ),
        (
            "no-host",
            r#"{"openapi":"3.1.0","servers":[{"url":"/api"}],"paths":{"/a":{"get":{}}}}"#,
            "pass --domains",
        ),
    ];
    for (name, doc, want) in cases {
        let spec = work.join(format!("{name}.json"));
        std::fs::write(&spec, doc).expect("write spec");
        let out = output(
            "tf connector new --from-openapi",
            Command::new(tf_bin())
                .current_dir(&work)
                .args(["connector", "new", "bad", "--dir", name, "--from-openapi"])
                .arg(&spec),
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{name}: accepted");
        assert!(stderr.contains(want), "{name}: {want:?} not in {stderr}");
        assert!(!work.join(name).exists(), "{name}: files were written");
    }
}
