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

#[doc(hidden)]
pub mod bench;
mod config;
mod dispatch;
pub mod metrics;
mod queued;
mod receive;
mod settle;
mod stats;
mod store;
mod types;

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
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
use crate::trace::TraceContext;
use config::jitter;
use dispatch::*;
use receive::*;
use settle::*;

pub use config::{ListenerConfig, RetryPolicy};
pub use queued::{Deliveries, Delivery};
pub use stats::{Stats, StatsSnapshot};
#[cfg(feature = "dynamodb")]
pub use store::DynamoDbCompletionStore;
#[cfg(feature = "redis")]
pub use store::RedisCompletionStore;
pub use store::{
    completion_store_from_url, Claim, CompletionStore, InMemoryCompletionStore, StoreError,
    StoreFuture, StoreOptions, StoreSpec,
};
pub use types::{
    Filter, Handler, HandlerError, HandlerFuture, HandlerResult, InvalidPolicy, Message,
    ProcessStatus, RawPolicy, ReceivedAttribute, Subscriber, SubscriberKind, TransformFn,
    UnmatchedPolicy,
};

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

/// Long-polls one SQS queue and dispatches its messages to subscribers. Built from settings and a
/// configuration alone (no runtime needed, nothing contacted until it runs); it can run, stop and run again.
pub struct SqsListener {
    client: LazyClient<aws_sdk_sqs::Client>,
    config: ListenerConfig,
    dispatch: Dispatch,
    stats: Arc<Stats>,
    stop: ShutdownHandle,
    running: AtomicBool,
    /// The store made from `config.completion_store` (kept across runs), with the URL it was made from.
    url_store: Mutex<Option<(String, Arc<dyn CompletionStore>)>>,
    /// Where the metrics endpoint of the current run listens.
    metrics_bound: metrics::MetricsAddress,
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
            url_store: Mutex::new(None),
            metrics_bound: metrics::MetricsAddress::default(),
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

    /// The address the metrics endpoint listens on while the listener runs (`metrics_addr` resolved, port 0
    /// included), `None` when it is not serving.
    pub fn metrics_addr(&self) -> Option<std::net::SocketAddr> {
        self.metrics_bound.get()
    }

    /// A handle on [`metrics_addr`](Self::metrics_addr) that stays readable while the listener runs (for a
    /// host that lends the listener to its run, as the C ABI does with [`stats`](Self::stats)).
    pub fn metrics_address(&self) -> metrics::MetricsAddress {
        self.metrics_bound.clone()
    }

    /// The completion store a run uses: the one set in code, else the one `config.completion_store` names
    /// (made once per URL).
    fn completion_store(&self) -> Result<Option<Arc<dyn CompletionStore>>, ListenerError> {
        if let Some(store) = &self.dispatch.store {
            return Ok(Some(store.clone()));
        }
        let Some(url) = &self.config.completion_store else {
            return Ok(None);
        };
        let mut cached = self
            .url_store
            .lock()
            .map_err(|_| ListenerError::InvalidConfig("completion store lock poisoned".into()))?;
        if let Some((made_from, store)) = cached.as_ref() {
            if made_from == url {
                return Ok(Some(store.clone()));
            }
        }
        let store = completion_store_from_url(url)
            .map_err(|e| ListenerError::InvalidConfig(e.to_string()))?;
        *cached = Some((url.clone(), store.clone()));
        Ok(Some(store))
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
        let mut dispatch = self.dispatch.clone();
        dispatch.store = self.completion_store()?;
        if dispatch.idempotency_key.is_none() {
            if let Some(path) = &self.config.idempotency_key {
                dispatch.idempotency_key = Some(key_at_path(path));
            }
        }
        let soft_stop = stop.child_token();
        let hard_stop = CancellationToken::new();
        let metrics = match &self.config.metrics_addr {
            Some(addr) => {
                let server = metrics::MetricsServer::bind(addr, &self.config.queue_url).await?;
                self.metrics_bound.set(Some(server.local_addr()));
                Some(tokio::spawn(
                    server.serve(self.stats.clone(), soft_stop.clone()),
                ))
            }
            None => None,
        };
        let (delete_tx, delete_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            client: client.clone(),
            config: self.config.clone(),
            fifo,
            visibility,
            index: SubscriberIndex::new(&self.dispatch.subscribers),
            dispatch,
            owner: claim_owner(),
            claims: std::sync::atomic::AtomicU64::new(0),
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
        if let Some(server) = metrics {
            let _ = server.await;
        }
        self.metrics_bound.set(None);
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
    /// This run's name in completion-store claims: the process id and a random part.
    owner: String,
    /// Claims made in this run (a claim's token is `owner` and this number).
    claims: std::sync::atomic::AtomicU64,
}

impl Shared {
    /// A new claim token, unique across processes and runs.
    fn claim_token(&self) -> String {
        let n = self.claims.fetch_add(1, Ordering::Relaxed);
        format!("{}.{n}", self.owner)
    }
}

/// The business key at a dotted path of a message's value: a string, or an integer's decimal digits.
fn key_at_path(path: &str) -> KeyFn {
    let fields: Vec<String> = path.split('.').map(str::to_owned).collect();
    Arc::new(move |m: &Message| {
        let mut v = m.value()?;
        for f in &fields {
            v = v.get(f)?;
        }
        v.as_str()
            .map(str::to_owned)
            .or_else(|| v.as_i64().map(|n| n.to_string()))
    })
}

/// `pid-random`: tells this run's claims from every other process's and run's.
fn claim_owner() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    format!("{}-{:016x}", std::process::id(), h.finish())
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
