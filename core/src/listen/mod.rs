//! The SQS listener: long-polls a queue, decodes, dispatches each message to every matching subscriber,
//! retries with backoff, deletes in batches, extends visibility of long handlers, keeps FIFO order per
//! group, and shuts down without losing anything. See `docs/architecture.md`.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use sqs_mega::aws::AwsSettings;
//! use sqs_mega::listen::{Handler, ListenerConfig, ProcessStatus, SqsListener, Subscriber, SubscriberKind};
//!
//! let mut listener = SqsListener::new(
//!     &AwsSettings::default(),
//!     ListenerConfig::new("https://sqs.us-east-2.amazonaws.com/424566909325/sqs-mega-test"),
//! );
//! listener.register_subscriber(
//!     Subscriber::new("ItemAdded", SubscriberKind::Event, Handler::from_async(|message| async move {
//!         println!("{}", message.event().unwrap().event.name);
//!         Ok(ProcessStatus::Done)
//!     }))
//!     .with_predicate(|v: &sqs_mega::Value| {
//!         v.get_path("event.name").and_then(|n| n.as_str()) == Some("item.added")
//!     }),
//! )?;
//! listener.listen().await?; // until SIGTERM / SIGINT or shutdown_handle().shutdown()
//! # Ok(()) }
//! ```

mod queued;
mod stats;
mod store;
mod types;

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry,
    MessageSystemAttributeName, QueueAttributeName,
};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn, Instrument};

use crate::aws::{AwsError, AwsSettings, LazyClient};
use crate::codec::{self, Content, ENCODING_ATTRIBUTE};

pub use queued::{Deliveries, Delivery};
pub use stats::{Stats, StatsSnapshot};
pub use store::{CompletionStore, InMemoryCompletionStore, StoreFuture};
pub use types::{
    Filter, Handler, HandlerError, HandlerFuture, HandlerResult, InvalidPolicy, Message,
    ProcessStatus, RawPolicy, ReceivedAttribute, Subscriber, SubscriberKind, TransformFn,
    UnmatchedPolicy,
};

/// Retry backoff: the visibility a retried message gets is `base * 2^(receive_count - 1)`, capped at `max`,
/// with "equal jitter" (a random point in its upper half), so retries of many messages spread out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    pub base: Duration,
    pub max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base: Duration::from_secs(2),
            max: Duration::from_secs(15 * 60),
        }
    }
}

impl RetryPolicy {
    /// The visibility timeout, in seconds (SQS's unit; at least 1, at most 12 hours), for a message
    /// received `receive_count` times.
    pub fn delay_seconds(&self, receive_count: u32) -> i32 {
        let exp = receive_count.saturating_sub(1).min(30);
        let full = self
            .base
            .saturating_mul(1u32 << exp)
            .min(self.max)
            .min(Duration::from_secs(43_200));
        let half = full / 2;
        let jittered = half + half.mul_f64(jitter());
        jittered.as_secs().clamp(1, 43_200) as i32
    }
}

/// A uniform number in [0, 1) from a small shared xorshift generator (jitter needs no cryptography).
fn jitter() -> f64 {
    static STATE: AtomicU64 = AtomicU64::new(0);
    let mut x = STATE.load(Ordering::Relaxed);
    if x == 0 {
        x = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9e37_79b9_7f4a_7c15)
            | 1;
    }
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    STATE.store(x, Ordering::Relaxed);
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// How the listener receives and processes. The first four are the seed's `SqsListener` parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListenerConfig {
    pub queue_url: String,
    /// Messages per ReceiveMessage, 1–10. Default 10 (the seed's Python default was 1; 10 costs a tenth of
    /// the requests).
    pub max_number_of_messages: i32,
    /// Long-poll wait, 0–20 s. Default 20.
    pub wait_time_seconds: i32,
    /// Visibility timeout for received messages, seconds. Default: the queue's own.
    pub visibility_timeout: Option<i32>,
    /// Concurrent ReceiveMessage loops. Default 1.
    pub pollers: usize,
    /// Messages processed at once, across pollers (a permit is taken before each fetch). Default 20.
    pub max_in_flight: usize,
    pub retry: RetryPolicy,
    /// Extend the visibility of messages still being processed before it runs out. Default on.
    pub heartbeat: bool,
    /// How long in-flight work may finish after shutdown begins, before its messages are released.
    pub shutdown_grace: Duration,
    /// How long a delete waits for others to share its DeleteMessageBatch call. Default 20 ms.
    pub delete_linger: Duration,
    /// Stop gracefully on SIGTERM and SIGINT. Default on; bindings that own signals turn it off.
    pub handle_signals: bool,
}

impl ListenerConfig {
    pub fn new(queue_url: impl Into<String>) -> ListenerConfig {
        ListenerConfig {
            queue_url: queue_url.into(),
            max_number_of_messages: 10,
            wait_time_seconds: 20,
            visibility_timeout: None,
            pollers: 1,
            max_in_flight: 20,
            retry: RetryPolicy::default(),
            heartbeat: true,
            shutdown_grace: Duration::from_secs(30),
            delete_linger: Duration::from_millis(20),
            handle_signals: true,
        }
    }

