use super::*;

const TABLE: &[(&str, &str)] = &[
    ("GET", "/"),
    ("GET", "/repos/{owner}/{repo}/pulls"),
    ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}"),
    ("GET", "/repos/{owner}/{repo}/pulls/comments"),
    ("PUT", "/repos/{owner}/{repo}/pulls/{pull_number}/merge"),
    ("GET", "/repos/{owner}/{repo}/contents/{path+}"),
    ("GET", "/repos/{owner}/{repo}/compare/{basehead}"),
    ("GET", "/repos/{owner}/{repo}/compare/{base}...{head}"),
    ("GET", "/repos/{owner}/{repo}/tarball/v{version}"),
    ("GET", "/users/{username}"),
    ("GET", "/users/{username}/repos"),
    ("GET", "/users/octocat/repos"),
    ("GET", "/{a}/{b}/{c}"),
    ("GET", "/repos/{owner}/{repo}/git/refs/{ref+}"),
];

/// Renders a lookup as `TEMPLATE [v1, v2]` or `-`.
fn render(router: &Router<'_>, method: &str, path: &str) -> String {
    match router.lookup(method, path) {
        Some(m) => format!("{} {:?}", TABLE[m.route as usize].1, m.captures.values()),
        None => "-".to_string(),
    }
}

fn built() -> RouterBuf<'static> {
    let mut b = RouterBuilder::new();
    for (i, (m, t)) in TABLE.iter().enumerate() {
        b.insert(m, t, i as u32).unwrap();
    }
    b.build()
}

