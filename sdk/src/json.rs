//! A small validating JSON reader, enough to classify a JSON body or a
//! JSON-RPC message (batches included) without pulling serde into the
//! guest.
//!
//! [`parse`] validates a whole document (RFC 8259: strings, escapes,
//! numbers, literals, nesting up to [`MAX_DEPTH`]) and returns its top-level
//! value borrowed from the text; [`members`] and [`elements`] walk an
//! already validated object or array one level deep. Nothing is copied
//! except string escapes, decoded on demand by [`unescape`].
//!
//! A document that is not valid JSON is never half-read: a connector sees
//! either the whole value or `None`, so the gateway cannot be shown other
//! fields than the API would parse. [`crate::extract::json_field`] and
//! [`crate::extract::json_rpc`] are built on this module.
//!
//! ```
//! use tameflare_sdk::json::{self, Value};
//! let Some(Value::Arr(batch)) = json::parse(r#"[{"method":"a"},{"method":"b"}]"#) else {
//!     panic!("a batch");
//! };
//! let methods: Vec<String> = json::elements(batch)
//!     .filter_map(|call| match call {
//!         Value::Obj(o) => json::members(o)
//!             .find(|(k, _)| json::unescape(k) == "method")
//!             .and_then(|(_, v)| match v {
//!                 Value::Str(s) => Some(json::unescape(s).into_owned()),
//!                 _ => None,
//!             }),
//!         _ => None,
//!     })
//!     .collect();
//! assert_eq!(methods, ["a", "b"]);
//! ```

use std::borrow::Cow;

/// Deepest nesting [`parse`] accepts; deeper documents are rejected rather
/// than recursed into.
pub const MAX_DEPTH: usize = 128;

/// A JSON value, borrowed from the document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value<'a> {
    /// A string, still escaped (the text between the quotes).
    Str(&'a str),
    /// A number, as written.
    Num(&'a str),
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
    /// An object, as written (braces included).
    Obj(&'a str),
    /// An array, as written (brackets included).
    Arr(&'a str),
}

/// The single value of document `text` (surrounding whitespace allowed), or
/// `None` when `text` is not valid JSON.
pub fn parse(text: &str) -> Option<Value<'_>> {
    let mut s = Scanner { text, pos: 0 };
    s.ws();
    let v = s.value(0)?;
    s.ws();
    (s.pos == text.len()).then_some(v)
}

/// The members of a validated object `obj`: (raw key, value) pairs.
pub fn members(obj: &str) -> Members<'_> {
    Members {
        s: Scanner { text: obj, pos: 1 },
        done: false,
    }
}

/// The elements of a validated array `arr`.
pub fn elements(arr: &str) -> Elements<'_> {
    Elements {
        s: Scanner { text: arr, pos: 1 },
        done: false,
    }
}

/// Iterator returned by [`members`].
#[derive(Debug)]
pub struct Members<'a> {
    s: Scanner<'a>,
    done: bool,
}

impl<'a> Iterator for Members<'a> {
    type Item = (&'a str, Value<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        self.s.ws();
        if self.s.peek() == Some(b'}') {
            self.done = true;
            return None;
        }
        let k = self.s.string()?;
        self.s.ws();
        self.s.eat(b':')?;
        self.s.ws();
        let v = self.s.value(0)?;
        self.s.ws();
        if self.s.peek() == Some(b',') {
            self.s.pos += 1;
        }
        Some((k, v))
    }
}

/// Iterator returned by [`elements`].
#[derive(Debug)]
pub struct Elements<'a> {
    s: Scanner<'a>,
    done: bool,
}

impl<'a> Iterator for Elements<'a> {
    type Item = Value<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        self.s.ws();
        if self.s.peek() == Some(b']') {
            self.done = true;
            return None;
        }
        let v = self.s.value(0)?;
        self.s.ws();
        if self.s.peek() == Some(b',') {
            self.s.pos += 1;
        }
        Some(v)
    }
}

/// Decodes the escapes of a validated raw string. Surrogate pairs combine;
/// a lone surrogate becomes U+FFFD.
pub fn unescape(raw: &str) -> Cow<'_, str> {
    if !raw.contains('\\') {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let esc = rest.as_bytes().get(i + 1).copied().unwrap_or(b'\\');
        rest = &rest[(i + 2).min(rest.len())..];
        let c = match esc {
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let hi = hex4(rest).unwrap_or(0xfffd);
                rest = rest.get(4..).unwrap_or("");
                if (0xd800..0xdc00).contains(&hi)
                    && let Some(lo) = rest.strip_prefix("\\u").and_then(hex4)
                    && (0xdc00..0xe000).contains(&lo)
                {
                    rest = &rest[6..];
                    char::from_u32(0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00))
                        .unwrap_or('\u{fffd}')
                } else {
                    char::from_u32(hi).unwrap_or('\u{fffd}')
                }
            }
            other => char::from(other),
        };
        out.push(c);
    }
    out.push_str(rest);
    Cow::Owned(out)
}

fn hex4(s: &str) -> Option<u32> {
    let h = s.get(..4)?;
    if !h.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(h, 16).ok()
}

