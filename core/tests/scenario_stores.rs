//! Many processes, one truth (issue 15's scenario): three listener processes on one queue of 10,000
//! messages, the endpoint injecting duplicates and reordering, one process killed with SIGKILL mid-run and
//! replaced. Each handler follows seed 004's check-before-doing recipe against a side-effects record (it
//! counts its run, checks whether the effect is recorded, and records it if not), and the completion store
//! keeps two processes from running one message at once.
//!
//! With Redis and with DynamoDB as the store: every message's effect happens exactly once, a message runs
//! more than once only when its first run was cut short by the SIGKILL, nothing is lost, the queue and the
//! dead-letter queue end empty. The control run with the in-memory store (one per process) shows the
//! duplicate runs it cannot stop: live processes running the same message.
#![cfg(all(feature = "redis", feature = "dynamodb"))]

mod support;

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use sqs_mega::aws::AwsSettings;
use sqs_mega::codec::Content;
use sqs_mega::listen::{
    DynamoDbCompletionStore, Handler, HandlerError, ListenerConfig, ProcessStatus, RetryPolicy,
    SqsListener, StoreOptions, Subscriber, SubscriberKind,
};
use sqs_mega::publish::{BatchEntry, SqsPublisher};
use sqs_mega::{value, Value};
use support::*;

const WORKER_ENV: &str = "MEGA_STORE_SCENARIO_WORKER";
const MESSAGES: usize = 10_000;
/// The most handlers a worker runs at once: the bound on runs a SIGKILL can cut short.
const IN_FLIGHT: usize = 32;

/// Where handlers record their runs and effects: the "external service" of seed 004.
#[derive(Clone)]
enum Sink {
    Redis(redis::aio::MultiplexedConnection),
    Dynamo(aws_sdk_dynamodb::Client, String),
}

impl Sink {
    async fn open(spec: &str) -> Sink {
        if let Some(rest) = spec.strip_prefix("dynamodb://") {
            let (table, endpoint) = rest.split_once('|').unwrap();
            let settings = AwsSettings::local(endpoint);
            let client = aws_sdk_dynamodb::Client::new(&settings.load().await);
            Sink::Dynamo(client, table.to_owned())
        } else {
            let client = redis::Client::open(spec).unwrap();
            Sink::Redis(client.get_multiplexed_async_connection().await.unwrap())
        }
    }

    /// Counts a run by `process`; says whether the effect is already recorded (the check).
    async fn run(&self, process: &str, id: &str) -> Result<bool, String> {
        match self {
            Sink::Redis(c) => {
                let mut c = c.clone();
                let (_, done): (i64, bool) = redis::pipe()
                    .hincr(format!("runs:{process}"), id, 1)
                    .hexists("effects", id)
                    .query_async(&mut c)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(done)
            }
            Sink::Dynamo(c, table) => {
                let out = c
                    .update_item()
                    .table_name(table)
                    .key("pk", AttributeValue::S(id.to_owned()))
                    .update_expression("ADD #r :one")
                    .expression_attribute_names("#r", format!("runs_{process}"))
                    .expression_attribute_values(":one", AttributeValue::N("1".into()))
                    .return_values(ReturnValue::AllNew)
                    .send()
                    .await
                    .map_err(|e| format!("{e:?}"))?;
                Ok(out.attributes().is_some_and(|a| a.contains_key("effects")))
            }
        }
    }

    /// The effect itself.
    async fn effect(&self, id: &str) -> Result<(), String> {
        match self {
            Sink::Redis(c) => {
                let mut c = c.clone();
                redis::cmd("HINCRBY")
                    .arg("effects")
                    .arg(id)
                    .arg(1)
                    .query_async::<i64>(&mut c)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
            Sink::Dynamo(c, table) => c
                .update_item()
                .table_name(table)
                .key("pk", AttributeValue::S(id.to_owned()))
                .update_expression("ADD effects :one")
                .expression_attribute_values(":one", AttributeValue::N("1".into()))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| format!("{e:?}")),
        }
    }