#[test]
fn lookups() {
    let buf = built();
    let router = buf.router();
    let cases: &[(&str, &str, &str)] = &[
        ("GET", "/", r#"/ []"#),
        (
            "GET",
            "/repos/o/r/pulls",
            r#"/repos/{owner}/{repo}/pulls ["o", "r"]"#,
        ),
        (
            "GET",
            "/repos/o/r/pulls/7",
            r#"/repos/{owner}/{repo}/pulls/{pull_number} ["o", "r", "7"]"#,
        ),
        (
            "GET",
            "/repos/o/r/pulls/comments",
            r#"/repos/{owner}/{repo}/pulls/comments ["o", "r"]"#,
        ),
        (
            "PUT",
            "/repos/o/r/pulls/7/merge",
            r#"/repos/{owner}/{repo}/pulls/{pull_number}/merge ["o", "r", "7"]"#,
        ),
        ("POST", "/repos/o/r/pulls/7/merge", "-"),
        ("GET", "/repos/o/r/pulls/7/merge", "-"),
        ("GET", "/repos/o/r/pulls/", "-"),
        (
            "GET",
            "/repos/o/r/contents/a",
            r#"/repos/{owner}/{repo}/contents/{path+} ["o", "r", "a"]"#,
        ),
        (
            "GET",
            "/repos/o/r/contents/a/b/c.md",
            r#"/repos/{owner}/{repo}/contents/{path+} ["o", "r", "a/b/c.md"]"#,
        ),
        (
            "GET",
            "/repos/o/r/contents/a/x",
            r#"/repos/{owner}/{repo}/contents/{path+} ["o", "r", "a/x"]"#,
        ),
        ("GET", "/repos/o/r/contents", "-"),
        ("GET", "/repos/o/r/contents/", "-"),
        (
            "GET",
            "/repos/o/r/compare/main...dev",
            r#"/repos/{owner}/{repo}/compare/{base}...{head} ["o", "r", "main", "dev"]"#,
        ),
        (
            "GET",
            "/repos/o/r/compare/main..dev",
            r#"/repos/{owner}/{repo}/compare/{basehead} ["o", "r", "main..dev"]"#,
        ),
        (
            "GET",
            "/repos/o/r/compare/...dev",
            r#"/repos/{owner}/{repo}/compare/{basehead} ["o", "r", "...dev"]"#,
        ),
        (
            "GET",
            "/repos/o/r/tarball/v1.2",
            r#"/repos/{owner}/{repo}/tarball/v{version} ["o", "r", "1.2"]"#,
        ),
        ("GET", "/repos/o/r/tarball/v", "-"),
        (
            "GET",
            "/repos/o/r/tarball/V1.2",
            r#"/repos/{owner}/{repo}/tarball/v{version} ["o", "r", "1.2"]"#,
        ),
        (
            "GET",
            "/repos/o/r/compare/Main...Dev",
            r#"/repos/{owner}/{repo}/compare/{base}...{head} ["o", "r", "Main", "Dev"]"#,
        ),
        ("GET", "/users/octocat/repos", r#"/users/octocat/repos []"#),
        (
            "GET",
            "/users/mona/repos",
            r#"/users/{username}/repos ["mona"]"#,
        ),
        ("GET", "/users/octocat", r#"/users/{username} ["octocat"]"#),
        ("GET", "/users/x/y", r#"/{a}/{b}/{c} ["users", "x", "y"]"#),
        ("GET", "/users//y", "-"),
        (
            "GET",
            "/repos/o/r/git/refs/heads/feature/x",
            r#"/repos/{owner}/{repo}/git/refs/{ref+} ["o", "r", "heads/feature/x"]"#,
        ),
        ("GET", "no-slash", "-"),
        (
            "PUT",
            "/REPOS/Octo/Hello/Pulls/7/MERGE",
            r#"/repos/{owner}/{repo}/pulls/{pull_number}/merge ["Octo", "Hello", "7"]"#,
        ),
        ("put", "/repos/o/r/pulls/7/merge", "-"),
        ("DELETE", "/", "-"),
    ];
    let mut failures = String::new();
    for &(method, path, want) in cases {
        let got = render(&router, method, path);
        if got != want {
            let _ = writeln!(failures, "{method} {path}\n  want: {want}\n  got:  {got}");
        }
    }
    assert!(failures.is_empty(), "lookup mismatches:\n{failures}");
}

#[test]
fn template_errors() {
    let cases: &[(&str, &str)] = &[
        ("no/slash", "bad template \"no/slash\": must start with '/'"),
        ("/a//b", "bad template \"/a//b\": empty segment"),
        ("/a/{b", "bad template \"/a/{b\": unclosed '{'"),
        ("/a/{}", "bad template \"/a/{}\": bad parameter name"),
        (
            "/a/{x}{y}",
            "bad template \"/a/{x}{y}\": adjacent parameters",
        ),
        (
            "/{p+}/a",
            "bad template \"/{p+}/a\": a tail parameter must be the whole last segment",
        ),
        ("/a}", "bad template \"/a}\": stray '}'"),
    ];
    for &(t, want) in cases {
        let got = RouterBuilder::new()
            .insert("GET", t, 0)
            .unwrap_err()
            .to_string();
        assert_eq!(got, want, "template {t:?}");
    }
}

#[test]
fn duplicates_are_rejected() {
    let mut b = RouterBuilder::new();
    b.insert("GET", "/a/{x}", 0).unwrap();
    b.insert("POST", "/a/{x}", 1).unwrap();
    let err = b.insert("GET", "/a/{y}", 2).unwrap_err();
    assert_eq!(err.to_string(), "duplicate route GET /a/{y}");
    b.insert("GET", "/a/{x+}", 3).unwrap();
    assert!(b.insert("GET", "/a/{z+}", 4).is_err());
}

#[test]
fn param_names_in_order() {
    let names: Vec<&str> =
        param_names("/repos/{owner}/{repo}/compare/{base}...{head}/{path+}").collect();
    assert_eq!(names, ["owner", "repo", "base", "head", "path"]);
}

#[test]
fn emitted_source_mentions_every_array() {
    let src = built().to_rust("crate::route");
    for needle in [
        "methods: &[",
        "nodes: &[",
        "lits: &[",
        "mixed: &[",
        "parts: &[",
        "crate::route::NONE",
    ] {
        assert!(src.contains(needle), "missing {needle}");
    }
}

/// `to_rust` output, pasted below as a constant, compiles and matches.
#[test]
fn emitted_source_round_trips() {
    let mut b = RouterBuilder::new();
    b.insert("GET", "/a/{id}", 0).unwrap();
    assert_eq!(b.build().to_rust("crate::route"), STATIC_SAMPLE_SRC.trim());
    let m = STATIC_SAMPLE.lookup("GET", "/a/7").unwrap();
    assert_eq!((m.route, m.captures.values()), (0, &["7"][..]));
}

const STATIC_SAMPLE: Router<'static> = crate::route::Router {
    methods: &[crate::route::Edge {
        text: "GET",
        child: 0,
    }],
    nodes: &[
        crate::route::Node {
            lit_start: 0,
            lit_len: 1,
            mixed_start: 0,
            mixed_len: 0,
            param: crate::route::NONE,
            tail: crate::route::NONE,
            leaf: crate::route::NONE,
        },
        crate::route::Node {
            lit_start: 1,
            lit_len: 0,
            mixed_start: 0,
            mixed_len: 0,
            param: 2,
            tail: crate::route::NONE,
            leaf: crate::route::NONE,
        },
        crate::route::Node {
            lit_start: 1,
            lit_len: 0,
            mixed_start: 0,
            mixed_len: 0,
            param: crate::route::NONE,
            tail: crate::route::NONE,
            leaf: 0,
        },
    ],
    lits: &[crate::route::Edge {
        text: "a",
        child: 1,
    }],
    mixed: &[],
    parts: &[],
};

const STATIC_SAMPLE_SRC: &str = r#"
crate::route::Router {
    methods: &[
        crate::route::Edge { text: "GET", child: 0 },
    ],
    nodes: &[
        crate::route::Node { lit_start: 0, lit_len: 1, mixed_start: 0, mixed_len: 0, param: crate::route::NONE, tail: crate::route::NONE, leaf: crate::route::NONE },
        crate::route::Node { lit_start: 1, lit_len: 0, mixed_start: 0, mixed_len: 0, param: 2, tail: crate::route::NONE, leaf: crate::route::NONE },
        crate::route::Node { lit_start: 1, lit_len: 0, mixed_start: 0, mixed_len: 0, param: crate::route::NONE, tail: crate::route::NONE, leaf: 0 },
    ],
    lits: &[
        crate::route::Edge { text: "a", child: 1 },
    ],
    mixed: &[
    ],
    parts: &[
    ],
}
"#;

/// A slow reference: of all templates that match segment by segment, the one
/// whose per-segment kinds (literal < mixed < parameter < tail) are
/// lexicographically least.
fn reference(method: &str, path: &str) -> Option<usize> {
    let segs: Vec<&str> = match path.strip_prefix('/')? {
        "" => Vec::new(),
        rest => rest.split('/').collect(),
    };
    let mut best: Option<(Vec<u8>, usize)> = None;
    for (i, (m, t)) in TABLE.iter().enumerate() {
        if *m != method {
            continue;
        }
        let tsegs = parse(t).unwrap();
        let mut ranks = Vec::new();
        let mut ok = true;
        for (j, ts) in tsegs.iter().enumerate() {
            let Some(&s) = segs.get(j) else {
                ok = false;
                break;
            };
            let rank = match ts {
                Seg::Lit(l) if l.eq_ignore_ascii_case(s) => 0,
                Seg::Mixed(parts) if match_mixed(parts, s, &mut Captures::new()) => 1,
                Seg::Param if !s.is_empty() => 2,
                Seg::Tail if !s.is_empty() => 3,
                _ => {
                    ok = false;
                    break;
                }
            };
            ranks.push(rank);
        }
        let tail = matches!(tsegs.last(), Some(Seg::Tail));
        if !ok || (!tail && tsegs.len() != segs.len()) {
            continue;
        }
        if best.as_ref().is_none_or(|(r, _)| ranks < *r) {
            best = Some((ranks, i));
        }
    }
    best.map(|(_, i)| i)
}

#[test]
fn trie_agrees_with_the_reference_matcher() {
    const WORDS: &[&str] = &[
        "repos", "o", "pulls", "7", "comments", "merge", "contents", "compare", "a...b", "users",
        "octocat", "git", "refs", "tarball", "v1", "",
    ];
    let buf = built();
    let router = buf.router();
    let mut checked = 0;
    let mut check = |method: &str, path: &str| {
        let got = router.lookup(method, path).map(|m| m.route as usize);
        assert_eq!(got, reference(method, path), "{method} {path}");
        checked += 1;
    };
    // Every path of up to four words, then a deterministic sample of longer ones.
    let mut stack: Vec<String> = vec![String::new()];
    while let Some(p) = stack.pop() {
        check("GET", if p.is_empty() { "/" } else { &p });
        if p.matches('/').count() < 4 {
            stack.extend(WORDS.iter().map(|w| format!("{p}/{w}")));
        }
    }
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    for _ in 0..20_000 {
        let mut path = String::new();
        for _ in 0..5 + seed % 3 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            path.push('/');
            path.push_str(WORDS[(seed % WORDS.len() as u64) as usize]);
        }
        check("GET", &path);
        check("PUT", &path);
    }
    assert!(checked > 80_000);
}
