//! EventBridge event patterns and SNS filter policies (message-body scope), compiled to the same nodes.

use super::node::{Cidr, CmpOp, Lit, Node, Wildcard};
use super::{Literal, PatternError};
use crate::value::{Map, Value};

pub(crate) fn compile(v: &Value) -> Result<Node, PatternError> {
    let mut path = Vec::new();
    match v {
        Value::Map(m) => object(m, &mut path),
        _ => Err(PatternError::at(
            &path,
            "an EventBridge pattern is a JSON object",
        )),
    }
}

fn object(m: &Map, path: &mut Vec<String>) -> Result<Node, PatternError> {
    let mut entries = Vec::with_capacity(m.len());
    let mut ors = Vec::new();
    for (k, v) in m {
        path.push(k.clone());
        if k == "$or" {
            let alts = v.as_list().filter(|l| l.len() >= 2).ok_or_else(|| {
                PatternError::at(path, "$or needs an array of at least two patterns")
            })?;
            let mut nodes = Vec::with_capacity(alts.len());
            for (i, alt) in alts.iter().enumerate() {
                path.push(i.to_string());
                let m = alt.as_map().ok_or_else(|| {
                    PatternError::at(path, "each $or alternative is a JSON object")
                })?;
                nodes.push(object(m, path)?);
                path.pop();
            }
            ors.push(Node::Or(nodes));
        } else {
            let node = match v {
                Value::Map(inner) => object(inner, path)?,
                Value::List(items) => {
                    if items.is_empty() {
                        return Err(PatternError::at(
                            path,
                            "an array of matchers cannot be empty",
                        ));
                    }
                    let mut alts = Vec::with_capacity(items.len());
                    for (i, item) in items.iter().enumerate() {
                        path.push(i.to_string());
                        alts.push(leaf(item, path)?);
                        path.pop();
                    }
                    if alts.len() == 1 {
                        alts.pop().expect("one")
                    } else {
                        Node::OneOf(alts)
                    }
                }
                other => {
                    return Err(PatternError::at(
                        path,
                        format!(
                            "a field's value must be an array of matchers or an object, got a {}",
                            other.kind()
                        ),
                    ))
                }
            };
            entries.push((k.clone(), Node::EachOrSelf(Box::new(node))));
        }
        path.pop();
    }
    let map = Node::Map(entries);
    if ors.is_empty() {
        return Ok(map);
    }
    ors.insert(0, map);
    Ok(Node::And(ors))
}

fn string_arg(v: &Value, what: &str, path: &[String]) -> Result<String, PatternError> {
    v.as_str()
        .map(str::to_owned)
        .ok_or_else(|| PatternError::at(path, format!("{what} needs a string, got a {}", v.kind())))
}

fn leaf(item: &Value, path: &mut Vec<String>) -> Result<Node, PatternError> {
    match item {
        Value::Map(m) => {
            if m.len() != 1 {
                return Err(PatternError::at(
                    path,
                    "a matcher object has exactly one key",
                ));
            }
            let (op, arg) = m.first().expect("one entry");
            path.push(op.clone());
            let node = matcher(op, arg, path)?;
            path.pop();
            Ok(node)
        }
        Value::List(_) => Err(PatternError::at(
            path,
            "nested arrays are not allowed in a pattern",
        )),
        scalar => Ok(Node::StrictEq(Lit::new(Literal::Value(scalar.clone())))),
    }
}

fn matcher(op: &str, arg: &Value, path: &mut Vec<String>) -> Result<Node, PatternError> {
    Ok(match op {
        "prefix" | "suffix" => {
            let is_prefix = op == "prefix";
            match arg {
                Value::Map(m) if m.len() == 1 && m.contains_key("equals-ignore-case") => {
                    let s = string_arg(&m["equals-ignore-case"], "equals-ignore-case", path)?
                        .to_lowercase();
                    if is_prefix {
                        Node::PrefixIgnoreCase(s)
                    } else {
                        Node::SuffixIgnoreCase(s)
                    }
                }
                _ => {
                    let s = string_arg(arg, op, path)?;
                    if is_prefix {
                        Node::Prefix(s)
                    } else {
                        Node::Suffix(s)
                    }
                }
            }
        }
        "equals-ignore-case" => Node::EqIgnoreCase(string_arg(arg, op, path)?.to_lowercase()),
        "wildcard" => Node::Wildcard(wildcard(arg, path)?),
        "cidr" => {
            let s = string_arg(arg, op, path)?;
            if !s.contains('/') {
                return Err(PatternError::at(
                    path,
                    "cidr needs a block with a prefix length (`10.0.0.0/24`)",
                ));
            }
            Node::Cidr(Cidr::parse(&s).map_err(|m| PatternError::at(path, m))?)
        }
        "exists" => match arg {
            Value::Bool(b) => Node::Exists(*b),
            _ => return Err(PatternError::at(path, "exists takes true or false")),
        },
        "numeric" => numeric(arg, path)?,
        "anything-but" => Node::Not(Box::new(anything_but(arg, path)?)),
        other => return Err(PatternError::at(path, format!("unknown matcher `{other}`"))),
    })
}

