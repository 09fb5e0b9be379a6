//! Reading messages without consuming them (`peek`, the console), and a message as a decoded JSON report
//! (`peek`, `tail`, the console).

use std::collections::HashSet;

use serde_json::{json, Map, Value};
use sqs_mega::aws::{sqs_sdk, AwsError};
use sqs_mega::codec::{self, ENCODING_ATTRIBUTE};
use sqs_mega::json as mjson;

use crate::conn::{about, QueueRef};
use crate::CliError;

/// How long peeked messages are held before they are made visible again (they are released at once after
/// the peek; this only bounds how long they stay hidden if the release fails).
const PEEK_HOLD_SECONDS: i32 = 30;

/// The most messages one peek returns.
pub const MAX_PEEK: usize = 100;

/// A received message as a report: ids, receive count, sent time, attributes, and the decoded body (kind,
/// encoding, payload as tagged JSON, SNS metadata), or the decode error and the raw body.
pub fn report(m: &sqs_sdk::types::Message) -> Value {
    use sqs_sdk::types::MessageSystemAttributeName as Sys;
    let sys = m.attributes();
    let sys_get = |k: Sys| sys.and_then(|a| a.get(&k)).cloned();
    let mut out = Map::new();
    out.insert(
        "message_id".into(),
        json!(m.message_id().unwrap_or_default()),
    );
    out.insert(
        "receive_count".into(),
        json!(sys_get(Sys::ApproximateReceiveCount).and_then(|c| c.parse::<u64>().ok())),
    );
    out.insert(
        "sent".into(),
        json!(sys_get(Sys::SentTimestamp)
            .and_then(|t| t.parse::<i64>().ok())
            .and_then(chrono_iso)),
    );
    if let Some(group) = sys_get(Sys::MessageGroupId) {
        out.insert("group_id".into(), json!(group));
    }
    let mut attributes = Map::new();
    let mut declared = None;
    if let Some(attrs) = m.message_attributes() {
        let mut names: Vec<&String> = attrs.keys().collect();
        names.sort();
        for name in names {
            let a = &attrs[name];
            let value = match (a.string_value(), a.binary_value()) {
                (Some(s), _) => s.to_owned(),
                (None, Some(b)) => {
                    use base64::Engine as _;
                    base64::engine::general_purpose::STANDARD.encode(b.as_ref())
                }
                _ => String::new(),
            };
            if name == ENCODING_ATTRIBUTE {
                declared = Some(value.clone());
            }
            attributes.insert(name.clone(), json!({"type": a.data_type(), "value": value}));
        }
    }
    out.insert("attributes".into(), Value::Object(attributes));
    let body = m.body().unwrap_or_default();
    out.insert("body_bytes".into(), json!(body.len()));
    match codec::decode(body, declared.as_deref()) {
        Ok(decoded) => {
            let text = mjson::to_tagged_string(&decoded.to_report());
            if let Ok(Value::Object(report)) = serde_json::from_str::<Value>(&text) {
                for (k, v) in report {
                    out.insert(k, v);
                }
            }
        }
        Err(e) => {
            out.insert("kind".into(), Value::Null);
            out.insert("decode_error".into(), json!(e.to_string()));
            out.insert("body".into(), json!(body));
        }
    }
    Value::Object(out)
}

