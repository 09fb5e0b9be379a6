//! Core errors as exceptions of `mega.errors`: the class is the family's (`Family::exception`), and every
//! exception carries the stable `code` (`decode.base64`), its `category` and a `detail`.

use pyo3::prelude::*;
use sqs_mega::error::{ErrorInfo, MegaError};

/// An exception of `mega.errors` for this entry of the core's table.
pub(crate) fn raise(info: &'static ErrorInfo, message: String, detail: Option<String>) -> PyErr {
    Python::attach(|py| {
        let made = (|| -> PyResult<PyErr> {
            let class = py.import("mega.errors")?.getattr(info.family.exception())?;
            let exc = class.call1((message.clone(),))?;
            exc.setattr("code", info.code)?;
            exc.setattr("category", info.category.as_str())?;
            exc.setattr("detail", detail.clone())?;
            Ok(PyErr::from_value(exc))
        })();
        made.unwrap_or_else(|e| e)
    })
}

/// The exception for a core error.
pub(crate) fn from_mega(e: &(impl MegaError + ?Sized)) -> PyErr {
    raise(e.info(), e.to_string(), e.detail())
}

/// An `InvalidArgumentError` (`code` `invalid_argument`): a bad argument of the binding itself.
pub(crate) fn invalid_argument(message: impl Into<String>) -> PyErr {
    static INFO: ErrorInfo = ErrorInfo {
        code: "invalid_argument",
        family: sqs_mega::Family::InvalidArgument,
        category: sqs_mega::Category::BadInput,
        summary: "",
    };
    raise(&INFO, message.into(), None)
}

/// The runtime could not be made (no threads): a `ListenerError`.
pub(crate) fn io(e: std::io::Error) -> PyErr {
    pyo3::exceptions::PyOSError::new_err(format!("cannot start the sqs-mega runtime: {e}"))
}
