//! `tf connector new`: the files of a new connector crate, rendered from the
//! templates in `scaffold/`.
//!
//! The crate is a complete, minimal connector on the TameFlare SDK: a route
//! table in `src/actions.rs` (the file its author edits) that yields both the
//! catalogue and the routing, the `Connector` impl in `src/lib.rs`, fixtures
//! and the test that runs them, a README with the author's loop. With
//! `--from-openapi` ([`render_openapi`]) the table is instead generated from
//! an OpenAPI 3 document by the SDK's generator (`tameflare_sdk::codegen`,
//! the one the built-in connectors use), one action per operation, with a
//! fixture per operation and a test that keeps the table current with the
//! spec (templates in `scaffold/openapi/`). Rendering is pure and
//! deterministic; writing the files is the caller's business.
//!
//! Templates mark their holes `{{key}}`; one left-to-right pass fills them,
//! so a value (e.g. an SDK path containing `{{name}}`) is never re-expanded.

use std::fmt;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use tameflare_sdk::codegen::openapi::{self, OpenApiError};
use tf_core::DomainError;
use tf_core::ids::{check_domain, is_connector_name};

/// One file of a new connector crate: path relative to the crate root, contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScaffoldFile {
    pub(crate) path: &'static str,
    pub(crate) contents: String,
}

/// Why a scaffold request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ScaffoldError {
    /// Not `[a-z][a-z0-9_-]*`, or longer than [`MAX_NAME`] bytes.
    Name(String),
    /// A Rust keyword or a name Cargo or the build reserves.
    ReservedName(String),
    /// No domain given.
    NoDomains,
    /// Not a lowercase host name, or a wildcard.
    Domain(DomainError),
    /// The same domain twice.
    DuplicateDomain(String),
    /// The SDK path is relative.
    SdkPathNotAbsolute(PathBuf),
    /// The SDK path cannot be written into `Cargo.toml` (not UTF-8).
    SdkPathNotUtf8(PathBuf),
    /// The OpenAPI document cannot become a connector.
    OpenApi(OpenApiError),
    /// No `--domains` given and the document's servers name no host.
    NoServerHost,
}

impl fmt::Display for ScaffoldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScaffoldError::Name(n) => write!(
                f,
                "connector name {n:?} is not a lowercase identifier ([a-z][a-z0-9_-]*, at most {MAX_NAME} bytes)"
            ),
            ScaffoldError::ReservedName(n) => write!(
                f,
                "connector name {n:?} is reserved (a Rust keyword or a crate or directory name Cargo reserves); pick another"
            ),
            ScaffoldError::NoDomains => {
                f.write_str("a connector needs at least one domain (e.g. api.example.com)")
            }
            ScaffoldError::Domain(e) => write!(f, "{e}"),
            ScaffoldError::DuplicateDomain(d) => write!(f, "domain {d:?} is given twice"),
            ScaffoldError::SdkPathNotAbsolute(p) => {
                write!(f, "the SDK path {} is not absolute", p.display())
            }
            ScaffoldError::SdkPathNotUtf8(p) => write!(
                f,
                "the SDK path {} is not valid UTF-8, so Cargo.toml cannot name it",
                p.display()
            ),
            ScaffoldError::OpenApi(e) => write!(f, "the OpenAPI document: {e}"),
            ScaffoldError::NoServerHost => f.write_str(
                "the OpenAPI document's servers name no host (absent, relative or templated URLs); pass --domains",
            ),
        }
    }
}

impl std::error::Error for ScaffoldError {}

/// Longest connector name (the host's limit).
pub(crate) const MAX_NAME: usize = tf_core::ids::MAX_NAME;

const CARGO_TOML: &str = include_str!("scaffold/Cargo.toml.tmpl");
const GITIGNORE: &str = include_str!("scaffold/gitignore.tmpl");
const README: &str = include_str!("scaffold/README.md.tmpl");
const LIB_RS: &str = include_str!("scaffold/lib.rs.tmpl");
const ACTIONS_RS: &str = include_str!("scaffold/actions.rs.tmpl");
const FIXTURES_RS: &str = include_str!("scaffold/fixtures.rs.tmpl");
const BASIC_JSONL: &str = include_str!("scaffold/basic.jsonl.tmpl");
const OPENAPI_README: &str = include_str!("scaffold/openapi/README.md.tmpl");
const OPENAPI_LIB_RS: &str = include_str!("scaffold/openapi/lib.rs.tmpl");
const OPENAPI_ACTIONS_RS: &str = include_str!("scaffold/openapi/actions.rs.tmpl");
const OPENAPI_ROUTES_TEST: &str = include_str!("scaffold/openapi/routes_test.rs.tmpl");

