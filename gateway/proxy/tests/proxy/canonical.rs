//! Canonical paths: every spelling classifies as its canonical form or is
//! refused.

use http::Request;
use tf_core::{Outcome, Phase};

use super::harness::*;

/// Every spelling of issue 9's bypasses, and the ambiguous ones: each is
/// classified as its canonical form or refused, and nothing but canonical
/// paths reaches the upstream.
#[tokio::test]
async fn path_variants_classify_as_their_canonical_form_or_are_refused() {
    let h = Harness::start(1024).await;
    let denied = |action: &'static str| Ok::<_, &str>(action);
    let refused = Err("non_canonical_path");
    for (method, target, expected) in [
        ("DELETE", "/repos/o/r", denied("github.repo.delete")),
        ("DELETE", "/repos/o/r/", denied("github.repo.delete")),
        ("DELETE", "/repos//o/r", denied("github.repo.delete")),
        ("DELETE", "//repos/o/r", denied("github.repo.delete")),
        (
            "DELETE",
            "///repos///o///r///",
            denied("github.repo.delete"),
        ),
        ("DELETE", "/%72epos/o/r", denied("github.repo.delete")),
        (
            "DELETE",
            "/%72%65%70%6f%73/%6F/%72",
            denied("github.repo.delete"),
        ),
        ("DELETE", "/repos/o/r?x=1", denied("github.repo.delete")),
        ("PUT", "/repos/o/r/pulls/7/merge", denied("github.pr.merge")),
        (
            "PUT",
            "/repos/o/r/pulls/7/merge/",
            denied("github.pr.merge"),
        ),
        (
            "PUT",
            "/repos/o/r/pulls/7//merge",
            denied("github.pr.merge"),
        ),
        (
            "PUT",
            "/repos/o/r/pulls/%37/m%65rge",
            denied("github.pr.merge"),
        ),
        ("DELETE", "/repos/o/r;x=1", refused),
        ("DELETE", "/repos/o/r;", refused),
        ("DELETE", "/repos\\o\\r", refused),
        ("DELETE", "/repos/o/r%5C", refused),
        ("DELETE", "/repos/o%2Fr", refused),
        ("DELETE", "/repos%2fo/r", refused),
        ("DELETE", "/%2572epos/o/r", refused),
        ("DELETE", "/repos/o/r/.", refused),
        ("DELETE", "/repos/o/r/%2e", refused),
        ("DELETE", "/repos/o/x/../r", refused),
        ("DELETE", "/repos/o/r%00", refused),
        ("DELETE", "/repos/o/r%C3", refused),
        ("DELETE", "/repos/o/r%zz", refused),
        ("PUT", "/repos/o/r/pulls/7/merge;v=1", refused),
        ("PUT", "/repos/o/r/pulls/7%2Fmerge", refused),
    ] {
        let (status, body) = h.raw("gh.test", method, target, "").await;
        let j: serde_json::Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("{method} {target}: {e}: {body:?}"));
        match expected {
            Ok(action) => {
                assert_eq!(status, 403, "{method} {target}: {body}");
                assert_eq!(j["reason"], "permission_denied", "{method} {target}");
                assert_eq!(j["action"], action, "{method} {target}");
            }
            Err(reason) => {
                assert_eq!(status, 400, "{method} {target}: {body}");
                assert_eq!(j["reason"], reason, "{method} {target}");
                let m = j["message"].as_str().unwrap();
                assert!(m.contains("Instead, "), "{m}");
            }
        }
    }
    // Allowed, so forwarded: the upstream gets exactly what was classified.
    let (status, _) = h
        .raw("gh.test", "GET", "//repos/%6F//r/?a=%2f&b=1", "")
        .await;
    assert_eq!(status, 200);
    let seen: Vec<_> = h
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|s| (s.path.clone(), s.query.clone()))
        .collect();
    assert_eq!(
        seen,
        [("/repos/o/r".to_owned(), Some("a=%2f&b=1".to_owned()))]
    );
    let classified = h.classified.lock().unwrap().clone();
    assert!(
        classified.iter().all(|(_, p, _)| tf_core::canonical_path(p)
            .is_ok_and(|c| matches!(c, std::borrow::Cow::Borrowed(_)))),
        "only canonical paths are classified: {classified:?}"
    );
    assert_eq!(
        classified.last().unwrap(),
        &(
            "GET".to_owned(),
            "/repos/o/r".to_owned(),
            Some("a=%2f&b=1".to_owned())
        )
    );

    // HTTP/2 `:path` goes through the same rule.
    let mut c = h.tunnel("gh.test:443", "gh.test", &[b"h2"]).await;
    let req = Request::delete("https://gh.test//repos/o/r/")
        .body(ReqBody::empty())
        .unwrap();
    let resp = c.send(req).await;
    assert_eq!(resp.status(), 403);
    assert_eq!(json(resp).await["action"], "github.repo.delete");
    drop(c);
    assert_eq!(h.seen_paths(), ["/repos/o/r"]);
    let entries = h.finish().await;
    // gh.test's actions are not in the test catalogue, so they count as
    // mutations: the allowed one leaves a write-ahead and a completion record.
    let allowed: Vec<_> = entries
        .iter()
        .filter(|e| e.outcome == Outcome::Allowed && e.phase != Some(Phase::WriteAhead))
        .collect();
    assert_eq!(allowed.len(), 1);
    assert_eq!(allowed[0].path, "/repos/o/r");
    for e in entries.iter().filter(|e| e.action.is_some()) {
        assert!(
            !e.path.contains("//") && !e.path.contains('%') && !e.path.ends_with('/'),
            "audited path {:?} is canonical",
            e.path
        );
    }
}
