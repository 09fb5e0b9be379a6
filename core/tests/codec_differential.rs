//! Differential tests of the hand-written codecs: our JSON (`sqs_mega::json`) against `serde_json`, our
//! BSON (`sqs_mega::bson`, with `sqs_mega::decimal` for Decimal128) against the `bson` crate.
//!
//! Inputs: the shared conformance vectors (`tests/vectors/*.json`: every JSON text and every Base64 BSON
//! document in them, and every expected payload) and a generated corpus of nested values from a fixed-seed
//! xorshift generator. Checks, for each value:
//! - round trips: our encoder, then our decoder, gives the same value (same kinds, same float bits, same
//!   decimal digits, same key order);
//! - JSON: serde_json reads our text as the same value; we read serde_json's re-serialisation of it as the
//!   same value; and our text is byte-for-byte serde_json's (keys sorted, as serde_json sorts them), apart
//!   from the escapes listed in `differences_json_escapes`;
//! - BSON: our bytes equal the bytes the `bson` crate writes for the same document; the `bson` crate reads
//!   our bytes field by field as the value (element types, float bits, Decimal128 text, milliseconds); we
//!   read the `bson` crate's bytes as the value.
//!
//! Every deliberate difference is an asserted test named `difference_*` (listed in docs/payloads.md,
//! "Differences from serde_json and the bson crate"); the ones where both agree are `agreement_*`.
//! On failure the seed of the case and the value (in tagged JSON) are printed.

use std::io::Cursor;

use base64::Engine as _;
use bson::{Bson, Document};
use chrono::{DateTime, Utc};
use sqs_mega::bson as mbson;
use sqs_mega::decimal::Decimal;
use sqs_mega::json;
use sqs_mega::{Map, Value};

/// The seed of the generated corpus. Each case derives its own seed from it, printed on failure.
const SEED: u64 = 0x5EED_0006_C0DE_C5A1;
/// Generated values per codec.
const CASES: u64 = 3000;
/// Maximum nesting of generated lists and maps.
const MAX_DEPTH: u32 = 4;

// ---------------------------------------------------------------------------------------------------------
// A deterministic generator (xorshift64*).

struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

fn case_seed(i: u64) -> u64 {
    SEED ^ i.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Values as our JSON parser produces them: no date-times, bytes or non-finite numbers; decimals only
    /// for integers beyond 64 bits and numbers beyond the float range.
    Json,
    /// Values BSON carries: every kind; decimals that fit Decimal128; date-times at millisecond precision.
    Bson,
}

const INTS: &[i64] = &[
    0,
    1,
    -1,
    i32::MAX as i64,
    i32::MAX as i64 + 1,
    i32::MIN as i64,
    i32::MIN as i64 - 1,
    i64::MAX,
    i64::MIN,
    i64::MAX - 1,
    i64::MIN + 1,
    (1 << 53) + 1,
    -(1 << 53) - 1,
    999_999_999_999_999_999,
    1_000_000_000_000_000_000,
];

const FLOATS: &[f64] = &[
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.1,
    0.30000000000000004,
    1.5,
    3.0,
    1e-7,
    1e15,
    1e16,
    1e21,
    1e22,
    1e300,
    -1e-300,
    123_456_789_012_345_680.0,
    9_007_199_254_740_992.0,
    9_223_372_036_854_775_808.0,
    f64::MAX,
    f64::MIN,
    f64::MIN_POSITIVE,
    f64::EPSILON,
    5e-324,
    -5e-324,
    f64::from_bits(0x000F_FFFF_FFFF_FFFF), // the largest subnormal
    1.7976931348623157e308,
    2.2250738585072014e-308,
];

/// Characters that stress string handling: escapes, controls, non-characters, astral planes.
const CHARS: &[char] = &[
    '"',
    '\\',
    '/',
    '\u{0}',
    '\u{1}',
    '\u{8}',
    '\u{c}',
    '\n',
    '\r',
    '\t',
    '\u{1f}',
    '\u{7f}',
    '\u{80}',
    'é',
    'ß',
    '中',
    '☕',
    '\u{2028}',
    '\u{2029}',
    '\u{FEFF}',
    '\u{FFFD}',
    '\u{FFFE}',
    '\u{FFFF}',
    '\u{D7FF}',
    '\u{E000}',
    '😀',
    '\u{1D11E}',
    '\u{10FFFF}',
    '$',
    '.',
];

fn gen_char(rng: &mut Rng) -> char {
    match rng.below(10) {
        0..=4 => (b'a' + rng.below(26) as u8) as char,
        5..=7 => *rng.pick(CHARS),
        8 => (0x20 + rng.below(0x5f) as u8) as char,
        _ => loop {
            if let Some(c) = char::from_u32(rng.below(0x11_0000) as u32) {
                break c;
            }
        },
    }
}

fn gen_string(rng: &mut Rng, nul_allowed: bool) -> String {
    let longest = if rng.chance(10) { 40 } else { 8 };
    let len = rng.below(longest);
    (0..len)
        .map(|_| gen_char(rng))
        .filter(|&c| nul_allowed || c != '\0')
        .collect()
}

fn gen_int(rng: &mut Rng) -> i64 {
    if rng.chance(40) {
        return *rng.pick(INTS);
    }
    let shift = rng.below(64);
    let magnitude = (rng.next() >> shift) as i64;
    if rng.chance(50) {
        magnitude.wrapping_neg()
    } else {
        magnitude
    }
}

fn gen_float(rng: &mut Rng, mode: Mode) -> f64 {
    loop {
        let f = match rng.below(4) {
            0 => *rng.pick(FLOATS),
            1 => f64::from_bits(rng.next()),
            2 => gen_int(rng) as f64 / 10f64.powi(rng.below(20) as i32),
            _ => match mode {
                Mode::Bson => *rng.pick(&[
                    f64::NAN,
                    -f64::NAN,
                    f64::INFINITY,
                    f64::NEG_INFINITY,
                    f64::from_bits(0x7ff0_0000_0000_0001), // a signalling NaN with a payload
                ]),
                Mode::Json => (rng.below(1000) as f64) * 0.25,
            },
        };
        if mode == Mode::Bson || f.is_finite() {
            return f;
        }
    }
}

fn digits(rng: &mut Rng, n: u64, leading_nonzero: bool) -> String {
    (0..n)
        .map(|i| {
            let d = if i == 0 && leading_nonzero {
                1 + rng.below(9)
            } else {
                rng.below(10)
            };
            (b'0' + d as u8) as char
        })
        .collect()
}