/// Every file of a hand-written table, in the order written.
const FILES: [(&str, &str); 7] = [
    ("Cargo.toml", CARGO_TOML),
    (".gitignore", GITIGNORE),
    ("README.md", README),
    ("src/lib.rs", LIB_RS),
    ("src/actions.rs", ACTIONS_RS),
    ("tests/fixtures.rs", FIXTURES_RS),
    ("fixtures/basic.jsonl", BASIC_JSONL),
];

/// The templated files of a generated table, in the order written (then
/// `src/routes.rs`, `fixtures/generated.jsonl` and `spec/openapi.json`).
const OPENAPI_FILES: [(&str, &str); 7] = [
    ("Cargo.toml", CARGO_TOML),
    (".gitignore", GITIGNORE),
    ("README.md", OPENAPI_README),
    ("src/lib.rs", OPENAPI_LIB_RS),
    ("src/actions.rs", OPENAPI_ACTIONS_RS),
    ("tests/fixtures.rs", FIXTURES_RS),
    ("tests/routes.rs", OPENAPI_ROUTES_TEST),
];

/// Strict and reserved keywords of every edition up to 2024.
const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate",
    "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl",
    "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref",
    "return", "self", "static", "struct", "super", "trait", "true", "try", "type", "typeof",
    "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// Crate names that clash with the sysroot or the SDK, and names Cargo
/// refuses because they are its own directories.
const RESERVED_CRATES: &[&str] = &[
    "alloc",
    "core",
    "proc_macro",
    "std",
    "test",
    "tameflare_sdk",
    "build",
    "deps",
    "examples",
    "incremental",
];

/// Names the generated `src/lib.rs` and `tests/fixtures.rs` use, and the
/// standard prelude's: a connector type named like one would shadow it, so
/// it gets a `Connector` suffix instead.
const TAKEN_TYPE_NAMES: &[&str] = &[
    "Action",
    "ClassifyError",
    "Connector",
    "Descriptor",
    "Fixture",
    "OnceLock",
    "Param",
    "Path",
    "PathBuf",
    "Placement",
    "Request",
    "RouterBuf",
    "RouterBuilder",
    // The prelude.
    "AsMut",
    "AsRef",
    "Box",
    "Clone",
    "Copy",
    "Default",
    "DoubleEndedIterator",
    "Drop",
    "Eq",
    "Err",
    "ExactSizeIterator",
    "Extend",
    "Fn",
    "FnMut",
    "FnOnce",
    "From",
    "FromIterator",
    "Into",
    "IntoIterator",
    "Iterator",
    "None",
    "Ok",
    "Option",
    "Ord",
    "PartialEq",
    "PartialOrd",
    "Result",
    "Send",
    "Sized",
    "Some",
    "String",
    "Sync",
    "ToOwned",
    "ToString",
    "TryFrom",
    "TryInto",
    "Unpin",
    "Vec",
];

/// Widest line rustfmt keeps, for the `DOMAINS` constant.
const LINE_WIDTH: usize = 100;

/// Renders the files of connector `name` (a lowercase identifier
/// `[a-z][a-z0-9_-]*`, at most 64 bytes) serving `domains` (lowercase host
/// names, at least one), depending on the SDK at `sdk_path` (an absolute
/// path, written as a TOML string with proper escaping).
pub(crate) fn render(
    name: &str,
    domains: &[String],
    sdk_path: &Path,
) -> Result<Vec<ScaffoldFile>, ScaffoldError> {
    check_name(name)?;
    let vars = vars(name, domains, sdk_path, "\"testing\"")?;
    Ok(FILES
        .iter()
        .map(|&(path, template)| ScaffoldFile {
            path,
            contents: fill(template, &vars),
        })
        .collect())
}

