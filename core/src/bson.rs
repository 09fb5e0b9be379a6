//! BSON (Binary JSON) documents to and from [`Value`] maps.
//!
//! Decoding is strict: the declared sizes must match the bytes exactly, strings must be valid UTF-8 and
//! NUL-terminated, booleans 0 or 1, and the document must end where its header says. Kinds map as:
//!
//! | BSON | Value |
//! |---|---|
//! | double | `Float` |
//! | string, symbol | `String` |
//! | document | `Map` (key order kept) |
//! | array | `List` |
//! | binary (any subtype) | `Bytes` |
//! | undefined, null | `Null` |
//! | ObjectId | `String` (24 lower-case hex digits) |
//! | boolean | `Bool` |
//! | UTC datetime | `DateTime` (millisecond precision) |
//! | int32, int64 | `Int` |
//! | timestamp | `Int` (the raw 64 bits; a `Decimal` above `i64::MAX`) |
//! | decimal128 | `Decimal` |
//!
//! Regular expressions, DBPointer, JavaScript code, min/max keys are not payload data: a document holding
//! them does not decode (so the body is treated as a binary blob, or rejected when its encoding is declared).
//!
//! Encoding writes integers as int32 when they fit and int64 otherwise (as PyMongo does), date-times as UTC
//! datetime (sub-millisecond digits are dropped: BSON has milliseconds), bytes as generic binary (subtype 0).
//!
//! # Why not the bson crate
//!
//! This codec is written here, not taken from the `bson` crate, because:
//! - **It reads into [`Value`] directly**, folding BSON's kinds into the payload model as the table says
//!   (ObjectId and symbol to strings, timestamps to integers, any binary subtype to bytes) in one pass,
//!   with no intermediate `Document` and no serde in the payload layer.
//! - **Decimal128 is exact both ways** through [`Decimal`], the same type JSON's big numbers use, so a
//!   decimal read from JSON is written to BSON and back without loss (or refused, never rounded).
//! - **It is strict and bounded for untrusted bodies**: a body must be exactly one document (the `bson`
//!   crate's `Document::from_reader` ignores bytes after it), nesting depth is bounded, kinds that are not
//!   payload data are refused, and errors give the byte offset and the dotted path of the element.
//! - **It writes what the other MEGA implementations write** (PyMongo's int32/int64 rule), byte for byte.
//!
//! `core/tests/codec_differential.rs` checks it against the `bson` crate (a dev-dependency only): the same
//! bytes for the same document, each reading the other's; the deliberate differences are listed in
//! docs/payloads.md.

use chrono::{DateTime, Utc};

use crate::decimal::{Decimal, DecimalError};
use crate::value::{Map, Value};

/// The default bound on nesting depth of documents and arrays.
pub const DEFAULT_MAX_DEPTH: usize = crate::json::DEFAULT_MAX_DEPTH;

/// Why some bytes are not a BSON document we can decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid BSON at byte {offset}{}: {problem}", key_suffix(.key))]
pub struct BsonError {
    /// Byte offset of the problem.
    pub offset: usize,
    /// Dotted path of the element being read, when known.
    pub key: Option<String>,
    pub problem: BsonProblem,
}

fn key_suffix(key: &Option<String>) -> String {
    key.as_ref()
        .map(|k| format!(" (element `{k}`)"))
        .unwrap_or_default()
}

/// What was wrong with a BSON document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BsonProblem {
    #[error("document shorter than the 5-byte minimum")]
    TooShort,
    #[error("declared document size {declared} does not match the {actual} bytes available")]
    SizeMismatch { declared: i64, actual: usize },
    #[error("unexpected end of data")]
    Truncated,
    #[error("document does not end with a NUL byte")]
    MissingTerminator,
    #[error("string is not valid UTF-8")]
    InvalidUtf8,
    #[error("invalid string length {0}")]
    InvalidStringLength(i64),
    #[error("invalid boolean byte {0:#04x}")]
    InvalidBool(u8),
    #[error("date-time {0} ms is out of range")]
    DateTimeOutOfRange(i64),
    #[error("unsupported element type {0:#04x}")]
    UnsupportedType(u8),
    #[error("nesting deeper than {0} levels")]
    TooDeep(usize),
}

