//! Delivery to a subscribed queue: the notification envelope, and deliveries SQS refuses
//! (to the subscription's dead-letter queue, or dropped and counted).

use super::publish::Publication;
use super::state::Subscription;
use super::subscriptions::sub_dlq_arn;
use crate::engine::Engine;
use crate::error::ApiError;
use crate::queue::NewMessage;
use crate::util::{iso8601_ms, sha256_hex};
use base64::Engine as _;
use std::collections::BTreeMap;
use std::fmt::Write as _;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Escapes, as JSON `\uXXXX`, the characters of a JSON text that SQS does not accept in a
/// body (serde_json already escapes those below U+0020; U+FFFE and U+FFFF remain).
fn sqs_safe_json(s: String) -> String {
    if !s.contains(['\u{FFFE}', '\u{FFFF}']) {
        return s;
    }
    s.replace('\u{FFFE}', "\\ufffe")
        .replace('\u{FFFF}', "\\uffff")
}

/// Deliveries from topics to queues that failed (an SQS-side error or a missing queue), as
/// SNS's CloudWatch metrics count them. A failed delivery goes to the subscription's
/// dead-letter queue (`RedrivePolicy`) if it has one; otherwise it is dropped, as SNS does,
/// and logged (tracing at error level, and stderr).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SnsDeliveryStats {
    /// NumberOfNotificationsFailed.
    pub failed: u64,
    /// NumberOfNotificationsRedrivenToDlq.
    pub redriven_to_dlq: u64,
    /// NumberOfNotificationsFailedToRedriveToDlq.
    pub failed_to_redrive_to_dlq: u64,
}

impl Engine {
    /// A delivery that SQS refused (or whose queue is gone): to the subscription's
    /// dead-letter queue as the notification envelope (which SQS accepts whatever the
    /// message, raw delivery or not), else dropped as SNS does, but logged and counted.
    pub(super) fn delivery_failed(
        &self,
        sub: &Subscription,
        pb: &Publication,
        message_id: &str,
        dedup: Option<&str>,
        envelope: impl FnOnce() -> String,
        err: &ApiError,
    ) {
        let dlq_arn = sub_dlq_arn(&sub.attrs).ok().flatten();
        let dlq = dlq_arn.as_deref().and_then(|a| self.queue_by_arn(a));
        let redrive = dlq.as_ref().map(|d| {
            let nm = NewMessage {
                body: envelope(),
                attrs: BTreeMap::new(),
                delay: None,
                group: if d.fifo { pb.group.clone() } else { None },
                dedup_id: d.fifo.then(|| dedup.unwrap_or(message_id).to_string()),
                trace_header: None,
            };
            self.send(d, nm)
        });
        {
            let mut s = self.sns_lock();
            s.stats.failed += 1;
            match &redrive {
                Some(Ok(_)) => s.stats.redriven_to_dlq += 1,
                Some(Err(_)) => s.stats.failed_to_redrive_to_dlq += 1,
                None => {}
            }
        }
        match redrive {
            Some(Ok(_)) => tracing::warn!(
                subscription = %sub.arn, endpoint = %sub.endpoint, error = %err, message_id,
                "SNS delivery failed; message moved to the subscription's dead-letter queue"
            ),
            other => {
                let why = match other {
                    Some(Err(e)) => format!(
                        "and moving it to the dead-letter queue {} failed too ({e})",
                        dlq_arn.unwrap_or_default()
                    ),
                    _ => match dlq_arn {
                        Some(a) => format!("and its dead-letter queue {a} does not exist"),
                        None => "and the subscription has no dead-letter queue (RedrivePolicy)"
                            .to_string(),
                    },
                };
                tracing::error!(
                    subscription = %sub.arn, endpoint = %sub.endpoint, error = %err, message_id,
                    "SNS delivery failed, message dropped: {why}"
                );
                eprintln!(
                    "sqs-mega-local: SNS message {message_id} NOT delivered to {} (subscription {}): {err}, {why}; dropped",
                    sub.endpoint, sub.arn
                );
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn envelope(
        &self,
        topic_arn: &str,
        sub_arn: &str,
        message_id: &str,
        pb: &Publication,
        message: &str,
        now: u64,
        seq: Option<&str>,
    ) -> String {
        use serde_json::to_string as js;
        let mut s = String::with_capacity(message.len() + 512);
        s.push('{');
        let _ = write!(
            s,
            "\"Type\":\"Notification\",\"MessageId\":{}",
            js(message_id).unwrap()
        );
        if let Some(n) = seq {
            let _ = write!(s, ",\"SequenceNumber\":{}", js(n).unwrap());
        }
        let _ = write!(s, ",\"TopicArn\":{}", js(topic_arn).unwrap());
        if let Some(subj) = &pb.subject {
            let _ = write!(s, ",\"Subject\":{}", js(subj).unwrap());
        }
        let _ = write!(
            s,
            ",\"Message\":{},\"Timestamp\":{},\"SignatureVersion\":\"1\",\"Signature\":{}",
            js(message).unwrap(),
            js(&iso8601_ms(now)).unwrap(),
            js(&B64.encode(sha256_hex(format!("{message_id}{message}").as_bytes()))).unwrap()
        );
        let _ = write!(
            s,
            ",\"SigningCertURL\":{},\"UnsubscribeURL\":{}",
            js(&format!(
                "{}/_mega/sns/SimpleNotificationService-local.pem",
                self.base_url
            ))
            .unwrap(),
            js(&format!(
                "{}/?Action=Unsubscribe&SubscriptionArn={}",
                self.base_url, sub_arn
            ))
            .unwrap()
        );
        if !pb.attrs.is_empty() {
            let mut m = serde_json::Map::new();
            for (k, a) in &pb.attrs {
                let value = match &a.binary_value {
                    Some(b) if a.is_binary() => B64.encode(b),
                    _ => a.string_value.clone().unwrap_or_default(),
                };
                m.insert(
                    k.clone(),
                    serde_json::json!({"Type": a.data_type, "Value": value}),
                );
            }
            let _ = write!(s, ",\"MessageAttributes\":{}", serde_json::Value::Object(m));
        }
        s.push('}');
        sqs_safe_json(s)
    }
}

impl Engine {
    /// Counts of failed SNS deliveries since the start (see [`SnsDeliveryStats`]).
    pub fn sns_delivery_stats(&self) -> SnsDeliveryStats {
        self.sns_lock().stats
    }
}
