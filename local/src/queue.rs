//! One SQS queue: its messages and the structures that keep every operation's cost
//! independent of the queue's depth.
//!
//! * `messages`: seq -> message (the only place a body lives).
//! * standard queues: `ready`, a deque of seqs ready to be received (entries whose
//!   message was deleted or changed state are skipped lazily).
//! * FIFO queues: `groups`, one deque per MessageGroupId holding the group's messages in
//!   order (in-flight ones stay at its head, which locks the group), and `ready_groups`,
//!   the groups that can be served now.
//! * `timers`: a min-heap of (deadline, seq, timer generation) for delays and visibility
//!   timeouts, validated lazily.
//! * `by_sent`: seqs in send order, to expire messages past the retention period.

use crate::error::ApiError;
use crate::util::{md5_hex, md5_of_attributes, now_ms, AttrValue};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, VecDeque};

pub const DEFAULT_MAX_SIZE: usize = 1_048_576;
pub const DEDUP_WINDOW_MS: u64 = 5 * 60 * 1000;

#[derive(Debug, Clone, PartialEq)]
pub struct Redrive {
    pub target_arn: String,
    pub max_receive: u32,
}

/// Typed view of the queue attributes (the raw map is kept for echoing them back).
#[derive(Debug, Clone)]
pub struct QueueAttrs {
    pub visibility_timeout: u32,
    pub delay: u32,
    pub retention: u32,
    pub max_size: usize,
    pub wait: u32,
    pub redrive: Option<Redrive>,
    pub content_based_dedup: bool,
    pub raw: BTreeMap<String, String>,
}

impl Default for QueueAttrs {
    fn default() -> Self {
        QueueAttrs {
            visibility_timeout: 30,
            delay: 0,
            retention: 345_600,
            max_size: DEFAULT_MAX_SIZE,
            wait: 0,
            redrive: None,
            content_based_dedup: false,
            raw: BTreeMap::new(),
        }
    }
}

fn parse_int(name: &str, v: &str, lo: u64, hi: u64) -> Result<u64, ApiError> {
    let n: u64 = v.trim().parse().map_err(|_| {
        ApiError::invalid_attribute_value(format!("Invalid value for the parameter {name}."))
    })?;
    if n < lo || n > hi {
        return Err(ApiError::invalid_attribute_value(format!(
            "Invalid value for the parameter {name}."
        )));
    }
    Ok(n)
}

pub fn parse_redrive(v: &str) -> Result<Option<Redrive>, ApiError> {
    if v.trim().is_empty() {
        return Ok(None);
    }
    let bad = || {
        ApiError::invalid_attribute_value(format!(
            "Value {v} for parameter RedrivePolicy is invalid. Reason: Redrive policy is not a valid JSON map."
        ))
    };
    let j: serde_json::Value = serde_json::from_str(v).map_err(|_| bad())?;
    let target = j
        .get("deadLetterTargetArn")
        .and_then(|x| x.as_str())
        .ok_or_else(|| {
            ApiError::invalid_attribute_value(
                "Value for parameter RedrivePolicy is invalid. Reason: Redrive policy does not contain mandatory attribute: deadLetterTargetArn.",
            )
        })?;
    let max = match j.get("maxReceiveCount") {
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        Some(serde_json::Value::String(s)) => s.parse().ok(),
        _ => None,
    }
    .filter(|n| (1..=1000).contains(n))
    .ok_or_else(|| {
        ApiError::invalid_attribute_value(
            "Value for parameter RedrivePolicy is invalid. Reason: Invalid value for maxReceiveCount: must be an integer from 1 to 1000.",
        )
    })?;
    Ok(Some(Redrive {
        target_arn: target.to_string(),
        max_receive: max as u32,
    }))
}

pub const SETTABLE_ATTRS: &[&str] = &[
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "Policy",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "RedrivePolicy",
    "RedriveAllowPolicy",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "SqsManagedSseEnabled",
    "FifoQueue",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
];

