//! The uncompiled pattern tree ([`Expr`]) and the Rust builder functions of the DSL.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};

use crate::decimal::Decimal;
use crate::value::Value;

/// A user function: receives the payload value (the left-hand side) and says whether it matches.
///
/// A callback that panics is treated as a non-match (the panic is caught).
pub type Callback = Arc<dyn Fn(&Value) -> bool + Send + Sync>;

/// An operand of a comparison: any [`Value`], or a calendar date (compared at day precision).
#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    /// A value: number, string, boolean, null, date-time, bytes, or (for exact equality) a list or map.
    Value(Value),
    /// A calendar date without a time of day (Python's `datetime.date`).
    Date(NaiveDate),
}

impl From<Value> for Literal {
    fn from(v: Value) -> Self {
        Literal::Value(v)
    }
}

impl From<NaiveDate> for Literal {
    fn from(d: NaiveDate) -> Self {
        Literal::Date(d)
    }
}

macro_rules! literal_from {
    ($($t:ty),*) => {$(
        impl From<$t> for Literal {
            fn from(v: $t) -> Self {
                Literal::Value(Value::from(v))
            }
        }
    )*};
}
literal_from!(
    bool,
    i8,
    i16,
    i32,
    i64,
    u8,
    u16,
    u32,
    u64,
    f32,
    f64,
    Decimal,
    &str,
    String,
    DateTime<Utc>
);

/// An uncompiled pattern: what the builder functions and the JSON reader produce, and what
/// [`compile`](crate::matcher::compile) turns into a [`Pattern`](crate::matcher::Pattern).
///
/// Build one with the functions of [`dsl`](crate::matcher::dsl), from a [`Value`] (`Expr::from(value)`: a map
/// is a partial map, a list a list pattern, anything else equality), or from JSON
/// ([`parse_pattern_json`](crate::matcher::parse_pattern_json)).
#[derive(Clone)]
pub enum Expr {
    /// Equality with a literal (the default for a literal). Lists and maps compare exactly.
    Eq(Literal),
    /// Greater than.
    Gt(Literal),
    /// Greater than or equal.
    Gte(Literal),
    /// Less than.
    Lt(Literal),
    /// Less than or equal.
    Lte(Literal),
    /// Regular expression anchored at the start of a string (Python's `re.match`).
    Match(String),
    /// Matches when any of the patterns matches (`one_of`, `in_`).
    OneOf(Vec<Expr>),
    /// Matches a present value that the inner pattern does not match (`not_`, `neq`).
    Not(Box<Expr>),
    /// All patterns match (at least two).
    And(Vec<Expr>),
    /// At least one pattern matches (at least two).
    Or(Vec<Expr>),
    /// Any present value, null included.
    Any,
    /// Null, an empty string, list, map or byte string.
    Empty,
    /// `Exists(true)` matches any present value, `Exists(false)` only a missing key.
    Exists(bool),
    /// A partial map: every listed key must be present and match; other keys are ignored.
    Map(Vec<(String, Expr)>),
    /// A list pattern: against a list, every element pattern must match some element (containment);
    /// against anything else, the value must match one of the element patterns (membership).
    List(Vec<Expr>),
    /// A string starting with this text.
    Prefix(String),
    /// A string ending with this text.
    Suffix(String),
    /// A string equal to this one ignoring case.
    EqIgnoreCase(String),
    /// A string matching a wildcard pattern (`*` matches any run of characters; `\*` is a literal star).
    Wildcard(String),
    /// A string holding an IP address inside this CIDR block (`10.0.0.0/8`, `2001:db8::/32`).
    Cidr(String),
    /// A user function supplied directly.
    Func(Arc<str>, Callback),
    /// A user function referenced by id, resolved through a [`Callbacks`](crate::matcher::Callbacks)
    /// registry at compile time.
    FuncRef(String),
}

