//! The contract is language-neutral: `connectors-py/notes`, a connector
//! written in Python and built with componentize-py, loads in this host
//! unchanged and classifies its fixtures (`connectors-py/notes/fixtures`).
//!
//! Building needs componentize-py; without it these tests fail (they never
//! skip): `python3 -m pip install -r connectors-py/requirements.txt`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, LazyLock};
use std::time::Instant;

use cap_std::fs::Dir;
use tf_connector_host::{Connector, Host, HostConfig};
use tf_core::{Classifier, ConnectorRequest, Placement, Risk};

const DOMAIN: &str = "notes.internal.test";

fn connectors_py() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../connectors-py")
}

/// Runs `connectors-py/build.sh` into the test's scratch directory.
fn build_notes() -> Vec<u8> {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("connectors-py");
    let started = Instant::now();
    let output = Command::new("bash")
        .arg(connectors_py().join("build.sh"))
        .arg(&out)
        .output()
        .unwrap_or_else(|e| panic!("running connectors-py/build.sh: {e}"));
    assert!(
        output.status.success(),
        "connectors-py/build.sh failed ({}); it needs componentize-py: \
         python3 -m pip install -r connectors-py/requirements.txt\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!("python notes: componentize {:?}", started.elapsed());
    let file = out.join("notes.wasm");
    std::fs::read(&file).unwrap_or_else(|e| panic!("reading {}: {e}", file.display()))
}

static NOTES_WASM: LazyLock<Vec<u8>> = LazyLock::new(build_notes);

/// The default configuration with a call deadline no busy machine reaches:
/// these tests are about the contract, not speed, and a Python component's
/// first instantiation can outlast the default 50 ms when the cores are
/// shared (the hostile tests prove the deadline itself).
fn py_config() -> HostConfig {
    HostConfig {
        call_deadline: std::time::Duration::from_secs(30),
        ..HostConfig::default()
    }
}

/// [`py_config`], plus an artifact cache so that a second load
/// (a fresh connector with no warm instance) costs no second compile. The
/// cache is emptied first: componentize-py output differs from build to build
/// (a random seed is baked in), so old artifacts would only pile up.
static PY_HOST: LazyLock<Host> = LazyLock::new(|| {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("connectors-py-cache");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("cache dir");
    let dir = Dir::open_ambient_dir(&dir, cap_std::ambient_authority()).expect("open cache dir");
    Host::new(py_config(), Some(dir)).expect("host")
});

static NOTES: LazyLock<Arc<Connector>> = LazyLock::new(|| {
    let started = Instant::now();
    let notes = PY_HOST
        .load(&NOTES_WASM)
        .unwrap_or_else(|e| panic!("the host refused the Python connector: {e}"));
    assert!(!notes.loaded_from_cache());
    eprintln!(
        "python notes: {} bytes, load with compile (compile + instantiate + describe) {:?}",
        NOTES_WASM.len(),
        started.elapsed()
    );
    notes
});

fn notes_request(method: &str, path: &str) -> ConnectorRequest {
    ConnectorRequest {
        method: method.into(),
        scheme: "https".into(),
        host: DOMAIN.into(),
        path: path.into(),
        query: None,
        headers: vec![("content-type".into(), "application/json".into())],
        body: None,
    }
}

#[test]
fn python_connector_describes_itself() {
    let d = NOTES.descriptor();
    assert_eq!(d.name, "notes");
    assert_eq!(d.version, "0.1.0");
    assert_eq!(d.domains, [DOMAIN]);
    assert_eq!(
        d.placement,
        Placement::Header {
            name: "authorization".into(),
            template: "Bearer {secret}".into()
        }
    );
    assert!(!d.needs_body);
    let catalogue: Vec<(&str, &str, &str, Risk, bool)> = d
        .actions
        .iter()
        .map(|a| {
            (
                a.name.as_str(),
                a.method.as_str(),
                a.path_template.as_str(),
                a.risk,
                a.read_only,
            )
        })
        .collect();
    assert_eq!(
        catalogue,
        [
            ("notes.note.list", "GET", "/v1/notes", Risk::Low, true),
            ("notes.note.get", "GET", "/v1/notes/{id}", Risk::Low, true),
            (
                "notes.note.create",
                "POST",
                "/v1/notes",
                Risk::Medium,
                false
            ),
            (
                "notes.note.update",
                "PATCH",
                "/v1/notes/{id}",
                Risk::Medium,
                false
            ),
            (
                "notes.note.delete",
                "DELETE",
                "/v1/notes/{id}",
                Risk::High,
                false
            ),
        ]
    );
}

#[test]
fn python_connector_classifies_its_fixtures() {
    let path = connectors_py().join("notes/fixtures/notes.jsonl");
    let jsonl = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    // The host's runner: what `tf connector test` and every load run.
    let report = tf_connector_host::fixtures::run(&NOTES, &jsonl).expect("fixtures parse");
    assert!(report.passed(), "{report}");
    // And the file covers the connector: every action, both error codes.
    let cases = tameflare_fixtures::parse(&jsonl).expect("fixtures parse");
    assert_eq!(report.total, cases.len());
    assert!(cases.len() >= 10, "{} fixtures", cases.len());
    let covered: std::collections::BTreeSet<String> = cases
        .iter()
        .filter_map(|c| c.expect.as_ref().map(|e| e.name.clone()))
        .collect();
    let catalogue: std::collections::BTreeSet<String> = NOTES
        .descriptor()
        .actions
        .iter()
        .map(|a| a.name.clone())
        .collect();
    assert_eq!(covered, catalogue, "every action has a fixture");
    let error_codes: std::collections::BTreeSet<&str> =
        cases.iter().filter_map(|c| c.error.as_deref()).collect();
    assert_eq!(
        error_codes,
        ["unknown_route", "unsupported_method"].into(),
        "both error codes have a fixture"
    );
}

/// Cost of a Python connector: a load from the artifact cache (what a
/// gateway restart pays), a fresh instance, then warm calls. Timings are
/// printed (`--nocapture`), never asserted: every call must classify within
/// the host's own deadline, which is the bound that matters.
#[test]
fn python_connector_instantiates_and_classifies_within_the_deadline() {
    LazyLock::force(&NOTES);
    let started = Instant::now();
    let fresh = PY_HOST
        .load(&NOTES_WASM)
        .expect("the Python connector loads from the cache");
    let cached_load = started.elapsed();
    assert!(fresh.loaded_from_cache());
    assert_eq!(fresh.idle_instances(), 0);
    let req = notes_request("DELETE", "/v1/notes/7");
    let started = Instant::now();
    let first = fresh.classify(req.clone()).expect("first call classifies");
    let first_call = started.elapsed();
    assert_eq!(first.name, "notes.note.delete");
    const CALLS: u32 = 200;
    let started = Instant::now();
    for _ in 0..CALLS {
        assert_eq!(fresh.classify(req.clone()).expect("classifies"), first);
    }
    let per_call = started.elapsed() / CALLS;
    eprintln!(
        "python notes: load from cache (deserialize + instantiate + describe) {cached_load:?}, \
         first call (instantiate + classify) {first_call:?}, warm classify {per_call:?}/call"
    );
}

/// A component that needs more instance slots than the pool has is refused
/// with a reason that names the limit (a Python component takes ~38 core
/// instances; `max_instances: 1` allows 8).
#[test]
fn too_few_instance_slots_are_named() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("connectors-py-cache");
    LazyLock::force(&NOTES); // fills the artifact cache
    let dir = Dir::open_ambient_dir(&dir, cap_std::ambient_authority()).expect("cache dir");
    let small = HostConfig {
        max_instances: 1,
        ..py_config()
    };
    let host = Host::new(small, Some(dir)).expect("host");
    let started = Instant::now();
    let err = host.load(&NOTES_WASM).expect_err("too few slots");
    eprintln!("python notes: refused for slots in {:?}", started.elapsed());
    assert!(err.to_string().contains("no free instance slot"), "{err}");
}
