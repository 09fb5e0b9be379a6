//! Queued handlers (the pull API for hosts that own their threads) and listener lifetimes, through the real
//! AWS SDK against the embedded endpoint.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use sqs_mega::listen::{Deliveries, ProcessStatus, SqsListener, Subscriber, SubscriberKind};
use sqs_mega::publish::{PublishOptions, SqsPublisher};
use sqs_mega::{value, Content};
use support::{create_queue, listener_config as config, Endpoint};

async fn queue_with(endpoint: &Endpoint, name: &str, n: i64) -> (aws_sdk_sqs::Client, String) {
    let settings = endpoint.settings();
    let client = settings.sqs_client().await;
    let url = create_queue(&client, name, &[]).await;
    let publisher = SqsPublisher::new(&settings, &url);
    for i in 0..n {
        publisher
            .publish(Content::Data(value!({"n": i})), &PublishOptions::default())
            .await
            .unwrap();
    }
    (client, url)
}

async fn counts(client: &aws_sdk_sqs::Client, url: &str) -> (u64, u64) {
    let out = client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
        .send()
        .await
        .unwrap();
    let attrs = out.attributes().unwrap();
    let get = |n: aws_sdk_sqs::types::QueueAttributeName| -> u64 {
        attrs.get(&n).and_then(|v| v.parse().ok()).unwrap_or(0)
    };
    (
        get(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages),
        get(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_threads_pull_deliveries_and_complete_them() {
    tokio::time::timeout(Duration::from_secs(60), async {
        let endpoint = Endpoint::local();
        let (client, url) = queue_with(&endpoint, "queued", 4).await;
        let deliveries = Deliveries::new(8);
        let mut listener = SqsListener::new(&endpoint.settings(), config(&url));
        listener
            .register_subscriber(Subscriber::new(
                "tasks",
                SubscriberKind::Data,
                deliveries.handler("tasks"),
            ))
            .unwrap();
        let listener = Arc::new(listener);
        let run = tokio::spawn({
            let l = listener.clone();
            async move { l.listen().await }
        });
        // The host: a thread of its own, pulling with a timeout, as a binding would.
        let host = std::thread::spawn(move || {
            let mut seen = Vec::new();
            let t0 = Instant::now();
            while seen.len() < 4 && t0.elapsed() < Duration::from_secs(30) {
                let Some(mut d) = deliveries
                    .next_blocking(Duration::from_millis(200))
                    .unwrap()
                else {
                    continue;
                };
                assert_eq!(d.subscriber(), "tasks");
                let n = d
                    .message()
                    .value()
                    .unwrap()
                    .get("n")
                    .unwrap()
                    .as_i64()
                    .unwrap();
                seen.push(n);
                match n {
                    1 => assert!(d.complete(ProcessStatus::RetryLater)),
                    2 => drop(d), // never completed: a retriable error
                    _ => assert!(d.complete(ProcessStatus::Done)),
                }
            }
            seen
        });
        let mut seen = tokio::task::spawn_blocking(move || host.join().unwrap())
            .await
            .unwrap();
        seen.sort();
        assert_eq!(seen, [0, 1, 2, 3]);
        let stats = listener.stats();
        let t0 = Instant::now();
        while stats.snapshot().deleted < 2 && t0.elapsed() < Duration::from_secs(10) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        listener.shutdown_handle().shutdown();
        let s = run.await.unwrap().unwrap();
        assert_eq!(
            (s.done, s.retry_later, s.retriable_error),
            (2, 1, 1),
            "{s:?}"
        );
        assert_eq!(s.deleted, 2);
        // The two not done are still in the queue (back after their retry delay).
        let (visible, in_flight) = counts(&client, &url).await;
        assert_eq!(visible + in_flight, 2);
    })
    .await
    .expect("no deadlock");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_held_past_the_grace_is_released_and_its_late_completion_ignored() {
    tokio::time::timeout(Duration::from_secs(60), async {
        let endpoint = Endpoint::local();
        let (client, url) = queue_with(&endpoint, "queued-grace", 1).await;
        let deliveries = Deliveries::new(1);
        let mut c = config(&url);
        c.shutdown_grace = Duration::from_millis(300);
        let mut listener = SqsListener::new(&endpoint.settings(), c);
        listener
            .register_subscriber(Subscriber::new(
                "slow",
                SubscriberKind::Data,
                deliveries.handler("slow"),
            ))
            .unwrap();
        let listener = Arc::new(listener);
        let run = tokio::spawn({
            let l = listener.clone();
            async move { l.listen().await }
        });
        let mut held = deliveries.next().await;
        let t0 = Instant::now();
        listener.shutdown_handle().shutdown();
        let s = run.await.unwrap().unwrap();
        // The run ends after the grace, though the host still holds the message: it never hangs the caller.
        assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
        assert_eq!(s.released, 1, "{s:?}");
        assert!(!held.is_pending());
        assert!(!held.complete(ProcessStatus::Done), "too late: no effect");
        assert_eq!(counts(&client, &url).await, (1, 0), "visible again at once");
        assert!(!listener.is_running());
    })
    .await
    .expect("no deadlock");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_runs_stops_and_runs_again_with_fresh_counters() {
    tokio::time::timeout(Duration::from_secs(60), async {
        let endpoint = Endpoint::local();
        let (_client, url) = queue_with(&endpoint, "rerun", 2).await;
        let deliveries = Deliveries::new(4);
        let mut c = config(&url);
        c.shutdown_grace = Duration::from_millis(200);
        let mut listener = SqsListener::new(&endpoint.settings(), c);
        listener
            .register_subscriber(Subscriber::new(
                "all",
                SubscriberKind::Data,
                deliveries.handler("all"),
            ))
            .unwrap();
        let listener = Arc::new(listener);
        // A stop asked for before a run makes that run return at once, and is consumed by it.
        listener.shutdown_handle().shutdown();
        let s = listener.listen().await.unwrap();
        assert_eq!(s.receive_calls, 0);
        for round in 0..2 {
            let run = tokio::spawn({
                let l = listener.clone();
                async move { l.listen().await }
            });
            let mut d = deliveries.next().await;
            assert!(d.complete(ProcessStatus::Done));
            // One run at a time.
            while !listener.is_running() {
                tokio::task::yield_now().await;
            }
            assert!(matches!(
                listener.listen().await,
                Err(sqs_mega::listen::ListenerError::AlreadyRunning)
            ));
            let stats = listener.stats();
            while stats.snapshot().deleted < 1 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            listener.shutdown_handle().shutdown();
            let s = run.await.unwrap().unwrap();
            assert_eq!((s.done, s.deleted), (1, 1), "round {round}: {s:?}");
        }
    })
    .await
    .expect("no deadlock");
}