impl fmt::Debug for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Eq(l) => f.debug_tuple("Eq").field(l).finish(),
            Expr::Gt(l) => f.debug_tuple("Gt").field(l).finish(),
            Expr::Gte(l) => f.debug_tuple("Gte").field(l).finish(),
            Expr::Lt(l) => f.debug_tuple("Lt").field(l).finish(),
            Expr::Lte(l) => f.debug_tuple("Lte").field(l).finish(),
            Expr::Match(s) => f.debug_tuple("Match").field(s).finish(),
            Expr::OneOf(v) => f.debug_tuple("OneOf").field(v).finish(),
            Expr::Not(e) => f.debug_tuple("Not").field(e).finish(),
            Expr::And(v) => f.debug_tuple("And").field(v).finish(),
            Expr::Or(v) => f.debug_tuple("Or").field(v).finish(),
            Expr::Any => f.write_str("Any"),
            Expr::Empty => f.write_str("Empty"),
            Expr::Exists(b) => f.debug_tuple("Exists").field(b).finish(),
            Expr::Map(m) => f.debug_tuple("Map").field(m).finish(),
            Expr::List(v) => f.debug_tuple("List").field(v).finish(),
            Expr::Prefix(s) => f.debug_tuple("Prefix").field(s).finish(),
            Expr::Suffix(s) => f.debug_tuple("Suffix").field(s).finish(),
            Expr::EqIgnoreCase(s) => f.debug_tuple("EqIgnoreCase").field(s).finish(),
            Expr::Wildcard(s) => f.debug_tuple("Wildcard").field(s).finish(),
            Expr::Cidr(s) => f.debug_tuple("Cidr").field(s).finish(),
            Expr::Func(id, _) => f.debug_tuple("Func").field(id).finish(),
            Expr::FuncRef(id) => f.debug_tuple("FuncRef").field(id).finish(),
        }
    }
}

/// A value becomes a pattern: a map is a partial map of patterns, a list is a list pattern, anything
/// else means equality.
impl From<Value> for Expr {
    fn from(v: Value) -> Self {
        match v {
            Value::Map(m) => Expr::Map(m.into_iter().map(|(k, v)| (k, Expr::from(v))).collect()),
            Value::List(l) => Expr::List(l.into_iter().map(Expr::from).collect()),
            other => Expr::Eq(Literal::Value(other)),
        }
    }
}

impl From<Literal> for Expr {
    fn from(l: Literal) -> Self {
        match l {
            Literal::Value(v) => Expr::from(v),
            d => Expr::Eq(d),
        }
    }
}

impl From<NaiveDate> for Expr {
    fn from(d: NaiveDate) -> Self {
        Expr::Eq(Literal::Date(d))
    }
}

macro_rules! expr_from {
    ($($t:ty),*) => {$(
        impl From<$t> for Expr {
            fn from(v: $t) -> Self {
                Expr::from(Value::from(v))
            }
        }
    )*};
}
expr_from!(
    bool,
    i32,
    i64,
    u32,
    u64,
    f64,
    Decimal,
    &str,
    String,
    DateTime<Utc>
);

impl<E: Into<Expr>> From<Vec<E>> for Expr {
    fn from(v: Vec<E>) -> Self {
        Expr::List(v.into_iter().map(Into::into).collect())
    }
}

impl<E: Into<Expr>, const N: usize> From<[E; N]> for Expr {
    fn from(v: [E; N]) -> Self {
        Expr::List(v.into_iter().map(Into::into).collect())
    }
}

/// The DSL of seed 003 as Rust functions: `and_(gt(5), not_(gt(10)))`.
///
/// ```
/// use sqs_mega::matcher::dsl::*;
/// use sqs_mega::value;
/// let pattern = map([
///     ("type", matches(r"user:notification:(.*)")),
///     ("notification_type", one_of(["email", "sms", "push"])),
///     ("user", map([("id", gt(0)), ("email", not_(matches(r"test@(.*)")))])),
/// ])
/// .compile()
/// .unwrap();
/// assert!(pattern.matches(&value!({
///     "type": "user:notification:email",
///     "notification_type": "email",
///     "user": {"id": 987650, "email": "johndoe_86@example.com"}
/// })));
/// ```
pub mod dsl {
    use super::*;

