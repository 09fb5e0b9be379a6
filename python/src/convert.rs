//! Python objects ⇄ the core's [`Value`]: the one place where payload values cross the boundary.
//!
//! Python → Value: `None`, `bool`, `int` (beyond 64 bits: an exact decimal), `float`, `decimal.Decimal`,
//! `str`, `bytes`/`bytearray`, `datetime.datetime` (naive means UTC), `datetime.date` (its ISO text, as
//! `json.dumps(default=str)` would write it), `dict` with `str` keys, `list`/`tuple`/`set`/`frozenset`.
//! Anything else is refused with the path of the offending value (`$.user.id`) and its type.
//!
//! Value → Python: the same types back (`datetime` aware, in UTC; exact decimals as `decimal.Decimal`).

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyFrozenSet, PyInt, PyList, PySet, PyString,
    PyTuple,
};
use sqs_mega::{Decimal, Map, Value};

/// Why a Python object has no [`Value`]: where it is and what it is.
#[derive(Debug)]
pub(crate) struct ConvError {
    pub path: String,
    pub problem: String,
}

impl std::fmt::Display for ConvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.problem)
    }
}

struct Classes {
    datetime: Py<PyAny>,
    date: Py<PyAny>,
    decimal: Py<PyAny>,
    utc: Py<PyAny>,
}

static CLASSES: PyOnceLock<Classes> = PyOnceLock::new();

fn classes(py: Python<'_>) -> PyResult<&Classes> {
    CLASSES.get_or_try_init(py, || {
        let dt = py.import("datetime")?;
        Ok(Classes {
            datetime: dt.getattr("datetime")?.unbind(),
            date: dt.getattr("date")?.unbind(),
            decimal: py.import("decimal")?.getattr("Decimal")?.unbind(),
            utc: dt.getattr("timezone")?.getattr("utc")?.unbind(),
        })
    })
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".to_owned())
}

/// A Python object as a [`Value`]; `path` names it in errors (`$` for the root).
pub(crate) fn to_value(obj: &Bound<'_, PyAny>, path: &mut String) -> Result<Value, ConvError> {
    let fail = |path: &String, problem: String| ConvError {
        path: path.clone(),
        problem,
    };
    if let Ok(s) = obj.cast::<PyString>() {
        return s
            .to_str()
            .map(|s| Value::String(s.to_owned()))
            .map_err(|e| fail(path, format!("a str that is not valid Unicode ({e})")));
    }
    if obj.is_instance_of::<PyBool>() {
        return Ok(Value::Bool(obj.is_truthy().unwrap_or(false)));
    }
    if obj.is_instance_of::<PyInt>() {
        if let Ok(i) = obj.extract::<i64>() {
            return Ok(Value::Int(i));
        }
        return decimal_of(obj, "integer", path);
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        return Ok(Value::Float(f.value()));
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        let mut map = Map::default();
        map.reserve(d.len());
        for (k, v) in d.iter() {
            let key = match k.cast::<PyString>() {
                Ok(s) => s
                    .to_str()
                    .map_err(|e| fail(path, e.to_string()))?
                    .to_owned(),
                Err(_) => {
                    return Err(fail(
                        path,
                        format!("a dict key must be a str, not {} ({k})", type_name(&k)),
                    ))
                }
            };
            let len = path.len();
            path.push('.');
            path.push_str(&key);
            let value = to_value(&v, path)?;
            path.truncate(len);
            map.insert(key, value);
        }
        return Ok(Value::Map(map));
    }
    if obj.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(l) = obj.cast::<PyList>() {
        return sequence(l.iter(), path);
    }
    if let Ok(t) = obj.cast::<PyTuple>() {
        return sequence(t.iter(), path);
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(Value::Bytes(b.as_bytes().to_vec()));
    }
    if let Ok(b) = obj.cast::<PyByteArray>() {
        return Ok(Value::Bytes(b.to_vec()));
    }
    if let Ok(s) = obj.cast::<PySet>() {
        return sequence(s.iter(), path);
    }
    if let Ok(s) = obj.cast::<PyFrozenSet>() {
        return sequence(s.iter(), path);
    }
    let py = obj.py();
    let c = classes(py).map_err(|e| fail(path, e.to_string()))?;
    if obj.is_instance(c.decimal.bind(py)).unwrap_or(false) {
        return decimal_of(obj, "Decimal", path);
    }
    if obj.is_instance(c.datetime.bind(py)).unwrap_or(false) {
        return datetime_of(obj)
            .map(Value::DateTime)
            .map_err(|problem| fail(path, problem));
    }
    if obj.is_instance(c.date.bind(py)).unwrap_or(false) {
        let text = obj
            .call_method0("isoformat")
            .and_then(|t| t.extract::<String>())
            .map_err(|e| fail(path, e.to_string()))?;
        return Ok(Value::String(text));
    }
    Err(fail(
        path,
        format!(
            "a {} has no payload form (use dict, list, str, int, float, Decimal, bool, None, bytes, \
             datetime or date)",
            type_name(obj)
        ),
    ))
}

