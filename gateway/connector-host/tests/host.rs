//! Integration tests of the connector host against real components: the
//! built-in connectors (`tf-builtins`), the hostile fixture, and two tiny
//! refused guests built from `tests/guests/`.
//!
//! One `Host` and each compiled component are shared across tests
//! (`LazyLock`): compiling a component takes ~0.4 s in a debug build.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, LazyLock};

use cap_std::fs::Dir;
use tf_connector_host::{
    Connector, DescriptorError, ForbiddenImports, Host, HostConfig, ImportError, LoadError,
};
use tf_core::{Action, Classifier, ClassifyError, ConnectorFailure, ConnectorRequest, ParamValue};

#[path = "host/python.rs"]
mod python;

#[path = "host/canonical.rs"]
mod canonical;

static HOST: LazyLock<Host> =
    LazyLock::new(|| Host::new(HostConfig::default(), None).expect("host"));

static GITHUB: LazyLock<Arc<Connector>> =
    LazyLock::new(|| HOST.load(tf_builtins::GITHUB).expect("github loads"));

static STRIPE: LazyLock<Arc<Connector>> =
    LazyLock::new(|| HOST.load(tf_builtins::STRIPE).expect("stripe loads"));

static HOSTILE_WASM: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let path = Path::new(tf_builtins::ARTIFACT_DIR).join("test_hostile.wasm");
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
});

static HOSTILE: LazyLock<Arc<Connector>> =
    LazyLock::new(|| HOST.load(&HOSTILE_WASM).expect("hostile loads"));

fn request(method: &str, host: &str, path: &str) -> ConnectorRequest {
    ConnectorRequest {
        method: method.into(),
        scheme: "https".into(),
        host: host.into(),
        path: path.into(),
        query: None,
        headers: vec![("user-agent".into(), "test".into())],
        body: None,
    }
}

fn param<'a>(action: &'a Action, name: &str) -> Option<&'a ParamValue> {
    action
        .params
        .iter()
        .find(|p| p.name == name)
        .map(|p| &p.value)
}

fn text(s: &str) -> ParamValue {
    ParamValue::Text(s.into())
}

/// Builds a guest crate under `tests/guests/<name>` for wasm32-wasip2.
fn build_guest(name: &str) -> Vec<u8> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/guests")
        .join(name);
    let target_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("guests");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(&dir)
        .args([
            "build",
            "--quiet",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--target-dir",
        ])
        .arg(&target_dir)
        .status()
        .expect("running cargo");
    assert!(status.success(), "building guest {name} failed");
    let file: PathBuf = target_dir
        .join("wasm32-wasip2/release")
        .join(format!("{}.wasm", name.replace('-', "_")));
    std::fs::read(&file).unwrap_or_else(|e| panic!("reading {}: {e}", file.display()))
}

fn open_dir(path: &Path) -> Dir {
    Dir::open_ambient_dir(path, cap_std::ambient_authority()).expect("open dir")
}

#[test]
fn builtins_load_and_describe() {
    let d = GITHUB.descriptor();
    assert_eq!(d.name, "github");
    assert!(
        d.domains.iter().any(|x| x == "api.github.com"),
        "{:?}",
        d.domains
    );
    assert!(d.actions.iter().any(|a| a.name == "github.pr.merge"));
    assert_eq!(GITHUB.sha256_hex().len(), 64);

    // Every shipped component loads and passes descriptor validation.
    for (kind, wasm) in tf_builtins::all() {
        let connector = HOST
            .load(wasm)
            .unwrap_or_else(|e| panic!("builtin {kind} refused: {e}"));
        assert!(!connector.descriptor().actions.is_empty(), "{kind}");
    }

    let d = HOSTILE.descriptor();
    assert_eq!(d.name, "hostile");
    assert_eq!(d.domains, ["hostile.test"]);
}

#[test]
fn github_classifies() {
    let merge = GITHUB
        .classify(request(
            "PUT",
            "api.github.com",
            "/repos/octo/hello/pulls/7/merge",
        ))
        .expect("merge classifies");
    assert_eq!(merge.name, "github.pr.merge");
    assert_eq!(param(&merge, "owner"), Some(&text("octo")));
    assert_eq!(param(&merge, "repo"), Some(&text("hello")));
    assert!(merge.resource.contains("octo/hello"), "{}", merge.resource);

    let get = GITHUB
        .classify(request("GET", "api.github.com", "/repos/octo/hello"))
        .expect("repo get classifies");
    let spec = GITHUB
        .descriptor()
        .actions
        .iter()
        .find(|a| a.name == get.name)
        .expect("in catalogue");
    assert!(spec.read_only, "{spec:?}");
    assert!(get.risk < merge.risk);

    let issue = GITHUB
        .classify(request(
            "POST",
            "api.github.com",
            "/repos/octo/hello/issues",
        ))
        .expect("issue create classifies");
    assert!(issue.name.starts_with("github.issue"), "{}", issue.name);

    // Classifying on a reused instance gives the same answer.
    for _ in 0..3 {
        let again = GITHUB
            .classify(request(
                "PUT",
                "api.github.com",
                "/repos/octo/hello/pulls/7/merge",
            ))
            .expect("merge classifies again");
        assert_eq!(again, merge);
    }
    assert!(GITHUB.idle_instances() >= 1);
}