impl QueueAttrs {
    /// Applies attributes (validated). `creating` allows FifoQueue.
    pub fn apply(
        &mut self,
        attrs: &BTreeMap<String, String>,
        fifo: bool,
        creating: bool,
    ) -> Result<(), ApiError> {
        for (k, v) in attrs {
            match k.as_str() {
                "DelaySeconds" => self.delay = parse_int(k, v, 0, 900)? as u32,
                "MaximumMessageSize" => self.max_size = parse_int(k, v, 1024, 1_048_576)? as usize,
                "MessageRetentionPeriod" => self.retention = parse_int(k, v, 60, 1_209_600)? as u32,
                "ReceiveMessageWaitTimeSeconds" => self.wait = parse_int(k, v, 0, 20)? as u32,
                "VisibilityTimeout" => self.visibility_timeout = parse_int(k, v, 0, 43_200)? as u32,
                "RedrivePolicy" => self.redrive = parse_redrive(v)?,
                "ContentBasedDeduplication" => {
                    if !fifo {
                        return Err(ApiError::invalid_attribute_name(k));
                    }
                    self.content_based_dedup = v.eq_ignore_ascii_case("true");
                }
                "FifoQueue" => {
                    let want = v.eq_ignore_ascii_case("true");
                    if !creating && want != fifo {
                        return Err(ApiError::invalid_attribute_value(
                            "Invalid value for the parameter FifoQueue. Reason: Modifying queue type is not supported.",
                        ));
                    }
                    if creating && want != fifo {
                        return Err(ApiError::invalid_parameter(
                            "The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length.",
                        ));
                    }
                }
                "DeduplicationScope" | "FifoThroughputLimit" if !fifo => {
                    return Err(ApiError::invalid_attribute_name(k))
                }
                other if SETTABLE_ATTRS.contains(&other) => {}
                other => return Err(ApiError::invalid_attribute_name(other)),
            }
            if k == "RedrivePolicy" && v.trim().is_empty() {
                self.raw.remove(k);
            } else {
                self.raw.insert(k.clone(), v.clone());
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MsgState {
    Delayed,
    Ready,
    InFlight,
}

#[derive(Debug, Clone)]
pub struct Msg {
    pub seq: u64,
    /// MessageId (a UUID kept as 16 bytes).
    pub id: u128,
    pub body: String,
    /// Attributes, FIFO ids, DLQ source: boxed, absent for a plain message.
    pub extra: Option<Box<MsgExtra>>,
    pub sent_ms: u64,
    pub first_recv_ms: u64,
    pub recv_count: u32,
    /// `recv_count` when the message was moved here by redrive: only the receives in this
    /// queue count toward its own maxReceiveCount, so a message moved to a dead-letter queue
    /// can always be received there (even if redrive policies form a cycle).
    pub dlq_base: u32,
    pub state: MsgState,
    pub receipt_gen: u32,
    pub timer_gen: u32,
    pub deadline: u64,
}

/// The parts of a message that most messages do not have.
#[derive(Debug, Clone, Default)]
pub struct MsgExtra {
    pub attrs: BTreeMap<String, AttrValue>,
    pub group: Option<String>,
    pub dedup_id: Option<String>,
    /// ARN of the queue this message came from when it was moved here by redrive.
    pub dlq_source: Option<String>,
    /// The `AWSTraceHeader` system attribute.
    pub trace_header: Option<String>,
}

static NO_ATTRS: BTreeMap<String, AttrValue> = BTreeMap::new();

impl MsgExtra {
    /// `None` when there is nothing to keep.
    pub fn boxed(self) -> Option<Box<MsgExtra>> {
        let empty = self.attrs.is_empty()
            && self.group.is_none()
            && self.dedup_id.is_none()
            && self.dlq_source.is_none()
            && self.trace_header.is_none();
        (!empty).then(|| Box::new(self))
    }
}

impl Msg {
    pub fn attrs(&self) -> &BTreeMap<String, AttrValue> {
        self.extra.as_ref().map_or(&NO_ATTRS, |e| &e.attrs)
    }
    pub fn group(&self) -> Option<&String> {
        self.extra.as_ref().and_then(|e| e.group.as_ref())
    }
    pub fn dedup_id(&self) -> Option<&String> {
        self.extra.as_ref().and_then(|e| e.dedup_id.as_ref())
    }
    pub fn dlq_source(&self) -> Option<&String> {
        self.extra.as_ref().and_then(|e| e.dlq_source.as_ref())
    }
    pub fn trace_header(&self) -> Option<&String> {
        self.extra.as_ref().and_then(|e| e.trace_header.as_ref())
    }
    /// Receives in the queue that holds the message (see `dlq_base`).
    pub fn receives_here(&self) -> u32 {
        self.recv_count.saturating_sub(self.dlq_base)
    }
    pub fn set_dlq_source(&mut self, src: Option<String>) {
        let e = self.extra.take().map(|b| *b).unwrap_or_default();
        self.extra = MsgExtra {
            dlq_source: src,
            ..e
        }
        .boxed();
    }
}

/// What a sender asks to enqueue.
#[derive(Debug, Clone, Default)]
pub struct NewMessage {
    pub body: String,
    pub attrs: BTreeMap<String, AttrValue>,
    pub delay: Option<u32>,
    pub group: Option<String>,
    pub dedup_id: Option<String>,
    /// The `AWSTraceHeader` system attribute the sender set (X-Ray's trace context).
    pub trace_header: Option<String>,
}

#[derive(Debug, Clone)]
pub struct SendResult {
    pub message_id: String,
    pub md5_body: String,
    pub md5_attrs: Option<String>,
    pub sequence_number: Option<String>,
    /// The stored message, when one was stored (not for a deduplicated send).
    pub stored: Option<Msg>,
}

/// A message handed to a receiver.
#[derive(Debug, Clone)]
pub struct Received {
    pub receipt_handle: String,
    pub msg: Msg,
}

#[derive(Debug, Default)]
struct Group {
    msgs: VecDeque<u64>,
    inflight: usize,
    queued: bool,
}

pub struct QueueInner {
    pub fifo: bool,
    pub attrs: QueueAttrs,
    pub tags: BTreeMap<String, String>,
    pub created_s: u64,
    pub modified_s: u64,
    pub next_seq: u64,
    pub messages: HashMap<u64, Box<Msg>>,
    ready: VecDeque<u64>,
    groups: HashMap<String, Group>,
    ready_groups: VecDeque<String>,
    timers: BinaryHeap<Reverse<(u64, u64, u32)>>,
    by_sent: VecDeque<(u64, u64)>,
    dedup: HashMap<String, (u64, String, String)>,
    dedup_order: VecDeque<(u64, String)>,
    pub n_ready: usize,
    pub n_inflight: usize,
    pub n_delayed: usize,
}

pub struct Queue {
    pub name: String,
    pub arn: String,
    pub url: String,
    pub fifo: bool,
    pub incarnation: u64,
    pub notify: tokio::sync::Notify,
    pub inner: std::sync::Mutex<QueueInner>,
    /// Traffic since this queue was created (or the endpoint started): `GET /_mega/stats`.
    pub counters: Counters,
}

/// Messages accepted (SendMessage, SendMessageBatch, SNS deliveries), handed out by ReceiveMessage, and
/// deleted, since the queue was created in this process. Not persisted; moves (dead-lettering, redrive)
/// are not counted.
#[derive(Default, Debug)]
pub struct Counters {
    pub sent: std::sync::atomic::AtomicU64,
    pub received: std::sync::atomic::AtomicU64,
    pub deleted: std::sync::atomic::AtomicU64,
}

impl Counters {
    pub fn add(counter: &std::sync::atomic::AtomicU64, n: u64) {
        counter.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    }

    /// `(sent, received, deleted)`.
    pub fn read(&self) -> (u64, u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (
            self.sent.load(Relaxed),
            self.received.load(Relaxed),
            self.deleted.load(Relaxed),
        )
    }
}

pub fn seq_number_string(seq: u64) -> String {
    format!("{:020}", 18_000_000_000_000_000_000u128 + seq as u128)
}

pub fn receipt_handle(inc: u64, seq: u64, gen: u32) -> String {
    // Opaque to clients; looks random enough and carries what we need to find the message.
    let mix = (seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ inc).rotate_left(17) as u32;
    format!("AQE{inc:016x}{seq:016x}{gen:08x}{mix:08x}")
}

pub fn parse_receipt_handle(h: &str) -> Option<(u64, u64, u32)> {
    let rest = h.strip_prefix("AQE")?;
    if rest.len() != 48 || !rest.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let inc = u64::from_str_radix(&rest[0..16], 16).ok()?;
    let seq = u64::from_str_radix(&rest[16..32], 16).ok()?;
    let gen = u32::from_str_radix(&rest[32..40], 16).ok()?;
    let mix = u32::from_str_radix(&rest[40..48], 16).ok()?;
    if mix != (seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ inc).rotate_left(17) as u32 {
        return None;
    }
    Some((inc, seq, gen))
}

/// Characters SQS accepts in a message body.
pub fn valid_body(s: &str) -> bool {
    s.chars().all(|c| {
        matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
    })
}

pub fn message_size(body: &str, attrs: &BTreeMap<String, AttrValue>) -> usize {
    let mut n = body.len();
    for (k, v) in attrs {
        n += k.len() + v.data_type.len();
        n += v.string_value.as_ref().map_or(0, |s| s.len());
        n += v.binary_value.as_ref().map_or(0, |b| b.len());
    }
    n
}

impl QueueInner {
    pub fn new(
        fifo: bool,
        attrs: QueueAttrs,
        tags: BTreeMap<String, String>,
        created_s: u64,
    ) -> Self {
        QueueInner {
            fifo,
            attrs,
            tags,
            created_s,
            modified_s: created_s,
            next_seq: 1,
            messages: HashMap::new(),
            ready: VecDeque::new(),
            groups: HashMap::new(),
            ready_groups: VecDeque::new(),
            timers: BinaryHeap::new(),
            by_sent: VecDeque::new(),
            dedup: HashMap::new(),
            dedup_order: VecDeque::new(),
            n_ready: 0,
            n_inflight: 0,
            n_delayed: 0,
        }
    }

    /// Earliest pending timer deadline (may be stale; only used to bound waits).
    pub fn next_deadline(&self) -> Option<u64> {
        self.timers.peek().map(|Reverse((d, _, _))| *d)
    }

    fn make_ready(&mut self, seq: u64, front: bool) {
        let Some(m) = self.messages.get_mut(&seq) else {
            return;
        };
        match m.state {
            MsgState::Delayed => self.n_delayed -= 1,
            MsgState::InFlight => self.n_inflight -= 1,
            MsgState::Ready => return,
        }
        let was_inflight = m.state == MsgState::InFlight;
        m.state = MsgState::Ready;
        self.n_ready += 1;
        match m.group().cloned() {
            None => {
                if front {
                    self.ready.push_front(seq)
                } else {
                    self.ready.push_back(seq)
                }
            }
            Some(g) => {
                let grp = self.groups.entry(g.clone()).or_default();
                if was_inflight {
                    grp.inflight -= 1;
                } else {
                    // A delayed FIFO message joins its group now.
                    grp.msgs.push_back(seq);
                }
                if grp.inflight == 0 && !grp.msgs.is_empty() && !grp.queued {
                    grp.queued = true;
                    if front {
                        self.ready_groups.push_front(g)
                    } else {
                        self.ready_groups.push_back(g)
                    }
                }
            }
        }
    }

    /// Applies due timers and retention expiry. Returns true if something became ready.
    pub fn tick(&mut self, now: u64) -> bool {
        let mut woke = false;
        while let Some(Reverse((d, seq, gen))) = self.timers.peek().copied() {
            if d > now {
                break;
            }
            self.timers.pop();
            let valid = self
                .messages
                .get(&seq)
                .is_some_and(|m| m.timer_gen == gen && m.state != MsgState::Ready);
            if valid {
                self.make_ready(seq, true);
                woke = true;
            }
        }
        let retention_ms = self.attrs.retention as u64 * 1000;
        while let Some(&(sent, seq)) = self.by_sent.front() {
            if sent + retention_ms > now {
                break;
            }
            self.by_sent.pop_front();
            self.remove(seq);
        }
        while let Some((exp, _)) = self.dedup_order.front() {
            if *exp > now {
                break;
            }
            let (_, id) = self.dedup_order.pop_front().unwrap();
            if self.dedup.get(&id).is_some_and(|(e, _, _)| *e <= now) {
                self.dedup.remove(&id);
            }
        }
        woke
    }

    /// Drops index entries of removed messages once they outnumber the live ones, so that
    /// memory stays proportional to the messages held (amortized O(1) per removal).
    fn compact_indexes(&mut self) {
        let live = self.messages.len();
        if self.by_sent.len() > 2 * live + 1024 {
            let msgs = &self.messages;
            self.by_sent.retain(|(_, s)| msgs.contains_key(s));
        }
        let timed = self.n_inflight + self.n_delayed;
        if self.timers.len() > 2 * timed + 1024 {
            let msgs = &self.messages;
            self.timers.retain(|Reverse((_, s, g))| {
                msgs.get(s)
                    .is_some_and(|m| m.timer_gen == *g && m.state != MsgState::Ready)
            });
        }
        if self.ready.len() > 2 * self.n_ready + 1024 {
            let msgs = &self.messages;
            let mut seen = std::collections::HashSet::new();
            self.ready.retain(|s| {
                msgs.get(s).is_some_and(|m| m.state == MsgState::Ready) && seen.insert(*s)
            });
        }
    }

    /// Removes a message whatever its state. Returns it if it existed.
    pub fn remove(&mut self, seq: u64) -> Option<Msg> {
        let m = self.remove_inner(seq)?;
        self.compact_indexes();
        Some(m)
    }

    fn remove_inner(&mut self, seq: u64) -> Option<Msg> {
        let m = *self.messages.remove(&seq)?;
        match m.state {
            MsgState::Delayed => self.n_delayed -= 1,
            MsgState::Ready => self.n_ready -= 1,
            MsgState::InFlight => self.n_inflight -= 1,
        }
        if let Some(g) = m.group() {
            if m.state != MsgState::Delayed {
                let mut unlock = false;
                let mut empty = false;
                if let Some(grp) = self.groups.get_mut(g) {
                    if let Some(pos) = grp.msgs.iter().position(|s| *s == seq) {
                        grp.msgs.remove(pos);
                    }
                    if m.state == MsgState::InFlight {
                        grp.inflight -= 1;
                        unlock = grp.inflight == 0 && !grp.msgs.is_empty() && !grp.queued;
                        if unlock {
                            grp.queued = true;
                        }
                    }
                    empty = grp.msgs.is_empty() && grp.inflight == 0;
                }
                if unlock {
                    self.ready_groups.push_front(g.clone());
                }
                if empty {
                    self.groups.remove(g);
                }
            }
        }
        Some(m)
    }

    /// Inserts a stored message (new send, replay, redrive, move task).
    pub fn insert(&mut self, mut m: Msg, now: u64) {
        let seq = m.seq;
        if seq >= self.next_seq {
            self.next_seq = seq + 1;
        }
        self.by_sent.push_back((m.sent_ms, seq));
        let delayed_until = m.deadline;
        m.timer_gen = m.timer_gen.wrapping_add(1);
        let gen = m.timer_gen;
        if delayed_until > now {
            m.state = MsgState::Delayed;
            self.n_delayed += 1;
            self.timers.push(Reverse((delayed_until, seq, gen)));
            self.messages.insert(seq, Box::new(m));
        } else {
            m.state = MsgState::Delayed;
            self.n_delayed += 1;
            self.messages.insert(seq, Box::new(m));
            self.make_ready(seq, false);
        }
    }

    /// Validates and enqueues a new message.
    pub fn send(
        &mut self,
        q_fifo: bool,
        nm: NewMessage,
        now: u64,
        id: u128,
    ) -> Result<SendResult, ApiError> {
        let message_id = crate::util::format_uuid(id);
        if nm.body.is_empty() {
            return Err(ApiError::missing_parameter("MessageBody"));
        }
        if !valid_body(&nm.body) {
            return Err(ApiError::invalid_message_contents());
        }
        if message_size(&nm.body, &nm.attrs) > self.attrs.max_size {
            return Err(ApiError::message_too_long(self.attrs.max_size));
        }
        if nm.attrs.len() > 10 {
            return Err(ApiError::invalid_parameter(format!(
                "Number of message attributes [{}] exceeds the allowed maximum [10].",
                nm.attrs.len()
            )));
        }
        for (k, v) in &nm.attrs {
            let base = v.data_type.split('.').next().unwrap_or("");
            if !matches!(base, "String" | "Number" | "Binary") {
                return Err(ApiError::invalid_parameter(format!(
                    "The type of message (user) attribute '{k}' is invalid. You must use only the following supported type prefixes: Binary, Number, String."
                )));
            }
            let has_value = if base == "Binary" {
                v.binary_value.is_some()
            } else {
                v.string_value.as_ref().is_some_and(|s| !s.is_empty())
            };
            if !has_value {
                return Err(ApiError::invalid_parameter(format!(
                    "The message attribute '{k}' must contain non-empty message attribute value for message attribute type '{base}'."
                )));
            }
            if base == "Number"
                && crate::util::check_number(v.string_value.as_deref().unwrap_or("")).is_err()
            {
                return Err(ApiError::invalid_parameter(format!(
                    "Can't cast the value of message (user) attribute '{k}' to a number."
                )));
            }
        }
        let md5_body = md5_hex(nm.body.as_bytes());
        let md5_attrs = md5_of_attributes(&nm.attrs);
        let mut dedup_id = None;
        let mut dedup_key: Option<String> = None;
        if q_fifo {
            if nm.delay.is_some_and(|d| d > 0) {
                return Err(ApiError::invalid_parameter(
                    "Value 1 for parameter DelaySeconds is invalid. Reason: The request include parameter that is not valid for this queue type.",
                ));
            }
            if nm.group.as_deref().is_none_or(str::is_empty) {
                return Err(ApiError::missing_parameter("MessageGroupId"));
            }
            let id = match &nm.dedup_id {
                Some(d) => d.clone(),
                None if self.attrs.content_based_dedup => {
                    crate::util::sha256_hex(nm.body.as_bytes())
                }
                None => {
                    return Err(ApiError::invalid_parameter(
                        "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly",
                    ))
                }
            };
            // Deduplication is per queue, or per message group with
            // DeduplicationScope=messageGroup (high-throughput FIFO).
            let key = if self.attrs.raw.get("DeduplicationScope").map(String::as_str)
                == Some("messageGroup")
            {
                format!("{}\u{0}{id}", nm.group.as_deref().unwrap_or(""))
            } else {
                id.clone()
            };
            if let Some((exp, mid, sn)) = self.dedup.get(&key) {
                if *exp > now {
                    return Ok(SendResult {
                        message_id: mid.clone(),
                        md5_body,
                        md5_attrs,
                        sequence_number: Some(sn.clone()),
                        stored: None,
                    });
                }
            }
            dedup_key = Some(key);
            dedup_id = Some(id);
        } else {
            if nm.dedup_id.is_some() {
                return Err(ApiError::invalid_parameter(
                    "The request include parameter MessageDeduplicationId that is not valid for this queue type",
                ));
            }
            if let Some(d) = nm.delay {
                if d > 900 {
                    return Err(ApiError::invalid_parameter(format!(
                        "Value {d} for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900."
                    )));
                }
            }
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let delay = nm.delay.unwrap_or(self.attrs.delay) as u64;
        let sequence_number = q_fifo.then(|| seq_number_string(seq));
        if let (Some(id), Some(sn)) = (&dedup_key, &sequence_number) {
            let exp = now + DEDUP_WINDOW_MS;
            self.dedup
                .insert(id.clone(), (exp, message_id.clone(), sn.clone()));
            self.dedup_order.push_back((exp, id.clone()));
        }
        let m = Msg {
            seq,
            id,
            body: nm.body,
            extra: MsgExtra {
                attrs: nm.attrs,
                group: if q_fifo { nm.group } else { None },
                dedup_id,
                dlq_source: None,
                trace_header: nm.trace_header,
            }
            .boxed(),
            sent_ms: now,
            first_recv_ms: 0,
            recv_count: 0,
            dlq_base: 0,
            state: MsgState::Delayed,
            receipt_gen: 0,
            timer_gen: 0,
            deadline: if delay > 0 { now + delay * 1000 } else { 0 },
        };
        let stored = m.clone();
        self.insert(m, now);
        Ok(SendResult {
            message_id,
            md5_body,
            md5_attrs,
            sequence_number,
            stored: Some(stored),
        })
    }

    fn take_inflight(&mut self, seq: u64, now: u64, vis: u32, inc: u64) -> Received {
        let m = self.messages.get_mut(&seq).expect("ready message exists");
        m.state = MsgState::InFlight;
        m.recv_count += 1;
        if m.first_recv_ms == 0 {
            m.first_recv_ms = now;
        }
        m.receipt_gen = m.receipt_gen.wrapping_add(1);
        m.timer_gen = m.timer_gen.wrapping_add(1);
        m.deadline = now + vis as u64 * 1000;
        self.timers.push(Reverse((m.deadline, seq, m.timer_gen)));
        self.n_ready -= 1;
        self.n_inflight += 1;
        Received {
            receipt_handle: receipt_handle(inc, seq, m.receipt_gen),
            msg: (**m).clone(),
        }
    }

    /// Receives up to `max` messages. Messages past maxReceiveCount are removed and
    /// returned in the second vector for the caller to move to the dead-letter queue.
    /// `pick` (anomaly injection) may choose a later ready message instead of the first.
    pub fn receive(
        &mut self,
        max: usize,
        vis: u32,
        now: u64,
        inc: u64,
        can_dead_letter: bool,
        mut pick: impl FnMut(usize) -> usize,
    ) -> (Vec<Received>, Vec<Msg>) {
        self.tick(now);
        let mut out = Vec::new();
        let mut dead = Vec::new();
        let max_recv = self
            .attrs
            .redrive
            .as_ref()
            .filter(|_| can_dead_letter)
            .map(|r| r.max_receive);
        while out.len() < max {
            if !self.fifo {
                let Some(seq) = self.pop_ready(&mut pick) else {
                    break;
                };
                if let Some(mr) = max_recv {
                    if self.messages[&seq].receives_here() >= mr {
                        if let Some(m) = self.remove(seq) {
                            dead.push(m);
                        }
                        continue;
                    }
                }
                out.push(self.take_inflight(seq, now, vis, inc));
            } else {
                let Some(g) = self.ready_groups.pop_front() else {
                    break;
                };
                let Some(grp) = self.groups.get_mut(&g) else {
                    continue;
                };
                grp.queued = false;
                if grp.inflight > 0 {
                    continue;
                }
                let seqs: Vec<u64> = grp.msgs.iter().copied().collect();
                let mut taken = 0;
                for seq in seqs {
                    if out.len() >= max {
                        break;
                    }
                    if self.messages.get(&seq).map(|m| m.state) != Some(MsgState::Ready) {
                        break;
                    }
                    if let Some(mr) = max_recv {
                        if self.messages[&seq].receives_here() >= mr {
                            if let Some(m) = self.remove(seq) {
                                dead.push(m);
                            }
                            continue;
                        }
                    }
                    if let Some(grp) = self.groups.get_mut(&g) {
                        grp.inflight += 1;
                    }
                    out.push(self.take_inflight(seq, now, vis, inc));
                    taken += 1;
                }
                if taken == 0 {
                    // nothing taken (all dead-lettered): re-queue if anything left
                    if let Some(grp) = self.groups.get_mut(&g) {
                        if grp.inflight == 0 && !grp.msgs.is_empty() && !grp.queued {
                            grp.queued = true;
                            self.ready_groups.push_back(g);
                        }
                    }
                }
            }
        }
        (out, dead)
    }

    fn pop_ready(&mut self, pick: &mut impl FnMut(usize) -> usize) -> Option<u64> {
        loop {
            let len = self.ready.len();
            if len == 0 {
                return None;
            }
            let i = pick(len.min(16));
            if i > 0 && i < len {
                self.ready.swap(0, i);
            }
            let seq = self.ready.pop_front()?;
            if self
                .messages
                .get(&seq)
                .is_some_and(|m| m.state == MsgState::Ready)
            {
                return Some(seq);
            }
        }
    }

    /// Deletes by receipt handle. Ok(Some(seq)) if a message was removed.
    pub fn delete(&mut self, inc: u64, handle: &str) -> Result<Option<u64>, ApiError> {
        let (hinc, seq, gen) =
            parse_receipt_handle(handle).ok_or_else(|| ApiError::receipt_handle_invalid(handle))?;
        if hinc != inc {
            return Err(ApiError::receipt_handle_invalid(handle));
        }
        let current = self
            .messages
            .get(&seq)
            .is_some_and(|m| m.receipt_gen == gen && m.state != MsgState::Delayed);
        if current {
            self.remove(seq);
            return Ok(Some(seq));
        }
        Ok(None)
    }

    pub fn change_visibility(
        &mut self,
        inc: u64,
        handle: &str,
        timeout: u32,
        now: u64,
    ) -> Result<bool, ApiError> {
        if timeout > 43_200 {
            return Err(ApiError::invalid_parameter(format!(
                "Value {timeout} for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200, if provided."
            )));
        }
        let (hinc, seq, gen) =
            parse_receipt_handle(handle).ok_or_else(|| ApiError::receipt_handle_invalid(handle))?;
        if hinc != inc {
            return Err(ApiError::receipt_handle_invalid(handle));
        }
        self.tick(now);
        let Some(m) = self.messages.get_mut(&seq) else {
            return Err(ApiError::invalid_parameter(format!(
                "Value {handle} for parameter ReceiptHandle is invalid. Reason: Message does not exist or is not available for visibility timeout change."
            )));
        };
        if m.receipt_gen != gen || m.state != MsgState::InFlight {
            return Err(ApiError::message_not_inflight());
        }
        m.timer_gen = m.timer_gen.wrapping_add(1);
        m.deadline = now + timeout as u64 * 1000;
        if timeout == 0 {
            self.make_ready(seq, true);
            return Ok(true);
        }
        self.timers.push(Reverse((m.deadline, seq, m.timer_gen)));
        Ok(false)
    }

    pub fn purge(&mut self) -> u64 {
        self.messages.clear();
        self.ready.clear();
        self.groups.clear();
        self.ready_groups.clear();
        self.timers.clear();
        self.by_sent.clear();
        self.n_ready = 0;
        self.n_inflight = 0;
        self.n_delayed = 0;
        self.next_seq
    }

    /// Removes up to `n` ready messages (for message move tasks), oldest first.
    pub fn take_ready(&mut self, n: usize, now: u64) -> Vec<Msg> {
        self.tick(now);
        let mut out = Vec::new();
        while out.len() < n {
            let seq = if !self.fifo {
                match self.pop_ready(&mut |_| 0) {
                    Some(s) => s,
                    None => break,
                }
            } else {
                let Some(g) = self.ready_groups.front().cloned() else {
                    break;
                };
                match self
                    .groups
                    .get(&g)
                    .and_then(|grp| grp.msgs.front().copied())
                {
                    Some(s) if self.messages.get(&s).map(|m| m.state) == Some(MsgState::Ready) => s,
                    _ => {
                        self.ready_groups.pop_front();
                        if let Some(grp) = self.groups.get_mut(&g) {
                            grp.queued = false;
                        }
                        continue;
                    }
                }
            };
            // make it "in flight" for remove() bookkeeping of standard queues' lazy deque
            if let Some(m) = self.remove(seq) {
                out.push(m);
            }
        }
        out
    }
}

impl Queue {
    pub fn new(
        name: String,
        arn: String,
        url: String,
        fifo: bool,
        incarnation: u64,
        inner: QueueInner,
    ) -> Self {
        Queue {
            name,
            arn,
            url,
            fifo,
            incarnation,
            notify: tokio::sync::Notify::new(),
            inner: std::sync::Mutex::new(inner),
            counters: Counters::default(),
        }
    }

    pub fn lock(&self) -> std::sync::MutexGuard<'_, QueueInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub fn now() -> u64 {
    now_ms()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(fifo: bool) -> QueueInner {
        QueueInner::new(fifo, QueueAttrs::default(), BTreeMap::new(), 0)
    }

    fn send(q: &mut QueueInner, body: &str, now: u64) {
        let nm = NewMessage {
            body: body.into(),
            group: q.fifo.then(|| "g".to_string()),
            dedup_id: q.fifo.then(|| body.to_string()),
            trace_header: None,
            ..Default::default()
        };
        let fifo = q.fifo;
        q.send(fifo, nm, now, 1).unwrap();
    }

    #[test]
    fn indexes_stay_proportional_to_live_messages_under_churn() {
        for fifo in [false, true] {
            let mut q = q(fifo);
            let now = 1_000_000;
            for i in 0..20_000 {
                send(&mut q, &format!("m{i}"), now);
                let (got, _) = q.receive(1, 30, now, 9, false, |_| 0);
                let h = &got[0].receipt_handle;
                assert_eq!(q.delete(9, h).unwrap(), Some(got[0].msg.seq));
            }
            assert!(q.messages.is_empty());
            assert!(q.by_sent.len() <= 1024 + 1, "by_sent {}", q.by_sent.len());
            assert!(q.timers.len() <= 1024 + 1, "timers {}", q.timers.len());
            assert_eq!((q.n_ready, q.n_inflight, q.n_delayed), (0, 0, 0));
        }
    }

    #[test]
    fn receipt_handles_round_trip_and_reject_tampering() {
        let h = receipt_handle(7, 42, 3);
        assert_eq!(parse_receipt_handle(&h), Some((7, 42, 3)));
        let mut t = h.clone();
        t.replace_range(20..21, if &h[20..21] == "0" { "1" } else { "0" });
        assert_eq!(parse_receipt_handle(&t), None);
        assert_eq!(parse_receipt_handle("garbage"), None);
    }

    #[test]
    fn deduplication_scope_message_group() {
        let mut a = QueueAttrs::default();
        let mut attrs = BTreeMap::new();
        attrs.insert("DeduplicationScope".to_string(), "messageGroup".to_string());
        a.apply(&attrs, true, true).unwrap();
        let mut q = QueueInner::new(true, a, BTreeMap::new(), 0);
        let mut send = |g: &str| {
            let nm = NewMessage {
                body: "b".into(),
                group: Some(g.into()),
                dedup_id: Some("same".into()),
                trace_header: None,
                ..Default::default()
            };
            q.send(true, nm, 0, 1).unwrap().stored.is_some()
        };
        assert!(send("g1"));
        assert!(send("g2"), "another group: not a duplicate");
        assert!(!send("g1"), "same group: duplicate");
    }

    #[test]
    fn retention_expiry_uses_the_clock_it_is_given() {
        let mut q = q(false);
        send(&mut q, "old", 0);
        send(&mut q, "new", 30_000);
        q.tick(345_600_000 + 1);
        assert_eq!(q.messages.len(), 1);
        assert_eq!(q.n_ready, 1);
    }
}
