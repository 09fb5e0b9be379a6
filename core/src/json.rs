//! JSON reading and writing for [`Value`].
//!
//! The reader builds [`Value`]s directly: integers that fit in 64 bits become [`Value::Int`], larger ones an
//! exact [`Value::Decimal`] (never a rounded float); numbers with a fraction or an exponent become
//! [`Value::Float`], or an exact decimal when they overflow a float. Nesting depth is bounded; duplicate keys
//! keep the first key's position and the last value. Errors give the byte offset, line and column.
//!
//! Two output forms: plain JSON (what the publisher sends), and *tagged* JSON (what `mega decode` prints),
//! which keeps the kinds JSON lacks as one-key objects: `{"$bytes": "<base64>"}`, `{"$datetime": "<RFC
//! 3339>"}`, `{"$decimal": "<digits>"}` and `{"$float": "NaN"|"Infinity"|"-Infinity"}`. [`from_tagged`] turns
//! such objects back into typed values.
//!
//! # Why not serde_json
//!
//! This codec is written here, not taken from serde_json, because the payload model needs what serde_json's
//! `Value` does not give (the differences are asserted in `core/tests/codec_differential.rs` and listed in
//! docs/payloads.md):
//! - **Exact numbers.** Integers beyond 64 bits and numbers beyond the f64 range become exact
//!   [`Decimal`]s; serde_json (without `arbitrary_precision`) rounds the former to an f64 and refuses the
//!   latter. Floats are read correctly rounded (std's parser), so every float round-trips bit for bit.
//! - **Our [`Value`] directly.** The parser builds [`Value`]s (insertion-ordered maps, built once at their
//!   exact size, strings sliced from the input when they have no escapes) rather than going through
//!   serde's data model and a conversion; serde_json's default map sorts keys, ours keep the document's
//!   order, which the canonical MEGA form and re-publishing rely on.
//! - **Kinds JSON lacks.** Date-times, bytes, decimals and non-finite floats are written as RFC 3339
//!   strings, or as *tagged* JSON that [`from_tagged`] reads back; plain output refuses bytes and NaN
//!   with the path of the value (`$.a[1]`) instead of writing `null`.
//! - **Hostile input.** Nesting depth is bounded and configurable ([`parse_with_depth`]), and errors carry
//!   the byte offset, line and column for users.
//! - **SQS-safe output.** Strings escape U+FFFE and U+FFFF, which SQS bodies cannot contain.
//! - **No serde in the payload layer.** serde_json is only a dev-dependency, for those differential tests.

use std::fmt::Write as _;

use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, Utc};

use crate::decimal::{truncate_for_message, Decimal};
use crate::value::{Map, Value};

/// The default bound on nesting depth of lists and maps.
pub const DEFAULT_MAX_DEPTH: usize = 128;

/// A JSON syntax error, with where it happened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid JSON at line {line}, column {column} (byte {offset}): {problem}")]
pub struct JsonError {
    pub offset: usize,
    pub line: usize,
    pub column: usize,
    pub problem: JsonProblem,
}

