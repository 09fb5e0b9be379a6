//! Reading from JSON text only the fields a set of patterns looks at.
//!
//! Matching a raw JSON body normally costs a full [`json::parse`](crate::json::parse) and then a match; the
//! parse dominates. A [`Projection`] knows which keys the patterns read; it scans the text, skips every
//! other member without building it, and parses only the values the patterns need (as
//! [`json::parse`](crate::json::parse) would). Matching the projected value gives the same answer as
//! matching the fully parsed one, except for a read key repeated in one object (see
//! [`Projection::parse`]).

use std::collections::HashMap;
use std::fmt;

use super::node::{short_eq, Node};
use super::{Pattern, PayloadKind};
use crate::json;
use crate::value::{Map, Value};

/// The keys a set of patterns reads, as a tree.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Fields {
    /// The whole value is needed.
    whole: bool,
    children: HashMap<String, Fields, foldhash::fast::RandomState>,
    /// After [`finish`](Fields::finish): the children of a small set, searched linearly (cheaper than
    /// hashing for a handful of keys); `children` is then empty.
    small: Vec<(String, Fields)>,
}

impl Fields {
    fn whole() -> Fields {
        Fields {
            whole: true,
            children: HashMap::default(),
            small: Vec::new(),
        }
    }

    /// Prepares the tree for lookups.
    fn finish(&mut self) {
        for f in self.children.values_mut() {
            f.finish();
        }
        if self.children.len() <= 12 {
            self.small = self.children.drain().collect();
        }
    }

    fn len(&self) -> usize {
        self.children.len() + self.small.len()
    }

    #[inline]
    fn child(&self, key: &str) -> Option<&Fields> {
        if self.children.is_empty() {
            self.small
                .iter()
                .find(|(k, _)| short_eq(k.as_bytes(), key.as_bytes()))
                .map(|(_, f)| f)
        } else {
            self.children.get(key)
        }
    }

    fn merge(&mut self, other: Fields) {
        if self.whole || other.whole {
            *self = Fields::whole();
            return;
        }
        for (k, f) in other.children {
            self.children.entry(k).or_default().merge(f);
        }
    }

    /// Adds what node `n` reads of the value it is applied to.
    fn add(&mut self, n: &Node) {
        if self.whole {
            return;
        }
        match n {
            Node::Map(entries) => {
                for (k, child) in entries {
                    let mut f = Fields::default();
                    f.add(child);
                    self.children.entry(k.clone()).or_default().merge(f);
                }
            }
            Node::EachOrSelf(inner) => self.add(inner),
            Node::And(ns) | Node::Or(ns) | Node::OneOf(ns) => {
                for c in ns {
                    self.add(c);
                }
            }
            Node::Not(inner) => self.add(inner),
            // Reads presence only.
            Node::Exists(_) | Node::Any => {}
            // Everything else looks at the value itself (scalars, lists, emptiness of maps, callbacks).
            _ => *self = Fields::whole(),
        }
    }
}

/// Parses JSON text into a value holding only the fields some patterns read (see the module docs).
#[derive(Clone, Debug, Default)]
pub struct Projection {
    fields: Fields,
}

/// JSON text that could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ProjectionError {
    /// Byte offset of the problem.
    pub offset: usize,
    /// What was wrong.
    pub message: String,
}

impl fmt::Display for ProjectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid JSON at byte {}: {}", self.offset, self.message)
    }
}

