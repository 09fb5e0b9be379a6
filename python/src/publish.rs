//! Publishers to SQS queues and SNS topics, and the AWS settings they and listeners share.

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyString};
use sqs_mega::aws::AwsSettings;
use sqs_mega::publish::{Attribute, BatchEntry, PublishOptions, Published, Publisher};
use sqs_mega::trace::TraceContext;

use crate::codec::content_of;
use crate::convert::is_decimal;
use crate::errors;

/// Where and as whom to connect: every setting left `None` comes from the standard AWS chain (environment,
/// `AWS_ENDPOINT_URL`, shared config files, instance roles).
#[pyclass(module = "mega._native", frozen)]
pub(crate) struct Settings {
    pub(crate) inner: AwsSettings,
}

#[pymethods]
impl Settings {
    #[new]
    #[pyo3(signature = (*, region = None, endpoint_url = None, access_key_id = None, secret_access_key = None,
                        session_token = None, profile = None))]
    fn new(
        region: Option<String>,
        endpoint_url: Option<String>,
        access_key_id: Option<String>,
        secret_access_key: Option<String>,
        session_token: Option<String>,
        profile: Option<String>,
    ) -> PyResult<Settings> {
        let mut inner = AwsSettings::default();
        inner.region = region;
        inner.endpoint_url = endpoint_url;
        inner.profile = profile;
        match (access_key_id, secret_access_key) {
            (Some(id), Some(secret)) => inner = inner.with_credentials(id, secret, session_token),
            (None, None) => {}
            _ => {
                return Err(errors::invalid_argument(
                    "aws_access_key_id and aws_secret_access_key go together: give both or neither",
                ))
            }
        }
        Ok(Settings { inner })
    }

    /// No secret is ever shown.
    fn __repr__(&self) -> String {
        format!(
            "Settings(region={:?}, endpoint_url={:?}, credentials={})",
            self.inner.region,
            self.inner.endpoint_url,
            if self.inner.access_key_id.is_some() {
                "explicit"
            } else {
                "from the AWS chain"
            }
        )
    }
}

/// Message attributes from a dict: `str` values are String, `int`/`float`/`Decimal` Number, `bytes` Binary,
/// and a `(data_type, value)` pair says its type (`("Number.float", "1.5")`).
fn attributes(attrs: Option<&Bound<'_, PyDict>>) -> PyResult<Vec<(String, Attribute)>> {
    let mut out = Vec::new();
    let Some(attrs) = attrs else { return Ok(out) };
    for (k, v) in attrs.iter() {
        let name: String = k
            .extract()
            .map_err(|_| errors::invalid_argument("attribute names must be str"))?;
        let attribute = if let Ok((data_type, value)) = v.extract::<(String, Bound<'_, PyAny>)>() {
            let mut a = if let Ok(b) = value.cast::<PyBytes>() {
                Attribute::binary(b.as_bytes().to_vec())
            } else {
                Attribute::string(value.str()?.to_string())
            };
            a.data_type = data_type;
            a
        } else if v.is_instance_of::<PyBool>() {
            return Err(errors::invalid_argument(format!(
                "message attribute {name}: a bool has no SQS type (use \"true\"/\"false\" or 1/0)"
            )));
        } else if let Ok(s) = v.cast::<PyString>() {
            Attribute::string(s.to_str()?.to_owned())
        } else if let Ok(b) = v.cast::<PyBytes>() {
            Attribute::binary(b.as_bytes().to_vec())
        } else if v.is_instance_of::<PyInt>() || v.is_instance_of::<PyFloat>() || is_decimal(&v)? {
            Attribute::number(v.str()?.to_string())
        } else {
            return Err(errors::invalid_argument(format!(
                "message attribute {name}: a {} is not a str, number, bytes or (data_type, value)",
                v.get_type().name()?
            )));
        };
        out.push((name, attribute));
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn options(
    binary_encoding: bool,
    attrs: Option<&Bound<'_, PyDict>>,
    delay_seconds: Option<i32>,
    group_id: Option<String>,
    deduplication_id: Option<String>,
    subject: Option<String>,
    traceparent: Option<String>,
    parent_trace: Option<String>,
) -> PyResult<PublishOptions> {
    let mut o = PublishOptions::default().with_binary_encoding(binary_encoding);
    // The context given is sent as it is; the handler's (read by Python from its context variable) is
    // continued with a new span.
    if let Some(t) = traceparent {
        o.trace =
            Some(TraceContext::parse(&t).map_err(|e| errors::invalid_argument(e.to_string()))?);
    } else if let Some(p) = parent_trace {
        o.trace = TraceContext::parse(&p).ok().map(|c| c.child());
    }
    o.delay_seconds = delay_seconds;
    o.group_id = group_id;
    o.deduplication_id = deduplication_id;
    o.subject = subject;
    for (name, a) in attributes(attrs)? {
        o = o.with_attribute(name, a);
    }
    Ok(o)
}

/// A publisher to one SQS queue or SNS topic.
#[pyclass(module = "mega._native", frozen)]
pub(crate) struct NativePublisher {
    inner: Publisher,
}

fn published<'py>(py: Python<'py>, p: &Published) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("message_id", &p.message_id)?;
    d.set_item("sequence_number", &p.sequence_number)?;
    Ok(d)
}

