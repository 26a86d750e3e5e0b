//! Allocation-free helpers to read a query parameter, a form field, a JSON
//! field (top level or nested) or a JSON-RPC call, enough for
//! classification decisions such as "does the PATCH body set `state` to
//! `closed`?".
//!
//! They never decode more than they are asked for and never fail loudly:
//! malformed input yields `None`.

use std::borrow::Cow;

use crate::json;

/// The raw value of query parameter `name` in `query` (no leading `?`).
/// A parameter without `=` has the empty value. Percent-encoding is kept.
pub fn query_param<'q>(query: &'q str, name: &str) -> Option<&'q str> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then_some(v)
    })
}

/// A JSON value, borrowed from the body (objects and arrays as written;
/// [`crate::json::Value`] tells them apart).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JsonValue<'a> {
    /// A string, still escaped (the text between the quotes).
    Str(&'a str),
    /// A number, as written.
    Number(&'a str),
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
    /// An object or array, as written.
    Composite(&'a str),
}

impl<'a> JsonValue<'a> {
    /// Field `key` of this value, if it is an object.
    ///
    /// ```
    /// use tameflare_sdk::extract::{json_field, JsonValue};
    /// let body = br#"{"params":{"name":"search","arguments":{"q":"x"}}}"#;
    /// let params = json_field(body, "params").unwrap();
    /// assert_eq!(params.field("name").and_then(|v| v.as_str()).as_deref(), Some("search"));
    /// ```
    pub fn field(&self, key: &str) -> Option<JsonValue<'a>> {
        match *self {
            JsonValue::Composite(raw) if raw.starts_with('{') => json_field(raw.as_bytes(), key),
            _ => None,
        }
    }

    /// The number as an integer, if this is an integral number.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            JsonValue::Number(n) => n.parse().ok(),
            _ => None,
        }
    }

    /// The unescaped string, if this is a string.
    pub fn as_str(&self) -> Option<Cow<'a, str>> {
        match *self {
            JsonValue::Str(raw) => Some(json::unescape(raw)),
            _ => None,
        }
    }
}

/// The top-level field `key` of a JSON object `body`. Later duplicates win,
/// as in most JSON parsers. `None` unless the whole body is valid JSON
/// (see [`crate::json`]): a malformed body shows no field at all.
pub fn json_field<'a>(body: &'a [u8], key: &str) -> Option<JsonValue<'a>> {
    let text = std::str::from_utf8(body).ok()?;
    let json::Value::Obj(obj) = json::parse(text)? else {
        return None;
    };
    json::members(obj)
        .filter(|(k, _)| json::unescape(k) == key)
        .last()
        .map(|(_, v)| JsonValue::from(v))
}

impl<'a> From<json::Value<'a>> for JsonValue<'a> {
    fn from(v: json::Value<'a>) -> Self {
        match v {
            json::Value::Str(s) => JsonValue::Str(s),
            json::Value::Num(n) => JsonValue::Number(n),
            json::Value::Bool(b) => JsonValue::Bool(b),
            json::Value::Null => JsonValue::Null,
            json::Value::Obj(c) | json::Value::Arr(c) => JsonValue::Composite(c),
        }
    }
}

/// One JSON-RPC 2.0 request or notification (not a batch), borrowed from
/// the body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonRpcCall<'a> {
    /// The method, unescaped.
    pub method: Cow<'a, str>,
    /// The id; `None` for a notification.
    pub id: Option<JsonValue<'a>>,
    /// The params, if any (an object or array).
    pub params: Option<JsonValue<'a>>,
}

