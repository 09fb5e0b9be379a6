//! Patterns written with `mega.match.functions` (and plain literals, dicts, lists, dates and callables)
//! compiled to the core's matcher. A Python callable is the only part that calls back into Python, and only
//! when the matcher reaches it; everything else is matched by the core without the interpreter.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyFrozenSet, PyList, PySet, PyTuple};
use sqs_mega::matcher::{self, Callbacks, Expr, Literal, Pattern, Rules};
use sqs_mega::Value;

use crate::convert::{self, date_of, to_py, to_value};
use crate::errors;

static FUNCTION_CLASS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

fn function_class(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    Ok(FUNCTION_CLASS
        .get_or_try_init(py, || {
            Ok::<_, PyErr>(
                py.import("mega.match.functions")?
                    .getattr("Function")?
                    .unbind(),
            )
        })?
        .bind(py))
}

fn pattern_error(path: &str, message: impl std::fmt::Display) -> PyErr {
    errors::raise(
        &sqs_mega::error::PATTERN_INVALID,
        format!("invalid pattern at {path}: {message}"),
        Some(path.to_owned()),
    )
}

fn literal(obj: &Bound<'_, PyAny>, path: &str) -> PyResult<Literal> {
    if let Some(d) = date_of(obj)? {
        return Ok(Literal::Date(d));
    }
    let mut p = path.to_owned();
    to_value(obj, &mut p)
        .map(Literal::Value)
        .map_err(|e| pattern_error(&e.path, e.problem))
}

/// The pattern tree of a Python pattern; `path` names the place in errors (`$.user.id`).
pub(crate) fn expr_of(obj: &Bound<'_, PyAny>, path: &str) -> PyResult<Expr> {
    let py = obj.py();
    if obj.is_instance(function_class(py)?)? {
        let op: String = obj.getattr("op")?.extract()?;
        let args = obj.getattr("args")?;
        let args = args.cast::<PyTuple>()?;
        let arg = |i: usize| args.get_item(i);
        let subpath = format!("{path}<{op}>");
        let many = |path: &str| -> PyResult<Vec<Expr>> {
            args.iter()
                .enumerate()
                .map(|(i, a)| expr_of(&a, &format!("{path}[{i}]")))
                .collect()
        };
        return Ok(match op.as_str() {
            "eq" => Expr::Eq(literal(&arg(0)?, &subpath)?),
            "gt" => Expr::Gt(literal(&arg(0)?, &subpath)?),
            "gte" => Expr::Gte(literal(&arg(0)?, &subpath)?),
            "lt" => Expr::Lt(literal(&arg(0)?, &subpath)?),
            "lte" => Expr::Lte(literal(&arg(0)?, &subpath)?),
            "match" => Expr::Match(arg(0)?.extract().map_err(|_| {
                pattern_error(&subpath, "match() takes a regular expression as a str")
            })?),
            "one_of" => Expr::OneOf(many(&subpath)?),
            "not" => Expr::Not(Box::new(expr_of(&arg(0)?, &subpath)?)),
            "and" => Expr::And(many(&subpath)?),
            "or" => Expr::Or(many(&subpath)?),
            "any" => Expr::Any,
            "empty" => Expr::Empty,
            other => return Err(pattern_error(path, format!("unknown function {other}"))),
        });
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        let mut entries = Vec::with_capacity(d.len());
        for (k, v) in d.iter() {
            let key: String = k.extract().map_err(|_| {
                pattern_error(path, format!("a pattern's keys must be str, not {k}"))
            })?;
            let sub = format!("{path}.{key}");
            entries.push((key, expr_of(&v, &sub)?));
        }
        return Ok(Expr::Map(entries));
    }
    let is_sequence = obj.is_instance_of::<PyList>()
        || obj.is_instance_of::<PyTuple>()
        || obj.is_instance_of::<PySet>()
        || obj.is_instance_of::<PyFrozenSet>();
    if is_sequence {
        let mut items = Vec::new();
        for (i, item) in obj.try_iter()?.enumerate() {
            items.push(expr_of(&item?, &format!("{path}[{i}]"))?);
        }
        return Ok(Expr::List(items));
    }
    if obj.is_callable() && !obj.is_instance_of::<pyo3::types::PyType>() {
        return Ok(callable(obj));
    }
    Ok(Expr::Eq(literal(obj, path)?))
}

