//! `mega_listener`: the long-polling listener with C subscribers, pushed to callbacks or pulled as
//! deliveries (`delivery.rs`); what they read is a `mega_message` (`message.rs`).

use std::ffi::{c_char, c_int, c_void};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mega_core::json;
use mega_core::{Map, Value};

use mega_core::listen::metrics::MetricsAddress;
use mega_core::listen::{
    Deliveries, Handler, HandlerError, ListenerConfig, Message, ProcessStatus, SqsListener, Stats,
    StatsSnapshot, Subscriber, SubscriberKind, UnmatchedPolicy,
};

use crate::aws::{block_on, mega_settings};
use crate::error::*;
use crate::message::mega_message;
use crate::owned_string;
use crate::pattern::{mega_pattern, mega_syntax, syntax_arg, SendPtr};

/// What a subscriber says about a message (seed 003, "Processing payloads"): returned by a callback, or
/// given to [`crate::mega_delivery_complete`].
///
/// **No status is 0.** A callback bridge that fails (a JNA or ruby-ffi callback that raised, a stub that
/// returns a zeroed value) hands C a 0; 0 is not a status, so it counts as `MEGA_STATUS_RETRIABLE_ERROR`
/// and the message is kept: a failure is never taken for DONE.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum mega_status {
    /// Processed: the message is deleted once every subscriber that matched it is done.
    MEGA_STATUS_DONE = 1,
    /// Not ready yet: the message stays in the queue and comes back later (with backoff). Not an error.
    MEGA_STATUS_RETRY_LATER = 2,
    /// Failed for good: the message is deleted (once every matching subscriber is done with it).
    MEGA_STATUS_FATAL_ERROR = 3,
    /// Failed for now: the message stays and comes back later (with backoff), then reaches the queue's
    /// dead-letter queue if it has one.
    MEGA_STATUS_RETRIABLE_ERROR = 4,
}

pub use mega_status::*;

/// A subscriber's callback. Called for each message the subscriber's pattern matches, with the `userdata`
/// given at subscription and the message, **borrowed for the call only**: the message and every string,
/// value and byte buffer read from it die when the callback returns (copy what you keep).
///
/// **Threads**: called on the library's worker threads, never on the thread that called
/// [`mega_listener_run`]; up to `MEGA_LISTENER_MAX_IN_FLIGHT` callbacks run at once (messages of one FIFO
/// group one at a time, in order), so the callback and its `userdata` must be thread-safe. A callback may
/// block (it has its thread) and may publish.
///
/// Returns a `mega_status`; any other number, 0 included, counts as `MEGA_STATUS_RETRIABLE_ERROR` (the
/// message is kept, and the error logged), so a confused or failed callback never loses a message.
///
/// **Lifetime**: [`mega_listener_run`] returns only after every callback it made has returned (a callback
/// still running when the shutdown grace runs out has its message released for redelivery, and is waited
/// for), so `userdata` may be freed once the run returned. Hosts whose callbacks could hang, or that own
/// their threads, pull deliveries instead ([`crate::mega_listener_subscribe_queued`]).
pub type mega_handler =
    Option<unsafe extern "C" fn(userdata: *mut c_void, message: *const mega_message) -> c_int>;

/// Which payloads a subscriber is offered, for [`mega_listener_subscribe`]: one of `MEGA_SUBSCRIBER_*`.
pub type mega_subscriber_kind = u32;
/// MEGA events only (an `EventSubscriber`).
pub const MEGA_SUBSCRIBER_EVENT: mega_subscriber_kind = 0;
/// Data objects only (a `DataSubscriber`).
pub const MEGA_SUBSCRIBER_DATA: mega_subscriber_kind = 1;
/// Every payload, plaintext and binary included (its pattern, if any, sees events and data objects).
pub const MEGA_SUBSCRIBER_MESSAGE: mega_subscriber_kind = 2;

