//! One error vocabulary for the core and every binding.
//!
//! Every public error of the core implements [`MegaError`]: it names one entry of the table below
//! ([`ErrorInfo`]: a stable string code such as `decode.base64`, a [`Family`] and a [`Category`]) and may
//! carry a stable detail (a decode reason, a pattern's JSON pointer, the service's error code). Its message
//! (`Display`) names the input and the problem.
//!
//! The bindings derive everything from this one table, so none keeps its own list of codes:
//! - the C ABI's result code is the family's ([`Family::c_result`] gives its number),
//! - Python raises the family's exception class (`mega.DecodeError`…, all under `mega.MegaError`) with
//!   `.code`, `.category` and `.detail`,
//! - Node rejects with an `Error` whose `code` is `ERR_MEGA_` + the family and whose `megaCode` is the code,
//! - Ruby and the JVM raise the family's exception class over the C ABI.
//!
//! `docs/errors.md` is this table in prose; a test checks that it lists every entry as [`markdown_table`]
//! renders it.

use std::fmt;

/// What a caller can do about an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Category {
    /// The input (a body, a pattern, an attribute, an argument) is wrong: fix it; retrying will not help.
    BadInput,
    /// The setup is wrong (settings, a queue that does not exist, permissions): fix the configuration.
    Configuration,
    /// Worth retrying later: throttling, a server error, a network failure.
    Transient,
    /// The service refused the request for a reason of its own.
    Service,
    /// A bug in sqs-mega: please report it.
    Internal,
}

impl Category {
    pub const fn as_str(self) -> &'static str {
        match self {
            Category::BadInput => "bad_input",
            Category::Configuration => "configuration",
            Category::Transient => "transient",
            Category::Service => "service",
            Category::Internal => "internal",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kind of operation that failed: one exception class per family in the bindings, one result code in
/// the C ABI.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Family {
    /// Text that should be JSON (or tagged JSON) is not.
    Json,
    /// A body could not be decoded.
    Decode,
    /// A payload could not be encoded into a body.
    Encode,
    /// A pattern could not be compiled.
    Pattern,
    /// An argument, an option or a setting is out of range or malformed.
    InvalidArgument,
    /// A message or a batch entry was refused by the service.
    Publish,
    /// A call to SQS or SNS failed.
    Service,
    /// The listener could not start or had to stop.
    Listener,
    /// The object is in use (a listener already running).
    Busy,
    /// A handler failed (reported in logs and counters; never returned to a caller).
    Handler,
}

impl Family {
    pub const fn as_str(self) -> &'static str {
        match self {
            Family::Json => "json",
            Family::Decode => "decode",
            Family::Encode => "encode",
            Family::Pattern => "pattern",
            Family::InvalidArgument => "invalid_argument",
            Family::Publish => "publish",
            Family::Service => "service",
            Family::Listener => "listener",
            Family::Busy => "busy",
            Family::Handler => "handler",
        }
    }

    /// The C ABI's `mega_result` for this family (`include/sqs_mega.h`); codes are never renumbered.
    pub const fn c_result(self) -> u32 {
        match self {
            Family::InvalidArgument => 3,
            Family::Decode => 5,
            Family::Encode => 6,
            Family::Pattern => 7,
            Family::Publish => 10,
            Family::Service => 11,
            Family::Listener | Family::Handler => 12,
            Family::Busy => 14,
            Family::Json => 15,
        }
    }

    /// The exception class the bindings raise for this family.
    pub const fn exception(self) -> &'static str {
        match self {
            Family::Json => "JsonError",
            Family::Decode => "DecodeError",
            Family::Encode => "EncodeError",
            Family::Pattern => "PatternError",
            Family::InvalidArgument => "InvalidArgumentError",
            Family::Publish => "PublishError",
            Family::Service => "ServiceError",
            Family::Listener => "ListenerError",
            Family::Busy => "BusyError",
            Family::Handler => "HandlerError",
        }
    }
}

/// One entry of the table: a stable code, its family and category, and what it means.
#[derive(Debug, PartialEq, Eq)]
pub struct ErrorInfo {
    /// Stable: never renamed, never reused (`decode.base64`).
    pub code: &'static str,
    pub family: Family,
    pub category: Category,
    /// One line for `docs/errors.md`.
    pub summary: &'static str,
}

/// A public error of sqs-mega.
pub trait MegaError: std::error::Error {
    /// Its entry of the table.
    fn info(&self) -> &'static ErrorInfo;

    /// A stable detail: a decode reason, the JSON pointer of a pattern problem, the service's error code.
    fn detail(&self) -> Option<String> {
        None
    }

    fn code(&self) -> &'static str {
        self.info().code
    }

    fn category(&self) -> Category {
        self.info().category
    }

    fn family(&self) -> Family {
        self.info().family
    }
}

