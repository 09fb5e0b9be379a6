//! Payload decoding benchmarks.
//!
//! - JSON data bodies of ~1 KiB and ~64 KiB decoded into the value model (`codec::decode`, which also checks
//!   the MEGA header), next to `serde_json::from_str::<serde_json::Value>` on the same body.
//! - The same content as BSON-in-Base64 bodies: throughput, and its ratio to the JSON path.
//!
//! Criterion reports each function; the run ends with a side-by-side table (interleaved rounds, medians,
//! ratios), which is what the goals are judged on: `cargo bench -p sqs-mega --bench codec`.

use std::hint::black_box;
use std::time::Instant;

use criterion::{BenchmarkId, Criterion, Throughput};
use sqs_mega::codec::{self, Content, EncodeOptions};
use sqs_mega::{value, Value};

/// A deterministic data object of roughly `target` bytes of JSON: a list of order records.
fn data_object(target: usize) -> Value {
    let mut items = Vec::new();
    let mut i: i64 = 0;
    loop {
        let v = value!({
            "id": (format!("61fcc874-624e-40f8-8fd7-{:012x}", i * 7919)),
            "sku": (format!("SKU-{}", 100_000 + i)),
            "quantity": (i % 17 + 1),
            "price": ((i as f64) * 1.37 + 0.99),
            "in_stock": (i % 3 != 0),
            "tags": ["summer", "sale", (format!("batch-{}", i % 5))],
            "dims": {"w": (i % 40), "h": 12.5, "unit": "cm"},
            "note": (if i % 4 == 0 { Value::Null } else { Value::from("Olá — deliver after 6pm ☕") })
        });
        items.push(v);
        i += 1;
        let candidate = value!({"type": "order.snapshot", "user": {"id": 987650, "email": "johndoe_86@example.com"}, "items": (Value::List(items.clone()))});
        if sqs_mega::json::to_string(&candidate).unwrap().len() >= target {
            return candidate;
        }
    }
}

struct Bodies {
    label: &'static str,
    json: String,
    bson: String,
}

fn bodies() -> Vec<Bodies> {
    [("1KiB", 1024), ("64KiB", 64 * 1024)]
        .into_iter()
        .map(|(label, size)| {
            let content = Content::Data(data_object(size));
            let json = codec::encode(&content, &EncodeOptions::default())
                .unwrap()
                .body;
            let bson = codec::encode(
                &content,
                &EncodeOptions::default().with_binary_encoding(true),
            )
            .unwrap()
            .body;
            Bodies { label, json, bson }
        })
        .collect()
}

fn ours_json(body: &str) {
    black_box(codec::decode(black_box(body), Some("json")).unwrap());
}

fn serde(body: &str) {
    black_box(serde_json::from_str::<serde_json::Value>(black_box(body)).unwrap());
}

fn ours_bson(body: &str) {
    black_box(codec::decode(black_box(body), Some("bson")).unwrap());
}

fn criterion_benches(c: &mut Criterion, bodies: &[Bodies]) {
    let mut group = c.benchmark_group("decode");
    for b in bodies {
        group.throughput(Throughput::Bytes(b.json.len() as u64));
        group.bench_with_input(
            BenchmarkId::new("sqs_mega_json", b.label),
            &b.json,
            |bench, body| bench.iter(|| ours_json(body)),
        );
        group.bench_with_input(
            BenchmarkId::new("serde_json_value", b.label),
            &b.json,
            |bench, body| bench.iter(|| serde(body)),
        );
        group.throughput(Throughput::Bytes(b.bson.len() as u64));
        group.bench_with_input(
            BenchmarkId::new("sqs_mega_bson_base64", b.label),
            &b.bson,
            |bench, body| bench.iter(|| ours_bson(body)),
        );
    }
    group.finish();
}

/// Median nanoseconds per call of each function, measured in interleaved rounds so that machine noise hits
/// all of them alike.
fn side_by_side(fns: &[(&str, &dyn Fn())], rounds: usize, calls_per_round: usize) -> Vec<f64> {
    let mut samples = vec![Vec::with_capacity(rounds); fns.len()];
    for _ in 0..rounds {
        for (i, (_, f)) in fns.iter().enumerate() {
            let start = Instant::now();
            for _ in 0..calls_per_round {
                f();
            }
            samples[i].push(start.elapsed().as_nanos() as f64 / calls_per_round as f64);
        }
    }
    samples
        .into_iter()
        .map(|mut s| {
            s.sort_by(|a, b| a.partial_cmp(b).unwrap());
            s[s.len() / 2]
        })
        .collect()
}

fn summary(bodies: &[Bodies]) {
    println!("\n== side-by-side summary (interleaved rounds, medians) ==");
    println!(
        "{:<7} {:>10} {:>10} {:>12} {:>12} {:>12} {:>10} {:>10}",
        "body",
        "json B",
        "bson B",
        "ours json",
        "serde_json",
        "ours bson",
        "json/serde",
        "bson/json"
    );
    for b in bodies {
        let calls = if b.json.len() > 10_000 { 20 } else { 1_000 };
        let m = side_by_side(
            &[
                ("ours_json", &|| ours_json(&b.json)),
                ("serde", &|| serde(&b.json)),
                ("ours_bson", &|| ours_bson(&b.bson)),
            ],
            60,
            calls,
        );
        let mbps = |ns: f64, bytes: usize| bytes as f64 / ns * 1e9 / 1e6;
        println!(
            "{:<7} {:>10} {:>10} {:>9.0} ns {:>9.0} ns {:>9.0} ns {:>9.2}x {:>9.2}x",
            b.label,
            b.json.len(),
            b.bson.len(),
            m[0],
            m[1],
            m[2],
            m[0] / m[1],
            m[2] / m[0]
        );
        println!(
            "        throughput: ours json {:.0} MB/s, serde_json {:.0} MB/s, ours bson-in-base64 {:.0} MB/s (of body)",
            mbps(m[0], b.json.len()),
            mbps(m[1], b.json.len()),
            mbps(m[2], b.bson.len())
        );
    }
    println!("goal: ours json / serde_json <= 1.5x");
}

fn main() {
    let bodies = bodies();
    let mut c = Criterion::default().configure_from_args();
    criterion_benches(&mut c, &bodies);
    c.final_summary();
    summary(&bodies);
}
