//! `mega_decoded`: an SQS body decoded (MEGA event, data object, plaintext or binary, SNS envelopes
//! unwrapped), with its payload as a [`mega_value`], as the `mega decode` JSON report, or as BSON.

use std::ffi::c_char;
use std::sync::OnceLock;

use mega_core::codec::{self, Content, DecodeOptions, Decoded};
use mega_core::{bson, json, Value};

use crate::error::*;
use crate::mega_str;
use crate::value::{handle, mega_value};

/// What a body holds.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum mega_kind {
    /// A MEGA event: its payload is the canonical event map (`protocol`, `version`, `event`, `object`…).
    MEGA_KIND_EVENT = 0,
    /// A data object (a map).
    MEGA_KIND_DATA = 1,
    /// Text that is not a JSON object: the payload is a string.
    MEGA_KIND_PLAINTEXT = 2,
    /// Bytes that are not a BSON document: the payload is bytes.
    MEGA_KIND_BINARY = 3,
    /// Nothing: an SNS subscription (or unsubscribe) confirmation. The payload is null.
    MEGA_KIND_EMPTY = 4,
}

pub use mega_kind::*;

pub(crate) fn kind_of(d: &Decoded) -> mega_kind {
    match d.content {
        Content::Mega(_) => MEGA_KIND_EVENT,
        Content::Data(_) => MEGA_KIND_DATA,
        Content::Plaintext(_) => MEGA_KIND_PLAINTEXT,
        Content::Binary(_) => MEGA_KIND_BINARY,
        Content::Empty => MEGA_KIND_EMPTY,
    }
}

/// The payload of plaintext, binary and empty contents as a value (events and data objects have theirs).
pub(crate) fn own_payload(d: &Decoded) -> Option<Value> {
    match &d.content {
        Content::Mega(_) | Content::Data(_) => None,
        Content::Plaintext(s) => Some(Value::String(s.clone())),
        Content::Binary(b) => Some(Value::Bytes(b.clone())),
        Content::Empty => Some(Value::Null),
    }
}

/// Texts derived from a decoded body on first request, kept as long as it.
#[derive(Default)]
pub(crate) struct Derived {
    report: OnceLock<String>,
    payload_json: OnceLock<String>,
    bson: OnceLock<Result<Vec<u8>, String>>,
}

impl Derived {
    pub fn report(&self, d: &Decoded) -> &str {
        self.report
            .get_or_init(|| json::to_tagged_string(&d.to_report()))
    }

    pub fn payload_json(&self, payload: &Value) -> &str {
        self.payload_json
            .get_or_init(|| json::to_tagged_string(payload))
    }

    pub fn bson(&self, payload: &Value) -> Result<&[u8], Error> {
        match self.bson.get_or_init(|| {
            bson::encode(payload).map_err(|e| format!("the payload has no BSON form: {e}"))
        }) {
            Ok(b) => Ok(b),
            Err(e) => Err(Error::wrong_type(e.clone())),
        }
    }
}

/// A decoded body. Made by [`mega_decode`], freed with [`mega_decoded_free`]. Its accessors may be called
/// from any thread, also concurrently.
pub struct mega_decoded {
    decoded: Decoded,
    own: Option<Value>,
    derived: Derived,
}

impl mega_decoded {
    fn new(decoded: Decoded) -> mega_decoded {
        mega_decoded {
            own: own_payload(&decoded),
            decoded,
            derived: Derived::default(),
        }
    }

    pub(crate) fn payload(&self) -> &Value {
        self.own
            .as_ref()
            .or_else(|| self.decoded.value())
            .expect("events and data objects have a value")
    }
}

fn finish(
    result: Result<Decoded, codec::DecodeError>,
    out: *mut *mut mega_decoded,
) -> Result<(), Error> {
    let decoded = result.map_err(Error::from)?;
    // SAFETY: the caller checked `out` non-NULL.
    unsafe { write_out(out, Box::into_raw(Box::new(mega_decoded::new(decoded)))) };
    Ok(())
}

