//! Failure scenarios of seed 004, each asserting counts: nothing lost.

mod support;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use std::time::Instant;

use sqs_mega::codec::Content;
use sqs_mega::listen::{
    Handler, HandlerError, InMemoryCompletionStore, ProcessStatus, SqsListener, StatsSnapshot,
    Subscriber, SubscriberKind,
};
use sqs_mega::publish::{BatchEntry, SqsPublisher};
use sqs_mega::{value, Value};
use support::{
    create_queue, drain, listener_config as config, queue_depth, queue_with_dlq, subscribe_queue,
    Endpoint,
};

async fn run_until(listener: SqsListener, done: impl Fn(&StatsSnapshot) -> bool) -> StatsSnapshot {
    support::run_until(listener, done).await.unwrap()
}

/// Batches of 10 mixing good and poison messages: good ones are deleted individually, poison ones are
/// retried and end in the dead-letter queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_batch_failure() {
    let endpoint = Endpoint::local();
    let settings = endpoint.settings();
    let client = settings.sqs_client().await;
    let (url, dlq) = queue_with_dlq(&client, "partial", 2).await;
    let publisher = SqsPublisher::new(&settings, &url);
    let entries: Vec<_> = (0..20)
        .map(|n| BatchEntry::new(Content::Data(value!({"n": n, "poison": (n % 7 == 3)}))))
        .collect();
    assert!(publisher
        .publish_batch(entries)
        .await
        .iter()
        .all(Result::is_ok));
    let poison: HashSet<i64> = (0..20).filter(|n| n % 7 == 3).collect(); // 3, 10, 17
    let processed = Arc::new(Mutex::new(HashSet::new()));
    let p = processed.clone();
    let mut listener = SqsListener::new(&settings, config(&url));
    listener
        .register_subscriber(Subscriber::new(
            "Worker",
            SubscriberKind::Data,
            Handler::from_blocking(move |m| {
                let v = m.value().unwrap();
                if v.get("poison") == Some(&Value::Bool(true)) {
                    return Err(HandlerError::retriable("poison"));
                }
                p.lock()
                    .unwrap()
                    .insert(v.get("n").and_then(Value::as_i64).unwrap());
                Ok(ProcessStatus::Done)
            }),
        ))
        .unwrap();
    let stats = run_until(listener, |s| s.deleted >= 17 && s.retriable_error >= 6).await;
    let good: HashSet<i64> = (0..20).filter(|n| !poison.contains(n)).collect();
    assert_eq!(*processed.lock().unwrap(), good);
    assert_eq!(stats.deleted, 17, "{stats:?}");
    // The queue moves a message to its DLQ on the receive after maxReceiveCount: once the retry visibility
    // ran out, one more receive finds nothing left, and the DLQ holds the poison.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let again = client
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(10)
        .wait_time_seconds(1)
        .send()
        .await
        .unwrap();
    assert!(
        again.messages().is_empty(),
        "nothing left in the source queue"
    );
    let dead = drain(&client, &dlq, 3).await;
    let dead: HashSet<i64> = dead
        .iter()
        .map(|m| {
            sqs_mega::codec::decode(m.body().unwrap(), None)
                .unwrap()
                .value()
                .unwrap()
                .get("n")
                .and_then(Value::as_i64)
                .unwrap()
        })
        .collect();
    assert_eq!(
        dead, poison,
        "the poison messages, and only they, are in the DLQ"
    );
}

