//! The publishers through the real AWS SDK, against the embedded endpoint and the third-party moto server.

mod support;

use aws_sdk_sqs::types::QueueAttributeName;
use sqs_mega::codec::{self, Content};
use sqs_mega::event::PayloadBuilder;
use sqs_mega::publish::{
    Attribute, BatchEntry, PublishError, PublishOptions, SnsPublisher, SqsPublisher,
};
use sqs_mega::{value, Value};
use support::{create_queue, declared_encoding, drain, subscribe_queue, Endpoint};

fn event() -> sqs_mega::event::Payload {
    PayloadBuilder::new()
        .with_event([
            ("domain", value!("shopping_cart")),
            ("name", value!("item.added")),
            ("subject", value!("987650")),
            ("quantity", value!(5)),
        ])
        .with_object([(
            "current",
            value!({"id": "18a3", "value": ("377.37".parse::<sqs_mega::Decimal>().unwrap())}),
        )])
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_every_payload_kind_with_its_encoding() {
    for endpoint in Endpoint::both() {
        eprintln!("endpoint: {}", endpoint.name());
        let settings = endpoint.settings();
        let client = settings.sqs_client().await;
        let url = create_queue(&client, "kinds", &[]).await;
        let publisher = SqsPublisher::new(&settings, &url);

        let data = value!({"type": "user_notification", "user": {"id": 987650}});
        let sent: Vec<(Content, bool)> = vec![
            (Content::Data(data.clone()), false),
            (Content::Data(data.clone()), true),
            (Content::from(event()), true),
            (Content::Plaintext("test".into()), false),
            (Content::Binary(vec![0, 1, 2, 255]), false),
        ];
        for (content, binary_encoding) in &sent {
            let options = PublishOptions::default()
                .with_binary_encoding(*binary_encoding)
                .with_attribute("tenant", Attribute::string("acme"));
            let published = publisher.publish(content.clone(), &options).await.unwrap();
            assert!(!published.message_id.is_empty());
        }
        let received = drain(&client, &url, sent.len()).await;
        assert_eq!(received.len(), sent.len());
        let mut decoded: Vec<Content> = received
            .iter()
            .map(|m| {
                let tenant = m.message_attributes().unwrap()["tenant"].string_value();
                assert_eq!(tenant, Some("acme"));
                codec::decode(m.body().unwrap(), declared_encoding(m).as_deref())
                    .unwrap()
                    .content
            })
            .collect();
        // Standard queues may reorder: compare as sets.
        for (content, _) in &sent {
            let pos = decoded
                .iter()
                .position(|d| d == content)
                .unwrap_or_else(|| panic!("{content:?} not received"));
            decoded.remove(pos);
        }
        // `test` declared plaintext came back as plaintext, not as the Base64 it also is.
        assert!(decoded.is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_chunks_by_ten_and_reports_each_entry() {
    for endpoint in Endpoint::both() {
        eprintln!("endpoint: {}", endpoint.name());
        let settings = endpoint.settings();
        let client = settings.sqs_client().await;
        let url = create_queue(&client, "batch", &[]).await;
        let publisher = SqsPublisher::new(&settings, &url);
        let mut entries: Vec<BatchEntry> = (0..25)
            .map(|i| BatchEntry::new(Content::Data(value!({"n": i}))))
            .collect();
        // One entry that cannot be sent: plaintext with binary encoding.
        entries[7] = BatchEntry {
            content: Content::Plaintext("x".into()),
            options: PublishOptions::default().with_binary_encoding(true),
        };
        let results = publisher.publish_batch(entries).await;
        assert_eq!(results.len(), 25);
        for (i, r) in results.iter().enumerate() {
            if i == 7 {
                assert!(matches!(r, Err(PublishError::Encode(_))), "{r:?}");
            } else {
                assert!(r.is_ok(), "entry {i}: {r:?}");
            }
        }
        let received = drain(&client, &url, 24).await;
        let mut numbers: Vec<i64> = received
            .iter()
            .map(|m| {
                assert_eq!(declared_encoding(m).as_deref(), Some("json"));
                codec::decode(m.body().unwrap(), Some("json"))
                    .unwrap()
                    .value()
                    .and_then(|v| v.get("n"))
                    .and_then(Value::as_i64)
                    .unwrap()
            })
            .collect();
        numbers.sort();
        assert_eq!(numbers, (0..25).filter(|&i| i != 7).collect::<Vec<_>>());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifo_keeps_group_order_and_deduplicates() {
    for endpoint in Endpoint::both() {
        eprintln!("endpoint: {}", endpoint.name());
        let settings = endpoint.settings();
        let client = settings.sqs_client().await;
        let url = create_queue(
            &client,
            "orders.fifo",
            &[(QueueAttributeName::FifoQueue, "true")],
        )
        .await;
        let publisher = SqsPublisher::new(&settings, &url);
        for i in 0..5 {
            let options = PublishOptions::default()
                .with_group_id("cart-1")
                .with_deduplication_id(format!("d-{i}"));
            let p = publisher
                .publish(Content::Data(value!({"seq": i})), &options)
                .await
                .unwrap();
            assert!(
                p.sequence_number.is_some(),
                "FIFO sends return a sequence number"
            );
        }
        // The same deduplication id again: accepted, but not delivered twice.
        let dup = PublishOptions::default()
            .with_group_id("cart-1")
            .with_deduplication_id("d-0");
        publisher
            .publish(Content::Data(value!({"seq": 0})), &dup)
            .await
            .unwrap();
        let received = drain(&client, &url, 5).await;
        let seqs: Vec<i64> = received
            .iter()
            .map(|m| {
                codec::decode(m.body().unwrap(), None)
                    .unwrap()
                    .value()
                    .and_then(|v| v.get("seq"))
                    .and_then(Value::as_i64)
                    .unwrap()
            })
            .collect();
        assert_eq!(seqs, [0, 1, 2, 3, 4]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sns_notifications_arrive_enveloped_or_raw_and_decode() {
    for endpoint in Endpoint::both() {
        eprintln!("endpoint: {}", endpoint.name());
        let settings = endpoint.settings();
        let sqs = settings.sqs_client().await;
        let sns = settings.sns_client().await;
        let topic = sns.create_topic().name("carts").send().await.unwrap();
        let topic_arn = topic.topic_arn().unwrap().to_owned();
        let mut queues = Vec::new();
        for (name, raw) in [("enveloped", false), ("raw", true)] {
            let url = create_queue(&sqs, name, &[]).await;
            subscribe_queue(&sqs, &sns, &topic_arn, &url, raw).await;
            queues.push((url, raw));
        }
        let publisher = SnsPublisher::new(&settings, &topic_arn);
        let options = PublishOptions::default()
            .with_binary_encoding(true)
            .with_subject("item.added");
        publisher.publish(event(), &options).await.unwrap();
        let expected = event();
        for (url, raw) in queues {
            let received = drain(&sqs, &url, 1).await;
            assert_eq!(received.len(), 1, "queue {url}");
            let m = &received[0];
            // Raw delivery: the SNS attributes become SQS attributes. Enveloped: they are in the envelope.
            let declared = declared_encoding(m);
            assert_eq!(declared.is_some(), raw, "queue {url}");
            let decoded = codec::decode(m.body().unwrap(), declared.as_deref()).unwrap();
            match &decoded.content {
                Content::Mega(p) => {
                    assert_eq!(p.event.name, expected.event.name);
                    assert_eq!(p.object, expected.object);
                }
                other => panic!("expected a MEGA event, got {other:?}"),
            }
            assert_eq!(decoded.encoding, Some(codec::Encoding::Bson));
            if raw {
                assert!(decoded.sns.is_none());
            } else {
                let sns_meta = decoded.sns.expect("envelope metadata");
                assert_eq!(sns_meta.topic_arn, topic_arn);
                assert_eq!(sns_meta.subject.as_deref(), Some("item.added"));
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_queue_is_a_clear_service_error() {
    for endpoint in Endpoint::both() {
        eprintln!("endpoint: {}", endpoint.name());
        let settings = endpoint.settings();
        let publisher =
            SqsPublisher::new(&settings, format!("{}/123456789012/nope", endpoint.url()));
        let err = publisher
            .publish(Content::Plaintext("hi".into()), &PublishOptions::default())
            .await
            .unwrap_err();
        let PublishError::Aws(aws) = &err else {
            panic!("expected a service error, got {err:?}")
        };
        assert!(!aws.is_transient(), "{err}");
        assert!(
            err.to_string().starts_with("SendMessage: ")
                && err.to_string().contains("NonExistentQueue")
                || err.to_string().contains("QueueDoesNotExist"),
            "{err}"
        );
        // No secret of the settings appears in errors.
        assert!(!err.to_string().contains("test:test"));
    }
}
