//! The embedded SQS + SNS endpoint, in-process: `with mega.local.LocalEndpoint() as ep: ep.url`.

use std::collections::HashMap;
use std::sync::Mutex;

use pyo3::prelude::*;
use sqs_mega::aws::{AwsError, AwsSettings};
use sqs_mega_local::{Config, Server, ServerHandle};

use crate::errors;

/// A running embedded endpoint on loopback (its own threads); stopped by `close()` or when collected.
#[pyclass(module = "mega._native", frozen)]
pub(crate) struct NativeLocal {
    handle: Mutex<Option<ServerHandle>>,
    url: String,
}

impl NativeLocal {
    fn settings(&self) -> AwsSettings {
        AwsSettings::local(self.url.clone())
    }

    /// Runs a call on the library's runtime without the GIL.
    fn call<T: Send>(
        &self,
        py: Python<'_>,
        f: impl std::future::Future<Output = Result<T, AwsError>> + Send,
    ) -> PyResult<T> {
        let runtime = crate::runtime()?;
        py.detach(|| runtime.block_on(f))
            .map_err(|e| errors::from_mega(&e))
    }
}

#[pymethods]
impl NativeLocal {
    /// Starts it: `port` 0 picks a free one; `data_dir` makes it durable (a write-ahead log there).
    #[new]
    #[pyo3(signature = (*, port = 0, region = None, data_dir = None))]
    fn new(
        py: Python<'_>,
        port: u16,
        region: Option<String>,
        data_dir: Option<std::path::PathBuf>,
    ) -> PyResult<NativeLocal> {
        let mut config = Config {
            port,
            data_dir,
            ..Config::default()
        };
        if let Some(r) = region {
            config.region = r;
        }
        let handle = py.detach(|| Server::start(config)).map_err(|e| {
            errors::invalid_argument(format!("cannot start the embedded endpoint: {e}"))
        })?;
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

    /// Creates a queue (`attributes` as SQS names them: `VisibilityTimeout`, `RedrivePolicy`, `FifoQueue`...):
    /// its URL.
    #[pyo3(signature = (name, attributes = None))]
    fn create_queue(
        &self,
        py: Python<'_>,
        name: String,
        attributes: Option<HashMap<String, String>>,
    ) -> PyResult<String> {
        let settings = self.settings();
        self.call(py, async move {
            let sqs = settings.sqs_client().await;
            sqs_mega::admin::create_queue(&sqs, &name, attributes.unwrap_or_default()).await
        })
    }

    /// Creates a topic: its ARN.
    fn create_topic(&self, py: Python<'_>, name: String) -> PyResult<String> {
        let settings = self.settings();
        self.call(py, async move {
            sqs_mega::admin::create_topic(&settings.sns_client().await, &name).await
        })
    }

    /// Subscribes a queue (URL or ARN) to a topic, in the SNS envelope or `raw`: the subscription's ARN.
    #[pyo3(signature = (topic_arn, queue, raw = false))]
    fn subscribe(
        &self,
        py: Python<'_>,
        topic_arn: String,
        queue: String,
        raw: bool,
    ) -> PyResult<String> {
        let settings = self.settings();
        self.call(py, async move {
            let (sqs, sns) = (settings.sqs_client().await, settings.sns_client().await);
            sqs_mega::admin::subscribe_queue(&sqs, &sns, &topic_arn, &queue, raw).await
        })
    }

    /// `(visible, in flight)`: the approximate counts of a queue's messages.
    fn queue_counts(&self, py: Python<'_>, queue_url: String) -> PyResult<(u64, u64)> {
        let settings = self.settings();
        self.call(py, async move {
            sqs_mega::admin::queue_counts(&settings.sqs_client().await, &queue_url).await
        })
    }

    /// Stops it and waits for its threads (without the GIL). Closing twice is harmless.
    fn close(&self, py: Python<'_>) {
        let handle = self.handle.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(h) = handle {
            py.detach(|| h.shutdown());
        }
    }
}