macro_rules! table {
    ($($name:ident = $code:literal, $family:ident, $category:ident, $summary:literal;)*) => {
        $(
            #[doc = $summary]
            pub static $name: ErrorInfo = ErrorInfo {
                code: $code,
                family: Family::$family,
                category: Category::$category,
                summary: $summary,
            };
        )*
        /// Every entry, in the order of `docs/errors.md`.
        pub static ALL: &[&ErrorInfo] = &[$(&$name),*];
    };
}

table! {
    JSON_SYNTAX = "json.syntax", Json, BadInput, "Text is not valid JSON (line, column and byte are given).";
    JSON_TAGGED = "json.tagged", Json, BadInput, "A tagged-JSON object (`$bytes`, `$datetime`, `$decimal`, `$float`) holds an invalid value.";
    JSON_ENCODE = "json.encode", Encode, BadInput, "A value has no plain JSON form (bytes, NaN or infinity): the path is given.";
    BSON_SYNTAX = "bson.syntax", Decode, BadInput, "Bytes are not a valid BSON document (the byte offset is given).";
    BSON_ENCODE = "bson.encode", Encode, BadInput, "A value cannot be written as BSON (not a map, a NUL in a key, over 2 GiB).";
    DECIMAL_INVALID = "decimal.invalid", InvalidArgument, BadInput, "Text is not a decimal number, or does not fit Decimal128.";
    EVENT_INVALID = "event.invalid", InvalidArgument, BadInput, "A map breaks the MEGA event protocol (the section and field are named).";
    PROJECTION_JSON = "projection.json", Json, BadInput, "The matcher's projection could not read a JSON body.";
    DECODE_TOO_LARGE = "decode.too_large", Decode, BadInput, "A body exceeds the size limit.";
    DECODE_INVALID_UTF8 = "decode.invalid_utf8", Decode, BadInput, "A body is not valid UTF-8.";
    DECODE_UNKNOWN_ENCODING = "decode.unknown_encoding", Decode, BadInput, "The `mega.encoding` attribute names no known encoding.";
    DECODE_JSON = "decode.json", Decode, BadInput, "A body declared (or taken) as JSON is not valid JSON.";
    DECODE_JSON_NOT_OBJECT = "decode.json_not_object", Decode, BadInput, "A body declared as JSON is not a JSON object.";
    DECODE_BASE64 = "decode.base64", Decode, BadInput, "A body declared as BSON or binary is not strict standard Base64.";
    DECODE_BSON = "decode.bson", Decode, BadInput, "A body declared as BSON is not a valid BSON document.";
    DECODE_INVALID_EVENT = "decode.invalid_event", Decode, BadInput, "A body says it is a MEGA event and breaks the protocol.";
    ENCODE_TOO_LARGE = "encode.too_large", Encode, BadInput, "A message (body and attributes) exceeds the maximum message size.";
    ENCODE_BINARY_PLAINTEXT = "encode.binary_plaintext", Encode, BadInput, "BSON encoding was asked for a plaintext payload.";
    ENCODE_DATA_NOT_A_MAP = "encode.data_not_a_map", Encode, BadInput, "A data object is not a map.";
    ENCODE_EMPTY_BODY = "encode.empty_body", Encode, BadInput, "A body would be empty (SQS requires one character).";
    ENCODE_INVALID_CHARACTER = "encode.invalid_character", Encode, BadInput, "A body holds a character SQS does not accept (code point and offset given).";
    ENCODE_NOTHING = "encode.nothing", Encode, BadInput, "An empty payload cannot be encoded.";
    ENCODE_INVALID_EVENT = "encode.invalid_event", Encode, BadInput, "A MEGA event to publish breaks the protocol.";
    ENCODE_JSON = "encode.json", Encode, BadInput, "A payload has no JSON form (use BSON for bytes).";
    ENCODE_BSON = "encode.bson", Encode, BadInput, "A payload has no BSON form.";
    PATTERN_INVALID = "pattern.invalid", Pattern, BadInput, "A pattern cannot be compiled (its JSON pointer is the detail).";
    PUBLISH_INVALID_ATTRIBUTE = "publish.invalid_attribute", InvalidArgument, BadInput, "A message attribute breaks SQS's rules (name, type, value): the attribute is named.";
    PUBLISH_INVALID_OPTION = "publish.invalid_option", InvalidArgument, BadInput, "A publish option does not apply or is out of range.";
    PUBLISH_ENTRY_REJECTED = "publish.entry_rejected", Publish, Service, "The service refused one entry of a batch (its error code is the detail).";
    PUBLISH_ENTRY_UNAVAILABLE = "publish.entry_unavailable", Publish, Transient, "The service failed one entry of a batch through no fault of the sender, after retries.";
    SERVICE_ERROR = "service.error", Service, Service, "SQS or SNS refused a call (its error code is the detail).";
    SERVICE_UNAVAILABLE = "service.unavailable", Service, Transient, "SQS or SNS could not be reached or was throttling or failing: retry later.";
    LISTENER_INVALID_CONFIG = "listener.invalid_config", Listener, Configuration, "A listener setting is out of range.";
    LISTENER_DUPLICATE_SUBSCRIBER = "listener.duplicate_subscriber", Listener, Configuration, "Two subscribers have the same name.";
    LISTENER_QUEUE = "listener.queue", Listener, Configuration, "The queue cannot be used (missing, access denied): the service's code is the detail.";
    LISTENER_ALREADY_RUNNING = "listener.already_running", Busy, BadInput, "The listener is already running.";
    HANDLER_FATAL = "handler.fatal", Handler, BadInput, "A handler failed for good (the message is deleted once every subscriber is done).";
    HANDLER_RETRIABLE = "handler.retriable", Handler, Transient, "A handler failed for now (the message comes back later).";
}

