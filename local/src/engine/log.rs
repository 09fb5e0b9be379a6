//! The write-ahead log glue: replaying records at start, writing them, snapshots and
//! compaction, and the stored form of a message.

use super::Engine;
use crate::durable::{Record, StoredMsg};
use crate::error::ApiError;
use crate::queue::{Msg, MsgState, Queue, QueueAttrs, QueueInner};
use crate::util::now_ms;
use std::sync::atomic::Ordering;
use std::sync::Arc;

pub(super) fn to_stored(m: &Msg) -> StoredMsg {
    StoredMsg {
        seq: m.seq,
        id: crate::util::format_uuid(m.id),
        body: m.body.clone(),
        attrs: m.attrs().clone(),
        sent: m.sent_ms,
        group: m.group().cloned(),
        dedup: m.dedup_id().cloned(),
        dlq_src: m.dlq_source().cloned(),
        trace: m.trace_header().cloned(),
        visible_at: if m.state == MsgState::Delayed {
            m.deadline
        } else {
            0
        },
        recv: m.recv_count,
    }
}

pub(super) fn from_stored(s: StoredMsg) -> Msg {
    // A message that came by redrive gets a full maxReceiveCount here after a restart
    // (its receives before and after the move are not told apart in the log).
    let dlq_base = if s.dlq_src.is_some() { s.recv } else { 0 };
    Msg {
        seq: s.seq,
        id: crate::util::parse_uuid(&s.id).unwrap_or_else(crate::util::uuid_u128),
        body: s.body,
        extra: crate::queue::MsgExtra {
            attrs: s.attrs,
            group: s.group,
            dedup_id: s.dedup,
            dlq_source: s.dlq_src,
            trace_header: s.trace,
        }
        .boxed(),
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

impl Engine {
    pub(super) fn replay(&mut self, r: Record) {
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
    pub(super) fn snapshot_records(&self) -> Vec<Record> {
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
    pub(super) fn maybe_compact(self: &Arc<Self>) {
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
}
