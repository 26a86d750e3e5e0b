//! Request bodies: read for classification under the limit, content codings
//! undone under the same cap, transfer codings.

use bytes::Bytes;
use http::{Request, StatusCode};

use super::harness::*;

#[tokio::test]
async fn body_needing_connector_sees_the_body_and_upstream_gets_it_unchanged() {
    let h = Harness::start(1024).await;
    let mut c = h.tunnel("body.test:443", "body.test", &[b"http/1.1"]).await;
    let payload = Bytes::from_static(br#"{"title":"hello","n":1}"#);
    let req = Request::post("/upload")
        .header("host", "body.test")
        .header("content-type", "application/json")
        .body(ReqBody::full(payload.clone()))
        .unwrap();
    let resp = c.send(req).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let _ = text(resp).await;
    assert_eq!(h.body_seen.lock().unwrap().as_deref(), Some(&payload[..]));
    assert_eq!(h.seen.lock().unwrap()[0].body, payload);

    // Chunked, no length: the limit is enforced while reading.
    let req = Request::post("/upload")
        .header("host", "body.test")
        .body(ReqBody::chunked([
            Bytes::from_static(b"ab"),
            Bytes::from_static(b"cd"),
        ]))
        .unwrap();
    let resp = c.send(req).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let _ = text(resp).await;
    assert_eq!(h.seen.lock().unwrap()[1].body, "abcd");
    drop(c);
    let entries = h.finish().await;
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].bytes_up, payload.len() as u64);
}

