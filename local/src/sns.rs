//! SNS over the Query protocol (form POST, XML responses), delivering to SQS queues.

use crate::durable::Record;
use crate::engine::Engine;
use crate::error::ApiError;
use crate::queue::NewMessage;
use crate::util::{iso8601_ms, sha256_hex, uuid, xml_escape as esc, AttrValue};
use base64::Engine as _;
use sqs_mega::matcher::{
    compile_sns_filter_policy, FilterPolicyScope, SnsFilterPolicy, SnsMessage,
};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::Arc;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
const NS: &str = "http://sns.amazonaws.com/doc/2010-03-31/";

#[derive(Debug, Clone)]
struct Topic {
    name: String,
    arn: String,
    attrs: BTreeMap<String, String>,
    tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
struct Subscription {
    arn: String,
    topic_arn: String,
    endpoint: String,
    attrs: BTreeMap<String, String>,
    /// The compiled filter policy (compiled at Subscribe / SetSubscriptionAttributes, shared by
    /// the copies each Publish takes).
    filter: Option<Arc<SnsFilterPolicy>>,
    /// A policy in the durable log that no longer compiles (written by an older version that
    /// accepted it): the subscription receives nothing, rather than everything, until its
    /// policy is set again.
    filter_unreadable: bool,
}

/// Topics and subscriptions.
#[derive(Debug, Default)]
pub struct SnsState {
    topics: BTreeMap<String, Topic>,
    subs: BTreeMap<String, Subscription>,
    stats: SnsDeliveryStats,
}

fn compile_filter(
    attrs: &BTreeMap<String, String>,
) -> Result<Option<Arc<SnsFilterPolicy>>, ApiError> {
    let Some(p) = attrs.get("FilterPolicy").filter(|p| !p.trim().is_empty()) else {
        return Ok(None);
    };
    let scope = match attrs.get("FilterPolicyScope").map_or("", String::as_str) {
        "" => FilterPolicyScope::MessageAttributes,
        s => s.parse().map_err(|_| {
            ApiError::sns_invalid_parameter(
                "Invalid parameter: Attributes Reason: FilterPolicyScope: Invalid value. Valid values are MessageAttributes and MessageBody",
            )
        })?,
    };
    compile_sns_filter_policy(p, scope)
        .map(|f| Some(Arc::new(f)))
        .map_err(|e| {
            ApiError::sns_invalid_parameter(format!(
                "Invalid parameter: FilterPolicy: {} (at {})",
                e.message, e.path
            ))
        })
}

impl SnsState {
    pub(crate) fn replay(&mut self, r: Record) {
        match r {
            Record::Topic { name, attrs, tags } => {
                let arn = attrs.get("TopicArn").cloned().unwrap_or_default();
                self.topics.insert(
                    arn.clone(),
                    Topic {
                        name,
                        arn,
                        attrs,
                        tags,
                    },
                );
            }
            Record::DeleteTopic { name } => {
                self.topics.remove(&name);
                self.subs.retain(|_, s| s.topic_arn != name);
            }
            Record::Subscription {
                arn,
                topic,
                endpoint,
                attrs,
            } => {
                let (filter, filter_unreadable) = match compile_filter(&attrs) {
                    Ok(f) => (f, false),
                    Err(e) => {
                        tracing::warn!(
                            subscription = %arn, error = %e,
                            "the logged filter policy no longer compiles: the subscription receives nothing until its FilterPolicy is set again"
                        );
                        (None, true)
                    }
                };
                self.subs.insert(
                    arn.clone(),
                    Subscription {
                        arn,
                        topic_arn: topic,
                        endpoint,
                        attrs,
                        filter,
                        filter_unreadable,
                    },
                );
            }
            Record::Unsubscribe { arn } => {
                self.subs.remove(&arn);
            }
            _ => {}
        }
    }

