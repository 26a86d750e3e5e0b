//! Request → action for the generic connector: the method names the action,
//! host + path is the resource.

use tameflare_sdk::{Action, ActionSpec, ClassifyError, Param, ParamValue, Request, Risk};

/// (method, action, risk, read-only, description)
const TABLE: &[(&str, &str, Risk, bool, &str)] = &[
    ("GET", "http.get", Risk::Low, true, "Read a resource"),
    (
        "HEAD",
        "http.head",
        Risk::Low,
        true,
        "Read a resource's headers",
    ),
    (
        "OPTIONS",
        "http.options",
        Risk::Low,
        true,
        "Ask which methods a resource allows",
    ),
    ("POST", "http.post", Risk::Medium, false, "Create or submit"),
    ("PUT", "http.put", Risk::Medium, false, "Create or replace"),
    ("PATCH", "http.patch", Risk::Medium, false, "Modify"),
    ("DELETE", "http.delete", Risk::High, false, "Delete"),
];

/// Every action the connector can return.
pub(crate) fn catalogue() -> Vec<ActionSpec> {
    TABLE
        .iter()
        .map(|&(method, name, risk, read_only, description)| ActionSpec {
            name: name.into(),
            description: description.into(),
            method: method.into(),
            path_template: "/{path+}".into(),
            risk,
            read_only,
        })
        .collect()
}

pub(crate) fn classify(req: &Request) -> Result<Action, ClassifyError> {
    let Some(&(_, name, risk, _, _)) = TABLE.iter().find(|(m, ..)| *m == req.method) else {
        return Err(ClassifyError::new(
            "unsupported_method",
            format!(
                "method {} is not supported by the generic connector",
                req.method
            ),
        ));
    };
    Ok(Action {
        name: name.into(),
        resource: format!("{}{}", req.host, req.path),
        params: vec![
            Param {
                name: "host".into(),
                value: ParamValue::Text(req.host.clone()),
            },
            Param {
                name: "path".into(),
                value: ParamValue::Text(req.path.clone()),
            },
        ],
        risk,
        parts: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use tameflare_sdk::{Connector, testing};

    use crate::Generic;

    /// The connector is `generic`; its actions keep TameFlare's `http.*` names.
    #[test]
    fn name_and_catalogue() {
        let d = Generic::describe();
        assert_eq!(d.name, "generic");
        let mut names: Vec<&str> = d.actions.iter().map(|a| a.name.as_str()).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "http.delete",
                "http.get",
                "http.head",
                "http.options",
                "http.patch",
                "http.post",
                "http.put"
            ]
        );
    }

    #[test]
    fn fixtures() {
        let fixtures =
            testing::check::<Generic>(include_str!("../fixtures/actions.jsonl"), "api.example.com")
                .unwrap_or_else(|report| panic!("fixture mismatches:\n{report}"));
        // Every catalogue entry has at least one fixture.
        for spec in super::catalogue() {
            assert!(
                fixtures
                    .iter()
                    .any(|f| f.expect.as_ref().is_some_and(|e| e.name == spec.name)),
                "no fixture for {}",
                spec.name
            );
        }
    }
}
