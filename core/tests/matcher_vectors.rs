//! Runs the language-neutral conformance vectors of `tests/vectors/patterns.json`.

use std::collections::BTreeSet;

use sqs_mega::json;
use sqs_mega::matcher::{compile_pattern_value, Callbacks, Syntax};
use sqs_mega::Value;

fn callbacks() -> Callbacks {
    let mut c = Callbacks::new();
    c.insert("is_even", |v: &Value| {
        v.as_i64().is_some_and(|i| i % 2 == 0)
    });
    c.insert("fails", |_: &Value| -> bool {
        panic!("this callback always fails")
    });
    c
}

fn load() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/vectors/patterns.json"
    );
    let text = std::fs::read_to_string(path).expect("vectors file");
    json::parse(&text).expect("vectors are JSON")
}

#[test]
fn conformance_vectors() {
    let doc = load();
    let vectors = doc
        .get("vectors")
        .and_then(Value::as_list)
        .expect("vectors list");
    assert!(vectors.len() > 200, "the vector file lost vectors");
    let callbacks = callbacks();
    // Silence the expected panic message of the `fails` callback.
    std::panic::set_hook(Box::new(|_| {}));
    let mut failures = Vec::new();
    let mut rules = BTreeSet::new();
    for v in vectors {
        let name = v.get("name").and_then(Value::as_str).expect("name");
        let rule = v.get("rule").and_then(Value::as_str).expect("rule");
        rules.insert(rule.to_owned());
        let syntax = match v.get("syntax").and_then(Value::as_str) {
            Some("eventbridge") => Syntax::EventBridge,
            Some("mega") | None => Syntax::Mega,
            Some(other) => panic!("{name}: unknown syntax {other}"),
        };
        let pattern = v.get("pattern").expect("pattern");
        let compiled = compile_pattern_value(pattern, syntax, &callbacks);
        if let Some(path) = v.get("error_path") {
            match compiled {
                Err(e) if Some(e.path.as_str()) == path.as_str() => {}
                Err(e) => failures.push(format!(
                    "{rule}/{name}: error at {} ({e}), expected at {path:?}",
                    e.path
                )),
                Ok(_) => failures.push(format!(
                    "{rule}/{name}: compiled, expected an error at {path:?}"
                )),
            }
            continue;
        }
        let compiled = match compiled {
            Ok(p) => p,
            Err(e) => {
                failures.push(format!("{rule}/{name}: {e}"));
                continue;
            }
        };
        let payload =
            json::from_tagged(v.get("payload").expect("payload").clone()).expect("tagged payload");
        let expected = v.get("match").and_then(Value::as_bool).expect("match");
        let got = compiled.matches(&payload);
        if got != expected {
            failures.push(format!("{rule}/{name}: matched {got}, expected {expected}"));
            continue;
        }
        let explanation = compiled.explain(&payload);
        if explanation.is_some() == expected {
            failures.push(format!(
                "{rule}/{name}: explain disagrees with matches: {explanation:?}"
            ));
        }
        if let (Some(path), Some(e)) = (v.get("explain_path").and_then(Value::as_str), &explanation)
        {
            if e.path != path {
                failures.push(format!(
                    "{rule}/{name}: explained at {:?} ({e}), expected {path:?}",
                    e.path
                ));
            }
        }
    }
    let _ = std::panic::take_hook();
    assert!(
        failures.is_empty(),
        "{} failing vectors:\n{}",
        failures.len(),
        failures.join("\n")
    );
    for rule in [
        "equality",
        "maps",
        "comparison",
        "dates",
        "match",
        "one_of",
        "not",
        "and_or",
        "any",
        "empty",
        "exists",
        "lists",
        "callbacks",
        "strings",
        "subscribers",
        "errors",
        "eventbridge",
        "eventbridge_errors",
    ] {
        assert!(rules.contains(rule), "no vector for rule {rule}");
    }
}

