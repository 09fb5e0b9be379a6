//! The legacy SQS Query protocol (form POST with `Action=...`, XML responses), for older
//! clients (AWS SDK for Java v1, older boto3). Requests are translated to the JSON shapes
//! and served by the same engine; responses are translated back to XML.

use crate::error::ApiError;
use crate::util::{uuid, xml_escape as esc};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

const NS: &str = "http://queue.amazonaws.com/doc/2012-11-05/";

pub const SQS_ACTIONS: &[&str] = &[
    "CreateQueue",
    "GetQueueUrl",
    "ListQueues",
    "DeleteQueue",
    "GetQueueAttributes",
    "SetQueueAttributes",
    "PurgeQueue",
    "SendMessage",
    "SendMessageBatch",
    "ReceiveMessage",
    "DeleteMessage",
    "DeleteMessageBatch",
    "ChangeMessageVisibility",
    "ChangeMessageVisibilityBatch",
    "ListDeadLetterSourceQueues",
    "StartMessageMoveTask",
    "ListMessageMoveTasks",
    "CancelMessageMoveTask",
    "TagQueue",
    "UntagQueue",
    "ListQueueTags",
    "AddPermission",
    "RemovePermission",
];

/// Groups `Prefix.N.rest` keys by N (sorted), keeping `rest -> value`.
fn numbered(p: &HashMap<String, String>, prefix: &str) -> BTreeMap<u32, HashMap<String, String>> {
    let mut out: BTreeMap<u32, HashMap<String, String>> = BTreeMap::new();
    let pre = format!("{prefix}.");
    for (k, v) in p {
        let Some(rest) = k.strip_prefix(&pre) else {
            continue;
        };
        let (n, tail) = rest.split_once('.').unwrap_or((rest, ""));
        if let Ok(n) = n.parse::<u32>() {
            out.entry(n)
                .or_default()
                .insert(tail.to_string(), v.clone());
        }
    }
    out
}

fn list(p: &HashMap<String, String>, prefix: &str) -> Option<Value> {
    let items: Vec<Value> = numbered(p, prefix)
        .into_values()
        .filter_map(|m| m.get("").cloned().map(Value::String))
        .collect();
    (!items.is_empty()).then_some(Value::Array(items))
}

fn pairs(p: &HashMap<String, String>, prefix: &str, k: &str, v: &str) -> Option<Value> {
    let m: Map<String, Value> = numbered(p, prefix)
        .into_values()
        .filter_map(|e| {
            let key = e.get(k)?.clone();
            Some((key, Value::String(e.get(v).cloned().unwrap_or_default())))
        })
        .collect();
    (!m.is_empty()).then_some(Value::Object(m))
}

fn message_attributes(p: &HashMap<String, String>, prefix: &str) -> Option<Value> {
    let m: Map<String, Value> = numbered(p, prefix)
        .into_values()
        .filter_map(|e| {
            let name = e.get("Name")?.clone();
            let mut a = Map::new();
            for (src, dst) in [
                ("Value.DataType", "DataType"),
                ("Value.StringValue", "StringValue"),
                ("Value.BinaryValue", "BinaryValue"),
            ] {
                if let Some(v) = e.get(src) {
                    a.insert(dst.into(), Value::String(v.clone()));
                }
            }
            Some((name, Value::Object(a)))
        })
        .collect();
    (!m.is_empty()).then_some(Value::Object(m))
}

