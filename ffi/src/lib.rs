//! # The C ABI of sqs-mega
//!
//! Everything C (and every language that links C: Ruby, the JVM, Go, Swift…) needs: decode SQS bodies,
//! compile and evaluate patterns, publish to SQS and SNS, run a listener that calls C functions, and start
//! the embedded SQS + SNS endpoint in-process. The header is `include/sqs_mega.h`, generated from this crate
//! by cbindgen (`ffi/cbindgen.toml`) and checked in; `tests/header.rs` fails when it is out of date.
//!
//! One module per exported type. The rules every function follows (written in the header too):
//!
//! - Every function returns a [`mega_result`] (or nothing, for `_free` and `_stop`), and runs inside a panic
//!   boundary: a panic becomes `MEGA_RESULT_PANIC`, never an abort or an unwind into C.
//! - Out-parameters are written only on success.
//! - A NULL pointer where one is required is `MEGA_RESULT_NULL_ARGUMENT`; text that is not UTF-8 is
//!   `MEGA_RESULT_INVALID_UTF8`.
//! - The message of the last failing call on a thread is kept in a thread-local ([`mega_last_error_message`]).
//! - Strings passed in are NUL-terminated UTF-8 and only borrowed for the call. Strings handed out are either
//!   owned (`char *`, freed with [`mega_string_free`]) or borrowed ([`mega_str`], a pointer and a length, not
//!   NUL-terminated, valid as long as the object they come from).
//!
//! Unsafe code is allowed in the whole crate (the workspace denies it by default): a C ABI takes and hands
//! out raw pointers, and reading, writing or freeing through them is unsafe by nature.
#![allow(unsafe_code)]
#![allow(non_camel_case_types)]
// Every `extern "C"` function takes raw pointers from C: their contracts are in the doc comments (and so in
// the header), and each dereference is checked for NULL first.
#![allow(clippy::missing_safety_doc)]

mod aws;
mod decode;
mod delivery;
mod error;
mod listener;
mod local;
mod message;
mod pattern;
mod publish;
mod trace;
mod value;

pub use aws::*;
pub use decode::*;
pub use delivery::*;
pub use error::*;
pub use listener::*;
pub use local::*;
pub use message::*;
pub use pattern::*;
pub use publish::*;
pub use value::*;

use std::ffi::{c_char, CString};

/// The version of the header: `MEGA_VERSION_STRING` (`"MAJOR.MINOR.PATCH"`) and its three numbers. Compare
/// `MEGA_VERSION_STRING` with [`mega_version`] to detect a header used with another build of the library.
/// (`ffi/tests/header.rs` checks that they are the crate's version.)
pub const MEGA_VERSION_MAJOR: u32 = 0;
pub const MEGA_VERSION_MINOR: u32 = 1;
pub const MEGA_VERSION_PATCH: u32 = 0;

/// A borrowed string handed out by the library: `len` bytes of UTF-8 at `data`, **not** NUL-terminated
/// (print it with `printf("%.*s", (int)s.len, s.data)`). It stays valid as long as the object it was read
/// from (the message during its callback, the value, the decoded payload…); copy it to keep it longer.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct mega_str {
    pub data: *const c_char,
    pub len: usize,
}

impl mega_str {
    pub(crate) fn of(s: &str) -> mega_str {
        mega_str {
            data: s.as_ptr().cast(),
            len: s.len(),
        }
    }
}

/// The library's version (`"0.1.0"`), a static string.
#[no_mangle]
pub extern "C" fn mega_version() -> *const c_char {
    const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
    VERSION.as_ptr().cast()
}

/// Frees a string the library handed out as `char *` (owned). `NULL` is a no-op.
///
/// # Safety
/// `s` was returned by this library as an owned string and is not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn mega_string_free(s: *mut c_char) {
    if s.is_null() {
        return;
    }
    let _ = std::panic::catch_unwind(|| {
        // SAFETY: the caller gives back a pointer made by `CString::into_raw` in `owned_string`.
        drop(unsafe { CString::from_raw(s) });
    });
}

/// Turns text into an owned C string. Interior NULs cannot be represented: they become an error.
pub(crate) fn owned_string(s: String) -> Result<*mut c_char, Error> {
    CString::new(s).map(CString::into_raw).map_err(|e| {
        Error::invalid(format!(
            "the text holds a NUL byte at offset {}, which a C string cannot",
            e.nul_position()
        ))
    })
}