/// A listener setting, for [`mega_listener_set`]: one of `MEGA_LISTENER_*`.
pub type mega_listener_option = u32;
/// Messages per ReceiveMessage call, 1 to 10 (default 10).
pub const MEGA_LISTENER_MAX_MESSAGES: mega_listener_option = 0;
/// Long-poll wait, 0 to 20 seconds (default 20).
pub const MEGA_LISTENER_WAIT_TIME_SECONDS: mega_listener_option = 1;
/// Visibility timeout of received messages in seconds, 0 to 43200; -1 for the queue's own (the default).
pub const MEGA_LISTENER_VISIBILITY_TIMEOUT: mega_listener_option = 2;
/// Concurrent ReceiveMessage loops, at least 1 (default 1).
pub const MEGA_LISTENER_POLLERS: mega_listener_option = 3;
/// Messages processed at once, at least 1 (default 20): also the most callbacks running at once.
pub const MEGA_LISTENER_MAX_IN_FLIGHT: mega_listener_option = 4;
/// Extend the visibility of messages still being processed (1, the default) or not (0).
pub const MEGA_LISTENER_HEARTBEAT: mega_listener_option = 5;
/// How long in-flight callbacks may finish once stopping, in milliseconds (default 30000); messages still in
/// flight after that are released for redelivery, never deleted.
pub const MEGA_LISTENER_SHUTDOWN_GRACE_MS: mega_listener_option = 6;
/// How long a delete waits to share its DeleteMessageBatch call, in milliseconds (default 20).
pub const MEGA_LISTENER_DELETE_LINGER_MS: mega_listener_option = 7;
/// First retry delay in milliseconds (default 2000): doubled per receive, with jitter.
pub const MEGA_LISTENER_RETRY_BASE_MS: mega_listener_option = 8;
/// Longest retry delay in milliseconds (default 900000).
pub const MEGA_LISTENER_RETRY_MAX_MS: mega_listener_option = 9;
/// Stop on SIGTERM / SIGINT by itself (1) or leave signals to the program (0, the default here: call
/// [`mega_listener_stop`] from your own handler).
pub const MEGA_LISTENER_HANDLE_SIGNALS: mega_listener_option = 10;
/// What to do with a message no subscriber matches: delete it (0, the default, as in the MEGA seed) or keep
/// it in the queue (1: it comes back, then reaches the dead-letter queue if there is one).
pub const MEGA_LISTENER_KEEP_UNMATCHED: mega_listener_option = 11;
/// Text, for [`mega_listener_set_text`]: the completion store as a URL, so that a subscriber does not run
/// twice for a message delivered twice: `memory` (this process; `memory://?capacity=N`),
/// `redis://[user:password@]host[:port][/db]`, `rediss://…`, `dynamodb://TABLE[?region=…&endpoint_url=…]`;
/// every kind takes `lease=30s` and `ttl=24h`. Made when the listener runs. Default none.
pub const MEGA_LISTENER_COMPLETION_STORE: mega_listener_option = 12;
/// Text, for [`mega_listener_set_text`]: serve the counters as Prometheus text (`GET /metrics`) on this
/// address while the listener runs: `9464` (loopback), `127.0.0.1:9464`, `0.0.0.0:9464`; port 0 picks a free
/// one ([`mega_listener_metrics_port`]). Default none.
pub const MEGA_LISTENER_METRICS_ADDR: mega_listener_option = 13;
/// Text, for [`mega_listener_set_text`]: the completion store's key of a message, a dotted path into its
/// payload (a data object, or the canonical MEGA event map: `data.order_id`) whose string or integer is a
/// business key, so that two messages for the same work run once; messages without it use their message id.
/// Default none (the message id).
pub const MEGA_LISTENER_IDEMPOTENCY_KEY: mega_listener_option = 14;