#[test]
fn hostile_paths_fail_closed_and_the_connector_recovers() {
    let ok = || {
        let action = HOSTILE
            .classify(request("GET", "hostile.test", "/fine"))
            .expect("a normal request succeeds");
        assert_eq!(action.name, "hostile.ok");
    };
    ok();
    // The kind is decided from the failure itself (trap code, memory
    // limiter, the stub's error type), the detail is a phrase for the log.
    for (path, want, detail) in [
        ("/loop", ConnectorFailure::Deadline, "deadline exceeded"),
        (
            "/oom",
            ConnectorFailure::OutOfMemory,
            "memory limit exceeded",
        ),
        ("/panic", ConnectorFailure::Trap, "trapped"),
        // 16 MiB of output cannot be built within the 16 MiB limit.
        (
            "/huge",
            ConnectorFailure::OutOfMemory,
            "memory limit exceeded",
        ),
        // Unbounded recursion runs off the guest's shadow stack.
        (
            "/deep",
            ConnectorFailure::Trap,
            "trapped: out of bounds memory access",
        ),
        ("/quit", ConnectorFailure::ForbiddenImport, "wasi:cli/exit"),
    ] {
        let result = HOSTILE.classify(request("GET", "hostile.test", path));
        match result {
            Err(ClassifyError::Failed { kind, detail: got }) => {
                assert_eq!(kind, want, "{path}: {got}");
                assert!(got.contains(detail), "{path}: {got}");
                assert!(
                    !got.contains(path),
                    "{path}: reason leaks request data: {got}"
                );
            }
            other => panic!("{path}: expected Failed, got {other:?}"),
        }
        ok();
    }
    assert!(HOSTILE.idle_instances() <= HOST.config().pool_size);
}

#[test]
fn oversized_output_is_refused_even_with_room_to_build_it() {
    // With a 64 MiB memory limit `/huge` returns its 16 MiB resource instead
    // of running out of memory; the host refuses the action itself. The
    // deadline is long because building 16 MiB can take a while on a busy
    // machine; this test is about output size.
    let roomy = Host::new(
        HostConfig {
            memory_limit_bytes: 64 << 20,
            call_deadline: std::time::Duration::from_secs(10),
            max_instances: 8,
            ..HostConfig::default()
        },
        None,
    )
    .expect("host");
    let hostile = roomy.load(&HOSTILE_WASM).expect("hostile loads");
    match hostile.classify(request("GET", "hostile.test", "/huge")) {
        Err(ClassifyError::Failed { kind, detail }) => {
            assert_eq!(kind, ConnectorFailure::InvalidOutput, "{detail}");
            assert!(detail.contains("too large"), "{detail}");
        }
        other => panic!("expected Failed, got {other:?}"),
    }
    assert!(
        hostile
            .classify(request("GET", "hostile.test", "/x"))
            .is_ok()
    );
}

#[test]
fn concurrent_calls_with_traps_in_between() {
    std::thread::scope(|s| {
        for t in 0..4 {
            s.spawn(move || {
                for i in 0..25 {
                    if (i + t) % 5 == 0 {
                        let r = HOSTILE.classify(request("GET", "hostile.test", "/panic"));
                        assert!(
                            matches!(
                                r,
                                Err(ClassifyError::Failed {
                                    kind: ConnectorFailure::Trap,
                                    ..
                                })
                            ),
                            "{r:?}"
                        );
                    } else {
                        let r = HOSTILE.classify(request("GET", "hostile.test", "/ok"));
                        assert_eq!(r.expect("ok").name, "hostile.ok");
                    }
                }
            });
        }
    });
    assert!(HOSTILE.idle_instances() <= HOST.config().pool_size);
}

