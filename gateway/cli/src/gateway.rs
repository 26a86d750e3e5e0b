//! Composition: opening the data dir's store with its connectors and vault
//! (direct mode), and running a gateway (proxy + admin API + audit writer)
//! in this process, for `tf serve` and for `tf run` when none runs.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, anyhow, bail};
use tf_connector_host::{Host, HostConfig};
use tf_core::AuditSink;
use tf_store::{AuditHandle, OpenError, Store};
use tf_vault::Vault;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::args::ProxyFlags;
use crate::datadir::{ADMIN_SOCK, DataDir, RuntimeInfo};
use crate::service::{Service, Watcher};
use crate::snapshot::Kind;

/// Starts the connector engine (compiled artifacts cached in
/// `<data>/cache`) and loads the built-in connectors. Components in
/// `<data>/connectors/` are the service's (see `service/components.rs`).
pub(crate) fn load_builtins(dd: &DataDir) -> anyhow::Result<(Host, BTreeMap<String, Kind>)> {
    let host = Host::new(HostConfig::default(), Some(dd.cache_dir()?))
        .context("cannot start the connector engine")?;
    let mut kinds = BTreeMap::new();
    for (kind, wasm) in tf_builtins::all() {
        // Each built-in runs its own fixtures at load, like any component.
        let with_fixtures = tf_builtins::fixtures(kind)
            .map(|f| tf_connector_host::metadata::with_fixtures(wasm, f));
        let loaded = match with_fixtures {
            Some(Ok(w)) => host.load(&w),
            Some(Err(e)) => Err(e.into()),
            None => host.load(wasm),
        };
        match loaded {
            Ok(connector) => {
                kinds.insert(
                    (*kind).to_owned(),
                    Kind {
                        descriptor: Arc::clone(connector.descriptor()),
                        classifier: connector,
                    },
                );
            }
            // Its instances then route nowhere: requests to them are denied.
            Err(e) => tracing::error!(
                kind = %kind,
                error = %e,
                "the built-in connector does not load; this tf build is broken, requests to its domains are denied"
            ),
        }
    }
    Ok((host, kinds))
}

/// Opens the store of `dd` (this process must be the only one) and builds
/// the service over it.
pub(crate) fn open_local(dd: &DataDir) -> anyhow::Result<Arc<Service>> {
    dd.init()?;
    let store = match Store::open(dd.store_file()?) {
        Ok(s) => s,
        Err(OpenError::Locked) => {
            let who = match dd.read_runtime() {
                Ok(Some(info)) => format!(
                    "tf process {} (admin API {}, which did not answer)",
                    info.pid, info.admin
                ),
                _ => "another tf process (`tf serve` or `tf run`)".to_owned(),
            };
            bail!(
                "the database in {} is in use by {who}; wait for it to finish or stop it, then retry",
                dd.path().display()
            );
        }
        Err(e) => {
            return Err(anyhow::Error::from(e))
                .with_context(|| format!("cannot open the database in {}", dd.path().display()));
        }
    };
    let (host, kinds) = load_builtins(dd)?;
    let vault = Arc::new(Vault::new(dd.master_key()?));
    let (_ca, ca_pem) = dd.ca()?;
    let service = Service::new(
        Some(host),
        Some(dd.connectors_dir()?),
        store,
        kinds,
        vault,
        ca_pem,
        dd.path().display().to_string(),
    )?;
    service.set_audit_signer(Arc::new(dd.audit_signer()?));
    Ok(Arc::new(service))
}

/// Where and how a gateway listens.
#[derive(Debug, Clone)]
pub(crate) struct GatewayOptions {
    pub(crate) listen: SocketAddr,
    pub(crate) admin_listen: SocketAddr,
    pub(crate) flags: ProxyFlags,
}

/// A gateway running in this process.
pub(crate) struct RunningGateway {
    pub(crate) proxy: SocketAddr,
    pub(crate) admin: SocketAddr,
    pub(crate) service: Arc<Service>,
    shutdown: watch::Sender<bool>,
    proxy_task: JoinHandle<()>,
    admin_task: JoinHandle<std::io::Result<()>>,
    /// The same admin API on `<data>/admin.sock`, for the CLI.
    socket_task: JoinHandle<std::io::Result<()>>,
    socket: std::path::PathBuf,
    audit: AuditHandle,
    watcher: Watcher,
}

fn proxy_config(flags: &ProxyFlags) -> anyhow::Result<tf_proxy::ProxyConfig> {
    let extra = match &flags.upstream_ca {
        Some(p) => Some(
            std::fs::read(p)
                .with_context(|| format!("cannot read --upstream-ca {}", p.display()))?,
        ),
        None => None,
    };
    let tls = tf_tls::upstream_client_config(extra.as_deref())
        .context("cannot build the upstream TLS configuration (check --upstream-ca)")?;
    let mut config = tf_proxy::ProxyConfig::new(tls);
    for c in &flags.connect_to {
        config
            .connect_to
            .push(tf_proxy::ConnectTo::parse(c).with_context(|| {
                format!("--connect-to {c:?}: expected HOST:PORT:CONNECT_HOST:CONNECT_PORT")
            })?);
    }
    config.allow_private_upstreams = flags.allow_private_upstreams;
    config.max_connections = flags.max_connections as usize;
    Ok(config)
}