/// A listener counter, for [`mega_listener_stat`]: one of `MEGA_STAT_*`.
pub type mega_stat = u32;
/// ReceiveMessage calls made.
pub const MEGA_STAT_RECEIVE_CALLS: mega_stat = 0;
/// Messages received.
pub const MEGA_STAT_RECEIVED: mega_stat = 1;
/// Callback calls made.
pub const MEGA_STAT_DISPATCHED: mega_stat = 2;
/// Callbacks that returned `MEGA_STATUS_DONE`.
pub const MEGA_STAT_DONE: mega_stat = 3;
/// … `MEGA_STATUS_RETRY_LATER`.
pub const MEGA_STAT_RETRY_LATER: mega_stat = 4;
/// … `MEGA_STATUS_FATAL_ERROR`.
pub const MEGA_STAT_FATAL_ERROR: mega_stat = 5;
/// … `MEGA_STATUS_RETRIABLE_ERROR` (or an unknown number).
pub const MEGA_STAT_RETRIABLE_ERROR: mega_stat = 6;
/// Messages no subscriber matched.
pub const MEGA_STAT_UNMATCHED: mega_stat = 7;
/// Messages that could not be decoded.
pub const MEGA_STAT_INVALID: mega_stat = 8;
/// Messages deleted.
pub const MEGA_STAT_DELETED: mega_stat = 9;
/// Messages made visible again for a retry.
pub const MEGA_STAT_RETRIED: mega_stat = 10;
/// Messages released unprocessed at shutdown.
pub const MEGA_STAT_RELEASED: mega_stat = 11;
/// Messages in flight now.
pub const MEGA_STAT_IN_FLIGHT: mega_stat = 12;
/// Failed ReceiveMessage calls (retried with backoff).
pub const MEGA_STAT_RECEIVE_ERRORS: mega_stat = 13;
/// Visibility extensions (heartbeats) made.
pub const MEGA_STAT_HEARTBEATS: mega_stat = 14;
/// Median callback time, microseconds.
pub const MEGA_STAT_HANDLER_P50_US: mega_stat = 15;
/// 99th percentile callback time, microseconds.
pub const MEGA_STAT_HANDLER_P99_US: mega_stat = 16;
/// Completion store round trips (claims, renewals, completions, releases).
pub const MEGA_STAT_STORE_CALLS: mega_stat = 17;
/// Completion store calls that failed (a failed claim retries the message).
pub const MEGA_STAT_STORE_ERRORS: mega_stat = 18;
/// Claims that found another live claim (the message comes back later).
pub const MEGA_STAT_STORE_BUSY: mega_stat = 19;

/// Deliveries waiting to be pulled, at most (the listener's in-flight bound applies first).
const DELIVERY_CAPACITY: usize = 1024;

/// A long-polling listener on one queue. Made by [`mega_listener_new`], configured with
/// [`mega_listener_set`] and [`mega_listener_subscribe`], run with [`mega_listener_run`] (blocking) and stopped
/// with [`mega_listener_stop`] (from any thread or a signal handler). Freed with [`mega_listener_free`].
pub struct mega_listener {
    /// The core's listener: locked by a run for its whole length, so a change while running is `BUSY`.
    inner: Mutex<SqsListener>,
    /// Where the messages of queued subscribers wait to be pulled.
    pub(crate) deliveries: Deliveries,
    /// Its counters (the current run's, or the last one's).
    stats: Arc<Stats>,
    /// Set by `mega_listener_stop` (one atomic store: safe in a signal handler); a run turns it into a
    /// shutdown.
    stop: Arc<AtomicBool>,
    running: AtomicBool,
    /// Where the metrics endpoint listens while a run serves it.
    metrics: MetricsAddress,
}

/// A new listener on the queue at `queue_url`, with no subscribers. Nothing is contacted until
/// [`mega_listener_run`].
#[no_mangle]
pub unsafe extern "C" fn mega_listener_new(
    settings: *const mega_settings,
    queue_url: *const c_char,
    out: *mut *mut mega_listener,
) -> mega_result {
    guard("mega_listener_new", || {
        out_ptr(out, "out")?;
        // SAFETY: a live object or NULL; NUL-terminated text or NULL.
        let s = unsafe { arg_ref(settings, "settings") }?;
        let url = unsafe { arg_str(queue_url, "queue_url") }?;
        if url.is_empty() {
            return Err(Error::invalid("`queue_url` is empty"));
        }
        let mut config = ListenerConfig::new(url);
        config.handle_signals = false;
        let inner = SqsListener::new(&s.inner, config);
        let l = Box::new(mega_listener {
            stats: inner.stats(),
            metrics: inner.metrics_address(),
            inner: Mutex::new(inner),
            deliveries: Deliveries::new(DELIVERY_CAPACITY),
            stop: Arc::new(AtomicBool::new(false)),
            running: AtomicBool::new(false),
        });
        // SAFETY: checked non-NULL.
        unsafe { write_out(out, Box::into_raw(l)) };
        Ok(())
    })
}

