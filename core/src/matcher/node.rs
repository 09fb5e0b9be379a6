//! The compiled pattern tree: compilation from [`Expr`], evaluation, explanation and rendering.

use std::cmp::Ordering;
use std::fmt::{self, Write as _};
use std::net::IpAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use regex::Regex;

use super::expr::{Callback, Expr, Literal};
use super::{Callbacks, Explanation, PatternError};
use crate::decimal::Decimal;
use crate::json;
use crate::value::Value;

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Gt,
    Gte,
    Lt,
    Lte,
    /// Only in EventBridge `numeric` ranges.
    Eq,
}

impl CmpOp {
    fn name(self) -> &'static str {
        match self {
            CmpOp::Gt => "gt",
            CmpOp::Gte => "gte",
            CmpOp::Lt => "lt",
            CmpOp::Lte => "lte",
            CmpOp::Eq => "eq",
        }
    }
    pub(crate) fn symbol(self) -> &'static str {
        match self {
            CmpOp::Gt => ">",
            CmpOp::Gte => ">=",
            CmpOp::Lt => "<",
            CmpOp::Lte => "<=",
            CmpOp::Eq => "=",
        }
    }
    pub(crate) fn accepts(self, o: Ordering) -> bool {
        match self {
            CmpOp::Gt => o == Ordering::Greater,
            CmpOp::Gte => o != Ordering::Less,
            CmpOp::Lt => o == Ordering::Less,
            CmpOp::Lte => o != Ordering::Greater,
            CmpOp::Eq => o == Ordering::Equal,
        }
    }
}

/// A date or a date-time, for comparisons at the right precision.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Temporal {
    Date(NaiveDate),
    DateTime(DateTime<Utc>),
}

fn cmp_temporal(a: Temporal, b: Temporal) -> Ordering {
    match (a, b) {
        (Temporal::Date(a), Temporal::Date(b)) => a.cmp(&b),
        (Temporal::Date(a), Temporal::DateTime(b)) => a.cmp(&b.date_naive()),
        (Temporal::DateTime(a), Temporal::Date(b)) => a.date_naive().cmp(&b),
        (Temporal::DateTime(a), Temporal::DateTime(b)) => a.cmp(&b),
    }
}

/// Reads a date (`YYYY-MM-DD`) or an ISO-8601 date-time from a string; `None` for anything else.
pub(crate) fn parse_temporal(s: &str) -> Option<Temporal> {
    let b = s.as_bytes();
    if b.len() < 10
        || !b[..4].iter().all(u8::is_ascii_digit)
        || b[4] != b'-'
        || b[7] != b'-'
        || !b[5..7].iter().all(u8::is_ascii_digit)
        || !b[8..10].iter().all(u8::is_ascii_digit)
    {
        return None;
    }
    if b.len() == 10 {
        let num = |r: std::ops::Range<usize>| s[r].parse::<u32>().ok();
        let year = i32::try_from(num(0..4)?).ok()?;
        return NaiveDate::from_ymd_opt(year, num(5..7)?, num(8..10)?).map(Temporal::Date);
    }
    fast_datetime(b)
        .or_else(|| json::parse_datetime(s).ok())
        .map(Temporal::DateTime)
}

/// The common shape `YYYY-MM-DDTHH:MM:SS[.fraction][Z|±HH:MM]`, read without allocating (the general
/// reader, [`json::parse_datetime`], handles everything else and agrees on this shape).
fn fast_datetime(b: &[u8]) -> Option<DateTime<Utc>> {
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = b.get(r)?;
        part.iter().try_fold(0u32, |acc, d| {
            d.is_ascii_digit().then(|| acc * 10 + u32::from(d - b'0'))
        })
    };
    if b.len() < 19 || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(
        i32::try_from(digits(0..4)?).ok()?,
        digits(5..7)?,
        digits(8..10)?,
    )?;
    let (h, m, sec) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
    if h > 23 || m > 59 || sec > 59 {
        return None;
    }
    let mut i = 19;
    let mut nanos = 0u32;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        i = start;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        let n = i - start;
        if n == 0 || n > 9 {
            return None;
        }
        nanos = digits(start..i)? * 10u32.pow(9 - n as u32);
    }
    let offset_secs: i64 = match b.get(i) {
        None => 0,
        Some(b'Z') if i + 1 == b.len() => 0,
        Some(sign @ (b'+' | b'-')) if i + 6 == b.len() && b[i + 3] == b':' => {
            let (oh, om) = (digits(i + 1..i + 3)?, digits(i + 4..i + 6)?);
            if oh > 23 || om > 59 {
                return None;
            }
            let secs = i64::from(oh * 3600 + om * 60);
            if *sign == b'-' {
                -secs
            } else {
                secs
            }
        }
        _ => return None,
    };
    let naive = date.and_hms_nano_opt(h, m, sec, nanos)?;
    Some(naive.and_utc() - chrono::Duration::seconds(offset_secs))
}

