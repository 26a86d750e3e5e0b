//! Project tasks, with no dependencies so it builds in seconds on a fresh machine.
//!
//! - `cargo xtask serve [TF SERVE FLAGS…]`: installs the wasm32-wasip2 target if
//!   missing, builds the connectors and the `tf` binary in release mode, puts
//!   `tf` on the PATH (`~/.cargo/bin`), and starts the gateway in the foreground.
//! - `cargo xtask test`: installs what the tests need from rustup if missing,
//!   then runs formatting and lint checks and every test: the main workspace
//!   (unit, integration, end-to-end with the real `tf` binary), the connectors
//!   and the SDK.
//! - `cargo xtask codegen [--check]`: regenerates the built-in connectors'
//!   tables (`connectors-wasm/*/src/routes.rs`) from `specs/` with
//!   `tameflare_sdk::codegen` and each connector's `src/naming.rs`; with
//!   `--check` it regenerates in memory and fails, naming the file, when a
//!   committed table differs. `cargo xtask test` runs the check first.
//! - `cargo xtask bench`: the gateway benchmark (release build).
//! - `cargo xtask deps`: checks that each heavy dependency is declared only by
//!   the crate that owns it (`OWNERS`); `cargo xtask test` runs it first.
//!
//! Never used by the gateway itself.

use std::collections::BTreeMap;
use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let (task, rest) = match args.split_first() {
        Some((t, r)) => (t.as_str(), r),
        None => ("help", &[][..]),
    };
    let result = match task {
        "serve" => serve(rest),
        "test" => test(rest),
        "bench" => bench(rest),
        "deps" => deps(),
        "codegen" => codegen(rest),
        "build" => ensure_wasm_target()
            .and_then(|()| build_release())
            .map(|_| ()),
        _ => {
            eprintln!(
                "usage: cargo xtask <serve|test|bench|build|codegen|deps>\n\n  serve    build everything (release) and start the gateway\n  test     run every check and test\n  bench    benchmark the gateway against direct and tunnelled requests\n  build    build connectors and the tf binary (release)\n  codegen  regenerate the built-in connectors' tables from specs/ (--check: fail on a difference)\n  deps     check that each heavy dependency has its one owner"
            );
            return if task == "help" {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            };
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask {task}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the repo root")
        .to_path_buf()
}

fn cargo() -> Command {
    let mut c = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    c.current_dir(root());
    c
}

fn run(what: &str, mut cmd: Command) -> Result<(), String> {
    eprintln!("==> {what}");
    let status = cmd
        .status()
        .map_err(|e| format!("could not start {what}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what} failed ({status})"))
    }
}

/// The connectors are built for wasm32-wasip2; rust-toolchain.toml lists the
/// target, and this installs it explicitly for toolchains that ignore that.
fn ensure_wasm_target() -> Result<(), String> {
    let out = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .current_dir(root())
        .output()
        .map_err(|e| format!("rustup is required (https://rustup.rs): {e}"))?;
    if String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.trim() == "wasm32-wasip2")
    {
        return Ok(());
    }
    let mut c = Command::new("rustup");
    c.args(["target", "add", "wasm32-wasip2"])
        .current_dir(root());
    run("rustup target add wasm32-wasip2", c)
}

fn build_release() -> Result<PathBuf, String> {
    let mut c = cargo();
    c.args(["build", "--release", "--locked", "-p", "tf-cli"]);
    run("cargo build --release -p tf-cli (connectors + gateway)", c)?;
    Ok(root().join("target/release/tf"))
}

