//! The connector author's commands that need no data dir: `tf connector
//! new` (scaffold a crate), `build` (cargo + embedded fixtures) and `test`
//! (fixtures against the built component in the real connector host).
//!
//! Never touches a gateway's data dir or a credential.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, anyhow, bail};
use cap_std::ambient_authority;
use cap_std::fs::Dir;
use tf_connector_host::{Host, HostConfig, fixtures, metadata};

use crate::args::{ConnectorBuildArgs, ConnectorNewArgs, ConnectorTestArgs};
use crate::scaffold;
use tf_runtime::datadir;

/// The SDK next to this tf's sources (used when `--sdk` is not given).
const BUILT_WITH_SDK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../sdk");

/// The wasm target connectors are built for.
const TARGET: &str = "wasm32-wasip2";

fn sdk_path(flag: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let path = flag.unwrap_or_else(|| PathBuf::from(BUILT_WITH_SDK));
    let manifest = path.join("Cargo.toml");
    if !manifest.is_file() {
        bail!(
            "no tameflare-sdk crate at {} (missing Cargo.toml); pass --sdk DIR or set TF_SDK_PATH to the SDK's directory",
            path.display()
        );
    }
    path.canonicalize()
        .with_context(|| format!("cannot resolve the SDK path {}", path.display()))
}

/// `tf connector new NAME --domains …` or `--from-openapi SPEC.json`.
pub(crate) fn new(args: ConnectorNewArgs) -> anyhow::Result<()> {
    let dir = args.dir.unwrap_or_else(|| PathBuf::from(&args.name));
    if dir.exists()
        && std::fs::read_dir(&dir)
            .with_context(|| format!("cannot read {}", dir.display()))?
            .next()
            .is_some()
    {
        bail!(
            "{} exists and is not empty; pick another --dir",
            dir.display()
        );
    }
    let sdk = sdk_path(args.sdk)?;
    let domains: Vec<String> = args
        .domains
        .iter()
        .map(|d| tf_core::ids::normalize_domain(d))
        .filter(|d| !d.is_empty())
        .collect();
    let files = match &args.from_openapi {
        Some(spec) => {
            let text = std::fs::read_to_string(spec)
                .with_context(|| format!("cannot read the OpenAPI document {}", spec.display()))?;
            scaffold::render_openapi(&args.name, &domains, &text, &sdk)
                .with_context(|| format!("{} cannot become a connector", spec.display()))?
        }
        None => scaffold::render(&args.name, &domains, &sdk)?,
    };
    for f in &files {
        let path = dir.join(f.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&path, &f.contents)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    out!(
        "created connector crate {} in {} ({} files)",
        args.name,
        dir.display(),
        files.len()
    );
    if args.from_openapi.is_some() {
        out!(
            "next: `cargo test`, `tf connector build`, `tf connector test <wasm>`, `tf connector install <wasm>`; rename actions or change risks with x-tameflare-action / x-tameflare-risk in spec/openapi.json, then `UPDATE_ROUTES=1 cargo test`"
        );
    } else {
        out!(
            "next: edit src/actions.rs, then `cargo test`, `tf connector build`, `tf connector test <wasm> --fixtures fixtures/`, `tf connector install <wasm>`"
        );
    }
    Ok(())
}

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// The crate's package name and target directory, from `cargo metadata`.
fn crate_info(path: &Path) -> anyhow::Result<(String, PathBuf)> {
    let manifest = path.join("Cargo.toml");
    let output = cargo()
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--manifest-path",
        ])
        .arg(&manifest)
        .output()
        .context("cannot run cargo (is Rust installed? https://rustup.rs)")?;
    if !output.status.success() {
        bail!(
            "cargo metadata failed for {}:\n{}",
            manifest.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let meta: serde_json::Value =
        serde_json::from_slice(&output.stdout).context("cargo metadata printed unexpected JSON")?;
    let target = meta["target_directory"]
        .as_str()
        .ok_or_else(|| anyhow!("cargo metadata has no target_directory"))?;
    let manifest = manifest
        .canonicalize()
        .with_context(|| format!("no Cargo.toml in {}", path.display()))?;
    let package = meta["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["manifest_path"].as_str().map(Path::new) == Some(manifest.as_path()))
        .and_then(|p| p["name"].as_str())
        .ok_or_else(|| anyhow!("{} names no package", manifest.display()))?;
    Ok((package.to_owned(), PathBuf::from(target)))
}

/// Every `*.jsonl` of `path` (a directory, sorted) or `path` itself,
/// concatenated with a `# file` line before each.
fn read_fixtures(path: &Path) -> anyhow::Result<(String, usize)> {
    let files: Vec<PathBuf> = if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .with_context(|| format!("cannot read {}", path.display()))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
            .collect();
        files.sort();
        files
    } else {
        vec![path.to_path_buf()]
    };
    let mut all = String::new();
    for f in &files {
        let text =
            std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))?;
        all.push_str(&format!(
            "{}{}\n",
            fixtures::FILE_MARKER,
            f.file_name().unwrap_or_default().to_string_lossy()
        ));
        all.push_str(&text);
        if !text.ends_with('\n') {
            all.push('\n');
        }
    }
    Ok((all, files.len()))
}

