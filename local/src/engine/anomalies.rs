//! Anomaly injection per queue (latency, injected errors), as the engine consults it.

use super::Engine;
use crate::anomaly::{AnomalyConfig, AnomalyState};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

impl Engine {
    /// Sets (or with `None` clears) the anomaly config of a queue name (`*` = every queue).
    pub fn set_anomalies(&self, queue: &str, cfg: Option<AnomalyConfig>) -> Result<(), String> {
        let mut m = self.anomalies.lock().unwrap_or_else(|e| e.into_inner());
        match cfg {
            Some(c) => {
                c.validate()?;
                m.insert(queue.to_string(), AnomalyState::new(c));
            }
            None => {
                m.remove(queue);
            }
        }
        self.any_anomaly.store(!m.is_empty(), Ordering::Release);
        Ok(())
    }

    pub fn anomalies(&self) -> BTreeMap<String, AnomalyConfig> {
        self.anomalies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(k, v)| (k.clone(), v.config.clone()))
            .collect()
    }

    pub(super) fn with_anomaly<R>(
        &self,
        queue: &str,
        f: impl FnOnce(&mut AnomalyState) -> R,
    ) -> Option<R> {
        if !self.any_anomaly.load(Ordering::Acquire) {
            return None;
        }
        let mut m = self.anomalies.lock().unwrap_or_else(|e| e.into_inner());
        if m.contains_key(queue) {
            m.get_mut(queue).map(f)
        } else {
            m.get_mut("*").map(f)
        }
    }

    // ---------------- the JSON 1.0 API ----------------
}
