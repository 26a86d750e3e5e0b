//! Permission rules and their resolution.
//!
//! A rule says: for this gateway (or `*`), this connector instance (or `*`),
//! actions matching this pattern are allowed or denied. Patterns are an exact
//! action name, a `prefix.*` wildcard, or `*`.
//!
//! Resolution: among the rules that match, the most specific wins; deny wins
//! among equally specific rules; no match is a deny. Specificity compares, in
//! order: the action pattern (exact > longer prefix > shorter prefix > `*`),
//! then the gateway (named > `*`), then the connector (named > `*`).
//!
//! Rules are compiled once into a [`PermissionSet`]; evaluation is a scan over
//! the rules for one (gateway, connector) pair and never allocates.

use serde::{Deserialize, Serialize};

/// A rule's effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Allow,
    Deny,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Deny => "deny",
        }
    }
}

/// A permission rule as stored and as shown to users.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Rule {
    pub gateway: String,
    pub connector: String,
    pub action: String,
    pub decision: Decision,
}

/// Why a rule is not valid.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RuleError {
    #[error("action pattern {0:?} is invalid: use an exact name, `prefix.*` or `*`")]
    Pattern(String),
    #[error("gateway {0:?} is invalid: use a gateway name or `*`")]
    Gateway(String),
    #[error("connector {0:?} is invalid: use a connector instance name or `*`")]
    Connector(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Pattern {
    Any,
    Prefix(String), // includes the trailing '.'
    Exact(String),
}

impl Pattern {
    fn parse(s: &str) -> Result<Self, RuleError> {
        let bad = || RuleError::Pattern(s.to_owned());
        let valid_part = crate::action::is_action_path;
        if s == "*" {
            Ok(Pattern::Any)
        } else if let Some(prefix) = s.strip_suffix(".*") {
            if valid_part(prefix) {
                Ok(Pattern::Prefix(format!("{prefix}.")))
            } else {
                Err(bad())
            }
        } else if valid_part(s) {
            Ok(Pattern::Exact(s.to_owned()))
        } else {
            Err(bad())
        }
    }

    fn matches(&self, action: &str) -> bool {
        match self {
            Pattern::Any => true,
            Pattern::Prefix(p) => action.starts_with(p.as_str()),
            Pattern::Exact(e) => e == action,
        }
    }

    /// Higher is more specific.
    fn specificity(&self) -> usize {
        match self {
            Pattern::Any => 0,
            Pattern::Prefix(p) => 1 + p.len(),
            Pattern::Exact(_) => usize::MAX,
        }
    }
}

#[derive(Clone, Debug)]
struct Compiled {
    rule: Rule,
    pattern: Pattern,
    gateway_any: bool,
    connector_any: bool,
}

impl Compiled {
    fn rank(&self) -> (usize, bool, bool) {
        (
            self.pattern.specificity(),
            !self.gateway_any,
            !self.connector_any,
        )
    }
}

/// The outcome of resolving one action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict<'a> {
    /// A rule matched; it is the deciding rule.
    Matched(&'a Rule),
    /// No rule matched: deny by default.
    NoMatch,
}

impl Verdict<'_> {
    pub fn decision(&self) -> Decision {
        match self {
            Verdict::Matched(r) => r.decision,
            Verdict::NoMatch => Decision::Deny,
        }
    }
}

/// A compiled, immutable set of rules.
#[derive(Clone, Debug, Default)]
pub struct PermissionSet {
    rules: Vec<Compiled>,
}

impl Rule {
    /// Checks the rule's fields.
    pub fn validate(&self) -> Result<(), RuleError> {
        Pattern::parse(&self.action)?;
        if self.gateway != "*" && !crate::ids::is_valid_name(&self.gateway) {
            return Err(RuleError::Gateway(self.gateway.clone()));
        }
        if self.connector != "*" && !crate::ids::is_valid_name(&self.connector) {
            return Err(RuleError::Connector(self.connector.clone()));
        }
        Ok(())
    }
}

impl PermissionSet {
    /// Compiles rules; fails on the first invalid one.
    pub fn compile(rules: impl IntoIterator<Item = Rule>) -> Result<Self, RuleError> {
        let mut out = Vec::new();
        for rule in rules {
            rule.validate()?;
            out.push(Compiled {
                pattern: Pattern::parse(&rule.action)?,
                gateway_any: rule.gateway == "*",
                connector_any: rule.connector == "*",
                rule,
            });
        }
        Ok(Self { rules: out })
    }

    pub fn rules(&self) -> impl Iterator<Item = &Rule> {
        self.rules.iter().map(|c| &c.rule)
    }

    /// Resolves `action` requested by `gateway` through connector instance `connector`.
    pub fn evaluate(&self, gateway: &str, connector: &str, action: &str) -> Verdict<'_> {
        let mut best: Option<&Compiled> = None;
        for c in &self.rules {
            if !(c.gateway_any || c.rule.gateway == gateway)
                || !(c.connector_any || c.rule.connector == connector)
                || !c.pattern.matches(action)
            {
                continue;
            }
            best = match best {
                None => Some(c),
                Some(b) => {
                    let (rc, rb) = (c.rank(), b.rank());
                    if rc > rb || (rc == rb && c.rule.decision == Decision::Deny) {
                        Some(c)
                    } else {
                        Some(b)
                    }
                }
            };
        }
        best.map_or(Verdict::NoMatch, |c| Verdict::Matched(&c.rule))
    }
}

#[cfg(test)]
mod tests;
