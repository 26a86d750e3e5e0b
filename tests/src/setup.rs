//! A gateway's configuration written as data: connectors with their
//! credential and domains, and permission rules, e.g.
//!
//! ```ignore
//! Gateway::builder()
//!     .connector("github").token("ghp_x")
//!     .allow("Bot", "github", "github.pr.*")
//!     .deny("Bot", "github", "github.repo.delete")
//! ```
//!
//! Each step is one `tf` command, run the way a user would run it: before
//! the gateway starts on the data dir ([`crate::GatewayBuilder`]), or against
//! the running gateway ([`crate::Gateway::setup`], through its admin API).
//! Nothing here knows what a command does; it only spells it.

use crate::Gateway;

/// Configuration steps, in order. Implemented by the builders that collect them.
pub trait Configure: Sized {
    /// The steps collected so far, each one `tf` command line (without `--data-dir`).
    fn steps(&mut self) -> &mut Vec<Vec<String>>;

    /// Adds a connector instance of `kind` (`tf connector add KIND`); the
    /// flag methods that follow ([`Configure::token`], ...) apply to it.
    fn connector(mut self, kind: &str) -> Self {
        self.steps().push(step(&["connector", "add", kind]));
        self
    }

    /// The instance's name (`--name`), when it is not the kind's.
    fn name(self, name: &str) -> Self {
        self.connector_flag("--name", name)
    }

    /// The instance's domains (`--domains`, comma-separated).
    fn domains(self, domains: &str) -> Self {
        self.connector_flag("--domains", domains)
    }

    /// The header the credential goes in (`--header`).
    fn header(self, header: &str) -> Self {
        self.connector_flag("--header", header)
    }

    /// The credential header's template (`--template`, with `{secret}`).
    fn template(self, template: &str) -> Self {
        self.connector_flag("--template", template)
    }

    /// The instance's credential (`--token`).
    fn token(self, token: &str) -> Self {
        self.connector_flag("--token", token)
    }

    /// A rule allowing `gateway` the `action` pattern on `connector`.
    fn allow(self, gateway: &str, connector: &str, action: &str) -> Self {
        self.rule(gateway, connector, action, "allow")
    }

    /// A rule denying `gateway` the `action` pattern on `connector`.
    fn deny(self, gateway: &str, connector: &str, action: &str) -> Self {
        self.rule(gateway, connector, action, "deny")
    }

    /// Removes the rule for (`gateway`, `connector`, `action`).
    fn unset(mut self, gateway: &str, connector: &str, action: &str) -> Self {
        self.steps().push(step(&[
            "permissions",
            "remove",
            "--gateway",
            gateway,
            "--connector",
            connector,
            "--action",
            action,
        ]));
        self
    }

    /// Any other `tf` command, spelled out.
    fn tf(mut self, args: &[&str]) -> Self {
        self.steps().push(step(args));
        self
    }

    #[doc(hidden)]
    fn rule(mut self, gateway: &str, connector: &str, action: &str, decision: &str) -> Self {
        self.steps().push(step(&[
            "permissions",
            "set",
            "--gateway",
            gateway,
            "--connector",
            connector,
            "--action",
            action,
            "--decision",
            decision,
        ]));
        self
    }

    #[doc(hidden)]
    fn connector_flag(mut self, flag: &str, value: &str) -> Self {
        let last = self
            .steps()
            .last_mut()
            .filter(|s| s.starts_with(&["connector".to_owned(), "add".to_owned()]))
            .unwrap_or_else(|| panic!("{flag} {value}: call .connector(kind) first"));
        last.push(flag.to_owned());
        last.push(value.to_owned());
        self
    }
}

fn step(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| (*a).to_owned()).collect()
}

/// Changes to a running gateway, applied in order by [`Changes::apply`].
#[must_use = "changes do nothing until applied"]
pub struct Changes<'g> {
    gateway: &'g Gateway,
    steps: Vec<Vec<String>>,
}

impl<'g> Changes<'g> {
    pub(crate) fn new(gateway: &'g Gateway) -> Self {
        Self {
            gateway,
            steps: Vec::new(),
        }
    }

    /// Runs each step's `tf` command; panics with its output if one fails.
    pub async fn apply(self) {
        for args in &self.steps {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            self.gateway.tf(&args).await.ok();
        }
    }
}

impl Configure for Changes<'_> {
    fn steps(&mut self) -> &mut Vec<Vec<String>> {
        &mut self.steps
    }
}
