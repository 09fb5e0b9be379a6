//! The Query protocol: form parameters (maps, message attributes) in, XML responses and
//! errors out.

use crate::error::ApiError;
use crate::util::{uuid, xml_escape as esc, AttrValue};
use base64::Engine as _;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
const NS: &str = "http://sns.amazonaws.com/doc/2010-03-31/";

/// Parses `Prefix.entry.N.key/value` (or other member names) into a map.
pub(super) fn form_map(
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

pub(super) fn message_attributes(
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

pub(super) fn req<'a>(p: &'a HashMap<String, String>, k: &str) -> Result<&'a str, ApiError> {
    p.get(k).map(String::as_str).ok_or_else(|| {
        ApiError::sns_invalid_parameter(format!("Invalid parameter: {k}: Value must not be null"))
    })
}

pub(super) fn response(action: &str, result: Option<&str>) -> String {
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
pub(crate) fn error_xml(e: &ApiError) -> String {
    format!(
        "<ErrorResponse xmlns=\"{NS}\"><Error><Type>{}</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
        if e.sender_fault { "Sender" } else { "Receiver" },
        e.query_code,
        esc(&e.message),
        uuid()
    )
}

pub(super) fn entries_xml(m: &BTreeMap<String, String>) -> String {
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
