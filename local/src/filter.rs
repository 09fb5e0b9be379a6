//! SNS subscription filter policies (the EventBridge-style pattern syntax SNS uses).
//!
//! Narrow interface, so that it can be swapped for `sqs_mega::matcher` later:
//! [`compile`] a policy for a scope, then [`Filter::matches`] message attributes and body.
//!
//! Supported: exact strings and numbers, `prefix`, `suffix`, `anything-but` (values, a
//! single value, or a `prefix`/`suffix`), `numeric` ranges (`=`, `<`, `<=`, `>`, `>=`),
//! `exists`, `equals-ignore-case`, `wildcard` (`*`), `cidr` (IPv4/IPv6), `null` (body scope),
//! `$or`, nested keys in the MessageBody scope, and `String.Array` attributes.

use crate::util::AttrValue;
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::IpAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    MessageAttributes,
    MessageBody,
}

impl Scope {
    pub fn parse(s: &str) -> Option<Scope> {
        match s {
            "MessageAttributes" | "" => Some(Scope::MessageAttributes),
            "MessageBody" => Some(Scope::MessageBody),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError(pub String);

impl std::fmt::Display for FilterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FilterError {}

#[derive(Debug, Clone)]
enum Cond {
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
    Prefix(String),
    Suffix(String),
    IgnoreCase(String),
    Wildcard(String),
    Exists(bool),
    AnythingBut(Vec<Cond>),
    Numeric(Vec<(String, f64)>),
    Cidr(IpAddr, u8),
}

#[derive(Debug, Clone)]
enum Node {
    Leaf(Vec<Cond>),
    Nested(Pattern),
}

#[derive(Debug, Clone, Default)]
struct Pattern {
    keys: Vec<(String, Node)>,
    ors: Vec<Vec<Pattern>>,
}

/// A compiled filter policy.
#[derive(Debug, Clone)]
pub struct Filter {
    scope: Scope,
    pattern: Pattern,
}

fn err(s: impl Into<String>) -> FilterError {
    FilterError(s.into())
}

/// SNS limits on a filter policy ("Filter policy constraints in Amazon SNS"): its size, its
/// keys, and its value combinations (the product of the lengths of its arrays).
pub const MAX_POLICY_BYTES: usize = 256 * 1024;
pub const MAX_KEYS: usize = 5;
pub const MAX_COMBINATIONS: usize = 150;

/// Compiles a filter policy (JSON text) for a scope.
pub fn compile(policy_json: &str, scope: Scope) -> Result<Filter, FilterError> {
    if policy_json.len() > MAX_POLICY_BYTES {
        return Err(err(format!(
            "Filter policy: {} bytes, more than the maximum of {MAX_POLICY_BYTES} (256 KB)",
            policy_json.len()
        )));
    }
    let v: Value =
        serde_json::from_str(policy_json).map_err(|e| err(format!("Filter policy: {e}")))?;
    let pattern = compile_pattern(&v, scope, 0)?;
    let (keys, combos) = complexity(&v);
    if keys > MAX_KEYS {
        return Err(err(format!(
            "Filter policy: can not have more than {MAX_KEYS} keys (it has {keys})"
        )));
    }
    if combos > MAX_COMBINATIONS {
        return Err(err(format!(
            "Filter policy: too complex: {combos} value combinations, at most {MAX_COMBINATIONS} allowed"
        )));
    }
    Ok(Filter { scope, pattern })
}

/// (keys, value combinations) of a policy, counted on its expansion into alternatives
/// without `$or`: the keys of the largest alternative, and the sum over alternatives of the
/// product of their array lengths. Nested objects count their leaf keys.
fn complexity(v: &Value) -> (usize, usize) {
    let Some(obj) = v.as_object() else {
        return (0, 1);
    };
    let (mut keys, mut combos) = (0usize, 1usize);
    for (k, val) in obj {
        let (k2, c2) = match val {
            Value::Array(alts) if k == "$or" => alts
                .iter()
                .map(complexity)
                .fold((0usize, 0usize), |(k, c), (k2, c2)| {
                    (k.max(k2), c.saturating_add(c2))
                }),
            Value::Array(items) => (1, items.len().max(1)),
            nested => complexity(nested),
        };
        keys = keys.saturating_add(k2);
        combos = combos.saturating_mul(c2);
    }
    (keys, combos)
}

fn compile_pattern(v: &Value, scope: Scope, depth: usize) -> Result<Pattern, FilterError> {
    let obj = v
        .as_object()
        .ok_or_else(|| err("Filter policy: must be a JSON object"))?;
    if depth > 5 {
        return Err(err("Filter policy: too deeply nested"));
    }
    let mut p = Pattern::default();
    for (k, val) in obj {
        if k == "$or" {
            let arr = val
                .as_array()
                .filter(|a| a.len() >= 2)
                .ok_or_else(|| err("Filter policy: $or must be an array of at least 2 objects"))?;
            let alts = arr
                .iter()
                .map(|x| compile_pattern(x, scope, depth))
                .collect::<Result<Vec<_>, _>>()?;
            p.ors.push(alts);
            continue;
        }
        match val {
            Value::Array(items) => {
                if items.is_empty() {
                    return Err(err(format!("Filter policy: empty array for key {k}")));
                }
                let conds = items.iter().map(compile_cond).collect::<Result<_, _>>()?;
                p.keys.push((k.clone(), Node::Leaf(conds)));
            }
            Value::Object(_) => {
                if scope == Scope::MessageAttributes {
                    return Err(err(format!(
                        "Filter policy: nested keys are allowed only with FilterPolicyScope MessageBody ({k})"
                    )));
                }
                p.keys.push((
                    k.clone(),
                    Node::Nested(compile_pattern(val, scope, depth + 1)?),
                ));
            }
            _ => {
                return Err(err(format!(
                    "Filter policy: value of {k} must be an array or an object"
                )))
            }
        }
    }
    Ok(p)
}

fn compile_cond(v: &Value) -> Result<Cond, FilterError> {
    Ok(match v {
        Value::String(s) => Cond::Str(s.clone()),
        Value::Number(n) => Cond::Num(n.as_f64().unwrap_or(f64::NAN)),
        Value::Bool(b) => Cond::Bool(*b),
        Value::Null => Cond::Null,
        Value::Array(_) => return Err(err("Filter policy: nested arrays are not allowed")),
        Value::Object(o) => {
            if o.len() != 1 {
                return Err(err("Filter policy: an operator object must have one key"));
            }
            let (op, arg) = o.iter().next().unwrap();
            let text = |a: &Value| {
                a.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| err(format!("Filter policy: {op} needs a string")))
            };
            match op.as_str() {
                "prefix" => Cond::Prefix(text(arg)?),
                "suffix" => Cond::Suffix(text(arg)?),
                "equals-ignore-case" => Cond::IgnoreCase(text(arg)?),
                "wildcard" => {
                    let w = text(arg)?;
                    if let Some(pos) = w.find("**") {
                        return Err(err(format!(
                            "Filter policy: consecutive wildcard characters at pos {pos} in wildcard"
                        )));
                    }
                    Cond::Wildcard(w)
                }
                "exists" => Cond::Exists(
                    arg.as_bool()
                        .ok_or_else(|| err("Filter policy: exists needs true or false"))?,
                ),
                "anything-but" => {
                    let inner = match arg {
                        Value::Array(a) => a
                            .iter()
                            .map(|x| match x {
                                Value::String(_) | Value::Number(_) => compile_cond(x),
                                _ => {
                                    Err(err("Filter policy: anything-but takes strings or numbers"))
                                }
                            })
                            .collect::<Result<Vec<_>, _>>()?,
                        Value::String(_) | Value::Number(_) => vec![compile_cond(arg)?],
                        Value::Object(_) => {
                            let c = compile_cond(arg)?;
                            if !matches!(c, Cond::Prefix(_) | Cond::Suffix(_) | Cond::IgnoreCase(_))
                            {
                                return Err(err(
                                    "Filter policy: anything-but takes prefix, suffix or equals-ignore-case",
                                ));
                            }
                            vec![c]
                        }
                        _ => return Err(err("Filter policy: invalid anything-but")),
                    };
                    Cond::AnythingBut(inner)
                }
                "numeric" => {
                    let a = arg
                        .as_array()
                        .ok_or_else(|| err("Filter policy: numeric needs an array"))?;
                    if a.is_empty() || a.len() % 2 != 0 || a.len() > 4 {
                        return Err(err("Filter policy: invalid numeric range"));
                    }
                    let mut ops = Vec::new();
                    for pair in a.chunks(2) {
                        let o = pair[0]
                            .as_str()
                            .filter(|o| matches!(*o, "=" | "<" | "<=" | ">" | ">="))
                            .ok_or_else(|| err("Filter policy: invalid numeric operator"))?;
                        let n = pair[1]
                            .as_f64()
                            .ok_or_else(|| err("Filter policy: numeric needs numbers"))?;
                        ops.push((o.to_string(), n));
                    }
                    if ops.len() == 2
                        && !(ops[0].0.starts_with('>')
                            && ops[1].0.starts_with('<')
                            && ops[0].1 < ops[1].1)
                    {
                        return Err(err("Filter policy: invalid numeric range"));
                    }
                    Cond::Numeric(ops)
                }
                "cidr" => {
                    let s = text(arg)?;
                    let (ip, bits) = s
                        .split_once('/')
                        .ok_or_else(|| err("Filter policy: invalid cidr"))?;
                    let ip: IpAddr = ip.parse().map_err(|_| err("Filter policy: invalid cidr"))?;
                    let bits: u8 = bits
                        .parse()
                        .map_err(|_| err("Filter policy: invalid cidr"))?;
                    let max = if ip.is_ipv4() { 32 } else { 128 };
                    if bits > max {
                        return Err(err("Filter policy: invalid cidr"));
                    }
                    Cond::Cidr(ip, bits)
                }
                other => return Err(err(format!("Filter policy: unrecognized operator {other}"))),
            }
        }
    })
}

/// Matches a `*` glob (each `*` matches any run of characters, including none) in time
/// linear in `pat.len() + s.len()`: the text before the first `*` must be a prefix, the text
/// after the last `*` a suffix (not overlapping the prefix), and each segment in between is
/// found left to right with a linear substring search (std's two-way searcher). Taking the
/// leftmost occurrence of each middle segment is never wrong: it leaves the most room for
/// the segments after it.
fn wildcard_match(pat: &str, s: &str) -> bool {
    let mut segs = pat.split('*');
    let first = segs.next().unwrap_or("");
    let Some(last) = segs.next_back() else {
        return pat == s; // no `*`
    };
    if s.len() < first.len() + last.len() || !s.starts_with(first) || !s.ends_with(last) {
        return false;
    }
    let mut rest = &s[first.len()..s.len() - last.len()];
    for mid in segs.filter(|m| !m.is_empty()) {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

fn in_cidr(net: &IpAddr, bits: u8, s: &str) -> bool {
    let Ok(ip) = s.parse::<IpAddr>() else {
        return false;
    };
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            (u32::from(*n) & mask) == (u32::from(i) & mask)
        }
        (IpAddr::V6(n), IpAddr::V6(i)) => {
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            (u128::from(*n) & mask) == (u128::from(i) & mask)
        }
        _ => false,
    }
}

/// A scalar value as seen by the matcher.
fn cond_matches(c: &Cond, v: &Value) -> bool {
    match c {
        Cond::Str(s) => v.as_str() == Some(s),
        Cond::Num(n) => v.as_f64().is_some_and(|x| x == *n),
        Cond::Bool(b) => v.as_bool() == Some(*b),
        Cond::Null => v.is_null(),
        Cond::Prefix(p) => v.as_str().is_some_and(|s| s.starts_with(p.as_str())),
        Cond::Suffix(p) => v.as_str().is_some_and(|s| s.ends_with(p.as_str())),
        Cond::IgnoreCase(p) => v
            .as_str()
            .is_some_and(|s| s.to_lowercase() == p.to_lowercase()),
        Cond::Wildcard(p) => v.as_str().is_some_and(|s| wildcard_match(p, s)),
        Cond::Exists(e) => *e,
        Cond::AnythingBut(list) => {
            // Matches a present value that matches none of the listed conditions.
            !v.is_null() && !list.iter().any(|c| cond_matches(c, v))
        }
        Cond::Numeric(ops) => v.as_f64().is_some_and(|x| {
            ops.iter().all(|(o, n)| match o.as_str() {
                "=" => x == *n,
                "<" => x < *n,
                "<=" => x <= *n,
                ">" => x > *n,
                ">=" => x >= *n,
                _ => false,
            })
        }),
        Cond::Cidr(net, bits) => v.as_str().is_some_and(|s| in_cidr(net, *bits, s)),
    }
}

/// Does a (possibly absent, possibly array) field satisfy one of the conditions?
fn leaf_matches(conds: &[Cond], field: Option<&Value>) -> bool {
    match field {
        None => conds.iter().any(|c| matches!(c, Cond::Exists(false))),
        Some(Value::Array(items)) => conds.iter().any(|c| match c {
            Cond::Exists(e) => *e,
            Cond::AnythingBut(_) => !items.is_empty() && items.iter().all(|i| cond_matches(c, i)),
            _ => items.iter().any(|i| cond_matches(c, i)),
        }),
        Some(v) => conds.iter().any(|c| cond_matches(c, v)),
    }
}

fn pattern_matches(p: &Pattern, obj: &serde_json::Map<String, Value>) -> bool {
    p.keys.iter().all(|(k, node)| match node {
        Node::Leaf(conds) => leaf_matches(conds, obj.get(k)),
        Node::Nested(inner) => match obj.get(k) {
            Some(Value::Object(o)) => pattern_matches(inner, o),
            // A nested pattern on a missing object matches only if all of it is exists:false.
            _ => pattern_matches(inner, &serde_json::Map::new()),
        },
    }) && p
        .ors
        .iter()
        .all(|alts| alts.iter().any(|a| pattern_matches(a, obj)))
}

/// Message attributes as the matcher sees them: String -> string, Number -> number,
/// String.Array -> array; Binary attributes are not matchable.
fn attributes_view(attrs: &BTreeMap<String, AttrValue>) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    for (k, a) in attrs {
        let base = a.data_type.split('.').next().unwrap_or("");
        let s = a.string_value.clone().unwrap_or_default();
        let v = if a.data_type == "String.Array" {
            match serde_json::from_str::<Value>(&s) {
                Ok(v @ Value::Array(_)) => v,
                _ => Value::String(s),
            }
        } else if base == "Number" {
            match s.trim().parse::<f64>() {
                Ok(n) => serde_json::Number::from_f64(n).map_or(Value::String(s), Value::Number),
                Err(_) => Value::String(s),
            }
        } else if base == "String" {
            Value::String(s)
        } else {
            continue;
        };
        m.insert(k.clone(), v);
    }
    m
}

impl Filter {
    pub fn scope(&self) -> Scope {
        self.scope
    }

