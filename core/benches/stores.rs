//! The cost of each completion store per message, next to no store and the in-memory store, in one run.
//!
//! `cargo bench -p sqs-mega --bench stores` starts the embedded endpoint, a `redis-server` and moto's server
//! (DynamoDB), and prints for each store, as medians of `ROUNDS` rounds:
//! - the latency a store adds to a message: one claim plus one completion, p50 and p99, for one caller at a
//!   time (the added latency of an unloaded store) and for 8 × 20 concurrent callers (8 listener processes'
//!   worth of concurrency: latency under load);
//! - the throughput of 8 listeners (20 messages in flight each, no-op handlers) draining a preloaded queue,
//!   and its ratio to the same drain without a store;
//! - the store round trips per message (goal: 2, one to claim and one to complete).
//!
//! moto is a Python server: its DynamoDB figures show the protocol's cost on a slow store, not DynamoDB's.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqs_mega::aws::AwsSettings;
use sqs_mega::codec::Content;
use sqs_mega::listen::{
    completion_store_from_url, CompletionStore, DynamoDbCompletionStore, Handler, ListenerConfig,
    ProcessStatus, SqsListener, StoreOptions, Subscriber, SubscriberKind,
};
use sqs_mega::publish::{BatchEntry, SqsPublisher};
use sqs_mega::value;

