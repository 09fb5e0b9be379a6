//! Topics: CreateTopic, DeleteTopic, ListTopics, Get/SetTopicAttributes and topic tags.

use super::query::{entries_xml, form_map, req, response};
use super::state::Topic;
use crate::durable::Record;
use crate::engine::Engine;
use crate::error::ApiError;
use crate::util::xml_escape as esc;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

impl Engine {
    pub(super) fn create_topic(&self, p: &HashMap<String, String>) -> Result<String, ApiError> {
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

    pub(super) fn delete_topic(&self, p: &HashMap<String, String>) -> Result<String, ApiError> {
        let arn = req(p, "TopicArn")?;
        let mut s = self.sns_lock();
        if s.topics.contains_key(arn) {
            self.log(&[Record::DeleteTopic { name: arn.into() }])?;
            s.topics.remove(arn);
            s.subs.retain(|_, x| x.topic_arn != arn);
        }
        Ok(response("DeleteTopic", None))
    }

    pub(super) fn list_topics(&self, p: &HashMap<String, String>) -> Result<String, ApiError> {
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

    pub(super) fn get_topic_attributes(
        &self,
        p: &HashMap<String, String>,
    ) -> Result<String, ApiError> {
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

    pub(super) fn set_topic_attributes(
        &self,
        p: &HashMap<String, String>,
    ) -> Result<String, ApiError> {
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

    pub(super) fn topic_tags(
        &self,
        action: &str,
        p: &HashMap<String, String>,
    ) -> Result<String, ApiError> {
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
}
