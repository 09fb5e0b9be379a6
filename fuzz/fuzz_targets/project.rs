//! Differential: reading only what patterns need (`Projection`) never changes a match or an explanation.
//! Any text is projected (no panic, an error or a value); text that is JSON is written back canonically
//! (repeated keys resolved as the full reader does) and then projected, fresh and into a reused value, and
//! matched both ways.
#![no_main]

use std::cell::RefCell;

use libfuzzer_sys::fuzz_target;
use sqs_mega::matcher::{compile_pattern_json, Pattern, Projection, Syntax};
use sqs_mega::{json, Value};

const PATTERNS: &[(&str, Syntax)] = &[
    (
        r#"{"properties": {"STREET": ["MARKET", "JESSIE"]}}"#,
        Syntax::EventBridge,
    ),
    (
        r#"{"properties": {"BLKLOT": [{"prefix": "00"}], "ST_TYPE": [{"anything-but": ["ST", "AVE"]}]}}"#,
        Syntax::EventBridge,
    ),
    (
        r#"{"geometry": {"coordinates": [{"numeric": [">", -122.5, "<=", -122.4]}]}}"#,
        Syntax::EventBridge,
    ),
    (
        r#"{"a": [{"exists": false}], "b": [{"wildcard": "x*y"}], "c": [{"suffix": "z"}]}"#,
        Syntax::EventBridge,
    ),
    (
        r#"{"a": [{"equals-ignore-case": "Ab"}], "$or": [{"b": [1, 2.5]}, {"c": [null, true]}]}"#,
        Syntax::EventBridge,
    ),
    (
        r#"{"a": {"b": {"$gt": 1}}, "c": {"$in": ["x", 2]}, "d": [1, 2]}"#,
        Syntax::Mega,
    ),
    (
        r#"{"a": {"$match": "^[a-c]+"}, "e": {"$not": {"$empty": true}}, "f": {"$any": true}}"#,
        Syntax::Mega,
    ),
    (
        r#"{"$event": {"name": "item.added", "attributes": {"quantity": {"$gte": 2}}}}"#,
        Syntax::Mega,
    ),
];

thread_local! {
    static COMPILED: Vec<(Pattern, Projection)> = PATTERNS
        .iter()
        .map(|(text, syntax)| {
            let p = compile_pattern_json(text, *syntax).expect("the fuzz patterns compile");
            let proj = Projection::for_patterns([&p]);
            (p, proj)
        })
        .collect();
    static REUSED: RefCell<Value> = const { RefCell::new(Value::Null) };
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    COMPILED.with(|compiled| {
        let (pattern, projection) = &compiled[usize::from(which) % compiled.len()];
        let _ = projection.parse(text);
        let Ok(full) = json::parse(text) else { return };
        let Ok(canonical) = json::to_string(&full) else {
            return;
        };
        let projected = projection
            .parse(&canonical)
            .unwrap_or_else(|e| panic!("valid JSON not projected: {e:?}\n{canonical}"));
        REUSED.with(|reused| {
            let mut reused = reused.borrow_mut();
            projection
                .parse_into(&canonical, &mut reused)
                .expect("projects into a reused value");
            // Maps compare regardless of key order: a reused map keeps the order of the earlier payload.
            assert!(
                *reused == projected,
                "reusing a value changes the projection: {} vs {}",
                json::to_tagged_string(&reused),
                json::to_tagged_string(&projected)
            );
        });
        assert_eq!(
            pattern.matches(&projected),
            pattern.matches(&full),
            "{canonical}"
        );
        // The same explanation, except that a value read for its presence only is projected as an empty
        // map or list (docs/patterns.md, "Matching raw JSON cheaply").
        match (pattern.explain(&projected), pattern.explain(&full)) {
            (None, None) => {}
            (Some(p), Some(f)) => {
                assert_eq!(
                    (&p.path, &p.expected),
                    (&f.path, &f.expected),
                    "{canonical}"
                );
                if p.actual != f.actual {
                    assert!(
                        matches!(p.actual.as_deref(), Some("{}" | "[]")),
                        "{canonical}: {p:?} vs {f:?}"
                    );
                }
            }
            (p, f) => panic!("{canonical}: explained {p:?} projected, {f:?} in full"),
        }
    });
});
