//! Request → action for MCP over Streamable HTTP. Any path is the MCP
//! endpoint: GET opens the server's SSE stream, DELETE ends the session,
//! POST carries one JSON-RPC message or a batch (JSON array) of them.
//!
//! A message with a `method` is looked up in the generated [`OPS`]
//! table (unknown methods are `mcp.unknown`, high); `tools/call` becomes
//! `mcp.tools.<tool>` when the tool name is a valid, unreserved segment; a
//! message without `method` but with `result` or `error` is `mcp.response`.
//! Anything that is not well-formed JSON-RPC is refused (`bad_request`).

use std::borrow::Cow;

use tameflare_sdk::{Action, ActionSpec, ClassifyError, Param, ParamValue, Request, Risk};

use crate::routes::OPS;
use tameflare_sdk::json::{self, Value};

/// Prefix of per-tool actions; the catalogue lists the family `mcp.tools.*`.
pub(crate) const TOOLS_PREFIX: &str = "mcp.tools.";
/// The catalogue's family entry for per-tool actions.
pub(crate) const TOOLS_FAMILY: &str = "mcp.tools.*";
/// The generic tool-call action (`tools/call` when the name is not usable).
pub(crate) const TOOLS_CALL: &str = "mcp.tools.call";
/// A JSON-RPC response the client posts back.
pub(crate) const RESPONSE: &str = "mcp.response";
/// A JSON array of messages.
pub(crate) const BATCH: &str = "mcp.batch";
/// A method the table does not know.
pub(crate) const UNKNOWN: &str = "mcp.unknown";
/// GET: open the server's SSE stream.
pub(crate) const STREAM_OPEN: &str = "mcp.stream.open";
/// DELETE: end the session.
pub(crate) const SESSION_DELETE: &str = "mcp.session.delete";

/// Most tool arguments exposed as params.
pub(crate) const MAX_ARGS: usize = 32;
/// Longest text param value (and argument name), in bytes.
pub(crate) const MAX_TEXT: usize = 256;

/// Every action `classify` can return: one per client method, the tool
/// family, and the fixed names.
pub(crate) fn catalogue() -> Vec<ActionSpec> {
    let spec = |name: &str, description: &str, method: &str, risk, read_only| ActionSpec {
        name: name.into(),
        description: description.into(),
        method: method.into(),
        path_template: "/{path+}".into(),
        risk,
        read_only,
    };
    let mut specs: Vec<ActionSpec> = OPS
        .iter()
        .map(|m| {
            spec(
                m.action,
                &format!("JSON-RPC `{}`: {}", m.operation_id, m.summary),
                "POST",
                m.risk,
                m.read_only,
            )
        })
        .collect();
    specs.extend([
        spec(
            TOOLS_FAMILY,
            "Call one tool by name: `tools/call` with params.name = the tool (one action per tool)",
            "POST",
            Risk::High,
            false,
        ),
        spec(
            RESPONSE,
            "A JSON-RPC response (result or error) the client posts back to the server",
            "POST",
            Risk::Low,
            false,
        ),
        spec(
            BATCH,
            "A JSON-RPC batch; risk is the highest of its messages, params list their actions",
            "POST",
            Risk::High,
            false,
        ),
        spec(
            UNKNOWN,
            "A JSON-RPC method no MCP version defines for clients",
            "POST",
            Risk::High,
            false,
        ),
        spec(
            STREAM_OPEN,
            "Open the server's SSE stream (GET)",
            "GET",
            Risk::Low,
            true,
        ),
        spec(
            SESSION_DELETE,
            "End the MCP session (DELETE)",
            "DELETE",
            Risk::Low,
            false,
        ),
    ]);
    specs
}

fn bad_request(message: impl Into<String>) -> ClassifyError {
    ClassifyError::new("bad_request", message)
}

pub(crate) fn classify(req: &Request) -> Result<Action, ClassifyError> {
    let mut resource = String::with_capacity(req.host.len() + req.path.len());
    resource.push_str(&req.host);
    resource.push_str(&req.path);
    let (name, risk, params, parts) = match req.method.as_str() {
        "GET" => (
            Cow::Borrowed(STREAM_OPEN),
            Risk::Low,
            Vec::new(),
            Vec::new(),
        ),
        "DELETE" => (
            Cow::Borrowed(SESSION_DELETE),
            Risk::Low,
            Vec::new(),
            Vec::new(),
        ),
        "POST" => classify_body(req.body.as_deref())?,
        other => {
            return Err(ClassifyError::new(
                "unsupported_method",
                format!("method {other} is not part of MCP's Streamable HTTP transport"),
            ));
        }
    };
    let parts = parts
        .into_iter()
        .map(|(name, risk, params)| Action {
            name: name.into_owned(),
            resource: resource.clone(),
            params,
            risk,
            parts: Vec::new(),
        })
        .collect();
    Ok(Action {
        name: name.into_owned(),
        resource,
        params,
        risk,
        parts,
    })
}