    /// Per message id: effects, and runs per process.
    async fn tally(&self) -> HashMap<String, (u64, HashMap<String, u64>)> {
        let mut out: HashMap<String, (u64, HashMap<String, u64>)> = HashMap::new();
        match self {
            Sink::Redis(c) => {
                let mut c = c.clone();
                let effects: HashMap<String, u64> = redis::cmd("HGETALL")
                    .arg("effects")
                    .query_async(&mut c)
                    .await
                    .unwrap();
                for (id, n) in effects {
                    out.entry(id).or_default().0 = n;
                }
                let keys: Vec<String> = redis::cmd("KEYS")
                    .arg("runs:*")
                    .query_async(&mut c)
                    .await
                    .unwrap();
                for key in keys {
                    let runs: HashMap<String, u64> = redis::cmd("HGETALL")
                        .arg(&key)
                        .query_async(&mut c)
                        .await
                        .unwrap();
                    let process = key.trim_start_matches("runs:").to_owned();
                    for (id, n) in runs {
                        out.entry(id).or_default().1.insert(process.clone(), n);
                    }
                }
            }
            Sink::Dynamo(c, table) => {
                let mut start = None;
                loop {
                    let page = c
                        .scan()
                        .table_name(table)
                        .consistent_read(true)
                        .set_exclusive_start_key(start)
                        .send()
                        .await
                        .unwrap();
                    for item in page.items() {
                        let Some(AttributeValue::S(id)) = item.get("pk") else {
                            continue;
                        };
                        let entry = out.entry(id.clone()).or_default();
                        for (name, v) in item {
                            let AttributeValue::N(n) = v else { continue };
                            let n: u64 = n.parse().unwrap();
                            if name == "effects" {
                                entry.0 = n;
                            } else if let Some(p) = name.strip_prefix("runs_") {
                                entry.1.insert(p.to_owned(), n);
                            }
                        }
                    }
                    start = page.last_evaluated_key().cloned();
                    if start.is_none() {
                        break;
                    }
                }
            }
        }
        out
    }
}

/// Entry point of the worker processes (this test binary, re-executed); not a test by itself.
#[test]
#[ignore = "entry point of the worker processes of the store scenarios"]
fn store_worker_entry_point() {
    let Ok(spec) = std::env::var(WORKER_ENV) else {
        return;
    };
    let parts: Vec<&str> = spec.splitn(5, '|').collect();
    let (endpoint, queue_url, store, process, sink) =
        (parts[0], parts[1], parts[2], parts[3], parts[4]);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let sink = Arc::new(Sink::open(sink).await);
        let mut listener = SqsListener::new(
            &AwsSettings::local(endpoint),
            ListenerConfig::new(queue_url)
                .with_wait_time_seconds(1)
                .with_visibility_timeout(5)
                .with_max_in_flight(IN_FLIGHT)
                .with_retry(RetryPolicy::new(
                    Duration::from_secs(1),
                    Duration::from_secs(2),
                ))
                .with_completion_store(store),
        );
        // The business key: the payload's id (a duplicate has the same one).
        listener.set_idempotency_key(|m| {
            m.value()
                .and_then(|v| v.get("id"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        });
        let process = process.to_owned();
        listener
            .register_subscriber(Subscriber::new(
                "effect",
                SubscriberKind::Data,
                Handler::from_async(move |m| {
                    let (sink, process) = (sink.clone(), process.clone());
                    async move {
                        let id = m
                            .value()
                            .and_then(|v| v.get("id"))
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned();
                        let done = sink
                            .run(&process, &id)
                            .await
                            .map_err(HandlerError::retriable)?;
                        if !done {
                            // Some work before the effect: room for a concurrent duplicate to overlap.
                            tokio::time::sleep(Duration::from_millis(3)).await;
                            sink.effect(&id).await.map_err(HandlerError::retriable)?;
                        }
                        Ok(ProcessStatus::Done)
                    }
                }),
            ))
            .unwrap();
        listener.listen().await.expect("listen");
    });
}

/// Worker processes, killed when the scenario ends however it ends (a failed assertion included).
struct Workers(Vec<Child>);

impl Drop for Workers {
    fn drop(&mut self) {
        for w in &mut self.0 {
            let _ = w.kill();
            let _ = w.wait();
        }
    }
}

fn spawn_worker(endpoint: &str, queue: &str, store: &str, process: &str, sink: &str) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "store_worker_entry_point",
            "--ignored",
            "--nocapture",
        ])
        .arg("--test-threads=1")
        .env(
            WORKER_ENV,
            format!("{endpoint}|{queue}|{store}|{process}|{sink}"),
        )
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

