//! A flatter form of a compiled pattern, for evaluation only.
//!
//! The node tree ([`Node`]) stays the pattern's definition (explanations, SNS export, projections and the
//! router's index read it). Evaluating it walks one node per operator: an EventBridge field is `Map` →
//! `EachOrSelf` → `Not` → `OneOf` → `StrictEq`, a call and a dispatch each. A [`Plan`] folds those chains
//! into one step per field: a map's entries, then for each field one test on the value (a string
//! compared with a literal, looked up among literals, a prefix…), with the result for a missing key
//! worked out once at compile time. Anything it does not fold is evaluated by the node itself, so a plan
//! always gives the node's answer.

use super::node::{has_prefix, has_suffix, map_get, short_eq, CmpOp, Lit, Node, Wildcard};
use crate::value::{Map, Value};

/// How a pattern (or one of its fields) is evaluated.
#[derive(Clone)]
pub(crate) enum Plan {
    /// A map whose entries must all hold: a missing key or a value that is not a map fails.
    Map(Box<[(Box<str>, Plan)]>),
    /// An EventBridge field holding a nested object: a map must satisfy every entry; a list, one of its
    /// elements (nested lists flattened); anything else, or a missing key, fails.
    EachMap(Box<[(Box<str>, Plan)]>),
    /// An EventBridge field: a list matches when one of its elements does (nested lists flattened),
    /// another value when the test holds; a missing key gives `missing`.
    Each { test: Test, missing: bool },
    /// A test on the value itself; a missing key gives `missing`.
    Test { test: Test, missing: bool },
}

/// A test on a present value.
#[derive(Clone)]
pub(crate) enum Test {
    /// A string equal to this one.
    StrEq(Box<str>),
    /// A string equal to one of these.
    StrIn(Box<[Box<str>]>),
    /// Anything but a string equal to one of these (EventBridge `anything-but` strings).
    NotStrIn(Box<[Box<str>]>),
    Prefix(Box<str>),
    Suffix(Box<str>),
    Wildcard(Wildcard),
    /// EventBridge `numeric`: a JSON number within every bound.
    Numeric(Box<[(CmpOp, Value)]>),
    /// Present (`exists: true`) or not (`exists: false`).
    Exists(bool),
    Not(Box<Test>),
    /// Any other node, evaluated as it is.
    Node(Node),
}

/// The string of an EventBridge exact value (type-strict: only a string equals it).
fn strict_string(n: &Node) -> Option<&str> {
    match n {
        Node::StrictEq(Lit {
            lit: super::Literal::Value(Value::String(s)),
            ..
        }) => Some(s),
        _ => None,
    }
}

#[inline(always)]
fn in_set(x: &str, set: &[Box<str>]) -> bool {
    set.iter().any(|s| short_eq(x.as_bytes(), s.as_bytes()))
}

impl Test {
    /// The test that `n` applies to a present value: `test.eval(v) == n.eval(Some(v))` for every `v`.
    fn of(n: &Node) -> Test {
        if let Some(s) = strict_string(n) {
            return Test::StrEq(s.into());
        }
        match n {
            Node::OneOf(ns) if ns.iter().all(|n| strict_string(n).is_some()) => {
                Test::StrIn(ns.iter().filter_map(strict_string).map(Box::from).collect())
            }
            Node::Prefix(p) => Test::Prefix(p.as_str().into()),
            Node::Suffix(p) => Test::Suffix(p.as_str().into()),
            Node::Wildcard(w) => Test::Wildcard(w.clone()),
            Node::Numeric(conds) => Test::Numeric(conds.as_slice().into()),
            Node::Exists(b) => Test::Exists(*b),
            Node::Not(inner) => match Test::of(inner) {
                Test::StrEq(s) => Test::NotStrIn(Box::new([s])),
                Test::StrIn(set) => Test::NotStrIn(set),
                t => Test::Not(Box::new(t)),
            },
            other => Test::Node(other.clone()),
        }
    }