#[test]
fn an_exhausted_instance_pool_is_no_free_instance() {
    // One instance slot: the first connector's pooled instance holds it, so
    // the second cannot instantiate.
    let tiny = Host::new(
        HostConfig {
            max_instances: 1,
            ..HostConfig::default()
        },
        None,
    )
    .expect("host");
    let first = tiny.load(&HOSTILE_WASM).expect("hostile loads");
    let second = tiny.load(&HOSTILE_WASM).expect("hostile loads again");
    assert!(first.classify(request("GET", "hostile.test", "/x")).is_ok());
    assert_eq!(first.idle_instances(), 1);
    match second.classify(request("GET", "hostile.test", "/x")) {
        Err(ClassifyError::Failed { kind, detail }) => {
            assert_eq!(kind, ConnectorFailure::NoFreeInstance, "{detail}");
        }
        other => panic!("expected Failed, got {other:?}"),
    }
    drop(first);
    assert!(
        second
            .classify(request("GET", "hostile.test", "/x"))
            .is_ok()
    );
}

#[test]
fn non_components_are_refused() {
    assert!(matches!(
        HOST.load(b"garbage bytes"),
        Err(LoadError::NotWasm)
    ));
    assert!(matches!(HOST.load(b""), Err(LoadError::NotWasm)));
    // The smallest valid core module.
    assert!(matches!(
        HOST.load(b"\0asm\x01\0\0\0"),
        Err(LoadError::CoreModule)
    ));
    let truncated = &tf_builtins::GITHUB[..tf_builtins::GITHUB.len() / 2];
    let err = HOST.load(truncated).expect_err("truncated component");
    assert!(
        matches!(
            err,
            LoadError::Metadata(tf_connector_host::MetadataError::Truncated { .. })
        ),
        "{err}"
    );
    assert!(
        err.to_string().starts_with("the file is truncated"),
        "{err}"
    );
}

#[test]
fn disallowed_imports_and_wrong_worlds_are_refused() {
    let reads_file = build_guest("reads-file");
    let refused = HOST.load(&reads_file);
    assert_eq!(
        refused
            .as_ref()
            .err()
            .and_then(LoadError::connector_failure),
        Some(ConnectorFailure::ForbiddenImport)
    );
    match refused {
        Err(LoadError::Imports(ForbiddenImports(refused))) => {
            let fs = refused.iter().any(|e| {
                matches!(e, ImportError::Disallowed(name) if name.starts_with("wasi:filesystem/"))
            });
            assert!(fs, "{refused:?}");
        }
        other => panic!("expected refused imports, got {other:?}"),
    }
    let wrong_world = build_guest("wrong-world");
    let err = HOST.load(&wrong_world).expect_err("wrong world");
    assert!(matches!(err, LoadError::World(_)), "{err}");
}

#[test]
fn descriptor_errors_are_named() {
    // The unit tests cover every rule; here only the error's wording.
    let err = LoadError::from(DescriptorError::NoActions);
    assert_eq!(
        err.to_string(),
        "invalid descriptor: the action catalogue is empty"
    );
}

#[test]
fn cache_round_trip_and_corruption() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = HostConfig {
        max_instances: 16,
        ..HostConfig::default()
    };
    let host = Host::new(config, Some(open_dir(tmp.path()))).expect("host");

    let first = host.load(&HOSTILE_WASM).expect("compiles");
    assert!(!first.loaded_from_cache());

    let cached: Vec<PathBuf> = std::fs::read_dir(tmp.path())
        .expect("list")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(cached.len(), 1, "{cached:?}");
    let file = &cached[0];
    assert_eq!(file.extension().and_then(|e| e.to_str()), Some("cwasm"));

    // The second load deserializes the artifact instead of compiling.
    let second = host.load(&HOSTILE_WASM).expect("loads from cache");
    assert!(second.loaded_from_cache());
    assert_eq!(second.descriptor(), first.descriptor());
    assert!(
        second
            .classify(request("GET", "hostile.test", "/x"))
            .is_ok()
    );

    // Truncated: recompiled, never trusted, and rewritten.
    let good = std::fs::read(file).expect("read");
    std::fs::write(file, &good[..good.len() / 2]).expect("truncate");
    let third = host.load(&HOSTILE_WASM).expect("recompiles");
    assert!(!third.loaded_from_cache());
    assert_eq!(std::fs::read(file).expect("read"), good);

    // One flipped byte: same.
    let mut flipped = good.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0xff;
    std::fs::write(file, &flipped).expect("corrupt");
    let fourth = host.load(&HOSTILE_WASM).expect("recompiles");
    assert!(!fourth.loaded_from_cache());
    assert!(
        host.load(&HOSTILE_WASM)
            .expect("cached again")
            .loaded_from_cache()
    );

    // A connector outlives its host and keeps a working deadline.
    drop(host);
    let r = fourth.classify(request("GET", "hostile.test", "/loop"));
    assert!(
        matches!(
            &r,
            Err(ClassifyError::Failed {
                kind: ConnectorFailure::Deadline,
                ..
            })
        ),
        "{r:?}"
    );
}

