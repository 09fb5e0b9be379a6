//! Matching a decoded payload does not allocate (the hot path of the listener).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use sqs_mega::json;
use sqs_mega::matcher::{compile_pattern_json, Router, Syntax};
use sqs_mega::Value;

struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// A counting allocator: `GlobalAlloc` is an unsafe trait.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn matching_a_decoded_payload_does_not_allocate() {
    let user_login = compile_pattern_json(
        r#"{"$event": {"domain": "user", "name": {"$match": "user:login:(.*)"}, "version": {"$any": true},
            "timestamp": {"$gte": {"$date": "2020-01-01"}},
            "subject": {"$match": "^\\d+$"}, "attributes": {"success": true, "attempts": {"$gt": 2}},
            "object_type": "user", "object_version": {"$one_of": [1, 2, 3]},
            "object_current": {"email": {"$not": {"$empty": true}}, "username": {"$not": ["test", "synthetic"]},
                               "created_at": {"$gte": {"$date": "2020-01-01"}}}}}"#,
        Syntax::Mega,
    )
    .unwrap();
    let eventbridge = compile_pattern_json(
        r#"{"event": {"name": [{"prefix": "user:"}], "attributes": {"attempts": [{"numeric": [">", 1]}]}},
            "extra": {"ip": [{"cidr": "10.0.0.0/8"}], "ua": [{"wildcard": "*Firefox*"}]}}"#,
        Syntax::EventBridge,
    )
    .unwrap();
    let event = json::parse(
        r#"{"protocol": "mega", "version": "1",
            "event": {"domain": "user", "name": "user:login:web", "version": "1", "timestamp": "2020-06-12T17:29:58.000",
                      "subject": "987650", "publisher": "login-api",
                      "attributes": {"email": "johndoe_86@example.com", "success": "true", "attempts": 4}},
            "object": {"type": "user", "id": "987650", "version": 2,
                       "current": {"id": 987650, "username": "john-doe", "email": "johndoe_86@example.com",
                                   "created_at": "2020-03-28T15:23:01"}},
            "extra": {"ip": "10.1.2.3", "ua": "Mozilla/5.0 Firefox/120"}}"#,
    )
    .unwrap();
    let mut router = Router::new();
    router.add(user_login.clone());
    router.add(eventbridge.clone());
    let mut out = Vec::with_capacity(4);
    let text = json::to_string(&event).unwrap();
    let projection = router.projection();
    let mut projected = Value::Null;
    projection.parse_into(&text, &mut projected).unwrap();
    // Warm-up: the regex engine takes its per-thread cache on first use.
    assert!(user_login.matches(&event));
    assert!(eventbridge.matches(&event));
    router.matches_into(&event, &mut out);
    assert_eq!(out.len(), 2);

    COUNTING.store(true, Ordering::SeqCst);
    let mut hits = 0;
    for _ in 0..100 {
        hits += usize::from(user_login.matches(&event));
        hits += usize::from(eventbridge.matches(&event));
        out.clear();
        router.matches_into(&event, &mut out);
        hits += out.len();
        // Reading a raw body of the same shape into a kept value reuses its storage.
        projection.parse_into(&text, &mut projected).unwrap();
        out.clear();
        router.matches_into(&projected, &mut out);
        hits += out.len();
    }
    COUNTING.store(false, Ordering::SeqCst);
    assert_eq!(hits, 600);
    assert_eq!(ALLOCATIONS.load(Ordering::SeqCst), 0, "matching allocated");
}
