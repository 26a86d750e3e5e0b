use std::borrow::Cow;

use super::{NonCanonical, canonical_path};

#[test]
fn canonical_paths_are_borrowed() {
    for p in [
        "/",
        "/repos/o/r",
        "/repos/o/r/pulls/7/merge",
        "/a%20b",
        "/a%C3%A9",
        "/a/.well-known/x",
        "/a..b",
        "/v1/charges/ch_1~x",
        "/100%25",
        "/a:b@c!$&'()*+,=",
        "/caf\u{e9}",
    ] {
        match canonical_path(p) {
            Ok(Cow::Borrowed(c)) => assert_eq!(c, p),
            other => panic!("{p}: {other:?}"),
        }
    }
}

#[test]
fn variants_fold_into_one_spelling() {
    for (raw, canonical) in [
        // The issue's variants.
        ("/repos/o/r/", "/repos/o/r"),
        ("/repos//o/r", "/repos/o/r"),
        ("//repos/o/r", "/repos/o/r"),
        ("/%72epos/o/r", "/repos/o/r"),
        ("/repos/o/r/pulls/7/merge/", "/repos/o/r/pulls/7/merge"),
        ("/repos/o/r/pulls/7//merge", "/repos/o/r/pulls/7/merge"),
        (
            "/orgs/acme/%70ersonal-access-token-requests/9",
            "/orgs/acme/personal-access-token-requests/9",
        ),
        // Every unreserved class, either hex case.
        ("/%41%5a%61%7A%30%39%2D%2E%5F%7E", "/AZaz09-._~"),
        ("/%2e%2ex", "/..x"),
        // Kept escapes get upper-case hex.
        ("/a%2bb", "/a%2Bb"),
        ("/a%c3%a9", "/a%C3%A9"),
        ("/a%3a", "/a%3A"),
        // Slashes.
        ("//", "/"),
        ("///", "/"),
        ("/a///b////", "/a/b"),
        ("/a/", "/a"),
    ] {
        let got = canonical_path(raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
        assert_eq!(got, canonical, "{raw}");
        // Idempotent, and the result is borrowed the second time.
        assert!(
            matches!(canonical_path(&got), Ok(Cow::Borrowed(c)) if c == canonical),
            "{raw}"
        );
    }
}

#[test]
fn ambiguous_paths_are_refused() {
    use NonCanonical::*;
    for (raw, why) in [
        ("", NotOriginForm),
        ("*", NotOriginForm),
        ("http://x/", NotOriginForm),
        ("repos/o/r", NotOriginForm),
        ("/a%", BadPercent),
        ("/a%2", BadPercent),
        ("/a%zz", BadPercent),
        ("/a%g0", BadPercent),
        ("/a\\b", Backslash),
        ("\\repos", NotOriginForm),
        ("/a%5Cb", Backslash),
        ("/a%5cb", Backslash),
        ("/repos/o/r;x=1", Semicolon),
        ("/repos/o/r/pulls/7/merge;", Semicolon),
        ("/repos/o%2Fr", EncodedSlash),
        ("/repos/o%2fr", EncodedSlash),
        ("/a%00", ControlChar),
        ("/a%0a", ControlChar),
        ("/a%1F", ControlChar),
        ("/a%7f", ControlChar),
        ("/a%252F", DoubleEncoded),
        ("/%2572epos", DoubleEncoded),
        ("/a%2541", DoubleEncoded),
        ("/a%C3", InvalidUtf8),
        ("/a%C3/", InvalidUtf8),
        ("/a%C3x", InvalidUtf8),
        ("/a%C3%41", InvalidUtf8),
        ("/a%80", InvalidUtf8),
        ("/a%C0%AF", InvalidUtf8),
        ("/a%ED%A0%80", InvalidUtf8),
        ("/a%F5%80%80%80", InvalidUtf8),
        ("/a%E2%82", InvalidUtf8),
        ("/a/../b", DotSegment),
        ("/a/./b", DotSegment),
        ("/..", DotSegment),
        ("/.", DotSegment),
        ("/a/..", DotSegment),
        ("/a/../", DotSegment),
        ("/a/%2e%2E/b", DotSegment),
        ("/a/.%2e", DotSegment),
        ("/a/%2E", DotSegment),
        ("//../a", DotSegment),
    ] {
        assert_eq!(canonical_path(raw), Err(why), "{raw:?}");
        assert!(!why.to_string().is_empty() && !why.remedy().is_empty());
    }
}
