//! Publish and PublishBatch: validation, FIFO deduplication, and the fan-out to the topic's
//! subscriptions through their filter policies.

use super::query::{message_attributes, req, response};
use super::state::Subscription;
use crate::engine::Engine;
use crate::error::ApiError;
use crate::queue::NewMessage;
use crate::util::{sha256_hex, uuid, xml_escape as esc, AttrValue};
use sqs_mega::matcher::SnsMessage;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

/// One published message, before fan-out.
pub(super) struct Publication {
    pub(super) message: String,
    pub(super) subject: Option<String>,
    pub(super) structure: Option<String>,
    pub(super) attrs: BTreeMap<String, AttrValue>,
    pub(super) group: Option<String>,
    pub(super) dedup: Option<String>,
}

impl Engine {
    pub(super) fn publish_action(&self, p: &HashMap<String, String>) -> Result<String, ApiError> {
        let arn = p
            .get("TopicArn")
            .or_else(|| p.get("TargetArn"))
            .ok_or_else(|| {
                ApiError::sns_invalid_parameter("Invalid parameter: TopicArn or TargetArn Reason: no value for required parameter")
            })?;
        let publication = Publication {
            message: p.get("Message").cloned().unwrap_or_default(),
            subject: p.get("Subject").cloned(),
            structure: p.get("MessageStructure").cloned(),
            attrs: message_attributes(p, "")?,
            group: p.get("MessageGroupId").cloned(),
            dedup: p.get("MessageDeduplicationId").cloned(),
        };
        let (id, seq) = self.publish(arn, publication)?;
        let mut x = format!("<MessageId>{id}</MessageId>");
        if let Some(s) = seq {
            let _ = write!(x, "<SequenceNumber>{s}</SequenceNumber>");
        }
        Ok(response("Publish", Some(&x)))
    }

    pub(super) fn publish_batch(&self, p: &HashMap<String, String>) -> Result<String, ApiError> {
        let arn = req(p, "TopicArn")?;
        let mut ids = Vec::new();
        for i in 1.. {
            let prefix = format!("PublishBatchRequestEntries.member.{i}.");
            if !p.contains_key(&format!("{prefix}Id")) {
                break;
            }
            ids.push((p[&format!("{prefix}Id")].clone(), prefix));
        }
        if ids.is_empty() {
            return Err(ApiError::sns_empty_batch());
        }
        if ids.len() > 10 {
            return Err(ApiError::sns_too_many_entries());
        }
        let mut seen = std::collections::HashSet::new();
        if !ids.iter().all(|(id, _)| seen.insert(id.clone())) {
            return Err(ApiError::sns_batch_ids_not_distinct());
        }
        if !self.sns_lock().topics.contains_key(arn) {
            return Err(ApiError::sns_not_found("Topic does not exist"));
        }
        let mut ok = String::from("<Successful>");
        let mut failed = String::from("<Failed>");
        for (id, prefix) in ids {
            let get = |k: &str| p.get(&format!("{prefix}{k}")).cloned();
            let r = message_attributes(p, &prefix).and_then(|attrs| {
                self.publish(
                    arn,
                    Publication {
                        message: get("Message").unwrap_or_default(),
                        subject: get("Subject"),
                        structure: get("MessageStructure"),
                        attrs,
                        group: get("MessageGroupId"),
                        dedup: get("MessageDeduplicationId"),
                    },
                )
            });
            match r {
                Ok((mid, seq)) => {
                    let _ = write!(
                        ok,
                        "<member><Id>{}</Id><MessageId>{mid}</MessageId>",
                        esc(&id)
                    );
                    if let Some(s) = seq {
                        let _ = write!(ok, "<SequenceNumber>{s}</SequenceNumber>");
                    }
                    ok.push_str("</member>");
                }
                Err(e) => {
                    let _ = write!(
                        failed,
                        "<member><Id>{}</Id><Code>{}</Code><Message>{}</Message><SenderFault>{}</SenderFault></member>",
                        esc(&id),
                        e.query_code,
                        esc(&e.message),
                        e.sender_fault
                    );
                }
            }
        }
        ok.push_str("</Successful>");
        failed.push_str("</Failed>");
        Ok(response("PublishBatch", Some(&format!("{ok}{failed}"))))
    }

