//! Builds the connector components in `connectors-wasm/` for wasm32-wasip2
//! and copies the shipped ones into `OUT_DIR` for `include_bytes!`.
//!
//! The inner cargo runs with a fixed target dir (`connectors-wasm/target`) so
//! every outer profile shares one guest build, and with the outer build's
//! environment scrubbed: flags, target, wrappers and jobserver meant for the
//! host build must not leak into the guest build.

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Components embedded in the gateway (kind = package, artifact file).
const SHIPPED: &[(&str, &str)] = &[
    ("github", "github.wasm"),
    ("generic", "generic.wasm"),
    ("stripe", "stripe.wasm"),
    ("slack", "slack.wasm"),
    ("openai", "openai.wasm"),
    ("anthropic", "anthropic.wasm"),
    ("mcp", "mcp.wasm"),
    ("webhook", "webhook.wasm"),
];
/// Built beside them for tests, never embedded (package, artifact file).
const TEST_ONLY: &[(&str, &str)] = &[("test-hostile", "test_hostile.wasm")];
const TARGET: &str = "wasm32-wasip2";

/// Environment prefixes the inner cargo may keep: where cargo lives and how
/// it reaches the registry.
const KEEP: &[&str] = &[
    "CARGO_HOME",
    "CARGO_NET_",
    "CARGO_HTTP_",
    "CARGO_REGISTRIES_",
    "CARGO_REGISTRY_",
    "CARGO_SOURCE_",
    "CARGO_TERM_",
];

/// Variables cargo sets (or honours) for the host build that would
/// reconfigure the guest build.
const SCRUB_EXACT: &[&str] = &[
    "RUSTFLAGS",
    "RUSTDOCFLAGS",
    "RUSTC",
    "RUSTDOC",
    "MAKEFLAGS",
    "MFLAGS",
    "TARGET",
    "HOST",
    "OUT_DIR",
    "PROFILE",
    "OPT_LEVEL",
    "DEBUG",
    "NUM_JOBS",
];

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest_dir
        .parent()
        .and_then(Path::parent)
        .expect("gateway/builtins sits two levels below the repository root")
        .to_path_buf();
    let connectors = root.join("connectors-wasm");
    let target_dir = connectors.join("target");
    let artifact_dir = target_dir.join(TARGET).join("release");
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo"));

    rerun_if_changed(&root, &connectors);
    check_target_installed();

    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .arg("--release")
        .arg("--target")
        .arg(TARGET)
        .arg("--manifest-path")
        .arg(connectors.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        // Only what is embedded or tested: other crates of the workspace
        // (a third party's, one being written) never break the gateway build.
        .args(
            SHIPPED
                .iter()
                .map(|(package, _)| *package)
                .chain(TEST_ONLY.iter().map(|(package, _)| *package))
                .flat_map(|package| ["--package", package]),
        )
        .current_dir(&connectors)
        // Cargo parses a build script's stdout: keep the inner cargo off it.
        .stdout(Stdio::from(std::io::stderr()));
    for (key, _) in env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        let cargo_var = key.starts_with("CARGO") && !KEEP.iter().any(|k| key.starts_with(k));
        let rustc_var = key.starts_with("RUSTC_");
        if cargo_var || rustc_var || SCRUB_EXACT.contains(&key) || key.starts_with("DEP_") {
            cmd.env_remove(key);
        }
    }
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("could not run cargo to build connectors-wasm: {e}"));
    if !status.success() {
        panic!(
            "building the connector components failed ({status}); reproduce with:\n  \
             cargo build --release --target {TARGET} --manifest-path {} --target-dir {} {}",
            connectors.join("Cargo.toml").display(),
            target_dir.display(),
            SHIPPED
                .iter()
                .map(|(package, _)| *package)
                .chain(TEST_ONLY.iter().map(|(package, _)| *package))
                .map(|package| format!("-p {package}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
    }

    for (_, file) in SHIPPED {
        let from = artifact_dir.join(file);
        std::fs::copy(&from, out_dir.join(file))
            .unwrap_or_else(|e| panic!("connector artifact {} missing: {e}", from.display()));
    }
    for (_, file) in TEST_ONLY {
        let path = artifact_dir.join(file);
        assert!(path.is_file(), "test artifact {} missing", path.display());
    }
    println!(
        "cargo:rustc-env=TF_BUILTINS_ARTIFACT_DIR={}",
        artifact_dir.display()
    );
}

/// Rebuild when a guest source, manifest, the SDK or the WIT changes — but
/// never watch `connectors-wasm/target`, which the build itself writes.
fn rerun_if_changed(root: &Path, connectors: &Path) {
    let watch = |p: &Path| println!("cargo:rerun-if-changed={}", p.display());
    watch(&connectors.join("Cargo.toml"));
    watch(&connectors.join("Cargo.lock"));
    for package in SHIPPED
        .iter()
        .map(|(package, _)| *package)
        .chain(TEST_ONLY.iter().map(|(package, _)| *package))
    {
        let dir = connectors.join(package);
        watch(&dir.join("Cargo.toml"));
        watch(&dir.join("src"));
    }
    watch(&root.join("sdk").join("Cargo.toml"));
    watch(&root.join("sdk").join("src"));
    watch(&root.join("wit"));
    watch(&root.join("rust-toolchain.toml"));
}

/// Fails with the exact fix when the wasm32-wasip2 standard library is absent.
fn check_target_installed() {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let sysroot = Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    if let Some(sysroot) = sysroot
        && !sysroot.join("lib/rustlib").join(TARGET).is_dir()
    {
        panic!(
            "the Rust target {TARGET} is not installed (no {}).\n\
             Fix: rustup target add {TARGET}",
            sysroot.join("lib/rustlib").join(TARGET).display()
        );
    }
}