fn serve(extra: &[String]) -> Result<(), String> {
    ensure_wasm_target()?;
    let tf = build_release()?;
    // Put `tf` on the PATH the way `cargo install` would.
    let bin_dir = env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|h| h.join("bin"));
    if let Some(bin_dir) = bin_dir {
        let dest = bin_dir.join("tf");
        let tmp = bin_dir.join(".tf.xtask-tmp");
        match std::fs::create_dir_all(&bin_dir)
            .and_then(|()| std::fs::copy(&tf, &tmp))
            .and_then(|_| std::fs::rename(&tmp, &dest))
        {
            Ok(()) => eprintln!("==> installed {}", dest.display()),
            Err(e) => eprintln!(
                "==> could not install tf into {} ({e}); use {}",
                bin_dir.display(),
                tf.display()
            ),
        }
    }
    let mut c = Command::new(&tf);
    c.arg("serve").args(extra);
    run("tf serve", c)
}

/// The generator runs natively as each connector's `routes_are_current`
/// test (its `src/naming.rs` on `tameflare_sdk::codegen`), which compares
/// the fresh table with the committed file in memory and, with
/// `UPDATE_ROUTES` set, rewrites it. Same build as the connectors' tests.
fn codegen(args: &[String]) -> Result<(), String> {
    let check = match args {
        [] => false,
        [flag] if flag == "--check" => true,
        _ => return Err("usage: cargo xtask codegen [--check]".into()),
    };
    let mut c = cargo();
    c.args([
        "test",
        "--locked",
        "--quiet",
        "--workspace",
        "--lib",
        "--manifest-path",
        "connectors-wasm/Cargo.toml",
        "--",
        "routes_are_current",
    ]);
    if check {
        c.env_remove("UPDATE_ROUTES");
        run("codegen --check (connectors-wasm/*/src/routes.rs)", c)
            .map_err(|e| format!("{e}: a generated table is stale (the file is named above); run `cargo xtask codegen`"))
    } else {
        c.env("UPDATE_ROUTES", "1");
        run("codegen (connectors-wasm/*/src/routes.rs)", c)
    }
}

fn test(extra: &[String]) -> Result<(), String> {
    ensure_wasm_target()?;
    deps()?;
    let mut c = cargo();
    c.args(["fmt", "--all", "--check"]);
    run("cargo fmt --check", c)?;
    for manifest in ["connectors-wasm/Cargo.toml", "sdk/Cargo.toml"] {
        let mut c = cargo();
        c.args(["fmt", "--all", "--check", "--manifest-path", manifest]);
        run(&format!("cargo fmt --check ({manifest})"), c)?;
    }
    codegen(&["--check".to_owned()])?;
    // The guest side: native tests of the SDK and of every connector's
    // classification table, fixtures and spec coverage.
    // The SDK with every feature, so the generator (`codegen`) and the
    // harness (`testing`) are linted and tested too.
    for (manifest, features) in [
        ("sdk/Cargo.toml", &["--all-features"][..]),
        ("connectors-wasm/Cargo.toml", &[][..]),
    ] {
        let mut c = cargo();
        c.args([
            "clippy",
            "--locked",
            "--workspace",
            "--all-targets",
            "--manifest-path",
            manifest,
        ])
        .args(features)
        .args(["--", "-D", "warnings"]);
        run(&format!("cargo clippy ({manifest})"), c)?;
        let mut c = cargo();
        c.args([
            "test",
            "--locked",
            "--workspace",
            "--manifest-path",
            manifest,
        ])
        .args(features);
        run(&format!("cargo test ({manifest})"), c)?;
    }
    let mut c = cargo();
    c.args([
        "clippy",
        "--locked",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]);
    run("cargo clippy --workspace", c)?;
    // The end-to-end tests drive the real binary.
    let mut c = cargo();
    c.args(["build", "--locked", "-p", "tf-cli"]);
    run("cargo build -p tf-cli", c)?;
    let mut c = cargo();
    c.args(["test", "--locked", "--workspace"]).args(extra);
    run("cargo test --workspace", c)
}

fn bench(extra: &[String]) -> Result<(), String> {
    ensure_wasm_target()?;
    build_release()?;
    let mut c = cargo();
    c.args([
        "bench", "--locked", "-p", "tf-e2e", "--bench", "gateway", "--",
    ])
    .args(extra);
    run("cargo bench -p tf-e2e --bench gateway", c)
}