/// Decodes an SQS body (NUL-terminated UTF-8). `encoding` is the value of the message's `mega.encoding`
/// attribute, or NULL when it has none (the body is then recognised: see `docs/payloads.md`). On success
/// `*out` is a new object freed with [`mega_decoded_free`].
///
/// Errors: `MEGA_RESULT_DECODE` with the reason code in [`mega_last_error_detail`] (`json`, `base64`, `bson`,
/// `invalid_event`, `unknown_encoding`, `too_large`…), `MEGA_RESULT_NULL_ARGUMENT`, `MEGA_RESULT_INVALID_UTF8`.
#[no_mangle]
pub unsafe extern "C" fn mega_decode(
    body: *const c_char,
    encoding: *const c_char,
    out: *mut *mut mega_decoded,
) -> mega_result {
    guard("mega_decode", || {
        out_ptr(out, "out")?;
        // SAFETY: NUL-terminated strings or NULL, as the header requires.
        let body = unsafe { arg_str(body, "body") }?;
        let encoding = unsafe { opt_str(encoding, "encoding") }?;
        finish(codec::decode(body, encoding), out)
    })
}

/// [`mega_decode`] for a body given as `len` bytes (which may hold anything: bytes that are not UTF-8 are a
/// `MEGA_RESULT_DECODE` error with detail `invalid_utf8`, as SQS bodies are text).
#[no_mangle]
pub unsafe extern "C" fn mega_decode_bytes(
    body: *const u8,
    len: usize,
    encoding: *const c_char,
    out: *mut *mut mega_decoded,
) -> mega_result {
    guard("mega_decode_bytes", || {
        out_ptr(out, "out")?;
        // SAFETY: `len` readable bytes, as the header requires.
        let body = unsafe { arg_bytes(body, len, "body") }?;
        let encoding = unsafe { opt_str(encoding, "encoding") }?;
        finish(
            codec::decode_bytes(body, encoding, &DecodeOptions::default()),
            out,
        )
    })
}

/// Frees a decoded body and everything borrowed from it. `NULL` is a no-op.
#[no_mangle]
pub unsafe extern "C" fn mega_decoded_free(decoded: *mut mega_decoded) {
    if decoded.is_null() {
        return;
    }
    guard_void(|| {
        // SAFETY: made by `Box::into_raw` in `finish`, given back once.
        drop(unsafe { Box::from_raw(decoded) });
    });
}

/// What the body holds.
#[no_mangle]
pub unsafe extern "C" fn mega_decoded_kind(
    decoded: *const mega_decoded,
    out: *mut mega_kind,
) -> mega_result {
    guard("mega_decoded_kind", || {
        out_ptr(out, "out")?;
        // SAFETY: a live object or NULL.
        let d = unsafe { arg_ref(decoded, "decoded") }?;
        // SAFETY: checked non-NULL.
        unsafe { write_out(out, kind_of(&d.decoded)) };
        Ok(())
    })
}

/// The payload, borrowed from `decoded`: the canonical map of a MEGA event (what patterns match), the data
/// object, the text of plaintext, the bytes of binary, null for an empty body.
#[no_mangle]
pub unsafe extern "C" fn mega_decoded_payload(
    decoded: *const mega_decoded,
    out: *mut *const mega_value,
) -> mega_result {
    guard("mega_decoded_payload", || {
        out_ptr(out, "out")?;
        // SAFETY: a live object or NULL.
        let d = unsafe { arg_ref(decoded, "decoded") }?;
        // SAFETY: checked non-NULL.
        unsafe { write_out(out, handle(d.payload())) };
        Ok(())
    })
}

/// The `mega decode` report, borrowed from `decoded`: compact tagged JSON
/// `{"kind", "encoding", "payload", "sns"}` (see `docs/payloads.md`).
#[no_mangle]
pub unsafe extern "C" fn mega_decoded_json(
    decoded: *const mega_decoded,
    out: *mut mega_str,
) -> mega_result {
    guard("mega_decoded_json", || {
        out_ptr(out, "out")?;
        // SAFETY: a live object or NULL.
        let d = unsafe { arg_ref(decoded, "decoded") }?;
        // SAFETY: checked non-NULL.
        unsafe { write_out(out, mega_str::of(d.derived.report(&d.decoded))) };
        Ok(())
    })
}

