//! Runs the shared payload conformance vectors (`tests/vectors/payloads.json`) through the decoder.

use base64::Engine as _;
use sqs_mega::codec::{self, DecodeOptions};
use sqs_mega::json;
use sqs_mega::Value;

fn vectors() -> Vec<Value> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/vectors/payloads.json"
    );
    let text = std::fs::read_to_string(path).expect("read payloads.json");
    let doc = json::parse(&text).expect("payloads.json is JSON");
    doc.get("vectors")
        .and_then(Value::as_list)
        .expect("a vectors list")
        .to_vec()
}

/// Equality that also requires the same kinds everywhere (an integer is not a float; -0.0 is not 0.0).
fn strictly_equal(a: &Value, b: &Value, path: &str) -> Result<(), String> {
    if a.kind() != b.kind() {
        return Err(format!("{path}: {} vs {}", a.kind(), b.kind()));
    }
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => {
            if x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()) {
                Ok(())
            } else {
                Err(format!("{path}: {x} vs {y}"))
            }
        }
        (Value::Decimal(x), Value::Decimal(y)) if x.as_str() != y.as_str() => {
            Err(format!("{path}: {x} vs {y}"))
        }
        (Value::List(x), Value::List(y)) => {
            if x.len() != y.len() {
                return Err(format!("{path}: {} vs {} elements", x.len(), y.len()));
            }
            x.iter()
                .zip(y)
                .enumerate()
                .try_for_each(|(i, (p, q))| strictly_equal(p, q, &format!("{path}[{i}]")))
        }
        (Value::Map(x), Value::Map(y)) => {
            let xk: Vec<_> = x.keys().collect();
            let mut yk: Vec<_> = y.keys().collect();
            let mut xs = xk.clone();
            xs.sort();
            yk.sort();
            if xs != yk {
                return Err(format!("{path}: keys {xs:?} vs {yk:?}"));
            }
            xk.iter()
                .try_for_each(|k| strictly_equal(&x[*k], &y[*k], &format!("{path}.{k}")))
        }
        _ if a == b => Ok(()),
        _ => Err(format!(
            "{path}: {} vs {}",
            json::to_tagged_string(a),
            json::to_tagged_string(b)
        )),
    }
}

#[test]
fn every_payload_vector_decodes_as_specified() {
    let vectors = vectors();
    assert!(vectors.len() >= 50, "the vector file lost vectors");
    let mut failures = Vec::new();
    for v in &vectors {
        let name = v.get("name").and_then(Value::as_str).expect("name");
        let body: Vec<u8> = match (v.get("body"), v.get("body_base64")) {
            (Some(Value::String(s)), _) => s.as_bytes().to_vec(),
            (_, Some(Value::String(b))) => base64::engine::general_purpose::STANDARD
                .decode(b)
                .expect("body_base64"),
            _ => panic!("{name}: no body"),
        };
        let declared = v.get("encoding").and_then(Value::as_str);
        let result = codec::decode_bytes(&body, declared, &DecodeOptions::default());
        match (v.get("expect"), v.get("error"), result) {
            (Some(expect), None, Ok(decoded)) => {
                let expect = json::from_tagged(expect.clone()).expect("tagged expectation");
                let report = decoded.to_report();
                if let Err(e) = strictly_equal(&report, &expect, "$") {
                    failures.push(format!("{name}: {e}"));
                }
            }
            (None, Some(error), Err(e)) => {
                let code = error.get("code").and_then(Value::as_str).unwrap();
                let contains = error
                    .get("message_contains")
                    .and_then(Value::as_str)
                    .unwrap();
                if e.reason() != code || !e.to_string().contains(contains) {
                    failures.push(format!(
                        "{name}: got error {} `{e}`, expected {code} containing `{contains}`",
                        e.reason()
                    ));
                }
            }
            (_, _, Ok(decoded)) => failures.push(format!(
                "{name}: expected an error, decoded {}",
                json::to_tagged_string(&decoded.to_report())
            )),
            (_, _, Err(e)) => failures.push(format!("{name}: unexpected error {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Every decodable data/MEGA vector re-encodes (JSON and BSON) and decodes back to the same value.
#[test]
fn decoded_vectors_round_trip_through_both_encodings() {
    for v in vectors() {
        let Some(Value::String(body)) = v.get("body") else {
            continue;
        };
        let declared = v.get("encoding").and_then(Value::as_str);
        let Ok(decoded) = codec::decode(body, declared) else {
            continue;
        };
        let Some(value) = decoded.value() else {
            continue;
        };
        let has_bytes_or_nonfinite = json::to_string(value).is_err();
        for binary_encoding in [false, true] {
            if !binary_encoding && has_bytes_or_nonfinite {
                continue;
            }
            let options = codec::EncodeOptions::default().with_binary_encoding(binary_encoding);
            let encoded = codec::encode(&decoded.content, &options).expect("re-encode");
            let again = codec::decode(&encoded.body, Some(encoded.encoding.as_str())).unwrap();
            let name = v.get("name").and_then(Value::as_str).unwrap();
            // JSON turns date-times into strings, so compare JSON round trips on their JSON text.
            if binary_encoding {
                strictly_equal(again.value().unwrap(), value, "$")
                    .unwrap_or_else(|e| panic!("{name} (bson): {e}"));
            } else {
                assert_eq!(
                    json::to_string(again.value().unwrap()).unwrap(),
                    json::to_string(value).unwrap(),
                    "{name} (json)"
                );
            }
        }
    }
}
