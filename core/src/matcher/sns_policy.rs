//! Amazon SNS subscription filter policies, evaluated by this matcher.
//!
//! An SNS filter policy is written in the EventBridge pattern syntax that [`Syntax::EventBridge`]
//! already reads; this module adds what SNS adds around it:
//!
//! - the rules SNS checks when a policy is attached to a subscription (Subscribe,
//!   SetSubscriptionAttributes), on top of the syntax: at most 256 KB, 5 keys and 150 value
//!   combinations; no nested keys in the `MessageAttributes` scope; a numeric range is a lower
//!   bound (`>`, `>=`) then an upper bound (`<`, `<=`) below it; `anything-but` takes a value, a list
//!   of strings or numbers, or a `prefix` (not `suffix`, `equals-ignore-case` nor `wildcard`);
//! - the value a policy is matched against in each scope ([`SnsMessage`]): the message attributes
//!   (String as a string, String.Array element-wise, Number as a number, Binary left out) or the
//!   message body parsed as JSON.
//!
//! The rules, and the choices made where the AWS documentation is unclear, are in `docs/patterns.md`
//! ("SNS filter policies").
//!
//! [`Syntax::EventBridge`]: super::Syntax::EventBridge
//!
//! ```
//! use sqs_mega::matcher::{compile_sns_filter_policy, FilterPolicyScope, SnsMessage};
//! let p = compile_sns_filter_policy(r#"{"color": ["red"]}"#, FilterPolicyScope::MessageAttributes)
//!     .unwrap();
//! let m = SnsMessage::new("hello", [("color", "String", Some("red"))]);
//! assert!(p.matches(&m));
//! ```

use std::sync::OnceLock;

use super::{eventbridge, node, Pattern, PatternError, PayloadKind};
use crate::value::{Map, Value};

/// The largest filter policy SNS accepts, in bytes of JSON text.
pub const SNS_MAX_POLICY_BYTES: usize = 256 * 1024;
/// The most keys an SNS filter policy may have.
pub const SNS_MAX_KEYS: usize = 5;
/// The most value combinations an SNS filter policy may have.
pub const SNS_MAX_COMBINATIONS: usize = 150;

/// What an SNS filter policy is matched against (the subscription's `FilterPolicyScope`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash)]
pub enum FilterPolicyScope {
    /// The message attributes (the SNS default).
    #[default]
    MessageAttributes,
    /// The message body, a JSON object.
    MessageBody,
}

impl FilterPolicyScope {
    /// The attribute value SNS uses for this scope.
    pub fn as_str(self) -> &'static str {
        match self {
            FilterPolicyScope::MessageAttributes => "MessageAttributes",
            FilterPolicyScope::MessageBody => "MessageBody",
        }
    }
}

impl std::str::FromStr for FilterPolicyScope {
    type Err = String;

    /// `MessageAttributes` or `MessageBody`, spelled as SNS spells them.
    fn from_str(s: &str) -> Result<FilterPolicyScope, String> {
        match s {
            "MessageAttributes" => Ok(FilterPolicyScope::MessageAttributes),
            "MessageBody" => Ok(FilterPolicyScope::MessageBody),
            _ => Err(format!(
                "unknown filter policy scope `{s}` (expected MessageAttributes or MessageBody)"
            )),
        }
    }
}

/// A compiled SNS filter policy: compile once (at Subscribe), evaluate on every Publish.
#[derive(Clone, Debug)]
pub struct SnsFilterPolicy {
    scope: FilterPolicyScope,
    pattern: Pattern,
}

impl SnsFilterPolicy {
    /// The scope the policy was compiled for.
    pub fn scope(&self) -> FilterPolicyScope {
        self.scope
    }

    /// The compiled pattern (the EventBridge reading of the policy).
    pub fn pattern(&self) -> &Pattern {
        &self.pattern
    }

    /// Whether SNS delivers the message to a subscription with this policy.
    ///
    /// `MessageAttributes` scope: a message without any attribute never matches (the SNS documentation:
    /// "An empty set of attributes results in the filter not matching"). `MessageBody` scope: a body that
    /// is not a JSON object never matches.
    pub fn matches(&self, message: &SnsMessage<'_>) -> bool {
        match self.scope {
            FilterPolicyScope::MessageAttributes => {
                message.attribute_count > 0 && self.pattern.matches(&message.attributes)
            }
            FilterPolicyScope::MessageBody => match message.body() {
                Some(body @ Value::Map(_)) => self.pattern.matches(body),
                _ => false,
            },
        }
    }
}