fn gen_decimal(rng: &mut Rng, mode: Mode) -> Decimal {
    let sign = if rng.chance(40) { "-" } else { "" };
    let text = match mode {
        // Only what our JSON parser makes a decimal: integers beyond 64 bits, numbers beyond f64.
        Mode::Json => match rng.below(4) {
            0 => rng
                .pick(&[
                    "9223372036854775808",
                    "-9223372036854775809",
                    "18446744073709551615",
                    "18446744073709551616",
                    "-18446744073709551616",
                    "1E+400",
                    "-1.7976931348623159E+308",
                    "123456789012345678901234567890",
                ])
                .to_string(),
            1 => {
                let n = 20 + rng.below(30);
                format!("{sign}{}", digits(rng, n, true))
            }
            2 => {
                // An integer of 19 digits above i64::MAX.
                let v = 9_223_372_036_854_775_808u64 + rng.below(9_000_000_000_000_000_000);
                format!("{sign}{v}")
            }
            _ => {
                let n = 1 + rng.below(20);
                let mantissa = digits(rng, n, true);
                let adjusted = 309 + rng.below(5000) as i64;
                format!("{sign}{mantissa}E{}", adjusted - (n as i64 - 1))
            }
        },
        // Anything Decimal128 holds without clamping.
        Mode::Bson => match rng.below(5) {
            0 => rng
                .pick(&[
                    "NaN",
                    "Infinity",
                    "-Infinity",
                    "0",
                    "-0",
                    "0E-6176",
                    "-0E+6111",
                    "0.000",
                    "1.50",
                    "19.99",
                    "1E-6176",
                    "9999999999999999999999999999999999E+6111",
                    "-9999999999999999999999999999999999",
                    "0.0000001",
                    "1E+3",
                ])
                .to_string(),
            wide => {
                let n = 1 + rng.below(34);
                let coefficient = digits(rng, n, false);
                let exponent = if wide == 1 {
                    -6176 + rng.below(6111 + 6176 + 1) as i64
                } else {
                    rng.below(20) as i64 - 15
                };
                format!("{sign}{coefficient}E{exponent}")
            }
        },
    };
    text.parse()
        .unwrap_or_else(|e| panic!("generated decimal {text}: {e}"))
}

fn gen_datetime(rng: &mut Rng) -> DateTime<Utc> {
    let min = DateTime::<Utc>::MIN_UTC.timestamp_millis();
    let max = DateTime::<Utc>::MAX_UTC.timestamp_millis();
    let ms = match rng.below(4) {
        0 => *rng.pick(&[0, -1, 1, min, max, 1_588_607_607_823, -62_135_596_800_000]),
        1 => 1_600_000_000_000 + gen_int(rng) % 1_000_000_000_000,
        _ => min + (rng.next() % (max - min + 1) as u64) as i64,
    };
    DateTime::from_timestamp_millis(ms).expect("in chrono's range")
}

fn gen_value(rng: &mut Rng, mode: Mode, depth: u32) -> Value {
    let kinds = if depth == 0 { 8 } else { 11 };
    match rng.below(kinds) {
        0 => Value::Null,
        1 => Value::Bool(rng.chance(50)),
        2 => Value::Int(gen_int(rng)),
        3 => Value::Float(gen_float(rng, mode)),
        4 => Value::Decimal(gen_decimal(rng, mode)),
        5 => Value::String(gen_string(rng, true)),
        6 if mode == Mode::Bson => Value::DateTime(gen_datetime(rng)),
        7 if mode == Mode::Bson => {
            Value::Bytes((0..rng.below(24)).map(|_| rng.next() as u8).collect())
        }
        6 | 7 => Value::String(gen_string(rng, true)),
        8 => Value::List(
            (0..rng.below(6))
                .map(|_| gen_value(rng, mode, depth - 1))
                .collect(),
        ),
        _ => Value::Map(gen_map(rng, mode, depth - 1)),
    }
}

fn gen_map(rng: &mut Rng, mode: Mode, depth: u32) -> Map {
    let mut map = Map::default();
    for _ in 0..rng.below(7) {
        // BSON keys are C strings: no NUL (see `agreement_bson_nul_in_keys`).
        let key = gen_string(rng, mode == Mode::Json);
        map.insert(key, gen_value(rng, mode, depth));
    }
    map
}

// ---------------------------------------------------------------------------------------------------------
// Comparisons.

/// Equality of kinds and contents: an integer is not a float, -0.0 is not 0.0, NaN bits must match,
/// decimals must have the same digits and exponent (`1.50` is not `1.5`). `ordered`: map keys in the same
/// order.
fn strict(a: &Value, b: &Value, ordered: bool, path: &str) -> Result<(), String> {
    let fail = || {
        Err(format!(
            "{path}: {} vs {}",
            json::to_tagged_string(a),
            json::to_tagged_string(b)
        ))
    };
    match (a, b) {
        (Value::Null, Value::Null) => Ok(()),
        (Value::Bool(x), Value::Bool(y)) if x == y => Ok(()),
        (Value::Int(x), Value::Int(y)) if x == y => Ok(()),
        (Value::Float(x), Value::Float(y)) if x.to_bits() == y.to_bits() => Ok(()),
        (Value::Decimal(x), Value::Decimal(y)) if x.as_str() == y.as_str() => Ok(()),
        (Value::String(x), Value::String(y)) if x == y => Ok(()),
        (Value::DateTime(x), Value::DateTime(y)) if x == y => Ok(()),
        (Value::Bytes(x), Value::Bytes(y)) if x == y => Ok(()),
        (Value::List(x), Value::List(y)) => {
            if x.len() != y.len() {
                return Err(format!("{path}: {} vs {} elements", x.len(), y.len()));
            }
            x.iter()
                .zip(y)
                .enumerate()
                .try_for_each(|(i, (p, q))| strict(p, q, ordered, &format!("{path}[{i}]")))
        }
        (Value::Map(x), Value::Map(y)) => {
            let xk: Vec<&String> = x.keys().collect();
            let yk: Vec<&String> = y.keys().collect();
            let same_keys = if ordered {
                xk == yk
            } else {
                let (mut xs, mut ys) = (xk.clone(), yk);
                xs.sort();
                ys.sort();
                xs == ys
            };
            if !same_keys {
                return Err(format!("{path}: keys {:?} vs {:?}", xk, y.keys()));
            }
            xk.iter()
                .try_for_each(|k| strict(&x[*k], &y[*k], ordered, &format!("{path}.{k:?}")))
        }
        _ => fail(),
    }
}

/// Does serde_json hold this decimal exactly? (It does for integers up to u64::MAX; any other number is
/// an f64 in serde_json without its `arbitrary_precision` feature.)
fn serde_exact(d: &Decimal) -> bool {
    d.as_str().parse::<u64>().is_ok()
}

/// Is this decimal beyond the f64 range (serde_json refuses such numbers)?
fn beyond_f64(d: &Decimal) -> bool {
    d.is_finite() && d.to_f64().is_infinite()
}

fn any(v: &Value, pred: &dyn Fn(&Value) -> bool) -> bool {
    pred(v)
        || match v {
            Value::List(l) => l.iter().any(|x| any(x, pred)),
            Value::Map(m) => m.values().any(|x| any(x, pred)),
            _ => false,
        }
}

/// `ours` is the correctly rounded reading of a number (std's parser; our round trips are bit-exact), and
/// `theirs` serde_json's. Documented difference (`difference_json_float_reading`): serde_json without its
/// `float_roundtrip` feature reads some numbers a unit or two in the last place off (its fast path
/// multiplies by a rounded power of ten); we allow at most 4.
fn same_or_serde_ulp(ours: f64, theirs: f64) -> bool {
    ours.to_bits() == theirs.to_bits()
        || (ours.is_finite()
            && ours.signum() == theirs.signum()
            && ours.to_bits().abs_diff(theirs.to_bits()) <= 4)
}

