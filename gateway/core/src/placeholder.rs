//! The placeholder credential an agent holds instead of a real one, and how
//! to recognise one where it does not belong.
//!
//! `tf run` puts `tf-placeholder-<instance>-<8 hex>` into the agent's key
//! variables; the proxy replaces it with the real credential only in the
//! credential header of the instance's own route. Anywhere else (another
//! header, the query, the body, another connector's route) it means the
//! agent is sending its credential somewhere the gateway does not control,
//! and the request is refused. Pure: no I/O.

use sha2::{Digest, Sha256};

/// Every placeholder starts with this.
pub const PREFIX: &str = "tf-placeholder-";

/// The placeholder of connector instance `instance`: `tf-placeholder-<the
/// instance name with every non-alphanumeric as '-'>-<first 8 hex digits of
/// sha256(instance)>`.
pub fn for_instance(instance: &str) -> String {
    let slug: String = instance
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let digest = Sha256::digest(instance.as_bytes());
    format!("{PREFIX}{slug}-{}", hex::encode(&digest[..4]))
}

/// True if `bytes` contain a placeholder (the prefix, ASCII case-insensitive).
pub fn contains(bytes: &[u8]) -> bool {
    find(bytes).is_some()
}

/// Where the first placeholder prefix starts in `bytes`, ASCII case-insensitive.
pub fn find(bytes: &[u8]) -> Option<usize> {
    let p = PREFIX.as_bytes();
    if bytes.len() < p.len() {
        return None;
    }
    // Scan for the first byte, then compare; the prefix has no repeated
    // leading byte, so a mismatch can resume at the next position.
    (0..=bytes.len() - p.len()).find(|&i| {
        bytes[i].eq_ignore_ascii_case(&p[0]) && bytes[i..i + p.len()].eq_ignore_ascii_case(p)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_and_finds() {
        let p = for_instance("My Bot.github");
        assert!(p.starts_with("tf-placeholder-My-Bot-github-"), "{p}");
        assert_eq!(p.len(), PREFIX.len() + "My-Bot-github-".len() + 8);
        assert_ne!(for_instance("a.b"), for_instance("a-b"));
        for (hay, at) in [
            ("Bearer tf-placeholder-github-0a1b2c3d", Some(7)),
            ("TF-PLACEHOLDER-x", Some(0)),
            ("xtf-placeholder", None),
            ("tf-placeholder", None),
            ("", None),
            ("{\"token\":\"tf-placeholder-slack-00\"}", Some(10)),
        ] {
            assert_eq!(find(hay.as_bytes()), at, "{hay}");
        }
    }
}