    /// The most concurrent ReceiveMessage loops (each holds a long poll).
    pub const MAX_POLLERS: usize = 256;
    /// The most messages processed at once.
    pub const MAX_IN_FLIGHT: usize = 100_000;
    /// The longest shutdown grace (one day).
    pub const MAX_SHUTDOWN_GRACE: Duration = Duration::from_secs(24 * 3600);
    /// The longest a delete may wait to share a batch (one minute).
    pub const MAX_DELETE_LINGER: Duration = Duration::from_secs(60);
    /// The longest retry delay (SQS's largest visibility timeout, 12 hours).
    pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(43_200);

    /// Checks every setting against its range; the listener does so when it starts, and a binding can call
    /// it when a setting is changed, so that a bad value is refused where it was given.
    pub fn validate(&self) -> Result<(), ListenerError> {
        let bad = |m: String| Err(ListenerError::InvalidConfig(m));
        if !(1..=10).contains(&self.max_number_of_messages) {
            return bad(format!(
                "max_number_of_messages must be 1 to 10, not {}",
                self.max_number_of_messages
            ));
        }
        if !(0..=20).contains(&self.wait_time_seconds) {
            return bad(format!(
                "wait_time_seconds must be 0 to 20, not {}",
                self.wait_time_seconds
            ));
        }
        if let Some(v) = self.visibility_timeout {
            if !(0..=43_200).contains(&v) {
                return bad(format!(
                    "visibility_timeout must be 0 to 43200 seconds, not {v}"
                ));
            }
        }
        if !(1..=Self::MAX_POLLERS).contains(&self.pollers) {
            return bad(format!(
                "pollers must be 1 to {}, not {}",
                Self::MAX_POLLERS,
                self.pollers
            ));
        }
        if !(1..=Self::MAX_IN_FLIGHT).contains(&self.max_in_flight) {
            return bad(format!(
                "max_in_flight must be 1 to {}, not {}",
                Self::MAX_IN_FLIGHT,
                self.max_in_flight
            ));
        }
        for (name, value, max) in [
            (
                "shutdown_grace",
                self.shutdown_grace,
                Self::MAX_SHUTDOWN_GRACE,
            ),
            ("delete_linger", self.delete_linger, Self::MAX_DELETE_LINGER),
            ("retry.base", self.retry.base, Self::MAX_RETRY_DELAY),
            ("retry.max", self.retry.max, Self::MAX_RETRY_DELAY),
        ] {
            if value > max {
                return bad(format!(
                    "{name} must be at most {} ms, not {} ms",
                    max.as_millis(),
                    value.as_millis()
                ));
            }
        }
        if self.queue_url.is_empty() {
            return bad("queue_url is empty".into());
        }
        Ok(())
    }
}

/// Why the listener could not start or had to stop.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListenerError {
    #[error("subscriber `{0}` is already registered (a subscriber is registered once)")]
    DuplicateSubscriber(String),
    #[error("invalid listener configuration: {0}")]
    InvalidConfig(String),
    #[error("queue {queue_url}: {error}")]
    Queue { queue_url: String, error: AwsError },
    #[error("the listener is already running (one run at a time)")]
    AlreadyRunning,
}

/// Stops a running listener from anywhere (another task, thread, or a signal handler's task). A stop asked
/// for while the listener is not running makes its next run return at once; each run consumes the stop that
/// ended it, so the listener can run again.
#[derive(Clone, Debug, Default)]
pub struct ShutdownHandle(Arc<Mutex<CancellationToken>>);

impl ShutdownHandle {
    /// Begins a graceful shutdown: no more receives; in-flight work finishes within the grace period.
    pub fn shutdown(&self) {
        self.token().cancel();
    }

    /// Whether a shutdown was asked for and not yet consumed by the end of a run.
    pub fn is_shutdown(&self) -> bool {
        self.token().is_cancelled()
    }

    fn token(&self) -> CancellationToken {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Consumes a shutdown: the next run starts afresh.
    fn rearm(&self) {
        let mut token = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if token.is_cancelled() {
            *token = CancellationToken::new();
        }
    }
}

type KeyFn = Arc<dyn Fn(&Message) -> Option<String> + Send + Sync>;
type ClassifyFn = Arc<dyn Fn(&HandlerError) -> bool + Send + Sync>;

/// Who gets a message and what happens to the ones nobody takes.
#[derive(Clone, Default)]
struct Dispatch {
    subscribers: Vec<Arc<Subscriber>>,
    unmatched: UnmatchedPolicy,
    raw: RawPolicy,
    invalid: InvalidPolicy,
    store: Option<Arc<dyn CompletionStore>>,
    idempotency_key: Option<KeyFn>,
    classify: Option<ClassifyFn>,
}

/// Finds the subscribers that want a message: compiled patterns through the matcher's router (indexed on
/// the event name and domain), others one by one; in registration order.
struct SubscriberIndex {
    router: crate::matcher::Router,
    /// Router id -> subscriber position.
    routed: Vec<usize>,
    /// Subscribers without a compiled pattern.
    others: Vec<usize>,
}

impl SubscriberIndex {
    fn new(subscribers: &[Arc<Subscriber>]) -> SubscriberIndex {
        let mut index = SubscriberIndex {
            router: crate::matcher::Router::new(),
            routed: Vec::new(),
            others: Vec::new(),
        };
        for (i, s) in subscribers.iter().enumerate() {
            match &s.filter {
                Some(Filter::Pattern(compiled)) => {
                    index.router.add(compiled.clone());
                    index.routed.push(i);
                }
                _ => index.others.push(i),
            }
        }
        index
    }

