//! `mega_message`: a received message as C sees it, in a callback or a delivery: its id, body, receive
//! count, group, kind, payload (value, JSON or BSON), attributes and SNS metadata, each derived on first
//! request.

use std::ffi::c_char;
use std::sync::OnceLock;

use mega_core::json;
use mega_core::listen::Message;
use mega_core::{Map, Value};

use crate::decode::{kind_of, mega_kind, own_payload, Derived};
use crate::error::*;
use crate::mega_str;
use crate::value::{handle, mega_value};

/// What a C callback gets: the message, and what is derived from it on first request.
pub struct mega_message {
    msg: *const Message,
    own: OnceLock<Value>,
    derived: Derived,
    attributes: OnceLock<String>,
    sns: OnceLock<Option<String>>,
    /// The handling context's `traceparent` and the sender's.
    trace: OnceLock<(String, Option<String>)>,
}

impl mega_message {
    pub(crate) fn new(msg: &Message) -> mega_message {
        mega_message {
            msg,
            own: OnceLock::new(),
            derived: Derived::default(),
            attributes: OnceLock::new(),
            sns: OnceLock::new(),
            trace: OnceLock::new(),
        }
    }

    fn message(&self) -> &Message {
        // SAFETY: the message outlives this wrapper, which lives only during the callback.
        unsafe { &*self.msg }
    }

    fn traces(&self) -> &(String, Option<String>) {
        self.trace.get_or_init(|| {
            let m = self.message();
            (
                m.trace.traceparent(),
                m.parent_trace.map(|p| p.traceparent()),
            )
        })
    }

    fn payload(&self) -> &Value {
        let m = self.message();
        match m.decoded.value() {
            Some(v) => v,
            None => self
                .own
                .get_or_init(|| own_payload(&m.decoded).unwrap_or_default()),
        }
    }
}

unsafe fn message_arg<'a>(p: *const mega_message) -> Result<&'a mega_message, Error> {
    // SAFETY: the callback's message, alive during the callback.
    unsafe { arg_ref(p, "message") }
}

/// The body of the message accessors.
fn read_message<T>(
    function: &str,
    message: *const mega_message,
    out: *mut T,
    read: impl FnOnce(&mega_message) -> Result<T, Error>,
) -> mega_result {
    guard(function, || {
        out_ptr(out, "out")?;
        // SAFETY: the callback's message or NULL.
        let m = unsafe { message_arg(message) }?;
        let v = read(m)?;
        // SAFETY: checked non-NULL.
        unsafe { write_out(out, v) };
        Ok(())
    })
}

/// The SQS message id, borrowed.
#[no_mangle]
pub unsafe extern "C" fn mega_message_id(
    message: *const mega_message,
    out: *mut mega_str,
) -> mega_result {
    read_message("mega_message_id", message, out, |m| {
        Ok(mega_str::of(&m.message().message_id))
    })
}

/// The body exactly as received, borrowed.
#[no_mangle]
pub unsafe extern "C" fn mega_message_body(
    message: *const mega_message,
    out: *mut mega_str,
) -> mega_result {
    read_message("mega_message_body", message, out, |m| {
        Ok(mega_str::of(&m.message().body))
    })
}

/// How many times the message has been received, this time included (1 the first time).
#[no_mangle]
pub unsafe extern "C" fn mega_message_receive_count(
    message: *const mega_message,
    out: *mut u32,
) -> mega_result {
    read_message("mega_message_receive_count", message, out, |m| {
        Ok(m.message().receive_count)
    })
}

/// FIFO queues: the message group, borrowed. `MEGA_RESULT_NOT_FOUND` on standard queues.
#[no_mangle]
pub unsafe extern "C" fn mega_message_group_id(
    message: *const mega_message,
    out: *mut mega_str,
) -> mega_result {
    read_message("mega_message_group_id", message, out, |m| {
        m.message()
            .group_id
            .as_deref()
            .map(mega_str::of)
            .ok_or_else(|| Error::not_found("the message has no group id (not a FIFO queue)"))
    })
}

