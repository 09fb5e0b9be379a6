//! `mega_publisher` (an SQS queue or an SNS topic), `mega_publish_options`, `mega_batch` and its results.

use std::ffi::c_char;

use mega_core::codec::Content;
use mega_core::publish::{
    Attribute, AttributeValue, BatchEntry, PublishOptions, Published, Publisher, Target,
};
use mega_core::{event, Value};

use crate::aws::{block_on, mega_settings};
use crate::error::*;
use crate::value::{mega_value, parse_json, value_arg};
use crate::{mega_str, owned_string};

/// How to send a message: encoding, FIFO group and deduplication ids, delay, SNS subject, attributes.
/// Made by [`mega_publish_options_new`], freed with [`mega_publish_options_free`]; publishing copies what it
/// needs, so one options object may serve many calls.
pub struct mega_publish_options {
    inner: PublishOptions,
}

/// New options: JSON encoding, no attributes, no ids.
#[no_mangle]
pub unsafe extern "C" fn mega_publish_options_new(
    out: *mut *mut mega_publish_options,
) -> mega_result {
    guard("mega_publish_options_new", || {
        out_ptr(out, "out")?;
        let o = Box::new(mega_publish_options {
            inner: PublishOptions::default(),
        });
        // SAFETY: checked non-NULL.
        unsafe { write_out(out, Box::into_raw(o)) };
        Ok(())
    })
}

/// Frees options. `NULL` is a no-op.
#[no_mangle]
pub unsafe extern "C" fn mega_publish_options_free(options: *mut mega_publish_options) {
    if options.is_null() {
        return;
    }
    guard_void(|| {
        // SAFETY: made by `mega_publish_options_new`, given back once.
        drop(unsafe { Box::from_raw(options) });
    });
}

/// Encode MEGA events and data objects as BSON in Base64 (`true`) or as JSON (`false`, the default).
#[no_mangle]
pub unsafe extern "C" fn mega_publish_options_set_binary_encoding(
    options: *mut mega_publish_options,
    binary_encoding: bool,
) -> mega_result {
    guard("mega_publish_options_set_binary_encoding", || {
        // SAFETY: a live object or NULL.
        unsafe { arg_mut(options, "options") }?
            .inner
            .binary_encoding = binary_encoding;
        Ok(())
    })
}

fn set_text(
    function: &str,
    options: *mut mega_publish_options,
    value: *const c_char,
    name: &str,
    set: impl FnOnce(&mut PublishOptions, Option<String>),
) -> mega_result {
    guard(function, || {
        // SAFETY: a live object or NULL; NUL-terminated text or NULL (NULL unsets).
        let o = unsafe { arg_mut(options, "options") }?;
        let v = unsafe { opt_str(value, name) }?;
        set(&mut o.inner, v.map(str::to_owned));
        Ok(())
    })
}

/// FIFO queues and topics: the message group (NULL unsets).
#[no_mangle]
pub unsafe extern "C" fn mega_publish_options_set_group_id(
    options: *mut mega_publish_options,
    group_id: *const c_char,
) -> mega_result {
    set_text(
        "mega_publish_options_set_group_id",
        options,
        group_id,
        "group_id",
        |o, v| o.group_id = v,
    )
}

/// FIFO queues and topics: the deduplication id (NULL unsets; content-based deduplication must then be on).
#[no_mangle]
pub unsafe extern "C" fn mega_publish_options_set_deduplication_id(
    options: *mut mega_publish_options,
    deduplication_id: *const c_char,
) -> mega_result {
    set_text(
        "mega_publish_options_set_deduplication_id",
        options,
        deduplication_id,
        "deduplication_id",
        |o, v| o.deduplication_id = v,
    )
}

/// SNS only: the notification's subject (NULL unsets).
#[no_mangle]
pub unsafe extern "C" fn mega_publish_options_set_subject(
    options: *mut mega_publish_options,
    subject: *const c_char,
) -> mega_result {
    set_text(
        "mega_publish_options_set_subject",
        options,
        subject,
        "subject",
        |o, v| o.subject = v,
    )
}

