//! Identifiers.

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

/// A lowercase DNS host name: labels of `[a-z0-9-]`, 1–63 bytes, not
/// starting or ending with `-`, at most 253 bytes in all. No wildcards, no
/// IP literals with ports, no trailing dot. The one rule for connector
/// domains (descriptors, instances, scaffolds).
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

/// Returns true if `name` is a valid gateway, connector-instance or connector
/// name: 1..=64 characters from `[A-Za-z0-9._ -]`, not starting with `.` or a space.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with(['.', ' '])
        && !name.ends_with(' ')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b' '))
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
        for ok in ["Bot", "ci-agent_2", "My Bot", "a.b"] {
            assert!(is_valid_name(ok), "{ok}");
        }
        for bad in [
            "",
            ".hidden",
            " x",
            "x ",
            "../etc",
            "a/b",
            "é",
            &"x".repeat(65),
        ] {
            assert!(!is_valid_name(bad), "{bad}");
        }
    }
}