    pub(crate) fn snapshot(&self, out: &mut Vec<Record>) {
        for t in self.topics.values() {
            out.push(t.record());
        }
        for s in self.subs.values() {
            out.push(s.record());
        }
    }
}

impl Topic {
    fn record(&self) -> Record {
        let mut attrs = self.attrs.clone();
        attrs.insert("TopicArn".into(), self.arn.clone());
        Record::Topic {
            name: self.name.clone(),
            attrs,
            tags: self.tags.clone(),
        }
    }
    fn fifo(&self) -> bool {
        self.name.ends_with(".fifo")
    }
}

impl Subscription {
    fn record(&self) -> Record {
        Record::Subscription {
            arn: self.arn.clone(),
            topic: self.topic_arn.clone(),
            endpoint: self.endpoint.clone(),
            attrs: self.attrs.clone(),
        }
    }
    fn raw(&self) -> bool {
        self.attrs
            .get("RawMessageDelivery")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }
}

/// Parses `Prefix.entry.N.key/value` (or other member names) into a map.
fn form_map(
    p: &HashMap<String, String>,
    prefix: &str,
    k: &str,
    v: &str,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for i in 1.. {
        let Some(key) = p.get(&format!("{prefix}.entry.{i}.{k}")) else {
            break;
        };
        let val = p
            .get(&format!("{prefix}.entry.{i}.{v}"))
            .cloned()
            .unwrap_or_default();
        out.insert(key.clone(), val);
    }
    out
}

fn message_attributes(
    p: &HashMap<String, String>,
    prefix: &str,
) -> Result<BTreeMap<String, AttrValue>, ApiError> {
    let mut out = BTreeMap::new();
    for i in 1.. {
        let base = format!("{prefix}MessageAttributes.entry.{i}");
        let Some(name) = p.get(&format!("{base}.Name")) else {
            break;
        };
        let dt = p
            .get(&format!("{base}.Value.DataType"))
            .cloned()
            .ok_or_else(|| {
                ApiError::sns_invalid_parameter_value(format!(
                    "The message attribute '{name}' must contain non-empty message attribute type."
                ))
            })?;
        let binary = match p.get(&format!("{base}.Value.BinaryValue")) {
            Some(b) => Some(B64.decode(b).map_err(|_| {
                ApiError::sns_invalid_parameter_value(format!(
                    "The message attribute '{name}' has an invalid binary value."
                ))
            })?),
            None => None,
        };
        let sv = p.get(&format!("{base}.Value.StringValue")).cloned();
        let kind = dt.split('.').next().unwrap_or("");
        if !matches!(kind, "String" | "Number" | "Binary") {
            return Err(ApiError::sns_invalid_parameter_value(format!(
                "The message attribute '{name}' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String."
            )));
        }
        let empty = if kind == "Binary" {
            binary.as_ref().is_none_or(Vec::is_empty)
        } else {
            sv.as_deref().is_none_or(str::is_empty)
        };
        if empty {
            return Err(ApiError::sns_invalid_parameter_value(format!(
                "The message attribute '{name}' must contain non-empty message attribute value for message attribute type '{kind}'."
            )));
        }
        if kind == "Number" {
            let v = sv.as_deref().unwrap_or("");
            if let Err(e) = crate::util::check_number(v) {
                use crate::util::NumberError;
                return Err(ApiError::sns_invalid_parameter_value(match e {
                    NumberError::Syntax => {
                        format!("Could not cast message attribute '{name}' value to number.")
                    }
                    NumberError::Precision => format!(
                        "Message attribute '{name}' number value [{v}] must have less than 38 precision digits."
                    ),
                    NumberError::Range => format!(
                        "Message attribute '{name}' number value [{v}] scale must be 10^-128 and 10^126."
                    ),
                }));
            }
        }
        out.insert(
            name.clone(),
            AttrValue {
                data_type: dt,
                string_value: sv,
                binary_value: binary,
            },
        );
    }
    Ok(out)
}

/// The dead-letter queue ARN of a subscription's `RedrivePolicy`, validated.
fn sub_dlq_arn(attrs: &BTreeMap<String, String>) -> Result<Option<String>, ApiError> {
    let Some(v) = attrs.get("RedrivePolicy").filter(|v| !v.trim().is_empty()) else {
        return Ok(None);
    };
    let arn = serde_json::from_str::<serde_json::Value>(v)
        .ok()
        .and_then(|j| j.get("deadLetterTargetArn")?.as_str().map(str::to_string))
        .filter(|a| a.starts_with("arn:aws:sqs:"))
        .ok_or_else(|| {
            ApiError::sns_invalid_parameter(
                "Invalid parameter: RedrivePolicy: must be a JSON object with deadLetterTargetArn, the ARN of an SQS queue",
            )
        })?;
    Ok(Some(arn))
}

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

fn req<'a>(p: &'a HashMap<String, String>, k: &str) -> Result<&'a str, ApiError> {
    p.get(k).map(String::as_str).ok_or_else(|| {
        ApiError::sns_invalid_parameter(format!("Invalid parameter: {k}: Value must not be null"))
    })
}

