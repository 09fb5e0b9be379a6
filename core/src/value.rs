//! The value model for decoded payloads.
//!
//! JSON cannot carry everything a MEGA payload may hold once BSON is involved, so decoded payloads use
//! [`Value`], which keeps: null, booleans, 64-bit integers, floats, exact decimals (BSON Decimal128 and JSON
//! integers too large for 64 bits), strings, UTC date-times (BSON UTC datetime), bytes (BSON binary), lists,
//! and maps whose keys keep their insertion order.

use std::cmp::Ordering;
use std::fmt;

use chrono::{DateTime, Utc};

use crate::decimal::Decimal;

/// A map with string keys that keeps insertion order.
pub type Map = indexmap::IndexMap<String, Value, foldhash::fast::RandomState>;

/// A decoded payload value.
#[derive(Clone, Debug, Default)]
pub enum Value {
    /// JSON `null`, BSON null / undefined.
    #[default]
    Null,
    Bool(bool),
    /// A 64-bit signed integer (JSON integers that fit, BSON int32 / int64).
    Int(i64),
    /// A 64-bit float (JSON numbers with a fraction or an exponent, BSON double).
    Float(f64),
    /// An exact decimal (BSON Decimal128; JSON integers that do not fit in 64 bits).
    Decimal(Decimal),
    String(String),
    /// A UTC date-time (BSON UTC datetime). JSON has none: ISO-8601 strings stay strings.
    DateTime(DateTime<Utc>),
    /// Raw bytes (BSON binary).
    Bytes(Vec<u8>),
    List(Vec<Value>),
    Map(Map),
}

/// The kind of a [`Value`], used in error messages and explanations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Null,
    Bool,
    Int,
    Float,
    Decimal,
    String,
    DateTime,
    Bytes,
    List,
    Map,
}

impl Kind {
    /// The lower-case name of this kind, as used in messages (`"map"`, `"date-time"`…).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Null => "null",
            Kind::Bool => "boolean",
            Kind::Int => "integer",
            Kind::Float => "float",
            Kind::Decimal => "decimal",
            Kind::String => "string",
            Kind::DateTime => "date-time",
            Kind::Bytes => "bytes",
            Kind::List => "list",
            Kind::Map => "map",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Value {
    /// A new, empty map value.
    pub fn new_map() -> Value {
        Value::Map(Map::default())
    }

    pub fn kind(&self) -> Kind {
        match self {
            Value::Null => Kind::Null,
            Value::Bool(_) => Kind::Bool,
            Value::Int(_) => Kind::Int,
            Value::Float(_) => Kind::Float,
            Value::Decimal(_) => Kind::Decimal,
            Value::String(_) => Kind::String,
            Value::DateTime(_) => Kind::DateTime,
            Value::Bytes(_) => Kind::Bytes,
            Value::List(_) => Kind::List,
            Value::Map(_) => Kind::Map,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn is_number(&self) -> bool {
        matches!(self, Value::Int(_) | Value::Float(_) | Value::Decimal(_))
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// This number as a float (integers, floats and decimals; decimals may round).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            Value::Decimal(d) => Some(d.to_f64()),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    pub fn as_datetime(&self) -> Option<&DateTime<Utc>> {
        match self {
            Value::DateTime(d) => Some(d),
            _ => None,
        }
    }

    pub fn as_decimal(&self) -> Option<&Decimal> {
        match self {
            Value::Decimal(d) => Some(d),
            _ => None,
        }
    }

    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&Map> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_map_mut(&mut self) -> Option<&mut Map> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The value under `key` when this is a map.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_map().and_then(|m| m.get(key))
    }

    /// The value at a dotted path of map keys (`"event.attributes.quantity"`); list elements are addressed
    /// by their index (`"items.0.id"`).
    pub fn get_path(&self, path: &str) -> Option<&Value> {
        let mut current = self;
        for part in path.split('.') {
            current = match current {
                Value::Map(m) => m.get(part)?,
                Value::List(l) => l.get(part.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(current)
    }

    /// Compares two numbers exactly across integers, floats and decimals. `None` when either side is not a
    /// number, or a float is NaN.
    pub fn cmp_numeric(&self, other: &Value) -> Option<Ordering> {
        match (self, other) {
            (Value::Int(a), Value::Int(b)) => Some(a.cmp(b)),
            (Value::Float(a), Value::Float(b)) => a.partial_cmp(b),
            (Value::Int(a), Value::Float(b)) => cmp_int_float(*a, *b),
            (Value::Float(a), Value::Int(b)) => cmp_int_float(*b, *a).map(Ordering::reverse),
            (Value::Decimal(a), b) => a.cmp_value(b),
            (a, Value::Decimal(b)) => b.cmp_value(a).map(Ordering::reverse),
            _ => None,
        }
    }
}

/// Exact comparison of an integer with a float (no rounding of large integers through `as f64`).
pub(crate) fn cmp_int_float(i: i64, f: f64) -> Option<Ordering> {
    if f.is_nan() {
        return None;
    }
    // i64 range in f64 is [-2^63, 2^63): compare against the bounds first.
    if f >= 9_223_372_036_854_775_808.0 {
        return Some(Ordering::Less);
    }
    if f < -9_223_372_036_854_775_808.0 {
        return Some(Ordering::Greater);
    }
    let t = f.trunc();
    let ti = t as i64; // exact: t is integral and in range
    match i.cmp(&ti) {
        Ordering::Equal => {
            let frac = f - t;
            Some(if frac > 0.0 {
                Ordering::Less
            } else if frac < 0.0 {
                Ordering::Greater
            } else {
                Ordering::Equal
            })
        }
        other => Some(other),
    }
}

/// Structural equality. Numbers of different representations are equal when their values are equal
/// (`Int(1) == Float(1.0) == Decimal("1.0")`); maps compare without regard to key order.
impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::String(a), Value::String(b)) => a == b,
            (Value::DateTime(a), Value::DateTime(b)) => a == b,
            (Value::Bytes(a), Value::Bytes(b)) => a == b,
            (Value::List(a), Value::List(b)) => a == b,
            (Value::Map(a), Value::Map(b)) => a == b,
            (a, b) if a.is_number() && b.is_number() => {
                // NaN decimals and floats are not equal to themselves, as in IEEE 754.
                a.cmp_numeric(b) == Some(Ordering::Equal)
            }
            _ => false,
        }
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}

macro_rules! from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Self {
                Value::Int(i64::from(v))
            }
        }
    )*};
}
from_int!(i8, i16, i32, i64, u8, u16, u32);

