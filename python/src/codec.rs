//! Payloads: Python objects to the core's [`Content`] and back, and the codec (encode, decode, validate).

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString};
use sqs_mega::codec::{self, DecodeOptions, EncodeOptions};
use sqs_mega::event::Payload;
use sqs_mega::sns::SnsMetadata;
use sqs_mega::{Content, Decoded, Value};

use crate::convert::{map_to_py, to_py, to_value};
use crate::errors;

fn value_of(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    let mut path = "$".to_owned();
    to_value(obj, &mut path).map_err(|e| {
        errors::raise(
            &sqs_mega::error::ENCODE_JSON,
            format!("the payload has no MEGA form at {}: {}", e.path, e.problem),
            Some(e.path),
        )
    })
}

/// What `kind` (`mega`, `data`, `plaintext`, `binary`, as `mega/_payload.py` classifies) and `value` stand for.
pub(crate) fn content_of(kind: &str, value: &Bound<'_, PyAny>) -> PyResult<Content> {
    Ok(match kind {
        "mega" => match value_of(value)? {
            Value::Map(m) => Content::Mega(Box::new(
                Payload::from_map(&m).map_err(|e| errors::from_mega(&e))?,
            )),
            _ => return Err(errors::invalid_argument("a MEGA event must be a dict")),
        },
        "data" => Content::Data(value_of(value)?),
        "plaintext" => Content::Plaintext(value.extract::<String>()?),
        "binary" => Content::Binary(value.extract::<Vec<u8>>()?),
        other => {
            return Err(errors::invalid_argument(format!(
                "unknown payload kind {other}"
            )))
        }
    })
}

/// The Python form of a decoded payload: `(kind, value)`; a MEGA event is its canonical dict.
pub(crate) fn content_to_py<'py>(
    py: Python<'py>,
    decoded: &Decoded,
) -> PyResult<(&'static str, Bound<'py, PyAny>)> {
    let kind = decoded.kind().as_str();
    let value = match &decoded.content {
        Content::Mega(_) => match decoded.value() {
            Some(v) => to_py(py, v)?,
            None => py.None().into_bound(py),
        },
        Content::Data(v) => to_py(py, v)?,
        Content::Plaintext(s) => PyString::new(py, s).into_any(),
        Content::Binary(b) => PyBytes::new(py, b).into_any(),
        Content::Empty => py.None().into_bound(py),
    };
    Ok((kind, value))
}

pub(crate) fn sns_to_py<'py>(py: Python<'py>, sns: &SnsMetadata) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("type", sns.message_type.as_str())?;
    d.set_item("message_id", &sns.message_id)?;
    d.set_item("topic_arn", &sns.topic_arn)?;
    d.set_item("subject", &sns.subject)?;
    d.set_item("timestamp", to_py(py, &Value::DateTime(sns.timestamp))?)?;
    let attrs = PyDict::new(py);
    for (name, a) in &sns.message_attributes {
        attrs.set_item(name, (&a.data_type, &a.value))?;
    }
    d.set_item("message_attributes", attrs)?;
    d.set_item("unsubscribe_url", &sns.unsubscribe_url)?;
    Ok(d)
}

/// `(kind, encoding, payload, sns)`.
type DecodedTuple<'py> = (
    &'static str,
    Option<&'static str>,
    Bound<'py, PyAny>,
    Option<Bound<'py, PyDict>>,
);

/// Decodes an SQS body (`str`, or `bytes` that must be UTF-8), `encoding` being the `mega.encoding`
/// attribute when the message had one: `(kind, encoding, payload, sns)`.
#[pyfunction]
#[pyo3(signature = (body, encoding = None))]
pub(crate) fn decode<'py>(
    py: Python<'py>,
    body: &Bound<'py, PyAny>,
    encoding: Option<&str>,
) -> PyResult<DecodedTuple<'py>> {
    let decoded = if let Ok(b) = body.cast::<PyBytes>() {
        codec::decode_bytes(b.as_bytes(), encoding, &DecodeOptions::default())
    } else {
        codec::decode(body.extract::<&str>()?, encoding)
    }
    .map_err(|e| errors::from_mega(&e))?;
    let (kind, value) = content_to_py(py, &decoded)?;
    let sns = decoded.sns.as_ref().map(|s| sns_to_py(py, s)).transpose()?;
    Ok((kind, decoded.encoding.map(|e| e.as_str()), value, sns))
}

/// Encodes a payload (`kind` as `content_of`) into `(body, encoding)`.
#[pyfunction]
#[pyo3(signature = (kind, value, binary_encoding = false))]
pub(crate) fn encode(
    kind: &str,
    value: &Bound<'_, PyAny>,
    binary_encoding: bool,
) -> PyResult<(String, &'static str)> {
    let content = content_of(kind, value)?;
    let options = EncodeOptions::default().with_binary_encoding(binary_encoding);
    let encoded = codec::encode(&content, &options).map_err(|e| errors::from_mega(&e))?;
    Ok((encoded.body, encoded.encoding.as_str()))
}

/// Checks a MEGA payload (its dict form) against the protocol: its canonical dict, or `InvalidArgumentError`
/// naming the section and field.
#[pyfunction]
pub(crate) fn validate_event<'py>(
    py: Python<'py>,
    payload: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyDict>> {
    match value_of(payload)? {
        Value::Map(m) => {
            let p = Payload::from_map(&m).map_err(|e| errors::from_mega(&e))?;
            match p.to_value() {
                Value::Map(m) => map_to_py(py, &m),
                _ => unreachable!("a payload's canonical form is a map"),
            }
        }
        _ => Err(errors::invalid_argument("a MEGA event must be a dict")),
    }
}
