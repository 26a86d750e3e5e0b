use super::*;
use crate::route::RouterBuilder;

const fn op(method: &'static str, path: &'static str, action: &'static str, keep: u8) -> Op {
    Op {
        method,
        path,
        operation_id: "",
        action,
        summary: "",
        params: &[],
        keep,
        risk: Risk::Low,
        read_only: true,
        extra: (),
    }
}

static OPS: [Op; 4] = [
    Op {
        params: &["id"],
        ..op("GET", "/v1/items/{id}", "toy.item.get", 3)
    },
    Op {
        params: &["id"],
        risk: Risk::High,
        read_only: false,
        ..op("DELETE", "/v1/items/{id}", "toy.item.delete", 3)
    },
    op("GET", "/v1/items", "toy.item.list", KEEP_ALL),
    op("HEAD", "/v1/ping", "toy.ping.head", KEEP_ALL),
];

fn table() -> Table {
    let mut b = RouterBuilder::new();
    for (i, o) in OPS.iter().enumerate() {
        b.insert(o.method, o.path, i as u32).unwrap();
    }
    let buf: &'static _ = Box::leak(Box::new(b.build()));
    Table {
        ops: &OPS,
        router: Box::leak(Box::new(buf.router())),
        unknown: "toy.unknown",
        unknown_description: "anything else",
    }
}

#[test]
fn classify_table() {
    let t = table();
    // (method, path, action, resource, risk, params)
    type Case<'a> = (
        &'a str,
        &'a str,
        &'a str,
        &'a str,
        Risk,
        &'a [(&'a str, &'a str)],
    );
    let cases: &[Case<'_>] = &[
        (
            "GET",
            "/v1/items/42",
            "toy.item.get",
            "v1/items/42",
            Risk::Low,
            &[("id", "42")],
        ),
        (
            "HEAD",
            "/v1/items/a",
            "toy.item.get",
            "v1/items/a",
            Risk::Low,
            &[("id", "a")],
        ),
        (
            "DELETE",
            "/v1/items/7",
            "toy.item.delete",
            "v1/items/7",
            Risk::High,
            &[("id", "7")],
        ),
        (
            "GET",
            "/V1/ITEMS",
            "toy.item.list",
            "V1/ITEMS",
            Risk::Low,
            &[],
        ),
        (
            "HEAD",
            "/v1/ping",
            "toy.ping.head",
            "v1/ping",
            Risk::Low,
            &[],
        ),
        ("GET", "/v1/ping", "toy.unknown", "v1/ping", Risk::High, &[]),
        (
            "POST",
            "/v1/items",
            "toy.unknown",
            "v1/items",
            Risk::High,
            &[],
        ),
    ];
    for (method, path, name, resource, risk, params) in cases {
        let a = t.classify(&Request::new(method, "toy.test", path));
        let want: Vec<Param> = params.iter().map(|(n, v)| Param::infer(n, v)).collect();
        assert_eq!(
            (a.name.as_str(), a.resource.as_str(), a.risk, a.params),
            (*name, *resource, *risk, want),
            "{method} {path}"
        );
    }
}

#[test]
fn resource_keeps_up_to_the_last_parameter() {
    let cases: &[(u8, &str, &str)] = &[
        (KEEP_ALL, "/a/b/c", "a/b/c"),
        (1, "/a/b/c", "a"),
        (2, "/a/b/c", "a/b"),
        (3, "/a/b/c", "a/b/c"),
        (9, "/a/b", "a/b"),
        (0, "/a/b", "a/b"),
    ];
    for &(keep, path, want) in cases {
        assert_eq!(
            op("GET", "/", "x.y", keep).resource(path),
            want,
            "{keep} {path}"
        );
    }
}

#[test]
fn catalogue_lists_rows_then_unknown() {
    let t = table();
    let mut c = t.catalogue(|o| format!("{} [{}]", o.action, o.method));
    c.push(t.unknown_spec());
    let got: Vec<(&str, &str, &str, bool)> = c
        .iter()
        .map(|s| {
            (
                s.name.as_str(),
                s.method.as_str(),
                s.description.as_str(),
                s.read_only,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("toy.item.get", "GET", "toy.item.get [GET]", true),
            (
                "toy.item.delete",
                "DELETE",
                "toy.item.delete [DELETE]",
                false
            ),
            ("toy.item.list", "GET", "toy.item.list [GET]", true),
            ("toy.ping.head", "HEAD", "toy.ping.head [HEAD]", true),
            ("toy.unknown", "*", "anything else", false),
        ]
    );
}
