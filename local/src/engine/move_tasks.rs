//! Message move tasks: StartMessageMoveTask, the task that moves messages at a rate,
//! ListMessageMoveTasks and CancelMessageMoveTask.

use super::log::to_stored;
use super::Engine;
use crate::durable::Record;
use crate::error::ApiError;
use crate::queue::Queue;
use crate::util::uuid;
use crate::wire::{get_int, get_str, req_str};
use base64::Engine as _;
use serde_json::{json, Map, Value};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// A message move task (StartMessageMoveTask).
#[derive(Debug)]
pub(crate) struct MoveTask {
    pub handle: String,
    pub source_arn: String,
    pub dest_arn: Option<String>,
    pub rate: Option<u64>,
    pub started_ms: u64,
    pub to_move: u64,
    pub moved: AtomicU64,
    pub cancel: AtomicBool,
    pub status: Mutex<&'static str>,
    pub failure: Mutex<Option<String>>,
}

impl Engine {
    pub(super) fn start_move_task(self: &Arc<Self>, input: &Value) -> Result<Value, ApiError> {
        let source_arn = req_str(input, "SourceArn")?.to_string();
        let src = self.queue_by_arn(&source_arn).ok_or_else(|| {
            ApiError::resource_not_found(
                "The resource that you specified for the SourceArn parameter doesn't exist.",
            )
        })?;
        let is_dlq = self
            .queues
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .any(|s| {
                s.lock()
                    .attrs
                    .redrive
                    .as_ref()
                    .is_some_and(|r| r.target_arn == source_arn)
            });
        if !is_dlq {
            return Err(ApiError::invalid_parameter(
                "Source queue must be configured as a Dead Letter Queue.",
            ));
        }
        let dest_arn = get_str(input, "DestinationArn").map(str::to_string);
        if let Some(d) = &dest_arn {
            if self.queue_by_arn(d).is_none() {
                return Err(ApiError::resource_not_found(
                    "The resource that you specified for the DestinationArn parameter doesn't exist.",
                ));
            }
        }
        let rate = get_int(input, "MaxNumberOfMessagesPerSecond")?;
        if let Some(r) = rate {
            if !(1..=500).contains(&r) {
                return Err(ApiError::invalid_parameter(
                    "Value for parameter MaxNumberOfMessagesPerSecond is invalid. Reason: must be between 1 and 500.",
                ));
            }
        }
        let mut tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
        if tasks
            .iter()
            .any(|t| t.source_arn == source_arn && *t.status.lock().unwrap() == "RUNNING")
        {
            return Err(ApiError::unsupported_operation(
                "There is already a task running. Only one active task is allowed for a source queue arn at a given time.",
            ));
        }
        let to_move = {
            let g = src.lock();
            (g.n_ready + g.n_inflight + g.n_delayed) as u64
        };
        let handle = B64.encode(json!({"taskId": uuid(), "sourceArn": source_arn}).to_string());
        let task = Arc::new(MoveTask {
            handle: handle.clone(),
            source_arn,
            dest_arn,
            rate: rate.map(|r| r as u64),
            started_ms: self.now(),
            to_move,
            moved: AtomicU64::new(0),
            cancel: AtomicBool::new(false),
            status: Mutex::new("RUNNING"),
            failure: Mutex::new(None),
        });
        tasks.push(task.clone());
        drop(tasks);
        let me = self.clone();
        tokio::spawn(async move { me.run_move_task(task, src).await });
        Ok(json!({ "TaskHandle": handle }))
    }