    #[inline(always)]
    fn eval(&self, v: &Value) -> bool {
        match self {
            Test::StrEq(s) => matches!(v, Value::String(x) if short_eq(x.as_bytes(), s.as_bytes())),
            Test::StrIn(set) => matches!(v, Value::String(x) if in_set(x, set)),
            Test::NotStrIn(set) => !matches!(v, Value::String(x) if in_set(x, set)),
            Test::Prefix(p) => matches!(v, Value::String(x) if has_prefix(x, p)),
            _ => self.eval_other(v),
        }
    }

    #[inline(never)]
    fn eval_other(&self, v: &Value) -> bool {
        match self {
            Test::StrEq(s) => matches!(v, Value::String(x) if short_eq(x.as_bytes(), s.as_bytes())),
            Test::StrIn(set) => matches!(v, Value::String(x) if in_set(x, set)),
            Test::NotStrIn(set) => !matches!(v, Value::String(x) if in_set(x, set)),
            Test::Prefix(p) => matches!(v, Value::String(x) if has_prefix(x, p)),
            Test::Suffix(p) => matches!(v, Value::String(x) if has_suffix(x, p)),
            Test::Wildcard(w) => matches!(v, Value::String(x) if w.matches(x)),
            Test::Numeric(conds) => {
                v.is_number()
                    && conds
                        .iter()
                        .all(|(op, n)| v.cmp_numeric(n).is_some_and(|o| op.accepts(o)))
            }
            Test::Exists(b) => *b,
            Test::Not(t) => !t.eval(v),
            Test::Node(n) => n.eval(Some(v)),
        }
    }
}

/// Whether every entry holds in `m`. A field's test on a scalar (the common case) is evaluated here,
/// without a call.
#[inline]
fn all_entries(es: &[(Box<str>, Plan)], m: &Map) -> bool {
    es.iter().all(|(k, p)| {
        let v = map_get(m, k);
        match (p, v) {
            (Plan::Each { missing, .. } | Plan::Test { missing, .. }, None) => *missing,
            (Plan::Each { test, .. }, Some(x)) if !matches!(x, Value::List(_)) => test.eval(x),
            (Plan::Test { test, .. }, Some(x)) => test.eval(x),
            (Plan::EachMap(es), Some(Value::Map(m))) => all_entries_nested(es, m),
            _ => p.eval(v),
        }
    })
}

/// [`all_entries`] one level down, out of line.
#[inline(never)]
fn all_entries_nested(es: &[(Box<str>, Plan)], m: &Map) -> bool {
    all_entries(es, m)
}

fn entries(es: &[(String, Node)]) -> Box<[(Box<str>, Plan)]> {
    es.iter()
        .map(|(k, n)| (k.as_str().into(), Plan::of(n)))
        .collect()
}

impl Plan {
    /// The plan of a node: `plan.eval(v) == n.eval(v)` for every `v`.
    pub(crate) fn of(n: &Node) -> Plan {
        match n {
            Node::Map(es) => Plan::Map(entries(es)),
            Node::EachOrSelf(inner) => match &**inner {
                Node::Map(es) => Plan::EachMap(entries(es)),
                // A node that is itself a list operator keeps its own view of lists.
                other => Plan::Each {
                    test: Test::of(other),
                    missing: other.eval(None),
                },
            },
            other => Plan::Test {
                test: Test::of(other),
                missing: other.eval(None),
            },
        }
    }

