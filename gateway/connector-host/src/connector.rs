//! A loaded [`Connector`]: its descriptor, a pool of warm instances, and
//! `classify` under a deadline and a memory limit.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tf_core::action::InvalidAction;
use tf_core::{
    Action, Catalogue, Classifier, ClassifyError, ConnectorFailure, ConnectorRequest, Descriptor,
};
use wasmtime::Store;

use crate::bindings;
use crate::descriptor::{self, action_from_wit, request_to_wit};
use crate::host::{LoadError, Shared};
use crate::state::{GuestLog, STDERR_CAPACITY, StoreState, truncate};
use crate::wasi::NotProvided;

/// Longest `code` and `message` of a guest's `classify-error` passed on.
const MAX_REJECT_CODE: usize = 64;
const MAX_REJECT_MESSAGE: usize = 256;

/// One warm instance in its own store.
struct Slot {
    store: Store<StoreState>,
    guest: bindings::Connector,
}

/// A loaded, validated connector component.
///
/// Thread-safe: concurrent `classify` calls each take an instance from the
/// pool (or instantiate a fresh one); an instance that trapped is dropped.
pub struct Connector {
    shared: Arc<Shared>,
    pre: bindings::ConnectorPre<StoreState>,
    descriptor: Arc<Descriptor>,
    /// The descriptor's catalogue, indexed for checking each action.
    catalogue: Catalogue,
    sha256_hex: String,
    from_cache: bool,
    sdk: Option<String>,
    fixtures_passed: AtomicUsize,
    log: Arc<GuestLog>,
    pool: Mutex<Vec<Slot>>,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("name", &self.descriptor.name)
            .field("version", &self.descriptor.version)
            .field("sha256", &self.sha256_hex)
            .finish_non_exhaustive()
    }
}

/// A failed guest call: its kind, decided from the error's type and the
/// memory limiter (never from a message), and a short phrase for the log
/// that carries no request data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallFailure {
    pub kind: ConnectorFailure,
    pub detail: String,
}

impl std::fmt::Display for CallFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.detail)
    }
}

impl CallFailure {
    fn new(kind: ConnectorFailure, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: detail.into(),
        }
    }

    /// Classifies the error of a guest call; `memory_exceeded` is the
    /// limiter's record of a refused memory growth in that call's store.
    pub(crate) fn of(err: &wasmtime::Error, memory_exceeded: bool) -> Self {
        if memory_exceeded {
            return Self::new(ConnectorFailure::OutOfMemory, "memory limit exceeded");
        }
        if err
            .downcast_ref::<wasmtime::PoolConcurrencyLimitError>()
            .is_some()
        {
            // Named, so an operator knows to raise `max_instances` (a Python
            // component takes ~38 core-instance slots, a Rust one ~3).
            return Self::new(
                ConnectorFailure::NoFreeInstance,
                format!("no free instance slot: {err}"),
            );
        }
        if let Some(call) = err.downcast_ref::<NotProvided>() {
            return Self::new(
                ConnectorFailure::ForbiddenImport,
                truncate(&call.to_string(), MAX_DETAIL),
            );
        }
        match err.downcast_ref::<wasmtime::Trap>() {
            Some(wasmtime::Trap::Interrupt) => {
                Self::new(ConnectorFailure::Deadline, "deadline exceeded")
            }
            Some(wasmtime::Trap::StackOverflow) => {
                Self::new(ConnectorFailure::Trap, "stack overflow")
            }
            Some(trap) => {
                let text = trap.to_string();
                Self::new(
                    ConnectorFailure::Trap,
                    format!("trapped: {}", text.trim_start_matches("wasm trap: ")),
                )
            }
            None => Self::new(ConnectorFailure::Trap, "call failed"),
        }
    }

    fn into_classify_error(self) -> ClassifyError {
        ClassifyError::Failed {
            kind: self.kind,
            detail: self.detail,
        }
    }
}

/// Longest failure detail passed on (it may name an import the guest chose).
const MAX_DETAIL: usize = 256;

impl Connector {
    pub(crate) fn new(
        shared: Arc<Shared>,
        pre: bindings::ConnectorPre<StoreState>,
        sha256_hex: String,
        from_cache: bool,
        sdk: Option<String>,
    ) -> Result<Arc<Connector>, LoadError> {
        let config = &shared.config;
        // `describe` runs in a throwaway instance labelled by hash: the name
        // is not known yet.
        let label = format!("sha256:{}", &sha256_hex[..12]);
        let load_log = Arc::new(GuestLog::new(
            label,
            config.log_rate_per_sec,
            config.log_max_message,
        ));
        let mut slot = instantiate(&shared, &pre, &load_log)
            .map_err(|(e, mem)| LoadError::Instantiate(CallFailure::of(&e, mem)))?;
        slot.store.set_epoch_deadline(shared.deadline_ticks);
        let described = slot.guest.call_describe(&mut slot.store);
        slot.store.data_mut().flush_stderr();
        let wit_descriptor = described.map_err(|e| {
            let failure = CallFailure::of(&e, slot.store.data().limiter.exceeded);
            tracing::warn!(kind = %failure.kind, error = %format!("{e:#}"), "connector describe() failed");
            LoadError::Describe(failure)
        })?;
        let descriptor = descriptor::descriptor_from_wit(wit_descriptor);
        descriptor::validate(&descriptor)?;
        let log = Arc::new(GuestLog::new(
            descriptor.name.clone(),
            config.log_rate_per_sec,
            config.log_max_message,
        ));
        tracing::info!(
            connector = %descriptor.name,
            version = %descriptor.version,
            actions = descriptor.actions.len(),
            sha256 = %sha256_hex,
            from_cache,
            "connector loaded"
        );
        Ok(Arc::new(Connector {
            shared,
            pre,
            catalogue: Catalogue::new(&descriptor.actions),
            descriptor: Arc::new(descriptor),
            sha256_hex,
            from_cache,
            sdk,
            fixtures_passed: AtomicUsize::new(0),
            log,
            pool: Mutex::new(Vec::new()),
        }))
    }