/// The JSON-RPC call in `body`: an object with `"jsonrpc": "2.0"` and a
/// string `method`. `None` for anything else, batches included (an array;
/// split it yourself and report one [`crate::Action`] part per call).
///
/// ```
/// use tameflare_sdk::extract::json_rpc;
/// let call = json_rpc(br#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"search"}}"#).unwrap();
/// assert_eq!(call.method, "tools/call");
/// assert_eq!(call.id.and_then(|i| i.as_i64()), Some(7));
/// ```
pub fn json_rpc(body: &[u8]) -> Option<JsonRpcCall<'_>> {
    if json_field(body, "jsonrpc")?.as_str()? != "2.0" {
        return None;
    }
    Some(JsonRpcCall {
        method: json_field(body, "method")?.as_str()?,
        id: json_field(body, "id"),
        params: json_field(body, "params"),
    })
}

/// The raw (still encoded) value of the last field `name` of
/// `application/x-www-form-urlencoded` data (a form body or a query string).
/// Keys are compared after decoding (`chan%6Eel` is `channel`), and the last
/// occurrence wins, as in most servers' parsers, so a duplicate key cannot
/// make the gateway see another value than the API does.
pub fn form_field<'a>(data: &'a str, name: &str) -> Option<&'a str> {
    data.split('&').rev().find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        form_decoded(k).eq(name.bytes()).then_some(v)
    })
}

/// The bytes `raw` stands for: `+` is a space, `%XX` one byte; a `%` not
/// followed by two hex digits stands for itself.
pub fn form_decoded(raw: &str) -> impl Iterator<Item = u8> + '_ {
    let b = raw.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        let c = *b.get(i)?;
        i += 1;
        Some(match c {
            b'+' => b' ',
            b'%' => match (b.get(i).and_then(hex), b.get(i + 1).and_then(hex)) {
                (Some(h), Some(l)) => {
                    i += 2;
                    h << 4 | l
                }
                _ => b'%',
            },
            _ => c,
        })
    })
}

/// `raw` decoded to text (invalid UTF-8 replaced); borrowed when there is
/// nothing to decode.
pub fn form_decode(raw: &str) -> Cow<'_, str> {
    if !raw.bytes().any(|c| c == b'+' || c == b'%') {
        return Cow::Borrowed(raw);
    }
    let bytes: Vec<u8> = form_decoded(raw).collect();
    match String::from_utf8(bytes) {
        Ok(s) => Cow::Owned(s),
        Err(e) => Cow::Owned(String::from_utf8_lossy(e.as_bytes()).into_owned()),
    }
}