/// serde_json's value for ours, built directly (not by parsing): integers, f64s, and decimals as u64 when
/// exact, else as the nearest f64. `None` for what serde_json cannot hold (non-finite numbers, bytes,
/// date-times).
fn to_serde(v: &Value) -> Option<serde_json::Value> {
    use serde_json::Value as S;
    Some(match v {
        Value::Null => S::Null,
        Value::Bool(b) => S::Bool(*b),
        Value::Int(i) => S::from(*i),
        Value::Float(f) => S::Number(serde_json::Number::from_f64(*f)?),
        Value::Decimal(d) => match d.as_str().parse::<u64>() {
            Ok(u) => S::from(u),
            Err(_) => S::Number(serde_json::Number::from_f64(d.to_f64())?),
        },
        Value::String(s) => S::String(s.clone()),
        Value::DateTime(_) | Value::Bytes(_) => return None,
        Value::List(l) => S::Array(l.iter().map(to_serde).collect::<Option<_>>()?),
        Value::Map(m) => S::Object(
            m.iter()
                .map(|(k, v)| Some((k.clone(), to_serde(v)?)))
                .collect::<Option<_>>()?,
        ),
    })
}

/// Our value against serde_json's reading of the same text, field by field.
fn serde_matches(ours: &Value, theirs: &serde_json::Value, path: &str) -> Result<(), String> {
    use serde_json::Value as S;
    let fail = |why: &str| {
        Err(format!(
            "{path}: ours {} vs serde_json {theirs} ({why})",
            json::to_tagged_string(ours)
        ))
    };
    match (ours, theirs) {
        (Value::Null, S::Null) => Ok(()),
        (Value::Bool(a), S::Bool(b)) if a == b => Ok(()),
        (Value::String(a), S::String(b)) if a == b => Ok(()),
        // Integers: the same integer, and an integer for serde_json too (not an f64).
        (Value::Int(a), S::Number(n)) if !n.is_f64() && n.as_i64() == Some(*a) => Ok(()),
        (Value::Float(a), S::Number(n)) if n.is_f64() => match n.as_f64() {
            Some(b) if same_or_serde_ulp(*a, b) => Ok(()),
            _ => fail("float bits differ"),
        },
        // Documented difference: our decimals are exact; serde_json keeps u64 exactly and rounds anything
        // else to the nearest f64.
        (Value::Decimal(d), S::Number(n)) if serde_exact(d) => {
            if n.is_u64() && n.to_string() == d.as_str() {
                Ok(())
            } else {
                fail("u64 expected")
            }
        }
        (Value::Decimal(d), S::Number(n)) => match n.as_f64() {
            Some(b) if n.is_f64() && same_or_serde_ulp(d.to_f64(), b) => Ok(()),
            _ => fail("serde_json should hold the nearest f64"),
        },
        (Value::List(a), S::Array(b)) => {
            if a.len() != b.len() {
                return fail("lengths differ");
            }
            a.iter()
                .zip(b)
                .enumerate()
                .try_for_each(|(i, (x, y))| serde_matches(x, y, &format!("{path}[{i}]")))
        }
        (Value::Map(a), S::Object(b)) => {
            let mut ak: Vec<&String> = a.keys().collect();
            ak.sort();
            let bk: Vec<&String> = b.keys().collect(); // sorted: serde_json's map is a BTreeMap
            if ak != bk {
                return fail("keys differ");
            }
            a.iter()
                .try_for_each(|(k, v)| serde_matches(v, &b[k], &format!("{path}.{k:?}")))
        }
        _ => fail("kinds differ"),
    }
}

/// A copy with every map's keys sorted (serde_json's order).
fn sorted(v: &Value) -> Value {
    match v {
        Value::List(l) => Value::List(l.iter().map(sorted).collect()),
        Value::Map(m) => {
            let mut m: Map = m.iter().map(|(k, v)| (k.clone(), sorted(v))).collect();
            m.sort_keys();
            Value::Map(m)
        }
        other => other.clone(),
    }
}

/// Rewrites serde_json's compact output into our style (see `difference_json_output_style`): in strings,
/// `\b` and `\f` become `\u0008` and `\u000c`, raw U+FFFE and U+FFFF become `\ufffe` and `\uffff`; in
/// numbers, an exponent's `+` is dropped (`1e+300` is our `1e300`).
fn in_our_style(serde_text: &str) -> String {
    let mut out = String::with_capacity(serde_text.len());
    let mut chars = serde_text.chars();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                in_string = !in_string;
                out.push(c);
            }
            '\\' if in_string => match chars.next() {
                Some('b') => out.push_str("\\u0008"),
                Some('f') => out.push_str("\\u000c"),
                Some(e) => {
                    out.push('\\');
                    out.push(e);
                }
                None => out.push('\\'),
            },
            '\u{FFFE}' if in_string => out.push_str("\\ufffe"),
            '\u{FFFF}' if in_string => out.push_str("\\uffff"),
            '+' if !in_string && out.ends_with('e') => {}
            c => out.push(c),
        }
    }
    out
}

/// The `bson` crate's document for a value, built independently of our encoder with the mapping our
/// encoder documents: int32 when it fits else int64, double, decimal128 (from the text, by the `bson`
/// crate's own parser), UTC datetime in milliseconds, binary subtype 0.
fn to_bson(v: &Value) -> Bson {
    match v {
        Value::Null => Bson::Null,
        Value::Bool(b) => Bson::Boolean(*b),
        Value::Int(i) => match i32::try_from(*i) {
            Ok(small) => Bson::Int32(small),
            Err(_) => Bson::Int64(*i),
        },
        Value::Float(f) => Bson::Double(*f),
        Value::Decimal(d) => Bson::Decimal128(
            d.as_str()
                .parse()
                .unwrap_or_else(|e| panic!("the bson crate refuses decimal {d}: {e}")),
        ),
        Value::String(s) => Bson::String(s.clone()),
        Value::DateTime(dt) => Bson::DateTime(bson::DateTime::from_millis(dt.timestamp_millis())),
        Value::Bytes(b) => Bson::Binary(bson::Binary {
            subtype: bson::spec::BinarySubtype::Generic,
            bytes: b.clone(),
        }),
        Value::List(l) => Bson::Array(l.iter().map(to_bson).collect()),
        Value::Map(m) => Bson::Document(to_document(m)),
    }
}

fn to_document(m: &Map) -> Document {
    let mut doc = Document::new();
    for (k, v) in m {
        doc.insert(k.clone(), to_bson(v));
    }
    doc
}

fn bson_write(doc: &Document) -> Vec<u8> {
    let mut out = Vec::new();
    doc.to_writer(&mut out).expect("the bson crate writes it");
    out
}

/// The `bson` crate's reading of exactly these bytes (it would ignore bytes after the document).
fn bson_read(bytes: &[u8]) -> Result<Document, String> {
    let mut cursor = Cursor::new(bytes);
    let doc = Document::from_reader(&mut cursor).map_err(|e| e.to_string())?;
    if cursor.position() as usize != bytes.len() {
        return Err(format!(
            "{} bytes after the document",
            bytes.len() - cursor.position() as usize
        ));
    }
    Ok(doc)
}

