//! `mega_pattern`: patterns compiled from JSON (the MEGA pattern format or EventBridge / SNS filter-policy
//! syntax) and evaluated against payloads; `mega_callbacks`: C functions patterns reference by id.

use std::ffi::{c_char, c_void};

use mega_core::matcher::{self, Callbacks, Syntax};
use mega_core::Value;

use crate::error::*;
use crate::owned_string;
use crate::value::{handle, mega_value, value_arg};

/// The syntax of a pattern text, for [`mega_pattern_compile`]: one of the `MEGA_SYNTAX_*` values.
pub type mega_syntax = u32;
/// The MEGA JSON pattern format (`docs/patterns.md`), subscriber rules (`{"$event": …}`) included.
pub const MEGA_SYNTAX_MEGA: mega_syntax = 0;
/// An Amazon EventBridge event pattern or SNS filter policy (message-body scope).
pub const MEGA_SYNTAX_EVENTBRIDGE: mega_syntax = 1;

pub(crate) fn syntax_arg(syntax: mega_syntax) -> Result<Syntax, Error> {
    match syntax {
        MEGA_SYNTAX_MEGA => Ok(Syntax::Mega),
        MEGA_SYNTAX_EVENTBRIDGE => Ok(Syntax::EventBridge),
        other => Err(Error::invalid(format!(
            "`syntax` is {other}, not MEGA_SYNTAX_MEGA (0) or MEGA_SYNTAX_EVENTBRIDGE (1)"
        ))),
    }
}

/// A user function a pattern references by id (`{"$fn": "is_even"}`): whether `value` (borrowed for the call)
/// passes. It is called on whichever thread evaluates the pattern (the caller's for
/// [`mega_pattern_matches`]; a listener's worker threads, possibly several at once, for a listener's
/// subscriber), so it and its `userdata` must be thread-safe.
pub type mega_predicate =
    Option<unsafe extern "C" fn(userdata: *mut c_void, value: *const mega_value) -> bool>;

/// A pointer C owns, carried to other threads: C promised it may be used from any thread.
#[derive(Clone, Copy)]
pub(crate) struct SendPtr(pub *mut c_void);
// SAFETY: the header requires `userdata` to be usable from any thread.
unsafe impl Send for SendPtr {}
// SAFETY: as above.
unsafe impl Sync for SendPtr {}

/// A set of user functions for [`mega_pattern_compile`]. Made by [`mega_callbacks_new`], freed with
/// [`mega_callbacks_free`]; patterns compiled with it keep what they need, so it may be freed right after.
pub struct mega_callbacks {
    inner: Callbacks,
}

/// A new, empty set of user functions.
#[no_mangle]
pub unsafe extern "C" fn mega_callbacks_new(out: *mut *mut mega_callbacks) -> mega_result {
    guard("mega_callbacks_new", || {
        out_ptr(out, "out")?;
        let b = Box::new(mega_callbacks {
            inner: Callbacks::new(),
        });
        // SAFETY: checked non-NULL.
        unsafe { write_out(out, Box::into_raw(b)) };
        Ok(())
    })
}

/// Registers (or replaces) the function behind `id`. `userdata` is passed back to every call; the library
/// never frees it, and it must outlive every pattern compiled with this set.
#[no_mangle]
pub unsafe extern "C" fn mega_callbacks_add(
    callbacks: *mut mega_callbacks,
    id: *const c_char,
    predicate: mega_predicate,
    userdata: *mut c_void,
) -> mega_result {
    guard("mega_callbacks_add", || {
        // SAFETY: a live object or NULL; a NUL-terminated id or NULL.
        let cbs = unsafe { arg_mut(callbacks, "callbacks") }?;
        let id = unsafe { arg_str(id, "id") }?;
        let f = predicate.ok_or_else(|| Error::null("predicate"))?;
        let data = SendPtr(userdata);
        cbs.inner.insert(id, move |v: &Value| {
            let data = data;
            // SAFETY: C's function, with the userdata it registered and a value alive during the call.
            unsafe { f(data.0, handle(v)) }
        });
        Ok(())
    })
}

/// Frees a set of user functions (patterns compiled with it are unaffected). `NULL` is a no-op.
#[no_mangle]
pub unsafe extern "C" fn mega_callbacks_free(callbacks: *mut mega_callbacks) {
    if callbacks.is_null() {
        return;
    }
    guard_void(|| {
        // SAFETY: made by `mega_callbacks_new`, given back once.
        drop(unsafe { Box::from_raw(callbacks) });
    });
}

/// A compiled pattern: compile once, evaluate many times, from any number of threads at once. Made by
/// [`mega_pattern_compile`], freed with [`mega_pattern_free`].
pub struct mega_pattern {
    pub(crate) inner: matcher::Pattern,
}

