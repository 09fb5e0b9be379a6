//! What subscribers see and return: messages, process statuses, handlers, subscribers, policies.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::codec::{Content, Decoded};
use crate::trace::{TraceContext, AWS_TRACE_HEADER, TRACEPARENT_ATTRIBUTE};
use crate::value::Value;

/// What a subscriber says about a message it processed (seed 003, "Processing payloads").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProcessStatus {
    /// Processed. The message is deleted once every matching subscriber is done with it.
    Done,
    /// Not ready yet: the message stays in the queue and comes back later. Not an error.
    RetryLater,
    /// Failed for good: the message is deleted (once every matching subscriber is done with it).
    FatalError,
    /// Failed for now: the message stays in the queue and comes back later.
    RetriableError,
}

impl ProcessStatus {
    /// Whether this status lets the message be deleted.
    pub fn is_final(self) -> bool {
        matches!(self, ProcessStatus::Done | ProcessStatus::FatalError)
    }

    /// The status a number names in every binding (the C ABI's `mega_status`: 1 DONE, 2 RETRY_LATER,
    /// 3 FATAL_ERROR, 4 RETRIABLE_ERROR); 0 and anything else name none, so a default zero is never DONE.
    pub fn from_code(code: i64) -> Option<ProcessStatus> {
        match code {
            1 => Some(ProcessStatus::Done),
            2 => Some(ProcessStatus::RetryLater),
            3 => Some(ProcessStatus::FatalError),
            4 => Some(ProcessStatus::RetriableError),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ProcessStatus::Done => "DONE",
            ProcessStatus::RetryLater => "RETRY_LATER",
            ProcessStatus::FatalError => "FATAL_ERROR",
            ProcessStatus::RetriableError => "RETRIABLE_ERROR",
        }
    }
}

impl fmt::Display for ProcessStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error a handler returns instead of a status. Retriable errors become [`ProcessStatus::RetriableError`],
/// others [`ProcessStatus::FatalError`] (unless the listener's classifier says they are retriable).
#[derive(Debug)]
pub struct HandlerError {
    pub retriable: bool,
    pub error: Box<dyn std::error::Error + Send + Sync>,
}

impl HandlerError {
    pub fn fatal(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> HandlerError {
        HandlerError {
            retriable: false,
            error: error.into(),
        }
    }

    pub fn retriable(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> HandlerError {
        HandlerError {
            retriable: true,
            error: error.into(),
        }
    }
}

impl std::error::Error for HandlerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.error)
    }
}

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} error: {}",
            if self.retriable { "retriable" } else { "fatal" },
            self.error
        )
    }
}

/// What a handler returns.
pub type HandlerResult = Result<ProcessStatus, HandlerError>;

/// The future an async handler returns.
pub type HandlerFuture = Pin<Box<dyn Future<Output = HandlerResult> + Send>>;

/// A message attribute as received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivedAttribute {
    pub data_type: String,
    pub string_value: Option<String>,
    pub binary_value: Option<Vec<u8>>,
}

/// A received message, decoded, as handlers see it.
#[derive(Clone, Debug)]
pub struct Message {
    pub message_id: String,
    /// Identifies this receipt (needed to delete the message or change its visibility).
    pub receipt_handle: String,
    pub body: String,
    /// How many times the message has been received, this time included (ApproximateReceiveCount).
    pub receive_count: u32,
    /// FIFO queues: the message group.
    pub group_id: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    /// When this listener received it (the framework's time before the handler starts is measured from here).
    pub received_at: std::time::Instant,
    /// System attributes (ApproximateReceiveCount, SentTimestamp, MessageGroupId…).
    pub attributes: HashMap<String, String>,
    /// Message attributes, `mega.encoding` included.
    pub message_attributes: HashMap<String, ReceivedAttribute>,
    /// The decoded payload, with SNS metadata when it came through SNS.
    pub decoded: Decoded,
    /// The trace context of this message's handling: a child span of the sender's context, or a new trace
    /// when the message carried none. Handlers run inside it ([`TraceContext::current`]), so what they
    /// publish continues the trace.
    pub trace: TraceContext,
    /// The sender's context: the `traceparent` message attribute (of the SQS message, or of the SNS
    /// notification it wraps), else X-Ray's `AWSTraceHeader` system attribute.
    pub parent_trace: Option<TraceContext>,
}

