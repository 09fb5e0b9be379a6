//! Who gets a message: the subscribers, their index (compiled patterns in a router), the handlers run
//! with a visibility heartbeat, and the fate each message earns.

use super::*;

pub(super) type KeyFn = Arc<dyn Fn(&Message) -> Option<String> + Send + Sync>;
pub(super) type ClassifyFn = Arc<dyn Fn(&HandlerError) -> bool + Send + Sync>;

/// Who gets a message and what happens to the ones nobody takes.
#[derive(Clone, Default)]
pub(super) struct Dispatch {
    pub(super) subscribers: Vec<Arc<Subscriber>>,
    pub(super) unmatched: UnmatchedPolicy,
    pub(super) raw: RawPolicy,
    pub(super) invalid: InvalidPolicy,
    pub(super) store: Option<Arc<dyn CompletionStore>>,
    pub(super) idempotency_key: Option<KeyFn>,
    pub(super) classify: Option<ClassifyFn>,
}

/// Finds the subscribers that want a message: compiled patterns through the matcher's router (indexed on
/// the event name and domain), others one by one; in registration order.
pub(super) struct SubscriberIndex {
    pub(super) router: crate::matcher::Router,
    /// Router id -> subscriber position.
    pub(super) routed: Vec<usize>,
    /// Subscribers without a compiled pattern.
    pub(super) others: Vec<usize>,
}

impl SubscriberIndex {
    pub(super) fn new(subscribers: &[Arc<Subscriber>]) -> SubscriberIndex {
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

    pub(super) fn matching<'a>(
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

/// The fate of a processed message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Outcome {
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
    pub(super) fn after(all_final: bool) -> Outcome {
        if all_final {
            Outcome::Delete
        } else {
            Outcome::Retry
        }
    }
}

/// Runs the dispatch while extending the message's visibility, until it finishes or shutdown's grace ends.
pub(super) async fn run_with_heartbeat(shared: &Arc<Shared>, message: &Arc<Message>) -> Outcome {
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
pub(super) async fn dispatch(shared: &Arc<Shared>, message: &Arc<Message>) -> Outcome {
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
            match &shared.dispatch.store {
                Some(store) => run_claimed(shared, store.as_ref(), &key, s, &message).await,
                None => run_handler(shared, &s.name, &s.handler, &message).await,
            }
        }
    });
    let statuses = futures_join_all(runs).await;
    Outcome::after(statuses.iter().all(|s| s.is_final()))
}

/// Runs a subscriber under a completion-store claim (the protocol of [`super::store`]): skipped when
/// completed, retried later when another claim is live or the store cannot be reached, the lease renewed
/// while the handler runs, then completed (a final status) or released (a retry).
async fn run_claimed(
    shared: &Arc<Shared>,
    store: &dyn CompletionStore,
    key: &str,
    s: &Subscriber,
    message: &Arc<Message>,
) -> ProcessStatus {
    let token = shared.claim_token();
    let name = s.name.as_str();
    Stats::add(&shared.stats.store_calls, 1);
    match store.claim(key, name, &token).await {
        Ok(Claim::Acquired) => {}
        Ok(Claim::Completed) => {
            Stats::add(&shared.stats.skipped_completed, 1);
            debug!(subscriber = name, key, "already completed: skipped");
            return ProcessStatus::Done;
        }
        Ok(Claim::Busy) => {
            Stats::add(&shared.stats.store_busy, 1);
            info!(
                subscriber = name,
                key, "another claim is running it: retried later"
            );
            return ProcessStatus::RetryLater;
        }
        Err(error) => {
            Stats::add(&shared.stats.store_errors, 1);
            warn!(subscriber = name, %error, "completion store unavailable: retried later");
            return ProcessStatus::RetriableError;
        }
    }
    let work = run_handler(shared, name, &s.handler, message);
    tokio::pin!(work);
    let every = (store.lease() / 3).max(Duration::from_millis(20));
    let mut renewals = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    let status = loop {
        tokio::select! {
            status = &mut work => break status,
            _ = renewals.tick() => {
                Stats::add(&shared.stats.store_calls, 1);
                match store.renew(key, name, &token).await {
                    Ok(true) => {}
                    Ok(false) => warn!(subscriber = name, key, "claim lost (its lease ran out): another process may run this message too"),
                    Err(error) => {
                        Stats::add(&shared.stats.store_errors, 1);
                        warn!(subscriber = name, %error, "claim not renewed");
                    }
                }
            }
        }
    };
    if status.is_final() {
        // The side effects happened: insist a little on recording it.
        for attempt in 0..3u32 {
            Stats::add(&shared.stats.store_calls, 1);
            match store.complete(key, name, &token).await {
                Ok(()) => break,
                Err(error) => {
                    Stats::add(&shared.stats.store_errors, 1);
                    if attempt == 2 {
                        warn!(subscriber = name, %error, "completion not recorded: a copy arriving after the lease runs out would run again");
                    } else {
                        tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
                    }
                }
            }
        }
    } else {
        Stats::add(&shared.stats.store_calls, 1);
        if let Err(error) = store.release(key, name, &token).await {
            Stats::add(&shared.stats.store_errors, 1);
            debug!(subscriber = name, %error, "claim not released: it expires with its lease");
        }
    }
    status
}

/// Awaits all futures concurrently (a small join_all, to avoid a dependency).
pub(super) async fn futures_join_all<F: std::future::Future>(
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
pub(super) async fn run_handler(
    shared: &Arc<Shared>,
    name: &str,
    handler: &Handler,
    message: &Arc<Message>,
) -> ProcessStatus {
    Stats::add(&shared.stats.dispatched, 1);
    let started = Instant::now();
    let result: Result<HandlerResult, String> = match handler {
        Handler::Async(f) => {
            let fut = message.trace.scope(f(message.clone()));
            shared
                .handlers
                .spawn(fut.in_current_span())
                .await
                .map_err(|e| panic_text(e.try_into_panic().ok()))
        }
        Handler::Blocking(f) => {
            let f = f.clone();
            let m = message.clone();
            let running = shared.handlers.token();
            let span = tracing::Span::current();
            match tokio::task::spawn_blocking(move || {
                let _running = running;
                let _entered = span.enter();
                m.trace
                    .in_scope(|| std::panic::catch_unwind(AssertUnwindSafe(|| f(&m))))
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

pub(super) fn panic_text(payload: Option<Box<dyn std::any::Any + Send>>) -> String {
    match payload {
        Some(p) => p
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".to_owned()),
        None => "cancelled".to_owned(),
    }
}