fn temporal_of(v: &Value) -> Option<Temporal> {
    match v {
        Value::DateTime(d) => Some(Temporal::DateTime(*d)),
        Value::String(s) => parse_temporal(s),
        _ => None,
    }
}

/// A numeric string (`"42"`, `"-1.5"`, `"1e3"`) as a number; `None` for any other string (including
/// `"NaN"` and `"Infinity"`, which are words here, not numbers).
pub(crate) fn numeric_string(s: &str) -> Option<Value> {
    let b = s.as_bytes();
    let first = match b.first()? {
        b'+' | b'-' => b.get(1)?,
        c => c,
    };
    if !first.is_ascii_digit() && *first != b'.' {
        return None;
    }
    if let Ok(i) = s.parse::<i64>() {
        return Some(Value::Int(i));
    }
    s.parse::<Decimal>().ok().map(Value::Decimal)
}

fn cmp_number(lhs: &Value, number: &Value) -> Option<Ordering> {
    match lhs {
        Value::String(s) => numeric_string(s)?.cmp_numeric(number),
        _ => lhs.cmp_numeric(number),
    }
}

fn parse_bool_str(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// A compiled literal: the operand and what it means as a date when it is a string.
#[derive(Clone, Debug)]
pub(crate) struct Lit {
    pub(crate) lit: Literal,
    /// The temporal reading of a string literal, or of a date / date-time literal.
    temporal: Option<Temporal>,
}

impl Lit {
    pub(crate) fn new(lit: Literal) -> Lit {
        let temporal = match &lit {
            Literal::Date(d) => Some(Temporal::Date(*d)),
            Literal::Value(Value::DateTime(d)) => Some(Temporal::DateTime(*d)),
            Literal::Value(Value::String(s)) => parse_temporal(s),
            _ => None,
        };
        Lit { lit, temporal }
    }

    pub(crate) fn value(&self) -> Option<&Value> {
        match &self.lit {
            Literal::Value(v) => Some(v),
            Literal::Date(_) => None,
        }
    }

    /// Orders the payload value against this literal; `None` when they cannot be compared.
    fn compare(&self, lhs: &Value) -> Option<Ordering> {
        match &self.lit {
            Literal::Date(_) => Some(cmp_temporal(temporal_of(lhs)?, self.temporal?)),
            Literal::Value(v) => match v {
                Value::Int(_) | Value::Float(_) | Value::Decimal(_) => cmp_number(lhs, v),
                Value::String(s) => match lhs {
                    Value::String(l) => Some(l.as_str().cmp(s.as_str())),
                    Value::DateTime(d) => {
                        Some(cmp_temporal(Temporal::DateTime(*d), self.temporal?))
                    }
                    _ => None,
                },
                Value::DateTime(_) => Some(cmp_temporal(temporal_of(lhs)?, self.temporal?)),
                _ => None,
            },
        }
    }

    /// Equality under the DSL's rules.
    fn equals(&self, lhs: &Value) -> bool {
        if let (Literal::Value(Value::String(r)), Value::String(l)) = (&self.lit, lhs) {
            return short_eq(l.as_bytes(), r.as_bytes());
        }
        match &self.lit {
            Literal::Value(Value::Null) => lhs.is_null(),
            Literal::Value(Value::Bool(b)) => match lhs {
                Value::Bool(x) => x == b,
                Value::String(s) => parse_bool_str(s) == Some(*b),
                _ => false,
            },
            Literal::Value(Value::Bytes(b)) => lhs.as_bytes() == Some(b.as_slice()),
            Literal::Value(v @ (Value::List(_) | Value::Map(_))) => lhs == v,
            _ => self.compare(lhs) == Some(Ordering::Equal),
        }
    }

    /// Type-strict equality (EventBridge exact values): numbers compare numerically, everything else
    /// only with the same kind.
    fn equals_strict(&self, lhs: &Value) -> bool {
        if let (Value::String(l), Some(Value::String(r))) = (lhs, self.value()) {
            return short_eq(l.as_bytes(), r.as_bytes());
        }
        match self.value() {
            Some(v) if v.is_number() => {
                lhs.is_number() && lhs.cmp_numeric(v) == Some(Ordering::Equal)
            }
            Some(v) => lhs == v,
            None => false,
        }
    }
}

/// A parsed CIDR block.
#[derive(Clone, Debug)]
pub(crate) struct Cidr {
    pub(crate) source: String,
    network: IpAddr,
    bits: u8,
}

impl Cidr {
    pub(crate) fn parse(text: &str) -> Result<Cidr, String> {
        let (addr, bits) = match text.split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (text, None),
        };
        let network: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("`{addr}` is not an IP address"))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let bits = match bits {
            None => max,
            Some(b) => b
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|b| *b <= max)
                .ok_or_else(|| format!("`{b}` is not a prefix length between 0 and {max}"))?,
        };
        Ok(Cidr {
            source: text.to_owned(),
            network,
            bits,
        })
    }

    fn contains(&self, s: &str) -> bool {
        let Ok(ip) = s.parse::<IpAddr>() else {
            return false;
        };
        match (self.network, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.bits)).unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.bits))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// A compiled wildcard pattern: literal segments separated by `*`.
