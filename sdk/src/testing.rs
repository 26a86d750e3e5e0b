//! A native fixture harness: JSON lines of request → expected action (or
//! expected error code), checked against a [`Connector`] with a readable
//! report of every mismatch.
//!
//! One line per case:
//!
//! ```json
//! {"method":"PUT","path":"/repos/octo/hello/pulls/7/merge","expect":{"name":"github.pr.merge","resource":"octo/hello/pulls/7","risk":"high","params":{"number":7}}}
//! {"method":"TRACE","host":"example.com","path":"/","error":"unsupported_method"}
//! ```
//!
//! `host` defaults to the harness's default host, `query` is the raw query
//! string, `body` is a string or any JSON value (sent as its JSON text).
//! `expect.params`, when given, must equal the action's params exactly
//! (JSON strings are text, numbers integers, booleans booleans).
//! Blank lines and lines starting with `#` are skipped, except `# host: NAME`,
//! which sets the host of the fixtures after it that name none.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Deserialize;

use crate::{Action, Connector, ParamValue, Request};

/// A comment line `# host: NAME` sets the host of the fixtures after it
/// that name none (instead of the harness's default), so a file carries its
/// own default for connectors without domains.
pub const HOST_DIRECTIVE: &str = "# host:";

/// One fixture line.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    /// Upper-case method.
    pub method: String,
    /// Host; the harness default when absent.
    pub host: Option<String>,
    /// Path without query.
    pub path: String,
    /// Raw query string.
    pub query: Option<String>,
    /// Body: a string is sent as is, other JSON as its text.
    pub body: Option<serde_json::Value>,
    /// Expected action.
    pub expect: Option<Expect>,
    /// Expected error code instead of an action.
    pub error: Option<String>,
}

/// The expected action of a fixture.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Action name.
    pub name: String,
    /// Resource, checked when given.
    pub resource: Option<String>,
    /// Risk (`low`…`critical`), checked when given.
    pub risk: Option<String>,
    /// Exact params, checked when given.
    pub params: Option<BTreeMap<String, serde_json::Value>>,
}

impl Fixture {
    /// The request this fixture describes.
    pub fn request(&self, default_host: &str) -> Request {
        Request {
            method: self.method.clone(),
            scheme: "https".into(),
            host: self
                .host
                .clone()
                .unwrap_or_else(|| default_host.to_string()),
            path: self.path.clone(),
            query: self.query.clone(),
            headers: vec![("content-type".into(), "application/json".into())],
            body: self.body.as_ref().map(|b| match b {
                serde_json::Value::String(s) => s.clone().into_bytes(),
                other => other.to_string().into_bytes(),
            }),
        }
    }
}

/// Parses JSON lines into fixtures; errors name the line.
pub fn parse(jsonl: &str) -> Result<Vec<Fixture>, String> {
    let mut host: Option<String> = None;
    let mut out = Vec::new();
    for (i, line) in jsonl.lines().enumerate() {
        let l = line.trim();
        if let Some(h) = l.strip_prefix(HOST_DIRECTIVE) {
            host = Some(h.trim().to_owned());
            continue;
        }
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let mut f: Fixture =
            serde_json::from_str(l).map_err(|e| format!("fixture line {}: {e}", i + 1))?;
        if f.expect.is_some() == f.error.is_some() {
            return Err(format!(
                "fixture line {}: a fixture needs exactly one of `expect` and `error`",
                i + 1
            ));
        }
        if f.host.is_none() {
            f.host.clone_from(&host);
        }
        out.push(f);
    }
    Ok(out)
}

/// Runs every fixture against `C`. Returns the fixtures (for further checks,
/// e.g. coverage of action names) or a report of every mismatch.
pub fn check<C: Connector>(jsonl: &str, default_host: &str) -> Result<Vec<Fixture>, String> {
    let fixtures = parse(jsonl)?;
    // As the gateway does: no body unless the connector asks for bodies.
    let needs_body = C::describe().needs_body;
    let mut report = String::new();
    for f in &fixtures {
        let mut req = f.request(default_host);
        if !needs_body {
            req.body = None;
        }
        let got = render_result(&C::classify(&req), f);
        let want = render_expected(f);
        if got != want {
            let _ = writeln!(report, "{} {}{}:", f.method, req.host, f.path);
            report.push_str(&diff(&want, &got));
        }
    }
    if report.is_empty() {
        Ok(fixtures)
    } else {
        Err(report)
    }
}

