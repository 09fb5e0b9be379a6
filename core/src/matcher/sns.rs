//! Export of a compiled pattern as an SNS filter policy (message-body scope).
//!
//! The exported policy never rejects a payload the pattern accepts, as far as SNS semantics allow: a
//! condition SNS cannot express is left out (the policy is then wider, and the matcher still runs on
//! delivery), and listed in [`SnsExport::omitted`]. Semantic differences that could make SNS narrower
//! are listed in [`SnsExport::notes`].

use super::node::{CmpOp, Lit, Node};
use super::Literal;
use crate::value::{Map, Value};

/// The result of [`Pattern::to_sns_filter_policy`](super::Pattern::to_sns_filter_policy).
#[derive(Clone, Debug, PartialEq)]
pub struct SnsExport {
    /// The filter policy (a JSON object), or `None` when no condition could be exported (attach no
    /// policy then: an empty one is invalid).
    pub policy: Option<Value>,
    /// Conditions left out of the policy.
    pub omitted: Vec<SnsOmission>,
    /// Where SNS semantics differ from the pattern's (numbers sent as strings, SNS limits…).
    pub notes: Vec<String>,
}

impl SnsExport {
    /// Whether the policy expresses the whole pattern (nothing omitted).
    pub fn is_complete(&self) -> bool {
        self.policy.is_some() && self.omitted.is_empty()
    }

    /// The policy as JSON text.
    pub fn policy_json(&self) -> Option<String> {
        self.policy.as_ref().map(crate::json::to_tagged_string)
    }
}

/// A condition of the pattern that the SNS filter policy does not express.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnsOmission {
    /// Dotted path of the condition in the payload.
    pub path: String,
    /// The condition, in DSL notation.
    pub condition: String,
    /// Why it could not be exported.
    pub reason: String,
}

struct Ctx {
    omitted: Vec<SnsOmission>,
    notes: Vec<String>,
    path: Vec<String>,
}

impl Ctx {
    fn omit(&mut self, n: &Node, reason: impl Into<String>) {
        self.omitted.push(SnsOmission {
            path: self.path.join("."),
            condition: n.to_string(),
            reason: reason.into(),
        });
    }
    fn note(&mut self, s: &str) {
        if !self.notes.iter().any(|n| n == s) {
            self.notes.push(s.to_owned());
        }
    }
}

const NUMERIC_STRINGS: &str = "numeric conditions use SNS numeric matching, which ignores numbers sent as strings (the pattern accepts \"5\" for 5)";
const BOOL_STRINGS: &str = "boolean conditions match JSON booleans only in SNS (the pattern also accepts the strings \"true\" / \"false\")";

pub(crate) fn export(root: &Node) -> SnsExport {
    let mut ctx = Ctx {
        omitted: Vec::new(),
        notes: Vec::new(),
        path: Vec::new(),
    };
    let policy = match object(root, &mut ctx) {
        Some(m) if !m.is_empty() => Some(Value::Map(m)),
        Some(_) => None,
        None => {
            ctx.omit(root, "an SNS filter policy is an object of keys");
            None
        }
    };
    if let Some(p) = &policy {
        let (keys, combos) = complexity(p);
        if keys > 5 {
            ctx.notes
                .push(format!("the policy has {keys} keys; SNS allows at most 5"));
        }
        if combos > 150 {
            ctx.notes.push(format!(
                "the policy has {combos} value combinations; SNS allows at most 150"
            ));
        }
    }
    SnsExport {
        policy,
        omitted: ctx.omitted,
        notes: ctx.notes,
    }
}

/// Leaf keys and the product of leaf array lengths.
fn complexity(v: &Value) -> (usize, usize) {
    let mut keys = 0;
    let mut combos = 1usize;
    if let Value::Map(m) = v {
        for (k, v) in m {
            match v {
                Value::List(l) if k == "$or" => {
                    for alt in l {
                        let (k2, c2) = complexity(alt);
                        keys += k2;
                        combos = combos.saturating_mul(c2);
                    }
                }
                Value::List(l) => {
                    keys += 1;
                    combos = combos.saturating_mul(l.len().max(1));
                }
                nested => {
                    let (k2, c2) = complexity(nested);
                    keys += k2;
                    combos = combos.saturating_mul(c2);
                }
            }
        }
    }
    (keys, combos)
}

