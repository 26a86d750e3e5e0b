//! `tf run --name NAME -- CMD…`: runs an agent behind the gateway.

use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

use anyhow::{Context, anyhow};
use rustix::process::{Pid, Signal, kill_process};
use tokio::signal::unix::{SignalKind, signal};

use crate::agent_env::{
    AgentEnvInput, EnvChange, InstanceRef, SecretDigests, agent_env, filter_user_env,
};
use crate::args::RunArgs;
use crate::backend::{Backend, running};
use tf_runtime::datadir::{CA_BUNDLE, CA_PEM, DataDir, PYTHON_HOOKS};
use tf_runtime::{GatewayOptions, RunningGateway};

/// The exit code of a finished child: its own, or 128+N when killed by signal N.
pub(crate) fn exit_code(status: ExitStatus) -> i32 {
    match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(sig)) => 128 + sig,
        (None, None) => 1,
    }
}

pub(crate) async fn run(dd: &DataDir, args: RunArgs) -> anyhow::Result<i32> {
    dd.init()?;
    if !tf_core::ids::is_valid_name(&args.name) {
        anyhow::bail!(
            "gateway name {:?} is invalid: use 1-64 characters from A-Z a-z 0-9 . _ - and space",
            args.name
        );
    }
    let (backend, proxy, own) = match running(dd).await? {
        Some((client, runtime)) => {
            if !args.proxy.connect_to.is_empty()
                || args.proxy.upstream_ca.is_some()
                || args.proxy.allow_private_upstreams
            {
                tracing::warn!(
                    pid = runtime.pid,
                    "a gateway already serves this data dir; --connect-to, --upstream-ca and --allow-private-upstreams apply only to a gateway `tf run` starts itself"
                );
            }
            let proxy = runtime.proxy;
            (Backend::Remote { client, runtime }, proxy, None)
        }
        None => {
            let opts = GatewayOptions {
                listen: ([127, 0, 0, 1], 0).into(),
                admin_listen: ([127, 0, 0, 1], 0).into(),
                proxy: crate::commands::proxy_options(&args.proxy),
            };
            let gw = RunningGateway::start(dd, &opts).await?;
            let proxy = gw.proxy;
            (Backend::Local(gw.service.clone()), proxy, Some(gw))
        }
    };

    let result = run_child(dd, &backend, proxy, &args).await;
    drop(backend);
    if let Some(gw) = own {
        gw.stop(dd).await?;
    }
    result
}

async fn run_child(
    dd: &DataDir,
    backend: &Backend,
    proxy: std::net::SocketAddr,
    args: &RunArgs,
) -> anyhow::Result<i32> {
    let gateway = backend.ensure_gateway(&args.name).await?;
    let instances: Vec<InstanceRef> = backend
        .connectors()
        .await?
        .connectors
        .into_iter()
        .map(|c| InstanceRef {
            name: c.name,
            kind: c.kind,
        })
        .collect();
    let ca_bundle = dd.file_path(CA_BUNDLE);
    let ca_pem = dd.file_path(CA_PEM);
    let python_hooks = dd.file_path(PYTHON_HOOKS);
    let digests = backend.credential_digests().await?;
    let salt = hex::decode(&digests.salt)
        .map_err(|_| anyhow!("the gateway sent a credential salt that is not hex"))?;
    let secrets = SecretDigests::new(
        salt,
        digests
            .credentials
            .iter()
            .map(|c| (c.instance.as_str(), c.sha256.as_str())),
    );
    let (user_env, changes) = filter_user_env(
        std::env::vars_os(),
        &secrets,
        &args.keep_env,
        tf_vault::placeholder,
    );
    for change in &changes {
        match change {
            EnvChange::Kept(var) => tracing::warn!(
                "--keep-env {var}: the agent gets {var} unchanged although it is one of the gateway's own variables or holds a vault secret"
            ),
            EnvChange::Removed(var) => {
                tracing::debug!(%var, "gateway variable not passed to the agent")
            }
            EnvChange::Replaced { var, instance } => tracing::info!(
                %var,
                %instance,
                "the agent sees this variable as the instance's placeholder: its value is a secret in the vault"
            ),
        }
    }
    let pythonpath = std::env::var_os("PYTHONPATH");
    let env = agent_env(
        &AgentEnvInput {
            proxy,
            gateway: &gateway.name,
            token: &gateway.token,
            ca_bundle: &ca_bundle,
            ca_pem: &ca_pem,
            python_hooks: &python_hooks,
            pythonpath: pythonpath.as_deref(),
            instances: &instances,
        },
        tf_vault::placeholder,
    );

    let (program, rest) = args
        .command
        .split_first()
        .ok_or_else(|| anyhow!("no command given; use `tf run --name NAME -- CMD…`"))?;
    let mut child = tokio::process::Command::new(program)
        .args(rest)
        .env_clear()
        .envs(user_env)
        .envs(env)
        .spawn()
        .with_context(|| format!("cannot run {:?}; is it installed and on PATH?", program))?;
    let pid = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .and_then(Pid::from_raw);

    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut hup = signal(SignalKind::hangup())?;
    let status = loop {
        let forward = tokio::select! {
            status = child.wait() => break status.context("waiting for the agent")?,
            _ = int.recv() => Signal::INT,
            _ = term.recv() => Signal::TERM,
            _ = hup.recv() => Signal::HUP,
        };
        if let Some(pid) = pid
            && let Err(e) = kill_process(pid, forward)
        {
            tracing::debug!(error = %e, "forwarding a signal to the agent failed");
        }
    };
    Ok(exit_code(status))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_pass_through() {
        assert_eq!(exit_code(ExitStatus::from_raw(7 << 8)), 7);
        assert_eq!(exit_code(ExitStatus::from_raw(0)), 0);
        // Killed by SIGTERM (15).
        assert_eq!(exit_code(ExitStatus::from_raw(15)), 143);
    }
}
