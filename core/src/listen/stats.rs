//! Listener counters and handler latency, readable while it runs.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Live counters. Read a consistent-enough copy with [`Stats::snapshot`].
#[derive(Debug, Default)]
pub struct Stats {
    pub(crate) receive_calls: AtomicU64,
    pub(crate) received: AtomicU64,
    pub(crate) dispatched: AtomicU64,
    pub(crate) done: AtomicU64,
    pub(crate) retry_later: AtomicU64,
    pub(crate) fatal_error: AtomicU64,
    pub(crate) retriable_error: AtomicU64,
    pub(crate) skipped_completed: AtomicU64,
    pub(crate) unmatched: AtomicU64,
    pub(crate) invalid: AtomicU64,
    pub(crate) deleted: AtomicU64,
    pub(crate) delete_calls: AtomicU64,
    pub(crate) delete_failed: AtomicU64,
    pub(crate) retried: AtomicU64,
    pub(crate) released: AtomicU64,
    pub(crate) heartbeats: AtomicU64,
    pub(crate) visibility_calls: AtomicU64,
    pub(crate) receive_errors: AtomicU64,
    pub(crate) in_flight: AtomicU64,
    pub(crate) store_calls: AtomicU64,
    pub(crate) store_errors: AtomicU64,
    pub(crate) store_busy: AtomicU64,
    latency: Histogram,
}

/// A copy of the counters at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// ReceiveMessage calls made.
    pub receive_calls: u64,
    /// Messages received.
    pub received: u64,
    /// Handler invocations.
    pub dispatched: u64,
    pub done: u64,
    pub retry_later: u64,
    pub fatal_error: u64,
    pub retriable_error: u64,
    /// Subscribers skipped because the completion store says they already succeeded.
    pub skipped_completed: u64,
    /// Messages no subscriber matched.
    pub unmatched: u64,
    /// Messages that could not be decoded.
    pub invalid: u64,
    /// Messages deleted.
    pub deleted: u64,
    /// DeleteMessageBatch calls made.
    pub delete_calls: u64,
    /// Deletions that failed for good (reported in the log).
    pub delete_failed: u64,
    /// Messages put back for a later retry (visibility set to the backoff).
    pub retried: u64,
    /// Messages released untouched at shutdown (visibility 0).
    pub released: u64,
    /// Visibility extensions of messages still being processed.
    pub heartbeats: u64,
    /// ChangeMessageVisibility(Batch) calls made.
    pub visibility_calls: u64,
    /// ReceiveMessage failures (transient ones are retried).
    pub receive_errors: u64,
    /// Messages being processed now.
    pub in_flight: u64,
    /// Completion store round trips (claims, renewals, completions, releases).
    pub store_calls: u64,
    /// Completion store calls that failed (a failed claim retries the message).
    pub store_errors: u64,
    /// Claims that found another live claim (the message comes back later).
    pub store_busy: u64,
    /// Handler latency percentiles.
    pub handler_p50: Duration,
    pub handler_p99: Duration,
}

impl StatsSnapshot {
    /// Every counter by its name (snake case, as the C ABI's JSON and the Python binding spell them), in a
    /// fixed order, so that each binding lists them from one place.
    pub fn counters(&self) -> [(&'static str, u64); 22] {
        [
            ("receive_calls", self.receive_calls),
            ("received", self.received),
            ("dispatched", self.dispatched),
            ("done", self.done),
            ("retry_later", self.retry_later),
            ("fatal_error", self.fatal_error),
            ("retriable_error", self.retriable_error),
            ("skipped_completed", self.skipped_completed),
            ("unmatched", self.unmatched),
            ("invalid", self.invalid),
            ("deleted", self.deleted),
            ("delete_calls", self.delete_calls),
            ("delete_failed", self.delete_failed),
            ("retried", self.retried),
            ("released", self.released),
            ("heartbeats", self.heartbeats),
            ("visibility_calls", self.visibility_calls),
            ("receive_errors", self.receive_errors),
            ("in_flight", self.in_flight),
            ("store_calls", self.store_calls),
            ("store_errors", self.store_errors),
            ("store_busy", self.store_busy),
        ]
    }

    /// API requests (receive, delete, visibility) per message received.
    pub fn requests_per_message(&self) -> f64 {
        let requests = self.receive_calls + self.delete_calls + self.visibility_calls;
        requests as f64 / self.received.max(1) as f64
    }
}

impl Stats {
    pub fn snapshot(&self) -> StatsSnapshot {
        let (p50, p99) = self.latency.percentiles();
        StatsSnapshot {
            receive_calls: self.receive_calls.load(Relaxed),
            received: self.received.load(Relaxed),
            dispatched: self.dispatched.load(Relaxed),
            done: self.done.load(Relaxed),
            retry_later: self.retry_later.load(Relaxed),
            fatal_error: self.fatal_error.load(Relaxed),
            retriable_error: self.retriable_error.load(Relaxed),
            skipped_completed: self.skipped_completed.load(Relaxed),
            unmatched: self.unmatched.load(Relaxed),
            invalid: self.invalid.load(Relaxed),
            deleted: self.deleted.load(Relaxed),
            delete_calls: self.delete_calls.load(Relaxed),
            delete_failed: self.delete_failed.load(Relaxed),
            retried: self.retried.load(Relaxed),
            released: self.released.load(Relaxed),
            heartbeats: self.heartbeats.load(Relaxed),
            visibility_calls: self.visibility_calls.load(Relaxed),
            receive_errors: self.receive_errors.load(Relaxed),
            in_flight: self.in_flight.load(Relaxed),
            store_calls: self.store_calls.load(Relaxed),
            store_errors: self.store_errors.load(Relaxed),
            store_busy: self.store_busy.load(Relaxed),
            handler_p50: p50,
            handler_p99: p99,
        }
    }

