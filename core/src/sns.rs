//! Amazon SNS envelopes.
//!
//! When an SNS topic delivers to an SQS queue without raw message delivery, the SQS body is a JSON envelope:
//!
//! ```json
//! {"Type": "Notification", "MessageId": "…", "TopicArn": "arn:aws:sns:…", "Subject": "…",
//!  "Message": "<the published body>", "Timestamp": "2020-05-04T15:53:27.823Z", "SignatureVersion": "1",
//!  "Signature": "…", "SigningCertURL": "…", "UnsubscribeURL": "…",
//!  "MessageAttributes": {"name": {"Type": "String", "Value": "…"}}}
//! ```
//!
//! A body is an envelope when it is a JSON object whose `Type` is `Notification`, `SubscriptionConfirmation`
//! or `UnsubscribeConfirmation` and which has string fields `MessageId`, `TopicArn`, `Message` and a
//! `Timestamp` date-time. Anything else is an ordinary data object.

use chrono::{DateTime, Utc};
use indexmap::IndexMap;

use crate::json::{format_datetime, parse_datetime};
use crate::value::{Map, Value};

/// The kind of SNS message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SnsMessageType {
    Notification,
    SubscriptionConfirmation,
    UnsubscribeConfirmation,
}

impl SnsMessageType {
    pub fn as_str(self) -> &'static str {
        match self {
            SnsMessageType::Notification => "Notification",
            SnsMessageType::SubscriptionConfirmation => "SubscriptionConfirmation",
            SnsMessageType::UnsubscribeConfirmation => "UnsubscribeConfirmation",
        }
    }

    fn parse(s: &str) -> Option<SnsMessageType> {
        match s {
            "Notification" => Some(SnsMessageType::Notification),
            "SubscriptionConfirmation" => Some(SnsMessageType::SubscriptionConfirmation),
            "UnsubscribeConfirmation" => Some(SnsMessageType::UnsubscribeConfirmation),
            _ => None,
        }
    }
}

/// An SNS message attribute as carried in the envelope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnsAttribute {
    /// `String`, `String.Array`, `Number` or `Binary` (possibly with a custom suffix, `Number.float`).
    pub data_type: String,
    /// The value; Base64 for `Binary`.
    pub value: String,
}

/// What an SNS envelope says about the notification, kept next to the decoded payload.
#[derive(Clone, Debug, PartialEq)]
pub struct SnsMetadata {
    pub message_type: SnsMessageType,
    pub message_id: String,
    pub topic_arn: String,
    pub subject: Option<String>,
    pub timestamp: DateTime<Utc>,
    pub message_attributes: IndexMap<String, SnsAttribute>,
    pub unsubscribe_url: Option<String>,
    /// For subscription confirmations: the URL to visit to confirm.
    pub subscribe_url: Option<String>,
    /// For subscription confirmations: the confirmation token.
    pub token: Option<String>,
    pub signature_version: Option<String>,
    pub signature: Option<String>,
    pub signing_cert_url: Option<String>,
}

/// An unwrapped envelope: its metadata and the inner `Message` text.
#[derive(Clone, Debug, PartialEq)]
pub struct Envelope {
    pub metadata: SnsMetadata,
    pub message: String,
}

/// Recognises an SNS envelope in a decoded JSON object. `None` when the map is not an envelope.
pub fn unwrap(map: &Map) -> Option<Envelope> {
    let text = |k: &str| map.get(k).and_then(Value::as_str);
    let message_type = SnsMessageType::parse(text("Type")?)?;
    let message_id = text("MessageId")?.to_owned();
    let topic_arn = text("TopicArn")?.to_owned();
    let message = text("Message")?.to_owned();
    let timestamp = parse_datetime(text("Timestamp")?).ok()?;
    let mut message_attributes = IndexMap::new();
    if let Some(Value::Map(attrs)) = map.get("MessageAttributes") {
        for (name, attr) in attrs {
            let (Some(data_type), Some(value)) = (
                attr.get("Type").and_then(Value::as_str),
                attr.get("Value").and_then(Value::as_str),
            ) else {
                continue;
            };
            message_attributes.insert(
                name.clone(),
                SnsAttribute {
                    data_type: data_type.to_owned(),
                    value: value.to_owned(),
                },
            );
        }
    }
    let opt = |k: &str| text(k).map(str::to_owned);
    Some(Envelope {
        metadata: SnsMetadata {
            message_type,
            message_id,
            topic_arn,
            subject: opt("Subject"),
            timestamp,
            message_attributes,
            unsubscribe_url: opt("UnsubscribeURL"),
            subscribe_url: opt("SubscribeURL"),
            token: opt("Token"),
            signature_version: opt("SignatureVersion"),
            signature: opt("Signature"),
            signing_cert_url: opt("SigningCertURL").or_else(|| opt("SigningCertUrl")),
        },
        message,
    })
}

