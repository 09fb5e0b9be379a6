//! `mega_value`: a payload value (the value model of the core: maps, lists, strings, numbers, decimals,
//! date-times, bytes) read from C without a JSON library.

use std::ffi::c_char;

use mega_core::{json, Value};

use crate::error::*;
use crate::{mega_str, owned_string};

/// A payload value. Either owned (from [`mega_value_parse_json`]; free it with [`mega_value_free`]) or
/// borrowed from the object that holds it (a decoded body, a message, another value): a borrowed value must
/// not be freed and dies with its owner.
pub struct mega_value {
    _private: [u8; 0],
}

/// The kind of a [`mega_value`].
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum mega_value_kind {
    MEGA_VALUE_NULL = 0,
    MEGA_VALUE_BOOL = 1,
    /// A 64-bit signed integer.
    MEGA_VALUE_INT = 2,
    /// A 64-bit float.
    MEGA_VALUE_FLOAT = 3,
    /// An exact decimal (BSON Decimal128, or a JSON integer beyond 64 bits).
    MEGA_VALUE_DECIMAL = 4,
    MEGA_VALUE_STRING = 5,
    /// A UTC date-time (BSON datetime).
    MEGA_VALUE_DATETIME = 6,
    /// Bytes (BSON binary).
    MEGA_VALUE_BYTES = 7,
    MEGA_VALUE_LIST = 8,
    /// A map with string keys, in insertion order.
    MEGA_VALUE_MAP = 9,
}

pub use mega_value_kind::*;

/// The `*const mega_value` of a value the library holds.
pub(crate) fn handle(v: &Value) -> *const mega_value {
    (v as *const Value).cast()
}

/// The value behind a handle.
///
/// # Safety
/// `p` is NULL or a handle given out by this library whose owner is alive.
pub(crate) unsafe fn value_arg<'a>(p: *const mega_value, name: &str) -> Result<&'a Value, Error> {
    if p.is_null() {
        return Err(Error::null(name));
    }
    // SAFETY: every `mega_value` pointer the library hands out is a `Value` pointer (see `handle`).
    Ok(unsafe { &*p.cast::<Value>() })
}

pub(crate) fn parse_json(text: &str, tagged: bool, name: &str) -> Result<Value, Error> {
    let plain = json::parse(text)
        .map_err(|e| Error::from(e).context(format_args!("`{name}` is not valid JSON")))?;
    if tagged {
        json::from_tagged(plain)
            .map_err(|e| Error::from(e).context(format_args!("`{name}` is not valid tagged JSON")))
    } else {
        Ok(plain)
    }
}

pub(crate) fn to_json(v: &Value, tagged: bool) -> Result<String, Error> {
    if tagged {
        Ok(json::to_tagged_string(v))
    } else {
        json::to_string(v).map_err(|e| {
            Error::wrong_type(format!(
                "the value has no plain JSON form ({e}); ask for tagged JSON"
            ))
        })
    }
}

/// Parses JSON text into a new value. With `tagged`, the tags of `docs/payloads.md` are read
/// (`{"$datetime": "…"}`, `{"$bytes": "…"}`, `{"$decimal": "…"}`, `{"$float": …}`); without, the text is
/// plain JSON. On success `*out` is a new value the caller frees with [`mega_value_free`].
///
/// Errors: `MEGA_RESULT_JSON` (the message gives line and column), `MEGA_RESULT_NULL_ARGUMENT`,
/// `MEGA_RESULT_INVALID_UTF8`.
#[no_mangle]
pub unsafe extern "C" fn mega_value_parse_json(
    text: *const c_char,
    tagged: bool,
    out: *mut *mut mega_value,
) -> mega_result {
    guard("mega_value_parse_json", || {
        out_ptr(out, "out")?;
        // SAFETY: C passes a NUL-terminated string or NULL.
        let text = unsafe { arg_str(text, "text") }?;
        let value = parse_json(text, tagged, "text")?;
        // SAFETY: checked non-NULL.
        unsafe { write_out(out, Box::into_raw(Box::new(value)).cast()) };
        Ok(())
    })
}