/// What was wrong with a JSON text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonProblem {
    #[error("unexpected end of input, expected {0}")]
    UnexpectedEnd(&'static str),
    #[error("unexpected character {found:?}, expected {expected}")]
    Unexpected { found: char, expected: &'static str },
    #[error("invalid escape sequence in string")]
    InvalidEscape,
    #[error("invalid \\u escape: {0}")]
    InvalidUnicodeEscape(&'static str),
    #[error("unescaped control character U+{0:04X} in string")]
    ControlCharacter(u32),
    #[error("invalid number")]
    InvalidNumber,
    #[error("nesting deeper than {0} levels")]
    TooDeep(usize),
    #[error("unexpected data after the JSON value")]
    TrailingCharacters,
}

/// Parses a JSON text into a [`Value`], with the default depth bound.
pub fn parse(input: &str) -> Result<Value, JsonError> {
    parse_with_depth(input, DEFAULT_MAX_DEPTH)
}

/// Parses a JSON text into a [`Value`], allowing at most `max_depth` nested lists and maps.
pub fn parse_with_depth(input: &str, max_depth: usize) -> Result<Value, JsonError> {
    let mut p = Parser {
        text: input,
        src: input.as_bytes(),
        scratch: Vec::new(),
        pos: 0,
        depth: 0,
        max_depth,
    };
    let result = p.skip_ws().and_then(|_| p.value()).and_then(|v| {
        p.skip_ws()?;
        if p.pos < p.src.len() {
            Err(p.fail(JsonProblem::TrailingCharacters))
        } else {
            Ok(v)
        }
    });
    result.map_err(|e| e.locate(input))
}

/// Cheap check used by the decoder: does this text look like a JSON object or array (after whitespace)?
pub(crate) fn first_significant_byte(input: &str) -> Option<u8> {
    input
        .bytes()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
}

struct Parser<'a> {
    text: &'a str,
    src: &'a [u8],
    /// Entries of the maps being read, innermost last: each map is built once, at its exact size.
    scratch: Vec<(String, Value)>,
    pos: usize,
    depth: usize,
    max_depth: usize,
}

/// An error before its line and column are computed.
struct RawError {
    offset: usize,
    problem: JsonProblem,
}

impl RawError {
    fn locate(self, input: &str) -> JsonError {
        let offset = self.offset.min(input.len());
        let before = &input.as_bytes()[..offset];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let column = String::from_utf8_lossy(&before[line_start..])
            .chars()
            .count()
            + 1;
        JsonError {
            offset,
            line,
            column,
            problem: self.problem,
        }
    }
}

type PResult<T> = Result<T, RawError>;

impl<'a> Parser<'a> {
    fn fail(&self, problem: JsonProblem) -> RawError {
        RawError {
            offset: self.pos,
            problem,
        }
    }

    fn unexpected(&self, expected: &'static str) -> RawError {
        match self.current_char() {
            Some(found) => self.fail(JsonProblem::Unexpected { found, expected }),
            None => self.fail(JsonProblem::UnexpectedEnd(expected)),
        }
    }

    fn current_char(&self) -> Option<char> {
        // The source is valid UTF-8 (it came from a &str) and `pos` is always at a char boundary here.
        std::str::from_utf8(&self.src[self.pos..])
            .ok()
            .and_then(|s| s.chars().next())
    }

    #[inline]
    fn skip_ws(&mut self) -> PResult<()> {
        while let Some(&b) = self.src.get(self.pos) {
            if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                self.pos += 1;
            } else {
                break;
            }
        }
        Ok(())
    }

    fn value(&mut self) -> PResult<Value> {
        match self.src.get(self.pos) {
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'"') => Ok(Value::String(self.string()?)),
            Some(b't') => self.literal(b"true", Value::Bool(true)),
            Some(b'f') => self.literal(b"false", Value::Bool(false)),
            Some(b'n') => self.literal(b"null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.unexpected("a JSON value")),
        }
    }

    fn literal(&mut self, word: &'static [u8], value: Value) -> PResult<Value> {
        if self.src[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(value)
        } else {
            // Point at the first byte that differs.
            let same = self.src[self.pos..]
                .iter()
                .zip(word)
                .take_while(|(a, b)| a == b)
                .count();
            self.pos += same;
            Err(self.unexpected(match word {
                b"true" => "`true`",
                b"false" => "`false`",
                _ => "`null`",
            }))
        }
    }

    fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth > self.max_depth {
            return Err(self.fail(JsonProblem::TooDeep(self.max_depth)));
        }
        Ok(())
    }

    fn object(&mut self) -> PResult<Value> {
        self.enter()?;
        self.pos += 1; // '{'
        let base = self.scratch.len();
        self.skip_ws()?;
        if self.src.get(self.pos) == Some(&b'}') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(Value::Map(Map::default()));
        }
        loop {
            if self.src.get(self.pos) != Some(&b'"') {
                return Err(self.unexpected("a string key"));
            }
            let key = self.string()?;
            self.skip_ws()?;
            if self.src.get(self.pos) != Some(&b':') {
                return Err(self.unexpected("`:`"));
            }
            self.pos += 1;
            self.skip_ws()?;
            let value = self.value()?;
            self.scratch.push((key, value));
            self.skip_ws()?;
            match self.src.get(self.pos) {
                Some(b',') => {
                    self.pos += 1;
                    self.skip_ws()?;
                }
                Some(b'}') => {
                    self.pos += 1;
                    self.depth -= 1;
                    let mut map = Map::with_capacity_and_hasher(
                        self.scratch.len() - base,
                        Default::default(),
                    );
                    // Duplicate keys: the first position, the last value.
                    for (k, v) in self.scratch.drain(base..) {
                        map.insert(k, v);
                    }
                    return Ok(Value::Map(map));
                }
                _ => return Err(self.unexpected("`,` or `}`")),
            }
        }
    }

    fn array(&mut self) -> PResult<Value> {
        self.enter()?;
        self.pos += 1; // '['
        let mut list = Vec::new();
        self.skip_ws()?;
        if self.src.get(self.pos) == Some(&b']') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(Value::List(list));
        }
        loop {
            list.push(self.value()?);
            self.skip_ws()?;
            match self.src.get(self.pos) {
                Some(b',') => {
                    self.pos += 1;
                    self.skip_ws()?;
                }
                Some(b']') => {
                    self.pos += 1;
                    self.depth -= 1;
                    return Ok(Value::List(list));
                }
                _ => return Err(self.unexpected("`,` or `]`")),
            }
        }
    }

    /// Reads a string starting at the opening quote.
    fn string(&mut self) -> PResult<String> {
        self.pos += 1; // '"'
        let start = self.pos;
        // Fast path: no escapes. The bytes between ASCII delimiters of a &str are valid UTF-8, so the
        // string is sliced from the input, not validated again.
        loop {
            match self.src.get(self.pos) {
                None => return Err(self.fail(JsonProblem::UnexpectedEnd("`\"`"))),
                Some(b'"') => {
                    let s = self.text[start..self.pos].to_owned();
                    self.pos += 1;
                    return Ok(s);
                }
                Some(b'\\') => break,
                Some(&b) if b < 0x20 => {
                    return Err(self.fail(JsonProblem::ControlCharacter(u32::from(b))))
                }
                Some(_) => self.pos += 1,
            }
        }
        let mut out = String::with_capacity(self.pos - start + 16);
        out.push_str(&self.text[start..self.pos]);
        let mut run = self.pos;
        loop {
            match self.src.get(self.pos) {
                None => return Err(self.fail(JsonProblem::UnexpectedEnd("`\"`"))),
                Some(b'"') => {
                    out.push_str(&self.text[run..self.pos]);
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    out.push_str(&self.text[run..self.pos]);
                    self.pos += 1;
                    let esc = match self.src.get(self.pos) {
                        None => return Err(self.fail(JsonProblem::UnexpectedEnd("an escape"))),
                        Some(&e) => e,
                    };
                    self.pos += 1;
                    match esc {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => out.push(self.unicode_escape()?),
                        _ => {
                            self.pos -= 1;
                            return Err(self.fail(JsonProblem::InvalidEscape));
                        }
                    }
                    run = self.pos;
                }
                Some(&b) if b < 0x20 => {
                    return Err(self.fail(JsonProblem::ControlCharacter(u32::from(b))))
                }
                Some(_) => self.pos += 1,
            }
        }
    }

    fn hex4(&mut self) -> PResult<u32> {
        let digits = self
            .src
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| self.fail(JsonProblem::InvalidUnicodeEscape("expected 4 hex digits")))?;
        let mut v = 0u32;
        for &d in digits {
            let n = (d as char).to_digit(16).ok_or_else(|| {
                self.fail(JsonProblem::InvalidUnicodeEscape("expected 4 hex digits"))
            })?;
            v = v * 16 + n;
        }
        self.pos += 4;
        Ok(v)
    }

    fn unicode_escape(&mut self) -> PResult<char> {
        let first = self.hex4()?;
        let code = if (0xD800..0xDC00).contains(&first) {
            if self.src.get(self.pos..self.pos + 2) != Some(b"\\u") {
                return Err(self.fail(JsonProblem::InvalidUnicodeEscape(
                    "high surrogate not followed by a low surrogate",
                )));
            }
            self.pos += 2;
            let second = self.hex4()?;
            if !(0xDC00..0xE000).contains(&second) {
                return Err(self.fail(JsonProblem::InvalidUnicodeEscape(
                    "high surrogate not followed by a low surrogate",
                )));
            }
            0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
        } else if (0xDC00..0xE000).contains(&first) {
            return Err(self.fail(JsonProblem::InvalidUnicodeEscape("lone low surrogate")));
        } else {
            first
        };
        char::from_u32(code).ok_or_else(|| {
            self.fail(JsonProblem::InvalidUnicodeEscape(
                "not a Unicode scalar value",
            ))
        })
    }

    fn number(&mut self) -> PResult<Value> {
        let start = self.pos;
        let negative = self.src[self.pos] == b'-';
        if negative {
            self.pos += 1;
        }
        let int_start = self.pos;
        match self.src.get(self.pos) {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                while matches!(self.src.get(self.pos), Some(b'0'..=b'9')) {
                    self.pos += 1;
                }
            }
            _ => return Err(self.fail(JsonProblem::InvalidNumber)),
        }
        let int_end = self.pos;
        let mut integral = true;
        if self.src.get(self.pos) == Some(&b'.') {
            integral = false;
            self.pos += 1;
            let frac_start = self.pos;
            while matches!(self.src.get(self.pos), Some(b'0'..=b'9')) {
                self.pos += 1;
            }
            if self.pos == frac_start {
                return Err(self.fail(JsonProblem::InvalidNumber));
            }
        }
        if matches!(self.src.get(self.pos), Some(b'e' | b'E')) {
            integral = false;
            self.pos += 1;
            if matches!(self.src.get(self.pos), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            let exp_start = self.pos;
            while matches!(self.src.get(self.pos), Some(b'0'..=b'9')) {
                self.pos += 1;
            }
            if self.pos == exp_start {
                return Err(self.fail(JsonProblem::InvalidNumber));
            }
        }
        let text = std::str::from_utf8(&self.src[start..self.pos]).expect("ASCII digits");
        if integral {
            let digits = &self.src[int_start..int_end];
            if digits.len() <= 18 {
                let mut v: i64 = 0;
                for &d in digits {
                    v = v * 10 + i64::from(d - b'0');
                }
                return Ok(Value::Int(if negative { -v } else { v }));
            }
            if let Ok(v) = text.parse::<i64>() {
                return Ok(Value::Int(v));
            }
            return text
                .parse::<Decimal>()
                .map(Value::Decimal)
                .map_err(|_| self.fail(JsonProblem::InvalidNumber));
        }
        match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Value::Float(f)),
            _ => text
                .parse::<Decimal>()
                .map(Value::Decimal)
                .map_err(|_| self.fail(JsonProblem::InvalidNumber)),
        }
    }
}