/// The trace context to send, as a W3C `traceparent` (`00-<32 hex>-<16 hex>-<2 hex>`; NULL unsets). By
/// default a message carries a `traceparent` attribute: a child of the context this thread is handling (in a
/// callback, or between taking a delivery and completing it), else a new trace. Errors:
/// `MEGA_RESULT_INVALID_ARGUMENT` (not a valid `traceparent`; the option keeps its value).
#[no_mangle]
pub unsafe extern "C" fn mega_publish_options_set_traceparent(
    options: *mut mega_publish_options,
    traceparent: *const c_char,
) -> mega_result {
    guard("mega_publish_options_set_traceparent", || {
        // SAFETY: a live object or NULL; NUL-terminated text or NULL (NULL unsets).
        let o = unsafe { arg_mut(options, "options") }?;
        let text = unsafe { opt_str(traceparent, "traceparent") }?;
        o.inner.trace = match text {
            None => None,
            Some(t) => Some(
                mega_core::trace::TraceContext::parse(t)
                    .map_err(|e| Error::invalid(format!("`traceparent`: {e}")))?,
            ),
        };
        Ok(())
    })
}

/// Send no `traceparent` attribute (`true`), or the default one (`false`, the default).
#[no_mangle]
pub unsafe extern "C" fn mega_publish_options_set_no_trace(
    options: *mut mega_publish_options,
    no_trace: bool,
) -> mega_result {
    guard("mega_publish_options_set_no_trace", || {
        // SAFETY: a live object or NULL.
        unsafe { arg_mut(options, "options") }?.inner.no_trace = no_trace;
        Ok(())
    })
}

/// SQS only: delay delivery by 0 to 900 seconds (negative unsets).
#[no_mangle]
pub unsafe extern "C" fn mega_publish_options_set_delay_seconds(
    options: *mut mega_publish_options,
    delay_seconds: i32,
) -> mega_result {
    guard("mega_publish_options_set_delay_seconds", || {
        // SAFETY: a live object or NULL.
        let o = unsafe { arg_mut(options, "options") }?;
        if delay_seconds > 900 {
            return Err(Error::invalid(format!(
                "`delay_seconds` is {delay_seconds}; SQS allows 0 to 900"
            )));
        }
        o.inner.delay_seconds = (delay_seconds >= 0).then_some(delay_seconds);
        Ok(())
    })
}

/// Adds a `String` or `Number` message attribute (`data_type` is `String`, `Number`, or either with a custom
/// suffix such as `Number.float`). The name and value are checked here as SQS would check them
/// (`MEGA_RESULT_INVALID_ARGUMENT`, naming the attribute: a `Number` that is not a number, a character SQS
/// refuses, a reserved name such as `mega.*`); the count (at most 9) and duplicates when publishing.
#[no_mangle]
pub unsafe extern "C" fn mega_publish_options_add_attribute(
    options: *mut mega_publish_options,
    name: *const c_char,
    data_type: *const c_char,
    value: *const c_char,
) -> mega_result {
    guard("mega_publish_options_add_attribute", || {
        // SAFETY: a live object or NULL; NUL-terminated texts or NULL.
        let o = unsafe { arg_mut(options, "options") }?;
        let name = unsafe { arg_str(name, "name") }?;
        let data_type = unsafe { arg_str(data_type, "data_type") }?;
        let value = unsafe { arg_str(value, "value") }?;
        if !(data_type.starts_with("String") || data_type.starts_with("Number")) {
            return Err(Error::invalid(format!(
                "attribute `{name}`: data type `{data_type}` is not String or Number (use \
                 mega_publish_options_add_binary_attribute for Binary)"
            )));
        }
        let attribute = Attribute {
            data_type: data_type.to_owned(),
            value: AttributeValue::Text(value.to_owned()),
        };
        attribute.check(name).map_err(Error::from)?;
        o.inner.attributes.push((name.to_owned(), attribute));
        Ok(())
    })
}

/// Adds a `Binary` message attribute of `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn mega_publish_options_add_binary_attribute(
    options: *mut mega_publish_options,
    name: *const c_char,
    data: *const u8,
    len: usize,
) -> mega_result {
    guard("mega_publish_options_add_binary_attribute", || {
        // SAFETY: a live object or NULL; NUL-terminated name; `len` readable bytes.
        let o = unsafe { arg_mut(options, "options") }?;
        let name = unsafe { arg_str(name, "name") }?;
        let data = unsafe { arg_bytes(data, len, "data") }?;
        let attribute = Attribute::binary(data.to_vec());
        attribute.check(name).map_err(Error::from)?;
        o.inner.attributes.push((name.to_owned(), attribute));
        Ok(())
    })
}

