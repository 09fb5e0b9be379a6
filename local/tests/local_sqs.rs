//! SQS operations and semantics, through aws-sdk-rust.

mod common;

use aws_sdk_sqs::error::ProvideErrorMetadata;
use aws_sdk_sqs::primitives::Blob;
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry,
    MessageAttributeValue, QueueAttributeName, SendMessageBatchRequestEntry,
};
use common::*;
use std::time::{Duration, Instant};

fn md5_hex(b: &[u8]) -> String {
    sqs_mega_local::util::md5_hex(b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_lifecycle_urls_attributes_tags() {
    let l = start().await;
    let url = l.queue("orders").await;
    assert_eq!(url, format!("{}/000000000000/orders", l.url));
    // Creating again with the same attributes returns the same URL.
    assert_eq!(l.queue("orders").await, url);
    // ... with different ones is QueueNameExists.
    let err = l
        .sqs
        .create_queue()
        .queue_name("orders")
        .attributes(QueueAttributeName::VisibilityTimeout, "5")
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_queue_name_exists());
    l.queue("other").await;
    let got = l
        .sqs
        .get_queue_url()
        .queue_name("orders")
        .send()
        .await
        .unwrap();
    assert_eq!(got.queue_url.unwrap(), url);
    let listed = l
        .sqs
        .list_queues()
        .queue_name_prefix("ord")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.queue_urls.unwrap(), vec![url.clone()]);
    assert_eq!(
        l.arn(&url).await,
        "arn:aws:sqs:us-east-1:000000000000:orders"
    );
    assert_eq!(l.attr(&url, "VisibilityTimeout").await, "30");
    l.sqs
        .set_queue_attributes()
        .queue_url(&url)
        .attributes(QueueAttributeName::VisibilityTimeout, "45")
        .attributes(QueueAttributeName::DelaySeconds, "2")
        .send()
        .await
        .unwrap();
    assert_eq!(l.attr(&url, "VisibilityTimeout").await, "45");
    assert_eq!(l.attr(&url, "DelaySeconds").await, "2");
    let bad = l
        .sqs
        .set_queue_attributes()
        .queue_url(&url)
        .attributes(QueueAttributeName::VisibilityTimeout, "999999")
        .send()
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Some("InvalidAttributeValue"));
    // tags
    l.sqs
        .tag_queue()
        .queue_url(&url)
        .tags("team", "a")
        .tags("env", "dev")
        .send()
        .await
        .unwrap();
    l.sqs
        .untag_queue()
        .queue_url(&url)
        .tag_keys("env")
        .send()
        .await
        .unwrap();
    let tags = l
        .sqs
        .list_queue_tags()
        .queue_url(&url)
        .send()
        .await
        .unwrap();
    let tags = tags.tags.unwrap();
    assert_eq!(tags.len(), 1);
    assert_eq!(tags["team"], "a");
    // delete
    l.sqs.delete_queue().queue_url(&url).send().await.unwrap();
    let err = l
        .sqs
        .get_queue_url()
        .queue_name("orders")
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_queue_does_not_exist());
    let err = l
        .sqs
        .send_message()
        .queue_url(&url)
        .message_body("x")
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_queue_does_not_exist());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_receive_delete_with_attributes_and_md5() {
    let l = start().await;
    let url = l.queue("q").await;
    let sent = l
        .sqs
        .send_message()
        .queue_url(&url)
        .message_body("héllo wörld")
        .message_attributes(
            "s",
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value("v")
                .build()
                .unwrap(),
        )
        .message_attributes(
            "n",
            MessageAttributeValue::builder()
                .data_type("Number.int")
                .string_value("42")
                .build()
                .unwrap(),
        )
        .message_attributes(
            "b",
            MessageAttributeValue::builder()
                .data_type("Binary")
                .binary_value(Blob::new(vec![0u8, 1, 2, 255]))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        sent.md5_of_message_body.as_deref(),
        Some(md5_hex("héllo wörld".as_bytes()).as_str())
    );
    // Reference MD5 of attributes from the documented algorithm, written out by hand.
    let mut buf = Vec::new();
    let enc = |buf: &mut Vec<u8>, b: &[u8]| {
        buf.extend_from_slice(&(b.len() as u32).to_be_bytes());
        buf.extend_from_slice(b);
    };
    enc(&mut buf, b"b");
    enc(&mut buf, b"Binary");
    buf.push(2);
    enc(&mut buf, &[0, 1, 2, 255]);
    enc(&mut buf, b"n");
    enc(&mut buf, b"Number.int");
    buf.push(1);
    enc(&mut buf, b"42");
    enc(&mut buf, b"s");
    enc(&mut buf, b"String");
    buf.push(1);
    enc(&mut buf, b"v");
    assert_eq!(sent.md5_of_message_attributes.unwrap(), md5_hex(&buf));

    let msgs = l.recv(&url, 10, None).await;
    assert_eq!(msgs.len(), 1);
    let m = &msgs[0];
    assert_eq!(body(m), "héllo wörld");
    assert_eq!(m.message_id, sent.message_id);
    assert_eq!(
        m.md5_of_body.as_deref(),
        Some(md5_hex("héllo wörld".as_bytes()).as_str())
    );
    assert_eq!(
        m.md5_of_message_attributes.as_deref(),
        Some(md5_hex(&buf).as_str())
    );
    let attrs = m.message_attributes.as_ref().unwrap();
    assert_eq!(attrs["n"].string_value.as_deref(), Some("42"));
    assert_eq!(
        attrs["b"].binary_value.as_ref().unwrap().as_ref(),
        &[0u8, 1, 2, 255]
    );
    assert_eq!(sys_attr(m, "ApproximateReceiveCount"), "1");
    assert!(sys_attr(m, "SentTimestamp").parse::<u64>().unwrap() > 1_600_000_000_000);
    assert!(!sys_attr(m, "ApproximateFirstReceiveTimestamp").is_empty());
    assert!(!sys_attr(m, "SenderId").is_empty());
    assert_eq!(
        l.attr(&url, "ApproximateNumberOfMessagesNotVisible").await,
        "1"
    );
    // Only the requested attributes are returned (and their MD5 covers just those).
    l.sqs
        .change_message_visibility()
        .queue_url(&url)
        .receipt_handle(m.receipt_handle.clone().unwrap())
        .visibility_timeout(0)
        .send()
        .await
        .unwrap();
    let again = l
        .sqs
        .receive_message()
        .queue_url(&url)
        .message_attribute_names("s")
        .send()
        .await
        .unwrap()
        .messages
        .unwrap();
    let only = again[0].message_attributes.as_ref().unwrap();
    assert_eq!(only.len(), 1);
    assert!(only.contains_key("s"));
    l.sqs
        .delete_message()
        .queue_url(&url)
        .receipt_handle(again[0].receipt_handle.clone().unwrap())
        .send()
        .await
        .unwrap();
    assert!(l.recv(&url, 10, None).await.is_empty());
    assert_eq!(l.attr(&url, "ApproximateNumberOfMessages").await, "0");
    assert_eq!(
        l.attr(&url, "ApproximateNumberOfMessagesNotVisible").await,
        "0"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn visibility_timeout_and_changes() {
    let l = start().await;
    let url = l.queue_with("vis", &[("VisibilityTimeout", "30")]).await;
    l.send(&url, "m").await;
    let first = l.recv(&url, 1, None).await;
    assert_eq!(first.len(), 1);
    // Invisible while in flight...
    assert!(l.recv(&url, 1, None).await.is_empty());
    l.engine.advance_clock(29_000);
    assert!(l.recv(&url, 1, None).await.is_empty());
    // ... and visible again once the timeout passes, with a new receive count.
    l.engine.advance_clock(1_500);
    let second = l.recv(&url, 1, None).await;
    assert_eq!(second.len(), 1);
    assert_eq!(sys_attr(&second[0], "ApproximateReceiveCount"), "2");
    assert_ne!(second[0].receipt_handle, first[0].receipt_handle);
    // Extending visibility keeps it hidden past the original timeout.
    let h = second[0].receipt_handle.clone().unwrap();
    l.sqs
        .change_message_visibility()
        .queue_url(&url)
        .receipt_handle(&h)
        .visibility_timeout(120)
        .send()
        .await
        .unwrap();
    l.engine.advance_clock(60_000);
    assert!(l.recv(&url, 1, None).await.is_empty());
    // The batch variant, with one bad entry.
    let r = l
        .sqs
        .change_message_visibility_batch()
        .queue_url(&url)
        .entries(
            ChangeMessageVisibilityBatchRequestEntry::builder()
                .id("ok")
                .receipt_handle(&h)
                .visibility_timeout(0)
                .build()
                .unwrap(),
        )
        .entries(
            ChangeMessageVisibilityBatchRequestEntry::builder()
                .id("bad")
                .receipt_handle("garbage")
                .visibility_timeout(0)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.successful.len(), 1);
    assert_eq!(r.failed.len(), 1);
    assert_eq!(r.failed[0].code, "ReceiptHandleIsInvalid");
    // Visibility 0 made it receivable at once.
    let third = l.recv(&url, 1, Some(5)).await;
    assert_eq!(sys_attr(&third[0], "ApproximateReceiveCount"), "3");
    // A stale receipt handle can no longer change visibility.
    let err = l
        .sqs
        .change_message_visibility()
        .queue_url(&url)
        .receipt_handle(&h)
        .visibility_timeout(10)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Some("AWS.SimpleQueueService.MessageNotInflight")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_polling_returns_as_soon_as_a_message_arrives() {
    let l = start().await;
    let url = l.queue("lp").await;
    let sqs = l.sqs.clone();
    let url2 = url.clone();
    let t0 = Instant::now();
    let waiter = tokio::spawn(async move {
        sqs.receive_message()
            .queue_url(&url2)
            .wait_time_seconds(20)
            .send()
            .await
            .unwrap()
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    l.send(&url, "wake").await;
    let got = waiter.await.unwrap();
    assert_eq!(body(&got.messages.unwrap()[0]), "wake");
    // Far less than the 20 s wait: it returned on arrival.
    assert!(t0.elapsed() < Duration::from_secs(10));
    // An empty queue waits the whole (short) wait time then returns nothing.
    let t1 = Instant::now();
    let none = l
        .sqs
        .receive_message()
        .queue_url(&url)
        .wait_time_seconds(1)
        .send()
        .await
        .unwrap();
    assert!(none.messages.unwrap_or_default().is_empty());
    assert!(t1.elapsed() >= Duration::from_millis(900));
    let err = l
        .sqs
        .receive_message()
        .queue_url(&url)
        .wait_time_seconds(21)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidParameterValue"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delay_seconds_per_message_and_per_queue() {
    let l = start().await;
    let url = l.queue("delay").await;
    l.sqs
        .send_message()
        .queue_url(&url)
        .message_body("later")
        .delay_seconds(10)
        .send()
        .await
        .unwrap();
    assert!(l.recv(&url, 1, None).await.is_empty());
    assert_eq!(
        l.attr(&url, "ApproximateNumberOfMessagesDelayed").await,
        "1"
    );
    l.engine.advance_clock(10_100);
    assert_eq!(body(&l.recv(&url, 1, None).await[0]), "later");
    let q2 = l.queue_with("delayq", &[("DelaySeconds", "5")]).await;
    l.send(&q2, "q").await;
    assert!(l.recv(&q2, 1, None).await.is_empty());
    l.engine.advance_clock(5_100);
    assert_eq!(l.recv(&q2, 1, None).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_period_expires_messages() {
    let l = start().await;
    let url = l
        .queue_with("ret", &[("MessageRetentionPeriod", "60")])
        .await;
    l.send(&url, "old").await;
    l.engine.advance_clock(30_000);
    l.send(&url, "young").await;
    l.engine.advance_clock(31_000);
    let got = l.recv(&url, 10, None).await;
    assert_eq!(got.len(), 1);
    assert_eq!(body(&got[0]), "young");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redrive_to_dead_letter_queue_and_move_back() {
    let l = start().await;
    let dlq = l.queue("dlq").await;
    let dlq_arn = l.arn(&dlq).await;
    let policy = format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":2}}"#);
    let main = l.queue_with("main", &[("RedrivePolicy", &policy)]).await;
    let id = l.send(&main, "poison").await;
    for n in 1..=2 {
        let m = l.recv(&main, 1, Some(0)).await;
        assert_eq!(sys_attr(&m[0], "ApproximateReceiveCount"), n.to_string());
    }
    // The third receive finds it over maxReceiveCount: moved, not delivered.
    assert!(l.recv(&main, 1, Some(0)).await.is_empty());
    let dead = l.recv(&dlq, 10, Some(0)).await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].message_id.as_deref(), Some(id.as_str()));
    assert_eq!(body(&dead[0]), "poison");
    assert_eq!(
        sys_attr(&dead[0], "DeadLetterQueueSourceArn"),
        "arn:aws:sqs:us-east-1:000000000000:main"
    );
    let sources = l
        .sqs
        .list_dead_letter_source_queues()
        .queue_url(&dlq)
        .send()
        .await
        .unwrap();
    assert_eq!(sources.queue_urls, vec![main.clone()]);

    // Move it (and a few more) back with a rate.
    for i in 0..4 {
        l.sqs
            .send_message()
            .queue_url(&dlq)
            .message_body(format!("extra{i}"))
            .send()
            .await
            .unwrap();
    }
    let t0 = Instant::now();
    let task = l
        .sqs
        .start_message_move_task()
        .source_arn(&dlq_arn)
        .destination_arn(l.arn(&main).await)
        .max_number_of_messages_per_second(2)
        .send()
        .await
        .unwrap();
    assert!(task.task_handle.is_some());
    let mut status = String::new();
    for _ in 0..100 {
        let tasks = l
            .sqs
            .list_message_move_tasks()
            .source_arn(&dlq_arn)
            .send()
            .await
            .unwrap();
        let r = &tasks.results.unwrap()[0];
        status = r.status.clone().unwrap();
        if status == "COMPLETED" {
            assert_eq!(r.approximate_number_of_messages_moved, 5);
            assert_eq!(r.max_number_of_messages_per_second, Some(2));
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, "COMPLETED");
    // 5 messages at 2/s cannot finish before ~2 s: the rate is applied.
    assert!(
        t0.elapsed() >= Duration::from_millis(1500),
        "{:?}",
        t0.elapsed()
    );
    let back = l.recv(&main, 10, None).await;
    let mut bodies: Vec<&str> = back.iter().map(body).collect();
    bodies.sort();
    assert_eq!(
        bodies,
        vec!["extra0", "extra1", "extra2", "extra3", "poison"]
    );
    assert!(l.recv(&dlq, 10, None).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_move_task_cancel_and_errors() {
    let l = start().await;
    let dlq = l.queue("dlq2").await;
    let dlq_arn = l.arn(&dlq).await;
    let policy = format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":1}}"#);
    let main = l.queue_with("main2", &[("RedrivePolicy", &policy)]).await;
    // Not a DLQ: refused.
    let err = l
        .sqs
        .start_message_move_task()
        .source_arn(l.arn(&main).await)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidParameterValue"));
    for i in 0..20 {
        l.send(&dlq, &format!("m{i}")).await;
    }
    let task = l
        .sqs
        .start_message_move_task()
        .source_arn(&dlq_arn)
        .destination_arn(l.arn(&main).await)
        .max_number_of_messages_per_second(1)
        .send()
        .await
        .unwrap();
    let handle = task.task_handle.unwrap();
    let cancelled = l
        .sqs
        .cancel_message_move_task()
        .task_handle(&handle)
        .send()
        .await
        .unwrap();
    assert!(cancelled.approximate_number_of_messages_moved < 20);
    let mut final_status = String::new();
    for _ in 0..50 {
        let r = l
            .sqs
            .list_message_move_tasks()
            .source_arn(&dlq_arn)
            .send()
            .await
            .unwrap()
            .results
            .unwrap();
        final_status = r[0].status.clone().unwrap();
        if final_status == "CANCELLED" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(final_status, "CANCELLED");
    let left: usize = l
        .attr(&dlq, "ApproximateNumberOfMessages")
        .await
        .parse()
        .unwrap();
    assert!(left >= 15, "left {left}");
    let err = l
        .sqs
        .cancel_message_move_task()
        .task_handle(&handle)
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_resource_not_found_exception());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_queue_removes_everything() {
    let l = start().await;
    let url = l.queue("purge").await;
    for i in 0..25 {
        l.send(&url, &format!("{i}")).await;
    }
    l.recv(&url, 3, None).await;
    l.sqs.purge_queue().queue_url(&url).send().await.unwrap();
    assert_eq!(l.attr(&url, "ApproximateNumberOfMessages").await, "0");
    assert_eq!(
        l.attr(&url, "ApproximateNumberOfMessagesNotVisible").await,
        "0"
    );
    assert!(l.recv(&url, 10, None).await.is_empty());
    l.send(&url, "after").await;
    assert_eq!(body(&l.recv(&url, 10, None).await[0]), "after");
}

async fn fifo_send(
    l: &Local,
    url: &str,
    body: &str,
    group: &str,
    dedup: Option<&str>,
) -> (String, String) {
    let r = l
        .sqs
        .send_message()
        .queue_url(url)
        .message_body(body)
        .message_group_id(group)
        .set_message_deduplication_id(dedup.map(str::to_string))
        .send()
        .await
        .unwrap();
    (r.message_id.unwrap(), r.sequence_number.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifo_order_per_group_and_group_lock() {
    let l = start().await;
    let url = l.queue_with("jobs.fifo", &[("FifoQueue", "true")]).await;
    let mut seqs = Vec::new();
    for (b, g) in [
        ("a1", "a"),
        ("a2", "a"),
        ("b1", "b"),
        ("a3", "a"),
        ("b2", "b"),
    ] {
        seqs.push(fifo_send(&l, &url, b, g, Some(b)).await.1);
    }
    let nums: Vec<u128> = seqs.iter().map(|s| s.parse().unwrap()).collect();
    assert!(nums.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    let m = l.recv(&url, 1, None).await;
    assert_eq!(body(&m[0]), "a1");
    assert_eq!(sys_attr(&m[0], "MessageGroupId"), "a");
    assert_eq!(sys_attr(&m[0], "SequenceNumber"), seqs[0]);
    // Group a is locked while a1 is in flight: the next receive serves group b.
    let n = l.recv(&url, 10, None).await;
    let bodies: Vec<&str> = n.iter().map(body).collect();
    assert_eq!(bodies, vec!["b1", "b2"]);
    assert!(l.recv(&url, 10, None).await.is_empty());
    // Deleting a1 unlocks group a, in order.
    l.sqs
        .delete_message()
        .queue_url(&url)
        .receipt_handle(m[0].receipt_handle.clone().unwrap())
        .send()
        .await
        .unwrap();
    let rest = l.recv(&url, 10, None).await;
    let bodies: Vec<&str> = rest.iter().map(body).collect();
    assert_eq!(bodies, vec!["a2", "a3"]);
    // A failed message comes back first in its group (order kept on retry).
    l.engine.advance_clock(31_000);
    let again = l.recv(&url, 1, None).await;
    assert!(["a2", "b1"].contains(&body(&again[0])));
    // FIFO refuses per-message delays and missing group ids.
    let err = l
        .sqs
        .send_message()
        .queue_url(&url)
        .message_body("x")
        .message_deduplication_id("x")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("MissingParameter"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifo_deduplication_window_and_content_based() {
    let l = start().await;
    let url = l.queue_with("d.fifo", &[("FifoQueue", "true")]).await;
    let (id1, _) = fifo_send(&l, &url, "x", "g", Some("same")).await;
    let (id2, _) = fifo_send(&l, &url, "y", "g", Some("same")).await;
    assert_eq!(id1, id2);
    assert_eq!(l.attr(&url, "ApproximateNumberOfMessages").await, "1");
    // After 5 minutes the id can be used again.
    l.engine.advance_clock(5 * 60 * 1000 + 100);
    let (id3, _) = fifo_send(&l, &url, "z", "g", Some("same")).await;
    assert_ne!(id1, id3);
    assert_eq!(l.attr(&url, "ApproximateNumberOfMessages").await, "2");
    // Without dedup id and without content-based dedup: refused.
    let err = l
        .sqs
        .send_message()
        .queue_url(&url)
        .message_body("x")
        .message_group_id("g")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidParameterValue"));
    let cbd = l
        .queue_with(
            "c.fifo",
            &[("FifoQueue", "true"), ("ContentBasedDeduplication", "true")],
        )
        .await;
    let (a, _) = fifo_send(&l, &cbd, "same body", "g", None).await;
    let (b, _) = fifo_send(&l, &cbd, "same body", "g", None).await;
    let (c, _) = fifo_send(&l, &cbd, "other body", "g", None).await;
    assert_eq!(a, b);
    assert_ne!(a, c);
    let got = l.recv(&cbd, 10, None).await;
    assert_eq!(got.len(), 2);
    assert_eq!(
        sys_attr(&got[0], "MessageDeduplicationId"),
        sqs_mega_local::util::sha256_hex(b"same body")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_operations_and_their_errors() {
    let l = start().await;
    let url = l.queue("batch").await;
    let entry = |id: &str, body: &str| {
        SendMessageBatchRequestEntry::builder()
            .id(id)
            .message_body(body)
            .build()
            .unwrap()
    };
    let r = l
        .sqs
        .send_message_batch()
        .queue_url(&url)
        .entries(entry("a", "1"))
        .entries(entry("b", "2"))
        .entries(entry("c", "bad \u{1} char"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.successful.len(), 2);
    assert_eq!(r.failed.len(), 1);
    assert_eq!(r.failed[0].id, "c");
    assert_eq!(r.failed[0].code, "InvalidMessageContents");
    assert_eq!(r.successful[0].md5_of_message_body, md5_hex(b"1"));

    let mut too_many = l.sqs.send_message_batch().queue_url(&url);
    for i in 0..11 {
        too_many = too_many.entries(entry(&format!("e{i}"), "x"));
    }
    let err = too_many.send().await.unwrap_err();
    assert!(err
        .into_service_error()
        .is_too_many_entries_in_batch_request());
    let err = l
        .sqs
        .send_message_batch()
        .queue_url(&url)
        .entries(entry("dup", "1"))
        .entries(entry("dup", "2"))
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_batch_entry_ids_not_distinct());
    let err = l
        .sqs
        .send_message()
        .queue_url(&url)
        .message_body("x".repeat(1_048_577))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidParameterValue"));
    assert!(err
        .message()
        .unwrap()
        .contains("Message must be shorter than"));
    let err = l
        .sqs
        .send_message_batch()
        .queue_url(&url)
        .entries(entry("a", &"x".repeat(600_000)))
        .entries(entry("b", &"x".repeat(600_000)))
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_batch_request_too_long());

    let got = l.recv(&url, 10, None).await;
    assert_eq!(got.len(), 2);
    let d = l
        .sqs
        .delete_message_batch()
        .queue_url(&url)
        .entries(
            DeleteMessageBatchRequestEntry::builder()
                .id("x")
                .receipt_handle(got[0].receipt_handle.clone().unwrap())
                .build()
                .unwrap(),
        )
        .entries(
            DeleteMessageBatchRequestEntry::builder()
                .id("y")
                .receipt_handle(got[1].receipt_handle.clone().unwrap())
                .build()
                .unwrap(),
        )
        .entries(
            DeleteMessageBatchRequestEntry::builder()
                .id("z")
                .receipt_handle("not-a-handle")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(d.successful.len(), 2);
    assert_eq!(d.failed[0].code, "ReceiptHandleIsInvalid");
    assert_eq!(
        l.attr(&url, "ApproximateNumberOfMessagesNotVisible").await,
        "0"
    );
    let err = l
        .sqs
        .delete_message()
        .queue_url(&url)
        .receipt_handle("garbage")
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_receipt_handle_is_invalid());
    let err = l
        .sqs
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(11)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidParameterValue"));
}

#[test]
fn server_start_from_sync_code_and_shutdown() {
    let h = sqs_mega_local::Server::start(sqs_mega_local::Config::default()).unwrap();
    assert!(h.url().starts_with("http://127.0.0.1:"));
    assert_ne!(h.port(), 0);
    let url = h.url().to_string();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let c = sqs_client(&url);
        c.create_queue().queue_name("s").send().await.unwrap();
        let l = c.list_queues().send().await.unwrap();
        assert_eq!(l.queue_urls.unwrap().len(), 1);
    });
    h.shutdown();
    // The port is closed after shutdown.
    assert!(std::net::TcpStream::connect(url.trim_start_matches("http://")).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redrive_to_a_missing_queue_keeps_the_message() {
    let l = start().await;
    let policy = r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:nowhere","maxReceiveCount":1}"#;
    let q = l.queue_with("orphan", &[("RedrivePolicy", policy)]).await;
    l.send(&q, "m").await;
    for n in 1..=3 {
        let got = l.recv(&q, 1, Some(0)).await;
        assert_eq!(got.len(), 1);
        assert_eq!(sys_attr(&got[0], "ApproximateReceiveCount"), n.to_string());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifo_long_poll_wakes_when_a_group_unlocks() {
    let l = start().await;
    let url = l.queue_with("wake.fifo", &[("FifoQueue", "true")]).await;
    for b in ["1", "2"] {
        l.sqs
            .send_message()
            .queue_url(&url)
            .message_body(b)
            .message_group_id("g")
            .message_deduplication_id(b)
            .send()
            .await
            .unwrap();
    }
    let first = l.recv(&url, 1, None).await;
    assert_eq!(body(&first[0]), "1");
    let sqs = l.sqs.clone();
    let url2 = url.clone();
    let t0 = Instant::now();
    let waiter = tokio::spawn(async move {
        sqs.receive_message()
            .queue_url(&url2)
            .wait_time_seconds(20)
            .send()
            .await
            .unwrap()
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    l.sqs
        .delete_message()
        .queue_url(&url)
        .receipt_handle(first[0].receipt_handle.clone().unwrap())
        .send()
        .await
        .unwrap();
    let got = waiter.await.unwrap().messages.unwrap();
    assert_eq!(body(&got[0]), "2");
    assert!(t0.elapsed() < Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_queues_paginates() {
    let l = start().await;
    for i in 0..5 {
        l.queue(&format!("page-{i}")).await;
    }
    l.queue("other").await;
    let mut seen = Vec::new();
    let mut token = None;
    for _ in 0..10 {
        let r = l
            .sqs
            .list_queues()
            .queue_name_prefix("page-")
            .max_results(2)
            .set_next_token(token.clone())
            .send()
            .await
            .unwrap();
        seen.extend(r.queue_urls.unwrap_or_default());
        token = r.next_token;
        if token.is_none() {
            break;
        }
    }
    let names: Vec<String> = seen
        .iter()
        .map(|u| u.rsplit('/').next().unwrap().to_string())
        .collect();
    assert_eq!(
        names,
        vec!["page-0", "page-1", "page-2", "page-3", "page-4"]
    );
}