/// A map node (or an or_ of map nodes) as a policy object; `None` when the node is not map-shaped.
fn object(n: &Node, ctx: &mut Ctx) -> Option<Map> {
    match n {
        Node::EachOrSelf(inner) => object(inner, ctx),
        Node::Map(entries) => {
            let mut out = Map::default();
            for (k, child) in entries {
                ctx.path.push(k.clone());
                if let Some(v) = field(child, ctx) {
                    out.insert(k.clone(), v);
                }
                ctx.path.pop();
            }
            Some(out)
        }
        Node::And(ns) => {
            let mut out = Map::default();
            for child in ns {
                match object(child, ctx) {
                    Some(m) => {
                        for (k, v) in m {
                            if out.contains_key(&k) {
                                ctx.omit(child, format!("`{k}` is constrained twice"));
                            } else {
                                out.insert(k, v);
                            }
                        }
                    }
                    None => ctx.omit(child, "not a map of keys"),
                }
            }
            Some(out)
        }
        Node::Or(ns) | Node::OneOf(ns)
            if ns.iter().all(|c| matches!(c, Node::Map(_) | Node::And(_))) =>
        {
            let before = ctx.omitted.len();
            let mut alts = Vec::with_capacity(ns.len());
            for c in ns {
                match object(c, ctx) {
                    Some(m) if !m.is_empty() => alts.push(Value::Map(m)),
                    _ => {
                        ctx.omitted.truncate(before);
                        ctx.omit(n, "an alternative has no exportable condition");
                        return Some(Map::default());
                    }
                }
            }
            let mut out = Map::default();
            out.insert("$or".to_owned(), Value::List(alts));
            Some(out)
        }
        _ => None,
    }
}

/// The policy value of a field: a nested object or an array of matchers.
fn field(n: &Node, ctx: &mut Ctx) -> Option<Value> {
    if matches!(n, Node::Map(_))
        || matches!(n, Node::EachOrSelf(inner) if matches!(**inner, Node::Map(_)))
    {
        let m = object(n, ctx)?;
        return (!m.is_empty()).then_some(Value::Map(m));
    }
    if let Node::And(ns) = n {
        if let Some(range) = numeric_range(ns) {
            ctx.note(NUMERIC_STRINGS);
            return Some(Value::List(vec![range]));
        }
        // Keep the first exportable condition; the others are left to the matcher.
        let mut kept = None;
        for c in ns {
            if kept.is_none() {
                let before = ctx.omitted.len();
                if let Some(v) = field(c, ctx) {
                    kept = Some(v);
                    continue;
                }
                ctx.omitted.truncate(before);
            }
            ctx.omit(
                c,
                "SNS cannot combine several conditions on one key (except a numeric range)",
            );
        }
        return kept;
    }
    match matchers(n, ctx) {
        Ok(list) => Some(Value::List(list)),
        Err(reason) => {
            ctx.omit(n, reason);
            None
        }
    }
}

fn numeric_range(ns: &[Node]) -> Option<Value> {
    if ns.len() != 2 {
        return None;
    }
    let bound = |n: &Node| match n {
        Node::Cmp(op, l) => l
            .value()
            .filter(|v| v.is_number() && in_sns_range(v))
            .map(|v| (*op, v.clone())),
        _ => None,
    };
    let (a, b) = (bound(&ns[0])?, bound(&ns[1])?);
    let lower = |op| matches!(op, CmpOp::Gt | CmpOp::Gte);
    let (lo, hi) = if lower(a.0) && !lower(b.0) {
        (a, b)
    } else if lower(b.0) && !lower(a.0) {
        (b, a)
    } else {
        return None;
    };
    Some(Value::Map(Map::from_iter([(
        "numeric".to_owned(),
        Value::List(vec![lo.0.symbol().into(), lo.1, hi.0.symbol().into(), hi.1]),
    )])))
}

fn in_sns_range(v: &Value) -> bool {
    v.as_f64().is_some_and(|f| f.abs() <= 1e9)
}

fn single(key: &str, v: Value) -> Value {
    Value::Map(Map::from_iter([(key.to_owned(), v)]))
}

fn literal(l: &Lit, ctx: &mut Ctx) -> Result<Value, String> {
    match &l.lit {
        Literal::Value(v) => match v {
            Value::String(_) | Value::Null => Ok(v.clone()),
            Value::Bool(_) => {
                ctx.note(BOOL_STRINGS);
                Ok(v.clone())
            }
            Value::Int(_) | Value::Float(_) | Value::Decimal(_) => {
                if !in_sns_range(v) {
                    return Err("SNS numbers range from -1e9 to 1e9".into());
                }
                ctx.note(NUMERIC_STRINGS);
                Ok(single("numeric", Value::List(vec!["=".into(), v.clone()])))
            }
            other => Err(format!("SNS cannot compare a {}", other.kind())),
        },
        Literal::Date(_) => Err("SNS cannot compare dates".into()),
    }
}

