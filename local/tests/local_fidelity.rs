//! Hostile input, through aws-sdk-rust against the real endpoint: attribute limits and
//! number syntax, redrive policies that would strand messages, what SNS Publish rejects and
//! what becomes of deliveries SQS refuses, and filter policies that used to freeze the
//! endpoint.

mod common;

use aws_sdk_sns::types::{MessageAttributeValue as SnsAttr, PublishBatchRequestEntry};
use aws_sdk_sqs::error::ProvideErrorMetadata;
use aws_sdk_sqs::types::{MessageAttributeValue, QueueAttributeName};
use common::*;
use std::future::Future;
use std::time::Duration;

/// A hang is a failure, not a stuck test run.
async fn within<T>(secs: u64, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(secs), f)
        .await
        .unwrap_or_else(|_| panic!("timed out after {secs} s"))
}

fn sqs_attr(t: &str, v: &str) -> MessageAttributeValue {
    MessageAttributeValue::builder()
        .data_type(t)
        .string_value(v)
        .build()
        .unwrap()
}

fn sns_attr(t: &str, v: &str) -> SnsAttr {
    SnsAttr::builder()
        .data_type(t)
        .string_value(v)
        .build()
        .unwrap()
}

fn redrive(target_arn: &str, max: u32) -> String {
    format!(r#"{{"deadLetterTargetArn":"{target_arn}","maxReceiveCount":{max}}}"#)
}

const ARN: &str = "arn:aws:sqs:us-east-1:000000000000:";

// ---------------------------------------------------------------- SQS message attributes

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attribute_count_error_names_the_real_count() {
    within(30, async {
        let l = start().await;
        let q = l.queue("many-attrs").await;
        for n in [11usize, 12, 40] {
            let mut req = l.sqs.send_message().queue_url(&q).message_body("b");
            for i in 0..n {
                req = req.message_attributes(format!("a{i}"), sqs_attr("String", "v"));
            }
            let err = req.send().await.unwrap_err();
            assert_eq!(err.code(), Some("InvalidParameterValue"));
            let want =
                format!("Number of message attributes [{n}] exceeds the allowed maximum [10].");
            assert_eq!(err.message(), Some(want.as_str()));
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn number_attributes_must_be_numbers_at_send_message() {
    within(30, async {
        let l = start().await;
        let q = l.queue("numbers").await;
        for bad in ["abc", "NaN", "inf", "-Infinity", "1e", "0x10", "1e999"] {
            let err = l
                .sqs
                .send_message()
                .queue_url(&q)
                .message_body("b")
                .message_attributes("n", sqs_attr("Number", bad))
                .send()
                .await
                .unwrap_err();
            assert_eq!(err.code(), Some("InvalidParameterValue"), "{bad}");
            assert!(err.message().unwrap().contains("'n'"), "{bad}: {err:?}");
        }
        for good in ["1", "-2.5", "1e3", ".5", "1.000e126"] {
            l.sqs
                .send_message()
                .queue_url(&q)
                .message_body("b")
                .message_attributes("n", sqs_attr("Number", good))
                .send()
                .await
                .unwrap_or_else(|e| panic!("{good}: {e:?}"));
        }
    })
    .await
}

// ---------------------------------------------------------------- redrive policies

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_can_not_be_its_own_dead_letter_queue() {
    within(30, async {
        let l = start().await;
        let own = redrive(&format!("{ARN}selfish"), 1);
        let err = l
            .sqs
            .create_queue()
            .queue_name("selfish")
            .attributes(QueueAttributeName::RedrivePolicy, &own)
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("InvalidParameterValue"));
        assert!(err.message().unwrap().contains("its own dead-letter queue"));
        let q = l.queue("selfish").await;
        let err = l
            .sqs
            .set_queue_attributes()
            .queue_url(&q)
            .attributes(QueueAttributeName::RedrivePolicy, &own)
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("InvalidParameterValue"));
        assert_eq!(l.attr(&q, "RedrivePolicy").await, "");
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redrive_cycles_and_type_mismatches_are_rejected() {
    within(30, async {
        let l = start().await;
        let a = l.queue("cyc-a").await;
        let b = l
            .queue_with(
                "cyc-b",
                &[("RedrivePolicy", &redrive(&format!("{ARN}cyc-a"), 2))],
            )
            .await;
        let c = l
            .queue_with(
                "cyc-c",
                &[("RedrivePolicy", &redrive(&format!("{ARN}cyc-b"), 2))],
            )
            .await;
        // a -> c -> b -> a
        let err = l
            .sqs
            .set_queue_attributes()
            .queue_url(&a)
            .attributes(
                QueueAttributeName::RedrivePolicy,
                redrive(&format!("{ARN}cyc-c"), 3),
            )
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("InvalidParameterValue"));
        let msg = err.message().unwrap();
        assert!(msg.contains("cyc-a -> cyc-c -> cyc-b -> cyc-a"), "{msg}");
        // A queue created with a policy that closes a cycle through existing queues.
        l.sqs.delete_queue().queue_url(&c).send().await.unwrap();
        let err = l
            .sqs
            .set_queue_attributes()
            .queue_url(&a)
            .attributes(
                QueueAttributeName::RedrivePolicy,
                redrive(&format!("{ARN}cyc-c"), 3),
            )
            .send()
            .await;
        assert!(err.is_ok(), "cyc-c does not exist any more: no cycle");
        let err = l
            .sqs
            .create_queue()
            .queue_name("cyc-c")
            .attributes(
                QueueAttributeName::RedrivePolicy,
                redrive(&format!("{ARN}cyc-b"), 2),
            )
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("InvalidParameterValue"));
        assert!(err
            .message()
            .unwrap()
            .contains("cyc-c -> cyc-b -> cyc-a -> cyc-c"));
        // Unrelated chains are fine.
        l.queue_with("chain-end", &[]).await;
        l.queue_with(
            "chain-mid",
            &[("RedrivePolicy", &redrive(&format!("{ARN}chain-end"), 1))],
        )
        .await;
        l.queue_with(
            "chain-start",
            &[("RedrivePolicy", &redrive(&format!("{ARN}chain-mid"), 1))],
        )
        .await;
        // The dead-letter queue of a FIFO queue must be FIFO, and of a standard one standard.
        let err = l
            .sqs
            .set_queue_attributes()
            .queue_url(&b)
            .attributes(
                QueueAttributeName::RedrivePolicy,
                redrive(&format!("{ARN}dlq.fifo"), 2),
            )
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("InvalidParameterValue"));
        let err = l
            .sqs
            .create_queue()
            .queue_name("f.fifo")
            .attributes(QueueAttributeName::FifoQueue, "true")
            .attributes(
                QueueAttributeName::RedrivePolicy,
                redrive(&format!("{ARN}cyc-a"), 2),
            )
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("InvalidParameterValue"));
    })
    .await
}

/// Receives until a message comes (a receive that dead-letters returns nothing).
async fn recv_some(l: &Local, url: &str) -> Vec<aws_sdk_sqs::types::Message> {
    for _ in 0..5 {
        let got = l.recv(url, 10, Some(0)).await;
        if !got.is_empty() {
            return got;
        }
    }
    Vec::new()
}

/// Redrive cycles can still come from a log written before they were rejected (or from
/// any state the checks miss): a message moved to a dead-letter queue must still be
/// receivable there, never bounce forever while counted as available.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_moved_along_a_redrive_cycle_is_never_stranded() {
    use sqs_mega_local::durable::{Record, StoredMsg, Wal};
    let dir = temp_dir("redrive-cycle");
    let queue = |name: &str, target: &str, inc: u64| Record::Queue {
        name: name.into(),
        inc,
        attrs: [(
            "RedrivePolicy".to_string(),
            redrive(&format!("{ARN}{target}"), 1),
        )]
        .into(),
        tags: Default::default(),
        created: 0,
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let msg = |seq: u64, body: &str| StoredMsg {
        seq,
        id: format!("00000000-0000-4000-8000-00000000000{seq}"),
        body: body.into(),
        attrs: Default::default(),
        sent: now,
        group: None,
        dedup: None,
        dlq_src: None,
        trace: None,
        visible_at: 0,
        recv: 1,
    };
    let records = vec![
        queue("loop", "loop", 1),
        queue("ping", "pong", 2),
        queue("pong", "ping", 3),
        Record::Send {
            q: "loop".into(),
            inc: 1,
            m: msg(1, "self"),
        },
        Record::Send {
            q: "ping".into(),
            inc: 2,
            m: msg(2, "cycle"),
        },
    ];
    drop(Wal::create(&dir.0, &records, false, u64::MAX).unwrap());
    within(60, async {
        let l = start_with(sqs_mega_local::Config {
            data_dir: Some(dir.0.clone()),
            ..Default::default()
        })
        .await;
        let url = |n: &str| format!("{}/000000000000/{n}", l.url);
        // Received once already, maxReceiveCount 1: the next receive moves it to its own
        // queue, where it must then be receivable.
        let got = recv_some(&l, &url("loop")).await;
        assert_eq!(
            got.len(),
            1,
            "the message in a self-redriving queue is stranded"
        );
        assert_eq!(body(&got[0]), "self");
        assert_eq!(
            sys_attr(&got[0], "DeadLetterQueueSourceArn"),
            format!("{ARN}loop")
        );
        // ping -> pong -> ping: it must be received in pong.
        assert!(l.recv(&url("ping"), 10, Some(0)).await.is_empty());
        let got = recv_some(&l, &url("pong")).await;
        assert_eq!(
            got.len(),
            1,
            "the message bounced along the cycle is stranded"
        );
        assert_eq!(body(&got[0]), "cycle");
        // Received once in pong (maxReceiveCount 1): the next receive there moves it back
        // to ping, where it is receivable again.
        assert!(l.recv(&url("pong"), 10, Some(0)).await.is_empty());
        let got = recv_some(&l, &url("ping")).await;
        assert_eq!(got.len(), 1);
        assert_eq!(
            sys_attr(&got[0], "DeadLetterQueueSourceArn"),
            format!("{ARN}pong")
        );
    })
    .await
}

// ---------------------------------------------------------------- SNS Publish

async fn topic(l: &Local, name: &str) -> String {
    l.sns
        .create_topic()
        .name(name)
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap()
}

async fn subscribe(l: &Local, topic: &str, queue_url: &str, attrs: &[(&str, &str)]) -> String {
    let mut req = l
        .sns
        .subscribe()
        .topic_arn(topic)
        .protocol("sqs")
        .endpoint(l.arn(queue_url).await);
    for (k, v) in attrs {
        req = req.attributes(*k, *v);
    }
    req.send().await.unwrap().subscription_arn.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sns_publish_rejects_what_sns_rejects() {
    use aws_sdk_sns::error::ProvideErrorMetadata;
    within(30, async {
        let l = start().await;
        let t = topic(&l, "strict").await;
        let q = l.queue("strict-raw").await;
        subscribe(&l, &t, &q, &[("RawMessageDelivery", "true")]).await;
        for bad in [
            "NaN",
            "abc",
            "Infinity",
            "1e999",
            "123456789012345678901234567890123456789",
        ] {
            let err = l
                .sns
                .publish()
                .topic_arn(&t)
                .message("m")
                .message_attributes("price", sns_attr("Number", bad))
                .send()
                .await
                .unwrap_err();
            assert_eq!(err.code(), Some("ParameterValueInvalid"), "{bad}");
            assert!(err.message().unwrap().contains("'price'"), "{bad}: {err:?}");
            assert!(err
                .into_service_error()
                .is_invalid_parameter_value_exception());
        }
        let err = l
            .sns
            .publish()
            .topic_arn(&t)
            .message("m")
            .message_attributes("empty", sns_attr("String", ""))
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("ParameterValueInvalid"));
        // The 256 KB limit covers the message attributes too.
        let err = l
            .sns
            .publish()
            .topic_arn(&t)
            .message("x".repeat(200_000))
            .message_attributes("big", sns_attr("String", &"y".repeat(100_000)))
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("InvalidParameter"));
        // PublishBatch: per entry.
        let entry = |id: &str, n: &str| {
            PublishBatchRequestEntry::builder()
                .id(id)
                .message("m")
                .message_attributes("n", sns_attr("Number", n))
                .build()
                .unwrap()
        };
        let out = l
            .sns
            .publish_batch()
            .topic_arn(&t)
            .publish_batch_request_entries(entry("good", "7"))
            .publish_batch_request_entries(entry("bad", "NaN"))
            .send()
            .await
            .unwrap();
        assert_eq!(out.successful.unwrap_or_default().len(), 1);
        let failed = out.failed.unwrap_or_default();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].id, "bad");
        assert_eq!(failed[0].code, "ParameterValueInvalid");
        assert!(failed[0].message.as_deref().unwrap().contains("'n'"));
        // Only the valid entry reached the queue.
        let got = l.recv(&q, 10, None).await;
        assert_eq!(got.len(), 1);
        let a = got[0].message_attributes.as_ref().unwrap();
        assert_eq!(a["n"].string_value.as_deref(), Some("7"));
        assert_eq!(l.engine.sns_delivery_stats().failed, 0);
    })
    .await
}

