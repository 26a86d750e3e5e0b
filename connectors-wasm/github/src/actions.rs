//! Request → action for GitHub: a route-trie lookup over the generated
//! operation table, a few body-dependent variants (`github.pr.close`,
//! `github.issue.close`, `github.file.update`), and `github.unknown` for
//! anything the table does not know.

use tameflare_sdk::table::{Op, Table};
use tameflare_sdk::{Action, ActionSpec, Param, Request, Risk};

use crate::routes::{OPS, ROUTER};

/// The action of requests the table does not know.
pub(crate) const UNKNOWN: &str = "github.unknown";

/// The generated table and the lookup around it.
pub(crate) static TABLE: Table = Table {
    ops: &OPS,
    router: &ROUTER,
    unknown: UNKNOWN,
    unknown_description: "A request to api.github.com that matches no known operation",
};

/// A body-dependent variant of an operation's action.
struct Variant {
    base: &'static str,
    name: &'static str,
    description: &'static str,
    risk: Risk,
    applies: fn(&Request) -> bool,
}

const VARIANTS: &[Variant] = &[
    Variant {
        base: "github.pr.update",
        name: "github.pr.close",
        description: "Close a pull request (update with state \"closed\")",
        risk: Risk::Medium,
        applies: state_closed,
    },
    Variant {
        base: "github.issue.update",
        name: "github.issue.close",
        description: "Close an issue (update with state \"closed\")",
        risk: Risk::Medium,
        applies: state_closed,
    },
    Variant {
        base: "github.file.create",
        name: "github.file.update",
        description: "Update a file (contents PUT with the blob `sha` it replaces)",
        risk: Risk::Medium,
        applies: has_sha,
    },
];

fn state_closed(req: &Request) -> bool {
    req.json_field("state")
        .and_then(|v| v.as_str())
        .is_some_and(|s| s == "closed")
}

fn has_sha(req: &Request) -> bool {
    req.json_field("sha").and_then(|v| v.as_str()).is_some()
}

/// Every action `classify` can return, one entry per (method, path) and
/// variant, plus `github.unknown`.
pub(crate) fn catalogue() -> Vec<ActionSpec> {
    let mut specs = TABLE.catalogue(|op| format!("{} [{}]", op.summary, op.operation_id));
    for v in VARIANTS {
        let op = OPS
            .iter()
            .find(|op| op.action == v.base)
            .expect("every variant has a base operation");
        specs.push(ActionSpec {
            name: v.name.into(),
            description: v.description.into(),
            method: op.method.into(),
            path_template: op.path.into(),
            risk: v.risk,
            read_only: false,
        });
    }
    specs.push(TABLE.unknown_spec());
    specs
}

/// Classifies one request; never fails (unknown requests are
/// `github.unknown`, high risk, so policy decides).
pub(crate) fn classify(req: &Request) -> Action {
    let path = api_path(req);
    let Some((op, m)) = TABLE.lookup(&req.method, path) else {
        return TABLE.unknown_action(path);
    };
    let (name, risk) = VARIANTS
        .iter()
        .find(|v| v.base == op.action && (v.applies)(req))
        .map_or((op.action, op.risk), |v| (v.name, v.risk));
    let values = m.captures.values();
    let mut params = Vec::with_capacity(values.len() + 1);
    for (&pname, &value) in op.params.iter().zip(values) {
        params.push(Param::infer(pname, value));
        if pname == "pull_number" || pname == "issue_number" {
            params.push(Param::infer("number", value));
        }
    }
    Action {
        name: name.into(),
        resource: resource(path, op),
        params,
        risk,
        parts: Vec::new(),
    }
}

/// The REST path: GitHub Enterprise Server serves the same API under
/// `/api/v3` on its own host; api.github.com has no such prefix.
fn api_path(req: &Request) -> &str {
    if req.host != "api.github.com"
        && let Some(rest) = req.path.strip_prefix("/api/v3")
        && (rest.is_empty() || rest.starts_with('/'))
    {
        return if rest.is_empty() { "/" } else { rest };
    }
    &req.path
}

/// The path up to the operation's last parameter, without the leading `/`
/// and, for repository paths, without `repos/`: `octo/hello/pulls/7`.
fn resource(path: &str, op: &Op) -> String {
    let mut r = op.resource(path);
    // Literal segments match case-insensitively, so `REPOS/` goes too.
    if op.path.starts_with("/repos/{owner}/{repo}")
        && r.get(..6).is_some_and(|p| p.eq_ignore_ascii_case("repos/"))
    {
        r = &r[6..];
    }
    r.to_string()
}

#[cfg(test)]
mod tests;