/// Why a value cannot be encoded as BSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BsonEncodeError {
    #[error("a BSON document must be a map, not a {0}")]
    NotAMap(&'static str),
    #[error("{path}: map key contains a NUL character, which BSON cannot store")]
    NulInKey { path: String },
    #[error("{path}: {source}")]
    Decimal { path: String, source: DecimalError },
    #[error("document of {0} bytes exceeds the BSON limit of 2 GiB")]
    TooLarge(usize),
}

/// Decodes a whole BSON document (the bytes must be exactly one document) into a map.
pub fn decode(bytes: &[u8]) -> Result<Map, BsonError> {
    decode_with_depth(bytes, DEFAULT_MAX_DEPTH)
}

/// Decodes a whole BSON document, allowing at most `max_depth` nested documents and arrays.
pub fn decode_with_depth(bytes: &[u8], max_depth: usize) -> Result<Map, BsonError> {
    if bytes.len() < 5 {
        return Err(BsonError {
            offset: 0,
            key: None,
            problem: BsonProblem::TooShort,
        });
    }
    let declared = i64::from(i32::from_le_bytes(bytes[..4].try_into().expect("4 bytes")));
    if declared != bytes.len() as i64 {
        return Err(BsonError {
            offset: 0,
            key: None,
            problem: BsonProblem::SizeMismatch {
                declared,
                actual: bytes.len(),
            },
        });
    }
    let mut r = Reader {
        buf: bytes,
        pos: 0,
        depth: 0,
        max_depth,
        path: Vec::new(),
        scratch: Vec::new(),
    };
    match r.document(false)? {
        Value::Map(map) => Ok(map),
        _ => unreachable!("document(false) reads a map"),
    }
}

/// Quick check used by the decoder: could these bytes be a BSON document (size header matches, ends in NUL)?
pub fn looks_like_document(bytes: &[u8]) -> bool {
    bytes.len() >= 5
        && i32::from_le_bytes(bytes[..4].try_into().expect("4 bytes")) as i64 == bytes.len() as i64
        && bytes[bytes.len() - 1] == 0
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    depth: usize,
    max_depth: usize,
    path: Vec<String>,
    /// Entries of the documents being read, innermost last: each map is built once, at its exact size.
    scratch: Vec<(String, Value)>,
}

type RResult<T> = Result<T, BsonError>;

impl<'a> Reader<'a> {
    fn fail(&self, problem: BsonProblem) -> BsonError {
        BsonError {
            offset: self.pos,
            key: if self.path.is_empty() {
                None
            } else {
                Some(self.path.join("."))
            },
            problem,
        }
    }

