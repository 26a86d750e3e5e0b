use super::*;

const PETSTORE: &str = r#"{
  "openapi": "3.0.3",
  "info": {"title": "Petstore", "version": "1"},
  "servers": [{"url": "https://petstore.example.test/v1/"}, {"url": "https://{region}.pets.test", "variables": {"region": {"default": "eu"}}}],
  "paths": {
    "/pets": {
      "get": {"operationId": "listPets", "summary": "List pets", "tags": ["pets"]},
      "post": {"operationId": "createPets", "description": "Create a pet.\nMore text."}
    },
    "/pets/{petId}": {
      "get": {"operationId": "showPetById"},
      "delete": {"summary": "Remove"}
    },
    "/owners/{owner_id}/pets/{petId}": {
      "put": {"operationId": "adopt", "x-tameflare-action": "petstore.pet.adopt", "x-tameflare-risk": "critical"}
    }
  }
}"#;

#[test]
fn petstore_is_read() {
    let doc = parse(PETSTORE).unwrap();
    assert_eq!(doc.title, "Petstore");
    assert_eq!(doc.hosts, ["petstore.example.test", "eu.pets.test"]);
    let naming = OpenApiNaming {
        connector: "petstore".into(),
        title: doc.title.clone(),
    };
    let got: Vec<(String, String, String, Risk, bool, String)> = doc
        .operations
        .iter()
        .map(|op| {
            let name = naming.action_name(op);
            (
                op.method.clone(),
                op.path.clone(),
                naming.risk(op, &name),
                naming.read_only(op, &name),
                op.summary.clone(),
                name,
            )
        })
        .map(|(m, p, r, ro, s, n)| (m, p, n, r, ro, s))
        .collect();
    let want = [
        (
            "PUT",
            "/v1/owners/{owner_id}/pets/{petId}",
            "petstore.pet.adopt",
            Risk::Critical,
            false,
            "",
        ),
        (
            "GET",
            "/v1/pets",
            "petstore.list_pets",
            Risk::Low,
            true,
            "List pets",
        ),
        (
            "POST",
            "/v1/pets",
            "petstore.create_pets",
            Risk::Medium,
            false,
            "Create a pet.",
        ),
        (
            "GET",
            "/v1/pets/{petId}",
            "petstore.show_pet_by_id",
            Risk::Low,
            true,
            "",
        ),
        (
            "DELETE",
            "/v1/pets/{petId}",
            "petstore.delete_v1_pets_pet_id",
            Risk::High,
            false,
            "Remove",
        ),
    ];
    let want: Vec<_> = want
        .iter()
        .map(|&(m, p, n, r, ro, s)| {
            (
                m.to_owned(),
                p.to_owned(),
                n.to_owned(),
                r,
                ro,
                s.to_owned(),
            )
        })
        .collect();
    assert_eq!(got, want);
}

#[test]
fn petstore_connector_fixtures() {
    let g = generate_connector("petstore", PETSTORE).unwrap();
    assert_eq!(g.actions.len(), 5);
    assert!(g.routes_rs.contains("pub(crate) static OPS: [Op; 5]"));
    let lines: Vec<&str> = g
        .fixtures_jsonl
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect();
    assert_eq!(
        lines,
        [
            r#"{"expect":{"name":"petstore.pet.adopt","params":{"owner_id":42,"petId":"42"},"resource":"v1/owners/42/pets/42","risk":"critical"},"method":"PUT","path":"/v1/owners/42/pets/42"}"#,
            r#"{"expect":{"name":"petstore.list_pets","params":{},"resource":"v1/pets","risk":"low"},"method":"GET","path":"/v1/pets"}"#,
            r#"{"expect":{"name":"petstore.create_pets","params":{},"resource":"v1/pets","risk":"medium"},"method":"POST","path":"/v1/pets"}"#,
            r#"{"expect":{"name":"petstore.show_pet_by_id","params":{"petId":"42"},"resource":"v1/pets/42","risk":"low"},"method":"GET","path":"/v1/pets/42"}"#,
            r#"{"expect":{"name":"petstore.delete_v1_pets_pet_id","params":{"petId":"42"},"resource":"v1/pets/42","risk":"high"},"method":"DELETE","path":"/v1/pets/42"}"#,
            r#"{"expect":{"name":"petstore.unknown","params":{},"resource":"tameflare-unmatched","risk":"high"},"method":"POST","path":"/tameflare-unmatched"}"#,
        ]
    );
}

#[test]
fn bad_documents_are_refused() {
    let cases: &[(&str, &str)] = &[
        ("openapi: 3.0.0\npaths: {}", "not a JSON document"),
        ("[1]", "not a JSON object"),
        (
            r#"{"swagger":"2.0","paths":{}}"#,
            "unsupported version swagger \"2.0\"",
        ),
        (
            r#"{"openapi":"2.5","paths":{}}"#,
            "unsupported version openapi \"2.5\"",
        ),
        (r#"{"paths":{}}"#, "no `openapi` field"),
        (r#"{"openapi":"3.1.0"}"#, "no operations"),
        (r#"{"openapi":"3.1.0","paths":{"/a":{}}}"#, "no operations"),
        (
            r#"{"openapi":"3.1.0","paths":{"a":{"get":{}}}}"#,
            "must start with '/'",
        ),
        (
            r#"{"openapi":"3.1.0","paths":{"/a":{"get":{"x-tameflare-risk":"huge"}}}}"#,
            "x-tameflare-risk",
        ),
        (
            r##"{"openapi":"3.1.0","paths":{"/a":{"$ref":"#/x"}}}"##,
            "inline the path item",
        ),
        (
            r#"{"openapi":"3.1.0","paths":{"/a":{"get":{"operationId":"x"}},"/b":{"get":{"operationId":"x"}}}}"#,
            "action name \"t.x\" names 2 operations",
        ),
        (
            r#"{"openapi":"3.1.0","paths":{"/a/{x}":{"get":{}},"/a/{y}":{"get":{"operationId":"y"}}}}"#,
            "duplicate route GET /a/{y}",
        ),
        (
            r#"{"openapi":"3.1.0","paths":{"/a":{"get":{"x-tameflare-action":"other.a"}}}}"#,
            "does not start with the connector's name",
        ),
    ];
    for (doc, want) in cases {
        let err = generate_connector("t", doc).unwrap_err().to_string();
        assert!(err.contains(want), "{doc}: {err}");
    }
}

#[test]
fn server_urls() {
    let cases: &[(&str, Option<&str>, &str)] = &[
        ("https://api.example.com", Some("api.example.com"), ""),
        (
            "https://API.example.com:8443/v2/?x",
            Some("api.example.com"),
            "/v2",
        ),
        ("/api/v3", None, "/api/v3"),
        ("https://{tenant}.example.com/v1", None, "/v1"),
    ];
    for &(url, host, path) in cases {
        let v = serde_json::json!({ "url": url });
        assert_eq!(
            server(&v, "s").unwrap(),
            (host.map(String::from), path.to_owned()),
            "{url}"
        );
    }
}
