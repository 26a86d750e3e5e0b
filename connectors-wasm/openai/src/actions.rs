//! Request → action for OpenAI: a route-trie lookup over the generated
//! operation table on the wire path (`/v1/...`), the `?beta=true` twins of
//! the Responses operations, a few JSON body fields as params, and
//! `openai.unknown` for anything the table does not know.

use tameflare_sdk::extract::{JsonValue, query_param};
use tameflare_sdk::route::Match;
use tameflare_sdk::table::{Op, Table};
use tameflare_sdk::{Action, ActionSpec, Param, ParamValue, Request};

use crate::routes::{OPS, ROUTER};

/// OpenAI's columns of the generated table.
#[derive(Debug)]
pub(crate) struct Extra {
    /// Bits of [`BODY_FIELDS`] the operation's JSON body declares.
    pub(crate) body: u8,
    /// Index of the operation `?beta=true` selects instead (`u16::MAX`: none).
    pub(crate) beta_twin: u16,
}

/// The action of requests the table does not know.
pub(crate) const UNKNOWN: &str = "openai.unknown";

/// Top-level JSON body fields exposed as params, by bit of [`Op::body`].
pub(crate) const BODY_FIELDS: &[&str] = &["model", "stream", "max_tokens", "max_completion_tokens"];

/// The generated table and the lookup around it.
pub(crate) static TABLE: Table<Extra> = Table {
    ops: &OPS,
    router: &ROUTER,
    unknown: UNKNOWN,
    unknown_description: "A request to api.openai.com that matches no known operation",
};

/// Every action `classify` can return, one entry per operation (the shared
/// `openai.eval_run.cancel` once per path), plus `openai.unknown`.
pub(crate) fn catalogue() -> Vec<ActionSpec> {
    let mut specs = TABLE.catalogue(|op| format!("{} [{}]", op.summary, op.operation_id));
    specs.push(TABLE.unknown_spec());
    specs
}

/// The operation index and path match of `method` + `path` (+ `query`).
pub(crate) fn lookup<'p>(
    method: &str,
    path: &'p str,
    query: Option<&str>,
) -> Option<(usize, Match<'p>)> {
    let m = TABLE.lookup_match(method, path)?;
    let i = m.route as usize;
    let twin = OPS[i].extra.beta_twin;
    if twin != u16::MAX && query.and_then(|q| query_param(q, "beta")) == Some("true") {
        return Some((usize::from(twin), m));
    }
    Some((i, m))
}

/// Classifies one request; never fails (unknown requests are
/// `openai.unknown`, high risk, so policy decides).
pub(crate) fn classify(req: &Request) -> Action {
    let Some((i, m)) = lookup(&req.method, &req.path, req.query.as_deref()) else {
        return TABLE.unknown_action(&req.path);
    };
    let op = &OPS[i];
    let mut params = op.path_params(&m, BODY_FIELDS.len());
    if op.extra.body != 0
        && let Some(body) = json_body(req)
    {
        body_params(body, op.extra.body, &mut params);
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
fn resource(path: &str, op: &Op<Extra>) -> String {
    let r = op.resource(path);
    // The route matched, so the path starts with `/v1/` (any case).
    r.get(3..).unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests;
