//! Request → action for Anthropic: a route-trie lookup over the generated
//! operation table, the `model` / `stream` / `max_tokens` body fields of the
//! operations that take them, and `anthropic.unknown` for anything the table
//! does not know.
//!
//! Beta operations (the SDK's `client.beta.*`) use the same paths as their
//! stable counterparts, marked only by an `anthropic-beta` header and, from
//! the SDK, a `?beta=true` query: neither changes the action, so a policy on
//! `anthropic.message.create` covers both.

use tameflare_sdk::extract::JsonValue;
use tameflare_sdk::table::{Op, Table};
use tameflare_sdk::{Action, ActionSpec, Param, ParamValue, Request};

use crate::routes::{OPS, ROUTER};

/// The API's domain.
pub(crate) const DOMAIN: &str = "api.anthropic.com";

/// Body field bits of [`Extra::body`].
pub(crate) const BODY_MODEL: u8 = 1;
pub(crate) const BODY_STREAM: u8 = 2;
pub(crate) const BODY_MAX_TOKENS: u8 = 4;

/// Anthropic's columns of the generated table.
#[derive(Debug)]
pub(crate) struct Extra {
    /// Only the SDK's `client.beta` calls it.
    pub(crate) beta: bool,
    /// Which of `model`, `stream`, `max_tokens` the body may carry
    /// ([`BODY_MODEL`] | [`BODY_STREAM`] | [`BODY_MAX_TOKENS`]).
    pub(crate) body: u8,
}

/// The action of requests the table does not know.
pub(crate) const UNKNOWN: &str = "anthropic.unknown";

/// The generated table and the lookup around it.
pub(crate) static TABLE: Table<Extra> = Table {
    ops: &OPS,
    router: &ROUTER,
    unknown: UNKNOWN,
    unknown_description: "A request to api.anthropic.com that matches no known operation",
};

/// Every action `classify` can return: one entry per (method, path), plus
/// `anthropic.unknown`.
pub(crate) fn catalogue() -> Vec<ActionSpec> {
    let mut specs = TABLE.catalogue(|op| {
        format!(
            "{} [{}{}]",
            op.summary,
            op.operation_id,
            if op.extra.beta { ", beta" } else { "" }
        )
    });
    specs.push(TABLE.unknown_spec());
    specs
}

/// Classifies one request; never fails (unknown requests are
/// `anthropic.unknown`, high risk, so policy decides).
pub(crate) fn classify(req: &Request) -> Action {
    let path = req.path.as_str();
    let Some((op, m)) = TABLE.lookup(&req.method, path) else {
        return TABLE.unknown_action(path);
    };
    let mut params = op.path_params(&m, op.extra.body.count_ones() as usize);
    if op.extra.body != 0 {
        body_params(req, op.extra.body, &mut params);
    }
    Action {
        name: op.action.into(),
        resource: resource(path, op),
        params,
        risk: op.risk,
        parts: Vec::new(),
    }
}

/// The top-level `model` (text), `stream` (boolean) and `max_tokens`
/// (integer) of the body, those the operation takes and that have that type.
fn body_params(req: &Request, bits: u8, params: &mut Vec<Param>) {
    let Some(body) = req.body.as_deref() else {
        return;
    };
    let field = |key| tameflare_sdk::extract::json_field(body, key);
    if bits & BODY_MODEL != 0
        && let Some(model) = field("model").and_then(|v| v.as_str())
    {
        params.push(Param {
            name: "model".into(),
            value: ParamValue::Text(model.into_owned()),
        });
    }
    if bits & BODY_STREAM != 0
        && let Some(JsonValue::Bool(stream)) = field("stream")
    {
        params.push(Param {
            name: "stream".into(),
            value: ParamValue::Boolean(stream),
        });
    }
    if bits & BODY_MAX_TOKENS != 0
        && let Some(JsonValue::Number(n)) = field("max_tokens")
        && let Ok(n) = n.parse::<i64>()
    {
        params.push(Param {
            name: "max_tokens".into(),
            value: ParamValue::Integer(n),
        });
    }
}

/// The path up to the operation's last parameter, without the leading `/`
/// and the `v1/` version: `messages/batches/msgbatch_01`.
fn resource(path: &str, op: &Op<Extra>) -> String {
    let mut r = op.resource(path);
    // Literal segments match case-insensitively, so `V1/` goes too.
    if r.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("v1/")) {
        r = &r[3..];
    }
    r.to_string()
}

#[cfg(test)]
mod tests;
