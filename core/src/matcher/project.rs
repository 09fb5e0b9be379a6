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

    /// The child read at `key` (a key's bytes), with the key as the patterns spell it.
    #[inline(always)]
    fn child_entry(&self, key: &[u8]) -> Option<(&String, &Fields)> {
        if self.children.is_empty() {
            for (k, f) in &self.small {
                if short_eq(k.as_bytes(), key) {
                    return Some((k, f));
                }
            }
            None
        } else {
            self.children.get_key_value(std::str::from_utf8(key).ok()?)
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
    /// (terminated strings; in maps, keys, colons and commas; in lists, balanced brackets of the list's
    /// kind), not fully validated:
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
            quotes: Quotes::new(),
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

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;
const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;

/// The high bit of every byte of `w` that is zero is set (exact: no carry crosses bytes).
#[inline(always)]
fn zero_bytes(w: u64) -> u64 {
    !(((w & LOW7).wrapping_add(LOW7)) | w) & HI
}

/// The high bits of a word's bytes (as [`zero_bytes`] sets them) packed into eight bits, byte `i` at bit
/// `i`.
#[inline(always)]
fn pack_high_bits(m: u64) -> u64 {
    ((m >> 7).wrapping_mul(0x0102_0408_1020_4080)) >> 56
}

/// Bit `i` set where byte `i` of `b` is `"`, `\` or a control character (below 0x20): where a string
/// can end, or stop being plain.
#[inline(always)]
fn quote_mask(b: &[u8; 64]) -> u64 {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    {
        quote_mask_sse2(b)
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
    {
        quote_mask_swar(b)
    }
}

/// [`quote_mask`] with SSE2 (part of every x86-64 target): sixteen bytes compared per instruction, and
/// one instruction to gather the results as bits, where the word-wise version spends about fifteen
/// operations per eight bytes. This is the only `unsafe` code of the matcher (the workspace denies
/// `unsafe_code`): the intrinsics are `unsafe fn`s, and the load reads through a raw pointer.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[allow(unsafe_code)]
#[inline(always)]
fn quote_mask_sse2(b: &[u8; 64]) -> u64 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_max_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8,
    };
    let mut mask = 0u64;
    for (i, chunk) in b.chunks_exact(16).enumerate() {
        // SAFETY: `chunk` is 16 bytes long and `_mm_loadu_si128` reads exactly 16 bytes from the
        // pointer, without any alignment requirement, so the read stays within `chunk`. The other
        // intrinsics only compute on registers. All of them need SSE2, which this target enables (the
        // `cfg` on this function).
        let bits = unsafe {
            let v = _mm_loadu_si128(chunk.as_ptr().cast::<__m128i>());
            let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
            let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
            // Unsigned `v <= 0x1f`: the bytes whose maximum with 0x1f is 0x1f.
            let limit = _mm_set1_epi8(0x1f);
            let control = _mm_cmpeq_epi8(_mm_max_epu8(v, limit), limit);
            _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), control))
        };
        // The mask holds 16 bits, one per byte.
        mask |= u64::from(bits as u16) << (16 * i);
    }
    mask
}

/// [`quote_mask`] eight bytes at a time, for targets without SSE2.
#[cfg_attr(
    all(target_arch = "x86_64", target_feature = "sse2", not(test)),
    allow(dead_code)
)]
#[inline(always)]
fn quote_mask_swar(b: &[u8; 64]) -> u64 {
    let mut mask = 0;
    for (i, chunk) in b.chunks_exact(8).enumerate() {
        let w = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        // Control characters are the bytes whose top three bits are zero.
        let m = zero_bytes(w ^ (LO * u64::from(b'"')))
            | zero_bytes(w ^ (LO * u64::from(b'\\')))
            | zero_bytes(w & (LO * 0xe0));
        mask |= pack_high_bits(m) << (8 * i);
    }
    mask
}

/// Where the quotes, backslashes and control characters of a text are, 64 bytes at a time. Scanning member after member,
/// the end of each string is then found from bits already computed (a shift and a count of trailing
/// zeros), instead of a search whose every step waits on the previous one.
struct Quotes {
    /// Offset of the block the mask describes.
    base: usize,
    /// Bit `i`: byte `base + i` is `"`, `\` or a control character (bytes past the end of the text are
    /// not).
    mask: u64,
}