/// Frees a listener. `NULL` is a no-op. If it is still running (on another thread), it is stopped first and
/// this call waits for [`mega_listener_run`] to return, so never free a listener from one of its own
/// callbacks (call [`mega_listener_stop`] there, and free it after the run returned).
#[no_mangle]
pub unsafe extern "C" fn mega_listener_free(listener: *mut mega_listener) {
    if listener.is_null() {
        return;
    }
    guard_void(|| {
        // SAFETY: made by `mega_listener_new`; alive until freed here.
        let l = unsafe { &*listener };
        if l.running.load(Ordering::Acquire) {
            l.stop.store(true, Ordering::Release);
            while l.running.load(Ordering::Acquire) {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        // SAFETY: given back once; no run uses it any more.
        drop(unsafe { Box::from_raw(listener) });
    });
}

/// The listener, to change it: `BUSY` while it runs.
fn state_of(l: &mega_listener) -> Result<std::sync::MutexGuard<'_, SqsListener>, Error> {
    let busy = || {
        Error::new(
            MEGA_RESULT_BUSY,
            "the listener is running: change it before mega_listener_run or after it returns",
        )
    };
    if l.running.load(Ordering::Acquire) {
        return Err(busy());
    }
    match l.inner.try_lock() {
        Ok(guard) => Ok(guard),
        Err(std::sync::TryLockError::Poisoned(p)) => Ok(p.into_inner()),
        Err(std::sync::TryLockError::WouldBlock) => Err(busy()),
    }
}

/// The name of a setting, for error messages; `None` for a number that is not a setting.
fn option_name(option: mega_listener_option) -> Option<&'static str> {
    Some(match option {
        MEGA_LISTENER_MAX_MESSAGES => "MEGA_LISTENER_MAX_MESSAGES",
        MEGA_LISTENER_WAIT_TIME_SECONDS => "MEGA_LISTENER_WAIT_TIME_SECONDS",
        MEGA_LISTENER_VISIBILITY_TIMEOUT => "MEGA_LISTENER_VISIBILITY_TIMEOUT",
        MEGA_LISTENER_POLLERS => "MEGA_LISTENER_POLLERS",
        MEGA_LISTENER_MAX_IN_FLIGHT => "MEGA_LISTENER_MAX_IN_FLIGHT",
        MEGA_LISTENER_HEARTBEAT => "MEGA_LISTENER_HEARTBEAT",
        MEGA_LISTENER_SHUTDOWN_GRACE_MS => "MEGA_LISTENER_SHUTDOWN_GRACE_MS",
        MEGA_LISTENER_DELETE_LINGER_MS => "MEGA_LISTENER_DELETE_LINGER_MS",
        MEGA_LISTENER_RETRY_BASE_MS => "MEGA_LISTENER_RETRY_BASE_MS",
        MEGA_LISTENER_RETRY_MAX_MS => "MEGA_LISTENER_RETRY_MAX_MS",
        MEGA_LISTENER_HANDLE_SIGNALS => "MEGA_LISTENER_HANDLE_SIGNALS",
        MEGA_LISTENER_KEEP_UNMATCHED => "MEGA_LISTENER_KEEP_UNMATCHED",
        MEGA_LISTENER_COMPLETION_STORE => "MEGA_LISTENER_COMPLETION_STORE",
        MEGA_LISTENER_METRICS_ADDR => "MEGA_LISTENER_METRICS_ADDR",
        MEGA_LISTENER_IDEMPOTENCY_KEY => "MEGA_LISTENER_IDEMPOTENCY_KEY",
        _ => return None,
    })
}

