//! The SQS engine: queues, the JSON 1.0 operations, long polling, redrive, message move
//! tasks, anomaly injection and the write-ahead log hooks.

use crate::anomaly::{AnomalyConfig, AnomalyState, InjectedError};
use crate::durable::{Record, StoredMsg, Wal};
use crate::error::ApiError;
use crate::queue::{
    seq_number_string, Msg, MsgState, NewMessage, Queue, QueueAttrs, QueueInner, Received,
    SendResult,
};
use crate::util::{now_ms, uuid, AttrValue};
use base64::Engine as _;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// A message move task (StartMessageMoveTask).
#[derive(Debug)]
pub struct MoveTask {
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

fn get_str<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

fn req_str<'a>(v: &'a Value, k: &str) -> Result<&'a str, ApiError> {
    get_str(v, k).ok_or_else(|| ApiError::missing_parameter(k))
}

fn get_int(v: &Value, k: &str) -> Result<Option<i64>, ApiError> {
    match v.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| {
            ApiError::invalid_parameter(format!("Value {n} for parameter {k} is invalid."))
        }),
        Some(Value::String(s)) => s.parse().map(Some).map_err(|_| {
            ApiError::invalid_parameter(format!("Value {s} for parameter {k} is invalid."))
        }),
        Some(o) => Err(ApiError::invalid_parameter(format!(
            "Value {o} for parameter {k} is invalid."
        ))),
    }
}

