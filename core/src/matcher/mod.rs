//! Pattern matching over decoded payloads: the MEGA DSL, a language-neutral JSON pattern format,
//! EventBridge / SNS filter-policy patterns, subscriber rules, a dispatch [`Router`], explanations and
//! SNS filter-policy export.
//!
//! The rules (what equality, comparisons, lists, dates… mean) are written down in `docs/patterns.md`.
//!
//! ```
//! use sqs_mega::matcher::{compile_pattern_json, Syntax};
//! use sqs_mega::value;
//! let p = compile_pattern_json(r#"{"user": {"id": {"$gt": 0}}}"#, Syntax::Mega).unwrap();
//! assert!(p.matches(&value!({"user": {"id": 7, "name": "x"}})));
//! let why = p.explain(&value!({"user": {"id": 0}})).unwrap();
//! assert_eq!(why.to_string(), "at user.id: expected gt(0), got 0");
//! ```

mod eventbridge;
mod expr;
mod format;
mod node;
mod plan;
mod project;
mod router;
mod sns;
mod sns_policy;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

pub use expr::{dsl, Callback, Expr, Literal};
pub use format::parse_pattern_json;
pub use project::{Projection, ProjectionError};
pub use router::{PatternId, Router};
pub use sns::{SnsExport, SnsOmission};
pub use sns_policy::{
    compile_sns_filter_policy, FilterPolicyScope, SnsFilterPolicy, SnsMessage,
    SNS_MAX_COMBINATIONS, SNS_MAX_KEYS, SNS_MAX_POLICY_BYTES,
};

use crate::value::Value;
use node::Node;

/// Which syntax a pattern text is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Syntax {
    /// The MEGA JSON pattern format (the DSL in JSON), which may also hold subscriber rules.
    #[default]
    Mega,
    /// An Amazon EventBridge event pattern or an SNS filter policy (message-body scope).
    EventBridge,
}

impl std::str::FromStr for Syntax {
    type Err = String;

    /// `mega` or `eventbridge` (any case), as the CLI's `--syntax` takes them.
    fn from_str(s: &str) -> Result<Syntax, String> {
        if s.eq_ignore_ascii_case("mega") {
            Ok(Syntax::Mega)
        } else if s.eq_ignore_ascii_case("eventbridge") {
            Ok(Syntax::EventBridge)
        } else {
            Err(format!(
                "unknown pattern syntax `{s}` (expected mega or eventbridge)"
            ))
        }
    }
}

/// A pattern that cannot be compiled, with where the problem is inside the pattern.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid pattern at {path}: {message}")]
pub struct PatternError {
    /// A JSON pointer into the pattern (`/user/id/$gt`); `/` is the whole pattern.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl PatternError {
    pub(crate) fn at(path: &[String], message: impl Into<String>) -> PatternError {
        let mut p = String::new();
        for seg in path {
            p.push('/');
            p.push_str(&seg.replace('~', "~0").replace('/', "~1"));
        }
        if p.is_empty() {
            p.push('/');
        }
        PatternError {
            path: p,
            message: message.into(),
        }
    }
}

/// User functions that JSON patterns reference by id (`{"$fn": "is_even"}`), resolved at compile time.
#[derive(Clone, Default)]
pub struct Callbacks {
    map: HashMap<String, Callback>,
}

impl Callbacks {
    /// An empty registry.
    pub fn new() -> Callbacks {
        Callbacks::default()
    }

    /// Registers (or replaces) the function behind `id`.
    pub fn insert(
        &mut self,
        id: impl Into<String>,
        f: impl Fn(&Value) -> bool + Send + Sync + 'static,
    ) {
        self.map.insert(id.into(), Arc::new(f));
    }

    /// The function behind `id`.
    pub fn get(&self, id: &str) -> Option<&Callback> {
        self.map.get(id)
    }
}

impl fmt::Debug for Callbacks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.map.keys()).finish()
    }
}

/// Which payloads a pattern applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayloadKind {
    /// Any payload (a plain pattern).
    Any,
    /// MEGA events only (an event subscriber): maps with `"protocol": "mega"` and an `event` map.
    Event,
    /// Data objects only (a data subscriber): any payload that is not a MEGA event.
    Data,
}

/// Whether a decoded payload is a MEGA event: a map whose `protocol` is the string `mega` (in any case)
/// and whose `event` is a map.
pub fn is_mega_event(payload: &Value) -> bool {
    payload
        .get("protocol")
        .and_then(Value::as_str)
        .is_some_and(|p| p.eq_ignore_ascii_case("mega"))
        && matches!(payload.get("event"), Some(Value::Map(_)))
}

impl PayloadKind {
    fn accepts(self, payload: &Value) -> bool {
        match self {
            PayloadKind::Any => true,
            PayloadKind::Event => is_mega_event(payload),
            PayloadKind::Data => !is_mega_event(payload),
        }
    }
}

/// A compiled pattern: compile once, evaluate many times (it is `Send + Sync`, cheap to share).
#[derive(Clone)]
pub struct Pattern {
    kind: PayloadKind,
    root: Node,
    /// The root folded for evaluation (same answers as `root`).
    plan: plan::Plan,
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pattern({:?}, {})", self.kind, self.root)
    }
}

