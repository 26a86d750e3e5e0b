//! The canonical form of a request path: the one spelling the proxy
//! classifies, audits and forwards.
//!
//! Upstreams fold many spellings of a path into one (`/repos/o/r/`,
//! `//repos/o/r`, `/%72epos/o/r` all reach the same handler on a server
//! that collapses slashes and decodes escapes). If the gateway classified
//! the spelling as sent while the upstream executed the folded one, a deny
//! rule could be side-stepped. So [`canonical_path`] decides once:
//!
//! - the path starts with `/`;
//! - every `%` starts a valid `%XX` escape;
//! - an escape of an unreserved character (`A`–`Z`, `a`–`z`, `0`–`9`, `-`,
//!   `.`, `_`, `~`) is decoded; every other escape is kept, with upper-case
//!   hex digits;
//! - runs of `/` collapse into one, and one trailing `/` is dropped (`/`
//!   itself stays `/`);
//! - anything a server may still read in more than one way is refused
//!   ([`NonCanonical`]): a backslash (literal or `%5C`), a literal `;`
//!   (path parameters), an encoded slash `%2F` (contract 0.1 has no way for
//!   a connector to declare that it accepts one), an escape of a control
//!   character (`%00`–`%1F`, `%7F`), `%25` followed by two hex digits
//!   (double encoding), escapes that do not decode to UTF-8, and `.` or `..`
//!   segments after decoding.
//!
//! Canonicalizing is idempotent, and a path already in canonical form is
//! returned borrowed, without allocating. The query string is not part of
//! the path and is never touched here. Pure: no I/O, no allocation on the
//! canonical path.

use std::borrow::Cow;

/// Why a path has no canonical form. Each is refused with `400
/// non_canonical_path`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NonCanonical {
    /// The request target does not start with `/` (`*`, absolute URIs).
    #[error("the request target is not an absolute path starting with '/'")]
    NotOriginForm,
    /// A `%` that does not start two hex digits.
    #[error("the path has a '%' that does not start a valid %XX escape")]
    BadPercent,
    /// A `\`, literal or `%5C`; some servers read it as `/`.
    #[error("the path contains a backslash ('\\' or %5C), which some servers read as '/'")]
    Backslash,
    /// A literal `;`; servers strip path parameters differently.
    #[error("the path contains ';' (path parameters), which servers strip or keep differently")]
    Semicolon,
    /// `%2F`: an encoded slash, which some servers decode into a separator.
    #[error("the path contains an encoded slash (%2F), which some servers decode into a separator")]
    EncodedSlash,
    /// An escape of a control character: `%00`–`%1F` or `%7F`.
    #[error("the path contains an escaped control character (%00-%1F or %7F)")]
    ControlChar,
    /// `%25` followed by two hex digits: a double encoding.
    #[error("the path contains a double encoding (%25 followed by two hex digits)")]
    DoubleEncoded,
    /// Escapes whose decoded bytes are not UTF-8.
    #[error("the path's escapes do not decode to valid UTF-8")]
    InvalidUtf8,
    /// A `.` or `..` segment, also when spelled with `%2E`.
    #[error("the path contains a '.' or '..' segment")]
    DotSegment,
}

impl NonCanonical {
    /// What to send instead, as a sentence fragment for the denial message.
    pub fn remedy(self) -> &'static str {
        match self {
            NonCanonical::NotOriginForm => "send an origin-form path such as /repos/o/r",
            NonCanonical::BadPercent => {
                "escape a literal '%' as %25 and use two hex digits after every '%'"
            }
            NonCanonical::Backslash => "use '/' as the only separator and do not send backslashes",
            NonCanonical::Semicolon => "drop the ';' parameters or move them into the query string",
            NonCanonical::EncodedSlash => {
                "send the segments with plain '/' separators; no connector accepts an encoded slash in a segment"
            }
            NonCanonical::ControlChar => "remove control characters from the path",
            NonCanonical::DoubleEncoded => "encode the path once",
            NonCanonical::InvalidUtf8 => {
                "percent-encode the UTF-8 bytes of the intended characters"
            }
            NonCanonical::DotSegment => "resolve '.' and '..' segments before sending",
        }
    }
}

/// True for RFC 3986 unreserved characters, whose escapes are decoded.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The path being built: borrowed while it equals a prefix of the input,
/// owned from the first change on.
struct Out<'a> {
    raw: &'a [u8],
    /// Bytes of `raw` taken as they are, while nothing has changed.
    borrowed: usize,
    owned: Option<Vec<u8>>,
}

impl Out<'_> {
    fn owned(&mut self) -> &mut Vec<u8> {
        let (raw, n) = (self.raw, self.borrowed);
        self.owned.get_or_insert_with(|| {
            let mut v = Vec::with_capacity(raw.len());
            v.extend_from_slice(&raw[..n]);
            v
        })
    }

    /// Appends `raw[at..at + len]` unchanged.
    fn keep(&mut self, at: usize, len: usize) {
        match &mut self.owned {
            Some(v) => v.extend_from_slice(&self.raw[at..at + len]),
            None => {
                debug_assert_eq!(self.borrowed, at);
                self.borrowed += len;
            }
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        self.owned().extend_from_slice(bytes);
    }

    fn bytes(&self) -> &[u8] {
        match &self.owned {
            Some(v) => v,
            None => &self.raw[..self.borrowed],
        }
    }

    fn last(&self) -> Option<u8> {
        self.bytes().last().copied()
    }
}