///
/// Matching is linear in the length of the string: the first segment must be a prefix and the last a
/// suffix, and each middle segment is found leftmost-first after the previous one (taking the leftmost
/// occurrence never loses a match, since `*` can absorb anything). Short segments use a plain scan;
/// long ones a substring searcher ([`memchr::memmem`], linear whatever the input), so that a pattern
/// like `*aaa…ab*` against a long run of `a` costs a pass over the string, not one per position.
#[derive(Clone, Debug)]
pub(crate) struct Wildcard {
    pub(crate) source: String,
    segments: Vec<String>,
    /// For each middle segment longer than [`SHORT_SEGMENT`] bytes, its searcher.
    finders: Vec<Option<memchr::memmem::Finder<'static>>>,
}

/// Segments up to this length are found by a plain scan (at most this many comparisons per position).
const SHORT_SEGMENT: usize = 16;

impl Wildcard {
    pub(crate) fn parse(text: &str) -> Result<Wildcard, String> {
        let mut segments = vec![String::new()];
        let mut chars = text.chars().peekable();
        let mut last_star = false;
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some(e @ ('*' | '\\')) => {
                        segments.last_mut().expect("one").push(e);
                        last_star = false;
                    }
                    _ => return Err("`\\` must be followed by `*` or `\\`".to_owned()),
                },
                '*' => {
                    if last_star {
                        return Err("consecutive `*` are not allowed".to_owned());
                    }
                    segments.push(String::new());
                    last_star = true;
                }
                c => {
                    segments.last_mut().expect("one").push(c);
                    last_star = false;
                }
            }
        }
        let finders = segments
            .iter()
            .map(|seg| {
                (seg.len() > SHORT_SEGMENT)
                    .then(|| memchr::memmem::Finder::new(seg.as_bytes()).into_owned())
            })
            .collect();
        Ok(Wildcard {
            source: text.to_owned(),
            segments,
            finders,
        })
    }

    pub(crate) fn matches(&self, s: &str) -> bool {
        let segs = &self.segments;
        if segs.len() == 1 {
            return s == segs[0];
        }
        let (first, last) = (&segs[0], &segs[segs.len() - 1]);
        if s.len() < first.len() + last.len() || !has_prefix(s, first) || !has_suffix(s, last) {
            return false;
        }
        let mut rest = &s[first.len()..s.len() - last.len()];
        for (seg, finder) in segs[1..segs.len() - 1]
            .iter()
            .zip(&self.finders[1..segs.len() - 1])
        {
            let found = match finder {
                Some(f) => f.find(rest.as_bytes()),
                None => find_short(rest.as_bytes(), seg.as_bytes()),
            };
            match found {
                Some(i) => rest = &rest[i + seg.len()..],
                None => return false,
            }
        }
        true
    }
}

/// `m[key]`; small maps are searched linearly, which beats hashing the key.
#[inline(always)]
pub(crate) fn map_get<'m>(m: &'m crate::value::Map, key: &str) -> Option<&'m Value> {
    if m.len() <= 8 {
        for (k, v) in m {
            if short_eq(k.as_bytes(), key.as_bytes()) {
                return Some(v);
            }
        }
        None
    } else {
        map_get_hashed(m, key)
    }
}