#[pymethods]
impl NativePublisher {
    /// `target` is `queue` (then `address` is a queue URL) or `topic` (a topic ARN).
    #[new]
    fn new(settings: &Settings, target: &str, address: String) -> PyResult<NativePublisher> {
        let inner = match target {
            "queue" => Publisher::queue(&settings.inner, address),
            "topic" => Publisher::topic(&settings.inner, address),
            other => return Err(errors::invalid_argument(format!("unknown target {other}"))),
        };
        Ok(NativePublisher { inner })
    }

    /// Encodes and sends one payload (`kind` and `value` as `mega._payload.classify` gives them), without
    /// the GIL while it waits: `{"message_id", "sequence_number"}`.
    #[pyo3(signature = (kind, value, *, binary_encoding = false, attributes = None, delay_seconds = None,
                        group_id = None, deduplication_id = None, subject = None, traceparent = None,
                        parent_trace = None))]
    #[allow(clippy::too_many_arguments)]
    fn publish<'py>(
        &self,
        py: Python<'py>,
        kind: &str,
        value: &Bound<'py, PyAny>,
        binary_encoding: bool,
        attributes: Option<&Bound<'py, PyDict>>,
        delay_seconds: Option<i32>,
        group_id: Option<String>,
        deduplication_id: Option<String>,
        subject: Option<String>,
        traceparent: Option<String>,
        parent_trace: Option<String>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let content = content_of(kind, value)?;
        let options = options(
            binary_encoding,
            attributes,
            delay_seconds,
            group_id,
            deduplication_id,
            subject,
            traceparent,
            parent_trace,
        )?;
        let runtime = crate::runtime()?;
        let result = py.detach(|| runtime.block_on(self.inner.publish(content, &options)));
        match result {
            Ok(p) => published(py, &p),
            Err(e) => Err(errors::from_mega(&e)),
        }
    }

    /// Sends many entries in batches of ten: each entry is `(kind, value, options dict)`; one result per
    /// entry, in order: `{"message_id", ...}` or the exception that entry met (never raised).
    fn publish_batch<'py>(
        &self,
        py: Python<'py>,
        entries: Vec<(String, Bound<'py, PyAny>, Bound<'py, PyDict>)>,
    ) -> PyResult<Vec<Bound<'py, PyAny>>> {
        let mut batch = Vec::with_capacity(entries.len());
        for (kind, value, opts) in &entries {
            let get = |k: &str| opts.get_item(k);
            let o = options(
                get("binary_encoding")?
                    .map(|v| v.is_truthy())
                    .transpose()?
                    .unwrap_or(false),
                get("attributes")?
                    .as_ref()
                    .map(|a| a.cast::<PyDict>())
                    .transpose()?,
                get("delay_seconds")?.map(|v| v.extract()).transpose()?,
                get("group_id")?.map(|v| v.extract()).transpose()?,
                get("deduplication_id")?.map(|v| v.extract()).transpose()?,
                get("subject")?.map(|v| v.extract()).transpose()?,
                get("traceparent")?.map(|v| v.extract()).transpose()?,
                get("parent_trace")?.map(|v| v.extract()).transpose()?,
            )?;
            let mut entry = BatchEntry::new(content_of(kind, value)?);
            entry.options = o;
            batch.push(entry);
        }
        let runtime = crate::runtime()?;
        let results = py.detach(|| runtime.block_on(self.inner.publish_batch(batch)));
        results
            .iter()
            .map(|r| match r {
                Ok(p) => published(py, p).map(|d| d.into_any()),
                Err(e) => Ok(errors::from_mega(e)
                    .into_value(py)
                    .into_bound(py)
                    .into_any()),
            })
            .collect()
    }
}
