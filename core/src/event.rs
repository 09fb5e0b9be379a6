//! The MEGA event protocol, version 1.
//!
//! A MEGA payload is a map `{"protocol": "mega", "version": 1, "event": {…}, "object": {…}, "extra": {…}}`.
//! This module gives it a typed form ([`Payload`], [`Event`], [`ObjectData`]), a [`PayloadBuilder`] like the
//! Python one of the seed documents, validation with errors naming the section and field, and a canonical
//! map form ([`Payload::to_value`]) that omits empty fields.
//!
//! Rules (also in `docs/payloads.md`):
//! - `event.name` (non-empty string) and `event.timestamp` (a date-time, or an ISO-8601 string) are required.
//!   The builder stamps the current time when no timestamp is given.
//! - `event.version`, `object.version`: integers (a numeric string such as `"2"` is accepted).
//! - `event.subject`, `object.id`: strings (an integer is accepted and kept as its decimal text).
//! - Keys of `event` other than the known fields are event attributes: they are merged into
//!   `event.attributes` (an explicit `attributes` entry wins on conflict). So `with_event(item_id=…)` and
//!   `{"event": {"attributes": {"item_id": …}}}` are the same event.
//! - `object`, when present, must have a non-empty map `current`; `previous` is an optional map.
//! - `extra` is an optional map of anything.

use chrono::{DateTime, Utc};

use crate::json::parse_datetime;
use crate::value::{Map, Value};

/// The protocol name carried in every MEGA payload.
pub const PROTOCOL: &str = "mega";
/// The protocol version this library speaks.
pub const PROTOCOL_VERSION: i64 = 1;

/// A MEGA event payload.
#[derive(Clone, Debug, PartialEq)]
pub struct Payload {
    pub event: Event,
    pub object: Option<ObjectData>,
    pub extra: Map,
}

/// The `event` section: what happened.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub name: String,
    pub timestamp: DateTime<Utc>,
    pub version: Option<i64>,
    pub domain: Option<String>,
    pub subject: Option<String>,
    pub publisher: Option<String>,
    pub attributes: Map,
}

/// The `object` section: the state of the entity the event is about.
#[derive(Clone, Debug, PartialEq)]
pub struct ObjectData {
    pub r#type: Option<String>,
    pub id: Option<String>,
    pub version: Option<i64>,
    pub current: Map,
    pub previous: Option<Map>,
}