    fn matching<'a>(
        &self,
        subscribers: &'a [Arc<Subscriber>],
        message: &Message,
    ) -> Vec<&'a Arc<Subscriber>> {
        let mut hits: Vec<usize> = Vec::new();
        if let Some(value) = message.value() {
            let mut ids = Vec::new();
            self.router.matches_into(value, &mut ids);
            hits.extend(
                ids.iter()
                    .map(|id| self.routed[id.0 as usize])
                    .filter(|&i| subscribers[i].takes_kind_of(message)),
            );
        }
        hits.extend(
            self.others
                .iter()
                .copied()
                .filter(|&i| subscribers[i].wants(message)),
        );
        hits.sort_unstable();
        hits.into_iter().map(|i| &subscribers[i]).collect()
    }
}

/// Long-polls one SQS queue and dispatches its messages to subscribers. Built from settings and a
/// configuration alone (no runtime needed, nothing contacted until it runs); it can run, stop and run again.
pub struct SqsListener {
    client: LazyClient<aws_sdk_sqs::Client>,
    config: ListenerConfig,
    dispatch: Dispatch,
    stats: Arc<Stats>,
    stop: ShutdownHandle,
    running: AtomicBool,
}

impl SqsListener {
    /// A listener connecting with `settings` (or the standard AWS chain). Its SQS client is made when it
    /// first runs, inside the runtime that runs it.
    pub fn new(settings: &AwsSettings, config: ListenerConfig) -> SqsListener {
        SqsListener::with_client(LazyClient::new(settings), config)
    }

    /// A listener on an existing client.
    pub fn from_client(client: aws_sdk_sqs::Client, config: ListenerConfig) -> SqsListener {
        SqsListener::with_client(LazyClient::ready(client), config)
    }

    fn with_client(client: LazyClient<aws_sdk_sqs::Client>, config: ListenerConfig) -> SqsListener {
        SqsListener {
            client,
            config,
            dispatch: Dispatch::default(),
            stats: Arc::new(Stats::default()),
            stop: ShutdownHandle::default(),
            running: AtomicBool::new(false),
        }
    }

    pub fn config(&self) -> &ListenerConfig {
        &self.config
    }

    /// Changes the configuration (between runs), checking it whole first: an invalid one is refused and
    /// the listener keeps the one it had.
    pub fn set_config(&mut self, config: ListenerConfig) -> Result<(), ListenerError> {
        config.validate()?;
        self.config = config;
        Ok(())
    }

    /// Whether [`listen`](Self::listen) is running.
    pub fn is_running(&self) -> bool {
        self.running.load(Ordering::Acquire)
    }

    /// Registers a subscriber. A name can be registered once.
    pub fn register_subscriber(&mut self, subscriber: Subscriber) -> Result<(), ListenerError> {
        if self
            .dispatch
            .subscribers
            .iter()
            .any(|s| s.name == subscriber.name)
        {
            return Err(ListenerError::DuplicateSubscriber(subscriber.name));
        }
        self.dispatch.subscribers.push(Arc::new(subscriber));
        Ok(())
    }

    pub fn subscribers(&self) -> impl Iterator<Item = &Subscriber> {
        self.dispatch.subscribers.iter().map(|s| s.as_ref())
    }

    pub fn set_unmatched_policy(&mut self, policy: UnmatchedPolicy) {
        self.dispatch.unmatched = policy;
    }

    pub fn set_raw_policy(&mut self, policy: RawPolicy) {
        self.dispatch.raw = policy;
    }

    pub fn set_invalid_policy(&mut self, policy: InvalidPolicy) {
        self.dispatch.invalid = policy;
    }

    /// Skip subscribers that already succeeded for a message when it comes back (see [`CompletionStore`]).
    pub fn set_completion_store(&mut self, store: Arc<dyn CompletionStore>) {
        self.dispatch.store = Some(store);
    }

    /// The key the completion store remembers a message by: a business key (an order id) instead of the
    /// message id, so two messages for the same work run once. `None` from the function falls back to the
    /// message id.
    pub fn set_idempotency_key(
        &mut self,
        key: impl Fn(&Message) -> Option<String> + Send + Sync + 'static,
    ) {
        self.dispatch.idempotency_key = Some(Arc::new(key));
    }

    /// Decides which handler errors are retriable beyond those the handler marked so (like the seed's
    /// mapping of exception types).
    pub fn set_error_classifier(
        &mut self,
        classify: impl Fn(&HandlerError) -> bool + Send + Sync + 'static,
    ) {
        self.dispatch.classify = Some(Arc::new(classify));
    }