fn chrono_iso(ms: i64) -> Option<String> {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

/// Receives messages, all attributes included (`visibility`: the queue's own when `None`).
pub async fn receive(
    sqs: &sqs_sdk::Client,
    queue: &QueueRef,
    max: i32,
    visibility: Option<i32>,
    wait: i32,
) -> Result<Vec<sqs_sdk::types::Message>, CliError> {
    let out = sqs
        .receive_message()
        .queue_url(&queue.url)
        .max_number_of_messages(max.clamp(1, 10))
        .set_visibility_timeout(visibility)
        .wait_time_seconds(wait)
        .message_system_attribute_names(sqs_sdk::types::MessageSystemAttributeName::All)
        .message_attribute_names("All")
        .send()
        .await
        .map_err(|e| about(&queue.url, AwsError::from_sdk("ReceiveMessage", e)))?;
    Ok(out.messages().to_vec())
}

/// Up to `n` messages of a queue, without consuming them: received (held briefly, so that one peek does
/// not see a message twice), then made visible again at once (ChangeMessageVisibility to 0). Each receive
/// counts in the message's receive count, as with any SQS reader.
pub async fn peek(
    sqs: &sqs_sdk::Client,
    queue: &QueueRef,
    n: usize,
) -> Result<Vec<sqs_sdk::types::Message>, CliError> {
    let n = n.min(MAX_PEEK);
    let mut seen = HashSet::new();
    let mut messages = Vec::new();
    let mut empty_in_a_row = 0;
    let mut result = Ok(());
    while messages.len() < n && empty_in_a_row < 2 {
        let want = (n - messages.len()).min(10) as i32;
        match receive(sqs, queue, want, Some(PEEK_HOLD_SECONDS), 0).await {
            Ok(batch) if batch.is_empty() => empty_in_a_row += 1,
            Ok(batch) => {
                empty_in_a_row = 0;
                for m in batch {
                    if seen.insert(m.message_id().unwrap_or_default().to_owned()) {
                        messages.push(m);
                    }
                }
            }
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    release(sqs, queue, &messages).await;
    result.map(|_| {
        messages.truncate(n);
        messages
    })
}

/// Makes received messages visible again (best effort: a failure leaves them hidden for the hold time).
async fn release(sqs: &sqs_sdk::Client, queue: &QueueRef, messages: &[sqs_sdk::types::Message]) {
    for chunk in messages.chunks(10) {
        let entries: Vec<_> = chunk
            .iter()
            .enumerate()
            .filter_map(|(i, m)| {
                sqs_sdk::types::ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(m.receipt_handle()?)
                    .visibility_timeout(0)
                    .build()
                    .ok()
            })
            .collect();
        if entries.is_empty() {
            continue;
        }
        if let Err(e) = sqs
            .change_message_visibility_batch()
            .queue_url(&queue.url)
            .set_entries(Some(entries))
            .send()
            .await
        {
            eprintln!(
                "mega: warning: could not make peeked messages visible again ({}); they will be after {PEEK_HOLD_SECONDS}s",
                AwsError::from_sdk("ChangeMessageVisibilityBatch", e)
            );
        }
    }
}

/// A report for people: one header line, then the payload (or the body) as indented JSON.
pub fn human(report: &Value) -> String {
    let get = |k: &str| report.get(k).cloned().unwrap_or(Value::Null);
    let text = |v: Value| match v {
        Value::String(s) => s,
        Value::Null => "-".into(),
        other => other.to_string(),
    };
    let mut head = format!(
        "--- {}  kind={} encoding={} receives={} sent={}",
        text(get("message_id")),
        text(get("kind")),
        text(get("encoding")),
        text(get("receive_count")),
        text(get("sent")),
    );
    if let Some(topic) = report.pointer("/sns/topic_arn").and_then(Value::as_str) {
        head.push_str(&format!(" via SNS {topic}"));
    }
    if let Some(Value::Object(attrs)) = report.get("attributes") {
        let list: Vec<String> = attrs
            .iter()
            .filter(|(k, _)| k.as_str() != ENCODING_ATTRIBUTE)
            .map(|(k, v)| {
                format!(
                    "{k}={}",
                    text(v.get("value").cloned().unwrap_or(Value::Null))
                )
            })
            .collect();
        if !list.is_empty() {
            head.push_str(&format!("\n    attributes: {}", list.join(", ")));
        }
    }
    let body = match report.get("decode_error") {
        Some(err) => format!(
            "    cannot decode: {}\n{}",
            text(err.clone()),
            text(get("body"))
        ),
        None => serde_json::to_string_pretty(&get("payload")).unwrap_or_default(),
    };
    format!("{head}\n{body}")
}