#[inline(never)]
fn map_get_hashed<'m>(m: &'m crate::value::Map, key: &str) -> Option<&'m Value> {
    m.get(key)
}

/// Leftmost occurrence of `needle` in `hay`: a plain scan, faster than a general substring searcher on
/// the short strings payload fields hold.
fn find_short(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let Some((&first, tail)) = needle.split_first() else {
        return Some(0);
    };
    let last_start = hay.len().checked_sub(needle.len())?;
    let mut i = 0;
    while i <= last_start {
        if hay[i] == first && short_eq(&hay[i + 1..i + needle.len()], tail) {
            return Some(i);
        }
        i += 1;
    }
    None
}

#[inline(always)]
pub(crate) fn has_prefix(s: &str, p: &str) -> bool {
    s.len() >= p.len() && short_eq(&s.as_bytes()[..p.len()], p.as_bytes())
}

#[inline(always)]
pub(crate) fn has_suffix(s: &str, p: &str) -> bool {
    s.len() >= p.len() && short_eq(&s.as_bytes()[s.len() - p.len()..], p.as_bytes())
}

/// Byte equality without a call to `memcmp` (whose call cost dominates on the few bytes compared here):
/// whole words, the last one overlapping the one before; below eight bytes, two overlapping halves.
#[inline(always)]
pub(crate) fn short_eq(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let w8 = |s: &[u8], i: usize| u64::from_ne_bytes(s[i..i + 8].try_into().expect("8 bytes"));
    let w4 = |s: &[u8], i: usize| u32::from_ne_bytes(s[i..i + 4].try_into().expect("4 bytes"));
    let w2 = |s: &[u8], i: usize| u16::from_ne_bytes(s[i..i + 2].try_into().expect("2 bytes"));
    match n {
        0 => true,
        1 => a[0] == b[0],
        2..=3 => w2(a, 0) == w2(b, 0) && w2(a, n - 2) == w2(b, n - 2),
        4..=7 => w4(a, 0) == w4(b, 0) && w4(a, n - 4) == w4(b, n - 4),
        _ => {
            let mut i = 0;
            while i + 8 < n {
                if w8(a, i) != w8(b, i) {
                    return false;
                }
                i += 8;
            }
            w8(a, n - 8) == w8(b, n - 8)
        }
    }
}

/// A node of a compiled pattern.
#[derive(Clone)]
pub(crate) enum Node {
    Any,
    Exists(bool),
    Empty,
    Eq(Lit),
    /// EventBridge exact value.
    StrictEq(Lit),
    Cmp(CmpOp, Lit),
    /// EventBridge `numeric`: JSON numbers only.
    Numeric(Vec<(CmpOp, Value)>),
    Regex(String, Regex),
    OneOf(Vec<Node>),
    Not(Box<Node>),
    And(Vec<Node>),
    Or(Vec<Node>),
    Map(Vec<(String, Node)>),
    List(Vec<Node>),
    /// EventBridge: against a list, any element matches; otherwise the value itself.
    EachOrSelf(Box<Node>),
    Prefix(String),
    Suffix(String),
    /// The lower-cased operand.
    EqIgnoreCase(String),
    PrefixIgnoreCase(String),
    SuffixIgnoreCase(String),
    Wildcard(Wildcard),
    Cidr(Cidr),
    Func(Arc<str>, Callback),
}