/// A MEGA payload that breaks the protocol. The message names the section and field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("{0} is missing")]
    Missing(&'static str),
    #[error("{field} must be {expected}, not {found}")]
    WrongType {
        field: &'static str,
        expected: &'static str,
        found: String,
    },
    #[error("{0} must be a non-empty string")]
    EmptyString(&'static str),
    #[error("object.current must be a non-empty map")]
    EmptyCurrent,
    #[error("event.timestamp `{0}` is not an ISO-8601 date-time")]
    BadTimestamp(String),
    #[error("protocol must be \"mega\", not {0}")]
    WrongProtocol(String),
    #[error("version {0} of the MEGA protocol is not supported (this library speaks version 1)")]
    UnsupportedVersion(String),
}

fn describe(v: &Value) -> String {
    match v {
        Value::String(s) => format!("the string {:?}", crate::decimal::truncate_for_message(s)),
        Value::Int(_) => "an integer".to_owned(),
        Value::Bytes(_) => "bytes".to_owned(),
        other => format!("a {}", other.kind()),
    }
}

/// Is this map a MEGA v1 payload by its header (`protocol == "mega"` and `version` 1 or `"1"`)?
pub fn is_mega(map: &Map) -> bool {
    map.get("protocol").and_then(Value::as_str) == Some(PROTOCOL)
        && map.get("version").is_some_and(is_version_one)
}

fn is_version_one(v: &Value) -> bool {
    match v {
        Value::String(s) => s.trim() == "1",
        other => other.cmp_numeric(&Value::Int(1)) == Some(std::cmp::Ordering::Equal),
    }
}

impl Payload {
    /// Reads and validates a MEGA payload from its map form.
    pub fn from_map(map: &Map) -> Result<Payload, EventError> {
        match map.get("protocol") {
            None => return Err(EventError::Missing("protocol")),
            Some(Value::String(s)) if s == PROTOCOL => {}
            Some(other) => return Err(EventError::WrongProtocol(describe(other))),
        }
        match map.get("version") {
            None => return Err(EventError::Missing("version")),
            Some(v) if is_version_one(v) => {}
            Some(other) => {
                return Err(EventError::UnsupportedVersion(
                    crate::json::to_tagged_string(other),
                ))
            }
        }
        let event = match map.get("event") {
            None | Some(Value::Null) => return Err(EventError::Missing("event")),
            Some(Value::Map(m)) => Event::from_map(m)?,
            Some(other) => return Err(wrong("event", "a map", other)),
        };
        let object = match map.get("object") {
            None | Some(Value::Null) => None,
            Some(Value::Map(m)) => Some(ObjectData::from_map(m)?),
            Some(other) => return Err(wrong("object", "a map", other)),
        };
        let extra = optional_map(map.get("extra"), "extra")?.unwrap_or_default();
        Ok(Payload {
            event,
            object,
            extra,
        })
    }

    /// Checks the rules a payload built in code must follow (the same as for decoding).
    pub fn validate(&self) -> Result<(), EventError> {
        if self.event.name.is_empty() {
            return Err(EventError::EmptyString("event.name"));
        }
        if let Some(o) = &self.object {
            if o.current.is_empty() {
                return Err(EventError::EmptyCurrent);
            }
        }
        Ok(())
    }

    /// The canonical map form: header first, then `event`, `object` and `extra`, omitting empty fields.
    pub fn to_value(&self) -> Value {
        let mut map = Map::default();
        map.insert("protocol".into(), Value::from(PROTOCOL));
        map.insert("version".into(), Value::Int(PROTOCOL_VERSION));
        map.insert("event".into(), self.event.to_value());
        if let Some(o) = &self.object {
            map.insert("object".into(), o.to_value());
        }
        if !self.extra.is_empty() {
            map.insert("extra".into(), Value::Map(self.extra.clone()));
        }
        Value::Map(map)
    }
}

fn wrong(field: &'static str, expected: &'static str, found: &Value) -> EventError {
    EventError::WrongType {
        field,
        expected,
        found: describe(found),
    }
}

fn optional_map(v: Option<&Value>, field: &'static str) -> Result<Option<Map>, EventError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Map(m)) => Ok(Some(m.clone())),
        Some(other) => Err(wrong(field, "a map", other)),
    }
}

fn optional_string(v: Option<&Value>, field: &'static str) -> Result<Option<String>, EventError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(wrong(field, "a string", other)),
    }
}

/// A string, or an integer kept as its decimal text (subjects and object ids are often numeric).
fn optional_identifier(
    v: Option<&Value>,
    field: &'static str,
) -> Result<Option<String>, EventError> {
    match v {
        Some(Value::Int(i)) => Ok(Some(i.to_string())),
        Some(Value::Decimal(d)) if d.is_integral() => Ok(Some(d.to_string())),
        other => optional_string(other, field),
    }
}

