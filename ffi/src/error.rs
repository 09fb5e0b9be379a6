//! Result codes, the thread-local last error, the panic boundary and argument checks.

use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use mega_core::error::{Family, MegaError};

/// What a call did. `MEGA_RESULT_OK` is 0; every other code is a failure whose message
/// [`mega_last_error_message`] gives. Codes are never renumbered or reused: a retired code stays retired.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum mega_result {
    /// Success.
    MEGA_RESULT_OK = 0,
    /// A required pointer argument was NULL (the message names it).
    MEGA_RESULT_NULL_ARGUMENT = 1,
    /// A string argument was not valid UTF-8 (the message names it and the offset of the first bad byte).
    MEGA_RESULT_INVALID_UTF8 = 2,
    /// An argument was out of range or not one of the values allowed (the message says which).
    MEGA_RESULT_INVALID_ARGUMENT = 3,
    /// The library panicked: a bug. The call had no effect that can be relied on; please report it.
    MEGA_RESULT_PANIC = 4,
    /// A body could not be decoded. [`mega_last_error_detail`] gives the stable reason code (`json`,
    /// `base64`, `invalid_event`…, as in `docs/payloads.md`).
    MEGA_RESULT_DECODE = 5,
    /// A payload could not be encoded (too large, characters SQS refuses, not a JSON object…).
    MEGA_RESULT_ENCODE = 6,
    /// A pattern could not be compiled. [`mega_last_error_detail`] gives the JSON pointer of the problem
    /// inside the pattern (`/user/id/$gt`).
    MEGA_RESULT_PATTERN = 7,
    /// What was asked for is not there: a missing key, an index past the end, an absent attribute, a message
    /// that did not come through SNS.
    MEGA_RESULT_NOT_FOUND = 8,
    /// A value is not of the kind the accessor reads (an integer read from a string…).
    MEGA_RESULT_WRONG_TYPE = 9,
    /// A message (or a batch entry) was refused before or by the service. For a service error,
    /// [`mega_last_error_detail`] gives the service's error code.
    MEGA_RESULT_PUBLISH = 10,
    /// A call to SQS or SNS failed (network, credentials, a queue that does not exist…).
    /// [`mega_last_error_detail`] gives the service's error code when it sent one.
    MEGA_RESULT_SERVICE = 11,
    /// The listener could not start or had to stop (configuration, duplicate subscriber, queue error).
    MEGA_RESULT_LISTENER = 12,
    /// The embedded endpoint could not start (address in use…).
    MEGA_RESULT_ENDPOINT = 13,
    /// The object is in use: `mega_listener_run` while the same listener is running.
    MEGA_RESULT_BUSY = 14,
    /// Text that should be JSON is not (the message gives line, column and what was expected).
    MEGA_RESULT_JSON = 15,
}

pub use mega_result::*;

/// An error on its way to C: its code, its message, a stable detail (reason code, pattern path, service
/// error code) or nothing, and the core's stable error code (`docs/errors.md`) when it came from the core.
#[derive(Debug, Clone)]
pub(crate) struct Error {
    pub code: mega_result,
    pub message: String,
    pub detail: Option<String>,
    pub stable: Option<&'static str>,
}

/// The result code of a family of the core's error table: the one place where the C ABI's codes come from.
pub(crate) fn result_of(family: Family) -> mega_result {
    const ALL: [mega_result; 16] = [
        MEGA_RESULT_OK,
        MEGA_RESULT_NULL_ARGUMENT,
        MEGA_RESULT_INVALID_UTF8,
        MEGA_RESULT_INVALID_ARGUMENT,
        MEGA_RESULT_PANIC,
        MEGA_RESULT_DECODE,
        MEGA_RESULT_ENCODE,
        MEGA_RESULT_PATTERN,
        MEGA_RESULT_NOT_FOUND,
        MEGA_RESULT_WRONG_TYPE,
        MEGA_RESULT_PUBLISH,
        MEGA_RESULT_SERVICE,
        MEGA_RESULT_LISTENER,
        MEGA_RESULT_ENDPOINT,
        MEGA_RESULT_BUSY,
        MEGA_RESULT_JSON,
    ];
    ALL.into_iter()
        .find(|&r| r as u32 == family.c_result())
        .unwrap_or(MEGA_RESULT_PANIC)
}