    fn take(&mut self, n: usize) -> RResult<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| self.fail(BsonProblem::Truncated))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn byte(&mut self) -> RResult<u8> {
        Ok(self.take(1)?[0])
    }

    fn i32(&mut self) -> RResult<i32> {
        Ok(i32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    fn i64(&mut self) -> RResult<i64> {
        Ok(i64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }

    fn cstring(&mut self) -> RResult<&'a str> {
        let rest = &self.buf[self.pos..];
        let len = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| self.fail(BsonProblem::Truncated))?;
        let s =
            std::str::from_utf8(&rest[..len]).map_err(|_| self.fail(BsonProblem::InvalidUtf8))?;
        self.pos += len + 1;
        Ok(s)
    }

    fn string(&mut self) -> RResult<String> {
        let len = self.i32()?;
        if len < 1 {
            return Err(self.fail(BsonProblem::InvalidStringLength(i64::from(len))));
        }
        let bytes = self.take(len as usize)?;
        let (text, nul) = bytes.split_at(bytes.len() - 1);
        if nul != [0] {
            return Err(self.fail(BsonProblem::MissingTerminator));
        }
        std::str::from_utf8(text)
            .map(str::to_owned)
            .map_err(|_| self.fail(BsonProblem::InvalidUtf8))
    }

    /// Reads a document (header, elements, terminator) at the current position, as a map, or as a list
    /// when it is an array (whose keys are then ignored).
    fn document(&mut self, array: bool) -> RResult<Value> {
        self.depth += 1;
        if self.depth > self.max_depth {
            return Err(self.fail(BsonProblem::TooDeep(self.max_depth)));
        }
        let start = self.pos;
        let size = self.i32()?;
        if size < 5 {
            return Err(self.fail(BsonProblem::TooShort));
        }
        let end = start
            .checked_add(size as usize)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| self.fail(BsonProblem::Truncated))?;
        // Elements must not read past this document's end: bound the view.
        let outer = self.buf;
        self.buf = &outer[..end];
        let base = self.scratch.len();
        let mut list = Vec::new();
        let result = loop {
            let tag = match self.byte() {
                Ok(t) => t,
                Err(e) => break Err(e),
            };
            if tag == 0 {
                if self.pos != end {
                    break Err(self.fail(BsonProblem::SizeMismatch {
                        declared: i64::from(size),
                        actual: self.pos - start,
                    }));
                }
                break Ok(());
            }
            let key = match self.cstring() {
                Ok(k) => k.to_owned(),
                Err(e) => break Err(e),
            };
            self.path.push(key);
            let value = match self.element(tag) {
                Ok(v) => v,
                Err(e) => break Err(e),
            };
            let key = self.path.pop().expect("pushed above");
            if array {
                list.push(value);
            } else {
                self.scratch.push((key, value));
            }
        };
        self.buf = outer;
        if let Err(mut e) = result {
            // Ran out of bytes inside this document: the terminator is what is missing.
            if e.problem == BsonProblem::Truncated && self.pos >= end {
                e.problem = BsonProblem::MissingTerminator;
            }
            return Err(e);
        }
        self.depth -= 1;
        if array {
            return Ok(Value::List(list));
        }
        let mut map = Map::with_capacity_and_hasher(self.scratch.len() - base, Default::default());
        for (k, v) in self.scratch.drain(base..) {
            map.insert(k, v);
        }
        Ok(Value::Map(map))
    }

    fn element(&mut self, tag: u8) -> RResult<Value> {
        Ok(match tag {
            0x01 => Value::Float(f64::from_le_bytes(self.take(8)?.try_into().expect("8"))),
            0x02 | 0x0E => Value::String(self.string()?),
            0x03 => self.document(false)?,
            0x04 => self.document(true)?,
            0x05 => {
                let len = self.i32()?;
                if len < 0 {
                    return Err(self.fail(BsonProblem::InvalidStringLength(i64::from(len))));
                }
                let subtype = self.byte()?;
                let data = self.take(len as usize)?;
                if subtype == 0x02 {
                    // Old binary subtype: an inner int32 length precedes the bytes.
                    if data.len() < 4
                        || i32::from_le_bytes(data[..4].try_into().expect("4")) as usize
                            != data.len() - 4
                    {
                        return Err(self.fail(BsonProblem::InvalidStringLength(i64::from(len))));
                    }
                    Value::Bytes(data[4..].to_vec())
                } else {
                    Value::Bytes(data.to_vec())
                }
            }
            0x06 | 0x0A => Value::Null,
            0x07 => {
                let id = self.take(12)?;
                let mut hex = String::with_capacity(24);
                for b in id {
                    hex.push(char::from_digit(u32::from(b >> 4), 16).expect("nibble"));
                    hex.push(char::from_digit(u32::from(b & 0xf), 16).expect("nibble"));
                }
                Value::String(hex)
            }
            0x08 => match self.byte()? {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                other => {
                    self.pos -= 1;
                    return Err(self.fail(BsonProblem::InvalidBool(other)));
                }
            },
            0x09 => {
                let ms = self.i64()?;
                let dt = DateTime::<Utc>::from_timestamp_millis(ms)
                    .ok_or_else(|| self.fail(BsonProblem::DateTimeOutOfRange(ms)))?;
                Value::DateTime(dt)
            }
            0x10 => Value::Int(i64::from(self.i32()?)),
            0x11 => Value::from(u64::from_le_bytes(self.take(8)?.try_into().expect("8"))),
            0x12 => Value::Int(self.i64()?),
            0x13 => Value::Decimal(Decimal::from_bid_bytes(
                self.take(16)?.try_into().expect("16"),
            )),
            other => {
                // Point at the type byte, which precedes the key (its bytes and NUL) just read.
                self.pos -= self.path.last().map_or(0, String::len) + 2;
                return Err(self.fail(BsonProblem::UnsupportedType(other)));
            }
        })
    }
}

/// Encodes a map value as one BSON document.
pub fn encode(value: &Value) -> Result<Vec<u8>, BsonEncodeError> {
    match value {
        Value::Map(map) => encode_map(map),
        other => Err(BsonEncodeError::NotAMap(other.kind().name())),
    }
}

