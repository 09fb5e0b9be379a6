//! Anomaly injection: per-queue, seeded, off by default.
//!
//! Draws are made from one seeded RNG per queue, in request order, so a sequential client
//! sees the same anomalies on every run with the same seed.

use crate::util::Rng;
use serde::{Deserialize, Serialize};

/// What to inject on one queue. Rates are probabilities in [0, 1].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnomalyConfig {
    /// Seed of the RNG that drives every draw below.
    pub seed: u64,
    /// Probability that a received message is also left (as a copy with the same
    /// MessageId) for a later receive: the at-least-once duplicate of standard queues.
    pub duplicate_rate: f64,
    /// Probability that a receive takes a later ready message before the first one
    /// (standard queues only: FIFO order is never broken).
    pub reorder_rate: f64,
    /// Probability that a request fails with HTTP 500 InternalError (before it is applied).
    pub error_rate: f64,
    /// Probability that a request fails with RequestThrottled (before it is applied).
    pub throttle_rate: f64,
    /// Probability that a request is delayed by `latency_ms`.
    pub latency_rate: f64,
    /// Added latency in milliseconds (a uniform draw in [latency_ms/2, latency_ms]).
    pub latency_ms: u64,
}

impl AnomalyConfig {
    pub fn validate(&self) -> Result<(), String> {
        for (n, r) in [
            ("duplicate_rate", self.duplicate_rate),
            ("reorder_rate", self.reorder_rate),
            ("error_rate", self.error_rate),
            ("throttle_rate", self.throttle_rate),
            ("latency_rate", self.latency_rate),
        ] {
            if !(0.0..=1.0).contains(&r) {
                return Err(format!("{n} must be within [0, 1], got {r}"));
            }
        }
        if self.latency_ms > 60_000 {
            return Err("latency_ms must be at most 60000".into());
        }
        Ok(())
    }
}

/// Live state: the config and its RNG.
#[derive(Debug)]
pub struct AnomalyState {
    pub config: AnomalyConfig,
    rng: Rng,
}

/// What the injector decided for one request.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct RequestFate {
    pub latency_ms: u64,
    pub error: Option<InjectedError>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InjectedError {
    Internal,
    Throttled,
}

impl AnomalyState {
    pub fn new(config: AnomalyConfig) -> Self {
        let rng = Rng::new(config.seed);
        AnomalyState { config, rng }
    }

    pub fn request_fate(&mut self) -> RequestFate {
        let mut fate = RequestFate::default();
        if self.config.latency_rate > 0.0 && self.rng.next_f64() < self.config.latency_rate {
            let half = self.config.latency_ms / 2;
            fate.latency_ms = half + self.rng.below(self.config.latency_ms - half + 1);
        }
        if self.config.error_rate > 0.0 && self.rng.next_f64() < self.config.error_rate {
            fate.error = Some(InjectedError::Internal);
        } else if self.config.throttle_rate > 0.0 && self.rng.next_f64() < self.config.throttle_rate
        {
            fate.error = Some(InjectedError::Throttled);
        }
        fate
    }

    /// Index of the ready message to take among the first `n` (0 = in order).
    pub fn pick(&mut self, n: usize) -> usize {
        if n > 1 && self.config.reorder_rate > 0.0 && self.rng.next_f64() < self.config.reorder_rate
        {
            1 + self.rng.below(n as u64 - 1) as usize
        } else {
            0
        }
    }

    pub fn duplicate(&mut self) -> bool {
        self.config.duplicate_rate > 0.0 && self.rng.next_f64() < self.config.duplicate_rate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_fates() {
        let cfg = AnomalyConfig {
            seed: 42,
            error_rate: 0.3,
            throttle_rate: 0.3,
            duplicate_rate: 0.5,
            ..Default::default()
        };
        let run = || {
            let mut s = AnomalyState::new(cfg.clone());
            (0..50)
                .map(|_| (s.request_fate().error, s.duplicate()))
                .collect::<Vec<_>>()
        };
        let a = run();
        assert_eq!(a, run());
        assert!(a.iter().any(|(e, _)| e.is_some()));
        assert!(a.iter().any(|(e, _)| e.is_none()));
        assert!(a.iter().any(|(_, d)| *d));
    }

    #[test]
    fn command_line_flag_parses() {
        let (q, c) =
            crate::parse_anomaly_flag(r#"orders={"seed":3,"duplicate_rate":0.5}"#).unwrap();
        assert_eq!(q, "orders");
        assert_eq!(c.seed, 3);
        assert_eq!(c.duplicate_rate, 0.5);
        assert!(crate::parse_anomaly_flag("orders").is_err());
        assert!(crate::parse_anomaly_flag(r#"q={"bogus":1}"#).is_err());
        assert!(crate::parse_anomaly_flag(r#"q={"error_rate":7}"#).is_err());
    }

    #[test]
    fn rates_are_validated() {
        let bad = AnomalyConfig {
            error_rate: 1.5,
            ..Default::default()
        };
        assert!(bad.validate().is_err());
        assert!(AnomalyConfig::default().validate().is_ok());
    }
}