impl<E: MegaError> From<E> for Error {
    fn from(e: E) -> Error {
        Error {
            code: result_of(e.family()),
            message: e.to_string(),
            detail: e.detail(),
            stable: Some(e.code()),
        }
    }
}

impl Error {
    pub fn new(code: mega_result, message: impl Into<String>) -> Error {
        Error {
            code,
            message: message.into(),
            detail: None,
            stable: None,
        }
    }

    /// The message prefixed with what it is about (an argument's name).
    pub fn context(mut self, what: impl std::fmt::Display) -> Error {
        self.message = format!("{what}: {}", self.message);
        self
    }

    pub fn invalid(message: impl Into<String>) -> Error {
        Error::new(MEGA_RESULT_INVALID_ARGUMENT, message)
    }

    pub fn null(name: &str) -> Error {
        Error::new(MEGA_RESULT_NULL_ARGUMENT, format!("`{name}` is NULL"))
    }

    pub fn not_found(message: impl Into<String>) -> Error {
        Error::new(MEGA_RESULT_NOT_FOUND, message)
    }

    pub fn wrong_type(message: impl Into<String>) -> Error {
        Error::new(MEGA_RESULT_WRONG_TYPE, message)
    }
}

struct LastError {
    code: mega_result,
    message: CString,
    detail: CString,
    stable: CString,
}

thread_local! {
    static LAST_ERROR: RefCell<Option<LastError>> = const { RefCell::new(None) };
}

fn c_text(s: String) -> CString {
    CString::new(s).unwrap_or_else(|e| {
        let mut bytes = e.into_vec();
        bytes.retain(|&b| b != 0);
        CString::new(bytes).unwrap_or_default()
    })
}

pub(crate) fn set_last_error(e: Error) -> mega_result {
    let code = e.code;
    let _ = LAST_ERROR.try_with(|cell| {
        *cell.borrow_mut() = Some(LastError {
            code,
            message: c_text(e.message),
            detail: c_text(e.detail.unwrap_or_default()),
            stable: c_text(
                e.stable
                    .map(str::to_owned)
                    .unwrap_or_else(|| result_token(code)),
            ),
        });
    });
    code
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

/// The panic boundary every exported function runs in: a result becomes its code (an error is recorded as
/// the thread's last error), a panic becomes `MEGA_RESULT_PANIC`.
pub(crate) fn guard(function: &str, body: impl FnOnce() -> Result<(), Error>) -> mega_result {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => MEGA_RESULT_OK,
        Ok(Err(e)) => set_last_error(e),
        Err(panic) => set_last_error(Error::new(
            MEGA_RESULT_PANIC,
            format!(
                "{function} panicked (a bug in sqs-mega, please report it): {}",
                panic_text(&*panic)
            ),
        )),
    }
}

/// The panic boundary of functions that return nothing (`_free`, `_stop`): a panic is swallowed.
pub(crate) fn guard_void(body: impl FnOnce()) {
    let _ = catch_unwind(AssertUnwindSafe(body));
}

/// Reads a required NUL-terminated UTF-8 argument.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that lives for `'a`.
pub(crate) unsafe fn arg_str<'a>(p: *const c_char, name: &str) -> Result<&'a str, Error> {
    if p.is_null() {
        return Err(Error::null(name));
    }
    // SAFETY: non-NULL, and the caller promises a NUL-terminated string.
    let bytes = unsafe { CStr::from_ptr(p) }.to_bytes();
    std::str::from_utf8(bytes).map_err(|e| {
        Error::new(
            MEGA_RESULT_INVALID_UTF8,
            format!(
                "`{name}` is not valid UTF-8 (first invalid byte at offset {})",
                e.valid_up_to()
            ),
        )
    })
}

