//! The cost of the C callback path next to native Rust handlers, in one run, on the embedded endpoint.
//!
//! `cargo bench -p sqs-mega-ffi --bench callback` drains `MESSAGES` preloaded messages per round with three
//! listeners built the same way (same settings, same pattern, a handler that reads the message id and says
//! DONE), in an order that rotates each round:
//! - `rust-async`: the core listener with a native async Rust handler (what a Rust user writes);
//! - `rust-blocking`: the core listener with a blocking Rust handler (the thread pool C callbacks run on);
//! - `c-callback`: the C ABI end to end (`mega_listener_new`, `mega_listener_subscribe` with an
//!   `extern "C"` function, `mega_listener_run` on its own thread, `mega_message_id` in the callback,
//!   `mega_listener_stop`).
//!
//! It prints messages/s and process CPU time per message (the endpoint runs in the same process, so the CPU
//! figure includes its share, the same for all three), each round and the medians, and the C path's ratios to
//! both Rust paths. Goal: the C path within 10 % of the native Rust handler, at 10,000 messages/s or more.

// Calls the C ABI as C would: raw pointers, an `extern "C"` callback; unsafe by nature.
#![allow(unsafe_code)]

use std::ffi::{c_int, c_void, CString};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mega_core::aws::AwsSettings;
use mega_core::codec::Content;
use mega_core::listen::{
    Handler, ListenerConfig, ProcessStatus, SqsListener, Subscriber, SubscriberKind,
};
use mega_core::matcher::{compile_pattern_json, Syntax};
use mega_core::publish::{BatchEntry, SqsPublisher};
use mega_core::value;
use sqs_mega as ffi;

const MESSAGES: usize = 20_000;
const ROUNDS: usize = 5;
const PATTERN: &str = r#"{"type": ["order"]}"#;

fn cpu_time() -> Duration {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::uninit();
    // SAFETY: getrusage fills the struct it is given.
    let usage = unsafe {
        assert_eq!(libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()), 0);
        usage.assume_init()
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

async fn preload(settings: &AwsSettings, name: &str) -> String {
    let client = settings.sqs_client().await;
    let url = client
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned();
    let publisher = SqsPublisher::new(settings, &url);
    let entries: Vec<_> = (0..MESSAGES)
        .map(|n| BatchEntry::new(Content::Data(value!({"type": "order", "n": (n as i64)}))))
        .collect();
    let mut sends = Vec::new();
    for chunk in entries.chunks(500) {
        let publisher = publisher.clone();
        let chunk = chunk.to_vec();
        sends.push(tokio::spawn(
            async move { publisher.publish_batch(chunk).await },
        ));
    }
    for s in sends {
        assert!(s.await.unwrap().iter().all(Result::is_ok));
    }
    url
}

#[derive(Clone, Copy)]
enum Path {
    RustAsync,
    RustBlocking,
    C,
}

impl Path {
    fn name(self) -> &'static str {
        match self {
            Path::RustAsync => "rust-async",
            Path::RustBlocking => "rust-blocking",
            Path::C => "c-callback",
        }
    }
}

struct Measured {
    per_second: f64,
    cpu_per_message: Duration,
}

static SEEN: AtomicU64 = AtomicU64::new(0);

/// The C path's callback: what a C subscriber would do at least (read the id, say DONE).
unsafe extern "C" fn c_callback(
    _userdata: *mut c_void,
    message: *const ffi::mega_message,
) -> c_int {
    let mut id = ffi::mega_str {
        data: std::ptr::null(),
        len: 0,
    };
    // SAFETY: the message given to this callback, alive during it.
    if unsafe { ffi::mega_message_id(message, &mut id) } == ffi::MEGA_RESULT_OK && id.len > 0 {
        SEEN.fetch_add(1, Ordering::Relaxed);
    }
    ffi::MEGA_STATUS_DONE as c_int
}

fn config(url: &str) -> ListenerConfig {
    let mut c = ListenerConfig::new(url);
    c.wait_time_seconds = 1;
    c.handle_signals = false;
    c
}

/// Drains the queue with a core listener and the given handler.
fn run_rust(
    rt: &tokio::runtime::Runtime,
    settings: &AwsSettings,
    url: &str,
    handler: Handler,
) -> Measured {
    rt.block_on(async {
        let mut listener = SqsListener::new(settings, config(url));
        let pattern = compile_pattern_json(PATTERN, Syntax::EventBridge).unwrap();
        listener
            .register_subscriber(
                Subscriber::new("orders", SubscriberKind::Data, handler).with_pattern(pattern),
            )
            .unwrap();
        let stats = listener.stats();
        let stop = listener.shutdown_handle();
        let (cpu0, t0) = (cpu_time(), Instant::now());
        let run = tokio::spawn(async move { listener.listen().await });
        while stats.snapshot().deleted < MESSAGES as u64 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let (elapsed, cpu) = (t0.elapsed(), cpu_time() - cpu0);
        stop.shutdown();
        run.await.unwrap().unwrap();
        Measured {
            per_second: MESSAGES as f64 / elapsed.as_secs_f64(),
            cpu_per_message: cpu / MESSAGES as u32,
        }
    })
}

/// A pointer that crosses to the runner thread (the listener outlives it: joined before the free).
struct Listener(*mut ffi::mega_listener);
// SAFETY: the C ABI's listener may be run on one thread and read or stopped from others.
unsafe impl Send for Listener {}