/// A published message as SNS filter policies see it: built once per Publish, shared by every
/// subscription of the topic (the body is parsed at most once, when a `MessageBody` policy first reads it).
#[derive(Debug)]
pub struct SnsMessage<'a> {
    body: &'a str,
    parsed: OnceLock<Option<Value>>,
    /// The attributes a policy can see, as a map.
    attributes: Value,
    /// Every attribute of the message, Binary ones included.
    attribute_count: usize,
}

impl<'a> SnsMessage<'a> {
    /// A message from its body and its attributes as `(name, data type, string value)` (the string value is
    /// `None` for a Binary attribute). Data types are read as SNS reads them:
    ///
    /// - `String` (and `String.<custom>`): the string;
    /// - `String.Array`: a JSON array text is matched element by element (any other text as a string);
    /// - `Number` (and `Number.<custom>`): the number, for exact numeric values and `numeric` ranges;
    /// - `Binary`: ignored by filter policies (it still counts as an attribute of the message).
    pub fn new<'b>(
        body: &'a str,
        attributes: impl IntoIterator<Item = (&'b str, &'b str, Option<&'b str>)>,
    ) -> SnsMessage<'a> {
        let mut map = Map::default();
        let mut count = 0;
        for (name, data_type, value) in attributes {
            count += 1;
            if let Some(v) = attribute_value(data_type, value) {
                map.insert(name.to_owned(), v);
            }
        }
        SnsMessage {
            body,
            parsed: OnceLock::new(),
            attributes: Value::Map(map),
            attribute_count: count,
        }
    }

    /// The attributes as filter policies see them (a map; Binary attributes left out).
    pub fn attributes(&self) -> &Value {
        &self.attributes
    }

    /// The body parsed as JSON, `None` when it is not JSON.
    pub fn body(&self) -> Option<&Value> {
        self.parsed
            .get_or_init(|| crate::json::parse(self.body).ok())
            .as_ref()
    }
}

fn attribute_value(data_type: &str, value: Option<&str>) -> Option<Value> {
    let base = data_type.split('.').next().unwrap_or("");
    let text = value?;
    if data_type == "String.Array" {
        return Some(match crate::json::parse(text) {
            Ok(list @ Value::List(_)) => list,
            _ => Value::String(text.to_owned()),
        });
    }
    match base {
        "String" => Some(Value::String(text.to_owned())),
        "Number" => Some(
            node::numeric_string(text.trim()).unwrap_or_else(|| Value::String(text.to_owned())),
        ),
        _ => None,
    }
}

/// Compiles an SNS filter policy (JSON text) for a scope: the EventBridge syntax, then the rules SNS adds
/// (see the module documentation). Errors point into the policy (`/price/0/numeric`).
pub fn compile_sns_filter_policy(
    text: &str,
    scope: FilterPolicyScope,
) -> Result<SnsFilterPolicy, PatternError> {
    if text.len() > SNS_MAX_POLICY_BYTES {
        return Err(PatternError::at(
            &[],
            format!(
                "the policy is {} bytes, more than the maximum of {SNS_MAX_POLICY_BYTES} (256 KB)",
                text.len()
            ),
        ));
    }
    let value =
        crate::json::parse(text).map_err(|e| PatternError::at(&[], format!("not JSON: {e}")))?;
    let root = eventbridge::compile(&value)?;
    check(&value, scope, &mut Vec::new())?;
    let (keys, combinations) = complexity(&value);
    if keys > SNS_MAX_KEYS {
        return Err(PatternError::at(
            &[],
            format!("a filter policy can not have more than {SNS_MAX_KEYS} keys (it has {keys})"),
        ));
    }
    if combinations > SNS_MAX_COMBINATIONS {
        return Err(PatternError::at(
            &[],
            format!(
                "the policy is too complex: {combinations} value combinations, at most {SNS_MAX_COMBINATIONS} allowed"
            ),
        ));
    }
    Ok(SnsFilterPolicy {
        scope,
        pattern: Pattern::new(PayloadKind::Any, root),
    })
}

/// The SNS rules on a policy the EventBridge reader accepted.
fn check(v: &Value, scope: FilterPolicyScope, path: &mut Vec<String>) -> Result<(), PatternError> {
    let Value::Map(m) = v else { return Ok(()) };
    for (k, val) in m {
        path.push(k.clone());
        match val {
            Value::List(alts) if k == "$or" => {
                for (i, alt) in alts.iter().enumerate() {
                    path.push(i.to_string());
                    check(alt, scope, path)?;
                    path.pop();
                }
            }
            Value::Map(_) => {
                if scope == FilterPolicyScope::MessageAttributes {
                    return Err(PatternError::at(
                        path,
                        "nested keys are allowed only with FilterPolicyScope MessageBody",
                    ));
                }
                check(val, scope, path)?;
            }
            Value::List(items) => {
                for (i, item) in items.iter().enumerate() {
                    let Some((op, arg)) = item.as_map().and_then(|m| m.first()) else {
                        continue;
                    };
                    path.push(i.to_string());
                    path.push(op.clone());
                    match op.as_str() {
                        "anything-but" => check_anything_but(arg, path)?,
                        "numeric" => check_numeric_range(arg, path)?,
                        _ => {}
                    }
                    path.pop();
                    path.pop();
                }
            }
            _ => {}
        }
        path.pop();
    }
    Ok(())
}