/// Compiles a pattern text (NUL-terminated JSON) in the given syntax. `callbacks` (or NULL) resolves the
/// `{"$fn": id}` references of MEGA patterns. On success `*out` is a new pattern freed with
/// [`mega_pattern_free`].
///
/// Errors: `MEGA_RESULT_PATTERN` (not JSON, an unknown operator, a bad regular expression, `$gt` on a map,
/// an unknown `$fn` id…), with the JSON pointer of the problem in [`mega_last_error_detail`];
/// `MEGA_RESULT_INVALID_ARGUMENT` for an unknown syntax.
#[no_mangle]
pub unsafe extern "C" fn mega_pattern_compile(
    text: *const c_char,
    syntax: mega_syntax,
    callbacks: *const mega_callbacks,
    out: *mut *mut mega_pattern,
) -> mega_result {
    guard("mega_pattern_compile", || {
        out_ptr(out, "out")?;
        // SAFETY: NUL-terminated text or NULL; a live callbacks object or NULL.
        let text = unsafe { arg_str(text, "text") }?;
        let syntax = syntax_arg(syntax)?;
        let empty = Callbacks::new();
        let cbs = unsafe { callbacks.as_ref() }.map_or(&empty, |c| &c.inner);
        let inner = matcher::compile_pattern_json_with(text, syntax, cbs).map_err(Error::from)?;
        // SAFETY: checked non-NULL.
        unsafe { write_out(out, Box::into_raw(Box::new(mega_pattern { inner }))) };
        Ok(())
    })
}

/// Frees a pattern. `NULL` is a no-op.
#[no_mangle]
pub unsafe extern "C" fn mega_pattern_free(pattern: *mut mega_pattern) {
    if pattern.is_null() {
        return;
    }
    guard_void(|| {
        // SAFETY: made by `mega_pattern_compile`, given back once.
        drop(unsafe { Box::from_raw(pattern) });
    });
}

/// Whether `payload` (a decoded payload, a message's payload or any value) matches. Never fails on the
/// payload's content: a type mismatch is a non-match, and a user function that crashes… is C's to avoid.
#[no_mangle]
pub unsafe extern "C" fn mega_pattern_matches(
    pattern: *const mega_pattern,
    payload: *const mega_value,
    out: *mut bool,
) -> mega_result {
    guard("mega_pattern_matches", || {
        out_ptr(out, "out")?;
        // SAFETY: live objects or NULL.
        let p = unsafe { arg_ref(pattern, "pattern") }?;
        let v = unsafe { value_arg(payload, "payload") }?;
        // SAFETY: checked non-NULL.
        unsafe { write_out(out, p.inner.matches(v)) };
        Ok(())
    })
}

/// Why `payload` does not match: on success `*out` is a new string (freed with `mega_string_free`) such as
/// ``at user.id: expected gt(0), got -1``, or NULL when the payload matches.
/// `*path` (when not NULL) receives the dotted path of the failing value in the same way (`user.id`; `""`
/// for the whole payload).
#[no_mangle]
pub unsafe extern "C" fn mega_pattern_explain(
    pattern: *const mega_pattern,
    payload: *const mega_value,
    out: *mut *mut c_char,
    path: *mut *mut c_char,
) -> mega_result {
    guard("mega_pattern_explain", || {
        out_ptr(out, "out")?;
        // SAFETY: live objects or NULL.
        let p = unsafe { arg_ref(pattern, "pattern") }?;
        let v = unsafe { value_arg(payload, "payload") }?;
        match p.inner.explain(v) {
            None => {
                // SAFETY: `out` checked non-NULL; `path` written only when given.
                unsafe {
                    write_out(out, std::ptr::null_mut());
                    if !path.is_null() {
                        write_out(path, std::ptr::null_mut());
                    }
                }
            }
            Some(e) => {
                let text = owned_string(e.to_string())?;
                let where_ = if path.is_null() {
                    std::ptr::null_mut()
                } else {
                    match owned_string(e.path.clone()) {
                        Ok(p) => p,
                        Err(err) => {
                            // SAFETY: made just above by `owned_string`.
                            unsafe { crate::mega_string_free(text) };
                            return Err(err);
                        }
                    }
                };
                // SAFETY: as above.
                unsafe {
                    write_out(out, text);
                    if !path.is_null() {
                        write_out(path, where_);
                    }
                }
            }
        }
        Ok(())
    })
}

/// The pattern as an SNS filter policy (message-body scope), so SNS can filter before delivery: on success
/// `*out` is a new string with the JSON `{"policy": {…} or null, "omitted": [{"path", "condition", "reason"}…],
/// "notes": […]}`; what could not be exported is listed in `omitted` (the policy then lets more through than
/// the pattern), and `notes` says where SNS is narrower or what limits apply.
#[no_mangle]
pub unsafe extern "C" fn mega_pattern_sns_filter_policy(
    pattern: *const mega_pattern,
    out: *mut *mut c_char,
) -> mega_result {
    guard("mega_pattern_sns_filter_policy", || {
        out_ptr(out, "out")?;
        // SAFETY: a live object or NULL.
        let p = unsafe { arg_ref(pattern, "pattern") }?;
        let export = p.inner.to_sns_filter_policy();
        let omitted: Vec<Value> = export
            .omitted
            .iter()
            .map(|o| {
                Value::from([
                    ("path", Value::from(o.path.as_str())),
                    ("condition", Value::from(o.condition.as_str())),
                    ("reason", Value::from(o.reason.as_str())),
                ])
            })
            .collect();
        let notes: Vec<Value> = export
            .notes
            .iter()
            .map(|n| Value::from(n.as_str()))
            .collect();
        let report = Value::from([
            ("policy", export.policy.clone().unwrap_or(Value::Null)),
            ("omitted", Value::List(omitted)),
            ("notes", Value::List(notes)),
        ]);
        let text = owned_string(mega_core::json::to_tagged_string(&report))?;
        // SAFETY: checked non-NULL.
        unsafe { write_out(out, text) };
        Ok(())
    })
}