impl From<u64> for Value {
    fn from(v: u64) -> Self {
        match i64::try_from(v) {
            Ok(i) => Value::Int(i),
            Err(_) => Value::Decimal(Decimal::from_u128(u128::from(v))),
        }
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}

impl From<f32> for Value {
    fn from(v: f32) -> Self {
        Value::Float(f64::from(v))
    }
}

impl From<Decimal> for Value {
    fn from(v: Decimal) -> Self {
        Value::Decimal(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::String(v.to_owned())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::String(v)
    }
}

impl From<DateTime<Utc>> for Value {
    fn from(v: DateTime<Utc>) -> Self {
        Value::DateTime(v)
    }
}

impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Value::Bytes(v)
    }
}

impl From<Vec<Value>> for Value {
    fn from(v: Vec<Value>) -> Self {
        Value::List(v)
    }
}

impl From<Map> for Value {
    fn from(v: Map) -> Self {
        Value::Map(v)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

impl<K: Into<String>, V: Into<Value>, const N: usize> From<[(K, V); N]> for Value {
    fn from(entries: [(K, V); N]) -> Self {
        entries.into_iter().collect()
    }
}

impl<K: Into<String>, V: Into<Value>> FromIterator<(K, V)> for Value {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Value::Map(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

impl<V: Into<Value>> FromIterator<V> for Value {
    fn from_iter<I: IntoIterator<Item = V>>(iter: I) -> Self {
        Value::List(iter.into_iter().map(Into::into).collect())
    }
}

/// Builds a [`Value`] with JSON-like syntax: `value!({"a": 1, "b": [true, null], "c": {"d": "x"}})`.
/// Any Rust expression that converts `Into<Value>` may stand for a leaf (in parentheses if it is not a
/// single token).
#[macro_export]
macro_rules! value {
    (null) => { $crate::Value::Null };
    ([ $($elem:tt),* $(,)? ]) => {
        $crate::Value::List(vec![ $( $crate::value!($elem) ),* ])
    };
    ({ $($key:literal : $val:tt),* $(,)? }) => {{
        #[allow(unused_mut)]
        let mut map = $crate::Map::default();
        $( map.insert(::std::string::String::from($key), $crate::value!($val)); )*
        $crate::Value::Map(map)
    }};
    ($other:expr) => { $crate::Value::from($other) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_compare_exactly_across_representations() {
        let big = Value::Int(9_007_199_254_740_993); // 2^53 + 1: not representable as f64
        assert_eq!(
            big.cmp_numeric(&Value::Float(9_007_199_254_740_992.0)),
            Some(Ordering::Greater)
        );
        assert_eq!(Value::Int(1), Value::Float(1.0));
        assert_eq!(Value::Int(1), Value::Decimal("1.00".parse().unwrap()));
        assert_ne!(Value::Int(1), Value::Float(1.5));
        assert_eq!(
            Value::Float(2.5).cmp_numeric(&Value::Int(2)),
            Some(Ordering::Greater)
        );
        assert_eq!(
            Value::Float(-2.5).cmp_numeric(&Value::Int(-2)),
            Some(Ordering::Less)
        );
        assert_eq!(Value::Float(f64::NAN).cmp_numeric(&Value::Int(1)), None);
        assert_eq!(
            Value::Int(i64::MAX).cmp_numeric(&Value::Float(1e19)),
            Some(Ordering::Less)
        );
        assert_eq!(Value::String("1".into()).cmp_numeric(&Value::Int(1)), None);
    }

    #[test]
    fn maps_keep_insertion_order_and_compare_unordered() {
        let a = value!({"z": 1, "a": 2});
        let keys: Vec<_> = a.as_map().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["z", "a"]);
        assert_eq!(a, value!({"a": 2, "z": 1}));
        assert_ne!(a, value!({"a": 2}));
    }

    #[test]
    fn paths_reach_into_maps_and_lists() {
        let v = value!({"event": {"items": [{"id": "x"}, {"id": "y"}]}});
        assert_eq!(v.get_path("event.items.1.id"), Some(&Value::from("y")));
        assert_eq!(v.get_path("event.items.2.id"), None);
        assert_eq!(v.get_path("event.missing"), None);
    }

    #[test]
    fn u64_beyond_i64_becomes_exact_decimal() {
        let v = Value::from(u64::MAX);
        assert_eq!(v.kind(), Kind::Decimal);
        assert_eq!(v.as_decimal().unwrap().as_str(), "18446744073709551615");
    }
}
