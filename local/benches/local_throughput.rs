//! Throughput and latency of sqs-mega-local through aws-sdk-rust on loopback, with moto
//! (if `MEGA_MOTO_SERVER` is set) measured in the same run for comparison.
//!
//! Run: `MEGA_MOTO_SERVER=$(bash scripts/setup-moto.sh) cargo bench -p sqs-mega-local --bench local_throughput`
//! Prints every figure (medians of several runs) and the comparison.

use aws_sdk_sqs::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, SendMessageBatchRequestEntry};
use sqs_mega_local::queue::NewMessage;
use sqs_mega_local::{Config, Server};
use std::time::{Duration, Instant};

fn client(url: &str) -> aws_sdk_sqs::Client {
    let conf = aws_sdk_sqs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("bench", "bench", None, None, "static"))
        .endpoint_url(url)
        .build();
    aws_sdk_sqs::Client::from_conf(conf)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

/// Full cycles (SendMessageBatch 10, ReceiveMessage 10, DeleteMessageBatch) by `workers`
/// concurrent clients until `total` messages went through. Returns messages/s.
async fn full_cycle(c: &aws_sdk_sqs::Client, url: &str, workers: usize, total: usize) -> f64 {
    let per = total / workers;
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..workers {
        let c = c.clone();
        let url = url.to_string();
        tasks.push(tokio::spawn(async move {
            let mut done = 0;
            let mut i = 0;
            while done < per {
                let mut req = c.send_message_batch().queue_url(&url);
                for k in 0..10 {
                    req = req.entries(
                        SendMessageBatchRequestEntry::builder()
                            .id(k.to_string())
                            .message_body(format!(
                                "w{w}-{i}-{k} payload of a typical small task message"
                            ))
                            .build()
                            .unwrap(),
                    );
                }
                req.send().await.unwrap();
                i += 1;
                let got = c
                    .receive_message()
                    .queue_url(&url)
                    .max_number_of_messages(10)
                    .send()
                    .await
                    .unwrap()
                    .messages
                    .unwrap_or_default();
                if got.is_empty() {
                    continue;
                }
                let mut del = c.delete_message_batch().queue_url(&url);
                for (k, m) in got.iter().enumerate() {
                    del = del.entries(
                        DeleteMessageBatchRequestEntry::builder()
                            .id(k.to_string())
                            .receipt_handle(m.receipt_handle.clone().unwrap())
                            .build()
                            .unwrap(),
                    );
                }
                del.send().await.unwrap();
                done += got.len();
            }
            done
        }));
    }
    let mut n = 0;
    for t in tasks {
        n += t.await.unwrap();
    }
    n as f64 / t0.elapsed().as_secs_f64()
}

/// Receive(10) + DeleteMessageBatch of `count` messages by `workers` clients. messages/s.
async fn drain(c: &aws_sdk_sqs::Client, url: &str, workers: usize, count: usize) -> f64 {
    let per = count / workers;
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let c = c.clone();
        let url = url.to_string();
        tasks.push(tokio::spawn(async move {
            let mut done = 0;
            while done < per {
                let got = c
                    .receive_message()
                    .queue_url(&url)
                    .max_number_of_messages(10)
                    .send()
                    .await
                    .unwrap()
                    .messages
                    .unwrap_or_default();
                if got.is_empty() {
                    break;
                }
                let mut del = c.delete_message_batch().queue_url(&url);
                for (k, m) in got.iter().enumerate() {
                    del = del.entries(
                        DeleteMessageBatchRequestEntry::builder()
                            .id(k.to_string())
                            .receipt_handle(m.receipt_handle.clone().unwrap())
                            .build()
                            .unwrap(),
                    );
                }
                del.send().await.unwrap();
                done += got.len();
            }
            done
        }));
    }
    let mut n = 0;
    for t in tasks {
        n += t.await.unwrap();
    }
    n as f64 / t0.elapsed().as_secs_f64()
}

/// ReceiveMessage latency (ms) when a message is waiting.
async fn receive_latency(c: &aws_sdk_sqs::Client, url: &str, n: usize) -> Vec<f64> {
    let mut lat = Vec::with_capacity(n);
    for i in 0..n {
        c.send_message()
            .queue_url(url)
            .message_body(format!("lat{i}"))
            .send()
            .await
            .unwrap();
        let t = Instant::now();
        let got = c
            .receive_message()
            .queue_url(url)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap();
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
        c.delete_message()
            .queue_url(url)
            .receipt_handle(got[0].receipt_handle.clone().unwrap())
            .send()
            .await
            .unwrap();
    }
    lat
}

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .unwrap_or(0)
        * 1024
}