/// Our value against the `bson` crate's reading of our bytes, field by field: element types (int32 /
/// int64), float bits, Decimal128 text as the `bson` crate renders it, milliseconds, binary subtype 0.
fn bson_matches(ours: &Value, theirs: &Bson, path: &str) -> Result<(), String> {
    let fail = |why: &str| {
        Err(format!(
            "{path}: ours {} vs bson crate {theirs:?} ({why})",
            json::to_tagged_string(ours)
        ))
    };
    match (ours, theirs) {
        (Value::Null, Bson::Null) => Ok(()),
        (Value::Bool(a), Bson::Boolean(b)) if a == b => Ok(()),
        (Value::Int(a), Bson::Int32(b)) if *a == i64::from(*b) => Ok(()),
        (Value::Int(a), Bson::Int64(b)) if a == b && i32::try_from(*a).is_err() => Ok(()),
        (Value::Float(a), Bson::Double(b)) if a.to_bits() == b.to_bits() => Ok(()),
        (Value::Decimal(a), Bson::Decimal128(b)) => {
            if a.as_str() == b.to_string() {
                Ok(())
            } else {
                fail("Decimal128 text differs")
            }
        }
        (Value::String(a), Bson::String(b)) if a == b => Ok(()),
        (Value::DateTime(a), Bson::DateTime(b)) if a.timestamp_millis() == b.timestamp_millis() => {
            Ok(())
        }
        (Value::Bytes(a), Bson::Binary(b))
            if *a == b.bytes && b.subtype == bson::spec::BinarySubtype::Generic =>
        {
            Ok(())
        }
        (Value::List(a), Bson::Array(b)) => {
            if a.len() != b.len() {
                return fail("lengths differ");
            }
            a.iter()
                .zip(b)
                .enumerate()
                .try_for_each(|(i, (x, y))| bson_matches(x, y, &format!("{path}[{i}]")))
        }
        (Value::Map(a), Bson::Document(b)) => {
            let ak: Vec<&String> = a.keys().collect();
            let bk: Vec<&String> = b.keys().collect();
            if ak != bk {
                return fail("keys or their order differ");
            }
            a.iter()
                .try_for_each(|(k, v)| bson_matches(v, &b[k.as_str()], &format!("{path}.{k:?}")))
        }
        _ => fail("kinds differ"),
    }
}

// ---------------------------------------------------------------------------------------------------------
// The checks.

/// JSON: round trip, serde_json reads ours, we read serde_json's, byte-for-byte equality.
fn check_json(v: &Value) -> Result<(), String> {
    let text = json::to_string(v).map_err(|e| format!("our encoder: {e}"))?;
    let back = json::parse(&text).map_err(|e| format!("our parser on our text {text}: {e}"))?;
    strict(&back, v, true, "$").map_err(|e| format!("round trip: {e}"))?;
    let pretty = json::to_string_pretty(v, json::Style::Plain).expect("plain JSON");
    let back = json::parse(&pretty).map_err(|e| format!("our parser on pretty text: {e}"))?;
    strict(&back, v, true, "$").map_err(|e| format!("pretty round trip: {e}"))?;

    let beyond = any(v, &|x| matches!(x, Value::Decimal(d) if beyond_f64(d)));
    let sv = match serde_json::from_str::<serde_json::Value>(&text) {
        // Documented difference (`difference_json_numbers_beyond_f64`): serde_json refuses them.
        Err(e) if beyond => {
            return if e.to_string().contains("number out of range") {
                Ok(())
            } else {
                Err(format!("serde_json: unexpected error {e} on {text}"))
            };
        }
        Err(e) => return Err(format!("serde_json refuses our text {text}: {e}")),
        Ok(_) if beyond => return Err("serde_json accepted a number beyond f64".into()),
        Ok(sv) => sv,
    };
    serde_matches(v, &sv, "$").map_err(|e| format!("serde_json reads our text: {e}"))?;
    let serde_pretty: serde_json::Value = serde_json::from_str(&pretty)
        .map_err(|e| format!("serde_json refuses our pretty text: {e}"))?;
    if serde_pretty != sv {
        return Err("serde_json reads our pretty text differently".into());
    }

    // serde_json's output for the same value, read by us and compared byte for byte.
    let direct = to_serde(v).expect("plain JSON values fit serde_json");
    let serde_text = serde_json::to_string(&direct).expect("serde_json writes");
    let ours_from_serde = json::parse(&serde_text)
        .map_err(|e| format!("our parser refuses serde_json's {serde_text}: {e}"))?;
    serde_matches(&ours_from_serde, &direct, "$")
        .map_err(|e| format!("we read serde_json's text: {e}"))?;
    // Decimals serde_json holds as f64 come back as floats: the rest must come back exactly.
    if !any(v, &|x| matches!(x, Value::Decimal(d) if !serde_exact(d))) {
        strict(&ours_from_serde, v, false, "$")
            .map_err(|e| format!("we read serde_json's text: {e}"))?;
        let ours_sorted = json::to_string(&sorted(v)).expect("plain JSON");
        let expected = in_our_style(&serde_text);
        if ours_sorted != expected {
            return Err(format!(
                "bytes differ:\n ours:       {ours_sorted}\n serde_json: {expected}"
            ));
        }
    }
    Ok(())
}

/// BSON: round trip, byte-for-byte equality with the `bson` crate, each reads the other's bytes.
fn check_bson(v: &Value) -> Result<(), String> {
    let map = v.as_map().expect("a map");
    let ours = mbson::encode(v).map_err(|e| format!("our encoder: {e}"))?;
    let back = mbson::decode(&ours).map_err(|e| format!("our decoder on our bytes: {e}"))?;
    strict(&Value::Map(back), v, true, "$").map_err(|e| format!("round trip: {e}"))?;

    let reference = to_document(map);
    let theirs = bson_write(&reference);
    if ours != theirs {
        let at = ours
            .iter()
            .zip(&theirs)
            .position(|(a, b)| a != b)
            .unwrap_or(ours.len().min(theirs.len()));
        return Err(format!(
            "bytes differ at {at} (lengths {} and {}):\n ours:   {:02x?}\n theirs: {:02x?}",
            ours.len(),
            theirs.len(),
            &ours[at.saturating_sub(8)..(at + 24).min(ours.len())],
            &theirs[at.saturating_sub(8)..(at + 24).min(theirs.len())]
        ));
    }
    let parsed = bson_read(&ours).map_err(|e| format!("the bson crate refuses our bytes: {e}"))?;
    bson_matches(v, &Bson::Document(parsed), "$")
        .map_err(|e| format!("the bson crate reads our bytes: {e}"))?;
    let ours_from_theirs =
        mbson::decode(&theirs).map_err(|e| format!("we refuse the bson crate's bytes: {e}"))?;
    strict(&Value::Map(ours_from_theirs), v, true, "$")
        .map_err(|e| format!("we read the bson crate's bytes: {e}"))
}

fn run_generated(mode: Mode, check: fn(&Value) -> Result<(), String>) {
    let mut failures = Vec::new();
    for i in 0..CASES {
        let seed = case_seed(i) ^ mode as u64;
        let mut rng = Rng::new(seed);
        let value = match mode {
            Mode::Json if rng.chance(60) => Value::Map(gen_map(&mut rng, mode, MAX_DEPTH)),
            Mode::Json => gen_value(&mut rng, mode, MAX_DEPTH),
            Mode::Bson => Value::Map(gen_map(&mut rng, mode, MAX_DEPTH)),
        };
        if let Err(e) = check(&value) {
            failures.push(format!(
                "case {i} (seed {seed:#018x}): {e}\n value: {}",
                json::to_tagged_string(&value)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "SEED {SEED:#018x}: {} of {CASES} generated values failed; the first ones:\n{}",
        failures.len(),
        failures[..failures.len().min(5)].join("\n\n")
    );
}

#[test]
fn generated_json_agrees_with_serde_json() {
    run_generated(Mode::Json, check_json);
}

#[test]
fn generated_bson_agrees_with_the_bson_crate() {
    run_generated(Mode::Bson, check_bson);
}

// ---------------------------------------------------------------------------------------------------------
// The conformance vectors.

fn vector_files() -> Vec<(String, String)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("tests/vectors")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 2, "payloads.json and patterns.json");
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("read a vector file");
            (p.display().to_string(), text)
        })
        .collect()
}