/// Why a value cannot be written as plain JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonEncodeError {
    #[error("{path}: the float {value} has no JSON representation (JSON has no NaN or infinity)")]
    NonFiniteFloat { path: String, value: String },
    #[error(
        "{path}: the decimal {value} has no JSON representation (JSON has no NaN or infinity)"
    )]
    NonFiniteDecimal { path: String, value: String },
    #[error("{path}: bytes have no plain JSON representation; publish with binary_encoding (BSON) to keep them")]
    Bytes { path: String },
}

/// How a [`Value`] is written as JSON.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Style {
    /// Plain JSON: date-times become RFC 3339 strings, decimals become number literals with their exact
    /// digits; bytes and non-finite numbers are errors.
    #[default]
    Plain,
    /// Tagged JSON: bytes, date-times, decimals and non-finite floats become `$bytes`, `$datetime`,
    /// `$decimal` and `$float` objects. Never fails.
    Tagged,
}

/// Writes a value as compact plain JSON.
pub fn to_string(value: &Value) -> Result<String, JsonEncodeError> {
    let mut out = String::with_capacity(128);
    write_value(
        &mut out,
        value,
        Style::Plain,
        None,
        0,
        &mut PathStack::default(),
    )?;
    Ok(out)
}

/// Writes a value as compact tagged JSON.
pub fn to_tagged_string(value: &Value) -> String {
    let mut out = String::with_capacity(128);
    write_value(
        &mut out,
        value,
        Style::Tagged,
        None,
        0,
        &mut PathStack::default(),
    )
    .expect("tagged JSON cannot fail");
    out
}

