//! Matcher benchmarks.
//!
//! - `citylots/<rule>/{mega-projected,mega-full-parse,quamina}`: CityLots-like GeoJSON events (seeded
//!   generator, ~900 bytes each) matched against the same EventBridge rule set, from the raw JSON text:
//!   by this engine after a [`Projection`](sqs_mega::matcher::Projection) parse (only the fields the
//!   rules read, into a value reused from event to event), by this engine after a full `json::parse`, and by the `quamina` crate.
//! - `router/<n>`: one decoded MEGA event against 10 / 100 / 1,000 event subscribers.
//! - `single/seed_user_login`: the seed's UserLogin subscriber against a decoded event.
//!
//! Run: `cargo bench -p sqs-mega --bench matcher`. With `MATCHER_BENCH_PARTS=1`, also
//! `citylots/<rule>/projection-only`: the projection without the matching.
//!
//! Figures (medians of three runs per event, 2-core machine shared with other builds, load average about
//! 1; details, per-run ratios and the figures before in `docs/patterns.md`, section Performance):
//!
//! | rule         | mega-projected | quamina | projected ÷ quamina (events/s) |
//! | ------------ | -------------- | ------- | ------------------------------ |
//! | exact        | 210 ns         | 452 ns  | 2.15×                          |
//! | prefix       | 180 ns         | 348 ns  | 1.93×                          |
//! | numeric      | 2180 ns        | 5227 ns | 2.40×                          |
//! | anything-but | 208 ns         | 446 ns  | 2.15×                          |
//! | exists       | 214 ns         | 659 ns  | 3.08×                          |
//! | wildcard     | 172 ns         | 407 ns  | 2.36×                          |
//!
//! Router: 200 / 205 / 212 ns per event at 10 / 100 / 1,000 subscribers (1,000 vs 10: 1.06×).
//! Single subscriber (seed UserLogin, decoded event): about 250 ns per evaluation, no allocation.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use sqs_mega::json;
use sqs_mega::matcher::dsl::*;
use sqs_mega::matcher::{compile_pattern_json, Expr, PatternId, Router, Rules, Syntax};
use sqs_mega::{value, Value};

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

const STREETS: &[&str] = &[
    "CRANLEIGH",
    "JEFFERSON",
    "MISSION",
    "VALENCIA",
    "MARKET",
    "UNKNOWN",
    "GEARY",
    "FOLSOM",
    "HARRISON",
    "BRYANT",
    "CASTRO",
    "NOE",
    "SANCHEZ",
    "CHURCH",
    "DOLORES",
    "GUERRERO",
    "POTRERO",
    "BAKER",
    "LYON",
    "DIVISADERO",
    "SCOTT",
    "PIERCE",
    "STEINER",
    "FILLMORE",
    "WEBSTER",
    "BUCHANAN",
    "LAGUNA",
    "OCTAVIA",
];
const ST_TYPES: &[&str] = &["ST", "AVE", "BLVD", "WAY", "TER", "PL", "CT", "LN"];

