//! Completion stores on real servers (`redis-server`, DynamoDB through the moto server), the listener's
//! behaviour when its store is away, business keys across listeners, trace context through queues and
//! topics, and the metrics endpoint.
#![cfg(all(feature = "redis", feature = "dynamodb"))]

mod support;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqs_mega::codec::Content;
use sqs_mega::listen::{
    Claim, CompletionStore, DynamoDbCompletionStore, Handler, ProcessStatus, SqsListener,
    StoreOptions, Subscriber, SubscriberKind,
};
use sqs_mega::publish::{BatchEntry, PublishOptions, SnsPublisher, SqsPublisher};
use sqs_mega::trace::TraceContext;
use sqs_mega::{value, Value};
use support::*;

/// Every test gets this long, then fails (a hang is a deadlock).
async fn within<F: std::future::Future>(secs: u64, f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(secs), f)
        .await
        .expect("the test timed out")
}

/// The claim protocol, step by step, with a short lease and TTL.
async fn exercise(name: &str, s: &dyn CompletionStore) {
    let k = format!("order-{}", std::process::id());
    assert_eq!(s.claim(&k, "a", "t1").await, Ok(Claim::Acquired), "{name}");
    assert_eq!(
        s.claim(&k, "a", "t2").await,
        Ok(Claim::Busy),
        "{name}: a live claim"
    );
    assert_eq!(
        s.claim(&k, "a", "t1").await,
        Ok(Claim::Acquired),
        "{name}: own claim again"
    );
    assert_eq!(
        s.claim(&k, "b", "t9").await,
        Ok(Claim::Acquired),
        "{name}: per subscriber"
    );
    assert_eq!(s.renew(&k, "a", "t1").await, Ok(true), "{name}");
    s.release(&k, "a", "t2").await.unwrap();
    assert_eq!(
        s.claim(&k, "a", "t3").await,
        Ok(Claim::Busy),
        "{name}: not t2's to release"
    );
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        s.claim(&k, "a", "t2").await,
        Ok(Claim::Acquired),
        "{name}: an expired lease is taken over"
    );
    assert_eq!(
        s.renew(&k, "a", "t1").await,
        Ok(false),
        "{name}: t1 lost it"
    );
    s.complete(&k, "a", "t2").await.unwrap();
    assert_eq!(s.claim(&k, "a", "t3").await, Ok(Claim::Completed), "{name}");
    assert_eq!(s.renew(&k, "a", "t2").await, Ok(false), "{name}: completed");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        s.claim(&k, "a", "t4").await,
        Ok(Claim::Acquired),
        "{name}: the completion expired with its TTL"
    );
    s.release(&k, "a", "t4").await.unwrap();
    assert_eq!(
        s.claim(&k, "a", "t5").await,
        Ok(Claim::Acquired),
        "{name}: released"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_claim_protocol_holds_on_every_store() {
    within(60, async {
        let redis = RedisServer::start();
        let moto = Moto::start();
        let q = "?lease=500ms&ttl=1s";
        for url in [
            format!("memory://{q}"),
            format!("{}{q}", redis.url()),
            format!(
                "dynamodb://completions{q}&endpoint_url={}&region=us-east-1",
                moto.url
            ),
        ] {
            std::env::set_var("AWS_ACCESS_KEY_ID", "test");
            std::env::set_var("AWS_SECRET_ACCESS_KEY", "test");
            let store = sqs_mega::listen::completion_store_from_url(&url).unwrap();
            if url.starts_with("dynamodb") {
                let mut settings = moto.settings();
                settings.endpoint_url = Some(moto.url.clone());
                DynamoDbCompletionStore::new("completions", settings, StoreOptions::default())
                    .create_table()
                    .await
                    .unwrap();
            }
            exercise(&url, store.as_ref()).await;
        }
    })
    .await
}

fn counting_listener(
    settings: &sqs_mega::aws::AwsSettings,
    url: &str,
    store: &str,
    runs: Arc<Mutex<HashMap<String, u32>>>,
) -> SqsListener {
    let mut l = SqsListener::new(settings, listener_config(url).with_completion_store(store));
    l.register_subscriber(Subscriber::new(
        "count",
        SubscriberKind::Data,
        Handler::from_blocking(move |m| {
            let id = m
                .value()
                .and_then(|v| v.get("order_id"))
                .and_then(Value::as_str)
                .unwrap_or("?")
                .to_owned();
            std::thread::sleep(Duration::from_millis(20));
            *runs.lock().unwrap().entry(id).or_default() += 1;
            Ok(ProcessStatus::Done)
        }),
    ))
    .unwrap();
    l
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_store_retries_the_message_and_never_drops_it() {
    within(90, async {
        let endpoint = Endpoint::local();
        let settings = endpoint.settings();
        let client = settings.sqs_client().await;
        let url = create_queue(&client, "store-away", &[]).await;
        let publisher = SqsPublisher::new(&settings, &url);
        for i in 0..3 {
            publisher
                .publish(
                    Content::Data(value!({"order_id": (format!("o{i}"))})),
                    &PublishOptions::default(),
                )
                .await
                .unwrap();
        }
        let port = free_port();
        let store = format!("redis://127.0.0.1:{port}/0");
        let runs = Arc::new(Mutex::new(HashMap::new()));

        // The store is down: nothing runs, nothing is deleted, every failure is counted.
        let listener = counting_listener(&settings, &url, &store, runs.clone());
        let stats = run_until(listener, |s| s.store_errors >= 3).await.unwrap();
        assert!(stats.store_errors >= 3, "{stats:?}");
        assert_eq!(stats.dispatched, 0, "no handler ran without a claim");
        assert_eq!(stats.deleted, 0);
        assert!(runs.lock().unwrap().is_empty());
        assert_eq!(queue_depth(&client, &url).await, 3, "nothing dropped");

        // The store comes back: each message runs once.
        let _redis = RedisServer::start_on(port);
        let listener = counting_listener(&settings, &url, &store, runs.clone());
        let stats = run_until(listener, |s| s.deleted >= 3).await.unwrap();
        assert_eq!(stats.deleted, 3, "{stats:?}");
        let runs = runs.lock().unwrap();
        assert_eq!(runs.len(), 3);
        assert!(runs.values().all(|n| *n == 1), "{runs:?}");
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_business_key_runs_once_across_listeners_sharing_redis() {
    within(90, async {
        let redis = RedisServer::start();
        let endpoint = Endpoint::local();
        let settings = endpoint.settings();
        let client = settings.sqs_client().await;
        let url = create_queue(&client, "business-keys", &[]).await;
        endpoint
            .embedded()
            .set_anomalies(
                "business-keys",
                Some(sqs_mega_local::AnomalyConfig {
                    seed: 7,
                    duplicate_rate: 0.3,
                    reorder_rate: 0.3,
                    ..Default::default()
                }),
            )
            .unwrap();
        // 20 orders, each sent twice under two message ids.
        let entries: Vec<_> = (0..40)
            .map(|i| {
                BatchEntry::new(Content::Data(
                    value!({"order_id": (format!("o{}", i % 20))}),
                ))
            })
            .collect();
        let publisher = SqsPublisher::new(&settings, &url);
        assert!(publisher
            .publish_batch(entries)
            .await
            .iter()
            .all(Result::is_ok));

        let runs = Arc::new(Mutex::new(HashMap::new()));
        let mut listeners = Vec::new();
        // One listener chooses the key in code, the other by configuration (as the bindings do).
        let mut l = counting_listener(&settings, &url, &redis.url(), runs.clone());
        l.set_idempotency_key(|m| {
            m.value()
                .and_then(|v| v.get("order_id"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        });
        listeners.push(l);
        let mut l = counting_listener(&settings, &url, &redis.url(), runs.clone());
        let config = l.config().clone().with_idempotency_key("order_id");
        l.set_config(config).unwrap();
        listeners.push(l);
        let handles: Vec<_> = listeners
            .into_iter()
            .map(|l| {
                let h = l.shutdown_handle();
                (h, tokio::spawn(async move { l.listen().await }))
            })
            .collect();
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while queue_depth(&client, &url).await > 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "the queue did not empty"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let mut skipped = 0;
        for (h, task) in handles {
            h.shutdown();
            skipped += task.await.unwrap().unwrap().skipped_completed;
        }
        let runs = runs.lock().unwrap();
        assert_eq!(runs.len(), 20, "{runs:?}");
        assert!(runs.values().all(|n| *n == 1), "each order once: {runs:?}");
        assert!(
            skipped >= 20,
            "the second message of each order was skipped ({skipped})"
        );
    })
    .await
}

/// A handler's context and its parent.
type Seen = (TraceContext, Option<TraceContext>);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trace_continues_through_a_handler_a_topic_and_a_queue() {
    within(60, async {
        let endpoint = Endpoint::local();
        let settings = endpoint.settings();
        let sqs = settings.sqs_client().await;
        let sns = settings.sns_client().await;
        let first = create_queue(&sqs, "trace-first", &[]).await;
        let second = create_queue(&sqs, "trace-second", &[]).await;
        let topic = sqs_mega::admin::create_topic(&sns, "trace-topic")
            .await
            .unwrap();
        subscribe_queue(&sqs, &sns, &topic, &second, false).await;

        let origin =
            TraceContext::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
        SqsPublisher::new(&settings, &first)
            .publish(
                Content::Data(value!({"step": 1})),
                &PublishOptions::default().with_trace(origin),
            )
            .await
            .unwrap();

        // The first handler publishes to the topic without saying anything about traces.
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let mut l = SqsListener::new(&settings, listener_config(&first));
        let (s, topic_publisher) = (seen.clone(), Arc::new(SnsPublisher::new(&settings, &topic)));
        l.register_subscriber(Subscriber::new(
            "first",
            SubscriberKind::Data,
            Handler::from_async(move |m| {
                let (s, p) = (s.clone(), topic_publisher.clone());
                async move {
                    s.lock().unwrap().push((m.trace, m.parent_trace));
                    p.publish(
                        Content::Data(value!({"step": 2})),
                        &PublishOptions::default(),
                    )
                    .await
                    .map_err(|e| sqs_mega::listen::HandlerError::retriable(e.to_string()))?;
                    Ok(ProcessStatus::Done)
                }
            }),
        ))
        .unwrap();
        run_until(l, |s| s.deleted >= 1).await.unwrap();

        let mut l = SqsListener::new(&settings, listener_config(&second));
        let s = seen.clone();
        l.register_subscriber(Subscriber::new(
            "second",
            SubscriberKind::Data,
            Handler::from_blocking(move |m| {
                s.lock().unwrap().push((m.trace, m.parent_trace));
                // A blocking handler's thread has the context too.
                assert_eq!(TraceContext::current(), Some(m.trace));
                Ok(ProcessStatus::Done)
            }),
        ))
        .unwrap();
        run_until(l, |s| s.deleted >= 1).await.unwrap();

        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 2, "{seen:?}");
        let (first_span, first_parent) = seen[0];
        assert_eq!(
            first_parent,
            Some(origin),
            "the handler's parent is the sender's span"
        );
        assert_eq!(first_span.trace_id, origin.trace_id);
        assert_ne!(
            first_span.span_id, origin.span_id,
            "a new span for the handler"
        );
        let (second_span, second_parent) = seen[1];
        let second_parent = second_parent.expect("the SNS notification carried the trace");
        assert_eq!(
            second_parent.trace_id, origin.trace_id,
            "same trace through SNS"
        );
        assert_ne!(
            second_parent.span_id, first_span.span_id,
            "the publish is a child span"
        );
        assert_eq!(second_span.trace_id, origin.trace_id);
    })
    .await
}

fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metrics_endpoint_serves_prometheus_text_while_running() {
    within(60, async {
        let endpoint = Endpoint::local();
        let settings = endpoint.settings();
        let client = settings.sqs_client().await;
        let url = create_queue(&client, "metrics", &[]).await;
        let entries: Vec<_> = (0..5)
            .map(|i| BatchEntry::new(Content::Data(value!({"i": i}))))
            .collect();
        SqsPublisher::new(&settings, &url)
            .publish_batch(entries)
            .await;
        let mut l = SqsListener::new(
            &settings,
            listener_config(&url).with_metrics_addr("127.0.0.1:0"),
        );
        l.register_subscriber(Subscriber::new(
            "ok",
            SubscriberKind::Data,
            Handler::from_blocking(|_| Ok(ProcessStatus::Done)),
        ))
        .unwrap();
        let l = Arc::new(l);
        let runner = l.clone();
        let task = tokio::spawn(async move { runner.listen().await });
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while l.stats().snapshot().deleted < 5 || l.metrics_addr().is_none() {
            assert!(std::time::Instant::now() < deadline, "no progress");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let addr = l.metrics_addr().unwrap();
        let page = tokio::task::spawn_blocking(move || http_get(addr, "/metrics"))
            .await
            .unwrap();
        assert!(page.starts_with("HTTP/1.1 200 OK"), "{page}");
        assert!(
            page.contains("Content-Type: text/plain; version=0.0.4"),
            "{page}"
        );
        assert!(
            page.contains(&format!(
                "mega_listener_received_total{{queue=\"{url}\"}} 5\n"
            )),
            "{page}"
        );
        assert!(
            page.contains("mega_listener_handler_latency_seconds{"),
            "{page}"
        );
        let missing = tokio::task::spawn_blocking(move || http_get(addr, "/other"))
            .await
            .unwrap();
        assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
        l.shutdown_handle().shutdown();
        task.await.unwrap().unwrap();
        assert_eq!(l.metrics_addr(), None, "not serving once stopped");
        assert!(
            std::net::TcpStream::connect(addr).is_err(),
            "the port is closed"
        );
    })
    .await
}

#[test]
fn a_bad_store_url_or_metrics_address_is_refused_where_it_is_given() {
    let config = listener_config("http://q").with_completion_store("redis://");
    let e = config.validate().unwrap_err().to_string();
    assert!(e.contains("needs a host"), "{e}");
    let config = listener_config("http://q").with_idempotency_key("data..id");
    let e = config.validate().unwrap_err().to_string();
    assert!(e.contains("idempotency_key `data..id`"), "{e}");
    let config = listener_config("http://q").with_metrics_addr("somewhere");
    let e = config.validate().unwrap_err().to_string();
    assert!(e.contains("metrics_addr `somewhere`"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xray_trace_headers_are_sent_and_continued_on_both_endpoints() {
    use aws_sdk_sqs::types::{
        MessageSystemAttributeName as Sys, MessageSystemAttributeNameForSends as SysSend,
        MessageSystemAttributeValue,
    };
    within(60, async {
        for endpoint in Endpoint::both() {
            let name = endpoint.name();
            let settings = endpoint.settings();
            let client = settings.sqs_client().await;
            let url = create_queue(&client, "xray", &[]).await;

            // Our publisher sends both forms of one context.
            SqsPublisher::new(&settings, &url)
                .publish(Content::Data(value!({"a": 1})), &PublishOptions::default())
                .await
                .unwrap();
            let got = client
                .receive_message()
                .queue_url(&url)
                .message_attribute_names("All")
                .message_system_attribute_names(Sys::AwsTraceHeader)
                .wait_time_seconds(1)
                .send()
                .await
                .unwrap();
            let m = &got.messages()[0];
            let w3c = m.message_attributes().unwrap()["traceparent"]
                .string_value()
                .unwrap();
            let xray = &m.attributes().unwrap()[&Sys::AwsTraceHeader];
            let w3c = TraceContext::parse(w3c).unwrap();
            assert_eq!(
                TraceContext::from_aws_trace_header(xray).unwrap(),
                w3c,
                "{name}: AWSTraceHeader and traceparent name one context"
            );
            client
                .delete_message()
                .queue_url(&url)
                .receipt_handle(m.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();

            // A sender traced by X-Ray alone: the listener continues its trace.
            let header =
                "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
            client
                .send_message()
                .queue_url(&url)
                .message_body(r#"{"b": 2}"#)
                .message_system_attributes(
                    SysSend::AwsTraceHeader,
                    MessageSystemAttributeValue::builder()
                        .data_type("String")
                        .string_value(header)
                        .build()
                        .unwrap(),
                )
                .send()
                .await
                .unwrap();
            let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
            let s = seen.clone();
            let mut l = SqsListener::new(&settings, listener_config(&url));
            l.register_subscriber(Subscriber::new(
                "x",
                SubscriberKind::Data,
                Handler::from_blocking(move |m| {
                    s.lock().unwrap().push((m.trace, m.parent_trace));
                    Ok(ProcessStatus::Done)
                }),
            ))
            .unwrap();
            run_until(l, |s| s.deleted >= 1).await.unwrap();
            let (span, parent) = seen.lock().unwrap()[0];
            let parent = parent.unwrap_or_else(|| panic!("{name}: the X-Ray header was read"));
            assert_eq!(
                parent.trace_id_hex(),
                "5759e988bd862e3fe1be46a994272793",
                "{name}"
            );
            assert_eq!(parent.span_id_hex(), "53995c3f42cd8ad8", "{name}");
            assert_eq!(span.trace_id, parent.trace_id, "{name}");
        }

        // The embedded endpoint refuses what SQS refuses.
        let endpoint = Endpoint::local();
        let client = endpoint.settings().sqs_client().await;
        let url = create_queue(&client, "xray-bad", &[]).await;
        let err = client
            .send_message()
            .queue_url(&url)
            .message_body("x")
            .message_system_attributes(
                SysSend::from("SomethingElse"),
                MessageSystemAttributeValue::builder()
                    .data_type("String")
                    .string_value("v")
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap_err();
        let text = format!("{:?}", err.into_service_error());
        assert!(text.contains("only AWSTraceHeader may be set"), "{text}");
    })
    .await
}
