//! Composition: opening the data dir's store with its connectors and vault
//! (direct mode), and running a gateway (proxy + admin API + audit writer)
//! in this process, for `tf serve` and for `tf run` when none runs.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use std::path::PathBuf;

use tf_connector_host::{Host, HostConfig};
use tf_core::AuditSink;
use tf_store::{AuditHandle, OpenError, Store};
use tf_vault::Vault;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::datadir::{ADMIN_SOCK, DataDir, DataDirError, RuntimeInfo};
use crate::service::{Service, Watcher};
use crate::snapshot::{Kind, SnapshotError};

/// Why the data dir could not be opened for this process ([`open_local`]).
#[derive(Debug, thiserror::Error)]
pub enum OpenLocalError {
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    /// Another process holds the database.
    #[error(
        "the database in {} is in use by {who}; wait for it to finish or stop it, then retry",
        dir.display()
    )]
    Locked { dir: PathBuf, who: String },
    #[error("cannot open the database in {}", dir.display())]
    Store {
        dir: PathBuf,
        #[source]
        source: OpenError,
    },
    #[error("cannot start the connector engine")]
    Engine(#[source] tf_connector_host::HostError),
    /// The stored configuration does not make a valid snapshot.
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
}

/// Why a gateway did not start ([`RunningGateway::start`]).
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot read --upstream-ca {}", path.display())]
    UpstreamCa {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot build the upstream TLS configuration (check --upstream-ca)")]
    UpstreamTls(#[source] tf_tls::ConfigError),
    #[error("--connect-to {value:?}: expected HOST:PORT:CONNECT_HOST:CONNECT_PORT")]
    ConnectTo {
        value: String,
        #[source]
        source: tf_proxy::ConnectToError,
    },
    #[error(transparent)]
    Open(#[from] OpenLocalError),
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    #[error("cannot configure the proxy")]
    Proxy(#[source] tf_proxy::NewProxyError),
    #[error("cannot listen on {addr} for the {what}; pick another address with {flag}")]
    Bind {
        addr: SocketAddr,
        what: &'static str,
        flag: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("another tf process serves this data dir on {}; stop it first", path.display())]
    SocketInUse { path: PathBuf },
    /// Binding, cleaning up or restricting the admin socket failed.
    #[error("cannot {action} the admin socket {}{hint}", path.display())]
    Socket {
        action: &'static str,
        path: PathBuf,
        hint: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read a listener's address")]
    LocalAddr(#[source] std::io::Error),
    #[error("cannot start the connectors directory watcher")]
    Watcher(#[source] std::io::Error),
}

/// Why a gateway did not stop cleanly ([`RunningGateway::stop`]).
#[derive(Debug, thiserror::Error)]
pub enum StopError {
    #[error("the audit writer did not stop")]
    Join(#[source] tokio::task::JoinError),
    #[error("audit records were lost at shutdown")]
    Audit(#[source] tf_store::ShutdownError),
    #[error(transparent)]
    DataDir(#[from] DataDirError),
}

/// Starts the connector engine (compiled artifacts cached in
/// `<data>/cache`) and loads the built-in connectors. Components in
/// `<data>/connectors/` are the service's (see `service/components.rs`).
fn load_builtins(dd: &DataDir) -> Result<(Host, BTreeMap<String, Kind>), OpenLocalError> {
    let host =
        Host::new(HostConfig::default(), Some(dd.cache_dir()?)).map_err(OpenLocalError::Engine)?;
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
pub fn open_local(dd: &DataDir) -> Result<Arc<Service>, OpenLocalError> {
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
            return Err(OpenLocalError::Locked {
                dir: dd.path().to_owned(),
                who,
            });
        }
        Err(source) => {
            return Err(OpenLocalError::Store {
                dir: dd.path().to_owned(),
                source,
            });
        }
    };
    let (host, kinds) = load_builtins(dd)?;
    let vault = Arc::new(Vault::new(dd.master_key()?));
    let (_ca, ca_pem) = dd.ca()?;
    let service = Service::new(
        Some(Arc::new(host)),
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

/// How the proxy reaches upstreams (the binary's `--connect-to`,
/// `--upstream-ca`, `--allow-private-upstreams`, `--max-connections`).
#[derive(Debug, Clone)]
pub struct ProxyOptions {
    /// `HOST:PORT:CONNECT_HOST:CONNECT_PORT` mappings.
    pub connect_to: Vec<String>,
    /// A PEM bundle trusted for upstream TLS beside the system roots.
    pub upstream_ca: Option<std::path::PathBuf>,
    /// Allow upstreams that resolve to loopback or private addresses.
    pub allow_private_upstreams: bool,
    /// Agent connections served at once.
    pub max_connections: u32,
}

/// Where and how a gateway listens.
#[derive(Debug, Clone)]
pub struct GatewayOptions {
    pub listen: SocketAddr,
    pub admin_listen: SocketAddr,
    pub proxy: ProxyOptions,
}

/// A gateway running in this process.
pub struct RunningGateway {
    pub proxy: SocketAddr,
    pub admin: SocketAddr,
    pub service: Arc<Service>,
    shutdown: watch::Sender<bool>,
    proxy_task: JoinHandle<()>,
    admin_task: JoinHandle<std::io::Result<()>>,
    /// The same admin API on `<data>/admin.sock`, for the CLI.
    socket_task: JoinHandle<std::io::Result<()>>,
    socket: std::path::PathBuf,
    audit: AuditHandle,
    watcher: Watcher,
}

fn proxy_config(flags: &ProxyOptions) -> Result<tf_proxy::ProxyConfig, StartError> {
    let extra = match &flags.upstream_ca {
        Some(p) => Some(std::fs::read(p).map_err(|source| StartError::UpstreamCa {
            path: p.clone(),
            source,
        })?),
        None => None,
    };
    let tls = tf_tls::upstream_client_config(extra.as_deref()).map_err(StartError::UpstreamTls)?;
    let mut config = tf_proxy::ProxyConfig::new(tls);
    for c in &flags.connect_to {
        config
            .connect_to
            .push(
                tf_proxy::ConnectTo::parse(c).map_err(|source| StartError::ConnectTo {
                    value: c.clone(),
                    source,
                })?,
            );
    }
    config.allow_private_upstreams = flags.allow_private_upstreams;
    config.max_connections = flags.max_connections as usize;
    Ok(config)
}

/// Binds the admin socket at `path` (0600), replacing a stale one: a socket
/// file nothing answers on. One that answers belongs to a running gateway.
fn bind_admin_socket(path: &std::path::Path) -> Result<tokio::net::UnixListener, StartError> {
    use std::os::unix::fs::PermissionsExt;
    let socket = |action, hint| {
        move |source| StartError::Socket {
            action,
            path: path.to_owned(),
            hint,
            source,
        }
    };
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(StartError::SocketInUse {
                path: path.to_owned(),
            });
        }
        std::fs::remove_file(path).map_err(socket("remove the stale", ""))?;
    }
    let listener = tokio::net::UnixListener::bind(path).map_err(socket(
        "listen on",
        " (a data dir path must be shorter than about 100 bytes for it)",
    ))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(socket("restrict", ""))?;
    Ok(listener)
}

async fn bind(
    addr: SocketAddr,
    what: &'static str,
    flag: &'static str,
) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind {
            addr,
            what,
            flag,
            source,
        })
}

impl RunningGateway {
    /// Opens the store, starts the audit writer, the proxy and the admin
    /// API, and writes `runtime.json`.
    pub async fn start(dd: &DataDir, opts: &GatewayOptions) -> Result<Self, StartError> {
        let config = proxy_config(&opts.proxy)?;
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
                .map_err(StartError::Proxy)?,
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
        let proxy_addr = proxy_listener.local_addr().map_err(StartError::LocalAddr)?;
        let admin_addr = admin_listener.local_addr().map_err(StartError::LocalAddr)?;
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
        let watcher = Watcher::start(Arc::clone(&service)).map_err(StartError::Watcher)?;

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
    pub async fn stop(self, dd: &DataDir) -> Result<(), StopError> {
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
            .map_err(StopError::Join)?;
        let removed = dd.remove_runtime(std::process::id());
        drained.map_err(StopError::Audit)?;
        removed?;
        tracing::info!("gateway stopped");
        Ok(())
    }
}
