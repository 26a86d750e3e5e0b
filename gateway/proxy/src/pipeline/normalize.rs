//! Request-target checks: authority agreement and percent-decoding of
//! gateway names. The path's canonical form is `tf_core::canonical`'s job;
//! nothing here rewrites a request.

/// Splits `host[:port]` (IPv6 in brackets). `None` if malformed.
pub(crate) fn split_authority(a: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if a.starts_with('[') {
        let end = a.find(']')?;
        let rest = &a[end + 1..];
        let port = if rest.is_empty() {
            None
        } else {
            Some(rest.strip_prefix(':')?)
        };
        (&a[..=end], port)
    } else {
        match a.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (a, None),
        }
    };
    if host.is_empty() {
        return None;
    }
    let port = match port {
        None => None,
        Some(p) => Some(p.parse::<u16>().ok().filter(|&n| n != 0)?),
    };
    Some((host, port))
}

/// True if `authority` names `host:port` (`port` may be omitted when it is
/// the scheme's default). Host names compare case-insensitively.
pub(crate) fn authority_agrees(authority: &str, host: &str, port: u16, default_port: u16) -> bool {
    match split_authority(authority) {
        Some((h, p)) => {
            h.trim_end_matches('.').eq_ignore_ascii_case(host) && p.unwrap_or(default_port) == port
        }
        None => false,
    }
}

/// Decodes `%XX` escapes; `None` if an escape is invalid or the result is not UTF-8.
pub(crate) fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorities() {
        assert!(authority_agrees(
            "API.github.com",
            "api.github.com",
            443,
            443
        ));
        assert!(authority_agrees(
            "api.github.com:443",
            "api.github.com",
            443,
            443
        ));
        assert!(!authority_agrees(
            "api.github.com:8443",
            "api.github.com",
            443,
            443
        ));
        assert!(authority_agrees("x.test:8443", "x.test", 8443, 443));
        assert!(!authority_agrees("x.test", "x.test", 8443, 443));
        assert!(!authority_agrees("evil.test", "x.test", 443, 443));
        assert!(authority_agrees("[::1]:8443", "[::1]", 8443, 443));
        assert!(!authority_agrees("x.test:", "x.test", 443, 443));
        assert_eq!(percent_decode("My%20Bot").as_deref(), Some("My Bot"));
        assert_eq!(percent_decode("bad%2"), None);
    }
}
