//! What a component says about itself outside the WIT contract: custom
//! sections, read (and written) by walking the binary's section framing.
//!
//! - `tameflare:sdk` (anywhere; the Rust SDK's `export_connector!` puts it
//!   in the core module): the text `tameflare-sdk <version>`.
//! - `tameflare:fixtures` (top level of the component; `tf connector build`
//!   appends it): the connector's own fixtures as JSON lines, run by the
//!   host at every load.
//!
//! The walk also checks that every section's length fits the file, so a
//! file cut short by a writer seen half-way is named as truncated before
//! the compiler sees it. Pure byte handling: no wasmtime here.

/// Custom section carrying the SDK name and version.
pub const SDK_SECTION: &str = "tameflare:sdk";
/// Custom section carrying the connector's fixtures (JSON lines).
pub const FIXTURES_SECTION: &str = "tameflare:fixtures";

/// Longest SDK text kept.
const MAX_SDK_TEXT: usize = 128;
/// Deepest component nesting walked.
const MAX_DEPTH: usize = 8;

/// Why a component's framing is refused.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum MetadataError {
    /// The file ends inside a section: written half-way, or cut short.
    #[error(
        "the file is truncated: a section at byte {offset} needs {needed} bytes but only {left} remain"
    )]
    Truncated {
        offset: usize,
        needed: usize,
        left: usize,
    },
    /// A section length or name is not valid LEB128/UTF-8.
    #[error("malformed section at byte {0}")]
    Malformed(usize),
    /// Not a WebAssembly component binary.
    #[error("not a WebAssembly component (bad header)")]
    NotComponent,
    /// The fixtures section appears more than once, or is not UTF-8.
    #[error("the {FIXTURES_SECTION} section is duplicated or not UTF-8")]
    BadFixtures,
    /// Components nested deeper than the walker follows.
    #[error("components nested more than {MAX_DEPTH} deep")]
    TooDeep,
}

/// The custom sections the host reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ComponentMetadata {
    /// e.g. `tameflare-sdk 0.1.0`; `None` for components built without the SDK.
    pub sdk: Option<String>,
    /// The embedded fixtures (JSON lines), if any.
    pub fixtures: Option<String>,
}

const COMPONENT_HEADER: [u8; 8] = *b"\0asm\x0d\0\x01\0";
const HEADER_LEN: usize = 8;
/// Section ids inside a component that hold a nested binary.
const CORE_MODULE_SECTION: u8 = 1;
const COMPONENT_SECTION: u8 = 4;
const CUSTOM_SECTION: u8 = 0;

/// One section: id, the byte range of the whole section (id included) and
/// of its payload.
struct Section {
    id: u8,
    start: usize,
    payload: std::ops::Range<usize>,
}

fn leb_u32(bytes: &[u8], mut at: usize) -> Option<(usize, usize)> {
    let mut value: u64 = 0;
    for shift in (0..35).step_by(7) {
        let b = *bytes.get(at)?;
        at += 1;
        value |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return u32::try_from(value).ok().map(|v| (v as usize, at));
        }
    }
    None
}

/// The sections of one binary (component or core module) starting at
/// `base`, whose header was already checked.
fn sections(bytes: &[u8], base: usize) -> Result<Vec<Section>, MetadataError> {
    let mut out = Vec::new();
    let mut at = base + HEADER_LEN;
    while at < bytes.len() {
        let start = at;
        let id = bytes[at];
        let (len, data) = leb_u32(bytes, at + 1).ok_or(MetadataError::Malformed(start))?;
        let left = bytes.len() - data;
        if len > left {
            return Err(MetadataError::Truncated {
                offset: start,
                needed: len,
                left,
            });
        }
        out.push(Section {
            id,
            start,
            payload: data..data + len,
        });
        at = data + len;
    }
    Ok(out)
}

/// A custom section's name and contents.
fn custom<'a>(
    bytes: &'a [u8],
    payload: &std::ops::Range<usize>,
) -> Result<(&'a str, &'a [u8]), MetadataError> {
    let (len, at) = leb_u32(bytes, payload.start).ok_or(MetadataError::Malformed(payload.start))?;
    let name_end = at
        .checked_add(len)
        .filter(|e| *e <= payload.end)
        .ok_or(MetadataError::Malformed(payload.start))?;
    let name =
        std::str::from_utf8(&bytes[at..name_end]).map_err(|_| MetadataError::Malformed(at))?;
    Ok((name, &bytes[name_end..payload.end]))
}

