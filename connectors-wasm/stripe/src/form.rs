//! Reading one field of an `application/x-www-form-urlencoded` body or query
//! string (Stripe's v1 encoding), allocation-light: keys are compared while
//! decoding, and only the value that is returned is copied.

/// Bytes of `raw` with `+` → space and `%XX` → the byte it encodes; a `%`
/// not followed by two hex digits stays as is.
fn decoded(raw: &[u8]) -> impl Iterator<Item = u8> + '_ {
    let mut i = 0;
    std::iter::from_fn(move || {
        let b = *raw.get(i)?;
        i += 1;
        match b {
            b'+' => Some(b' '),
            b'%' => match (raw.get(i).and_then(hex), raw.get(i + 1).and_then(hex)) {
                (Some(hi), Some(lo)) => {
                    i += 2;
                    Some(hi << 4 | lo)
                }
                _ => Some(b'%'),
            },
            _ => Some(b),
        }
    })
}

fn hex(b: &u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The decoded value of top-level field `key` in form-encoded `input`
/// (`a=1&b=x+y`). Keys are matched after decoding, so `%61mount` is
/// `amount`; nested keys such as `amount[value]` are other fields. When a
/// key repeats, the last one wins (as in Rack, which Stripe's v1 API runs
/// on). A field without `=` has the empty value. Invalid UTF-8 in the value
/// is replaced.
pub(crate) fn field(input: &[u8], key: &str) -> Option<String> {
    let mut found = None;
    for pair in input.split(|&b| b == b'&') {
        let (k, v) = match pair.iter().position(|&b| b == b'=') {
            Some(eq) => (&pair[..eq], &pair[eq + 1..]),
            None => (pair, &pair[pair.len()..]),
        };
        if !k.is_empty() && decoded(k).eq(key.bytes()) {
            found = Some(v);
        }
    }
    let raw = found?;
    if !raw.iter().any(|&b| b == b'+' || b == b'%') {
        return Some(String::from_utf8_lossy(raw).into_owned());
    }
    let bytes: Vec<u8> = decoded(raw).collect();
    Some(match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::field;

    #[test]
    fn fields() {
        let cases: &[(&str, &str, Option<&str>)] = &[
            ("amount=2000&currency=usd", "amount", Some("2000")),
            ("amount=2000&currency=usd", "currency", Some("usd")),
            ("amount=2000&currency=usd", "customer", None),
            ("description=a+b%20c", "description", Some("a b c")),
            ("customer=cus%5F1", "customer", Some("cus_1")),
            ("%61mount=5", "amount", Some("5")),
            ("am+ount=5", "am ount", Some("5")),
            ("amount[value]=5&amount=7", "amount", Some("7")),
            ("amount%5Bvalue%5D=5", "amount", None),
            ("amount=1&amount=9", "amount", Some("9")),
            ("flag&x=1", "flag", Some("")),
            ("x=100%", "x", Some("100%")),
            ("x=%zz%4", "x", Some("%zz%4")),
            ("x=caf%C3%A9", "x", Some("caf\u{e9}")),
            ("x=%FF", "x", Some("\u{fffd}")),
            ("&&=3&x=", "x", Some("")),
            ("", "x", None),
            ("amount=1=2", "amount", Some("1=2")),
        ];
        for &(input, key, want) in cases {
            assert_eq!(
                field(input.as_bytes(), key).as_deref(),
                want,
                "field {key:?} of {input:?}"
            );
        }
    }
}
