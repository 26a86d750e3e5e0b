//! OpenAPI 3 documents → operations, and the naming rule for a connector
//! generated from one ([`OpenApiNaming`], used by `tf connector new
//! --from-openapi`).
//!
//! Reads JSON only (a YAML document must be converted first), OpenAPI 3.x
//! only. Takes from a document its `servers` (hosts → the connector's
//! default domains; the first server's path prefixes every operation's
//! path) and, for every `paths.<path>.<method>`, the `operationId`,
//! `summary` (else the first line of `description`), `tags` and the
//! `x-tameflare-action` / `x-tameflare-risk` extensions. Schemas,
//! parameters' types and `$ref`s are not needed and not read.
//!
//! The naming rule: `x-tameflare-action` when the operation has it; else
//! `<connector>.<operationId in snake_case>`; else
//! `<connector>.<method>_<path words>` (`GET /pets/{petId}` →
//! `get_pets_pet_id`). Risk: `x-tameflare-risk` when given; else `low` for
//! `GET` and `HEAD` (which are the read-only ones), `high` for `DELETE`,
//! `medium` for every other method.

use std::fmt;

use serde_json::{Map, Value};

use super::{GenerateError, Naming, Operation, generate, router, rows, snake_case};
use crate::route::{RouterBuf, param_names};
use crate::table::resource;
use crate::{Param, ParamValue, Risk};

/// The methods a path item may hold, in the order the table lists them.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Longest summary kept for the catalogue, in characters.
const MAX_SUMMARY: usize = 200;

/// What [`parse`] read from a document.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    /// `info.title` (may be empty).
    pub title: String,
    /// Host names of the servers, in order, without duplicates: the
    /// connector's default domains.
    pub hosts: Vec<String>,
    /// Every operation, paths prefixed with their server's path.
    pub operations: Vec<Operation>,
}

/// Why a document cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpenApiError {
    /// Not JSON (YAML is not read).
    NotJson(String),
    /// The top level is not an object.
    NotAnObject,
    /// `openapi` is missing or not 3.x (Swagger 2.0 included).
    UnsupportedVersion(String),
    /// `paths` is missing or has no operation.
    NoOperations,
    /// A part of the document has the wrong shape; says where.
    Malformed(String),
    /// The operations cannot become one table.
    Generate(GenerateError),
}

