//! The `tf` commands. Each one takes the open data dir and its arguments,
//! and prints for humans (stdout) unless asked for JSON.

pub(crate) mod audit;
pub(crate) mod run;

use std::io::BufRead;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use tf_admin::api::{AddConnector, RuleKey, Secret};
use tf_core::{AuditRecord, Decision, Placement, Rule};

use crate::args::{
    ConnectorAddArgs, ConnectorCommand, DecisionArg, LogsArgs, PermissionsCommand, ProxyFlags,
    RuleKeyArgs, ServeArgs,
};
use crate::backend::{Backend, running};
use tf_runtime::datadir::DataDir;
use tf_runtime::{GatewayOptions, ProxyOptions, RunningGateway};

pub(crate) fn init(dd: &DataDir) -> anyhow::Result<()> {
    let report = dd.init()?;
    if report.created.is_empty() {
        out!("{} is already initialized", dd.path().display());
    } else {
        out!(
            "initialized {} (created {})",
            dd.path().display(),
            report.created.join(", ")
        );
    }
    out!("next: `tf connector add github --token-env GITHUB_TOKEN`, then `tf serve`");
    Ok(())
}

pub(crate) async fn serve(dd: &DataDir, args: ServeArgs) -> anyhow::Result<()> {
    dd.init()?;
    if let Some((_, runtime)) = running(dd).await? {
        bail!(
            "a gateway already serves {} (pid {}, proxy {}, admin {}); stop it first",
            dd.path().display(),
            runtime.pid,
            runtime.proxy,
            runtime.admin
        );
    }
    let opts = GatewayOptions {
        listen: args.listen,
        admin_listen: args.admin_listen,
        proxy: proxy_options(&args.proxy),
    };
    let gw = RunningGateway::start(dd, &opts).await?;
    out!("TameFlare gateway running");
    out!("  proxy:    {}", gw.proxy);
    out!("  admin:    {}", gw.admin);
    out!("  data dir: {}", dd.path().display());
    out!("run an agent behind it: tf run --name <agent> -- <cmd>");
    terminate_signal().await?;
    out!("shutting down");
    Ok(gw.stop(dd).await?)
}

/// The runtime's proxy options from the command line's proxy flags.
pub(crate) fn proxy_options(flags: &ProxyFlags) -> ProxyOptions {
    ProxyOptions {
        connect_to: flags.connect_to.clone(),
        upstream_ca: flags.upstream_ca.clone(),
        allow_private_upstreams: flags.allow_private_upstreams,
        max_connections: flags.max_connections,
    }
}

/// Resolves on SIGINT or SIGTERM.
pub(crate) async fn terminate_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
    Ok(())
}

fn read_secret(args: &ConnectorAddArgs) -> anyhow::Result<Option<Secret>> {
    if let Some(t) = &args.token {
        return Ok(Some(Secret::new(t.clone())));
    }
    if let Some(var) = &args.token_env {
        let value = std::env::var(var).map_err(|_| {
            anyhow!("environment variable {var} is not set (or not UTF-8); export it, or use --token-stdin")
        })?;
        return Ok(Some(Secret::new(value)));
    }
    if args.token_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the credential from standard input")?;
        return Ok(Some(Secret::new(
            line.trim_end_matches(['\r', '\n']).to_owned(),
        )));
    }
    Ok(None)
}

pub(crate) fn placement(args: &ConnectorAddArgs) -> Option<Placement> {
    match (&args.header, &args.template, args.basic) {
        (Some(name), Some(template), _) => Some(Placement::Header {
            name: name.clone(),
            template: template.clone(),
        }),
        (_, _, true) => Some(Placement::Basic),
        _ => None,
    }
}

/// How to lift the suspension of an instance's credential.
fn suspension_hint(name: &str, kind: &str) -> String {
    let named = if name == kind {
        String::new()
    } else {
        format!(" --name {name:?}")
    };
    format!(
        "the credential of {name} was entered for another kind or other domains and is suspended (requests are denied with credential_suspended); enter it again (`tf connector add {kind}{named} --token-env VAR`) or confirm it (`tf connector add {kind}{named} --keep-credential`, with the same --domains and placement flags)"
    )
}

fn placement_text(p: &Placement) -> String {
    match p {
        Placement::None => "none".into(),
        Placement::Basic => "basic auth".into(),
        Placement::Header { name, template } => format!("header {name}: {template}"),
    }
}

