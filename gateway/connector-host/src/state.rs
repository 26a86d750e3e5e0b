//! Per-store data: the memory limiter, the guest's `log` import and its
//! captured stdout/stderr (see `wasi.rs`).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::bindings::{self, Level};

/// Bytes of guest stdout/stderr one store can hold. A write past it fails
/// (the stream reports `closed`); the pool retires an instance once half of
/// it is used.
pub(crate) const STDERR_CAPACITY: usize = 16 * 1024;
/// Longest stderr excerpt written to the host log per call.
const STDERR_LOG_EXCERPT: usize = 1024;

/// Rate limit and truncation of one connector's log output.
#[derive(Debug)]
pub(crate) struct GuestLog {
    /// Connector name once known, otherwise a short form of its hash.
    label: String,
    per_sec: u32,
    max_message: usize,
    window: Mutex<Window>,
}

#[derive(Debug)]
struct Window {
    start: Instant,
    count: u32,
    suppressed: u64,
}

impl GuestLog {
    pub(crate) fn new(label: String, per_sec: u32, max_message: usize) -> Self {
        Self {
            label,
            per_sec,
            max_message,
            window: Mutex::new(Window {
                start: Instant::now(),
                count: 0,
                suppressed: 0,
            }),
        }
    }

    /// Returns whether a message may be written now; reports messages
    /// suppressed in the previous window.
    fn admit(&self) -> bool {
        let mut w = self.window.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        if now.duration_since(w.start) >= Duration::from_secs(1) {
            if w.suppressed > 0 {
                tracing::warn!(connector = %self.label, suppressed = w.suppressed, "connector log rate limit: messages dropped");
            }
            *w = Window {
                start: now,
                count: 0,
                suppressed: 0,
            };
        }
        if w.count < self.per_sec {
            w.count += 1;
            true
        } else {
            w.suppressed += 1;
            false
        }
    }

    pub(crate) fn write(&self, level: Level, message: &str) {
        if !self.admit() {
            return;
        }
        let message = truncate(message, self.max_message);
        let connector = self.label.as_str();
        match level {
            Level::Debug => tracing::debug!(connector, message, "connector log"),
            Level::Info => tracing::info!(connector, message, "connector log"),
            Level::Warn => tracing::warn!(connector, message, "connector log"),
            Level::Error => tracing::error!(connector, message, "connector log"),
        }
    }

    /// Writes new guest stderr output (panic messages go there).
    fn stderr(&self, bytes: &[u8]) {
        if bytes.is_empty() || !self.admit() {
            return;
        }
        let text = String::from_utf8_lossy(bytes);
        let text = truncate(
            text.trim_end(),
            STDERR_LOG_EXCERPT.min(self.max_message.max(1) * 2),
        );
        tracing::warn!(connector = %self.label, stderr = text, "connector stderr");
    }
}

/// The longest prefix of `s` of at most `max` bytes ending on a char boundary.
pub(crate) fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Data of one store (one instance).
pub(crate) struct StoreState {
    pub(crate) limiter: Limiter,
    log: Arc<GuestLog>,
    /// Everything the guest wrote to stdout or stderr, bounded.
    output: Vec<u8>,
    output_seen: usize,
}

impl StoreState {
    pub(crate) fn new(log: Arc<GuestLog>, memory_limit: usize) -> Self {
        Self {
            limiter: Limiter {
                memory_limit,
                exceeded: false,
            },
            log,
            output: Vec::new(),
            output_seen: 0,
        }
    }

    /// Bytes the guest may still write.
    pub(crate) fn output_room(&self) -> usize {
        STDERR_CAPACITY - self.output.len()
    }

    /// Appends guest output; false (nothing written) if it does not fit.
    pub(crate) fn write_output(&mut self, bytes: &[u8]) -> bool {
        if bytes.len() > self.output_room() {
            return false;
        }
        self.output.extend_from_slice(bytes);
        true
    }

    /// Logs output written since the last call; returns the bytes used so far.
    pub(crate) fn flush_stderr(&mut self) -> usize {
        if self.output.len() > self.output_seen {
            self.log.stderr(&self.output[self.output_seen..]);
            self.output_seen = self.output.len();
        }
        self.output.len()
    }
}

impl bindings::tameflare::connector::log::Host for StoreState {
    fn log(&mut self, level: Level, message: String) {
        self.log.write(level, &message);
    }
}

impl bindings::types::Host for StoreState {}

/// Refuses memory growth past the limit and remembers that it did, so a
/// resulting trap is reported as "memory limit exceeded".
pub(crate) struct Limiter {
    memory_limit: usize,
    pub(crate) exceeded: bool,
}

impl wasmtime::ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let ok = desired <= self.memory_limit;
        self.exceeded |= !ok;
        Ok(ok)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }

    fn instances(&self) -> usize {
        64
    }

    fn tables(&self) -> usize {
        64
    }

    fn memories(&self) -> usize {
        16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_keeps_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("héllo", 3), "hé");
        assert_eq!(truncate("short", 64), "short");
        assert_eq!(truncate("", 0), "");
    }

    #[test]
    fn log_is_rate_limited_per_window() {
        let log = GuestLog::new("t".into(), 3, 16);
        let admitted = (0..10).filter(|_| log.admit()).count();
        assert_eq!(admitted, 3);
        let w = log.window.lock().expect("lock");
        assert_eq!(w.suppressed, 7);
    }

    #[test]
    fn limiter_refuses_growth_past_the_limit_and_remembers() {
        use wasmtime::ResourceLimiter;
        let mut l = Limiter {
            memory_limit: 1 << 20,
            exceeded: false,
        };
        assert!(l.memory_growing(0, 1 << 20, None).expect("ok"));
        assert!(!l.exceeded);
        assert!(
            !l.memory_growing(1 << 20, (1 << 20) + 65536, None)
                .expect("ok")
        );
        assert!(l.exceeded);
    }
}
