//! Request → action for Stripe: a route-trie lookup over the generated
//! operation table, `amount`/`currency`/`customer` read from the form body
//! (v1), the JSON body (v2) or the query (GET, DELETE), and `stripe.unknown`
//! for anything the table does not know.

use tameflare_sdk::extract::{self, JsonValue};
use tameflare_sdk::table::Table;
use tameflare_sdk::{Action, ActionSpec, Param, ParamValue, Request};

use crate::routes::{OPS, ROUTER};

/// Stripe's columns of the generated table.
#[derive(Debug)]
pub(crate) struct Extra {
    /// The host the operation is served on.
    pub(crate) host: &'static str,
    /// Bit `i` set when the operation takes field [`FIELDS`]`[i]`.
    pub(crate) fields: u8,
    /// True when the body is JSON (v2), else form-encoded (v1).
    pub(crate) json: bool,
}

/// One operation of the generated table.
pub(crate) type Op = tameflare_sdk::table::Op<Extra>;

/// Body (POST) or query (GET, DELETE) fields reported as params when the
/// operation takes them.
pub(crate) const FIELDS: [&str; 3] = ["amount", "currency", "customer"];

/// The action of requests the table does not know.
pub(crate) const UNKNOWN: &str = "stripe.unknown";

/// The generated table and the lookup around it.
pub(crate) static TABLE: Table<Extra> = Table {
    ops: &OPS,
    router: &ROUTER,
    unknown: UNKNOWN,
    unknown_description: "A request to a Stripe domain that matches no known operation",
};

/// Every action `classify` can return: one per (method, path), plus
/// `stripe.unknown`.
pub(crate) fn catalogue() -> Vec<ActionSpec> {
    let mut specs = TABLE.catalogue(|op| {
        if op.extra.host == "api.stripe.com" {
            format!("{} [{}]", op.summary, op.operation_id)
        } else {
            format!("{} [{}, {}]", op.summary, op.operation_id, op.extra.host)
        }
    });
    specs.push(TABLE.unknown_spec());
    specs
}

/// Classifies one request; never fails (unknown requests are
/// `stripe.unknown`, high risk, so policy decides).
pub(crate) fn classify(req: &Request) -> Action {
    let path = req.path.as_str();
    let Some((op, m)) = TABLE.lookup(&req.method, path) else {
        return TABLE.unknown_action(path);
    };
    let mut params = op.path_params(&m, op.extra.fields.count_ones() as usize);
    for (i, &name) in FIELDS.iter().enumerate() {
        if op.extra.fields & (1 << i) != 0
            && let Some(value) = field(req, op, name)
        {
            params.push(Param {
                name: name.into(),
                value,
            });
        }
    }
    Action {
        name: op.action.into(),
        resource: op.resource(path).into(),
        params,
        risk: op.risk,
        parts: Vec::new(),
    }
}

/// Field `name` of the request: from the body for POST (JSON for v2, form
/// for v1; the query when the body lacks it), from the query otherwise.
fn field(req: &Request, op: &Op, name: &str) -> Option<ParamValue> {
    if req.method == "POST"
        && let Some(body) = req.body.as_deref()
    {
        let found = if op.extra.json {
            json_param(body, name)
        } else {
            form_value(body, name).map(|v| typed(name, v))
        };
        if found.is_some() {
            return found;
        }
    }
    let query = req.query.as_deref()?;
    form_value(query.as_bytes(), name).map(|v| typed(name, v))
}

/// The decoded value of top-level field `name` of form data (Stripe's v1
/// encoding), by the SDK's rule: keys are compared after decoding and the
/// last occurrence wins (as in Rack, which the v1 API runs on); nested keys
/// such as `amount[value]` are other fields. Invalid UTF-8 is replaced, so
/// a stray byte elsewhere in the body cannot hide a field.
fn form_value(data: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(data);
    extract::form_field(&text, name).map(|v| extract::form_decode(v).into_owned())
}

/// `amount` is an integer (minor units) when it parses as one.
fn typed(name: &str, value: String) -> ParamValue {
    if name == "amount"
        && let Ok(n) = value.parse::<i64>()
    {
        return ParamValue::Integer(n);
    }
    ParamValue::Text(value)
}

/// A JSON body field. v2 amounts are objects `{"value": 1000, "currency":
/// "usd"}`: `amount` is then the `value`, and `currency`, when not a
/// top-level field, the amount's currency.
fn json_param(body: &[u8], name: &str) -> Option<ParamValue> {
    match extract::json_field(body, name) {
        Some(JsonValue::Composite(inner)) if name == "amount" => {
            json_scalar(name, extract::json_field(inner.as_bytes(), "value")?)
        }
        Some(v) => json_scalar(name, v),
        None if name == "currency" => match extract::json_field(body, "amount")? {
            JsonValue::Composite(inner) => {
                json_scalar(name, extract::json_field(inner.as_bytes(), "currency")?)
            }
            _ => None,
        },
        None => None,
    }
}

fn json_scalar(name: &str, v: JsonValue<'_>) -> Option<ParamValue> {
    match v {
        JsonValue::Str(_) => Some(typed(name, v.as_str()?.into_owned())),
        JsonValue::Number(n) => Some(typed(name, n.to_string())),
        JsonValue::Bool(b) => Some(ParamValue::Boolean(b)),
        JsonValue::Null | JsonValue::Composite(_) => None,
    }
}

#[cfg(test)]
mod tests;