/// Checks a MEGA event given as tagged JSON (its map form, `docs/payloads.md`) against the protocol. On
/// success `*out` is its canonical form (tagged JSON: header first, the timestamp a date-time, empty fields
/// omitted), a new string freed with [`mega_string_free`](crate::mega_string_free).
///
/// Errors: `MEGA_RESULT_JSON`, `MEGA_RESULT_INVALID_ARGUMENT` (stable code `event.invalid`; the message names
/// the section and field: `event.name is missing`), `MEGA_RESULT_NULL_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn mega_event_validate(
    tagged_json: *const c_char,
    out: *mut *mut c_char,
) -> mega_result {
    guard("mega_event_validate", || {
        out_ptr(out, "out")?;
        // SAFETY: C passes a NUL-terminated string or NULL.
        let text = unsafe { arg_str(tagged_json, "tagged_json") }?;
        let map = match parse_json(text, true, "tagged_json")? {
            Value::Map(m) => m,
            other => {
                return Err(Error::invalid(format!(
                    "a MEGA event is a map, not a {}",
                    other.kind()
                )))
            }
        };
        let payload = mega_core::event::Payload::from_map(&map).map_err(Error::from)?;
        let canonical = owned_string(json::to_tagged_string(&payload.to_value()))?;
        // SAFETY: checked non-NULL.
        unsafe { write_out(out, canonical) };
        Ok(())
    })
}

/// Frees a value made by [`mega_value_parse_json`]. `NULL` is a no-op. Never free a borrowed value.
#[no_mangle]
pub unsafe extern "C" fn mega_value_free(value: *mut mega_value) {
    if value.is_null() {
        return;
    }
    guard_void(|| {
        // SAFETY: owned values are `Box<Value>` made by `mega_value_parse_json`.
        drop(unsafe { Box::from_raw(value.cast::<Value>()) });
    });
}

/// The kind of a value.
#[no_mangle]
pub unsafe extern "C" fn mega_value_kind_of(
    value: *const mega_value,
    out: *mut mega_value_kind,
) -> mega_result {
    guard("mega_value_kind_of", || {
        out_ptr(out, "out")?;
        // SAFETY: a handle from this library or NULL.
        let v = unsafe { value_arg(value, "value") }?;
        let kind = match v {
            Value::Null => MEGA_VALUE_NULL,
            Value::Bool(_) => MEGA_VALUE_BOOL,
            Value::Int(_) => MEGA_VALUE_INT,
            Value::Float(_) => MEGA_VALUE_FLOAT,
            Value::Decimal(_) => MEGA_VALUE_DECIMAL,
            Value::String(_) => MEGA_VALUE_STRING,
            Value::DateTime(_) => MEGA_VALUE_DATETIME,
            Value::Bytes(_) => MEGA_VALUE_BYTES,
            Value::List(_) => MEGA_VALUE_LIST,
            Value::Map(_) => MEGA_VALUE_MAP,
        };
        // SAFETY: checked non-NULL.
        unsafe { write_out(out, kind) };
        Ok(())
    })
}

/// The number of entries of a map, elements of a list, or bytes of a string or of bytes.
/// `MEGA_RESULT_WRONG_TYPE` for other kinds.
#[no_mangle]
pub unsafe extern "C" fn mega_value_len(value: *const mega_value, out: *mut usize) -> mega_result {
    guard("mega_value_len", || {
        out_ptr(out, "out")?;
        // SAFETY: a handle from this library or NULL.
        let v = unsafe { value_arg(value, "value") }?;
        let len = match v {
            Value::Map(m) => m.len(),
            Value::List(l) => l.len(),
            Value::String(s) => s.len(),
            Value::Bytes(b) => b.len(),
            other => {
                return Err(Error::wrong_type(format!(
                    "a {} has no length (maps, lists, strings and bytes do)",
                    other.kind()
                )))
            }
        };
        // SAFETY: checked non-NULL.
        unsafe { write_out(out, len) };
        Ok(())
    })
}