impl Message {
    pub fn content(&self) -> &Content {
        &self.decoded.content
    }

    /// The value patterns match: the canonical MEGA event map, or the data object.
    pub fn value(&self) -> Option<&Value> {
        self.decoded.value()
    }

    /// The MEGA event, when the payload is one.
    pub fn event(&self) -> Option<&crate::event::Payload> {
        match &self.decoded.content {
            Content::Mega(p) => Some(p),
            _ => None,
        }
    }

    /// The sender's trace context, read from a message's attributes (see [`Message::parent_trace`]); a
    /// malformed one is ignored (logged at debug level): tracing never fails a message.
    pub fn incoming_trace(
        message_attributes: &HashMap<String, ReceivedAttribute>,
        attributes: &HashMap<String, String>,
        decoded: &Decoded,
    ) -> Option<TraceContext> {
        let sqs = message_attributes
            .get(TRACEPARENT_ATTRIBUTE)
            .and_then(|a| a.string_value.as_deref());
        let sns = || {
            decoded
                .sns
                .as_ref()
                .and_then(|m| m.message_attributes.get(TRACEPARENT_ATTRIBUTE))
                .map(|a| a.value.as_str())
        };
        if let Some(text) = sqs.or_else(sns) {
            match TraceContext::parse(text) {
                Ok(c) => return Some(c),
                Err(e) => tracing::debug!(error = %e, "traceparent ignored"),
            }
        }
        let xray = attributes.get(AWS_TRACE_HEADER)?;
        TraceContext::from_aws_trace_header(xray)
            .map_err(|e| tracing::debug!(error = %e, "AWSTraceHeader ignored"))
            .ok()
    }

    /// A string message attribute.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.message_attributes
            .get(name)
            .and_then(|a| a.string_value.as_deref())
    }
}

/// A subscriber's code: an async Rust function, a blocking callback run on a dedicated pool of threads (the
/// shape C push callbacks take; see `docs/architecture.md`), or a queue the host pulls from on its own
/// threads ([`super::Deliveries`]).
#[derive(Clone)]
#[non_exhaustive]
pub enum Handler {
    Async(Arc<dyn Fn(Arc<Message>) -> HandlerFuture + Send + Sync>),
    Blocking(Arc<dyn Fn(&Message) -> HandlerResult + Send + Sync>),
    Queued(super::queued::QueuedHandler),
}

impl Handler {
    /// An async handler from an async function or closure.
    pub fn from_async<F, Fut>(f: F) -> Handler
    where
        F: Fn(Arc<Message>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = HandlerResult> + Send + 'static,
    {
        Handler::Async(Arc::new(move |m| Box::pin(f(m))))
    }

    /// A blocking handler, run on the blocking thread pool.
    pub fn from_blocking<F>(f: F) -> Handler
    where
        F: Fn(&Message) -> HandlerResult + Send + Sync + 'static,
    {
        Handler::Blocking(Arc::new(f))
    }
}

impl fmt::Debug for Handler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Handler::Async(_) => "Handler::Async",
            Handler::Blocking(_) => "Handler::Blocking",
            Handler::Queued(_) => "Handler::Queued",
        })
    }
}

/// Which payloads a subscriber is offered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SubscriberKind {
    /// MEGA events only (`EventSubscriber`).
    Event,
    /// Data objects only (`DataSubscriber`).
    Data,
    /// Every payload, plaintext and binary included (`MessageSubscriber`): its pattern, if any, sees the
    /// matchable value of events and data objects.
    Message,
}

/// What a subscriber wants: a compiled pattern of the matcher (the DSL, the JSON pattern format,
/// EventBridge syntax, subscriber rules), which the listener indexes in a router and can explain, or a custom
/// predicate over the payload's value.
#[derive(Clone)]
pub enum Filter {
    Pattern(crate::matcher::Pattern),
    Predicate(Arc<dyn Fn(&Value) -> bool + Send + Sync>),
}

impl Filter {
    pub fn matches(&self, value: &Value) -> bool {
        match self {
            Filter::Pattern(p) => p.matches(value),
            Filter::Predicate(f) => f(value),
        }
    }

