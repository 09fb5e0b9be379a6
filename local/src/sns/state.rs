//! Topics and subscriptions as the engine keeps them, and their records in the write-ahead
//! log.

use super::delivery::SnsDeliveryStats;
use super::subscriptions::compile_filter;
use crate::durable::Record;
use crate::engine::Engine;
use sqs_mega::matcher::SnsFilterPolicy;
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub(super) struct Topic {
    pub(super) name: String,
    pub(super) arn: String,
    pub(super) attrs: BTreeMap<String, String>,
    pub(super) tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub(super) struct Subscription {
    pub(super) arn: String,
    pub(super) topic_arn: String,
    pub(super) endpoint: String,
    pub(super) attrs: BTreeMap<String, String>,
    /// The compiled filter policy (compiled at Subscribe / SetSubscriptionAttributes, shared by
    /// the copies each Publish takes).
    pub(super) filter: Option<Arc<SnsFilterPolicy>>,
    /// A policy in the durable log that no longer compiles (written by an older version that
    /// accepted it): the subscription receives nothing, rather than everything, until its
    /// policy is set again.
    pub(super) filter_unreadable: bool,
}

/// Topics and subscriptions.
#[derive(Debug, Default)]
pub struct SnsState {
    pub(super) topics: BTreeMap<String, Topic>,
    pub(super) subs: BTreeMap<String, Subscription>,
    pub(super) stats: SnsDeliveryStats,
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
    pub(super) fn record(&self) -> Record {
        let mut attrs = self.attrs.clone();
        attrs.insert("TopicArn".into(), self.arn.clone());
        Record::Topic {
            name: self.name.clone(),
            attrs,
            tags: self.tags.clone(),
        }
    }
    pub(super) fn fifo(&self) -> bool {
        self.name.ends_with(".fifo")
    }
}

impl Subscription {
    pub(super) fn record(&self) -> Record {
        Record::Subscription {
            arn: self.arn.clone(),
            topic: self.topic_arn.clone(),
            endpoint: self.endpoint.clone(),
            attrs: self.attrs.clone(),
        }
    }
    pub(super) fn raw(&self) -> bool {
        self.attrs
            .get("RawMessageDelivery")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }
}

impl Engine {
    pub(super) fn topic_arn(&self, name: &str) -> String {
        format!("arn:aws:sns:{}:{}:{}", self.region, self.account_id, name)
    }

    pub(super) fn sns_lock(&self) -> std::sync::MutexGuard<'_, SnsState> {
        self.sns.lock().unwrap_or_else(|e| e.into_inner())
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
