//! Subscriptions: Subscribe, Unsubscribe, ListSubscriptions(ByTopic),
//! Get/SetSubscriptionAttributes, and what they check: filter policies (compiled once, by the
//! core's matcher) and redrive policies.

use super::query::{entries_xml, form_map, req, response};
use super::state::Subscription;
use crate::durable::Record;
use crate::engine::Engine;
use crate::error::ApiError;
use crate::util::{uuid, xml_escape as esc};
use sqs_mega::matcher::{compile_sns_filter_policy, FilterPolicyScope, SnsFilterPolicy};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::Arc;

pub(super) const SUB_ATTRS: &[&str] = &[
    "RawMessageDelivery",
    "FilterPolicy",
    "FilterPolicyScope",
    "RedrivePolicy",
    "DeliveryPolicy",
    "SubscriptionRoleArn",
];

pub(super) fn compile_filter(
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

/// The dead-letter queue ARN of a subscription's `RedrivePolicy`, validated.
pub(super) fn sub_dlq_arn(attrs: &BTreeMap<String, String>) -> Result<Option<String>, ApiError> {
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

impl Engine {
    pub(super) fn subscribe(&self, p: &HashMap<String, String>) -> Result<String, ApiError> {
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

    pub(super) fn unsubscribe(&self, p: &HashMap<String, String>) -> Result<String, ApiError> {
        let arn = req(p, "SubscriptionArn")?;
        let mut s = self.sns_lock();
        if !s.subs.contains_key(arn) {
            return Err(ApiError::sns_not_found("Subscription does not exist"));
        }
        self.log(&[Record::Unsubscribe { arn: arn.into() }])?;
        s.subs.remove(arn);
        Ok(response("Unsubscribe", None))
    }

    pub(super) fn list_subscriptions(
        &self,
        action: &str,
        p: &HashMap<String, String>,
    ) -> Result<String, ApiError> {
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

    pub(super) fn get_subscription_attributes(
        &self,
        p: &HashMap<String, String>,
    ) -> Result<String, ApiError> {
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

    pub(super) fn set_subscription_attributes(
        &self,
        p: &HashMap<String, String>,
    ) -> Result<String, ApiError> {
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
}
