//! The Rust half of the Node package `sqs-mega` (napi-rs). It owns conversions and nothing else: polling,
//! decoding, matching, retries and deletes are the core's, on the core's runtime; JavaScript runs only on
//! Node's own thread. Values cross as tagged JSON text (`{"$datetime": …}`, `{"$bytes": …}`,
//! `{"$decimal": …}`), made off the JS thread and read by one `JSON.parse` (`index.js` revives the tags).
//! Errors cross as `code\u{1f}message`, which `index.js` turns into the error class of the code's family.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use napi::bindgen_prelude::{Function, Promise};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::Status;
use napi_derive::napi;
use sqs_mega::aws::AwsSettings;
use sqs_mega::codec::{self, EncodeOptions};
use sqs_mega::error::{ErrorInfo, MegaError};
use sqs_mega::event::Payload;
use sqs_mega::json;
use sqs_mega::listen::{
    Handler, InMemoryCompletionStore, InvalidPolicy, ListenerConfig, ListenerError, Message,
    ProcessStatus, RawPolicy, RetryPolicy, SqsListener, StatsSnapshot, Subscriber, SubscriberKind,
    UnmatchedPolicy,
};
use sqs_mega::matcher::{self, Callbacks, Pattern, Syntax};
use sqs_mega::publish::{Attribute, BatchEntry, PublishOptions, Publisher};
use sqs_mega::trace::TraceContext;
use sqs_mega::{Content, Decoded, Map, Value};

type Result<T> = napi::Result<T>;

// ---------------------------------------------------------------------------------------------------------
// Errors

fn raise(code: &str, message: impl std::fmt::Display) -> napi::Error {
    napi::Error::from_reason(format!("{code}\u{1f}{message}"))
}

fn mega_error(e: &(impl MegaError + ?Sized)) -> napi::Error {
    let detail = e.detail().unwrap_or_default();
    raise(e.code(), format!("{e}\u{1f}{detail}"))
}

fn invalid(message: impl std::fmt::Display) -> napi::Error {
    raise("invalid_argument", message)
}

/// The core's error table: `[code, exception class, category, summary]` per entry.
#[napi]
pub fn error_table() -> Vec<Vec<String>> {
    sqs_mega::error::ALL
        .iter()
        .map(|e: &&ErrorInfo| {
            vec![
                e.code.to_owned(),
                e.family.exception().to_owned(),
                e.category.as_str().to_owned(),
                e.summary.to_owned(),
            ]
        })
        .collect()
}

fn runtime() -> Result<&'static tokio::runtime::Runtime> {
    sqs_mega::aws::runtime()
        .map_err(|e| raise("internal", format!("cannot start the runtime: {e}")))
}

/// Runs a future on the core's runtime (where the SDK clients live) and waits for it from napi's.
async fn on_core<T: Send + 'static>(
    f: impl std::future::Future<Output = T> + Send + 'static,
) -> Result<T> {
    runtime()?
        .spawn(f)
        .await
        .map_err(|e| raise("internal", format!("a task of the runtime failed: {e}")))
}

// ---------------------------------------------------------------------------------------------------------
// Values

fn parse_value(text: &str, what: &str) -> Result<Value> {
    let v = json::parse(text).map_err(|e| invalid(format!("{what}: {e}")))?;
    json::from_tagged(v).map_err(|e| invalid(format!("{what}: {e}")))
}

fn content_of(kind: &str, value_json: &str) -> Result<Content> {
    Ok(match kind {
        "mega" => match parse_value(value_json, "the event")? {
            Value::Map(m) => {
                Content::Mega(Box::new(Payload::from_map(&m).map_err(|e| mega_error(&e))?))
            }
            _ => return Err(invalid("a MEGA event must be an object")),
        },
        "data" => Content::Data(parse_value(value_json, "the data object")?),
        "plaintext" => match parse_value(value_json, "the text")? {
            Value::String(s) => Content::Plaintext(s),
            _ => return Err(invalid("plaintext must be a string")),
        },
        "binary" => match parse_value(value_json, "the bytes")? {
            Value::Bytes(b) => Content::Binary(b),
            _ => return Err(invalid("binary must be a Buffer or Uint8Array")),
        },
        other => return Err(invalid(format!("unknown payload kind {other}"))),
    })
}