/// Writes a value as JSON indented by two spaces.
pub fn to_string_pretty(value: &Value, style: Style) -> Result<String, JsonEncodeError> {
    let mut out = String::with_capacity(256);
    write_value(
        &mut out,
        value,
        style,
        Some(2),
        0,
        &mut PathStack::default(),
    )?;
    Ok(out)
}

/// The path to the value being written, for error messages (`$.user.emails[2]`).
#[derive(Default)]
struct PathStack(Vec<PathPart>);

enum PathPart {
    Key(String),
    Index(usize),
}

impl PathStack {
    fn render(&self) -> String {
        let mut s = String::from("$");
        for part in &self.0 {
            match part {
                PathPart::Key(k) => {
                    s.push('.');
                    s.push_str(k);
                }
                PathPart::Index(i) => {
                    let _ = write!(s, "[{i}]");
                }
            }
        }
        s
    }
}

fn newline(out: &mut String, indent: Option<usize>, level: usize) {
    if let Some(n) = indent {
        out.push('\n');
        out.extend(std::iter::repeat_n(' ', n * level));
    }
}

fn write_tag(out: &mut String, tag: &str, text: &str, indent: Option<usize>) {
    out.push_str("{\"");
    out.push_str(tag);
    out.push_str(if indent.is_some() { "\": " } else { "\":" });
    write_str(out, text);
    out.push('}');
}