impl Projection {
    /// The projection that keeps what any of `patterns` reads.
    pub fn for_patterns<'a>(patterns: impl IntoIterator<Item = &'a Pattern>) -> Projection {
        let mut fields = Fields::default();
        for p in patterns {
            if p.kind() != PayloadKind::Any {
                // The subscriber kind reads `protocol` and whether `event` is a map.
                fields
                    .children
                    .entry("protocol".into())
                    .or_default()
                    .merge(Fields::whole());
                fields.children.entry("event".into()).or_default();
            }
            fields.add(p.root());
        }
        fields.finish();
        Projection { fields }
    }

    /// Reads `text`, keeping only the needed fields. Skipped members are checked for structure only
    /// (terminated strings, balanced brackets of the skipped container's kind), not fully validated:
    /// use [`json::parse`](crate::json::parse) to validate a whole body. Once every key read at the top
    /// level is found, the rest of the text is not read (nor checked). A read key repeated in one object
    /// keeps its first value (`json::parse` keeps the last). See `docs/patterns.md`, section
    /// "Matching raw JSON cheaply: projections".
    pub fn parse(&self, text: &str) -> Result<Value, ProjectionError> {
        let mut v = Value::Null;
        self.parse_into(text, &mut v)?;
        Ok(v)
    }

    /// [`parse`](Projection::parse) into an existing value, reusing its maps, lists and strings: with a
    /// value kept from one message to the next, reading payloads of the same shape does not allocate.
    /// On error, `out` holds an unspecified value.
    pub fn parse_into(&self, text: &str, out: &mut Value) -> Result<(), ProjectionError> {
        let mut s = Scanner {
            text,
            bytes: text.as_bytes(),
            pos: 0,
        };
        s.value_into(&self.fields, 0, out)?;
        s.ws();
        if s.pos != s.bytes.len() {
            return Err(s.err("unexpected data after the JSON value"));
        }
        Ok(())
    }
}

const MAX_DEPTH: usize = json::DEFAULT_MAX_DEPTH;

/// Where `key` is in `map`: a linear search for the small maps projections build.
#[inline]
fn index_of(map: &Map, key: &str) -> Option<usize> {
    if map.len() <= 8 {
        map.keys()
            .position(|k| short_eq(k.as_bytes(), key.as_bytes()))
    } else {
        map.get_index_of(key)
    }
}

