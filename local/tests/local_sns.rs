//! SNS operations, delivery envelope, raw delivery and filter policies, through aws-sdk-rust.

mod common;

use aws_sdk_sns::error::ProvideErrorMetadata;
use aws_sdk_sns::types::{MessageAttributeValue, PublishBatchRequestEntry};
use common::*;

fn attr(t: &str, v: &str) -> MessageAttributeValue {
    MessageAttributeValue::builder()
        .data_type(t)
        .string_value(v)
        .build()
        .unwrap()
}

async fn topic_with_queue(l: &Local, topic: &str, queue: &str) -> (String, String, String) {
    let t = l
        .sns
        .create_topic()
        .name(topic)
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let q = l.queue(queue).await;
    let sub = l
        .sns
        .subscribe()
        .topic_arn(&t)
        .protocol("sqs")
        .endpoint(l.arn(&q).await)
        .send()
        .await
        .unwrap()
        .subscription_arn
        .unwrap();
    (t, q, sub)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_and_subscriptions_crud() {
    let l = start().await;
    let (t, q, sub) = topic_with_queue(&l, "events", "events-q").await;
    assert_eq!(t, "arn:aws:sns:us-east-1:000000000000:events");
    assert!(sub.starts_with(&format!("{t}:")));
    // idempotent create
    let again = l.sns.create_topic().name("events").send().await.unwrap();
    assert_eq!(again.topic_arn.unwrap(), t);
    let topics = l.sns.list_topics().send().await.unwrap().topics.unwrap();
    assert_eq!(topics.len(), 1);
    let attrs = l
        .sns
        .get_topic_attributes()
        .topic_arn(&t)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();
    assert_eq!(attrs["TopicArn"], t);
    assert_eq!(attrs["SubscriptionsConfirmed"], "1");
    let subs = l
        .sns
        .list_subscriptions()
        .send()
        .await
        .unwrap()
        .subscriptions
        .unwrap();
    assert_eq!(subs.len(), 1);
    assert_eq!(subs[0].endpoint.as_deref(), Some(l.arn(&q).await.as_str()));
    assert_eq!(subs[0].protocol.as_deref(), Some("sqs"));
    let by_topic = l
        .sns
        .list_subscriptions_by_topic()
        .topic_arn(&t)
        .send()
        .await
        .unwrap()
        .subscriptions
        .unwrap();
    assert_eq!(by_topic[0].subscription_arn.as_deref(), Some(sub.as_str()));
    l.sns
        .set_subscription_attributes()
        .subscription_arn(&sub)
        .attribute_name("RawMessageDelivery")
        .attribute_value("true")
        .send()
        .await
        .unwrap();
    let sa = l
        .sns
        .get_subscription_attributes()
        .subscription_arn(&sub)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();
    assert_eq!(sa["RawMessageDelivery"], "true");
    assert_eq!(sa["TopicArn"], t);
    assert_eq!(sa["PendingConfirmation"], "false");
    let bad = l
        .sns
        .set_subscription_attributes()
        .subscription_arn(&sub)
        .attribute_name("FilterPolicy")
        .attribute_value(r#"{"a": "not-an-array"}"#)
        .send()
        .await
        .unwrap_err();
    assert!(bad.into_service_error().is_invalid_parameter_exception());
    l.sns
        .unsubscribe()
        .subscription_arn(&sub)
        .send()
        .await
        .unwrap();
    assert!(l
        .sns
        .list_subscriptions()
        .send()
        .await
        .unwrap()
        .subscriptions
        .unwrap_or_default()
        .is_empty());
    l.sns.delete_topic().topic_arn(&t).send().await.unwrap();
    let err = l
        .sns
        .get_topic_attributes()
        .topic_arn(&t)
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_not_found_exception());
    let err = l
        .sns
        .publish()
        .topic_arn(&t)
        .message("x")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("NotFound"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_delivers_the_aws_envelope() {
    let l = start().await;
    let (t, q, sub) = topic_with_queue(&l, "env", "env-q").await;
    let out = l
        .sns
        .publish()
        .topic_arn(&t)
        .subject("greeting")
        .message("hello \"world\"")
        .message_attributes("color", attr("String", "red"))
        .message_attributes("size", attr("Number", "3"))
        .send()
        .await
        .unwrap();
    let msgs = l.recv(&q, 10, None).await;
    assert_eq!(msgs.len(), 1);
    let env: serde_json::Value = serde_json::from_str(body(&msgs[0])).unwrap();
    assert_eq!(env["Type"], "Notification");
    assert_eq!(env["MessageId"], out.message_id.unwrap().as_str());
    assert_eq!(env["TopicArn"], t.as_str());
    assert_eq!(env["Subject"], "greeting");
    assert_eq!(env["Message"], "hello \"world\"");
    assert_eq!(env["SignatureVersion"], "1");
    assert!(env["Signature"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(env["SigningCertURL"].as_str().unwrap().ends_with(".pem"));
    assert!(env["UnsubscribeURL"].as_str().unwrap().contains(&sub));
    let ts = env["Timestamp"].as_str().unwrap();
    assert!(chrono::DateTime::parse_from_rfc3339(ts).is_ok(), "{ts}");
    assert_eq!(env["MessageAttributes"]["color"]["Type"], "String");
    assert_eq!(env["MessageAttributes"]["color"]["Value"], "red");
    assert_eq!(env["MessageAttributes"]["size"]["Type"], "Number");
    // Non-raw delivery carries attributes in the envelope, not as SQS attributes.
    assert!(msgs[0].message_attributes.is_none());
    // No Subject key when no subject was given.
    l.sns
        .publish()
        .topic_arn(&t)
        .message("plain")
        .send()
        .await
        .unwrap();
    let m = l.recv(&q, 1, None).await;
    let env: serde_json::Value = serde_json::from_str(body(&m[0])).unwrap();
    assert!(env.get("Subject").is_none());
    assert!(env.get("MessageAttributes").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_delivery_keeps_body_and_attributes() {
    let l = start().await;
    let (t, q, sub) = topic_with_queue(&l, "raw", "raw-q").await;
    l.sns
        .set_subscription_attributes()
        .subscription_arn(&sub)
        .attribute_name("RawMessageDelivery")
        .attribute_value("true")
        .send()
        .await
        .unwrap();
    l.sns
        .publish()
        .topic_arn(&t)
        .message(r#"{"k":1}"#)
        .message_attributes("color", attr("String", "blue"))
        .send()
        .await
        .unwrap();
    let m = l.recv(&q, 1, None).await;
    assert_eq!(body(&m[0]), r#"{"k":1}"#);
    let a = m[0].message_attributes.as_ref().unwrap();
    assert_eq!(a["color"].string_value.as_deref(), Some("blue"));
    assert_eq!(a["color"].data_type, "String");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filter_policies_on_attributes_and_body() {
    let l = start().await;
    let t = l
        .sns
        .create_topic()
        .name("f")
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let red = l.queue("red").await;
    let big = l.queue("big").await;
    let all = l.queue("all").await;
    let sub = |q: String, attrs: Vec<(&'static str, &'static str)>| {
        let l = &l;
        let t = t.clone();
        async move {
            let mut r = l
                .sns
                .subscribe()
                .topic_arn(&t)
                .protocol("sqs")
                .endpoint(l.arn(&q).await);
            for (k, v) in attrs {
                r = r.attributes(k, v);
            }
            r.send().await.unwrap();
        }
    };
    sub(
        red.clone(),
        vec![(
            "FilterPolicy",
            r#"{"color":["red"],"size":[{"numeric":[">",1]}]}"#,
        )],
    )
    .await;
    sub(
        big.clone(),
        vec![
            (
                "FilterPolicy",
                r#"{"order":{"total":[{"numeric":[">=",100]}]}}"#,
            ),
            ("FilterPolicyScope", "MessageBody"),
            ("RawMessageDelivery", "true"),
        ],
    )
    .await;
    sub(all.clone(), vec![]).await;
    let publish = |msg: &'static str, color: &'static str, size: &'static str| {
        let l = &l;
        let t = t.clone();
        async move {
            l.sns
                .publish()
                .topic_arn(&t)
                .message(msg)
                .message_attributes("color", attr("String", color))
                .message_attributes("size", attr("Number", size))
                .send()
                .await
                .unwrap();
        }
    };
    publish(r#"{"order":{"total":150}}"#, "red", "2").await;
    publish(r#"{"order":{"total":5}}"#, "red", "1").await;
    publish(r#"{"order":{"total":500}}"#, "blue", "9").await;
    let count = |q: String| {
        let l = &l;
        async move { l.recv(&q, 10, None).await }
    };
    let r = count(red).await;
    assert_eq!(r.len(), 1);
    let env: serde_json::Value = serde_json::from_str(body(&r[0])).unwrap();
    assert_eq!(env["Message"], r#"{"order":{"total":150}}"#);
    let b = count(big).await;
    let mut bodies: Vec<&str> = b.iter().map(body).collect();
    bodies.sort();
    assert_eq!(
        bodies,
        vec![r#"{"order":{"total":150}}"#, r#"{"order":{"total":500}}"#]
    );
    assert_eq!(count(all).await.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_batch_and_fifo_topic_to_fifo_queue() {
    let l = start().await;
    let (t, q, _) = topic_with_queue(&l, "batch", "batch-q").await;
    let entry = |id: &str, m: &str| {
        PublishBatchRequestEntry::builder()
            .id(id)
            .message(m)
            .build()
            .unwrap()
    };
    let r = l
        .sns
        .publish_batch()
        .topic_arn(&t)
        .publish_batch_request_entries(entry("1", "one"))
        .publish_batch_request_entries(entry("2", "two"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.successful.unwrap().len(), 2);
    assert_eq!(l.recv(&q, 10, None).await.len(), 2);
    let err = l
        .sns
        .publish_batch()
        .topic_arn(&t)
        .publish_batch_request_entries(entry("1", "one"))
        .publish_batch_request_entries(entry("1", "two"))
        .send()
        .await
        .unwrap_err();
    assert!(err
        .into_service_error()
        .is_batch_entry_ids_not_distinct_exception());
    let mut many = l.sns.publish_batch().topic_arn(&t);
    for i in 0..11 {
        many = many.publish_batch_request_entries(entry(&i.to_string(), "m"));
    }
    let err = many.send().await.unwrap_err();
    assert!(err
        .into_service_error()
        .is_too_many_entries_in_batch_request_exception());

    // FIFO topic -> FIFO queue keeps group order.
    let ft = l
        .sns
        .create_topic()
        .name("ord.fifo")
        .attributes("FifoTopic", "true")
        .attributes("ContentBasedDeduplication", "true")
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let fq = l.queue_with("ord.fifo", &[("FifoQueue", "true")]).await;
    l.sns
        .subscribe()
        .topic_arn(&ft)
        .protocol("sqs")
        .endpoint(l.arn(&fq).await)
        .attributes("RawMessageDelivery", "true")
        .send()
        .await
        .unwrap();
    for m in ["f1", "f2", "f3"] {
        let out = l
            .sns
            .publish()
            .topic_arn(&ft)
            .message(m)
            .message_group_id("g")
            .send()
            .await
            .unwrap();
        assert!(out.sequence_number.is_some());
    }
    // duplicate content within 5 minutes: deduplicated
    l.sns
        .publish()
        .topic_arn(&ft)
        .message("f1")
        .message_group_id("g")
        .send()
        .await
        .unwrap();
    let got = l.recv(&fq, 10, None).await;
    let bodies: Vec<&str> = got.iter().map(body).collect();
    assert_eq!(bodies, vec!["f1", "f2", "f3"]);
    let err = l
        .sns
        .publish()
        .topic_arn(&ft)
        .message("nogroup")
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_invalid_parameter_exception());
}