    /// Why the value does not match, for logs. `None` when it matches or cannot say (a predicate).
    pub fn explain(&self, value: &Value) -> Option<String> {
        match self {
            Filter::Pattern(p) => p.explain(value).map(|e| e.to_string()),
            Filter::Predicate(_) => None,
        }
    }
}

impl From<crate::matcher::Pattern> for Filter {
    fn from(p: crate::matcher::Pattern) -> Filter {
        Filter::Pattern(p)
    }
}

impl fmt::Debug for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Pattern(p) => write!(f, "Filter::Pattern({p:?})"),
            Filter::Predicate(_) => f.write_str("Filter::Predicate"),
        }
    }
}

/// A subscriber: a name (registered once), the payloads it wants, and its handler.
#[derive(Clone)]
pub struct Subscriber {
    pub name: String,
    pub kind: SubscriberKind,
    /// `None` matches everything of its kind.
    pub filter: Option<Filter>,
    pub handler: Handler,
}

impl Subscriber {
    pub fn new(name: impl Into<String>, kind: SubscriberKind, handler: Handler) -> Subscriber {
        Subscriber {
            name: name.into(),
            kind,
            filter: None,
            handler,
        }
    }

    /// Takes the payloads a compiled pattern matches.
    pub fn with_pattern(mut self, pattern: crate::matcher::Pattern) -> Subscriber {
        self.filter = Some(Filter::Pattern(pattern));
        self
    }

    /// Takes the payloads a function accepts.
    pub fn with_predicate(
        mut self,
        predicate: impl Fn(&Value) -> bool + Send + Sync + 'static,
    ) -> Subscriber {
        self.filter = Some(Filter::Predicate(Arc::new(predicate)));
        self
    }

    /// Whether this subscriber takes payloads of the message's kind.
    pub fn takes_kind_of(&self, message: &Message) -> bool {
        matches!(
            (self.kind, &message.decoded.content),
            (SubscriberKind::Event, Content::Mega(_))
                | (SubscriberKind::Data, Content::Data(_))
                | (SubscriberKind::Message, _)
        )
    }

    /// Whether this subscriber wants the message.
    pub fn wants(&self, message: &Message) -> bool {
        self.takes_kind_of(message)
            && match (&self.filter, message.value()) {
                (None, _) => true,
                (Some(p), Some(v)) => p.matches(v),
                (Some(_), None) => false,
            }
    }
}

impl fmt::Debug for Subscriber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscriber")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("filter", &self.filter)
            .finish()
    }
}

/// What to do with a message no subscriber matched.
#[derive(Clone, Debug, Default)]
pub enum UnmatchedPolicy {
    /// Delete it (logged). The default, as in seed 001.
    #[default]
    Delete,
    /// Leave it in the queue (it will reach the dead-letter queue, if one is configured).
    Keep,
    /// Give it to this handler.
    Handle(Handler),
}

/// Turns a plaintext or binary message into a data object (`None`: it cannot).
pub type TransformFn = Arc<dyn Fn(&Message) -> Option<Value> + Send + Sync>;

/// What to do with plaintext and binary payloads (which patterns cannot match), per seed 001.
#[derive(Clone, Default)]
pub enum RawPolicy {
    /// Ignore and delete them (logged). The default.
    #[default]
    Delete,
    /// Leave them in the queue.
    Keep,
    /// Give them to this handler.
    Handle(Handler),
    /// Turn them into a data object, which is then matched like any other. `None` falls back to deletion.
    Transform(TransformFn),
}

impl fmt::Debug for RawPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RawPolicy::Delete => "Delete",
            RawPolicy::Keep => "Keep",
            RawPolicy::Handle(_) => "Handle",
            RawPolicy::Transform(_) => "Transform",
        })
    }
}

/// What to do with a body that cannot be decoded (a declared encoding it breaks, an invalid MEGA event).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum InvalidPolicy {
    /// Leave it in the queue: after the queue's maxReceiveCount it moves to the dead-letter queue, where it
    /// can be inspected and redriven. The default: nothing is lost.
    #[default]
    Keep,
    /// Delete it (logged).
    Delete,
}