/// What SNS accepts but a raw-delivery SQS subscription refuses: a body with characters
/// outside SQS's set, more than 10 message attributes. SNS treats these as client-side
/// delivery errors: the message goes to the subscription's dead-letter queue, else it is
/// dropped, here never silently.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_raw_deliveries_go_to_the_subscription_dead_letter_queue() {
    within(60, async {
        let l = start().await;
        let t = topic(&l, "hostile").await;
        let raw = l.queue("hostile-raw").await;
        let wrapped = l.queue("hostile-wrapped").await;
        let dlq = l.queue("hostile-sub-dlq").await;
        let policy = format!(r#"{{"deadLetterTargetArn":"{}"}}"#, l.arn(&dlq).await);
        subscribe(
            &l,
            &t,
            &raw,
            &[("RawMessageDelivery", "true"), ("RedrivePolicy", &policy)],
        )
        .await;
        subscribe(&l, &t, &wrapped, &[]).await;

        // A NUL character: valid UTF-8 for SNS, not a character SQS accepts.
        let id = l
            .sns
            .publish()
            .topic_arn(&t)
            .message("a\u{0}b\u{FFFE}")
            .send()
            .await
            .unwrap()
            .message_id
            .unwrap();
        assert!(l.recv(&raw, 10, None).await.is_empty());
        let dead = l.recv(&dlq, 10, None).await;
        assert_eq!(dead.len(), 1, "the refused delivery must reach the DLQ");
        let env: serde_json::Value = serde_json::from_str(body(&dead[0])).unwrap();
        assert_eq!(env["MessageId"], id.as_str());
        assert_eq!(env["Message"], "a\u{0}b\u{FFFE}");
        // The envelope (JSON-escaped) reaches the non-raw subscriber.
        let got = l.recv(&wrapped, 10, None).await;
        assert_eq!(got.len(), 1);

        // 10,000 message attributes: SNS accepts them (the message is under 256 KB).
        let mut req = l.sns.publish().topic_arn(&t).message("many");
        for i in 0..10_000 {
            req = req.message_attributes(format!("a{i:04}"), sns_attr("String", "v"));
        }
        req.send().await.unwrap();
        assert!(l.recv(&raw, 10, None).await.is_empty());
        let dead = l.recv(&dlq, 10, None).await;
        assert_eq!(dead.len(), 1);
        let env: serde_json::Value = serde_json::from_str(body(&dead[0])).unwrap();
        assert_eq!(env["Message"], "many");
        assert_eq!(env["MessageAttributes"].as_object().unwrap().len(), 10_000);
        let got = l.recv(&wrapped, 10, None).await;
        assert_eq!(got.len(), 1);

        let s = l.engine.sns_delivery_stats();
        assert_eq!((s.failed, s.redriven_to_dlq), (2, 2), "{s:?}");
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_deliveries_without_a_dead_letter_queue_are_counted() {
    within(30, async {
        let l = start().await;
        let t = topic(&l, "nodlq").await;
        let raw = l.queue("nodlq-raw").await;
        let sub = subscribe(&l, &t, &raw, &[("RawMessageDelivery", "true")]).await;
        l.sns
            .publish()
            .topic_arn(&t)
            .message("\u{1}")
            .send()
            .await
            .unwrap();
        assert!(l.recv(&raw, 10, None).await.is_empty());
        let s = l.engine.sns_delivery_stats();
        assert_eq!((s.failed, s.redriven_to_dlq), (1, 0), "{s:?}");
        // A DLQ that does not exist: counted the same way.
        l.sns
            .set_subscription_attributes()
            .subscription_arn(&sub)
            .attribute_name("RedrivePolicy")
            .attribute_value(format!(r#"{{"deadLetterTargetArn":"{ARN}gone"}}"#))
            .send()
            .await
            .unwrap();
        l.sns
            .publish()
            .topic_arn(&t)
            .message("\u{1}")
            .send()
            .await
            .unwrap();
        let s = l.engine.sns_delivery_stats();
        assert_eq!((s.failed, s.redriven_to_dlq), (2, 0), "{s:?}");
        // A malformed redrive policy is refused.
        let err = l
            .sns
            .set_subscription_attributes()
            .subscription_arn(&sub)
            .attribute_name("RedrivePolicy")
            .attribute_value("{}")
            .send()
            .await
            .unwrap_err();
        assert!(err.into_service_error().is_invalid_parameter_exception());
    })
    .await
}

// ---------------------------------------------------------------- SNS filter policies

/// `*aaa…ab*` against a long run of `a`s made the backtracking matcher do |pattern| x |text|
/// work on the request thread, freezing the whole endpoint, health checks included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pathological_wildcard_does_not_freeze_the_endpoint() {
    // The endpoint on its own runtime, so that this test's timeouts fire even if the
    // endpoint's threads were stuck.
    // (Not dropped on failure: dropping joins the endpoint's thread, which would wait for
    // the stuck evaluation.)
    let server = std::mem::ManuallyDrop::new(
        sqs_mega_local::Server::start(sqs_mega_local::Config::default()).unwrap(),
    );
    let url = server.url().to_string();
    let (sqs, sns) = (sqs_client(&url), sns_client(&url));
    within(60, async {
        let t = sns
            .create_topic()
            .name("glob")
            .send()
            .await
            .unwrap()
            .topic_arn
            .unwrap();
        let q = sqs
            .create_queue()
            .queue_name("glob-q")
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        let policy = format!(r#"{{"s":[{{"wildcard":"*{}b*"}}]}}"#, "a".repeat(100_000));
        sns.subscribe()
            .topic_arn(&t)
            .protocol("sqs")
            .endpoint(format!("{ARN}glob-q"))
            .attributes("FilterPolicyScope", "MessageBody")
            .attributes("FilterPolicy", policy)
            .send()
            .await
            .unwrap();
        let body = format!(r#"{{"s":"{}"}}"#, "a".repeat(250_000));
        let publish = |b: String| {
            let sns = sns.clone();
            let t = t.clone();
            tokio::spawn(async move {
                let start = std::time::Instant::now();
                sns.publish().topic_arn(t).message(b).send().await.unwrap();
                start.elapsed()
            })
        };
        let p1 = publish(body.clone());
        let p2 = publish(body.clone());
        // The endpoint keeps answering while both publishes are evaluated.
        for _ in 0..5 {
            let (status, _) = tokio::time::timeout(
                Duration::from_secs(5),
                http(&url, "GET", "/_mega/health", ""),
            )
            .await
            .expect("health check blocked by filter evaluation");
            assert_eq!(status, 200);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        for p in [p1, p2] {
            let took = tokio::time::timeout(Duration::from_secs(20), p)
                .await
                .expect("publish blocked by filter evaluation")
                .unwrap();
            assert!(took < Duration::from_secs(10), "publish took {took:?}");
        }
        // Not a match (no b): nothing delivered. With a b, delivered.
        let matching = format!(r#"{{"s":"{}b"}}"#, "a".repeat(250_000));
        publish(matching).await.unwrap();
        let got = sqs
            .receive_message()
            .queue_url(&q)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default();
        assert_eq!(got.len(), 1);
    })
    .await;
    std::mem::ManuallyDrop::into_inner(server).shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filter_policies_over_sns_limits_are_rejected() {
    within(30, async {
        let l = start().await;
        let t = topic(&l, "limits").await;
        let q = l.queue("limits-q").await;
        let sub = subscribe(&l, &t, &q, &[]).await;
        for (policy, why) in [
            (
                r#"{"a":["1"],"b":["1"],"c":["1"],"d":["1"],"e":["1"],"f":["1"]}"#.to_string(),
                "6 keys",
            ),
            (
                format!(
                    r#"{{"a":[{}],"b":[1,2]}}"#,
                    (0..76).map(|i| i.to_string()).collect::<Vec<_>>().join(",")
                ),
                "152 combinations",
            ),
            (
                format!(r#"{{"a":["{}"]}}"#, "x".repeat(256 * 1024)),
                "over 256 KB",
            ),
            (
                r#"{"a":[{"wildcard":"x**y"}]}"#.to_string(),
                "consecutive wildcards",
            ),
        ] {
            let err = l
                .sns
                .set_subscription_attributes()
                .subscription_arn(&sub)
                .attribute_name("FilterPolicy")
                .attribute_value(policy)
                .send()
                .await
                .unwrap_err();
            assert!(
                err.into_service_error().is_invalid_parameter_exception(),
                "{why}"
            );
        }
    })
    .await
}