/// The value at `key` in a map, borrowed from `value`. `MEGA_RESULT_NOT_FOUND` when the map has no such
/// key, `MEGA_RESULT_WRONG_TYPE` when `value` is not a map.
#[no_mangle]
pub unsafe extern "C" fn mega_value_get(
    value: *const mega_value,
    key: *const c_char,
    out: *mut *const mega_value,
) -> mega_result {
    guard("mega_value_get", || {
        out_ptr(out, "out")?;
        // SAFETY: a handle from this library or NULL; a NUL-terminated key or NULL.
        let v = unsafe { value_arg(value, "value") }?;
        let key = unsafe { arg_str(key, "key") }?;
        let Value::Map(m) = v else {
            return Err(Error::wrong_type(format!(
                "cannot look up `{key}` in a {} (only maps have keys)",
                v.kind()
            )));
        };
        let found = m
            .get(key)
            .ok_or_else(|| Error::not_found(format!("the map has no key `{key}`")))?;
        // SAFETY: checked non-NULL.
        unsafe { write_out(out, handle(found)) };
        Ok(())
    })
}

fn entry_at(v: &Value, index: usize) -> Result<(Option<&str>, &Value), Error> {
    let len = match v {
        Value::List(l) => l.len(),
        Value::Map(m) => m.len(),
        other => {
            return Err(Error::wrong_type(format!(
                "cannot index a {} (only lists and maps)",
                other.kind()
            )))
        }
    };
    if index >= len {
        return Err(Error::not_found(format!(
            "index {index} is past the end ({len} elements)"
        )));
    }
    Ok(match v {
        Value::List(l) => (None, &l[index]),
        Value::Map(m) => {
            let (k, v) = m.get_index(index).expect("index checked");
            (Some(k.as_str()), v)
        }
        _ => unreachable!("kinds checked above"),
    })
}

/// The element at `index` of a list, or the value of the `index`-th entry of a map (maps keep their order),
/// borrowed from `value`. `MEGA_RESULT_NOT_FOUND` past the end.
#[no_mangle]
pub unsafe extern "C" fn mega_value_at(
    value: *const mega_value,
    index: usize,
    out: *mut *const mega_value,
) -> mega_result {
    guard("mega_value_at", || {
        out_ptr(out, "out")?;
        // SAFETY: a handle from this library or NULL.
        let v = unsafe { value_arg(value, "value") }?;
        let (_, found) = entry_at(v, index)?;
        // SAFETY: checked non-NULL.
        unsafe { write_out(out, handle(found)) };
        Ok(())
    })
}

/// The key of the `index`-th entry of a map, borrowed from `value`. `MEGA_RESULT_WRONG_TYPE` for a list.
#[no_mangle]
pub unsafe extern "C" fn mega_value_key_at(
    value: *const mega_value,
    index: usize,
    out: *mut mega_str,
) -> mega_result {
    guard("mega_value_key_at", || {
        out_ptr(out, "out")?;
        // SAFETY: a handle from this library or NULL.
        let v = unsafe { value_arg(value, "value") }?;
        match entry_at(v, index)? {
            (Some(k), _) => {
                // SAFETY: checked non-NULL.
                unsafe { write_out(out, mega_str::of(k)) };
                Ok(())
            }
            (None, _) => Err(Error::wrong_type("a list has no keys")),
        }
    })
}

/// The body of the scalar accessors: reads `value` with `read`, or says it is not `what`.
fn read_scalar<T>(
    function: &str,
    value: *const mega_value,
    out: *mut T,
    what: &str,
    read: impl FnOnce(&Value) -> Option<T>,
) -> mega_result {
    guard(function, || {
        out_ptr(out, "out")?;
        // SAFETY: a handle from this library or NULL.
        let v = unsafe { value_arg(value, "value") }?;
        let x = read(v)
            .ok_or_else(|| Error::wrong_type(format!("the value is a {}, not {what}", v.kind())))?;
        // SAFETY: checked non-NULL.
        unsafe { write_out(out, x) };
        Ok(())
    })
}

/// A boolean.
#[no_mangle]
pub unsafe extern "C" fn mega_value_bool(value: *const mega_value, out: *mut bool) -> mega_result {
    read_scalar("mega_value_bool", value, out, "a boolean", |v| match v {
        Value::Bool(b) => Some(*b),
        _ => None,
    })
}

