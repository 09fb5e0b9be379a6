//! `GET /_mega/stats`: every queue's traffic counters (sent, received, deleted), which the web console
//! charts as throughput.

mod common;

use common::{http, start};
use std::time::Duration;

async fn counters(url: &str, queue: &str) -> (u64, u64, u64) {
    let (status, body) = http(url, "GET", "/_mega/stats", "").await;
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(v["time_ms"].as_u64().unwrap() > 0);
    let q = &v["queues"][queue];
    (
        q["sent"].as_u64().unwrap(),
        q["received"].as_u64().unwrap(),
        q["deleted"].as_u64().unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_count_sends_receives_and_deletes_per_queue() {
    tokio::time::timeout(Duration::from_secs(60), async {
        let l = start().await;
        let q = l
            .sqs
            .create_queue()
            .queue_name("counted")
            .send()
            .await
            .unwrap()
            .queue_url()
            .unwrap()
            .to_owned();
        assert_eq!(counters(&l.url, "counted").await, (0, 0, 0));
        l.sqs
            .send_message()
            .queue_url(&q)
            .message_body("one")
            .send()
            .await
            .unwrap();
        let entries: Vec<_> = (0..3)
            .map(|i| {
                aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(format!("b{i}"))
                    .build()
                    .unwrap()
            })
            .collect();
        l.sqs
            .send_message_batch()
            .queue_url(&q)
            .set_entries(Some(entries))
            .send()
            .await
            .unwrap();
        assert_eq!(counters(&l.url, "counted").await, (4, 0, 0));
        let got = l
            .sqs
            .receive_message()
            .queue_url(&q)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        let handles: Vec<String> = got
            .messages()
            .iter()
            .filter_map(|m| m.receipt_handle().map(str::to_owned))
            .collect();
        assert_eq!(handles.len(), 4);
        l.sqs
            .delete_message()
            .queue_url(&q)
            .receipt_handle(&handles[0])
            .send()
            .await
            .unwrap();
        let batch: Vec<_> = handles[1..3]
            .iter()
            .enumerate()
            .map(|(i, h)| {
                aws_sdk_sqs::types::DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(h)
                    .build()
                    .unwrap()
            })
            .collect();
        l.sqs
            .delete_message_batch()
            .queue_url(&q)
            .set_entries(Some(batch))
            .send()
            .await
            .unwrap();
        assert_eq!(counters(&l.url, "counted").await, (4, 4, 3));
        // An SNS delivery counts as a send to the subscribed queue.
        let arn = l
            .sqs
            .get_queue_attributes()
            .queue_url(&q)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap()
            .attributes()
            .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
            .clone();
        let topic = l
            .sns
            .create_topic()
            .name("t")
            .send()
            .await
            .unwrap()
            .topic_arn()
            .unwrap()
            .to_owned();
        l.sns
            .subscribe()
            .topic_arn(&topic)
            .protocol("sqs")
            .endpoint(arn)
            .send()
            .await
            .unwrap();
        l.sns
            .publish()
            .topic_arn(&topic)
            .message("hi")
            .send()
            .await
            .unwrap();
        assert_eq!(counters(&l.url, "counted").await.0, 5);
    })
    .await
    .expect("the test took more than 60 s");
}