fn response(action: &str, result: Option<&str>) -> String {
    let mut s = format!("<{action}Response xmlns=\"{NS}\">");
    if let Some(r) = result {
        let _ = write!(s, "<{action}Result>{r}</{action}Result>");
    }
    let _ = write!(
        s,
        "<ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata></{action}Response>",
        uuid()
    );
    s
}

/// The XML error body of the Query protocol.
pub fn error_xml(e: &ApiError) -> String {
    format!(
        "<ErrorResponse xmlns=\"{NS}\"><Error><Type>{}</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
        if e.sender_fault { "Sender" } else { "Receiver" },
        e.query_code,
        esc(&e.message),
        uuid()
    )
}

fn entries_xml(m: &BTreeMap<String, String>) -> String {
    let mut s = String::from("<Attributes>");
    for (k, v) in m {
        let _ = write!(
            s,
            "<entry><key>{}</key><value>{}</value></entry>",
            esc(k),
            esc(v)
        );
    }
    s.push_str("</Attributes>");
    s
}

/// One published message, before fan-out.
struct Publication {
    message: String,
    subject: Option<String>,
    structure: Option<String>,
    attrs: BTreeMap<String, AttrValue>,
    group: Option<String>,
    dedup: Option<String>,
}

const SUB_ATTRS: &[&str] = &[
    "RawMessageDelivery",
    "FilterPolicy",
    "FilterPolicyScope",
    "RedrivePolicy",
    "DeliveryPolicy",
    "SubscriptionRoleArn",
];

impl Engine {
    fn topic_arn(&self, name: &str) -> String {
        format!("arn:aws:sns:{}:{}:{}", self.region, self.account_id, name)
    }

