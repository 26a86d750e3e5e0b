//! `application/x-www-form-urlencoded` field lookup (the SDK has none):
//! Slack takes its arguments as form fields in a POST body or in the query
//! string of a GET, both in this encoding.
//!
//! Keys are compared after decoding (`chan%6Eel` is `channel`, as Slack reads
//! it), and the last occurrence of a key wins, as in Slack's own parser, so
//! a duplicate key cannot make the gateway see another value than Slack.

use std::borrow::Cow;

/// The raw (still encoded) value of the last field `name` in `data`.
pub(crate) fn field<'a>(data: &'a str, name: &str) -> Option<&'a str> {
    data.split('&').rev().find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        decoded(k).eq(name.bytes()).then_some(v)
    })
}

/// The bytes `raw` stands for: `+` is a space, `%XX` one byte; a `%` not
/// followed by two hex digits stands for itself.
pub(crate) fn decoded(raw: &str) -> impl Iterator<Item = u8> + '_ {
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
pub(crate) fn decode(raw: &str) -> Cow<'_, str> {
    if !raw.bytes().any(|c| c == b'+' || c == b'%') {
        return Cow::Borrowed(raw);
    }
    let bytes: Vec<u8> = decoded(raw).collect();
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
    fn fields() {
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
            assert_eq!(field(data, name), want, "{data:?} field {name:?}");
        }
    }

    #[test]
    fn decoding() {
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
                (decode(raw).as_ref(), decoded(raw).count()),
                (text, len),
                "{raw:?}"
            );
        }
    }
}