    /// Zeroes every counter: a listener's counters are those of its current (or last) run.
    pub(crate) fn reset(&self) {
        for counter in [
            &self.receive_calls,
            &self.received,
            &self.dispatched,
            &self.done,
            &self.retry_later,
            &self.fatal_error,
            &self.retriable_error,
            &self.skipped_completed,
            &self.unmatched,
            &self.invalid,
            &self.deleted,
            &self.delete_calls,
            &self.delete_failed,
            &self.retried,
            &self.released,
            &self.heartbeats,
            &self.visibility_calls,
            &self.receive_errors,
            &self.in_flight,
            &self.store_calls,
            &self.store_errors,
            &self.store_busy,
        ] {
            counter.store(0, Relaxed);
        }
        for bucket in &self.latency.buckets {
            bucket.store(0, Relaxed);
        }
    }

    pub(crate) fn record_latency(&self, d: Duration) {
        self.latency.record(d);
    }

    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }
}

/// A log-scale latency histogram: 4 buckets per power of two of microseconds, lock-free.
#[derive(Debug)]
struct Histogram {
    buckets: Vec<AtomicU64>,
}

const SUB: u32 = 4;
const BUCKETS: usize = 64 * SUB as usize;

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

impl Histogram {
    fn index(micros: u64) -> usize {
        if micros < 2 {
            return micros as usize;
        }
        let log = 63 - micros.leading_zeros();
        let frac = if log >= 2 {
            (micros >> (log - 2)) & 0b11
        } else {
            (micros << (2 - log)) & 0b11
        };
        ((log * SUB) as usize + frac as usize).min(BUCKETS - 1)
    }

    fn lower_bound(index: usize) -> u64 {
        if index < 2 {
            return index as u64;
        }
        let log = index as u32 / SUB;
        let frac = (index as u32 % SUB) as u64;
        (1u64 << log) + ((frac << log) >> 2)
    }

    fn record(&self, d: Duration) {
        let micros = d.as_micros().min(u128::from(u64::MAX)) as u64;
        self.buckets[Self::index(micros)].fetch_add(1, Relaxed);
    }

    fn percentiles(&self) -> (Duration, Duration) {
        let counts: Vec<u64> = self.buckets.iter().map(|b| b.load(Relaxed)).collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return (Duration::ZERO, Duration::ZERO);
        }
        let at = |q: f64| {
            let rank = ((total as f64) * q).ceil().max(1.0) as u64;
            let mut seen = 0;
            for (i, c) in counts.iter().enumerate() {
                seen += c;
                if seen >= rank {
                    return Duration::from_micros(Self::lower_bound(i));
                }
            }
            Duration::ZERO
        };
        (at(0.5), at(0.99))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_within_a_bucket() {
        let h = Histogram::default();
        for ms in 1..=100 {
            h.record(Duration::from_millis(ms));
        }
        let (p50, p99) = h.percentiles();
        // Buckets are a quarter power of two wide: within 25% below the true value.
        assert!(
            p50 <= Duration::from_millis(50) && p50 >= Duration::from_millis(37),
            "{p50:?}"
        );
        assert!(
            p99 <= Duration::from_millis(99) && p99 >= Duration::from_millis(74),
            "{p99:?}"
        );
        for m in [0u64, 1, 2, 3, 5, 1000, 1 << 40] {
            assert!(Histogram::lower_bound(Histogram::index(m)) <= m, "{m}");
        }
    }
}