/// Drains the queue through the C ABI.
fn run_c(local_url: &str, url: &str) -> Measured {
    let c = |s: &str| CString::new(s).unwrap();
    let (endpoint, queue, name, pattern) = (c(local_url), c(url), c("orders"), c(PATTERN));
    let mut settings = std::ptr::null_mut();
    let mut listener = std::ptr::null_mut();
    // SAFETY: the C ABI used as a C program would, with live NUL-terminated strings and valid out-pointers.
    unsafe {
        assert_eq!(
            ffi::mega_settings_new_local(endpoint.as_ptr(), &mut settings),
            ffi::MEGA_RESULT_OK
        );
        assert_eq!(
            ffi::mega_listener_new(settings, queue.as_ptr(), &mut listener),
            ffi::MEGA_RESULT_OK
        );
        assert_eq!(
            ffi::mega_listener_set(listener, ffi::MEGA_LISTENER_WAIT_TIME_SECONDS, 1),
            ffi::MEGA_RESULT_OK
        );
        assert_eq!(
            ffi::mega_listener_subscribe(
                listener,
                name.as_ptr(),
                ffi::MEGA_SUBSCRIBER_DATA,
                pattern.as_ptr(),
                ffi::MEGA_SYNTAX_EVENTBRIDGE,
                Some(c_callback),
                std::ptr::null_mut(),
            ),
            ffi::MEGA_RESULT_OK
        );
    }
    let deleted = |l: *const ffi::mega_listener| {
        let mut v = 0u64;
        // SAFETY: a live listener and a valid out-pointer.
        unsafe { ffi::mega_listener_stat(l, ffi::MEGA_STAT_DELETED, &mut v) };
        v
    };
    let (cpu0, t0) = (cpu_time(), Instant::now());
    let handle = Listener(listener);
    let runner = std::thread::spawn(move || {
        let handle = handle;
        // SAFETY: the listener lives until after this thread is joined.
        unsafe { ffi::mega_listener_run(handle.0) }
    });
    while deleted(listener) < MESSAGES as u64 {
        std::thread::sleep(Duration::from_millis(1));
    }
    let (elapsed, cpu) = (t0.elapsed(), cpu_time() - cpu0);
    // SAFETY: as above; freed only after the run returned.
    unsafe {
        ffi::mega_listener_stop(listener);
        assert_eq!(runner.join().unwrap(), ffi::MEGA_RESULT_OK);
        ffi::mega_listener_free(listener);
        ffi::mega_settings_free(settings);
    }
    Measured {
        per_second: MESSAGES as f64 / elapsed.as_secs_f64(),
        cpu_per_message: cpu / MESSAGES as u32,
    }
}

fn median<T: PartialOrd + Copy>(mut v: Vec<T>) -> T {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list` and friends
    }
    let server = mega_local_server();
    let local_url = server.url().to_owned();
    let settings = AwsSettings::local(&local_url);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let paths = [Path::RustAsync, Path::RustBlocking, Path::C];
    let mut results: Vec<Vec<Measured>> = (0..paths.len()).map(|_| Vec::new()).collect();
    println!(
        "C callback path vs native Rust handlers: {MESSAGES} messages per run, {ROUNDS} rounds, embedded endpoint"
    );
    for round in 0..ROUNDS {
        for k in 0..paths.len() {
            let i = (round + k) % paths.len();
            let path = paths[i];
            let url = rt.block_on(preload(
                &settings,
                &format!("bench-{round}-{}", path.name()),
            ));
            let seen_before = SEEN.load(Ordering::Relaxed);
            let m = match path {
                Path::RustAsync => run_rust(
                    &rt,
                    &settings,
                    &url,
                    Handler::from_async(|m: Arc<mega_core::listen::Message>| async move {
                        assert!(!m.message_id.is_empty());
                        Ok(ProcessStatus::Done)
                    }),
                ),
                Path::RustBlocking => run_rust(
                    &rt,
                    &settings,
                    &url,
                    Handler::from_blocking(|m: &mega_core::listen::Message| {
                        assert!(!m.message_id.is_empty());
                        Ok(ProcessStatus::Done)
                    }),
                ),
                Path::C => {
                    let m = run_c(&local_url, &url);
                    assert!(SEEN.load(Ordering::Relaxed) - seen_before >= MESSAGES as u64);
                    m
                }
            };
            println!(
                "round {round} {:<14} {:>8.0} msg/s  {:>6.1} µs CPU/msg",
                path.name(),
                m.per_second,
                m.cpu_per_message.as_secs_f64() * 1e6
            );
            results[i].push(m);
        }
    }
    println!("medians of {ROUNDS} rounds:");
    let mut med = Vec::new();
    for (i, path) in paths.iter().enumerate() {
        let rate = median(results[i].iter().map(|m| m.per_second).collect());
        let cpu = median(
            results[i]
                .iter()
                .map(|m| m.cpu_per_message.as_secs_f64() * 1e6)
                .collect(),
        );
        println!(
            "  {:<14} {:>8.0} msg/s  {:>6.1} µs CPU/msg",
            path.name(),
            rate,
            cpu
        );
        med.push((rate, cpu));
    }
    let (c_rate, c_cpu) = med[2];
    for (i, against) in [(0, "rust-async"), (1, "rust-blocking")] {
        let (rate, cpu) = med[i];
        println!(
            "  c-callback / {against}: throughput {:.3}x, CPU per message {:.3}x",
            c_rate / rate,
            c_cpu / cpu
        );
    }
    let ok = c_rate >= 10_000.0 && c_rate >= 0.9 * med[0].0;
    println!(
        "  goal (C path ≥ 10,000 msg/s and within 10% of the native async handler's throughput): {}",
        if ok { "met" } else { "NOT met" }
    );
    server.shutdown();
}

fn mega_local_server() -> sqs_mega_local::ServerHandle {
    sqs_mega_local::Server::start(sqs_mega_local::Config::default()).expect("embedded endpoint")
}