/// Reads an optional NUL-terminated UTF-8 argument (NULL is `None`).
///
/// # Safety
/// As [`arg_str`].
pub(crate) unsafe fn opt_str<'a>(p: *const c_char, name: &str) -> Result<Option<&'a str>, Error> {
    if p.is_null() {
        Ok(None)
    } else {
        // SAFETY: forwarded contract.
        unsafe { arg_str(p, name) }.map(Some)
    }
}

/// Borrows a required object argument.
///
/// # Safety
/// `p` is NULL or points to a live `T` for `'a`.
pub(crate) unsafe fn arg_ref<'a, T>(p: *const T, name: &str) -> Result<&'a T, Error> {
    // SAFETY: the caller promises a live object when non-NULL.
    unsafe { p.as_ref() }.ok_or_else(|| Error::null(name))
}

/// Borrows a required object argument mutably.
///
/// # Safety
/// `p` is NULL or points to a live `T` not used elsewhere during the call.
pub(crate) unsafe fn arg_mut<'a, T>(p: *mut T, name: &str) -> Result<&'a mut T, Error> {
    // SAFETY: the caller promises a live, unshared object when non-NULL.
    unsafe { p.as_mut() }.ok_or_else(|| Error::null(name))
}

/// Checks that an out-parameter is not NULL (before any work, so nothing is done for nothing).
pub(crate) fn out_ptr<T>(p: *mut T, name: &str) -> Result<(), Error> {
    if p.is_null() {
        Err(Error::null(name))
    } else {
        Ok(())
    }
}

/// Writes an out-parameter (checked non-NULL by [`out_ptr`] first).
///
/// # Safety
/// `p` is non-NULL and valid for writes of `T`.
pub(crate) unsafe fn write_out<T>(p: *mut T, value: T) {
    // SAFETY: forwarded contract.
    unsafe { p.write(value) }
}

/// Reads a byte buffer argument (`len` 0 with a NULL pointer is the empty buffer).
///
/// # Safety
/// `p` is NULL or valid for reads of `len` bytes for `'a`.
pub(crate) unsafe fn arg_bytes<'a>(
    p: *const u8,
    len: usize,
    name: &str,
) -> Result<&'a [u8], Error> {
    if p.is_null() {
        if len == 0 {
            return Ok(&[]);
        }
        return Err(Error::null(name));
    }
    // SAFETY: the caller promises `len` readable bytes.
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// The message of the last failing call on this thread (`""` when none failed). The string belongs to the
/// library and stays valid until the next failing call on this thread.
#[no_mangle]
pub extern "C" fn mega_last_error_message() -> *const c_char {
    // `try_with`: during a thread's exit the thread-local may be gone; that is "no error", not a panic.
    LAST_ERROR
        .try_with(|cell| match &*cell.borrow() {
            Some(e) => e.message.as_ptr(),
            None => c"".as_ptr(),
        })
        .unwrap_or(c"".as_ptr())
}

/// The code of the last failing call on this thread (`MEGA_RESULT_OK` when none failed).
#[no_mangle]
pub extern "C" fn mega_last_error_code() -> mega_result {
    LAST_ERROR
        .try_with(|cell| cell.borrow().as_ref().map_or(MEGA_RESULT_OK, |e| e.code))
        .unwrap_or(MEGA_RESULT_OK)
}

/// A stable, machine-readable detail of the last failing call on this thread, `""` when it has none:
/// the reason code of a decode error (`invalid_event`), the JSON pointer of a pattern error (`/a/$gt`), the
/// service's error code of a service or publish error (`AWS.SimpleQueueService.NonExistentQueue`). Valid until
/// the next failing call on this thread.
#[no_mangle]
pub extern "C" fn mega_last_error_detail() -> *const c_char {
    LAST_ERROR
        .try_with(|cell| match &*cell.borrow() {
            Some(e) => e.detail.as_ptr(),
            None => c"".as_ptr(),
        })
        .unwrap_or(c"".as_ptr())
}

