//! Mutated bodies never panic the decoder, and whatever decodes survives a BSON round trip.
//!
//! A deterministic, seeded mutation loop over the conformance vectors runs in every test run; the
//! coverage-guided fuzzers in `fuzz/` go further (see docs/payloads.md).

use base64::Engine as _;
use sqs_mega::codec::{self, DecodeOptions, EncodeOptions};
use sqs_mega::{json, Value};

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn vector_bodies() -> Vec<Vec<u8>> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/vectors/payloads.json"
    ))
    .unwrap();
    let doc = json::parse(&text).unwrap();
    let mut bodies = Vec::new();
    for v in doc.get("vectors").and_then(Value::as_list).unwrap() {
        if let Some(b) = v.get("body").and_then(Value::as_str) {
            bodies.push(b.as_bytes().to_vec());
            // Also mutate the bytes inside Base64 bodies, where BSON lives.
            if let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(b) {
                bodies.push(raw);
            }
        }
    }
    bodies
}

fn mutate(rng: &mut XorShift, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..=rng.below(4) {
        match rng.below(5) {
            0 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] ^= 1 << rng.below(8);
            }
            1 if !out.is_empty() => out.truncate(rng.below(out.len())),
            2 => {
                let i = rng.below(out.len() + 1);
                out.insert(i, rng.next() as u8);
            }
            3 if !other.is_empty() => {
                let i = rng.below(out.len() + 1);
                let j = rng.below(other.len());
                out.splice(i..i, other[j..].iter().take(16).copied());
            }
            _ if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] = [0, 0xff, b'{', b'"', b'=', 0x7f][rng.below(6)];
            }
            _ => {}
        }
    }
    out
}

fn contains_nan(v: &Value) -> bool {
    match v {
        Value::Float(f) => f.is_nan(),
        Value::Decimal(d) => d.is_nan(),
        Value::List(l) => l.iter().any(contains_nan),
        Value::Map(m) => m.values().any(contains_nan),
        _ => false,
    }
}

#[test]
fn mutated_bodies_decode_or_fail_cleanly() {
    let bodies = vector_bodies();
    let mut rng = XorShift(0x5eed_1234_abcd_0001);
    let declared = [
        None,
        Some("json"),
        Some("bson"),
        Some("plaintext"),
        Some("binary"),
    ];
    let mut decoded_count = 0;
    for round in 0..20_000 {
        let a = &bodies[rng.below(bodies.len())];
        let b = &bodies[rng.below(bodies.len())];
        let mut body = mutate(&mut rng, a, b);
        // Half the time, put raw (mutated BSON) bytes back into Base64 as a body.
        if round % 2 == 0 {
            body = base64::engine::general_purpose::STANDARD
                .encode(&body)
                .into_bytes();
        }
        let enc = declared[rng.below(declared.len())];
        let Ok(decoded) = codec::decode_bytes(&body, enc, &DecodeOptions::default()) else {
            continue;
        };
        decoded_count += 1;
        let report = json::to_tagged_string(&decoded.to_report());
        assert!(json::parse(&report).is_ok());
        if let Some(value) = decoded.value() {
            let options = EncodeOptions::default()
                .with_binary_encoding(true)
                .with_max_message_bytes(usize::MAX);
            if let Ok(encoded) = codec::encode(&decoded.content, &options) {
                let again = codec::decode(&encoded.body, Some("bson")).expect("own BSON decodes");
                assert!(
                    again.value().map(at_millis) == Some(at_millis(value)) || contains_nan(value),
                    "round trip changed {}",
                    json::to_tagged_string(value)
                );
            }
        }
    }
    assert!(
        decoded_count > 5_000,
        "mutations should still often decode ({decoded_count})"
    );
}

/// BSON date-times hold milliseconds: compare values with date-times truncated to the millisecond.
fn at_millis(v: &sqs_mega::Value) -> sqs_mega::Value {
    use sqs_mega::Value;
    match v {
        Value::DateTime(d) => {
            Value::DateTime(chrono::DateTime::from_timestamp_millis(d.timestamp_millis()).unwrap())
        }
        Value::List(l) => Value::List(l.iter().map(at_millis).collect()),
        Value::Map(m) => Value::Map(m.iter().map(|(k, x)| (k.clone(), at_millis(x))).collect()),
        other => other.clone(),
    }
}

#[test]
fn bson_keeps_milliseconds_of_sub_millisecond_timestamps() {
    // Found by the fuzzer: BSON date-times hold milliseconds, so finer digits are dropped (as PyMongo does).
    let body = r#"{"protocol": "mega", "version": 1, "event": {"name": "x", "timestamp": "2020-05-04T15:53:27.0823"}}"#;
    let decoded = codec::decode(body, None).unwrap();
    let options = EncodeOptions::default().with_binary_encoding(true);
    let encoded = codec::encode(&decoded.content, &options).unwrap();
    let again = codec::decode(&encoded.body, None).unwrap();
    let ts = again.value().unwrap().get_path("event.timestamp").unwrap();
    assert_eq!(
        json::to_tagged_string(ts),
        r#"{"$datetime":"2020-05-04T15:53:27.082Z"}"#
    );
    assert_eq!(again.value().map(at_millis), decoded.value().map(at_millis));
}