/// SNS takes `anything-but` with a string or a number, a list of strings or numbers, or a `prefix`.
fn check_anything_but(arg: &Value, path: &[String]) -> Result<(), PatternError> {
    let scalar = |v: &Value| matches!(v, Value::String(_)) || v.is_number();
    match arg {
        Value::Map(m) => match m.first() {
            Some((op, _)) if op == "prefix" => Ok(()),
            Some((op, _)) => Err(PatternError::at(
                path,
                format!("unsupported anything-but pattern: {op} (SNS takes values or a prefix)"),
            )),
            None => Ok(()),
        },
        Value::List(items) if items.iter().all(scalar) => Ok(()),
        v if scalar(v) => Ok(()),
        _ => Err(PatternError::at(
            path,
            "anything-but takes strings or numbers in SNS",
        )),
    }
}

/// A two-sided range is a lower bound then an upper bound, the lower below the upper.
fn check_numeric_range(arg: &Value, path: &[String]) -> Result<(), PatternError> {
    let Some(items) = arg.as_list() else {
        return Ok(());
    };
    if items.len() != 4 {
        return Ok(());
    }
    let (lo_op, hi_op) = (items[0].as_str(), items[2].as_str());
    if !matches!(lo_op, Some(">" | ">=")) || !matches!(hi_op, Some("<" | "<=")) {
        return Err(PatternError::at(
            path,
            "a numeric range is a lower bound (> or >=) then an upper bound (< or <=)",
        ));
    }
    let below = items[1]
        .cmp_numeric(&items[3])
        .is_some_and(|o| o == std::cmp::Ordering::Less);
    if !below {
        return Err(PatternError::at(
            path,
            "the lower bound of a numeric range must be below its upper bound",
        ));
    }
    Ok(())
}