/// Replaces `path` whole ([`datadir::replace_file`]: temp file, then rename).
fn write_replacing(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| anyhow!("{} is not a file path", path.display()))?;
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let dir = Dir::open_ambient_dir(parent, ambient_authority())
        .with_context(|| format!("cannot open {}", parent.display()))?;
    datadir::replace_file(&dir, name, bytes, 0o644)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// `tf connector build`.
pub(crate) fn build(args: ConnectorBuildArgs) -> anyhow::Result<()> {
    let (component, default_out) = match &args.component {
        Some(file) => (file.clone(), file.clone()),
        None => {
            let (package, target_dir) = crate_info(&args.path)?;
            let status = cargo()
                .current_dir(&args.path)
                .args(["build", "--release", "--target", TARGET])
                .status()
                .context("cannot run cargo")?;
            if !status.success() {
                bail!(
                    "cargo build failed ({status}); if the target is missing: `rustup target add {TARGET}`"
                );
            }
            let file = target_dir
                .join(TARGET)
                .join("release")
                .join(format!("{}.wasm", package.replace('-', "_")));
            (file.clone(), file)
        }
    };
    let wasm = std::fs::read(&component)
        .with_context(|| format!("cannot read the component {}", component.display()))?;
    if args.component.is_some() && args.fixtures.is_none() {
        bail!(
            "--component needs --fixtures DIR (the fixtures to embed; an empty directory removes them)"
        );
    }
    let fixtures_dir = args
        .fixtures
        .clone()
        .unwrap_or_else(|| args.path.join("fixtures"));
    let (jsonl, files) = if fixtures_dir.exists() {
        read_fixtures(&fixtures_dir)?
    } else if args.fixtures.is_some() {
        bail!("no fixtures at {}", fixtures_dir.display());
    } else {
        (String::new(), 0)
    };
    let out_path = args.out.unwrap_or(default_out);
    let built = metadata::with_fixtures(&wasm, &jsonl)
        .with_context(|| format!("{} is not a usable component", component.display()))?;
    write_replacing(&out_path, &built)?;
    let meta = metadata::read(&built)?;
    out!(
        "built {} ({} bytes, sha256 {}), {} fixture file(s) embedded, sdk: {}",
        out_path.display(),
        built.len(),
        metadata::sha256_hex(&built),
        files,
        meta.sdk.as_deref().unwrap_or("none")
    );
    Ok(())
}

/// `tf connector test FILE [--fixtures PATH]`: exit status 1 when a fixture fails.
pub(crate) fn test(args: ConnectorTestArgs) -> anyhow::Result<bool> {
    let wasm = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let meta = metadata::read(&wasm)
        .with_context(|| format!("{} is not a usable component", args.file.display()))?;
    let (jsonl, source) = match &args.fixtures {
        Some(path) => (read_fixtures(path)?.0, path.display().to_string()),
        None => (
            meta.fixtures.clone().ok_or_else(|| {
                anyhow!(
                    "{} has no embedded fixtures; pass --fixtures DIR (or embed them with `tf connector build`)",
                    args.file.display()
                )
            })?,
            "embedded fixtures".to_owned(),
        ),
    };
    // Load without the embedded fixtures, then run the chosen ones, so the
    // report lists every case rather than stopping at the load.
    let bare = metadata::with_fixtures(&wasm, "")?;
    let host = Host::new(HostConfig::default(), None).context("cannot start the connector host")?;
    let connector = host
        .load(&bare)
        .map_err(|e| anyhow!("{} is refused by the host: {e}", args.file.display()))?;
    let d = connector.descriptor();
    let report = fixtures::run_with_host(&connector, &jsonl, args.host.as_deref())
        .with_context(|| source.clone())?;
    out!(
        "{} {} ({}, {} actions, domains {}), {source}:",
        d.name,
        d.version,
        meta.sdk.as_deref().unwrap_or("no SDK section"),
        d.actions.len(),
        if d.domains.is_empty() {
            "-".to_owned()
        } else {
            d.domains.join(",")
        }
    );
    if report.passed() {
        out!("ok: {} fixtures passed", report.total);
        Ok(true)
    } else {
        out!("{report}");
        Ok(false)
    }
}
