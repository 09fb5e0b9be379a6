//! The MEGA JSON pattern format: the whole DSL as JSON (see `docs/patterns.md`).

use chrono::NaiveDate;

use super::expr::{Expr, Literal};
use super::{PatternError, Rules};
use crate::json;
use crate::value::Value;

const TAGS: &[&str] = &["$bytes", "$datetime", "$decimal", "$float"];

/// Reads a MEGA JSON pattern (already parsed as plain JSON) into an [`Expr`].
///
/// A literal means equality; an object whose single key starts with `$` is an operator (`{"$gt": 5}`);
/// any other object is a partial map; an array is a list pattern. Errors point at the path.
pub fn parse_pattern_json(value: &Value) -> Result<Expr, PatternError> {
    parse(value, &mut Vec::new())
}

/// `{"$event": rules}` or `{"$data": pattern}` at the root: subscriber rules.
pub(crate) fn subscriber_of(value: &Value) -> Result<Option<(Rules, &'static str)>, PatternError> {
    let Some(m) = value.as_map() else {
        return Ok(None);
    };
    if m.len() != 1 {
        return Ok(None);
    }
    let (k, v) = m.first().expect("one entry");
    let mut path = vec![k.clone()];
    match k.as_str() {
        "$event" => {
            let rules = v.as_map().ok_or_else(|| {
                PatternError::at(
                    &path,
                    "event subscriber rules must be an object of attribute: pattern",
                )
            })?;
            let mut out = Vec::with_capacity(rules.len());
            for (attr, p) in rules {
                path.push(attr.clone());
                out.push((attr.clone(), parse(p, &mut path)?));
                path.pop();
            }
            Ok(Some((Rules::Event(out), "$event")))
        }
        "$data" => Ok(Some((
            Rules::Data(if v.is_null() {
                None
            } else {
                Some(parse(v, &mut path)?)
            }),
            "$data",
        ))),
        _ => Ok(None),
    }
}

fn parse(value: &Value, path: &mut Vec<String>) -> Result<Expr, PatternError> {
    match value {
        Value::Map(m) => {
            let dollar = m.keys().filter(|k| k.starts_with('$')).count();
            if dollar == 0 {
                let mut entries = Vec::with_capacity(m.len());
                for (k, v) in m {
                    path.push(k.clone());
                    entries.push((k.clone(), parse(v, path)?));
                    path.pop();
                }
                return Ok(Expr::Map(entries));
            }
            if m.len() != 1 {
                let keys: Vec<&str> = m.keys().map(String::as_str).collect();
                return Err(PatternError::at(
                    path,
                    format!(
                        "an operator object has exactly one key starting with `$` (found {}); use {{\"$map\": …}} for a map with `$` keys",
                        keys.join(", ")
                    ),
                ));
            }
            let (op, arg) = m.first().expect("one entry");
            path.push(op.clone());
            let e = operator(op, arg, value, path)?;
            path.pop();
            Ok(e)
        }
        Value::List(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, v) in items.iter().enumerate() {
                path.push(i.to_string());
                out.push(parse(v, path)?);
                path.pop();
            }
            Ok(Expr::List(out))
        }
        other => Ok(Expr::Eq(Literal::Value(other.clone()))),
    }
}

fn operator(
    op: &str,
    arg: &Value,
    whole: &Value,
    path: &mut Vec<String>,
) -> Result<Expr, PatternError> {
    let string = |path: &[String]| {
        arg.as_str().map(str::to_owned).ok_or_else(|| {
            PatternError::at(path, format!("{op} needs a string, got a {}", arg.kind()))
        })
    };
    let list = |path: &mut Vec<String>| -> Result<Vec<Expr>, PatternError> {
        let items = arg.as_list().ok_or_else(|| {
            PatternError::at(
                path,
                format!("{op} needs an array of patterns, got a {}", arg.kind()),
            )
        })?;
        let mut out = Vec::with_capacity(items.len());
        for (i, v) in items.iter().enumerate() {
            path.push(i.to_string());
            out.push(parse(v, path)?);
            path.pop();
        }
        Ok(out)
    };
    let flag = |path: &[String]| match arg {
        Value::Bool(true) => Ok(()),
        _ => Err(PatternError::at(path, format!("{op} takes `true`"))),
    };
    Ok(match op {
        "$eq" => Expr::Eq(literal(arg, path)?),
        "$neq" => Expr::Not(Box::new(Expr::Eq(literal(arg, path)?))),
        "$gt" => Expr::Gt(literal(arg, path)?),
        "$gte" => Expr::Gte(literal(arg, path)?),
        "$lt" => Expr::Lt(literal(arg, path)?),
        "$lte" => Expr::Lte(literal(arg, path)?),
        "$match" => Expr::Match(string(path)?),
        "$one_of" | "$in" => Expr::OneOf(list(path)?),
        "$and" => Expr::And(list(path)?),
        "$or" => Expr::Or(list(path)?),
        "$not" => Expr::Not(Box::new(parse(arg, path)?)),
        "$any" => {
            flag(path)?;
            Expr::Any
        }
        "$empty" => {
            flag(path)?;
            Expr::Empty
        }
        "$exists" => match arg {
            Value::Bool(b) => Expr::Exists(*b),
            _ => return Err(PatternError::at(path, "$exists takes `true` or `false`")),
        },
        "$fn" => Expr::FuncRef(string(path)?),
        "$prefix" => Expr::Prefix(string(path)?),
        "$suffix" => Expr::Suffix(string(path)?),
        "$eq_ignore_case" => Expr::EqIgnoreCase(string(path)?),
        "$wildcard" => Expr::Wildcard(string(path)?),
        "$cidr" => Expr::Cidr(string(path)?),
        "$map" => {
            let m = arg
                .as_map()
                .ok_or_else(|| PatternError::at(path, "$map needs an object"))?;
            let mut entries = Vec::with_capacity(m.len());
            for (k, v) in m {
                path.push(k.clone());
                entries.push((k.clone(), parse(v, path)?));
                path.pop();
            }
            Expr::Map(entries)
        }
        "$date" | "$bytes" | "$datetime" | "$decimal" | "$float" => {
            Expr::from(literal(whole, path)?)
        }
        "$event" | "$data" => {
            return Err(PatternError::at(
                path,
                format!("{op} is only allowed at the root of a pattern"),
            ))
        }
        _ => return Err(PatternError::at(path, format!("unknown operator `{op}`"))),
    })
}

/// An operand: plain JSON, with tagged values (`{"$datetime": …}`, `{"$decimal": …}`, `{"$bytes": …}`,
/// `{"$float": …}`) and dates (`{"$date": "2020-01-01"}`) read as typed literals.
fn literal(v: &Value, path: &[String]) -> Result<Literal, PatternError> {
    if let Some(m) = v.as_map() {
        if m.len() == 1 {
            let (k, arg) = m.first().expect("one entry");
            if k == "$date" {
                let text = arg.as_str().unwrap_or_default();
                return NaiveDate::parse_from_str(text, "%Y-%m-%d")
                    .map(Literal::Date)
                    .map_err(|_| {
                        PatternError::at(
                            path,
                            format!(
                                "$date needs a YYYY-MM-DD string, got {}",
                                json::to_tagged_string(arg)
                            ),
                        )
                    });
            }
            if k.starts_with('$') && !TAGS.contains(&k.as_str()) {
                return Err(PatternError::at(
                    path,
                    format!("`{k}` is not a literal (operators are not allowed here)"),
                ));
            }
        }
    }
    json::from_tagged(v.clone())
        .map(Literal::Value)
        .map_err(|e| PatternError::at(path, e.to_string()))
}