    /// Publishes and fans out to the subscribed queues. Returns (MessageId, SequenceNumber).
    pub(super) fn publish(
        &self,
        topic_arn: &str,
        pb: Publication,
    ) -> Result<(String, Option<String>), ApiError> {
        if pb.message.is_empty() {
            return Err(ApiError::sns_invalid_parameter(
                "Invalid parameter: Empty message",
            ));
        }
        // The limit covers the body and the message attributes (names, types and values).
        let attr_bytes: usize = pb
            .attrs
            .iter()
            .map(|(k, v)| {
                k.len()
                    + v.data_type.len()
                    + v.string_value.as_ref().map_or(0, String::len)
                    + v.binary_value.as_ref().map_or(0, Vec::len)
            })
            .sum();
        if pb.message.len() + attr_bytes > 262_144 {
            return Err(ApiError::sns_invalid_parameter(
                "Invalid parameter: Message too long",
            ));
        }
        let (topic, subs) = {
            let s = self.sns_lock();
            let t = s
                .topics
                .get(topic_arn)
                .ok_or_else(|| ApiError::sns_not_found("Topic does not exist"))?
                .clone();
            let subs: Vec<Subscription> = s
                .subs
                .values()
                .filter(|x| x.topic_arn == topic_arn)
                .cloned()
                .collect();
            (t, subs)
        };
        let fifo = topic.fifo();
        let mut dedup = pb.dedup.clone();
        if fifo {
            if pb.group.as_deref().is_none_or(str::is_empty) {
                return Err(ApiError::sns_invalid_parameter(
                    "Invalid parameter: The MessageGroupId parameter is required for FIFO topics",
                ));
            }
            if dedup.is_none() {
                if topic
                    .attrs
                    .get("ContentBasedDeduplication")
                    .is_some_and(|v| v.eq_ignore_ascii_case("true"))
                {
                    dedup = Some(sha256_hex(pb.message.as_bytes()));
                } else {
                    return Err(ApiError::sns_invalid_parameter(
                        "Invalid parameter: The topic should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly",
                    ));
                }
            }
        }
        let mut message = pb.message.clone();
        if pb.structure.as_deref() == Some("json") {
            let v: serde_json::Value = serde_json::from_str(&pb.message).map_err(|_| {
                ApiError::sns_invalid_parameter(
                    "Invalid parameter: Message Structure - JSON message body failed to parse",
                )
            })?;
            let pick = v
                .get("sqs")
                .or_else(|| v.get("default"))
                .and_then(|x| x.as_str())
                .ok_or_else(|| {
                    ApiError::sns_invalid_parameter(
                        "Invalid parameter: Message Structure - No default entry in JSON message body",
                    )
                })?;
            message = pick.to_string();
        }
        let message_id = uuid();
        let now = self.now();
        let seq_number = fifo.then(|| crate::queue::seq_number_string(now * 1000));
        let filtered = subs.iter().filter(|x| x.filter.is_some()).count();
        let fan_out = || {
            // The message as filter policies see it: built once for all subscriptions, and
            // only if one has a policy (the body is parsed once, if a MessageBody policy
            // reads it).
            let seen = (filtered > 0).then(|| {
                SnsMessage::new(
                    &message,
                    pb.attrs.iter().map(|(k, a)| {
                        (k.as_str(), a.data_type.as_str(), a.string_value.as_deref())
                    }),
                )
            });
            for sub in &subs {
                if sub.filter_unreadable {
                    continue;
                }
                if let (Some(f), Some(seen)) = (&sub.filter, &seen) {
                    if !f.matches(seen) {
                        continue;
                    }
                }
                let envelope = || {
                    self.envelope(
                        &topic.arn,
                        &sub.arn,
                        &message_id,
                        &pb,
                        &message,
                        now,
                        seq_number.as_deref(),
                    )
                };
                let Some(q) = self.queue_by_arn(&sub.endpoint) else {
                    let e = ApiError::queue_does_not_exist();
                    self.delivery_failed(sub, &pb, &message_id, dedup.as_deref(), envelope, &e);
                    continue;
                };
                let (body, attrs) = if sub.raw() {
                    (message.clone(), pb.attrs.clone())
                } else {
                    (envelope(), BTreeMap::new())
                };
                let nm = NewMessage {
                    body,
                    attrs,
                    delay: None,
                    group: if q.fifo { pb.group.clone() } else { None },
                    dedup_id: if q.fifo {
                        Some(dedup.clone().unwrap_or_else(|| message_id.clone()))
                    } else {
                        None
                    },
                    trace_header: None,
                };
                if let Err(e) = self.send(&q, nm) {
                    self.delivery_failed(sub, &pb, &message_id, dedup.as_deref(), envelope, &e);
                }
            }
        };
        // Filter evaluation is linear in the message and the policy, and both are bounded,
        // but a large message against many policies still takes a while: then the request's
        // worker hands its other tasks to another thread while it works.
        let heavy = filtered.saturating_mul(pb.message.len() + attr_bytes) >= 1 << 20;
        let multi_thread = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        if heavy && multi_thread {
            tokio::task::block_in_place(fan_out);
        } else {
            fan_out();
        }
        Ok((message_id, seq_number))
    }
}