/// Changes a setting (`MEGA_LISTENER_*`). Every value is checked here, against the range its comment gives
/// (`MEGA_RESULT_INVALID_ARGUMENT`, naming the setting and the value; the setting keeps its old value), so a
/// listener whose settings were all accepted can always start. `MEGA_RESULT_BUSY` while running.
#[no_mangle]
pub unsafe extern "C" fn mega_listener_set(
    listener: *mut mega_listener,
    option: mega_listener_option,
    value: i64,
) -> mega_result {
    guard("mega_listener_set", || {
        // SAFETY: a live object or NULL.
        let l = unsafe { arg_ref(listener, "listener") }?;
        let mut st = state_of(l)?;
        let name = option_name(option).ok_or_else(|| {
            Error::invalid(format!(
                "`option` {option} is not a MEGA_LISTENER_* setting"
            ))
        })?;
        let out_of_range = || Error::invalid(format!("{name} is out of range: {value}"));
        let int = || i32::try_from(value).map_err(|_| out_of_range());
        let count = || usize::try_from(value).map_err(|_| out_of_range());
        let ms = || {
            u64::try_from(value)
                .map(Duration::from_millis)
                .map_err(|_| Error::invalid(format!("{name} must be at least 0, not {value}")))
        };
        // Changed on a copy, checked whole, kept only when valid.
        let mut c = st.config().clone();
        match option {
            MEGA_LISTENER_MAX_MESSAGES => c.max_number_of_messages = int()?,
            MEGA_LISTENER_WAIT_TIME_SECONDS => c.wait_time_seconds = int()?,
            MEGA_LISTENER_VISIBILITY_TIMEOUT => {
                c.visibility_timeout = if value < 0 { None } else { Some(int()?) }
            }
            MEGA_LISTENER_POLLERS => c.pollers = count()?,
            MEGA_LISTENER_MAX_IN_FLIGHT => c.max_in_flight = count()?,
            MEGA_LISTENER_HEARTBEAT => c.heartbeat = value != 0,
            MEGA_LISTENER_SHUTDOWN_GRACE_MS => c.shutdown_grace = ms()?,
            MEGA_LISTENER_DELETE_LINGER_MS => c.delete_linger = ms()?,
            MEGA_LISTENER_RETRY_BASE_MS => c.retry.base = ms()?,
            MEGA_LISTENER_RETRY_MAX_MS => c.retry.max = ms()?,
            MEGA_LISTENER_HANDLE_SIGNALS => c.handle_signals = value != 0,
            MEGA_LISTENER_KEEP_UNMATCHED => {
                st.set_unmatched_policy(if value != 0 {
                    UnmatchedPolicy::Keep
                } else {
                    UnmatchedPolicy::Delete
                });
                return Ok(());
            }
            MEGA_LISTENER_COMPLETION_STORE
            | MEGA_LISTENER_METRICS_ADDR
            | MEGA_LISTENER_IDEMPOTENCY_KEY => {
                return Err(Error::invalid(format!(
                    "{name} is a text setting: set it with mega_listener_set_text"
                )))
            }
            _ => unreachable!("option_name knows every setting"),
        }
        st.set_config(c)
            .map_err(|e| Error::invalid(format!("{name} = {value}: {e}")))
    })
}

/// Changes a text setting (`MEGA_LISTENER_COMPLETION_STORE`, `MEGA_LISTENER_METRICS_ADDR`,
/// `MEGA_LISTENER_IDEMPOTENCY_KEY`); `value` NULL
/// clears it. The value is checked here (`MEGA_RESULT_INVALID_ARGUMENT`, naming the setting, the value (a
/// URL's password hidden) and the problem; the setting keeps its old value): a store URL is parsed, not
/// connected to, so a store that cannot be reached fails `mega_listener_run`. `MEGA_RESULT_BUSY` while
/// running.
#[no_mangle]
pub unsafe extern "C" fn mega_listener_set_text(
    listener: *mut mega_listener,
    option: mega_listener_option,
    value: *const c_char,
) -> mega_result {
    guard("mega_listener_set_text", || {
        // SAFETY: a live object or NULL; NUL-terminated text or NULL.
        let l = unsafe { arg_ref(listener, "listener") }?;
        let value = unsafe { opt_str(value, "value") }?.map(str::to_owned);
        let mut st = state_of(l)?;
        let mut c = st.config().clone();
        let name = match option {
            MEGA_LISTENER_COMPLETION_STORE => {
                c.completion_store = value;
                "MEGA_LISTENER_COMPLETION_STORE"
            }
            MEGA_LISTENER_METRICS_ADDR => {
                c.metrics_addr = value;
                "MEGA_LISTENER_METRICS_ADDR"
            }
            MEGA_LISTENER_IDEMPOTENCY_KEY => {
                c.idempotency_key = value;
                "MEGA_LISTENER_IDEMPOTENCY_KEY"
            }
            other => {
                return Err(Error::invalid(match option_name(other) {
                    Some(n) => format!("{n} is a number setting: set it with mega_listener_set"),
                    None => format!("`option` {other} is not a MEGA_LISTENER_* setting"),
                }))
            }
        };
        // The core's message names the value (a store URL with its password hidden) and the problem.
        st.set_config(c)
            .map_err(|e| Error::invalid(format!("{name}: {e}")))
    })
}

/// The port the metrics endpoint (`MEGA_LISTENER_METRICS_ADDR`) listens on while the listener runs (the
/// one picked for port 0), or 0 when it is not serving (not running, not yet bound, or not asked for).
/// Callable from any thread.
#[no_mangle]
pub unsafe extern "C" fn mega_listener_metrics_port(
    listener: *const mega_listener,
    out: *mut u16,
) -> mega_result {
    guard("mega_listener_metrics_port", || {
        out_ptr(out, "out")?;
        // SAFETY: a live object or NULL.
        let l = unsafe { arg_ref(listener, "listener") }?;
        // SAFETY: checked non-NULL.
        unsafe { write_out(out, l.metrics.get().map_or(0, |a| a.port())) };
        Ok(())
    })
}