/// The stable code of the last error of this thread (`decode.base64`, `pattern.invalid`,
/// `service.unavailable`…: the table of `docs/errors.md`, the same in every language), or for errors of the
/// C ABI itself its result in lower case (`null_argument`, `invalid_utf8`, `not_found`…); "" when there was
/// none. Borrowed, as [`mega_last_error_message`].
#[no_mangle]
pub extern "C" fn mega_last_error_code_name() -> *const c_char {
    LAST_ERROR
        .try_with(|cell| match &*cell.borrow() {
            Some(e) => e.stable.as_ptr(),
            None => c"".as_ptr(),
        })
        .unwrap_or(c"".as_ptr())
}

/// The exception class a binding raises for the last error of this thread (`DecodeError`,
/// `InvalidArgumentError`…: `Family::exception` of the core's table, so every language names it alike) and
/// its category (`bad_input`, `configuration`, `transient`, `service`, `internal`). Errors of the C ABI
/// itself are `InvalidArgumentError` / `bad_input`, a panic `MegaError` / `internal`; "" when there was none.
/// Static strings: never freed. `category` may be NULL.
///
/// # Safety
/// `category` is NULL or points to writable storage for one pointer.
#[no_mangle]
pub unsafe extern "C" fn mega_last_error_class(category: *mut *const c_char) -> *const c_char {
    let (class, cat): (&'static CStr, &'static CStr) = LAST_ERROR
        .try_with(|cell| match &*cell.borrow() {
            None => (c"", c""),
            Some(e) => match mega_core::error::lookup(e.stable.to_str().unwrap_or("")) {
                Some(info) => (family_class(info.family), category_name(info.category)),
                None if e.code == MEGA_RESULT_PANIC => (c"MegaError", c"internal"),
                None => (c"InvalidArgumentError", c"bad_input"),
            },
        })
        .unwrap_or((c"", c""));
    if !category.is_null() {
        // SAFETY: the caller's out-pointer, checked for NULL.
        unsafe { *category = cat.as_ptr() };
    }
    class.as_ptr()
}

fn family_class(f: mega_core::Family) -> &'static CStr {
    use mega_core::Family::*;
    match f {
        Json => c"JsonError",
        Decode => c"DecodeError",
        Encode => c"EncodeError",
        Pattern => c"PatternError",
        InvalidArgument => c"InvalidArgumentError",
        Publish => c"PublishError",
        Service => c"ServiceError",
        Listener => c"ListenerError",
        Busy => c"BusyError",
        Handler => c"HandlerError",
        _ => c"MegaError",
    }
}

fn category_name(c: mega_core::Category) -> &'static CStr {
    use mega_core::Category::*;
    match c {
        BadInput => c"bad_input",
        Configuration => c"configuration",
        Transient => c"transient",
        Service => c"service",
        Internal => c"internal",
        _ => c"internal",
    }
}

/// `MEGA_RESULT_NULL_ARGUMENT` as `null_argument`.
fn result_token(code: mega_result) -> String {
    // SAFETY: a static NUL-terminated name.
    let name = unsafe { CStr::from_ptr(mega_result_name(code as u32)) };
    name.to_string_lossy()
        .trim_start_matches("MEGA_RESULT_")
        .to_ascii_lowercase()
}

/// Forgets the last error of this thread.
#[no_mangle]
pub extern "C" fn mega_last_error_clear() {
    guard_void(|| {
        let _ = LAST_ERROR.try_with(|cell| *cell.borrow_mut() = None);
    });
}

