//! `mega_local`: the embedded SQS + SNS endpoint, in-process, so any language can test without AWS.

use std::ffi::{c_char, CString};

use sqs_mega_local::{Config, Server, ServerHandle};

use crate::error::*;

/// A running embedded SQS + SNS endpoint (in memory, on its own threads). Made by [`mega_local_start`];
/// [`mega_local_free`] stops it and frees it.
pub struct mega_local {
    // Dropping the handle stops the endpoint and waits for its thread.
    handle: ServerHandle,
    url: CString,
}

/// Starts the embedded endpoint on `host` (NULL for `127.0.0.1`) and `port` (0 picks a free one), and returns
/// once it accepts connections. Give its URL ([`mega_local_url`]) to [`mega_settings_new_local`](crate::mega_settings_new_local).
///
/// Errors: `MEGA_RESULT_ENDPOINT` (the address is in use or cannot be bound).
#[no_mangle]
pub unsafe extern "C" fn mega_local_start(
    host: *const c_char,
    port: u16,
    out: *mut *mut mega_local,
) -> mega_result {
    guard("mega_local_start", || {
        out_ptr(out, "out")?;
        // SAFETY: NUL-terminated text or NULL.
        let host = unsafe { opt_str(host, "host") }?;
        let mut config = Config {
            port,
            ..Config::default()
        };
        if let Some(h) = host {
            config.host = h.to_owned();
        }
        let where_ = format!("{}:{}", config.host, port);
        let handle = Server::start(config).map_err(|e| {
            Error::new(
                MEGA_RESULT_ENDPOINT,
                format!("cannot start the embedded endpoint on {where_}: {e}"),
            )
        })?;
        let url = CString::new(handle.url())
            .map_err(|_| Error::invalid("the endpoint URL holds a NUL"))?;
        let local = Box::new(mega_local { handle, url });
        // SAFETY: checked non-NULL.
        unsafe { write_out(out, Box::into_raw(local)) };
        Ok(())
    })
}

/// The endpoint's URL (`http://127.0.0.1:PORT`): a NUL-terminated string owned by `local`, valid until
/// [`mega_local_free`]. NULL when `local` is NULL.
#[no_mangle]
pub unsafe extern "C" fn mega_local_url(local: *const mega_local) -> *const c_char {
    // SAFETY: a live object or NULL.
    match unsafe { local.as_ref() } {
        Some(l) => l.url.as_ptr(),
        None => std::ptr::null(),
    }
}

/// Stops the endpoint (its queues and topics are gone) and frees it. `NULL` is a no-op. Listeners and
/// publishers still pointed at it get connection errors (listeners retry with backoff until stopped).
#[no_mangle]
pub unsafe extern "C" fn mega_local_free(local: *mut mega_local) {
    if local.is_null() {
        return;
    }
    guard_void(|| {
        // SAFETY: made by `mega_local_start`, given back once.
        let l = unsafe { Box::from_raw(local) };
        l.handle.shutdown();
    });
}
