//! The C ABI called from Rust as C would call it: patterns with user functions, explanations and SNS export,
//! publishing, and a listener with an `extern "C"` callback on the embedded endpoint (run, busy, stop, run
//! again, stats).

// Calls the C ABI as C would: raw pointers, `extern "C"` callbacks; unsafe by nature.
#![allow(unsafe_code)]

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::ptr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use sqs_mega::*;

fn c(s: &str) -> CString {
    CString::new(s).unwrap()
}

fn text(s: mega_str) -> String {
    // SAFETY: a borrowed string of the library, alive while its owner is.
    String::from_utf8(unsafe { std::slice::from_raw_parts(s.data.cast::<u8>(), s.len) }.to_vec())
        .unwrap()
}

fn owned(p: *mut c_char) -> String {
    assert!(!p.is_null());
    // SAFETY: an owned string of the library, freed here once.
    unsafe {
        let s = CStr::from_ptr(p).to_str().unwrap().to_owned();
        mega_string_free(p);
        s
    }
}

fn last_error() -> String {
    // SAFETY: the library's thread-local NUL-terminated string.
    unsafe { CStr::from_ptr(mega_last_error_message()) }
        .to_str()
        .unwrap()
        .to_owned()
}

unsafe extern "C" fn is_even(userdata: *mut c_void, value: *const mega_value) -> bool {
    // SAFETY: the counter this test registered.
    unsafe { &*(userdata as *const AtomicU32) }.fetch_add(1, Ordering::Relaxed);
    let mut i = 0i64;
    // SAFETY: the value given for the call.
    unsafe { mega_value_int(value, &mut i) == MEGA_RESULT_OK && i % 2 == 0 }
}

