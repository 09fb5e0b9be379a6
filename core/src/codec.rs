//! Decoding SQS message bodies into payloads, and encoding payloads into bodies.
//!
//! The rules are documented in `docs/payloads.md`; in short:
//!
//! 1. When the message carries the [`ENCODING_ATTRIBUTE`] (`mega.encoding`, set by every sqs-mega
//!    publisher), the body is decoded exactly as it declares: `json` (a JSON object), `bson` (Base64 of a BSON
//!    document), `plaintext` (the body as it is) or `binary` (Base64 of any bytes).
//! 2. Otherwise (a foreign producer), the body is recognised:
//!    - a JSON object that is an SNS envelope is unwrapped and its `Message` decoded by these same rules
//!      (the envelope's own `mega.encoding` attribute, if any, declares the inner encoding);
//!    - a JSON object is a MEGA event when `protocol == "mega"` and `version == 1`, else a data object;
//!    - any other JSON text (a number, a string, a list, `true`…) is plaintext;
//!    - strict Base64 whose bytes are a BSON document is a MEGA event or data object as above; other strict
//!      Base64 is a binary blob;
//!    - anything else is plaintext.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;

use crate::bson::{self, BsonEncodeError, BsonError};
use crate::event::{self, EventError};
use crate::json::{self, JsonEncodeError, JsonError};
use crate::sns::{self, SnsMetadata};
use crate::value::{Map, Value};

/// The message attribute in which publishers declare a body's encoding.
pub const ENCODING_ATTRIBUTE: &str = "mega.encoding";

/// The maximum SQS message size today (1 MiB), the default limit.
pub const MAX_MESSAGE_BYTES: usize = 1_048_576;
/// The older SQS message size limit (256 KiB), still in force for SNS and some accounts.
pub const MAX_MESSAGE_BYTES_256K: usize = 262_144;

/// How a body is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// A JSON object (MEGA event or data object).
    Json,
    /// A BSON document in standard Base64 (MEGA event or data object).
    Bson,
    /// Text as it is.
    Plaintext,
    /// Any bytes in standard Base64.
    Binary,
}

impl Encoding {
    /// The attribute value: `json`, `bson`, `plaintext` or `binary`.
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Json => "json",
            Encoding::Bson => "bson",
            Encoding::Plaintext => "plaintext",
            Encoding::Binary => "binary",
        }
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Encoding {
    type Err = DecodeError;
    fn from_str(s: &str) -> Result<Encoding, DecodeError> {
        match s {
            "json" => Ok(Encoding::Json),
            "bson" => Ok(Encoding::Bson),
            "plaintext" => Ok(Encoding::Plaintext),
            "binary" => Ok(Encoding::Binary),
            other => Err(DecodeError::UnknownEncoding(
                crate::decimal::truncate_for_message(other),
            )),
        }
    }
}

/// A decoded (or to-be-encoded) payload.
#[derive(Clone, Debug, PartialEq)]
pub enum Content {
    /// A MEGA event.
    Mega(Box<event::Payload>),
    /// A data object (always a map).
    Data(Value),
    /// Text that is not a JSON object.
    Plaintext(String),
    /// Bytes that are not a BSON document.
    Binary(Vec<u8>),
    /// Nothing: an SNS subscription or unsubscribe confirmation.
    Empty,
}

/// The kind of a [`Content`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ContentKind {
    Mega,
    Data,
    Plaintext,
    Binary,
    Empty,
}

impl ContentKind {
    /// `mega`, `data`, `plaintext`, `binary` or `none`.
    pub fn as_str(self) -> &'static str {
        match self {
            ContentKind::Mega => "mega",
            ContentKind::Data => "data",
            ContentKind::Plaintext => "plaintext",
            ContentKind::Binary => "binary",
            ContentKind::Empty => "none",
        }
    }
}

impl Content {
    pub fn kind(&self) -> ContentKind {
        match self {
            Content::Mega(_) => ContentKind::Mega,
            Content::Data(_) => ContentKind::Data,
            Content::Plaintext(_) => ContentKind::Plaintext,
            Content::Binary(_) => ContentKind::Binary,
            Content::Empty => ContentKind::Empty,
        }
    }
}

