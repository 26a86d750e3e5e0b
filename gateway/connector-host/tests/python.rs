//! The contract is language-neutral: `connectors-py/notes`, a connector
//! written in Python and built with componentize-py, loads in this host
//! unchanged and classifies its fixtures (`connectors-py/notes/fixtures`).
//!
//! Building needs componentize-py; without it these tests fail (they never
//! skip): `python3 -m pip install -r connectors-py/requirements.txt`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use cap_std::fs::Dir;
use serde_json::Value;
use tf_connector_host::{Connector, Host, HostConfig};
use tf_core::{Action, Classifier, ClassifyError, ConnectorRequest, ParamValue, Placement, Risk};

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

/// The default configuration, plus an artifact cache so that a second load
/// (a fresh connector with no warm instance) costs no second compile. The
/// cache is emptied first: componentize-py output differs from build to build
/// (a random seed is baked in), so old artifacts would only pile up.
static PY_HOST: LazyLock<Host> = LazyLock::new(|| {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("connectors-py-cache");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("cache dir");
    let dir = Dir::open_ambient_dir(&dir, cap_std::ambient_authority()).expect("open cache dir");
    Host::new(HostConfig::default(), Some(dir)).expect("host")
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

fn notes_request(f: &Value) -> ConnectorRequest {
    let field = |k: &str| f.get(k).and_then(Value::as_str).map(str::to_owned);
    ConnectorRequest {
        method: field("method").expect("fixture method"),
        scheme: "https".into(),
        host: field("host").unwrap_or_else(|| DOMAIN.into()),
        path: field("path").expect("fixture path"),
        query: field("query"),
        headers: vec![("content-type".into(), "application/json".into())],
        body: f.get("body").map(|b| match b {
            Value::String(s) => s.clone().into_bytes(),
            other => other.to_string().into_bytes(),
        }),
    }
}

/// Where `got` differs from the fixture's `expect` (name, resource, risk, exact params).
fn mismatches(expect: &Value, got: &Action) -> Vec<String> {
    let mut out = Vec::new();
    let mut check = |what: &str, want: Option<&Value>, have: Value| {
        if let Some(want) = want
            && *want != have
        {
            out.push(format!("{what}: want {want}, got {have}"));
        }
    };
    check("name", expect.get("name"), got.name.clone().into());
    check(
        "resource",
        expect.get("resource"),
        got.resource.clone().into(),
    );
    check("risk", expect.get("risk"), got.risk.as_str().into());
    let params: serde_json::Map<String, Value> = got
        .params
        .iter()
        .map(|p| {
            let v = match &p.value {
                ParamValue::Text(t) => Value::from(t.as_str()),
                ParamValue::Integer(n) => Value::from(*n),
                ParamValue::Boolean(b) => Value::from(*b),
            };
            (p.name.clone(), v)
        })
        .collect();
    check("params", expect.get("params"), Value::Object(params));
    out
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
    let mut report = Vec::new();
    let mut covered = std::collections::BTreeSet::new();
    let mut error_codes = std::collections::BTreeSet::new();
    let mut cases = 0;
    for (i, line) in jsonl.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        cases += 1;
        let f: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("{} line {}: {e}", path.display(), i + 1));
        let req = notes_request(&f);
        let at = format!("line {} ({} {})", i + 1, req.method, req.path);
        let got = NOTES.classify(&req);
        match (f.get("expect"), f.get("error").and_then(Value::as_str), got) {
            (Some(expect), None, Ok(action)) => {
                covered.insert(action.name.clone());
                for m in mismatches(expect, &action) {
                    report.push(format!("{at}: {m}"));
                }
            }
            (None, Some(want), Err(ClassifyError::Rejected { code, .. })) => {
                error_codes.insert(code.clone());
                if code != want {
                    report.push(format!("{at}: error code: want {want}, got {code}"));
                }
            }
            (_, _, got) => report.push(format!("{at}: unexpected {got:?}")),
        }
    }
    assert!(
        report.is_empty(),
        "fixture mismatches:\n{}",
        report.join("\n")
    );
    let catalogue: std::collections::BTreeSet<String> = NOTES
        .descriptor()
        .actions
        .iter()
        .map(|a| a.name.clone())
        .collect();
    assert_eq!(covered, catalogue, "every action has a fixture");
    assert_eq!(
        error_codes,
        ["unknown_route".to_owned(), "unsupported_method".to_owned()].into(),
        "both error codes have a fixture"
    );
    assert!(cases >= 10, "{cases} fixtures");
    // The host's own runner (fixtures embedded at load, `tf connector test`) agrees.
    let report = tf_connector_host::fixtures::run(&NOTES, &jsonl).expect("fixtures parse");
    assert!(report.passed(), "{report}");
    assert_eq!(report.total, cases);
}

/// Cost of a Python connector: a load from the artifact cache (what a
/// gateway restart pays), a fresh instance, then warm calls. Timings are
/// printed (`--nocapture`) and bounded only by the call deadline.
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
    let req = notes_request(&serde_json::json!({"method": "DELETE", "path": "/v1/notes/7"}));
    let started = Instant::now();
    let first = fresh.classify(&req).expect("first call classifies");
    let first_call = started.elapsed();
    assert_eq!(first.name, "notes.note.delete");
    const CALLS: u32 = 200;
    let started = Instant::now();
    for _ in 0..CALLS {
        assert_eq!(fresh.classify(&req).expect("classifies"), first);
    }
    let per_call = started.elapsed() / CALLS;
    eprintln!(
        "python notes: load from cache (deserialize + instantiate + describe) {cached_load:?}, \
         first call (instantiate + classify) {first_call:?}, warm classify {per_call:?}/call"
    );
    assert!(
        per_call < Duration::from_millis(50),
        "{per_call:?} per call"
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
        ..HostConfig::default()
    };
    let host = Host::new(small, Some(dir)).expect("host");
    let started = Instant::now();
    let err = host.load(&NOTES_WASM).expect_err("too few slots");
    eprintln!("python notes: refused for slots in {:?}", started.elapsed());
    assert!(err.to_string().contains("no free instance slot"), "{err}");
}