#[test]
fn patterns_with_c_functions_explain_and_export() {
    let calls = AtomicU32::new(0);
    unsafe {
        let mut cbs = ptr::null_mut();
        assert_eq!(mega_callbacks_new(&mut cbs), MEGA_RESULT_OK);
        let id = c("is_even");
        assert_eq!(
            mega_callbacks_add(
                cbs,
                id.as_ptr(),
                Some(is_even),
                &calls as *const _ as *mut c_void
            ),
            MEGA_RESULT_OK
        );
        let mut p = ptr::null_mut();
        let pattern = c(r#"{"n": {"$fn": "is_even"}, "user": {"name": {"$match": "jo"}}}"#);
        assert_eq!(
            mega_pattern_compile(pattern.as_ptr(), MEGA_SYNTAX_MEGA, cbs, &mut p),
            MEGA_RESULT_OK
        );
        // The pattern keeps what it needs: the set may go.
        mega_callbacks_free(cbs);

        let mut yes = ptr::null_mut();
        let mut no = ptr::null_mut();
        let j1 = c(r#"{"n": 4, "user": {"name": "john"}}"#);
        let j2 = c(r#"{"n": 4, "user": {"name": "mary"}}"#);
        assert_eq!(
            mega_value_parse_json(j1.as_ptr(), false, &mut yes),
            MEGA_RESULT_OK
        );
        assert_eq!(
            mega_value_parse_json(j2.as_ptr(), false, &mut no),
            MEGA_RESULT_OK
        );
        let mut matched = false;
        assert_eq!(mega_pattern_matches(p, yes, &mut matched), MEGA_RESULT_OK);
        assert!(matched);
        assert_eq!(mega_pattern_matches(p, no, &mut matched), MEGA_RESULT_OK);
        assert!(!matched);
        assert!(
            calls.load(Ordering::Relaxed) >= 2,
            "the C function was called"
        );

        let (mut why, mut path) = (ptr::null_mut(), ptr::null_mut());
        assert_eq!(
            mega_pattern_explain(p, no, &mut why, &mut path),
            MEGA_RESULT_OK
        );
        assert_eq!(owned(path), "user.name");
        assert!(owned(why).contains("mary"));
        let (mut why, mut path) = (ptr::null_mut(), ptr::dangling_mut::<c_char>());
        assert_eq!(
            mega_pattern_explain(p, yes, &mut why, &mut path),
            MEGA_RESULT_OK
        );
        assert!(
            why.is_null() && path.is_null(),
            "a match has nothing to explain"
        );

        let mut export = ptr::null_mut();
        assert_eq!(
            mega_pattern_sns_filter_policy(p, &mut export),
            MEGA_RESULT_OK
        );
        let export = owned(export);
        assert!(export.contains(r#""prefix":"jo""#), "{export}");
        assert!(export.contains(r#""omitted""#), "{export}");

        mega_value_free(yes);
        mega_value_free(no);
        mega_pattern_free(p);

        // EventBridge syntax too; errors point into the pattern.
        let eb = c(r#"{"price": [{"numeric": [">", 10]}]}"#);
        assert_eq!(
            mega_pattern_compile(eb.as_ptr(), MEGA_SYNTAX_EVENTBRIDGE, ptr::null(), &mut p),
            MEGA_RESULT_OK
        );
        mega_pattern_free(p);
        let bad = c(r#"{"price": [{"numeric": [">"]}]}"#);
        let mut untouched = ptr::null_mut();
        assert_eq!(
            mega_pattern_compile(
                bad.as_ptr(),
                MEGA_SYNTAX_EVENTBRIDGE,
                ptr::null(),
                &mut untouched
            ),
            MEGA_RESULT_PATTERN
        );
        assert!(untouched.is_null());
        let detail = CStr::from_ptr(mega_last_error_detail()).to_str().unwrap();
        assert!(detail.starts_with("/price"), "{detail}");
    }
}

static DONE: AtomicU32 = AtomicU32::new(0);
static RETRIED: AtomicU32 = AtomicU32::new(0);

unsafe extern "C" fn handler(_userdata: *mut c_void, message: *const mega_message) -> c_int {
    let mut payload = ptr::null();
    let mut kind = MEGA_KIND_EMPTY;
    let mut json = mega_str {
        data: ptr::null(),
        len: 0,
    };
    // SAFETY: the message of this call.
    unsafe {
        assert_eq!(mega_message_payload(message, &mut payload), MEGA_RESULT_OK);
        assert_eq!(mega_message_kind(message, &mut kind), MEGA_RESULT_OK);
        assert_eq!(
            mega_message_payload_json(message, &mut json),
            MEGA_RESULT_OK
        );
        let mut attrs = mega_str {
            data: ptr::null(),
            len: 0,
        };
        assert_eq!(
            mega_message_attributes_json(message, &mut attrs),
            MEGA_RESULT_OK
        );
        assert!(text(attrs).contains("mega.encoding"), "{}", text(attrs));
        let mut sns = mega_str {
            data: ptr::null(),
            len: 0,
        };
        assert_eq!(
            mega_message_sns_json(message, &mut sns),
            MEGA_RESULT_NOT_FOUND
        );
    }
    assert_eq!(kind, MEGA_KIND_DATA);
    if text(json).contains("again") {
        RETRIED.fetch_add(1, Ordering::Relaxed);
        MEGA_STATUS_RETRY_LATER as c_int
    } else {
        DONE.fetch_add(1, Ordering::Relaxed);
        MEGA_STATUS_DONE as c_int
    }
}

struct Shared(*mut mega_listener);
// SAFETY: the listener is made for use from several threads; it is freed after the runner is joined.
unsafe impl Send for Shared {}
// SAFETY: as above.
unsafe impl Sync for Shared {}

fn wait_until(what: &str, f: impl Fn() -> bool) {
    let t0 = Instant::now();
    while !f() {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn listener_with_a_c_callback_runs_stops_and_runs_again() {
    unsafe {
        let mut local = ptr::null_mut();
        assert_eq!(mega_local_start(ptr::null(), 0, &mut local), MEGA_RESULT_OK);
        let mut settings = ptr::null_mut();
        assert_eq!(
            mega_settings_new_local(mega_local_url(local), &mut settings),
            MEGA_RESULT_OK
        );
        let mut url = ptr::null_mut();
        let name = c("abi-listener");
        assert_eq!(
            mega_queue_create(settings, name.as_ptr(), ptr::null(), &mut url),
            MEGA_RESULT_OK
        );

        let mut publisher = ptr::null_mut();
        assert_eq!(
            mega_sqs_publisher_new(settings, url, &mut publisher),
            MEGA_RESULT_OK
        );
        for body in [r#"{"task": "once"}"#, r#"{"task": "again"}"#] {
            let body = c(body);
            let mut id = ptr::null_mut();
            assert_eq!(
                mega_publisher_publish_json(publisher, body.as_ptr(), ptr::null(), &mut id),
                MEGA_RESULT_OK
            );
            assert!(!owned(id).is_empty());
        }

        let mut l = ptr::null_mut();
        assert_eq!(mega_listener_new(settings, url, &mut l), MEGA_RESULT_OK);
        assert_eq!(
            mega_listener_set(l, MEGA_LISTENER_WAIT_TIME_SECONDS, 1),
            MEGA_RESULT_OK
        );
        assert_eq!(
            mega_listener_set(l, MEGA_LISTENER_RETRY_BASE_MS, 60_000),
            MEGA_RESULT_OK
        );
        let sub = c("tasks");
        let pattern = c(r#"{"task": {"$any": true}}"#);
        assert_eq!(
            mega_listener_subscribe(
                l,
                sub.as_ptr(),
                MEGA_SUBSCRIBER_DATA,
                pattern.as_ptr(),
                MEGA_SYNTAX_MEGA,
                Some(handler),
                ptr::null_mut()
            ),
            MEGA_RESULT_OK
        );

        let shared = std::sync::Arc::new(Shared(l));
        let runner = {
            let shared = shared.clone();
            std::thread::spawn(move || mega_listener_run(shared.0))
        };
        wait_until("both messages", || {
            DONE.load(Ordering::Relaxed) == 1 && RETRIED.load(Ordering::Relaxed) == 1
        });
        // A second run while running is refused; changing it is too.
        assert_eq!(mega_listener_run(l), MEGA_RESULT_BUSY);
        assert_eq!(
            mega_listener_set(l, MEGA_LISTENER_POLLERS, 2),
            MEGA_RESULT_BUSY
        );
        let stat = |which| {
            let mut v = 0u64;
            assert_eq!(mega_listener_stat(l, which, &mut v), MEGA_RESULT_OK);
            v
        };
        wait_until("the delete", || stat(MEGA_STAT_DELETED) == 1);
        mega_listener_stop(l);
        assert_eq!(runner.join().unwrap(), MEGA_RESULT_OK, "{}", last_error());
        assert_eq!(stat(MEGA_STAT_DONE), 1);
        assert_eq!(stat(MEGA_STAT_RETRY_LATER), 1);
        assert_eq!(stat(MEGA_STAT_RETRIED), 1);
        let mut stats = ptr::null_mut();
        assert_eq!(mega_listener_stats_json(l, &mut stats), MEGA_RESULT_OK);
        assert!(owned(stats).contains(r#""received":2"#));

        // The retried message is still in the queue (in flight, back in a minute).
        let mut attrs = ptr::null_mut();
        assert_eq!(
            mega_queue_attributes(settings, url, &mut attrs),
            MEGA_RESULT_OK
        );
        let attrs = owned(attrs);
        assert!(
            attrs.contains(r#""ApproximateNumberOfMessagesNotVisible":"1""#),
            "{attrs}"
        );

        // Runs again after a stop; freeing a running listener stops it and waits.
        let runner = {
            let shared = shared.clone();
            std::thread::spawn(move || mega_listener_run(shared.0))
        };
        wait_until("the second run", || {
            let mut running = false;
            assert_eq!(mega_listener_is_running(l, &mut running), MEGA_RESULT_OK);
            running
        });
        mega_listener_free(l);
        assert_eq!(runner.join().unwrap(), MEGA_RESULT_OK);

        mega_publisher_free(publisher);
        mega_string_free(url);
        mega_settings_free(settings);
        mega_local_free(local);
    }
}

#[test]
fn absurd_settings_are_refused_where_given_and_the_listener_still_runs() {
    unsafe {
        let mut local = ptr::null_mut();
        assert_eq!(mega_local_start(ptr::null(), 0, &mut local), MEGA_RESULT_OK);
        let mut settings = ptr::null_mut();
        assert_eq!(
            mega_settings_new_local(mega_local_url(local), &mut settings),
            MEGA_RESULT_OK
        );
        let mut url = ptr::null_mut();
        let name = c("abi-absurd");
        assert_eq!(
            mega_queue_create(settings, name.as_ptr(), ptr::null(), &mut url),
            MEGA_RESULT_OK
        );
        let mut l = ptr::null_mut();
        assert_eq!(mega_listener_new(settings, url, &mut l), MEGA_RESULT_OK);
        for (option, value, named) in [
            (
                MEGA_LISTENER_MAX_IN_FLIGHT,
                i64::MAX,
                "MEGA_LISTENER_MAX_IN_FLIGHT",
            ),
            (MEGA_LISTENER_POLLERS, i64::MAX, "MEGA_LISTENER_POLLERS"),
            (MEGA_LISTENER_POLLERS, 0, "MEGA_LISTENER_POLLERS"),
            (
                MEGA_LISTENER_MAX_IN_FLIGHT,
                -1,
                "MEGA_LISTENER_MAX_IN_FLIGHT",
            ),
            (
                MEGA_LISTENER_SHUTDOWN_GRACE_MS,
                i64::MAX,
                "MEGA_LISTENER_SHUTDOWN_GRACE_MS",
            ),
            (
                MEGA_LISTENER_DELETE_LINGER_MS,
                i64::MAX,
                "MEGA_LISTENER_DELETE_LINGER_MS",
            ),
            (
                MEGA_LISTENER_RETRY_BASE_MS,
                i64::MAX,
                "MEGA_LISTENER_RETRY_BASE_MS",
            ),
            (MEGA_LISTENER_MAX_MESSAGES, 11, "MEGA_LISTENER_MAX_MESSAGES"),
            (
                MEGA_LISTENER_WAIT_TIME_SECONDS,
                21,
                "MEGA_LISTENER_WAIT_TIME_SECONDS",
            ),
            (
                MEGA_LISTENER_VISIBILITY_TIMEOUT,
                43_201,
                "MEGA_LISTENER_VISIBILITY_TIMEOUT",
            ),
        ] {
            assert_eq!(
                mega_listener_set(l, option, value),
                MEGA_RESULT_INVALID_ARGUMENT,
                "{named} = {value} accepted"
            );
            let message = last_error();
            assert!(
                message.contains(named) && message.contains(&value.to_string()),
                "{message}"
            );
        }
        // The largest accepted values are accepted.
        assert_eq!(
            mega_listener_set(l, MEGA_LISTENER_MAX_IN_FLIGHT, 100_000),
            MEGA_RESULT_OK
        );
        assert_eq!(
            mega_listener_set(l, MEGA_LISTENER_POLLERS, 2),
            MEGA_RESULT_OK
        );
        assert_eq!(
            mega_listener_set(l, MEGA_LISTENER_WAIT_TIME_SECONDS, 1),
            MEGA_RESULT_OK
        );

        // Nothing was left half-set: the listener runs, stops, and is not running afterwards.
        let shared = std::sync::Arc::new(Shared(l));
        let runner = {
            let shared = shared.clone();
            std::thread::spawn(move || mega_listener_run(shared.0))
        };
        let running = || {
            let mut running = false;
            assert_eq!(mega_listener_is_running(l, &mut running), MEGA_RESULT_OK);
            running
        };
        wait_until("the run", running);
        mega_listener_stop(l);
        assert_eq!(runner.join().unwrap(), MEGA_RESULT_OK, "{}", last_error());
        assert!(!running());
        assert_eq!(
            mega_listener_set(l, MEGA_LISTENER_POLLERS, 1),
            MEGA_RESULT_OK
        );
        mega_listener_free(l);
        mega_string_free(url);
        mega_settings_free(settings);
        mega_local_free(local);
    }
}

#[test]
fn bad_attributes_are_refused_when_added() {
    unsafe {
        let mut options = ptr::null_mut();
        assert_eq!(mega_publish_options_new(&mut options), MEGA_RESULT_OK);
        let add = |name: &str, data_type: &str, value: &str| {
            let (n, t, v) = (c(name), c(data_type), c(value));
            mega_publish_options_add_attribute(options, n.as_ptr(), t.as_ptr(), v.as_ptr())
        };
        assert_eq!(add("price", "Number", "12.50"), MEGA_RESULT_OK);
        assert_eq!(add("big", "Number.int", "-1e126"), MEGA_RESULT_OK);
        for (name, data_type, value, says) in [
            ("count", "Number", "abc", "not a Number"),
            ("count", "Number", "NaN", "not a Number"),
            ("count", "Number", "1e200", "10^126"),
            (
                "count",
                "Number",
                "1234567890123456789012345678901234567890",
                "38",
            ),
            ("mega.x", "String", "v", "reserved"),
            ("text", "String", "a\u{1}b", "U+0001"),
        ] {
            assert_eq!(
                add(name, data_type, value),
                MEGA_RESULT_INVALID_ARGUMENT,
                "{name}={value}"
            );
            let message = last_error();
            assert!(
                message.contains(name) && message.contains(says),
                "{message}"
            );
        }
        mega_publish_options_free(options);
    }
}

#[test]
fn queued_subscribers_deliver_to_the_programs_own_threads() {
    unsafe {
        let mut local = ptr::null_mut();
        assert_eq!(mega_local_start(ptr::null(), 0, &mut local), MEGA_RESULT_OK);
        let mut settings = ptr::null_mut();
        assert_eq!(
            mega_settings_new_local(mega_local_url(local), &mut settings),
            MEGA_RESULT_OK
        );
        let mut url = ptr::null_mut();
        let name = c("abi-pull");
        assert_eq!(
            mega_queue_create(settings, name.as_ptr(), ptr::null(), &mut url),
            MEGA_RESULT_OK
        );
        let mut publisher = ptr::null_mut();
        assert_eq!(
            mega_sqs_publisher_new(settings, url, &mut publisher),
            MEGA_RESULT_OK
        );
        for n in 0..3 {
            let body = c(&format!(r#"{{"n": {n}}}"#));
            assert_eq!(
                mega_publisher_publish_json(publisher, body.as_ptr(), ptr::null(), ptr::null_mut()),
                MEGA_RESULT_OK
            );
        }
        let mut l = ptr::null_mut();
        assert_eq!(mega_listener_new(settings, url, &mut l), MEGA_RESULT_OK);
        assert_eq!(
            mega_listener_set(l, MEGA_LISTENER_WAIT_TIME_SECONDS, 1),
            MEGA_RESULT_OK
        );
        assert_eq!(
            mega_listener_set(l, MEGA_LISTENER_RETRY_BASE_MS, 60_000),
            MEGA_RESULT_OK
        );
        let sub = c("pulled");
        assert_eq!(
            mega_listener_subscribe_queued(
                l,
                sub.as_ptr(),
                MEGA_SUBSCRIBER_DATA,
                ptr::null(),
                MEGA_SYNTAX_MEGA
            ),
            MEGA_RESULT_OK
        );
        // Nothing yet (not running): a short wait gives NULL.
        let mut d = ptr::null_mut();
        assert_eq!(mega_listener_next_delivery(l, 10, &mut d), MEGA_RESULT_OK);
        assert!(d.is_null());
        assert_eq!(
            mega_listener_next_delivery(l, -1, &mut d),
            MEGA_RESULT_INVALID_ARGUMENT
        );

        let shared = std::sync::Arc::new(Shared(l));
        let runner = {
            let shared = shared.clone();
            std::thread::spawn(move || mega_listener_run(shared.0))
        };
        let mut seen = Vec::new();
        let t0 = Instant::now();
        while seen.len() < 3 && t0.elapsed() < Duration::from_secs(30) {
            let mut d = ptr::null_mut();
            assert_eq!(mega_listener_next_delivery(l, 500, &mut d), MEGA_RESULT_OK);
            if d.is_null() {
                continue;
            }
            let mut subscriber = mega_str {
                data: ptr::null(),
                len: 0,
            };
            assert_eq!(mega_delivery_subscriber(d, &mut subscriber), MEGA_RESULT_OK);
            assert_eq!(text(subscriber), "pulled");
            let mut m = ptr::null();
            assert_eq!(mega_delivery_message(d, &mut m), MEGA_RESULT_OK);
            let mut json = mega_str {
                data: ptr::null(),
                len: 0,
            };
            assert_eq!(mega_message_payload_json(m, &mut json), MEGA_RESULT_OK);
            let json = text(json);
            seen.push(json.clone());
            // 0 is no status: refused, and the delivery is still open.
            assert_eq!(
                mega_delivery_complete(d, 0, ptr::null_mut()),
                MEGA_RESULT_INVALID_ARGUMENT
            );
            let mut accepted = false;
            if json.contains('0') {
                assert_eq!(
                    mega_delivery_complete(d, MEGA_STATUS_DONE as u32, &mut accepted),
                    MEGA_RESULT_OK
                );
                assert!(accepted);
            } else if json.contains('1') {
                assert_eq!(
                    mega_delivery_complete(d, MEGA_STATUS_RETRY_LATER as u32, &mut accepted),
                    MEGA_RESULT_OK
                );
                assert!(accepted);
            } // n = 2: freed without a status, a retriable error
            mega_delivery_free(d);
        }
        assert_eq!(seen.len(), 3, "{seen:?}");
        let stat = |which| {
            let mut v = 0u64;
            assert_eq!(mega_listener_stat(l, which, &mut v), MEGA_RESULT_OK);
            v
        };
        wait_until("the delete", || stat(MEGA_STAT_DELETED) == 1);
        mega_listener_stop(l);
        assert_eq!(runner.join().unwrap(), MEGA_RESULT_OK, "{}", last_error());
        assert_eq!(stat(MEGA_STAT_DONE), 1);
        assert_eq!(stat(MEGA_STAT_RETRY_LATER), 1);
        assert_eq!(stat(MEGA_STAT_RETRIABLE_ERROR), 1);
        mega_listener_free(l);
        mega_publisher_free(publisher);
        mega_string_free(url);
        mega_settings_free(settings);
        mega_local_free(local);
    }
}
