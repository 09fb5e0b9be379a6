//! Helpers for the SQS JSON 1.0 wire format: reading request fields, message attributes and
//! batch entries, and writing attributes and failed batch entries.

use crate::error::ApiError;
use crate::util::AttrValue;
use base64::Engine as _;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashSet};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

pub(crate) fn get_str<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

pub(crate) fn req_str<'a>(v: &'a Value, k: &str) -> Result<&'a str, ApiError> {
    get_str(v, k).ok_or_else(|| ApiError::missing_parameter(k))
}

pub(crate) fn get_int(v: &Value, k: &str) -> Result<Option<i64>, ApiError> {
    match v.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| {
            ApiError::invalid_parameter(format!("Value {n} for parameter {k} is invalid."))
        }),
        Some(Value::String(s)) => s.parse().map(Some).map_err(|_| {
            ApiError::invalid_parameter(format!("Value {s} for parameter {k} is invalid."))
        }),
        Some(o) => Err(ApiError::invalid_parameter(format!(
            "Value {o} for parameter {k} is invalid."
        ))),
    }
}

pub(crate) fn str_map(v: &Value, k: &str) -> BTreeMap<String, String> {
    v.get(k)
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| v.to_string()),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn str_list(v: &Value, k: &str) -> Vec<String> {
    v.get(k)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Parses `MessageAttributes` of the JSON protocol.
/// The `AWSTraceHeader` of `MessageSystemAttributes` (the only system attribute a sender may set), checked
/// as SQS checks it: a String of at most 256 characters (X-Ray's header).
pub(crate) fn parse_trace_header(v: &Value) -> Result<Option<String>, ApiError> {
    let Some(m) = v.get("MessageSystemAttributes").and_then(Value::as_object) else {
        return Ok(None);
    };
    let mut header = None;
    for (name, a) in m {
        if name != "AWSTraceHeader" {
            return Err(ApiError::invalid_parameter(format!(
                "Message system attribute name '{name}' is invalid: only AWSTraceHeader may be set."
            )));
        }
        let value = match (get_str(a, "DataType"), get_str(a, "StringValue")) {
            (Some("String"), Some(v)) if !v.is_empty() && v.len() <= 256 => v,
            _ => {
                return Err(ApiError::invalid_parameter(
                    "The message system attribute 'AWSTraceHeader' must be a String of 1 to 256 characters."
                        .to_string(),
                ))
            }
        };
        header = Some(value.to_string());
    }
    Ok(header)
}

pub(crate) fn parse_message_attributes(v: &Value) -> Result<BTreeMap<String, AttrValue>, ApiError> {
    let mut out = BTreeMap::new();
    let Some(m) = v.get("MessageAttributes").and_then(Value::as_object) else {
        return Ok(out);
    };
    for (name, a) in m {
        let data_type = get_str(a, "DataType")
            .ok_or_else(|| {
                ApiError::invalid_parameter(format!(
                    "The message attribute '{name}' must contain non-empty message attribute type."
                ))
            })?
            .to_string();
        let binary_value = match get_str(a, "BinaryValue") {
            Some(b) => Some(B64.decode(b).map_err(|_| {
                ApiError::invalid_parameter(format!(
                    "The message attribute '{name}' has an invalid binary value."
                ))
            })?),
            None => None,
        };
        out.insert(
            name.clone(),
            AttrValue {
                data_type,
                string_value: get_str(a, "StringValue").map(str::to_string),
                binary_value,
            },
        );
    }
    Ok(out)
}

pub(crate) fn attrs_to_json(attrs: &BTreeMap<String, AttrValue>) -> Value {
    let mut m = Map::new();
    for (k, v) in attrs {
        let mut o = Map::new();
        o.insert("DataType".into(), Value::String(v.data_type.clone()));
        if let Some(s) = &v.string_value {
            o.insert("StringValue".into(), Value::String(s.clone()));
        }
        if let Some(b) = &v.binary_value {
            o.insert("BinaryValue".into(), Value::String(B64.encode(b)));
        }
        m.insert(k.clone(), Value::Object(o));
    }
    Value::Object(m)
}

pub(crate) fn valid_batch_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 80
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Checks a batch's entry count and ids; returns the entries.
pub(crate) fn batch_entries(input: &Value, key: &str) -> Result<Vec<Value>, ApiError> {
    let entries = input
        .get(key)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if entries.is_empty() {
        return Err(ApiError::empty_batch());
    }
    if entries.len() > 10 {
        return Err(ApiError::too_many_entries());
    }
    let mut seen = HashSet::new();
    for e in &entries {
        let id = get_str(e, "Id").unwrap_or("");
        if !valid_batch_id(id) {
            return Err(ApiError::invalid_batch_entry_id());
        }
        if !seen.insert(id.to_string()) {
            return Err(ApiError::batch_ids_not_distinct());
        }
    }
    Ok(entries)
}

pub(crate) fn failed_entry(id: &str, e: &ApiError) -> Value {
    json!({"Id": id, "SenderFault": e.sender_fault, "Code": e.query_code, "Message": e.message})
}