/// Renders connector `name` with its whole catalogue generated from the
/// OpenAPI 3 document `spec` (JSON text), one action per operation, serving
/// `domains`, or when none are given the hosts of the document's servers.
/// Refuses (writing nothing) a document that is not JSON, not OpenAPI 3,
/// has no operations, or whose operations would share an action name or a
/// route.
pub(crate) fn render_openapi(
    name: &str,
    domains: &[String],
    spec: &str,
    sdk_path: &Path,
) -> Result<Vec<ScaffoldFile>, ScaffoldError> {
    check_name(name)?;
    let generated = openapi::generate_connector(name, spec).map_err(ScaffoldError::OpenApi)?;
    let domains = if domains.is_empty() {
        if generated.hosts.is_empty() {
            return Err(ScaffoldError::NoServerHost);
        }
        &generated.hosts[..]
    } else {
        domains
    };
    let mut vars = vars(name, domains, sdk_path, "\"testing\", \"codegen\"")?;
    vars.push(("operations", generated.actions.len().to_string()));
    vars.push(("example_action", generated.actions[0].clone()));
    let mut files: Vec<ScaffoldFile> = OPENAPI_FILES
        .iter()
        .map(|&(path, template)| ScaffoldFile {
            path,
            contents: fill(template, &vars),
        })
        .collect();
    files.extend([
        ScaffoldFile {
            path: "src/routes.rs",
            contents: generated.routes_rs,
        },
        ScaffoldFile {
            path: "fixtures/generated.jsonl",
            contents: generated.fixtures_jsonl,
        },
        ScaffoldFile {
            path: "spec/openapi.json",
            contents: spec.to_owned(),
        },
    ]);
    Ok(files)
}

/// The holes every template may use, after checking the domains and the
/// SDK path.
fn vars(
    name: &str,
    domains: &[String],
    sdk_path: &Path,
    dev_features: &str,
) -> Result<Vec<(&'static str, String)>, ScaffoldError> {
    check_domains(domains)?;
    if !sdk_path.is_absolute() {
        return Err(ScaffoldError::SdkPathNotAbsolute(sdk_path.to_path_buf()));
    }
    let sdk = sdk_path
        .to_str()
        .ok_or_else(|| ScaffoldError::SdkPathNotUtf8(sdk_path.to_path_buf()))?;
    let crate_ident = name.replace('-', "_");
    Ok(vec![
        ("name", name.to_owned()),
        ("crate", crate_ident.clone()),
        ("type", type_name(name)),
        ("sdk_path", toml_string(sdk)),
        ("dev_features", dev_features.to_owned()),
        ("first_domain", domains[0].clone()),
        ("domains_rust", domains_rust(domains)),
        ("domains_md", domains_md(domains)),
        (
            "token_env",
            format!("{}_TOKEN", crate_ident.to_ascii_uppercase()),
        ),
    ])
}

fn check_name(name: &str) -> Result<(), ScaffoldError> {
    if !is_connector_name(name) {
        return Err(ScaffoldError::Name(name.to_owned()));
    }
    let ident = name.replace('-', "_");
    if KEYWORDS.contains(&ident.as_str()) || RESERVED_CRATES.contains(&ident.as_str()) {
        return Err(ScaffoldError::ReservedName(name.to_owned()));
    }
    Ok(())
}

fn check_domains(domains: &[String]) -> Result<(), ScaffoldError> {
    if domains.is_empty() {
        return Err(ScaffoldError::NoDomains);
    }
    for (i, d) in domains.iter().enumerate() {
        check_domain(d).map_err(ScaffoldError::Domain)?;
        if domains[..i].contains(d) {
            return Err(ScaffoldError::DuplicateDomain(d.clone()));
        }
    }
    Ok(())
}

/// `my-api_v2` → `MyApiV2`; a name the generated code already uses
/// (`Connector`, `Result`, …) gets a `Connector` suffix.
fn type_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 9);
    for part in name.split(['-', '_']).filter(|p| !p.is_empty()) {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            out.extend(chars);
        }
    }
    if TAKEN_TYPE_NAMES.contains(&out.as_str()) {
        out.push_str("Connector");
    }
    out
}