/// The core's decode report (`Decoded::to_report`), with the SNS metadata in the Node shape: camelCase keys,
/// the timestamp a date-time (a JS `Date`), attributes as `{dataType, value}`.
fn decoded_value(decoded: &Decoded) -> Value {
    let mut report = decoded.to_report();
    if let (Some(s), Some(m)) = (&decoded.sns, report.as_map_mut()) {
        let mut d = Map::default();
        d.insert("type".into(), Value::from(s.message_type.as_str()));
        d.insert("messageId".into(), Value::from(s.message_id.as_str()));
        d.insert("topicArn".into(), Value::from(s.topic_arn.as_str()));
        d.insert(
            "subject".into(),
            s.subject.as_deref().map(Value::from).unwrap_or_default(),
        );
        d.insert("timestamp".into(), Value::DateTime(s.timestamp));
        let mut attrs = Map::default();
        for (k, a) in &s.message_attributes {
            let mut one = Map::default();
            one.insert("dataType".into(), Value::from(a.data_type.as_str()));
            one.insert("value".into(), Value::from(a.value.as_str()));
            attrs.insert(k.clone(), Value::Map(one));
        }
        d.insert("messageAttributes".into(), Value::Map(attrs));
        m.insert("sns".into(), Value::Map(d));
    }
    report
}

/// Decodes an SQS body: tagged JSON `{kind, encoding, payload, sns}`.
#[napi]
pub fn decode(
    body: napi::Either<String, napi::bindgen_prelude::Buffer>,
    encoding: Option<String>,
) -> Result<String> {
    let decoded = match &body {
        napi::Either::A(text) => codec::decode(text, encoding.as_deref()),
        napi::Either::B(bytes) => {
            codec::decode_bytes(bytes, encoding.as_deref(), &codec::DecodeOptions::default())
        }
    }
    .map_err(|e| mega_error(&e))?;
    Ok(json::to_tagged_string(&decoded_value(&decoded)))
}

/// Encodes a payload (`kind` and its tagged JSON): `[body, encoding]`.
#[napi]
pub fn encode(kind: String, value_json: String, binary_encoding: bool) -> Result<Vec<String>> {
    let content = content_of(&kind, &value_json)?;
    let options = EncodeOptions::default().with_binary_encoding(binary_encoding);
    let e = codec::encode(&content, &options).map_err(|e| mega_error(&e))?;
    Ok(vec![e.body, e.encoding.as_str().to_owned()])
}

/// Validates a MEGA event (tagged JSON): its canonical form, as tagged JSON.
#[napi]
pub fn validate_event(value_json: String) -> Result<String> {
    match parse_value(&value_json, "the event")? {
        Value::Map(m) => Ok(json::to_tagged_string(
            &Payload::from_map(&m)
                .map_err(|e| mega_error(&e))?
                .to_value(),
        )),
        _ => Err(invalid("a MEGA event must be an object")),
    }
}

// ---------------------------------------------------------------------------------------------------------
// Patterns

/// A JS predicate of a pattern, called with the value's tagged JSON; `index.js` wraps it so that it never
/// throws (a throw is `false`). Weak: it never keeps Node alive.
type Predicate = ThreadsafeFunction<String, bool, String, Status, false, true>;

/// How long the matcher waits for a JS predicate before counting it as no match.
const PREDICATE_TIMEOUT: Duration = Duration::from_secs(30);

