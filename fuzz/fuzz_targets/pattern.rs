//! Any text as a pattern, in both syntaxes: compiling gives a pattern or an error (never a panic); a compiled
//! pattern answers, explains and exports for any payload without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sqs_mega::matcher::{compile_pattern_json, Syntax};
use sqs_mega::{json, value};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let payloads = [
        value!({"a": 1, "b": "x", "c": [1, 2, {"d": null}], "e": {"f": true}}),
        value!({"protocol": "mega", "version": 1, "event": {"name": "item.added", "timestamp": "2020-05-04T15:53:23Z",
                "attributes": {"quantity": 5}}, "object": {"current": {"id": 1}}}),
        json::parse(text).unwrap_or_default(),
    ];
    for syntax in [Syntax::Mega, Syntax::EventBridge] {
        if let Ok(pattern) = compile_pattern_json(text, syntax) {
            for p in &payloads {
                let matched = pattern.matches(p);
                let explained = pattern.explain(p);
                if matched {
                    assert!(explained.is_none(), "a match has nothing to explain");
                }
            }
            let _ = pattern.to_sns_filter_policy();
        }
    }
});
