//! Seed 004's two-table pattern on DynamoDB: a **status table** (the listener's completion store: who is
//! running a message, who finished it) and a **side-effects table** (the record of the external effect,
//! checked before doing it). The status table stops two processes from running one message at once; the
//! side-effects check covers the one gap a status table cannot: a crash after the effect and before the
//! status says COMPLETED.
//!
//! ```text
//! two_tables --queue-url URL --dynamodb-endpoint URL [--publish N] [--crash-after-side-effect] [--idle-ms MS]
//! ```
//! SQS comes from the standard chain (`AWS_ENDPOINT_URL` for the embedded endpoint of `mega local`);
//! DynamoDB from the chain too, or `--dynamodb-endpoint` (moto's server, DynamoDB Local). The tables
//! `mega-status` and `mega-side-effects` are created when missing. `--publish N` first sends N orders.
//! The worker stops when the queue has been idle for `--idle-ms` (default 3000) and prints
//! `effects N skipped M`: effects done by this run, and effects found already done (after a crash).
//! `--crash-after-side-effect` aborts the process right after the first effect, before its completion.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use sqs_mega::aws::AwsSettings;
use sqs_mega::codec::Content;
use sqs_mega::listen::{
    DynamoDbCompletionStore, Handler, HandlerError, ListenerConfig, ProcessStatus, RetryPolicy,
    SqsListener, StoreOptions, Subscriber, SubscriberKind,
};
use sqs_mega::publish::{BatchEntry, SqsPublisher};
use sqs_mega::{value, Value};

const STATUS_TABLE: &str = "mega-status";
const EFFECTS_TABLE: &str = "mega-side-effects";

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// The external effect ("charge the order"), recorded in the side-effects table. Returns false when the
/// record says it was already done: check before doing.
async fn charge_once(db: &aws_sdk_dynamodb::Client, order_id: &str) -> Result<bool, HandlerError> {
    let found = db
        .get_item()
        .table_name(EFFECTS_TABLE)
        .key("pk", AttributeValue::S(order_id.to_owned()))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| HandlerError::retriable(format!("side-effects table: {e}")))?;
    if found.item().is_some() {
        return Ok(false);
    }
    // The effect and its record (a real service's own idempotency record plays this part).
    db.put_item()
        .table_name(EFFECTS_TABLE)
        .item("pk", AttributeValue::S(order_id.to_owned()))
        .item(
            "charged_by",
            AttributeValue::S(std::process::id().to_string()),
        )
        .condition_expression("attribute_not_exists(pk)")
        .send()
        .await
        .map_err(|e| HandlerError::retriable(format!("side-effects table: {e}")))?;
    Ok(true)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(queue_url) = arg(&args, "--queue-url") else {
        eprintln!("usage: two_tables --queue-url URL [--dynamodb-endpoint URL] [--publish N] [--crash-after-side-effect]");
        std::process::exit(2);
    };
    let crash = args.iter().any(|a| a == "--crash-after-side-effect");
    let idle = Duration::from_millis(
        arg(&args, "--idle-ms")
            .and_then(|v| v.parse().ok())
            .unwrap_or(3000),
    );
    let dynamo_endpoint = arg(&args, "--dynamodb-endpoint");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async move {
        let sqs = AwsSettings::default();
        let mut dynamo = AwsSettings::default();
        dynamo.endpoint_url = dynamo_endpoint.clone();
        for table in [STATUS_TABLE, EFFECTS_TABLE] {
            DynamoDbCompletionStore::new(table, dynamo.clone(), StoreOptions::default())
                .create_table()
                .await
                .expect("create the tables");
        }
        let db = aws_sdk_dynamodb::Client::new(&dynamo.load().await);
        if let Some(n) = arg(&args, "--publish").and_then(|n| n.parse::<usize>().ok()) {
            let orders = (0..n)
                .map(|i| {
                    BatchEntry::new(Content::Data(value!({"order_id": (format!("order-{i}"))})))
                })
                .collect();
            let sent = SqsPublisher::new(&sqs, &queue_url)
                .publish_batch(orders)
                .await;
            assert!(sent.iter().all(Result::is_ok), "publish: {sent:?}");
        }

        let mut store = format!("dynamodb://{STATUS_TABLE}?lease=2s");
        if let Some(e) = &dynamo_endpoint {
            store.push_str(&format!("&endpoint_url={e}"));
        }
        let mut listener = SqsListener::new(
            &sqs,
            ListenerConfig::new(&queue_url)
                .with_wait_time_seconds(1)
                .with_visibility_timeout(3)
                .with_retry(RetryPolicy::new(
                    Duration::from_secs(1),
                    Duration::from_secs(2),
                ))
                .with_completion_store(store)
                // One at a time when crashing, so the crash comes after exactly one effect.
                .with_max_in_flight(if crash { 1 } else { 20 }),
        );
        // The business key: two messages for one order are one piece of work.
        listener.set_idempotency_key(|m| m.value()?.get("order_id")?.as_str().map(str::to_owned));
        let (done, skipped) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let (d, s) = (done.clone(), skipped.clone());
        listener
            .register_subscriber(Subscriber::new(
                "charge",
                SubscriberKind::Data,
                Handler::from_async(move |m| {
                    let (db, d, s) = (db.clone(), d.clone(), s.clone());
                    async move {
                        let order = m
                            .value()
                            .and_then(|v| v.get("order_id"))
                            .and_then(Value::as_str)
                            .ok_or_else(|| HandlerError::fatal("no order_id"))?
                            .to_owned();
                        if charge_once(&db, &order).await? {
                            d.fetch_add(1, Ordering::Relaxed);
                            if crash {
                                // After the effect, before the status table hears of it.
                                std::process::abort();
                            }
                        } else {
                            s.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(ProcessStatus::Done)
                    }
                }),
            ))
            .expect("subscribe");
        let listener = Arc::new(listener);
        let stop = listener.shutdown_handle();
        let stats = listener.stats();
        let runner = listener.clone();
        let task = tokio::spawn(async move { runner.listen().await });
        let (mut last, mut quiet) = (u64::MAX, Duration::ZERO);
        while quiet < idle {
            tokio::time::sleep(Duration::from_millis(250)).await;
            let snap = stats.snapshot();
            let seen = snap.received + snap.in_flight;
            quiet = if seen == last && snap.in_flight == 0 {
                quiet + Duration::from_millis(250)
            } else {
                Duration::ZERO
            };
            last = seen;
        }
        stop.shutdown();
        task.await.expect("listener task").expect("listen");
        println!(
            "effects {} skipped {}",
            done.load(Ordering::Relaxed),
            skipped.load(Ordering::Relaxed)
        );
    });
}