fn callbacks(predicates: Vec<Function<'_, String, bool>>) -> Result<Callbacks> {
    let mut registry = Callbacks::default();
    for (i, f) in predicates.into_iter().enumerate() {
        let tsfn: Arc<Predicate> = Arc::new(
            f.build_threadsafe_function()
                .callee_handled::<false>()
                .weak::<true>()
                .build()?,
        );
        registry.insert(format!("js{i}"), move |value: &Value| {
            let text = json::to_tagged_string(value);
            let (tx, rx) = std::sync::mpsc::channel();
            let status = tsfn.call_with_return_value(
                text,
                ThreadsafeFunctionCallMode::NonBlocking,
                move |r: Result<bool>, _| {
                    let _ = tx.send(r.unwrap_or(false));
                    Ok(())
                },
            );
            if status != Status::Ok {
                return false;
            }
            // On a runtime worker, let the runtime move other tasks off this thread while it waits.
            let wait = || rx.recv_timeout(PREDICATE_TIMEOUT).unwrap_or(false);
            match tokio::runtime::Handle::try_current() {
                Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                    tokio::task::block_in_place(wait)
                }
                _ => wait(),
            }
        });
    }
    Ok(registry)
}

fn syntax_of(s: &str) -> Result<Syntax> {
    s.parse::<Syntax>().map_err(invalid)
}

/// A compiled pattern.
#[napi]
pub struct CompiledPattern {
    pattern: Pattern,
    has_predicates: bool,
}

#[napi]
impl CompiledPattern {
    /// Whether a value (tagged JSON) matches. Patterns with JS predicates must use `matchesAsync` (the
    /// predicate runs on this thread, which a synchronous call holds).
    #[napi]
    pub fn matches(&self, value_json: String) -> Result<bool> {
        if self.has_predicates {
            return Err(invalid(
                "this pattern calls JS functions: use await pattern.matchesAsync(value)",
            ));
        }
        Ok(self
            .pattern
            .matches(&parse_value(&value_json, "the value")?))
    }

    /// Whether a value matches, evaluated off the JS thread (JS predicates allowed).
    #[napi]
    pub async fn matches_async(&self, value_json: String) -> Result<bool> {
        let value = parse_value(&value_json, "the value")?;
        let pattern = self.pattern.clone();
        on_core(async move {
            tokio::task::spawn_blocking(move || pattern.matches(&value))
                .await
                .unwrap_or(false)
        })
        .await
    }

    /// Why a value does not match (`null` when it does).
    #[napi]
    pub fn explain(&self, value_json: String) -> Result<Option<String>> {
        if self.has_predicates {
            return Err(invalid(
                "this pattern calls JS functions: explain is not available",
            ));
        }
        Ok(self
            .pattern
            .explain(&parse_value(&value_json, "the value")?)
            .map(|e| e.to_string()))
    }
}

fn compile(
    text: &str,
    syntax: &str,
    predicates: Vec<Function<'_, String, bool>>,
) -> Result<(Pattern, bool)> {
    let has = !predicates.is_empty();
    let registry = callbacks(predicates)?;
    matcher::compile_pattern_json_with(text, syntax_of(syntax)?, &registry)
        .map(|p| (p, has))
        .map_err(|e| mega_error(&e))
}

/// Compiles a pattern of the JSON pattern format (what `index.js` makes of the helpers), `{"$fn": "jsN"}`
/// naming the N-th predicate.
#[napi]
pub fn compile_pattern(
    text: String,
    syntax: String,
    predicates: Vec<Function<'_, String, bool>>,
) -> Result<CompiledPattern> {
    let (pattern, has_predicates) = compile(&text, &syntax, predicates)?;
    Ok(CompiledPattern {
        pattern,
        has_predicates,
    })
}

// ---------------------------------------------------------------------------------------------------------
// Settings and publishers

/// Where and as whom to connect; unset fields come from the standard AWS chain.
#[napi(object)]
pub struct Settings {
    pub region: Option<String>,
    pub endpoint: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub session_token: Option<String>,
    pub profile: Option<String>,
}

fn aws_settings(s: Option<Settings>) -> Result<AwsSettings> {
    let mut out = AwsSettings::default();
    if let Some(s) = s {
        out.region = s.region;
        out.endpoint_url = s.endpoint;
        out.profile = s.profile;
        match (s.access_key_id, s.secret_access_key) {
            (Some(id), Some(secret)) => out = out.with_credentials(id, secret, s.session_token),
            (None, None) => {}
            _ => {
                return Err(invalid(
                    "credentials need both accessKeyId and secretAccessKey",
                ))
            }
        }
    }
    Ok(out)
}