impl fmt::Display for Pattern {
    /// The pattern in DSL notation (`{"user": {"id": gt(0)}}`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            PayloadKind::Any => write!(f, "{}", self.root),
            PayloadKind::Event => write!(f, "event subscriber {}", self.root),
            PayloadKind::Data => write!(f, "data subscriber {}", self.root),
        }
    }
}

impl Pattern {
    fn new(kind: PayloadKind, root: Node) -> Pattern {
        Pattern {
            kind,
            plan: plan::Plan::of(&root),
            root,
        }
    }

    /// Whether the payload matches. Never fails: type mismatches are non-matches.
    #[inline]
    pub fn matches(&self, payload: &Value) -> bool {
        self.kind.accepts(payload) && self.plan.eval(Some(payload))
    }

    /// Why the payload does not match (`None` when it matches): the first failing condition.
    pub fn explain(&self, payload: &Value) -> Option<Explanation> {
        if !self.kind.accepts(payload) {
            let expected = match self.kind {
                PayloadKind::Event => "a MEGA event (protocol \"mega\" with an event map)",
                _ => "a data object (not a MEGA event)",
            };
            return Some(Explanation {
                path: String::new(),
                expected: expected.to_owned(),
                actual: Some(if is_mega_event(payload) {
                    "a MEGA event".to_owned()
                } else {
                    format!("a {} that is not a MEGA event", payload.kind())
                }),
            });
        }
        if self.root.eval(Some(payload)) {
            return None;
        }
        Some(self.root.explain(Some(payload), &mut Vec::new()))
    }

    /// Which payloads this pattern applies to.
    pub fn kind(&self) -> PayloadKind {
        self.kind
    }

    /// This pattern as an SNS filter policy (message-body scope), with what could not be exported.
    pub fn to_sns_filter_policy(&self) -> SnsExport {
        sns::export(&self.root)
    }

    pub(crate) fn root(&self) -> &Node {
        &self.root
    }
}

/// Why a payload did not match: where (a dotted path into the payload), what the pattern expected
/// there, and what the payload held.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Explanation {
    /// Dotted path of the failing value (`event.attributes.attempts`); empty for the whole payload.
    pub path: String,
    /// The failing condition in DSL notation (`gt(2)`, `match("^a")`, `one_of(1, 2)`).
    pub expected: String,
    /// The value found, as tagged JSON; `None` when the key is missing.
    pub actual: Option<String>,
}

impl Explanation {
    pub(crate) fn new(path: &[String], expected: String, v: Option<&Value>) -> Explanation {
        Explanation {
            path: path.join("."),
            expected,
            actual: v.map(node::render_value),
        }
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.is_empty() {
            "(payload)"
        } else {
            &self.path
        };
        match &self.actual {
            Some(a) => write!(f, "at {path}: expected {}, got {a}", self.expected),
            None => write!(
                f,
                "at {path}: expected {}, but the key is missing",
                self.expected
            ),
        }
    }
}

impl Expr {
    /// Compiles this expression as a plain pattern (no callback registry).
    pub fn compile(self) -> Result<Pattern, PatternError> {
        compile(self, &Callbacks::default())
    }
}

/// Compiles an expression as a plain pattern, resolving `FuncRef` ids through `callbacks`.
pub fn compile(expr: Expr, callbacks: &Callbacks) -> Result<Pattern, PatternError> {
    Ok(Pattern::new(
        PayloadKind::Any,
        Node::compile(expr, &mut Vec::new(), callbacks)?,
    ))
}

/// Compiles a pattern text (no callbacks: a `$fn` reference is an error).
///
/// With [`Syntax::Mega`], the text is a MEGA JSON pattern, or subscriber rules: `{"$event": {...}}` or
/// `{"$data": pattern}` (see `docs/patterns.md`). With [`Syntax::EventBridge`], an EventBridge event
/// pattern / SNS filter policy applied to the whole payload.
pub fn compile_pattern_json(text: &str, syntax: Syntax) -> Result<Pattern, PatternError> {
    compile_pattern_json_with(text, syntax, &Callbacks::default())
}

/// [`compile_pattern_json`] with a callback registry for `{"$fn": id}` references.
pub fn compile_pattern_json_with(
    text: &str,
    syntax: Syntax,
    callbacks: &Callbacks,
) -> Result<Pattern, PatternError> {
    let value =
        crate::json::parse(text).map_err(|e| PatternError::at(&[], format!("not JSON: {e}")))?;
    compile_pattern_value(&value, syntax, callbacks)
}

/// [`compile_pattern_json_with`] from an already parsed JSON value (plain JSON, not tagged: tags such as
/// `{"$datetime": …}` are read by the pattern reader itself).
pub fn compile_pattern_value(
    value: &Value,
    syntax: Syntax,
    callbacks: &Callbacks,
) -> Result<Pattern, PatternError> {
    match syntax {
        Syntax::EventBridge => Ok(Pattern::new(PayloadKind::Any, eventbridge::compile(value)?)),
        Syntax::Mega => match format::subscriber_of(value)? {
            Some((sub, root)) => sub.compile_at(callbacks, &mut vec![root.to_owned()]),
            None => compile(parse_pattern_json(value)?, callbacks),
        },
    }
}