/// One CityLots-like feature, as JSON text (about 900 bytes).
fn citylot(rng: &mut Rng) -> String {
    let block = rng.below(9000) + 1;
    let lot = rng.below(300) + 1;
    let street = STREETS[rng.below(STREETS.len() as u64) as usize];
    let from = rng.below(4000);
    let st_type = match rng.below(10) {
        0 | 1 => None,
        2 => Some("null".to_owned()),
        _ => Some(format!(
            "\"{}\"",
            ST_TYPES[rng.below(ST_TYPES.len() as u64) as usize]
        )),
    };
    let mut s = String::with_capacity(1000);
    s.push_str(r#"{"type":"Feature","properties":{"#);
    s.push_str(&format!(
        r#""MAPBLKLOT":"{block:04}{lot:03}","BLKLOT":"{block:04}{lot:03}","BLOCK_NUM":"{block:04}","LOT_NUM":"{lot:03}","FROM_ST":"{from}","TO_ST":"{}","STREET":"{street}","#,
        from + rng.below(40)
    ));
    if let Some(t) = st_type {
        s.push_str(&format!(r#""ST_TYPE":{t},"#));
    }
    s.push_str(&format!(
        r#""ODD_EVEN":"{}"}},"geometry":{{"type":"Polygon","coordinates":[["#,
        if from.is_multiple_of(2) { "E" } else { "O" }
    ));
    let (x0, y0) = (-122.52 + rng.unit() * 0.15, 37.70 + rng.unit() * 0.12);
    let points = 14;
    for i in 0..points {
        let (x, y) = if i == points - 1 {
            (x0, y0)
        } else {
            (x0 + rng.unit() * 0.001, y0 + rng.unit() * 0.001)
        };
        if i > 0 {
            s.push(',');
        }
        s.push_str(&format!("[{x:.15},{y:.15},0.0]"));
    }
    s.push_str("]]}}");
    s
}

/// Rule sets, in EventBridge syntax, read by both engines.
const RULES: &[(&str, &[&str])] = &[
    (
        "exact",
        &[
            r#"{"properties":{"STREET":["CRANLEIGH"]}}"#,
            r#"{"properties":{"STREET":["MISSION"],"ODD_EVEN":["E"]}}"#,
            r#"{"properties":{"BLOCK_NUM":["0042"]}}"#,
            r#"{"type":["Feature"],"properties":{"ST_TYPE":["AVE"]}}"#,
        ],
    ),
    (
        "prefix",
        &[
            r#"{"properties":{"STREET":[{"prefix":"CRA"}]}}"#,
            r#"{"properties":{"STREET":[{"prefix":"MIS"}]}}"#,
            r#"{"properties":{"MAPBLKLOT":[{"prefix":"01"}]}}"#,
            r#"{"properties":{"ST_TYPE":[{"prefix":"B"}]}}"#,
        ],
    ),
    (
        "numeric",
        &[
            r#"{"geometry":{"coordinates":[{"numeric":["<",-122.5]}]}}"#,
            r#"{"geometry":{"coordinates":[{"numeric":[">",37.8,"<",37.81]}]}}"#,
            r#"{"geometry":{"coordinates":[{"numeric":["=",0]}]}}"#,
            r#"{"geometry":{"coordinates":[{"numeric":[">=",-122.4,"<=",-122.39]}]}}"#,
        ],
    ),
    (
        "anything-but",
        &[
            r#"{"properties":{"ST_TYPE":[{"anything-but":["ST","AVE"]}]}}"#,
            r#"{"properties":{"STREET":[{"anything-but":["UNKNOWN"]}]}}"#,
            r#"{"properties":{"ODD_EVEN":[{"anything-but":"E"}]}}"#,
            r#"{"properties":{"STREET":[{"anything-but":["CRANLEIGH","MISSION","MARKET"]}]}}"#,
        ],
    ),
    (
        "exists",
        &[
            r#"{"properties":{"ST_TYPE":[{"exists":false}]}}"#,
            r#"{"properties":{"ST_TYPE":[{"exists":true}]}}"#,
            r#"{"properties":{"STREET":[{"exists":true}],"BLKLOT":[{"exists":true}]}}"#,
            r#"{"properties":{"MISSING":[{"exists":false}],"ODD_EVEN":["O"]}}"#,
        ],
    ),
    (
        "wildcard",
        &[
            r#"{"properties":{"STREET":[{"wildcard":"*ON*"}]}}"#,
            r#"{"properties":{"STREET":[{"wildcard":"C*H"}]}}"#,
            r#"{"properties":{"MAPBLKLOT":[{"wildcard":"00*1"}]}}"#,
            r#"{"properties":{"STREET":[{"wildcard":"*O*E*"}]}}"#,
        ],
    ),
];

const EVENTS: usize = 1000;

fn citylots(c: &mut Criterion) {
    let mut rng = Rng(0x5EED_C17E_1075);
    let events: Vec<String> = (0..EVENTS).map(|_| citylot(&mut rng)).collect();
    let avg = events.iter().map(String::len).sum::<usize>() / EVENTS;
    eprintln!("citylots: {EVENTS} events, {avg} bytes on average");
    let mut group = c.benchmark_group("citylots");
    group.throughput(Throughput::Elements(EVENTS as u64));
    for (rule, patterns) in RULES {
        let mut router = Router::new();
        let mut q = quamina::Quamina::new();
        for (i, p) in patterns.iter().enumerate() {
            router.add(compile_pattern_json(p, Syntax::EventBridge).expect("our syntax"));
            q.add_pattern(i, p).expect("quamina syntax");
        }
        let projection = router.projection();
        // Both engines (and both of our paths) must agree on every event before we time them.
        let mut ours_total = 0;
        let mut out = Vec::new();
        let mut reused = Value::Null;
        for e in &events {
            out.clear();
            projection.parse_into(e, &mut reused).unwrap();
            router.matches_into(&reused, &mut out);
            let projected = out.clone();
            out.clear();
            router.matches_into(&json::parse(e).unwrap(), &mut out);
            assert_eq!(
                projected, out,
                "{rule}: projection changes the result on {e}"
            );
            let mut theirs = q.matches_for_event(e.as_bytes()).unwrap();
            theirs.sort_unstable();
            let ours: Vec<usize> = out.iter().map(|PatternId(i)| *i as usize).collect();
            assert_eq!(ours, theirs, "{rule}: engines disagree on {e}");
            ours_total += ours.len();
        }
        eprintln!("citylots/{rule}: {ours_total} matches over {EVENTS} events");
        group.bench_function(BenchmarkId::new(*rule, "mega-projected"), |b| {
            let mut out = Vec::with_capacity(8);
            let mut v = Value::Null;
            b.iter(|| {
                let mut n = 0;
                for e in &events {
                    out.clear();
                    projection.parse_into(black_box(e), &mut v).unwrap();
                    router.matches_into(&v, &mut out);
                    n += out.len();
                }
                n
            })
        });
        if std::env::var_os("MATCHER_BENCH_PARTS").is_some() {
            // The projection alone (the rest of `mega-projected` is matching the projected value).
            group.bench_function(BenchmarkId::new(*rule, "projection-only"), |b| {
                let mut v = Value::Null;
                b.iter(|| {
                    for e in &events {
                        projection.parse_into(black_box(e), &mut v).unwrap();
                    }
                })
            });
        }
        group.bench_function(BenchmarkId::new(*rule, "mega-full-parse"), |b| {
            let mut out = Vec::with_capacity(8);
            b.iter(|| {
                let mut n = 0;
                for e in &events {
                    out.clear();
                    let v = json::parse(black_box(e)).unwrap();
                    router.matches_into(&v, &mut out);
                    n += out.len();
                }
                n
            })
        });
        group.bench_function(BenchmarkId::new(*rule, "quamina"), |b| {
            b.iter(|| {
                let mut n = 0;
                for e in &events {
                    n += q.matches_for_event(black_box(e.as_bytes())).unwrap().len();
                }
                n
            })
        });
    }
    group.finish();
}

fn router_scaling(c: &mut Criterion) {
    let mut group = c.benchmark_group("router");
    for n in [10usize, 100, 1000] {
        let mut router = Router::new();
        for i in 0..n {
            let sub = Rules::event([
                ("domain", Expr::from(format!("domain.{}", i % 10))),
                ("name", Expr::from(format!("event.{i}"))),
                ("version", one_of([1, 2])),
                (
                    "attributes",
                    map([("quantity", gt((i % 7) as i64)), ("item_id", not_(empty()))]),
                ),
            ]);
            router.add(sub.compile().unwrap());
        }
        // A data subscriber and a catch-all event subscriber are always checked.
        router.add(Rules::data(map([("type", "x")])).compile().unwrap());
        router.add(
            Rules::Event(
                vec![("publisher", matches("shop-"))]
                    .into_iter()
                    .map(|(k, e)| (k.to_owned(), e))
                    .collect(),
            )
            .compile()
            .unwrap(),
        );
        let events: Vec<Value> = (0..16)
            .map(|j| {
                let i = (j * 37) % n;
                value!({
                    "protocol": "mega", "version": 1,
                    "event": {"domain": (format!("domain.{}", i % 10)), "name": (format!("event.{i}")), "version": 2,
                              "timestamp": "2020-05-04T15:53:23.123", "subject": "987650", "publisher": "shop-cart",
                              "attributes": {"item_id": "61fcc874", "quantity": 10}},
                    "object": {"type": "cart", "id": "1", "version": 1, "current": {"total": 10}}
                })
            })
            .collect();
        let mut out = Vec::with_capacity(8);
        for e in &events {
            out.clear();
            router.matches_into(e, &mut out);
            assert!(
                out.len() >= 2,
                "each event matches its own subscriber and the catch-all"
            );
        }
        group.throughput(Throughput::Elements(events.len() as u64));
        group.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter(|| {
                let mut total = 0;
                for e in &events {
                    out.clear();
                    router.matches_into(black_box(e), &mut out);
                    total += out.len();
                }
                total
            })
        });
    }
    group.finish();
}

fn single(c: &mut Criterion) {
    let p = compile_pattern_json(
        r#"{"$event": {"domain": "user", "name": {"$match": "user:login:(.*)"}, "version": {"$any": true},
            "subject": {"$match": "^\\d+$"}, "attributes": {"success": true, "attempts": {"$gt": 2}},
            "object_type": "user", "object_version": {"$one_of": [1, 2, 3]},
            "object_current": {"email": {"$not": {"$empty": true}}, "username": {"$not": ["test", "synthetic"]},
                               "created_at": {"$gte": {"$date": "2020-01-01"}}}}}"#,
        Syntax::Mega,
    )
    .unwrap();
    let event = json::parse(
        r#"{"protocol": "mega", "version": "1",
            "event": {"domain": "user", "name": "user:login:web", "version": 1, "timestamp": "2020-06-12T17:29:58.000",
                      "subject": "987650", "publisher": "login-api",
                      "attributes": {"email": "johndoe_86@example.com", "success": true, "attempts": 4}},
            "object": {"type": "user", "id": "987650", "version": 2,
                       "current": {"id": 987650, "username": "john-doe", "email": "johndoe_86@example.com",
                                   "created_at": "2020-03-28T15:23:01", "updated_at": "2020-05-18T16:12:59"}}}"#,
    )
    .unwrap();
    assert!(p.matches(&event));
    c.bench_function("single/seed_user_login", |b| {
        b.iter(|| p.matches(black_box(&event)))
    });
}

criterion_group!(benches, citylots, router_scaling, single);
criterion_main!(benches);
