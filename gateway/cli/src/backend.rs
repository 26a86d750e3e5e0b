//! Command routing: through the admin API of the gateway that serves the
//! data dir (changes apply at once), else directly on the data dir (the
//! database lock keeps that to one process).

use std::sync::Arc;
use std::time::Duration;

use anyhow::anyhow;
use tf_admin::api::{
    AddConnector, AuditPage, CheckpointPage, ComponentInfo, ConnectorInfo, ConnectorList,
    CredentialDigests, GatewayToken, LatestCheckpoint, RuleKey, RuleList, Status, Verification,
};
use tf_admin::client::AdminClient;
use tf_admin::{Control, ControlError};
use tf_core::Rule;
use tf_runtime::Service;
use tf_runtime::datadir::{ADMIN_SOCK, DataDir, RuntimeInfo};

/// How long a running gateway gets to answer before we treat it as gone.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// Where commands go.
pub(crate) enum Backend {
    /// A gateway serves this data dir.
    Remote {
        client: AdminClient,
        runtime: RuntimeInfo,
    },
    /// No gateway runs: this process holds the database.
    Local(Arc<Service>),
}

/// The running gateway for `dd`, if one answers on the data dir's admin
/// socket with the data dir's admin token. Its addresses come from that
/// authenticated answer, not from `runtime.json` (which only supplies the
/// pid, for messages): the token is never sent to a TCP address.
pub(crate) async fn running(dd: &DataDir) -> anyhow::Result<Option<(AdminClient, RuntimeInfo)>> {
    let socket = dd.file_path(ADMIN_SOCK);
    if !socket.exists() {
        return Ok(None);
    }
    let client = AdminClient::new(socket, dd.admin_token()?);
    if !client.answers(PROBE_TIMEOUT).await {
        tracing::debug!("the admin socket does not answer; no gateway serves this data dir");
        return Ok(None);
    }
    let status: Status = client.status().await?;
    let addr = |a: Option<&String>, what: &str| -> anyhow::Result<std::net::SocketAddr> {
        a.and_then(|a| a.parse().ok())
            .ok_or_else(|| anyhow!("the running gateway reports no {what} address"))
    };
    let pid = match dd.read_runtime() {
        Ok(Some(r)) => r.pid,
        _ => 0,
    };
    let runtime = RuntimeInfo {
        pid,
        proxy: addr(status.proxy.as_ref(), "proxy")?,
        admin: addr(status.admin.as_ref(), "admin")?,
        version: status.version,
    };
    Ok(Some((client, runtime)))
}

fn control_err(e: ControlError) -> anyhow::Error {
    anyhow!("{e}")
}

async fn local<T, F>(service: &Arc<Service>, op: F) -> anyhow::Result<T>
where
    T: Send + 'static,
    F: FnOnce(&Service) -> Result<T, ControlError> + Send + 'static,
{
    let service = Arc::clone(service);
    tokio::task::spawn_blocking(move || op(&service))
        .await
        .map_err(|e| anyhow!("internal error: {e}"))?
        .map_err(control_err)
}

impl Backend {
    /// Connects to the running gateway, or opens the data dir directly.
    pub(crate) async fn connect(dd: &DataDir) -> anyhow::Result<Self> {
        dd.init()?;
        if let Some((client, runtime)) = running(dd).await? {
            return Ok(Backend::Remote { client, runtime });
        }
        let service = tf_runtime::open_local(dd)?;
        Ok(Backend::Local(service))
    }

    pub(crate) fn is_remote(&self) -> bool {
        matches!(self, Backend::Remote { .. })
    }

    pub(crate) async fn status(&self) -> anyhow::Result<Status> {
        match self {
            Backend::Remote { client, .. } => Ok(client.status().await?),
            Backend::Local(s) => local(s, |s| s.status()).await,
        }
    }

    pub(crate) async fn connectors(&self) -> anyhow::Result<ConnectorList> {
        match self {
            Backend::Remote { client, .. } => Ok(client.connectors().await?),
            Backend::Local(s) => local(s, |s| s.connectors()).await,
        }
    }

    pub(crate) async fn add_connector(
        &self,
        request: AddConnector,
    ) -> anyhow::Result<ConnectorInfo> {
        match self {
            Backend::Remote { client, .. } => Ok(client.add_connector(&request).await?),
            Backend::Local(s) => local(s, move |s| s.add_connector(request)).await,
        }
    }