/// The status a number names, if it names one (0 never does).
pub(crate) fn status_from(code: i64) -> Option<ProcessStatus> {
    ProcessStatus::from_code(code)
}

fn status_of(code: c_int, subscriber: &str) -> Result<ProcessStatus, HandlerError> {
    status_from(i64::from(code)).ok_or_else(|| {
        HandlerError::retriable(format!(
            "the callback of subscriber `{subscriber}` returned {code}, which is not a mega_status \
             (1 DONE, 2 RETRY_LATER, 3 FATAL_ERROR, 4 RETRIABLE_ERROR; 0 is none, so that a failed \
             callback is never taken for DONE): the message is kept for a retry"
        ))
    })
}

/// The handler that calls a C function.
pub(crate) fn c_handler(
    name: String,
    f: unsafe extern "C" fn(*mut c_void, *const mega_message) -> c_int,
    userdata: *mut c_void,
) -> Handler {
    let data = SendPtr(userdata);
    Handler::from_blocking(move |m: &Message| {
        let data = data;
        let wrapper = mega_message::new(m);
        // SAFETY: C's function with its userdata; the wrapper lives until it returns.
        let code = unsafe { f(data.0, &wrapper) };
        status_of(code, &name)
    })
}

/// Registers a subscriber whose handler `make` builds from its name.
pub(crate) fn subscribe(
    l: &mega_listener,
    name: &str,
    kind: mega_subscriber_kind,
    pattern: Option<mega_core::matcher::Pattern>,
    make: impl FnOnce(&str) -> Result<Handler, Error>,
) -> Result<(), Error> {
    let kind = match kind {
        MEGA_SUBSCRIBER_EVENT => SubscriberKind::Event,
        MEGA_SUBSCRIBER_DATA => SubscriberKind::Data,
        MEGA_SUBSCRIBER_MESSAGE => SubscriberKind::Message,
        other => {
            return Err(Error::invalid(format!(
                "`kind` {other} is not MEGA_SUBSCRIBER_EVENT (0), MEGA_SUBSCRIBER_DATA (1) or \
                 MEGA_SUBSCRIBER_MESSAGE (2)"
            )))
        }
    };
    if name.is_empty() {
        return Err(Error::invalid("`name` is empty"));
    }
    let mut sub = Subscriber::new(name, kind, make(name)?);
    if let Some(p) = pattern {
        sub = sub.with_pattern(p);
    }
    state_of(l)?.register_subscriber(sub).map_err(Error::from)
}

/// Adds a subscriber: `name` (unique in this listener), the payloads it takes (`MEGA_SUBSCRIBER_*`), a
/// pattern text in `syntax` (or NULL: everything of its kind), and the callback with its `userdata` (which
/// the library never frees, and which must outlive the listener's runs). Every subscriber whose pattern
/// matches a message gets it; the message is deleted once all of them are done with it.
///
/// Errors: `MEGA_RESULT_PATTERN` (with the pattern path in `mega_last_error_detail`),
/// `MEGA_RESULT_LISTENER` (a duplicate name), `MEGA_RESULT_BUSY` (running), `MEGA_RESULT_INVALID_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn mega_listener_subscribe(
    listener: *mut mega_listener,
    name: *const c_char,
    kind: mega_subscriber_kind,
    pattern_json: *const c_char,
    syntax: mega_syntax,
    handler: mega_handler,
    userdata: *mut c_void,
) -> mega_result {
    guard("mega_listener_subscribe", || {
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
        let f = handler.ok_or_else(|| Error::null("handler"))?;
        subscribe(l, name, kind, pattern, |name| {
            Ok(c_handler(name.to_owned(), f, userdata))
        })
    })
}

/// [`mega_listener_subscribe`] with a compiled pattern (which may use user functions); the listener keeps its
/// own copy, so `pattern` may be freed right after. NULL matches everything of the kind.
#[no_mangle]
pub unsafe extern "C" fn mega_listener_subscribe_pattern(
    listener: *mut mega_listener,
    name: *const c_char,
    kind: mega_subscriber_kind,
    pattern: *const mega_pattern,
    handler: mega_handler,
    userdata: *mut c_void,
) -> mega_result {
    guard("mega_listener_subscribe_pattern", || {
        // SAFETY: live objects or NULL; NUL-terminated text or NULL.
        let l = unsafe { arg_ref(listener, "listener") }?;
        let name = unsafe { arg_str(name, "name") }?;
        let pattern = unsafe { pattern.as_ref() }.map(|p| p.inner.clone());
        let f = handler.ok_or_else(|| Error::null("handler"))?;
        subscribe(l, name, kind, pattern, |name| {
            Ok(c_handler(name.to_owned(), f, userdata))
        })
    })
}