/// Two messages with different ids carry the same business key (order id): the work runs once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn business_idempotency_by_a_payload_key() {
    let endpoint = Endpoint::local();
    let settings = endpoint.settings();
    let client = settings.sqs_client().await;
    let url = create_queue(&client, "orders", &[]).await;
    let publisher = SqsPublisher::new(&settings, &url);
    let entries: Vec<_> = ["order-1", "order-2", "order-1", "order-3", "order-2"]
        .iter()
        .map(|id| {
            BatchEntry::new(Content::Data(
                value!({"order_id": (*id), "action": "charge"}),
            ))
        })
        .collect();
    assert!(publisher
        .publish_batch(entries)
        .await
        .iter()
        .all(Result::is_ok));
    let charges = Arc::new(Mutex::new(HashMap::<String, usize>::new()));
    let c = charges.clone();
    let mut listener = SqsListener::new(&settings, config(&url).with_max_in_flight(1));
    listener.set_completion_store(Arc::new(InMemoryCompletionStore::new(1000)));
    listener.set_idempotency_key(|m| {
        let v = m.value()?;
        Some(format!(
            "{}:{}",
            v.get("order_id")?.as_str()?,
            v.get("action")?.as_str()?
        ))
    });
    listener
        .register_subscriber(Subscriber::new(
            "Charge",
            SubscriberKind::Data,
            Handler::from_blocking(move |m| {
                let id = m
                    .value()
                    .unwrap()
                    .get("order_id")
                    .and_then(Value::as_str)
                    .unwrap()
                    .to_owned();
                *c.lock().unwrap().entry(id).or_default() += 1;
                Ok(ProcessStatus::Done)
            }),
        ))
        .unwrap();
    let stats = run_until(listener, |s| s.deleted >= 5).await;
    let charges = charges.lock().unwrap().clone();
    assert_eq!(charges.len(), 3);
    assert!(charges.values().all(|&n| n == 1), "{charges:?}");
    assert_eq!((stats.skipped_completed, stats.deleted), (2, 5));
}

/// Check-before-doing: the handler records its external side effect, and the first attempt "crashes" after
/// the side effect but before the message is deleted (it returns RETRIABLE_ERROR after doing the work, as
/// a lost delete looks to the queue). The retry checks the side-effect record first and does not repeat it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn side_effects_survive_a_crash_between_effect_and_delete() {
    let endpoint = Endpoint::local();
    let settings = endpoint.settings();
    let client = settings.sqs_client().await;
    let url = create_queue(&client, "effects", &[]).await;
    let publisher = SqsPublisher::new(&settings, &url);
    let entries: Vec<_> = (0..6)
        .map(|n| BatchEntry::new(Content::Data(value!({"payment": n}))))
        .collect();
    assert!(publisher
        .publish_batch(entries)
        .await
        .iter()
        .all(Result::is_ok));
    // The external system's ledger: payment -> times charged.
    let ledger = Arc::new(Mutex::new(HashMap::<i64, usize>::new()));
    let crashes = Arc::new(AtomicUsize::new(0));
    let (l, cr) = (ledger.clone(), crashes.clone());
    let mut listener = SqsListener::new(&settings, config(&url));
    listener
        .register_subscriber(Subscriber::new(
            "Pay",
            SubscriberKind::Data,
            Handler::from_blocking(move |m| {
                let n = m
                    .value()
                    .unwrap()
                    .get("payment")
                    .and_then(Value::as_i64)
                    .unwrap();
                let mut ledger = l.lock().unwrap();
                if ledger.contains_key(&n) {
                    return Ok(ProcessStatus::Done); // checked before doing: already charged
                }
                *ledger.entry(n).or_default() += 1; // the side effect
                if n % 2 == 0 && m.receive_count == 1 {
                    cr.fetch_add(1, Ordering::SeqCst);
                    return Err(HandlerError::retriable("crashed before the delete"));
                }
                Ok(ProcessStatus::Done)
            }),
        ))
        .unwrap();
    let stats = run_until(listener, |s| s.deleted >= 6).await;
    assert_eq!(crashes.load(Ordering::SeqCst), 3);
    let ledger = ledger.lock().unwrap().clone();
    assert_eq!(ledger.len(), 6);
    assert!(
        ledger.values().all(|&n| n == 1),
        "no payment charged twice: {ledger:?}"
    );
    assert_eq!((stats.received, stats.deleted), (9, 6), "{stats:?}");
}