fn hex(c: &u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_params() {
        let cases: &[(&str, &str, Option<&str>)] = &[
            ("a=1&b=2", "b", Some("2")),
            ("a=1&b=2", "c", None),
            ("flag&a=1", "flag", Some("")),
            ("a=x%20y", "a", Some("x%20y")),
            ("a=1&a=2", "a", Some("1")),
        ];
        for &(q, name, want) in cases {
            assert_eq!(query_param(q, name), want, "query {q:?} param {name:?}");
        }
    }

    #[test]
    fn json_fields() {
        let cases: &[(&str, &str, Option<JsonValue<'_>>)] = &[
            (
                r#"{"state":"closed"}"#,
                "state",
                Some(JsonValue::Str("closed")),
            ),
            (
                r#" { "title" : "x", "state" : "open" } "#,
                "state",
                Some(JsonValue::Str("open")),
            ),
            (r#"{"nested":{"state":"closed"},"n":1}"#, "state", None),
            (
                r#"{"nested":{"a":[1,"]}"]},"sha":"abc"}"#,
                "sha",
                Some(JsonValue::Str("abc")),
            ),
            (r#"{"n":-1.5e3}"#, "n", Some(JsonValue::Number("-1.5e3"))),
            (r#"{"b":true,"z":null}"#, "z", Some(JsonValue::Null)),
            (r#"{"b":false}"#, "b", Some(JsonValue::Bool(false))),
            (r#"{"o":[1,2]}"#, "o", Some(JsonValue::Composite("[1,2]"))),
            (
                r#"{"st\u0061te":"closed"}"#,
                "state",
                Some(JsonValue::Str("closed")),
            ),
            (r#"{}"#, "state", None),
            (r#"[{"state":"closed"}]"#, "state", None),
            (r#"{"state":"closed""#, "state", None),
            ("not json", "state", None),
            // Anything invalid anywhere hides every field: no partial reads.
            (r#"{"state":"closed","x":01}"#, "state", None),
            (r#"{"state":"closed","x":"\q"}"#, "state", None),
            (r#"{"state":"closed"} trailing"#, "state", None),
            (r#"{"state":"closed",}"#, "state", None),
            (
                r#"{"state":"open","state":"closed"}"#,
                "state",
                Some(JsonValue::Str("closed")),
            ),
        ];
        for &(body, key, want) in cases {
            assert_eq!(
                json_field(body.as_bytes(), key),
                want,
                "body {body} key {key}"
            );
        }
    }

    #[test]
    fn unescaped_strings() {
        let v = json_field(br#"{"s":"a\"b\nc\u00e9"}"#, "s").unwrap();
        assert_eq!(v.as_str().unwrap(), "a\"b\nc\u{e9}");
        assert_eq!(JsonValue::Null.as_str(), None);
    }

    #[test]
    fn nesting_past_the_limit_shows_no_field() {
        let doc = |depth: usize| {
            format!(
                "{{\"a\":{}{},\"k\":1}}",
                "[".repeat(depth),
                "]".repeat(depth)
            )
        };
        let fits = doc(json::MAX_DEPTH - 1);
        assert_eq!(
            json_field(fits.as_bytes(), "k"),
            Some(JsonValue::Number("1"))
        );
        for depth in [json::MAX_DEPTH, 100_000] {
            assert_eq!(
                json_field(doc(depth).as_bytes(), "k"),
                None,
                "depth {depth}"
            );
        }
    }

    #[test]
    fn form_fields() {
        let cases: &[(&str, &str, Option<&str>)] = &[
            ("channel=C1&text=hi", "channel", Some("C1")),
            ("channel=C1&text=hi", "text", Some("hi")),
            ("channel=C1&text=hi", "user", None),
            ("text", "text", Some("")),
            ("chan%6Eel=C2", "channel", Some("C2")),
            ("channel=C1&channel=C2", "channel", Some("C2")),
            ("xchannel=C1", "channel", None),
            ("channel=%23general", "channel", Some("%23general")),
            ("", "channel", None),
        ];
        for &(data, name, want) in cases {
            assert_eq!(form_field(data, name), want, "{data:?} field {name:?}");
        }
    }

    #[test]
    fn form_decoding() {
        let cases: &[(&str, &str, usize)] = &[
            ("plain", "plain", 5),
            ("a+b", "a b", 3),
            ("%23general", "#general", 8),
            ("caf%C3%A9", "café", 5),
            ("100%", "100%", 4),
            ("%zz%4", "%zz%4", 5),
            ("%ff", "\u{fffd}", 1),
        ];
        for &(raw, text, len) in cases {
            assert_eq!(
                (form_decode(raw).as_ref(), form_decoded(raw).count()),
                (text, len),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn nested_fields_and_json_rpc() {
        let body = br#"{"jsonrpc":"2.0","method":"tools/call","params":{"name":"a\u0062","n":3}}"#;
        let call = json_rpc(body).unwrap();
        assert_eq!(call.method, "tools/call");
        assert_eq!(call.id, None);
        let params = call.params.unwrap();
        assert_eq!(params.field("name").unwrap().as_str().unwrap(), "ab");
        assert_eq!(params.field("n").unwrap().as_i64(), Some(3));
        assert_eq!(params.field("missing"), None);
        assert_eq!(json_rpc(br#"{"jsonrpc":"1.0","method":"x"}"#), None);
        assert_eq!(json_rpc(br#"[{"jsonrpc":"2.0","method":"x"}]"#), None);
        assert_eq!(json_rpc(br#"{"jsonrpc":"2.0","method":5}"#), None);
    }
}