fn strings_in(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::List(l) => l.iter().for_each(|x| strings_in(x, out)),
        Value::Map(m) => m.iter().for_each(|(k, x)| {
            out.push(k.clone());
            strings_in(x, out)
        }),
        _ => {}
    }
}

/// Our reading and serde_json's reading of a JSON text agree (both accept and match, or both refuse, or
/// a documented difference applies).
fn compare_json_text(text: &str) -> Result<(), String> {
    let ours = json::parse(text);
    let theirs = serde_json::from_str::<serde_json::Value>(text);
    match (ours, theirs) {
        (Ok(v), Ok(sv)) => serde_matches(&v, &sv, "$"),
        (Err(_), Err(_)) => Ok(()),
        (Ok(v), Err(e))
            if any(&v, &|x| matches!(x, Value::Decimal(d) if beyond_f64(d)))
                && e.to_string().contains("number out of range") =>
        {
            Ok(())
        }
        (Ok(_), Err(e)) => Err(format!("only serde_json refuses it: {e}")),
        (Err(e), Ok(_)) => Err(format!("only we refuse it: {e}")),
    }
}

#[test]
fn vectors_json_texts_agree_with_serde_json() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for (name, text) in vector_files() {
        // The vector files themselves.
        if let Err(e) = compare_json_text(&text) {
            failures.push(format!("{name}: {e}"));
        }
        let doc = json::parse(&text).expect("a vector file is JSON");
        check_json(&doc).unwrap_or_else(|e| failures.push(format!("{name} re-encoded: {e}")));
        // Every string in them that is a JSON object or list (bodies, SNS `Message`s, nested ones).
        let mut strings = Vec::new();
        strings_in(&doc, &mut strings);
        let mut i = 0;
        while i < strings.len() {
            let s = strings[i].clone();
            i += 1;
            if !matches!(s.trim_start().as_bytes().first(), Some(b'{' | b'[')) {
                continue;
            }
            checked += 1;
            if let Err(e) = compare_json_text(&s) {
                failures.push(format!("{name}: {e}\n text: {s}"));
            }
            if let Ok(v) = json::parse(&s) {
                if json::to_string(&v).is_ok() {
                    if let Err(e) = check_json(&v) {
                        failures.push(format!("{name}: {e}\n text: {s}"));
                    }
                }
                strings_in(&v, &mut strings);
            }
        }
    }
    assert!(
        checked >= 30,
        "only {checked} JSON texts found in the vectors"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn vectors_bson_documents_agree_with_the_bson_crate() {
    let mut documents = 0;
    let mut failures = Vec::new();
    for (name, text) in vector_files() {
        let doc = json::parse(&text).expect("a vector file is JSON");
        let mut strings = Vec::new();
        strings_in(&doc, &mut strings);
        let mut i = 0;
        while i < strings.len() {
            let s = strings[i].clone();
            i += 1;
            if let Ok(v) = json::parse(&s) {
                strings_in(&v, &mut strings);
                continue;
            }
            let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(&s) else {
                continue;
            };
            if bytes.len() < 5 {
                continue;
            }
            documents += 1;
            match (mbson::decode(&bytes), bson_read(&bytes)) {
                (Ok(ours), Ok(theirs)) => {
                    let ours = Value::Map(ours);
                    if let Err(e) = bson_matches(&ours, &Bson::Document(theirs), "$") {
                        failures.push(format!("{name}: {e}"));
                    }
                    // The vectors' documents were written by PyMongo with the same int32/int64 rule.
                    match mbson::encode(&ours) {
                        Ok(again) if again == bytes => {}
                        _ => failures.push(format!("{name}: not re-encoded byte for byte: {s}")),
                    }
                    if let Err(e) = check_bson(&ours) {
                        failures.push(format!("{name}: {e}"));
                    }
                }
                (Err(_), Err(_)) => {}
                (Ok(_), Err(e)) => {
                    failures.push(format!("{name}: only the bson crate refuses {s}: {e}"))
                }
                (Err(e), Ok(_)) => failures.push(format!("{name}: only we refuse {s}: {e}")),
            }
        }
    }
    assert!(
        documents >= 8,
        "only {documents} Base64 documents found in the vectors"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Every expected payload of the vectors (tagged JSON: typed date-times, decimals, bytes) through both
/// checks, as far as each format carries it.
#[test]
fn vectors_expected_payloads_agree_with_both() {
    let (_, text) = vector_files()
        .into_iter()
        .find(|(n, _)| n.ends_with("payloads.json"))
        .expect("payloads.json");
    let doc = json::parse(&text).unwrap();
    let mut checked = (0, 0);
    for v in doc.get("vectors").and_then(Value::as_list).unwrap() {
        let Some(payload) = v.get_path("expect.payload") else {
            continue;
        };
        let name = v.get("name").and_then(Value::as_str).unwrap();
        let payload = json::from_tagged(payload.clone()).expect("tagged JSON");
        if json::to_string(&payload).is_ok() && !any(&payload, &|x| x.as_datetime().is_some()) {
            checked.0 += 1;
            check_json(&payload).unwrap_or_else(|e| panic!("{name} (json): {e}"));
        }
        if payload.as_map().is_some() {
            checked.1 += 1;
            check_bson(&payload).unwrap_or_else(|e| panic!("{name} (bson): {e}"));
        }
    }
    assert!(checked.0 >= 20 && checked.1 >= 20, "{checked:?}");
}

// ---------------------------------------------------------------------------------------------------------
// Deliberate differences (and agreements worth pinning), each asserted. Listed in docs/payloads.md,
// "Differences from serde_json and the bson crate".

fn ours(text: &str) -> Value {
    json::parse(text).unwrap_or_else(|e| panic!("we refuse {text}: {e}"))
}

fn theirs(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("serde_json refuses {text}: {e}"))
}

/// Integers beyond 64 bits: ours an exact decimal; serde_json (without `arbitrary_precision`) a rounded
/// f64 beyond u64. Between i64::MAX and u64::MAX both are exact (our decimal, serde_json's u64).
#[test]
fn difference_json_big_integers() {
    let text = "123456789012345678901234567890";
    assert_eq!(ours(text).as_decimal().unwrap().as_str(), text);
    let n = theirs(text);
    assert!(n.is_f64());
    assert_eq!(n.as_f64(), Some(1.2345678901234568e29));
    assert_eq!(serde_json::to_string(&n).unwrap(), "1.2345678901234568e+29");

    let text = "18446744073709551615";
    assert_eq!(ours(text).as_decimal().unwrap().as_str(), text);
    assert_eq!(theirs(text).as_u64(), Some(u64::MAX));
    assert_eq!(json::to_string(&ours(text)).unwrap(), text);
    assert_eq!(serde_json::to_string(&theirs(text)).unwrap(), text);
}

/// Numbers beyond the f64 range: ours an exact decimal; serde_json refuses the whole text.
#[test]
fn difference_json_numbers_beyond_f64() {
    let zeros = format!("1{}", "0".repeat(400));
    for (text, decimal) in [
        ("1e400", "1E+400"),
        ("-1.5E+309", "-1.5E+309"),
        ("1.7976931348623159e308", "1.7976931348623159E+308"),
        (zeros.as_str(), zeros.as_str()),
    ] {
        assert_eq!(ours(text).as_decimal().unwrap().as_str(), decimal);
        let e = serde_json::from_str::<serde_json::Value>(text).unwrap_err();
        assert!(e.to_string().contains("number out of range"), "{text}: {e}");
    }
    // Below the f64 range both read zero (of the same sign).
    for text in ["1e-400", "-1e-400"] {
        let (a, b) = (ours(text), theirs(text));
        assert_eq!(a.kind(), sqs_mega::Kind::Float);
        assert_eq!(
            a.as_f64().unwrap().to_bits(),
            b.as_f64().unwrap().to_bits(),
            "{text}"
        );
        assert_eq!(a.as_f64(), Some(0.0));
    }
}

/// `-0` (no fraction, no exponent) is an integer to us, so its sign is lost: `Int(0)`. serde_json reads
/// it as the float -0.0. With a fraction (`-0.0`) both read the float -0.0.
#[test]
fn difference_json_negative_zero_integer() {
    assert!(matches!(ours("-0"), Value::Int(0)));
    let n = theirs("-0");
    assert!(n.is_f64());
    assert_eq!(n.as_f64().unwrap().to_bits(), (-0.0f64).to_bits());
    assert_eq!(json::to_string(&ours("-0")).unwrap(), "0");
    for text in ["-0.0", "-0e0"] {
        assert_eq!(ours(text).as_f64().unwrap().to_bits(), (-0.0f64).to_bits());
        assert_eq!(
            theirs(text).as_f64().unwrap().to_bits(),
            (-0.0f64).to_bits()
        );
    }
}

/// Our parser reads floats correctly rounded (std's parser), so every float round-trips bit for bit.
/// serde_json with default features (no `float_roundtrip`) can be a few units in the last place off.
#[test]
fn difference_json_float_reading() {
    for (text, serde_reads) in [
        ("9.195099111381391e-234", 9.195099111381393e-234f64),
        ("-1.6524273305744399e-149", -1.65242733057444e-149),
        ("190.29736652758538", 190.29736652758535),
    ] {
        let exact: f64 = text.parse().unwrap();
        assert_eq!(ours(text).as_f64().unwrap().to_bits(), exact.to_bits());
        assert_eq!(json::to_string(&ours(text)).unwrap(), text);
        let serde = theirs(text).as_f64().unwrap();
        assert_eq!(serde.to_bits(), serde_reads.to_bits(), "{text}");
        assert_ne!(serde.to_bits(), exact.to_bits(), "{text}");
        assert!(same_or_serde_ulp(exact, serde));
    }
}

/// NaN and infinities: plain JSON refuses them with the path (tagged JSON writes `{"$float": …}`);
/// serde_json writes `null` for a bare f64 and cannot hold one in its `Value`.
#[test]
fn difference_json_non_finite_floats() {
    let v = sqs_mega::value!({"x": [(f64::NAN)]});
    let e = json::to_string(&v).unwrap_err();
    assert!(e.to_string().starts_with("$.x[0]: the float NaN"), "{e}");
    assert_eq!(json::to_tagged_string(&v), r#"{"x":[{"$float":"NaN"}]}"#);
    assert_eq!(serde_json::to_string(&f64::NAN).unwrap(), "null");
    assert_eq!(serde_json::to_string(&f64::INFINITY).unwrap(), "null");
    assert!(serde_json::Number::from_f64(f64::NAN).is_none());
}

/// Output style: we escape backspace and form feed as `\u0008` and `\u000c` (serde_json: `\b`, `\f`) and
/// also escape U+FFFE and U+FFFF, which SQS bodies cannot contain (serde_json writes them raw); we write
/// exponents without `+` (`1e300`; serde_json `1e+300`). Each reads the other's output as the same value.
#[test]
fn difference_json_output_style() {
    let v = sqs_mega::value!({"s": "\u{8}\u{c}\u{FFFE}\u{FFFF}\n\u{1}", "f": 1e300, "g": 1e-7});
    let ours_text = json::to_string(&v).unwrap();
    assert_eq!(
        ours_text,
        r#"{"s":"\u0008\u000c\ufffe\uffff\n\u0001","f":1e300,"g":1e-7}"#
    );
    let serde_text = serde_json::to_string(&to_serde(&v).unwrap()).unwrap();
    assert_eq!(
        serde_text,
        "{\"f\":1e+300,\"g\":1e-7,\"s\":\"\\b\\f\u{FFFE}\u{FFFF}\\n\\u0001\"}"
    );
    assert_eq!(
        in_our_style(&serde_text),
        json::to_string(&sorted(&v)).unwrap()
    );
    strict(&ours(&serde_text), &v, false, "$").unwrap();
    serde_matches(&v, &theirs(&ours_text), "$").unwrap();
}

/// Key order: ours keeps the document's order; serde_json (default features, no `preserve_order`) sorts.
#[test]
fn difference_json_key_order() {
    let text = r#"{"b":1,"a":{"d":2,"c":3}}"#;
    assert_eq!(json::to_string(&ours(text)).unwrap(), text);
    assert_eq!(
        serde_json::to_string(&theirs(text)).unwrap(),
        r#"{"a":{"c":3,"d":2},"b":1}"#
    );
}

/// Duplicate keys: both keep the last value (ours at the first key's position).
#[test]
fn agreement_json_duplicate_keys() {
    let text = r#"{"a":1,"b":2,"a":3}"#;
    assert_eq!(json::to_string(&ours(text)).unwrap(), r#"{"a":3,"b":2}"#);
    assert_eq!(theirs(text), serde_json::json!({"a": 3, "b": 2}));
}

/// Nesting: we accept 128 levels (`json::DEFAULT_MAX_DEPTH`, also the BSON bound) and refuse 129;
/// serde_json's recursion limit stops one level earlier.
#[test]
fn difference_json_depth() {
    let nested = |n: usize| "[".repeat(n) + &"]".repeat(n);
    let serde_ok = |n: usize| serde_json::from_str::<serde_json::Value>(&nested(n)).is_ok();
    assert!(json::parse(&nested(128)).is_ok());
    assert!(json::parse(&nested(129)).is_err());
    assert!(serde_ok(127));
    assert!(!serde_ok(128));
}

/// Syntax: both refuse the same malformed texts, and accept the same odd-but-valid ones.
#[test]
fn agreement_json_syntax() {
    for bad in [
        "",
        " ",
        "01",
        "-01",
        "1.",
        ".5",
        "-",
        "+1",
        "1e",
        "1e+",
        "0x10",
        "NaN",
        "Infinity",
        "-Infinity",
        "'a'",
        "tru",
        "nul",
        "[1,]",
        "{\"a\":1,}",
        "{a:1}",
        "{\"a\" 1}",
        "[1 2]",
        "1 2",
        "[1] x",
        "\u{FEFF}{}",
        "/*c*/{}",
        "\"\\ud800\"",
        "\"\\udc00\"",
        "\"\\ud800\\u0041\"",
        "\"\\u12\"",
        "\"\\x41\"",
        "\"a\u{1}\"",
        "\"\t\"",
        "\"unterminated",
        "[",
        "{\"a\":",
        "\u{a0}1",
    ] {
        assert!(json::parse(bad).is_err(), "we accept {bad:?}");
        assert!(
            serde_json::from_str::<serde_json::Value>(bad).is_err(),
            "serde_json accepts {bad:?}"
        );
    }
    for good in [
        " \t\r\n{} \n",
        "\"\\u0000\\/\\b\"",
        "1E+2",
        "1e-2",
        "-0.0e0",
        "0.1e-0",
        "\"\u{7f}\u{FFFF}\"",
        "\"\\uD83D\\uDE00\"",
        "[[],{},\"\"]",
        "1e-00000000000000000400",
    ] {
        assert!(
            compare_json_text(good).is_ok(),
            "{good:?}: {:?}",
            compare_json_text(good)
        );
        assert!(json::parse(good).is_ok(), "{good:?}");
    }
}

/// Builds a one-element document `{"x": <tag payload>}` by hand.
fn raw_doc(tag: u8, payload: &[u8]) -> Vec<u8> {
    let mut doc = vec![0; 4];
    doc.push(tag);
    doc.extend_from_slice(b"x\0");
    doc.extend_from_slice(payload);
    doc.push(0);
    let n = doc.len() as i32;
    doc[..4].copy_from_slice(&n.to_le_bytes());
    doc
}

fn bson_string(s: &str) -> Vec<u8> {
    let mut out = ((s.len() + 1) as i32).to_le_bytes().to_vec();
    out.extend_from_slice(s.as_bytes());
    out.push(0);
    out
}

/// An int64 holding a small value decodes as an integer, and we write integers as int32 when they fit
/// (as PyMongo does): the re-encoded document differs from the `bson` crate's.
#[test]
fn difference_bson_small_int64() {
    let mut doc = Document::new();
    doc.insert("n", Bson::Int64(5));
    let theirs = bson_write(&doc);
    let v = mbson::decode(&theirs).unwrap();
    assert!(matches!(v["n"], Value::Int(5)));
    let again = mbson::encode_map(&v).unwrap();
    assert_eq!(again.len() + 4, theirs.len());
    assert_eq!(bson_read(&again).unwrap().get("n"), Some(&Bson::Int32(5)));
}

/// Kinds our value model folds into others: ObjectId and symbol become strings, undefined null, a
/// timestamp its raw 64 bits as an integer (a decimal above i64::MAX), a binary of any subtype bytes
/// (re-encoded as subtype 0; the old subtype 2 loses its inner length, as the `bson` crate also reads
/// it). Re-encoding does not give back the `bson` crate's document.
#[test]
fn difference_bson_folded_kinds() {
    let oid = [
        0x5f, 0x0c, 0x3c, 0x3a, 0x9d, 0x1e, 0x8a, 0x1b, 0x2c, 0x3d, 0x4e, 0x5f,
    ];
    let mut doc = Document::new();
    doc.insert("oid", Bson::ObjectId(bson::oid::ObjectId::from_bytes(oid)));
    doc.insert("sym", Bson::Symbol("s".into()));
    doc.insert("undef", Bson::Undefined);
    doc.insert(
        "ts",
        Bson::Timestamp(bson::Timestamp {
            time: 1,
            increment: 2,
        }),
    );
    let max = bson::Timestamp {
        time: u32::MAX,
        increment: u32::MAX,
    };
    doc.insert("ts_max", Bson::Timestamp(max));
    for (key, subtype) in [
        ("uuid", bson::spec::BinarySubtype::Uuid),
        ("old", bson::spec::BinarySubtype::BinaryOld),
        ("user", bson::spec::BinarySubtype::UserDefined(0x80)),
    ] {
        let bytes = vec![1, 2, 3];
        doc.insert(key, Bson::Binary(bson::Binary { subtype, bytes }));
    }
    let theirs = bson_write(&doc);
    let v = Value::Map(mbson::decode(&theirs).unwrap());
    let expected = sqs_mega::value!({
        "oid": "5f0c3c3a9d1e8a1b2c3d4e5f", "sym": "s", "undef": null, "ts": ((1i64 << 32) | 2),
        "ts_max": (u64::MAX),
        "uuid": (vec![1u8, 2, 3]), "old": (vec![1u8, 2, 3]), "user": (vec![1u8, 2, 3])
    });
    strict(&v, &expected, true, "$").unwrap();
    assert_eq!(
        v.get("ts_max").unwrap().as_decimal().unwrap().as_str(),
        "18446744073709551615"
    );
    let again = bson_read(&mbson::encode(&v).unwrap()).unwrap();
    assert_eq!(
        again.get("oid"),
        Some(&Bson::String("5f0c3c3a9d1e8a1b2c3d4e5f".into()))
    );
    assert_eq!(again.get("undef"), Some(&Bson::Null));
    let generic = |b: &Bson| matches!(b, Bson::Binary(b) if b.subtype == bson::spec::BinarySubtype::Generic && b.bytes == [1, 2, 3]);
    for key in ["uuid", "old", "user"] {
        assert!(generic(again.get(key).unwrap()), "{key}");
    }
    assert_ne!(again, doc);
}

/// Regular expressions, DBPointer, JavaScript code (with or without scope), min key and max key are not
/// payload data: we refuse the document; the `bson` crate reads it.
#[test]
fn difference_bson_non_data_kinds() {
    let mut with_scope = Vec::new();
    let code = bson_string("f()");
    let scope = [5u8, 0, 0, 0, 0];
    with_scope.extend_from_slice(&((4 + code.len() + scope.len()) as i32).to_le_bytes());
    with_scope.extend_from_slice(&code);
    with_scope.extend_from_slice(&scope);
    let mut pointer = bson_string("db.c");
    pointer.extend_from_slice(&[7; 12]);
    for (tag, payload) in [
        (0x0B, b"a+\0i\0".to_vec()),
        (0x0C, pointer),
        (0x0D, bson_string("f()")),
        (0x0F, with_scope),
        (0xFF, vec![]),
        (0x7F, vec![]),
    ] {
        let doc = raw_doc(tag, &payload);
        assert!(
            bson_read(&doc).is_ok(),
            "the bson crate reads tag {tag:#04x}"
        );
        let e = mbson::decode(&doc).unwrap_err();
        assert_eq!(e.problem, mbson::BsonProblem::UnsupportedType(tag), "{e}");
        assert_eq!(e.offset, 4);
    }
}

/// Date-times outside chrono's range (about ±262,000 years): the `bson` crate holds any i64 of
/// milliseconds; we refuse the document.
#[test]
fn difference_bson_datetime_range() {
    for dt in [bson::DateTime::MAX, bson::DateTime::MIN] {
        let mut doc = Document::new();
        doc.insert("t", Bson::DateTime(dt));
        let bytes = bson_write(&doc);
        assert!(bson_read(&bytes).is_ok());
        let e = mbson::decode(&bytes).unwrap_err();
        assert_eq!(
            e.problem,
            mbson::BsonProblem::DateTimeOutOfRange(dt.timestamp_millis())
        );
    }
}

/// Sub-millisecond digits are dropped on encoding (BSON has milliseconds). We round towards the past, as
/// chrono's `timestamp_millis` and PyMongo do; the `bson` crate's `DateTime::parse_rfc3339_str` truncates
/// towards zero, so before 1970 its millisecond is one later. After 1970 the bytes agree.
#[test]
fn difference_bson_datetime_sub_milliseconds() {
    for (text, ours_ms, theirs_ms) in [
        (
            "2020-05-04T15:53:27.8239Z",
            1_588_607_607_823i64,
            1_588_607_607_823i64,
        ),
        ("1969-12-31T23:59:59.9995Z", -1, 0),
        (
            "1960-01-01T00:00:00.0001Z",
            -315_619_200_000,
            -315_619_199_999,
        ),
    ] {
        let dt = json::parse_datetime(text).unwrap();
        let v = sqs_mega::value!({ "t": dt });
        let bytes = mbson::encode(&v).unwrap();
        let back = mbson::decode(&bytes).unwrap();
        assert_eq!(back["t"].as_datetime().unwrap().timestamp_millis(), ours_ms);
        assert_ne!(
            back["t"],
            v.get("t").cloned().unwrap(),
            "{text}: precision is lost"
        );
        let theirs = bson::DateTime::parse_rfc3339_str(text).unwrap();
        assert_eq!(theirs.timestamp_millis(), theirs_ms, "{text}");
        let mut doc = Document::new();
        doc.insert("t", Bson::DateTime(theirs));
        assert_eq!(bytes == bson_write(&doc), ours_ms == theirs_ms, "{text}");
    }
}

/// Bytes after the document: we refuse the body (one body is exactly one document); the `bson` crate's
/// `Document::from_reader` reads the first document and leaves the rest unread.
#[test]
fn difference_bson_trailing_bytes() {
    let mut bytes = mbson::encode(&sqs_mega::value!({"a": 1})).unwrap();
    bytes.push(0);
    let e = mbson::decode(&bytes).unwrap_err();
    assert!(
        matches!(e.problem, mbson::BsonProblem::SizeMismatch { .. }),
        "{e}"
    );
    let mut cursor = Cursor::new(&bytes[..]);
    let doc = Document::from_reader(&mut cursor).unwrap();
    assert_eq!(doc.get("a"), Some(&Bson::Int32(1)));
    assert_eq!(cursor.position() as usize, bytes.len() - 1);
}

/// Decimal128 NaN: a negative or signalling NaN reads as NaN for both (the `bson` crate prints `NaN`
/// too), but we keep no sign or signal: it re-encodes as the positive quiet NaN, where the `bson` crate
/// keeps the original bytes.
#[test]
fn difference_bson_decimal_nan_forms() {
    let quiet: Decimal = "NaN".parse().unwrap();
    let quiet = quiet.to_bid_bytes().unwrap();
    for high in [0xFCu8, 0x7E, 0xFE] {
        let mut bytes = [0u8; 16];
        bytes[15] = high;
        let d = Decimal::from_bid_bytes(bytes);
        assert!(d.is_nan());
        assert_eq!(d.as_str(), "NaN");
        let theirs = bson::Decimal128::from_bytes(bytes);
        assert_eq!(theirs.to_string(), "NaN");
        assert_eq!(theirs.bytes(), bytes);
        assert_eq!(d.to_bid_bytes().unwrap(), quiet);
        assert_ne!(quiet, bytes);
    }
}

/// Decimal128 inputs both treat alike: non-canonical coefficients (above 10^34 - 1, or in the "large
/// coefficient" form) read as zero with their exponent; exponents beyond the range clamp into trailing
/// zeros (`1E+6144`), zeros clamp their exponent.
#[test]
fn agreement_bson_decimal_edges() {
    let biased = |e: i64| ((e + 6176) as u128) << 113;
    let non_canonical = [
        biased(0) | ((1u128 << 113) - 1),
        biased(-3) | 10u128.pow(34),
        (0b11u128 << 125) | ((6176u128 + 2) << 111) | 5,
    ];
    for bits in non_canonical {
        let bytes = bits.to_le_bytes();
        let ours = Decimal::from_bid_bytes(bytes);
        assert_eq!(
            ours.as_str(),
            bson::Decimal128::from_bytes(bytes).to_string()
        );
        assert_eq!(ours.to_f64(), 0.0);
    }
    for text in ["1E+6144", "-12E+6120", "0E+7000", "0E-7000", "1.000E-6173"] {
        let ours: Decimal = text.parse().unwrap();
        let theirs: bson::Decimal128 = text.parse().unwrap();
        assert_eq!(ours.to_bid_bytes().unwrap(), theirs.bytes(), "{text}");
    }
}

/// Decimals Decimal128 cannot hold exactly: neither side rounds (we refuse to encode, the `bson` crate's
/// parser refuses with `InexactRounding`); trailing zeros beyond 34 digits fold into the exponent alike.
#[test]
fn agreement_bson_decimal_rounding() {
    for text in [
        "1234567890123456789012345678901234567",
        "0.12345678901234567890123456789012345",
        "1E-6177",
    ] {
        let ours: Decimal = text.parse().unwrap();
        let e = ours.to_bid_bytes().unwrap_err();
        assert!(
            matches!(e, sqs_mega::decimal::DecimalError::OutOfRange(_)),
            "{e}"
        );
        let v = sqs_mega::value!({ "d": ours });
        assert!(matches!(
            mbson::encode(&v),
            Err(mbson::BsonEncodeError::Decimal { .. })
        ));
        assert!(text.parse::<bson::Decimal128>().is_err(), "{text}");
    }
    let text = "12345678901234567890123456789012340000";
    let ours: Decimal = text.parse().unwrap();
    let theirs: bson::Decimal128 = text.parse().unwrap();
    assert_eq!(ours.to_bid_bytes().unwrap(), theirs.bytes());
}

/// A NUL in a key: neither encoder writes it.
#[test]
fn agreement_bson_nul_in_keys() {
    let v = sqs_mega::value!({"a\u{0}b": 1});
    assert!(matches!(
        mbson::encode(&v),
        Err(mbson::BsonEncodeError::NulInKey { .. })
    ));
    let mut doc = Document::new();
    doc.insert("a\u{0}b", 1);
    assert!(doc.to_writer(Vec::new()).is_err());
}

/// Duplicate keys in a document: both keep the last value at the first key's position.
#[test]
fn agreement_bson_duplicate_keys() {
    let mut doc = vec![0; 4];
    for (k, v) in [(b'a', 1i32), (b'b', 2), (b'a', 3)] {
        doc.extend_from_slice(&[0x10, k, 0]);
        doc.extend_from_slice(&v.to_le_bytes());
    }
    doc.push(0);
    let n = doc.len() as i32;
    doc[..4].copy_from_slice(&n.to_le_bytes());
    let ours = Value::Map(mbson::decode(&doc).unwrap());
    let theirs = bson_read(&doc).unwrap();
    assert_eq!(json::to_string(&ours).unwrap(), r#"{"a":3,"b":2}"#);
    bson_matches(&ours, &Bson::Document(theirs), "$").unwrap();
}

/// Malformed documents both refuse: a boolean byte other than 0 or 1, a string that is not UTF-8, a
/// string without its NUL, a length past the end, a truncated document.
#[test]
fn agreement_bson_malformed() {
    let mut bad_utf8 = bson_string("ab");
    bad_utf8[4] = 0xFF;
    let mut no_nul = bson_string("ab");
    *no_nul.last_mut().unwrap() = b'c';
    let mut too_long = bson_string("ab");
    too_long[0] = 50;
    let good = mbson::encode(&sqs_mega::value!({"a": "xyz", "b": [1, {"c": true}]})).unwrap();
    let mut docs = vec![
        raw_doc(0x08, &[2]),
        raw_doc(0x02, &bad_utf8),
        raw_doc(0x02, &no_nul),
        raw_doc(0x02, &too_long),
    ];
    docs.extend((5..good.len()).map(|cut| {
        let mut d = good[..cut].to_vec();
        d[..4].copy_from_slice(&(cut as i32).to_le_bytes());
        d
    }));
    for doc in docs {
        assert!(mbson::decode(&doc).is_err(), "we read {doc:02x?}");
        assert!(bson_read(&doc).is_err(), "the bson crate reads {doc:02x?}");
    }
}