struct MotoGuard(std::process::Child);
impl Drop for MotoGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn start_moto() -> Option<(MotoGuard, String)> {
    let bin = std::env::var("MEGA_MOTO_SERVER").ok()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let child = std::process::Command::new(bin)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let guard = MotoGuard(child);
    let url = format!("http://127.0.0.1:{port}");
    let c = client(&url);
    let deadline = Instant::now() + Duration::from_secs(60);
    while c.list_queues().send().await.is_err() {
        if Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Some((guard, url))
}

fn main() {
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let deep: usize = std::env::var("BENCH_DEPTH")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let server = Server::start(Config::default()).expect("start server");
    let url = server.url().to_string();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let c = client(&url);
        println!("sqs-mega-local bench (aws-sdk-rust over loopback, {runs} runs each, medians)");

        // 1. Full cycle throughput.
        let q = c.create_queue().queue_name("cycle").send().await.unwrap().queue_url.unwrap();
        full_cycle(&c, &q, 8, 20_000).await; // warm-up
        let mut rates: Vec<f64> = Vec::new();
        for _ in 0..runs {
            rates.push(full_cycle(&c, &q, 8, 100_000).await);
        }
        let ours = median(&mut rates);
        println!("full cycle (SendMessageBatch 10 + ReceiveMessage 10 + DeleteMessageBatch), 8 clients: {ours:.0} messages/s (runs: {rates:.0?})");

        // 2. ReceiveMessage latency with a message waiting.
        let lq = c.create_queue().queue_name("latency").send().await.unwrap().queue_url.unwrap();
        let mut p50s = Vec::new();
        let mut p99s = Vec::new();
        for _ in 0..runs {
            let mut lat = receive_latency(&c, &lq, 2_000).await;
            p50s.push(percentile(&mut lat, 0.50));
            p99s.push(percentile(&mut lat, 0.99));
        }
        println!(
            "ReceiveMessage latency with a message waiting: p50 {:.3} ms, p99 {:.3} ms",
            median(&mut p50s),
            median(&mut p99s)
        );

        // 3. Receive + delete on a deep queue vs a shallow one.
        let engine = server.engine().clone();
        let shallow = c.create_queue().queue_name("shallow").send().await.unwrap().queue_url.unwrap();
        let deepq = c.create_queue().queue_name("deep").send().await.unwrap().queue_url.unwrap();
        let body = "x".repeat(100);
        let fill = |name: &str, n: usize| {
            let q = engine.get_queue(name).unwrap();
            for _ in 0..n {
                engine
                    .send(
                        &q,
                        NewMessage {
                            body: body.clone(),
                            ..Default::default()
                        },
                    )
                    .unwrap();
            }
        };
        let rss0 = rss_bytes();
        let t = Instant::now();
        fill("deep", deep);
        let fill_s = t.elapsed().as_secs_f64();
        let rss1 = rss_bytes();
        println!(
            "filled a queue with {deep} messages of 100 bytes in {fill_s:.1} s (in-process); memory {:.0} bytes/message (RSS delta)",
            (rss1.saturating_sub(rss0)) as f64 / deep as f64
        );
        let chunk = 20_000;
        let mut shallow_rates = Vec::new();
        let mut deep_rates = Vec::new();
        for _ in 0..runs {
            fill("shallow", chunk);
            shallow_rates.push(drain(&c, &shallow, 8, chunk).await);
            deep_rates.push(drain(&c, &deepq, 8, chunk).await);
        }
        let (s, d) = (median(&mut shallow_rates), median(&mut deep_rates));
        println!(
            "receive(10)+delete-batch: queue of {chunk} messages {s:.0} messages/s; queue of {deep} messages {d:.0} messages/s (ratio deep/shallow {:.2})",
            d / s
        );

        // 4. moto, same cycle, small share.
        match start_moto().await {
            Some((_guard, murl)) => {
                let mc = client(&murl);
                let mq = mc.create_queue().queue_name("cycle").send().await.unwrap().queue_url.unwrap();
                full_cycle(&mc, &mq, 1, 100).await;
                let mut mr = Vec::new();
                for _ in 0..runs {
                    mr.push(full_cycle(&mc, &mq, 1, 500).await);
                }
                let m = median(&mut mr);
                println!("moto server, same full cycle (1 client, 500 messages/run): {m:.0} messages/s (runs: {mr:.0?})");
                println!("ratio sqs-mega-local / moto: {:.1}x", ours / m);
            }
            None => println!("moto: skipped (set MEGA_MOTO_SERVER=$(bash scripts/setup-moto.sh))"),
        }
        println!("goal: >= 20000 messages/s full cycle -> {}", if ours >= 20_000.0 { "met" } else { "NOT met" });
    });
    server.shutdown();
}
