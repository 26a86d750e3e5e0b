//! The connector generator (feature `codegen`, host only): API operations →
//! a connector's `src/routes.rs`, the [`Op`](crate::table::Op) rows and the
//! route trie over them that [`crate::table::Table`] classifies with.
//!
//! Owns reading the sources (the trimmed spec rows of `specs/*.jsonl`,
//! [`parse_rows`] and [`parse_operations`]; OpenAPI 3 documents,
//! [`openapi`]), the keep rule ([`keep`]), the name checks ([`check_name`]
//! and uniqueness), and the emission of the table ([`generate`]). What one
//! connector decides — action names, risks, which methods an operation is
//! routed on, its own columns — is a [`Naming`] implementation kept in that
//! connector; [`openapi::OpenApiNaming`] is the rule for any OpenAPI file.
//!
//! Never writes a file: callers compare or write the text
//! ([`crate::testing::check_generated`], `cargo xtask codegen`,
//! `tf connector new --from-openapi`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Write as _};

use serde_json::{Map, Value};

use crate::Risk;
use crate::route::{RouteError, RouterBuilder, param_names};
use crate::table::KEEP_ALL;

pub mod openapi;

/// Longest action name the host accepts.
pub const MAX_ACTION_NAME: usize = 128;

/// One API operation, as a spec row or an OpenAPI operation gives it.
#[derive(Clone, Debug, PartialEq)]
pub struct Operation {
    /// HTTP method in upper case.
    pub method: String,
    /// The path as the table shows it (a template, `{name}` per parameter).
    pub path: String,
    /// The spec's operation id (empty when it has none).
    pub operation_id: String,
    /// The spec's summary (may be long or empty).
    pub summary: String,
    /// The spec's tags.
    pub tags: Vec<String>,
    /// The whole source object (a spec row, or an OpenAPI operation), for
    /// the fields one connector reads.
    pub row: Map<String, Value>,
}

impl Operation {
    /// Text field `key` of [`Operation::row`], or `""`.
    pub fn text(&self, key: &str) -> &str {
        self.row
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// The strings of list field `key` of [`Operation::row`] (none when absent).
    pub fn list(&self, key: &str) -> Vec<&str> {
        self.row
            .get(key)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    }

    /// Boolean field `key` of [`Operation::row`] (false when absent).
    pub fn flag(&self, key: &str) -> bool {
        self.row.get(key).and_then(Value::as_bool).unwrap_or(false)
    }

    /// `GET /path (operation_id)`, for messages.
    pub fn label(&self) -> String {
        if self.operation_id.is_empty() {
            format!("{} {}", self.method, self.path)
        } else {
            format!("{} {} ({})", self.method, self.path, self.operation_id)
        }
    }
}

/// Why a spec file could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecError {
    /// 1-based line of the file.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "spec line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for SpecError {}

/// One object of a JSON-lines file and its 1-based line.
pub type NumberedRow = (usize, Map<String, Value>);

/// The objects of a JSON-lines file (blank lines skipped), each with its line.
pub fn parse_rows(text: &str) -> Result<Vec<NumberedRow>, SpecError> {
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let err = |message: String| SpecError {
            line: i + 1,
            message,
        };
        match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(row)) => rows.push((i + 1, row)),
            Ok(_) => return Err(err("not a JSON object".into())),
            Err(e) => return Err(err(format!("not JSON: {e}"))),
        }
    }
    Ok(rows)
}

/// The operations of a REST spec file in the common row format of `specs/`
/// (`method`, `path`, `operation_id`, `summary`, `tags`, and any other
/// fields, kept in [`Operation::row`]).
pub fn parse_operations(text: &str) -> Result<Vec<Operation>, SpecError> {
    parse_rows(text)?
        .into_iter()
        .map(|(line, row)| {
            let field = |k: &str| row.get(k).and_then(Value::as_str).map(str::to_owned);
            let (Some(method), Some(path)) = (field("method"), field("path")) else {
                return Err(SpecError {
                    line,
                    message: "a row needs the strings `method` and `path`".into(),
                });
            };
            let tags = row
                .get("tags")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default();
            Ok(Operation {
                method,
                path,
                operation_id: field("operation_id").unwrap_or_default(),
                summary: field("summary").unwrap_or_default(),
                tags,
                row,
            })
        })
        .collect()
}

