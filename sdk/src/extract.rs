//! Allocation-free helpers to read a query parameter, a form field, a JSON
//! field (top level or nested) or a JSON-RPC call, enough for
//! classification decisions such as "does the PATCH body set `state` to
//! `closed`?".
//!
//! They never decode more than they are asked for and never fail loudly:
//! malformed input yields `None`.

use std::borrow::Cow;

/// The raw value of query parameter `name` in `query` (no leading `?`).
/// A parameter without `=` has the empty value. Percent-encoding is kept.
pub fn query_param<'q>(query: &'q str, name: &str) -> Option<&'q str> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then_some(v)
    })
}

/// A top-level JSON value, borrowed from the body.
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
            JsonValue::Str(raw) if !raw.contains('\\') => Some(Cow::Borrowed(raw)),
            JsonValue::Str(raw) => unescape(raw).map(Cow::Owned),
            _ => None,
        }
    }
}

/// The top-level field `key` of a JSON object `body`. Later duplicates win,
/// as in most JSON parsers.
pub fn json_field<'a>(body: &'a [u8], key: &str) -> Option<JsonValue<'a>> {
    let text = std::str::from_utf8(body).ok()?;
    let mut s = Scanner { text, pos: 0 };
    s.ws();
    s.eat(b'{')?;
    let mut found = None;
    s.ws();
    if s.peek() == Some(b'}') {
        return None;
    }
    loop {
        s.ws();
        let k = s.string()?;
        s.ws();
        s.eat(b':')?;
        s.ws();
        let v = s.value()?;
        let matches = if k.contains('\\') {
            unescape(k).is_some_and(|u| u == key)
        } else {
            k == key
        };
        if matches {
            found = Some(v);
        }
        s.ws();
        match s.next()? {
            b',' => continue,
            b'}' => return found,
            _ => return None,
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

struct Scanner<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Some(b)
    }

    fn eat(&mut self, b: u8) -> Option<()> {
        (self.next()? == b).then_some(())
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    /// A string; returns the raw text between the quotes.
    fn string(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let start = self.pos;
        loop {
            match self.next()? {
                b'"' => return Some(&self.text[start..self.pos - 1]),
                b'\\' => {
                    self.next()?;
                }
                _ => {}
            }
        }
    }

    fn value(&mut self) -> Option<JsonValue<'a>> {
        match self.peek()? {
            b'"' => self.string().map(JsonValue::Str),
            b'{' | b'[' => {
                let start = self.pos;
                self.composite()?;
                Some(JsonValue::Composite(&self.text[start..self.pos]))
            }
            b't' => self.word("true").map(|()| JsonValue::Bool(true)),
            b'f' => self.word("false").map(|()| JsonValue::Bool(false)),
            b'n' => self.word("null").map(|()| JsonValue::Null),
            b'-' | b'0'..=b'9' => {
                let start = self.pos;
                while matches!(
                    self.peek(),
                    Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                ) {
                    self.pos += 1;
                }
                Some(JsonValue::Number(&self.text[start..self.pos]))
            }
            _ => None,
        }
    }

    fn word(&mut self, w: &str) -> Option<()> {
        let end = self.pos + w.len();
        (self.text.get(self.pos..end)? == w).then(|| self.pos = end)
    }

    /// Skips a balanced object or array, strings included. Iterative, so a
    /// deeply nested body cannot exhaust the stack.
    fn composite(&mut self) -> Option<()> {
        let mut depth = 0usize;
        loop {
            match self.peek()? {
                b'"' => {
                    self.string()?;
                    continue;
                }
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth -= 1;
                    if depth == 0 {
                        self.pos += 1;
                        return Some(());
                    }
                }
                _ => {}
            }
            self.pos += 1;
        }
    }
}

/// Decodes JSON string escapes; `None` on a malformed escape.
fn unescape(raw: &str) -> Option<String> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            '"' => out.push('"'),
            '\\' => out.push('\\'),
            '/' => out.push('/'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'u' => {
                let hex: String = chars.by_ref().take(4).collect();
                let code = u32::from_str_radix(&hex, 16).ok()?;
                out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
            }
            _ => return None,
        }
    }
    Some(out)
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
    fn deep_nesting_does_not_recurse() {
        let body = format!(
            "{{\"a\":{}{},\"k\":1}}",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        assert_eq!(
            json_field(body.as_bytes(), "k"),
            Some(JsonValue::Number("1"))
        );
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
