//! The embedded SQS + SNS endpoint, in-process: `with mega.local.LocalEndpoint() as ep: ep.url`.

use pyo3::prelude::*;
use sqs_mega_local::{Config, Server, ServerHandle};
use std::sync::Mutex;

use crate::errors;

/// A running embedded endpoint on loopback (its own threads); stopped by `close()` or when collected.
#[pyclass(module = "mega._native", frozen)]
pub(crate) struct NativeLocal {
    handle: Mutex<Option<ServerHandle>>,
    url: String,
}

#[pymethods]
impl NativeLocal {
    /// Starts it: `port` 0 picks a free one; `data_dir` makes it durable (a write-ahead log there).
    #[new]
    #[pyo3(signature = (*, port = 0, region = None, data_dir = None))]
    fn new(py: Python<'_>, port: u16, region: Option<String>, data_dir: Option<std::path::PathBuf>) -> PyResult<NativeLocal> {
        let mut config = Config {
            port,
            data_dir,
            ..Config::default()
        };
        if let Some(r) = region {
            config.region = r;
        }
        let handle = py
            .detach(|| Server::start(config))
            .map_err(|e| errors::invalid_argument(format!("cannot start the embedded endpoint: {e}")))?;
        Ok(NativeLocal {
            url: handle.url().to_owned(),
            handle: Mutex::new(Some(handle)),
        })
    }

    /// `http://127.0.0.1:PORT`: the endpoint URL to give an SDK or a publisher.
    #[getter]
    fn url(&self) -> &str {
        &self.url
    }

    /// Stops it and waits for its threads (without the GIL). Closing twice is harmless.
    fn close(&self, py: Python<'_>) {
        let handle = self.handle.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(h) = handle {
            py.detach(|| h.shutdown());
        }
    }
}