/// Most messages in one batch (the host's limit on action parts).
const MAX_BATCH: usize = 64;

type Message = (Cow<'static, str>, Risk, Vec<Param>);
type Classified = (Cow<'static, str>, Risk, Vec<Param>, Vec<Message>);

fn classify_body(body: Option<&[u8]>) -> Result<Classified, ClassifyError> {
    let body = body.ok_or_else(|| bad_request("POST without a body (or over the host's limit)"))?;
    let text = std::str::from_utf8(body).map_err(|_| bad_request("body is not UTF-8"))?;
    match json::parse(text) {
        Some(Value::Obj(obj)) => classify_message(obj).map(|(n, r, p)| (n, r, p, Vec::new())),
        Some(Value::Arr(arr)) => classify_batch(arr),
        Some(_) => Err(bad_request(
            "body is neither a JSON-RPC message nor a batch",
        )),
        None => Err(bad_request("body is not valid JSON")),
    }
}

/// A batch: every element classified by [`classify_message`] and returned
/// as a part, so the host decides each one and applies the most
/// restrictive decision.
fn classify_batch(arr: &str) -> Result<Classified, ClassifyError> {
    let mut actions = String::new();
    let mut risk = Risk::Low;
    let mut size = 0i64;
    let mut parts = Vec::new();
    for element in json::elements(arr) {
        let Value::Obj(obj) = element else {
            return Err(bad_request("batch element is not a JSON-RPC message"));
        };
        if parts.len() == MAX_BATCH {
            return Err(bad_request(format!(
                "batch of more than {MAX_BATCH} messages"
            )));
        }
        let (name, r, params) = classify_message(obj)?;
        if size > 0 {
            actions.push(',');
        }
        actions.push_str(&name);
        risk = risk.max(r);
        size += 1;
        parts.push((name, r, params));
    }
    if size == 0 {
        return Err(bad_request("empty batch"));
    }
    let params = vec![
        text_param("actions", actions),
        Param {
            name: "size".into(),
            value: ParamValue::Integer(size),
        },
    ];
    Ok((Cow::Borrowed(BATCH), risk, params, parts))
}

/// Sets `slot` once; a repeated key is refused, so the gateway and the
/// server cannot read different values of one field.
fn once<'a>(slot: &mut Option<Value<'a>>, v: Value<'a>, key: &str) -> Result<(), ClassifyError> {
    if slot.replace(v).is_some() {
        return Err(bad_request(format!("duplicate key {key:?}")));
    }
    Ok(())
}

/// One JSON-RPC message (an object).
fn classify_message(obj: &str) -> Result<Message, ClassifyError> {
    let (mut jsonrpc, mut id, mut method, mut params, mut result, mut error) =
        (None, None, None, None, None, None);
    for (raw_key, v) in json::members(obj) {
        let key = json::unescape(raw_key);
        let slot = match key.as_ref() {
            "jsonrpc" => &mut jsonrpc,
            "id" => &mut id,
            "method" => &mut method,
            "params" => &mut params,
            "result" => &mut result,
            "error" => &mut error,
            _ => continue,
        };
        once(slot, v, &key)?;
    }
    if jsonrpc != Some(Value::Str("2.0")) {
        return Err(bad_request(
            "not JSON-RPC 2.0 (\"jsonrpc\": \"2.0\" missing)",
        ));
    }
    let mut out = Vec::new();
    match id {
        None | Some(Value::Null) => {}
        Some(Value::Num(n)) => {
            let n = n
                .parse::<i64>()
                .map_err(|_| bad_request("id is not an integer"))?;
            out.push(Param {
                name: "jsonrpc_id".into(),
                value: ParamValue::Integer(n),
            });
        }
        Some(Value::Str(s)) => out.push(text_param("jsonrpc_id", truncated(json::unescape(s)))),
        Some(_) => return Err(bad_request("id is neither a string nor an integer")),
    }
    let Some(method) = method else {
        // A response: result or error, never both, and an id (null only
        // for an error about an unreadable request).
        return match (result.is_some(), error.is_some(), id) {
            (true, false, Some(v)) if v != Value::Null => {
                Ok((Cow::Borrowed(RESPONSE), Risk::Low, out))
            }
            (false, true, Some(_)) => Ok((Cow::Borrowed(RESPONSE), Risk::Low, out)),
            _ => Err(bad_request(
                "neither a request, a notification nor a response",
            )),
        };
    };
    let Value::Str(raw_method) = method else {
        return Err(bad_request("method is not a string"));
    };
    if result.is_some() || error.is_some() {
        return Err(bad_request(
            "a message with a method carries no result or error",
        ));
    }
    if id == Some(Value::Null) {
        return Err(bad_request("a request id is never null"));
    }
    let params_obj = match params {
        None => None,
        Some(Value::Obj(p)) => Some(p),
        Some(Value::Arr(_)) => None,
        Some(_) => return Err(bad_request("params is neither an object nor an array")),
    };
    let method = json::unescape(raw_method);
    out.push(text_param("method", truncated(Cow::Borrowed(&method))));
    let Ok(i) = OPS.binary_search_by(|m| m.operation_id.cmp(&method)) else {
        return Ok((Cow::Borrowed(UNKNOWN), Risk::High, out));
    };
    let m = &OPS[i];
    if m.action != TOOLS_CALL {
        return Ok((Cow::Borrowed(m.action), m.risk, out));
    }
    let name = match params_obj {
        Some(p) => tool_call(p, &mut out)?,
        None => Cow::Borrowed(TOOLS_CALL),
    };
    Ok((name, m.risk, out))
}

/// Reads `name` and `arguments` of a `tools/call`; adds `tool`,
/// `arg_names`, `arg_count` and `arg.<name>` params; returns the action.
fn tool_call(params: &str, out: &mut Vec<Param>) -> Result<Cow<'static, str>, ClassifyError> {
    let (mut name, mut arguments) = (None, None);
    for (raw_key, v) in json::members(params) {
        let key = json::unescape(raw_key);
        match key.as_ref() {
            "name" => once(&mut name, v, "name")?,
            "arguments" => once(&mut arguments, v, "arguments")?,
            _ => {}
        }
    }
    let mut action = Cow::Borrowed(TOOLS_CALL);
    if let Some(Value::Str(raw)) = name {
        let tool = json::unescape(raw);
        if tool_segment(&tool) {
            action = Cow::Owned(format!("{TOOLS_PREFIX}{tool}"));
        }
        out.push(text_param("tool", truncated(tool)));
    }
    let mut names: Vec<Cow<'_, str>> = Vec::new();
    let mut arg_names = String::new();
    let mut count = 0i64;
    if let Some(Value::Obj(args)) = arguments {
        for (raw_key, v) in json::members(args) {
            let key = json::unescape(raw_key);
            if names.contains(&key) {
                return Err(bad_request(format!("duplicate argument {key:?}")));
            }
            count += 1;
            if names.len() == MAX_ARGS {
                continue;
            }
            let short = truncate(&key, MAX_TEXT);
            if !names.is_empty() {
                arg_names.push(',');
            }
            arg_names.push_str(short);
            let value = match v {
                Value::Str(s) => Some(ParamValue::Text(truncated(json::unescape(s)))),
                Value::Num(n) => Some(match n.parse::<i64>() {
                    Ok(i) => ParamValue::Integer(i),
                    Err(_) => ParamValue::Text(truncate(n, MAX_TEXT).to_string()),
                }),
                Value::Bool(b) => Some(ParamValue::Boolean(b)),
                Value::Null | Value::Obj(_) | Value::Arr(_) => None,
            };
            if let Some(value) = value {
                let mut pname = String::with_capacity(4 + short.len());
                pname.push_str("arg.");
                pname.push_str(short);
                out.push(Param { name: pname, value });
            }
            names.push(key);
        }
    }
    out.push(text_param("arg_names", arg_names));
    out.push(Param {
        name: "arg_count".into(),
        value: ParamValue::Integer(count),
    });
    Ok(action)
}

/// True when `tool` may name its own action `mcp.tools.<tool>`: one
/// segment of `[A-Za-z0-9_-]`, at most [`MAX_TEXT`] bytes, and not (in any
/// case) a name another method already uses under `mcp.tools.`.
pub(crate) fn tool_segment(tool: &str) -> bool {
    !tool.is_empty()
        && tool.len() <= MAX_TEXT
        && tool
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
        && !OPS.iter().any(|m| {
            m.action
                .strip_prefix(TOOLS_PREFIX)
                .is_some_and(|taken| taken.eq_ignore_ascii_case(tool))
        })
}

fn text_param(name: &str, value: String) -> Param {
    Param {
        name: name.into(),
        value: ParamValue::Text(value),
    }
}

/// `s` cut to at most `max` bytes on a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn truncated(s: Cow<'_, str>) -> String {
    truncate(&s, MAX_TEXT).to_string()
}

#[cfg(test)]
mod tests;
