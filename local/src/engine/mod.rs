//! The SQS engine: the [`Engine`] (queues, clock, the write-ahead log, SNS state) and the
//! dispatch of the JSON 1.0 operations. Each API area is in its own file: queues
//! ([`queues`]), messages ([`messages`]), message move tasks ([`move_tasks`]), anomaly
//! injection ([`anomalies`]), the write-ahead log glue ([`log`]); the wire helpers they share
//! are in `crate::wire`.

mod anomalies;
mod log;
mod messages;
mod move_tasks;
mod queues;

use move_tasks::MoveTask;

use crate::anomaly::{AnomalyState, InjectedError};
use crate::durable::Wal;
use crate::error::ApiError;
use crate::queue::Queue;
use crate::util::now_ms;
use crate::wire::get_str;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

pub struct Engine {
    pub region: String,
    pub account_id: String,
    pub base_url: String,
    queues: RwLock<HashMap<String, Arc<Queue>>>,
    seq: AtomicU64,
    pub(crate) wal: Option<Wal>,
    anomalies: Mutex<HashMap<String, AnomalyState>>,
    any_anomaly: AtomicBool,
    tasks: Mutex<Vec<Arc<MoveTask>>>,
    pub(crate) sns: Mutex<crate::sns::SnsState>,
    compacting: AtomicBool,
    clock_offset_ms: AtomicU64,
}

/// The engine's clock never goes past 9999-12-31T23:59:59.999Z (so that adding a retention
/// period or a timeout to it cannot overflow).
pub const MAX_CLOCK_MS: u64 = 253_402_300_799_999;

impl Engine {
    /// Creates the engine; with a data directory, replays and compacts its log.
    pub fn new(
        region: String,
        account_id: String,
        base_url: String,
        data_dir: Option<&std::path::Path>,
        fsync: bool,
        compact_after: u64,
    ) -> Result<Arc<Engine>, crate::Error> {
        let mut engine = Engine {
            region,
            account_id,
            base_url,
            queues: RwLock::new(HashMap::new()),
            seq: AtomicU64::new(1),
            wal: None,
            anomalies: Mutex::new(HashMap::new()),
            any_anomaly: AtomicBool::new(false),
            tasks: Mutex::new(Vec::new()),
            sns: Mutex::new(crate::sns::SnsState::default()),
            compacting: AtomicBool::new(false),
            clock_offset_ms: AtomicU64::new(0),
        };
        if let Some(dir) = data_dir {
            let records = Wal::load(dir)?;
            for r in records {
                engine.replay(r);
            }
            let snapshot = engine.snapshot_records();
            engine.wal = Some(Wal::create(dir, &snapshot, fsync, compact_after)?);
        }
        Ok(Arc::new(engine))
    }

    /// The engine's clock (ms since the epoch): wall time plus [`Engine::advance_clock`].
    pub fn now(&self) -> u64 {
        let offset = self.clock_offset_ms.load(Ordering::Relaxed);
        now_ms().saturating_add(offset).min(MAX_CLOCK_MS)
    }

    /// Moves the engine's clock forward, saturating at [`MAX_CLOCK_MS`] (tests: visibility
    /// timeouts, delays, retention and the deduplication window without sleeping). Also
    /// `POST /_mega/clock/advance?ms=N`.
    pub fn advance_clock(&self, ms: u64) {
        let _ = self
            .clock_offset_ms
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |o| {
                Some(o.saturating_add(ms).min(MAX_CLOCK_MS))
            });
        for q in self
            .queues
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
        {
            q.notify.notify_waiters();
        }
    }

    pub fn queue_arn(&self, name: &str) -> String {
        format!("arn:aws:sqs:{}:{}:{}", self.region, self.account_id, name)
    }

    pub fn queue_url(&self, name: &str) -> String {
        format!("{}/{}/{}", self.base_url, self.account_id, name)
    }

    /// Runs one SQS operation (`X-Amz-Target: AmazonSQS.<op>`).
    pub async fn sqs(self: &Arc<Self>, op: &str, input: Value) -> Result<Value, ApiError> {
        if let Some(url) = get_str(&input, "QueueUrl") {
            let name = url.rsplit('/').next().unwrap_or("").to_string();
            if let Some(fate) = self.with_anomaly(&name, |a| a.request_fate()) {
                if fate.latency_ms > 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(fate.latency_ms)).await;
                }
                match fate.error {
                    Some(InjectedError::Internal) => {
                        return Err(ApiError::internal(
                            "We encountered an internal error (injected by the sqs-mega-local anomaly injector).",
                        ))
                    }
                    Some(InjectedError::Throttled) => return Err(ApiError::throttled()),
                    None => {}
                }
            }
        }
        let out = match op {
            "CreateQueue" => self.create_queue(&input),
            "GetQueueUrl" => self.get_queue_url(&input),
            "ListQueues" => self.list_queues(&input),
            "DeleteQueue" => self.delete_queue(&input),
            "GetQueueAttributes" => self.get_queue_attributes(&input),
            "SetQueueAttributes" => self.set_queue_attributes(&input),
            "PurgeQueue" => self.purge_queue(&input),
            "SendMessage" => self.send_message(&input),
            "SendMessageBatch" => self.send_message_batch(&input),
            "ReceiveMessage" => return self.receive_message(&input).await,
            "DeleteMessage" => self.delete_message(&input),
            "DeleteMessageBatch" => self.delete_message_batch(&input),
            "ChangeMessageVisibility" => self.change_visibility(&input),
            "ChangeMessageVisibilityBatch" => self.change_visibility_batch(&input),
            "ListDeadLetterSourceQueues" => self.list_dlq_sources(&input),
            "StartMessageMoveTask" => self.start_move_task(&input),
            "ListMessageMoveTasks" => self.list_move_tasks(&input),
            "CancelMessageMoveTask" => self.cancel_move_task(&input),
            "TagQueue" => self.tag_queue(&input),
            "UntagQueue" => self.untag_queue(&input),
            "ListQueueTags" => self.list_queue_tags(&input),
            "AddPermission" | "RemovePermission" => Ok(json!({})),
            other => Err(ApiError::invalid_action(other)),
        };
        self.maybe_compact();
        out
    }
}