    /// What the connector said about itself at load (validated).
    pub fn descriptor(&self) -> &Arc<Descriptor> {
        &self.descriptor
    }

    /// Lower-case hex sha256 of the component's bytes.
    pub fn sha256_hex(&self) -> &str {
        &self.sha256_hex
    }

    /// The SDK that built the component (its `tameflare:sdk` section), e.g.
    /// `tameflare-sdk 0.1.0`; `None` when it carries none.
    pub fn sdk(&self) -> Option<&str> {
        self.sdk.as_deref()
    }

    /// How many embedded fixtures passed at load (0 when it has none).
    pub fn fixtures_passed(&self) -> usize {
        self.fixtures_passed.load(Ordering::Relaxed)
    }

    pub(crate) fn set_fixtures_passed(&self, n: usize) {
        self.fixtures_passed.store(n, Ordering::Relaxed);
    }

    /// True when the compiled code came from the artifact cache.
    pub fn loaded_from_cache(&self) -> bool {
        self.from_cache
    }

    /// Idle instances currently pooled.
    pub fn idle_instances(&self) -> usize {
        self.lock_pool().len()
    }

    fn lock_pool(&self) -> std::sync::MutexGuard<'_, Vec<Slot>> {
        self.pool.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn take_slot(&self) -> Result<Slot, ClassifyError> {
        if let Some(slot) = self.lock_pool().pop() {
            return Ok(slot);
        }
        instantiate(&self.shared, &self.pre, &self.log).map_err(|(e, mem)| {
            tracing::warn!(connector = %self.descriptor.name, error = %format!("{e:#}"), "instantiating connector failed");
            let failure = CallFailure::of(&e, mem);
            ClassifyError::failed(failure.kind, format!("instantiation: {}", failure.detail))
        })
    }

    fn return_slot(&self, slot: Slot) {
        let mut pool = self.lock_pool();
        if pool.len() < self.shared.config.pool_size {
            pool.push(slot);
        }
    }
}

fn instantiate(
    shared: &Shared,
    pre: &bindings::ConnectorPre<StoreState>,
    log: &Arc<GuestLog>,
) -> Result<Slot, (wasmtime::Error, bool)> {
    let state = StoreState::new(Arc::clone(log), shared.config.memory_limit_bytes);
    let mut store = Store::new(&shared.engine, state);
    store.limiter(|s| &mut s.limiter);
    store.epoch_deadline_trap();
    store.set_epoch_deadline(shared.instantiate_ticks);
    match pre.instantiate(&mut store) {
        Ok(guest) => Ok(Slot { store, guest }),
        Err(e) => {
            let mem = store.data().limiter.exceeded;
            Err((e, mem))
        }
    }
}

impl Classifier for Connector {
    fn classify(&self, request: ConnectorRequest) -> Result<Action, ClassifyError> {
        let wit_request = request_to_wit(request);
        let mut slot = self.take_slot()?;
        slot.store.set_epoch_deadline(self.shared.deadline_ticks);
        let result = slot.guest.call_classify(&mut slot.store, &wit_request);
        let stderr_used = slot.store.data_mut().flush_stderr();
        let output = match result {
            Err(e) => {
                // A trapped instance can never be entered again: drop it.
                let failure = CallFailure::of(&e, slot.store.data().limiter.exceeded);
                tracing::warn!(connector = %self.descriptor.name, kind = %failure.kind, reason = %failure.detail, error = %format!("{e:#}"), "connector call failed");
                return Err(failure.into_classify_error());
            }
            Ok(output) => output,
        };
        // Healthy instance: keep it warm unless its stderr buffer fills up.
        if stderr_used <= STDERR_CAPACITY / 2 {
            self.return_slot(slot);
        }
        match output {
            Ok(action) => {
                let action = action_from_wit(action);
                action.validate(&self.catalogue).map_err(|e| {
                    let reason = match e {
                        InvalidAction::TooLarge(what) => {
                            format!("invalid output: {what} too large")
                        }
                        InvalidAction::NotInCatalogue(_) => {
                            "invalid output: action not in catalogue".to_owned()
                        }
                    };
                    tracing::warn!(connector = %self.descriptor.name, reason, "connector returned an invalid action");
                    ClassifyError::failed(ConnectorFailure::InvalidOutput, reason)
                })?;
                Ok(action)
            }
            Err(rejected) => Err(ClassifyError::Rejected {
                code: truncate(&rejected.code, MAX_REJECT_CODE).to_owned(),
                message: truncate(&rejected.message, MAX_REJECT_MESSAGE).to_owned(),
            }),
        }
    }
}
