//! Plain-Rust mirror of the WIT types a connector works with.
//!
//! These are what connector code reads and returns; the export glue converts
//! them to and from the generated bindings, so connectors never see
//! wit-bindgen types.

use std::fmt;

/// How much harm an action can do if an agent misuses it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Risk {
    /// Reads and other harmless operations.
    Low,
    /// Ordinary writes.
    Medium,
    /// Destructive or security-relevant writes.
    High,
    /// Irreversible loss of a whole account-level resource.
    Critical,
}

impl Risk {
    /// The lower-case name used in fixtures and audit records.
    pub const fn as_str(self) -> &'static str {
        match self {
            Risk::Low => "low",
            Risk::Medium => "medium",
            Risk::High => "high",
            Risk::Critical => "critical",
        }
    }

    /// Parses the lower-case name produced by [`Risk::as_str`].
    pub fn parse(s: &str) -> Option<Risk> {
        match s {
            "low" => Some(Risk::Low),
            "medium" => Some(Risk::Medium),
            "high" => Some(Risk::High),
            "critical" => Some(Risk::Critical),
            _ => None,
        }
    }
}

impl fmt::Display for Risk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of a connector's action catalogue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActionSpec {
    /// Dotted action name, e.g. `github.pr.merge`.
    pub name: String,
    /// One line for humans.
    pub description: String,
    /// HTTP method in upper case, or `*` when the action is not tied to one.
    pub method: String,
    /// Path template, e.g. `/repos/{owner}/{repo}/pulls/{pull_number}/merge`.
    pub path_template: String,
    /// Risk of the action.
    pub risk: Risk,
    /// True when the operation only reads.
    pub read_only: bool,
}

/// Where the host puts the credential on an allowed request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Placement {
    /// The API needs no credential.
    None,
    /// Header `name` set to `template` with `{secret}` replaced.
    Header {
        /// Lower-case header name.
        name: String,
        /// Value template containing `{secret}`.
        template: String,
    },
    /// HTTP Basic; the stored secret is `user:password`.
    Basic,
}

impl Placement {
    /// `authorization: Bearer {secret}`, the placement most APIs use.
    pub fn bearer() -> Placement {
        Placement::Header {
            name: "authorization".into(),
            template: "Bearer {secret}".into(),
        }
    }
}

/// What a connector tells the host about itself, once, at load.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Descriptor {
    /// Connector name; also the prefix of its action names.
    pub name: String,
    /// The connector's own version (semver).
    pub version: String,
    /// Domains claimed by default; may be empty.
    pub domains: Vec<String>,
    /// Every action `classify` can return.
    pub actions: Vec<ActionSpec>,
    /// Default credential placement.
    pub placement: Placement,
    /// True when `classify` needs the request body.
    pub needs_body: bool,
}

/// The request as the host will forward it, minus credentials.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Request {
    /// Upper-case method.
    pub method: String,
    /// `https` or `http`.
    pub scheme: String,
    /// Lower-case host name without port.
    pub host: String,
    /// Normalized path, percent-encoding kept, no query.
    pub path: String,
    /// Raw query string without `?`.
    pub query: Option<String>,
    /// Lower-case header names and their values.
    pub headers: Vec<(String, String)>,
    /// The body, when the connector asked for it and it fit the host's limit.
    pub body: Option<Vec<u8>>,
}

impl Request {
    /// A body-less `https` request, handy in tests.
    pub fn new(method: &str, host: &str, path_and_query: &str) -> Request {
        let (path, query) = match path_and_query.split_once('?') {
            Some((p, q)) => (p, Some(q.to_string())),
            None => (path_and_query, None),
        };
        Request {
            method: method.to_string(),
            scheme: "https".to_string(),
            host: host.to_string(),
            path: path.to_string(),
            query,
            headers: Vec::new(),
            body: None,
        }
    }

    /// The same request with `body`.
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Request {
        self.body = Some(body.into());
        self
    }

    /// The first value of header `name` (give it in lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The raw (still percent-encoded) value of query parameter `name`.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        crate::extract::query_param(self.query.as_deref()?, name)
    }

    /// The top-level JSON field `key` of the body, if the body is a JSON object.
    pub fn json_field(&self, key: &str) -> Option<crate::extract::JsonValue<'_>> {
        crate::extract::json_field(self.body.as_deref()?, key)
    }

    /// Field `name` of the body as text, by its content type: a form field
    /// (`application/x-www-form-urlencoded`, decoded) or a top-level JSON
    /// string, number or boolean (anything else). `None` without a body
    /// (declare `needs_body` to get one).
    ///
    /// ```
    /// use tameflare_sdk::Request;
    /// let mut r = Request::new("POST", "api.test", "/charges").with_body("amount=500&currency=usd");
    /// r.headers.push(("content-type".into(), "application/x-www-form-urlencoded".into()));
    /// assert_eq!(r.body_field("amount").as_deref(), Some("500"));
    /// let j = Request::new("POST", "api.test", "/charges").with_body(r#"{"amount":500}"#);
    /// assert_eq!(j.body_field("amount").as_deref(), Some("500"));
    /// ```
    pub fn body_field(&self, name: &str) -> Option<std::borrow::Cow<'_, str>> {
        use crate::extract::{JsonValue, form_decode, form_field};
        let body = self.body.as_deref()?;
        let form = self
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
        if form {
            // Invalid UTF-8 is replaced, so a stray byte elsewhere in the
            // body cannot hide a field.
            return match String::from_utf8_lossy(body) {
                std::borrow::Cow::Borrowed(text) => form_field(text, name).map(form_decode),
                std::borrow::Cow::Owned(text) => form_field(&text, name)
                    .map(|v| std::borrow::Cow::Owned(form_decode(v).into_owned())),
            };
        }
        match self.json_field(name)? {
            v @ JsonValue::Str(_) => v.as_str(),
            JsonValue::Number(n) => Some(n.into()),
            JsonValue::Bool(b) => Some(if b { "true" } else { "false" }.into()),
            JsonValue::Null | JsonValue::Composite(_) => None,
        }
    }
}