fn lower(s: &str) -> std::borrow::Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase() || !b.is_ascii()) {
        std::borrow::Cow::Owned(s.to_lowercase())
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

impl Node {
    /// Evaluates against a payload value; `None` is a missing key.
    pub(crate) fn eval(&self, v: Option<&Value>) -> bool {
        match self {
            Node::Exists(want) => v.is_some() == *want,
            Node::Or(ns) => ns.iter().any(|n| n.eval(v)),
            Node::OneOf(ns) => ns.iter().any(|n| n.eval(v)),
            Node::And(ns) => ns.iter().all(|n| n.eval(v)),
            // Nested lists are flattened, as EventBridge does (`coordinates: [[[x, y]]]`).
            Node::EachOrSelf(n) => match v {
                Some(Value::List(items)) => items.iter().any(|x| self.eval(Some(x))),
                other => n.eval(other),
            },
            _ => match v {
                None => false,
                Some(v) => self.eval_present(v),
            },
        }
    }

    fn eval_present(&self, v: &Value) -> bool {
        match self {
            Node::Any => true,
            Node::Empty => match v {
                Value::Null => true,
                Value::String(s) => s.is_empty(),
                Value::List(l) => l.is_empty(),
                Value::Map(m) => m.is_empty(),
                Value::Bytes(b) => b.is_empty(),
                _ => false,
            },
            Node::Eq(l) => l.equals(v),
            Node::StrictEq(l) => l.equals_strict(v),
            Node::Cmp(op, l) => l.compare(v).is_some_and(|o| op.accepts(o)),
            Node::Numeric(conds) => {
                v.is_number()
                    && conds
                        .iter()
                        .all(|(op, n)| v.cmp_numeric(n).is_some_and(|o| op.accepts(o)))
            }
            Node::Regex(_, re) => v.as_str().is_some_and(|s| re.is_match(s)),
            Node::Not(n) => !n.eval(Some(v)),
            Node::Map(entries) => match v {
                Value::Map(m) => entries.iter().all(|(k, n)| n.eval(map_get(m, k))),
                _ => false,
            },
            Node::List(items) => match v {
                Value::List(l) => items.iter().all(|p| l.iter().any(|x| p.eval(Some(x)))),
                other => items.iter().any(|p| p.eval(Some(other))),
            },
            Node::Prefix(p) => v.as_str().is_some_and(|s| has_prefix(s, p)),
            Node::Suffix(p) => v.as_str().is_some_and(|s| has_suffix(s, p)),
            Node::EqIgnoreCase(p) => v.as_str().is_some_and(|s| lower(s) == p.as_str()),
            Node::PrefixIgnoreCase(p) => {
                v.as_str().is_some_and(|s| lower(s).starts_with(p.as_str()))
            }
            Node::SuffixIgnoreCase(p) => v.as_str().is_some_and(|s| lower(s).ends_with(p.as_str())),
            Node::Wildcard(w) => v.as_str().is_some_and(|s| w.matches(s)),
            Node::Cidr(c) => v.as_str().is_some_and(|s| c.contains(s)),
            Node::Func(_, f) => catch_unwind(AssertUnwindSafe(|| f(v))).unwrap_or(false),
            Node::Exists(_) | Node::Or(_) | Node::OneOf(_) | Node::And(_) | Node::EachOrSelf(_) => {
                self.eval(Some(v))
            }
        }
    }

    /// Why this node does not match `v` (which it must not); `path` is the payload path so far.
    pub(crate) fn explain(&self, v: Option<&Value>, path: &mut Vec<String>) -> Explanation {
        match (self, v) {
            (Node::Map(entries), Some(Value::Map(m))) => {
                for (k, n) in entries {
                    let child = m.get(k.as_str());
                    if !n.eval(child) {
                        path.push(k.clone());
                        let e = n.explain(child, path);
                        path.pop();
                        return e;
                    }
                }
            }
            (Node::And(ns), _) => {
                if let Some(n) = ns.iter().find(|n| !n.eval(v)) {
                    return n.explain(v, path);
                }
            }
            (Node::EachOrSelf(n), Some(x)) if !matches!(x, Value::List(_)) => {
                return n.explain(v, path)
            }
            (Node::EachOrSelf(n), None) => return n.explain(v, path),
            (Node::List(items), Some(Value::List(l))) => {
                if let Some(p) = items.iter().find(|p| !l.iter().any(|x| p.eval(Some(x)))) {
                    return Explanation::new(path, format!("a list containing {p}"), v);
                }
            }
            _ => {}
        }
        Explanation::new(path, self.to_string(), v)
    }

    /// Compiles an expression; `path` locates it inside the whole pattern, for errors.
    pub(crate) fn compile(
        e: Expr,
        path: &mut Vec<String>,
        callbacks: &Callbacks,
    ) -> Result<Node, PatternError> {
        // Errors point at the operator inside the pattern (`/a/$gt`), as the JSON format spells it.
        let err = |path: &[String], op: &str, msg: String| {
            let mut p = path.to_vec();
            p.push(op.to_owned());
            PatternError::at(&p, msg)
        };
        Ok(match e {
            Expr::Eq(l) => Node::Eq(Lit::new(l)),
            Expr::Gt(l) => cmp_node(CmpOp::Gt, l, path)?,
            Expr::Gte(l) => cmp_node(CmpOp::Gte, l, path)?,
            Expr::Lt(l) => cmp_node(CmpOp::Lt, l, path)?,
            Expr::Lte(l) => cmp_node(CmpOp::Lte, l, path)?,
            Expr::Match(src) => {
                let re = Regex::new(&format!("^(?:{src})")).map_err(|e| {
                    err(
                        path,
                        "$match",
                        format!("invalid regular expression `{src}`: {e}"),
                    )
                })?;
                Node::Regex(src, re)
            }
            Expr::OneOf(opts) => {
                if opts.is_empty() {
                    return Err(err(
                        path,
                        "$one_of",
                        "one_of needs at least one option".into(),
                    ));
                }
                Node::OneOf(compile_all(opts, "$one_of", path, callbacks)?)
            }
            Expr::Not(inner) => {
                path.push("$not".into());
                let n = Node::compile(*inner, path, callbacks)?;
                path.pop();
                Node::Not(Box::new(n))
            }
            Expr::And(all) => {
                if all.len() < 2 {
                    return Err(err(
                        path,
                        "$and",
                        format!("and_ needs at least two operands, got {}", all.len()),
                    ));
                }
                Node::And(compile_all(all, "$and", path, callbacks)?)
            }
            Expr::Or(any) => {
                if any.len() < 2 {
                    return Err(err(
                        path,
                        "$or",
                        format!("or_ needs at least two operands, got {}", any.len()),
                    ));
                }
                Node::Or(compile_all(any, "$or", path, callbacks)?)
            }
            Expr::Any => Node::Any,
            Expr::Empty => Node::Empty,
            Expr::Exists(b) => Node::Exists(b),
            Expr::Map(entries) => {
                let mut out = Vec::with_capacity(entries.len());
                for (k, e) in entries {
                    path.push(k.clone());
                    let n = Node::compile(e, path, callbacks)?;
                    path.pop();
                    out.push((k, n));
                }
                Node::Map(out)
            }
            Expr::List(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, e) in items.into_iter().enumerate() {
                    path.push(i.to_string());
                    out.push(Node::compile(e, path, callbacks)?);
                    path.pop();
                }
                Node::List(out)
            }
            Expr::Prefix(p) => Node::Prefix(p),
            Expr::Suffix(s) => Node::Suffix(s),
            Expr::EqIgnoreCase(s) => Node::EqIgnoreCase(s.to_lowercase()),
            Expr::Wildcard(w) => Node::Wildcard(
                Wildcard::parse(&w)
                    .map_err(|m| err(path, "$wildcard", format!("invalid wildcard `{w}`: {m}")))?,
            ),
            Expr::Cidr(c) => Node::Cidr(
                Cidr::parse(&c)
                    .map_err(|m| err(path, "$cidr", format!("invalid CIDR block `{c}`: {m}")))?,
            ),
            Expr::Func(id, f) => Node::Func(id, f),
            Expr::FuncRef(id) => match callbacks.get(&id) {
                Some(f) => Node::Func(Arc::from(id.as_str()), f.clone()),
                None => return Err(err(path, "$fn", format!("unknown callback id `{id}`"))),
            },
        })
    }
}

