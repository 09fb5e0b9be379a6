//! SNS over the Query protocol (form POST, XML responses), delivering to SQS queues.
//!
//! This file dispatches the actions; each is a method of [`Engine`], grouped by API area:
//! topics ([`topics`]), subscriptions and their filter policies ([`subscriptions`]), Publish
//! and PublishBatch ([`publish`]), delivery to queues, envelopes and failed deliveries
//! ([`delivery`]). The state they share is in [`state`], the Query protocol helpers in
//! [`query`].

mod delivery;
mod publish;
mod query;
mod state;
mod subscriptions;
mod topics;

pub use delivery::SnsDeliveryStats;
pub(crate) use query::error_xml;
pub(crate) use state::SnsState;

use crate::engine::Engine;
use crate::error::ApiError;
use std::collections::HashMap;

impl Engine {
    /// Runs one SNS Query action; returns the XML body.
    pub fn sns_call(&self, p: &HashMap<String, String>) -> Result<String, ApiError> {
        let action = p.get("Action").map(String::as_str).unwrap_or("");
        match action {
            "CreateTopic" => self.create_topic(p),
            "DeleteTopic" => self.delete_topic(p),
            "ListTopics" => self.list_topics(p),
            "GetTopicAttributes" => self.get_topic_attributes(p),
            "SetTopicAttributes" => self.set_topic_attributes(p),
            "Subscribe" => self.subscribe(p),
            "Unsubscribe" => self.unsubscribe(p),
            "ListSubscriptions" | "ListSubscriptionsByTopic" => self.list_subscriptions(action, p),
            "GetSubscriptionAttributes" => self.get_subscription_attributes(p),
            "SetSubscriptionAttributes" => self.set_subscription_attributes(p),
            "Publish" => self.publish_action(p),
            "PublishBatch" => self.publish_batch(p),
            "TagResource" | "UntagResource" | "ListTagsForResource" => self.topic_tags(action, p),
            other => Err(ApiError::invalid_action(other)),
        }
    }
}
