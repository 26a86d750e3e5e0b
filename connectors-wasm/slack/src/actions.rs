//! Request → action for Slack: a route-trie lookup of `POST` or `GET
//! /api/<method>` over the generated method table, the `channel`, `user` and
//! `text_len` params from the body or query, and `slack.unknown` for
//! anything the table does not know.

use std::borrow::Cow;

use tameflare_sdk::extract::{form_decode, form_decoded, form_field, json_field};
use tameflare_sdk::table::Table;
use tameflare_sdk::{Action, ActionSpec, Param, ParamValue, Request};

use crate::routes::{OPS, ROUTER};

/// The HTTP methods every Slack method is served on: POST with a form or
/// JSON body, GET with query arguments. (HEAD is classified as GET.)
pub(crate) const HTTP_METHODS: [&str; 2] = ["POST", "GET"];

/// The action of requests the table does not know.
pub(crate) const UNKNOWN: &str = "slack.unknown";

/// The generated table (one row per Slack method, whose operation id is the
/// method name) and the lookup around it.
pub(crate) static TABLE: Table = Table {
    ops: &OPS,
    router: &ROUTER,
    unknown: UNKNOWN,
    unknown_description: "A request to Slack that matches no known Web API method",
};

/// Every action `classify` can return: one entry per method and HTTP verb,
/// plus `slack.unknown`.
pub(crate) fn catalogue() -> Vec<ActionSpec> {
    let mut specs = Vec::with_capacity(OPS.len() * HTTP_METHODS.len() + 1);
    for op in OPS.iter() {
        for m in HTTP_METHODS {
            let mut spec = op.spec(format!("{} [{}]", op.summary, op.operation_id));
            spec.method = m.into();
            specs.push(spec);
        }
    }
    specs.push(TABLE.unknown_spec());
    specs
}

/// Classifies one request; never fails (unknown requests are
/// `slack.unknown`, high risk, so policy decides).
pub(crate) fn classify(req: &Request) -> Action {
    let Some((op, _)) = TABLE.lookup(&req.method, &req.path) else {
        return TABLE.unknown_action(&req.path);
    };
    let args = Args::of(req);
    let channel = args.text("channel");
    let mut params = Vec::with_capacity(3);
    if let Some(c) = &channel {
        params.push(text_param("channel", c));
    }
    if let Some(u) = args.text("user") {
        params.push(text_param("user", &u));
    }
    if let Some(n) = args.byte_len("text") {
        params.push(Param {
            name: "text_len".into(),
            value: ParamValue::Integer(n),
        });
    }
    Action {
        name: op.action.into(),
        resource: channel.map_or_else(|| op.operation_id.to_string(), Cow::into_owned),
        params,
        risk: op.risk,
        parts: Vec::new(),
    }
}

fn text_param(name: &str, value: &str) -> Param {
    Param {
        name: name.into(),
        value: ParamValue::Text(value.into()),
    }
}

/// Where a request carries its arguments.
enum Body<'a> {
    /// A JSON object body.
    Json(&'a [u8]),
    /// A form-encoded body.
    Form(&'a str),
    /// No body, or one that is neither.
    None,
}

/// A request's arguments: the body first, then the query string.
struct Args<'a> {
    body: Body<'a>,
    query: Option<&'a str>,
}

impl<'a> Args<'a> {
    /// JSON when the body starts with `{` (Slack's JSON bodies are objects),
    /// form fields otherwise.
    fn of(req: &'a Request) -> Args<'a> {
        let body = match req.body.as_deref() {
            Some(b) if b.trim_ascii_start().starts_with(b"{") => Body::Json(b),
            Some(b) if !b.is_empty() => std::str::from_utf8(b).map_or(Body::None, Body::Form),
            _ => Body::None,
        };
        Args {
            body,
            query: req.query.as_deref(),
        }
    }

    /// The decoded text of argument `name`.
    fn text(&self, name: &str) -> Option<Cow<'a, str>> {
        let from_body = match self.body {
            Body::Json(b) => json_field(b, name).and_then(|v| v.as_str()),
            Body::Form(f) => form_field(f, name).map(form_decode),
            Body::None => None,
        };
        from_body.or_else(|| form_field(self.query?, name).map(form_decode))
    }

    /// The byte length of argument `name`, decoded, without copying it
    /// where the encoding allows.
    fn byte_len(&self, name: &str) -> Option<i64> {
        let from_body = match self.body {
            Body::Json(b) => json_field(b, name)
                .and_then(|v| v.as_str())
                .map(|s| s.len()),
            Body::Form(f) => form_field(f, name).map(|v| form_decoded(v).count()),
            Body::None => None,
        };
        let n =
            from_body.or_else(|| form_field(self.query?, name).map(|v| form_decoded(v).count()))?;
        i64::try_from(n).ok()
    }
}

#[cfg(test)]
mod tests;
