//! Anomaly injection: duplicates, reordering, injected errors and latency, repeatable by seed.

mod common;

use aws_sdk_sqs::error::ProvideErrorMetadata;
use common::*;
use sqs_mega_local::{AnomalyConfig, Config};
use std::collections::HashMap;

async fn drain(l: &Local, url: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for _ in 0..100 {
        let got = l.recv(url, 10, None).await;
        if got.is_empty() {
            break;
        }
        for m in got {
            out.push((m.message_id.clone().unwrap(), body(&m).to_string()));
            l.sqs
                .delete_message()
                .queue_url(url)
                .receipt_handle(m.receipt_handle.unwrap())
                .send()
                .await
                .unwrap();
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_delivery_gives_the_same_message_twice() {
    let l = start().await;
    let url = l.queue("dups").await;
    l.engine
        .set_anomalies(
            "dups",
            Some(AnomalyConfig {
                seed: 7,
                duplicate_rate: 1.0,
                ..Default::default()
            }),
        )
        .unwrap();
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(l.send(&url, &format!("m{i}")).await);
    }
    // Each delivery leaves a copy behind; draining keeps creating copies, so stop
    // injecting after the first pass and count.
    let first: Vec<_> = {
        let got = l.recv(&url, 10, None).await;
        for m in &got {
            l.sqs
                .delete_message()
                .queue_url(&url)
                .receipt_handle(m.receipt_handle.clone().unwrap())
                .send()
                .await
                .unwrap();
        }
        got.iter().map(|m| m.message_id.clone().unwrap()).collect()
    };
    l.engine.set_anomalies("dups", None).unwrap();
    let second = drain(&l, &url).await;
    assert_eq!(first.len(), 5);
    assert_eq!(second.len(), 5, "every message is delivered a second time");
    let mut seen: HashMap<String, usize> = HashMap::new();
    for id in first.iter().chain(second.iter().map(|(id, _)| id)) {
        *seen.entry(id.clone()).or_default() += 1;
    }
    for id in &ids {
        assert_eq!(seen[id], 2, "same MessageId delivered twice");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reordering_is_seeded_and_repeatable() {
    async fn run(seed: u64) -> Vec<String> {
        let l = start().await;
        let url = l.queue("ooo").await;
        for i in 0..30 {
            l.send(&url, &format!("{i:02}")).await;
        }
        l.engine
            .set_anomalies(
                "*",
                Some(AnomalyConfig {
                    seed,
                    reorder_rate: 0.5,
                    ..Default::default()
                }),
            )
            .unwrap();
        drain(&l, &url).await.into_iter().map(|x| x.1).collect()
    }
    let a = run(11).await;
    let b = run(11).await;
    let c = run(12).await;
    let mut sorted = a.clone();
    sorted.sort();
    let in_order: Vec<String> = (0..30).map(|i| format!("{i:02}")).collect();
    assert_eq!(sorted, in_order, "nothing lost or duplicated");
    assert_ne!(a, in_order, "out of order");
    assert_eq!(a, b, "same seed, same order");
    assert_ne!(a, c, "another seed, another order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_errors_reach_the_client_and_are_not_applied() {
    let cfg = AnomalyConfig {
        seed: 3,
        error_rate: 0.3,
        throttle_rate: 0.3,
        ..Default::default()
    };
    let l = start_with(Config {
        anomalies: vec![("flaky".into(), cfg)],
        ..Config::default()
    })
    .await;
    let url = l.queue("flaky").await;
    let raw = sqs_client_no_retry(&l.url);
    let mut codes: HashMap<String, usize> = HashMap::new();
    let mut ok = 0;
    for i in 0..60 {
        match raw
            .send_message()
            .queue_url(&url)
            .message_body(format!("{i}"))
            .send()
            .await
        {
            Ok(_) => ok += 1,
            Err(e) => {
                *codes
                    .entry(e.code().unwrap_or("?").to_string())
                    .or_default() += 1
            }
        }
    }
    assert!(ok > 0);
    assert!(
        codes.get("InternalError").copied().unwrap_or(0) > 0,
        "{codes:?}"
    );
    assert!(
        codes.get("RequestThrottled").copied().unwrap_or(0) > 0,
        "{codes:?}"
    );
    // Failed requests were not applied: exactly `ok` messages are there.
    l.engine.set_anomalies("flaky", None).unwrap();
    assert_eq!(
        l.attr(&url, "ApproximateNumberOfMessages").await,
        ok.to_string()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_http_api_sets_lists_and_clears_anomalies() {
    let l = start().await;
    let url = l.queue("adm").await;
    let (st, _) = http(
        &l.url,
        "PUT",
        "/_mega/anomalies/adm",
        r#"{"seed":1,"error_rate":1.0}"#,
    )
    .await;
    assert_eq!(st, 200);
    let (st, listed) = http(&l.url, "GET", "/_mega/anomalies", "").await;
    assert_eq!(st, 200);
    let v: serde_json::Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(v["adm"]["error_rate"], 1.0);
    let raw = sqs_client_no_retry(&l.url);
    let err = raw
        .send_message()
        .queue_url(&url)
        .message_body("x")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InternalError"));
    let (st, _) = http(&l.url, "PUT", "/_mega/anomalies/adm", r#"{"error_rate":2}"#).await;
    assert_eq!(st, 400);
    let (st, _) = http(&l.url, "DELETE", "/_mega/anomalies/adm", "").await;
    assert_eq!(st, 200);
    raw.send_message()
        .queue_url(&url)
        .message_body("x")
        .send()
        .await
        .unwrap();
    // latency injection delays the request
    let (st, _) = http(
        &l.url,
        "PUT",
        "/_mega/anomalies/adm",
        r#"{"seed":1,"latency_rate":1.0,"latency_ms":400}"#,
    )
    .await;
    assert_eq!(st, 200);
    let t0 = std::time::Instant::now();
    raw.send_message()
        .queue_url(&url)
        .message_body("slow")
        .send()
        .await
        .unwrap();
    assert!(t0.elapsed() >= std::time::Duration::from_millis(200));
    let (st, body) = http(&l.url, "POST", "/_mega/clock/advance?ms=1000", "").await;
    assert_eq!(st, 200, "{body}");
}