async fn visible(client: &aws_sdk_sqs::Client, url: &str) -> u64 {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let out = client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(A::ApproximateNumberOfMessages)
        .send()
        .await
        .unwrap();
    out.attributes()
        .and_then(|a| a.get(&A::ApproximateNumberOfMessages))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

struct Outcome {
    /// Messages whose effect happened exactly once.
    exactly_once: usize,
    /// Messages run by more than one live process (not the killed one).
    live_duplicates: usize,
    /// Messages run again after the killed process's run was cut short.
    rerun_after_kill: usize,
    max_effects: u64,
}

/// Runs the scenario with `store` (a completion store URL) and effects recorded in `sink`.
fn scenario(name: &str, store: &str, sink: &str) -> Outcome {
    let endpoint = Endpoint::local();
    let settings = endpoint.settings();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = runtime.block_on(settings.sqs_client());
    let (url, dlq) = runtime.block_on(queue_with_dlq(&client, name, 10));
    endpoint
        .embedded()
        .set_anomalies(
            name,
            Some(sqs_mega_local::AnomalyConfig {
                seed: 15,
                duplicate_rate: 0.05,
                reorder_rate: 0.3,
                ..Default::default()
            }),
        )
        .unwrap();
    let publisher = SqsPublisher::new(&settings, &url);
    let entries: Vec<_> = (0..MESSAGES)
        .map(|i| BatchEntry::new(Content::Data(value!({"id": (format!("m{i}"))}))))
        .collect();
    assert!(runtime
        .block_on(publisher.publish_batch(entries))
        .iter()
        .all(Result::is_ok));

    let started = Instant::now();
    let ep = endpoint.url().to_owned();
    let mut workers = Workers(
        ["w1", "w2", "w3"]
            .iter()
            .map(|p| spawn_worker(&ep, &url, store, p, sink))
            .collect(),
    );
    let deadline = Instant::now() + Duration::from_secs(600);
    while runtime.block_on(visible(&client, &url)) > (MESSAGES as u64) * 7 / 10 {
        assert!(Instant::now() < deadline, "{name}: no progress");
        for w in &mut workers.0 {
            assert!(w.try_wait().unwrap().is_none(), "{name}: a worker exited");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // SIGKILL in the middle of the run: its in-flight messages and claims are left as they are.
    workers.0[0].kill().unwrap();
    workers.0[0].wait().unwrap();
    workers.0.push(spawn_worker(&ep, &url, store, "w1b", sink));
    loop {
        let left = runtime.block_on(queue_depth(&client, &url));
        let dead = runtime.block_on(queue_depth(&client, &dlq));
        assert_eq!(dead, 0, "{name}: a message reached the dead-letter queue");
        if left == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{name}: {left} messages left");
        std::thread::sleep(Duration::from_millis(100));
    }
    let seconds = started.elapsed().as_secs_f64();
    drop(workers);
    assert_eq!(runtime.block_on(queue_depth(&client, &dlq)), 0, "{name}");

    let tally = runtime.block_on(async { Sink::open(sink).await.tally().await });
    assert_eq!(tally.len(), MESSAGES, "{name}: every message ran");
    let mut outcome = Outcome {
        exactly_once: 0,
        live_duplicates: 0,
        rerun_after_kill: 0,
        max_effects: 0,
    };
    for (id, (effects, runs)) in &tally {
        assert!(*effects >= 1, "{name}: {id} lost");
        outcome.max_effects = outcome.max_effects.max(*effects);
        if *effects == 1 {
            outcome.exactly_once += 1;
        }
        let killed = runs.get("w1").copied().unwrap_or(0);
        let live: u64 = runs
            .iter()
            .filter(|(p, _)| *p != "w1")
            .map(|(_, n)| n)
            .sum();
        if live > 1 {
            outcome.live_duplicates += 1;
        }
        if killed > 0 && live > 0 {
            outcome.rerun_after_kill += 1;
        }
    }
    println!(
        "{name}: {MESSAGES} messages in {seconds:.1} s; effect exactly once: {}; live duplicate runs: {}; reruns after the SIGKILL: {}; most effects of one message: {}",
        outcome.exactly_once, outcome.live_duplicates, outcome.rerun_after_kill, outcome.max_effects
    );
    outcome
}

fn assert_exactly_once(name: &str, o: &Outcome) {
    assert_eq!(
        o.exactly_once, MESSAGES,
        "{name}: every effect exactly once"
    );
    assert_eq!(
        o.live_duplicates, 0,
        "{name}: no two live runs of one message"
    );
    assert!(
        o.rerun_after_kill <= IN_FLIGHT,
        "{name}: only runs cut by the SIGKILL are run again ({})",
        o.rerun_after_kill
    );
}

#[test]
fn three_processes_with_redis_run_every_effect_once() {
    let _one = serial();
    let redis = RedisServer::start();
    let store = format!("{}?lease=2s", redis.url());
    let o = scenario("scenario-redis", &store, &redis.url());
    assert_exactly_once("redis", &o);
}

/// The completion store on DynamoDB (moto's server); the runs and effects are counted in Redis, because
/// moto serves a few hundred requests a second (see docs/completion-stores.md): the DynamoDB side-effects
/// table of seed 004 is exercised by `the_two_table_recipe_survives_a_crash_after_the_side_effect`.
#[test]
fn three_processes_with_dynamodb_run_every_effect_once() {
    let _one = serial();
    let moto = Moto::start();
    let redis = RedisServer::start();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime
        .block_on(
            DynamoDbCompletionStore::new("status", moto.settings(), StoreOptions::default())
                .create_table(),
        )
        .unwrap();
    let store = format!(
        "dynamodb://status?lease=2s&endpoint_url={}&region=us-east-1",
        moto.url
    );
    let o = scenario("scenario-dynamodb", &store, &redis.url());
    assert_exactly_once("dynamodb", &o);
}

/// One scenario at a time: each runs three busy processes.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static ONE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    ONE.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn the_control_run_with_in_memory_stores_shows_the_duplicates_they_cannot_stop() {
    let _one = serial();
    let redis = RedisServer::start();
    let o = scenario("scenario-memory", "memory", &redis.url());
    assert!(
        o.live_duplicates > 0,
        "live processes ran the same message (the duplicates a per-process store cannot stop)"
    );
}