impl fmt::Display for OpenApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenApiError::NotJson(e) => write!(
                f,
                "not a JSON document ({e}); only JSON is read, so convert a YAML file first (e.g. `yq -o=json spec.yaml > spec.json`)"
            ),
            OpenApiError::NotAnObject => f.write_str("the document is not a JSON object"),
            OpenApiError::UnsupportedVersion(v) => write!(
                f,
                "unsupported version {v}: only OpenAPI 3.x documents are read (convert Swagger 2.0 first)"
            ),
            OpenApiError::NoOperations => {
                f.write_str("the document has no operations (`paths` is missing or empty)")
            }
            OpenApiError::Malformed(what) => write!(f, "malformed document: {what}"),
            OpenApiError::Generate(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for OpenApiError {}

impl From<GenerateError> for OpenApiError {
    fn from(e: GenerateError) -> Self {
        OpenApiError::Generate(e)
    }
}

/// A server URL's host (lower case, without port) and path (no trailing
/// `/`; empty for the root). Variables take their defaults.
fn server(value: &Value, at: &str) -> Result<(Option<String>, String), OpenApiError> {
    let url = value
        .get("url")
        .and_then(Value::as_str)
        .ok_or_else(|| OpenApiError::Malformed(format!("{at} has no `url` string")))?;
    let mut url = url.to_owned();
    if let Some(vars) = value.get("variables").and_then(Value::as_object) {
        for (name, var) in vars {
            if let Some(default) = var.get("default").and_then(Value::as_str) {
                url = url.replace(&format!("{{{name}}}"), default);
            }
        }
    }
    let (host, path) = match url.split_once("://") {
        Some((_, rest)) => {
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let host = authority.rsplit('@').next().unwrap_or_default();
            let host = host
                .split(':')
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase();
            (
                (!host.is_empty() && !host.contains('{')).then_some(host),
                path,
            )
        }
        None => (None, url.as_str()),
    };
    let path = path.split(['?', '#']).next().unwrap_or_default();
    Ok((host, path.trim_end_matches('/').to_owned()))
}

/// The servers of `obj` (a document, path item or operation): hosts and
/// the first one's path; `None` when it declares none.
fn servers(obj: &Value, at: &str) -> Result<Option<(Vec<String>, String)>, OpenApiError> {
    let Some(list) = obj.get("servers") else {
        return Ok(None);
    };
    let list = list
        .as_array()
        .ok_or_else(|| OpenApiError::Malformed(format!("{at}.servers is not an array")))?;
    let mut hosts = Vec::new();
    let mut base = None;
    for (i, s) in list.iter().enumerate() {
        let (host, path) = server(s, &format!("{at}.servers[{i}]"))?;
        hosts.extend(host);
        if base.is_none() {
            base = Some(path);
        }
    }
    Ok(base.map(|b| (hosts, b)))
}

/// One line of at most [`MAX_SUMMARY`] characters, no control characters.
fn one_line(text: &str) -> String {
    let line = text.trim().lines().next().unwrap_or_default().trim();
    let clean: String = line.chars().filter(|c| !c.is_control()).collect();
    match clean.char_indices().nth(MAX_SUMMARY) {
        Some((i, _)) => format!("{}…", &clean[..i]),
        None => clean,
    }
}

/// Reads an OpenAPI 3 document (JSON).
pub fn parse(text: &str) -> Result<Document, OpenApiError> {
    let doc: Value =
        serde_json::from_str(text).map_err(|e| OpenApiError::NotJson(e.to_string()))?;
    if !doc.is_object() {
        return Err(OpenApiError::NotAnObject);
    }
    match (doc.get("openapi"), doc.get("swagger")) {
        (Some(Value::String(v)), _) if v.starts_with("3.") => {}
        (Some(v), _) => return Err(OpenApiError::UnsupportedVersion(format!("openapi {v}"))),
        (None, Some(v)) => return Err(OpenApiError::UnsupportedVersion(format!("swagger {v}"))),
        (None, None) => {
            return Err(OpenApiError::UnsupportedVersion(
                "(no `openapi` field)".into(),
            ));
        }
    }
    let title = doc
        .pointer("/info/title")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let (mut hosts, base) = servers(&doc, "servers")?.unwrap_or_default();
    let paths = match doc.get("paths") {
        None => return Err(OpenApiError::NoOperations),
        Some(Value::Object(p)) => p,
        Some(_) => return Err(OpenApiError::Malformed("`paths` is not an object".into())),
    };
    let mut operations = Vec::new();
    for (path, item) in paths {
        let at = format!("paths.{path}");
        if !path.starts_with('/') {
            return Err(OpenApiError::Malformed(format!(
                "{at}: a path must start with '/'"
            )));
        }
        if !item.is_object() {
            return Err(OpenApiError::Malformed(format!("{at} is not an object")));
        }
        if item.get("$ref").is_some() {
            return Err(OpenApiError::Malformed(format!(
                "{at} is a `$ref`; inline the path item first"
            )));
        }
        let item_servers = servers(item, &at)?;
        for method in METHODS {
            let Some(op) = item.get(method) else {
                continue;
            };
            let at = format!("{at}.{method}");
            let Value::Object(obj) = op else {
                return Err(OpenApiError::Malformed(format!("{at} is not an object")));
            };
            let (op_hosts, op_base) = match servers(op, &at)?.or_else(|| item_servers.clone()) {
                Some((h, b)) => (h, b),
                None => (Vec::new(), base.clone()),
            };
            hosts.extend(op_hosts);
            let text = |k: &str| obj.get(k).and_then(Value::as_str).unwrap_or_default();
            if let Some(risk) = obj.get("x-tameflare-risk")
                && risk.as_str().and_then(Risk::parse).is_none()
            {
                return Err(OpenApiError::Malformed(format!(
                    "{at}.x-tameflare-risk is {risk}, not one of \"low\", \"medium\", \"high\", \"critical\""
                )));
            }
            if let Some(action) = obj.get("x-tameflare-action")
                && !action.is_string()
            {
                return Err(OpenApiError::Malformed(format!(
                    "{at}.x-tameflare-action is not a string"
                )));
            }
            let summary = match text("summary") {
                "" => one_line(text("description")),
                s => one_line(s),
            };
            operations.push(Operation {
                method: method.to_ascii_uppercase(),
                path: format!("{op_base}{path}"),
                operation_id: text("operationId").to_owned(),
                summary,
                tags: obj
                    .get("tags")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(String::from)
                            .collect()
                    })
                    .unwrap_or_default(),
                row: obj.clone(),
            });
        }
    }
    if operations.is_empty() {
        return Err(OpenApiError::NoOperations);
    }
    let mut seen = Vec::new();
    hosts.retain(|h| {
        let new = !seen.contains(h);
        seen.push(h.clone());
        new
    });
    Ok(Document {
        title,
        hosts,
        operations,
    })
}

/// The naming rule for a connector generated from an OpenAPI document
/// (see the module doc).
#[derive(Clone, Debug)]
pub struct OpenApiNaming {
    /// The connector's name.
    pub connector: String,
    /// The document's title, for the generated file's doc.
    pub title: String,
}

impl Naming for OpenApiNaming {
    fn connector(&self) -> &str {
        &self.connector
    }

    fn header(&self) -> String {
        let api = if self.title.is_empty() {
            "API"
        } else {
            &self.title
        };
        format!(
            "{api} operations → actions, generated from `spec/openapi.json`, one action\nper operation (the rule: `tameflare_sdk::codegen::openapi`)."
        )
    }