/// The payload as compact tagged JSON, borrowed from `decoded`.
#[no_mangle]
pub unsafe extern "C" fn mega_decoded_payload_json(
    decoded: *const mega_decoded,
    out: *mut mega_str,
) -> mega_result {
    guard("mega_decoded_payload_json", || {
        out_ptr(out, "out")?;
        // SAFETY: a live object or NULL.
        let d = unsafe { arg_ref(decoded, "decoded") }?;
        // SAFETY: checked non-NULL.
        unsafe { write_out(out, mega_str::of(d.derived.payload_json(d.payload()))) };
        Ok(())
    })
}

/// The payload as one BSON document, borrowed from `decoded` (`MEGA_RESULT_WRONG_TYPE` for plaintext, binary
/// and empty bodies: BSON documents are maps).
#[no_mangle]
pub unsafe extern "C" fn mega_decoded_payload_bson(
    decoded: *const mega_decoded,
    data: *mut *const u8,
    len: *mut usize,
) -> mega_result {
    guard("mega_decoded_payload_bson", || {
        out_ptr(data, "data")?;
        out_ptr(len, "len")?;
        // SAFETY: a live object or NULL.
        let d = unsafe { arg_ref(decoded, "decoded") }?;
        let b = d.derived.bson(d.payload())?;
        // SAFETY: both checked non-NULL.
        unsafe {
            write_out(data, b.as_ptr());
            write_out(len, b.len());
        }
        Ok(())
    })
}

/// How the payload was encoded (`json`, `bson`, `plaintext`, `binary`), borrowed;
/// `MEGA_RESULT_NOT_FOUND` for SNS confirmations, which hold no payload.
#[no_mangle]
pub unsafe extern "C" fn mega_decoded_encoding(
    decoded: *const mega_decoded,
    out: *mut mega_str,
) -> mega_result {
    guard("mega_decoded_encoding", || {
        out_ptr(out, "out")?;
        // SAFETY: a live object or NULL.
        let d = unsafe { arg_ref(decoded, "decoded") }?;
        let e = d
            .decoded
            .encoding
            .ok_or_else(|| Error::not_found("an SNS confirmation has no payload encoding"))?;
        // SAFETY: checked non-NULL.
        unsafe { write_out(out, mega_str::of(e.as_str())) };
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ptr;

    fn text(s: mega_str) -> String {
        // SAFETY: a borrowed string of the library, alive during the test.
        String::from_utf8(
            unsafe { std::slice::from_raw_parts(s.data.cast::<u8>(), s.len) }.to_vec(),
        )
        .unwrap()
    }

    #[test]
    fn decodes_a_data_object_and_reports_it() {
        let mut d = ptr::null_mut();
        unsafe {
            assert_eq!(
                mega_decode(c"{\"a\": 1}".as_ptr(), ptr::null(), &mut d),
                MEGA_RESULT_OK
            );
            let mut k = MEGA_KIND_EMPTY;
            assert_eq!(mega_decoded_kind(d, &mut k), MEGA_RESULT_OK);
            assert_eq!(k, MEGA_KIND_DATA);
            let mut s = mega_str {
                data: ptr::null(),
                len: 0,
            };
            assert_eq!(mega_decoded_json(d, &mut s), MEGA_RESULT_OK);
            assert_eq!(
                text(s),
                r#"{"kind":"data","encoding":"json","payload":{"a":1},"sns":null}"#
            );
            let (mut b, mut n) = (ptr::null(), 0);
            assert_eq!(mega_decoded_payload_bson(d, &mut b, &mut n), MEGA_RESULT_OK);
            assert_eq!(n, 12, "int32 document of one key");
            mega_decoded_free(d);
        }
    }

    #[test]
    fn decode_errors_carry_their_reason_code() {
        let mut d = ptr::null_mut();
        unsafe {
            assert_eq!(
                mega_decode(c"{\"a\": ".as_ptr(), c"json".as_ptr(), &mut d),
                MEGA_RESULT_DECODE
            );
            assert!(d.is_null());
            let detail = std::ffi::CStr::from_ptr(mega_last_error_detail())
                .to_str()
                .unwrap();
            assert_eq!(detail, "json");
            assert_eq!(
                mega_decode_bytes(b"ab\xff".as_ptr(), 3, ptr::null(), &mut d),
                MEGA_RESULT_DECODE
            );
            let detail = std::ffi::CStr::from_ptr(mega_last_error_detail())
                .to_str()
                .unwrap();
            assert_eq!(detail, "invalid_utf8");
        }
    }
}