fn optional_integer(v: Option<&Value>, field: &'static str) -> Result<Option<i64>, EventError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Int(i)) => Ok(Some(*i)),
        Some(Value::Float(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(Some(*f as i64)),
        Some(Value::Decimal(d)) if d.to_i64().is_some() => Ok(d.to_i64()),
        Some(Value::String(s)) if s.trim().parse::<i64>().is_ok() => Ok(s.trim().parse().ok()),
        Some(other) => Err(wrong(field, "an integer", other)),
    }
}

const EVENT_FIELDS: [&str; 7] = [
    "name",
    "timestamp",
    "version",
    "domain",
    "subject",
    "publisher",
    "attributes",
];

impl Event {
    /// A new event with the given name, stamped now.
    pub fn new(name: impl Into<String>) -> Event {
        Event {
            name: name.into(),
            timestamp: now_millis(),
            version: None,
            domain: None,
            subject: None,
            publisher: None,
            attributes: Map::default(),
        }
    }

    fn from_map(m: &Map) -> Result<Event, EventError> {
        let name = match m.get("name") {
            None | Some(Value::Null) => return Err(EventError::Missing("event.name")),
            Some(Value::String(s)) if s.is_empty() => {
                return Err(EventError::EmptyString("event.name"))
            }
            Some(Value::String(s)) => s.clone(),
            Some(other) => return Err(wrong("event.name", "a string", other)),
        };
        let timestamp = match m.get("timestamp") {
            None | Some(Value::Null) => return Err(EventError::Missing("event.timestamp")),
            Some(Value::DateTime(dt)) => *dt,
            Some(Value::String(s)) => parse_datetime(s)
                .map_err(|_| EventError::BadTimestamp(crate::decimal::truncate_for_message(s)))?,
            Some(other) => return Err(wrong("event.timestamp", "a date-time", other)),
        };
        let mut attributes =
            optional_map(m.get("attributes"), "event.attributes")?.unwrap_or_default();
        for (k, v) in m {
            if !EVENT_FIELDS.contains(&k.as_str()) && !attributes.contains_key(k) {
                attributes.insert(k.clone(), v.clone());
            }
        }
        Ok(Event {
            name,
            timestamp,
            version: optional_integer(m.get("version"), "event.version")?,
            domain: optional_string(m.get("domain"), "event.domain")?,
            subject: optional_identifier(m.get("subject"), "event.subject")?,
            publisher: optional_string(m.get("publisher"), "event.publisher")?,
            attributes,
        })
    }

    fn to_value(&self) -> Value {
        let mut m = Map::default();
        m.insert("name".into(), Value::from(self.name.as_str()));
        m.insert("timestamp".into(), Value::DateTime(self.timestamp));
        if let Some(v) = self.version {
            m.insert("version".into(), Value::Int(v));
        }
        for (key, field) in [
            ("domain", &self.domain),
            ("subject", &self.subject),
            ("publisher", &self.publisher),
        ] {
            if let Some(s) = field {
                m.insert(key.into(), Value::from(s.as_str()));
            }
        }
        if !self.attributes.is_empty() {
            m.insert("attributes".into(), Value::Map(self.attributes.clone()));
        }
        Value::Map(m)
    }
}

impl ObjectData {
    fn from_map(m: &Map) -> Result<ObjectData, EventError> {
        let current = match m.get("current") {
            None | Some(Value::Null) => return Err(EventError::Missing("object.current")),
            Some(Value::Map(c)) if c.is_empty() => return Err(EventError::EmptyCurrent),
            Some(Value::Map(c)) => c.clone(),
            Some(other) => return Err(wrong("object.current", "a non-empty map", other)),
        };
        Ok(ObjectData {
            r#type: optional_string(m.get("type"), "object.type")?,
            id: optional_identifier(m.get("id"), "object.id")?,
            version: optional_integer(m.get("version"), "object.version")?,
            current,
            previous: optional_map(m.get("previous"), "object.previous")?,
        })
    }

    fn to_value(&self) -> Value {
        let mut m = Map::default();
        if let Some(t) = &self.r#type {
            m.insert("type".into(), Value::from(t.as_str()));
        }
        if let Some(id) = &self.id {
            m.insert("id".into(), Value::from(id.as_str()));
        }
        if let Some(v) = self.version {
            m.insert("version".into(), Value::Int(v));
        }
        m.insert("current".into(), Value::Map(self.current.clone()));
        if let Some(p) = &self.previous {
            if !p.is_empty() {
                m.insert("previous".into(), Value::Map(p.clone()));
            }
        }
        Value::Map(m)
    }
}

/// The current time at millisecond precision (what BSON can carry), so a built event round-trips exactly.
fn now_millis() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now)
}

