//! Queues: lookup, CreateQueue, GetQueueUrl, ListQueues, DeleteQueue, queue attributes and
//! redrive policies, PurgeQueue, dead-letter sources and tags.

use super::Engine;
use crate::durable::Record;
use crate::error::ApiError;
use crate::queue::{Queue, QueueAttrs, QueueInner};
use crate::wire::{get_int, get_str, req_str, str_list, str_map};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::Arc;

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

impl Engine {
    pub(super) fn new_queue(
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

    pub fn get_queue(&self, name: &str) -> Option<Arc<Queue>> {
        self.queues
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    /// Every queue's traffic counters (`GET /_mega/stats`): name -> (sent, received, deleted).
    pub fn queue_counters(&self) -> BTreeMap<String, (u64, u64, u64)> {
        self.queues
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(name, q)| (name.clone(), q.counters.read()))
            .collect()
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

    pub(super) fn create_queue(&self, input: &Value) -> Result<Value, ApiError> {
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

    pub(super) fn get_queue_url(&self, input: &Value) -> Result<Value, ApiError> {
        let name = req_str(input, "QueueName")?;
        let q = self
            .get_queue(name)
            .ok_or_else(ApiError::queue_does_not_exist)?;
        Ok(json!({"QueueUrl": q.url}))
    }

    pub(super) fn list_queues(&self, input: &Value) -> Result<Value, ApiError> {
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

    pub(super) fn delete_queue(&self, input: &Value) -> Result<Value, ApiError> {
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

    pub(super) fn queue_attributes(
        &self,
        q: &Queue,
        g: &QueueInner,
    ) -> BTreeMap<&'static str, String> {
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

    pub(super) fn get_queue_attributes(&self, input: &Value) -> Result<Value, ApiError> {
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

    pub(super) fn set_queue_attributes(&self, input: &Value) -> Result<Value, ApiError> {
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
    pub(super) fn check_redrive(
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

    pub(super) fn purge_queue(&self, input: &Value) -> Result<Value, ApiError> {
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

    pub(super) fn list_dlq_sources(&self, input: &Value) -> Result<Value, ApiError> {
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

    pub(super) fn tag_queue(&self, input: &Value) -> Result<Value, ApiError> {
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

    pub(super) fn untag_queue(&self, input: &Value) -> Result<Value, ApiError> {
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

    pub(super) fn list_queue_tags(&self, input: &Value) -> Result<Value, ApiError> {
        let q = self.queue_by_url(req_str(input, "QueueUrl")?)?;
        let g = q.lock();
        if g.tags.is_empty() {
            return Ok(json!({}));
        }
        Ok(json!({ "Tags": g.tags }))
    }

    // ---------------- message move tasks ----------------
}