fn compile_all(
    exprs: Vec<Expr>,
    op: &str,
    path: &mut Vec<String>,
    callbacks: &Callbacks,
) -> Result<Vec<Node>, PatternError> {
    let mut out = Vec::with_capacity(exprs.len());
    path.push(op.to_owned());
    for (i, e) in exprs.into_iter().enumerate() {
        path.push(i.to_string());
        out.push(Node::compile(e, path, callbacks)?);
        path.pop();
    }
    path.pop();
    Ok(out)
}

fn cmp_node(op: CmpOp, l: Literal, path: &[String]) -> Result<Node, PatternError> {
    let ok = match &l {
        Literal::Date(_) => true,
        Literal::Value(v) => match v {
            Value::Int(_) | Value::Decimal(_) | Value::String(_) | Value::DateTime(_) => {
                !matches!(v, Value::Decimal(d) if d.is_nan())
            }
            Value::Float(f) => !f.is_nan(),
            _ => false,
        },
    };
    if !ok {
        let what = match &l {
            Literal::Value(Value::Float(_) | Value::Decimal(_)) => "NaN".to_owned(),
            Literal::Value(v) => format!("a {}", v.kind()),
            Literal::Date(_) => unreachable!(),
        };
        let mut p = path.to_vec();
        p.push(format!("${}", op.name()));
        return Err(PatternError::at(
            &p,
            format!(
                "{} needs a number, string, date or date-time operand, got {what}",
                op.name()
            ),
        ));
    }
    Ok(Node::Cmp(op, Lit::new(l)))
}