const ROUNDS: usize = 3;
const LISTENERS: usize = 8;
const IN_FLIGHT: usize = 20;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(bin: &str, args: &[String], port: u16) -> Server {
    let child = Command::new(bin)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("start {bin}: {e}"));
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(Instant::now() < deadline, "{bin} did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    Server(child)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p) as usize]
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Claim + complete latencies of `count` unique keys, `callers` at once.
async fn store_latency(
    store: Arc<dyn CompletionStore>,
    count: usize,
    callers: usize,
    tag: &str,
) -> Vec<Duration> {
    let per = count / callers;
    let tasks: Vec<_> = (0..callers)
        .map(|t| {
            let store = store.clone();
            let tag = tag.to_owned();
            tokio::spawn(async move {
                let mut out = Vec::with_capacity(per);
                for i in 0..per {
                    let key = format!("lat-{tag}-{t}-{i}");
                    let started = Instant::now();
                    store.claim(&key, "s", "tok").await.unwrap();
                    store.complete(&key, "s", "tok").await.unwrap();
                    out.push(started.elapsed());
                }
                out
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort();
    all
}

/// 8 listeners draining `count` messages: messages/s and store round trips per message.
async fn drain(
    settings: &AwsSettings,
    store: Option<&str>,
    count: usize,
    name: &str,
) -> (f64, f64) {
    let client = settings.sqs_client().await;
    let url = sqs_mega::admin::create_queue(&client, name, Vec::new())
        .await
        .unwrap();
    let publisher = SqsPublisher::new(settings, &url);
    let mut sends = Vec::new();
    for chunk in (0..count).collect::<Vec<_>>().chunks(500) {
        let entries: Vec<_> = chunk
            .iter()
            .map(|n| BatchEntry::new(Content::Data(value!({"n": (*n as i64)}))))
            .collect();
        sends.push(publisher.publish_batch(entries));
    }
    for s in sends {
        assert!(s.await.iter().all(Result::is_ok));
    }
    let mut listeners = Vec::new();
    for _ in 0..LISTENERS {
        let mut config = ListenerConfig::new(&url)
            .with_wait_time_seconds(1)
            .with_max_in_flight(IN_FLIGHT)
            .with_handle_signals(false);
        if let Some(s) = store {
            config = config.with_completion_store(s);
        }
        let mut l = SqsListener::new(settings, config);
        l.register_subscriber(Subscriber::new(
            "noop",
            SubscriberKind::Data,
            Handler::from_async(|_| async { Ok(ProcessStatus::Done) }),
        ))
        .unwrap();
        listeners.push(Arc::new(l));
    }
    let started = Instant::now();
    let tasks: Vec<_> = listeners
        .iter()
        .map(|l| {
            let l = l.clone();
            tokio::spawn(async move { l.listen().await })
        })
        .collect();
    loop {
        let deleted: u64 = listeners.iter().map(|l| l.stats().snapshot().deleted).sum();
        if deleted >= count as u64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    for l in &listeners {
        l.shutdown_handle().shutdown();
    }
    let (mut calls, mut received) = (0, 0);
    for t in tasks {
        let s = t.await.unwrap().unwrap();
        calls += s.store_calls;
        received += s.received;
    }
    (
        count as f64 / elapsed,
        calls as f64 / received.max(1) as f64,
    )
}

fn main() {
    let endpoint = sqs_mega_local::Server::start(sqs_mega_local::Config::default()).unwrap();
    let settings = AwsSettings::local(endpoint.url());
    let redis_port = free_port();
    let redis_bin = std::env::var("MEGA_REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
    let _redis = start(
        &redis_bin,
        &[
            "--port".into(),
            redis_port.to_string(),
            "--save".into(),
            String::new(),
            "--appendonly".into(),
            "no".into(),
        ],
        redis_port,
    );
    let moto_port = free_port();
    let moto_bin = std::env::var("MEGA_MOTO_SERVER").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../.venv/bin/moto_server").to_owned()
    });
    let _moto = start(
        &moto_bin,
        &[
            "-H".into(),
            "127.0.0.1".into(),
            "-p".into(),
            moto_port.to_string(),
        ],
        moto_port,
    );
    let moto_url = format!("http://127.0.0.1:{moto_port}");
    std::env::set_var("AWS_ACCESS_KEY_ID", "test");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "test");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime
        .block_on(
            DynamoDbCompletionStore::new(
                "bench",
                AwsSettings::local(&moto_url),
                StoreOptions::default(),
            )
            .create_table(),
        )
        .unwrap();

    // (name, store URL, latency keys, drained messages)
    let stores: [(&str, Option<String>, usize, usize); 4] = [
        ("none", None, 0, 20_000),
        ("memory", Some("memory".into()), 160_000, 20_000),
        (
            "redis",
            Some(format!("redis://127.0.0.1:{redis_port}/0")),
            32_000,
            20_000,
        ),
        (
            "dynamodb (moto)",
            Some(format!(
                "dynamodb://bench?endpoint_url={moto_url}&region=us-east-1"
            )),
            800,
            1_000,
        ),
    ];
    println!(
        "{LISTENERS} listeners x {IN_FLIGHT} in flight, no-op handlers, embedded SQS endpoint; medians of {ROUNDS} rounds"
    );
    println!(
        "{:<16} {:>22} {:>22} {:>12} {:>8} {:>10}",
        "store",
        "claim+done 1 caller",
        "claim+done 160 callers",
        "drain msg/s",
        "vs none",
        "calls/msg"
    );
    println!("{:<16} {:>22} {:>22}", "", "p50 / p99", "p50 / p99");
    let mut baseline = 0.0;
    for (name, url, keys, messages) in stores {
        let (mut one, mut many, mut rates, mut calls) =
            ((vec![], vec![]), (vec![], vec![]), vec![], vec![]);
        for round in 0..ROUNDS {
            if let Some(url) = &url {
                let store = completion_store_from_url(url).unwrap();
                for (callers, keys, into) in [
                    (1, (keys / 80).max(100), &mut one),
                    (LISTENERS * IN_FLIGHT, keys, &mut many),
                ] {
                    let tag = format!("{round}-{callers}");
                    let lat = runtime.block_on(store_latency(store.clone(), keys, callers, &tag));
                    into.0.push(percentile(&lat, 0.5).as_secs_f64() * 1e6);
                    into.1.push(percentile(&lat, 0.99).as_secs_f64() * 1e6);
                }
            }
            let queue = format!("bench-{}-{round}", name.split(' ').next().unwrap());
            let (rate, per) = runtime.block_on(drain(&settings, url.as_deref(), messages, &queue));
            rates.push(rate);
            calls.push(per);
        }
        let rate = median(rates);
        if url.is_none() {
            baseline = rate;
        }
        let us = |(p50, p99): (Vec<f64>, Vec<f64>)| {
            if p50.is_empty() {
                "-".to_owned()
            } else {
                format!("{:.0} / {:.0} µs", median(p50), median(p99))
            }
        };
        println!(
            "{:<16} {:>22} {:>22} {:>12.0} {:>7.2}x {:>10.2}",
            name,
            us(one),
            us(many),
            rate,
            rate / baseline,
            median(calls)
        );
    }
}