fn walk(
    bytes: &[u8],
    base: usize,
    end: usize,
    component: bool,
    depth: usize,
    meta: &mut ComponentMetadata,
) -> Result<(), MetadataError> {
    if depth > MAX_DEPTH {
        return Err(MetadataError::TooDeep);
    }
    let bytes = &bytes[..end];
    for s in sections(bytes, base)? {
        match s.id {
            CUSTOM_SECTION => {
                let (name, data) = custom(bytes, &s.payload)?;
                if name == SDK_SECTION && meta.sdk.is_none() {
                    let text = String::from_utf8_lossy(data);
                    let text: String = text
                        .chars()
                        .filter(|c| !c.is_control())
                        .take(MAX_SDK_TEXT)
                        .collect();
                    meta.sdk = Some(text);
                } else if name == FIXTURES_SECTION && depth == 0 {
                    if meta.fixtures.is_some() {
                        return Err(MetadataError::BadFixtures);
                    }
                    let text = std::str::from_utf8(data).map_err(|_| MetadataError::BadFixtures)?;
                    meta.fixtures = Some(text.to_owned());
                }
            }
            CORE_MODULE_SECTION | COMPONENT_SECTION if component => {
                let nested = s.payload.start;
                if s.payload.len() < HEADER_LEN || bytes[nested..nested + 4] != *b"\0asm" {
                    return Err(MetadataError::Malformed(nested));
                }
                walk(
                    bytes,
                    nested,
                    s.payload.end,
                    s.id == COMPONENT_SECTION,
                    depth + 1,
                    meta,
                )?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// Lower-case hex SHA-256 of a component's bytes: the identity the host,
/// the audit trail and `tf connector list` use.
pub fn sha256_hex(wasm: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(wasm))
}

/// Reads the host's custom sections and checks the framing of the whole
/// file (every section length fits).
pub fn read(wasm: &[u8]) -> Result<ComponentMetadata, MetadataError> {
    if wasm.get(..HEADER_LEN) != Some(&COMPONENT_HEADER[..]) {
        return Err(MetadataError::NotComponent);
    }
    let mut meta = ComponentMetadata::default();
    walk(wasm, 0, wasm.len(), true, 0, &mut meta)?;
    Ok(meta)
}

fn push_leb(out: &mut Vec<u8>, mut v: usize) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Returns `wasm` with its top-level fixtures section replaced by `jsonl`
/// (removed when `jsonl` is empty). Other sections are kept byte for byte.
pub fn with_fixtures(wasm: &[u8], jsonl: &str) -> Result<Vec<u8>, MetadataError> {
    read(wasm)?;
    let mut out = Vec::with_capacity(wasm.len() + jsonl.len() + 32);
    out.extend_from_slice(&wasm[..HEADER_LEN]);
    for s in sections(wasm, 0)? {
        if s.id == CUSTOM_SECTION && custom(wasm, &s.payload)?.0 == FIXTURES_SECTION {
            continue;
        }
        out.extend_from_slice(&wasm[s.start..s.payload.end]);
    }
    if !jsonl.is_empty() {
        let mut payload = Vec::with_capacity(jsonl.len() + 24);
        push_leb(&mut payload, FIXTURES_SECTION.len());
        payload.extend_from_slice(FIXTURES_SECTION.as_bytes());
        payload.extend_from_slice(jsonl.as_bytes());
        out.push(CUSTOM_SECTION);
        push_leb(&mut out, payload.len());
        out.extend_from_slice(&payload);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn custom_section(name: &str, data: &[u8]) -> Vec<u8> {
        let mut payload = Vec::new();
        push_leb(&mut payload, name.len());
        payload.extend_from_slice(name.as_bytes());
        payload.extend_from_slice(data);
        let mut s = vec![CUSTOM_SECTION];
        push_leb(&mut s, payload.len());
        s.extend(payload);
        s
    }

    /// A component holding one core module with the SDK section.
    fn component() -> Vec<u8> {
        let mut module = b"\0asm\x01\0\0\0".to_vec();
        module.extend(custom_section(SDK_SECTION, b"tameflare-sdk 9.9.9"));
        let mut c = COMPONENT_HEADER.to_vec();
        c.push(CORE_MODULE_SECTION);
        push_leb(&mut c, module.len());
        c.extend(module);
        c
    }

    #[test]
    fn reads_the_nested_sdk_section() {
        let meta = read(&component()).unwrap();
        assert_eq!(meta.sdk.as_deref(), Some("tameflare-sdk 9.9.9"));
        assert_eq!(meta.fixtures, None);
    }

    #[test]
    fn fixtures_round_trip_and_replace() {
        let c = component();
        let one = with_fixtures(&c, "{\"a\":1}\n").unwrap();
        assert_eq!(read(&one).unwrap().fixtures.as_deref(), Some("{\"a\":1}\n"));
        let two = with_fixtures(&one, "{\"b\":2}\n").unwrap();
        assert_eq!(read(&two).unwrap().fixtures.as_deref(), Some("{\"b\":2}\n"));
        assert_eq!(with_fixtures(&two, "").unwrap(), c);
        // A big section needs a multi-byte length.
        let big = "x".repeat(300_000);
        let b = with_fixtures(&c, &big).unwrap();
        assert_eq!(read(&b).unwrap().fixtures.unwrap().len(), 300_000);
    }

    #[test]
    fn every_truncation_is_named() {
        let full = with_fixtures(&component(), "{\"a\":1}\n").unwrap();
        // A cut exactly between two top-level sections leaves a well-framed
        // (shorter) binary: framing cannot tell, the compiler or the missing
        // exports do. Every other cut is named.
        let boundaries: Vec<usize> = sections(&full, 0)
            .unwrap()
            .iter()
            .map(|s| s.payload.end)
            .collect();
        for cut in (HEADER_LEN + 1..full.len()).filter(|c| !boundaries.contains(c)) {
            let err = read(&full[..cut]).unwrap_err();
            assert!(
                matches!(
                    err,
                    MetadataError::Truncated { .. } | MetadataError::Malformed(_)
                ),
                "cut at {cut}: {err:?}"
            );
        }
    }

    #[test]
    fn refusals() {
        assert_eq!(read(b"\0asm\x01\0\0\0"), Err(MetadataError::NotComponent));
        let mut twice = with_fixtures(&component(), "a").unwrap();
        twice.extend(custom_section(FIXTURES_SECTION, b"b"));
        assert_eq!(read(&twice), Err(MetadataError::BadFixtures));
        let mut bad = component();
        bad.extend(custom_section(FIXTURES_SECTION, &[0xff, 0xfe]));
        assert_eq!(read(&bad), Err(MetadataError::BadFixtures));
    }
}