fn wildcard(arg: &Value, path: &[String]) -> Result<Wildcard, PatternError> {
    let s = string_arg(arg, "wildcard", path)?;
    Wildcard::parse(&s).map_err(|m| PatternError::at(path, m))
}

fn anything_but(arg: &Value, path: &mut Vec<String>) -> Result<Node, PatternError> {
    Ok(match arg {
        Value::List(items) => {
            if items.is_empty() {
                return Err(PatternError::at(
                    path,
                    "anything-but needs at least one value",
                ));
            }
            let mut alts = Vec::with_capacity(items.len());
            for (i, v) in items.iter().enumerate() {
                if matches!(v, Value::Map(_) | Value::List(_)) {
                    path.push(i.to_string());
                    return Err(PatternError::at(
                        path,
                        "anything-but lists hold strings or numbers",
                    ));
                }
                alts.push(Node::StrictEq(Lit::new(Literal::Value(v.clone()))));
            }
            Node::OneOf(alts)
        }
        Value::Map(m) => {
            if m.len() != 1 {
                return Err(PatternError::at(
                    path,
                    "an anything-but object has exactly one key",
                ));
            }
            let (op, inner) = m.first().expect("one entry");
            path.push(op.clone());
            let node = match op.as_str() {
                "prefix" => Node::Prefix(string_arg(inner, op, path)?),
                "suffix" => Node::Suffix(string_arg(inner, op, path)?),
                "equals-ignore-case" | "wildcard" => {
                    let texts: Vec<&Value> = match inner {
                        Value::List(l) => l.iter().collect(),
                        one => vec![one],
                    };
                    let mut alts = Vec::with_capacity(texts.len());
                    for t in texts {
                        alts.push(if op == "wildcard" {
                            Node::Wildcard(wildcard(t, path)?)
                        } else {
                            Node::EqIgnoreCase(string_arg(t, op, path)?.to_lowercase())
                        });
                    }
                    if alts.len() == 1 {
                        alts.pop().expect("one")
                    } else {
                        Node::OneOf(alts)
                    }
                }
                other => {
                    return Err(PatternError::at(
                        path,
                        format!("anything-but does not take `{other}`"),
                    ))
                }
            };
            path.pop();
            node
        }
        scalar => Node::StrictEq(Lit::new(Literal::Value(scalar.clone()))),
    })
}

fn numeric(arg: &Value, path: &[String]) -> Result<Node, PatternError> {
    let items = arg.as_list().ok_or_else(|| {
        PatternError::at(path, "numeric needs an array like [\">\", 0, \"<=\", 5]")
    })?;
    if items.is_empty() || items.len() % 2 != 0 || items.len() > 4 {
        return Err(PatternError::at(
            path,
            "numeric needs one or two (operator, number) pairs",
        ));
    }
    let mut conds = Vec::with_capacity(2);
    for pair in items.chunks(2) {
        let op = match pair[0].as_str() {
            Some("=") => CmpOp::Eq,
            Some(">") => CmpOp::Gt,
            Some(">=") => CmpOp::Gte,
            Some("<") => CmpOp::Lt,
            Some("<=") => CmpOp::Lte,
            _ => {
                return Err(PatternError::at(
                    path,
                    format!(
                        "unknown numeric operator {}",
                        crate::json::to_tagged_string(&pair[0])
                    ),
                ))
            }
        };
        if !pair[1].is_number() {
            return Err(PatternError::at(
                path,
                format!("numeric operands are numbers, got a {}", pair[1].kind()),
            ));
        }
        conds.push((op, pair[1].clone()));
    }
    if conds.len() == 2 && (conds[0].0 == CmpOp::Eq || conds[1].0 == CmpOp::Eq) {
        return Err(PatternError::at(
            path,
            "`=` cannot be combined with another numeric operator",
        ));
    }
    Ok(Node::Numeric(conds))
}