pub(crate) async fn connector(dd: &DataDir, cmd: ConnectorCommand) -> anyhow::Result<()> {
    let backend = Backend::connect(dd).await?;
    match cmd {
        ConnectorCommand::Add(args) => {
            let request = AddConnector {
                kind: args.kind.clone(),
                name: args.name.clone(),
                domains: args.domains.clone(),
                token: read_secret(&args)?,
                placement: placement(&args),
                keep_credential: args.keep_credential,
                actor: Some(actor("tf connector add")),
            };
            let info = backend.add_connector(request).await?;
            out!(
                "connector {} ({} {}) serves {}; credential: {} ({})",
                info.name,
                info.kind,
                info.version.as_deref().unwrap_or("?"),
                info.domains.join(", "),
                match (info.credential_set, info.credential_suspended) {
                    (true, false) => "set",
                    (true, true) => "SUSPENDED",
                    (false, _) => "not set",
                },
                placement_text(&info.placement),
            );
            if info.credential_suspended {
                out!("{}", suspension_hint(&info.name, &info.kind));
            }
            if !backend.is_remote() {
                out!("takes effect when the gateway starts (`tf serve` or `tf run`)");
            }
        }
        ConnectorCommand::List => {
            let list = backend.connectors().await?;
            if list.connectors.is_empty() {
                out!("no connector instances; add one with `tf connector add <kind>`");
            } else {
                out!(
                    "{:<16} {:<10} {:<8} {:<7} {:<10} DOMAINS",
                    "NAME",
                    "KIND",
                    "VERSION",
                    "ACTIONS",
                    "CREDENTIAL"
                );
                for c in &list.connectors {
                    out!(
                        "{:<16} {:<10} {:<8} {:<7} {:<10} {}",
                        c.name,
                        c.kind,
                        c.version.as_deref().unwrap_or("-"),
                        c.actions,
                        match (c.credential_set, c.credential_suspended) {
                            (true, false) => "yes",
                            (true, true) => "SUSPENDED",
                            (false, _) => "no",
                        },
                        c.domains.join(","),
                    );
                }
                for c in list.connectors.iter().filter(|c| c.credential_suspended) {
                    out!("{}", suspension_hint(&c.name, &c.kind));
                }
            }
            let kinds: Vec<String> = list
                .kinds
                .iter()
                .map(|k| format!("{} {}", k.kind, k.version))
                .collect();
            out!("available kinds: {}", kinds.join(", "));
            if !list.components.is_empty() {
                out!("");
                out!(
                    "{:<20} {:<14} {:<16} {:<8} {:<20} {:<7} {:<14} DOMAINS",
                    "COMPONENT",
                    "STATE",
                    "NAME",
                    "VERSION",
                    "SDK",
                    "ACTIONS",
                    "SHA256"
                );
                for c in &list.components {
                    out!(
                        "{:<20} {:<14} {:<16} {:<8} {:<20} {:<7} {:<14} {}",
                        c.file,
                        c.state,
                        c.name.as_deref().unwrap_or("-"),
                        c.version.as_deref().unwrap_or("-"),
                        c.sdk.as_deref().unwrap_or("-"),
                        c.actions,
                        c.sha256.as_deref().map_or("-", |h| &h[..h.len().min(12)]),
                        if c.domains.is_empty() {
                            "-".to_owned()
                        } else {
                            c.domains.join(",")
                        },
                    );
                    if let Some(e) = &c.last_error {
                        out!("  last error: {e}");
                    }
                }
            }
        }
        ConnectorCommand::Remove { name } => {
            backend.remove_connector(&name).await?;
            out!("connector {name} removed (its credential too)");
        }
        ConnectorCommand::Install(args) => {
            let wasm = std::fs::read(&args.file)
                .with_context(|| format!("cannot read {}", args.file.display()))?;
            let info = backend
                .install_component(wasm, &actor("tf connector install"), args.take_over)
                .await?;
            out!(
                "installed {} {} from {} ({} actions, {} fixtures passed, sha256 {}); serves {}",
                info.name.as_deref().unwrap_or("?"),
                info.version.as_deref().unwrap_or("?"),
                info.file,
                info.actions,
                info.fixtures,
                info.sha256.as_deref().unwrap_or("?"),
                if info.domains.is_empty() {
                    "no domains of its own (add an instance with `tf connector add NAME --domains …`)".to_owned()
                } else {
                    info.domains.join(", ")
                },
            );
            if !backend.is_remote() {
                out!("no gateway runs; it serves when one starts (`tf serve` or `tf run`)");
            }
        }
        ConnectorCommand::Uninstall { name } => {
            backend
                .uninstall_component(&name, &actor("tf connector uninstall"))
                .await?;
            out!("component {name}.wasm removed; its domains are denied again");
        }
        ConnectorCommand::New(_) | ConnectorCommand::Build(_) | ConnectorCommand::Test(_) => {
            unreachable!("dispatched before the data dir is opened")
        }
    }
    Ok(())
}

