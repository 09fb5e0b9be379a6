//! Any text: JSON parsing returns a value or an error; a parsed value written back parses to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sqs_mega::json;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(value) = json::parse(text) {
        let tagged = json::to_tagged_string(&value);
        let again = json::from_tagged(json::parse(&tagged).expect("our own JSON parses"));
        if let Ok(plain) = json::to_string(&value) {
            assert!(json::parse(&plain).expect("our own JSON parses") == value);
        }
        let _ = again;
    }
});
