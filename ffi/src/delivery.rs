//! `mega_delivery`: the pull API, for programs and languages that own their threads (Python, Ruby, the
//! JVM, C programs with their own workers). A queued subscriber has no callback: the library never calls
//! into the program. The program's threads wait for deliveries ([`mega_listener_next_delivery`]), read the
//! message, and complete each with a status.

use std::ffi::c_char;
use std::time::Duration;

use mega_core::listen::Delivery;

use crate::aws::runtime;
use crate::error::*;
use crate::listener::{mega_listener, mega_subscriber_kind, status_from, subscribe};
use crate::mega_str;
use crate::message::mega_message;
use crate::pattern::{mega_syntax, syntax_arg};

/// A message handed to the program by a queued subscriber, until it is completed or freed. Made by
/// [`mega_listener_next_delivery`], freed with [`mega_delivery_free`]. Its message and what is read from it
/// live as long as the delivery. Not thread-safe: one thread at a time uses a delivery (any thread).
pub struct mega_delivery {
    inner: Delivery,
    message: mega_message,
}

/// Adds a **queued** subscriber: like [`crate::mega_listener_subscribe`], without a callback. The messages
/// its pattern matches wait for the program's threads to take them with [`mega_listener_next_delivery`].
/// While the program holds a delivery the listener keeps the message invisible (heartbeat), FIFO groups
/// still go one message at a time, and the message is deleted only when every matching subscriber is done.
///
/// Errors: as [`crate::mega_listener_subscribe`].
#[no_mangle]
pub unsafe extern "C" fn mega_listener_subscribe_queued(
    listener: *mut mega_listener,
    name: *const c_char,
    kind: mega_subscriber_kind,
    pattern_json: *const c_char,
    syntax: mega_syntax,
) -> mega_result {
    guard("mega_listener_subscribe_queued", || {
        // SAFETY: a live object or NULL; NUL-terminated texts or NULL.
        let l = unsafe { arg_ref(listener, "listener") }?;
        let name = unsafe { arg_str(name, "name") }?;
        let text = unsafe { opt_str(pattern_json, "pattern_json") }?;
        let pattern = match text {
            None => None,
            Some(t) => Some(
                mega_core::matcher::compile_pattern_json(t, syntax_arg(syntax)?)
                    .map_err(Error::from)?,
            ),
        };
        subscribe(l, name, kind, pattern, |name| {
            Ok(l.deliveries.handler(name))
        })
    })
}

/// [`mega_listener_subscribe_queued`] with a compiled pattern (which may call the program's predicates,
/// `{"$fn": id}` of [`crate::mega_pattern_compile`]); the listener keeps its own copy, so `pattern` may be
/// freed at once. `NULL` takes every payload of its kind. A predicate is called on one of the library's
/// threads while a message is matched: languages whose runtimes cannot take calls from foreign threads
/// should keep their predicates out of listener patterns.
///
/// Errors: as [`crate::mega_listener_subscribe`].
#[no_mangle]
pub unsafe extern "C" fn mega_listener_subscribe_queued_pattern(
    listener: *mut mega_listener,
    name: *const c_char,
    kind: mega_subscriber_kind,
    pattern: *const crate::pattern::mega_pattern,
) -> mega_result {
    guard("mega_listener_subscribe_queued_pattern", || {
        // SAFETY: a live object or NULL; a NUL-terminated text or NULL; a live pattern or NULL.
        let l = unsafe { arg_ref(listener, "listener") }?;
        let name = unsafe { arg_str(name, "name") }?;
        let pattern = unsafe { pattern.as_ref() }.map(|p| p.inner.clone());
        subscribe(l, name, kind, pattern, |name| {
            Ok(l.deliveries.handler(name))
        })
    })
}