fn str_map(v: &Value, k: &str) -> BTreeMap<String, String> {
    v.get(k)
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| v.to_string()),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn str_list(v: &Value, k: &str) -> Vec<String> {
    v.get(k)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Parses `MessageAttributes` of the JSON protocol.
pub fn parse_message_attributes(v: &Value) -> Result<BTreeMap<String, AttrValue>, ApiError> {
    let mut out = BTreeMap::new();
    let Some(m) = v.get("MessageAttributes").and_then(Value::as_object) else {
        return Ok(out);
    };
    for (name, a) in m {
        let data_type = get_str(a, "DataType")
            .ok_or_else(|| {
                ApiError::invalid_parameter(format!(
                    "The message attribute '{name}' must contain non-empty message attribute type."
                ))
            })?
            .to_string();
        let binary_value = match get_str(a, "BinaryValue") {
            Some(b) => Some(B64.decode(b).map_err(|_| {
                ApiError::invalid_parameter(format!(
                    "The message attribute '{name}' has an invalid binary value."
                ))
            })?),
            None => None,
        };
        out.insert(
            name.clone(),
            AttrValue {
                data_type,
                string_value: get_str(a, "StringValue").map(str::to_string),
                binary_value,
            },
        );
    }
    Ok(out)
}

pub fn attrs_to_json(attrs: &BTreeMap<String, AttrValue>) -> Value {
    let mut m = Map::new();
    for (k, v) in attrs {
        let mut o = Map::new();
        o.insert("DataType".into(), Value::String(v.data_type.clone()));
        if let Some(s) = &v.string_value {
            o.insert("StringValue".into(), Value::String(s.clone()));
        }
        if let Some(b) = &v.binary_value {
            o.insert("BinaryValue".into(), Value::String(B64.encode(b)));
        }
        m.insert(k.clone(), Value::Object(o));
    }
    Value::Object(m)
}

fn valid_queue_name(name: &str, fifo: bool) -> bool {
    let base = if fifo {
        match name.strip_suffix(".fifo") {
            Some(b) => b,
            None => return false,
        }
    } else {
        name
    };
    !base.is_empty()
        && name.len() <= 80
        && base
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn valid_batch_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 80
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Checks a batch's entry count and ids; returns the entries.
fn batch_entries(input: &Value, key: &str) -> Result<Vec<Value>, ApiError> {
    let entries = input
        .get(key)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if entries.is_empty() {
        return Err(ApiError::empty_batch());
    }
    if entries.len() > 10 {
        return Err(ApiError::too_many_entries());
    }
    let mut seen = HashSet::new();
    for e in &entries {
        let id = get_str(e, "Id").unwrap_or("");
        if !valid_batch_id(id) {
            return Err(ApiError::invalid_batch_entry_id());
        }
        if !seen.insert(id.to_string()) {
            return Err(ApiError::batch_ids_not_distinct());
        }
    }
    Ok(entries)
}

fn failed_entry(id: &str, e: &ApiError) -> Value {
    json!({"Id": id, "SenderFault": e.sender_fault, "Code": e.query_code, "Message": e.message})
}

fn to_stored(m: &Msg) -> StoredMsg {
    StoredMsg {
        seq: m.seq,
        id: crate::util::format_uuid(m.id),
        body: m.body.clone(),
        attrs: m.attrs().clone(),
        sent: m.sent_ms,
        group: m.group().cloned(),
        dedup: m.dedup_id().cloned(),
        dlq_src: m.dlq_source().cloned(),
        visible_at: if m.state == MsgState::Delayed {
            m.deadline
        } else {
            0
        },
        recv: m.recv_count,
    }
}

fn from_stored(s: StoredMsg) -> Msg {
    // A message that came by redrive gets a full maxReceiveCount here after a restart
    // (its receives before and after the move are not told apart in the log).
    let dlq_base = if s.dlq_src.is_some() { s.recv } else { 0 };
    Msg {
        seq: s.seq,
        id: crate::util::parse_uuid(&s.id).unwrap_or_else(crate::util::uuid_u128),
        body: s.body,
        extra: crate::queue::MsgExtra::boxed(s.attrs, s.group, s.dedup, s.dlq_src),
        sent_ms: s.sent,
        first_recv_ms: 0,
        dlq_base,
        recv_count: s.recv,
        state: MsgState::Delayed,
        receipt_gen: 0,
        timer_gen: 0,
        deadline: s.visible_at,
    }
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

    fn new_queue(
        &self,
        name: &str,
        inc: u64,
        attrs: QueueAttrs,
        tags: BTreeMap<String, String>,
        created_s: u64,
    ) -> Arc<Queue> {
        let fifo = name.ends_with(".fifo");
        Arc::new(Queue::new(
            name.to_string(),
            self.queue_arn(name),
            self.queue_url(name),
            fifo,
            inc,
            QueueInner::new(fifo, attrs, tags, created_s),
        ))
    }

    fn replay(&mut self, r: Record) {
        let now = now_ms();
        let queues = self.queues.get_mut().unwrap_or_else(|e| e.into_inner());
        match r {
            Record::Queue {
                name,
                inc,
                attrs,
                tags,
                created,
            } => {
                let fifo = name.ends_with(".fifo");
                if let Some(q) = queues.get(&name) {
                    if q.incarnation == inc {
                        let mut g = q.lock();
                        let mut a = QueueAttrs::default();
                        let _ = a.apply(&attrs, fifo, true);
                        g.attrs = a;
                        g.tags = tags;
                        return;
                    }
                }
                let mut a = QueueAttrs::default();
                let _ = a.apply(&attrs, fifo, true);
                let fifo = name.ends_with(".fifo");
                let q = Arc::new(Queue::new(
                    name.clone(),
                    format!("arn:aws:sqs:{}:{}:{}", self.region, self.account_id, name),
                    format!("{}/{}/{}", self.base_url, self.account_id, name),
                    fifo,
                    inc,
                    QueueInner::new(fifo, a, tags, created),
                ));
                queues.insert(name, q);
            }
            Record::DeleteQueue { name, inc } => {
                if queues.get(&name).is_some_and(|q| q.incarnation == inc) {
                    queues.remove(&name);
                }
            }
            Record::Send { q, inc, m } => {
                if let Some(q) = queues.get(&q).filter(|q| q.incarnation == inc) {
                    let seq = m.seq;
                    if self.seq.load(Ordering::Relaxed) <= seq {
                        self.seq.store(seq + 1, Ordering::Relaxed);
                    }
                    q.lock().insert(from_stored(m), now);
                }
            }
            Record::Delete { q, inc, seq } => {
                if let Some(q) = queues.get(&q).filter(|q| q.incarnation == inc) {
                    q.lock().remove(seq);
                }
            }
            Record::Received { q, inc, seqs } => {
                if let Some(q) = queues.get(&q).filter(|q| q.incarnation == inc) {
                    let mut g = q.lock();
                    for s in seqs {
                        if let Some(m) = g.messages.get_mut(&s) {
                            m.recv_count += 1;
                        }
                    }
                }
            }
            Record::Purge { q, inc, .. } => {
                if let Some(q) = queues.get(&q).filter(|q| q.incarnation == inc) {
                    q.lock().purge();
                }
            }
            other => self
                .sns
                .get_mut()
                .unwrap_or_else(|e| e.into_inner())
                .replay(other),
        }
    }

    /// The live state as log records.
    fn snapshot_records(&self) -> Vec<Record> {
        let mut out = Vec::new();
        let queues = self.queues.read().unwrap_or_else(|e| e.into_inner());
        let sns = self.sns.lock().unwrap_or_else(|e| e.into_inner());
        let mut guards = Vec::new();
        let mut names: Vec<&String> = queues.keys().collect();
        names.sort();
        for n in names {
            let q = &queues[n];
            guards.push((q.clone(), q.lock()));
        }
        for (q, g) in &guards {
            out.push(Record::Queue {
                name: q.name.clone(),
                inc: q.incarnation,
                attrs: g.attrs.raw.clone(),
                tags: g.tags.clone(),
                created: g.created_s,
            });
            let mut msgs: Vec<&Msg> = g.messages.values().map(|b| &**b).collect();
            msgs.sort_by_key(|m| m.seq);
            for m in msgs {
                out.push(Record::Send {
                    q: q.name.clone(),
                    inc: q.incarnation,
                    m: to_stored(m),
                });
            }
        }
        sns.snapshot(&mut out);
        if let Some(w) = &self.wal {
            // Called with every lock held: a consistent cut.
            if let Err(e) = w.compact(&out) {
                tracing::error!("log compaction failed: {e}");
            }
        }
        out
    }

    /// Appends records to the log (durable mode). Call with the queue lock held.
    pub(crate) fn log(&self, records: &[Record]) -> Result<(), ApiError> {
        if let Some(w) = &self.wal {
            w.append(records)
                .map_err(|e| ApiError::internal(format!("write-ahead log: {e}")))?;
        }
        Ok(())
    }

    /// Compacts the log in the background when it has grown.
    fn maybe_compact(self: &Arc<Self>) {
        let Some(w) = &self.wal else { return };
        if !w.wants_compaction() || self.compacting.swap(true, Ordering::AcqRel) {
            return;
        }
        let me = self.clone();
        std::thread::spawn(move || {
            let _ = me.snapshot_records();
            me.compacting.store(false, Ordering::Release);
        });
    }

    pub fn get_queue(&self, name: &str) -> Option<Arc<Queue>> {
        self.queues
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    pub fn queue_by_url(&self, url: &str) -> Result<Arc<Queue>, ApiError> {
        let name = url.trim_end_matches('/').rsplit('/').next().unwrap_or("");
        self.get_queue(name)
            .ok_or_else(ApiError::queue_does_not_exist)
    }

    pub fn queue_by_arn(&self, arn: &str) -> Option<Arc<Queue>> {
        let name = arn.rsplit(':').next()?;
        self.get_queue(name).filter(|q| q.arn == arn)
    }

    // ---------------- anomaly injection ----------------

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

    fn with_anomaly<R>(&self, queue: &str, f: impl FnOnce(&mut AnomalyState) -> R) -> Option<R> {
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

    fn create_queue(&self, input: &Value) -> Result<Value, ApiError> {
        let name = req_str(input, "QueueName")?;
        let attrs = str_map(input, "Attributes");
        let tags = str_map(input, "tags");
        let fifo_attr = attrs
            .get("FifoQueue")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let fifo = name.ends_with(".fifo");
        if !valid_queue_name(name, fifo) || (fifo_attr && !fifo) {
            return Err(ApiError::invalid_parameter(
                "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length",
            ));
        }
        let mut queues = self.queues.write().unwrap_or_else(|e| e.into_inner());
        if let Some(q) = queues.get(name) {
            let g = q.lock();
            let differs = attrs.iter().any(|(k, v)| {
                let cur = g
                    .attrs
                    .raw
                    .get(k)
                    .cloned()
                    .or_else(|| default_attr_value(k).map(str::to_string));
                cur.as_deref() != Some(v.as_str())
            });
            if differs {
                return Err(ApiError::queue_name_exists(name));
            }
            return Ok(json!({"QueueUrl": q.url}));
        }
        let mut a = QueueAttrs::default();
        a.apply(&attrs, fifo, true)?;
        if let (Some(r), Some(raw)) = (&a.redrive, attrs.get("RedrivePolicy")) {
            self.check_redrive(&queues, name, fifo, raw, r)?;
        }
        let created = self.now() / 1000;
        let inc = crate::util::random_u64();
        let q = self.new_queue(name, inc, a, tags.clone(), created);
        self.log(&[Record::Queue {
            name: name.to_string(),
            inc,
            attrs: q.lock().attrs.raw.clone(),
            tags,
            created,
        }])?;
        let url = q.url.clone();
        queues.insert(name.to_string(), q);
        Ok(json!({"QueueUrl": url}))
    }

    fn get_queue_url(&self, input: &Value) -> Result<Value, ApiError> {
        let name = req_str(input, "QueueName")?;
        let q = self
            .get_queue(name)
            .ok_or_else(ApiError::queue_does_not_exist)?;
        Ok(json!({"QueueUrl": q.url}))
    }

    fn list_queues(&self, input: &Value) -> Result<Value, ApiError> {
        let prefix = get_str(input, "QueueNamePrefix").unwrap_or("");
        let max = get_int(input, "MaxResults")?;
        if let Some(m) = max {
            if !(1..=1000).contains(&m) {
                return Err(ApiError::invalid_parameter(
                    "Value for parameter MaxResults is invalid. Reason: MaxResults must be an integer between 1 and 1000.",
                ));
            }
        }
        let after = get_str(input, "NextToken").unwrap_or("");
        let queues = self.queues.read().unwrap_or_else(|e| e.into_inner());
        let mut names: Vec<&String> = queues
            .keys()
            .filter(|n| n.starts_with(prefix) && n.as_str() > after)
            .collect();
        names.sort();
        let limit = max.unwrap_or(1000) as usize;
        let more = names.len() > limit;
        names.truncate(limit);
        let mut out = Map::new();
        if !names.is_empty() {
            out.insert(
                "QueueUrls".into(),
                Value::Array(
                    names
                        .iter()
                        .map(|n| Value::String(queues[*n].url.clone()))
                        .collect(),
                ),
            );
        }
        if more && max.is_some() {
            out.insert(
                "NextToken".into(),
                Value::String(names.last().map(|s| s.to_string()).unwrap_or_default()),
            );
        }
        Ok(Value::Object(out))
    }

    fn delete_queue(&self, input: &Value) -> Result<Value, ApiError> {
        let q = self.queue_by_url(req_str(input, "QueueUrl")?)?;
        let mut queues = self.queues.write().unwrap_or_else(|e| e.into_inner());
        let _g = q.lock();
        self.log(&[Record::DeleteQueue {
            name: q.name.clone(),
            inc: q.incarnation,
        }])?;
        queues.remove(&q.name);
        q.notify.notify_waiters();
        Ok(json!({}))
    }

    fn queue_attributes(&self, q: &Queue, g: &QueueInner) -> BTreeMap<&'static str, String> {
        let mut m = BTreeMap::new();
        let a = &g.attrs;
        m.insert("QueueArn", q.arn.clone());
        m.insert("ApproximateNumberOfMessages", g.n_ready.to_string());
        m.insert(
            "ApproximateNumberOfMessagesNotVisible",
            g.n_inflight.to_string(),
        );
        m.insert(
            "ApproximateNumberOfMessagesDelayed",
            g.n_delayed.to_string(),
        );
        m.insert("CreatedTimestamp", g.created_s.to_string());
        m.insert("LastModifiedTimestamp", g.modified_s.to_string());
        m.insert("VisibilityTimeout", a.visibility_timeout.to_string());
        m.insert("MaximumMessageSize", a.max_size.to_string());
        m.insert("MessageRetentionPeriod", a.retention.to_string());
        m.insert("DelaySeconds", a.delay.to_string());
        m.insert("ReceiveMessageWaitTimeSeconds", a.wait.to_string());
        m.insert(
            "SqsManagedSseEnabled",
            a.raw
                .get("SqsManagedSseEnabled")
                .cloned()
                .unwrap_or_else(|| "true".into()),
        );
        for k in [
            "Policy",
            "RedrivePolicy",
            "RedriveAllowPolicy",
            "KmsMasterKeyId",
            "KmsDataKeyReusePeriodSeconds",
        ] {
            if let Some(v) = a.raw.get(k) {
                m.insert(k, v.clone());
            }
        }
        if q.fifo {
            m.insert("FifoQueue", "true".into());
            m.insert(
                "ContentBasedDeduplication",
                a.content_based_dedup.to_string(),
            );
            m.insert(
                "DeduplicationScope",
                a.raw
                    .get("DeduplicationScope")
                    .cloned()
                    .unwrap_or_else(|| "queue".into()),
            );
            m.insert(
                "FifoThroughputLimit",
                a.raw
                    .get("FifoThroughputLimit")
                    .cloned()
                    .unwrap_or_else(|| "perQueue".into()),
            );
        }
        m
    }

    fn get_queue_attributes(&self, input: &Value) -> Result<Value, ApiError> {
        let q = self.queue_by_url(req_str(input, "QueueUrl")?)?;
        let names = str_list(input, "AttributeNames");
        let mut g = q.lock();
        g.tick(self.now());
        let all = self.queue_attributes(&q, &g);
        let mut out = Map::new();
        for n in &names {
            if n == "All" {
                for (k, v) in &all {
                    out.insert(k.to_string(), Value::String(v.clone()));
                }
            } else if let Some(v) = all.get(n.as_str()) {
                out.insert(n.clone(), Value::String(v.clone()));
            } else if !KNOWN_ATTRS.contains(&n.as_str()) {
                return Err(ApiError::invalid_attribute_name(n));
            }
        }
        if out.is_empty() {
            return Ok(json!({}));
        }
        Ok(json!({ "Attributes": out }))
    }

    fn set_queue_attributes(&self, input: &Value) -> Result<Value, ApiError> {
        let q = self.queue_by_url(req_str(input, "QueueUrl")?)?;
        let attrs = str_map(input, "Attributes");
        // A redrive policy is checked and applied under the queue map's write lock (taken
        // before the queue's: the lock order), so that two concurrent changes can not close
        // a cycle together.
        let mut redrive_lock = None;
        if let Some(raw) = attrs.get("RedrivePolicy") {
            if let Some(r) = crate::queue::parse_redrive(raw)? {
                let queues = self.queues.write().unwrap_or_else(|e| e.into_inner());
                self.check_redrive(&queues, &q.name, q.fifo, raw, &r)?;
                redrive_lock = Some(queues);
            }
        }
        let mut g = q.lock();
        let mut a = g.attrs.clone();
        a.apply(&attrs, q.fifo, false)?;
        self.log(&[Record::Queue {
            name: q.name.clone(),
            inc: q.incarnation,
            attrs: a.raw.clone(),
            tags: g.tags.clone(),
            created: g.created_s,
        }])?;
        g.attrs = a;
        g.modified_s = self.now() / 1000;
        drop(g);
        drop(redrive_lock);
        q.notify.notify_waiters();
        Ok(json!({}))
    }

    /// Rejects a redrive policy that would strand messages: a queue as its own dead-letter
    /// queue, a dead-letter queue of the other type (FIFO / standard), or a chain of existing
    /// queues' redrive policies that leads back to this queue.
    fn check_redrive(
        &self,
        queues: &HashMap<String, Arc<Queue>>,
        name: &str,
        fifo: bool,
        raw: &str,
        r: &crate::queue::Redrive,
    ) -> Result<(), ApiError> {
        let own = self.queue_arn(name);
        let bad = |reason: String| {
            ApiError::invalid_parameter(format!(
                "Value {raw} for parameter RedrivePolicy is invalid. Reason: {reason}"
            ))
        };
        if r.target_arn == own {
            return Err(bad(format!(
                "A queue can not be its own dead-letter queue ({own})."
            )));
        }
        let arn_name = |arn: &str| arn.rsplit(':').next().unwrap_or("").to_string();
        if arn_name(&r.target_arn).ends_with(".fifo") != fifo {
            return Err(bad(
                "The dead-letter queue of a FIFO queue must also be a FIFO queue, and the dead-letter queue of a standard queue must also be a standard queue.".into(),
            ));
        }
        let mut path = vec![name.to_string()];
        let mut cur = r.target_arn.clone();
        while path.len() <= queues.len() + 1 {
            path.push(arn_name(&cur));
            if cur == own {
                return Err(bad(format!(
                    "Dead-letter queues can not form a cycle: {}.",
                    path.join(" -> ")
                )));
            }
            let Some(next) = queues
                .get(&arn_name(&cur))
                .filter(|q| q.arn == cur)
                .and_then(|q| {
                    q.lock()
                        .attrs
                        .redrive
                        .as_ref()
                        .map(|r| r.target_arn.clone())
                })
            else {
                return Ok(());
            };
            cur = next;
        }
        Ok(())
    }

    fn purge_queue(&self, input: &Value) -> Result<Value, ApiError> {
        let q = self.queue_by_url(req_str(input, "QueueUrl")?)?;
        let mut g = q.lock();
        let upto = self.seq.load(Ordering::Relaxed);
        self.log(&[Record::Purge {
            q: q.name.clone(),
            inc: q.incarnation,
            upto,
        }])?;
        g.purge();
        Ok(json!({}))
    }

    /// Sends one message (used by SendMessage, SNS delivery and tests).
    pub fn send(&self, q: &Queue, nm: NewMessage) -> Result<SendResult, ApiError> {
        let now = self.now();
        let mut g = q.lock();
        g.tick(now);
        g.next_seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let r = g.send(q.fifo, nm, now, crate::util::uuid_u128())?;
        if let Some(m) = &r.stored {
            let rec = Record::Send {
                q: q.name.clone(),
                inc: q.incarnation,
                m: to_stored(m),
            };
            if let Err(e) = self.log(&[rec]) {
                g.remove(m.seq);
                return Err(e);
            }
        }
        drop(g);
        q.notify.notify_waiters();
        Ok(r)
    }

    fn new_message(e: &Value) -> Result<NewMessage, ApiError> {
        let delay = get_int(e, "DelaySeconds")?;
        if let Some(d) = delay {
            if !(0..=900).contains(&d) {
                return Err(ApiError::invalid_parameter(format!(
                    "Value {d} for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900."
                )));
            }
        }
        Ok(NewMessage {
            body: get_str(e, "MessageBody").unwrap_or("").to_string(),
            attrs: parse_message_attributes(e)?,
            delay: delay.map(|d| d as u32),
            group: get_str(e, "MessageGroupId").map(str::to_string),
            dedup_id: get_str(e, "MessageDeduplicationId").map(str::to_string),
        })
    }

    fn send_result_json(r: &SendResult) -> Map<String, Value> {
        let mut o = Map::new();
        o.insert("MessageId".into(), Value::String(r.message_id.clone()));
        o.insert("MD5OfMessageBody".into(), Value::String(r.md5_body.clone()));
        if let Some(m) = &r.md5_attrs {
            o.insert("MD5OfMessageAttributes".into(), Value::String(m.clone()));
        }
        if let Some(s) = &r.sequence_number {
            o.insert("SequenceNumber".into(), Value::String(s.clone()));
        }
        o
    }

    fn send_message(&self, input: &Value) -> Result<Value, ApiError> {
        let q = self.queue_by_url(req_str(input, "QueueUrl")?)?;
        if input.get("MessageBody").is_none() {
            return Err(ApiError::missing_parameter("MessageBody"));
        }
        let nm = Self::new_message(input)?;
        let r = self.send(&q, nm)?;
        Ok(Value::Object(Self::send_result_json(&r)))
    }

    fn send_message_batch(&self, input: &Value) -> Result<Value, ApiError> {
        let q = self.queue_by_url(req_str(input, "QueueUrl")?)?;
        let entries = batch_entries(input, "Entries")?;
        let max = q.lock().attrs.max_size;
        let total: usize = entries
            .iter()
            .map(|e| {
                get_str(e, "MessageBody").map_or(0, str::len)
                    + parse_message_attributes(e)
                        .map(|a| crate::queue::message_size("", &a))
                        .unwrap_or(0)
            })
            .sum();
        if total > max {
            return Err(ApiError::batch_request_too_long(max));
        }
        let now = self.now();
        let mut ok = Vec::new();
        let mut failed = Vec::new();
        let mut records = Vec::new();
        let mut g = q.lock();
        g.tick(now);
        for e in &entries {
            let id = get_str(e, "Id").unwrap_or("");
            let r = Self::new_message(e).and_then(|nm| {
                g.next_seq = self.seq.fetch_add(1, Ordering::Relaxed);
                g.send(q.fifo, nm, now, crate::util::uuid_u128())
            });
            match r {
                Ok(r) => {
                    if let Some(m) = &r.stored {
                        records.push((
                            m.seq,
                            Record::Send {
                                q: q.name.clone(),
                                inc: q.incarnation,
                                m: to_stored(m),
                            },
                        ));
                    }
                    let mut o = Self::send_result_json(&r);
                    o.insert("Id".into(), Value::String(id.to_string()));
                    ok.push(Value::Object(o));
                }
                Err(e) => failed.push(failed_entry(id, &e)),
            }
        }
        let recs: Vec<Record> = records.iter().map(|(_, r)| r.clone()).collect();
        if let Err(e) = self.log(&recs) {
            for (seq, _) in &records {
                g.remove(*seq);
            }
            return Err(e);
        }
        drop(g);
        q.notify.notify_waiters();
        Ok(json!({"Successful": ok, "Failed": failed}))
    }

    async fn receive_message(self: &Arc<Self>, input: &Value) -> Result<Value, ApiError> {
        let q = self.queue_by_url(req_str(input, "QueueUrl")?)?;
        let max = get_int(input, "MaxNumberOfMessages")?.unwrap_or(1);
        if !(1..=10).contains(&max) {
            return Err(ApiError::invalid_parameter(format!(
                "Value {max} for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided."
            )));
        }
        let vis_in = get_int(input, "VisibilityTimeout")?;
        if let Some(v) = vis_in {
            if !(0..=43_200).contains(&v) {
                return Err(ApiError::invalid_parameter(format!(
                    "Value {v} for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200, if provided."
                )));
            }
        }
        let wait_in = get_int(input, "WaitTimeSeconds")?;
        if let Some(w) = wait_in {
            if !(0..=20).contains(&w) {
                return Err(ApiError::invalid_parameter(format!(
                    "Value {w} for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided."
                )));
            }
        }
        let mut sys_names = str_list(input, "AttributeNames");
        sys_names.extend(str_list(input, "MessageSystemAttributeNames"));
        let attr_names = str_list(input, "MessageAttributeNames");
        let (wait, vis) = {
            let g = q.lock();
            (
                wait_in.map_or(g.attrs.wait, |w| w as u32),
                vis_in.map_or(g.attrs.visibility_timeout, |v| v as u32),
            )
        };
        let deadline = self.now() + wait as u64 * 1000;
        loop {
            let notified = q.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let (got, next_timer) = self.receive_once(&q, max as usize, vis)?;
            let now = self.now();
            if !got.is_empty() || now >= deadline || self.get_queue(&q.name).is_none() {
                let msgs: Vec<Value> = got
                    .iter()
                    .map(|r| received_json(r, &sys_names, &attr_names))
                    .collect();
                if msgs.is_empty() {
                    return Ok(json!({}));
                }
                return Ok(json!({ "Messages": msgs }));
            }
            let until = next_timer.map_or(deadline, |t| t.clamp(now + 1, deadline));
            let _ =
                tokio::time::timeout(std::time::Duration::from_millis(until - now), notified).await;
        }
    }

    /// One receive attempt: takes messages, moves dead ones to the DLQ, applies the
    /// duplicate anomaly. Returns the messages and the next timer deadline.
    fn receive_once(
        &self,
        q: &Arc<Queue>,
        max: usize,
        vis: u32,
    ) -> Result<(Vec<Received>, Option<u64>), ApiError> {
        let now = self.now();
        let anomalous = self.any_anomaly.load(Ordering::Acquire);
        // Resolve the dead-letter queue before taking the queue lock (lock order: the
        // queue map before any queue). Without an existing DLQ nothing is dead-lettered.
        let target = q
            .lock()
            .attrs
            .redrive
            .as_ref()
            .map(|r| r.target_arn.clone());
        let dlq = target.as_deref().and_then(|a| self.queue_by_arn(a));
        let mut g = q.lock();
        let can_dlq = dlq.is_some()
            && g.attrs.redrive.as_ref().map(|r| r.target_arn.as_str()) == target.as_deref();
        let (got, dead) = if anomalous && !q.fifo {
            g.receive(max, vis, now, q.incarnation, can_dlq, |n| {
                self.with_anomaly(&q.name, |a| a.pick(n)).unwrap_or(0)
            })
        } else {
            g.receive(max, vis, now, q.incarnation, can_dlq, |_| 0)
        };
        if !got.is_empty() && self.wal.is_some() {
            let rec = Record::Received {
                q: q.name.clone(),
                inc: q.incarnation,
                seqs: got.iter().map(|r| r.msg.seq).collect(),
            };
            if let Err(e) = self.log(&[rec]) {
                tracing::warn!("receive counts not logged: {e}");
            }
        }
        if anomalous && !q.fifo {
            for r in &got {
                if self.with_anomaly(&q.name, |a| a.duplicate()) == Some(true) {
                    let mut copy = r.msg.clone();
                    copy.seq = self.seq.fetch_add(1, Ordering::Relaxed);
                    copy.deadline = 0;
                    copy.receipt_gen = 0;
                    g.insert(copy, now);
                }
            }
        }
        let mut moved = Vec::new();
        if !dead.is_empty() {
            let mut recs = Vec::new();
            for mut m in dead {
                recs.push(Record::Delete {
                    q: q.name.clone(),
                    inc: q.incarnation,
                    seq: m.seq,
                });
                if let Some(d) = &dlq {
                    m.seq = self.seq.fetch_add(1, Ordering::Relaxed);
                    m.set_dlq_source(Some(q.arn.clone()));
                    m.dlq_base = m.recv_count;
                    m.deadline = 0;
                    m.receipt_gen = 0;
                    recs.push(Record::Send {
                        q: d.name.clone(),
                        inc: d.incarnation,
                        m: to_stored(&m),
                    });
                    moved.push(m);
                }
            }
            // Both halves of each move in one write: a crash keeps the message somewhere.
            self.log(&recs)?;
            let next = g.next_deadline();
            drop(g);
            if let Some(d) = dlq {
                let mut dg = d.lock();
                for m in moved {
                    dg.insert(m, now);
                }
                drop(dg);
                d.notify.notify_waiters();
            }
            return Ok((got, next));
        }
        let next = g.next_deadline();
        Ok((got, next))
    }

    fn delete_one(&self, q: &Queue, g: &mut QueueInner, handle: &str) -> Result<(), ApiError> {
        if let Some(seq) = g.delete(q.incarnation, handle)? {
            self.log(&[Record::Delete {
                q: q.name.clone(),
                inc: q.incarnation,
                seq,
            }])?;
        }
        Ok(())
    }

    fn delete_message(&self, input: &Value) -> Result<Value, ApiError> {
        let q = self.queue_by_url(req_str(input, "QueueUrl")?)?;
        let h = req_str(input, "ReceiptHandle")?;
        let mut g = q.lock();
        self.delete_one(&q, &mut g, h)?;
        drop(g);
        if q.fifo {
            // A delete can unlock a message group: wake long pollers.
            q.notify.notify_waiters();
        }
        Ok(json!({}))
    }

    fn delete_message_batch(&self, input: &Value) -> Result<Value, ApiError> {
        let q = self.queue_by_url(req_str(input, "QueueUrl")?)?;
        let entries = batch_entries(input, "Entries")?;
        let mut ok = Vec::new();
        let mut failed = Vec::new();
        let mut recs = Vec::new();
        let mut g = q.lock();
        for e in &entries {
            let id = get_str(e, "Id").unwrap_or("");
            let h = get_str(e, "ReceiptHandle").unwrap_or("");
            match g.delete(q.incarnation, h) {
                Ok(seq) => {
                    if let Some(seq) = seq {
                        recs.push(Record::Delete {
                            q: q.name.clone(),
                            inc: q.incarnation,
                            seq,
                        });
                    }
                    ok.push(json!({"Id": id}));
                }
                Err(e) => failed.push(failed_entry(id, &e)),
            }
        }
        self.log(&recs)?;
        drop(g);
        if q.fifo {
            q.notify.notify_waiters();
        }
        Ok(json!({"Successful": ok, "Failed": failed}))
    }

    fn change_visibility(&self, input: &Value) -> Result<Value, ApiError> {
        let q = self.queue_by_url(req_str(input, "QueueUrl")?)?;
        let h = req_str(input, "ReceiptHandle")?;
        let t = get_int(input, "VisibilityTimeout")?
            .ok_or_else(|| ApiError::missing_parameter("VisibilityTimeout"))?;
        if !(0..=43_200).contains(&t) {
            return Err(ApiError::invalid_parameter(format!(
                "Value {t} for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200, if provided."
            )));
        }
        let woke = q
            .lock()
            .change_visibility(q.incarnation, h, t as u32, self.now())?;
        if woke {
            q.notify.notify_waiters();
        }
        Ok(json!({}))
    }

    fn change_visibility_batch(&self, input: &Value) -> Result<Value, ApiError> {
        let q = self.queue_by_url(req_str(input, "QueueUrl")?)?;
        let entries = batch_entries(input, "Entries")?;
        let mut ok = Vec::new();
        let mut failed = Vec::new();
        let mut woke = false;
        let now = self.now();
        let mut g = q.lock();
        for e in &entries {
            let id = get_str(e, "Id").unwrap_or("");
            let h = get_str(e, "ReceiptHandle").unwrap_or("");
            let r = get_int(e, "VisibilityTimeout").and_then(|t| {
                let t = t.unwrap_or(0);
                if !(0..=43_200).contains(&t) {
                    return Err(ApiError::invalid_parameter(format!(
                        "Value {t} for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200, if provided."
                    )));
                }
                g.change_visibility(q.incarnation, h, t as u32, now)
            });
            match r {
                Ok(w) => {
                    woke |= w;
                    ok.push(json!({"Id": id}));
                }
                Err(e) => failed.push(failed_entry(id, &e)),
            }
        }
        drop(g);
        if woke {
            q.notify.notify_waiters();
        }
        Ok(json!({"Successful": ok, "Failed": failed}))
    }

    fn list_dlq_sources(&self, input: &Value) -> Result<Value, ApiError> {
        let q = self.queue_by_url(req_str(input, "QueueUrl")?)?;
        let queues: Vec<Arc<Queue>> = self
            .queues
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        let mut urls: Vec<String> = queues
            .iter()
            .filter(|s| {
                s.lock()
                    .attrs
                    .redrive
                    .as_ref()
                    .is_some_and(|r| r.target_arn == q.arn)
            })
            .map(|s| s.url.clone())
            .collect();
        urls.sort();
        Ok(json!({ "queueUrls": urls }))
    }

    fn tag_queue(&self, input: &Value) -> Result<Value, ApiError> {
        let q = self.queue_by_url(req_str(input, "QueueUrl")?)?;
        let tags = str_map(input, "Tags");
        let mut g = q.lock();
        let mut t = g.tags.clone();
        t.extend(tags);
        if t.len() > 50 {
            return Err(ApiError::invalid_parameter(
                "Too many tags added for queue.",
            ));
        }
        self.log(&[Record::Queue {
            name: q.name.clone(),
            inc: q.incarnation,
            attrs: g.attrs.raw.clone(),
            tags: t.clone(),
            created: g.created_s,
        }])?;
        g.tags = t;
        Ok(json!({}))
    }

    fn untag_queue(&self, input: &Value) -> Result<Value, ApiError> {
        let q = self.queue_by_url(req_str(input, "QueueUrl")?)?;
        let keys = str_list(input, "TagKeys");
        let mut g = q.lock();
        let mut t = g.tags.clone();
        for k in keys {
            t.remove(&k);
        }
        self.log(&[Record::Queue {
            name: q.name.clone(),
            inc: q.incarnation,
            attrs: g.attrs.raw.clone(),
            tags: t.clone(),
            created: g.created_s,
        }])?;
        g.tags = t;
        Ok(json!({}))
    }

    fn list_queue_tags(&self, input: &Value) -> Result<Value, ApiError> {
        let q = self.queue_by_url(req_str(input, "QueueUrl")?)?;
        let g = q.lock();
        if g.tags.is_empty() {
            return Ok(json!({}));
        }
        Ok(json!({ "Tags": g.tags }))
    }

    // ---------------- message move tasks ----------------

    fn start_move_task(self: &Arc<Self>, input: &Value) -> Result<Value, ApiError> {
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

    async fn run_move_task(self: Arc<Self>, task: Arc<MoveTask>, src: Arc<Queue>) {
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

    fn list_move_tasks(&self, input: &Value) -> Result<Value, ApiError> {
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

    fn cancel_move_task(&self, input: &Value) -> Result<Value, ApiError> {
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

const KNOWN_ATTRS: &[&str] = &[
    "All",
    "Policy",
    "VisibilityTimeout",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
    "QueueArn",
    "ApproximateNumberOfMessagesDelayed",
    "DelaySeconds",
    "ReceiveMessageWaitTimeSeconds",
    "RedrivePolicy",
    "FifoQueue",
    "ContentBasedDeduplication",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "DeduplicationScope",
    "FifoThroughputLimit",
    "RedriveAllowPolicy",
    "SqsManagedSseEnabled",
];

fn default_attr_value(k: &str) -> Option<&'static str> {
    Some(match k {
        "VisibilityTimeout" => "30",
        "DelaySeconds" => "0",
        "MessageRetentionPeriod" => "345600",
        "MaximumMessageSize" => "1048576",
        "ReceiveMessageWaitTimeSeconds" => "0",
        "FifoQueue" => "true",
        "ContentBasedDeduplication" => "false",
        _ => return None,
    })
}

fn wants(names: &[String], n: &str) -> bool {
    names.iter().any(|x| x == "All" || x == n)
}

fn received_json(r: &Received, sys: &[String], attr_names: &[String]) -> Value {
    let m = &r.msg;
    let mut o = Map::new();
    o.insert(
        "MessageId".into(),
        Value::String(crate::util::format_uuid(m.id)),
    );
    o.insert(
        "ReceiptHandle".into(),
        Value::String(r.receipt_handle.clone()),
    );
    o.insert(
        "MD5OfBody".into(),
        Value::String(crate::util::md5_hex(m.body.as_bytes())),
    );
    o.insert("Body".into(), Value::String(m.body.clone()));
    let mut a = Map::new();
    let mut put = |k: &str, v: String| {
        if wants(sys, k) {
            a.insert(k.into(), Value::String(v));
        }
    };
    put("SenderId", "AIDAIENQZJOLO23YVJ4VO".into());
    put("SentTimestamp", m.sent_ms.to_string());
    put("ApproximateReceiveCount", m.recv_count.to_string());
    put(
        "ApproximateFirstReceiveTimestamp",
        m.first_recv_ms.to_string(),
    );
    if let Some(g) = m.group() {
        put("MessageGroupId", g.clone());
        if let Some(d) = m.dedup_id() {
            put("MessageDeduplicationId", d.clone());
        }
        put("SequenceNumber", seq_number_string(m.seq));
    }
    if let Some(s) = m.dlq_source() {
        put("DeadLetterQueueSourceArn", s.clone());
    }
    if !a.is_empty() {
        o.insert("Attributes".into(), Value::Object(a));
    }
    let selected: BTreeMap<String, AttrValue> = m
        .attrs()
        .iter()
        .filter(|(k, _)| {
            attr_names.iter().any(|n| {
                n == "All"
                    || n == ".*"
                    || n == *k
                    || n.strip_suffix(".*").is_some_and(|p| k.starts_with(p))
            })
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if let Some(md5) = crate::util::md5_of_attributes(&selected) {
        o.insert("MD5OfMessageAttributes".into(), Value::String(md5));
        o.insert("MessageAttributes".into(), attrs_to_json(&selected));
    }
    Value::Object(o)
}