fn write_value(
    out: &mut String,
    value: &Value,
    style: Style,
    indent: Option<usize>,
    level: usize,
    path: &mut PathStack,
) -> Result<(), JsonEncodeError> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Int(i) => out.push_str(itoa_buf(*i).as_str()),
        Value::Float(f) => {
            if f.is_finite() {
                let mut buf = ryu::Buffer::new();
                out.push_str(buf.format_finite(*f));
            } else if style == Style::Tagged {
                let text = if f.is_nan() {
                    "NaN"
                } else if *f > 0.0 {
                    "Infinity"
                } else {
                    "-Infinity"
                };
                write_tag(out, "$float", text, indent);
            } else {
                return Err(JsonEncodeError::NonFiniteFloat {
                    path: path.render(),
                    value: f.to_string(),
                });
            }
        }
        Value::Decimal(d) => match style {
            Style::Tagged => write_tag(out, "$decimal", d.as_str(), indent),
            Style::Plain if d.is_finite() => out.push_str(d.as_str()),
            Style::Plain => {
                return Err(JsonEncodeError::NonFiniteDecimal {
                    path: path.render(),
                    value: d.to_string(),
                })
            }
        },
        Value::String(s) => write_str(out, s),
        Value::DateTime(dt) => {
            let text = format_datetime(dt);
            match style {
                Style::Tagged => write_tag(out, "$datetime", &text, indent),
                Style::Plain => write_str(out, &text),
            }
        }
        Value::Bytes(b) => match style {
            Style::Tagged => write_tag(
                out,
                "$bytes",
                &base64::engine::general_purpose::STANDARD.encode(b),
                indent,
            ),
            Style::Plain => {
                return Err(JsonEncodeError::Bytes {
                    path: path.render(),
                })
            }
        },
        Value::List(list) => {
            out.push('[');
            for (i, item) in list.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, indent, level + 1);
                path.0.push(PathPart::Index(i));
                write_value(out, item, style, indent, level + 1, path)?;
                path.0.pop();
            }
            if !list.is_empty() {
                newline(out, indent, level);
            }
            out.push(']');
        }
        Value::Map(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, indent, level + 1);
                write_str(out, k);
                out.push(':');
                if indent.is_some() {
                    out.push(' ');
                }
                path.0.push(PathPart::Key(k.clone()));
                write_value(out, v, style, indent, level + 1, path)?;
                path.0.pop();
            }
            if !map.is_empty() {
                newline(out, indent, level);
            }
            out.push('}');
        }
    }
    Ok(())
}