impl From<event::Payload> for Content {
    fn from(p: event::Payload) -> Content {
        Content::Mega(Box::new(p))
    }
}

impl From<Map> for Content {
    fn from(m: Map) -> Content {
        Content::Data(Value::Map(m))
    }
}

/// A decoded message body.
#[derive(Clone, Debug, PartialEq)]
pub struct Decoded {
    pub content: Content,
    /// How the payload was encoded (for SNS, the inner message's encoding). `None` for confirmations.
    pub encoding: Option<Encoding>,
    /// Whether the encoding was declared by the `mega.encoding` attribute (`false`: recognised).
    pub declared: bool,
    /// The SNS envelope's metadata when the body was one.
    pub sns: Option<SnsMetadata>,
    /// The canonical map of a MEGA event, computed once for pattern matching.
    mega_value: Option<Value>,
}

impl Decoded {
    fn new(content: Content, encoding: Option<Encoding>, declared: bool) -> Decoded {
        let mega_value = match &content {
            Content::Mega(p) => Some(p.to_value()),
            _ => None,
        };
        Decoded {
            content,
            encoding,
            declared,
            sns: None,
            mega_value,
        }
    }

    pub fn kind(&self) -> ContentKind {
        self.content.kind()
    }

    /// Replaces the content (a transformed payload, say), keeping encoding and SNS metadata.
    pub fn replace_content(&mut self, content: Content) {
        let fresh = Decoded::new(content, self.encoding, self.declared);
        self.content = fresh.content;
        self.mega_value = fresh.mega_value;
    }

    /// The value patterns match against: the canonical map of a MEGA event, or the data object. `None` for
    /// plaintext, binary and empty payloads.
    pub fn value(&self) -> Option<&Value> {
        match &self.content {
            Content::Mega(_) => self.mega_value.as_ref(),
            Content::Data(v) => Some(v),
            _ => None,
        }
    }

    /// The `mega decode` report as a value: `{"kind", "encoding", "payload", "sns"}`, with typed values in
    /// tagged form when written by [`json::to_tagged_string`].
    pub fn to_report(&self) -> Value {
        let payload = match &self.content {
            Content::Mega(_) | Content::Data(_) => self.value().cloned().unwrap_or_default(),
            Content::Plaintext(s) => Value::from(s.as_str()),
            Content::Binary(b) => Value::Bytes(b.clone()),
            Content::Empty => Value::Null,
        };
        Value::from([
            ("kind", Value::from(self.kind().as_str())),
            ("encoding", Value::from(self.encoding.map(Encoding::as_str))),
            ("payload", payload),
            (
                "sns",
                self.sns.as_ref().map_or(Value::Null, SnsMetadata::to_value),
            ),
        ])
    }
}

/// Limits applied while decoding.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DecodeOptions {
    /// Largest body accepted, in bytes. Default: 1 MiB, the largest SQS message.
    pub max_body_bytes: usize,
    /// Deepest nesting of maps and lists accepted. Default: 128.
    pub max_depth: usize,
}

setters!(DecodeOptions {
    with_max_body_bytes => max_body_bytes: usize,
    with_max_depth => max_depth: usize,
});

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            max_body_bytes: MAX_MESSAGE_BYTES,
            max_depth: json::DEFAULT_MAX_DEPTH,
        }
    }
}