/// The first `"` or `\\` in `b`: eight bytes at a time (the strings of a payload are short: a word-wise
/// scan beats both a byte loop and a SIMD search's setup).
#[inline(always)]
fn find_quote_or_backslash(b: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let mut i = 0;
    while i + 8 <= b.len() {
        let w = u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));
        let q = w ^ (LO * u64::from(b'"'));
        let e = w ^ (LO * u64::from(b'\\'));
        // A byte's high bit is set where it equals the searched byte; false positives can only follow
        // a true one, so the lowest set bit is exact.
        let m = ((q.wrapping_sub(LO) & !q) | (e.wrapping_sub(LO) & !e)) & HI;
        if m != 0 {
            return Some(i + (m.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    b[i..]
        .iter()
        .position(|&c| c == b'"' || c == b'\\')
        .map(|p| i + p)
}

struct Scanner<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Scanner<'a> {
    fn err(&self, message: &str) -> ProjectionError {
        ProjectionError {
            offset: self.pos,
            message: message.to_owned(),
        }
    }

    #[inline]
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn expect(&mut self, b: u8, what: &str) -> Result<(), ProjectionError> {
        self.ws();
        if self.peek() == Some(b) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.err(what))
        }
    }

    /// Skips a string starting at `pos` (on its opening quote); returns whether it had escapes.
    #[inline(always)]
    fn skip_string(&mut self) -> Result<bool, ProjectionError> {
        let mut escaped = false;
        self.pos += 1;
        loop {
            match find_quote_or_backslash(&self.bytes[self.pos..]) {
                None => {
                    self.pos = self.bytes.len();
                    return Err(self.err("unterminated string"));
                }
                Some(i) => {
                    self.pos += i;
                    if self.bytes[self.pos] == b'"' {
                        self.pos += 1;
                        return Ok(escaped);
                    }
                    escaped = true;
                    self.pos += 2;
                    if self.pos > self.bytes.len() {
                        return Err(self.err("unterminated string"));
                    }
                }
            }
        }
    }

    /// Skips to the end of a list or map: `depth` brackets of its kind are already open (0 when `pos` is
    /// on the opening one).
    fn skip_brackets(
        &mut self,
        open: u8,
        close: u8,
        mut depth: usize,
    ) -> Result<(), ProjectionError> {
        // In well-formed JSON each bracket kind balances on its own, so skipping a list only needs
        // quotes and square brackets (a map: quotes and braces): three bytes, found with SIMD.
        loop {
            let Some(off) = memchr::memchr3(b'"', open, close, &self.bytes[self.pos..]) else {
                self.pos = self.bytes.len();
                return Err(self.err("unterminated list or map"));
            };
            self.pos += off;
            match self.bytes[self.pos] {
                b'"' => {
                    self.skip_string()?;
                }
                b if b == open => {
                    depth += 1;
                    if depth > MAX_DEPTH {
                        return Err(self.err("nesting too deep"));
                    }
                    self.pos += 1;
                }
                _ => {
                    depth -= 1;
                    self.pos += 1;
                    if depth == 0 {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// Skips one value.
    fn skip_value(&mut self) -> Result<(), ProjectionError> {
        self.ws();
        match self.peek() {
            Some(b'"') => self.skip_string().map(|_| ()),
            Some(open @ (b'{' | b'[')) => {
                let close = if open == b'[' { b']' } else { b'}' };
                self.skip_brackets(open, close, 0)
            }
            Some(_) => {
                let start = self.pos;
                while let Some(b) = self.peek() {
                    if matches!(b, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t') {
                        break;
                    }
                    self.pos += 1;
                }
                if self.pos == start {
                    return Err(self.err("expected a value"));
                }
                Ok(())
            }
            None => Err(self.err("expected a value")),
        }
    }

    /// Parses the next value in full into `slot`. Plain strings, `null`, booleans, numbers and lists of
    /// them are read directly, reusing the slot's string and list buffers; anything else (maps, escapes,
    /// unusual numbers, errors) goes through the JSON reader, so the result is always what
    /// [`json::parse`](crate::json::parse) gives.
    fn full_into(&mut self, slot: &mut Value) -> Result<(), ProjectionError> {
        self.ws();
        let start = self.pos;
        if self.fast_into(slot, 0) {
            return Ok(());
        }
        self.pos = start;
        self.json_into(slot)
    }

    /// Reads a number token at `pos` the way the JSON reader does, when it is one of the common forms
    /// (an integer of at most 18 digits, or a finite float); `None` (position unspecified) otherwise.
    #[inline]
    fn fast_number(&mut self) -> Option<Value> {
        let b = self.bytes;
        let start = self.pos;
        let mut i = start;
        let negative = b.get(i) == Some(&b'-');
        if negative {
            i += 1;
        }
        let int_start = i;
        match b.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => {
                while b.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
            }
            _ => return None,
        }
        let int_end = i;
        let mut integral = true;
        if b.get(i) == Some(&b'.') {
            integral = false;
            i += 1;
            let f = i;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            if i == f {
                return None;
            }
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            integral = false;
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            let e = i;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            if i == e {
                return None;
            }
        }
        // The token must end where the JSON reader would end it.
        if !matches!(
            b.get(i),
            None | Some(b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t')
        ) {
            return None;
        }
        self.pos = i;
        if integral {
            let digits = &b[int_start..int_end];
            if digits.len() > 18 {
                return None;
            }
            let mut v: i64 = 0;
            for &d in digits {
                v = v * 10 + i64::from(d - b'0');
            }
            return Some(Value::Int(if negative { -v } else { v }));
        }
        match self.text[start..i].parse::<f64>() {
            Ok(f) if f.is_finite() => Some(Value::Float(f)),
            _ => None,
        }
    }

    /// The fast path of [`full_into`](Scanner::full_into): `false` when the value is not one it reads
    /// (the caller then starts again at the same position with the JSON reader).
    fn fast_into(&mut self, slot: &mut Value, depth: usize) -> bool {
        match self.peek() {
            Some(b'"') => {
                let start = self.pos;
                let Ok(escaped) = self.skip_string() else {
                    return false;
                };
                let raw = &self.text[start + 1..self.pos - 1];
                if escaped || raw.bytes().any(|b| b < 0x20) {
                    return false;
                }
                match slot {
                    Value::String(s) => {
                        s.clear();
                        s.push_str(raw);
                    }
                    other => *other = Value::String(raw.to_owned()),
                }
                true
            }
            Some(b'n') if self.bytes[self.pos..].starts_with(b"null") => {
                self.pos += 4;
                *slot = Value::Null;
                self.ends_token()
            }
            Some(b't') if self.bytes[self.pos..].starts_with(b"true") => {
                self.pos += 4;
                *slot = Value::Bool(true);
                self.ends_token()
            }
            Some(b'f') if self.bytes[self.pos..].starts_with(b"false") => {
                self.pos += 5;
                *slot = Value::Bool(false);
                self.ends_token()
            }
            Some(b'-' | b'0'..=b'9') => match self.fast_number() {
                Some(v) => {
                    *slot = v;
                    true
                }
                None => false,
            },
            // Shallow lists only: deeper ones (and their depth limit) are left to the JSON reader.
            Some(b'[') if depth < 8 => {
                self.pos += 1;
                if !matches!(slot, Value::List(_)) {
                    *slot = Value::List(Vec::new());
                }
                let Value::List(list) = slot else {
                    unreachable!()
                };
                let mut n = 0;
                self.ws();
                if self.peek() == Some(b']') {
                    self.pos += 1;
                } else {
                    loop {
                        self.ws();
                        if n == list.len() {
                            list.push(Value::Null);
                        }
                        if !self.fast_into(&mut list[n], depth + 1) {
                            return false;
                        }
                        n += 1;
                        self.ws();
                        match self.peek() {
                            Some(b',') => self.pos += 1,
                            Some(b']') => {
                                self.pos += 1;
                                break;
                            }
                            _ => return false,
                        }
                    }
                }
                list.truncate(n);
                true
            }
            _ => false,
        }
    }

    /// Whether a literal (`null`, `true`, `false`) ends here, as the JSON reader requires.
    #[inline]
    fn ends_token(&self) -> bool {
        matches!(
            self.peek(),
            None | Some(b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t')
        )
    }

    /// Parses the next value with the JSON reader (plain strings reuse the slot's buffer).
    fn json_into(&mut self, slot: &mut Value) -> Result<(), ProjectionError> {
        self.ws();
        let start = self.pos;
        if self.peek() == Some(b'"') {
            // Plain strings (no escapes, no control characters) need no decoding.
            let escaped = self.skip_string()?;
            let raw = &self.text[start + 1..self.pos - 1];
            if !escaped && !raw.bytes().any(|b| b < 0x20) {
                match slot {
                    Value::String(s) => {
                        s.clear();
                        s.push_str(raw);
                    }
                    other => *other = Value::String(raw.to_owned()),
                }
                return Ok(());
            }
            self.pos = start;
        }
        self.skip_value()?;
        *slot = json::parse(&self.text[start..self.pos]).map_err(|e| ProjectionError {
            offset: start + e.offset,
            message: e.problem.to_string(),
        })?;
        Ok(())
    }

    /// Reads the next value into `slot`, keeping only `fields`, reusing the slot's maps, lists and
    /// strings where it can (no allocation when consecutive payloads have the same shape).
    fn value_into(
        &mut self,
        fields: &Fields,
        depth: usize,
        slot: &mut Value,
    ) -> Result<(), ProjectionError> {
        if fields.whole {
            return self.full_into(slot);
        }
        if depth > MAX_DEPTH {
            return Err(self.err("nesting too deep"));
        }
        self.ws();
        match self.peek() {
            Some(b'{') => {
                self.pos += 1;
                if !matches!(slot, Value::Map(_)) {
                    *slot = Value::Map(Map::with_capacity_and_hasher(
                        fields.len().min(16),
                        Default::default(),
                    ));
                }
                let Value::Map(map) = slot else {
                    unreachable!()
                };
                if map.len() > 64 {
                    map.clear();
                }
                // Which entries this payload set (by index; at most 64 entries are tracked).
                let mut seen: u64 = 0;
                let needed = fields.len();
                if needed == 0 && depth > 0 {
                    // Only the presence of this map is read: none of its members are kept.
                    self.skip_brackets(b'{', b'}', 1)?;
                    map.clear();
                    return Ok(());
                }
                self.ws();
                if self.peek() == Some(b'}') {
                    self.pos += 1;
                } else {
                    loop {
                        self.ws();
                        if self.peek() != Some(b'"') {
                            return Err(self.err("expected a key"));
                        }
                        let start = self.pos;
                        let escaped = self.skip_string()?;
                        let raw = &self.text[start + 1..self.pos - 1];
                        let key: std::borrow::Cow<'_, str> = if escaped {
                            match json::parse(&self.text[start..self.pos]) {
                                Ok(Value::String(s)) => s.into(),
                                _ => return Err(self.err("invalid key")),
                            }
                        } else {
                            raw.into()
                        };
                        self.expect(b':', "expected `:`")?;
                        match fields.child(key.as_ref()) {
                            Some(f) => {
                                let i = match index_of(map, key.as_ref()) {
                                    Some(i) => i,
                                    None => map.insert_full(key.into_owned(), Value::Null).0,
                                };
                                if i < 64 && seen & (1 << i) != 0 {
                                    // A repeated key: the first occurrence is kept.
                                    self.skip_value()?;
                                } else {
                                    self.value_into(f, depth + 1, &mut map[i])?;
                                    if i < 64 {
                                        seen |= 1 << i;
                                        if seen.count_ones() as usize == needed {
                                            // Every key read here is found: the rest of the map is
                                            // skipped (bracket matching only) or, for the whole
                                            // body, not read at all.
                                            if depth == 0 {
                                                self.pos = self.bytes.len();
                                            } else {
                                                self.skip_brackets(b'{', b'}', 1)?;
                                            }
                                            break;
                                        }
                                    }
                                }
                            }
                            None => self.skip_value()?,
                        }
                        self.ws();
                        match self.peek() {
                            Some(b',') => self.pos += 1,
                            Some(b'}') => {
                                self.pos += 1;
                                break;
                            }
                            _ => return Err(self.err("expected `,` or `}`")),
                        }
                    }
                }
                // Drop what an earlier payload left and this one did not set.
                if map.len() <= 64 && seen.count_ones() as usize != map.len() {
                    let mut i = 0;
                    map.retain(|_, _| {
                        let keep = seen & (1 << i) != 0;
                        i += 1;
                        keep
                    });
                }
                Ok(())
            }
            Some(b'[') => {
                self.pos += 1;
                if !matches!(slot, Value::List(_)) {
                    *slot = Value::List(Vec::new());
                }
                let Value::List(list) = slot else {
                    unreachable!()
                };
                let mut n = 0;
                self.ws();
                if self.peek() == Some(b']') {
                    self.pos += 1;
                } else {
                    loop {
                        if n == list.len() {
                            list.push(Value::Null);
                        }
                        self.value_into(fields, depth + 1, &mut list[n])?;
                        n += 1;
                        self.ws();
                        match self.peek() {
                            Some(b',') => self.pos += 1,
                            Some(b']') => {
                                self.pos += 1;
                                break;
                            }
                            _ => return Err(self.err("expected `,` or `]`")),
                        }
                    }
                }
                list.truncate(n);
                Ok(())
            }
            _ => self.full_into(slot),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matcher::{compile_pattern_json, Syntax};

    fn projection(pattern: &str) -> Projection {
        let p = compile_pattern_json(pattern, Syntax::EventBridge).unwrap();
        Projection::for_patterns([&p])
    }

    /// Values read whole (scalars, lists of scalars) come out exactly as the JSON reader gives them,
    /// fast path or not, fresh or into a reused value.
    #[test]
    fn whole_values_read_like_the_json_reader() {
        let proj = projection(r#"{"a": [{"numeric": [">", 0]}]}"#);
        let values = [
            "0",
            "-0",
            "12",
            "-123456789012345678",
            "1234567890123456789",
            "99999999999999999999999",
            "1.5",
            "-122.512345678901234",
            "1e3",
            "1E-3",
            "2.5e+10",
            "1e400",
            "-1e400",
            "null",
            "true",
            "false",
            r#""plain""#,
            r#""esc\"aped\u00e9""#,
            "[]",
            "[ ]",
            "[1, 2.5, [3, [4, null]], \"x\", true]",
            "[[[-122.5,37.7,0.0],[-122.4,37.8,0.0]]]",
            "[[[[[[[[[[1]]]]]]]]]]",
            "[1, {\"b\": 2}]",
            "{\"b\": [1, 2]}",
        ];
        let mut reused = Value::Null;
        for v in values {
            for ws in ["", " \n\t"] {
                let text = format!("{{\"x\": [1, 2], \"a\":{ws}{v}{ws}, \"z\": 3}}");
                let expected = json::parse(&format!("{{\"a\": {v}}}")).unwrap();
                assert_eq!(proj.parse(&text).unwrap(), expected, "{text}");
                proj.parse_into(&text, &mut reused).unwrap();
                assert_eq!(reused, expected, "{text} (reused)");
            }
        }
    }

    #[test]
    fn malformed_whole_values_are_rejected() {
        let proj = projection(r#"{"a": [{"numeric": [">", 0]}]}"#);
        for v in [
            "01",
            "1.",
            "-",
            "1e",
            "1e+",
            ".5",
            "+1",
            "nul",
            "nullx",
            "truex",
            "1x",
            "[1,]",
            "[1 2]",
            "[1",
            "[01]",
            "\"a",
            "\"tab\there\"",
        ] {
            let text = format!("{{\"a\": {v}}}");
            assert!(proj.parse(&text).is_err(), "{text}");
            assert!(json::parse(&text).is_err(), "{text}");
        }
    }

    #[test]
    fn fields_after_skipped_members_are_found() {
        let proj = projection(r#"{"properties": {"STREET": ["A"]}, "type": ["Feature"]}"#);
        let text = r#"{"geometry": {"type": "Polygon", "coordinates": [[[1.5, 2.5], [3, 4]]]},
            "properties": {"X": [1, {"y": "}"}], "STREET": "A", "Z": {"k": "]"}},
            "id": 7, "type": "Feature", "more": [1, 2]}"#;
        let v = proj.parse(text).unwrap();
        assert_eq!(
            json::to_string(&v).unwrap(),
            r#"{"properties":{"STREET":"A"},"type":"Feature"}"#
        );
    }

    #[test]
    fn stops_once_every_read_key_is_found() {
        let proj = projection(r#"{"p": {"a": [1]}, "q": [2]}"#);
        // Every read key found: the rest of the body is not read (nor checked).
        let v = proj.parse(r#"{"p": {"a": 1}, "q": 2, "z": [}"#).unwrap();
        assert_eq!(json::to_string(&v).unwrap(), r#"{"p":{"a":1},"q":2}"#);
        // Inside the body, the rest of a finished map is still skipped by bracket matching.
        assert!(proj
            .parse(r#"{"p": {"a": 1, "z": {"y": 2}, "q": 2}"#)
            .is_err());
        // A read key missing: the whole body is read and checked.
        assert!(proj.parse(r#"{"p": {"a": 1}, "z": [}"#).is_err());
        let v = proj.parse(r#"{"p": {"b": 1}, "z": [1], "q": 2}"#).unwrap();
        assert_eq!(json::to_string(&v).unwrap(), r#"{"p":{},"q":2}"#);
        // A map whose members are not read (presence only) is skipped whole.
        let proj = projection(r#"{"p": [{"exists": true}], "q": [2]}"#);
        let v = proj.parse(r#"{"p": {"a": {"b": "}"}}, "q": 2}"#).unwrap();
        assert_eq!(json::to_string(&v).unwrap(), r#"{"p":{},"q":2}"#);
    }

    #[test]
    fn a_repeated_key_keeps_its_first_value() {
        // json::parse keeps the last value of a repeated key; the projection keeps the first, whether
        // it stops early (every read key found) or reads the whole body (a read key missing).
        let proj = projection(r#"{"a": ["x"]}"#);
        let text = r#"{"a": "x", "a": "y"}"#;
        assert_eq!(
            json::to_string(&proj.parse(text).unwrap()).unwrap(),
            r#"{"a":"x"}"#
        );
        assert_eq!(
            json::to_string(&json::parse(text).unwrap()).unwrap(),
            r#"{"a":"y"}"#
        );
        let proj = projection(r#"{"a": ["x"], "b": ["z"]}"#);
        let text = r#"{"a": "x", "c": 1, "a": "y"}"#;
        assert_eq!(
            json::to_string(&proj.parse(text).unwrap()).unwrap(),
            r#"{"a":"x"}"#
        );
        let proj = projection(r#"{"m": {"a": ["x"], "b": ["z"]}}"#);
        let text = r#"{"m": {"a": "x", "a": "y"}, "m": {"a": "w", "b": "z"}}"#;
        let mut reused = Value::Null;
        proj.parse_into(text, &mut reused).unwrap();
        assert_eq!(json::to_string(&reused).unwrap(), r#"{"m":{"a":"x"}}"#);
    }

    #[test]
    fn finds_quotes_and_backslashes_word_by_word() {
        for len in 0..40 {
            for at in 0..len {
                for c in [b'"', b'\\'] {
                    let mut b = vec![b'a'; len];
                    // Bytes next to the searched ones in value, and high bytes, must not confuse it.
                    if at > 0 {
                        b[at - 1] = 0xff;
                    }
                    b[at] = c;
                    if at + 1 < len {
                        b[at + 1] = c - 1;
                    }
                    assert_eq!(find_quote_or_backslash(&b), Some(at), "{len} {at}");
                }
            }
            assert_eq!(find_quote_or_backslash(&vec![b'!'; len]), None);
        }
    }
}