/// Rules rules: what an `EventSubscriber` or a `DataSubscriber` of seed 003 declares.
#[derive(Clone, Debug)]
pub enum Rules {
    /// An event subscriber: `(attribute, pattern)` rules, attributes named as in seed 003 (`name` or
    /// `event_name`, `attributes`, `object_current`…). No rules: every MEGA event.
    Event(Vec<(String, Expr)>),
    /// A data subscriber: its `pattern`, or `None` for every data object.
    Data(Option<Expr>),
}

/// The EventSubscriber attributes: (name, alias, payload path).
const EVENT_ATTRIBUTES: &[(&str, Option<&str>, [&str; 2])] = &[
    ("event_name", Some("name"), ["event", "name"]),
    ("event_domain", Some("domain"), ["event", "domain"]),
    ("event_version", Some("version"), ["event", "version"]),
    ("event_timestamp", Some("timestamp"), ["event", "timestamp"]),
    ("event_subject", Some("subject"), ["event", "subject"]),
    ("event_publisher", Some("publisher"), ["event", "publisher"]),
    (
        "event_attributes",
        Some("attributes"),
        ["event", "attributes"],
    ),
    ("object_type", None, ["object", "type"]),
    ("object_version", None, ["object", "version"]),
    ("object_id", None, ["object", "id"]),
    (
        "object_current",
        Some("current_object"),
        ["object", "current"],
    ),
    (
        "object_previous",
        Some("previous_object"),
        ["object", "previous"],
    ),
];

impl Rules {
    /// An event subscriber from `(attribute, pattern)` rules.
    pub fn event<K: Into<String>, E: Into<Expr>>(rules: impl IntoIterator<Item = (K, E)>) -> Rules {
        Rules::Event(
            rules
                .into_iter()
                .map(|(k, e)| (k.into(), e.into()))
                .collect(),
        )
    }

    /// A data subscriber with a pattern.
    pub fn data(pattern: impl Into<Expr>) -> Rules {
        Rules::Data(Some(pattern.into()))
    }

    /// Compiles without a callback registry.
    pub fn compile(self) -> Result<Pattern, PatternError> {
        self.compile_with(&Callbacks::default())
    }

    /// Compiles, resolving `FuncRef` ids through `callbacks`. Errors name the attribute
    /// (`/attributes/quantity/$gt`); an unknown attribute is an error; when an attribute and its alias are
    /// both given, the alias is ignored (not even compiled).
    pub fn compile_with(self, callbacks: &Callbacks) -> Result<Pattern, PatternError> {
        self.compile_at(callbacks, &mut Vec::new())
    }

    pub(crate) fn compile_at(
        self,
        callbacks: &Callbacks,
        path: &mut Vec<String>,
    ) -> Result<Pattern, PatternError> {
        match self {
            Rules::Data(p) => Ok(Pattern::new(
                PayloadKind::Data,
                match p {
                    Some(e) => Node::compile(e, path, callbacks)?,
                    None => Node::Any,
                },
            )),
            Rules::Event(rules) => {
                let mut slots: Vec<Option<Expr>> = vec![None; EVENT_ATTRIBUTES.len()];
                let mut from_alias = vec![false; EVENT_ATTRIBUTES.len()];
                for (attr, e) in rules {
                    let found = EVENT_ATTRIBUTES
                        .iter()
                        .enumerate()
                        .find(|(_, (n, a, _))| *n == attr || *a == Some(attr.as_str()));
                    let Some((i, (name, _, _))) = found else {
                        path.push(attr.clone());
                        let err = PatternError::at(
                            path,
                            format!("unknown event subscriber attribute `{attr}`"),
                        );
                        return Err(err);
                    };
                    let is_alias = *name != attr;
                    if is_alias && slots[i].is_some() && !from_alias[i] {
                        continue; // the attribute itself wins over its alias
                    }
                    slots[i] = Some(e);
                    from_alias[i] = is_alias;
                }
                let mut event = Vec::new();
                let mut object = Vec::new();
                for (i, slot) in slots.into_iter().enumerate() {
                    let Some(e) = slot else { continue };
                    let (name, alias, [top, key]) = EVENT_ATTRIBUTES[i];
                    path.push(
                        if from_alias[i] {
                            alias.unwrap_or(name)
                        } else {
                            name
                        }
                        .to_owned(),
                    );
                    let n = Node::compile(e, path, callbacks)?;
                    path.pop();
                    let target = if top == "event" {
                        &mut event
                    } else {
                        &mut object
                    };
                    target.push((key.to_owned(), n));
                }
                let mut root = Vec::new();
                if !event.is_empty() {
                    root.push(("event".to_owned(), Node::Map(event)));
                }
                if !object.is_empty() {
                    root.push(("object".to_owned(), Node::Map(object)));
                }
                Ok(Pattern::new(PayloadKind::Event, Node::Map(root)))
            }
        }
    }
}
