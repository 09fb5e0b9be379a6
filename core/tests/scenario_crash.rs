//! Listener processes under signals. Crash recovery: a listener in a child process is killed with SIGKILL in
//! the middle of its work; a second listener finishes it. Graceful shutdown: SIGTERM lets the child finish
//! its in-flight work, delete it, and exit cleanly, leaving the rest in the queue.

mod support;

use std::collections::HashSet;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqs_mega::aws::AwsSettings;
use sqs_mega::codec::Content;
use sqs_mega::listen::{
    Handler, ListenerConfig, ProcessStatus, SqsListener, Subscriber, SubscriberKind,
};
use sqs_mega::publish::{BatchEntry, SqsPublisher};
use sqs_mega::{value, Value};
use support::{create_queue, Endpoint};

const WORKER_ENV: &str = "MEGA_SCENARIO_WORKER";

/// A listener that appends each processed message's `n` to a file (the side effect), slowly.
fn worker(settings: &AwsSettings, queue_url: &str, log_path: &str) -> SqsListener {
    worker_with(settings, queue_url, log_path, false, 100)
}

fn worker_with(
    settings: &AwsSettings,
    queue_url: &str,
    log_path: &str,
    handle_signals: bool,
    work_ms: u64,
) -> SqsListener {
    let log_path = log_path.to_owned();
    let mut listener = SqsListener::new(
        settings,
        ListenerConfig::new(queue_url)
            .with_wait_time_seconds(1)
            .with_visibility_timeout(3)
            .with_max_in_flight(10)
            .with_handle_signals(handle_signals),
    );
    listener
        .register_subscriber(Subscriber::new(
            "SideEffect",
            SubscriberKind::Data,
            Handler::from_blocking(move |m| {
                std::thread::sleep(Duration::from_millis(work_ms));
                let n = m
                    .value()
                    .and_then(|v| v.get("n"))
                    .and_then(Value::as_i64)
                    .unwrap();
                let mut f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&log_path)
                    .unwrap();
                // One write per line: with O_APPEND a single small write is atomic, so concurrent handlers
                // never interleave (writeln! would write the number and the newline separately).
                f.write_all(format!("{n}\n").as_bytes()).unwrap();
                Ok(ProcessStatus::Done)
            }),
        ))
        .unwrap();
    listener
}

/// Entry point of the child process (run by re-executing this test binary); not a test by itself.
#[test]
#[ignore = "entry point for the child process of crash_recovery_after_sigkill"]
fn worker_process_entry_point() {
    let Ok(spec) = std::env::var(WORKER_ENV) else {
        return;
    };
    let parts: Vec<&str> = spec.split('|').collect();
    let (endpoint, queue_url, log_path) = (parts[0], parts[1], parts[2]);
    let signals = parts.get(3) == Some(&"signals");
    let work_ms = parts.get(4).and_then(|s| s.parse().ok()).unwrap_or(100);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let listener = worker_with(
        &AwsSettings::local(endpoint),
        queue_url,
        log_path,
        signals,
        work_ms,
    );
    let stats = runtime.block_on(listener.listen()).expect("listen");
    // Tell the parent what the listener did, for the graceful shutdown scenario.
    println!(
        "STATS received={} deleted={} released={}",
        stats.received, stats.deleted, stats.released
    );
}

/// Starts the worker in a child process: this test binary, re-run on its entry point.
/// `spec` is `endpoint|queue_url|log_path[|signals[|work_ms]]`.
fn spawn_worker(spec: &str, stdout: Stdio) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "worker_process_entry_point",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(WORKER_ENV, spec)
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn logged(path: &str) -> Vec<i64> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.parse().ok())
        .collect()
}

/// A scenario's setup: the embedded endpoint, a queue holding `count` messages `{"n": 0..count}`, and a
/// fresh directory for the side-effect log.
struct Setup {
    endpoint: Endpoint,
    settings: AwsSettings,
    runtime: tokio::runtime::Runtime,
    client: sqs_mega::aws::sqs_sdk::Client,
    url: String,
    dir: std::path::PathBuf,
    log: String,
}