/// (keys, value combinations) of a policy, counted on its expansion into alternatives without `$or`:
/// the keys of the largest alternative, and the sum over alternatives of the product of their array
/// lengths. Nested objects count their leaf keys.
fn complexity(v: &Value) -> (usize, usize) {
    let Value::Map(m) = v else {
        return (0, 1);
    };
    let (mut keys, mut combinations) = (0usize, 1usize);
    for (k, val) in m {
        let (k2, c2) = match val {
            Value::List(alts) if k == "$or" => alts
                .iter()
                .map(complexity)
                .fold((0usize, 0usize), |(k, c), (k2, c2)| {
                    (k.max(k2), c.saturating_add(c2))
                }),
            Value::List(items) => (1, items.len().max(1)),
            nested => complexity(nested),
        };
        keys = keys.saturating_add(k2);
        combinations = combinations.saturating_mul(c2);
    }
    (keys, combinations)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(policy: &str, a: &[(&str, &str, &str)]) -> bool {
        let p = compile_sns_filter_policy(policy, FilterPolicyScope::MessageAttributes).unwrap();
        p.matches(&SnsMessage::new(
            "",
            a.iter().map(|(k, t, v)| (*k, *t, Some(*v))),
        ))
    }

    fn body(policy: &str, body: &str) -> bool {
        let p = compile_sns_filter_policy(policy, FilterPolicyScope::MessageBody).unwrap();
        p.matches(&SnsMessage::new(body, []))
    }

    fn rejected(policy: &str, scope: FilterPolicyScope) -> PatternError {
        compile_sns_filter_policy(policy, scope).unwrap_err()
    }

    #[test]
    fn attribute_types() {
        assert!(attrs(r#"{"n":[5]}"#, &[("n", "Number", "5.0")]));
        assert!(attrs(r#"{"n":[5]}"#, &[("n", "Number.int", " 5")]));
        assert!(!attrs(r#"{"n":[5]}"#, &[("n", "String", "5")]));
        assert!(attrs(
            r#"{"n":[{"numeric":[">",1,"<=",1e3]}]}"#,
            &[("n", "Number", "1E3")]
        ));
        assert!(attrs(
            r#"{"t":["b"]}"#,
            &[("t", "String.Array", r#"["a","b"]"#)]
        ));
        assert!(attrs(
            r#"{"t":[7]}"#,
            &[("t", "String.Array", r#"["a",7]"#)]
        ));
        assert!(attrs(r#"{"t":["[x"]}"#, &[("t", "String.Array", "[x")]));
        let p = compile_sns_filter_policy(
            r#"{"b":[{"exists":false}]}"#,
            FilterPolicyScope::MessageAttributes,
        )
        .unwrap();
        // Binary attributes are not matchable, but the message has attributes.
        assert!(p.matches(&SnsMessage::new("", [("b", "Binary", None)])));
        assert!(!p.matches(&SnsMessage::new("", [])));
    }

    #[test]
    fn body_is_parsed_once_and_must_be_an_object() {
        assert!(!body(r#"{"a":["x"]}"#, "not json"));
        assert!(!body(r#"{"a":[{"exists":false}]}"#, r#"["a"]"#));
        assert!(body(r#"{"a":[{"exists":false}]}"#, "{}"));
        let m = SnsMessage::new(r#"{"a":"x"}"#, []);
        let p =
            compile_sns_filter_policy(r#"{"a":["x"]}"#, FilterPolicyScope::MessageBody).unwrap();
        assert!(p.matches(&m) && p.matches(&m));
    }

    #[test]
    fn sns_rules_on_top_of_the_syntax() {
        use FilterPolicyScope::*;
        assert_eq!(
            rejected(r#"{"a":{"b":["x"]}}"#, MessageAttributes).path,
            "/a"
        );
        assert!(compile_sns_filter_policy(r#"{"a":{"b":["x"]}}"#, MessageBody).is_ok());
        for ab in [
            r#"{"suffix":"x"}"#,
            r#"{"equals-ignore-case":"x"}"#,
            r#"{"wildcard":"x*"}"#,
            r#"[true]"#,
            "null",
        ] {
            let e = rejected(
                &format!(r#"{{"a":[{{"anything-but":{ab}}}]}}"#),
                MessageBody,
            );
            assert_eq!(e.path, "/a/0/anything-but", "{ab}");
        }
        for ok in [r#""x""#, "5", r#"["x","y"]"#, "[1,2]", r#"{"prefix":"x"}"#] {
            let p = format!(r#"{{"a":[{{"anything-but":{ok}}}]}}"#);
            assert!(compile_sns_filter_policy(&p, MessageBody).is_ok(), "{ok}");
        }
        for range in [r#"["<",5,">",1]"#, r#"[">",5,"<",1]"#, r#"[">",5,"<=",5]"#] {
            let e = rejected(&format!(r#"{{"a":[{{"numeric":{range}}}]}}"#), MessageBody);
            assert_eq!(e.path, "/a/0/numeric", "{range}");
        }
        assert!(
            compile_sns_filter_policy(r#"{"a":[{"numeric":[">=",1,"<",1.5]}]}"#, MessageBody)
                .is_ok()
        );
    }

    #[test]
    fn limits() {
        use FilterPolicyScope::*;
        let five = r#"{"a":["1"],"b":["1"],"c":["1"],"d":["1"],"e":["1"]}"#;
        assert!(compile_sns_filter_policy(five, MessageAttributes).is_ok());
        let six = r#"{"a":["1"],"b":["1"],"c":["1"],"d":["1"],"e":["1"],"f":["1"]}"#;
        assert!(rejected(six, MessageAttributes)
            .message
            .contains("more than 5 keys"));
        let vals = |n: usize| {
            (0..n)
                .map(|i| format!("\"{i}\""))
                .collect::<Vec<_>>()
                .join(",")
        };
        let ok = format!(r#"{{"a":[{}],"b":[{}]}}"#, vals(10), vals(15));
        assert!(compile_sns_filter_policy(&ok, MessageAttributes).is_ok());
        let big = format!(r#"{{"a":[{}],"b":[{}]}}"#, vals(10), vals(16));
        assert!(rejected(&big, MessageAttributes)
            .message
            .contains("160 value combinations"));
        let or = format!(
            r#"{{"$or":[{{"a":[{}]}},{{"b":[{}]}}]}}"#,
            vals(100),
            vals(100)
        );
        assert!(compile_sns_filter_policy(&or, MessageAttributes).is_err());
        let nested = r#"{"x":{"a":["1"],"b":["1"],"c":["1"]},"y":{"d":["1"],"e":["1"],"f":["1"]}}"#;
        assert!(compile_sns_filter_policy(nested, MessageBody).is_err());
        let huge = format!(r#"{{"a":["{}"]}}"#, "x".repeat(SNS_MAX_POLICY_BYTES));
        assert!(rejected(&huge, MessageAttributes)
            .message
            .contains("256 KB"));
        assert!(compile_sns_filter_policy(r#"{"a":[{"wildcard":"a**b"}]}"#, MessageBody).is_err());
    }
}