/// A connector's choices, applied by [`generate`]: everything that is not
/// the same for every table-driven connector.
pub trait Naming {
    /// The connector's name; every action is `<connector>.<…>`.
    fn connector(&self) -> &str;

    /// The lines of the generated file's module doc: what it holds and
    /// where it comes from.
    fn header(&self) -> String;

    /// How to regenerate the file, named in its module doc.
    fn regenerate(&self) -> &str {
        "`UPDATE_ROUTES=1 cargo test`"
    }

    /// The action name of `op`.
    fn action_name(&self, op: &Operation) -> String;

    /// The risk of `op`, named `action`.
    fn risk(&self, op: &Operation, action: &str) -> Risk;

    /// True when `op` changes nothing (default: `GET` and `HEAD`).
    fn read_only(&self, op: &Operation, action: &str) -> bool {
        let _ = action;
        matches!(op.method.as_str(), "GET" | "HEAD")
    }

    /// The one-line summary the table keeps (default: the spec's).
    fn summary(&self, op: &Operation) -> String {
        op.summary.clone()
    }

    /// The router template of `op`, which also gives its params and keep
    /// (default: its path without a query).
    fn template(&self, op: &Operation) -> String {
        op.path.split('?').next().unwrap_or_default().to_owned()
    }

    /// The methods `op` is routed on (default: its own); none leaves it out
    /// of the router (a row the connector selects another way).
    fn route_methods(&self, op: &Operation) -> Vec<String> {
        vec![op.method.clone()]
    }

    /// Names that several operations share on purpose; every other name
    /// must be unique, and each of these must really be shared.
    fn shared_names(&self) -> &[&str] {
        &[]
    }

    /// Names the connector returns itself, which no operation may take.
    fn reserved_names(&self) -> &[&str] {
        &[]
    }

    /// The path of the connector's type for [`crate::table::Op::extra`]
    /// (e.g. `crate::actions::Extra`); `None` for `()`.
    fn extra_type(&self) -> Option<&str> {
        None
    }

    /// The Rust expression of operation `index`'s extra columns.
    fn extra(&self, index: usize, ops: &[Operation]) -> String {
        let _ = (index, ops);
        "()".into()
    }

    /// Whether the file has a `ROUTER` (false for tables looked up another
    /// way, e.g. by JSON-RPC method).
    fn router(&self) -> bool {
        true
    }
}

/// Why a table cannot be generated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GenerateError {
    /// An action name breaks the name rule ([`check_name`]).
    InvalidName {
        /// The operation ([`Operation::label`]).
        operation: String,
        /// Its action name.
        name: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// An operation takes a name the connector reserves.
    ReservedName {
        /// The operation.
        operation: String,
        /// Its action name.
        name: String,
    },
    /// Several operations have one name that may not be shared.
    DuplicateName {
        /// The name.
        name: String,
        /// The operations.
        operations: Vec<String>,
    },
    /// A name allowed to be shared is not.
    UnsharedName(String),
    /// An operation's method is not an upper-case token.
    BadMethod(String),
    /// An operation's path does not compile into the router (malformed,
    /// or the same method and shape as another).
    Route {
        /// The operation.
        operation: String,
        /// The router's complaint.
        error: RouteError,
    },
    /// An operation's last parameter is past the 254th segment.
    PathTooLong(String),
}

impl fmt::Display for GenerateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GenerateError::InvalidName {
                operation,
                name,
                reason,
            } => write!(f, "{operation}: action name {name:?} {reason}"),
            GenerateError::ReservedName { operation, name } => {
                write!(
                    f,
                    "{operation}: action name {name:?} is reserved by the connector"
                )
            }
            GenerateError::DuplicateName { name, operations } => write!(
                f,
                "action name {name:?} names {} operations: {}",
                operations.len(),
                operations.join(", ")
            ),
            GenerateError::UnsharedName(n) => {
                write!(
                    f,
                    "action name {n:?} may be shared but names one operation or none"
                )
            }
            GenerateError::BadMethod(op) => {
                write!(f, "{op}: the method is not an upper-case token")
            }
            GenerateError::Route { operation, error } => write!(f, "{operation}: {error}"),
            GenerateError::PathTooLong(op) => write!(f, "{op}: too many path segments"),
        }
    }
}