fn setup(name: &str, count: i64) -> Setup {
    let endpoint = Endpoint::local();
    let settings = endpoint.settings();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = runtime.block_on(settings.sqs_client());
    let url = runtime.block_on(create_queue(&client, name, &[]));
    let publisher = SqsPublisher::new(&settings, &url);
    let entries: Vec<_> = (0..count)
        .map(|n| BatchEntry::new(Content::Data(value!({"n": n}))))
        .collect();
    assert!(runtime
        .block_on(publisher.publish_batch(entries))
        .iter()
        .all(Result::is_ok));
    let dir = std::env::temp_dir().join(format!("mega-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("processed.log").to_str().unwrap().to_owned();
    Setup {
        endpoint,
        settings,
        runtime,
        client,
        url,
        dir,
        log,
    }
}

#[test]
fn crash_recovery_after_sigkill() {
    let Setup {
        endpoint,
        settings,
        runtime,
        client,
        url,
        dir,
        log,
    } = setup("crash", 40);

    // 1. A listener in a child process, killed with SIGKILL once it has done some of the work.
    let mut child = spawn_worker(
        &format!("{}|{}|{}", endpoint.url(), url, log),
        Stdio::null(),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while logged(&log).len() < 12 {
        assert!(Instant::now() < deadline, "the child made no progress");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the child exited early"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL: no cleanup, messages in flight stay invisible until they time out
    child.wait().unwrap();
    let before = logged(&log).len();
    assert!(
        before < 40,
        "the child was killed before finishing ({before})"
    );

    // 2. A second listener finishes the work.
    let listener = Arc::new(worker(&settings, &url, &log));
    let handle = listener.shutdown_handle();
    let l = listener.clone();
    let thread =
        std::thread::spawn(move || tokio::runtime::Runtime::new().unwrap().block_on(l.listen()));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let seen: HashSet<i64> = logged(&log).into_iter().collect();
        if seen.len() == 40 || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // Let the last deletes go out, then stop.
    std::thread::sleep(Duration::from_millis(500));
    handle.shutdown();
    let stats = thread.join().unwrap().unwrap();

    let all = logged(&log);
    let seen: HashSet<i64> = all.iter().copied().collect();
    let counts = runtime
        .block_on(
            client
                .get_queue_attributes()
                .queue_url(&url)
                .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
                .send(),
        )
        .unwrap();
    let missing: Vec<i64> = (0..40).filter(|n| !seen.contains(n)).collect();
    assert!(missing.is_empty(), "every message processed at least once; missing {missing:?}; listener {stats:?}; queue {:?}", counts.attributes());
    assert!(stats.received > 0 && stats.received <= 40, "{stats:?}");
    assert_eq!(
        runtime.block_on(support::queue_depth(&client, &url)),
        0,
        "queue empty at the end"
    );
    // Messages in flight in the killed child were processed again: at-least-once, never lost.
    assert!(all.len() >= 40);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn graceful_shutdown_under_sigterm() {
    let Setup {
        endpoint,
        runtime,
        client,
        url,
        dir,
        log,
        ..
    } = setup("sigterm", 30);

    // Each message takes 1.5 s: SIGTERM arrives while a batch is in flight.
    let child = spawn_worker(
        &format!("{}|{}|{}|signals|1500", endpoint.url(), url, log),
        Stdio::piped(),
    );
    // Wait until the child is working (its first message is done; more are in flight), then SIGTERM.
    let deadline = Instant::now() + Duration::from_secs(30);
    while logged(&log).is_empty() {
        assert!(
            Instant::now() < deadline,
            "the child never processed anything"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let term = Command::new("sh")
        .args(["-c", &format!("kill -TERM {}", child.id())])
        .status()
        .unwrap();
    assert!(term.success());
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the child exits cleanly after SIGTERM: {:?}\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.contains("STATS"))
        .unwrap_or_else(|| panic!("no stats line in {stdout}"));
    let field = |name: &str| -> u64 {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .unwrap()
            .parse()
            .unwrap()
    };
    let processed = logged(&log);
    // In-flight work finished and was deleted; nothing else was touched.
    assert!(field("received") > 0);
    assert_eq!(field("deleted") as usize, processed.len(), "{line}");
    assert_eq!(
        field("received"),
        field("deleted"),
        "every received message finished: {line}"
    );
    // The rest is still in the queue, visible, for the next consumer: nothing lost, nothing duplicated.
    let rest = runtime.block_on(support::drain(&client, &url, 30 - processed.len()));
    assert_eq!(rest.len() + processed.len(), 30);
    std::fs::remove_dir_all(dir).ok();
}