/// The leading literal text of a regular expression (what every match starts with).
fn regex_prefix(src: &str) -> String {
    let mut out = String::new();
    let mut chars = src.strip_prefix('^').unwrap_or(src).chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_alphanumeric() || " -_:@/,;=#%&'\"<>~`!".contains(c) {
            if matches!(chars.peek(), Some('?' | '*' | '{')) {
                break;
            }
            out.push(c);
        } else {
            break;
        }
    }
    out
}

/// The array of matchers for a leaf condition, or why there is none.
fn matchers(n: &Node, ctx: &mut Ctx) -> Result<Vec<Value>, String> {
    Ok(match n {
        Node::EachOrSelf(inner) => return matchers(inner, ctx),
        Node::Eq(l) | Node::StrictEq(l) => vec![literal(l, ctx)?],
        Node::Cmp(op, l) => match l.value() {
            Some(v) if v.is_number() && in_sns_range(v) => {
                ctx.note(NUMERIC_STRINGS);
                vec![single(
                    "numeric",
                    Value::List(vec![op.symbol().into(), v.clone()]),
                )]
            }
            _ => return Err("SNS compares only numbers between -1e9 and 1e9".into()),
        },
        Node::Numeric(conds) => {
            let mut list = Vec::new();
            for (op, v) in conds {
                if !in_sns_range(v) {
                    return Err("SNS numbers range from -1e9 to 1e9".into());
                }
                list.push(Value::from(op.symbol()));
                list.push(v.clone());
            }
            vec![single("numeric", Value::List(list))]
        }
        Node::OneOf(ns) | Node::Or(ns) | Node::List(ns) => {
            let mut out = Vec::new();
            for c in ns {
                out.extend(matchers(c, ctx)?);
            }
            out
        }
        Node::Not(inner) => vec![single("anything-but", anything_but(inner)?)],
        Node::Prefix(p) => vec![single("prefix", p.as_str().into())],
        Node::Suffix(p) => vec![single("suffix", p.as_str().into())],
        Node::PrefixIgnoreCase(p) => vec![single(
            "prefix",
            single("equals-ignore-case", p.as_str().into()),
        )],
        Node::SuffixIgnoreCase(p) => vec![single(
            "suffix",
            single("equals-ignore-case", p.as_str().into()),
        )],
        Node::EqIgnoreCase(p) => vec![single("equals-ignore-case", p.as_str().into())],
        Node::Cidr(c) => vec![single("cidr", c.source.as_str().into())],
        Node::Exists(b) => vec![single("exists", Value::Bool(*b))],
        Node::Any => vec![single("exists", Value::Bool(true))],
        Node::Regex(src, _) => {
            let p = regex_prefix(src);
            if p.is_empty() {
                return Err("SNS has no regular expressions".into());
            }
            ctx.omit(
                n,
                format!("SNS has no regular expressions: exported as prefix \"{p}\" (wider)"),
            );
            vec![single("prefix", p.into())]
        }
        Node::Wildcard(_) => return Err("SNS filter policies have no wildcard matching".into()),
        Node::Func(..) => return Err("user functions run only in the matcher".into()),
        Node::Empty => return Err("SNS cannot test for emptiness".into()),
        Node::Map(_) | Node::And(_) => return Err("not a leaf condition".into()),
    })
}

fn anything_but(inner: &Node) -> Result<Value, String> {
    let scalar = |l: &Lit| match l.value() {
        Some(v @ (Value::String(_) | Value::Int(_) | Value::Float(_) | Value::Decimal(_))) => {
            Ok(v.clone())
        }
        _ => Err("SNS anything-but takes strings or numbers".to_owned()),
    };
    match inner {
        Node::Eq(l) | Node::StrictEq(l) => Ok(Value::List(vec![scalar(l)?])),
        Node::OneOf(ns) | Node::List(ns) => {
            let mut out = Vec::with_capacity(ns.len());
            for c in ns {
                match c {
                    Node::Eq(l) | Node::StrictEq(l) => out.push(scalar(l)?),
                    _ => return Err("SNS anything-but takes a list of values".into()),
                }
            }
            Ok(Value::List(out))
        }
        Node::Prefix(p) => Ok(single("prefix", p.as_str().into())),
        // SNS refuses anything-but with suffix or equals-ignore-case at Subscribe (see
        // `compile_sns_filter_policy`): left out, the policy is wider.
        _ => Err("SNS anything-but takes values or a prefix only".into()),
    }
}