/// Publishes to one SQS queue or one SNS topic. Made by [`mega_sqs_publisher_new`] or
/// [`mega_sns_publisher_new`], freed with [`mega_publisher_free`]. Thread-safe: any number of threads may
/// publish through one publisher at once. Every publish call blocks its thread until the service answers.
pub struct mega_publisher {
    inner: Publisher,
}

/// The body of the two constructors: `address` is the queue URL or the topic ARN.
fn new_publisher(
    function: &str,
    settings: *const mega_settings,
    address: *const c_char,
    name: &str,
    out: *mut *mut mega_publisher,
    target: fn(String) -> Target,
) -> mega_result {
    guard(function, || {
        out_ptr(out, "out")?;
        // SAFETY: a live object or NULL; NUL-terminated text or NULL.
        let s = unsafe { arg_ref(settings, "settings") }?;
        let address = unsafe { arg_str(address, name) }?;
        if address.is_empty() {
            return Err(Error::invalid(format!("`{name}` is empty")));
        }
        let inner = Publisher::new(&s.inner, target(address.to_owned()));
        // SAFETY: checked non-NULL.
        unsafe { write_out(out, Box::into_raw(Box::new(mega_publisher { inner }))) };
        Ok(())
    })
}

/// A publisher to the SQS queue at `queue_url`.
#[no_mangle]
pub unsafe extern "C" fn mega_sqs_publisher_new(
    settings: *const mega_settings,
    queue_url: *const c_char,
    out: *mut *mut mega_publisher,
) -> mega_result {
    new_publisher(
        "mega_sqs_publisher_new",
        settings,
        queue_url,
        "queue_url",
        out,
        Target::Queue,
    )
}

/// A publisher to the SNS topic `topic_arn`.
#[no_mangle]
pub unsafe extern "C" fn mega_sns_publisher_new(
    settings: *const mega_settings,
    topic_arn: *const c_char,
    out: *mut *mut mega_publisher,
) -> mega_result {
    new_publisher(
        "mega_sns_publisher_new",
        settings,
        topic_arn,
        "topic_arn",
        out,
        Target::Topic,
    )
}

/// Frees a publisher. `NULL` is a no-op. No publish call may be running on it.
#[no_mangle]
pub unsafe extern "C" fn mega_publisher_free(publisher: *mut mega_publisher) {
    if publisher.is_null() {
        return;
    }
    guard_void(|| {
        // SAFETY: made by `mega_*_publisher_new`, given back once.
        drop(unsafe { Box::from_raw(publisher) });
    });
}

/// A MEGA event or a data object from a value (a map).
fn content_of(value: Value, name: &str) -> Result<Content, Error> {
    match value {
        Value::Map(map) if event::is_mega(&map) => event::Payload::from_map(&map)
            .map(Content::from)
            .map_err(|e| {
                Error::new(
                    MEGA_RESULT_ENCODE,
                    format!("`{name}` is not a valid MEGA event: {e}"),
                )
            }),
        Value::Map(map) => Ok(Content::from(map)),
        other => Err(Error::new(
            MEGA_RESULT_ENCODE,
            format!(
                "`{name}` must be a JSON object (a MEGA event or a data object), not a {}",
                other.kind()
            ),
        )),
    }
}

unsafe fn options_of(
    options: *const mega_publish_options,
    default: &PublishOptions,
) -> &PublishOptions {
    // SAFETY: a live object or NULL, as the header requires.
    unsafe { options.as_ref() }.map_or(default, |o| &o.inner)
}

fn publish_content(
    publisher: &mega_publisher,
    content: Content,
    raw: Option<&str>,
    options: &PublishOptions,
) -> Result<Published, Error> {
    let options = &*crate::trace::with_current(options);
    let result = block_on(async {
        match raw {
            None => publisher.inner.publish(content, options).await,
            Some(body) => publisher.inner.publish_raw_message(body, options).await,
        }
    })?;
    result.map_err(Error::from)
}