/// Waits up to `timeout_ms` milliseconds (0: do not wait) for the next message of the listener's queued
/// subscribers. On success `*out` is a new delivery, or NULL when none came in time. Call it from any
/// number of the program's own threads while [`crate::mega_listener_run`] runs on another (each delivery
/// goes to one caller); never from a callback of this library. From the moment a thread takes a delivery
/// until it completes or frees it, the delivery's trace context is that thread's current one: what the
/// thread publishes meanwhile continues the trace ([`crate::mega_message_traceparent`]).
///
/// Errors: `MEGA_RESULT_INVALID_ARGUMENT` (a negative timeout).
#[no_mangle]
pub unsafe extern "C" fn mega_listener_next_delivery(
    listener: *const mega_listener,
    timeout_ms: i64,
    out: *mut *mut mega_delivery,
) -> mega_result {
    guard("mega_listener_next_delivery", || {
        out_ptr(out, "out")?;
        // SAFETY: a live object or NULL.
        let l = unsafe { arg_ref(listener, "listener") }?;
        let timeout = u64::try_from(timeout_ms)
            .map(Duration::from_millis)
            .map_err(|_| {
                Error::invalid(format!("`timeout_ms` must be at least 0, not {timeout_ms}"))
            })?;
        let deliveries = &l.deliveries;
        let next = runtime()?
            .block_on(async { tokio::time::timeout(timeout, deliveries.next()).await.ok() });
        let delivery = match next {
            None => std::ptr::null_mut(),
            // The wrapper points into the delivery's message, which is shared on the heap: it does not
            // move with the delivery.
            Some(inner) => {
                let trace = inner.message().trace;
                let d = Box::into_raw(Box::new(mega_delivery {
                    message: mega_message::new(inner.message()),
                    inner,
                }));
                // What this thread publishes until it completes the delivery continues its trace.
                crate::trace::enter(d as usize, trace);
                d
            }
        };
        // SAFETY: checked non-NULL.
        unsafe { write_out(out, delivery) };
        Ok(())
    })
}

/// The delivery's message, borrowed: valid until the delivery is freed. Read it with the `mega_message_*`
/// functions.
#[no_mangle]
pub unsafe extern "C" fn mega_delivery_message(
    delivery: *const mega_delivery,
    out: *mut *const mega_message,
) -> mega_result {
    guard("mega_delivery_message", || {
        out_ptr(out, "out")?;
        // SAFETY: a live object or NULL.
        let d = unsafe { arg_ref(delivery, "delivery") }?;
        // SAFETY: checked non-NULL.
        unsafe { write_out(out, &d.message as *const mega_message) };
        Ok(())
    })
}

/// The name of the subscriber whose pattern matched, borrowed: valid until the delivery is freed.
#[no_mangle]
pub unsafe extern "C" fn mega_delivery_subscriber(
    delivery: *const mega_delivery,
    out: *mut mega_str,
) -> mega_result {
    guard("mega_delivery_subscriber", || {
        out_ptr(out, "out")?;
        // SAFETY: a live object or NULL.
        let d = unsafe { arg_ref(delivery, "delivery") }?;
        // SAFETY: checked non-NULL.
        unsafe { write_out(out, mega_str::of(d.inner.subscriber())) };
        Ok(())
    })
}

/// Says what happened to the message (`MEGA_STATUS_*`). `*accepted` (may be NULL) tells whether it took
/// effect: false when the listener no longer waited for it (its shutdown grace ran out, so the message was
/// released for redelivery) or the delivery was completed already. The delivery must still be freed.
///
/// Errors: `MEGA_RESULT_INVALID_ARGUMENT` (a number that is not a `mega_status`: 0 never is).
#[no_mangle]
pub unsafe extern "C" fn mega_delivery_complete(
    delivery: *mut mega_delivery,
    status: mega_status_code,
    accepted: *mut bool,
) -> mega_result {
    guard("mega_delivery_complete", || {
        // SAFETY: a live object or NULL, used by one thread at a time.
        let d = unsafe { arg_mut(delivery, "delivery") }?;
        let status = status_from(i64::from(status)).ok_or_else(|| {
            Error::invalid(format!(
                "`status` {status} is not a mega_status (1 DONE, 2 RETRY_LATER, 3 FATAL_ERROR, \
                 4 RETRIABLE_ERROR)"
            ))
        })?;
        let took = d.inner.complete(status);
        crate::trace::leave(delivery as usize);
        if !accepted.is_null() {
            // SAFETY: non-NULL, valid for a write, as the header requires.
            unsafe { write_out(accepted, took) };
        }
        Ok(())
    })
}

/// A `mega_status` as C passes it: checked by [`mega_delivery_complete`].
pub type mega_status_code = u32;

/// Frees a delivery. `NULL` is a no-op. A delivery freed without [`mega_delivery_complete`] counts as
/// `MEGA_STATUS_RETRIABLE_ERROR`: the message comes back later.
#[no_mangle]
pub unsafe extern "C" fn mega_delivery_free(delivery: *mut mega_delivery) {
    if delivery.is_null() {
        return;
    }
    guard_void(|| {
        crate::trace::leave(delivery as usize);
        // SAFETY: made by `mega_listener_next_delivery`, given back once.
        drop(unsafe { Box::from_raw(delivery) });
    });
}