/// A 64-bit integer (`MEGA_VALUE_INT` only: floats and decimals are not rounded silently).
#[no_mangle]
pub unsafe extern "C" fn mega_value_int(value: *const mega_value, out: *mut i64) -> mega_result {
    read_scalar("mega_value_int", value, out, "an integer", |v| match v {
        Value::Int(i) => Some(*i),
        _ => None,
    })
}

/// Any number as a double: floats, integers (rounded beyond 2^53) and decimals (rounded).
#[no_mangle]
pub unsafe extern "C" fn mega_value_double(value: *const mega_value, out: *mut f64) -> mega_result {
    read_scalar("mega_value_double", value, out, "a number", Value::as_f64)
}

/// A date-time as milliseconds since 1970-01-01T00:00:00Z (sub-millisecond digits are dropped).
#[no_mangle]
pub unsafe extern "C" fn mega_value_datetime_ms(
    value: *const mega_value,
    out: *mut i64,
) -> mega_result {
    read_scalar(
        "mega_value_datetime_ms",
        value,
        out,
        "a date-time",
        |v| match v {
            Value::DateTime(d) => Some(d.timestamp_millis()),
            _ => None,
        },
    )
}

/// A string, borrowed from `value`.
#[no_mangle]
pub unsafe extern "C" fn mega_value_string(
    value: *const mega_value,
    out: *mut mega_str,
) -> mega_result {
    read_scalar("mega_value_string", value, out, "a string", |v| match v {
        Value::String(s) => Some(mega_str::of(s)),
        _ => None,
    })
}

/// An exact decimal as its canonical text (`"12.50"`, `"NaN"`), borrowed from `value`.
#[no_mangle]
pub unsafe extern "C" fn mega_value_decimal(
    value: *const mega_value,
    out: *mut mega_str,
) -> mega_result {
    read_scalar("mega_value_decimal", value, out, "a decimal", |v| match v {
        Value::Decimal(d) => Some(mega_str::of(d.as_str())),
        _ => None,
    })
}

/// Bytes, borrowed from `value`: `*data` and `*len` (`*data` may be NULL when `*len` is 0).
#[no_mangle]
pub unsafe extern "C" fn mega_value_bytes(
    value: *const mega_value,
    data: *mut *const u8,
    len: *mut usize,
) -> mega_result {
    guard("mega_value_bytes", || {
        out_ptr(data, "data")?;
        out_ptr(len, "len")?;
        // SAFETY: a handle from this library or NULL.
        let v = unsafe { value_arg(value, "value") }?;
        let Value::Bytes(b) = v else {
            return Err(Error::wrong_type(format!(
                "the value is a {}, not bytes",
                v.kind()
            )));
        };
        // SAFETY: both checked non-NULL.
        unsafe {
            write_out(data, b.as_ptr());
            write_out(len, b.len());
        }
        Ok(())
    })
}

/// The value as JSON text: tagged (every value has a form: `{"$datetime": …}`, `{"$bytes": …}`…) or plain
/// (`MEGA_RESULT_WRONG_TYPE` when the value holds what plain JSON cannot say, such as bytes or NaN). On success
/// `*out` is a new string freed with [`mega_string_free`](crate::mega_string_free).
#[no_mangle]
pub unsafe extern "C" fn mega_value_to_json(
    value: *const mega_value,
    tagged: bool,
    out: *mut *mut c_char,
) -> mega_result {
    guard("mega_value_to_json", || {
        out_ptr(out, "out")?;
        // SAFETY: a handle from this library or NULL.
        let v = unsafe { value_arg(value, "value") }?;
        let text = owned_string(to_json(v, tagged)?)?;
        // SAFETY: checked non-NULL.
        unsafe { write_out(out, text) };
        Ok(())
    })
}