    /// A handle that stops the listener gracefully.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.stop.clone()
    }

    /// Live counters of the current run, or of the last one (zeroed when a run starts).
    pub fn stats(&self) -> Arc<Stats> {
        self.stats.clone()
    }

    /// Runs until shutdown on the library's shared runtime ([`crate::aws::runtime`]), for callers without
    /// one. The runtime outlives the call, so returning never waits for the runtime to wind down.
    pub fn listen_blocking(&self) -> Result<StatsSnapshot, ListenerError> {
        let runtime = crate::aws::runtime()
            .map_err(|e| ListenerError::InvalidConfig(format!("cannot start a runtime: {e}")))?;
        runtime.block_on(self.listen())
    }

    /// Listens until shutdown (a [`ShutdownHandle`], SIGTERM/SIGINT when enabled, or a configuration error
    /// of the queue), then returns the final counters. It returns only once every handler it called has
    /// returned (a handler still running after the shutdown grace has its message released for
    /// redelivery, and is waited for), so what handlers borrow may be freed once it returned.
    pub async fn listen(&self) -> Result<StatsSnapshot, ListenerError> {
        self.config.validate()?;
        if self
            .running
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return Err(ListenerError::AlreadyRunning);
        }
        /// Clears the running flag and consumes the stop on every way out, a panic or a dropped future
        /// included.
        struct Run<'a>(&'a SqsListener);
        impl Drop for Run<'_> {
            fn drop(&mut self) {
                self.0.stop.rearm();
                self.0.running.store(false, Ordering::Release);
            }
        }
        let _run = Run(self);
        self.stats.reset();
        let stop = self.stop.token();
        if stop.is_cancelled() {
            return Ok(self.stats.snapshot());
        }
        self.run(stop).await
    }

    async fn run(&self, stop: CancellationToken) -> Result<StatsSnapshot, ListenerError> {
        let queue_url = self.config.queue_url.clone();
        let queue_error = |error: AwsError| ListenerError::Queue {
            queue_url: queue_url.clone(),
            error,
        };
        let client = self.client.get().await;
        let attrs = client
            .get_queue_attributes()
            .queue_url(&self.config.queue_url)
            .attribute_names(QueueAttributeName::VisibilityTimeout)
            .attribute_names(QueueAttributeName::FifoQueue)
            .send()
            .await
            .map_err(|e| queue_error(AwsError::from_sdk("GetQueueAttributes", e)))?;
        let attrs = attrs.attributes().cloned().unwrap_or_default();
        let fifo = attrs
            .get(&QueueAttributeName::FifoQueue)
            .is_some_and(|v| v == "true")
            || self.config.queue_url.ends_with(".fifo");
        let visibility = self.config.visibility_timeout.unwrap_or_else(|| {
            attrs
                .get(&QueueAttributeName::VisibilityTimeout)
                .and_then(|v| v.parse().ok())
                .unwrap_or(30)
        });
        let soft_stop = stop.child_token();
        let hard_stop = CancellationToken::new();
        let (delete_tx, delete_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            client: client.clone(),
            config: self.config.clone(),
            fifo,
            visibility,
            index: SubscriberIndex::new(&self.dispatch.subscribers),
            dispatch: self.dispatch.clone(),
            stats: self.stats.clone(),
            deletes: delete_tx,
            soft_stop: soft_stop.clone(),
            hard_stop: hard_stop.clone(),
            handlers: TaskTracker::new(),
            fatal: Mutex::new(None),
        });
        info!(queue_url = %shared.config.queue_url, fifo, visibility, subscribers = shared.dispatch.subscribers.len(), "listening");
        let deleter = tokio::spawn(run_deleter(shared.clone(), delete_rx));
        let permits = Arc::new(Semaphore::new(self.config.max_in_flight));
        let tracker = TaskTracker::new();
        let pollers: Vec<_> = (0..self.config.pollers)
            .map(|_| tokio::spawn(poll(shared.clone(), permits.clone(), tracker.clone())))
            .collect();

        if self.config.handle_signals {
            tokio::select! {
                _ = soft_stop.cancelled() => {}
                _ = shutdown_signal() => info!("signal received: shutting down"),
            }
        } else {
            soft_stop.cancelled().await;
        }
        soft_stop.cancel();
        for p in pollers {
            let _ = p.await;
        }
        tracker.close();
        if tokio::time::timeout(self.config.shutdown_grace, tracker.wait())
            .await
            .is_err()
        {
            warn!(
                grace = ?self.config.shutdown_grace,
                "in-flight work did not finish within the grace period: releasing its messages"
            );
            hard_stop.cancel();
            tracker.wait().await;
        }
        let _ = shared.deletes.send(DeleteCmd::Close);
        let _ = deleter.await;
        // Handlers that overran the grace (their messages are released) are waited for: none runs after
        // this returns.
        shared.handlers.close();
        if !shared.handlers.is_empty() {
            warn!(
                handlers = shared.handlers.len(),
                "waiting for handlers still running after the shutdown grace"
            );
        }
        shared.handlers.wait().await;
        let snapshot = self.stats.snapshot();
        info!(
            received = snapshot.received,
            deleted = snapshot.deleted,
            "stopped"
        );
        let fatal = shared.fatal.lock().ok().and_then(|mut f| f.take());
        match fatal {
            Some(error) => Err(queue_error(error)),
            None => Ok(snapshot),
        }
    }
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// What every task of one `listen()` shares.
struct Shared {
    client: aws_sdk_sqs::Client,
    config: ListenerConfig,
    fifo: bool,
    visibility: i32,
    dispatch: Dispatch,
    index: SubscriberIndex,
    stats: Arc<Stats>,
    deletes: mpsc::UnboundedSender<DeleteCmd>,
    /// Shutdown began: stop receiving.
    soft_stop: CancellationToken,
    /// The grace period is over: stop waiting for handlers, release their messages.
    hard_stop: CancellationToken,
    /// Every handler call (async task or blocking thread), waited for before `listen` returns.
    handlers: TaskTracker,
    /// A configuration error that stopped the listener.
    fatal: Mutex<Option<AwsError>>,
}