/// What the body holds.
#[no_mangle]
pub unsafe extern "C" fn mega_message_kind(
    message: *const mega_message,
    out: *mut mega_kind,
) -> mega_result {
    read_message("mega_message_kind", message, out, |m| {
        Ok(kind_of(&m.message().decoded))
    })
}

/// The payload, borrowed (as [`mega_decoded_payload`](crate::mega_decoded_payload)): the canonical event
/// map, the data object, the text, the bytes, or null.
#[no_mangle]
pub unsafe extern "C" fn mega_message_payload(
    message: *const mega_message,
    out: *mut *const mega_value,
) -> mega_result {
    read_message("mega_message_payload", message, out, |m| {
        Ok(handle(m.payload()))
    })
}

/// The payload as compact tagged JSON, borrowed.
#[no_mangle]
pub unsafe extern "C" fn mega_message_payload_json(
    message: *const mega_message,
    out: *mut mega_str,
) -> mega_result {
    read_message("mega_message_payload_json", message, out, |m| {
        Ok(mega_str::of(m.derived.payload_json(m.payload())))
    })
}

/// The `mega decode` report of the body (`{"kind", "encoding", "payload", "sns"}`), borrowed.
#[no_mangle]
pub unsafe extern "C" fn mega_message_json(
    message: *const mega_message,
    out: *mut mega_str,
) -> mega_result {
    read_message("mega_message_json", message, out, |m| {
        Ok(mega_str::of(m.derived.report(&m.message().decoded)))
    })
}

/// Every message attribute as a JSON object, borrowed:
/// `{"name": {"data_type": "String", "value": "…"}}`; binary values are `{"$bytes": "<base64>"}`.
#[no_mangle]
pub unsafe extern "C" fn mega_message_attributes_json(
    message: *const mega_message,
    out: *mut mega_str,
) -> mega_result {
    read_message("mega_message_attributes_json", message, out, |m| {
        Ok(mega_str::of(m.attributes.get_or_init(|| {
            let mut names: Vec<_> = m.message().message_attributes.iter().collect();
            names.sort_by(|a, b| a.0.cmp(b.0));
            let map: Map = names
                .into_iter()
                .map(|(k, a)| {
                    let value = match (&a.string_value, &a.binary_value) {
                        (Some(s), _) => Value::String(s.clone()),
                        (None, Some(b)) => Value::Bytes(b.clone()),
                        (None, None) => Value::Null,
                    };
                    let entry = Value::from([
                        ("data_type", Value::from(a.data_type.as_str())),
                        ("value", value),
                    ]);
                    (k.clone(), entry)
                })
                .collect();
            json::to_tagged_string(&Value::Map(map))
        })))
    })
}

/// The SNS envelope's metadata as tagged JSON (`message_id`, `topic_arn`, `subject`, `timestamp`,
/// `message_attributes`…), borrowed. `MEGA_RESULT_NOT_FOUND` when the message did not come through SNS
/// (or came with raw delivery).
#[no_mangle]
pub unsafe extern "C" fn mega_message_sns_json(
    message: *const mega_message,
    out: *mut mega_str,
) -> mega_result {
    read_message("mega_message_sns_json", message, out, |m| {
        m.sns
            .get_or_init(|| {
                m.message()
                    .decoded
                    .sns
                    .as_ref()
                    .map(|s| json::to_tagged_string(&s.to_value()))
            })
            .as_deref()
            .map(mega_str::of)
            .ok_or_else(|| Error::not_found("the message did not come through SNS"))
    })
}

/// A `String` or `Number` message attribute's value, borrowed. `MEGA_RESULT_NOT_FOUND` when the message
/// has no such attribute, `MEGA_RESULT_WRONG_TYPE` for a `Binary` one (read it from
/// [`mega_message_attributes_json`]).
#[no_mangle]
pub unsafe extern "C" fn mega_message_attribute(
    message: *const mega_message,
    name: *const c_char,
    out: *mut mega_str,
) -> mega_result {
    guard("mega_message_attribute", || {
        out_ptr(out, "out")?;
        // SAFETY: the callback's message or NULL; NUL-terminated text or NULL.
        let m = unsafe { message_arg(message) }?;
        let name = unsafe { arg_str(name, "name") }?;
        let a =
            m.message().message_attributes.get(name).ok_or_else(|| {
                Error::not_found(format!("the message has no attribute `{name}`"))
            })?;
        let s = a.string_value.as_deref().ok_or_else(|| {
            Error::wrong_type(format!("attribute `{name}` is {}, not text", a.data_type))
        })?;
        // SAFETY: checked non-NULL.
        unsafe { write_out(out, mega_str::of(s)) };
        Ok(())
    })
}