fn publish_options(options_json: &str) -> Result<PublishOptions> {
    let v = parse_value(options_json, "the options")?;
    let m = match &v {
        Value::Map(m) => m,
        Value::Null => return Ok(PublishOptions::default()),
        _ => return Err(invalid("options must be an object")),
    };
    let mut o = PublishOptions::default();
    for (k, v) in m {
        match (k.as_str(), v) {
            (_, Value::Null) => {}
            ("binaryEncoding", Value::Bool(b)) => o.binary_encoding = *b,
            ("delaySeconds", v) => {
                o.delay_seconds = Some(
                    v.as_i64()
                        .and_then(|d| i32::try_from(d).ok())
                        .ok_or_else(|| invalid("delaySeconds must be an integer"))?,
                )
            }
            ("groupId", Value::String(s)) => o.group_id = Some(s.clone()),
            ("deduplicationId", Value::String(s)) => o.deduplication_id = Some(s.clone()),
            ("subject", Value::String(s)) => o.subject = Some(s.clone()),
            // The context given is sent as it is; the running handler's (index.js reads it from its
            // AsyncLocalStorage) is continued with a new span.
            ("traceparent", Value::String(s)) => {
                o.trace = Some(TraceContext::parse(s).map_err(|e| invalid(e.to_string()))?)
            }
            ("parentTrace", Value::String(s)) => {
                if o.trace.is_none() {
                    o.trace = TraceContext::parse(s).ok().map(|c| c.child());
                }
            }
            ("noTrace", Value::Bool(b)) => o.no_trace = *b,
            ("attributes", Value::Map(attrs)) => {
                for (name, a) in attrs {
                    let attribute = match a {
                        Value::String(s) => Attribute::string(s.clone()),
                        Value::Int(_) | Value::Float(_) | Value::Decimal(_) => {
                            Attribute::number(json::to_tagged_string(a))
                        }
                        Value::Bytes(b) => Attribute::binary(b.clone()),
                        Value::Map(t) => {
                            let data_type = t.get("dataType").and_then(Value::as_str);
                            let value = t.get("value");
                            match (data_type, value) {
                                (Some(dt), Some(Value::Bytes(b))) => {
                                    let mut x = Attribute::binary(b.clone());
                                    x.data_type = dt.to_owned();
                                    x
                                }
                                (Some(dt), Some(Value::String(s))) => {
                                    let mut x = Attribute::string(s.clone());
                                    x.data_type = dt.to_owned();
                                    x
                                }
                                _ => {
                                    return Err(invalid(format!(
                                        "message attribute {name}: give a string, a number, a Buffer or {{dataType, value}}"
                                    )))
                                }
                            }
                        }
                        _ => {
                            return Err(invalid(format!(
                                "message attribute {name}: give a string, a number, a Buffer or {{dataType, value}}"
                            )))
                        }
                    };
                    o = o.with_attribute(name.clone(), attribute);
                }
            }
            (other, _) => {
                return Err(invalid(format!(
                    "unknown or mistyped publish option {other}"
                )))
            }
        }
    }
    Ok(o)
}

/// A publisher to one queue (`target` `queue`) or topic (`topic`).
#[napi]
pub struct NativePublisher {
    inner: Publisher,
}

#[napi]
impl NativePublisher {
    #[napi(constructor)]
    pub fn new(settings: Option<Settings>, target: String, address: String) -> Result<Self> {
        let s = aws_settings(settings)?;
        let inner = match target.as_str() {
            "queue" => Publisher::queue(&s, address),
            "topic" => Publisher::topic(&s, address),
            other => return Err(invalid(format!("unknown target {other}"))),
        };
        Ok(NativePublisher { inner })
    }

    /// Publishes one payload: `[messageId, sequenceNumber]`.
    #[napi]
    pub async fn publish(
        &self,
        kind: String,
        value_json: String,
        options_json: String,
    ) -> Result<Vec<Option<String>>> {
        let content = content_of(&kind, &value_json)?;
        let options = publish_options(&options_json)?;
        let publisher = self.inner.clone();
        let p = on_core(async move { publisher.publish(content, &options).await })
            .await?
            .map_err(|e| mega_error(&e))?;
        Ok(vec![Some(p.message_id), p.sequence_number])
    }

