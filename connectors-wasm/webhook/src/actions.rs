//! Request → action for the webhook connector: the method names the action
//! (`webhook.` + lower-case method), host + path is the resource.

use tameflare_sdk::{Action, ActionSpec, ClassifyError, Param, ParamValue, Request, Risk};

/// (method, action, risk, read-only, description)
const TABLE: &[(&str, &str, Risk, bool, &str)] = &[
    (
        "GET",
        "webhook.get",
        Risk::Low,
        true,
        "Read a webhook endpoint",
    ),
    (
        "HEAD",
        "webhook.head",
        Risk::Low,
        true,
        "Read a webhook endpoint's headers",
    ),
    (
        "OPTIONS",
        "webhook.options",
        Risk::Low,
        true,
        "Ask which methods a webhook endpoint allows",
    ),
    (
        "POST",
        "webhook.post",
        Risk::Medium,
        false,
        "Deliver an event to a webhook",
    ),
    (
        "PUT",
        "webhook.put",
        Risk::Medium,
        false,
        "Create or replace at a webhook endpoint",
    ),
    (
        "PATCH",
        "webhook.patch",
        Risk::Medium,
        false,
        "Modify at a webhook endpoint",
    ),
    (
        "DELETE",
        "webhook.delete",
        Risk::High,
        false,
        "Delete at a webhook endpoint",
    ),
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
                "method {} is not supported by the webhook connector",
                req.method
            ),
        ));
    };
    let mut resource = String::with_capacity(req.host.len() + req.path.len());
    resource.push_str(&req.host);
    resource.push_str(&req.path);
    Ok(Action {
        name: name.into(),
        resource,
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
    use tameflare_sdk::{Connector, Placement, Request, testing};

    use crate::Webhook;

    #[test]
    fn descriptor() {
        let d = Webhook::describe();
        assert_eq!(
            (d.name.as_str(), d.domains.len(), &d.placement, d.needs_body),
            ("webhook", 0, &Placement::bearer(), false)
        );
        let got: Vec<String> = d
            .actions
            .iter()
            .map(|a| {
                format!(
                    "{} {} {} read_only={}",
                    a.method, a.name, a.risk, a.read_only
                )
            })
            .collect();
        let want = [
            "GET webhook.get low read_only=true",
            "HEAD webhook.head low read_only=true",
            "OPTIONS webhook.options low read_only=true",
            "POST webhook.post medium read_only=false",
            "PUT webhook.put medium read_only=false",
            "PATCH webhook.patch medium read_only=false",
            "DELETE webhook.delete high read_only=false",
        ];
        assert_eq!(got, want);
    }

    /// The naming rule holds for every entry: `webhook.` + lower-case method.
    #[test]
    fn naming_rule() {
        for spec in super::catalogue() {
            assert_eq!(
                spec.name,
                format!("webhook.{}", spec.method.to_ascii_lowercase())
            );
            let a = Webhook::classify(&Request::new(&spec.method, "h.test", "/p")).unwrap();
            assert_eq!((a.name, a.risk), (spec.name, spec.risk));
        }
    }

    #[test]
    fn fixtures() {
        let fixtures = testing::check::<Webhook>(
            include_str!("../fixtures/actions.jsonl"),
            "hooks.example.com",
        )
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