/// SNS fan-out: one topic, two queues (one enveloped, one raw), JSON and BSON MEGA events; each queue's
/// listener matches and processes every event, with SNS metadata where the envelope carried it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sns_fan_out_to_enveloped_and_raw_queues() {
    use sqs_mega::event::PayloadBuilder;
    use sqs_mega::publish::{PublishOptions, SnsPublisher};
    for endpoint in Endpoint::both() {
        eprintln!("endpoint: {}", endpoint.name());
        let settings = endpoint.settings();
        let sqs = settings.sqs_client().await;
        let sns = settings.sns_client().await;
        let topic_arn = sns
            .create_topic()
            .name("carts")
            .send()
            .await
            .unwrap()
            .topic_arn()
            .unwrap()
            .to_owned();
        let mut queues = Vec::new();
        for (name, raw) in [("fan-enveloped", false), ("fan-raw", true)] {
            let url = create_queue(&sqs, name, &[]).await;
            subscribe_queue(&sqs, &sns, &topic_arn, &url, raw).await;
            queues.push((url, raw));
        }
        let publisher = SnsPublisher::new(&settings, &topic_arn);
        for i in 0..6 {
            let event = PayloadBuilder::new()
                .with_event([
                    ("name", value!("item.added")),
                    ("domain", value!("shopping_cart")),
                    ("quantity", value!(i)),
                ])
                .build()
                .unwrap();
            let options = PublishOptions::default()
                .with_binary_encoding(i % 2 == 1)
                .with_subject("cart");
            publisher.publish(event, &options).await.unwrap();
        }
        for (url, raw) in queues {
            let seen = Arc::new(Mutex::new(Vec::new()));
            let s = seen.clone();
            let mut listener = SqsListener::new(&settings, config(&url));
            listener
                .register_subscriber(
                    Subscriber::new(
                        "ItemAdded",
                        SubscriberKind::Event,
                        Handler::from_blocking(move |m| {
                            let q = m.event().unwrap().event.attributes["quantity"]
                                .as_i64()
                                .unwrap();
                            s.lock().unwrap().push((
                                q,
                                m.decoded.sns.as_ref().map(|x| x.topic_arn.clone()),
                                m.decoded.encoding,
                            ));
                            Ok(ProcessStatus::Done)
                        }),
                    )
                    .with_predicate(|v: &Value| {
                        v.get_path("event.domain").and_then(Value::as_str) == Some("shopping_cart")
                    }),
                )
                .unwrap();
            let stats = run_until(listener, |s| s.deleted >= 6).await;
            let mut seen = seen.lock().unwrap().clone();
            seen.sort_by_key(|(q, _, _)| *q);
            assert_eq!(seen.len(), 6, "{url}: {stats:?}");
            for (q, topic, encoding) in seen {
                assert_eq!(
                    topic.is_some(),
                    !raw,
                    "{url}: SNS metadata only through the envelope"
                );
                if let Some(t) = topic {
                    assert_eq!(t, topic_arn);
                }
                let expected = if q % 2 == 1 {
                    sqs_mega::codec::Encoding::Bson
                } else {
                    sqs_mega::codec::Encoding::Json
                };
                assert_eq!(encoding, Some(expected), "{url}: event {q}");
            }
        }
    }
}

fn n_of(m: &sqs_mega::listen::Message) -> i64 {
    m.value()
        .and_then(|v| v.get("n"))
        .and_then(Value::as_i64)
        .unwrap()
}

async fn publish_numbers(publisher: &SqsPublisher, range: std::ops::Range<i64>) {
    let entries: Vec<_> = range
        .map(|n| BatchEntry::new(Content::Data(value!({"n": n}))))
        .collect();
    for chunk in entries.chunks(100) {
        assert!(publisher
            .publish_batch(chunk.to_vec())
            .await
            .iter()
            .all(Result::is_ok));
    }
}

