//! Identifiers and the rules for names and domains: gateway and instance
//! names, connector names, connector domains. Each rule is written here once;
//! the store, the CLI, the admin API and the connector host call it.

use std::fmt;

/// A request id: 48 bits of unix milliseconds and 64 random bits, printed as
/// 28 lower-case hex digits, so ids sort by time. Randomness is passed in.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(u128);

impl RequestId {
    /// Builds an id from the time it was minted and a random value.
    pub fn new(unix_ms: u64, random: u64) -> Self {
        Self(((u128::from(unix_ms) & 0xffff_ffff_ffff) << 64) | u128::from(random))
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:028x}", self.0)
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Longest gateway, instance or connector name, in bytes.
pub const MAX_NAME: usize = 64;

/// A lowercase DNS host name: labels of `[a-z0-9-]`, 1–63 bytes, not
/// starting or ending with `-`, at most 253 bytes in all. No wildcards, no
/// IP literals with ports, no trailing dot. The one rule for connector
/// domains (descriptors, instances, scaffolds); see [`check_domain`] for the
/// same rule with an error that says what is wrong.
pub fn is_host_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

/// Why a domain is refused.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum DomainError {
    /// `*.example.com` and the like: nothing routes wildcards, so a stored
    /// one would never match.
    #[error(
        "domain {0:?} is a wildcard; wildcard domains are not supported: list each host name (e.g. api.example.com)"
    )]
    Wildcard(String),
    #[error(
        "domain {0:?} is not a lowercase host name (labels of [a-z0-9-], 1-63 bytes, not starting or ending with '-', at most 253 bytes; no scheme, port or trailing dot)"
    )]
    Invalid(String),
}

/// Checks a connector domain (after [`normalize_domain`], where the input
/// comes from a person): a host name per [`is_host_name`]; a wildcard is
/// named as such.
pub fn check_domain(domain: &str) -> Result<(), DomainError> {
    if is_host_name(domain) {
        Ok(())
    } else if domain.contains('*') {
        Err(DomainError::Wildcard(domain.to_owned()))
    } else {
        Err(DomainError::Invalid(domain.to_owned()))
    }
}

/// A domain as a person typed it, in the form [`check_domain`] judges:
/// surrounding whitespace and a trailing dot removed, ASCII lower-cased.
pub fn normalize_domain(domain: &str) -> String {
    domain.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// Returns true if `name` is a valid gateway or connector-instance name:
/// 1..=64 characters from `[A-Za-z0-9._ -]`, not starting with `.` or a
/// space, not ending with a space.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && !name.starts_with(['.', ' '])
        && !name.ends_with(' ')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b' '))
}

/// Returns true if `name` is a valid connector name (what a component
/// declares in its descriptor, the stem of its file in `<data>/connectors/`,
/// the kind of an instance, a scaffolded crate's name): a lowercase
/// identifier `[a-z][a-z0-9_-]*` of at most 64 bytes.
pub fn is_connector_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    name.len() <= MAX_NAME
        && bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_sort_by_time_and_print_fixed_width() {
        let a = RequestId::new(1, u64::MAX);
        let b = RequestId::new(2, 0);
        assert!(a < b);
        assert_eq!(a.to_string().len(), 28);
        assert_eq!(
            RequestId::new(0, 1).to_string(),
            "0000000000000000000000000001"
        );
    }

    #[test]
    fn names() {
        let long = "x".repeat(MAX_NAME);
        let too_long = "x".repeat(MAX_NAME + 1);
        let table: &[(&str, bool)] = &[
            ("Bot", true),
            ("ci-agent_2", true),
            ("My Bot", true),
            ("a.b", true),
            (&long, true),
            ("", false),
            (".hidden", false),
            (" x", false),
            ("x ", false),
            ("../etc", false),
            ("a/b", false),
            ("é", false),
            ("tab\there", false),
            ("nl\n", false),
            ("nul\0", false),
            ("del\x7f", false),
            (&too_long, false),
        ];
        for &(name, want) in table {
            assert_eq!(is_valid_name(name), want, "{name:?}");
        }
    }

    #[test]
    fn connector_names() {
        let long = format!("a{}", "b".repeat(MAX_NAME - 1));
        let too_long = format!("a{}", "b".repeat(MAX_NAME));
        let table: &[(&str, bool)] = &[
            ("github", true),
            ("my-api_v2", true),
            ("a", true),
            ("a0", true),
            (&long, true),
            ("", false),
            ("GitHub", false),
            ("0abc", false),
            ("-abc", false),
            ("_abc", false),
            ("git.hub", false),
            ("git hub", false),
            ("git/hub", false),
            ("gïthub", false),
            ("git\nhub", false),
            ("git\0", false),
            (&too_long, false),
        ];
        for &(name, want) in table {
            assert_eq!(is_connector_name(name), want, "{name:?}");
        }
    }

    #[test]
    fn domains() {
        let label = "a".repeat(63);
        let long_label = "a".repeat(64);
        // 4 labels of 63 bytes and 3 dots: 255 bytes, over the 253 cap.
        let too_long = [label.as_str(); 4].join(".");
        let longest = format!("{}.{}.{}.{}", label, label, label, "a".repeat(61));
        type Want = Result<(), fn(String) -> DomainError>;
        let ok: Want = Ok(());
        let wild: Want = Err(DomainError::Wildcard);
        let bad: Want = Err(DomainError::Invalid);
        let table: &[(&str, Want)] = &[
            ("api.github.com", ok),
            ("localhost", ok),
            ("a-b.c0", ok),
            ("127.0.0.1", ok),
            (&label, ok),
            (&longest, ok),
            ("*.slack.com", wild),
            ("*", wild),
            ("*.", wild),
            ("api.*.com", wild),
            ("a*b.com", wild),
            ("", bad),
            ("API.github.com", bad),
            ("a..b", bad),
            ("-a.b", bad),
            ("a-.b", bad),
            ("a/b", bad),
            ("a b", bad),
            ("a.b.", bad),
            ("api.github.com:443", bad),
            ("https://api.github.com", bad),
            ("bücher.de", bad),
            ("a\tb", bad),
            ("a\r\nb", bad),
            ("a\0b", bad),
            (&long_label, bad),
            (&too_long, bad),
        ];
        for (domain, want) in table {
            let want = (*want).map_err(|f| f((*domain).to_owned()));
            assert_eq!(check_domain(domain), want, "{domain:?}");
            assert_eq!(is_host_name(domain), want.is_ok(), "{domain:?}");
        }
        let wildcard = check_domain("*.example.com").unwrap_err().to_string();
        assert!(wildcard.contains("\"*.example.com\""), "{wildcard}");
        assert!(wildcard.contains("not supported"), "{wildcard}");
    }

    #[test]
    fn domains_normalize_to_the_checked_form() {
        for (typed, want) in [
            ("api.github.com", "api.github.com"),
            ("  API.GitHub.com. ", "api.github.com"),
            ("api.github.com..", "api.github.com"),
            ("", ""),
            ("*.Slack.com", "*.slack.com"),
            ("Bücher.DE", "bücher.de"),
        ] {
            assert_eq!(normalize_domain(typed), want, "{typed:?}");
        }
    }
}