/// Encodes a map as one BSON document.
pub fn encode_map(map: &Map) -> Result<Vec<u8>, BsonEncodeError> {
    let mut out = Vec::with_capacity(256);
    let mut path = Vec::new();
    write_document(
        &mut out,
        map.iter().map(|(k, v)| (KeyRef::Str(k), v)),
        &mut path,
    )?;
    if out.len() > i32::MAX as usize {
        return Err(BsonEncodeError::TooLarge(out.len()));
    }
    Ok(out)
}

enum KeyRef<'a> {
    Str(&'a str),
    Index(usize),
}

fn write_document<'v>(
    out: &mut Vec<u8>,
    entries: impl Iterator<Item = (KeyRef<'v>, &'v Value)>,
    path: &mut Vec<String>,
) -> Result<(), BsonEncodeError> {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    for (key, value) in entries {
        let tag_pos = out.len();
        out.push(0);
        match key {
            KeyRef::Str(k) => {
                if k.contains('\0') {
                    path.push(k.replace('\0', "\\0"));
                    return Err(BsonEncodeError::NulInKey {
                        path: render_path(path),
                    });
                }
                path.push(k.to_owned());
                out.extend_from_slice(k.as_bytes());
            }
            KeyRef::Index(i) => {
                path.push(i.to_string());
                out.extend_from_slice(i.to_string().as_bytes());
            }
        }
        out.push(0);
        out[tag_pos] = write_element(out, value, path)?;
        path.pop();
    }
    out.push(0);
    let size = (out.len() - start) as i32;
    out[start..start + 4].copy_from_slice(&size.to_le_bytes());
    Ok(())
}

fn render_path(path: &[String]) -> String {
    format!("$.{}", path.join("."))
}

