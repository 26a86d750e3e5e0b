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
//! `host` defaults to the last `# host: NAME` line above the case, else the
//! harness's default host; `query` is the raw query string, `body` is a
//! string or any JSON value (sent as its JSON text). `expect.params`, when
//! given, must equal the action's params exactly (JSON strings are text,
//! numbers integers, booleans booleans). Blank lines and other lines
//! starting with `#` are skipped.
//!
//! The format, its parser and the report belong to the `tameflare-fixtures`
//! crate, which the gateway uses too when it self-tests a component: a file
//! that passes here passes at load, and a failure reads the same.

use std::fmt::Write as _;

use tameflare_fixtures::{Got, GotAction, GotParam};

use crate::{Action, ClassifyError, Connector, ParamValue, Request};

pub use tameflare_fixtures::{Expect, Fixture, HOST_DIRECTIVE, MAX_FIXTURES, diff};

/// Parses JSON lines into fixtures; errors name the line.
pub fn parse(jsonl: &str) -> Result<Vec<Fixture>, String> {
    tameflare_fixtures::parse(jsonl).map_err(|e| e.to_string())
}

/// Runs every fixture against `C`. Returns the fixtures (for further checks,
/// e.g. coverage of action names) or a report of every mismatch.
pub fn check<C: Connector>(jsonl: &str, default_host: &str) -> Result<Vec<Fixture>, String> {
    let fixtures = parse(jsonl)?;
    // As the gateway does: no body unless the connector asks for bodies.
    let needs_body = C::describe().needs_body;
    let mut report = String::new();
    for f in &fixtures {
        let host = f.host_or(default_host);
        let req = Request {
            method: f.method.clone(),
            scheme: "https".into(),
            host: host.to_owned(),
            path: f.path.clone(),
            query: f.query.clone(),
            headers: vec![("content-type".into(), "application/json".into())],
            body: if needs_body { f.body_bytes() } else { None },
        };
        let result = C::classify(&req);
        if let Some(failure) = f.mismatch(host, &got(&result)) {
            let _ = writeln!(report, "{failure}");
        }
    }
    if report.is_empty() {
        Ok(fixtures)
    } else {
        Err(report)
    }
}

fn got(result: &Result<Action, ClassifyError>) -> Got<'_> {
    match result {
        Err(e) => Got::Rejected(&e.code),
        Ok(a) => Got::Action(GotAction {
            name: &a.name,
            resource: &a.resource,
            risk: a.risk.as_str(),
            params: a
                .params
                .iter()
                .map(|p| {
                    let value = match &p.value {
                        ParamValue::Text(t) => GotParam::Text(t),
                        ParamValue::Integer(i) => GotParam::Integer(*i),
                        ParamValue::Boolean(b) => GotParam::Boolean(*b),
                    };
                    (p.name.as_str(), value)
                })
                .collect(),
        }),
    }
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
        let want = "line 1: GET toy.test/a:\n    name: toy.get\n  - resource: toy.test/b\n  - param item_id = \"12\"\n  + resource: toy.test/a\n  + param item_id = 12\n";
        assert_eq!(check::<Toy>(jsonl, "toy.test").unwrap_err(), want);
    }

    #[test]
    fn bad_lines_are_named() {
        let err = check::<Toy>("\n{\"method\":1}", "t").unwrap_err();
        assert!(err.starts_with("fixture line 2:"), "{err}");
    }
}
