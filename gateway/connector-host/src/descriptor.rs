//! Conversions between the WIT types and `tf_core`'s mirror of them, and the
//! validation of a connector's descriptor at load.

use std::collections::{HashMap, HashSet};

use tf_core::action::is_catalogue_name;
use tf_core::ids::{check_domain, is_connector_name};
use tf_core::{
    Action, ActionSpec, ConnectorRequest, Descriptor, DomainError, Param, ParamValue, Placement,
    PlacementError, Risk,
};

use crate::bindings::types as wit;

/// Most actions one catalogue may hold.
pub(crate) const MAX_ACTIONS: usize = 20_000;
/// Longest description, path template or version string accepted.
const MAX_TEXT: usize = 2048;

/// Why a connector's descriptor is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DescriptorError {
    #[error(
        "connector name {0:?} is not a lowercase identifier ([a-z][a-z0-9_-]*, at most 64 bytes)"
    )]
    Name(String),
    #[error("connector version {0:?} is empty, too long or not printable ASCII")]
    Version(String),
    #[error("the action catalogue is empty")]
    NoActions,
    #[error("the action catalogue has more than {MAX_ACTIONS} actions")]
    TooManyActions,
    #[error(
        "action name {0:?} is not `<segment>.<segment>…` (two or more segments of [A-Za-z0-9_-], optionally ending in `.*`)"
    )]
    ActionName(String),
    #[error("action {0:?} is listed twice for the same method and path template")]
    DuplicateAction(String),
    #[error("action {0:?} is listed for several routes with different risk or read-only flags")]
    ConflictingAction(String),
    #[error("action {0:?}: method must be upper-case letters or `*`")]
    Method(String),
    #[error("action {0:?}: description or path template too long or has control characters")]
    ActionText(String),
    #[error("{0}")]
    Domain(#[from] DomainError),
    #[error("domain {0:?} appears twice")]
    DuplicateDomain(String),
    #[error("{0}")]
    Placement(#[from] PlacementError),
}

fn risk(r: wit::Risk) -> Risk {
    match r {
        wit::Risk::Low => Risk::Low,
        wit::Risk::Medium => Risk::Medium,
        wit::Risk::High => Risk::High,
        wit::Risk::Critical => Risk::Critical,
    }
}

pub(crate) fn descriptor_from_wit(d: wit::Descriptor) -> Descriptor {
    Descriptor {
        name: d.name,
        version: d.version,
        domains: d.domains,
        actions: d
            .actions
            .into_iter()
            .map(|a| ActionSpec {
                name: a.name,
                description: a.description,
                method: a.method,
                path_template: a.path_template,
                risk: risk(a.risk),
                read_only: a.read_only,
            })
            .collect(),
        placement: match d.placement {
            wit::CredentialPlacement::None => Placement::None,
            wit::CredentialPlacement::Header(h) => Placement::Header {
                name: h.name,
                template: h.template,
            },
            wit::CredentialPlacement::Basic => Placement::Basic,
        },
        needs_body: d.needs_body,
    }
}

pub(crate) fn request_to_wit(r: ConnectorRequest) -> wit::Request {
    wit::Request {
        method: r.method,
        scheme: r.scheme,
        host: r.host,
        path: r.path,
        query: r.query,
        headers: r.headers,
        body: r.body,
    }
}

fn params_from_wit(params: Vec<wit::Param>) -> Vec<Param> {
    params
        .into_iter()
        .map(|p| Param {
            name: p.name,
            value: match p.value {
                wit::ParamValue::Text(s) => ParamValue::Text(s),
                wit::ParamValue::Integer(i) => ParamValue::Integer(i),
                wit::ParamValue::Boolean(b) => ParamValue::Boolean(b),
            },
        })
        .collect()
}

pub(crate) fn action_from_wit(a: wit::Action) -> Action {
    Action {
        name: a.name,
        resource: a.resource,
        params: params_from_wit(a.params),
        risk: risk(a.risk),
        parts: a
            .parts
            .into_iter()
            .map(|p| Action {
                name: p.name,
                resource: p.resource,
                params: params_from_wit(p.params),
                risk: risk(p.risk),
                parts: Vec::new(),
            })
            .collect(),
    }
}

fn is_text(s: &str) -> bool {
    s.len() <= MAX_TEXT && !s.chars().any(char::is_control)
}

/// Checks what a connector said about itself.
pub(crate) fn validate(d: &Descriptor) -> Result<(), DescriptorError> {
    if !is_connector_name(&d.name) {
        return Err(DescriptorError::Name(d.name.clone()));
    }
    if d.version.is_empty()
        || d.version.len() > 64
        || !d.version.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(DescriptorError::Version(d.version.clone()));
    }
    if d.actions.is_empty() {
        return Err(DescriptorError::NoActions);
    }
    if d.actions.len() > MAX_ACTIONS {
        return Err(DescriptorError::TooManyActions);
    }
    // One action may cover several routes (e.g. `github.repo.create` for a
    // user and for an org): allowed when the entries agree on what the
    // action is (risk, read-only) and differ in route.
    let mut names: HashMap<&str, &ActionSpec> = HashMap::with_capacity(d.actions.len());
    let mut routes: HashSet<(&str, &str, &str)> = HashSet::with_capacity(d.actions.len());
    for a in &d.actions {
        // Names need not start with the connector's name (the generic
        // connector's actions are `http.get`, …): rules are scoped to a
        // connector instance, so a name cannot reach another connector's rules.
        // A last segment `*` declares a family decided at runtime (e.g.
        // `mcp.tools.*`, one action per MCP tool; see `ActionSpec::covers`).
        if !is_catalogue_name(&a.name) {
            return Err(DescriptorError::ActionName(a.name.clone()));
        }
        if !routes.insert((a.name.as_str(), a.method.as_str(), a.path_template.as_str())) {
            return Err(DescriptorError::DuplicateAction(a.name.clone()));
        }
        if let Some(prev) = names.insert(a.name.as_str(), a)
            && (prev.risk != a.risk || prev.read_only != a.read_only)
        {
            return Err(DescriptorError::ConflictingAction(a.name.clone()));
        }
        let method_ok = a.method == "*"
            || (!a.method.is_empty()
                && a.method.len() <= 16
                && a.method.bytes().all(|b| b.is_ascii_uppercase()));
        if !method_ok {
            return Err(DescriptorError::Method(a.name.clone()));
        }
        if !is_text(&a.description) || !is_text(&a.path_template) {
            return Err(DescriptorError::ActionText(a.name.clone()));
        }
    }
    let mut domains = HashSet::with_capacity(d.domains.len());
    for domain in &d.domains {
        check_domain(domain)?;
        if !domains.insert(domain.as_str()) {
            return Err(DescriptorError::DuplicateDomain(domain.clone()));
        }
    }
    d.placement.validate()?;
    Ok(())
}

#[cfg(test)]
mod tests;
