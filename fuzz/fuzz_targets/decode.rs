//! Any bytes, with any declared encoding, decode to a payload or a typed error; never a panic. A payload
//! that decodes re-encodes (BSON) and decodes back to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sqs_mega::codec::{self, DecodeOptions, EncodeOptions};

fuzz_target!(|data: &[u8]| {
    let (selector, body) = match data.split_first() {
        Some((s, rest)) => (*s, rest),
        None => return,
    };
    let declared = match selector % 6 {
        0 => None,
        1 => Some("json"),
        2 => Some("bson"),
        3 => Some("plaintext"),
        4 => Some("binary"),
        _ => Some("unknown"),
    };
    let Ok(decoded) = codec::decode_bytes(body, declared, &DecodeOptions::default()) else {
        return;
    };
    let _ = decoded.to_report();
    if let Some(value) = decoded.value() {
        let options = EncodeOptions::default().with_binary_encoding(true).with_max_message_bytes(usize::MAX);
        if let Ok(encoded) = codec::encode(&decoded.content, &options) {
            let again = codec::decode(&encoded.body, Some("bson")).expect("our own BSON decodes");
            assert!(
                again.value().map(at_millis) == Some(at_millis(value)) || has_nan(value),
                "BSON round trip changed the value"
            );
        }
    }
});

fn has_nan(v: &sqs_mega::Value) -> bool {
    match v {
        sqs_mega::Value::Float(f) => f.is_nan(),
        sqs_mega::Value::Decimal(d) => d.is_nan(),
        sqs_mega::Value::List(l) => l.iter().any(has_nan),
        sqs_mega::Value::Map(m) => m.values().any(has_nan),
        _ => false,
    }
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