#[test]
fn load_dir_loads_wasm_files_only() {
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::write(tmp.path().join("hostile.wasm"), &*HOSTILE_WASM).expect("write");
    std::fs::write(tmp.path().join("broken.wasm"), b"not wasm").expect("write");
    std::fs::write(tmp.path().join("README.md"), b"# notes").expect("write");
    std::fs::create_dir(tmp.path().join("sub.wasm")).expect("mkdir");
    let results = HOST.load_dir(&open_dir(tmp.path()));
    let names: Vec<&str> = results.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["broken.wasm", "hostile.wasm"]);
    assert!(matches!(results[0].1, Err(LoadError::NotWasm)));
    let hostile = results[1].1.as_ref().expect("hostile loads");
    assert_eq!(hostile.descriptor().name, "hostile");
}

/// The proxy calls `classify` on tokio worker threads. A guest that writes to
/// stderr (every panic does) must not touch the ambient runtime: the call
/// fails closed and the worker stays healthy.
#[test]
fn hostile_calls_on_tokio_workers_fail_closed_without_panicking() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let tasks: Vec<_> = ["/panic", "/fine", "/oom", "/panic", "/fine"]
            .into_iter()
            .map(|path| {
                tokio::spawn(async move {
                    (path, HOSTILE.classify(request("GET", "hostile.test", path)))
                })
            })
            .collect();
        for t in tasks {
            let (path, result) = t.await.expect("the worker task did not panic");
            match (path, result) {
                ("/fine", Ok(action)) => assert_eq!(action.name, "hostile.ok"),
                ("/panic", Err(e)) => assert_eq!(e.failure(), Some(ConnectorFailure::Trap)),
                ("/oom", Err(e)) => assert_eq!(e.failure(), Some(ConnectorFailure::OutOfMemory)),
                (path, other) => panic!("{path}: unexpected {other:?}"),
            }
        }
    });
}

#[test]
fn embedded_fixtures_run_at_load_and_a_failing_one_refuses_the_component() {
    let passing = "{\"method\":\"GET\",\"path\":\"/repos/o/r\",\"expect\":{\"name\":\"github.repo.get\",\"resource\":\"o/r\"}}\n";
    let wasm = tf_connector_host::metadata::with_fixtures(tf_builtins::GITHUB, passing).unwrap();
    let c = HOST.load(&wasm).expect("passes its fixtures");
    assert_eq!(c.fixtures_passed(), 1);
    assert_eq!(c.sdk(), Some("tameflare-sdk 0.1.0"));

    let failing = passing.replace("github.repo.get", "github.repo.delete");
    let wasm = tf_connector_host::metadata::with_fixtures(tf_builtins::GITHUB, &failing).unwrap();
    let err = HOST.load(&wasm).unwrap_err();
    assert!(
        matches!(err, LoadError::Fixtures(ref r) if r.failures.len() == 1),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("fails its own fixtures: 1 of 1 fixtures failed"),
        "{text}"
    );
    assert!(text.contains("- name: github.repo.delete"), "{text}");
    assert!(text.contains("+ name: github.repo.get"), "{text}");

    let garbage = tf_connector_host::metadata::with_fixtures(tf_builtins::GITHUB, "{nope").unwrap();
    let err = HOST.load(&garbage).unwrap_err();
    assert!(matches!(err, LoadError::FixturesUnreadable(_)), "{err}");
}

/// `tameflare:connector@0.1.0` is released: its file never changes again.
/// A new version goes beside it (see wit/README.md).
#[test]
fn the_released_contract_is_unchanged() {
    use sha2::Digest as _;
    let wit_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../wit");
    let readme = std::fs::read_to_string(wit_dir.join("README.md")).expect("wit/README.md");
    let recorded = readme
        .lines()
        .find_map(|l| {
            l.trim()
                .trim_matches('`')
                .strip_prefix("sha256(connector.wit) = ")
        })
        .expect("wit/README.md records sha256(connector.wit)")
        .trim()
        .trim_matches('`');
    let actual = hex::encode(sha2::Sha256::digest(
        std::fs::read(wit_dir.join("connector.wit")).expect("wit/connector.wit"),
    ));
    assert_eq!(
        actual, recorded,
        "wit/connector.wit changed, but tameflare:connector@0.1.0 is released and must never change; put a new version beside it"
    );
}

/// Every shipped connector passes its own fixtures in the real host (the
/// gateway embeds them and runs them at every load).
#[test]
fn every_builtin_passes_its_fixtures_in_the_host() {
    for (kind, wasm) in tf_builtins::all() {
        let fixtures = tf_builtins::fixtures(kind).expect("fixtures");
        let cases = fixtures.lines().filter(|l| l.starts_with('{')).count();
        let with = tf_connector_host::metadata::with_fixtures(wasm, fixtures).unwrap();
        let c = HOST.load(&with).unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(c.fixtures_passed(), cases, "{kind}");
    }
}