/// Why a body could not be decoded. Only bodies that break a declared encoding, break the MEGA protocol or
/// exceed a limit fail: an undeclared body always decodes to something.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("body of {size} bytes exceeds the limit of {max} bytes")]
    TooLarge { size: usize, max: usize },
    #[error("body is not valid UTF-8 (first invalid byte at offset {offset})")]
    InvalidUtf8 { offset: usize },
    #[error("unknown {ENCODING_ATTRIBUTE} attribute value `{0}` (expected json, bson, plaintext or binary)")]
    UnknownEncoding(String),
    #[error("body is not valid JSON: {0}")]
    Json(#[from] JsonError),
    #[error("body declared as json is a JSON {0}, not an object")]
    JsonNotObject(&'static str),
    #[error("body declared as {encoding} is not strict standard Base64: {problem}")]
    Base64 { encoding: Encoding, problem: String },
    #[error("body is not a valid BSON document: {0}")]
    Bson(#[from] BsonError),
    #[error("invalid MEGA event: {0}")]
    InvalidEvent(#[from] EventError),
    #[error("in the SNS notification's Message: {0}")]
    InSnsMessage(Box<DecodeError>),
}

impl DecodeError {
    /// The stable, language-neutral reason (used by the conformance vectors, and the detail of the error's
    /// [`crate::MegaError`] code `decode.<reason>`):
    /// `too_large`, `invalid_utf8`, `unknown_encoding`, `json`, `json_not_object`, `base64`, `bson`,
    /// `invalid_event`; errors inside an SNS message keep the inner code.
    pub fn reason(&self) -> &'static str {
        match self {
            DecodeError::TooLarge { .. } => "too_large",
            DecodeError::InvalidUtf8 { .. } => "invalid_utf8",
            DecodeError::UnknownEncoding(_) => "unknown_encoding",
            DecodeError::Json(_) => "json",
            DecodeError::JsonNotObject(_) => "json_not_object",
            DecodeError::Base64 { .. } => "base64",
            DecodeError::Bson(_) => "bson",
            DecodeError::InvalidEvent(_) => "invalid_event",
            DecodeError::InSnsMessage(inner) => inner.reason(),
        }
    }
}

/// Decodes a body with default limits. `declared` is the value of the `mega.encoding` message attribute,
/// when the message has one.
pub fn decode(body: &str, declared: Option<&str>) -> Result<Decoded, DecodeError> {
    decode_with(body, declared, &DecodeOptions::default())
}

/// Decodes a body given as bytes (from a file, say): invalid UTF-8 is an error, since SQS bodies are text.
pub fn decode_bytes(
    body: &[u8],
    declared: Option<&str>,
    options: &DecodeOptions,
) -> Result<Decoded, DecodeError> {
    if body.len() > options.max_body_bytes {
        return Err(DecodeError::TooLarge {
            size: body.len(),
            max: options.max_body_bytes,
        });
    }
    let text = std::str::from_utf8(body).map_err(|e| DecodeError::InvalidUtf8 {
        offset: e.valid_up_to(),
    })?;
    decode_with(text, declared, options)
}

/// Decodes a body with the given limits.
pub fn decode_with(
    body: &str,
    declared: Option<&str>,
    options: &DecodeOptions,
) -> Result<Decoded, DecodeError> {
    if body.len() > options.max_body_bytes {
        return Err(DecodeError::TooLarge {
            size: body.len(),
            max: options.max_body_bytes,
        });
    }
    match declared {
        Some(name) => decode_declared(body, name.parse()?, options),
        None => decode_recognised(body, options, true),
    }
}

fn decode_declared(
    body: &str,
    encoding: Encoding,
    options: &DecodeOptions,
) -> Result<Decoded, DecodeError> {
    let content = match encoding {
        Encoding::Json => match json::parse_with_depth(body, options.max_depth)? {
            Value::Map(map) => map_content(map)?,
            other => return Err(DecodeError::JsonNotObject(other.kind().name())),
        },
        Encoding::Bson => {
            let bytes =
                strict_base64(body).map_err(|problem| DecodeError::Base64 { encoding, problem })?;
            map_content(bson::decode_with_depth(&bytes, options.max_depth)?)?
        }
        Encoding::Plaintext => Content::Plaintext(body.to_owned()),
        Encoding::Binary => Content::Binary(
            strict_base64(body).map_err(|problem| DecodeError::Base64 { encoding, problem })?,
        ),
    };
    Ok(Decoded::new(content, Some(encoding), true))
}

/// A map is a MEGA event when its header says so (and then it must be a valid one), else a data object.
fn map_content(map: Map) -> Result<Content, DecodeError> {
    if event::is_mega(&map) {
        Ok(Content::Mega(Box::new(event::Payload::from_map(&map)?)))
    } else {
        Ok(Content::Data(Value::Map(map)))
    }
}

fn decode_recognised(
    body: &str,
    options: &DecodeOptions,
    unwrap_sns: bool,
) -> Result<Decoded, DecodeError> {
    let first = json::first_significant_byte(body);
    if matches!(
        first,
        Some(b'{' | b'[' | b'"' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n')
    ) {
        match json::parse_with_depth(body, options.max_depth) {
            Ok(Value::Map(map)) => {
                if unwrap_sns {
                    if let Some(envelope) = sns::unwrap(&map) {
                        return decode_sns(envelope, options);
                    }
                }
                return Ok(Decoded::new(map_content(map)?, Some(Encoding::Json), false));
            }
            // Valid JSON but not an object: text, not a data object.
            Ok(_) => {
                return Ok(Decoded::new(
                    Content::Plaintext(body.to_owned()),
                    Some(Encoding::Plaintext),
                    false,
                ))
            }
            // Too deep to be anything else: say so rather than call it text.
            Err(e) if matches!(e.problem, json::JsonProblem::TooDeep(_)) => return Err(e.into()),
            Err(_) => {}
        }
    }
    if let Ok(bytes) = strict_base64(body) {
        if bson::looks_like_document(&bytes) {
            match bson::decode_with_depth(&bytes, options.max_depth) {
                Ok(map) => return Ok(Decoded::new(map_content(map)?, Some(Encoding::Bson), false)),
                Err(e) if matches!(e.problem, bson::BsonProblem::TooDeep(_)) => {
                    return Err(e.into())
                }
                Err(_) => {}
            }
        }
        return Ok(Decoded::new(
            Content::Binary(bytes),
            Some(Encoding::Binary),
            false,
        ));
    }
    Ok(Decoded::new(
        Content::Plaintext(body.to_owned()),
        Some(Encoding::Plaintext),
        false,
    ))
}

fn decode_sns(envelope: sns::Envelope, options: &DecodeOptions) -> Result<Decoded, DecodeError> {
    let metadata = envelope.metadata;
    let mut decoded = if metadata.message_type == sns::SnsMessageType::Notification {
        let inner = match metadata.attribute(ENCODING_ATTRIBUTE) {
            Some(name) => name
                .parse()
                .and_then(|enc| decode_declared(&envelope.message, enc, options)),
            None => decode_recognised(&envelope.message, options, false),
        };
        inner.map_err(|e| DecodeError::InSnsMessage(Box::new(e)))?
    } else {
        Decoded::new(Content::Empty, None, false)
    };
    decoded.sns = Some(metadata);
    Ok(decoded)
}

/// Decodes strict standard Base64: the standard alphabet, `=` padding to a multiple of 4, no whitespace,
/// no non-zero trailing bits, not empty.
pub fn strict_base64(text: &str) -> Result<Vec<u8>, String> {
    if text.is_empty() {
        return Err("empty".to_owned());
    }
    if !text.len().is_multiple_of(4) {
        return Err(format!("length {} is not a multiple of 4", text.len()));
    }
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| e.to_string())
}

/// Options for encoding a payload into a body.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct EncodeOptions {
    /// Encode MEGA events and data objects as BSON in Base64 rather than JSON.
    pub binary_encoding: bool,
    /// The largest message accepted, body plus the encoding attribute, in bytes (SQS counts attributes).
    /// Default 1 MiB; use [`MAX_MESSAGE_BYTES_256K`] for the older limit.
    pub max_message_bytes: usize,
}

setters!(EncodeOptions {
    with_binary_encoding => binary_encoding: bool,
    with_max_message_bytes => max_message_bytes: usize,
});

impl Default for EncodeOptions {
    fn default() -> Self {
        EncodeOptions {
            binary_encoding: false,
            max_message_bytes: MAX_MESSAGE_BYTES,
        }
    }
}

/// An encoded body and the encoding to declare in the [`ENCODING_ATTRIBUTE`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Encoded {
    pub body: String,
    pub encoding: Encoding,
}