/// Heavy dependencies and the gateway crates allowed to declare them (normal
/// and build dependencies). Everyone else goes through the owner's API, so a
/// version, a feature or a crypto provider is chosen in one place. `tests/`
/// and `xtask/` are not part of the product and are not checked; neither are
/// dev-dependencies (a test may drive its own TLS client).
const OWNERS: &[(&str, &[&str])] = &[
    ("wasmtime", &["tf-connector-host"]),
    ("redb", &["tf-store"]),
    ("axum", &["tf-admin"]),
    ("rustls", &["tf-tls"]),
    ("tokio-rustls", &["tf-tls"]),
    ("rustls-pki-types", &["tf-tls"]),
    ("rustls-native-certs", &["tf-tls"]),
    ("rcgen", &["tf-tls"]),
    ("ring", &["tf-store"]),
    ("aes-gcm", &["tf-vault"]),
    // The data path (server and pooled client) and the admin API (axum is
    // built on hyper; the CLI's client over the Unix socket lives beside it).
    ("hyper", &["tf-proxy", "tf-admin"]),
    ("hyper-util", &["tf-proxy", "tf-admin"]),
    ("flate2", &["tf-proxy"]),
    ("brotli-decompressor", &["tf-proxy"]),
    ("ruzstd", &["tf-proxy"]),
    ("clap", &["tf-cli"]),
    ("anyhow", &["tf-cli"]),
    ("tracing-subscriber", &["tf-cli"]),
];

/// Workspace members that are not part of the product.
const UNCHECKED: &[&str] = &["tests", "xtask"];

fn deps() -> Result<(), String> {
    eprintln!("==> dependency owners");
    let root = root();
    let read =
        |p: &Path| std::fs::read_to_string(p).map_err(|e| format!("reading {}: {e}", p.display()));
    let root_manifest = read(&root.join("Cargo.toml"))?;
    let members = workspace_members(&root_manifest);
    let renames = workspace_renames(&root_manifest);
    if members.is_empty() {
        return Err("no workspace members found in Cargo.toml".into());
    }
    let mut problems = Vec::new();
    for member in members.iter().filter(|m| !UNCHECKED.contains(&m.as_str())) {
        let manifest = read(&root.join(member).join("Cargo.toml"))?;
        let package = package_name(&manifest)
            .ok_or_else(|| format!("{member}/Cargo.toml has no package name"))?;
        for dep in normal_dependencies(&manifest, &renames) {
            if let Some((_, owners)) = OWNERS.iter().find(|(d, _)| *d == dep)
                && !owners.contains(&package.as_str())
            {
                problems.push(format!(
                    "{package} ({member}/Cargo.toml) depends on {dep}, which only {} may declare",
                    owners.join(" and ")
                ));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "heavy dependencies outside their owner:\n  {}",
            problems.join("\n  ")
        ))
    }
}

