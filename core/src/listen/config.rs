//! How the listener receives and retries: its configuration, checked whole, and the retry backoff.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::ListenerError;

/// Retry backoff: the visibility a retried message gets is `base * 2^(receive_count - 1)`, capped at `max`,
/// with "equal jitter" (a random point in its upper half), so retries of many messages spread out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    pub base: Duration,
    pub max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base: Duration::from_secs(2),
            max: Duration::from_secs(15 * 60),
        }
    }
}

impl RetryPolicy {
    /// Retries after `base`, doubling per receive, at most `max`.
    pub fn new(base: Duration, max: Duration) -> RetryPolicy {
        RetryPolicy { base, max }
    }

    /// The visibility timeout, in seconds (SQS's unit; at least 1, at most 12 hours), for a message
    /// received `receive_count` times.
    pub fn delay_seconds(&self, receive_count: u32) -> i32 {
        let exp = receive_count.saturating_sub(1).min(30);
        let full = self
            .base
            .saturating_mul(1u32 << exp)
            .min(self.max)
            .min(Duration::from_secs(43_200));
        let half = full / 2;
        let jittered = half + half.mul_f64(jitter());
        jittered.as_secs().clamp(1, 43_200) as i32
    }
}

/// A uniform number in [0, 1) from a small shared xorshift generator (jitter needs no cryptography).
pub(super) fn jitter() -> f64 {
    static STATE: AtomicU64 = AtomicU64::new(0);
    let mut x = STATE.load(Ordering::Relaxed);
    if x == 0 {
        x = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9e37_79b9_7f4a_7c15)
            | 1;
    }
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    STATE.store(x, Ordering::Relaxed);
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// How the listener receives and processes. The first four are the seed's `SqsListener` parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListenerConfig {
    pub queue_url: String,
    /// Messages per ReceiveMessage, 1–10. Default 10 (the seed's Python default was 1; 10 costs a tenth of
    /// the requests).
    pub max_number_of_messages: i32,
    /// Long-poll wait, 0–20 s. Default 20.
    pub wait_time_seconds: i32,
    /// Visibility timeout for received messages, seconds. Default: the queue's own.
    pub visibility_timeout: Option<i32>,
    /// Concurrent ReceiveMessage loops. Default 1.
    pub pollers: usize,
    /// Messages processed at once, across pollers (a permit is taken before each fetch). Default 20.
    pub max_in_flight: usize,
    pub retry: RetryPolicy,
    /// Extend the visibility of messages still being processed before it runs out. Default on.
    pub heartbeat: bool,
    /// How long in-flight work may finish after shutdown begins, before its messages are released.
    pub shutdown_grace: Duration,
    /// How long a delete waits for others to share its DeleteMessageBatch call. Default 20 ms.
    pub delete_linger: Duration,
    /// Stop gracefully on SIGTERM and SIGINT. Default on; bindings that own signals turn it off.
    pub handle_signals: bool,
    /// The completion store as a URL (`memory`, `redis://host:6379/0`, `dynamodb://TABLE`; see
    /// [`StoreSpec::parse`](super::StoreSpec::parse)), made when the listener first runs. A store set with
    /// [`SqsListener::set_completion_store`](super::SqsListener::set_completion_store) wins. Default none.
    pub completion_store: Option<String>,
    /// Serve the counters and latencies as Prometheus text on this address while the listener runs
    /// (`GET /metrics`): `host:port`, or a port alone for loopback (`9464` = `127.0.0.1:9464`; port 0 picks
    /// a free one, see [`SqsListener::metrics_addr`](super::SqsListener::metrics_addr)). Default none.
    pub metrics_addr: Option<String>,
    /// The business key of a message for the completion store: a dotted path into the payload's value (a
    /// data object, or the canonical MEGA event map: `data.order_id`), whose string or integer is the key;
    /// messages without it use their message id. A key set in code with
    /// [`SqsListener::set_idempotency_key`](super::SqsListener::set_idempotency_key) wins. Default none (the
    /// message id).
    pub idempotency_key: Option<String>,
}

setters!(ListenerConfig {
    with_max_number_of_messages => max_number_of_messages: i32,
    with_wait_time_seconds => wait_time_seconds: i32,
    with_pollers => pollers: usize,
    with_max_in_flight => max_in_flight: usize,
    with_retry => retry: RetryPolicy,
    with_heartbeat => heartbeat: bool,
    with_shutdown_grace => shutdown_grace: Duration,
    with_delete_linger => delete_linger: Duration,
    with_handle_signals => handle_signals: bool,
});