/// The entry with this code.
pub fn lookup(code: &str) -> Option<&'static ErrorInfo> {
    ALL.iter().copied().find(|e| e.code == code)
}

/// The table as `docs/errors.md` shows it.
pub fn markdown_table() -> String {
    let mut out = String::from(
        "| code | family (C result, exception) | category | meaning |\n|---|---|---|---|\n",
    );
    for e in ALL {
        out.push_str(&format!(
            "| `{}` | {} ({}, `{}`) | {} | {} |\n",
            e.code,
            e.family.as_str(),
            e.family.c_result(),
            e.family.exception(),
            e.category,
            e.summary
        ));
    }
    out
}

use crate::bson::{BsonEncodeError, BsonError};
use crate::codec::{DecodeError, EncodeError};
use crate::decimal::DecimalError;
use crate::event::EventError;
use crate::json::{JsonEncodeError, JsonError, TaggedError};
use crate::matcher::{PatternError, ProjectionError};

macro_rules! fixed {
    ($($ty:ty => $info:ident),* $(,)?) => {
        $(impl MegaError for $ty {
            fn info(&self) -> &'static ErrorInfo {
                &$info
            }
        })*
    };
}

fixed! {
    JsonError => JSON_SYNTAX,
    TaggedError => JSON_TAGGED,
    JsonEncodeError => JSON_ENCODE,
    BsonError => BSON_SYNTAX,
    BsonEncodeError => BSON_ENCODE,
    DecimalError => DECIMAL_INVALID,
    EventError => EVENT_INVALID,
    ProjectionError => PROJECTION_JSON,
}

impl MegaError for PatternError {
    fn info(&self) -> &'static ErrorInfo {
        &PATTERN_INVALID
    }

    fn detail(&self) -> Option<String> {
        Some(self.path.clone())
    }
}

impl MegaError for DecodeError {
    fn info(&self) -> &'static ErrorInfo {
        match self {
            DecodeError::TooLarge { .. } => &DECODE_TOO_LARGE,
            DecodeError::InvalidUtf8 { .. } => &DECODE_INVALID_UTF8,
            DecodeError::UnknownEncoding(_) => &DECODE_UNKNOWN_ENCODING,
            DecodeError::Json(_) => &DECODE_JSON,
            DecodeError::JsonNotObject(_) => &DECODE_JSON_NOT_OBJECT,
            DecodeError::Base64 { .. } => &DECODE_BASE64,
            DecodeError::Bson(_) => &DECODE_BSON,
            DecodeError::InvalidEvent(_) => &DECODE_INVALID_EVENT,
            DecodeError::InSnsMessage(inner) => inner.info(),
        }
    }

    /// The reason code of `docs/payloads.md` (`base64`, `invalid_event`…).
    fn detail(&self) -> Option<String> {
        Some(self.reason().to_owned())
    }
}

impl MegaError for EncodeError {
    fn info(&self) -> &'static ErrorInfo {
        match self {
            EncodeError::TooLarge { .. } => &ENCODE_TOO_LARGE,
            EncodeError::BinaryEncodingOfPlaintext => &ENCODE_BINARY_PLAINTEXT,
            EncodeError::DataNotAMap(_) => &ENCODE_DATA_NOT_A_MAP,
            EncodeError::EmptyBody => &ENCODE_EMPTY_BODY,
            EncodeError::InvalidCharacter { .. } => &ENCODE_INVALID_CHARACTER,
            EncodeError::NothingToEncode => &ENCODE_NOTHING,
            EncodeError::InvalidEvent(_) => &ENCODE_INVALID_EVENT,
            EncodeError::Json(_) => &ENCODE_JSON,
            EncodeError::Bson(_) => &ENCODE_BSON,
        }
    }
}