/// A typed parameter value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParamValue {
    /// Text, kept as it appeared in the request.
    Text(String),
    /// A whole number.
    Integer(i64),
    /// A flag.
    Boolean(bool),
}

impl ParamValue {
    /// Integer when `name` is an id or number (`id`, `number`, `*_id`,
    /// `*_number`) and `value` parses as one; text otherwise.
    pub fn infer(name: &str, value: &str) -> ParamValue {
        let numeric_name =
            name == "id" || name == "number" || name.ends_with("_id") || name.ends_with("_number");
        if numeric_name && let Ok(n) = value.parse::<i64>() {
            return ParamValue::Integer(n);
        }
        ParamValue::Text(value.to_string())
    }
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamValue::Text(s) => write!(f, "{s:?}"),
            ParamValue::Integer(n) => write!(f, "{n}"),
            ParamValue::Boolean(b) => write!(f, "{b}"),
        }
    }
}

/// A named parameter of an action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Param {
    /// Parameter name, e.g. `owner`.
    pub name: String,
    /// Its value.
    pub value: ParamValue,
}

impl Param {
    /// A parameter whose type is inferred by [`ParamValue::infer`].
    pub fn infer(name: &str, value: &str) -> Param {
        Param {
            name: name.to_string(),
            value: ParamValue::infer(name, value),
        }
    }
}

/// The classification of one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Action {
    /// An action name from the catalogue.
    pub name: String,
    /// What the action is about, e.g. `octo/hello/pulls/7`.
    pub resource: String,
    /// Parameters a policy may use.
    pub params: Vec<Param>,
    /// Risk of this action.
    pub risk: Risk,
    /// For a request carrying several operations (e.g. a JSON-RPC batch):
    /// each operation's own action. The host decides each part and the most
    /// restrictive decision applies. Parts have no parts of their own. Empty
    /// for ordinary requests.
    pub parts: Vec<Action>,
}

impl Action {
    /// The value of parameter `name`, if present.
    pub fn param(&self, name: &str) -> Option<&ParamValue> {
        self.params
            .iter()
            .find(|p| p.name == name)
            .map(|p| &p.value)
    }
}

/// Why a request could not be classified. The host denies it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassifyError {
    /// Machine-readable code, e.g. `unsupported_method`.
    pub code: String,
    /// Human-readable detail.
    pub message: String,
}

impl ClassifyError {
    /// An error with `code` and `message`.
    pub fn new(code: &str, message: impl Into<String>) -> ClassifyError {
        ClassifyError {
            code: code.to_string(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ClassifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ClassifyError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn param_types_are_inferred_from_names() {
        let cases: &[(&str, &str, ParamValue)] = &[
            ("pull_number", "7", ParamValue::Integer(7)),
            ("number", "-3", ParamValue::Integer(-3)),
            ("id", "42", ParamValue::Integer(42)),
            ("release_id", "991", ParamValue::Integer(991)),
            ("release_id", "abc", ParamValue::Text("abc".into())),
            (
                "issue_number",
                "99999999999999999999",
                ParamValue::Text("99999999999999999999".into()),
            ),
            ("owner", "42", ParamValue::Text("42".into())),
            ("identity", "1", ParamValue::Text("1".into())),
            ("ref", "heads/main", ParamValue::Text("heads/main".into())),
        ];
        for (name, value, want) in cases {
            assert_eq!(&ParamValue::infer(name, value), want, "{name}={value}");
        }
    }

    #[test]
    fn request_helpers() {
        let req =
            Request::new("PATCH", "api.test", "/a?x=1&y=%20").with_body(r#"{"state":"closed"}"#);
        assert_eq!(
            (req.path.as_str(), req.query.as_deref()),
            ("/a", Some("x=1&y=%20"))
        );
        assert_eq!(req.query_param("y"), Some("%20"));
        assert_eq!(
            req.json_field("state").and_then(|v| v.as_str()).as_deref(),
            Some("closed")
        );
        assert_eq!(Risk::parse(Risk::Critical.as_str()), Some(Risk::Critical));
        assert_eq!(Risk::parse("severe"), None);
    }

    #[test]
    fn body_fields_by_content_type() {
        let form = |body: &[u8]| {
            let mut r = Request::new("POST", "api.test", "/").with_body(body);
            r.headers.push((
                "content-type".into(),
                "application/x-www-form-urlencoded; charset=utf-8".into(),
            ));
            r
        };
        let cases: &[(Request, &str, Option<&str>)] = &[
            (form(b"amount=5&memo=a+b"), "memo", Some("a b")),
            (form(b"memo=\xff&amount=5"), "amount", Some("5")),
            (form(b"amount=%FF"), "amount", Some("\u{fffd}")),
            (form(b"amount=5"), "currency", None),
            (
                Request::new("POST", "api.test", "/").with_body(r#"{"n":5,"b":true,"o":{}}"#),
                "n",
                Some("5"),
            ),
            (
                Request::new("POST", "api.test", "/").with_body(r#"{"n":5,"b":true,"o":{}}"#),
                "b",
                Some("true"),
            ),
            (
                Request::new("POST", "api.test", "/").with_body(r#"{"n":5,"b":true,"o":{}}"#),
                "o",
                None,
            ),
            (Request::new("POST", "api.test", "/"), "n", None),
        ];
        for (req, name, want) in cases {
            assert_eq!(req.body_field(name).as_deref(), *want, "{name} of {req:?}");
        }
    }
}