option_setters!(ListenerConfig {
    with_visibility_timeout => visibility_timeout: i32,
    with_completion_store => completion_store: String,
    with_metrics_addr => metrics_addr: String,
    with_idempotency_key => idempotency_key: String,
});

impl ListenerConfig {
    pub fn new(queue_url: impl Into<String>) -> ListenerConfig {
        ListenerConfig {
            queue_url: queue_url.into(),
            max_number_of_messages: 10,
            wait_time_seconds: 20,
            visibility_timeout: None,
            pollers: 1,
            max_in_flight: 20,
            retry: RetryPolicy::default(),
            heartbeat: true,
            shutdown_grace: Duration::from_secs(30),
            delete_linger: Duration::from_millis(20),
            handle_signals: true,
            completion_store: None,
            metrics_addr: None,
            idempotency_key: None,
        }
    }

    /// The most concurrent ReceiveMessage loops (each holds a long poll).
    pub const MAX_POLLERS: usize = 256;
    /// The most messages processed at once.
    pub const MAX_IN_FLIGHT: usize = 100_000;
    /// The longest shutdown grace (one day).
    pub const MAX_SHUTDOWN_GRACE: Duration = Duration::from_secs(24 * 3600);
    /// The longest a delete may wait to share a batch (one minute).
    pub const MAX_DELETE_LINGER: Duration = Duration::from_secs(60);
    /// The longest retry delay (SQS's largest visibility timeout, 12 hours).
    pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(43_200);

    /// Checks every setting against its range; the listener does so when it starts, and a binding can call
    /// it when a setting is changed, so that a bad value is refused where it was given.
    pub fn validate(&self) -> Result<(), ListenerError> {
        let bad = |m: String| Err(ListenerError::InvalidConfig(m));
        if !(1..=10).contains(&self.max_number_of_messages) {
            return bad(format!(
                "max_number_of_messages must be 1 to 10, not {}",
                self.max_number_of_messages
            ));
        }
        if !(0..=20).contains(&self.wait_time_seconds) {
            return bad(format!(
                "wait_time_seconds must be 0 to 20, not {}",
                self.wait_time_seconds
            ));
        }
        if let Some(v) = self.visibility_timeout {
            if !(0..=43_200).contains(&v) {
                return bad(format!(
                    "visibility_timeout must be 0 to 43200 seconds, not {v}"
                ));
            }
        }
        if !(1..=Self::MAX_POLLERS).contains(&self.pollers) {
            return bad(format!(
                "pollers must be 1 to {}, not {}",
                Self::MAX_POLLERS,
                self.pollers
            ));
        }
        if !(1..=Self::MAX_IN_FLIGHT).contains(&self.max_in_flight) {
            return bad(format!(
                "max_in_flight must be 1 to {}, not {}",
                Self::MAX_IN_FLIGHT,
                self.max_in_flight
            ));
        }
        for (name, value, max) in [
            (
                "shutdown_grace",
                self.shutdown_grace,
                Self::MAX_SHUTDOWN_GRACE,
            ),
            ("delete_linger", self.delete_linger, Self::MAX_DELETE_LINGER),
            ("retry.base", self.retry.base, Self::MAX_RETRY_DELAY),
            ("retry.max", self.retry.max, Self::MAX_RETRY_DELAY),
        ] {
            if value > max {
                return bad(format!(
                    "{name} must be at most {} ms, not {} ms",
                    max.as_millis(),
                    value.as_millis()
                ));
            }
        }
        if self.queue_url.is_empty() {
            return bad("queue_url is empty".into());
        }
        if let Some(url) = &self.completion_store {
            super::StoreSpec::parse(url)
                .map_err(|e| ListenerError::InvalidConfig(e.to_string()))?;
        }
        if let Some(path) = &self.idempotency_key {
            if path.is_empty() || path.split('.').any(str::is_empty) {
                return bad(format!(
                    "idempotency_key `{path}` is not a dotted path of field names (order_id, data.order_id)"
                ));
            }
        }
        if let Some(addr) = &self.metrics_addr {
            super::metrics::parse_addr(addr).map_err(ListenerError::InvalidConfig)?;
        }
        Ok(())
    }
}
