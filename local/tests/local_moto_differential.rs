//! Differential suite: the same small scenarios against moto server (a third-party
//! implementation, started here on loopback) and against sqs-mega-local, comparing what a
//! client observes. Where moto disagrees with the AWS documentation, we follow AWS: such
//! cases are listed in `MOTO_DIFFERENCES` (and checked against the AWS behaviour).
//!
//! Needs `MEGA_MOTO_SERVER` (the path printed by `bash scripts/setup-moto.sh`).

mod common;

use aws_sdk_sqs::types::{
    MessageAttributeValue, MessageSystemAttributeName, QueueAttributeName,
    SendMessageBatchRequestEntry,
};
use common::*;
use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

type Obs = BTreeMap<String, String>;

struct Moto(Child);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_moto() -> (Moto, String) {
    let bin = std::env::var("MEGA_MOTO_SERVER").unwrap_or_else(|_| {
        panic!(
            "MEGA_MOTO_SERVER is not set: run `export MEGA_MOTO_SERVER=$(bash scripts/setup-moto.sh)` \
             (it installs moto server into .venv and prints its path), then run the tests again"
        )
    });
    let port = free_port();
    let child = Command::new(&bin)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start moto server {bin}: {e}"));
    let moto = Moto(child);
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    let client = sqs_client(&url);
    loop {
        if client.list_queues().send().await.is_ok() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "moto server did not answer on {url}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    (moto, url)
}

struct Target {
    sqs: aws_sdk_sqs::Client,
    sns: aws_sdk_sns::Client,
}

impl Target {
    fn new(url: &str) -> Self {
        Target {
            sqs: sqs_client_no_retry(url),
            sns: sns_client(url),
        }
    }
    async fn queue(&self, name: &str, attrs: &[(&str, &str)]) -> String {
        let mut r = self.sqs.create_queue().queue_name(name);
        for (k, v) in attrs {
            r = r.attributes(QueueAttributeName::from(*k), *v);
        }
        r.send().await.unwrap().queue_url.unwrap()
    }
    async fn arn(&self, url: &str) -> String {
        self.sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap()[&QueueAttributeName::QueueArn]
            .clone()
    }
    async fn recv(&self, url: &str, max: i32, vis: i32) -> Vec<aws_sdk_sqs::types::Message> {
        self.sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(max)
            .visibility_timeout(vis)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default()
    }
}

fn count(m: &aws_sdk_sqs::types::Message) -> String {
    sys_attr(m, "ApproximateReceiveCount")
}

/// Receive counts over repeated receives with visibility 0.
async fn receive_counts(t: &Target, o: &mut Obs) {
    let q = t.queue("diff-counts", &[]).await;
    t.sqs
        .send_message()
        .queue_url(&q)
        .message_body("m")
        .send()
        .await
        .unwrap();
    let mut counts = Vec::new();
    for _ in 0..3 {
        let got = t.recv(&q, 1, 0).await;
        counts.push(got.first().map(count).unwrap_or_default());
    }
    o.insert("counts.sequence".into(), counts.join(","));
}

/// Dead-letter queue contents after exceeding maxReceiveCount.
async fn dead_letter(t: &Target, o: &mut Obs) {
    let dlq = t.queue("diff-dlq", &[]).await;
    let arn = t.arn(&dlq).await;
    let policy = format!(r#"{{"deadLetterTargetArn":"{arn}","maxReceiveCount":"2"}}"#);
    let q = t.queue("diff-src", &[("RedrivePolicy", &policy)]).await;
    for b in ["a", "b"] {
        t.sqs
            .send_message()
            .queue_url(&q)
            .message_body(b)
            .send()
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    for round in 0..4 {
        let mut got: Vec<String> = t
            .recv(&q, 10, 0)
            .await
            .iter()
            .map(|m| format!("{}:{}", body(m), count(m)))
            .collect();
        got.sort();
        seen.push(format!("r{round}=[{}]", got.join(" ")));
    }
    o.insert("dlq.source_receives".into(), seen.join(" "));
    let mut dead: Vec<String> = t
        .recv(&dlq, 10, 30)
        .await
        .iter()
        .map(|m| body(m).to_string())
        .collect();
    dead.sort();
    o.insert("dlq.contents".into(), dead.join(","));
    let sources = t
        .sqs
        .list_dead_letter_source_queues()
        .queue_url(&dlq)
        .send()
        .await
        .unwrap()
        .queue_urls;
    o.insert(
        "dlq.sources".into(),
        sources
            .iter()
            .map(|u| u.rsplit('/').next().unwrap().to_string())
            .collect::<Vec<_>>()
            .join(","),
    );
}

/// FIFO: per-group order and the group lock.
async fn fifo(t: &Target, o: &mut Obs) {
    let q = t.queue("diff.fifo", &[("FifoQueue", "true")]).await;
    for (b, g) in [
        ("a1", "a"),
        ("a2", "a"),
        ("b1", "b"),
        ("a3", "a"),
        ("b2", "b"),
    ] {
        t.sqs
            .send_message()
            .queue_url(&q)
            .message_body(b)
            .message_group_id(g)
            .message_deduplication_id(b)
            .send()
            .await
            .unwrap();
    }
    // duplicate dedup id: accepted, not enqueued
    t.sqs
        .send_message()
        .queue_url(&q)
        .message_body("a1-again")
        .message_group_id("a")
        .message_deduplication_id("a1")
        .send()
        .await
        .unwrap();
    let first = t.recv(&q, 1, 30).await;
    o.insert("fifo.first".into(), body(&first[0]).to_string());
    let mut second: Vec<String> = t
        .recv(&q, 10, 30)
        .await
        .iter()
        .map(|m| body(m).to_string())
        .collect();
    second.sort();
    o.insert("fifo.while_a_locked".into(), second.join(","));
    t.sqs
        .delete_message()
        .queue_url(&q)
        .receipt_handle(first[0].receipt_handle.clone().unwrap())
        .send()
        .await
        .unwrap();
    let rest: Vec<String> = t
        .recv(&q, 10, 30)
        .await
        .iter()
        .map(|m| body(m).to_string())
        .collect();
    o.insert("fifo.after_delete".into(), rest.join(","));
}

/// MD5 digests of body and attributes, as the SDK checks them.
async fn md5s(t: &Target, o: &mut Obs) {
    let q = t.queue("diff-md5", &[]).await;
    let s = |v: &str| {
        MessageAttributeValue::builder()
            .data_type("String")
            .string_value(v)
            .build()
            .unwrap()
    };
    let r = t
        .sqs
        .send_message()
        .queue_url(&q)
        .message_body("body ✓")
        .message_attributes("zeta", s("last"))
        .message_attributes("alpha", s("first"))
        .message_attributes(
            "num",
            MessageAttributeValue::builder()
                .data_type("Number")
                .string_value("12.5")
                .build()
                .unwrap(),
        )
        .message_attributes(
            "bin",
            MessageAttributeValue::builder()
                .data_type("Binary")
                .binary_value(aws_sdk_sqs::primitives::Blob::new(vec![1u8, 2, 3]))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    o.insert(
        "md5.send.body".into(),
        r.md5_of_message_body.unwrap_or_default(),
    );
    o.insert(
        "md5.send.attrs".into(),
        r.md5_of_message_attributes.unwrap_or_default(),
    );
    let m = t.recv(&q, 1, 30).await;
    o.insert(
        "md5.recv.body".into(),
        m[0].md5_of_body.clone().unwrap_or_default(),
    );
    o.insert(
        "md5.recv.attrs".into(),
        m[0].md5_of_message_attributes.clone().unwrap_or_default(),
    );
}

fn code_of<E: aws_sdk_sqs::error::ProvideErrorMetadata>(r: Result<impl Sized, E>) -> String {
    match r {
        Ok(_) => "OK".into(),
        Err(e) => e.code().unwrap_or("?").to_string(),
    }
}

/// Error codes that SDKs turn into typed errors.
async fn errors(t: &Target, o: &mut Obs) {
    let q = t.queue("diff-errors", &[]).await;
    o.insert(
        "err.get_queue_url_missing".into(),
        code_of(t.sqs.get_queue_url().queue_name("nope-nope").send().await),
    );
    o.insert(
        "err.delete_bad_handle".into(),
        code_of(
            t.sqs
                .delete_message()
                .queue_url(&q)
                .receipt_handle("garbage")
                .send()
                .await,
        ),
    );
    let entry = |id: &str| {
        SendMessageBatchRequestEntry::builder()
            .id(id)
            .message_body("x")
            .build()
            .unwrap()
    };
    let mut many = t.sqs.send_message_batch().queue_url(&q);
    for i in 0..11 {
        many = many.entries(entry(&i.to_string()));
    }
    o.insert("err.batch_too_many".into(), code_of(many.send().await));
    o.insert(
        "err.batch_ids_not_distinct".into(),
        code_of(
            t.sqs
                .send_message_batch()
                .queue_url(&q)
                .entries(entry("x"))
                .entries(entry("x"))
                .send()
                .await,
        ),
    );
    o.insert(
        "err.message_too_long".into(),
        code_of(
            t.sqs
                .send_message()
                .queue_url(&q)
                .message_body("x".repeat(1_048_577))
                .send()
                .await,
        ),
    );
    o.insert(
        "err.receive_max_11".into(),
        code_of(
            t.sqs
                .receive_message()
                .queue_url(&q)
                .max_number_of_messages(11)
                .send()
                .await,
        ),
    );
    let sns_code = match t
        .sns
        .publish()
        .topic_arn("arn:aws:sns:us-east-1:123456789012:missing")
        .message("x")
        .send()
        .await
    {
        Ok(_) => "OK".to_string(),
        Err(e) => aws_sdk_sns::error::ProvideErrorMetadata::code(&e)
            .unwrap_or("?")
            .to_string(),
    };
    o.insert("err.sns_publish_missing_topic".into(), sns_code);
}

/// SNS envelope fields and filter policies.
async fn sns(t: &Target, o: &mut Obs) {
    let topic = t
        .sns
        .create_topic()
        .name("diff-topic")
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let q = t.queue("diff-sns", &[]).await;
    let raw = t.queue("diff-sns-raw", &[]).await;
    let filtered = t.queue("diff-sns-filtered", &[]).await;
    t.sns
        .subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(t.arn(&q).await)
        .send()
        .await
        .unwrap();
    t.sns
        .subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(t.arn(&raw).await)
        .attributes("RawMessageDelivery", "true")
        .send()
        .await
        .unwrap();
    t.sns
        .subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(t.arn(&filtered).await)
        .attributes(
            "FilterPolicy",
            r#"{"color":["red",{"prefix":"bl"}],"size":[{"numeric":[">",2]}]}"#,
        )
        .send()
        .await
        .unwrap();
    let attr = |ty: &str, v: &str| {
        aws_sdk_sns::types::MessageAttributeValue::builder()
            .data_type(ty)
            .string_value(v)
            .build()
            .unwrap()
    };
    for (msg, color, size) in [
        ("one", "red", "3"),
        ("two", "blue", "1"),
        ("three", "black", "5"),
        ("four", "green", "9"),
    ] {
        t.sns
            .publish()
            .topic_arn(&topic)
            .subject("subj")
            .message(msg)
            .message_attributes("color", attr("String", color))
            .message_attributes("size", attr("Number", size))
            .send()
            .await
            .unwrap();
    }
    let env_msgs = t.recv(&q, 10, 30).await;
    o.insert("sns.delivered".into(), env_msgs.len().to_string());
    let env: serde_json::Value = serde_json::from_str(body(&env_msgs[0])).unwrap();
    let mut keys: Vec<&String> = env.as_object().unwrap().keys().collect();
    keys.sort();
    o.insert(
        "sns.envelope.keys".into(),
        keys.iter()
            .map(|k| k.as_str())
            .collect::<Vec<_>>()
            .join(","),
    );
    o.insert("sns.envelope.Type".into(), env["Type"].to_string());
    o.insert("sns.envelope.Subject".into(), env["Subject"].to_string());
    o.insert(
        "sns.envelope.SignatureVersion".into(),
        env["SignatureVersion"].to_string(),
    );
    o.insert(
        "sns.envelope.attr.size".into(),
        env["MessageAttributes"]["size"].to_string(),
    );
    let mut raw_bodies: Vec<String> = t
        .recv(&raw, 10, 30)
        .await
        .iter()
        .map(|m| body(m).to_string())
        .collect();
    raw_bodies.sort();
    o.insert("sns.raw.bodies".into(), raw_bodies.join(","));
    let mut f: Vec<String> = t
        .recv(&filtered, 10, 30)
        .await
        .iter()
        .map(|m| {
            let v: serde_json::Value = serde_json::from_str(body(m)).unwrap();
            v["Message"].as_str().unwrap().to_string()
        })
        .collect();
    f.sort();
    o.insert("sns.filtered".into(), f.join(","));
}

/// Visibility changes, delays, batch partial failures, queue attribute defaults.
async fn queue_semantics(t: &Target, o: &mut Obs) {
    let q = t.queue("diff-vis", &[]).await;
    t.sqs
        .send_message()
        .queue_url(&q)
        .message_body("v")
        .send()
        .await
        .unwrap();
    let m = t.recv(&q, 1, 30).await;
    o.insert(
        "vis.hidden".into(),
        t.recv(&q, 1, 30).await.len().to_string(),
    );
    t.sqs
        .change_message_visibility()
        .queue_url(&q)
        .receipt_handle(m[0].receipt_handle.clone().unwrap())
        .visibility_timeout(0)
        .send()
        .await
        .unwrap();
    let again = t.recv(&q, 1, 30).await;
    o.insert(
        "vis.after_change_count".into(),
        again.first().map(count).unwrap_or_default(),
    );
    o.insert(
        "vis.change_bad_handle".into(),
        code_of(
            t.sqs
                .change_message_visibility()
                .queue_url(&q)
                .receipt_handle("garbage")
                .visibility_timeout(5)
                .send()
                .await,
        ),
    );

    let d = t.queue("diff-delay", &[]).await;
    t.sqs
        .send_message()
        .queue_url(&d)
        .message_body("later")
        .delay_seconds(60)
        .send()
        .await
        .unwrap();
    o.insert(
        "delay.visible_now".into(),
        t.recv(&d, 10, 30).await.len().to_string(),
    );
    let attrs = t
        .sqs
        .get_queue_attributes()
        .queue_url(&d)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();
    for k in [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesDelayed",
        "ApproximateNumberOfMessagesNotVisible",
        "VisibilityTimeout",
        "MaximumMessageSize",
        "MessageRetentionPeriod",
        "DelaySeconds",
        "ReceiveMessageWaitTimeSeconds",
    ] {
        o.insert(
            format!("attrs.{k}"),
            attrs
                .get(&QueueAttributeName::from(k))
                .cloned()
                .unwrap_or_else(|| "<absent>".into()),
        );
    }

    let b = t.queue("diff-batch", &[]).await;
    let r = t
        .sqs
        .send_message_batch()
        .queue_url(&b)
        .entries(
            SendMessageBatchRequestEntry::builder()
                .id("ok")
                .message_body("fine")
                .build()
                .unwrap(),
        )
        .entries(
            SendMessageBatchRequestEntry::builder()
                .id("bad")
                .message_body("\u{1}")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    o.insert(
        "batch.send_partial".into(),
        format!(
            "ok={} failed={}:{}",
            r.successful.len(),
            r.failed
                .iter()
                .map(|f| f.id.as_str())
                .collect::<Vec<_>>()
                .join(","),
            r.failed
                .iter()
                .map(|f| f.code.as_str())
                .collect::<Vec<_>>()
                .join(",")
        ),
    );
    let got = t.recv(&b, 10, 30).await;
    let d = t
        .sqs
        .delete_message_batch()
        .queue_url(&b)
        .entries(
            aws_sdk_sqs::types::DeleteMessageBatchRequestEntry::builder()
                .id("good")
                .receipt_handle(got[0].receipt_handle.clone().unwrap())
                .build()
                .unwrap(),
        )
        .entries(
            aws_sdk_sqs::types::DeleteMessageBatchRequestEntry::builder()
                .id("junk")
                .receipt_handle("garbage")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    o.insert(
        "batch.delete_partial".into(),
        format!(
            "ok={} failed={}",
            d.successful.len(),
            d.failed
                .iter()
                .map(|f| format!("{}:{}", f.id, f.code))
                .collect::<Vec<_>>()
                .join(",")
        ),
    );

    let c = t
        .queue(
            "diff-cbd.fifo",
            &[("FifoQueue", "true"), ("ContentBasedDeduplication", "true")],
        )
        .await;
    let mut ids = Vec::new();
    for body in ["same", "same", "other"] {
        ids.push(
            t.sqs
                .send_message()
                .queue_url(&c)
                .message_body(body)
                .message_group_id("g")
                .send()
                .await
                .unwrap()
                .message_id
                .unwrap(),
        );
    }
    // Which MessageId a deduplicated send returns is not documented by AWS (moto returns a
    // fresh one, we return the original's): only the distinct message is compared.
    o.insert(
        "fifo.content_dedup".into(),
        format!("first==third:{}", ids[0] == ids[2]),
    );
    let got: Vec<String> = t
        .recv(&c, 10, 30)
        .await
        .iter()
        .map(|m| body(m).to_string())
        .collect();
    o.insert("fifo.content_dedup_bodies".into(), got.join(","));
    t.sqs.purge_queue().queue_url(&c).send().await.unwrap();
    o.insert(
        "purge.after".into(),
        t.recv(&c, 10, 30).await.len().to_string(),
    );
}

/// Cases where moto differs from what AWS documents; we follow AWS.
/// (key, what AWS documents and we return, why)
const MOTO_DIFFERENCES: &[(&str, &str, &str)] = &[
    (
        "sns.envelope.SignatureVersion",
        "\"1\"",
        "moto signs notifications with SignatureVersion 2; AWS documents SignatureVersion 1 \
         (SHA1) as the default of a topic unless its SignatureVersion attribute is set to 2",
    ),
    (
        "batch.send_partial",
        "ok=1 failed=bad:InvalidMessageContents",
        "moto accepts a body with U+0001; AWS documents the allowed characters (#x9 | #xA | #xD \
         | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF) and rejects any other \
         (InvalidMessageContents)",
    ),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn differential_against_moto() {
    let (_moto, moto_url) = start_moto().await;
    let local = start().await;
    let mut ours = Obs::new();
    let mut theirs = Obs::new();
    for (url, obs) in [
        (moto_url.as_str(), &mut theirs),
        (local.url.as_str(), &mut ours),
    ] {
        let t = Target::new(url);
        receive_counts(&t, obs).await;
        dead_letter(&t, obs).await;
        fifo(&t, obs).await;
        md5s(&t, obs).await;
        errors(&t, obs).await;
        sns(&t, obs).await;
        queue_semantics(&t, obs).await;
    }
    let mut mismatches = Vec::new();
    for (k, v) in &ours {
        let m = theirs.get(k).cloned().unwrap_or_else(|| "<missing>".into());
        if let Some((_, aws, _)) = MOTO_DIFFERENCES.iter().find(|(key, _, _)| key == k) {
            assert_eq!(v, aws, "{k}: we must return what AWS documents");
            continue;
        }
        if &m != v {
            mismatches.push(format!("{k}: moto={m} ours={v}"));
        }
    }
    eprintln!("compared {} observations", ours.len());
    for (k, v) in &ours {
        eprintln!("  {k} = {v}");
    }
    assert!(
        mismatches.is_empty(),
        "differences from moto:\n{}",
        mismatches.join("\n")
    );
}