/// Listens until [`mega_listener_stop`] (or SIGTERM / SIGINT with `MEGA_LISTENER_HANDLE_SIGNALS`), blocking
/// the calling thread: receives, decodes, matches, calls the subscribers' callbacks on worker threads,
/// deletes or retries, and on stop lets callbacks in flight finish (within the shutdown grace) before it
/// returns. Nothing is lost: a message is deleted only when every matching subscriber is done with it.
/// A listener may run again after it returns.
///
/// Errors: `MEGA_RESULT_LISTENER` (an invalid setting, or a queue that cannot be used: it does not exist,
/// access denied…; the service's code in `mega_last_error_detail`), `MEGA_RESULT_BUSY` (already running).
#[no_mangle]
pub unsafe extern "C" fn mega_listener_run(listener: *const mega_listener) -> mega_result {
    guard("mega_listener_run", || {
        // SAFETY: a live object or NULL.
        let l = unsafe { arg_ref(listener, "listener") }?;
        if l.running
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return Err(Error::new(
                MEGA_RESULT_BUSY,
                "the listener is already running",
            ));
        }
        // Cleared on every way out of the run, a panic included, so that a failed run never leaves the
        // listener "running" (every later call BUSY, and mega_listener_free waiting forever).
        let _running = RunningFlag(l);
        run(l)
    })
}

/// Marks the end of a run when dropped: the stop request is consumed and the listener is not running.
struct RunningFlag<'a>(&'a mega_listener);

impl Drop for RunningFlag<'_> {
    fn drop(&mut self) {
        self.0.stop.store(false, Ordering::Release);
        self.0.running.store(false, Ordering::Release);
    }
}