#[derive(Debug)]
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

    /// A string with valid escapes and no raw control characters; returns
    /// the raw text between the quotes.
    fn string(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let start = self.pos;
        loop {
            match self.next()? {
                b'"' => return Some(&self.text[start..self.pos - 1]),
                b'\\' => match self.next()? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {}
                    b'u' => {
                        hex4(self.text.get(self.pos..)?)?;
                        self.pos += 4;
                    }
                    _ => return None,
                },
                0..=0x1f => return None,
                _ => {}
            }
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        self.pos - start
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    fn number(&mut self) -> Option<&'a str> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek()? {
            b'0' => self.pos += 1,
            b'1'..=b'9' => {
                self.digits();
            }
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            (self.digits() > 0).then_some(())?;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            (self.digits() > 0).then_some(())?;
        }
        Some(&self.text[start..self.pos])
    }

    fn word(&mut self, w: &str) -> Option<()> {
        let end = self.pos + w.len();
        (self.text.get(self.pos..end)? == w).then(|| self.pos = end)
    }

    fn value(&mut self, depth: usize) -> Option<Value<'a>> {
        match self.peek()? {
            b'"' => self.string().map(Value::Str),
            b'{' | b'[' if depth >= MAX_DEPTH => None,
            b'{' => {
                let start = self.pos;
                self.pos += 1;
                self.ws();
                if self.peek() == Some(b'}') {
                    self.pos += 1;
                } else {
                    loop {
                        self.ws();
                        self.string()?;
                        self.ws();
                        self.eat(b':')?;
                        self.ws();
                        self.value(depth + 1)?;
                        self.ws();
                        match self.next()? {
                            b',' => {}
                            b'}' => break,
                            _ => return None,
                        }
                    }
                }
                Some(Value::Obj(&self.text[start..self.pos]))
            }
            b'[' => {
                let start = self.pos;
                self.pos += 1;
                self.ws();
                if self.peek() == Some(b']') {
                    self.pos += 1;
                } else {
                    loop {
                        self.ws();
                        self.value(depth + 1)?;
                        self.ws();
                        match self.next()? {
                            b',' => {}
                            b']' => break,
                            _ => return None,
                        }
                    }
                }
                Some(Value::Arr(&self.text[start..self.pos]))
            }
            b't' => self.word("true").map(|()| Value::Bool(true)),
            b'f' => self.word("false").map(|()| Value::Bool(false)),
            b'n' => self.word("null").map(|()| Value::Null),
            b'-' | b'0'..=b'9' => self.number().map(Value::Num),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents() {
        let cases: &[(&str, Option<Value<'_>>)] = &[
            (r#" {"a":1} "#, Some(Value::Obj(r#"{"a":1}"#))),
            ("[]", Some(Value::Arr("[]"))),
            ("{ }", Some(Value::Obj("{ }"))),
            (r#""x\u00e9\n""#, Some(Value::Str(r"x\u00e9\n"))),
            ("-0.5e+3", Some(Value::Num("-0.5e+3"))),
            ("true", Some(Value::Bool(true))),
            ("null", Some(Value::Null)),
            (
                r#"{"a":[1,{"b":"]}"}],"c":null}"#,
                Some(Value::Obj(r#"{"a":[1,{"b":"]}"}],"c":null}"#)),
            ),
            ("", None),
            ("{", None),
            (r#"{"a":1,}"#, None),
            (r#"{"a" 1}"#, None),
            (r#"{a:1}"#, None),
            ("[1,]", None),
            ("[1 2]", None),
            (r#"{"a":1}x"#, None),
            (r#"{"a":1}{"b":2}"#, None),
            ("01", None),
            ("1.", None),
            ("-", None),
            ("1e", None),
            ("+1", None),
            ("tru", None),
            ("NaN", None),
            (r#""\x""#, None),
            (r#""\u12g4""#, None),
            ("\"a\tb\"", None),
            ("'a'", None),
        ];
        for &(doc, want) in cases {
            assert_eq!(parse(doc), want, "document {doc:?}");
        }
    }

    #[test]
    fn depth_is_bounded() {
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(&ok).is_some());
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert_eq!(parse(&deep), None);
        let huge = format!("{}{}", "[".repeat(1_000_000), "]".repeat(1_000_000));
        assert_eq!(parse(&huge), None);
    }

    #[test]
    fn walking() {
        let Some(Value::Obj(o)) = parse(r#"{ "a" : 1 , "b\"" : [2, {"c":3}], "d":{} }"#) else {
            panic!("object expected");
        };
        let got: Vec<(&str, Value<'_>)> = members(o).collect();
        assert_eq!(
            got,
            [
                ("a", Value::Num("1")),
                (r#"b\""#, Value::Arr(r#"[2, {"c":3}]"#)),
                ("d", Value::Obj("{}")),
            ]
        );
        let got: Vec<Value<'_>> = elements(r#"[2, {"c":3} ,"x"]"#).collect();
        assert_eq!(
            got,
            [Value::Num("2"), Value::Obj(r#"{"c":3}"#), Value::Str("x")]
        );
        assert_eq!(members("{}").count(), 0);
        assert_eq!(elements("[ ]").count(), 0);
    }

    #[test]
    fn unescaping() {
        let cases: &[(&str, &str)] = &[
            ("plain", "plain"),
            (r#"a\"b\\c\/d"#, "a\"b\\c/d"),
            (r"\n\t\r\b\f", "\n\t\r\u{8}\u{c}"),
            (r"m\u0065thod", "method"),
            (r"\ud83d\ude00!", "\u{1f600}!"),
            (r"\ud83dx", "\u{fffd}x"),
            (r"\ude00", "\u{fffd}"),
        ];
        for &(raw, want) in cases {
            assert_eq!(unescape(raw), want, "raw {raw:?}");
        }
    }
}