/// Formats a date-time as RFC 3339 in UTC, with as many fractional digits as needed (0, 3, 6 or 9).
pub fn format_datetime(dt: &DateTime<Utc>) -> String {
    dt.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// A small stack buffer for integer formatting.
struct IntBuf {
    buf: [u8; 20],
    start: usize,
}

impl IntBuf {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[self.start..]).expect("ASCII digits")
    }
}

fn itoa_buf(v: i64) -> IntBuf {
    let mut buf = [0u8; 20];
    let mut pos = buf.len();
    let negative = v < 0;
    let mut n = v.unsigned_abs();
    loop {
        pos -= 1;
        buf[pos] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if negative {
        pos -= 1;
        buf[pos] = b'-';
    }
    IntBuf { buf, start: pos }
}

/// Writes a JSON string literal. Besides the characters JSON requires escaping, escapes the ones an SQS
/// message body may not contain (U+FFFE, U+FFFF), so any string can travel in a JSON body.
pub fn write_str(out: &mut String, s: &str) {
    out.push('"');
    let bytes = s.as_bytes();
    let mut last = 0;
    for (i, c) in s.char_indices() {
        let escape: Option<&str> = match c {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '\n' => Some("\\n"),
            '\r' => Some("\\r"),
            '\t' => Some("\\t"),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => None,
            _ => continue,
        };
        out.push_str(&s[last..i]);
        match escape {
            Some(e) => out.push_str(e),
            None => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
        }
        last = i + c.len_utf8();
    }
    out.push_str(std::str::from_utf8(&bytes[last..]).expect("char boundary"));
    out.push('"');
}

/// A tagged-JSON object whose content is not valid for its tag.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: invalid {tag} value `{text}`: {problem}")]
pub struct TaggedError {
    pub path: String,
    pub tag: &'static str,
    pub text: String,
    pub problem: String,
}

/// Turns tagged-JSON objects (`{"$bytes": …}`, `{"$datetime": …}`, `{"$decimal": …}`, `{"$float": …}`)
/// into typed values, recursively. Any other value is kept as it is.
pub fn from_tagged(value: Value) -> Result<Value, TaggedError> {
    from_tagged_at(value, &mut PathStack::default())
}

fn from_tagged_at(value: Value, path: &mut PathStack) -> Result<Value, TaggedError> {
    match value {
        Value::Map(map) => {
            if map.len() == 1 {
                let (k, v) = map.first().expect("one entry");
                if let (Some(tag), Some(text)) = (known_tag(k), v.as_str()) {
                    return convert_tag(tag, text).map_err(|problem| TaggedError {
                        path: path.render(),
                        tag,
                        text: truncate_for_message(text),
                        problem,
                    });
                }
            }
            let mut out = Map::with_capacity_and_hasher(map.len(), Default::default());
            for (k, v) in map {
                path.0.push(PathPart::Key(k.clone()));
                let v = from_tagged_at(v, path)?;
                path.0.pop();
                out.insert(k, v);
            }
            Ok(Value::Map(out))
        }
        Value::List(list) => list
            .into_iter()
            .enumerate()
            .map(|(i, v)| {
                path.0.push(PathPart::Index(i));
                let r = from_tagged_at(v, path);
                path.0.pop();
                r
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Value::List),
        other => Ok(other),
    }
}

fn known_tag(key: &str) -> Option<&'static str> {
    match key {
        "$bytes" => Some("$bytes"),
        "$datetime" => Some("$datetime"),
        "$decimal" => Some("$decimal"),
        "$float" => Some("$float"),
        _ => None,
    }
}

fn convert_tag(tag: &str, text: &str) -> Result<Value, String> {
    match tag {
        "$bytes" => base64::engine::general_purpose::STANDARD
            .decode(text)
            .map(Value::Bytes)
            .map_err(|e| format!("not standard Base64 ({e})")),
        "$datetime" => parse_datetime(text).map(Value::DateTime),
        "$decimal" => text
            .parse::<Decimal>()
            .map(Value::Decimal)
            .map_err(|e| e.to_string()),
        _ => match text {
            "NaN" => Ok(Value::Float(f64::NAN)),
            "Infinity" => Ok(Value::Float(f64::INFINITY)),
            "-Infinity" => Ok(Value::Float(f64::NEG_INFINITY)),
            other => other
                .parse::<f64>()
                .map(Value::Float)
                .map_err(|_| "expected NaN, Infinity, -Infinity or a number".to_owned()),
        },
    }
}

/// Parses an ISO-8601 / RFC 3339 date-time. A missing offset means UTC (as MEGA timestamps are written,
/// `2020-05-04T15:53:27.823`); a date alone means midnight UTC.
pub fn parse_datetime(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(dt) = DateTime::parse_from_rfc3339(text) {
        return Ok(dt.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(naive) = chrono::NaiveDateTime::parse_from_str(text, fmt) {
            return Ok(naive.and_utc());
        }
    }
    if let Ok(dt) = DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f%:z") {
        return Ok(dt.with_timezone(&Utc));
    }
    if let Ok(date) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(date.and_hms_opt(0, 0, 0).expect("midnight").and_utc());
    }
    Err("expected an ISO-8601 date-time such as 2020-05-04T15:53:27.823Z".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value;
    use crate::value::Kind;

    #[test]
    fn parses_every_kind() {
        let v = parse(r#" {"a": [1, -2.5, true, false, null, "x\u00e9\ud83d\ude00\n"], "b": {}} "#)
            .unwrap();
        assert_eq!(
            v,
            value!({"a": [1, (-2.5), true, false, null, "xé😀\n"], "b": {}})
        );
    }

    #[test]
    fn large_integers_stay_exact() {
        assert_eq!(parse("9223372036854775807").unwrap(), Value::Int(i64::MAX));
        assert_eq!(parse("-9223372036854775808").unwrap(), Value::Int(i64::MIN));
        let big = parse("123456789012345678901234567890").unwrap();
        assert_eq!(big.kind(), Kind::Decimal);
        assert_eq!(
            big.as_decimal().unwrap().as_str(),
            "123456789012345678901234567890"
        );
        let huge = parse("1e400").unwrap();
        assert_eq!(huge.as_decimal().unwrap().as_str(), "1E+400");
        assert_eq!(to_string(&big).unwrap(), "123456789012345678901234567890");
    }

    #[test]
    fn errors_locate_the_problem() {
        let e = parse("{\n  \"a\": tru }").unwrap_err();
        assert_eq!((e.line, e.column), (2, 11));
        assert!(e.to_string().contains("expected `true`"), "{e}");
        let e = parse("[1, 2").unwrap_err();
        assert!(matches!(e.problem, JsonProblem::UnexpectedEnd(_)));
        let e = parse("{} x").unwrap_err();
        assert_eq!(e.problem, JsonProblem::TrailingCharacters);
        let e = parse(r#""\ud800""#).unwrap_err();
        assert!(matches!(e.problem, JsonProblem::InvalidUnicodeEscape(_)));
        let e = parse("\"a\u{1}\"").unwrap_err();
        assert_eq!(e.problem, JsonProblem::ControlCharacter(1));
        for bad in ["01", "1.", "-", ".5", "1e", "+1", "NaN", "'a'", ""] {
            assert!(parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn depth_is_bounded() {
        let deep = "[".repeat(200) + &"]".repeat(200);
        let e = parse(&deep).unwrap_err();
        assert_eq!(e.problem, JsonProblem::TooDeep(DEFAULT_MAX_DEPTH));
        let ok = "[".repeat(128) + &"]".repeat(128);
        assert!(parse(&ok).is_ok());
    }

    #[test]
    fn duplicate_keys_keep_first_position_and_last_value() {
        let v = parse(r#"{"a": 1, "b": 2, "a": 3}"#).unwrap();
        let m = v.as_map().unwrap();
        assert_eq!(m.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(m["a"], Value::Int(3));
    }

    #[test]
    fn writes_compact_and_round_trips() {
        let text = r#"{"z":1,"a":[1.5,-0.0,1e-7,"q\"\\\u0001",null],"m":{"k":true}}"#;
        let v = parse(text).unwrap();
        let out = to_string(&v).unwrap();
        assert_eq!(
            out,
            r#"{"z":1,"a":[1.5,-0.0,1e-7,"q\"\\\u0001",null],"m":{"k":true}}"#
        );
        assert_eq!(parse(&out).unwrap(), v);
    }

    #[test]
    fn plain_json_refuses_what_it_cannot_carry() {
        let v = value!({"a": [1, (vec![1u8, 2])]});
        let e = to_string(&v).unwrap_err();
        assert_eq!(
            e,
            JsonEncodeError::Bytes {
                path: "$.a[1]".into()
            }
        );
        let e = to_string(&value!({"f": (f64::NAN)})).unwrap_err();
        assert!(e.to_string().starts_with("$.f:"), "{e}");
    }

    #[test]
    fn tagged_json_round_trips_typed_values() {
        let dt = parse_datetime("2020-05-04T15:53:27.823Z").unwrap();
        let v = value!({
            "b": (vec![0u8, 255]),
            "d": dt,
            "x": ("19.99".parse::<Decimal>().unwrap()),
            "n": (f64::INFINITY)
        });
        let text = to_tagged_string(&v);
        assert_eq!(
            text,
            r#"{"b":{"$bytes":"AP8="},"d":{"$datetime":"2020-05-04T15:53:27.823Z"},"x":{"$decimal":"19.99"},"n":{"$float":"Infinity"}}"#
        );
        assert_eq!(from_tagged(parse(&text).unwrap()).unwrap(), v);
        let e = from_tagged(parse(r#"{"a":[{"$datetime":"yesterday"}]}"#).unwrap()).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("$.a[0]: invalid $datetime value `yesterday`"),
            "{e}"
        );
    }

    #[test]
    fn strings_escape_what_sqs_refuses() {
        let mut out = String::new();
        write_str(&mut out, "a\u{FFFF}b\u{7}");
        assert_eq!(out, r#""a\uffffb\u0007""#);
    }

    #[test]
    fn datetimes_parse_in_the_usual_iso_forms() {
        for s in [
            "2020-05-04T15:53:27.823",
            "2020-05-04T15:53:27.823Z",
            "2020-05-04T17:53:27.823+02:00",
            "2020-05-04 15:53:27.823",
        ] {
            assert_eq!(
                format_datetime(&parse_datetime(s).unwrap()),
                "2020-05-04T15:53:27.823Z",
                "{s}"
            );
        }
        assert_eq!(
            format_datetime(&parse_datetime("2020-05-04").unwrap()),
            "2020-05-04T00:00:00Z"
        );
        assert!(parse_datetime("05/04/2020").is_err());
    }
}