fn run(l: &mega_listener) -> Result<(), Error> {
    let listener = l.inner.lock().unwrap_or_else(|p| p.into_inner());
    let stop = l.stop.clone();
    let handle = listener.shutdown_handle();
    let outcome = block_on(async move {
        // A stop request is one atomic store (safe in a signal handler); this task turns it into a shutdown.
        // A stop asked for before the run makes it return at once.
        let watcher = tokio::spawn(async move {
            loop {
                if stop.load(Ordering::Acquire) {
                    handle.shutdown();
                    return;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        });
        if l.stop.load(Ordering::Acquire) {
            listener.shutdown_handle().shutdown();
        }
        let result = listener.listen().await;
        watcher.abort();
        result
    })?;
    // The counters stay readable after the run: they are the last run's.
    outcome.map(drop).map_err(Error::from)
}

/// Asks the listener to stop: [`mega_listener_run`] stops receiving, lets callbacks in flight finish and
/// returns. Safe from any thread and from a signal handler (it only sets a flag, seen within 10 ms). Stopping
/// twice is harmless; stopping a listener that is not running makes its next run return at once.
/// `NULL` is a no-op.
#[no_mangle]
pub unsafe extern "C" fn mega_listener_stop(listener: *const mega_listener) {
    // No panic boundary needed: one atomic store cannot panic, and a signal handler must not do more.
    // SAFETY: a live object or NULL.
    if let Some(l) = unsafe { listener.as_ref() } {
        l.stop.store(true, Ordering::Release);
    }
}

/// Whether [`mega_listener_run`] is running (from its first step until it returns).
#[no_mangle]
pub unsafe extern "C" fn mega_listener_is_running(
    listener: *const mega_listener,
    out: *mut bool,
) -> mega_result {
    guard("mega_listener_is_running", || {
        out_ptr(out, "out")?;
        // SAFETY: a live object or NULL.
        let l = unsafe { arg_ref(listener, "listener") }?;
        // SAFETY: checked non-NULL.
        unsafe { write_out(out, l.running.load(Ordering::Acquire)) };
        Ok(())
    })
}

fn snapshot_of(l: &mega_listener) -> StatsSnapshot {
    l.stats.snapshot()
}

/// A counter (`MEGA_STAT_*`) of the running listener, or of its last run once it returned (0 before any).
/// Callable from any thread while the listener runs.
#[no_mangle]
pub unsafe extern "C" fn mega_listener_stat(
    listener: *const mega_listener,
    stat: mega_stat,
    out: *mut u64,
) -> mega_result {
    guard("mega_listener_stat", || {
        out_ptr(out, "out")?;
        // SAFETY: a live object or NULL.
        let l = unsafe { arg_ref(listener, "listener") }?;
        let s = snapshot_of(l);
        let v = match stat {
            MEGA_STAT_RECEIVE_CALLS => s.receive_calls,
            MEGA_STAT_RECEIVED => s.received,
            MEGA_STAT_DISPATCHED => s.dispatched,
            MEGA_STAT_DONE => s.done,
            MEGA_STAT_RETRY_LATER => s.retry_later,
            MEGA_STAT_FATAL_ERROR => s.fatal_error,
            MEGA_STAT_RETRIABLE_ERROR => s.retriable_error,
            MEGA_STAT_UNMATCHED => s.unmatched,
            MEGA_STAT_INVALID => s.invalid,
            MEGA_STAT_DELETED => s.deleted,
            MEGA_STAT_RETRIED => s.retried,
            MEGA_STAT_RELEASED => s.released,
            MEGA_STAT_IN_FLIGHT => s.in_flight,
            MEGA_STAT_RECEIVE_ERRORS => s.receive_errors,
            MEGA_STAT_HEARTBEATS => s.heartbeats,
            MEGA_STAT_HANDLER_P50_US => s.handler_p50.as_micros() as u64,
            MEGA_STAT_HANDLER_P99_US => s.handler_p99.as_micros() as u64,
            MEGA_STAT_STORE_CALLS => s.store_calls,
            MEGA_STAT_STORE_ERRORS => s.store_errors,
            MEGA_STAT_STORE_BUSY => s.store_busy,
            other => {
                return Err(Error::invalid(format!(
                    "`stat` {other} is not a MEGA_STAT_* counter"
                )))
            }
        };
        // SAFETY: checked non-NULL.
        unsafe { write_out(out, v) };
        Ok(())
    })
}

/// Every counter as a JSON object (`{"received": 10, "done": 9, …, "handler_p50_us": 120}`); on success
/// `*out` is a new string freed with `mega_string_free`.
#[no_mangle]
pub unsafe extern "C" fn mega_listener_stats_json(
    listener: *const mega_listener,
    out: *mut *mut c_char,
) -> mega_result {
    guard("mega_listener_stats_json", || {
        out_ptr(out, "out")?;
        // SAFETY: a live object or NULL.
        let l = unsafe { arg_ref(listener, "listener") }?;
        let s = snapshot_of(l);
        let mut fields = s.counters().to_vec();
        fields.push(("handler_p50_us", s.handler_p50.as_micros() as u64));
        fields.push(("handler_p99_us", s.handler_p99.as_micros() as u64));
        let map: Map = fields
            .iter()
            .map(|(k, v)| {
                (
                    (*k).to_owned(),
                    Value::Int(i64::try_from(*v).unwrap_or(i64::MAX)),
                )
            })
            .collect();
        let text = owned_string(json::to_tagged_string(&Value::Map(map)))?;
        // SAFETY: checked non-NULL.
        unsafe { write_out(out, text) };
        Ok(())
    })
}

/// The message a callback is given (borrowed: see [`mega_handler`]). Its accessors may be called only during
/// the callback, from any thread.
#[cfg(test)]
mod tests {
    use super::*;
    use mega_core::aws::AwsSettings;

    #[test]
    fn a_run_that_panics_leaves_the_listener_stopped_and_usable() {
        let mut config = ListenerConfig::new("http://127.0.0.1:1/queue/q");
        config.handle_signals = false;
        let inner = SqsListener::new(&AwsSettings::default(), config);
        let l = mega_listener {
            stats: inner.stats(),
            metrics: inner.metrics_address(),
            inner: Mutex::new(inner),
            deliveries: Deliveries::new(1),
            stop: Arc::new(AtomicBool::new(true)),
            running: AtomicBool::new(true),
        };
        // As mega_listener_run does, with a run that panics.
        let result = guard("test", || {
            let _running = RunningFlag(&l);
            panic!("a run that panics");
        });
        assert_eq!(result, MEGA_RESULT_PANIC);
        assert!(!l.running.load(Ordering::Acquire));
        assert!(!l.stop.load(Ordering::Acquire));
        assert!(state_of(&l).is_ok(), "settings can be changed again");
    }
}