    /// Evaluates against a payload value; `None` is a missing key.
    pub(crate) fn eval(&self, v: Option<&Value>) -> bool {
        match self {
            Plan::Map(es) => match v {
                Some(Value::Map(m)) => all_entries(es, m),
                _ => false,
            },
            Plan::EachMap(es) => match v {
                Some(Value::Map(m)) => all_entries(es, m),
                Some(Value::List(items)) => items.iter().any(|x| self.eval(Some(x))),
                _ => false,
            },
            Plan::Each { test, missing } => match v {
                None => *missing,
                Some(Value::List(items)) => items.iter().any(|x| self.eval(Some(x))),
                Some(x) => test.eval(x),
            },
            Plan::Test { test, missing } => match v {
                None => *missing,
                Some(x) => test.eval(x),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::json;
    use crate::matcher::{compile_pattern_json, Syntax};

    /// A plan answers as its node on every pattern × payload pair, whatever the shape of the value
    /// (missing, scalar of another type, list, nested list, map in place of a scalar…).
    #[test]
    fn plans_answer_as_their_nodes() {
        let patterns = [
            (r#"{"a": ["x"]}"#, Syntax::EventBridge),
            (r#"{"a": ["x", "y", 5]}"#, Syntax::EventBridge),
            (
                r#"{"a": ["x", "y"], "b": {"c": [{"prefix": "p"}]}}"#,
                Syntax::EventBridge,
            ),
            (
                r#"{"a": [{"anything-but": ["x", "y"]}]}"#,
                Syntax::EventBridge,
            ),
            (
                r#"{"a": [{"anything-but": {"prefix": "x"}}]}"#,
                Syntax::EventBridge,
            ),
            (r#"{"a": [{"anything-but": 5}]}"#, Syntax::EventBridge),
            (r#"{"a": [{"anything-but": "x"}]}"#, Syntax::EventBridge),
            (
                r#"{"a": [{"anything-but": ["x", 5]}]}"#,
                Syntax::EventBridge,
            ),
            (
                r#"{"a": [{"suffix": "z"}, {"wildcard": "*y*"}]}"#,
                Syntax::EventBridge,
            ),
            (
                r#"{"a": [{"numeric": [">", 1, "<=", 5]}]}"#,
                Syntax::EventBridge,
            ),
            (r#"{"a": [{"exists": false}]}"#, Syntax::EventBridge),
            (
                r#"{"a": [{"exists": true}], "b": [null]}"#,
                Syntax::EventBridge,
            ),
            (r#"{"b": {"c": [{"exists": false}]}}"#, Syntax::EventBridge),
            (
                r#"{"a": ["x"], "$or": [{"b": [1]}, {"c": ["z"]}]}"#,
                Syntax::EventBridge,
            ),
            (r#"{"a": "x", "b": {"c": {"$gt": 1}}}"#, Syntax::Mega),
            (
                r#"{"a": {"$not": ["x", "y"]}, "b": {"$exists": false}}"#,
                Syntax::Mega,
            ),
            (r#"{"a": ["x"]}"#, Syntax::Mega),
        ];
        let payloads = [
            r#"{}"#,
            r#"[]"#,
            r#""x""#,
            r#"{"a": "x"}"#,
            r#"{"a": "y", "b": {"c": "pq"}}"#,
            r#"{"a": "xz", "b": {"c": 3}}"#,
            r#"{"a": 5, "b": [{"c": "p"}, {"c": 2}]}"#,
            r#"{"a": 5.0, "b": null, "c": "z"}"#,
            r#"{"a": 3, "b": 1}"#,
            r#"{"a": null, "b": {}}"#,
            r#"{"a": ["w", ["x"]], "b": [[{"c": "pp"}]]}"#,
            r#"{"a": [], "b": "c"}"#,
            r#"{"a": [1, 7], "b": [1]}"#,
            r#"{"a": {"x": 1}, "b": {"c": null}}"#,
            r#"{"a": ["x", "y"], "c": "z"}"#,
        ];
        let mut compared = 0;
        for (text, syntax) in patterns {
            let p = compile_pattern_json(text, syntax).unwrap();
            for payload in payloads {
                let v = json::parse(payload).unwrap();
                assert_eq!(
                    p.plan.eval(Some(&v)),
                    p.root().eval(Some(&v)),
                    "{text} on {payload}"
                );
                assert_eq!(p.plan.eval(None), p.root().eval(None), "{text} on nothing");
                compared += 1;
            }
        }
        assert_eq!(compared, 255);
    }
}
