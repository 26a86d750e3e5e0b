//! Host configuration.

use std::time::Duration;

/// Limits and sizes of the connector host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostConfig {
    /// Wall-clock budget of one guest call (`describe` or `classify`),
    /// enforced by epoch interruption at `epoch_tick` granularity.
    pub call_deadline: Duration,
    /// Wall-clock budget of instantiating a component (its start code and
    /// the initialisation of its memory image), on load and whenever the
    /// pool makes a fresh instance. Larger than a call's: a component built
    /// with an interpreter inside (componentize-py) maps megabytes here, and
    /// on a loaded machine that alone can outlast a 50 ms call deadline.
    pub instantiate_deadline: Duration,
    /// Period of the epoch ticker thread.
    pub epoch_tick: Duration,
    /// Largest size one linear memory of an instance may grow to.
    pub memory_limit_bytes: usize,
    /// Idle instances kept per connector for reuse.
    pub pool_size: usize,
    /// Instances alive at once across all connectors (pooling allocator slots).
    pub max_instances: u32,
    /// Guest log messages accepted per connector per second; the rest are
    /// counted and reported as suppressed.
    pub log_rate_per_sec: u32,
    /// Longest guest log message (bytes); longer ones are truncated.
    pub log_max_message: usize,
}

impl Default for HostConfig {
    fn default() -> Self {
        Self {
            call_deadline: Duration::from_millis(50),
            instantiate_deadline: Duration::from_secs(1),
            epoch_tick: Duration::from_millis(5),
            memory_limit_bytes: 16 << 20,
            pool_size: 8,
            max_instances: 256,
            log_rate_per_sec: 20,
            log_max_message: 512,
        }
    }
}

impl HostConfig {
    /// Number of epoch ticks that make up the call deadline (at least one).
    pub(crate) fn deadline_ticks(&self) -> u64 {
        self.ticks(self.call_deadline)
    }

    /// Number of epoch ticks that make up the instantiation deadline (at
    /// least the call deadline's).
    pub(crate) fn instantiate_ticks(&self) -> u64 {
        self.ticks(self.instantiate_deadline)
            .max(self.deadline_ticks())
    }

    fn ticks(&self, budget: Duration) -> u64 {
        let tick = self.epoch_tick.as_nanos().max(1);
        let ticks = budget.as_nanos().div_ceil(tick);
        u64::try_from(ticks).unwrap_or(u64::MAX).max(1)
    }
}
