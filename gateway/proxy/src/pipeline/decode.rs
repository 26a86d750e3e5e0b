//! Request-body content codings: undoing `Content-Encoding` for a connector
//! that reads the body, so that the bytes it classifies are the bytes an
//! upstream would decode and execute.
//!
//! Knows `gzip` (and `x-gzip`), `deflate` (a zlib stream, as HTTP defines
//! it), `br`, `zstd` and `identity`. A list of codings is undone in reverse
//! order. Every stage writes through a hard output cap (the body limit), so
//! a small body that inflates past it is refused while it is being decoded,
//! never after. Nothing here reads a socket or decides a policy; the caller
//! forwards the decoded bytes without `Content-Encoding`.

use std::io::Read;

use http::HeaderMap;
use http::header::CONTENT_ENCODING;

/// Most codings one request may stack.
const MAX_CODINGS: usize = 4;

/// The window the zstd decoder accepts beyond the body limit: RFC 8878
/// asks decoders to support 8 MiB.
const ZSTD_MIN_WINDOW: u64 = 8 * 1024 * 1024;

/// One content coding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Coding {
    Gzip,
    Deflate,
    Brotli,
    Zstd,
}

impl Coding {
    fn name(self) -> &'static str {
        match self {
            Coding::Gzip => "gzip",
            Coding::Deflate => "deflate",
            Coding::Brotli => "br",
            Coding::Zstd => "zstd",
        }
    }
}

/// Why a body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DecodeError {
    /// The decoded body (or an intermediate stage) exceeds the limit.
    #[error("the decoded body exceeds {limit} bytes")]
    TooLarge { limit: usize },
    /// A coding the gateway does not decode (the name is ASCII from the header).
    #[error("unsupported content coding {0:?}")]
    Unsupported(String),
    /// The body is not a valid stream of the named coding.
    #[error("the body is not a valid {0} stream")]
    Corrupt(&'static str),
}

/// The codings named by every `Content-Encoding` header, in the order they
/// were applied (`identity` dropped). Empty when there is nothing to undo.
pub(crate) fn codings(headers: &HeaderMap) -> Result<Vec<Coding>, DecodeError> {
    let mut out = Vec::new();
    for value in headers.get_all(CONTENT_ENCODING) {
        let value = value
            .to_str()
            .map_err(|_| DecodeError::Unsupported("(not ASCII)".into()))?;
        for name in value.split(',').map(str::trim) {
            let coding = match name.to_ascii_lowercase().as_str() {
                "identity" => continue,
                // An empty list element is allowed by the list syntax.
                "" => continue,
                "gzip" | "x-gzip" => Coding::Gzip,
                "deflate" => Coding::Deflate,
                "br" => Coding::Brotli,
                "zstd" => Coding::Zstd,
                _ => return Err(DecodeError::Unsupported(name.chars().take(32).collect())),
            };
            out.push(coding);
        }
    }
    if out.len() > MAX_CODINGS {
        return Err(DecodeError::Unsupported(format!(
            "{} stacked codings (at most {MAX_CODINGS})",
            out.len()
        )));
    }
    Ok(out)
}

/// Undoes `codings` (as listed by [`codings`]) on `body`; no stage may
/// produce more than `limit` bytes.
pub(crate) fn decode(
    body: &[u8],
    codings: &[Coding],
    limit: usize,
) -> Result<Vec<u8>, DecodeError> {
    let mut data = body.to_vec();
    for &coding in codings.iter().rev() {
        data = decode_one(&data, coding, limit)?;
    }
    Ok(data)
}

fn decode_one(input: &[u8], coding: Coding, limit: usize) -> Result<Vec<u8>, DecodeError> {
    let corrupt = || DecodeError::Corrupt(coding.name());
    let mut out = Vec::new();
    match coding {
        Coding::Gzip => {
            // Every member, as gzip readers (and servers) do.
            let mut d = flate2::bufread::MultiGzDecoder::new(input);
            capped(&mut d, limit, &mut out, coding)?;
        }
        Coding::Deflate => {
            let mut d = flate2::bufread::ZlibDecoder::new(input);
            capped(&mut d, limit, &mut out, coding)?;
            if !d.get_ref().is_empty() {
                return Err(corrupt());
            }
        }
        Coding::Brotli => {
            let mut d = brotli_decompressor::Decompressor::new(input, 4096);
            capped(&mut d, limit, &mut out, coding)?;
        }
        Coding::Zstd => {
            // Concatenated frames decode to the concatenation, as `zstd -d` does.
            let window = (limit as u64).max(ZSTD_MIN_WINDOW);
            let mut rest = input;
            if rest.is_empty() {
                return Err(corrupt());
            }
            while !rest.is_empty() {
                let mut d =
                    ruzstd::decoding::StreamingDecoder::new_with_max_window_size(rest, window)
                        .map_err(|_| corrupt())?;
                capped(&mut d, limit, &mut out, coding)?;
                if !d.decoder.is_finished() {
                    return Err(corrupt());
                }
                rest = d.into_inner();
            }
        }
    }
    Ok(out)
}