/// Writes the message id out (when the caller asked for it).
fn give_id(published: Published, message_id: *mut *mut c_char) -> Result<(), Error> {
    if !message_id.is_null() {
        let id = owned_string(published.message_id)?;
        // SAFETY: checked non-NULL.
        unsafe { write_out(message_id, id) };
    }
    Ok(())
}

/// Publishes a MEGA event or a data object given as a JSON object in tagged JSON (`{"$datetime": …}` and the
/// other tags of `docs/payloads.md` are read; plain JSON is tagged JSON without tags). An object with
/// `"protocol": "mega"` is validated as a MEGA event. `options` may be NULL (JSON encoding, no attributes).
/// On success, when `message_id` is not NULL, `*message_id` is a new string freed with `mega_string_free`.
///
/// Errors: `MEGA_RESULT_JSON`, `MEGA_RESULT_ENCODE` (not an object, an invalid event, too large…),
/// `MEGA_RESULT_INVALID_ARGUMENT` (attributes, options), `MEGA_RESULT_SERVICE` (the service refused or could
/// not be reached; the service's code in `mega_last_error_detail`).
#[no_mangle]
pub unsafe extern "C" fn mega_publisher_publish_json(
    publisher: *const mega_publisher,
    payload_json: *const c_char,
    options: *const mega_publish_options,
    message_id: *mut *mut c_char,
) -> mega_result {
    guard("mega_publisher_publish_json", || {
        // SAFETY: a live object or NULL; NUL-terminated text or NULL.
        let p = unsafe { arg_ref(publisher, "publisher") }?;
        let text = unsafe { arg_str(payload_json, "payload_json") }?;
        let content = content_of(parse_json(text, true, "payload_json")?, "payload_json")?;
        let default = PublishOptions::default();
        // SAFETY: a live object or NULL.
        let options = unsafe { options_of(options, &default) };
        give_id(publish_content(p, content, None, options)?, message_id)
    })
}

/// [`mega_publisher_publish_json`] for a payload given as a value (a map).
#[no_mangle]
pub unsafe extern "C" fn mega_publisher_publish_value(
    publisher: *const mega_publisher,
    payload: *const mega_value,
    options: *const mega_publish_options,
    message_id: *mut *mut c_char,
) -> mega_result {
    guard("mega_publisher_publish_value", || {
        // SAFETY: live objects or NULL.
        let p = unsafe { arg_ref(publisher, "publisher") }?;
        let v = unsafe { value_arg(payload, "payload") }?;
        let content = content_of(v.clone(), "payload")?;
        let default = PublishOptions::default();
        // SAFETY: a live object or NULL.
        let options = unsafe { options_of(options, &default) };
        give_id(publish_content(p, content, None, options)?, message_id)
    })
}

/// Publishes text as plaintext (`binary_encoding` does not apply to text and is refused).
#[no_mangle]
pub unsafe extern "C" fn mega_publisher_publish_plaintext(
    publisher: *const mega_publisher,
    text: *const c_char,
    options: *const mega_publish_options,
    message_id: *mut *mut c_char,
) -> mega_result {
    guard("mega_publisher_publish_plaintext", || {
        // SAFETY: a live object or NULL; NUL-terminated text or NULL.
        let p = unsafe { arg_ref(publisher, "publisher") }?;
        let text = unsafe { arg_str(text, "text") }?;
        let default = PublishOptions::default();
        // SAFETY: a live object or NULL.
        let options = unsafe { options_of(options, &default) };
        let content = Content::Plaintext(text.to_owned());
        give_id(publish_content(p, content, None, options)?, message_id)
    })
}

/// Publishes `len` bytes as binary (Base64 on the wire).
#[no_mangle]
pub unsafe extern "C" fn mega_publisher_publish_binary(
    publisher: *const mega_publisher,
    data: *const u8,
    len: usize,
    options: *const mega_publish_options,
    message_id: *mut *mut c_char,
) -> mega_result {
    guard("mega_publisher_publish_binary", || {
        // SAFETY: a live object or NULL; `len` readable bytes.
        let p = unsafe { arg_ref(publisher, "publisher") }?;
        let data = unsafe { arg_bytes(data, len, "data") }?;
        let default = PublishOptions::default();
        // SAFETY: a live object or NULL.
        let options = unsafe { options_of(options, &default) };
        let content = Content::Binary(data.to_vec());
        give_id(publish_content(p, content, None, options)?, message_id)
    })
}