impl std::error::Error for GenerateError {}

/// Checks action `name` of `connector` against the generator's naming
/// convention: `<connector>.` then one or more dot-separated segments of
/// `[a-z0-9_]`, at most [`MAX_ACTION_NAME`] bytes. This is a style the
/// generator holds itself to (lower case, no `-`), stricter than what the
/// contract allows; whether a catalogue is valid is decided once, by the
/// gateway (`tf_core::action::is_catalogue_name`), when the component loads.
pub fn check_name(connector: &str, name: &str) -> Result<(), &'static str> {
    if name.len() > MAX_ACTION_NAME {
        return Err("is longer than 128 bytes");
    }
    let Some(rest) = name
        .strip_prefix(connector)
        .and_then(|r| r.strip_prefix('.'))
    else {
        return Err("does not start with the connector's name and a dot");
    };
    let valid = rest.split('.').all(|seg| {
        !seg.is_empty()
            && seg
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    });
    if valid {
        Ok(())
    } else {
        Err("has a segment that is empty or not made of [a-z0-9_]")
    }
}

/// The keep rule: how many leading segments of `template` make the
/// resource — up to the last parameter; all ([`KEEP_ALL`]) when there is
/// none or it is a tail (`{path+}`). `None` past the 254th segment.
pub fn keep(template: &str) -> Option<u8> {
    let segs: Vec<&str> = template.trim_start_matches('/').split('/').collect();
    match segs.iter().rposition(|s| s.contains('{')) {
        Some(i) if !segs[i].ends_with("+}") => u8::try_from(i + 1).ok().filter(|&k| k != KEEP_ALL),
        _ => Some(KEEP_ALL),
    }
}

/// One operation with everything [`generate`] derives for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// The action name.
    pub action: String,
    /// The router template.
    pub template: String,
    /// Methods it is routed on.
    pub methods: Vec<String>,
    /// [`keep`] of the template.
    pub keep: u8,
    /// Its risk.
    pub risk: Risk,
    /// Whether it only reads.
    pub read_only: bool,
}

/// Applies `naming` to every operation and checks the result: valid,
/// unreserved names, unique unless shared on purpose, valid methods and
/// templates that compile into one router.
pub fn rows<N: Naming + ?Sized>(naming: &N, ops: &[Operation]) -> Result<Vec<Row>, GenerateError> {
    let mut rows = Vec::with_capacity(ops.len());
    let mut by_name: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for op in ops {
        let valid_method =
            !op.method.is_empty() && op.method.bytes().all(|b| b.is_ascii_uppercase());
        if !valid_method {
            return Err(GenerateError::BadMethod(op.label()));
        }
        let action = naming.action_name(op);
        check_name(naming.connector(), &action).map_err(|reason| GenerateError::InvalidName {
            operation: op.label(),
            name: action.clone(),
            reason,
        })?;
        if naming.reserved_names().contains(&action.as_str()) {
            return Err(GenerateError::ReservedName {
                operation: op.label(),
                name: action,
            });
        }
        by_name.entry(action.clone()).or_default().push(op.label());
        let template = naming.template(op);
        let keep = keep(&template).ok_or_else(|| GenerateError::PathTooLong(op.label()))?;
        rows.push(Row {
            risk: naming.risk(op, &action),
            read_only: naming.read_only(op, &action),
            methods: naming.route_methods(op),
            action,
            template,
            keep,
        });
    }
    let shared: BTreeSet<&str> = naming.shared_names().iter().copied().collect();
    for (name, operations) in &by_name {
        if operations.len() > 1 && !shared.contains(name.as_str()) {
            return Err(GenerateError::DuplicateName {
                name: name.clone(),
                operations: operations.clone(),
            });
        }
    }
    if let Some(n) = shared
        .iter()
        .find(|n| by_name.get(**n).is_none_or(|ops| ops.len() < 2))
    {
        return Err(GenerateError::UnsharedName((*n).to_owned()));
    }
    Ok(rows)
}