    pub(crate) async fn remove_connector(&self, name: &str) -> anyhow::Result<()> {
        match self {
            Backend::Remote { client, .. } => Ok(client.remove_connector(name).await?),
            Backend::Local(s) => {
                let name = name.to_owned();
                local(s, move |s| s.remove_connector(&name)).await
            }
        }
    }

    /// Installs a component into `<data>/connectors/`; `actor` names who.
    pub(crate) async fn install_component(
        &self,
        wasm: Vec<u8>,
        actor: &str,
        take_over: bool,
    ) -> anyhow::Result<ComponentInfo> {
        match self {
            Backend::Remote { client, .. } => {
                Ok(client.install_component(wasm, actor, take_over).await?)
            }
            Backend::Local(s) => {
                let actor = actor.to_owned();
                local(s, move |s| s.install_component(&wasm, &actor, take_over)).await
            }
        }
    }

    pub(crate) async fn uninstall_component(&self, name: &str, actor: &str) -> anyhow::Result<()> {
        match self {
            Backend::Remote { client, .. } => Ok(client.uninstall_component(name, actor).await?),
            Backend::Local(s) => {
                let (name, actor) = (name.to_owned(), actor.to_owned());
                local(s, move |s| s.uninstall_component(&name, &actor)).await
            }
        }
    }

    pub(crate) async fn rules(&self) -> anyhow::Result<RuleList> {
        match self {
            Backend::Remote { client, .. } => Ok(client.rules().await?),
            Backend::Local(s) => local(s, |s| s.rules()).await,
        }
    }

    pub(crate) async fn set_rule(&self, rule: Rule) -> anyhow::Result<()> {
        match self {
            Backend::Remote { client, .. } => Ok(client.set_rule(&rule).await?),
            Backend::Local(s) => local(s, move |s| s.set_rule(rule)).await,
        }
    }

    pub(crate) async fn remove_rule(&self, key: RuleKey) -> anyhow::Result<()> {
        match self {
            Backend::Remote { client, .. } => Ok(client.remove_rule(&key).await?),
            Backend::Local(s) => local(s, move |s| s.remove_rule(&key)).await,
        }
    }

    pub(crate) async fn ensure_gateway(&self, name: &str) -> anyhow::Result<GatewayToken> {
        match self {
            Backend::Remote { client, .. } => Ok(client.ensure_gateway(name).await?),
            Backend::Local(s) => {
                let name = name.to_owned();
                local(s, move |s| s.ensure_gateway(&name)).await
            }
        }
    }

    pub(crate) async fn audit(&self, after: u64, limit: usize) -> anyhow::Result<AuditPage> {
        match self {
            Backend::Remote { client, .. } => Ok(client.audit(after, limit).await?),
            Backend::Local(s) => local(s, move |s| s.audit(after, limit)).await,
        }
    }

    pub(crate) async fn checkpoints(
        &self,
        after: u64,
        limit: usize,
    ) -> anyhow::Result<CheckpointPage> {
        match self {
            Backend::Remote { client, .. } => Ok(client.checkpoints(after, limit).await?),
            Backend::Local(s) => local(s, move |s| s.audit_checkpoints(after, limit)).await,
        }
    }

    /// Signs the chain head now; the newest checkpoint.
    pub(crate) async fn checkpoint_now(&self) -> anyhow::Result<LatestCheckpoint> {
        match self {
            Backend::Remote { client, .. } => Ok(client.checkpoint_now().await?),
            Backend::Local(s) => local(s, |s| s.audit_checkpoint()).await,
        }
    }

    /// The salt and salted digests of the vault's secrets (never the secrets).
    pub(crate) async fn credential_digests(&self) -> anyhow::Result<CredentialDigests> {
        match self {
            Backend::Remote { client, .. } => Ok(client.credential_digests().await?),
            Backend::Local(s) => local(s, |s| s.credential_digests()).await,
        }
    }

    pub(crate) async fn verify_audit(&self) -> anyhow::Result<Verification> {
        match self {
            Backend::Remote { client, .. } => Ok(client.verify_audit().await?),
            Backend::Local(s) => local(s, |s| s.verify_audit()).await,
        }
    }
}