/// Sends a body exactly as given, without the `mega.encoding` attribute (for consumers outside sqs-mega).
#[no_mangle]
pub unsafe extern "C" fn mega_publisher_publish_raw(
    publisher: *const mega_publisher,
    body: *const c_char,
    options: *const mega_publish_options,
    message_id: *mut *mut c_char,
) -> mega_result {
    guard("mega_publisher_publish_raw", || {
        // SAFETY: a live object or NULL; NUL-terminated text or NULL.
        let p = unsafe { arg_ref(publisher, "publisher") }?;
        let body = unsafe { arg_str(body, "body") }?;
        let default = PublishOptions::default();
        // SAFETY: a live object or NULL.
        let options = unsafe { options_of(options, &default) };
        give_id(
            publish_content(p, Content::Empty, Some(body), options)?,
            message_id,
        )
    })
}

/// Payloads to publish together ([`mega_publisher_publish_batch`]). Made by [`mega_batch_new`], freed with
/// [`mega_batch_free`].
pub struct mega_batch {
    entries: Vec<BatchEntry>,
}

/// A new, empty batch.
#[no_mangle]
pub unsafe extern "C" fn mega_batch_new(out: *mut *mut mega_batch) -> mega_result {
    guard("mega_batch_new", || {
        out_ptr(out, "out")?;
        // SAFETY: checked non-NULL.
        unsafe {
            write_out(
                out,
                Box::into_raw(Box::new(mega_batch {
                    entries: Vec::new(),
                })),
            )
        };
        Ok(())
    })
}

/// Frees a batch. `NULL` is a no-op.
#[no_mangle]
pub unsafe extern "C" fn mega_batch_free(batch: *mut mega_batch) {
    if batch.is_null() {
        return;
    }
    guard_void(|| {
        // SAFETY: made by `mega_batch_new`, given back once.
        drop(unsafe { Box::from_raw(batch) });
    });
}

fn add_entry(
    batch: *mut mega_batch,
    content: Content,
    options: *const mega_publish_options,
) -> Result<(), Error> {
    // SAFETY: a live object or NULL.
    let b = unsafe { arg_mut(batch, "batch") }?;
    let default = PublishOptions::default();
    // SAFETY: a live object or NULL.
    let options = unsafe { options_of(options, &default) }.clone();
    b.entries.push(BatchEntry { content, options });
    Ok(())
}

/// Adds a MEGA event or data object (tagged JSON, as [`mega_publisher_publish_json`]) with its options
/// (copied; NULL for the defaults).
#[no_mangle]
pub unsafe extern "C" fn mega_batch_add_json(
    batch: *mut mega_batch,
    payload_json: *const c_char,
    options: *const mega_publish_options,
) -> mega_result {
    guard("mega_batch_add_json", || {
        // SAFETY: NUL-terminated text or NULL.
        let text = unsafe { arg_str(payload_json, "payload_json") }?;
        let content = content_of(parse_json(text, true, "payload_json")?, "payload_json")?;
        add_entry(batch, content, options)
    })
}

/// Adds plaintext.
#[no_mangle]
pub unsafe extern "C" fn mega_batch_add_plaintext(
    batch: *mut mega_batch,
    text: *const c_char,
    options: *const mega_publish_options,
) -> mega_result {
    guard("mega_batch_add_plaintext", || {
        // SAFETY: NUL-terminated text or NULL.
        let text = unsafe { arg_str(text, "text") }?;
        add_entry(batch, Content::Plaintext(text.to_owned()), options)
    })
}

/// Adds `len` bytes of binary.
#[no_mangle]
pub unsafe extern "C" fn mega_batch_add_binary(
    batch: *mut mega_batch,
    data: *const u8,
    len: usize,
    options: *const mega_publish_options,
) -> mega_result {
    guard("mega_batch_add_binary", || {
        // SAFETY: `len` readable bytes.
        let data = unsafe { arg_bytes(data, len, "data") }?;
        add_entry(batch, Content::Binary(data.to_vec()), options)
    })
}