/// A projection (parsing only the fields the pattern reads) never changes a result.
#[test]
fn projected_payloads_match_like_full_ones() {
    use sqs_mega::matcher::Projection;
    let doc = load();
    let callbacks = callbacks();
    std::panic::set_hook(Box::new(|_| {}));
    let mut compared = 0;
    let mut differing_payloads = 0;
    // One value reused across all vectors: whatever an earlier payload left must not leak.
    let mut reused = Value::Null;
    for v in doc.get("vectors").and_then(Value::as_list).unwrap() {
        let Some(payload) = v.get("payload") else {
            continue;
        };
        let syntax = match v.get("syntax").and_then(Value::as_str) {
            Some("eventbridge") => Syntax::EventBridge,
            _ => Syntax::Mega,
        };
        let pattern = compile_pattern_value(v.get("pattern").unwrap(), syntax, &callbacks).unwrap();
        // Plain JSON text of the payload (tags stay maps: the comparison holds all the same).
        let text = json::to_string(payload).unwrap();
        let full = json::parse(&text).unwrap();
        let projection = Projection::for_patterns([&pattern]);
        let projected = projection.parse(&text).unwrap();
        projection.parse_into(&text, &mut reused).unwrap();
        assert_eq!(
            json::to_tagged_string(&reused),
            json::to_tagged_string(&projected),
            "reuse changes the projection"
        );
        let name = v.get("name").and_then(Value::as_str).unwrap();
        assert_eq!(
            pattern.matches(&projected),
            pattern.matches(&full),
            "{name}"
        );
        assert_eq!(
            pattern.explain(&projected),
            pattern.explain(&full),
            "{name}"
        );
        compared += 1;
        differing_payloads += usize::from(projected != full);
    }
    let _ = std::panic::take_hook();
    assert!(compared > 200);
    assert!(
        differing_payloads > 20,
        "projections should drop unread fields ({differing_payloads})"
    );
}

#[test]
fn projection_keeps_only_what_patterns_read_and_rejects_broken_json() {
    use sqs_mega::matcher::Projection;
    let p = sqs_mega::matcher::compile_pattern_json(
        r#"{"a": {"b": [1]}, "c": {"$exists": true}}"#,
        Syntax::Mega,
    )
    .unwrap();
    let proj = Projection::for_patterns([&p]);
    let text = r#"{"a": {"b": 1, "x": [1, {"y": "}"}]}, "c": {"deep": [1, 2]}, "z\"": "s", "geo": [[1.5, 2], [3, 4]]}"#;
    let v = proj.parse(text).unwrap();
    assert_eq!(json::to_string(&v).unwrap(), r#"{"a":{"b":1},"c":{}}"#);
    assert!(p.matches(&v));
    for broken in [
        r#"{"a": {"b": 1}"#,
        r#"{"zz": "unterminated}"#,
        r#"{"a": {"b": 01x}}"#,
        r#"{"a": 1} x"#,
    ] {
        assert!(proj.parse(broken).is_err(), "{broken}");
    }
}

/// The SNS filter-policy vectors (`sns_vectors`): compiled with the SNS rules for their scope, matched
/// against the message SNS would see. `local/tests/local_sns_vectors.rs` runs the same vectors through the
/// embedded endpoint over HTTP, so the two cannot drift apart.
#[test]
fn sns_filter_policy_vectors() {
    use sqs_mega::matcher::{compile_sns_filter_policy, FilterPolicyScope, SnsMessage};
    let doc = load();
    let vectors = doc
        .get("sns_vectors")
        .and_then(Value::as_list)
        .expect("sns_vectors list");
    assert!(vectors.len() >= 60, "the vector file lost SNS vectors");
    let mut failures = Vec::new();
    let mut rules = BTreeSet::new();
    for v in vectors {
        let name = v.get("name").and_then(Value::as_str).expect("name");
        let rule = v.get("rule").and_then(Value::as_str).expect("rule");
        rules.insert(rule.to_owned());
        let scope: FilterPolicyScope = v
            .get("scope")
            .and_then(Value::as_str)
            .expect("scope")
            .parse()
            .expect("a scope");
        let policy = json::to_string(v.get("policy").expect("policy")).expect("policy text");
        let compiled = compile_sns_filter_policy(&policy, scope);
        if let Some(path) = v.get("error_path").and_then(Value::as_str) {
            match compiled {
                Err(e) if e.path == path => {}
                Err(e) => failures.push(format!("{rule}/{name}: error {e}, expected at {path}")),
                Ok(_) => failures.push(format!("{rule}/{name}: accepted, expected an error")),
            }
            continue;
        }
        let compiled = match compiled {
            Ok(p) => p,
            Err(e) => {
                failures.push(format!("{rule}/{name}: {e}"));
                continue;
            }
        };
        let attributes: Vec<(&str, &str, Option<&str>)> = v
            .get("attributes")
            .and_then(Value::as_map)
            .map(|m| {
                m.iter()
                    .map(|(k, a)| {
                        let ty = a.get("Type").and_then(Value::as_str).expect("Type");
                        let value = a.get("Value").and_then(Value::as_str).expect("Value");
                        (k.as_str(), ty, (!ty.starts_with("Binary")).then_some(value))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let body = v.get("body").and_then(Value::as_str).expect("body");
        let expected = v.get("match").and_then(Value::as_bool).expect("match");
        let got = compiled.matches(&SnsMessage::new(body, attributes));
        if got != expected {
            failures.push(format!("{rule}/{name}: matched {got}, expected {expected}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failing SNS vectors:\n{}",
        failures.len(),
        failures.join("\n")
    );
    for rule in ["sns_attributes", "sns_body", "sns_errors"] {
        assert!(rules.contains(rule), "no vector for rule {rule}");
    }
}
