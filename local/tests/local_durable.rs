//! Durable mode: every acknowledged send survives `kill -9` of the server process.

mod common;

use common::*;
use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

/// Starts the standalone server on an ephemeral port; returns it and its URL.
fn spawn_server(dir: &std::path::Path) -> (Proc, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sqs-mega-local"))
        .args(["--port", "0", "--data-dir"])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn sqs-mega-local");
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    (Proc(child), url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_sends_survive_kill_dash_9() {
    let dir = temp_dir("kill9");
    let (mut server, url) = spawn_server(&dir.0);
    let sqs = sqs_client_no_retry(&url);
    let sns = sns_client(&url);
    let q = sqs
        .create_queue()
        .queue_name("durable")
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout,
            "60",
        )
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let topic = sns
        .create_topic()
        .name("t")
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint("arn:aws:sqs:us-east-1:000000000000:durable")
        .attributes("RawMessageDelivery", "true")
        .send()
        .await
        .unwrap();
    // Before the load: 10 messages, 5 of them received and deleted.
    for i in 0..10 {
        sqs.send_message()
            .queue_url(&q)
            .message_body(format!("pre{i}"))
            .send()
            .await
            .unwrap();
    }
    let got = sqs
        .receive_message()
        .queue_url(&q)
        .max_number_of_messages(5)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap();
    assert_eq!(got.len(), 5);
    let mut deleted = HashSet::new();
    for m in &got {
        deleted.insert(m.body.clone().unwrap());
        sqs.delete_message()
            .queue_url(&q)
            .receipt_handle(m.receipt_handle.clone().unwrap())
            .send()
            .await
            .unwrap();
    }

    // The load: 4 concurrent senders (single and batch) until the server dies.
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut senders = Vec::new();
    for w in 0..4 {
        let sqs = sqs.clone();
        let q = q.clone();
        let acked = acked.clone();
        senders.push(tokio::spawn(async move {
            for i in 0.. {
                if w % 2 == 0 {
                    let body = format!("w{w}-{i}");
                    match sqs
                        .send_message()
                        .queue_url(&q)
                        .message_body(&body)
                        .send()
                        .await
                    {
                        Ok(_) => acked.lock().unwrap().push(body),
                        Err(_) => return,
                    }
                } else {
                    let mut req = sqs.send_message_batch().queue_url(&q);
                    let bodies: Vec<String> = (0..10).map(|k| format!("w{w}-{i}-{k}")).collect();
                    for (k, b) in bodies.iter().enumerate() {
                        req = req.entries(
                            aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                                .id(k.to_string())
                                .message_body(b)
                                .build()
                                .unwrap(),
                        );
                    }
                    match req.send().await {
                        Ok(r) => {
                            assert!(r.failed.is_empty());
                            acked.lock().unwrap().extend(bodies);
                        }
                        Err(_) => return,
                    }
                }
            }
        }));
    }
    // Kill once 2000 sends are acknowledged (or after 60 s at most, on a very slow machine).
    for _ in 0..3000 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        if acked.lock().unwrap().len() >= 2000 {
            break;
        }
    }
    // SIGKILL mid-load.
    server.0.kill().unwrap();
    server.0.wait().unwrap();
    for s in senders {
        s.await.unwrap();
    }
    let acked: Vec<String> = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 100,
        "only {} sends acknowledged",
        acked.len()
    );

    let (_server2, url2) = spawn_server(&dir.0);
    assert_eq!(url2.split(':').count(), 3);
    let sqs2 = sqs_client(&url2);
    let q2 = sqs2
        .get_queue_url()
        .queue_name("durable")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let attrs = sqs2
        .get_queue_attributes()
        .queue_url(&q2)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();
    assert_eq!(
        attrs[&aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout],
        "60"
    );
    let mut received = HashSet::new();
    loop {
        let got = sqs2
            .receive_message()
            .queue_url(&q2)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default();
        if got.is_empty() {
            break;
        }
        let mut del = sqs2.delete_message_batch().queue_url(&q2);
        for (i, m) in got.iter().enumerate() {
            assert!(received.insert(m.body.clone().unwrap()), "no duplicates");
            del = del.entries(
                aws_sdk_sqs::types::DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(m.receipt_handle.clone().unwrap())
                    .build()
                    .unwrap(),
            );
        }
        del.send().await.unwrap();
    }
    let lost: Vec<&String> = acked.iter().filter(|b| !received.contains(*b)).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged sends lost, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(5)]
    );
    for d in &deleted {
        assert!(!received.contains(d), "deleted message {d} came back");
    }
    for i in 0..10 {
        let b = format!("pre{i}");
        assert_eq!(received.contains(&b), !deleted.contains(&b));
    }
    eprintln!(
        "kill -9 with {} acknowledged sends: {} received after restart (unacknowledged in-flight writes may also land)",
        acked.len(),
        received.len()
    );
    // The topic and its subscription survived too.
    let sns2 = sns_client(&url2);
    sns2.publish()
        .topic_arn(&topic)
        .message("after-restart")
        .send()
        .await
        .unwrap();
    let m = sqs2
        .receive_message()
        .queue_url(&q2)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap();
    assert_eq!(m[0].body.as_deref(), Some("after-restart"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_in_process_replays_compacts_and_ignores_a_torn_tail() {
    let dir = temp_dir("replay");
    let cfg = || sqs_mega_local::Config {
        data_dir: Some(dir.0.clone()),
        ..Default::default()
    };
    {
        let l = start_with(cfg()).await;
        let fifo = l
            .queue_with(
                "f.fifo",
                &[("FifoQueue", "true"), ("ContentBasedDeduplication", "true")],
            )
            .await;
        for b in ["1", "2", "3"] {
            l.sqs
                .send_message()
                .queue_url(&fifo)
                .message_body(b)
                .message_group_id("g")
                .send()
                .await
                .unwrap();
        }
        let plain = l.queue("p").await;
        for i in 0..50 {
            l.send(&plain, &format!("{i}")).await;
        }
        l.sqs.purge_queue().queue_url(&plain).send().await.unwrap();
        l.send(&plain, "kept").await;
        l.sqs
            .tag_queue()
            .queue_url(&plain)
            .tags("k", "v")
            .send()
            .await
            .unwrap();
        let gone = l.queue("gone").await;
        l.sqs.delete_queue().queue_url(&gone).send().await.unwrap();
    }
    // A torn record at the tail, as a crash mid-write leaves it.
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.0.join("wal.log"))
        .unwrap();
    f.write_all(b"{\"t\":\"Send\",\"q\":\"p\",\"inc\":1,\"m\":{\"se")
        .unwrap();
    drop(f);
    let size_before = std::fs::metadata(dir.0.join("wal.log")).unwrap().len();

    let l = start_with(cfg()).await;
    let size_after = std::fs::metadata(dir.0.join("wal.log")).unwrap().len();
    assert!(size_after < size_before, "compacted on start");
    let urls = l
        .sqs
        .list_queues()
        .send()
        .await
        .unwrap()
        .queue_urls
        .unwrap();
    assert_eq!(urls.len(), 2, "{urls:?}");
    let fifo = l
        .sqs
        .get_queue_url()
        .queue_name("f.fifo")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let got = l.recv(&fifo, 10, None).await;
    let bodies: Vec<&str> = got.iter().map(body).collect();
    assert_eq!(bodies, vec!["1", "2", "3"], "FIFO order kept");
    let plain = l
        .sqs
        .get_queue_url()
        .queue_name("p")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let got = l.recv(&plain, 10, None).await;
    assert_eq!(got.len(), 1);
    assert_eq!(body(&got[0]), "kept");
    let tags = l
        .sqs
        .list_queue_tags()
        .queue_url(&plain)
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tags.unwrap()["k"], "v");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_is_compacted_while_running() {
    let dir = temp_dir("compact");
    let cfg = || sqs_mega_local::Config {
        data_dir: Some(dir.0.clone()),
        compact_after_bytes: 16 * 1024,
        ..Default::default()
    };
    let log = dir.0.join("wal.log");
    let size = || std::fs::metadata(&log).unwrap().len();
    {
        let l = start_with(cfg()).await;
        let q = l.queue("churn").await;
        let payload = "p".repeat(200);
        let (mut written, mut shrinks, mut last) = (0u64, 0, size());
        for round in 0..40 {
            for i in 0..10 {
                l.send(&q, &format!("{round}-{i}-{payload}")).await;
            }
            for m in l.recv(&q, 10, None).await {
                l.sqs
                    .delete_message()
                    .queue_url(&q)
                    .receipt_handle(m.receipt_handle.unwrap())
                    .send()
                    .await
                    .unwrap();
            }
            let now = size();
            if now < last {
                shrinks += 1;
            } else {
                written += now - last;
            }
            last = now;
        }
        l.send(&q, "survivor").await;
        assert!(written > 64 * 1024, "wrote {written} bytes");
        assert!(shrinks >= 1, "the log never shrank");
        assert!(size() < 48 * 1024, "log stays bounded: {} bytes", size());
    }
    let l = start_with(cfg()).await;
    let q = l
        .sqs
        .get_queue_url()
        .queue_name("churn")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let got = l.recv(&q, 10, None).await;
    assert_eq!(got.len(), 1);
    assert_eq!(body(&got[0]), "survivor");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receive_counts_and_redrive_survive_a_restart() {
    let dir = temp_dir("counts");
    let cfg = || sqs_mega_local::Config {
        data_dir: Some(dir.0.clone()),
        ..Default::default()
    };
    {
        let l = start_with(cfg()).await;
        let dlq = l.queue("rc-dlq").await;
        let arn = l.arn(&dlq).await;
        let policy = format!(r#"{{"deadLetterTargetArn":"{arn}","maxReceiveCount":2}}"#);
        let q = l.queue_with("rc", &[("RedrivePolicy", &policy)]).await;
        l.send(&q, "poison").await;
        for _ in 0..2 {
            assert_eq!(l.recv(&q, 1, Some(0)).await.len(), 1);
        }
    }
    let l = start_with(cfg()).await;
    let q = l
        .sqs
        .get_queue_url()
        .queue_name("rc")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let dlq = l
        .sqs
        .get_queue_url()
        .queue_name("rc-dlq")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    // Received twice before the restart: the next receive dead-letters it.
    assert!(l.recv(&q, 1, Some(0)).await.is_empty());
    let dead = l.recv(&dlq, 1, None).await;
    assert_eq!(body(&dead[0]), "poison");
    assert_eq!(sys_attr(&dead[0], "ApproximateReceiveCount"), "3");
}