/// A Python callable as a matcher function: called with the payload's value, its truth is the answer. An
/// exception is a non-match, logged on the `mega` logger with its traceback. Returns its name too (for
/// explanations).
fn python_function(obj: &Bound<'_, PyAny>) -> (String, matcher::Callback) {
    let name = obj
        .getattr("__qualname__")
        .and_then(|n| n.extract::<String>())
        .unwrap_or_else(|_| "<callable>".to_owned());
    let f: Py<PyAny> = obj.clone().unbind();
    let label = name.clone();
    let callback: matcher::Callback = std::sync::Arc::new(move |value: &Value| {
        Python::attach(|py| {
            let outcome = to_py(py, value)
                .and_then(|arg| f.bind(py).call1((arg,)))
                .and_then(|r| r.is_truthy());
            outcome.unwrap_or_else(|e| {
                crate::log::exception(
                    py,
                    &format!("pattern function {label} raised: counted as no match"),
                    e,
                );
                false
            })
        })
    });
    (name, callback)
}

/// A Python callable in a pattern.
fn callable(obj: &Bound<'_, PyAny>) -> Expr {
    let (name, f) = python_function(obj);
    Expr::Func(name.into(), f)
}

/// A compiled pattern.
#[pyclass(module = "mega._native", frozen)]
pub(crate) struct CompiledPattern {
    pub(crate) pattern: Pattern,
}

#[pymethods]
impl CompiledPattern {
    /// Whether the value (a dict, a list, any payload value) matches.
    fn matches(&self, value: &Bound<'_, PyAny>) -> PyResult<bool> {
        let mut path = "$".to_owned();
        let v = to_value(value, &mut path).map_err(|e| errors::invalid_argument(e.to_string()))?;
        Ok(self.pattern.matches(&v))
    }

    /// Why the value does not match (`None` when it does).
    fn explain(&self, value: &Bound<'_, PyAny>) -> PyResult<Option<String>> {
        let mut path = "$".to_owned();
        let v = to_value(value, &mut path).map_err(|e| errors::invalid_argument(e.to_string()))?;
        Ok(self.pattern.explain(&v).map(|e| e.to_string()))
    }

    fn __repr__(&self) -> String {
        format!("<CompiledPattern {:?}>", self.pattern)
    }
}

/// A data pattern (a `DataSubscriber`'s `pattern`, or any pattern given to `evaluate`).
#[pyfunction]
pub(crate) fn compile_pattern(pattern: &Bound<'_, PyAny>) -> PyResult<CompiledPattern> {
    let expr = expr_of(pattern, "$")?;
    matcher::compile(expr, &Callbacks::default())
        .map(|pattern| CompiledPattern { pattern })
        .map_err(|e| errors::from_mega(&e))
}

/// An `EventSubscriber`'s rules: `(attribute, pattern)` pairs named as in seed 003 (aliases included).
#[pyfunction]
pub(crate) fn compile_event_rules(
    rules: Vec<(String, Bound<'_, PyAny>)>,
) -> PyResult<CompiledPattern> {
    let mut exprs = Vec::with_capacity(rules.len());
    for (name, pattern) in &rules {
        exprs.push((name.clone(), expr_of(pattern, &format!("$.{name}"))?));
    }
    Rules::Event(exprs)
        .compile()
        .map(|pattern| CompiledPattern { pattern })
        .map_err(|e| errors::from_mega(&e))
}

/// The seed package's evaluator: does `lhs` (a payload value) match `rhs` (a pattern)?
#[pyfunction]
pub(crate) fn evaluate(lhs: &Bound<'_, PyAny>, rhs: &Bound<'_, PyAny>) -> PyResult<bool> {
    let pattern = compile_pattern(rhs)?;
    let mut path = "$".to_owned();
    let v =
        convert::to_value(lhs, &mut path).map_err(|e| errors::invalid_argument(e.to_string()))?;
    Ok(pattern.pattern.matches(&v))
}

/// A pattern in the core's JSON pattern format (`{"n": {"$gt": 5}}`), `syntax` `mega` or `eventbridge`;
/// `callbacks` resolves `{"$fn": "name"}` to Python callables.
#[pyfunction]
#[pyo3(signature = (text, syntax = "mega", callbacks = None))]
pub(crate) fn compile_json(
    text: &str,
    syntax: &str,
    callbacks: Option<&Bound<'_, PyDict>>,
) -> PyResult<CompiledPattern> {
    let syntax = match syntax {
        "mega" => matcher::Syntax::Mega,
        "eventbridge" => matcher::Syntax::EventBridge,
        other => {
            return Err(errors::invalid_argument(format!(
                "unknown pattern syntax {other}"
            )))
        }
    };
    let mut registry = Callbacks::default();
    if let Some(cbs) = callbacks {
        for (name, f) in cbs.iter() {
            let name: String = name.extract()?;
            let (_, cb) = python_function(&f);
            registry.insert(name, move |v: &Value| cb(v));
        }
    }
    matcher::compile_pattern_json_with(text, syntax, &registry)
        .map(|pattern| CompiledPattern { pattern })
        .map_err(|e| errors::from_mega(&e))
}
