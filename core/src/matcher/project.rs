//! Reading from JSON text only the fields a set of patterns looks at.
//!
//! Matching a raw JSON body normally costs a full [`json::parse`](crate::json::parse) and then a match; the
//! parse dominates. A [`Projection`] knows which keys the patterns read; it scans the text, skips every
//! other member without building it, and parses only the values the patterns need (with
//! [`json::parse`](crate::json::parse)). Matching the projected value gives the same answer as matching the
//! fully parsed one.

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
                .find(|(k, _)| k.as_str() == key)
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
    /// use [`json::parse`](crate::json::parse) to validate a whole body.
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
            match self.bytes[self.pos..]
                .iter()
                .position(|&b| b == b'"' || b == b'\\')
            {
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

    /// Skips one value.
    fn skip_value(&mut self) -> Result<(), ProjectionError> {
        self.ws();
        match self.peek() {
            Some(b'"') => self.skip_string().map(|_| ()),
            Some(open @ (b'{' | b'[')) => {
                // In well-formed JSON each bracket kind balances on its own, so skipping a list only
                // needs quotes and square brackets (a map: quotes and braces): three bytes, found with
                // SIMD.
                let close = if open == b'[' { b']' } else { b'}' };
                let mut depth = 0usize;
                loop {
                    let Some(off) = memchr::memchr3(b'"', open, close, &self.bytes[self.pos..])
                    else {
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

    /// Parses the next value in full with the JSON reader.
    /// Parses the next value in full into `slot` (a plain string reuses the slot's buffer).
    fn full_into(&mut self, slot: &mut Value) -> Result<(), ProjectionError> {
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
                                self.value_into(f, depth + 1, &mut map[i])?;
                                if i < 64 {
                                    seen |= 1 << i;
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
