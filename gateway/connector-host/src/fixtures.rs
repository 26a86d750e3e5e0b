//! Fixtures run against a loaded component: the same JSON-lines format as
//! the SDK's native harness (`tameflare_sdk::testing`), so one file checks
//! a connector under `cargo test`, under `tf connector test`, and at every
//! load by the gateway.
//!
//! One line per case:
//!
//! ```json
//! {"method":"PUT","path":"/repos/o/r/pulls/7/merge","expect":{"name":"github.pr.merge","resource":"o/r/pulls/7","risk":"high","params":{"pull_number":7}}}
//! {"method":"TRACE","path":"/","error":"unsupported_method"}
//! ```
//!
//! `host` defaults to the last `# host: NAME` line above it, else the
//! connector's first domain. Blank lines and other lines starting with `#`
//! are skipped.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Deserialize;
use tf_core::{Action, Classifier, ClassifyError, ConnectorRequest, ParamValue};

use crate::Connector;

/// A comment line that starts a new fixture file when several are
/// concatenated (`tf connector build`): line numbers restart, and
/// failures name the file.
pub const FILE_MARKER: &str = "# file: ";

/// A comment line `# host: NAME` sets the host of the fixtures after it
/// that name none (until the next one, or the next file).
pub const HOST_DIRECTIVE: &str = "# host:";

/// Most fixture lines one file (or embedded section) may hold.
pub const MAX_FIXTURES: usize = 10_000;

/// Host used for fixtures without one when the connector claims no domain.
const FALLBACK_HOST: &str = "fixture.invalid";

/// Why fixtures could not be run at all.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum FixtureError {
    #[error("fixture {at}: {message}")]
    Parse { at: String, message: String },
    #[error("more than {MAX_FIXTURES} fixtures")]
    TooMany,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Fixture {
    method: String,
    host: Option<String>,
    path: String,
    query: Option<String>,
    body: Option<serde_json::Value>,
    expect: Option<Expect>,
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    name: String,
    resource: Option<String>,
    risk: Option<String>,
    params: Option<BTreeMap<String, serde_json::Value>>,
}

/// The outcome of running fixtures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FixtureReport {
    /// Cases run.
    pub total: usize,
    /// One entry per failing case: `METHOD host/path:` and a line diff.
    pub failures: Vec<String>,
}

impl FixtureReport {
    /// True when every case passed.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

impl std::fmt::Display for FixtureReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} of {} fixtures failed",
            self.failures.len(),
            self.total
        )?;
        for failure in &self.failures {
            write!(f, "\n{failure}")?;
        }
        Ok(())
    }
}

/// Fixtures with where each came from (`file:line`, or `line N`).
fn parse(jsonl: &str) -> Result<Vec<(String, Fixture)>, FixtureError> {
    let mut out = Vec::new();
    let mut file: Option<&str> = None;
    let mut host: Option<&str> = None;
    let mut base = 0;
    for (i, line) in jsonl.lines().enumerate() {
        if let Some(name) = line.strip_prefix(FILE_MARKER) {
            file = Some(name.trim());
            host = None;
            base = i + 1;
            continue;
        }
        if let Some(h) = line.trim().strip_prefix(HOST_DIRECTIVE) {
            host = Some(h.trim());
            continue;
        }
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let at = match file {
            Some(f) => format!("{f}:{}", i + 1 - base),
            None => format!("line {}", i + 1),
        };
        if out.len() == MAX_FIXTURES {
            return Err(FixtureError::TooMany);
        }
        let fixture: Fixture = serde_json::from_str(trimmed).map_err(|e| FixtureError::Parse {
            at: at.clone(),
            message: e.to_string(),
        })?;
        if fixture.expect.is_some() == fixture.error.is_some() {
            return Err(FixtureError::Parse {
                at,
                message: "a fixture needs exactly one of `expect` and `error`".into(),
            });
        }
        let mut fixture = fixture;
        if fixture.host.is_none() {
            fixture.host = host.map(str::to_owned);
        }
        out.push((at, fixture));
    }
    Ok(out)
}

impl Fixture {
    /// The request as the gateway would hand it over: no body unless the
    /// connector asked for bodies.
    fn request(&self, default_host: &str, needs_body: bool) -> ConnectorRequest {
        ConnectorRequest {
            method: self.method.clone(),
            scheme: "https".into(),
            host: self.host.as_deref().unwrap_or(default_host).to_owned(),
            path: self.path.clone(),
            query: self.query.clone(),
            headers: vec![("content-type".into(), "application/json".into())],
            body: self.body.as_ref().filter(|_| needs_body).map(|b| match b {
                serde_json::Value::String(s) => s.clone().into_bytes(),
                other => other.to_string().into_bytes(),
            }),
        }
    }
}

