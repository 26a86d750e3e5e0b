//! Fixtures run against a loaded component. The format, its parser and the
//! report are the `tameflare-fixtures` crate's, shared with the SDK's
//! native harness (`tameflare_sdk::testing`), so one file checks a
//! connector under `cargo test`, under `tf connector test`, and at every
//! load by the gateway, with the same verdict and the same report.
//!
//! Fixtures without a host use the last `# host: NAME` line above them,
//! else the connector's first domain, else `fixture.invalid`.

use tameflare_fixtures::{Got, GotAction, GotParam};
use tf_core::{Action, Classifier, ClassifyError, ConnectorRequest, ParamValue};

use crate::Connector;

pub use tameflare_fixtures::{
    FILE_MARKER, HOST_DIRECTIVE, MAX_FIXTURES, ParseError as FixtureError,
};

/// Host used for fixtures without one when the connector claims no domain.
const FALLBACK_HOST: &str = "fixture.invalid";

/// The outcome of running fixtures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FixtureReport {
    /// Cases run.
    pub total: usize,
    /// One entry per failing case: `AT: METHOD host/path:` and a line diff.
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
    let fixtures = tameflare_fixtures::parse(jsonl)?;
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
    // As the proxy does: no body unless the connector asked for bodies.
    let needs_body = connector.descriptor().needs_body;
    for f in &fixtures {
        let host = f.host_or(default_host);
        let req = ConnectorRequest {
            method: f.method.clone(),
            scheme: "https".into(),
            host: host.to_owned(),
            path: f.path.clone(),
            query: f.query.clone(),
            headers: vec![("content-type".into(), "application/json".into())],
            body: if needs_body { f.body_bytes() } else { None },
        };
        let result = connector.classify(req);
        if let Some(failure) = f.mismatch(host, &got(&result)) {
            report.failures.push(failure);
        }
    }
    Ok(report)
}

fn got(result: &Result<Action, ClassifyError>) -> Got<'_> {
    match result {
        Err(ClassifyError::Rejected { code, .. }) => Got::Rejected(code),
        Err(e) => Got::Failed(e.to_string()),
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
