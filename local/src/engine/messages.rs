//! Messages: SendMessage(Batch), ReceiveMessage (long polling, redrive at
//! `maxReceiveCount`), DeleteMessage(Batch), ChangeMessageVisibility(Batch), and the JSON of a
//! received message.

use super::log::to_stored;
use super::Engine;
use crate::durable::Record;
use crate::error::ApiError;
use crate::queue::{
    seq_number_string, Counters, NewMessage, Queue, QueueInner, Received, SendResult,
};
use crate::util::AttrValue;
use crate::wire::{
    attrs_to_json, batch_entries, failed_entry, get_int, get_str, parse_message_attributes,
    parse_trace_header, req_str, str_list,
};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

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
    if let Some(t) = m.trace_header() {
        put("AWSTraceHeader", t.clone());
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

impl Engine {
    /// Sends one message (used by SendMessage, SNS delivery and tests).
    pub fn send(&self, q: &Queue, nm: NewMessage) -> Result<SendResult, ApiError> {
        let now = self.now();
        let mut g = q.lock();
        g.tick(now);
        g.next_seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let r = g.send(q.fifo, nm, now, crate::util::uuid_u128())?;
        if let Some(m) = &r.stored {
            Counters::add(&q.counters.sent, 1);
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

    pub(super) fn new_message(e: &Value) -> Result<NewMessage, ApiError> {
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
            trace_header: parse_trace_header(e)?,
        })
    }

    pub(super) fn send_result_json(r: &SendResult) -> Map<String, Value> {
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

    pub(super) fn send_message(&self, input: &Value) -> Result<Value, ApiError> {
        let q = self.queue_by_url(req_str(input, "QueueUrl")?)?;
        if input.get("MessageBody").is_none() {
            return Err(ApiError::missing_parameter("MessageBody"));
        }
        let nm = Self::new_message(input)?;
        let r = self.send(&q, nm)?;
        Ok(Value::Object(Self::send_result_json(&r)))
    }

    pub(super) fn send_message_batch(&self, input: &Value) -> Result<Value, ApiError> {
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
                        Counters::add(&q.counters.sent, 1);
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

    pub(super) async fn receive_message(
        self: &Arc<Self>,
        input: &Value,
    ) -> Result<Value, ApiError> {
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
    pub(super) fn receive_once(
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
        Counters::add(&q.counters.received, got.len() as u64);
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

    pub(super) fn delete_one(
        &self,
        q: &Queue,
        g: &mut QueueInner,
        handle: &str,
    ) -> Result<(), ApiError> {
        if let Some(seq) = g.delete(q.incarnation, handle)? {
            Counters::add(&q.counters.deleted, 1);
            self.log(&[Record::Delete {
                q: q.name.clone(),
                inc: q.incarnation,
                seq,
            }])?;
        }
        Ok(())
    }

    pub(super) fn delete_message(&self, input: &Value) -> Result<Value, ApiError> {
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

    pub(super) fn delete_message_batch(&self, input: &Value) -> Result<Value, ApiError> {
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
                        Counters::add(&q.counters.deleted, 1);
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

    pub(super) fn change_visibility(&self, input: &Value) -> Result<Value, ApiError> {
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

    pub(super) fn change_visibility_batch(&self, input: &Value) -> Result<Value, ApiError> {
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
}