/// Binds the admin socket at `path` (0600), replacing a stale one: a socket
/// file nothing answers on. One that answers belongs to a running gateway.
fn bind_admin_socket(path: &std::path::Path) -> anyhow::Result<tokio::net::UnixListener> {
    use std::os::unix::fs::PermissionsExt;
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            bail!(
                "another tf process serves this data dir on {}; stop it first",
                path.display()
            );
        }
        std::fs::remove_file(path)
            .with_context(|| format!("cannot remove the stale admin socket {}", path.display()))?;
    }
    let listener = tokio::net::UnixListener::bind(path).with_context(|| {
        format!(
            "cannot listen on the admin socket {} (a data dir path must be shorter than about 100 bytes for it)",
            path.display()
        )
    })?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("cannot restrict the admin socket {}", path.display()))?;
    Ok(listener)
}

async fn bind(addr: SocketAddr, what: &str, flag: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).await.with_context(|| {
        format!("cannot listen on {addr} for the {what}; pick another address with {flag}")
    })
}

impl RunningGateway {
    /// Opens the store, starts the audit writer, the proxy and the admin
    /// API, and writes `runtime.json`.
    pub(crate) async fn start(dd: &DataDir, opts: &GatewayOptions) -> anyhow::Result<Self> {
        let config = proxy_config(&opts.flags)?;
        let service = open_local(dd)?;
        let (ca, _) = dd.ca()?;
        let leaves = Arc::new(tf_tls::LeafResolver::new(ca));
        let (writer, audit) = service.store().audit_writer_with(tf_store::WriterOptions {
            checkpoints: service.audit_signer().map(tf_store::CheckpointPolicy::new),
            ..tf_store::WriterOptions::default()
        });
        service.set_audit_flusher(audit.flusher());
        let sink: Arc<dyn AuditSink> = writer;
        let proxy = Arc::new(
            tf_proxy::Proxy::new(config, service.snapshot(), leaves, sink)
                .context("cannot configure the proxy")?,
        );
        let proxy_listener = bind(opts.listen, "proxy", "--listen").await?;
        if !opts.admin_listen.ip().is_loopback() {
            tracing::warn!(
                admin = %opts.admin_listen,
                "the admin API listens on a non-loopback address (--admin-listen): anyone who can reach it and holds the admin token controls the gateway"
            );
        }
        let admin_listener = bind(opts.admin_listen, "admin API", "--admin-listen").await?;
        let socket = dd.file_path(ADMIN_SOCK);
        let socket_listener = bind_admin_socket(&socket)?;
        let proxy_addr = proxy_listener.local_addr()?;
        let admin_addr = admin_listener.local_addr()?;
        service.set_addrs(proxy_addr, admin_addr);

        let (shutdown, rx) = watch::channel(false);
        let stopped = |mut rx: watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        let proxy_task = tokio::spawn(tf_proxy::serve(proxy_listener, proxy, stopped(rx.clone())));
        let router = tf_admin::router(service.clone(), dd.admin_token()?);
        let socket_task = tokio::spawn(tf_admin::serve(
            socket_listener,
            router.clone(),
            stopped(rx.clone()),
        ));
        let admin_task = tokio::spawn(tf_admin::serve(admin_listener, router, stopped(rx)));
        let watcher = Watcher::start(Arc::clone(&service))
            .context("cannot start the connectors directory watcher")?;

        dd.write_runtime(&RuntimeInfo {
            pid: std::process::id(),
            proxy: proxy_addr,
            admin: admin_addr,
            version: env!("CARGO_PKG_VERSION").to_owned(),
        })?;
        tracing::info!(proxy = %proxy_addr, admin = %admin_addr, "gateway serving");
        Ok(Self {
            proxy: proxy_addr,
            admin: admin_addr,
            service,
            shutdown,
            proxy_task,
            admin_task,
            socket_task,
            socket,
            audit,
            watcher,
        })
    }

    /// Stops accepting, finishes in-flight requests, drains the audit
    /// writer and removes `runtime.json`.
    pub(crate) async fn stop(self, dd: &DataDir) -> anyhow::Result<()> {
        let _ = self.shutdown.send(true);
        drop(self.watcher);
        if let Err(e) = self.proxy_task.await {
            tracing::error!(error = %e, "proxy task failed");
        }
        for task in [self.admin_task, self.socket_task] {
            match task.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "admin API failed"),
                Err(e) => tracing::error!(error = %e, "admin task failed"),
            }
        }
        if let Err(e) = std::fs::remove_file(&self.socket) {
            tracing::warn!(error = %e, "cannot remove the admin socket");
        }
        let audit = self.audit;
        let drained = tokio::task::spawn_blocking(move || audit.shutdown())
            .await
            .map_err(|e| anyhow!("the audit writer did not stop: {e}"))?;
        let removed = dd.remove_runtime(std::process::id());
        drained.context("audit records were lost at shutdown")?;
        removed?;
        tracing::info!("gateway stopped");
        Ok(())
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