impl Encoded {
    /// Bytes SQS counts for this message: the body plus the encoding attribute (name, type, value).
    pub fn message_size(&self) -> usize {
        self.body.len() + attribute_size(ENCODING_ATTRIBUTE, "String", self.encoding.as_str())
    }
}

/// The size SQS counts for one message attribute: its name, data type and value.
pub fn attribute_size(name: &str, data_type: &str, value: &str) -> usize {
    name.len() + data_type.len() + value.len()
}

/// Why a payload could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("message of {size} bytes exceeds the maximum message size of {max} bytes")]
    TooLarge { size: usize, max: usize },
    #[error("binary_encoding applies to MEGA events and data objects; a plaintext payload is sent as text")]
    BinaryEncodingOfPlaintext,
    #[error("a data object must be a map, not a {0}")]
    DataNotAMap(&'static str),
    #[error("an empty body cannot be sent: SQS requires at least one character")]
    EmptyBody,
    #[error(
        "plaintext contains U+{codepoint:04X} at byte {offset}, a character SQS does not accept"
    )]
    InvalidCharacter { offset: usize, codepoint: u32 },
    #[error("nothing to encode: an empty payload is only the content of SNS confirmations")]
    NothingToEncode,
    #[error("invalid MEGA event: {0}")]
    InvalidEvent(#[from] EventError),
    #[error(transparent)]
    Json(#[from] JsonEncodeError),
    #[error(transparent)]
    Bson(#[from] BsonEncodeError),
}

/// Encodes a payload into a body.
pub fn encode(content: &Content, options: &EncodeOptions) -> Result<Encoded, EncodeError> {
    let encoded = match content {
        Content::Mega(payload) => {
            payload.validate()?;
            encode_map_value(&payload.to_value(), options)?
        }
        Content::Data(value) => {
            if !matches!(value, Value::Map(_)) {
                return Err(EncodeError::DataNotAMap(value.kind().name()));
            }
            encode_map_value(value, options)?
        }
        Content::Plaintext(text) => {
            if options.binary_encoding {
                return Err(EncodeError::BinaryEncodingOfPlaintext);
            }
            if let Some((offset, c)) = text.char_indices().find(|&(_, c)| !sqs_allows(c)) {
                return Err(EncodeError::InvalidCharacter {
                    offset,
                    codepoint: c as u32,
                });
            }
            Encoded {
                body: text.clone(),
                encoding: Encoding::Plaintext,
            }
        }
        Content::Binary(bytes) => Encoded {
            body: base64::engine::general_purpose::STANDARD.encode(bytes),
            encoding: Encoding::Binary,
        },
        Content::Empty => return Err(EncodeError::NothingToEncode),
    };
    if encoded.body.is_empty() {
        return Err(EncodeError::EmptyBody);
    }
    let size = encoded.message_size();
    if size > options.max_message_bytes {
        return Err(EncodeError::TooLarge {
            size,
            max: options.max_message_bytes,
        });
    }
    Ok(encoded)
}

fn encode_map_value(value: &Value, options: &EncodeOptions) -> Result<Encoded, EncodeError> {
    Ok(if options.binary_encoding {
        Encoded {
            body: base64::engine::general_purpose::STANDARD.encode(bson::encode(value)?),
            encoding: Encoding::Bson,
        }
    } else {
        Encoded {
            body: json::to_string(value)?,
            encoding: Encoding::Json,
        }
    })
}

/// The characters an SQS message body may contain: #x9 | #xA | #xD | #x20–#xD7FF | #xE000–#xFFFD |
/// #x10000–#x10FFFF.
pub fn sqs_allows(c: char) -> bool {
    matches!(c as u32, 0x9 | 0xA | 0xD | 0x20..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10FFFF)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value;

    #[test]
    fn recognises_each_kind() {
        assert_eq!(
            decode(r#"{"a": 1}"#, None).unwrap().kind(),
            ContentKind::Data
        );
        assert_eq!(
            decode("hello world", None).unwrap().kind(),
            ContentKind::Plaintext
        );
        assert_eq!(
            decode("[1, 2]", None).unwrap().kind(),
            ContentKind::Plaintext
        );
        assert_eq!(
            decode("AAEC", None).unwrap().content,
            Content::Binary(vec![0, 1, 2])
        );
        // The documented ambiguity: `test` is valid Base64, so undeclared it is a binary blob...
        assert_eq!(decode("test", None).unwrap().kind(), ContentKind::Binary);
        // ...and declared, it is exactly what the publisher said.
        assert_eq!(
            decode("test", Some("plaintext")).unwrap().content,
            Content::Plaintext("test".into())
        );
    }

    #[test]
    fn declared_encodings_are_enforced() {
        assert!(matches!(
            decode("[1]", Some("json")),
            Err(DecodeError::JsonNotObject("list"))
        ));
        assert!(matches!(
            decode("{", Some("json")),
            Err(DecodeError::Json(_))
        ));
        assert!(matches!(
            decode("a b", Some("bson")),
            Err(DecodeError::Base64 { .. })
        ));
        assert!(matches!(
            decode("AAEC", Some("bson")),
            Err(DecodeError::Bson(_))
        ));
        let e = decode("x", Some("yaml")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown mega.encoding attribute value `yaml` (expected json, bson, plaintext or binary)"
        );
    }

    #[test]
    fn encoding_round_trips_and_declares_itself() {
        let data = value!({"type": "user_notification", "user": {"id": 987650}});
        for binary_encoding in [false, true] {
            let options = EncodeOptions {
                binary_encoding,
                ..Default::default()
            };
            let enc = encode(&Content::Data(data.clone()), &options).unwrap();
            assert_eq!(
                enc.encoding,
                if binary_encoding {
                    Encoding::Bson
                } else {
                    Encoding::Json
                }
            );
            let dec = decode(&enc.body, Some(enc.encoding.as_str())).unwrap();
            assert_eq!(dec.value(), Some(&data));
            // The heuristic reaches the same result without the attribute.
            assert_eq!(decode(&enc.body, None).unwrap().value(), Some(&data));
        }
    }

    #[test]
    fn encoding_refuses_bad_requests() {
        let opts = EncodeOptions {
            binary_encoding: true,
            ..Default::default()
        };
        assert_eq!(
            encode(&Content::Plaintext("hi".into()), &opts).unwrap_err(),
            EncodeError::BinaryEncodingOfPlaintext
        );
        assert_eq!(
            encode(&Content::Data(value!([1])), &EncodeOptions::default()).unwrap_err(),
            EncodeError::DataNotAMap("list")
        );
        assert_eq!(
            encode(
                &Content::Plaintext("a\u{0}".into()),
                &EncodeOptions::default()
            )
            .unwrap_err(),
            EncodeError::InvalidCharacter {
                offset: 1,
                codepoint: 0
            }
        );
        assert_eq!(
            encode(
                &Content::Plaintext(String::new()),
                &EncodeOptions::default()
            )
            .unwrap_err(),
            EncodeError::EmptyBody
        );
        let small = EncodeOptions {
            max_message_bytes: MAX_MESSAGE_BYTES_256K,
            ..Default::default()
        };
        let big = Content::Plaintext("x".repeat(MAX_MESSAGE_BYTES_256K));
        let e = encode(&big, &small).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "message of {} bytes exceeds the maximum message size of 262144 bytes",
                MAX_MESSAGE_BYTES_256K + "mega.encoding".len() + "String".len() + "plaintext".len()
            )
        );
        assert!(encode(&big, &EncodeOptions::default()).is_ok());
    }

    #[test]
    fn limits_apply() {
        let opts = DecodeOptions {
            max_body_bytes: 10,
            ..Default::default()
        };
        assert_eq!(
            decode_with("x".repeat(11).as_str(), None, &opts).unwrap_err(),
            DecodeError::TooLarge { size: 11, max: 10 }
        );
        assert_eq!(
            decode_bytes(b"ab\xffcd", None, &DecodeOptions::default()).unwrap_err(),
            DecodeError::InvalidUtf8 { offset: 2 }
        );
    }
}