fn render_expected(f: &Fixture) -> String {
    if let Some(code) = &f.error {
        return format!("error: {code}\n");
    }
    let Some(e) = &f.expect else {
        return "fixture has neither expect nor error\n".into();
    };
    let mut s = format!("name: {}\n", e.name);
    if let Some(r) = &e.resource {
        let _ = writeln!(s, "resource: {r}");
    }
    if let Some(r) = &e.risk {
        let _ = writeln!(s, "risk: {r}");
    }
    if let Some(params) = &e.params {
        for (k, v) in params {
            let v = match v {
                serde_json::Value::String(t) => format!("{t:?}"),
                other => other.to_string(),
            };
            let _ = writeln!(s, "param {k} = {v}");
        }
    }
    s
}

fn render_result(r: &Result<Action, crate::ClassifyError>, f: &Fixture) -> String {
    let a = match r {
        Ok(a) => a,
        Err(e) => return format!("error: {}\n", e.code),
    };
    let Some(e) = &f.expect else {
        return format!("name: {}\n", a.name);
    };
    let mut s = format!("name: {}\n", a.name);
    if e.resource.is_some() {
        let _ = writeln!(s, "resource: {}", a.resource);
    }
    if e.risk.is_some() {
        let _ = writeln!(s, "risk: {}", a.risk);
    }
    if e.params.is_some() {
        let mut params: Vec<_> = a.params.iter().collect();
        params.sort_by(|x, y| x.name.cmp(&y.name));
        for p in params {
            let v = match &p.value {
                ParamValue::Text(t) => format!("{t:?}"),
                other => other.to_string(),
            };
            let _ = writeln!(s, "param {} = {v}", p.name);
        }
    }
    s
}

/// A line diff: `-` expected only, `+` actual only, two spaces both.
pub fn diff(want: &str, got: &str) -> String {
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

/// Checks a generated source file (e.g. a connector's `src/routes.rs`)
/// against what its generator produces now. With `UPDATE_ROUTES` set in the
/// environment it rewrites the file instead; otherwise a difference panics
/// with the first differing line and the command that regenerates it.
pub fn check_generated(path: &str, fresh: &str, package: &str) {
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    if std::env::var_os("UPDATE_ROUTES").is_some() {
        if committed != fresh {
            std::fs::write(path, fresh).unwrap_or_else(|e| panic!("write {path}: {e}"));
        }
        return;
    }
    if committed != fresh {
        let first = committed
            .lines()
            .zip(fresh.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| committed.lines().count().min(fresh.lines().count()));
        panic!(
            "{path} is stale (first difference at line {}); run `UPDATE_ROUTES=1 cargo test -p {package}`\n  committed: {:?}\n  generated: {:?}",
            first + 1,
            committed.lines().nth(first),
            fresh.lines().nth(first)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ClassifyError, Descriptor, Param, Placement, Risk};

    struct Toy;

    impl Connector for Toy {
        fn describe() -> Descriptor {
            Descriptor {
                name: "toy".into(),
                version: "0.0.0".into(),
                domains: vec![],
                actions: vec![],
                placement: Placement::None,
                needs_body: true,
            }
        }

        fn classify(req: &Request) -> Result<Action, ClassifyError> {
            if req.method != "GET" {
                return Err(ClassifyError::new("unsupported_method", "only GET"));
            }
            let closed = req
                .json_field("state")
                .and_then(|v| v.as_str())
                .is_some_and(|s| s == "closed");
            Ok(Action {
                name: if closed { "toy.close" } else { "toy.get" }.into(),
                resource: format!("{}{}", req.host, req.path),
                params: vec![Param::infer("item_id", "12")],
                risk: Risk::Low,
                parts: Vec::new(),
            })
        }
    }

    #[test]
    fn passing_fixtures() {
        let jsonl = r#"
# comment
{"method":"GET","path":"/a","expect":{"name":"toy.get","resource":"toy.test/a","risk":"low","params":{"item_id":12}}}
{"method":"GET","path":"/a","body":{"state":"closed"},"expect":{"name":"toy.close"}}
{"method":"POST","host":"x.test","path":"/","error":"unsupported_method"}
"#;
        assert_eq!(check::<Toy>(jsonl, "toy.test").unwrap().len(), 3);
    }

    #[test]
    fn failing_fixtures_report_a_diff() {
        let jsonl = r#"{"method":"GET","path":"/a","expect":{"name":"toy.get","resource":"toy.test/b","params":{"item_id":"12"}}}"#;
        let want = "GET toy.test/a:\n    name: toy.get\n  - resource: toy.test/b\n  - param item_id = \"12\"\n  + resource: toy.test/a\n  + param item_id = 12\n";
        assert_eq!(check::<Toy>(jsonl, "toy.test").unwrap_err(), want);
    }

    #[test]
    fn bad_lines_are_named() {
        let err = check::<Toy>("\n{\"method\":1}", "t").unwrap_err();
        assert!(err.starts_with("fixture line 2:"), "{err}");
    }
}