/// Renders a value for messages: tagged JSON, shortened.
pub(crate) fn render_value(v: &Value) -> String {
    let s = json::to_tagged_string(v);
    if s.len() <= 96 {
        return s;
    }
    let mut end = 93;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

fn render_literal(l: &Literal) -> String {
    match l {
        Literal::Value(v) => render_value(v),
        Literal::Date(d) => format!("date({:04}-{:02}-{:02})", d.year(), d.month(), d.day()),
    }
}

fn write_list(f: &mut fmt::Formatter<'_>, name: &str, ns: &[Node]) -> fmt::Result {
    f.write_str(name)?;
    f.write_char('(')?;
    for (i, n) in ns.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{n}")?;
    }
    f.write_char(')')
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Node::Any => f.write_str("any_()"),
            Node::Exists(b) => write!(f, "exists({b})"),
            Node::Empty => f.write_str("empty()"),
            Node::Eq(l) | Node::StrictEq(l) => f.write_str(&render_literal(&l.lit)),
            Node::Cmp(op, l) => write!(f, "{}({})", op.name(), render_literal(&l.lit)),
            Node::Numeric(conds) => {
                f.write_str("numeric(")?;
                for (i, (op, n)) in conds.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{} {}", op.symbol(), render_value(n))?;
                }
                f.write_char(')')
            }
            Node::Regex(src, _) => write!(f, "match({})", render_value(&Value::from(src.as_str()))),
            Node::OneOf(ns) => write_list(f, "one_of", ns),
            Node::Not(n) => write!(f, "not_({n})"),
            Node::And(ns) => write_list(f, "and_", ns),
            Node::Or(ns) => write_list(f, "or_", ns),
            Node::Map(entries) => {
                f.write_char('{')?;
                for (i, (k, n)) in entries.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}: {n}", render_value(&Value::from(k.as_str())))?;
                }
                f.write_char('}')
            }
            Node::List(ns) => {
                f.write_char('[')?;
                for (i, n) in ns.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{n}")?;
                }
                f.write_char(']')
            }
            Node::EachOrSelf(n) => write!(f, "{n}"),
            Node::Prefix(p) => write!(f, "prefix({})", render_value(&Value::from(p.as_str()))),
            Node::Suffix(p) => write!(f, "suffix({})", render_value(&Value::from(p.as_str()))),
            Node::EqIgnoreCase(p) => write!(
                f,
                "eq_ignore_case({})",
                render_value(&Value::from(p.as_str()))
            ),
            Node::PrefixIgnoreCase(p) => {
                write!(
                    f,
                    "prefix_ignore_case({})",
                    render_value(&Value::from(p.as_str()))
                )
            }
            Node::SuffixIgnoreCase(p) => {
                write!(
                    f,
                    "suffix_ignore_case({})",
                    render_value(&Value::from(p.as_str()))
                )
            }
            Node::Wildcard(w) => write!(
                f,
                "wildcard({})",
                render_value(&Value::from(w.source.as_str()))
            ),
            Node::Cidr(c) => write!(f, "cidr({})", render_value(&Value::from(c.source.as_str()))),
            Node::Func(id, _) => write!(f, "fn({id})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_eq_is_byte_equality() {
        let base: Vec<u8> = (0..40u8).map(|i| b'a' + i % 26).collect();
        for n in 0..40 {
            let a = &base[..n];
            assert!(short_eq(a, a));
            assert!(!short_eq(a, &base[..n + 1]));
            for at in 0..n {
                let mut b = a.to_vec();
                b[at] ^= 0x20;
                assert!(!short_eq(a, &b), "{n} {at}");
            }
        }
    }

    #[test]
    fn wildcards_match_like_globs() {
        let w = |p: &str, s: &str| Wildcard::parse(p).unwrap().matches(s);
        assert!(w("*ON*", "MISSION"));
        assert!(w("*ON*", "ON"));
        assert!(!w("*ON*", "O"));
        assert!(w("C*H", "CHURCH"));
        assert!(!w("C*H", "CH2"));
        assert!(w("*O*E*", "DOLORES"));
        assert!(!w("*O*E*", "EO"));
        assert!(w("a*a*a", "aaa"));
        assert!(!w("a*a*a", "aa"));
        assert!(w("*", ""));
        assert!(w("x\\*y", "x*y"));
        assert!(!w("x\\*y", "xzy"));
        assert_eq!(find_short(b"abc", b""), Some(0));
        assert_eq!(find_short(b"ab", b"abc"), None);
        assert_eq!(find_short(b"xxabab", b"ab"), Some(2));
        // Long segments (the substring searcher) agree with short ones.
        let long = "x".repeat(40);
        assert!(w(&format!("*{long}*"), &format!("ab{long}cd")));
        assert!(!w(&format!("*{long}y*"), &format!("ab{long}cd")));
        assert!(w(&format!("a*{long}*{long}*b"), &format!("a{long}{long}b")));
        assert!(!w(&format!("a*{long}*{long}*b"), &format!("a{long}b")));
    }

    /// The ratio of the median times of `slow` and `fast`, measured interleaved over 7 runs each.
    fn median_ratio(slow: impl Fn() -> bool, fast: impl Fn() -> bool) -> f64 {
        let time = |f: &dyn Fn() -> bool| {
            let t0 = std::time::Instant::now();
            std::hint::black_box(f());
            t0.elapsed().as_secs_f64()
        };
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for _ in 0..7 {
            a.push(time(&slow));
            b.push(time(&fast));
        }
        a.sort_by(f64::total_cmp);
        b.sort_by(f64::total_cmp);
        a[3] / b[3].max(1e-7)
    }

    /// Whether `measure` gives a ratio under `bound` in one of three tries: a busy machine can spoil one
    /// measurement, while a quadratic algorithm fails all three by far.
    fn ratio_under(bound: f64, measure: impl Fn() -> f64) -> Result<(), Vec<f64>> {
        let mut seen = Vec::new();
        for _ in 0..3 {
            let r = measure();
            if r < bound {
                return Ok(());
            }
            seen.push(r);
        }
        Err(seen)
    }

    #[test]
    fn a_pathological_wildcard_is_matched_in_linear_time() {
        // `*` + n/9 × `a` + `b*` against n × `a`: a search restarted at every position costs n²/9
        // comparisons; a linear one, a few passes. Four times the input may cost about four times the
        // time (linear), not sixteen (quadratic); the bound of 8 leaves room for a noisy machine.
        let case = |n: usize| {
            let w = Wildcard::parse(&format!("*{}b*", "a".repeat(n / 9))).unwrap();
            (w, "a".repeat(n))
        };
        let (small, large) = (case(225_000), case(900_000));
        assert!(!large.0.matches(&large.1));
        let scaling = ratio_under(8.0, || {
            median_ratio(|| large.0.matches(&large.1), || small.0.matches(&small.1))
        });
        assert_eq!(
            scaling,
            Ok(()),
            "4× the input took these multiples of the time"
        );
        // And against a linear baseline on the same 900 KB: one pass looking for a byte that is not there.
        let w = Wildcard::parse(&format!("*{}b*", "a".repeat(100_000))).unwrap();
        let s = &large.1;
        let baseline = ratio_under(50.0, || {
            median_ratio(
                || w.matches(s),
                || s.bytes().any(|b| std::hint::black_box(b) == b'b'),
            )
        });
        assert_eq!(
            baseline,
            Ok(()),
            "the glob took these multiples of a byte scan"
        );
    }

    #[test]
    fn fast_datetime_agrees_with_the_general_reader() {
        for text in [
            "2020-06-12T17:29:58",
            "2020-06-12T17:29:58.000",
            "2020-06-12T17:29:58.123456789",
            "2020-06-12T17:29:58Z",
            "2020-06-12T17:29:58.5+02:00",
            "2020-06-12T00:10:00-03:30",
            "2020-02-29T23:59:59",
        ] {
            let fast = fast_datetime(text.as_bytes());
            assert!(fast.is_some(), "{text}");
            assert_eq!(fast, json::parse_datetime(text).ok(), "{text}");
        }
        for text in [
            "2020-06-12 17:29:58",
            "2020-06-12T17:29",
            "2020-02-30T10:00:00",
            "2020-06-12T24:00:00",
            "2020-06-12T17:29:58.",
            "2020-06-12T17:29:58.1234567891",
            "2020-06-12T17:29:58+0200",
            "2020-06-12T17:29:58Zx",
        ] {
            assert_eq!(fast_datetime(text.as_bytes()), None, "{text}");
        }
        assert_eq!(
            parse_temporal("2020-06-12 17:29:58"),
            json::parse_datetime("2020-06-12 17:29:58")
                .ok()
                .map(Temporal::DateTime)
        );
    }
}