impl Quotes {
    fn new() -> Quotes {
        // An empty block: the first search loads one.
        Quotes {
            base: usize::MAX - 64,
            mask: 0,
        }
    }

    /// The first `"`, `\` or control character in `b` at or after `from`.
    #[inline(always)]
    fn find(&mut self, b: &[u8], mut from: usize) -> Option<usize> {
        loop {
            let off = from.wrapping_sub(self.base);
            if off < 64 {
                let m = self.mask >> off;
                if m != 0 {
                    return Some(from + m.trailing_zeros() as usize);
                }
                from = self.base + 64;
            }
            if from >= b.len() {
                return None;
            }
            self.load(b, from);
        }
    }

    #[inline(never)]
    fn load(&mut self, b: &[u8], from: usize) {
        self.base = from;
        self.mask = match b.get(from..from + 64) {
            Some(block) => quote_mask(block.try_into().expect("64 bytes")),
            None => {
                // Padded with spaces, which are never flagged.
                let mut block = [b' '; 64];
                block[..b.len() - from].copy_from_slice(&b[from..]);
                quote_mask(&block)
            }
        };
    }
}

/// The first `"`, `\` or control character in `b`.
#[cfg(test)]
fn find_quote_or_backslash(b: &[u8]) -> Option<usize> {
    Quotes::new().find(b, 0)
}