/// Checks that escaped bytes decode to UTF-8. Literal characters of a
/// `&str` are whole UTF-8 sequences, so a multi-byte character spelled with
/// escapes must be spelled with escapes only: each run of escapes is valid
/// on its own.
#[derive(Default)]
struct Utf8Run {
    buf: [u8; 4],
    len: usize,
    need: usize,
}

impl Utf8Run {
    fn escaped(&mut self, b: u8) -> Result<(), NonCanonical> {
        if self.need == 0 {
            self.need = match b {
                0x00..=0x7F => return Ok(()),
                0xC2..=0xDF => 2,
                0xE0..=0xEF => 3,
                0xF0..=0xF4 => 4,
                _ => return Err(NonCanonical::InvalidUtf8),
            };
            self.len = 0;
        }
        self.buf[self.len] = b;
        self.len += 1;
        if self.len == self.need {
            self.need = 0;
            // Overlong forms, surrogates and values past U+10FFFF.
            std::str::from_utf8(&self.buf[..self.len]).map_err(|_| NonCanonical::InvalidUtf8)?;
        }
        Ok(())
    }

    /// Anything but an escape: no character may be left half-spelled.
    fn literal(&self) -> Result<(), NonCanonical> {
        if self.need == 0 {
            Ok(())
        } else {
            Err(NonCanonical::InvalidUtf8)
        }
    }
}

/// The canonical form of `raw` (a path without its query), or why it has
/// none. Borrowed when `raw` is already canonical, or when the only change
/// is the dropped trailing slash (then it is a prefix of `raw`).
pub fn canonical_path(raw: &str) -> Result<Cow<'_, str>, NonCanonical> {
    let b = raw.as_bytes();
    if b.first() != Some(&b'/') {
        return Err(NonCanonical::NotOriginForm);
    }
    let mut out = Out {
        raw: b,
        borrowed: 0,
        owned: None,
    };
    let mut utf8 = Utf8Run::default();
    // Start of the current segment in `out` (just after its '/').
    let mut seg_start = 0;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'%' {
            let (Some(hi), Some(lo)) = (
                b.get(i + 1).copied().and_then(hex),
                b.get(i + 2).copied().and_then(hex),
            ) else {
                return Err(NonCanonical::BadPercent);
            };
            let v = (hi << 4) | lo;
            match v {
                b'/' => return Err(NonCanonical::EncodedSlash),
                b'\\' => return Err(NonCanonical::Backslash),
                0x00..=0x1F | 0x7F => return Err(NonCanonical::ControlChar),
                b'%' if b.get(i + 3).copied().and_then(hex).is_some()
                    && b.get(i + 4).copied().and_then(hex).is_some() =>
                {
                    return Err(NonCanonical::DoubleEncoded);
                }
                _ => {}
            }
            utf8.escaped(v)?;
            if is_unreserved(v) {
                out.push(&[v]);
            } else if b[i + 1].is_ascii_lowercase() || b[i + 2].is_ascii_lowercase() {
                let upper = [
                    b'%',
                    b[i + 1].to_ascii_uppercase(),
                    b[i + 2].to_ascii_uppercase(),
                ];
                out.push(&upper);
            } else {
                out.keep(i, 3);
            }
            i += 3;
            continue;
        }
        utf8.literal()?;
        match c {
            b'\\' => return Err(NonCanonical::Backslash),
            b';' => return Err(NonCanonical::Semicolon),
            b'/' => {
                if is_dot(&out.bytes()[seg_start..]) {
                    return Err(NonCanonical::DotSegment);
                }
                if out.last() == Some(b'/') {
                    // A repeated slash: drop it.
                    out.owned();
                } else {
                    out.keep(i, 1);
                }
                seg_start = out.bytes().len();
            }
            _ => out.keep(i, 1),
        }
        i += 1;
    }
    utf8.literal()?;
    if is_dot(&out.bytes()[seg_start..]) {
        return Err(NonCanonical::DotSegment);
    }
    if out.bytes().len() > 1 && out.last() == Some(b'/') {
        match &mut out.owned {
            Some(v) => {
                v.pop();
            }
            None => out.borrowed -= 1,
        }
    }
    Ok(match out.owned {
        None => Cow::Borrowed(&raw[..out.borrowed]),
        // Only ASCII was replaced, and escapes were checked to spell UTF-8
        // only where they are decoded (unreserved characters are ASCII).
        Some(v) => Cow::Owned(String::from_utf8(v).map_err(|_| NonCanonical::InvalidUtf8)?),
    })
}

fn is_dot(seg: &[u8]) -> bool {
    seg == b"." || seg == b".."
}

#[cfg(test)]
mod tests;