/// Translates Query parameters to the JSON input of the same operation.
pub fn to_json(p: &HashMap<String, String>) -> Value {
    let mut o = Map::new();
    for (k, v) in p {
        if !k.contains('.') && k != "Action" && k != "Version" {
            o.insert(k.clone(), Value::String(v.clone()));
        }
    }
    if let Some(a) = pairs(p, "Attribute", "Name", "Value") {
        o.insert("Attributes".into(), a);
    }
    if let Some(t) = pairs(p, "Tag", "Key", "Value") {
        o.insert("tags".into(), t.clone());
        o.insert("Tags".into(), t);
    }
    for (src, dst) in [
        ("TagKey", "TagKeys"),
        ("AttributeName", "AttributeNames"),
        ("MessageAttributeName", "MessageAttributeNames"),
        ("MessageSystemAttributeName", "MessageSystemAttributeNames"),
    ] {
        if let Some(l) = list(p, src) {
            o.insert(dst.into(), l);
        }
    }
    if let Some(m) = message_attributes(p, "MessageAttribute") {
        o.insert("MessageAttributes".into(), m);
    }
    if let Some(m) = message_attributes(p, "MessageSystemAttribute") {
        o.insert("MessageSystemAttributes".into(), m);
    }
    for prefix in [
        "SendMessageBatchRequestEntry",
        "DeleteMessageBatchRequestEntry",
        "ChangeMessageVisibilityBatchRequestEntry",
    ] {
        let entries: Vec<Value> = numbered(p, prefix)
            .into_values()
            .map(|e| to_json(&e))
            .collect();
        if !entries.is_empty() {
            o.insert("Entries".into(), Value::Array(entries));
        }
    }
    Value::Object(o)
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn xml_attributes(out: &mut String, tag: &str, m: &Map<String, Value>, k: &str, v: &str) {
    for (name, val) in m {
        let _ = write!(
            out,
            "<{tag}><{k}>{}</{k}><{v}>{}</{v}></{tag}>",
            esc(name),
            esc(&scalar(val))
        );
    }
}

fn xml_message(out: &mut String, m: &Map<String, Value>) {
    out.push_str("<Message>");
    for (k, v) in m {
        match (k.as_str(), v) {
            ("Attributes", Value::Object(a)) => {
                xml_attributes(out, "Attribute", a, "Name", "Value")
            }
            ("MessageAttributes", Value::Object(a)) => {
                for (name, val) in a {
                    let _ = write!(out, "<MessageAttribute><Name>{}</Name><Value>", esc(name));
                    if let Value::Object(fields) = val {
                        for (fk, fv) in fields {
                            let _ = write!(out, "<{fk}>{}</{fk}>", esc(&scalar(fv)));
                        }
                    }
                    out.push_str("</Value></MessageAttribute>");
                }
            }
            (_, v) => {
                let _ = write!(out, "<{k}>{}</{k}>", esc(&scalar(v)));
            }
        }
    }
    out.push_str("</Message>");
}

/// Translates a JSON result to the Query protocol's XML response.
pub fn to_xml(action: &str, v: &Value) -> String {
    let mut r = String::new();
    if let Value::Object(o) = v {
        for (k, val) in o {
            match (k.as_str(), val) {
                ("QueueUrls" | "queueUrls", Value::Array(a)) => {
                    for u in a {
                        let _ = write!(r, "<QueueUrl>{}</QueueUrl>", esc(&scalar(u)));
                    }
                }
                ("Attributes", Value::Object(m)) => {
                    xml_attributes(&mut r, "Attribute", m, "Name", "Value")
                }
                ("Tags", Value::Object(m)) => xml_attributes(&mut r, "Tag", m, "Key", "Value"),
                ("Messages", Value::Array(a)) => {
                    for m in a {
                        if let Value::Object(m) = m {
                            xml_message(&mut r, m);
                        }
                    }
                }
                ("Successful" | "Failed" | "Results", Value::Array(a)) => {
                    let tag = match k.as_str() {
                        "Failed" => "BatchResultErrorEntry".to_string(),
                        "Results" => "Result".to_string(),
                        _ => format!("{action}ResultEntry"),
                    };
                    for e in a {
                        let _ = write!(r, "<{tag}>");
                        if let Value::Object(fields) = e {
                            for (fk, fv) in fields {
                                let _ = write!(r, "<{fk}>{}</{fk}>", esc(&scalar(fv)));
                            }
                        }
                        let _ = write!(r, "</{tag}>");
                    }
                }
                (_, val) => {
                    let _ = write!(r, "<{k}>{}</{k}>", esc(&scalar(val)));
                }
            }
        }
    }
    format!(
        "<{action}Response xmlns=\"{NS}\"><{action}Result>{r}</{action}Result><ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata></{action}Response>",
        uuid()
    )
}

/// The Query protocol's XML error body.
pub fn error_xml(e: &ApiError) -> String {
    format!(
        "<ErrorResponse xmlns=\"{NS}\"><Error><Type>{}</Type><Code>{}</Code><Message>{}</Message><Detail/></Error><RequestId>{}</RequestId></ErrorResponse>",
        if e.sender_fault { "Sender" } else { "Receiver" },
        e.query_code,
        esc(&e.message),
        uuid()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translates_query_parameters_to_json() {
        let p: HashMap<String, String> = [
            ("Action", "SendMessageBatch"),
            ("QueueUrl", "http://x/1/q"),
            ("SendMessageBatchRequestEntry.1.Id", "a"),
            ("SendMessageBatchRequestEntry.1.MessageBody", "one"),
            (
                "SendMessageBatchRequestEntry.1.MessageAttribute.1.Name",
                "k",
            ),
            (
                "SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.DataType",
                "String",
            ),
            (
                "SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.StringValue",
                "v",
            ),
            ("SendMessageBatchRequestEntry.2.Id", "b"),
            ("SendMessageBatchRequestEntry.2.MessageBody", "two"),
            ("Attribute.1.Name", "VisibilityTimeout"),
            ("Attribute.1.Value", "5"),
            ("AttributeName.1", "All"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let j = to_json(&p);
        assert_eq!(j["QueueUrl"], "http://x/1/q");
        assert_eq!(j["Entries"][0]["Id"], "a");
        assert_eq!(
            j["Entries"][0]["MessageAttributes"]["k"]["StringValue"],
            "v"
        );
        assert_eq!(j["Entries"][1]["MessageBody"], "two");
        assert_eq!(j["Attributes"]["VisibilityTimeout"], "5");
        assert_eq!(j["AttributeNames"][0], "All");
        assert!(j.get("Action").is_none());
    }

    #[test]
    fn renders_results_as_xml() {
        let v = serde_json::json!({"Messages": [{"MessageId": "m", "Body": "a<b",
            "Attributes": {"ApproximateReceiveCount": "1"},
            "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"}}}]});
        let x = to_xml("ReceiveMessage", &v);
        assert!(x.starts_with("<ReceiveMessageResponse"));
        assert!(!x.contains("<Attributes>"));
        assert!(x.contains("<Body>a&lt;b</Body>"));
        assert!(x.contains(
            "<Attribute><Name>ApproximateReceiveCount</Name><Value>1</Value></Attribute>"
        ));
        assert!(x.contains("<MessageAttribute><Name>k</Name><Value><DataType>String</DataType><StringValue>v</StringValue></Value></MessageAttribute>"));
        let b = to_xml(
            "SendMessageBatch",
            &serde_json::json!({"Successful": [{"Id": "a"}], "Failed": []}),
        );
        assert!(b.contains("<SendMessageBatchResultEntry><Id>a</Id></SendMessageBatchResultEntry>"));
    }
}
