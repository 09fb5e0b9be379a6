//! `mega demo`: the framework end to end, with no AWS account.
//!
//! It starts the embedded SQS + SNS endpoint, creates a queue (with a dead-letter queue) subscribed to a
//! topic, publishes the shopping-cart MEGA events of seed 003 (JSON and BSON, to the queue directly and
//! through SNS) and a user notification data object, and runs a listener whose subscribers are the seed's
//! `ShoppingCartItemAdded`, `ShoppingCartItemRemoved`, `ShoppingCartCheckout` and `UserNotification`, with
//! their pattern-matching rules. One checkout is poison: its handler keeps failing, and the message ends in
//! the dead-letter queue. A summary closes the run; every count is checked.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqs_mega::aws::AwsSettings;
use sqs_mega::codec::{Content, Encoding};
use sqs_mega::event::{Payload, PayloadBuilder};
use sqs_mega::listen::{
    Handler, HandlerError, ListenerConfig, Message, ProcessStatus, RetryPolicy, SqsListener,
    Subscriber, SubscriberKind,
};
use sqs_mega::matcher::dsl::{any_, empty, eq, gt, map, matches, not_, one_of};
use sqs_mega::matcher::Rules;
use sqs_mega::publish::{PublishOptions, SnsPublisher, SqsPublisher};
use sqs_mega::{value, Value};

use crate::{print_out, CliError};

/// What the demo saw: one line per handled message, and counts per subscriber.
#[derive(Default)]
struct Journal {
    lines: Vec<String>,
    per_subscriber: BTreeMap<&'static str, usize>,
}

type Shared = Arc<Mutex<Journal>>;

fn how(m: &Message) -> String {
    format!(
        "{}, {}",
        m.decoded.encoding.map_or("?", Encoding::as_str),
        if m.decoded.sns.is_some() {
            "via SNS"
        } else {
            "direct"
        }
    )
}

fn record(journal: &Shared, subscriber: &'static str, line: String) {
    let mut j = journal.lock().expect("journal");
    *j.per_subscriber.entry(subscriber).or_default() += 1;
    j.lines.push(format!("  {subscriber:<24} {line}"));
}

fn cart_event(name: &str, cart: &str, attributes: Vec<(&str, Value)>, version: i64) -> Payload {
    let mut event: Vec<(&str, Value)> = vec![
        ("domain", value!("shopping_cart")),
        ("name", Value::from(name)),
        ("version", value!(version)),
        ("subject", value!("987650")),
        ("publisher", value!("shopping-cart-service")),
    ];
    event.extend(attributes);
    PayloadBuilder::new()
        .with_event(event)
        .with_object([
            ("type", value!("shopping_cart")),
            ("id", Value::from(cart)),
            ("version", value!(2)),
            (
                "current",
                value!({"id": cart, "user_id": 987650, "currency": "USD", "value": "377.37"}),
            ),
        ])
        .with_extra([("channel", value!("web/desktop"))])
        .build()
        .expect("a valid event")
}

fn subscribers(journal: &Shared) -> Result<Vec<Subscriber>, CliError> {
    let j = journal.clone();
    let item_added = Subscriber::new(
        "ShoppingCartItemAdded",
        SubscriberKind::Event,
        Handler::from_blocking(move |m| {
            let attrs = &m.event().expect("event").event.attributes;
            record(
                &j,
                "ShoppingCartItemAdded",
                format!(
                    "item {} x{} ({})",
                    attrs.get("item_id").and_then(Value::as_str).unwrap_or("?"),
                    attrs.get("quantity").and_then(Value::as_i64).unwrap_or(0),
                    how(m)
                ),
            );
            Ok(ProcessStatus::Done)
        }),
    )
    .with_pattern(
        Rules::event([
            ("domain", eq("shopping_cart")),
            ("name", eq("item.added")),
            ("version", one_of([1, 2])),
            (
                "attributes",
                map([("item_id", not_(empty())), ("quantity", gt(0))]),
            ),
        ])
        .compile()?,
    );
    let j = journal.clone();
    let item_removed = Subscriber::new(
        "ShoppingCartItemRemoved",
        SubscriberKind::Event,
        Handler::from_blocking(move |m| {
            record(
                &j,
                "ShoppingCartItemRemoved",
                format!("cart {} ({})", cart_id(m), how(m)),
            );
            Ok(ProcessStatus::Done)
        }),
    )
    .with_pattern(
        Rules::event([
            ("domain", eq("shopping_cart")),
            ("name", eq("item.removed")),
        ])
        .compile()?,
    );
    let j = journal.clone();
    let checkout = Subscriber::new(
        "ShoppingCartCheckout",
        SubscriberKind::Event,
        Handler::from_blocking(move |m| {
            let cart = cart_id(m);
            if cart == "cart-poison" {
                record(
                    &j,
                    "ShoppingCartCheckout",
                    format!(
                        "cart {cart}: payment service unavailable (attempt {}) -> RETRIABLE_ERROR",
                        m.receive_count
                    ),
                );
                return Err(HandlerError::retriable("payment service unavailable"));
            }
            record(
                &j,
                "ShoppingCartCheckout",
                format!("cart {cart} checked out ({})", how(m)),
            );
            Ok(ProcessStatus::Done)
        }),
    )
    .with_pattern(
        Rules::event([
            ("domain", eq("shopping_cart")),
            ("name", eq("checkout")),
            ("version", any_()),
        ])
        .compile()?,
    );
    let j = journal.clone();
    let notification = Subscriber::new(
        "UserNotification",
        SubscriberKind::Data,
        Handler::from_blocking(move |m| {
            let v = m.value().expect("data");
            record(
                &j,
                "UserNotification",
                format!(
                    "{} to user {} ({})",
                    v.get("notification_type")
                        .and_then(Value::as_str)
                        .unwrap_or("?"),
                    v.get_path("user.id").and_then(Value::as_i64).unwrap_or(0),
                    how(m)
                ),
            );
            Ok(ProcessStatus::Done)
        }),
    )
    .with_pattern(
        Rules::data(map([
            ("type", matches(r"user:notification:(.*)")),
            ("notification_type", one_of(["email", "sms", "push"])),
            (
                "user",
                map([("id", gt(0)), ("email", not_(matches(r"test@(.*)")))]),
            ),
        ]))
        .compile()?,
    );
    Ok(vec![item_added, item_removed, checkout, notification])
}