enum DeleteCmd {
    Delete(String),
    Close,
}

/// One receive loop: a permit per message before fetching, so in-flight work stays bounded.
async fn poll(shared: Arc<Shared>, permits: Arc<Semaphore>, tracker: TaskTracker) {
    let max = shared.config.max_number_of_messages as usize;
    let mut pause = Duration::from_millis(100);
    loop {
        let first = tokio::select! {
            biased;
            _ = shared.soft_stop.cancelled() => return,
            p = permits.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return },
        };
        let mut taken = vec![first];
        while taken.len() < max {
            match permits.clone().try_acquire_owned() {
                Ok(p) => taken.push(p),
                Err(_) => break,
            }
        }
        let request = shared
            .client
            .receive_message()
            .queue_url(&shared.config.queue_url)
            .max_number_of_messages(taken.len() as i32)
            .wait_time_seconds(shared.config.wait_time_seconds)
            .visibility_timeout(shared.visibility)
            .message_attribute_names("All")
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send();
        Stats::add(&shared.stats.receive_calls, 1);
        let outcome = tokio::select! {
            biased;
            // A long poll cut short may have been about to return messages: they become visible again after
            // the visibility timeout, as for any consumer that stops. Nothing is lost.
            _ = shared.soft_stop.cancelled() => return,
            r = request => r,
        };
        match outcome {
            Err(e) => {
                Stats::add(&shared.stats.receive_errors, 1);
                let error = AwsError::from_sdk("ReceiveMessage", e);
                if !error.is_transient() {
                    warn!(%error, "ReceiveMessage failed for good: stopping");
                    if let Ok(mut f) = shared.fatal.lock() {
                        f.get_or_insert(error);
                    }
                    shared.soft_stop.cancel();
                    return;
                }
                warn!(%error, retry_in = ?pause, "ReceiveMessage failed: retrying");
                tokio::select! {
                    _ = shared.soft_stop.cancelled() => return,
                    _ = tokio::time::sleep(pause.mul_f64(0.5 + jitter())) => {}
                }
                pause = (pause * 2).min(Duration::from_secs(20));
            }
            Ok(out) => {
                pause = Duration::from_millis(100);
                let received_at = Instant::now();
                let messages = out.messages.unwrap_or_default();
                Stats::add(&shared.stats.received, messages.len() as u64);
                taken.truncate(messages.len());
                if shared.fifo {
                    // Messages of a group in order, one at a time; groups in parallel.
                    let mut groups: Vec<(
                        String,
                        Vec<(aws_sdk_sqs::types::Message, OwnedSemaphorePermit)>,
                    )> = Vec::new();
                    for (m, permit) in messages.into_iter().zip(taken) {
                        let group = m
                            .attributes()
                            .and_then(|a| a.get(&MessageSystemAttributeName::MessageGroupId))
                            .cloned()
                            .unwrap_or_default();
                        match groups.iter_mut().find(|(g, _)| *g == group) {
                            Some((_, list)) => list.push((m, permit)),
                            None => groups.push((group, vec![(m, permit)])),
                        }
                    }
                    for (_, list) in groups {
                        tracker.spawn(process_group(shared.clone(), list, received_at));
                    }
                } else {
                    for (m, permit) in messages.into_iter().zip(taken) {
                        tracker.spawn(process_one(shared.clone(), m, permit, received_at));
                    }
                }
            }
        }
    }
}

/// The fate of a processed message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Delete,
    /// Back to the queue after the retry backoff.
    Retry,
    /// Left as it is (reappears after its visibility timeout).
    Keep,
    /// Shutdown cut processing short: visible again at once.
    Release,
}

impl Outcome {
    /// Deleted when every handler it went to finished (DONE or FATAL_ERROR), else retried.
    fn after(all_final: bool) -> Outcome {
        if all_final {
            Outcome::Delete
        } else {
            Outcome::Retry
        }
    }
}

async fn process_group(
    shared: Arc<Shared>,
    list: Vec<(aws_sdk_sqs::types::Message, OwnedSemaphorePermit)>,
    received_at: Instant,
) {
    let mut untouched = Vec::new();
    let mut blocked = false;
    for (m, permit) in list {
        if blocked || shared.soft_stop.is_cancelled() {
            // A message not settled holds back the rest of its group; at shutdown, untouched messages go
            // back at once.
            untouched.push(m.receipt_handle().unwrap_or_default().to_owned());
            drop(permit);
            continue;
        }
        blocked = process_one(shared.clone(), m, permit, received_at).await != Outcome::Delete;
    }
    release_batch(&shared, &untouched).await;
}