    fn action_name(&self, op: &Operation) -> String {
        if let Some(pinned) = op.row.get("x-tameflare-action").and_then(Value::as_str) {
            return pinned.to_owned();
        }
        let words = match snake_case(&op.operation_id) {
            w if !w.is_empty() => w,
            _ => snake_case(&format!("{} {}", op.method, op.path)),
        };
        format!("{}.{words}", self.connector)
    }

    fn risk(&self, op: &Operation, _action: &str) -> Risk {
        if let Some(r) = op
            .row
            .get("x-tameflare-risk")
            .and_then(Value::as_str)
            .and_then(Risk::parse)
        {
            return r;
        }
        match op.method.as_str() {
            "GET" | "HEAD" => Risk::Low,
            "DELETE" => Risk::High,
            _ => Risk::Medium,
        }
    }

    fn summary(&self, op: &Operation) -> String {
        op.summary.clone()
    }
}

/// A connector generated from a document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Generated {
    /// `src/routes.rs`.
    pub routes_rs: String,
    /// `fixtures/generated.jsonl`: one case per operation, and one for a
    /// request no operation matches.
    pub fixtures_jsonl: String,
    /// Host names of the document's servers.
    pub hosts: Vec<String>,
    /// The action name of each operation, in table order (besides
    /// `<connector>.unknown`).
    pub actions: Vec<String>,
}

/// The sample value of path parameter `name` in generated fixtures.
fn sample(name: &str) -> &'static str {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with("id") || lower.ends_with("number") {
        "42"
    } else {
        "sample"
    }
}

/// `template` with each parameter replaced by its [`sample`].
fn concrete(template: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        let name = rest[start + 1..start + len].trim_end_matches('+');
        out.push_str(sample(name));
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    out
}

fn param_json(value: ParamValue) -> Value {
    match value {
        ParamValue::Text(t) => Value::String(t),
        ParamValue::Integer(i) => Value::from(i),
        ParamValue::Boolean(b) => Value::Bool(b),
    }
}

/// The route and captured values of `method` + `path`, as
/// [`crate::table::Table::lookup_match`] finds them (HEAD as GET when no
/// HEAD route matches).
fn lookup(trie: &RouterBuf<'_>, method: &str, path: &str) -> Option<(usize, Vec<String>)> {
    let r = trie.router();
    let m = match r.lookup(method, path) {
        None if method == "HEAD" => r.lookup("GET", path),
        found => found,
    }?;
    let values = m
        .captures
        .values()
        .iter()
        .map(|v| (*v).to_owned())
        .collect();
    Some((m.route as usize, values))
}

/// Generates connector `connector`'s table and fixtures from OpenAPI
/// document `text`.
pub fn generate_connector(connector: &str, text: &str) -> Result<Generated, OpenApiError> {
    let doc = parse(text)?;
    let naming = OpenApiNaming {
        connector: connector.to_owned(),
        title: doc.title.clone(),
    };
    let routes_rs = generate(&naming, &doc.operations)?;
    let rows = rows(&naming, &doc.operations)?;
    let trie = router(&doc.operations, &rows)?.build();
    let mut out = String::from(
        "# Generated with the connector from the OpenAPI document: one request per operation\n\
         # (sample path values), and one that no operation matches.\n",
    );
    for (op, row) in doc.operations.iter().zip(&rows) {
        let path = concrete(&row.template);
        let Some((i, values)) = lookup(&trie, &op.method, &path) else {
            continue;
        };
        let hit = &rows[i];
        let params: Map<String, Value> = param_names(&hit.template)
            .zip(&values)
            .map(|(n, v)| {
                let p = Param::infer(n, v);
                (p.name, param_json(p.value))
            })
            .collect();
        let case = serde_json::json!({
            "method": op.method,
            "path": path,
            "expect": {
                "name": hit.action,
                "resource": resource(&path, hit.keep),
                "risk": hit.risk.as_str(),
                "params": params,
            },
        });
        out.push_str(&case.to_string());
        out.push('\n');
    }
    let unmatched = [
        ("POST", "/tameflare-unmatched"),
        ("PATCH", "/tameflare-unmatched/0/1/2/3/4/5/6/7/8/9"),
    ];
    if let Some((method, path)) = unmatched
        .iter()
        .find(|(m, p)| lookup(&trie, m, p).is_none())
    {
        let case = serde_json::json!({
            "method": method,
            "path": path,
            "expect": {
                "name": format!("{connector}.unknown"),
                "resource": path.trim_start_matches('/'),
                "risk": "high",
                "params": {},
            },
        });
        out.push_str(&case.to_string());
        out.push('\n');
    }
    Ok(Generated {
        routes_rs,
        fixtures_jsonl: out,
        hosts: doc.hosts,
        actions: rows.into_iter().map(|r| r.action).collect(),
    })
}

#[cfg(test)]
mod tests;