    /// Evaluates the policy on a message (attributes, and body for the MessageBody scope).
    pub fn matches(&self, attrs: &BTreeMap<String, AttrValue>, body: &str) -> bool {
        match self.scope {
            Scope::MessageAttributes => pattern_matches(&self.pattern, &attributes_view(attrs)),
            Scope::MessageBody => match serde_json::from_str::<Value>(body) {
                Ok(Value::Object(o)) => pattern_matches(&self.pattern, &o),
                _ => false,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(pairs: &[(&str, &str, &str)]) -> BTreeMap<String, AttrValue> {
        pairs
            .iter()
            .map(|(k, t, v)| {
                (
                    k.to_string(),
                    AttrValue {
                        data_type: t.to_string(),
                        string_value: Some(v.to_string()),
                        binary_value: None,
                    },
                )
            })
            .collect()
    }

    fn m(policy: &str, a: &[(&str, &str, &str)]) -> bool {
        compile(policy, Scope::MessageAttributes)
            .unwrap()
            .matches(&attrs(a), "")
    }

    fn b(policy: &str, body: &str) -> bool {
        compile(policy, Scope::MessageBody)
            .unwrap()
            .matches(&BTreeMap::new(), body)
    }

    #[test]
    fn exact_strings_and_numbers() {
        assert!(m(r#"{"c":["red","blue"]}"#, &[("c", "String", "blue")]));
        assert!(!m(r#"{"c":["red"]}"#, &[("c", "String", "green")]));
        assert!(!m(r#"{"c":["red"]}"#, &[]));
        assert!(m(r#"{"n":[5]}"#, &[("n", "Number", "5.0")]));
        assert!(!m(r#"{"n":[5]}"#, &[("n", "String", "5")]));
        // all keys must match
        assert!(!m(r#"{"c":["red"],"n":[1]}"#, &[("c", "String", "red")]));
    }

    #[test]
    fn prefix_suffix_ignore_case_wildcard() {
        assert!(m(r#"{"c":[{"prefix":"re"}]}"#, &[("c", "String", "red")]));
        assert!(!m(r#"{"c":[{"prefix":"bl"}]}"#, &[("c", "String", "red")]));
        assert!(m(r#"{"c":[{"suffix":"ed"}]}"#, &[("c", "String", "red")]));
        assert!(m(
            r#"{"c":[{"equals-ignore-case":"RED"}]}"#,
            &[("c", "String", "rEd")]
        ));
        assert!(m(
            r#"{"c":[{"wildcard":"r*d*"}]}"#,
            &[("c", "String", "rapid")]
        ));
        assert!(!m(
            r#"{"c":[{"wildcard":"r*x"}]}"#,
            &[("c", "String", "rapid")]
        ));
    }

    #[test]
    fn anything_but_numeric_exists_cidr() {
        assert!(m(
            r#"{"c":[{"anything-but":["red"]}]}"#,
            &[("c", "String", "blue")]
        ));
        assert!(!m(
            r#"{"c":[{"anything-but":"red"}]}"#,
            &[("c", "String", "red")]
        ));
        assert!(!m(r#"{"c":[{"anything-but":"red"}]}"#, &[]));
        assert!(m(
            r#"{"c":[{"anything-but":{"prefix":"re"}}]}"#,
            &[("c", "String", "blue")]
        ));
        assert!(!m(
            r#"{"c":[{"anything-but":{"prefix":"re"}}]}"#,
            &[("c", "String", "red")]
        ));
        assert!(m(
            r#"{"p":[{"numeric":[">",0,"<=",5]}]}"#,
            &[("p", "Number", "5")]
        ));
        assert!(!m(
            r#"{"p":[{"numeric":[">",0,"<=",5]}]}"#,
            &[("p", "Number", "0")]
        ));
        assert!(m(r#"{"p":[{"numeric":["=",3]}]}"#, &[("p", "Number", "3")]));
        assert!(m(r#"{"x":[{"exists":true}]}"#, &[("x", "String", "1")]));
        assert!(!m(r#"{"x":[{"exists":true}]}"#, &[]));
        assert!(m(r#"{"x":[{"exists":false}]}"#, &[]));
        assert!(!m(r#"{"x":[{"exists":false}]}"#, &[("x", "String", "1")]));
        assert!(m(
            r#"{"ip":[{"cidr":"10.0.0.0/24"}]}"#,
            &[("ip", "String", "10.0.0.7")]
        ));
        assert!(!m(
            r#"{"ip":[{"cidr":"10.0.0.0/24"}]}"#,
            &[("ip", "String", "10.0.1.7")]
        ));
        assert!(m(
            r#"{"ip":[{"cidr":"2001:db8::/32"}]}"#,
            &[("ip", "String", "2001:db8::1")]
        ));
    }

    #[test]
    fn string_array_and_or() {
        assert!(m(
            r#"{"t":["b"]}"#,
            &[("t", "String.Array", r#"["a","b"]"#)]
        ));
        assert!(!m(
            r#"{"t":["c"]}"#,
            &[("t", "String.Array", r#"["a","b"]"#)]
        ));
        let p = r#"{"$or":[{"a":["1"]},{"b":["2"]}]}"#;
        assert!(m(p, &[("b", "String", "2")]));
        assert!(!m(p, &[("b", "String", "3")]));
    }

    #[test]
    fn body_scope_nested() {
        let p = r#"{"order":{"kind":["new"],"total":[{"numeric":[">=",10]}]}}"#;
        assert!(b(p, r#"{"order":{"kind":"new","total":12}}"#));
        assert!(!b(p, r#"{"order":{"kind":"new","total":2}}"#));
        assert!(!b(p, r#"{"other":1}"#));
        assert!(!b(p, "not json"));
        assert!(b(r#"{"tags":["x"]}"#, r#"{"tags":["y","x"]}"#));
        assert!(b(r#"{"v":[null]}"#, r#"{"v":null}"#));
        assert!(b(r#"{"ok":[true]}"#, r#"{"ok":true}"#));
    }

    #[test]
    fn invalid_policies_are_rejected() {
        assert!(compile("[]", Scope::MessageAttributes).is_err());
        assert!(compile(r#"{"a":"x"}"#, Scope::MessageAttributes).is_err());
        assert!(compile(r#"{"a":{"b":["x"]}}"#, Scope::MessageAttributes).is_err());
        assert!(compile(r#"{"a":[{"bogus":1}]}"#, Scope::MessageAttributes).is_err());
        assert!(compile(
            r#"{"a":[{"numeric":["<",5,">",1]}]}"#,
            Scope::MessageAttributes
        )
        .is_err());
        assert!(compile(r#"{"a":{"b":["x"]}}"#, Scope::MessageBody).is_ok());
    }
    #[test]
    fn wildcard_semantics() {
        for (pat, text, want) in [
            ("", "", true),
            ("", "a", false),
            ("abc", "abc", true),
            ("abc", "abcd", false),
            ("*", "", true),
            ("*", "anything", true),
            ("a*", "a", true),
            ("a*", "ba", false),
            ("*a", "ba", true),
            ("*a", "ab", false),
            ("a*a", "a", false), // prefix and suffix may not overlap
            ("a*a", "aa", true),
            ("a*b*c", "abc", true),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "acb", false),
            ("*ab*ab*", "abab", true),
            ("*ab*ab*", "aba", false),
            ("*aab", "aaab", true),
            ("x*é*z", "xaéz", true),
            ("*.png", "img.png", true),
            ("*/lib/*", "/usr/lib/x", true),
        ] {
            assert_eq!(wildcard_match(pat, text), want, "{pat:?} on {text:?}");
        }
    }

    /// Runs `f` on a thread and fails (instead of hanging) if it takes longer than `secs`.
    fn within<T: Send + 'static>(secs: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(f());
        });
        rx.recv_timeout(std::time::Duration::from_secs(secs))
            .expect("timed out: super-linear matching?")
    }

    fn median_secs(runs: usize, mut f: impl FnMut()) -> f64 {
        let mut t: Vec<f64> = (0..runs)
            .map(|_| {
                let start = std::time::Instant::now();
                f();
                start.elapsed().as_secs_f64()
            })
            .collect();
        t.sort_by(|a, b| a.partial_cmp(b).unwrap());
        t[runs / 2]
    }

    #[test]
    fn pathological_wildcard_is_linear_time() {
        // `*aaa…ab*` against `aaa…a`: a backtracking glob matcher does |pattern| × |text|
        // work here (9e10 steps for these sizes, tens of seconds).
        let ratios = within(30, || {
            let glob = |n: usize| format!("*{}b*", "a".repeat(n));
            let (big_pat, big) = (glob(100_000), "a".repeat(900_000));
            let (half_pat, half) = (glob(50_000), "a".repeat(450_000));
            let full = median_secs(5, || assert!(!wildcard_match(&big_pat, &big)));
            let halved = median_secs(5, || assert!(!wildcard_match(&half_pat, &half)));
            // A linear baseline over the same text: one pass counting bytes.
            let baseline = median_secs(5, || {
                let n = std::hint::black_box(&big)
                    .bytes()
                    .filter(|b| *b == b'a')
                    .count();
                assert_eq!(n, 900_000);
            });
            (full / halved.max(1e-9), full / baseline.max(1e-9))
        });
        let (doubling, vs_baseline) = ratios;
        eprintln!("doubling: {doubling:.2}x, vs a linear scan: {vs_baseline:.1}x");
        // Linear: doubling text and pattern doubles the time; quadratic would quadruple it.
        assert!(doubling < 3.2, "doubling the input cost {doubling:.2}x");
        assert!(vs_baseline < 50.0, "{vs_baseline:.1}x a linear scan");
        // Matching cases of the same shape stay fast too.
        let text = format!("{}b", "a".repeat(900_000));
        let pat = format!("*{}b*", "a".repeat(100_000));
        assert!(within(10, move || wildcard_match(&pat, &text)));
    }

    #[test]
    fn policy_limits_are_enforced() {
        let five = r#"{"a":["1"],"b":["1"],"c":["1"],"d":["1"],"e":["1"]}"#;
        assert!(compile(five, Scope::MessageAttributes).is_ok());
        let six = r#"{"a":["1"],"b":["1"],"c":["1"],"d":["1"],"e":["1"],"f":["1"]}"#;
        let e = compile(six, Scope::MessageAttributes).unwrap_err();
        assert!(e.0.contains("more than 5 keys"), "{e}");
        // 10 x 15 = 150 combinations is the maximum; 10 x 16 is too many.
        let vals = |n: usize| {
            (0..n)
                .map(|i| format!("\"{i}\""))
                .collect::<Vec<_>>()
                .join(",")
        };
        let ok = format!(r#"{{"a":[{}],"b":[{}]}}"#, vals(10), vals(15));
        assert!(compile(&ok, Scope::MessageAttributes).is_ok());
        let big = format!(r#"{{"a":[{}],"b":[{}]}}"#, vals(10), vals(16));
        let e = compile(&big, Scope::MessageAttributes).unwrap_err();
        assert!(e.0.contains("160 value combinations"), "{e}");
        // $or alternatives add up: 100 + 100 > 150.
        let or = format!(
            r#"{{"$or":[{{"a":[{}]}},{{"b":[{}]}}]}}"#,
            vals(100),
            vals(100)
        );
        assert!(compile(&or, Scope::MessageAttributes).is_err());
        // Nested keys count as keys.
        let nested = r#"{"x":{"a":["1"],"b":["1"],"c":["1"]},"y":{"d":["1"],"e":["1"],"f":["1"]}}"#;
        assert!(compile(nested, Scope::MessageBody).is_err());
        // Size.
        let huge = format!(r#"{{"a":["{}"]}}"#, "x".repeat(MAX_POLICY_BYTES));
        let e = compile(&huge, Scope::MessageAttributes).unwrap_err();
        assert!(e.0.contains("256 KB"), "{e}");
        // Consecutive wildcards, as AWS's event-ruler rejects them.
        assert!(compile(r#"{"a":[{"wildcard":"a**b"}]}"#, Scope::MessageAttributes).is_err());
        assert!(compile(r#"{"a":[{"wildcard":"a*b*"}]}"#, Scope::MessageAttributes).is_ok());
    }
}