/// A system attribute of the message (`SentTimestamp`, `ApproximateFirstReceiveTimestamp`,
/// `MessageGroupId`…), borrowed. `MEGA_RESULT_NOT_FOUND` when absent.
#[no_mangle]
pub unsafe extern "C" fn mega_message_system_attribute(
    message: *const mega_message,
    name: *const c_char,
    out: *mut mega_str,
) -> mega_result {
    guard("mega_message_system_attribute", || {
        out_ptr(out, "out")?;
        // SAFETY: the callback's message or NULL; NUL-terminated text or NULL.
        let m = unsafe { message_arg(message) }?;
        let name = unsafe { arg_str(name, "name") }?;
        let v = m.message().attributes.get(name).ok_or_else(|| {
            Error::not_found(format!("the message has no system attribute `{name}`"))
        })?;
        // SAFETY: checked non-NULL.
        unsafe { write_out(out, mega_str::of(v)) };
        Ok(())
    })
}

/// The payload as one BSON document, borrowed (`MEGA_RESULT_WRONG_TYPE` for plaintext, binary and empty).
#[no_mangle]
pub unsafe extern "C" fn mega_message_payload_bson(
    message: *const mega_message,
    data: *mut *const u8,
    len: *mut usize,
) -> mega_result {
    guard("mega_message_payload_bson", || {
        out_ptr(data, "data")?;
        out_ptr(len, "len")?;
        // SAFETY: the callback's message or NULL.
        let m = unsafe { message_arg(message) }?;
        let b = m.derived.bson(m.payload())?;
        // SAFETY: both checked non-NULL.
        unsafe {
            write_out(data, b.as_ptr());
            write_out(len, b.len());
        }
        Ok(())
    })
}

/// The trace context of this message's handling as a W3C `traceparent`
/// (`00-<32 hex trace id>-<16 hex span id>-<2 hex flags>`), borrowed: a child span of the sender's context
/// (same trace id, a new span id), or a new trace when the message carried none. While a callback runs, and
/// while a thread holds a pulled delivery, what that thread publishes continues this trace.
#[no_mangle]
pub unsafe extern "C" fn mega_message_traceparent(
    message: *const mega_message,
    out: *mut mega_str,
) -> mega_result {
    read_message("mega_message_traceparent", message, out, |m| {
        Ok(mega_str::of(&m.traces().0))
    })
}

/// The trace id of [`mega_message_traceparent`] (32 lowercase hex digits), borrowed.
#[no_mangle]
pub unsafe extern "C" fn mega_message_trace_id(
    message: *const mega_message,
    out: *mut mega_str,
) -> mega_result {
    read_message("mega_message_trace_id", message, out, |m| {
        Ok(mega_str::of(&m.traces().0[3..35]))
    })
}

/// The span id of [`mega_message_traceparent`] (16 lowercase hex digits), borrowed.
#[no_mangle]
pub unsafe extern "C" fn mega_message_span_id(
    message: *const mega_message,
    out: *mut mega_str,
) -> mega_result {
    read_message("mega_message_span_id", message, out, |m| {
        Ok(mega_str::of(&m.traces().0[36..52]))
    })
}

/// The sender's trace context as a `traceparent`, borrowed: the message's `traceparent` attribute (or the
/// SNS notification's), else X-Ray's `AWSTraceHeader`. `MEGA_RESULT_NOT_FOUND` when the message carried
/// none.
#[no_mangle]
pub unsafe extern "C" fn mega_message_parent_traceparent(
    message: *const mega_message,
    out: *mut mega_str,
) -> mega_result {
    read_message("mega_message_parent_traceparent", message, out, |m| {
        m.traces()
            .1
            .as_deref()
            .map(mega_str::of)
            .ok_or_else(|| Error::not_found("the message carried no trace context"))
    })
}