struct Scanner<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    quotes: Quotes,
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
        let mut from = self.pos + 1;
        loop {
            match self.quotes.find(self.bytes, from) {
                None => {
                    self.pos = self.bytes.len();
                    return Err(self.err("unterminated string"));
                }
                Some(i) => match self.bytes[i] {
                    b'"' => {
                        self.pos = i + 1;
                        return Ok(escaped);
                    }
                    b'\\' => {
                        escaped = true;
                        from = i + 2;
                        if from > self.bytes.len() {
                            self.pos = self.bytes.len();
                            return Err(self.err("unterminated string"));
                        }
                    }
                    // A control character: not plain, but only the structure of skipped strings is
                    // checked.
                    _ => from = i + 1,
                },
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

    /// Skips the members of a map to past its closing brace: from just after its opening brace, or
    /// with `after_value` from just after a member's value. Member by member (keys, colons, commas),
    /// which costs less than bracket matching on maps of short members, until a list: from there by
    /// bracket matching. `depth` counts the maps being skipped.
    fn skip_map_rest(
        &mut self,
        mut after_value: bool,
        depth: usize,
    ) -> Result<(), ProjectionError> {
        if depth > MAX_DEPTH {
            return Err(self.err("nesting too deep"));
        }
        loop {
            self.ws();
            if after_value {
                match self.peek() {
                    Some(b',') => {
                        self.pos += 1;
                        self.ws();
                    }
                    Some(b'}') => {
                        self.pos += 1;
                        return Ok(());
                    }
                    _ => return Err(self.err("expected `,` or `}`")),
                }
            } else if self.peek() == Some(b'}') {
                self.pos += 1;
                return Ok(());
            }
            if self.peek() != Some(b'"') {
                return Err(self.err("expected a key"));
            }
            self.skip_string()?;
            if self.peek() == Some(b':') {
                self.pos += 1;
            } else {
                self.expect(b':', "expected `:`")?;
            }
            self.ws();
            match self.peek() {
                Some(b'"') => {
                    self.skip_string()?;
                }
                Some(b'{') => {
                    self.pos += 1;
                    self.skip_map_rest(false, depth + 1)?;
                }
                Some(b'[') => {
                    // Lists (coordinates…) are long and hold many brackets: the rest of this map
                    // is skipped by matching its braces, one SIMD search through the list.
                    return self.skip_brackets(b'{', b'}', 1);
                }
                _ => self.skip_value()?,
            }
            after_value = true;
        }
    }

    /// Skips one value.
    fn skip_value(&mut self) -> Result<(), ProjectionError> {
        self.ws();
        match self.peek() {
            Some(b'"') => self.skip_string().map(|_| ()),
            Some(b'{') => {
                self.pos += 1;
                self.skip_map_rest(false, 1)
            }
            Some(b'[') => self.skip_brackets(b'[', b']', 0),
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

    /// Reads a plain string (no escape, no control character) at `pos` into `slot`; `false` (and `pos`
    /// unchanged) for anything else.
    #[inline(always)]
    fn plain_string_into(&mut self, slot: &mut Value) -> bool {
        if self.peek() != Some(b'"') {
            return false;
        }
        let start = self.pos + 1;
        let Some(end) = self.quotes.find(self.bytes, start) else {
            return false;
        };
        if self.bytes[end] != b'"' {
            // An escape or a control character.
            return false;
        }
        self.pos = end + 1;
        let raw = &self.text[start..end];
        match slot {
            Value::String(s) => {
                s.clear();
                s.push_str(raw);
            }
            other => *other = Value::String(raw.to_owned()),
        }
        true
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
            Some(b'"') => self.plain_string_into(slot),
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
                // How many bits of `seen` are set.
                let mut found = 0;
                let needed = fields.len();
                if needed == 0 && depth > 0 {
                    // Only the presence of this map is read: none of its members are kept.
                    self.skip_map_rest(false, 1)?;
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
                        let child = if escaped {
                            match json::parse(&self.text[start..self.pos]) {
                                Ok(Value::String(s)) => fields.child_entry(s.as_bytes()),
                                _ => return Err(self.err("invalid key")),
                            }
                        } else {
                            fields.child_entry(&self.bytes[start + 1..self.pos - 1])
                        };
                        // `:`, usually right after the key.
                        if self.peek() == Some(b':') {
                            self.pos += 1;
                        } else {
                            self.expect(b':', "expected `:`")?;
                        }
                        match child {
                            Some((key, f)) => {
                                // Payloads of one shape put the keys in the same order: the entry
                                // is usually the next one.
                                let next = found;
                                let i = match map.get_index(next) {
                                    Some((k, _)) if short_eq(k.as_bytes(), key.as_bytes()) => next,
                                    _ => match index_of(map, key) {
                                        Some(i) => i,
                                        None => map.insert_full(key.clone(), Value::Null).0,
                                    },
                                };
                                if i < 64 && seen & (1 << i) != 0 {
                                    // A repeated key: the first occurrence is kept.
                                    self.skip_value()?;
                                } else {
                                    let Some((_, slot)) = map.get_index_mut(i) else {
                                        unreachable!("an index of the map")
                                    };
                                    self.ws();
                                    // A plain string read whole (the common case) is read here.
                                    if !(f.whole && self.plain_string_into(slot)) {
                                        self.value_into(f, depth + 1, slot)?;
                                    }
                                    if i < 64 {
                                        seen |= 1 << i;
                                        found += 1;
                                        if found == needed {
                                            // Every key read here is found: the rest of the map is
                                            // skipped (member by member, which costs less than
                                            // bracket matching on short members) or, for the whole
                                            // body, not read at all.
                                            if depth == 0 {
                                                self.pos = self.bytes.len();
                                            } else {
                                                self.skip_map_rest(true, 1)?;
                                            }
                                            break;
                                        }
                                    }
                                }
                            }
                            None => {
                                self.ws();
                                if self.peek() == Some(b'"') {
                                    self.skip_string()?;
                                } else {
                                    self.skip_value()?;
                                }
                            }
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
                if map.len() <= 64 && found != map.len() {
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
        // Inside the body, the rest of a finished map is still skipped (and checked).
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
    fn finds_quotes_and_backslashes_block_by_block() {
        // Across block boundaries (64 bytes) and in the short last block of a text.
        for len in 0..150 {
            for at in 0..len {
                for c in [b'"', b'\\', b'\n', 0, 0x1f] {
                    let mut b = vec![b'a'; len];
                    // Bytes next to the searched ones in value, and high bytes, must not confuse it.
                    if at > 0 {
                        b[at - 1] = 0xff;
                    }
                    b[at] = c;
                    if at + 1 < len {
                        b[at + 1] = c.wrapping_sub(1) | 0x20;
                    }
                    assert_eq!(find_quote_or_backslash(&b), Some(at), "{len} {at}");
                    // From a later offset, and after a block was loaded for an earlier one.
                    let mut q = Quotes::new();
                    assert_eq!(q.find(&b, 0), Some(at));
                    assert_eq!(q.find(&b, at + 1), None, "{len} {at}");
                    assert_eq!(q.find(&b, at), Some(at));
                }
            }
            assert_eq!(find_quote_or_backslash(&vec![b'!'; len]), None);
        }
    }

    /// The block masks (SSE2 and word-wise) flag exactly the quotes, backslashes and control characters,
    /// whatever the other bytes.
    #[test]
    fn masks_flag_exactly_the_searched_bytes() {
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        for round in 0..2000 {
            let mut block = [0u8; 64];
            for b in block.iter_mut() {
                let r = next();
                // Mostly the bytes that matter, and anything else.
                *b = match r % 6 {
                    0 => b'"',
                    1 => b'\\',
                    2 => [
                        0x21,
                        0x5b,
                        0x5d,
                        0x22 ^ 0x80,
                        0x5c ^ 0x80,
                        0xa2,
                        0xdc,
                        0x20,
                        0x9f,
                        0xff,
                    ][(r >> 8) as usize % 10],
                    3 => (r >> 8) as u8 & 0x1f,
                    _ => (r >> 16) as u8,
                };
            }
            if round == 0 {
                block = std::array::from_fn(|i| i as u8 * 4);
            }
            let expected = block
                .iter()
                .enumerate()
                .filter(|(_, &c)| c == b'"' || c == b'\\' || c < 0x20)
                .fold(0u64, |m, (i, _)| m | 1 << i);
            assert_eq!(quote_mask(&block), expected);
            assert_eq!(quote_mask_swar(&block), expected);
        }
        // Every byte value, alone among plain ones.
        for c in 0..=255u8 {
            let mut block = [b'a'; 64];
            block[37] = c;
            let expected = if c == b'"' || c == b'\\' || c < 0x20 {
                1 << 37
            } else {
                0
            };
            assert_eq!(quote_mask(&block), expected, "{c}");
            assert_eq!(quote_mask_swar(&block), expected, "{c}");
        }
    }

    /// Members of skipped maps are checked member by member, lists inside them by bracket matching.
    #[test]
    fn skipped_maps_are_checked_member_by_member() {
        let proj = projection(r#"{"q": [1]}"#);
        for ok in [
            r#"{"p": {}, "q": 1}"#,
            r#"{"p": {"a": {"b": {"c": "}"}}, "d": [1, {"e": "]"}, [2]]}, "q": 1}"#,
            r#"{"p": { "a" : "x" , "b" : [ ] , "c" : { } } , "q": 1}"#,
            r#"{"p": {"a\"b": "c\\"}, "q": 1}"#,
            r#"{"p": {"l": [1, 2], "z": true}, "q": 1}"#,
        ] {
            assert_eq!(
                json::to_string(&proj.parse(ok).unwrap()).unwrap(),
                r#"{"q":1}"#,
                "{ok}"
            );
        }
        for broken in [
            r#"{"p": {"a" "x"}, "q": 1}"#,
            r#"{"p": {"a": "x" "b": 1}, "q": 1}"#,
            r#"{"p": {"a": "x",}, "q": 1}"#,
            r#"{"p": {1: "x"}, "q": 1}"#,
            r#"{"p": {"a": {"b": "x"}, "q": 1}"#,
            r#"{"p": {"a": "x}, "q": 1}"#,
        ] {
            assert!(proj.parse(broken).is_err(), "{broken}");
        }
        // Nesting too deep for the JSON reader is refused when skipped too.
        let deep = format!(
            "{{\"p\": {}{}, \"q\": 1}}",
            "{\"a\": ".repeat(200),
            "}".repeat(200)
        );
        assert!(proj.parse(&deep).is_err());
    }
}
