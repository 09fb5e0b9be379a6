//! Any bytes: BSON decoding returns a map or an error; a decoded map re-encodes to a document that decodes
//! to the same map.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sqs_mega::{bson, Value};

fuzz_target!(|data: &[u8]| {
    if let Ok(map) = bson::decode(data) {
        let value = Value::Map(map);
        if let Ok(bytes) = bson::encode(&value) {
            let again = bson::decode(&bytes).expect("our own BSON decodes");
            let again = Value::Map(again);
            assert!(again == value || format!("{value:?}").contains("NaN"));
        }
    }
});