fn cart_id(m: &Message) -> String {
    m.event()
        .and_then(|p| p.object.as_ref())
        .and_then(|o| o.id.clone())
        .unwrap_or_default()
}

pub fn run() -> Result<ExitCode, CliError> {
    let server = sqs_mega_local::Server::start(sqs_mega_local::Config::default())?;
    let settings = AwsSettings::local(server.url());
    let runtime = tokio::runtime::Runtime::new()
        .map_err(|e| CliError(format!("cannot start a runtime: {e}")))?;
    let report = runtime.block_on(demo(&settings, server.url()))?;
    server.shutdown();
    print_out(report.trim_end())?;
    Ok(ExitCode::SUCCESS)
}

async fn demo(settings: &AwsSettings, url: &str) -> Result<String, CliError> {
    let started = Instant::now();
    let mut out = String::new();
    writeln!(
        out,
        "sqs-mega demo on the embedded SQS + SNS endpoint at {url} (no AWS account needed)\n"
    )?;
    let sqs = settings.sqs_client().await;
    let sns = settings.sns_client().await;
    let aws = |e: sqs_mega::aws::AwsError| CliError(e.to_string());
    let create = |name: &'static str, attrs: Vec<(&'static str, String)>| {
        let sqs = sqs.clone();
        async move {
            let mut req = sqs.create_queue().queue_name(name);
            for (k, v) in attrs {
                req = req.attributes(k.into(), v);
            }
            req.send()
                .await
                .map(|o| o.queue_url().unwrap_or_default().to_owned())
                .map_err(|e| {
                    CliError(sqs_mega::aws::AwsError::from_sdk("CreateQueue", e).to_string())
                })
        }
    };
    let dlq = create("shopping-cart-events-dlq", vec![]).await?;
    let dlq_arn = sqs_mega::admin::queue_arn(&sqs, &dlq).await.map_err(aws)?;
    let queue = create(
        "shopping-cart-events",
        vec![(
            "RedrivePolicy",
            format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"2"}}"#),
        )],
    )
    .await?;
    let topic = sns
        .create_topic()
        .name("shopping-cart")
        .send()
        .await
        .map_err(|e| CliError(sqs_mega::aws::AwsError::from_sdk("CreateTopic", e).to_string()))?
        .topic_arn()
        .unwrap_or_default()
        .to_owned();
    sqs_mega::admin::subscribe_queue(&sqs, &sns, &topic, &queue, false)
        .await
        .map_err(aws)?;
    writeln!(out, "queue {queue}\n  dead-letter queue after 2 receives: {dlq}\n  subscribed to topic {topic}\n")?;

    // Publish: JSON and BSON, directly and through SNS.
    let direct = SqsPublisher::new(settings, &queue);
    let topic_publisher = SnsPublisher::new(settings, &topic);
    let json = PublishOptions::default();
    let bson = PublishOptions::default().with_binary_encoding(true);
    let item = |id: &str, q: i64| {
        vec![
            ("item_id", Value::from(id)),
            ("quantity", value!(q)),
            ("price", value!("19.99")),
        ]
    };
    let sends: Vec<(&str, Content, &PublishOptions, bool)> = vec![
        (
            "item.added",
            cart_event("item.added", "cart-1", item("61fcc874", 5), 1).into(),
            &json,
            false,
        ),
        (
            "item.added",
            cart_event("item.added", "cart-1", item("3c7f8798", 1), 2).into(),
            &bson,
            false,
        ),
        (
            "item.added (quantity 0: no match)",
            cart_event("item.added", "cart-2", item("bba76edc", 0), 1).into(),
            &json,
            false,
        ),
        (
            "item.removed",
            cart_event("item.removed", "cart-1", item("3c7f8798", 1), 1).into(),
            &bson,
            true,
        ),
        (
            "checkout",
            cart_event("checkout", "cart-1", vec![], 1).into(),
            &json,
            true,
        ),
        (
            "checkout (poison)",
            cart_event("checkout", "cart-poison", vec![], 1).into(),
            &bson,
            false,
        ),
        (
            "user notification",
            Content::Data(value!({
                "type": "user:notification:email", "notification_type": "email",
                "user": {"id": 987650, "email": "johndoe_86@example.com", "template": "order_confirmed"}
            })),
            &bson,
            true,
        ),
    ];
    writeln!(out, "published:")?;
    let mut counts = BTreeMap::new();
    for (what, content, options, via_sns) in &sends {
        let result = if *via_sns {
            topic_publisher.publish(content.clone(), options).await
        } else {
            direct.publish(content.clone(), options).await
        };
        result.map_err(|e| CliError(e.to_string()))?;
        let encoding = if options.binary_encoding {
            "bson"
        } else {
            "json"
        };
        *counts.entry(encoding).or_insert(0) += 1;
        writeln!(
            out,
            "  {what:<36} {encoding}, {}",
            if *via_sns { "via SNS" } else { "direct" }
        )?;
    }

    // Listen.
    let journal: Shared = Arc::default();
    let mut listener = SqsListener::new(
        settings,
        ListenerConfig::new(&queue)
            .with_wait_time_seconds(1)
            .with_handle_signals(false)
            .with_retry(RetryPolicy::new(
                Duration::from_secs(1),
                Duration::from_secs(2),
            )),
    );
    for s in subscribers(&journal)? {
        listener
            .register_subscriber(s)
            .map_err(|e| CliError(e.to_string()))?;
    }
    let handle = listener.shutdown_handle();
    let stats = listener.stats();
    let task = tokio::spawn(async move { listener.listen().await });
    let dlq_depth = || async {
        sqs.get_queue_attributes()
            .queue_url(&dlq)
            .attribute_names("ApproximateNumberOfMessages".into())
            .send()
            .await
            .ok()
            .and_then(|o| {
                o.attributes()
                    .and_then(|a| a.get(&"ApproximateNumberOfMessages".into()))
                    .cloned()
            })
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while (stats.snapshot().deleted < 6 || dlq_depth().await < 1) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    handle.shutdown();
    let final_stats = task
        .await
        .map_err(|e| CliError(e.to_string()))?
        .map_err(|e| CliError(e.to_string()))?;
    let dead = dlq_depth().await;
    let journal = journal.lock().expect("journal");
    writeln!(out, "\nhandled:")?;
    for line in &journal.lines {
        writeln!(out, "{line}")?;
    }
    writeln!(out, "\nsummary ({:.1} s):", started.elapsed().as_secs_f64())?;
    writeln!(
        out,
        "  published {} messages ({} JSON, {} BSON; {} through SNS)",
        sends.len(),
        counts.get("json").unwrap_or(&0),
        counts.get("bson").unwrap_or(&0),
        sends.iter().filter(|s| s.3).count()
    )?;
    for (name, n) in &journal.per_subscriber {
        writeln!(out, "  {name:<24} {n} handled")?;
    }
    writeln!(
        out,
        "  received {}, deleted {}, unmatched {}, retried {}; in the dead-letter queue: {dead}",
        final_stats.received, final_stats.deleted, final_stats.unmatched, final_stats.retried
    )?;
    let expected = [
        ("ShoppingCartItemAdded", 2),
        ("ShoppingCartItemRemoved", 1),
        ("ShoppingCartCheckout", 3),
        ("UserNotification", 1),
    ];
    let ok = expected
        .iter()
        .all(|(n, c)| journal.per_subscriber.get(n) == Some(c))
        && final_stats.deleted == 6
        && final_stats.unmatched == 1
        && dead == 1;
    if !ok {
        return Err(CliError(format!("demo check failed:\n{out}")));
    }
    writeln!(
        out,
        "\nAll checks passed: every message handled or parked in the dead-letter queue, none lost."
    )?;
    Ok(out)
}