/// Decodes, dispatches and settles one message; returns what happened to it.
async fn process_one(
    shared: Arc<Shared>,
    raw: aws_sdk_sqs::types::Message,
    permit: OwnedSemaphorePermit,
    received_at: Instant,
) -> Outcome {
    shared.stats.in_flight.fetch_add(1, Ordering::Relaxed);
    let receipt = raw.receipt_handle().unwrap_or_default().to_owned();
    let span = tracing::info_span!("message", message_id = raw.message_id().unwrap_or(""));
    let receive_count = attribute_u32(&raw, MessageSystemAttributeName::ApproximateReceiveCount);
    let outcome = async {
        let outcome = match to_message(&raw, received_at, receive_count) {
            Ok(message) => {
                let message = Arc::new(message);
                run_with_heartbeat(&shared, &message).await
            }
            Err(error) => {
                Stats::add(&shared.stats.invalid, 1);
                match shared.dispatch.invalid {
                    InvalidPolicy::Keep => {
                        warn!(%error, receive_count, "undecodable message kept for retry / the dead-letter queue");
                        Outcome::Retry
                    }
                    InvalidPolicy::Delete => {
                        warn!(%error, "undecodable message deleted");
                        Outcome::Delete
                    }
                }
            }
        };
        settle(&shared, &receipt, outcome, receive_count).await;
        outcome
    }
    .instrument(span)
    .await;
    shared.stats.in_flight.fetch_sub(1, Ordering::Relaxed);
    drop(permit);
    outcome
}

fn attribute_u32(raw: &aws_sdk_sqs::types::Message, name: MessageSystemAttributeName) -> u32 {
    raw.attributes()
        .and_then(|a| a.get(&name))
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
}