    pub(super) async fn run_move_task(self: Arc<Self>, task: Arc<MoveTask>, src: Arc<Queue>) {
        let start = std::time::Instant::now();
        let finish = |status: &'static str, failure: Option<String>| {
            *task.status.lock().unwrap_or_else(|e| e.into_inner()) = status;
            if failure.is_some() {
                *task.failure.lock().unwrap_or_else(|e| e.into_inner()) = failure;
            }
        };
        loop {
            if task.cancel.load(Ordering::Acquire) {
                return finish("CANCELLED", None);
            }
            let moved = task.moved.load(Ordering::Acquire);
            if moved >= task.to_move {
                return finish("COMPLETED", None);
            }
            let batch = match task.rate {
                Some(r) => {
                    // Stay under `r` messages per second since the start.
                    let allowed = (start.elapsed().as_secs_f64() * r as f64) as u64 + 1;
                    if allowed <= moved {
                        let wait = (moved as f64 + 1.0) / r as f64 - start.elapsed().as_secs_f64();
                        tokio::time::sleep(std::time::Duration::from_secs_f64(wait.max(0.001)))
                            .await;
                        continue;
                    }
                    (allowed - moved).min(10)
                }
                None => 10,
            }
            .min(task.to_move - moved) as usize;
            let now = self.now();
            let msgs = src.lock().take_ready(batch, now);
            if msgs.is_empty() {
                let pending = {
                    let g = src.lock();
                    g.n_inflight + g.n_delayed
                };
                if pending == 0 {
                    return finish("COMPLETED", None);
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
            for mut m in msgs {
                let dest = task
                    .dest_arn
                    .clone()
                    .or_else(|| m.dlq_source().cloned())
                    .and_then(|a| self.queue_by_arn(&a));
                let Some(dest) = dest else {
                    // Put it back and fail, as AWS does when it cannot find a destination.
                    let mut g = src.lock();
                    m.deadline = 0;
                    g.insert(m, now);
                    drop(g);
                    return finish(
                        "FAILED",
                        Some("The destination queue of a message doesn't exist.".into()),
                    );
                };
                let old_seq = m.seq;
                m.seq = self.seq.fetch_add(1, Ordering::Relaxed);
                m.recv_count = 0;
                m.dlq_base = 0;
                m.first_recv_ms = 0;
                m.set_dlq_source(None);
                m.deadline = 0;
                m.receipt_gen = 0;
                let recs = [
                    Record::Send {
                        q: dest.name.clone(),
                        inc: dest.incarnation,
                        m: to_stored(&m),
                    },
                    Record::Delete {
                        q: src.name.clone(),
                        inc: src.incarnation,
                        seq: old_seq,
                    },
                ];
                let mut dg = dest.lock();
                if let Err(e) = self.log(&recs) {
                    return finish("FAILED", Some(e.message));
                }
                dg.insert(m, now);
                drop(dg);
                dest.notify.notify_waiters();
                task.moved.fetch_add(1, Ordering::AcqRel);
            }
        }
    }

    pub(super) fn list_move_tasks(&self, input: &Value) -> Result<Value, ApiError> {
        let source_arn = req_str(input, "SourceArn")?;
        if self.queue_by_arn(source_arn).is_none() {
            return Err(ApiError::resource_not_found(
                "The resource that you specified for the SourceArn parameter doesn't exist.",
            ));
        }
        let max = get_int(input, "MaxResults")?.unwrap_or(1);
        if !(1..=10).contains(&max) {
            return Err(ApiError::invalid_parameter(
                "Value for parameter MaxResults is invalid. Reason: must be between 1 and 10.",
            ));
        }
        let tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
        let results: Vec<Value> = tasks
            .iter()
            .rev()
            .filter(|t| t.source_arn == source_arn)
            .take(max as usize)
            .map(|t| {
                let status = *t.status.lock().unwrap_or_else(|e| e.into_inner());
                let mut o = Map::new();
                if status == "RUNNING" {
                    o.insert("TaskHandle".into(), Value::String(t.handle.clone()));
                }
                o.insert("Status".into(), Value::String(status.into()));
                o.insert("SourceArn".into(), Value::String(t.source_arn.clone()));
                if let Some(d) = &t.dest_arn {
                    o.insert("DestinationArn".into(), Value::String(d.clone()));
                }
                if let Some(r) = t.rate {
                    o.insert("MaxNumberOfMessagesPerSecond".into(), json!(r));
                }
                o.insert(
                    "ApproximateNumberOfMessagesMoved".into(),
                    json!(t.moved.load(Ordering::Acquire)),
                );
                o.insert("ApproximateNumberOfMessagesToMove".into(), json!(t.to_move));
                if let Some(f) = &*t.failure.lock().unwrap_or_else(|e| e.into_inner()) {
                    o.insert("FailureReason".into(), Value::String(f.clone()));
                }
                o.insert("StartedTimestamp".into(), json!(t.started_ms));
                Value::Object(o)
            })
            .collect();
        Ok(json!({ "Results": results }))
    }

    pub(super) fn cancel_move_task(&self, input: &Value) -> Result<Value, ApiError> {
        let handle = req_str(input, "TaskHandle")?;
        let tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
        let t = tasks
            .iter()
            .find(|t| t.handle == handle)
            .filter(|t| *t.status.lock().unwrap_or_else(|e| e.into_inner()) == "RUNNING")
            .ok_or_else(|| {
                ApiError::resource_not_found("Task does not exist or is not running.")
            })?;
        t.cancel.store(true, Ordering::Release);
        *t.status.lock().unwrap_or_else(|e| e.into_inner()) = "CANCELLING";
        Ok(json!({"ApproximateNumberOfMessagesMoved": t.moved.load(Ordering::Acquire)}))
    }
}
