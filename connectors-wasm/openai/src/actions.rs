//! Request → action for OpenAI: a route-trie lookup over the generated
//! operation table on the wire path (`/v1/...`), the `?beta=true` twins of
//! the Responses operations, a few JSON body fields as params, and
//! `openai.unknown` for anything the table does not know.

use tameflare_sdk::extract::{JsonValue, query_param};
use tameflare_sdk::route::Match;
use tameflare_sdk::{Action, ActionSpec, Param, ParamValue, Request, Risk};

use crate::routes::{OPS, ROUTER};

/// One operation of the generated table.
#[derive(Debug)]
pub(crate) struct Op {
    pub(crate) method: &'static str,
    /// The wire path template, `?beta=true` included for beta twins.
    pub(crate) path: &'static str,
    pub(crate) operation_id: &'static str,
    pub(crate) action: &'static str,
    pub(crate) summary: &'static str,
    /// Path parameter names in path order.
    pub(crate) params: &'static [&'static str],
    /// Path segments after `/v1` that form the resource (`u8::MAX`: all).
    pub(crate) keep: u8,
    pub(crate) risk: Risk,
    /// Bits of [`BODY_FIELDS`] the operation's JSON body declares.
    pub(crate) body: u8,
    /// Index of the operation `?beta=true` selects instead (`u16::MAX`: none).
    pub(crate) beta_twin: u16,
}

/// The action of requests the table does not know.
pub(crate) const UNKNOWN: &str = "openai.unknown";

/// Top-level JSON body fields exposed as params, by bit of [`Op::body`].
pub(crate) const BODY_FIELDS: &[&str] = &["model", "stream", "max_tokens", "max_completion_tokens"];

/// Every action `classify` can return, one entry per operation (the shared
/// `openai.eval_run.cancel` once per path), plus `openai.unknown`.
pub(crate) fn catalogue() -> Vec<ActionSpec> {
    let mut specs: Vec<ActionSpec> = OPS
        .iter()
        .map(|op| ActionSpec {
            name: op.action.into(),
            description: format!("{} [{}]", op.summary, op.operation_id),
            method: op.method.into(),
            path_template: op.path.into(),
            risk: op.risk,
            read_only: op.method == "GET",
        })
        .collect();
    specs.push(ActionSpec {
        name: UNKNOWN.into(),
        description: "A request to api.openai.com that matches no known operation".into(),
        method: "*".into(),
        path_template: "/{path+}".into(),
        risk: Risk::High,
        read_only: false,
    });
    specs
}

/// The operation index and path match of `method` + `path` (+ `query`).
pub(crate) fn lookup<'p>(
    method: &str,
    path: &'p str,
    query: Option<&str>,
) -> Option<(usize, Match<'p>)> {
    let m = ROUTER.lookup(method, path)?;
    let i = m.route as usize;
    let twin = OPS[i].beta_twin;
    if twin != u16::MAX && query.and_then(|q| query_param(q, "beta")) == Some("true") {
        return Some((usize::from(twin), m));
    }
    Some((i, m))
}

/// Classifies one request; never fails (unknown requests are
/// `openai.unknown`, high risk, so policy decides).
pub(crate) fn classify(req: &Request) -> Action {
    // HEAD is GET without a body: same operation.
    let method = if req.method == "HEAD" {
        "GET"
    } else {
        req.method.as_str()
    };
    let Some((i, m)) = lookup(method, &req.path, req.query.as_deref()) else {
        return Action {
            name: UNKNOWN.into(),
            resource: req.path.trim_start_matches('/').into(),
            params: Vec::new(),
            risk: Risk::High,
            parts: Vec::new(),
        };
    };
    let op = &OPS[i];
    let values = m.captures.values();
    let mut params = Vec::with_capacity(values.len() + BODY_FIELDS.len());
    for (&pname, &value) in op.params.iter().zip(values) {
        params.push(Param::infer(pname, value));
    }
    if op.body != 0
        && let Some(body) = json_body(req)
    {
        body_params(body, op.body, &mut params);
    }
    Action {
        name: op.action.into(),
        resource: resource(&req.path, op),
        params,
        risk: op.risk,
        parts: Vec::new(),
    }
}

/// The body when it may be a JSON object: not multipart (uploads are
/// classified by path alone) and starting with `{`.
fn json_body(req: &Request) -> Option<&[u8]> {
    let multipart = req.header("content-type").is_some_and(|ct| {
        ct.get(..10)
            .is_some_and(|p| p.eq_ignore_ascii_case("multipart/"))
    });
    if multipart {
        return None;
    }
    let body = req.body.as_deref()?;
    let first = body.iter().find(|b| !b.is_ascii_whitespace())?;
    (*first == b'{').then_some(body)
}

/// Appends the declared fields of `body` (bits of [`BODY_FIELDS`]) that have
/// the expected type: `model` text, `stream` boolean, token limits integers.
fn body_params(body: &[u8], bits: u8, params: &mut Vec<Param>) {
    for (bit, &name) in BODY_FIELDS.iter().enumerate() {
        if bits & (1 << bit) == 0 {
            continue;
        }
        let value = match tameflare_sdk::extract::json_field(body, name) {
            Some(v @ JsonValue::Str(_)) if name == "model" => {
                v.as_str().map(|s| ParamValue::Text(s.into_owned()))
            }
            Some(JsonValue::Bool(b)) if name == "stream" => Some(ParamValue::Boolean(b)),
            Some(JsonValue::Number(n)) if name.starts_with("max_") => {
                n.parse::<i64>().ok().map(ParamValue::Integer)
            }
            _ => None,
        };
        if let Some(value) = value {
            params.push(Param {
                name: name.into(),
                value,
            });
        }
    }
}

/// The path after `/v1/` up to the operation's last parameter:
/// `files/file-abc` for `/v1/files/file-abc/content`, `chat/completions` for
/// `/v1/chat/completions`.
fn resource(path: &str, op: &Op) -> String {
    // The route matched, so the path starts with `/v1/` (any case).
    let mut r = path.get(4..).unwrap_or_default();
    if op.keep != u8::MAX
        && let Some((end, _)) = r.match_indices('/').nth(usize::from(op.keep) - 1)
    {
        r = &r[..end];
    }
    r.to_string()
}

#[cfg(test)]
mod tests;