/// The route trie of `rows` (route = row index), checked.
pub fn router<'r>(ops: &[Operation], rows: &'r [Row]) -> Result<RouterBuilder<'r>, GenerateError> {
    let mut builder = RouterBuilder::new();
    for (i, (op, row)) in ops.iter().zip(rows).enumerate() {
        for m in &row.methods {
            let route = u32::try_from(i).expect("fewer than 2^32 operations");
            builder
                .insert(m, &row.template, route)
                .map_err(|error| GenerateError::Route {
                    operation: op.label(),
                    error,
                })?;
        }
    }
    Ok(builder)
}

/// The whole `routes.rs` of `ops` under `naming`: a module doc, the `OPS`
/// rows in the order given and, unless [`Naming::router`] says otherwise,
/// the `ROUTER` trie over them.
pub fn generate<N: Naming + ?Sized>(
    naming: &N,
    ops: &[Operation],
) -> Result<String, GenerateError> {
    let rows = rows(naming, ops)?;
    let trie = if naming.router() {
        Some(router(ops, &rows)?.build().to_rust("tameflare_sdk::route"))
    } else {
        None
    };

    let mut s = String::new();
    for line in naming.header().lines() {
        let _ = writeln!(s, "{}", format!("//! {line}").trim_end());
    }
    let _ = writeln!(
        s,
        "//! Generated by `tameflare_sdk::codegen`; do not edit: run {}.\n",
        naming.regenerate()
    );
    s.push_str("use tameflare_sdk::Risk;\nuse tameflare_sdk::table::Op;\n");
    let op_type = match naming.extra_type() {
        Some(path) => {
            let _ = writeln!(s, "\nuse {path};");
            format!("Op<{}>", path.rsplit("::").next().unwrap_or(path))
        }
        None => "Op".to_owned(),
    };
    let _ = writeln!(
        s,
        "\n/// Every operation, in table order{}.",
        if naming.router() {
            "; the router returns indices into it"
        } else {
            ""
        }
    );
    let _ = writeln!(s, "pub(crate) static OPS: [{op_type}; {}] = [", ops.len());
    for (i, (op, row)) in ops.iter().zip(&rows).enumerate() {
        let params: Vec<String> = param_names(&row.template)
            .map(|p| format!("{p:?}"))
            .collect();
        let _ = writeln!(
            s,
            "    Op {{ method: {:?}, path: {:?}, operation_id: {:?}, action: {:?}, summary: {:?}, params: &[{}], keep: {}, risk: Risk::{:?}, read_only: {}, extra: {} }},",
            op.method,
            op.path,
            op.operation_id,
            row.action,
            naming.summary(op),
            params.join(", "),
            row.keep,
            row.risk,
            row.read_only,
            naming.extra(i, ops),
        );
    }
    s.push_str("];\n");
    if let Some(trie) = trie {
        s.push_str(
            "\n/// The route trie over [`OPS`].\npub(crate) static ROUTER: tameflare_sdk::route::Router<'static> = ",
        );
        s.push_str(&trie);
        s.push_str(";\n");
    }
    Ok(s)
}

/// `camelCase`, `kebab-case`, `dotted.words` or `Title Case` → `snake_case`:
/// ASCII letters and digits kept (lower case), a `_` where a new word
/// starts (a capital after a lower-case letter or digit, or the last capital
/// of a run followed by a lower-case letter: `URLExternal` → `url_external`),
/// every other character a word break; no leading, trailing or double `_`.
pub fn snake_case(s: &str) -> String {
    let c: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len() + 4);
    let mut gap = false;
    for (i, &ch) in c.iter().enumerate() {
        if !ch.is_ascii_alphanumeric() {
            gap = true;
            continue;
        }
        let boundary = ch.is_ascii_uppercase()
            && i > 0
            && (c[i - 1].is_ascii_lowercase()
                || c[i - 1].is_ascii_digit()
                || (c[i - 1].is_ascii_uppercase()
                    && c.get(i + 1).is_some_and(|n| n.is_ascii_lowercase())));
        if (gap || boundary) && !out.is_empty() {
            out.push('_');
        }
        gap = false;
        out.push(ch.to_ascii_lowercase());
    }
    out
}

#[cfg(test)]
mod tests;