/// Builds a MEGA payload step by step, as `mega.event.PayloadBuilder` does in Python:
///
/// ```
/// use sqs_mega::event::PayloadBuilder;
/// use sqs_mega::value;
///
/// let payload = PayloadBuilder::new()
///     .with_event([
///         ("domain", value!("shopping_cart")),
///         ("name", value!("item.added")),
///         ("version", value!(1)),
///         ("subject", value!("987650")),
///         ("item_id", value!("61fcc874")),
///         ("quantity", value!(5)),
///     ])
///     .with_object([("type", value!("shopping_cart")), ("current", value!({"id": "18a3"}))])
///     .with_extra([("channel", value!("web/desktop"))])
///     .build()
///     .unwrap();
/// assert_eq!(payload.event.name, "item.added");
/// assert_eq!(payload.event.attributes["quantity"], value!(5));
/// ```
#[derive(Clone, Debug, Default)]
pub struct PayloadBuilder {
    event: Map,
    object: Option<Map>,
    extra: Map,
}

impl PayloadBuilder {
    pub fn new() -> PayloadBuilder {
        PayloadBuilder::default()
    }

    /// Sets event fields. Known fields (`name`, `timestamp`, `version`, `domain`, `subject`, `publisher`,
    /// `attributes`) go to their place; any other key becomes an event attribute.
    pub fn with_event<K: Into<String>, V: Into<Value>>(
        mut self,
        fields: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        for (k, v) in fields {
            self.event.insert(k.into(), v.into());
        }
        self
    }

    /// Sets object fields: `type`, `id`, `version`, `current`, `previous`.
    pub fn with_object<K: Into<String>, V: Into<Value>>(
        mut self,
        fields: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let object = self.object.get_or_insert_with(Map::default);
        for (k, v) in fields {
            object.insert(k.into(), v.into());
        }
        self
    }

    /// Adds extra (free-form) data.
    pub fn with_extra<K: Into<String>, V: Into<Value>>(
        mut self,
        fields: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        for (k, v) in fields {
            self.extra.insert(k.into(), v.into());
        }
        self
    }

    /// Validates and builds the payload. The timestamp defaults to now.
    pub fn build(self) -> Result<Payload, EventError> {
        let mut event = self.event;
        if !event.contains_key("timestamp") {
            event.insert("timestamp".into(), Value::DateTime(now_millis()));
        }
        let mut map = Map::default();
        map.insert("protocol".into(), Value::from(PROTOCOL));
        map.insert("version".into(), Value::Int(PROTOCOL_VERSION));
        map.insert("event".into(), Value::Map(event));
        if let Some(o) = self.object {
            map.insert("object".into(), Value::Map(o));
        }
        if !self.extra.is_empty() {
            map.insert("extra".into(), Value::Map(self.extra));
        }
        Payload::from_map(&map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;
    use crate::value;

    fn parse_map(text: &str) -> Map {
        json::parse(text).unwrap().as_map().unwrap().clone()
    }

    #[test]
    fn reads_the_seed_event_and_merges_event_level_attributes() {
        let m = parse_map(
            r#"{"protocol": "mega", "version": 1, "event": {"name": "user.updated",
            "timestamp": "2020-05-04T15:53:27.823", "version": 1, "domain": "user", "subject": "987650",
            "username": "john.doe", "attributes": {"email": "johndoe_86@example.com"}},
            "object": {"current": {"id": 987650}}}"#,
        );
        assert!(is_mega(&m));
        let p = Payload::from_map(&m).unwrap();
        assert_eq!(p.event.name, "user.updated");
        assert_eq!(
            json::format_datetime(&p.event.timestamp),
            "2020-05-04T15:53:27.823Z"
        );
        assert_eq!(p.event.attributes["username"], value!("john.doe"));
        assert_eq!(
            p.event.attributes["email"],
            value!("johndoe_86@example.com")
        );
        let canonical = p.to_value();
        assert_eq!(
            canonical.get_path("event.attributes.username"),
            Some(&value!("john.doe"))
        );
        assert_eq!(canonical.get_path("event.username"), None);
        assert_eq!(canonical.get("extra"), None, "empty sections are omitted");
        // Canonical form reads back as the same payload.
        assert_eq!(Payload::from_map(canonical.as_map().unwrap()).unwrap(), p);
    }