/// The name of a result code (`"MEGA_RESULT_NOT_FOUND"`), a static string; `"MEGA_RESULT_UNKNOWN"` for a
/// number that is no code.
#[no_mangle]
pub extern "C" fn mega_result_name(code: u32) -> *const c_char {
    let name: &std::ffi::CStr = match code {
        0 => c"MEGA_RESULT_OK",
        1 => c"MEGA_RESULT_NULL_ARGUMENT",
        2 => c"MEGA_RESULT_INVALID_UTF8",
        3 => c"MEGA_RESULT_INVALID_ARGUMENT",
        4 => c"MEGA_RESULT_PANIC",
        5 => c"MEGA_RESULT_DECODE",
        6 => c"MEGA_RESULT_ENCODE",
        7 => c"MEGA_RESULT_PATTERN",
        8 => c"MEGA_RESULT_NOT_FOUND",
        9 => c"MEGA_RESULT_WRONG_TYPE",
        10 => c"MEGA_RESULT_PUBLISH",
        11 => c"MEGA_RESULT_SERVICE",
        12 => c"MEGA_RESULT_LISTENER",
        13 => c"MEGA_RESULT_ENDPOINT",
        14 => c"MEGA_RESULT_BUSY",
        15 => c"MEGA_RESULT_JSON",
        _ => c"MEGA_RESULT_UNKNOWN",
    };
    name.as_ptr()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_a_code_and_a_message() {
        let code = guard("mega_test", || panic!("boom"));
        assert_eq!(code, MEGA_RESULT_PANIC);
        assert_eq!(mega_last_error_code(), MEGA_RESULT_PANIC);
        // SAFETY: the library's own NUL-terminated string.
        let msg = unsafe { CStr::from_ptr(mega_last_error_message()) }
            .to_str()
            .unwrap();
        assert!(
            msg.contains("mega_test panicked") && msg.contains("boom"),
            "{msg}"
        );
    }

    #[test]
    fn every_code_has_its_name() {
        for code in 0..=15u32 {
            // SAFETY: static NUL-terminated strings.
            let name = unsafe { CStr::from_ptr(mega_result_name(code)) }
                .to_str()
                .unwrap();
            assert_ne!(name, "MEGA_RESULT_UNKNOWN", "code {code}");
        }
        // SAFETY: as above.
        let unknown = unsafe { CStr::from_ptr(mega_result_name(999)) }
            .to_str()
            .unwrap();
        assert_eq!(unknown, "MEGA_RESULT_UNKNOWN");
    }

    #[test]
    fn utf8_errors_name_the_argument_and_offset() {
        let bad = b"ab\xffc\0";
        // SAFETY: a NUL-terminated buffer.
        let err = unsafe { arg_str(bad.as_ptr().cast(), "body") }.unwrap_err();
        assert_eq!(err.code, MEGA_RESULT_INVALID_UTF8);
        assert!(err.message.contains("`body`") && err.message.contains("offset 2"));
    }

    #[test]
    fn every_family_of_the_core_table_has_its_result_code() {
        for info in mega_core::error::ALL {
            let result = result_of(info.family);
            assert_eq!(result as u32, info.family.c_result(), "{}", info.code);
            assert_ne!(result, MEGA_RESULT_PANIC, "{}", info.code);
        }
        let e = Error::from(mega_core::codec::decode("{", Some("json")).unwrap_err());
        assert_eq!(
            (e.code, e.stable, e.detail.as_deref()),
            (MEGA_RESULT_DECODE, Some("decode.json"), Some("json"))
        );
        set_last_error(e);
        // SAFETY: the library's thread-local NUL-terminated strings.
        let name = unsafe { CStr::from_ptr(mega_last_error_code_name()) };
        assert_eq!(name.to_str().unwrap(), "decode.json");
        set_last_error(Error::null("body"));
        // SAFETY: as above.
        let name = unsafe { CStr::from_ptr(mega_last_error_code_name()) };
        assert_eq!(name.to_str().unwrap(), "null_argument");
    }
}