/// Duplicate delivery, reordering, injected 500s and throttling (the embedded endpoint's anomaly injection,
/// seeded): the completion store keeps every side effect single, and every message is processed. Without
/// the store, the same seeded run shows the duplicates it prevents.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_delivery_and_injected_errors_with_a_completion_store() {
    use sqs_mega_local::AnomalyConfig;
    for with_store in [true, false] {
        let endpoint = Endpoint::local();
        let settings = endpoint.settings();
        let client = settings.sqs_client().await;
        let url = create_queue(&client, "dups", &[]).await;
        publish_numbers(&SqsPublisher::new(&settings, &url), 0..100).await;
        endpoint
            .embedded()
            .set_anomalies(
                "dups",
                Some(AnomalyConfig {
                    seed: 7,
                    duplicate_rate: 0.3,
                    reorder_rate: 0.3,
                    error_rate: 0.05,
                    throttle_rate: 0.05,
                    ..Default::default()
                }),
            )
            .unwrap();
        let effects = Arc::new(Mutex::new(HashMap::<i64, usize>::new()));
        let e = effects.clone();
        let mut listener = SqsListener::new(&settings, config(&url));
        if with_store {
            listener.set_completion_store(Arc::new(InMemoryCompletionStore::new(10_000)));
        }
        listener
            .register_subscriber(Subscriber::new(
                "Effect",
                SubscriberKind::Data,
                Handler::from_blocking(move |m| {
                    *e.lock().unwrap().entry(n_of(m)).or_default() += 1;
                    Ok(ProcessStatus::Done)
                }),
            ))
            .unwrap();
        let effects_seen = effects.clone();
        let stats = run_until(listener, move |_| {
            let e = effects_seen.lock().unwrap();
            e.len() == 100
        })
        .await;
        // Let duplicates still in the queue come out.
        let effects = effects.lock().unwrap().clone();
        assert_eq!(
            effects.len(),
            100,
            "every message processed ({with_store}): {stats:?}"
        );
        let total: usize = effects.values().sum();
        if with_store {
            assert_eq!(total, 100, "no side effect twice with the store: {stats:?}");
            assert!(
                stats.skipped_completed > 0,
                "duplicates were delivered and skipped: {stats:?}"
            );
        } else {
            assert!(
                total > 100,
                "without the store the duplicates run again: {stats:?}"
            );
        }
    }
}

/// Backpressure: a producer floods the queue while the listener works; in-flight work never exceeds its
/// bound, and the queue drains with every message processed once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backpressure_under_a_flood() {
    let endpoint = Endpoint::local();
    let settings = endpoint.settings();
    let client = settings.sqs_client().await;
    let url = create_queue(&client, "flood", &[]).await;
    let publisher = SqsPublisher::new(&settings, &url);
    let producer = tokio::spawn(async move { publish_numbers(&publisher, 0..3000).await });
    let seen = Arc::new(Mutex::new(HashSet::new()));
    let s = seen.clone();
    let mut listener = SqsListener::new(
        &settings,
        config(&url).with_pollers(2).with_max_in_flight(16),
    );
    listener
        .register_subscriber(Subscriber::new(
            "Work",
            SubscriberKind::Data,
            Handler::from_async(move |m| {
                let s = s.clone();
                async move {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    assert!(s.lock().unwrap().insert(n_of(&m)), "processed twice");
                    Ok(ProcessStatus::Done)
                }
            }),
        ))
        .unwrap();
    let stats_handle = listener.stats();
    let max_in_flight = Arc::new(AtomicUsize::new(0));
    let m = max_in_flight.clone();
    let sampler = tokio::spawn(async move {
        loop {
            let now = stats_handle.snapshot().in_flight as usize;
            m.fetch_max(now, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    });
    let stats = run_until(listener, |s| s.deleted >= 3000).await;
    sampler.abort();
    producer.await.unwrap();
    assert_eq!(seen.lock().unwrap().len(), 3000, "{stats:?}");
    assert_eq!(stats.deleted, 3000);
    let peak = max_in_flight.load(Ordering::Relaxed);
    assert!(peak <= 16, "in-flight work stays bounded: peak {peak}");
    assert!(peak >= 8, "and the bound is used: peak {peak}");
    // Batched deletes and receives at saturation: well under one request per message.
    assert!(stats.requests_per_message() < 0.5, "{stats:?}");
}

/// Backlog drain after an outage: messages pile up with no consumer, including stale ones whose business
/// timestamp is too old to act on; the listener drains the backlog, acting on fresh messages and dropping
/// stale ones, and nothing is left or lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backlog_drain_after_an_outage() {
    let endpoint = Endpoint::local();
    let settings = endpoint.settings();
    let client = settings.sqs_client().await;
    let url = create_queue(&client, "backlog", &[]).await;
    let publisher = SqsPublisher::new(&settings, &url);
    let now = chrono::Utc::now();
    let entries: Vec<_> = (0..2000i64)
        .map(|n| {
            let age = if n % 4 == 0 {
                chrono::Duration::hours(3)
            } else {
                chrono::Duration::minutes(5)
            };
            BatchEntry::new(Content::Data(
                value!({"n": n, "created_at": ((now - age).to_rfc3339())}),
            ))
        })
        .collect();
    for chunk in entries.chunks(200) {
        assert!(publisher
            .publish_batch(chunk.to_vec())
            .await
            .iter()
            .all(Result::is_ok));
    }
    let acted = Arc::new(AtomicUsize::new(0));
    let dropped = Arc::new(AtomicUsize::new(0));
    let (a, d) = (acted.clone(), dropped.clone());
    let mut listener = SqsListener::new(
        &settings,
        config(&url).with_pollers(2).with_max_in_flight(40),
    );
    listener
        .register_subscriber(Subscriber::new(
            "Fresh",
            SubscriberKind::Data,
            Handler::from_blocking(move |m| {
                let created = m
                    .value()
                    .and_then(|v| v.get("created_at"))
                    .and_then(Value::as_str)
                    .unwrap();
                let created = sqs_mega::json::parse_datetime(created).unwrap();
                if chrono::Utc::now() - created > chrono::Duration::hours(1) {
                    d.fetch_add(1, Ordering::SeqCst); // stale: acknowledged, not acted on
                } else {
                    a.fetch_add(1, Ordering::SeqCst);
                }
                Ok(ProcessStatus::Done)
            }),
        ))
        .unwrap();
    let stats = run_until(listener, |s| s.deleted >= 2000).await;
    assert_eq!(
        (acted.load(Ordering::SeqCst), dropped.load(Ordering::SeqCst)),
        (1500, 500),
        "{stats:?}"
    );
    assert_eq!(queue_depth(&client, &url).await, 0, "queue drained");
}