/// `s` as a TOML basic string, quotes included.
fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The elements of `DOMAINS`, on the constant's line when it fits (as
/// rustfmt would have it), else one per line.
fn domains_rust(domains: &[String]) -> String {
    let one_line = domains
        .iter()
        .map(|d| format!("{d:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    if "pub const DOMAINS: &[&str] = &[];".len() + one_line.len() <= LINE_WIDTH {
        return one_line;
    }
    let mut s = String::from("\n");
    for d in domains {
        let _ = writeln!(s, "    {d:?},");
    }
    s
}

/// `` `a.test` `` or `` `a.test`, `b.test` ``.
fn domains_md(domains: &[String]) -> String {
    domains
        .iter()
        .map(|d| format!("`{d}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Replaces each `{{key}}` of `template` by its value, in one pass.
fn fill(template: &str, vars: &[(&str, String)]) -> String {
    let mut out = String::with_capacity(template.len() + 512);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            panic!("a scaffold template has an unclosed `{{{{`");
        };
        let key = &after[..end];
        let Some((_, value)) = vars.iter().find(|(k, _)| *k == key) else {
            panic!("a scaffold template names an unknown hole `{key}`");
        };
        out.push_str(value);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acme() -> Vec<ScaffoldFile> {
        render(
            "acme",
            &["api.acme.internal".to_owned()],
            Path::new("/work/main/sdk"),
        )
        .unwrap()
    }

    fn file<'a>(files: &'a [ScaffoldFile], path: &str) -> &'a str {
        &files
            .iter()
            .find(|f| f.path == path)
            .unwrap_or_else(|| panic!("no {path}"))
            .contents
    }

    #[test]
    fn renders_every_file_deterministically() {
        let files = acme();
        assert_eq!(files, acme());
        let paths: Vec<&str> = files.iter().map(|f| f.path).collect();
        assert_eq!(
            paths,
            [
                "Cargo.toml",
                ".gitignore",
                "README.md",
                "src/lib.rs",
                "src/actions.rs",
                "tests/fixtures.rs",
                "fixtures/basic.jsonl"
            ]
        );
        for f in &files {
            assert!(
                !f.contents.contains("{{"),
                "{} has an unfilled hole",
                f.path
            );
            assert!(
                f.contents.ends_with('\n'),
                "{} lacks a final newline",
                f.path
            );
        }
    }

    #[test]
    fn acme_contents() {
        let files = acme();
        let cargo = file(&files, "Cargo.toml");
        for line in [
            "name = \"acme\"",
            "version = \"0.1.0\"",
            "edition = \"2024\"",
            "crate-type = [\"cdylib\", \"rlib\"]",
            "tameflare-sdk = { path = \"/work/main/sdk\" }",
            "tameflare-sdk = { path = \"/work/main/sdk\", features = [\"testing\"] }",
            "[workspace]",
            "opt-level = \"s\"",
            "lto = true",
            "strip = true",
            "codegen-units = 1",
        ] {
            assert!(cargo.lines().any(|l| l == line), "Cargo.toml lacks {line}");
        }
        assert!(!cargo.contains("panic"));
        let lib = file(&files, "src/lib.rs");
        assert!(lib.contains("pub const DOMAINS: &[&str] = &[\"api.acme.internal\"];"));
        assert!(lib.contains("pub struct Acme;"));
        assert!(lib.contains("name: \"acme\".into(),"));
        assert!(lib.contains("tameflare_sdk::export_connector!(Acme);"));
        let actions = file(&files, "src/actions.rs");
        let jsonl = file(&files, "fixtures/basic.jsonl");
        for action in ["acme.item.list", "acme.item.get", "acme.item.delete"] {
            assert!(actions.contains(&format!("action: \"{action}\",")));
            assert!(jsonl.contains(&format!("\"name\":\"{action}\"")));
        }
        assert!(jsonl.contains("\"error\":\"unknown_route\""));
        assert!(file(&files, "tests/fixtures.rs").contains("use acme::Acme;"));
        let readme = file(&files, "README.md");
        assert!(readme.contains(
            "tf connector test target/wasm32-wasip2/release/acme.wasm --fixtures fixtures/"
        ));
        assert!(readme.contains("--token-env ACME_TOKEN"));
        assert_eq!(file(&files, ".gitignore"), "/target\n");
    }

    #[test]
    fn dashes_become_underscores_where_rust_needs_an_identifier() {
        let files = render("my-api_v2", &["api.my.test".to_owned()], Path::new("/sdk")).unwrap();
        assert!(file(&files, "Cargo.toml").contains("name = \"my-api_v2\""));
        let lib = file(&files, "src/lib.rs");
        assert!(lib.contains("pub struct MyApiV2;"));
        assert!(lib.contains("name: \"my-api_v2\".into(),"));
        assert!(file(&files, "src/actions.rs").contains("\"my-api_v2.item.get\""));
        assert!(file(&files, "tests/fixtures.rs").contains("use my_api_v2::MyApiV2;"));
        let readme = file(&files, "README.md");
        assert!(readme.contains("release/my_api_v2.wasm"));
        assert!(readme.contains("MY_API_V2_TOKEN"));
    }

    #[test]
    fn type_names() {
        for (name, want) in [
            ("acme", "Acme"),
            ("s3", "S3"),
            ("a--b_", "AB"),
            ("x_2y", "X2y"),
            ("connector", "ConnectorConnector"),
            ("result", "ResultConnector"),
            ("request", "RequestConnector"),
        ] {
            assert_eq!(type_name(name), want, "{name}");
        }
    }

    #[test]
    fn bad_names_are_refused() {
        let domains = ["a.test".to_owned()];
        let sdk = Path::new("/sdk");
        let long = "a".repeat(MAX_NAME + 1);
        for name in [
            "", "Acme", "1acme", "-acme", "_acme", "a.b", "a b", "café", &long,
        ] {
            let err = render(name, &domains, sdk).unwrap_err();
            assert_eq!(err, ScaffoldError::Name(name.to_owned()));
            assert!(err.to_string().contains("[a-z][a-z0-9_-]*"), "{err}");
        }
        for name in [
            "fn",
            "self",
            "async",
            "gen",
            "std",
            "test",
            "proc-macro",
            "tameflare-sdk",
            "build",
        ] {
            let err = render(name, &domains, sdk).unwrap_err();
            assert_eq!(err, ScaffoldError::ReservedName(name.to_owned()));
            assert!(err.to_string().contains("reserved"), "{err}");
        }
        assert!(render(&"a".repeat(MAX_NAME), &domains, sdk).is_ok());
    }

    #[test]
    fn bad_domains_are_refused() {
        let sdk = Path::new("/sdk");
        let err = render("acme", &[], sdk).unwrap_err();
        assert_eq!(err, ScaffoldError::NoDomains);
        assert!(err.to_string().contains("at least one domain"));
        let long_label = format!("{}.test", "a".repeat(64));
        for bad in [
            "",
            "API.acme.com",
            "*.acme.com",
            "acme.com.",
            "acme.com:443",
            "https://acme.com",
            "-a.com",
            "a-.com",
            "a..com",
            "a_b.com",
            long_label.as_str(),
        ] {
            let err = render("acme", &["ok.test".to_owned(), bad.to_owned()], sdk).unwrap_err();
            assert_eq!(err, ScaffoldError::Domain(check_domain(bad).unwrap_err()));
            let why = if bad.contains('*') {
                "wildcard domains are not supported"
            } else {
                "lowercase host name"
            };
            assert!(err.to_string().contains(why), "{err}");
        }
        let twice = [
            "a.test".to_owned(),
            "b.test".to_owned(),
            "a.test".to_owned(),
        ];
        assert_eq!(
            render("acme", &twice, sdk).unwrap_err(),
            ScaffoldError::DuplicateDomain("a.test".to_owned())
        );
    }

    #[test]
    fn many_domains_go_one_per_line() {
        let domains: Vec<String> = (0..6).map(|i| format!("api{i}.acme.internal")).collect();
        let files = render("acme", &domains, Path::new("/sdk")).unwrap();
        let lib = file(&files, "src/lib.rs");
        assert!(lib.contains(
            "pub const DOMAINS: &[&str] = &[\n    \"api0.acme.internal\",\n    \"api1.acme.internal\",\n"
        ));
        assert!(lib.contains("    \"api5.acme.internal\",\n];\n"));
        // Fixtures default to the first domain.
        assert!(file(&files, "fixtures/basic.jsonl").contains("api0.acme.internal"));
    }

    #[test]
    fn sdk_path_is_a_toml_string() {
        assert_eq!(toml_string("/work/main/sdk"), r#""/work/main/sdk""#);
        assert_eq!(
            toml_string("C:\\Users\\me\\\"sdk\"\t\n\u{7f}é"),
            r#""C:\\Users\\me\\\"sdk\"\t\n\u007Fé""#
        );
        let files = render(
            "acme",
            &["a.test".to_owned()],
            Path::new("/tmp/we\"ird\\{{name}}/sdk"),
        )
        .unwrap();
        let cargo = file(&files, "Cargo.toml");
        assert!(
            cargo.contains(r#"tameflare-sdk = { path = "/tmp/we\"ird\\{{name}}/sdk" }"#),
            "{cargo}"
        );
    }

    #[test]
    fn sdk_path_must_be_absolute_utf8() {
        let domains = ["a.test".to_owned()];
        assert_eq!(
            render("acme", &domains, Path::new("sdk")).unwrap_err(),
            ScaffoldError::SdkPathNotAbsolute(PathBuf::from("sdk"))
        );
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt as _;
            let p = Path::new(std::ffi::OsStr::from_bytes(b"/tmp/\xff/sdk"));
            let err = render("acme", &domains, p).unwrap_err();
            assert_eq!(err, ScaffoldError::SdkPathNotUtf8(p.to_path_buf()));
            assert!(err.to_string().contains("not valid UTF-8"));
        }
    }

    const PETS: &str = r#"{"openapi":"3.0.3","info":{"title":"Pets"},"servers":[{"url":"https://pets.example.test/v1"}],"paths":{"/pets":{"get":{"operationId":"listPets","summary":"List pets"}},"/pets/{petId}":{"delete":{"operationId":"deletePet"}}}}"#;

    #[test]
    fn openapi_renders_a_generated_crate() {
        let files = render_openapi("pets", &[], PETS, Path::new("/sdk")).unwrap();
        let paths: Vec<&str> = files.iter().map(|f| f.path).collect();
        assert_eq!(
            paths,
            [
                "Cargo.toml",
                ".gitignore",
                "README.md",
                "src/lib.rs",
                "src/actions.rs",
                "tests/fixtures.rs",
                "tests/routes.rs",
                "src/routes.rs",
                "fixtures/generated.jsonl",
                "spec/openapi.json"
            ]
        );
        for f in &files {
            assert!(
                !f.contents.contains("{{"),
                "{} has an unfilled hole",
                f.path
            );
        }
        assert!(file(&files, "Cargo.toml").lines().any(
            |l| l == r#"tameflare-sdk = { path = "/sdk", features = ["testing", "codegen"] }"#
        ));
        // Domains default to the servers' hosts.
        assert!(
            file(&files, "src/lib.rs")
                .contains(r#"pub const DOMAINS: &[&str] = &["pets.example.test"];"#)
        );
        let routes = file(&files, "src/routes.rs");
        assert!(routes.contains(r#"action: "pets.list_pets", "#));
        assert!(routes.contains(r#"path: "/v1/pets/{petId}", "#));
        assert_eq!(
            file(&files, "fixtures/generated.jsonl")
                .lines()
                .filter(|l| l.starts_with('{'))
                .count(),
            3
        );
        assert_eq!(file(&files, "spec/openapi.json"), PETS);
        assert!(file(&files, "tests/routes.rs").contains(r#"generate_connector("pets", spec)"#));
        assert!(file(&files, "README.md").contains("2 of them, e.g. `pets.list_pets`"));
        let given = render_openapi(
            "pets",
            &["api.pets.test".to_owned()],
            PETS,
            Path::new("/sdk"),
        )
        .unwrap();
        assert!(file(&given, "src/lib.rs").contains(r#"&["api.pets.test"]"#));
    }

    #[test]
    fn openapi_refusals() {
        let sdk = Path::new("/sdk");
        let no_host = r#"{"openapi":"3.0.3","paths":{"/a":{"get":{}}}}"#;
        assert_eq!(
            render_openapi("pets", &[], no_host, sdk).unwrap_err(),
            ScaffoldError::NoServerHost
        );
        assert!(render_openapi("pets", &["a.test".to_owned()], no_host, sdk).is_ok());
        assert_eq!(
            render_openapi("Pets", &[], PETS, sdk).unwrap_err(),
            ScaffoldError::Name("Pets".to_owned())
        );
        for (doc, want) in [
            ("{", "not a JSON document"),
            (r#"{"swagger":"2.0"}"#, "only OpenAPI 3.x"),
            (r#"{"openapi":"3.0.0","paths":{}}"#, "no operations"),
        ] {
            let err = render_openapi("pets", &[], doc, sdk).unwrap_err();
            assert!(matches!(err, ScaffoldError::OpenApi(_)), "{err:?}");
            assert!(err.to_string().contains(want), "{err}");
        }
    }
}