#[cfg(feature = "aws")]
mod aws_errors {
    use super::*;
    use crate::aws::AwsError;
    use crate::listen::{HandlerError, ListenerError};
    use crate::publish::PublishError;

    impl MegaError for AwsError {
        fn info(&self) -> &'static ErrorInfo {
            if self.is_transient() {
                &SERVICE_UNAVAILABLE
            } else {
                &SERVICE_ERROR
            }
        }

        /// The service's error code, when it answered.
        fn detail(&self) -> Option<String> {
            self.service_code().map(str::to_owned)
        }
    }

    impl MegaError for PublishError {
        fn info(&self) -> &'static ErrorInfo {
            match self {
                PublishError::Encode(e) => e.info(),
                PublishError::InvalidAttribute { .. } => &PUBLISH_INVALID_ATTRIBUTE,
                PublishError::InvalidOption(_) => &PUBLISH_INVALID_OPTION,
                PublishError::Aws(e) => e.info(),
                PublishError::EntryFailed {
                    code, sender_fault, ..
                } => {
                    if *sender_fault && !crate::aws::is_transient_code(code) {
                        &PUBLISH_ENTRY_REJECTED
                    } else {
                        &PUBLISH_ENTRY_UNAVAILABLE
                    }
                }
            }
        }

        fn detail(&self) -> Option<String> {
            match self {
                PublishError::Encode(e) => e.detail(),
                PublishError::Aws(e) => e.detail(),
                PublishError::EntryFailed { code, .. } => Some(code.clone()),
                _ => None,
            }
        }
    }

    impl MegaError for ListenerError {
        fn info(&self) -> &'static ErrorInfo {
            match self {
                ListenerError::DuplicateSubscriber(_) => &LISTENER_DUPLICATE_SUBSCRIBER,
                ListenerError::InvalidConfig(_) => &LISTENER_INVALID_CONFIG,
                ListenerError::Queue { .. } => &LISTENER_QUEUE,
                ListenerError::AlreadyRunning => &LISTENER_ALREADY_RUNNING,
            }
        }

        fn detail(&self) -> Option<String> {
            match self {
                ListenerError::Queue { error, .. } => error.detail(),
                _ => None,
            }
        }

        fn category(&self) -> Category {
            match self {
                // A queue that cannot be reached now is worth another try; one that is refused is setup.
                ListenerError::Queue { error, .. } if error.is_transient() => Category::Transient,
                _ => self.info().category,
            }
        }
    }

    impl MegaError for HandlerError {
        fn info(&self) -> &'static ErrorInfo {
            if self.retriable {
                &HANDLER_RETRIABLE
            } else {
                &HANDLER_FATAL
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_dotted() {
        let mut seen = std::collections::HashSet::new();
        for e in ALL {
            assert!(seen.insert(e.code), "{} twice", e.code);
            let (family, name) = e.code.split_once('.').expect("family.name");
            assert!(!family.is_empty() && !name.is_empty(), "{}", e.code);
            assert!(
                e.code.bytes().all(|b| b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || b == b'.'
                    || b == b'_'),
                "{}",
                e.code
            );
            assert_eq!(lookup(e.code), Some(*e));
        }
    }

    #[test]
    fn every_error_names_its_entry() {
        let decode = crate::codec::decode("{\"a\": 1", Some("json")).unwrap_err();
        assert_eq!(decode.code(), "decode.json");
        assert_eq!(MegaError::detail(&decode).as_deref(), Some("json"));
        assert_eq!(decode.family().c_result(), 5);
        let pattern = crate::matcher::compile_pattern_json(
            r#"{"a": {"$nope": 1}}"#,
            crate::matcher::Syntax::Mega,
        )
        .unwrap_err();
        assert_eq!(pattern.code(), "pattern.invalid");
        assert_eq!(MegaError::detail(&pattern).as_deref(), Some("/a/$nope"));
        let json = crate::json::parse("[").unwrap_err();
        assert_eq!(
            (json.code(), json.category()),
            ("json.syntax", Category::BadInput)
        );
    }

    /// `docs/errors.md` holds the table exactly as rendered; `MEGA_BLESS=1` rewrites it.
    #[test]
    fn the_docs_list_every_code() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/errors.md");
        let text = std::fs::read_to_string(path).expect("docs/errors.md");
        let (start, end) = ("<!-- table:start -->\n", "<!-- table:end -->");
        let a = text.find(start).expect("table start marker") + start.len();
        let b = text.find(end).expect("table end marker");
        let table = markdown_table();
        if text[a..b] != table {
            if std::env::var_os("MEGA_BLESS").is_some() {
                std::fs::write(path, format!("{}{}{}", &text[..a], table, &text[b..])).unwrap();
            } else {
                panic!("docs/errors.md is out of date: regenerate it with MEGA_BLESS=1 cargo test -p sqs-mega --lib error");
            }
        }
    }
}