    #[test]
    fn accepts_string_versions_and_numeric_identifiers() {
        let m = parse_map(
            r#"{"protocol": "mega", "version": "1", "event": {"name": "x", "timestamp": "2020-01-01",
            "version": "2", "subject": 987650}, "object": {"id": 5, "current": {"a": 1}, "version": 3}}"#,
        );
        let p = Payload::from_map(&m).unwrap();
        assert_eq!(p.event.version, Some(2));
        assert_eq!(p.event.subject.as_deref(), Some("987650"));
        let o = p.object.unwrap();
        assert_eq!((o.id.as_deref(), o.version), (Some("5"), Some(3)));
    }

    #[test]
    fn errors_name_the_section_and_field() {
        let cases = [
            (r#"{"protocol":"mega","version":1}"#, "event is missing"),
            (
                r#"{"protocol":"mega","version":1,"event":{}}"#,
                "event.name is missing",
            ),
            (
                r#"{"protocol":"mega","version":1,"event":{"name":""}}"#,
                "event.name must be a non-empty string",
            ),
            (
                r#"{"protocol":"mega","version":1,"event":{"name":"x"}}"#,
                "event.timestamp is missing",
            ),
            (
                r#"{"protocol":"mega","version":1,"event":{"name":"x","timestamp":"soon"}}"#,
                "event.timestamp `soon` is not an ISO-8601 date-time",
            ),
            (
                r#"{"protocol":"mega","version":1,"event":{"name":7,"timestamp":"2020-01-01"}}"#,
                "event.name must be a string, not an integer",
            ),
            (
                r#"{"protocol":"mega","version":1,"event":{"name":"x","timestamp":"2020-01-01","version":"two"}}"#,
                "event.version must be an integer, not the string \"two\"",
            ),
            (
                r#"{"protocol":"mega","version":1,"event":{"name":"x","timestamp":"2020-01-01"},"object":{"current":{}}}"#,
                "object.current must be a non-empty map",
            ),
            (
                r#"{"protocol":"mega","version":1,"event":{"name":"x","timestamp":"2020-01-01"},"object":{}}"#,
                "object.current is missing",
            ),
            (
                r#"{"protocol":"mega","version":1,"event":{"name":"x","timestamp":"2020-01-01"},"extra":[1]}"#,
                "extra must be a map, not a list",
            ),
            (
                r#"{"protocol":"mega","version":2,"event":{}}"#,
                "version 2 of the MEGA protocol is not supported (this library speaks version 1)",
            ),
        ];
        for (text, message) in cases {
            let err = Payload::from_map(&parse_map(text)).unwrap_err();
            assert_eq!(err.to_string(), message, "for {text}");
        }
    }

    #[test]
    fn builder_stamps_time_and_validates() {
        let before = Utc::now() - chrono::Duration::seconds(1);
        let p = PayloadBuilder::new()
            .with_event([
                ("name", value!("user.created")),
                ("subject", value!("987650")),
                ("email", value!("j@x.com")),
            ])
            .with_object([("current", value!({"id": 987650}))])
            .build()
            .unwrap();
        assert!(p.event.timestamp >= before);
        assert_eq!(p.event.attributes["email"], value!("j@x.com"));
        let err = PayloadBuilder::new()
            .with_event([("subject", "x")])
            .build()
            .unwrap_err();
        assert_eq!(err, EventError::Missing("event.name"));
        let err = PayloadBuilder::new()
            .with_event([("name", value!("x"))])
            .with_object([("current", value!({}))])
            .build()
            .unwrap_err();
        assert_eq!(err, EventError::EmptyCurrent);
    }
}