/// Whether two values are equal as patterns compare them: numbers by value across kinds (`1` equals `1.0`),
/// maps regardless of key order, everything else by kind and content.
#[no_mangle]
pub unsafe extern "C" fn mega_value_equal(
    a: *const mega_value,
    b: *const mega_value,
    out: *mut bool,
) -> mega_result {
    guard("mega_value_equal", || {
        out_ptr(out, "out")?;
        // SAFETY: handles from this library or NULL.
        let (a, b) = unsafe { (value_arg(a, "a")?, value_arg(b, "b")?) };
        // SAFETY: checked non-NULL.
        unsafe { write_out(out, a == b) };
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ptr;

    fn parse(text: &std::ffi::CStr, tagged: bool) -> *mut mega_value {
        let mut v = ptr::null_mut();
        // SAFETY: a C string literal and a valid out pointer.
        assert_eq!(
            unsafe { mega_value_parse_json(text.as_ptr(), tagged, &mut v) },
            MEGA_RESULT_OK
        );
        v
    }

    #[test]
    fn navigates_maps_lists_and_scalars() {
        let v = parse(
            c"{\"a\": [1, 2.5, \"x\"], \"b\": {\"$bytes\": \"AAE=\"}}",
            true,
        );
        unsafe {
            let mut a = ptr::null();
            assert_eq!(mega_value_get(v, c"a".as_ptr(), &mut a), MEGA_RESULT_OK);
            let mut len = 0;
            assert_eq!(mega_value_len(a, &mut len), MEGA_RESULT_OK);
            assert_eq!(len, 3);
            let mut e = ptr::null();
            assert_eq!(mega_value_at(a, 0, &mut e), MEGA_RESULT_OK);
            let mut i = 0i64;
            assert_eq!(mega_value_int(e, &mut i), MEGA_RESULT_OK);
            assert_eq!(i, 1);
            assert_eq!(mega_value_at(a, 1, &mut e), MEGA_RESULT_OK);
            // A float is not read as an integer.
            let mut untouched = 77i64;
            assert_eq!(mega_value_int(e, &mut untouched), MEGA_RESULT_WRONG_TYPE);
            assert_eq!(untouched, 77, "out-parameters are written only on success");
            assert_eq!(mega_value_at(a, 3, &mut e), MEGA_RESULT_NOT_FOUND);
            let mut b = ptr::null();
            assert_eq!(mega_value_get(v, c"b".as_ptr(), &mut b), MEGA_RESULT_OK);
            let (mut data, mut n) = (ptr::null(), 0usize);
            assert_eq!(mega_value_bytes(b, &mut data, &mut n), MEGA_RESULT_OK);
            assert_eq!(std::slice::from_raw_parts(data, n), &[0u8, 1]);
            let mut key = mega_str {
                data: ptr::null(),
                len: 0,
            };
            assert_eq!(mega_value_key_at(v, 1, &mut key), MEGA_RESULT_OK);
            assert_eq!(
                std::slice::from_raw_parts(key.data.cast::<u8>(), key.len),
                b"b"
            );
            let mut missing = ptr::null();
            assert_eq!(
                mega_value_get(v, c"zz".as_ptr(), &mut missing),
                MEGA_RESULT_NOT_FOUND
            );
            assert!(missing.is_null());
            // Plain JSON cannot hold bytes; tagged JSON can.
            let mut text = ptr::null_mut();
            assert_eq!(
                mega_value_to_json(v, false, &mut text),
                MEGA_RESULT_WRONG_TYPE
            );
            assert_eq!(mega_value_to_json(v, true, &mut text), MEGA_RESULT_OK);
            let s = std::ffi::CStr::from_ptr(text).to_str().unwrap().to_owned();
            crate::mega_string_free(text);
            assert_eq!(s, r#"{"a":[1,2.5,"x"],"b":{"$bytes":"AAE="}}"#);
            mega_value_free(v);
        }
    }

    #[test]
    fn bad_json_and_null_arguments_are_codes() {
        let mut v = ptr::null_mut();
        unsafe {
            assert_eq!(
                mega_value_parse_json(c"{\"a\": ".as_ptr(), false, &mut v),
                MEGA_RESULT_JSON
            );
            assert!(v.is_null());
            assert_eq!(
                mega_value_parse_json(ptr::null(), false, &mut v),
                MEGA_RESULT_NULL_ARGUMENT
            );
            assert_eq!(
                mega_value_parse_json(c"{}".as_ptr(), false, ptr::null_mut()),
                MEGA_RESULT_NULL_ARGUMENT
            );
            let mut k = MEGA_VALUE_NULL;
            assert_eq!(
                mega_value_kind_of(ptr::null(), &mut k),
                MEGA_RESULT_NULL_ARGUMENT
            );
            mega_value_free(ptr::null_mut());
        }
    }
}