/// DLQ redrive: poison messages land in the dead-letter queue; once the bug is fixed, StartMessageMoveTask
/// moves them back and they are processed; the DLQ ends empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dlq_redrive_after_a_fix() {
    let endpoint = Endpoint::local();
    let settings = endpoint.settings();
    let client = settings.sqs_client().await;
    let (url, dlq) = queue_with_dlq(&client, "redrive", 1).await;
    let publisher = SqsPublisher::new(&settings, &url);
    publish_numbers(&publisher, 0..10).await;
    let fixed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let done = Arc::new(Mutex::new(HashSet::new()));
    let (f, dn) = (fixed.clone(), done.clone());
    let mut listener = SqsListener::new(&settings, config(&url));
    listener
        .register_subscriber(Subscriber::new(
            "Buggy",
            SubscriberKind::Data,
            Handler::from_blocking(move |m| {
                let n = n_of(m);
                if n % 3 == 0 && !f.load(Ordering::SeqCst) {
                    return Err(HandlerError::retriable("bug"));
                }
                dn.lock().unwrap().insert(n);
                Ok(ProcessStatus::Done)
            }),
        ))
        .unwrap();
    let stats_handle = listener.stats();
    let handle = listener.shutdown_handle();
    let task = tokio::spawn(async move { listener.listen().await });
    // The poison messages (0, 3, 6, 9) fail once and move to the DLQ on their next receive.
    let dlq_count = || async {
        client
            .get_queue_attributes()
            .queue_url(&dlq)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            .unwrap()
            .attributes()
            .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages]
            .parse::<usize>()
            .unwrap()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while dlq_count().await < 4 {
        assert!(
            Instant::now() < deadline,
            "poison never reached the DLQ: {:?}",
            stats_handle.snapshot()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(done.lock().unwrap().len(), 6);
    // Fix the bug, redrive.
    fixed.store(true, Ordering::SeqCst);
    let task_handle = sqs_mega::admin::start_redrive(&client, &dlq, None, Some(100))
        .await
        .unwrap();
    assert!(!task_handle.is_empty());
    let deadline = Instant::now() + Duration::from_secs(30);
    while done.lock().unwrap().len() < 10 {
        assert!(
            Instant::now() < deadline,
            "redriven messages not processed: {:?}",
            stats_handle.snapshot()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    handle.shutdown();
    task.await.unwrap().unwrap();
    assert_eq!(dlq_count().await, 0, "the DLQ is empty");
    let tasks = sqs_mega::admin::redrive_tasks(&client, &dlq).await.unwrap();
    assert_eq!(tasks[0].moved, 4, "{tasks:?}");
    assert_eq!(queue_depth(&client, &url).await, 0, "queue drained");
}