#[tokio::test]
async fn body_over_the_limit_is_denied_not_passed() {
    let h = Harness::start(1024).await;
    let mut c = h.tunnel("body.test:443", "body.test", &[b"http/1.1"]).await;
    let req = Request::post("/upload")
        .header("host", "body.test")
        .body(ReqBody::full(vec![b'x'; 2048]))
        .unwrap();
    let resp = c.send(req).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(json(resp).await["reason"], "body_too_large");

    let mut c = h.tunnel("body.test:443", "body.test", &[b"h2"]).await;
    let req = Request::post("https://body.test/upload")
        .body(ReqBody::chunked(
            (0..4).map(|_| Bytes::from(vec![b'y'; 512])),
        ))
        .unwrap();
    let resp = c.send(req).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(json(resp).await["reason"], "body_too_large");
    assert!(h.seen_paths().is_empty());
    drop(c);
    assert_eq!(h.finish().await.len(), 2);
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn zlib(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A brotli stream of one uncompressed meta-block (no brotli encoder needed).
fn brotli_stored(data: &[u8]) -> Vec<u8> {
    assert!(!data.is_empty() && data.len() <= 1 << 16);
    let bits = (((data.len() - 1) as u32) << 4) | (1 << 20);
    let mut out = vec![bits as u8, (bits >> 8) as u8, (bits >> 16) as u8];
    out.extend_from_slice(data);
    out.push(0b11);
    out
}

fn post_encoded(coding: &str, body: Vec<u8>) -> Request<ReqBody> {
    Request::post("/upload")
        .header("host", "body.test")
        .header("content-type", "application/json")
        .header("content-encoding", coding)
        .body(ReqBody::full(body))
        .unwrap()
}

#[tokio::test]
async fn content_coded_bodies_are_classified_and_forwarded_decoded() {
    let h = Harness::start(1024).await;
    let mut c = h.tunnel("body.test:443", "body.test", &[b"http/1.1"]).await;
    let plain: &[u8] = br#"{"state":"closed","title":"hello"}"#;
    let zstd =
        ruzstd::encoding::compress_to_vec(plain, ruzstd::encoding::CompressionLevel::Fastest);
    let cases = [
        ("gzip", gzip(plain)),
        ("x-gzip", gzip(plain)),
        ("deflate", zlib(plain)),
        ("br", brotli_stored(plain)),
        ("zstd", zstd),
        ("identity", plain.to_vec()),
        // Applied gzip first, then br: undone in reverse order.
        ("gzip, br", brotli_stored(&gzip(plain))),
    ];
    for (i, (coding, body)) in cases.iter().enumerate() {
        let resp = c.send(post_encoded(coding, body.clone())).await;
        assert_eq!(resp.status(), StatusCode::OK, "{coding}");
        let _ = text(resp).await;
        assert_eq!(
            h.body_seen.lock().unwrap().as_deref(),
            Some(plain),
            "{coding}"
        );
        let seen = h.seen.lock().unwrap()[i].clone();
        assert_eq!(
            seen.body, plain,
            "{coding}: the decoded bytes are forwarded"
        );
        assert!(seen.headers.get("content-encoding").is_none(), "{coding}");
        assert_eq!(
            seen.headers["content-length"],
            plain.len().to_string().as_str(),
            "{coding}"
        );
    }
    drop(c);
    let entries = h.finish().await;
    assert_eq!(entries.len(), cases.len());
    assert!(entries.iter().all(|e| e.bytes_up == plain.len() as u64));
}

#[tokio::test]
async fn undecodable_or_oversized_coded_bodies_are_refused_and_not_forwarded() {
    let h = Harness::start(1024 * 1024).await;
    let mut c = h.tunnel("body.test:443", "body.test", &[b"http/1.1"]).await;
    let bomb = gzip(&vec![0u8; 10 * 1024 * 1024]);
    assert!(bomb.len() < 1024 * 1024);
    let mut corrupt = gzip(b"{}");
    corrupt.truncate(corrupt.len() - 4);
    for (coding, body, status, reason) in [
        ("gzip", bomb, 413, "body_too_large"),
        (
            "compress",
            b"x".to_vec(),
            415,
            "unsupported_content_encoding",
        ),
        (
            "gzip, lzma",
            b"x".to_vec(),
            415,
            "unsupported_content_encoding",
        ),
        ("gzip", corrupt, 400, "bad_content_encoding"),
        ("deflate", b"not zlib".to_vec(), 400, "bad_content_encoding"),
        ("zstd", b"not zstd".to_vec(), 400, "bad_content_encoding"),
    ] {
        let resp = c.send(post_encoded(coding, body)).await;
        assert_eq!(resp.status().as_u16(), status, "{coding}");
        let j = json(resp).await;
        assert_eq!(j["reason"], reason, "{coding}");
        if reason == "body_too_large" {
            let m = j["message"].as_str().unwrap();
            assert!(m.contains("decoded") && m.contains("1048576"), "{m}");
        }
    }
    assert!(h.seen_paths().is_empty(), "nothing is forwarded");
    drop(c);

    // A connector that does not read the body: streamed as sent, coding kept.
    let mut c = h.tunnel("api.test:443", "api.test", &[b"http/1.1"]).await;
    let body = gzip(b"{}");
    let req = Request::post("/allowed")
        .header("host", "api.test")
        .header("content-encoding", "gzip")
        .body(ReqBody::full(body.clone()))
        .unwrap();
    let resp = c.send(req).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let _ = text(resp).await;
    let seen = h.seen.lock().unwrap()[0].clone();
    assert_eq!(seen.body, body);
    assert_eq!(seen.headers["content-encoding"], "gzip");
    drop(c);
    assert_eq!(h.finish().await.len(), 7);
}

#[tokio::test]
async fn a_transfer_coding_other_than_chunked_is_refused() {
    let h = Harness::start(1024).await;
    for (host, te) in [
        ("body.test", "gzip, chunked"),
        ("api.test", "deflate,chunked"),
    ] {
        let req = format!(
            "POST /upload HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\ntransfer-encoding: {te}\r\n\r\n2\r\n{{}}\r\n0\r\n\r\n"
        );
        let (status, body) = h.raw_bytes(host, &req).await;
        assert_eq!(status, 400, "{te}: {body}");
        assert!(body.contains("transfer coding"), "{body}");
    }
    assert!(h.seen_paths().is_empty());
    h.finish().await;
}