/// Writes the element's content and returns its type tag.
fn write_element(
    out: &mut Vec<u8>,
    value: &Value,
    path: &mut Vec<String>,
) -> Result<u8, BsonEncodeError> {
    Ok(match value {
        Value::Null => 0x0A,
        Value::Bool(b) => {
            out.push(u8::from(*b));
            0x08
        }
        Value::Int(i) => match i32::try_from(*i) {
            Ok(small) => {
                out.extend_from_slice(&small.to_le_bytes());
                0x10
            }
            Err(_) => {
                out.extend_from_slice(&i.to_le_bytes());
                0x12
            }
        },
        Value::Float(f) => {
            out.extend_from_slice(&f.to_le_bytes());
            0x01
        }
        Value::Decimal(d) => {
            let bytes = d
                .to_bid_bytes()
                .map_err(|source| BsonEncodeError::Decimal {
                    path: render_path(path),
                    source,
                })?;
            out.extend_from_slice(&bytes);
            0x13
        }
        Value::String(s) => {
            out.extend_from_slice(&((s.len() + 1) as i32).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
            out.push(0);
            0x02
        }
        Value::DateTime(dt) => {
            out.extend_from_slice(&dt.timestamp_millis().to_le_bytes());
            0x09
        }
        Value::Bytes(b) => {
            out.extend_from_slice(&(b.len() as i32).to_le_bytes());
            out.push(0x00);
            out.extend_from_slice(b);
            0x05
        }
        Value::List(list) => {
            write_document(
                out,
                list.iter().enumerate().map(|(i, v)| (KeyRef::Index(i), v)),
                path,
            )?;
            0x04
        }
        Value::Map(map) => {
            write_document(out, map.iter().map(|(k, v)| (KeyRef::Str(k), v)), path)?;
            0x03
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::parse_datetime;
    use crate::value;
    use base64::Engine as _;

    const SEED_EXAMPLE: &str = "cwAAAAJ0eXBlABIAAAB1c2VyX25vdGlmaWNhdGlvbgACbm90aWZpY2F0aW9uX3R5cGUABgAAAGVtYWlsAAN1c2VyAC8AAAAQaWQAAhIPAAJlbWFpbAAXAAAAam9obmRvZV84NkBleGFtcGxlLmNvbQAAAA==";

    fn b64(s: &str) -> Vec<u8> {
        base64::engine::general_purpose::STANDARD.decode(s).unwrap()
    }

    #[test]
    fn decodes_and_reencodes_the_seed_example_byte_for_byte() {
        let expected = value!({
            "type": "user_notification",
            "notification_type": "email",
            "user": {"id": 987650, "email": "johndoe_86@example.com"}
        });
        let decoded = decode(&b64(SEED_EXAMPLE)).unwrap();
        assert_eq!(Value::Map(decoded), expected);
        let encoded = encode(&expected).unwrap();
        assert_eq!(
            base64::engine::general_purpose::STANDARD.encode(encoded),
            SEED_EXAMPLE
        );
    }

    #[test]
    fn round_trips_every_kind() {
        let v = value!({
            "n": null, "t": true, "f": false, "i32": (-7), "i64": (1i64 << 40), "fl": 2.5,
            "d": ("19.99".parse::<Decimal>().unwrap()),
            "s": "héllo", "dt": (parse_datetime("2020-05-04T15:53:27.823Z").unwrap()),
            "b": (vec![0u8, 1, 255]), "l": [1, "x", [true]], "m": {"k": {"deep": 1}}
        });
        let bytes = encode(&v).unwrap();
        assert_eq!(Value::Map(decode(&bytes).unwrap()), v);
    }

    #[test]
    fn strict_about_structure() {
        let good = encode(&value!({"a": "x"})).unwrap();
        // Truncated anywhere: never a panic, always an error.
        for cut in 0..good.len() {
            assert!(decode(&good[..cut]).is_err(), "cut at {cut}");
        }
        // Size header lying about the length.
        let mut lying = good.clone();
        lying[0] += 1;
        lying.push(0);
        assert!(decode(&lying).is_err());
        // A string length that points past the end.
        let mut bad = good.clone();
        bad[7] = 100;
        let e = decode(&bad).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("a"), "{e}");
        // Invalid boolean.
        let mut b = encode(&value!({"b": true})).unwrap();
        b[7] = 2;
        let e = decode(&b).unwrap_err();
        assert_eq!(e.problem, BsonProblem::InvalidBool(2));
        // Unsupported type (regex 0x0B).
        let regex = [13u8, 0, 0, 0, 0x0B, b'r', 0, b'a', 0, 0, 0, 0, 0];
        let e = decode(&regex[..]).unwrap_err();
        assert!(
            matches!(e.problem, BsonProblem::UnsupportedType(0x0B)),
            "{e}"
        );
        // The offset is the type byte's (regression: it was the key's NUL).
        assert_eq!(e.offset, 4, "{e}");
    }

    #[test]
    fn depth_is_bounded() {
        let mut v = value!({"leaf": 1});
        for _ in 0..200 {
            v = Value::from([("x", v)]);
        }
        let bytes = encode(&v).unwrap();
        let e = decode(&bytes).unwrap_err();
        assert_eq!(e.problem, BsonProblem::TooDeep(DEFAULT_MAX_DEPTH));
    }

    #[test]
    fn refuses_what_bson_cannot_hold() {
        assert_eq!(
            encode(&value!([1])).unwrap_err(),
            BsonEncodeError::NotAMap("list")
        );
        let e = encode(&value!({"a": {"b\u{0}c": 1}})).unwrap_err();
        assert_eq!(
            e.to_string(),
            "$.a.b\\0c: map key contains a NUL character, which BSON cannot store"
        );
    }

    #[test]
    fn object_ids_and_timestamps_decode() {
        // {"_id": ObjectId("5f0c3c3a9d1e8a1b2c3d4e5f"), "ts": Timestamp(1, 2)}
        let mut doc = Vec::new();
        doc.extend_from_slice(&[0; 4]);
        doc.push(0x07);
        doc.extend_from_slice(b"_id\0");
        doc.extend_from_slice(&[
            0x5f, 0x0c, 0x3c, 0x3a, 0x9d, 0x1e, 0x8a, 0x1b, 0x2c, 0x3d, 0x4e, 0x5f,
        ]);
        doc.push(0x11);
        doc.extend_from_slice(b"ts\0");
        doc.extend_from_slice(&((1u64 << 32) | 2).to_le_bytes());
        doc.push(0);
        let n = doc.len() as i32;
        doc[..4].copy_from_slice(&n.to_le_bytes());
        let m = decode(&doc).unwrap();
        assert_eq!(m["_id"], Value::from("5f0c3c3a9d1e8a1b2c3d4e5f"));
        assert_eq!(m["ts"], Value::Int((1i64 << 32) | 2));
    }
}