impl SnsMetadata {
    /// A string-typed message attribute by name.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.message_attributes.get(name).map(|a| a.value.as_str())
    }

    /// The metadata as a map with snake_case keys (the `sns` member of `mega decode` output). Absent
    /// optional fields are left out.
    pub fn to_value(&self) -> Value {
        let mut m = Map::default();
        m.insert("type".into(), Value::from(self.message_type.as_str()));
        m.insert("message_id".into(), Value::from(self.message_id.as_str()));
        m.insert("topic_arn".into(), Value::from(self.topic_arn.as_str()));
        if let Some(s) = &self.subject {
            m.insert("subject".into(), Value::from(s.as_str()));
        }
        m.insert(
            "timestamp".into(),
            Value::from(format_datetime(&self.timestamp)),
        );
        let attrs: Map = self
            .message_attributes
            .iter()
            .map(|(k, a)| {
                (
                    k.clone(),
                    Value::from([
                        ("type", Value::from(a.data_type.as_str())),
                        ("value", Value::from(a.value.as_str())),
                    ]),
                )
            })
            .collect();
        m.insert("message_attributes".into(), Value::Map(attrs));
        for (key, field) in [
            ("unsubscribe_url", &self.unsubscribe_url),
            ("subscribe_url", &self.subscribe_url),
            ("token", &self.token),
            ("signature_version", &self.signature_version),
            ("signature", &self.signature),
            ("signing_cert_url", &self.signing_cert_url),
        ] {
            if let Some(s) = field {
                m.insert(key.into(), Value::from(s.as_str()));
            }
        }
        Value::Map(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;

    fn map(text: &str) -> Map {
        json::parse(text).unwrap().as_map().unwrap().clone()
    }

    #[test]
    fn unwraps_a_notification_with_attributes() {
        let env = unwrap(&map(
            r#"{"Type":"Notification","MessageId":"m-1","TopicArn":"arn:aws:sns:us-east-1:1:t",
            "Subject":"hi","Message":"{\"a\":1}","Timestamp":"2020-05-04T15:53:27.823Z",
            "UnsubscribeURL":"https://x/unsub","MessageAttributes":{"mega.encoding":{"Type":"String","Value":"json"}}}"#,
        ))
        .unwrap();
        assert_eq!(env.message, r#"{"a":1}"#);
        assert_eq!(env.metadata.message_type, SnsMessageType::Notification);
        assert_eq!(env.metadata.subject.as_deref(), Some("hi"));
        assert_eq!(env.metadata.attribute("mega.encoding"), Some("json"));
        assert_eq!(
            env.metadata.unsubscribe_url.as_deref(),
            Some("https://x/unsub")
        );
    }

    #[test]
    fn ordinary_objects_are_not_envelopes() {
        for text in [
            r#"{"Type":"Notification"}"#,
            r#"{"Type":"Other","MessageId":"m","TopicArn":"t","Message":"x","Timestamp":"2020-01-01T00:00:00Z"}"#,
            r#"{"Type":"Notification","MessageId":"m","TopicArn":"t","Message":{"a":1},"Timestamp":"2020-01-01T00:00:00Z"}"#,
            r#"{"Type":"Notification","MessageId":"m","TopicArn":"t","Message":"x","Timestamp":"later"}"#,
        ] {
            assert!(unwrap(&map(text)).is_none(), "{text}");
        }
    }
}