fn json_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(t) => format!("{t:?}"),
        other => other.to_string(),
    }
}

fn render_expected(f: &Fixture) -> String {
    if let Some(code) = &f.error {
        return format!("error: {code}\n");
    }
    let Some(e) = &f.expect else {
        return String::new();
    };
    let mut s = format!("name: {}\n", e.name);
    if let Some(r) = &e.resource {
        let _ = writeln!(s, "resource: {r}");
    }
    if let Some(r) = &e.risk {
        let _ = writeln!(s, "risk: {r}");
    }
    for (k, v) in e.params.iter().flatten() {
        let _ = writeln!(s, "param {k} = {}", json_text(v));
    }
    s
}

fn render_result(r: &Result<Action, ClassifyError>, f: &Fixture) -> String {
    let a = match r {
        Ok(a) => a,
        Err(ClassifyError::Rejected { code, .. }) => return format!("error: {code}\n"),
        Err(e) => return format!("failed: {e}\n"),
    };
    let mut s = format!("name: {}\n", a.name);
    let Some(e) = &f.expect else {
        return s;
    };
    if e.resource.is_some() {
        let _ = writeln!(s, "resource: {}", a.resource);
    }
    if e.risk.is_some() {
        let _ = writeln!(s, "risk: {}", a.risk.as_str());
    }
    if e.params.is_some() {
        let mut params: Vec<_> = a.params.iter().collect();
        params.sort_by(|x, y| x.name.cmp(&y.name));
        for p in params {
            let v = match &p.value {
                ParamValue::Text(t) => format!("{t:?}"),
                ParamValue::Integer(i) => i.to_string(),
                ParamValue::Boolean(b) => b.to_string(),
            };
            let _ = writeln!(s, "param {} = {v}", p.name);
        }
    }
    s
}

/// A line diff: `-` expected only, `+` actual only, blank both.
fn diff(want: &str, got: &str) -> String {
    let w: Vec<&str> = want.lines().collect();
    let g: Vec<&str> = got.lines().collect();
    let mut out = String::new();
    for l in &w {
        let mark = if g.contains(l) { ' ' } else { '-' };
        let _ = writeln!(out, "  {mark} {l}");
    }
    for l in g.iter().filter(|l| !w.contains(l)) {
        let _ = writeln!(out, "  + {l}");
    }
    out
}

/// Runs `jsonl` against a loaded connector; fixtures without a host use
/// the connector's first domain.
pub fn run(connector: &Connector, jsonl: &str) -> Result<FixtureReport, FixtureError> {
    run_with_host(connector, jsonl, None)
}

/// Like [`run`], with `default_host` (when given) for fixtures without one.
pub fn run_with_host(
    connector: &Connector,
    jsonl: &str,
    default_host: Option<&str>,
) -> Result<FixtureReport, FixtureError> {
    let fixtures = parse(jsonl)?;
    let first_domain = connector
        .descriptor()
        .domains
        .first()
        .map(|d| d.trim_start_matches("*."));
    let default_host = default_host.or(first_domain).unwrap_or(FALLBACK_HOST);
    let mut report = FixtureReport {
        total: fixtures.len(),
        failures: Vec::new(),
    };
    let needs_body = connector.descriptor().needs_body;
    for (at, f) in &fixtures {
        let req = f.request(default_host, needs_body);
        let got = render_result(&connector.classify(&req), f);
        let want = render_expected(f);
        if got != want {
            report.failures.push(format!(
                "{at}: {} {}{}:\n{}",
                f.method,
                req.host,
                f.path,
                diff(&want, &got).trim_end()
            ));
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_errors_name_the_line() {
        let err = parse("# c\n\n{\"method\":1}").unwrap_err();
        assert!(
            matches!(err, FixtureError::Parse { ref at, .. } if at == "line 3"),
            "{err}"
        );
        let two_files = "# file: a.jsonl\n{\"method\":\"GET\",\"path\":\"/\",\"error\":\"x\"}\n# file: b.jsonl\n\n{\"method\":1}";
        let err = parse(two_files).unwrap_err();
        assert!(
            matches!(err, FixtureError::Parse { ref at, .. } if at == "b.jsonl:2"),
            "{err}"
        );
        let err = parse(r#"{"method":"GET","path":"/"}"#).unwrap_err();
        assert!(err.to_string().contains("exactly one"), "{err}");
        let err = parse(r#"{"method":"GET","path":"/","error":"x","bogus":1}"#).unwrap_err();
        assert!(err.to_string().contains("bogus"), "{err}");
    }

    #[test]
    fn diff_marks_both_sides() {
        assert_eq!(diff("a\nb\n", "a\nc\n"), "    a\n  - b\n  + c\n");
    }
}