/// The `members = [...]` list of the root manifest.
fn workspace_members(manifest: &str) -> Vec<String> {
    let Some(start) = manifest.find("members") else {
        return Vec::new();
    };
    let rest = &manifest[start..];
    let (Some(open), Some(close)) = (rest.find('['), rest.find(']')) else {
        return Vec::new();
    };
    rest[open + 1..close]
        .split(',')
        .map(|s| s.trim().trim_matches('"').to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

fn package_name(manifest: &str) -> Option<String> {
    let mut in_package = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package && let Some(v) = line.strip_prefix("name") {
            let v = v.trim_start().strip_prefix('=')?.trim();
            return Some(v.trim_matches('"').to_owned());
        }
    }
    None
}

/// The packages declared under `[dependencies]`, `[build-dependencies]` and
/// their `[target.'…'.…]` forms, including `[dependencies.NAME]` tables: by
/// package, not by key, so a renamed dependency (`tls = { package =
/// "rustls" }`, directly or through `[workspace.dependencies]`, whose
/// renames are `workspace`) is still seen for what it is.
fn normal_dependencies(manifest: &str, workspace: &BTreeMap<String, String>) -> Vec<String> {
    let checked = |section: &str| {
        let s = match section.strip_prefix("target.") {
            Some(t) => t.rsplit_once('.').map_or(t, |(_, kind)| kind),
            None => section,
        };
        s == "dependencies" || s == "build-dependencies"
    };
    // A key taken from the workspace stands for the package it renames there.
    let resolve = |key: &str, line: &str| match package_field(line) {
        Some(p) => p,
        None if line.contains("workspace") => workspace
            .get(key)
            .cloned()
            .unwrap_or_else(|| key.to_owned()),
        None => key.to_owned(),
    };
    let mut out = Vec::new();
    let mut in_deps = false;
    // Inside a `[dependencies.NAME]` table: its key and where it was pushed.
    let mut table: Option<(String, usize)> = None;
    for line in manifest.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.starts_with('[') {
            let section = line.trim_matches(|c| c == '[' || c == ']');
            table = None;
            in_deps = false;
            if let Some(name) = section
                .strip_prefix("dependencies.")
                .or_else(|| section.strip_prefix("build-dependencies."))
            {
                let key = name.trim_matches('"').to_owned();
                out.push(key.clone());
                table = Some((key, out.len() - 1));
            } else {
                in_deps = checked(section);
            }
            continue;
        }
        if let Some((key, at)) = &table {
            if line.starts_with("package") || line.starts_with("workspace") {
                out[*at] = resolve(key, line);
            }
            continue;
        }
        if in_deps {
            let key: String = line
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect();
            if !key.is_empty() {
                out.push(resolve(&key, &line[key.len()..]));
            }
        }
    }
    out
}

/// The renames of the root manifest's `[workspace.dependencies]`: key →
/// package, for entries that name a `package`.
fn workspace_renames(manifest: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut inside = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            inside = line == "[workspace.dependencies]";
            continue;
        }
        if !inside {
            continue;
        }
        let key: String = line
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        if let Some(package) = package_field(line).filter(|_| !key.is_empty()) {
            out.insert(key, package);
        }
    }
    out
}

/// The value of `package = "…"` in one manifest line, if it has one.
fn package_field(line: &str) -> Option<String> {
    let at = line.find("package")?;
    let rest = line[at + "package".len()..]
        .trim_start()
        .strip_prefix('=')?;
    let rest = rest.trim_start().strip_prefix('"')?;
    Some(rest[..rest.find('"')?].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependency_sections_are_read() {
        let manifest = r#"
[package]
name = "tf-x"

[dependencies]
hyper.workspace = true
rustls = { version = "0.23" }
# wasmtime = "1"

[dev-dependencies]
redb = "3"

[target.'cfg(unix)'.dependencies]
axum = "0.8"

[dependencies.ring]
version = "0.17"

[dependencies.db]
package = "redb"
version = "3"

[build-dependencies]
tls = { package = "rustls", version = "0.23" }
wt.workspace = true
"#;
        // A key the workspace renames names that package.
        let workspace = workspace_renames(
            "[workspace.dependencies]\nwt = { package = \"wasmtime\", version = \"48\" }\nhyper = \"1\"\n",
        );
        assert_eq!(
            workspace,
            BTreeMap::from([("wt".to_owned(), "wasmtime".to_owned())])
        );
        assert_eq!(package_name(manifest).as_deref(), Some("tf-x"));
        assert_eq!(
            normal_dependencies(manifest, &workspace),
            [
                "hyper", "rustls", "axum", "ring", "redb", "rustls", "wasmtime"
            ]
        );
        assert_eq!(
            workspace_members("[workspace]\nmembers = [\n  \"a/b\",\n  \"c\",\n]\n"),
            ["a/b", "c"]
        );
    }
}
