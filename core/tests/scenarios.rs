//! Failure scenarios of seed 004, each asserting counts: nothing lost.

mod support;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqs_mega::codec::Content;
use sqs_mega::listen::{
    Handler, HandlerError, InMemoryCompletionStore, ListenerConfig, ProcessStatus, SqsListener,
    StatsSnapshot, Subscriber, SubscriberKind,
};
use sqs_mega::publish::{BatchEntry, SqsPublisher};
use sqs_mega::{value, Value};
use support::{
    create_queue, drain, listener_config as config, queue_with_dlq, subscribe_queue, Endpoint,
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
    let publisher = SqsPublisher::new(&settings, &url).await;
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
    let mut listener = SqsListener::new(&settings, config(&url)).await;
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
    let publisher = SqsPublisher::new(&settings, &url).await;
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
    let mut listener = SqsListener::new(
        &settings,
        ListenerConfig {
            max_in_flight: 1, // one at a time, so duplicates meet the store after the first finished
            ..config(&url)
        },
    )
    .await;
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
    let publisher = SqsPublisher::new(&settings, &url).await;
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
    let mut listener = SqsListener::new(&settings, config(&url)).await;
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
        let publisher = SnsPublisher::new(&settings, &topic_arn).await;
        for i in 0..6 {
            let event = PayloadBuilder::new()
                .with_event([
                    ("name", value!("item.added")),
                    ("domain", value!("shopping_cart")),
                    ("quantity", value!(i)),
                ])
                .build()
                .unwrap();
            let options = PublishOptions {
                binary_encoding: i % 2 == 1,
                subject: Some("cart".into()),
                ..Default::default()
            };
            publisher.publish(event, &options).await.unwrap();
        }
        for (url, raw) in queues {
            let seen = Arc::new(Mutex::new(Vec::new()));
            let s = seen.clone();
            let mut listener = SqsListener::new(&settings, config(&url)).await;
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
                    .with_pattern(|v: &Value| {
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