/// Who runs this command, for the audit trail: the login name and uid.
fn actor(via: &str) -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown user".to_owned());
    // The uid from /proc (no libc needed).
    let uid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|v| v.split_whitespace().next().map(str::to_owned))
        })
        .unwrap_or_else(|| "?".to_owned());
    format!("{user} (uid {uid}) via {via}")
}

fn key(k: RuleKeyArgs) -> RuleKey {
    RuleKey {
        gateway: k.gateway,
        connector: k.connector,
        action: k.action,
    }
}

pub(crate) async fn permissions(dd: &DataDir, cmd: PermissionsCommand) -> anyhow::Result<()> {
    let backend = Backend::connect(dd).await?;
    match cmd {
        PermissionsCommand::Set { key: k, decision } => {
            let rule = Rule {
                gateway: k.gateway,
                connector: k.connector,
                action: k.action,
                decision: match decision {
                    DecisionArg::Allow => Decision::Allow,
                    DecisionArg::Deny => Decision::Deny,
                },
            };
            backend.set_rule(rule.clone()).await?;
            out!(
                "{} {} via {}: {}",
                rule.gateway,
                rule.action,
                rule.connector,
                rule.decision.as_str()
            );
            if rule.connector != "*" {
                let known = backend.connectors().await?;
                if !known.connectors.iter().any(|c| c.name == rule.connector) {
                    eprintln!(
                        "note: no connector instance is named {:?} yet; add it with `tf connector add`",
                        rule.connector
                    );
                }
            }
        }
        PermissionsCommand::List => {
            let rules = backend.rules().await?.rules;
            if rules.is_empty() {
                out!("no rules: every action is denied; add one with `tf permissions set`");
            } else {
                out!(
                    "{:<16} {:<16} {:<32} DECISION",
                    "GATEWAY",
                    "CONNECTOR",
                    "ACTION"
                );
                for r in rules {
                    out!(
                        "{:<16} {:<16} {:<32} {}",
                        r.gateway,
                        r.connector,
                        r.action,
                        r.decision.as_str()
                    );
                }
            }
        }
        PermissionsCommand::Remove { key: k } => {
            let k = key(k);
            let text = format!("{} {} via {}", k.gateway, k.action, k.connector);
            backend.remove_rule(k).await?;
            out!("rule removed: {text}");
        }
    }
    Ok(())
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` for unix milliseconds (UTC).
pub(crate) fn format_time(ms: u64) -> String {
    let secs = ms / 1000;
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60,
        ms % 1000
    )
}

fn table_header() -> String {
    format!(
        "{:<24} {:<12} {:<12} {:<28} {:<9} {:<11} {:<28} {:>6} {:>9}",
        "TIME",
        "GATEWAY",
        "CONNECTOR",
        "ACTION",
        "DECISION",
        "FORWARDED",
        "REASON",
        "STATUS",
        "LATENCY"
    )
}

pub(crate) fn table_row(r: &AuditRecord) -> String {
    let e = &r.entry;
    if let Some(ev) = &e.event {
        // An administrative change: what, which bytes, who.
        let sha = ev.sha256.as_deref().map_or("-", |h| &h[..h.len().min(12)]);
        let what = match &ev.error {
            Some(err) => format!("{}: {}", ev.file, err.lines().next().unwrap_or("")),
            None => format!(
                "{} {} sha256:{sha}",
                ev.file,
                ev.version.as_deref().unwrap_or("")
            ),
        };
        return format!(
            "{:<24} {:<12} {:<12} {:<28} {:<9} {:<11} {what} (by {})",
            format_time(e.time_ms),
            "-",
            e.connector.as_deref().unwrap_or("-"),
            e.action.as_deref().unwrap_or("-"),
            e.outcome.as_str(),
            "-",
            ev.actor,
        );
    }
    format!(
        "{:<24} {:<12} {:<12} {:<28} {:<9} {:<11} {:<28} {:>6} {:>7}ms",
        format_time(e.time_ms),
        e.gateway.as_deref().unwrap_or("-"),
        e.connector.as_deref().unwrap_or("-"),
        e.action.as_deref().unwrap_or("-"),
        e.outcome.as_str(),
        forwarded_column(e),
        match e.connector_failure {
            Some(kind) => format!("{}:{kind}", e.reason),
            None => e.reason.clone(),
        },
        e.upstream_status
            .map_or_else(|| "-".to_owned(), |s| s.to_string()),
        e.latency_us / 1000,
    )
}

/// `yes`/`no`; `write-ahead` for the record committed before a mutation
/// was forwarded (its completion record follows with the same request id).
/// Records written before `forwarded` existed say `yes` when allowed.
fn forwarded_column(e: &tf_core::AuditEntry) -> &'static str {
    match (e.phase, e.forwarded) {
        (Some(tf_core::Phase::WriteAhead), _) => "write-ahead",
        (_, true) => "yes",
        (None, false) if e.outcome == tf_core::Outcome::Allowed => "yes",
        (_, false) => "no",
    }
}

fn print_records(records: &[AuditRecord], json: bool) -> anyhow::Result<()> {
    for r in records {
        if json {
            out!("{}", serde_json::to_string(r)?);
        } else {
            out!("{}", table_row(r));
        }
    }
    Ok(())
}

const PAGE: usize = 1000;

pub(crate) async fn logs(dd: &DataDir, args: LogsArgs) -> anyhow::Result<()> {
    let backend = Backend::connect(dd).await?;
    let count = backend.status().await?.audit_records;
    let mut after = count.saturating_sub(u64::try_from(args.lines).unwrap_or(u64::MAX));
    if !args.json {
        out!("{}", table_header());
    }
    loop {
        let page = backend.audit(after, PAGE).await?.records;
        print_records(&page, args.json)?;
        if let Some(last) = page.last() {
            after = last.seq;
        }
        if page.len() < PAGE {
            break;
        }
    }
    if !args.follow {
        return Ok(());
    }
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            r = terminate_signal() => return r,
        }
        let page = backend.audit(after, PAGE).await?.records;
        print_records(&page, args.json)?;
        if let Some(last) = page.last() {
            after = last.seq;
        }
    }
}

pub(crate) async fn status(dd: &DataDir) -> anyhow::Result<()> {
    let backend = Backend::connect(dd).await?;
    match &backend {
        Backend::Remote { runtime, .. } => {
            out!("gateway:    running (pid {})", runtime.pid);
            out!("proxy:      {}", runtime.proxy);
            out!("admin:      {} (dashboard)", runtime.admin);
            out!(
                "socket:     {} (the CLI's admin API)",
                dd.file_path(tf_runtime::datadir::ADMIN_SOCK).display()
            );
        }
        Backend::Local(_) => out!("gateway:    not running (start it with `tf serve`)"),
    }
    let s = backend.status().await?;
    out!("data dir:   {}", s.data_dir);
    out!("version:    {}", s.version);
    out!(
        "gateways:   {}",
        if s.gateways.is_empty() {
            "none (created by `tf run --name <agent>`)".to_owned()
        } else {
            s.gateways.join(", ")
        }
    );
    out!("connectors: {}", s.connectors);
    out!("rules:      {}", s.rules);
    out!("audit:      {} records", s.audit_records);
    out!("audit:      {}", s.audit_policy);
    let v = backend.verify_audit().await?;
    if v.ok {
        out!("chain:      verified ({} records)", v.records);
        Ok(())
    } else {
        out!(
            "chain:      BROKEN: {}",
            v.error.as_deref().unwrap_or("unknown")
        );
        bail!("the audit chain does not verify; the database may have been edited")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_utc_iso8601() {
        assert_eq!(format_time(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_time(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(format_time(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn placement_flags() {
        let base = ConnectorAddArgs {
            kind: "generic".into(),
            name: None,
            domains: vec![],
            token: None,
            token_env: None,
            token_stdin: false,
            header: None,
            template: None,
            basic: false,
            keep_credential: false,
        };
        assert_eq!(placement(&base), None);
        let basic = ConnectorAddArgs {
            basic: true,
            ..base
        };
        assert_eq!(placement(&basic), Some(Placement::Basic));
        let header = ConnectorAddArgs {
            basic: false,
            header: Some("X-Api-Key".into()),
            template: Some("{secret}".into()),
            ..basic
        };
        assert_eq!(
            placement(&header),
            Some(Placement::Header {
                name: "X-Api-Key".into(),
                template: "{secret}".into()
            })
        );
    }
}