    fn sns_lock(&self) -> std::sync::MutexGuard<'_, SnsState> {
        self.sns.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs one SNS Query action; returns the XML body.
    pub fn sns_call(&self, p: &HashMap<String, String>) -> Result<String, ApiError> {
        let action = p.get("Action").map(String::as_str).unwrap_or("");
        match action {
            "CreateTopic" => self.create_topic(p),
            "DeleteTopic" => {
                let arn = req(p, "TopicArn")?;
                let mut s = self.sns_lock();
                if s.topics.contains_key(arn) {
                    self.log(&[Record::DeleteTopic { name: arn.into() }])?;
                    s.topics.remove(arn);
                    s.subs.retain(|_, x| x.topic_arn != arn);
                }
                Ok(response("DeleteTopic", None))
            }
            "ListTopics" => {
                let s = self.sns_lock();
                let after = p.get("NextToken").cloned().unwrap_or_default();
                let arns: Vec<&String> = s.topics.keys().filter(|a| **a > after).collect();
                let mut x = String::from("<Topics>");
                for a in arns.iter().take(100) {
                    let _ = write!(x, "<member><TopicArn>{}</TopicArn></member>", esc(a));
                }
                x.push_str("</Topics>");
                if arns.len() > 100 {
                    let _ = write!(x, "<NextToken>{}</NextToken>", esc(arns[99]));
                }
                Ok(response("ListTopics", Some(&x)))
            }
            "GetTopicAttributes" => {
                let arn = req(p, "TopicArn")?;
                let s = self.sns_lock();
                let t = s
                    .topics
                    .get(arn)
                    .ok_or_else(|| ApiError::sns_not_found("Topic does not exist"))?;
                let subs = s.subs.values().filter(|x| x.topic_arn == arn).count();
                let mut m = t.attrs.clone();
                m.insert("TopicArn".into(), t.arn.clone());
                m.insert("Owner".into(), self.account_id.clone());
                m.insert("SubscriptionsConfirmed".into(), subs.to_string());
                m.insert("SubscriptionsPending".into(), "0".into());
                m.insert("SubscriptionsDeleted".into(), "0".into());
                m.entry("DisplayName".into()).or_default();
                if t.fifo() {
                    m.insert("FifoTopic".into(), "true".into());
                    m.entry("ContentBasedDeduplication".into())
                        .or_insert_with(|| "false".into());
                }
                Ok(response("GetTopicAttributes", Some(&entries_xml(&m))))
            }
            "SetTopicAttributes" => {
                let arn = req(p, "TopicArn")?;
                let name = req(p, "AttributeName")?;
                let value = p.get("AttributeValue").cloned().unwrap_or_default();
                let mut s = self.sns_lock();
                let t = s
                    .topics
                    .get_mut(arn)
                    .ok_or_else(|| ApiError::sns_not_found("Topic does not exist"))?;
                let mut t2 = t.clone();
                t2.attrs.insert(name.to_string(), value);
                self.log(&[t2.record()])?;
                *t = t2;
                Ok(response("SetTopicAttributes", None))
            }
            "Subscribe" => self.subscribe(p),
            "Unsubscribe" => {
                let arn = req(p, "SubscriptionArn")?;
                let mut s = self.sns_lock();
                if !s.subs.contains_key(arn) {
                    return Err(ApiError::sns_not_found("Subscription does not exist"));
                }
                self.log(&[Record::Unsubscribe { arn: arn.into() }])?;
                s.subs.remove(arn);
                Ok(response("Unsubscribe", None))
            }
            "ListSubscriptions" | "ListSubscriptionsByTopic" => {
                let s = self.sns_lock();
                let topic = if action == "ListSubscriptionsByTopic" {
                    let t = req(p, "TopicArn")?;
                    if !s.topics.contains_key(t) {
                        return Err(ApiError::sns_not_found("Topic does not exist"));
                    }
                    Some(t)
                } else {
                    None
                };
                let after = p.get("NextToken").cloned().unwrap_or_default();
                let subs: Vec<&Subscription> = s
                    .subs
                    .values()
                    .filter(|x| topic.is_none_or(|t| x.topic_arn == t) && x.arn > after)
                    .collect();
                let mut x = String::from("<Subscriptions>");
                for sub in subs.iter().take(100) {
                    let _ = write!(
                        x,
                        "<member><TopicArn>{}</TopicArn><Protocol>sqs</Protocol><SubscriptionArn>{}</SubscriptionArn><Owner>{}</Owner><Endpoint>{}</Endpoint></member>",
                        esc(&sub.topic_arn),
                        esc(&sub.arn),
                        self.account_id,
                        esc(&sub.endpoint)
                    );
                }
                x.push_str("</Subscriptions>");
                if subs.len() > 100 {
                    let _ = write!(x, "<NextToken>{}</NextToken>", esc(&subs[99].arn));
                }
                Ok(response(action, Some(&x)))
            }
            "GetSubscriptionAttributes" => {
                let arn = req(p, "SubscriptionArn")?;
                let s = self.sns_lock();
                let sub = s
                    .subs
                    .get(arn)
                    .ok_or_else(|| ApiError::sns_not_found("Subscription does not exist"))?;
                let mut m = sub.attrs.clone();
                m.insert("SubscriptionArn".into(), sub.arn.clone());
                m.insert("TopicArn".into(), sub.topic_arn.clone());
                m.insert("Endpoint".into(), sub.endpoint.clone());
                m.insert("Protocol".into(), "sqs".into());
                m.insert("Owner".into(), self.account_id.clone());
                m.insert("PendingConfirmation".into(), "false".into());
                m.insert("ConfirmationWasAuthenticated".into(), "true".into());
                m.entry("RawMessageDelivery".into())
                    .or_insert_with(|| "false".into());
                if m.contains_key("FilterPolicy") {
                    m.entry("FilterPolicyScope".into())
                        .or_insert_with(|| "MessageAttributes".into());
                }
                Ok(response(
                    "GetSubscriptionAttributes",
                    Some(&entries_xml(&m)),
                ))
            }
            "SetSubscriptionAttributes" => {
                let arn = req(p, "SubscriptionArn")?;
                let name = req(p, "AttributeName")?;
                if !SUB_ATTRS.contains(&name) {
                    return Err(ApiError::sns_invalid_parameter(
                        "Invalid parameter: AttributeName",
                    ));
                }
                let value = p.get("AttributeValue").cloned().unwrap_or_default();
                let mut s = self.sns_lock();
                let sub = s
                    .subs
                    .get_mut(arn)
                    .ok_or_else(|| ApiError::sns_not_found("Subscription does not exist"))?;
                let mut attrs = sub.attrs.clone();
                if (name == "FilterPolicy" || name == "RedrivePolicy") && value.trim().is_empty() {
                    attrs.remove(name);
                } else {
                    attrs.insert(name.to_string(), value);
                }
                let filter = compile_filter(&attrs)?;
                sub_dlq_arn(&attrs)?;
                let mut updated = sub.clone();
                updated.attrs = attrs;
                updated.filter = filter;
                updated.filter_unreadable = false;
                self.log(&[updated.record()])?;
                *sub = updated;
                Ok(response("SetSubscriptionAttributes", None))
            }
            "Publish" => {
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
            "PublishBatch" => self.publish_batch(p),
            "TagResource" | "UntagResource" | "ListTagsForResource" => self.topic_tags(action, p),
            other => Err(ApiError::invalid_action(other)),
        }
    }

    fn create_topic(&self, p: &HashMap<String, String>) -> Result<String, ApiError> {
        let name = req(p, "Name")?;
        let attrs = form_map(p, "Attributes", "key", "value");
        let fifo_attr = attrs
            .get("FifoTopic")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let base = name.strip_suffix(".fifo").unwrap_or(name);
        let valid = !base.is_empty()
            && name.len() <= 256
            && base
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && (fifo_attr == name.ends_with(".fifo"));
        if !valid {
            return Err(ApiError::sns_invalid_parameter(
                "Invalid parameter: Topic Name",
            ));
        }
        let arn = self.topic_arn(name);
        let mut s = self.sns_lock();
        if !s.topics.contains_key(&arn) {
            let mut tags = BTreeMap::new();
            for i in 1.. {
                let Some(k) = p.get(&format!("Tags.member.{i}.Key")) else {
                    break;
                };
                let v = p
                    .get(&format!("Tags.member.{i}.Value"))
                    .cloned()
                    .unwrap_or_default();
                tags.insert(k.clone(), v);
            }
            let t = Topic {
                name: name.to_string(),
                arn: arn.clone(),
                attrs,
                tags,
            };
            self.log(&[t.record()])?;
            s.topics.insert(arn.clone(), t);
        }
        Ok(response(
            "CreateTopic",
            Some(&format!("<TopicArn>{}</TopicArn>", esc(&arn))),
        ))
    }

    fn topic_tags(&self, action: &str, p: &HashMap<String, String>) -> Result<String, ApiError> {
        let arn = req(p, "ResourceArn")?;
        let mut s = self.sns_lock();
        let t = s
            .topics
            .get_mut(arn)
            .ok_or_else(|| ApiError::sns_not_found("Resource does not exist"))?;
        let mut t2 = t.clone();
        match action {
            "TagResource" => {
                for i in 1.. {
                    let Some(k) = p.get(&format!("Tags.member.{i}.Key")) else {
                        break;
                    };
                    let v = p
                        .get(&format!("Tags.member.{i}.Value"))
                        .cloned()
                        .unwrap_or_default();
                    t2.tags.insert(k.clone(), v);
                }
            }
            "UntagResource" => {
                for i in 1.. {
                    let Some(k) = p.get(&format!("TagKeys.member.{i}")) else {
                        break;
                    };
                    t2.tags.remove(k);
                }
            }
            _ => {
                let mut x = String::from("<Tags>");
                for (k, v) in &t.tags {
                    let _ = write!(
                        x,
                        "<member><Key>{}</Key><Value>{}</Value></member>",
                        esc(k),
                        esc(v)
                    );
                }
                x.push_str("</Tags>");
                return Ok(response(action, Some(&x)));
            }
        }
        self.log(&[t2.record()])?;
        *t = t2;
        Ok(response(action, Some("")))
    }

    fn subscribe(&self, p: &HashMap<String, String>) -> Result<String, ApiError> {
        let topic = req(p, "TopicArn")?;
        let protocol = req(p, "Protocol")?;
        let endpoint = req(p, "Endpoint")?;
        if protocol != "sqs" {
            return Err(ApiError::sns_invalid_parameter(format!(
                "Invalid parameter: Protocol: sqs-mega-local delivers only to sqs, not {protocol}"
            )));
        }
        if !endpoint.starts_with("arn:aws:sqs:") {
            return Err(ApiError::sns_invalid_parameter(
                "Invalid parameter: SQS endpoint ARN",
            ));
        }
        let attrs = form_map(p, "Attributes", "key", "value");
        for k in attrs.keys() {
            if !SUB_ATTRS.contains(&k.as_str()) {
                return Err(ApiError::sns_invalid_parameter(format!(
                    "Invalid parameter: Attributes Reason: Unknown attribute {k}"
                )));
            }
        }
        let filter = compile_filter(&attrs)?;
        sub_dlq_arn(&attrs)?;
        let mut s = self.sns_lock();
        if !s.topics.contains_key(topic) {
            return Err(ApiError::sns_not_found("Topic does not exist"));
        }
        // Subscribing the same endpoint twice returns the existing subscription.
        if let Some(existing) = s
            .subs
            .values()
            .find(|x| x.topic_arn == topic && x.endpoint == endpoint)
        {
            return Ok(response(
                "Subscribe",
                Some(&format!(
                    "<SubscriptionArn>{}</SubscriptionArn>",
                    esc(&existing.arn)
                )),
            ));
        }
        let arn = format!("{topic}:{}", uuid());
        let sub = Subscription {
            arn: arn.clone(),
            topic_arn: topic.to_string(),
            endpoint: endpoint.to_string(),
            attrs,
            filter,
            filter_unreadable: false,
        };
        self.log(&[sub.record()])?;
        s.subs.insert(arn.clone(), sub);
        Ok(response(
            "Subscribe",
            Some(&format!("<SubscriptionArn>{}</SubscriptionArn>", esc(&arn))),
        ))
    }

    fn publish_batch(&self, p: &HashMap<String, String>) -> Result<String, ApiError> {
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
    fn publish(
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
            // The message as filter policies see it: built once for all subscriptions (the
            // body is parsed once, if a MessageBody policy reads it).
            let seen = SnsMessage::new(
                &message,
                pb.attrs
                    .iter()
                    .map(|(k, a)| (k.as_str(), a.data_type.as_str(), a.string_value.as_deref())),
            );
            for sub in &subs {
                if sub.filter_unreadable {
                    continue;
                }
                if let Some(f) = &sub.filter {
                    if !f.matches(&seen) {
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

    /// A delivery that SQS refused (or whose queue is gone): to the subscription's
    /// dead-letter queue as the notification envelope (which SQS accepts whatever the
    /// message, raw delivery or not), else dropped as SNS does, but logged and counted.
    fn delivery_failed(
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

    /// Counts of failed SNS deliveries since the start (see [`SnsDeliveryStats`]).
    pub fn sns_delivery_stats(&self) -> SnsDeliveryStats {
        self.sns_lock().stats
    }

    #[allow(clippy::too_many_arguments)]
    fn envelope(
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

#[cfg(test)]
mod tests {
    use super::*;

    fn replayed(policy: &str) -> Subscription {
        let mut s = SnsState::default();
        let attrs = BTreeMap::from([
            ("FilterPolicy".to_string(), policy.to_string()),
            ("FilterPolicyScope".to_string(), "MessageBody".to_string()),
        ]);
        s.replay(Record::Subscription {
            arn: "arn:aws:sns:us-east-1:000000000000:t:1".into(),
            topic: "arn:aws:sns:us-east-1:000000000000:t".into(),
            endpoint: "arn:aws:sqs:us-east-1:000000000000:q".into(),
            attrs,
        });
        s.subs.into_values().next().unwrap()
    }

    /// A policy an older version accepted (anything-but suffix) and this one refuses: after a
    /// restart the subscription receives nothing, not everything.
    #[test]
    fn a_logged_policy_that_no_longer_compiles_fails_closed() {
        let sub = replayed(r#"{"a":[{"anything-but":{"suffix":"x"}}]}"#);
        assert!(sub.filter.is_none() && sub.filter_unreadable);
        let sub = replayed(r#"{"a":[{"anything-but":{"prefix":"x"}}]}"#);
        assert!(sub.filter.is_some() && !sub.filter_unreadable);
    }
}
