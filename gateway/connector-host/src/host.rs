//! The [`Host`]: one engine, one linker, one epoch ticker; loading.

use std::io;
use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;

use cap_std::fs::Dir;
use sha2::{Digest, Sha256};
use tf_core::ConnectorFailure;
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::bindings;
use crate::cache::{Cache, CacheMiss, Sha256Hasher};
use crate::config::HostConfig;
use crate::connector::{CallFailure, Connector};
use crate::descriptor::DescriptorError;
use crate::fixtures::{self, FixtureError, FixtureReport};
use crate::imports::{self, ForbiddenImports};
use crate::metadata::{self, MetadataError};
use crate::state::StoreState;

/// Largest component accepted.
pub(crate) const MAX_COMPONENT_BYTES: u64 = 64 << 20;

/// Why the host could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("invalid host configuration: {0}")]
    Config(&'static str),
    #[error("creating the wasmtime engine failed: {0}")]
    Engine(String),
    #[error("starting the epoch ticker thread failed: {0}")]
    Ticker(io::Error),
}

/// Why a connector component was refused. Each variant names one problem.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("reading the file failed: {0}")]
    Read(io::Error),
    #[error("the file is {size} bytes; components may be at most {max} bytes")]
    TooLarge { size: u64, max: u64 },
    #[error("not a WebAssembly binary (bad magic number)")]
    NotWasm,
    #[error("a core WebAssembly module, not a component: build for wasm32-wasip2")]
    CoreModule,
    #[error("unknown WebAssembly binary version or layer")]
    UnknownEncoding,
    #[error("compiling the component failed: {0}")]
    Compile(String),
    #[error("forbidden imports: {0}")]
    Imports(#[from] ForbiddenImports),
    #[error("linking the component failed: {0}")]
    Link(String),
    #[error("the component does not export the tameflare:connector@0.1.0 `connector` world: {0}")]
    World(String),
    #[error("instantiating the component failed: {0}")]
    Instantiate(CallFailure),
    #[error("describe() failed: {0}")]
    Describe(CallFailure),
    #[error("invalid descriptor: {0}")]
    Descriptor(#[from] DescriptorError),
    #[error("{0}")]
    Metadata(#[from] MetadataError),
    #[error("the connector's embedded fixtures are unreadable: {0}")]
    FixturesUnreadable(#[from] FixtureError),
    #[error("the connector fails its own fixtures: {0}")]
    Fixtures(FixtureReport),
}

impl LoadError {
    /// The kind of connector failure this refusal is, when it is one: a
    /// forbidden import, a failed `describe()` or instantiation, a descriptor
    /// the host refuses. `None` for files that are not loadable components
    /// at all and for failed fixtures.
    pub fn connector_failure(&self) -> Option<ConnectorFailure> {
        match self {
            LoadError::Imports(_) => Some(ConnectorFailure::ForbiddenImport),
            LoadError::Instantiate(f) | LoadError::Describe(f) => Some(f.kind),
            LoadError::Descriptor(_) => Some(ConnectorFailure::InvalidOutput),
            LoadError::Read(_)
            | LoadError::TooLarge { .. }
            | LoadError::NotWasm
            | LoadError::CoreModule
            | LoadError::UnknownEncoding
            | LoadError::Compile(_)
            | LoadError::Link(_)
            | LoadError::World(_)
            | LoadError::Metadata(_)
            | LoadError::FixturesUnreadable(_)
            | LoadError::Fixtures(_) => None,
        }
    }
}

/// State shared by the host and every connector it loaded. The epoch ticker
/// stops when the last holder (the host or a connector) is dropped, so a
/// connector that outlives its host still has a working deadline.
pub(crate) struct Shared {
    pub(crate) engine: Engine,
    pub(crate) config: HostConfig,
    pub(crate) deadline_ticks: u64,
    pub(crate) instantiate_ticks: u64,
    /// Held only to be dropped last: stops the ticker thread.
    _ticker: Ticker,
}

struct Ticker {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Ticker {
    fn start(engine: Engine, tick: std::time::Duration) -> io::Result<Self> {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("tf-wasm-epoch".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(tick) {
                    engine.increment_epoch();
                }
            })?;
        Ok(Self {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        // Dropping the sender wakes the thread at once.
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Loads connector components and hands out [`Connector`]s.
pub struct Host {
    shared: Arc<Shared>,
    engine_digest: [u8; 32],
    cache: Option<Cache>,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("config", &self.shared.config)
            .field("cache", &self.cache.is_some())
            .finish_non_exhaustive()
    }
}

fn engine_config(config: &HostConfig) -> Config {
    let mut pool = PoolingAllocationConfig::default();
    let max = config.max_instances;
    pool.total_component_instances(max)
        .total_core_instances(max.saturating_mul(8))
        .total_memories(max.saturating_mul(2))
        .total_tables(max.saturating_mul(4))
        .max_memory_size(config.memory_limit_bytes)
        .linear_memory_keep_resident(config.memory_limit_bytes.min(2 << 20))
        .table_keep_resident(64 << 10);
    let mut c = Config::new();
    c.wasm_component_model(true)
        .epoch_interruption(true)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    c
}

/// The linker for one component: our own `log` import, the minimal WASI
/// surface of `wasi.rs` under the exact names the component imports, and a
/// trap for every other import. Called after the import allowlist passed.
fn linker(engine: &Engine, component: &Component) -> wasmtime::Result<Linker<StoreState>> {
    let mut l = Linker::new(engine);
    bindings::Connector::add_to_linker::<StoreState, HasSelf<StoreState>>(&mut l, |s| s)?;
    crate::wasi::link(&mut l, component)?;
    Ok(l)
}

/// What the first bytes of a WebAssembly binary say it is.
fn check_header(wasm: &[u8]) -> Result<(), LoadError> {
    if wasm.len() < 8 || &wasm[..4] != b"\0asm" {
        return Err(LoadError::NotWasm);
    }
    match (&wasm[4..6], &wasm[6..8]) {
        ([1, 0], [0, 0]) => Err(LoadError::CoreModule),
        (_, [1, 0]) => Ok(()),
        _ => Err(LoadError::UnknownEncoding),
    }
}

impl Host {
    /// Creates the engine, the linker and the epoch ticker. With `cache`,
    /// compiled artifacts are kept in that directory across runs.
    pub fn new(config: HostConfig, cache: Option<Dir>) -> Result<Host, HostError> {
        if config.call_deadline.is_zero() {
            return Err(HostError::Config("call_deadline must be positive"));
        }
        if config.epoch_tick.is_zero() {
            return Err(HostError::Config("epoch_tick must be positive"));
        }
        if config.memory_limit_bytes < (1 << 20) {
            return Err(HostError::Config(
                "memory_limit_bytes must be at least 1 MiB",
            ));
        }
        if config.max_instances == 0 {
            return Err(HostError::Config("max_instances must be positive"));
        }
        let engine = Engine::new(&engine_config(&config))
            .map_err(|e| HostError::Engine(format!("{e:#}")))?;
        let mut hasher = Sha256Hasher::default();
        std::hash::Hash::hash(&engine.precompile_compatibility_hash(), &mut hasher);
        let engine_digest = hasher.digest();
        let ticker = Ticker::start(engine.clone(), config.epoch_tick).map_err(HostError::Ticker)?;
        Ok(Host {
            shared: Arc::new(Shared {
                deadline_ticks: config.deadline_ticks(),
                instantiate_ticks: config.instantiate_ticks(),
                engine,
                config,
                _ticker: ticker,
            }),
            engine_digest,
            cache: cache.map(Cache::new),
        })
    }

    /// The configuration this host runs with.
    pub fn config(&self) -> &HostConfig {
        &self.shared.config
    }

    /// Loads one component: format and framing check (a truncated file is
    /// named as such), compile (or cache), import allowlist,
    /// pre-instantiation, `describe()` and its validation, then the
    /// component's embedded fixtures: a connector that fails its own
    /// fixtures is refused.
    pub fn load(&self, wasm: &[u8]) -> Result<Arc<Connector>, LoadError> {
        let size = wasm.len() as u64;
        if size > MAX_COMPONENT_BYTES {
            return Err(LoadError::TooLarge {
                size,
                max: MAX_COMPONENT_BYTES,
            });
        }
        check_header(wasm)?;
        let meta = metadata::read(wasm)?;
        let sha256: [u8; 32] = Sha256::digest(wasm).into();
        let (component, from_cache) = self.component(wasm, &sha256)?;
        let ty = component.component_type();
        imports::check_imports(ty.imports(&self.shared.engine).map(|(name, _)| name))?;
        let pre = linker(&self.shared.engine, &component)
            .and_then(|l| l.instantiate_pre(&component))
            .map_err(|e| LoadError::Link(format!("{e:#}")))?;
        let pre =
            bindings::ConnectorPre::new(pre).map_err(|e| LoadError::World(format!("{e:#}")))?;
        let connector = Connector::new(
            Arc::clone(&self.shared),
            pre,
            hex::encode(sha256),
            from_cache,
            meta.sdk,
        )?;
        if let Some(jsonl) = &meta.fixtures {
            let report = fixtures::run(&connector, jsonl)?;
            if !report.passed() {
                return Err(LoadError::Fixtures(report));
            }
            connector.set_fixtures_passed(report.total);
        }
        Ok(connector)
    }

    fn component(&self, wasm: &[u8], sha256: &[u8; 32]) -> Result<(Component, bool), LoadError> {
        let engine = &self.shared.engine;
        let Some(cache) = &self.cache else {
            return compile(engine, wasm).map(|c| (c, false));
        };
        let key = Cache::key(sha256, &self.engine_digest);
        match cache.get(&key) {
            Ok(artifact) => match deserialize(engine, &artifact) {
                Ok(c) => return Ok((c, true)),
                Err(e) => {
                    tracing::warn!(key, error = %format!("{e:#}"), "cached artifact rejected; recompiling")
                }
            },
            Err(CacheMiss::Absent) => {}
            Err(miss) => tracing::warn!(key, %miss, "cached artifact unusable; recompiling"),
        }
        let component = compile(engine, wasm)?;
        match component.serialize() {
            Ok(artifact) => {
                if let Err(e) = cache.put(&key, &artifact) {
                    tracing::warn!(key, error = %e, "writing the compiled artifact to the cache failed");
                }
            }
            Err(e) => {
                tracing::warn!(key, error = %format!("{e:#}"), "serializing the compiled component failed")
            }
        }
        Ok((component, false))
    }

    /// Loads every `*.wasm` file of `dir` (other files are ignored), in file
    /// name order. One bad file does not stop the others.
    pub fn load_dir(&self, dir: &Dir) -> Vec<(String, Result<Arc<Connector>, LoadError>)> {
        let entries = match dir.entries() {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(error = %e, "listing the connectors directory failed");
                return Vec::new();
            }
        };
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| n.ends_with(".wasm") && !n.starts_with('.'))
            .collect();
        names.sort();
        names
            .into_iter()
            .map(|name| {
                let result = self.load_file(dir, &name);
                (name, result)
            })
            .collect()
    }

    fn load_file(&self, dir: &Dir, name: &str) -> Result<Arc<Connector>, LoadError> {
        let size = dir.metadata(name).map_err(LoadError::Read)?.len();
        if size > MAX_COMPONENT_BYTES {
            return Err(LoadError::TooLarge {
                size,
                max: MAX_COMPONENT_BYTES,
            });
        }
        let wasm = dir.read(name).map_err(LoadError::Read)?;
        self.load(&wasm)
    }
}

fn compile(engine: &Engine, wasm: &[u8]) -> Result<Component, LoadError> {
    Component::new(engine, wasm).map_err(|e| LoadError::Compile(format!("{e:#}")))
}

#[expect(
    unsafe_code,
    reason = "Component::deserialize is unsafe: it loads native code; this is its one call"
)]
fn deserialize(engine: &Engine, artifact: &[u8]) -> wasmtime::Result<Component> {
    // SAFETY: `artifact` is an in-memory copy (never a memory map, so the
    // file can be replaced underneath without effect) of bytes this host
    // produced with `Component::serialize` and wrote to its own cache
    // directory, whose sha256 was verified just before this call, under a
    // key that includes this engine's compatibility hash. wasmtime further
    // checks the artifact's header and engine settings and rejects a
    // mismatch. The cache directory is the gateway's private data dir: whoever
    // can write there can already replace the gateway itself.
    unsafe { Component::deserialize(engine, artifact) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers() {
        assert!(matches!(check_header(b""), Err(LoadError::NotWasm)));
        assert!(matches!(
            check_header(b"hello world"),
            Err(LoadError::NotWasm)
        ));
        assert!(matches!(
            check_header(b"\0asm\x01\0\0\0"),
            Err(LoadError::CoreModule)
        ));
        assert!(matches!(check_header(b"\0asm\x0d\0\x01\0"), Ok(())));
        assert!(matches!(
            check_header(b"\0asm\x02\0\x07\0"),
            Err(LoadError::UnknownEncoding)
        ));
    }

    #[test]
    fn bad_configs_are_refused() {
        let bad = HostConfig {
            call_deadline: std::time::Duration::ZERO,
            ..HostConfig::default()
        };
        assert!(matches!(Host::new(bad, None), Err(HostError::Config(_))));
    }
}
