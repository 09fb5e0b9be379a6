//! The listener through the real AWS SDK against the embedded endpoint (and moto for the happy path and
//! the dead-letter queue).

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::QueueAttributeName;
use sqs_mega::codec::Content;
use sqs_mega::event::PayloadBuilder;
use sqs_mega::listen::{
    Handler, HandlerError, InMemoryCompletionStore, ListenerError, ProcessStatus, SqsListener,
    Subscriber, SubscriberKind,
};
use sqs_mega::publish::{BatchEntry, PublishOptions, SqsPublisher};
use sqs_mega::{value, Value};
use support::{
    create_queue, drain, listener_config as config, queue_depth, queue_with_dlq, run_until,
    Endpoint,
};

fn counting(counter: Arc<AtomicUsize>, status: ProcessStatus) -> Handler {
    Handler::from_async(move |_m| {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            Ok(status)
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_matching_subscriber_gets_each_message_and_the_queue_drains() {
    for endpoint in Endpoint::both() {
        eprintln!("endpoint: {}", endpoint.name());
        let settings = endpoint.settings();
        let client = settings.sqs_client().await;
        let url = create_queue(&client, "happy", &[]).await;
        let publisher = SqsPublisher::new(&settings, &url);
        let mut entries = Vec::new();
        for i in 0..20 {
            let event = PayloadBuilder::new()
                .with_event([
                    ("name", value!("item.added")),
                    ("domain", value!("shopping_cart")),
                    ("quantity", value!(i)),
                ])
                .build()
                .unwrap();
            let mut e = BatchEntry::new(event);
            e.options.binary_encoding = i % 2 == 0;
            entries.push(e);
        }
        for i in 0..10 {
            entries.push(BatchEntry::new(Content::Data(
                value!({"type": "user_notification", "n": i}),
            )));
        }
        assert!(publisher
            .publish_batch(entries)
            .await
            .iter()
            .all(Result::is_ok));

        let events = Arc::new(AtomicUsize::new(0));
        let big_quantity = Arc::new(AtomicUsize::new(0));
        let data = Arc::new(AtomicUsize::new(0));
        let mut listener = SqsListener::new(&settings, config(&url));
        listener
            .register_subscriber(
                Subscriber::new(
                    "ItemAdded",
                    SubscriberKind::Event,
                    counting(events.clone(), ProcessStatus::Done),
                )
                .with_predicate(|v: &Value| {
                    v.get_path("event.name").and_then(Value::as_str) == Some("item.added")
                }),
            )
            .unwrap();
        listener
            .register_subscriber(
                Subscriber::new(
                    "BigQuantity",
                    SubscriberKind::Event,
                    counting(big_quantity.clone(), ProcessStatus::Done),
                )
                .with_predicate(|v: &Value| {
                    v.get_path("event.attributes.quantity")
                        .and_then(Value::as_i64)
                        .is_some_and(|q| q >= 15)
                }),
            )
            .unwrap();
        listener
            .register_subscriber(Subscriber::new(
                "Notifications",
                SubscriberKind::Data,
                counting(data.clone(), ProcessStatus::Done),
            ))
            .unwrap();
        let dup = listener.register_subscriber(Subscriber::new(
            "Notifications",
            SubscriberKind::Data,
            counting(data.clone(), ProcessStatus::Done),
        ));
        assert_eq!(
            dup.unwrap_err(),
            ListenerError::DuplicateSubscriber("Notifications".into())
        );

        let stats = run_until(listener, |s| s.deleted >= 30).await.unwrap();
        assert_eq!(events.load(Ordering::SeqCst), 20);
        assert_eq!(
            big_quantity.load(Ordering::SeqCst),
            5,
            "quantities 15..19 match the second subscriber too"
        );
        assert_eq!(data.load(Ordering::SeqCst), 10);
        assert_eq!(
            (stats.received, stats.deleted, stats.dispatched),
            (30, 30, 35)
        );
        assert_eq!(queue_depth(&client, &url).await, 0, "queue drained");
        // Batched deletes: far fewer delete calls than messages.
        assert!(stats.delete_calls < 15, "{stats:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retried_messages_come_back_and_the_completion_store_skips_finished_subscribers() {
    let endpoint = Endpoint::local();
    let settings = endpoint.settings();
    let client = settings.sqs_client().await;
    let url = create_queue(&client, "retry", &[]).await;
    SqsPublisher::new(&settings, &url)
        .publish(
            Content::Data(value!({"order_id": "o-1"})),
            &PublishOptions::default(),
        )
        .await
        .unwrap();
    let steady = Arc::new(AtomicUsize::new(0));
    let flaky_calls = Arc::new(AtomicUsize::new(0));
    let mut listener = SqsListener::new(&settings, config(&url));
    listener.set_completion_store(Arc::new(InMemoryCompletionStore::new(100)));
    listener
        .register_subscriber(Subscriber::new(
            "Steady",
            SubscriberKind::Data,
            counting(steady.clone(), ProcessStatus::Done),
        ))
        .unwrap();
    let calls = flaky_calls.clone();
    listener
        .register_subscriber(Subscriber::new(
            "Flaky",
            SubscriberKind::Data,
            Handler::from_blocking(move |m| {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                assert_eq!(
                    m.receive_count as usize,
                    n + 1,
                    "receive count grows with each delivery"
                );
                match n {
                    0 => Ok(ProcessStatus::RetryLater),
                    1 => Err(HandlerError::retriable("database busy")),
                    _ => Ok(ProcessStatus::Done),
                }
            }),
        ))
        .unwrap();
    let stats = run_until(listener, |s| s.deleted >= 1).await.unwrap();
    assert_eq!(flaky_calls.load(Ordering::SeqCst), 3);
    assert_eq!(
        steady.load(Ordering::SeqCst),
        1,
        "Steady succeeded once and was skipped on redelivery"
    );
    assert_eq!(stats.skipped_completed, 2);
    assert_eq!(
        (stats.retry_later, stats.retriable_error, stats.retried),
        (1, 1, 2)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_messages_reach_the_dead_letter_queue() {
    for endpoint in Endpoint::both() {
        eprintln!("endpoint: {}", endpoint.name());
        let settings = endpoint.settings();
        let client = settings.sqs_client().await;
        let (url, dlq) = queue_with_dlq(&client, "poison", 2).await;
        let publisher = SqsPublisher::new(&settings, &url);
        publisher
            .publish(
                Content::Data(value!({"poison": true})),
                &PublishOptions::default(),
            )
            .await
            .unwrap();
        publisher
            .publish(
                Content::Data(value!({"poison": false})),
                &PublishOptions::default(),
            )
            .await
            .unwrap();
        let mut listener = SqsListener::new(&settings, config(&url));
        listener
            .register_subscriber(Subscriber::new(
                "Picky",
                SubscriberKind::Data,
                Handler::from_async(|m| async move {
                    if m.value().and_then(|v| v.get("poison")) == Some(&Value::Bool(true)) {
                        Err(HandlerError::retriable("cannot process this one"))
                    } else {
                        Ok(ProcessStatus::Done)
                    }
                }),
            ))
            .unwrap();
        // Two failed receives, then a third receive attempt moves it to the DLQ.
        let stats = run_until(listener, |s| {
            s.deleted >= 1 && s.retriable_error >= 2 && s.receive_calls >= 6
        })
        .await
        .unwrap();
        assert_eq!(stats.deleted, 1);
        let dead = drain(&client, &dlq, 1).await;
        assert_eq!(dead.len(), 1, "the poison message is in the DLQ");
        assert!(dead[0].body().unwrap().contains("\"poison\":true"));
        assert_eq!(queue_depth(&client, &url).await, 0, "queue drained");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_is_a_fatal_error_and_the_listener_goes_on() {
    let endpoint = Endpoint::local();
    let settings = endpoint.settings();
    let client = settings.sqs_client().await;
    let url = create_queue(&client, "panics", &[]).await;
    let publisher = SqsPublisher::new(&settings, &url);
    for i in 0..4 {
        publisher
            .publish(Content::Data(value!({"n": i})), &PublishOptions::default())
            .await
            .unwrap();
    }
    let ok = Arc::new(AtomicUsize::new(0));
    let seen = ok.clone();
    let mut listener = SqsListener::new(&settings, config(&url));
    listener
        .register_subscriber(Subscriber::new(
            "Explodes",
            SubscriberKind::Data,
            Handler::from_blocking(move |m| {
                if m.value().and_then(|v| v.get("n")) == Some(&Value::Int(1)) {
                    panic!("boom");
                }
                seen.fetch_add(1, Ordering::SeqCst);
                Ok(ProcessStatus::Done)
            }),
        ))
        .unwrap();
    let stats = run_until(listener, |s| s.deleted >= 4).await.unwrap();
    assert_eq!(ok.load(Ordering::SeqCst), 3);
    assert_eq!((stats.fatal_error, stats.done, stats.deleted), (1, 3, 4));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_in_flight_work_finish_and_deletes_it() {
    let endpoint = Endpoint::local();
    let settings = endpoint.settings();
    let client = settings.sqs_client().await;
    let url = create_queue(&client, "graceful", &[]).await;
    SqsPublisher::new(&settings, &url)
        .publish(
            Content::Plaintext("slow job".into()),
            &PublishOptions::default(),
        )
        .await
        .unwrap();
    let started = Arc::new(AtomicUsize::new(0));
    let finished = Arc::new(Mutex::new(false));
    let (s, f) = (started.clone(), finished.clone());
    let mut listener = SqsListener::new(&settings, config(&url));
    listener
        .register_subscriber(Subscriber::new(
            "Slow",
            SubscriberKind::Message,
            Handler::from_async(move |_m| {
                let (s, f) = (s.clone(), f.clone());
                async move {
                    s.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(1500)).await;
                    *f.lock().unwrap() = true;
                    Ok(ProcessStatus::Done)
                }
            }),
        ))
        .unwrap();
    // Shut down as soon as the handler has started.
    let stats = run_until(listener, |s| s.dispatched >= 1).await.unwrap();
    assert_eq!(started.load(Ordering::SeqCst), 1);
    assert!(
        *finished.lock().unwrap(),
        "listen() returned only after the handler finished"
    );
    assert_eq!(
        stats.deleted, 1,
        "and its message was deleted before returning"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_queue_stops_the_listener_with_a_clear_error() {
    let endpoint = Endpoint::local();
    let settings = endpoint.settings();
    let url = format!("{}/123456789012/missing", endpoint.url());
    let listener = SqsListener::new(&settings, config(&url));
    let err = listener.listen().await.unwrap_err();
    match &err {
        ListenerError::Queue { queue_url, error } => {
            assert_eq!(queue_url, &url);
            assert!(!error.is_transient(), "{err}");
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("GetQueueAttributes"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_payloads_can_be_transformed_into_data_objects() {
    use sqs_mega::listen::RawPolicy;
    let endpoint = Endpoint::local();
    let settings = endpoint.settings();
    let client = settings.sqs_client().await;
    let url = create_queue(&client, "raw", &[]).await;
    let publisher = SqsPublisher::new(&settings, &url);
    publisher
        .publish(
            Content::Plaintext("order:42".into()),
            &PublishOptions::default(),
        )
        .await
        .unwrap();
    publisher
        .publish(Content::Binary(vec![1, 2, 3]), &PublishOptions::default())
        .await
        .unwrap();
    let orders = Arc::new(Mutex::new(Vec::new()));
    let seen = orders.clone();
    let mut listener = SqsListener::new(&settings, config(&url));
    listener.set_raw_policy(RawPolicy::Transform(Arc::new(|m| match m.content() {
        Content::Plaintext(t) => t
            .strip_prefix("order:")
            .and_then(|n| n.parse::<i64>().ok())
            .map(|n| value!({"order": n})),
        _ => None,
    })));
    listener
        .register_subscriber(
            Subscriber::new(
                "Orders",
                SubscriberKind::Data,
                Handler::from_blocking(move |m| {
                    seen.lock()
                        .unwrap()
                        .push(m.value().unwrap().get("order").cloned());
                    Ok(ProcessStatus::Done)
                }),
            )
            .with_predicate(|v: &Value| v.get("order").is_some()),
        )
        .unwrap();
    let stats = run_until(listener, |s| s.deleted >= 2).await.unwrap();
    assert_eq!(*orders.lock().unwrap(), vec![Some(Value::Int(42))]);
    assert_eq!(
        (stats.dispatched, stats.deleted),
        (1, 2),
        "the untransformable binary blob was deleted"
    );
}

/// A handler slower than the visibility timeout is not redelivered while it runs: the heartbeat extends it.
/// The same run without the heartbeat shows the redelivery the heartbeat prevents.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_heartbeat_keeps_long_handlers_from_being_redelivered() {
    let endpoint = Endpoint::local();
    let settings = endpoint.settings();
    let client = settings.sqs_client().await;
    for heartbeat in [true, false] {
        let url = create_queue(&client, &format!("long-{heartbeat}"), &[]).await;
        SqsPublisher::new(&settings, &url)
            .publish(
                Content::Data(value!({"job": "long"})),
                &PublishOptions::default(),
            )
            .await
            .unwrap();
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let mut listener = SqsListener::new(
            &settings,
            config(&url)
                .with_visibility_timeout(3)
                .with_heartbeat(heartbeat),
        );
        listener
            .register_subscriber(Subscriber::new(
                "Long",
                SubscriberKind::Data,
                Handler::from_async(move |_m| {
                    let c = c.clone();
                    async move {
                        c.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(7000)).await;
                        Ok(ProcessStatus::Done)
                    }
                }),
            ))
            .unwrap();
        let stats = run_until(listener, |s| s.deleted >= 1).await.unwrap();
        if heartbeat {
            assert_eq!(calls.load(Ordering::SeqCst), 1, "{stats:?}");
            assert!(stats.heartbeats >= 3, "{stats:?}");
        } else {
            assert!(
                calls.load(Ordering::SeqCst) >= 2,
                "without heartbeat the message comes back: {stats:?}"
            );
        }
    }
}

/// FIFO: messages of a group are handled one at a time in order, also across a retry; groups in parallel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifo_order_holds_per_group_under_concurrency_and_retries() {
    let endpoint = Endpoint::local();
    let settings = endpoint.settings();
    let client = settings.sqs_client().await;
    let url = create_queue(
        &client,
        "groups.fifo",
        &[
            (QueueAttributeName::FifoQueue, "true"),
            (QueueAttributeName::ContentBasedDeduplication, "true"),
        ],
    )
    .await;
    let publisher = SqsPublisher::new(&settings, &url);
    let mut entries = Vec::new();
    for seq in 0..5 {
        for group in ["a", "b", "c"] {
            let mut e = BatchEntry::new(Content::Data(value!({"group": group, "seq": seq})));
            e.options.group_id = Some(group.into());
            entries.push(e);
        }
    }
    assert!(publisher
        .publish_batch(entries)
        .await
        .iter()
        .all(Result::is_ok));
    let log = Arc::new(Mutex::new(Vec::<(String, i64)>::new()));
    let failed_once = Arc::new(AtomicUsize::new(0));
    let (l, f) = (log.clone(), failed_once.clone());
    let mut listener = SqsListener::new(&settings, config(&url));
    listener
        .register_subscriber(Subscriber::new(
            "Ordered",
            SubscriberKind::Data,
            Handler::from_async(move |m| {
                let (l, f) = (l.clone(), f.clone());
                async move {
                    let v = m.value().unwrap();
                    let group = v.get("group").and_then(Value::as_str).unwrap().to_owned();
                    let seq = v.get("seq").and_then(Value::as_i64).unwrap();
                    // b/2 fails the first time: b/3 and b/4 must wait for it.
                    if group == "b" && seq == 2 && f.fetch_add(1, Ordering::SeqCst) == 0 {
                        return Ok(ProcessStatus::RetryLater);
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    l.lock().unwrap().push((group, seq));
                    Ok(ProcessStatus::Done)
                }
            }),
        ))
        .unwrap();
    let stats = run_until(listener, |s| s.deleted >= 15).await.unwrap();
    let log = log.lock().unwrap().clone();
    assert_eq!(log.len(), 15, "{stats:?} {log:?}");
    for group in ["a", "b", "c"] {
        let seqs: Vec<i64> = log
            .iter()
            .filter(|(g, _)| g == group)
            .map(|(_, s)| *s)
            .collect();
        assert_eq!(seqs, [0, 1, 2, 3, 4], "group {group}: {log:?}");
    }
    assert_eq!(failed_once.load(Ordering::SeqCst), 2, "b/2 ran twice");
}

/// An idle listener long-polls: on an empty queue it makes about one receive per wait time, not a busy loop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_listener_long_polls_instead_of_spinning() {
    let endpoint = Endpoint::local();
    let settings = endpoint.settings();
    let client = settings.sqs_client().await;
    let url = create_queue(&client, "idle", &[]).await;
    let listener = SqsListener::new(&settings, config(&url).with_wait_time_seconds(2));
    let started = Instant::now();
    let stats = run_until(listener, |_| false_after(started, Duration::from_secs(5)))
        .await
        .unwrap();
    // 5 s of idling with 2 s long polls: 3 receives at most (a busy loop would make hundreds).
    assert!((2..=4).contains(&stats.receive_calls), "{stats:?}");
    assert_eq!(stats.received, 0);
}

fn false_after(start: Instant, d: Duration) -> bool {
    start.elapsed() >= d
}

/// Many subscribers: compiled patterns go through the matcher's router, closures beside them; each message
/// reaches exactly the subscribers that match it (handlers run concurrently; the router's own tests check
/// registration order).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routed_and_custom_subscribers_each_get_exactly_their_messages() {
    use sqs_mega::matcher::dsl::eq;
    use sqs_mega::matcher::Rules;
    let endpoint = Endpoint::local();
    let settings = endpoint.settings();
    let client = settings.sqs_client().await;
    let url = create_queue(&client, "many", &[]).await;
    let publisher = SqsPublisher::new(&settings, &url);
    let entries: Vec<_> = (0..20)
        .map(|i| {
            BatchEntry::new(
                PayloadBuilder::new()
                    .with_event([
                        ("name", Value::from(format!("event.{}", i * 2))),
                        ("domain", value!("d")),
                    ])
                    .build()
                    .unwrap(),
            )
        })
        .chain(std::iter::once(BatchEntry::new(Content::Data(
            value!({"kind": "data"}),
        ))))
        .collect();
    assert!(publisher
        .publish_batch(entries)
        .await
        .iter()
        .all(Result::is_ok));
    let log = Arc::new(Mutex::new(Vec::<(String, String)>::new()));
    let handler = |name: String, log: Arc<Mutex<Vec<(String, String)>>>| {
        Handler::from_blocking(move |m| {
            let what = match m.event() {
                Some(e) => e.event.name.clone(),
                None => "data".into(),
            };
            log.lock().unwrap().push((what, name.clone()));
            Ok(ProcessStatus::Done)
        })
    };
    let mut listener = SqsListener::new(&settings, config(&url));
    // 0: a closure over every event; 1..=50: compiled rules on event.0 .. event.49; 51: every data object;
    // 52: compiled rules on the domain.
    listener
        .register_subscriber(
            Subscriber::new(
                "all-events",
                SubscriberKind::Event,
                handler("all-events".into(), log.clone()),
            )
            .with_predicate(|_: &Value| true),
        )
        .unwrap();
    for i in 0..50 {
        let name = format!("name-{i}");
        listener
            .register_subscriber(
                Subscriber::new(
                    &name,
                    SubscriberKind::Event,
                    handler(name.clone(), log.clone()),
                )
                .with_pattern(
                    Rules::event([("name", eq(format!("event.{i}")))])
                        .compile()
                        .unwrap(),
                ),
            )
            .unwrap();
    }
    listener
        .register_subscriber(Subscriber::new(
            "data",
            SubscriberKind::Data,
            handler("data".into(), log.clone()),
        ))
        .unwrap();
    listener
        .register_subscriber(
            Subscriber::new(
                "domain-d",
                SubscriberKind::Event,
                handler("domain-d".into(), log.clone()),
            )
            .with_pattern(Rules::event([("domain", eq("d"))]).compile().unwrap()),
        )
        .unwrap();
    let stats = run_until(listener, |s| s.deleted >= 21).await.unwrap();
    let log = log.lock().unwrap().clone();
    assert_eq!(stats.dispatched, 20 * 3 + 1, "{stats:?}");
    for i in 0..20 {
        let event = format!("event.{}", i * 2);
        let got: Vec<&str> = log
            .iter()
            .filter(|(e, _)| *e == event)
            .map(|(_, s)| s.as_str())
            .collect();
        let mut sorted = got.clone();
        sorted.sort_by_key(|s| match *s {
            "all-events" => 0,
            "domain-d" => 2,
            _ => 1,
        });
        assert_eq!(
            sorted,
            ["all-events", format!("name-{}", i * 2).as_str(), "domain-d"],
            "{event}: {got:?}"
        );
    }
    assert_eq!(log.iter().filter(|(_, s)| s == "data").count(), 1);
}
