//! Request-target checks: authority agreement and path normalization.
//! Nothing is rewritten: a request either passes as sent or is refused, so
//! what the connector classifies is exactly what is forwarded.

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

/// Why a path is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PathProblem {
    NotOriginForm,
    DotSegment,
    BadPercent,
}

impl PathProblem {
    pub(crate) fn describe(self) -> &'static str {
        match self {
            PathProblem::NotOriginForm => "the request target is not an absolute path",
            PathProblem::DotSegment => "the path contains a '.' or '..' segment",
            PathProblem::BadPercent => "the path contains an invalid percent-encoding",
        }
    }
}

/// Checks a path as sent: it must start with '/', every '%' must start a
/// valid escape, and no segment may be '.' or '..' (also when encoded).
pub(crate) fn check_path(path: &str) -> Result<(), PathProblem> {
    let Some(rest) = path.strip_prefix('/') else {
        return Err(PathProblem::NotOriginForm);
    };
    let b = path.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if i + 2 >= b.len() || !(b[i + 1].is_ascii_hexdigit() && b[i + 2].is_ascii_hexdigit()) {
                return Err(PathProblem::BadPercent);
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    if rest.split('/').any(is_dot_segment) {
        return Err(PathProblem::DotSegment);
    }
    Ok(())
}

fn is_dot_segment(seg: &str) -> bool {
    let b = seg.as_bytes();
    let mut dots = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'.' {
            i += 1;
        } else if b[i] == b'%'
            && b.get(i + 1) == Some(&b'2')
            && matches!(b.get(i + 2), Some(b'e' | b'E'))
        {
            i += 3;
        } else {
            return false;
        }
        dots += 1;
    }
    dots == 1 || dots == 2
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
    fn paths() {
        for ok in [
            "/",
            "/repos/o/r/pulls/7/merge",
            "/a%20b",
            "/a/.well-known/x",
            "/a..b",
            "/%2E%2Ex",
        ] {
            assert_eq!(check_path(ok), Ok(()), "{ok}");
        }
        for (bad, why) in [
            ("*", PathProblem::NotOriginForm),
            ("http://x/", PathProblem::NotOriginForm),
            ("/a/../b", PathProblem::DotSegment),
            ("/a/./b", PathProblem::DotSegment),
            ("/..", PathProblem::DotSegment),
            ("/a/%2e%2E/b", PathProblem::DotSegment),
            ("/a/.%2e", PathProblem::DotSegment),
            ("/a%2", PathProblem::BadPercent),
            ("/a%", PathProblem::BadPercent),
            ("/a%zz", PathProblem::BadPercent),
        ] {
            assert_eq!(check_path(bad), Err(why), "{bad}");
        }
    }

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