/// An int too large for 64 bits, or a `decimal.Decimal`, as an exact decimal (its text, parsed).
fn decimal_of(obj: &Bound<'_, PyAny>, what: &str, path: &str) -> Result<Value, ConvError> {
    let fail = |problem: String| ConvError {
        path: path.to_owned(),
        problem,
    };
    let text = obj.str().map_err(|e| fail(e.to_string()))?;
    text.to_str()
        .ok()
        .and_then(|t| t.parse::<Decimal>().ok())
        .map(Value::Decimal)
        .ok_or_else(|| fail(format!("the {what} {text} does not fit a Decimal128")))
}

fn sequence<'py>(
    items: impl Iterator<Item = Bound<'py, PyAny>>,
    path: &mut String,
) -> Result<Value, ConvError> {
    let mut out = Vec::new();
    for (i, item) in items.enumerate() {
        let len = path.len();
        path.push_str(&format!("[{i}]"));
        out.push(to_value(&item, path)?);
        path.truncate(len);
    }
    Ok(Value::List(out))
}

/// A `datetime.datetime` as a UTC instant (naive: taken as UTC).
pub(crate) fn datetime_of(obj: &Bound<'_, PyAny>) -> Result<DateTime<Utc>, String> {
    let text: String = obj
        .call_method0("isoformat")
        .and_then(|t| t.extract())
        .map_err(|e| e.to_string())?;
    if let Ok(dt) = DateTime::parse_from_rfc3339(&text) {
        return Ok(dt.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M:%S%.f")
        .map(|n| n.and_utc())
        .map_err(|e| format!("the datetime {text} cannot be read ({e})"))
}

/// Whether the object is a `decimal.Decimal`.
pub(crate) fn is_decimal(obj: &Bound<'_, PyAny>) -> PyResult<bool> {
    let py = obj.py();
    obj.is_instance(classes(py)?.decimal.bind(py))
}

/// A `datetime.date` (not a datetime) as a calendar date.
pub(crate) fn date_of(obj: &Bound<'_, PyAny>) -> PyResult<Option<NaiveDate>> {
    let py = obj.py();
    let c = classes(py)?;
    if obj.is_instance(c.datetime.bind(py))? || !obj.is_instance(c.date.bind(py))? {
        return Ok(None);
    }
    let text: String = obj.call_method0("isoformat")?.extract()?;
    Ok(NaiveDate::parse_from_str(&text, "%Y-%m-%d").ok())
}

/// A [`Value`] as a Python object.
pub(crate) fn to_py<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Int(i) => i.into_pyobject(py)?.into_any(),
        Value::Float(f) => PyFloat::new(py, *f).into_any(),
        Value::Decimal(d) => classes(py)?.decimal.bind(py).call1((d.to_string(),))?,
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::DateTime(dt) => {
            use chrono::{Datelike, Timelike};
            let c = classes(py)?;
            c.datetime.bind(py).call1((
                dt.year(),
                dt.month(),
                dt.day(),
                dt.hour(),
                dt.minute(),
                dt.second(),
                dt.timestamp_subsec_micros(),
                c.utc.bind(py),
            ))?
        }
        Value::Bytes(b) => PyBytes::new(py, b).into_any(),
        Value::List(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(to_py(py, item)?)?;
            }
            list.into_any()
        }
        Value::Map(map) => map_to_py(py, map)?.into_any(),
    })
}

pub(crate) fn map_to_py<'py>(py: Python<'py>, map: &Map) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    for (k, v) in map {
        dict.set_item(k, to_py(py, v)?)?;
    }
    Ok(dict)
}