    /// Publishes many `[kind, valueJson, optionsJson]` entries: one `[messageId, seq]` or
    /// `[null, "code\u{1f}message"]` per entry, in order.
    #[napi]
    pub async fn publish_batch(
        &self,
        entries: Vec<Vec<String>>,
    ) -> Result<Vec<Vec<Option<String>>>> {
        let mut batch = Vec::with_capacity(entries.len());
        for e in &entries {
            let [kind, value, options] = e.as_slice() else {
                return Err(invalid("a batch entry is [kind, value, options]"));
            };
            let mut entry = BatchEntry::new(content_of(kind, value)?);
            entry.options = publish_options(options)?;
            batch.push(entry);
        }
        let publisher = self.inner.clone();
        let results = on_core(async move { publisher.publish_batch(batch).await }).await?;
        Ok(results
            .into_iter()
            .map(|r| match r {
                Ok(p) => vec![Some(p.message_id), p.sequence_number],
                Err(e) => vec![
                    None,
                    Some(format!(
                        "{}\u{1f}{e}\u{1f}{}",
                        e.code(),
                        e.detail().unwrap_or_default()
                    )),
                ],
            })
            .collect())
    }
}

// ---------------------------------------------------------------------------------------------------------
// The listener

/// A subscriber's handler as `index.js` wraps it: called with one tagged-JSON text (payload and message),
/// it resolves to a status number (1 DONE … 4 RETRIABLE_ERROR) and never rejects. Weak: only the pending
/// `listen()` promise keeps Node alive.
type JsHandler = ThreadsafeFunction<String, Promise<u32>, String, Status, false, true>;

fn message_json(m: &Message) -> String {
    let mut d = Map::default();
    d.insert("messageId".into(), Value::from(m.message_id.as_str()));
    d.insert(
        "receiptHandle".into(),
        Value::from(m.receipt_handle.as_str()),
    );
    d.insert("body".into(), Value::from(m.body.as_str()));
    d.insert(
        "receiveCount".into(),
        Value::Int(i64::from(m.receive_count)),
    );
    d.insert(
        "groupId".into(),
        m.group_id.as_deref().map(Value::from).unwrap_or_default(),
    );
    d.insert(
        "sentAt".into(),
        m.sent_at.map(Value::DateTime).unwrap_or_default(),
    );
    let mut sys = Map::default();
    for (k, v) in &m.attributes {
        sys.insert(k.clone(), Value::from(v.as_str()));
    }
    d.insert("attributes".into(), Value::Map(sys));
    let mut attrs = Map::default();
    for (k, a) in &m.message_attributes {
        let mut one = Map::default();
        one.insert("dataType".into(), Value::from(a.data_type.as_str()));
        let value = match (&a.string_value, &a.binary_value) {
            (Some(s), _) => Value::from(s.as_str()),
            (None, Some(b)) => Value::Bytes(b.clone()),
            _ => Value::Null,
        };
        one.insert("value".into(), value);
        attrs.insert(k.clone(), Value::Map(one));
    }
    d.insert("messageAttributes".into(), Value::Map(attrs));
    let traceparent = m.trace.traceparent();
    let mut trace = Map::default();
    trace.insert("traceId".into(), Value::from(&traceparent[3..35]));
    trace.insert("spanId".into(), Value::from(&traceparent[36..52]));
    trace.insert("traceparent".into(), Value::from(traceparent.as_str()));
    trace.insert(
        "parent".into(),
        m.parent_trace
            .map(|p| Value::from(p.traceparent().as_str()))
            .unwrap_or_default(),
    );
    d.insert("trace".into(), Value::Map(trace));
    let mut out = match decoded_value(&m.decoded) {
        Value::Map(x) => x,
        _ => Map::default(),
    };
    out.insert("message".into(), Value::Map(d));
    json::to_tagged_string(&Value::Map(out))
}