/// The number of entries in a batch.
#[no_mangle]
pub unsafe extern "C" fn mega_batch_len(batch: *const mega_batch, out: *mut usize) -> mega_result {
    guard("mega_batch_len", || {
        out_ptr(out, "out")?;
        // SAFETY: a live object or NULL.
        let b = unsafe { arg_ref(batch, "batch") }?;
        // SAFETY: checked non-NULL.
        unsafe { write_out(out, b.entries.len()) };
        Ok(())
    })
}

/// What happened to each entry of a batch, in order. Made by [`mega_publisher_publish_batch`], freed with
/// [`mega_batch_result_free`].
pub struct mega_batch_result {
    entries: Vec<Result<Published, Error>>,
}

/// Publishes every entry of `batch` (SendMessageBatch / PublishBatch, 10 entries and the size limit per call;
/// entries failed through no fault of the sender are retried). Succeeds when the batch was attempted, even if
/// entries failed: read each entry's outcome from `*out`, a new object freed with [`mega_batch_result_free`].
/// The batch is left as it was (it may be published again).
#[no_mangle]
pub unsafe extern "C" fn mega_publisher_publish_batch(
    publisher: *const mega_publisher,
    batch: *const mega_batch,
    out: *mut *mut mega_batch_result,
) -> mega_result {
    guard("mega_publisher_publish_batch", || {
        out_ptr(out, "out")?;
        // SAFETY: live objects or NULL.
        let p = unsafe { arg_ref(publisher, "publisher") }?;
        let b = unsafe { arg_ref(batch, "batch") }?;
        let entries = b
            .entries
            .iter()
            .map(|e| BatchEntry {
                content: e.content.clone(),
                options: crate::trace::with_current(&e.options).into_owned(),
            })
            .collect();
        let results = block_on(p.inner.publish_batch(entries))?;
        let r = mega_batch_result {
            entries: results
                .into_iter()
                .map(|r| r.map_err(Error::from))
                .collect(),
        };
        // SAFETY: checked non-NULL.
        unsafe { write_out(out, Box::into_raw(Box::new(r))) };
        Ok(())
    })
}

/// Frees batch results. `NULL` is a no-op.
#[no_mangle]
pub unsafe extern "C" fn mega_batch_result_free(result: *mut mega_batch_result) {
    if result.is_null() {
        return;
    }
    guard_void(|| {
        // SAFETY: made by `mega_publisher_publish_batch`, given back once.
        drop(unsafe { Box::from_raw(result) });
    });
}

/// The number of entries in batch results (the number of entries published).
#[no_mangle]
pub unsafe extern "C" fn mega_batch_result_len(
    result: *const mega_batch_result,
    out: *mut usize,
) -> mega_result {
    guard("mega_batch_result_len", || {
        out_ptr(out, "out")?;
        // SAFETY: a live object or NULL.
        let r = unsafe { arg_ref(result, "result") }?;
        // SAFETY: checked non-NULL.
        unsafe { write_out(out, r.entries.len()) };
        Ok(())
    })
}

/// The outcome of entry `index`: `MEGA_RESULT_OK` with its message id in `*message_id` (borrowed from
/// `result`), or the entry's own error (`MEGA_RESULT_ENCODE`, `MEGA_RESULT_PUBLISH`, `MEGA_RESULT_SERVICE`…)
/// with its message as the thread's last error. `MEGA_RESULT_NOT_FOUND` past the end.
#[no_mangle]
pub unsafe extern "C" fn mega_batch_result_entry(
    result: *const mega_batch_result,
    index: usize,
    message_id: *mut mega_str,
) -> mega_result {
    guard("mega_batch_result_entry", || {
        out_ptr(message_id, "message_id")?;
        // SAFETY: a live object or NULL.
        let r = unsafe { arg_ref(result, "result") }?;
        let entry = r.entries.get(index).ok_or_else(|| {
            Error::not_found(format!(
                "entry {index} is past the end ({} entries)",
                r.entries.len()
            ))
        })?;
        match entry {
            Ok(p) => {
                // SAFETY: checked non-NULL.
                unsafe { write_out(message_id, mega_str::of(&p.message_id)) };
                Ok(())
            }
            Err(e) => Err(e.clone()),
        }
    })
}
