//! Listener throughput and cost on the embedded endpoint, next to the seed peer's loop, in one run.
//!
//! `cargo bench -p sqs-mega --bench listener` prints, for each of `ROUNDS` rounds (and their medians):
//! - the listener with no-op handlers draining `MESSAGES` preloaded messages: messages/s, and API requests
//!   per message (ReceiveMessage + DeleteMessageBatch + visibility calls; goal ≤ 0.21);
//! - the seed peer's loop on the same endpoint: receive 1, handle, delete 1 (2 requests per message);
//! - the framework's latency before a handler starts (receive returned → handler called: decode, match,
//!   scheduling), p50 and p99.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqs_mega::aws::AwsSettings;
use sqs_mega::codec::Content;
use sqs_mega::listen::{
    Handler, ListenerConfig, ProcessStatus, SqsListener, Subscriber, SubscriberKind,
};
use sqs_mega::publish::{BatchEntry, SqsPublisher};
use sqs_mega::value;

const MESSAGES: usize = 20_000;
const PEER_MESSAGES: usize = 2_000;
const ROUNDS: usize = 3;

async fn preload(settings: &AwsSettings, name: &str, count: usize) -> String {
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
    let entries: Vec<_> = (0..count)
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

struct ListenerRun {
    per_second: f64,
    requests_per_message: f64,
    overhead_p50: Duration,
    overhead_p99: Duration,
}

async fn listener_run(settings: &AwsSettings, round: usize) -> ListenerRun {
    let url = preload(settings, &format!("bench-listener-{round}"), MESSAGES).await;
    let overheads = Arc::new(Mutex::new(Vec::with_capacity(MESSAGES)));
    let o = overheads.clone();
    let mut listener = SqsListener::new(
        settings,
        ListenerConfig::new(&url)
            .with_pollers(2)
            .with_max_in_flight(100)
            .with_wait_time_seconds(1)
            .with_handle_signals(false),
    );
    listener
        .register_subscriber(
            Subscriber::new(
                "NoOp",
                SubscriberKind::Data,
                Handler::from_async(move |m| {
                    let waited = m.received_at.elapsed();
                    o.lock().unwrap().push(waited);
                    async { Ok(ProcessStatus::Done) }
                }),
            )
            .with_predicate(|v: &sqs_mega::Value| {
                v.get("type").and_then(|t| t.as_str()) == Some("order")
            }),
        )
        .unwrap();
    let stats = listener.stats();
    let handle = listener.shutdown_handle();
    let start = Instant::now();
    let task = tokio::spawn(async move { listener.listen().await });
    while stats.snapshot().deleted < MESSAGES as u64 {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let elapsed = start.elapsed();
    let at_end = stats.snapshot();
    handle.shutdown();
    task.await.unwrap().unwrap();
    let mut o = overheads.lock().unwrap().clone();
    o.sort();
    ListenerRun {
        per_second: MESSAGES as f64 / elapsed.as_secs_f64(),
        requests_per_message: at_end.requests_per_message(),
        overhead_p50: o[o.len() / 2],
        overhead_p99: o[o.len() * 99 / 100],
    }
}

/// The seed's loop: receive one message, handle it, delete it, repeat.
async fn peer_run(settings: &AwsSettings, round: usize) -> (f64, f64) {
    let url = preload(settings, &format!("bench-peer-{round}"), PEER_MESSAGES).await;
    let client = settings.sqs_client().await;
    let start = Instant::now();
    let mut requests = 0u64;
    let mut done = 0;
    while done < PEER_MESSAGES {
        let out = client
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(1)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        requests += 1;
        for m in out.messages() {
            let _ = sqs_mega::codec::decode(m.body().unwrap(), None).unwrap();
            client
                .delete_message()
                .queue_url(&url)
                .receipt_handle(m.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
            requests += 1;
            done += 1;
        }
    }
    (
        PEER_MESSAGES as f64 / start.elapsed().as_secs_f64(),
        requests as f64 / PEER_MESSAGES as f64,
    )
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument that is not ours means another bench was asked for.
    if std::env::args()
        .skip(1)
        .any(|a| !a.starts_with("--") && a != "listener")
    {
        return;
    }
    let server = sqs_mega_local::Server::start(sqs_mega_local::Config::default()).unwrap();
    let settings = AwsSettings::local(server.url());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    println!("listener bench on the embedded endpoint ({MESSAGES} messages per listener round, {PEER_MESSAGES} per peer round)");
    let (mut rate, mut rpm, mut p50, mut p99, mut peer_rate, mut peer_rpm) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    for round in 0..ROUNDS {
        let l = runtime.block_on(listener_run(&settings, round));
        let (pr, prpm) = runtime.block_on(peer_run(&settings, round));
        println!(
            "round {round}: listener {:>7.0} msg/s, {:.3} requests/msg, before-handler p50 {:?} p99 {:?} | peer loop {:>6.0} msg/s, {:.2} requests/msg | speed-up {:.1}x",
            l.per_second, l.requests_per_message, l.overhead_p50, l.overhead_p99, pr, prpm, l.per_second / pr
        );
        rate.push(l.per_second);
        rpm.push(l.requests_per_message);
        p50.push(l.overhead_p50.as_secs_f64() * 1e6);
        p99.push(l.overhead_p99.as_secs_f64() * 1e6);
        peer_rate.push(pr);
        peer_rpm.push(prpm);
    }
    let (r, pr) = (median(rate), median(peer_rate));
    println!(
        "median: listener {r:.0} msg/s at {:.3} requests/msg (goal <= 0.21); peer loop {pr:.0} msg/s at {:.2} requests/msg; listener/peer {:.1}x; framework latency before the handler p50 {:.0} us, p99 {:.0} us",
        median(rpm),
        median(peer_rpm),
        r / pr,
        median(p50),
        median(p99)
    );
    server.shutdown();
}