    /// Equality with a literal (exact for lists and maps).
    pub fn eq(v: impl Into<Literal>) -> Expr {
        Expr::Eq(v.into())
    }
    /// Not equal: `not_(eq(v))`.
    pub fn neq(v: impl Into<Literal>) -> Expr {
        Expr::Not(Box::new(Expr::Eq(v.into())))
    }
    /// Greater than.
    pub fn gt(v: impl Into<Literal>) -> Expr {
        Expr::Gt(v.into())
    }
    /// Greater than or equal.
    pub fn gte(v: impl Into<Literal>) -> Expr {
        Expr::Gte(v.into())
    }
    /// Less than.
    pub fn lt(v: impl Into<Literal>) -> Expr {
        Expr::Lt(v.into())
    }
    /// Less than or equal.
    pub fn lte(v: impl Into<Literal>) -> Expr {
        Expr::Lte(v.into())
    }
    /// Regular expression anchored at the start (the DSL's `match`; `match` is a Rust keyword).
    pub fn matches(regex: impl Into<String>) -> Expr {
        Expr::Match(regex.into())
    }
    /// Any of these patterns (`one_of(1, 2)` is `one_of([1, 2])`).
    pub fn one_of<E: Into<Expr>>(options: impl IntoIterator<Item = E>) -> Expr {
        Expr::OneOf(options.into_iter().map(Into::into).collect())
    }
    /// Same as [`one_of`].
    pub fn in_<E: Into<Expr>>(options: impl IntoIterator<Item = E>) -> Expr {
        one_of(options)
    }
    /// Negation: a present value the pattern does not match.
    pub fn not_(e: impl Into<Expr>) -> Expr {
        Expr::Not(Box::new(e.into()))
    }
    /// Conjunction (at least two patterns).
    pub fn and_<E: Into<Expr>>(all: impl IntoIterator<Item = E>) -> Expr {
        Expr::And(all.into_iter().map(Into::into).collect())
    }
    /// Disjunction (at least two patterns).
    pub fn or_<E: Into<Expr>>(any: impl IntoIterator<Item = E>) -> Expr {
        Expr::Or(any.into_iter().map(Into::into).collect())
    }
    /// Any present value.
    pub fn any_() -> Expr {
        Expr::Any
    }
    /// Null or an empty string, list, map or byte string.
    pub fn empty() -> Expr {
        Expr::Empty
    }
    /// Presence (`true`) or absence (`false`) of a key.
    pub fn exists(present: bool) -> Expr {
        Expr::Exists(present)
    }
    /// A partial map pattern.
    pub fn map<K: Into<String>, E: Into<Expr>>(entries: impl IntoIterator<Item = (K, E)>) -> Expr {
        Expr::Map(
            entries
                .into_iter()
                .map(|(k, e)| (k.into(), e.into()))
                .collect(),
        )
    }
    /// A list pattern (containment against a list, membership against a scalar).
    pub fn list<E: Into<Expr>>(items: impl IntoIterator<Item = E>) -> Expr {
        Expr::List(items.into_iter().map(Into::into).collect())
    }
    /// A string prefix.
    pub fn prefix(p: impl Into<String>) -> Expr {
        Expr::Prefix(p.into())
    }
    /// A string suffix.
    pub fn suffix(s: impl Into<String>) -> Expr {
        Expr::Suffix(s.into())
    }
    /// Case-insensitive string equality.
    pub fn eq_ignore_case(s: impl Into<String>) -> Expr {
        Expr::EqIgnoreCase(s.into())
    }
    /// A wildcard pattern (`*` any run of characters).
    pub fn wildcard(w: impl Into<String>) -> Expr {
        Expr::Wildcard(w.into())
    }
    /// An IP address inside a CIDR block.
    pub fn cidr(block: impl Into<String>) -> Expr {
        Expr::Cidr(block.into())
    }
    /// A user function; `name` is used in explanations.
    pub fn func(
        name: impl Into<Arc<str>>,
        f: impl Fn(&Value) -> bool + Send + Sync + 'static,
    ) -> Expr {
        Expr::Func(name.into(), Arc::new(f))
    }
    /// A user function resolved by id from a [`Callbacks`](crate::matcher::Callbacks) registry.
    pub fn func_ref(id: impl Into<String>) -> Expr {
        Expr::FuncRef(id.into())
    }
    /// A calendar date (compared at day precision with date-times).
    ///
    /// # Panics
    /// When the date does not exist.
    pub fn date(year: i32, month: u32, day: u32) -> Literal {
        Literal::Date(NaiveDate::from_ymd_opt(year, month, day).expect("a valid date"))
    }
}