/// `receive_calls` → `receiveCalls`.
fn camel_case(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn stats_json(s: &StatsSnapshot) -> String {
    let mut d = Map::default();
    for (k, v) in s.counters() {
        d.insert(camel_case(k), Value::Int(v as i64));
    }
    d.insert(
        "handlerP50Ms".into(),
        Value::Float(s.handler_p50.as_secs_f64() * 1e3),
    );
    d.insert(
        "handlerP99Ms".into(),
        Value::Float(s.handler_p99.as_secs_f64() * 1e3),
    );
    d.insert(
        "requestsPerMessage".into(),
        Value::Float(s.requests_per_message()),
    );
    json::to_tagged_string(&Value::Map(d))
}

/// Listener settings (camelCase, as `index.js` passes them).
#[napi(object)]
pub struct ListenerOptions {
    pub max_number_of_messages: Option<i32>,
    pub wait_time_seconds: Option<i32>,
    pub visibility_timeout: Option<i32>,
    pub pollers: Option<u32>,
    pub max_in_flight: Option<u32>,
    pub shutdown_grace_ms: Option<f64>,
    pub heartbeat: Option<bool>,
    pub retry_base_ms: Option<f64>,
    pub retry_max_ms: Option<f64>,
    pub unmatched: Option<String>,
    pub raw: Option<String>,
    pub invalid: Option<String>,
    pub completion_store_capacity: Option<u32>,
    /// A store URL (`memory`, `redis://…`, `dynamodb://TABLE`).
    pub completion_store: Option<String>,
    pub metrics_addr: Option<String>,
    /// The completion store's key: a dotted path into the payload.
    pub idempotency_key: Option<String>,
}

fn ms(v: f64, name: &str) -> Result<Duration> {
    Duration::try_from_secs_f64(v / 1e3)
        .map_err(|_| invalid(format!("{name} must be ≥ 0, not {v}")))
}

/// A listener of one queue.
#[napi]
pub struct NativeListener {
    listener: Mutex<Option<Arc<SqsListener>>>,
    running: Arc<AtomicBool>,
}

#[napi]
impl NativeListener {
    #[napi(constructor)]
    pub fn new(
        queue_url: String,
        settings: Option<Settings>,
        options: ListenerOptions,
    ) -> Result<Self> {
        let mut c = ListenerConfig::new(queue_url).with_handle_signals(false);
        if let Some(v) = options.max_number_of_messages {
            c = c.with_max_number_of_messages(v);
        }
        if let Some(v) = options.wait_time_seconds {
            c = c.with_wait_time_seconds(v);
        }
        c.visibility_timeout = options.visibility_timeout;
        if let Some(v) = options.pollers {
            c = c.with_pollers(v as usize);
        }
        if let Some(v) = options.max_in_flight {
            c = c.with_max_in_flight(v as usize);
        }
        if let Some(v) = options.shutdown_grace_ms {
            c = c.with_shutdown_grace(ms(v, "shutdownGraceMs")?);
        }
        if let Some(v) = options.heartbeat {
            c = c.with_heartbeat(v);
        }
        let base = options
            .retry_base_ms
            .map(|v| ms(v, "retryBaseMs"))
            .transpose()?;
        let max = options
            .retry_max_ms
            .map(|v| ms(v, "retryMaxMs"))
            .transpose()?;
        let d = RetryPolicy::default();
        c = c.with_retry(RetryPolicy::new(
            base.unwrap_or(d.base),
            max.unwrap_or(d.max),
        ));
        c.completion_store = options.completion_store;
        c.metrics_addr = options.metrics_addr;
        c.idempotency_key = options.idempotency_key;
        c.validate().map_err(|e| mega_error(&e))?;
        let mut l = SqsListener::new(&aws_settings(settings)?, c);
        l.set_unmatched_policy(match options.unmatched.as_deref().unwrap_or("delete") {
            "delete" => UnmatchedPolicy::Delete,
            "keep" => UnmatchedPolicy::Keep,
            o => {
                return Err(invalid(format!(
                    "unmatched must be 'delete' or 'keep', not {o:?}"
                )))
            }
        });
        l.set_raw_policy(match options.raw.as_deref().unwrap_or("delete") {
            "delete" => RawPolicy::Delete,
            "keep" => RawPolicy::Keep,
            o => {
                return Err(invalid(format!(
                    "raw must be 'delete' or 'keep', not {o:?}"
                )))
            }
        });
        l.set_invalid_policy(match options.invalid.as_deref().unwrap_or("keep") {
            "keep" => InvalidPolicy::Keep,
            "delete" => InvalidPolicy::Delete,
            o => {
                return Err(invalid(format!(
                    "invalid must be 'keep' or 'delete', not {o:?}"
                )))
            }
        });
        if let Some(n) = options.completion_store_capacity {
            l.set_completion_store(Arc::new(InMemoryCompletionStore::new(n as usize)));
        }
        Ok(NativeListener {
            listener: Mutex::new(Some(Arc::new(l))),
            running: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Registers a subscriber: `kind` `event`, `data` or `message`; `pattern` in the JSON pattern format
    /// (`null`: everything of its kind); `handler` as `index.js` wraps it.
    #[napi]
    pub fn subscribe(
        &self,
        name: String,
        kind: String,
        pattern: Option<String>,
        predicates: Vec<Function<'_, String, bool>>,
        handler: Function<'_, String, Promise<u32>>,
    ) -> Result<()> {
        let kind = match kind.as_str() {
            "event" => SubscriberKind::Event,
            "data" => SubscriberKind::Data,
            "message" => SubscriberKind::Message,
            other => return Err(invalid(format!("unknown subscriber kind {other}"))),
        };
        let tsfn: Arc<JsHandler> = Arc::new(
            handler
                .build_threadsafe_function()
                .callee_handled::<false>()
                .weak::<true>()
                .build()?,
        );
        let handler = Handler::from_async(move |m: Arc<Message>| {
            let tsfn = tsfn.clone();
            async move {
                let text = message_json(&m);
                // A call refused (Node exiting, the env torn down) or a promise that failed: the message
                // comes back later, never counted as done.
                let status = match tsfn.call_async_catch(text).await {
                    Ok(promise) => promise.await.unwrap_or(4),
                    Err(_) => 4,
                };
                Ok(ProcessStatus::from_code(i64::from(status))
                    .unwrap_or(ProcessStatus::RetriableError))
            }
        });
        let mut subscriber = Subscriber::new(name, kind, handler);
        if let Some(text) = pattern {
            let (p, _) = compile(&text, "mega", predicates)?;
            subscriber = subscriber.with_pattern(p);
        }
        let mut guard = self.listener.lock().unwrap_or_else(|p| p.into_inner());
        let listener = guard
            .as_mut()
            .and_then(Arc::get_mut)
            .ok_or_else(|| mega_error(&ListenerError::AlreadyRunning))?;
        listener
            .register_subscriber(subscriber)
            .map_err(|e| mega_error(&e))
    }

    /// Listens until `close()`: the run's counters (JSON).
    #[napi]
    pub async fn listen(&self) -> Result<String> {
        if self.running.swap(true, Ordering::AcqRel) {
            return Err(mega_error(&ListenerError::AlreadyRunning));
        }
        let listener = self
            .listener
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(|| invalid("the listener is closed"))?;
        let running = self.running.clone();
        let outcome = on_core(async move {
            let r = listener.listen().await;
            running.store(false, Ordering::Release);
            r
        })
        .await;
        self.running.store(false, Ordering::Release);
        outcome?.map(|s| stats_json(&s)).map_err(|e| mega_error(&e))
    }

    /// Stops: no new messages, work in flight finishes (up to the grace), the rest is released.
    #[napi]
    pub fn close(&self) {
        if let Some(l) = self
            .listener
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            l.shutdown_handle().shutdown();
        }
    }

    #[napi(getter)]
    pub fn running(&self) -> bool {
        self.running.load(Ordering::Acquire)
    }

    /// `[host, port]` of the metrics endpoint while a run serves it, else `null`.
    #[napi(getter)]
    pub fn metrics_addr(&self) -> Option<Vec<String>> {
        self.listener
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .and_then(|l| l.metrics_addr())
            .map(|a| vec![a.ip().to_string(), a.port().to_string()])
    }

    /// The counters of the current or last run (JSON).
    #[napi]
    pub fn stats(&self) -> String {
        match self
            .listener
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            Some(l) => stats_json(&l.stats().snapshot()),
            None => stats_json(&StatsSnapshot::default()),
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// The embedded endpoint

/// The embedded SQS + SNS endpoint, in-process, on loopback.
#[napi]
pub struct NativeLocal {
    handle: Mutex<Option<sqs_mega_local::ServerHandle>>,
    url: String,
}

fn local_settings(url: &str) -> AwsSettings {
    AwsSettings::local(url.to_owned())
}

#[napi]
impl NativeLocal {
    #[napi(constructor)]
    pub fn new(port: Option<u32>) -> Result<Self> {
        let config = sqs_mega_local::Config {
            port: port.unwrap_or(0) as u16,
            ..sqs_mega_local::Config::default()
        };
        let handle = sqs_mega_local::Server::start(config)
            .map_err(|e| invalid(format!("cannot start the embedded endpoint: {e}")))?;
        Ok(NativeLocal {
            url: handle.url().to_owned(),
            handle: Mutex::new(Some(handle)),
        })
    }

    #[napi(getter)]
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// Creates a queue (attributes as SQS names them): its URL.
    #[napi]
    pub async fn create_queue(
        &self,
        name: String,
        attributes: Option<HashMap<String, String>>,
    ) -> Result<String> {
        let s = local_settings(&self.url);
        on_core(async move {
            let sqs = s.sqs_client().await;
            sqs_mega::admin::create_queue(&sqs, &name, attributes.unwrap_or_default()).await
        })
        .await?
        .map_err(|e| mega_error(&e))
    }

    /// Creates a topic: its ARN.
    #[napi]
    pub async fn create_topic(&self, name: String) -> Result<String> {
        let s = local_settings(&self.url);
        on_core(async move { sqs_mega::admin::create_topic(&s.sns_client().await, &name).await })
            .await?
            .map_err(|e| mega_error(&e))
    }

    /// Subscribes a queue (URL or ARN) to a topic, enveloped or raw: the subscription ARN.
    #[napi]
    pub async fn subscribe(&self, topic_arn: String, queue: String, raw: bool) -> Result<String> {
        let s = local_settings(&self.url);
        on_core(async move {
            let (sqs, sns) = (s.sqs_client().await, s.sns_client().await);
            sqs_mega::admin::subscribe_queue(&sqs, &sns, &topic_arn, &queue, raw).await
        })
        .await?
        .map_err(|e| mega_error(&e))
    }

    /// `[visible, inFlight]`: a queue's approximate message counts.
    #[napi]
    pub async fn queue_counts(&self, queue_url: String) -> Result<Vec<u32>> {
        let s = local_settings(&self.url);
        let (visible, in_flight) = on_core(async move {
            sqs_mega::admin::queue_counts(&s.sqs_client().await, &queue_url).await
        })
        .await?
        .map_err(|e| mega_error(&e))?;
        Ok(vec![visible as u32, in_flight as u32])
    }

    /// Stops the endpoint (its queues are gone). Closing twice is harmless.
    #[napi]
    pub fn close(&self) {
        if let Some(h) = self.handle.lock().unwrap_or_else(|p| p.into_inner()).take() {
            h.shutdown();
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// For node/bench: the same listener with a native Rust no-op handler, the comparison JS handlers are
// measured against. Drains `count` data messages: `[seconds, statsJson]`.

#[napi]
pub async fn bench_rust_drain(
    queue_url: String,
    settings: Option<Settings>,
    count: u32,
    pollers: u32,
    max_in_flight: u32,
) -> Result<Vec<String>> {
    let s = aws_settings(settings)?;
    on_core(async move {
        let (elapsed, stats) = sqs_mega::listen::bench::noop_drain(
            &s,
            &queue_url,
            u64::from(count),
            pollers as usize,
            max_in_flight as usize,
        )
        .await
        .map_err(|e| mega_error(&e))?;
        Ok(vec![elapsed.as_secs_f64().to_string(), stats_json(&stats)])
    })
    .await?
}