/// Builds the handler's view of a received message, decoding its body.
fn to_message(
    raw: &aws_sdk_sqs::types::Message,
    received_at: Instant,
    receive_count: u32,
) -> Result<Message, codec::DecodeError> {
    let message_attributes: HashMap<String, ReceivedAttribute> = raw
        .message_attributes()
        .map(|attrs| {
            attrs
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        ReceivedAttribute {
                            data_type: v.data_type().to_owned(),
                            string_value: v.string_value().map(str::to_owned),
                            binary_value: v.binary_value().map(|b| b.as_ref().to_vec()),
                        },
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let declared = message_attributes
        .get(ENCODING_ATTRIBUTE)
        .and_then(|a| a.string_value.clone());
    let body = raw.body().unwrap_or_default().to_owned();
    let decoded = codec::decode(&body, declared.as_deref())?;
    let attributes: HashMap<String, String> = raw
        .attributes()
        .map(|a| {
            a.iter()
                .map(|(k, v)| (k.as_str().to_owned(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    let sent_at = attributes
        .get("SentTimestamp")
        .and_then(|ms| ms.parse::<i64>().ok())
        .and_then(chrono::DateTime::from_timestamp_millis);
    Ok(Message {
        message_id: raw.message_id().unwrap_or_default().to_owned(),
        receipt_handle: raw.receipt_handle().unwrap_or_default().to_owned(),
        group_id: attributes.get("MessageGroupId").cloned(),
        body,
        receive_count,
        sent_at,
        received_at,
        attributes,
        message_attributes,
        decoded,
    })
}

/// Runs the dispatch while extending the message's visibility, until it finishes or shutdown's grace ends.
async fn run_with_heartbeat(shared: &Arc<Shared>, message: &Arc<Message>) -> Outcome {
    let work = dispatch(shared, message);
    tokio::pin!(work);
    // Extend at half the visibility timeout: the other half is the margin for a slow call.
    let every = Duration::from_millis(u64::from(shared.visibility.max(1).unsigned_abs()) * 500);
    let mut next_beat = tokio::time::Instant::now() + every;
    loop {
        tokio::select! {
            outcome = &mut work => return outcome,
            _ = tokio::time::sleep_until(next_beat), if shared.config.heartbeat => {
                next_beat += every;
                Stats::add(&shared.stats.heartbeats, 1);
                Stats::add(&shared.stats.visibility_calls, 1);
                let r = shared.client.change_message_visibility()
                    .queue_url(&shared.config.queue_url)
                    .receipt_handle(&message.receipt_handle)
                    .visibility_timeout(shared.visibility)
                    .send().await;
                if let Err(e) = r {
                    warn!(error = %AwsError::from_sdk("ChangeMessageVisibility", e), "heartbeat failed");
                }
            }
            _ = shared.hard_stop.cancelled() => return Outcome::Release,
        }
    }
}

/// Sends a message to every subscriber that wants it, and decides its fate from their statuses.
async fn dispatch(shared: &Arc<Shared>, message: &Arc<Message>) -> Outcome {
    let content_kind = message.decoded.kind();
    let mut message = message.clone();
    if content_kind == codec::ContentKind::Empty {
        info!("SNS confirmation message: deleted");
        return Outcome::Delete;
    }
    let mut matched = shared
        .index
        .matching(&shared.dispatch.subscribers, &message);
    // Plaintext and binary payloads no subscriber takes: the raw-payload policy (seed 001).
    if matched.is_empty()
        && matches!(
            content_kind,
            codec::ContentKind::Plaintext | codec::ContentKind::Binary
        )
    {
        match &shared.dispatch.raw {
            RawPolicy::Delete => {
                info!(
                    kind = content_kind.as_str(),
                    "no subscriber takes this plaintext or binary payload: deleted"
                );
                return Outcome::Delete;
            }
            RawPolicy::Keep => return Outcome::Keep,
            RawPolicy::Handle(handler) => {
                let status = run_handler(shared, "raw-payload-handler", handler, &message).await;
                return Outcome::after(status.is_final());
            }
            RawPolicy::Transform(transform) => match transform(&message) {
                Some(value @ crate::Value::Map(_)) => {
                    let mut m = (*message).clone();
                    m.decoded.replace_content(Content::Data(value));
                    message = Arc::new(m);
                    matched = shared
                        .index
                        .matching(&shared.dispatch.subscribers, &message);
                }
                _ => {
                    info!("raw payload not transformed into a data object: deleted");
                    return Outcome::Delete;
                }
            },
        }
    }
    if matched.is_empty() {
        Stats::add(&shared.stats.unmatched, 1);
        return match &shared.dispatch.unmatched {
            UnmatchedPolicy::Delete => {
                info!("no subscriber matched: deleted");
                Outcome::Delete
            }
            UnmatchedPolicy::Keep => {
                debug!("no subscriber matched: kept");
                Outcome::Keep
            }
            UnmatchedPolicy::Handle(handler) => {
                let status = run_handler(shared, "unmatched-handler", handler, &message).await;
                Outcome::after(status.is_final())
            }
        };
    }
    let key = shared
        .dispatch
        .idempotency_key
        .as_ref()
        .and_then(|f| f(&message))
        .unwrap_or_else(|| message.message_id.clone());
    let runs = matched.into_iter().map(|s| {
        let message = message.clone();
        let key = key.clone();
        async move {
            if let Some(store) = &shared.dispatch.store {
                if store.is_completed(&key, &s.name).await {
                    Stats::add(&shared.stats.skipped_completed, 1);
                    debug!(subscriber = %s.name, "already completed: skipped");
                    return ProcessStatus::Done;
                }
            }
            let status = run_handler(shared, &s.name, &s.handler, &message).await;
            if status.is_final() {
                if let Some(store) = &shared.dispatch.store {
                    store.mark_completed(&key, &s.name).await;
                }
            }
            status
        }
    });
    let statuses = futures_join_all(runs).await;
    Outcome::after(statuses.iter().all(|s| s.is_final()))
}

/// Awaits all futures concurrently (a small join_all, to avoid a dependency).
async fn futures_join_all<F: std::future::Future>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    let mut set: Vec<std::pin::Pin<Box<F>>> = futures.map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = (0..set.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in set.iter_mut().enumerate() {
            if outputs[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => outputs[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().map(|o| o.expect("all ready")).collect()
}

/// Runs one handler, turning errors and panics into statuses, and counts it.
async fn run_handler(
    shared: &Arc<Shared>,
    name: &str,
    handler: &Handler,
    message: &Arc<Message>,
) -> ProcessStatus {
    Stats::add(&shared.stats.dispatched, 1);
    let started = Instant::now();
    let result: Result<HandlerResult, String> = match handler {
        Handler::Async(f) => {
            let fut = f(message.clone());
            shared
                .handlers
                .spawn(fut)
                .await
                .map_err(|e| panic_text(e.try_into_panic().ok()))
        }
        Handler::Blocking(f) => {
            let f = f.clone();
            let m = message.clone();
            let running = shared.handlers.token();
            match tokio::task::spawn_blocking(move || {
                let _running = running;
                std::panic::catch_unwind(AssertUnwindSafe(|| f(&m)))
            })
            .await
            {
                Ok(Ok(r)) => Ok(r),
                Ok(Err(p)) => Err(panic_text(Some(p))),
                Err(e) => Err(panic_text(e.try_into_panic().ok())),
            }
        }
        // Awaited here, not spawned: when the grace runs out the reply slot closes with this future.
        Handler::Queued(q) => Ok(Ok(q.call(message.clone()).await)),
    };
    shared.stats.record_latency(started.elapsed());
    let status = match result {
        Ok(Ok(status)) => status,
        Ok(Err(error)) => {
            let retriable =
                error.retriable || shared.dispatch.classify.as_ref().is_some_and(|c| c(&error));
            warn!(subscriber = name, %error, retriable, "handler failed");
            if retriable {
                ProcessStatus::RetriableError
            } else {
                ProcessStatus::FatalError
            }
        }
        Err(panic) => {
            warn!(subscriber = name, panic = %panic, "handler panicked: FATAL_ERROR");
            ProcessStatus::FatalError
        }
    };
    let counter = match status {
        ProcessStatus::Done => &shared.stats.done,
        ProcessStatus::RetryLater => &shared.stats.retry_later,
        ProcessStatus::FatalError => &shared.stats.fatal_error,
        ProcessStatus::RetriableError => &shared.stats.retriable_error,
    };
    Stats::add(counter, 1);
    debug!(subscriber = name, status = %status, "processed");
    status
}

fn panic_text(payload: Option<Box<dyn std::any::Any + Send>>) -> String {
    match payload {
        Some(p) => p
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".to_owned()),
        None => "cancelled".to_owned(),
    }
}

/// Applies an outcome to the queue.
async fn settle(shared: &Arc<Shared>, receipt: &str, outcome: Outcome, receive_count: u32) {
    match outcome {
        Outcome::Delete => {
            let _ = shared.deletes.send(DeleteCmd::Delete(receipt.to_owned()));
        }
        Outcome::Retry => {
            let delay = shared.config.retry.delay_seconds(receive_count);
            Stats::add(&shared.stats.retried, 1);
            change_visibility(shared, receipt, delay).await;
        }
        Outcome::Keep => {}
        Outcome::Release => release(shared, receipt).await,
    }
}

async fn release(shared: &Arc<Shared>, receipt: &str) {
    Stats::add(&shared.stats.released, 1);
    change_visibility(shared, receipt, 0).await;
}

async fn change_visibility(shared: &Arc<Shared>, receipt: &str, seconds: i32) {
    Stats::add(&shared.stats.visibility_calls, 1);
    if let Err(e) = shared
        .client
        .change_message_visibility()
        .queue_url(&shared.config.queue_url)
        .receipt_handle(receipt)
        .visibility_timeout(seconds)
        .send()
        .await
    {
        warn!(error = %AwsError::from_sdk("ChangeMessageVisibility", e), seconds, "could not change visibility");
    }
}

/// Collects deletions into DeleteMessageBatch calls of up to 10, lingering briefly for company.
async fn run_deleter(shared: Arc<Shared>, mut rx: mpsc::UnboundedReceiver<DeleteCmd>) {
    let mut closing = false;
    while !closing {
        let first = match rx.recv().await {
            Some(DeleteCmd::Delete(h)) => h,
            Some(DeleteCmd::Close) | None => break,
        };
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + shared.config.delete_linger;
        while batch.len() < 10 {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(DeleteCmd::Delete(h))) => batch.push(h),
                Ok(Some(DeleteCmd::Close)) | Ok(None) => {
                    closing = true;
                    break;
                }
                Err(_) => break,
            }
        }
        delete_batch(&shared, batch).await;
    }
    // Flush whatever is still queued.
    let mut rest = Vec::new();
    while let Ok(cmd) = rx.try_recv() {
        if let DeleteCmd::Delete(h) = cmd {
            rest.push(h);
        }
    }
    for chunk in rest.chunks(10) {
        delete_batch(&shared, chunk.to_vec()).await;
    }
}

/// Deletes up to 10 messages; entries that fail for reasons other than the request's fault are retried.
async fn delete_batch(shared: &Arc<Shared>, handles: Vec<String>) {
    let mut pending: Vec<(usize, String)> = handles.into_iter().enumerate().collect();
    let mut pause = Duration::from_millis(50);
    for attempt in 0..4 {
        let last = attempt == 3;
        let entries: Vec<_> = pending
            .iter()
            .map(|(i, h)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(h)
                    .build()
                    .expect("id and handle set")
            })
            .collect();
        Stats::add(&shared.stats.delete_calls, 1);
        let result = shared
            .client
            .delete_message_batch()
            .queue_url(&shared.config.queue_url)
            .set_entries(Some(entries))
            .send()
            .await;
        let mut retry = Vec::new();
        match result {
            Ok(out) => {
                Stats::add(&shared.stats.deleted, out.successful().len() as u64);
                for f in out.failed() {
                    let Some(entry) = pending.iter().find(|(i, _)| i.to_string() == f.id()) else {
                        continue;
                    };
                    if !f.sender_fault() && !last {
                        retry.push(entry.clone());
                    } else {
                        Stats::add(&shared.stats.delete_failed, 1);
                        warn!(
                            code = f.code(),
                            message = f.message().unwrap_or(""),
                            "delete failed: the message will be received again"
                        );
                    }
                }
            }
            Err(e) => {
                let error = AwsError::from_sdk("DeleteMessageBatch", e);
                if error.is_transient() && !last {
                    retry = pending.clone();
                } else {
                    Stats::add(&shared.stats.delete_failed, pending.len() as u64);
                    warn!(%error, count = pending.len(), "delete failed: the messages will be received again");
                }
            }
        }
        if retry.is_empty() {
            return;
        }
        tokio::time::sleep(pause).await;
        pause *= 2;
        pending = retry;
    }
}

/// Releases messages (visibility 0), ten per call.
async fn release_batch(shared: &Arc<Shared>, handles: &[String]) {
    for chunk in handles.chunks(10) {
        let entries: Vec<_> = chunk
            .iter()
            .enumerate()
            .map(|(i, h)| {
                ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(h)
                    .visibility_timeout(0)
                    .build()
                    .expect("id and handle set")
            })
            .collect();
        Stats::add(&shared.stats.visibility_calls, 1);
        Stats::add(&shared.stats.released, chunk.len() as u64);
        if let Err(e) = shared
            .client
            .change_message_visibility_batch()
            .queue_url(&shared.config.queue_url)
            .set_entries(Some(entries))
            .send()
            .await
        {
            warn!(error = %AwsError::from_sdk("ChangeMessageVisibilityBatch", e), "could not release messages: they return after their visibility timeout");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_exponentially_with_jitter_and_caps() {
        let p = RetryPolicy {
            base: Duration::from_secs(2),
            max: Duration::from_secs(60),
        };
        for _ in 0..100 {
            let d1 = p.delay_seconds(1);
            assert!((1..=2).contains(&d1), "{d1}");
            let d3 = p.delay_seconds(3);
            assert!((4..=8).contains(&d3), "{d3}");
            let d20 = p.delay_seconds(20);
            assert!((30..=60).contains(&d20), "{d20}");
        }
        // Jitter spreads retries.
        let spread: std::collections::HashSet<i32> = (0..200).map(|_| p.delay_seconds(6)).collect();
        assert!(spread.len() > 5, "{spread:?}");
    }

    #[test]
    fn config_is_validated() {
        let mut c = ListenerConfig::new("http://q");
        assert!(c.validate().is_ok());
        c.max_number_of_messages = 11;
        assert!(c.validate().unwrap_err().to_string().contains("1 to 10"));
        c.max_number_of_messages = 10;
        c.wait_time_seconds = 21;
        assert!(c.validate().unwrap_err().to_string().contains("0 to 20"));
    }
}