/// Reads `r` to its end into `out`, failing as soon as `out` would pass
/// `limit` bytes.
fn capped(
    r: &mut impl Read,
    limit: usize,
    out: &mut Vec<u8>,
    coding: Coding,
) -> Result<(), DecodeError> {
    let room = (limit - out.len().min(limit)) as u64;
    let mut take = r.take(room + 1);
    take.read_to_end(out)
        .map_err(|_| DecodeError::Corrupt(coding.name()))?;
    if out.len() > limit {
        return Err(DecodeError::TooLarge { limit });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    /// A brotli stream of one uncompressed meta-block (`data` up to 64 KiB).
    fn brotli_stored(data: &[u8]) -> Vec<u8> {
        assert!(!data.is_empty() && data.len() <= 1 << 16);
        let m = (data.len() - 1) as u32;
        // WBITS=16 (0), ISLAST=0, MNIBBLES=4 (00), MLEN-1 (16 bits), ISUNCOMPRESSED=1.
        let bits: u32 = (m << 4) | (1 << 20);
        let mut out = vec![bits as u8, (bits >> 8) as u8, (bits >> 16) as u8];
        out.extend_from_slice(data);
        out.push(0b11); // ISLAST, ISLASTEMPTY
        out
    }

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(CONTENT_ENCODING, value.parse().unwrap());
        h
    }

    const BODY: &[u8] = br#"{"state":"closed"}"#;

    #[test]
    fn codings_parse_in_order() {
        use Coding::*;
        for (value, expected) in [
            ("gzip", vec![Gzip]),
            ("X-GZIP", vec![Gzip]),
            ("identity", vec![]),
            ("deflate, br", vec![Deflate, Brotli]),
            ("zstd,identity,gzip", vec![Zstd, Gzip]),
            ("gzip,", vec![Gzip]),
        ] {
            assert_eq!(codings(&headers(value)), Ok(expected), "{value}");
        }
        let mut two = headers("gzip");
        two.append(CONTENT_ENCODING, "br".parse().unwrap());
        assert_eq!(codings(&two), Ok(vec![Gzip, Brotli]));
        for bad in ["compress", "gzip, lzma", "gzip,gzip,gzip,gzip,gzip"] {
            assert!(
                matches!(codings(&headers(bad)), Err(DecodeError::Unsupported(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn each_coding_decodes() {
        use Coding::*;
        let zstd =
            ruzstd::encoding::compress_to_vec(BODY, ruzstd::encoding::CompressionLevel::Fastest);
        for (coding, encoded) in [
            (Gzip, gzip(BODY)),
            (Deflate, zlib(BODY)),
            (Brotli, brotli_stored(BODY)),
            (Zstd, zstd.clone()),
        ] {
            assert_eq!(
                decode(&encoded, &[coding], 1024).unwrap(),
                BODY,
                "{coding:?}"
            );
        }
        // Stacked: gzip applied first, then zstd.
        let stacked = ruzstd::encoding::compress_to_vec(
            &gzip(BODY)[..],
            ruzstd::encoding::CompressionLevel::Fastest,
        );
        assert_eq!(decode(&stacked, &[Gzip, Zstd], 1024).unwrap(), BODY);
        // Concatenated members and frames.
        let two = [gzip(b"ab"), gzip(b"cd")].concat();
        assert_eq!(decode(&two, &[Gzip], 1024).unwrap(), b"abcd");
        let two = [zstd.clone(), zstd].concat();
        assert_eq!(decode(&two, &[Zstd], 1024).unwrap(), [BODY, BODY].concat());
    }

    #[test]
    fn corrupt_streams_are_refused() {
        use Coding::*;
        let mut flipped = gzip(BODY);
        let n = flipped.len();
        flipped[n - 6] ^= 0xff; // the CRC
        // Raw deflate is not a zlib stream.
        let raw = {
            let mut e =
                flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(BODY).unwrap();
            e.finish().unwrap()
        };
        for (coding, data) in [
            (Gzip, BODY.to_vec()),
            (Gzip, flipped),
            (Gzip, gzip(BODY)[..10].to_vec()),
            (Deflate, raw),
            (Deflate, [zlib(BODY), b"trailing".to_vec()].concat()),
            (Brotli, b"\xff\xff\xff\xff".to_vec()),
            (Zstd, BODY.to_vec()),
            (Zstd, Vec::new()),
        ] {
            assert_eq!(
                decode(&data, &[coding], 1024),
                Err(DecodeError::Corrupt(coding.name())),
                "{coding:?}"
            );
        }
    }

    #[test]
    fn a_bomb_stops_at_the_cap() {
        let bomb = gzip(&vec![0u8; 10 * 1024 * 1024]);
        assert!(bomb.len() < 64 * 1024);
        assert_eq!(
            decode(&bomb, &[Coding::Gzip], 1024 * 1024),
            Err(DecodeError::TooLarge { limit: 1024 * 1024 })
        );
        // Exactly at the limit passes.
        let exact = gzip(&[7u8; 100]);
        assert_eq!(decode(&exact, &[Coding::Gzip], 100).unwrap().len(), 100);
        assert_eq!(
            decode(&exact, &[Coding::Gzip], 99),
            Err(DecodeError::TooLarge { limit: 99 })
        );
    }
}
