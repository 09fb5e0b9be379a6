//! The listener for Python: the core polls, decodes, matches, retries and deletes; Python handlers pull
//! deliveries on Python's own threads (`def`) or hand them to the caller's event loop (`async def`), through
//! the core's queued handler. Every wait here releases the GIL; the GIL is held only to build the payload
//! for Python and to return the status.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::PyDict;
use sqs_mega::listen::{
    Deliveries, Delivery as CoreDelivery, InMemoryCompletionStore, InvalidPolicy, ListenerConfig,
    ListenerError, ProcessStatus, RawPolicy, RetryPolicy, SqsListener, StatsSnapshot, Subscriber,
    SubscriberKind, UnmatchedPolicy,
};

use crate::codec::{content_to_py, sns_to_py};
use crate::convert::to_py;
use crate::errors;
use crate::pattern::CompiledPattern;

type Outcome = Option<Result<StatsSnapshot, ListenerError>>;

/// The end of a run, with its outcome.
#[derive(Default)]
struct Finish {
    outcome: Mutex<Outcome>,
    ended: Condvar,
}

/// A listener of one queue (the core's `SqsListener`), with one queue of deliveries for all its subscribers.
#[pyclass(module = "mega._native", frozen)]
pub(crate) struct NativeListener {
    listener: Mutex<Arc<SqsListener>>,
    deliveries: Deliveries,
    finish: Mutex<Option<Arc<Finish>>>,
}

fn duration(seconds: f64, name: &str) -> PyResult<Duration> {
    Duration::try_from_secs_f64(seconds).map_err(|_| {
        errors::invalid_argument(format!(
            "{name} must be a number of seconds ≥ 0, not {seconds}"
        ))
    })
}

fn stats_to_py<'py>(py: Python<'py>, s: &StatsSnapshot) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (k, v) in s.counters() {
        d.set_item(k, v)?;
    }
    d.set_item("handler_p50", s.handler_p50.as_secs_f64())?;
    d.set_item("handler_p99", s.handler_p99.as_secs_f64())?;
    d.set_item("requests_per_message", s.requests_per_message())?;
    Ok(d)
}

#[pymethods]
impl NativeListener {
    #[new]
    #[pyo3(signature = (
        queue_url, *, settings, max_number_of_messages, wait_time_seconds, visibility_timeout, pollers,
        max_in_flight, shutdown_grace, heartbeat, retry_base, retry_max, unmatched, raw, invalid,
        completion_store_capacity, completion_store_url = None, metrics_addr = None,
        idempotency_key = None,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        queue_url: String,
        settings: &crate::publish::Settings,
        max_number_of_messages: i32,
        wait_time_seconds: i32,
        visibility_timeout: Option<i32>,
        pollers: usize,
        max_in_flight: usize,
        shutdown_grace: f64,
        heartbeat: bool,
        retry_base: f64,
        retry_max: f64,
        unmatched: &str,
        raw: &str,
        invalid: &str,
        completion_store_capacity: Option<usize>,
        completion_store_url: Option<String>,
        metrics_addr: Option<String>,
        idempotency_key: Option<String>,
    ) -> PyResult<NativeListener> {
        let mut config = ListenerConfig::new(queue_url)
            .with_max_number_of_messages(max_number_of_messages)
            .with_wait_time_seconds(wait_time_seconds)
            .with_pollers(pollers)
            .with_max_in_flight(max_in_flight)
            .with_shutdown_grace(duration(shutdown_grace, "shutdown_grace")?)
            .with_heartbeat(heartbeat)
            .with_retry(RetryPolicy::new(
                duration(retry_base, "retry_base")?,
                duration(retry_max, "retry_max")?,
            ))
            // Python owns the signals (mega/aws/sqs/subscribe.py installs and restores its handlers).
            .with_handle_signals(false);
        config.visibility_timeout = visibility_timeout;
        config.completion_store = completion_store_url;
        config.metrics_addr = metrics_addr;
        config.idempotency_key = idempotency_key;
        config.validate().map_err(|e| errors::from_mega(&e))?;
        let mut listener = SqsListener::new(&settings.inner, config);
        listener.set_unmatched_policy(match unmatched {
            "delete" => UnmatchedPolicy::Delete,
            "keep" => UnmatchedPolicy::Keep,
            other => return Err(bad_policy("unmatched", other, "'delete' or 'keep'")),
        });
        listener.set_raw_policy(match raw {
            "delete" => RawPolicy::Delete,
            "keep" => RawPolicy::Keep,
            other => return Err(bad_policy("raw", other, "'delete' or 'keep'")),
        });
        listener.set_invalid_policy(match invalid {
            "keep" => InvalidPolicy::Keep,
            "delete" => InvalidPolicy::Delete,
            other => return Err(bad_policy("invalid", other, "'keep' or 'delete'")),
        });
        if let Some(capacity) = completion_store_capacity {
            listener.set_completion_store(Arc::new(InMemoryCompletionStore::new(capacity)));
        }
        Ok(NativeListener {
            listener: Mutex::new(Arc::new(listener)),
            // Deliveries wait here only until a worker takes them; the listener's max_in_flight bounds the rest.
            deliveries: Deliveries::new(max_in_flight.max(1)),
            finish: Mutex::new(None),
        })
    }

    /// Registers a subscriber: `kind` is `event`, `data` or `message`; `pattern` `None` takes every payload
    /// of its kind. Its messages arrive through `next`, named after it.
    #[pyo3(signature = (name, kind, pattern = None))]
    fn subscribe(&self, name: &str, kind: &str, pattern: Option<&CompiledPattern>) -> PyResult<()> {
        let kind = match kind {
            "event" => SubscriberKind::Event,
            "data" => SubscriberKind::Data,
            "message" => SubscriberKind::Message,
            other => {
                return Err(errors::invalid_argument(format!(
                    "unknown subscriber kind {other}"
                )))
            }
        };
        let mut subscriber = Subscriber::new(name, kind, self.deliveries.handler(name));
        if let Some(p) = pattern {
            subscriber = subscriber.with_pattern(p.pattern.clone());
        }
        let mut guard = self.listener.lock().unwrap_or_else(|p| p.into_inner());
        let listener = Arc::get_mut(&mut guard).ok_or_else(busy)?;
        listener
            .register_subscriber(subscriber)
            .map_err(|e| errors::from_mega(&e))
    }

    /// Starts a run on the library's runtime and returns at once; `wait` tells when it ended.
    fn start(&self) -> PyResult<()> {
        let mut finish = self.finish.lock().unwrap_or_else(|p| p.into_inner());
        if finish.is_some() {
            return Err(busy());
        }
        let listener = self
            .listener
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let end = Arc::new(Finish::default());
        let end2 = end.clone();
        crate::runtime()?.spawn(async move {
            let outcome = listener.listen().await;
            *end2.outcome.lock().unwrap_or_else(|p| p.into_inner()) = Some(outcome);
            end2.ended.notify_all();
        });
        *finish = Some(end);
        Ok(())
    }

    /// Waits up to `timeout` seconds for the run to end, without the GIL: `True` when it has (or none runs).
    fn wait(&self, py: Python<'_>, timeout: f64) -> PyResult<bool> {
        let Some(end) = self
            .finish
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
        else {
            return Ok(true);
        };
        let timeout = duration(timeout, "timeout")?;
        Ok(py.detach(|| {
            let guard = end.outcome.lock().unwrap_or_else(|p| p.into_inner());
            let (guard, _) = end
                .ended
                .wait_timeout_while(guard, timeout, |o| o.is_none())
                .unwrap_or_else(|p| p.into_inner());
            guard.is_some()
        }))
    }

    /// The outcome of the run that ended (its counters), raising its error; the listener can run again.
    fn finish<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let mut finish = self.finish.lock().unwrap_or_else(|p| p.into_inner());
        let outcome = match finish.as_ref() {
            None => return Err(errors::invalid_argument("the listener has not run")),
            Some(end) => end.outcome.lock().unwrap_or_else(|p| p.into_inner()).take(),
        };
        match outcome {
            None => Err(busy()),
            Some(result) => {
                *finish = None;
                match result {
                    Ok(stats) => stats_to_py(py, &stats),
                    Err(e) => Err(errors::from_mega(&e)),
                }
            }
        }
    }

    /// Asks the run to stop: receiving stops, work in flight finishes (up to the shutdown grace), the rest
    /// is released. From any thread; harmless when not running.
    fn stop(&self) {
        self.listener
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .shutdown_handle()
            .shutdown();
    }

    /// Whether a run is going on (started and not yet ended).
    #[getter]
    fn running(&self) -> bool {
        self.finish
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_some_and(|end| {
                end.outcome
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .is_none()
            })
    }

    /// The next delivery, waiting up to `timeout` seconds without the GIL (`None` if none came).
    fn next(&self, py: Python<'_>, timeout: f64) -> PyResult<Option<Delivery>> {
        let timeout = duration(timeout, "timeout")?;
        crate::check_fork()?;
        let deliveries = self.deliveries.clone();
        let got = py
            .detach(|| deliveries.next_blocking(timeout))
            .map_err(errors::io)?;
        Ok(got.map(|d| Delivery { inner: d }))
    }

    /// `(host, port)` of the metrics endpoint while a run serves it, else `None`.
    #[getter]
    fn metrics_addr(&self) -> Option<(String, u16)> {
        self.listener
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .metrics_addr()
            .map(|a| (a.ip().to_string(), a.port()))
    }

    /// The counters of the current (or last) run.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let snapshot = self
            .listener
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .stats()
            .snapshot();
        stats_to_py(py, &snapshot)
    }
}

fn bad_policy(name: &str, value: &str, expected: &str) -> PyErr {
    errors::invalid_argument(format!("{name} policy must be {expected}, not {value:?}"))
}

fn busy() -> PyErr {
    errors::from_mega(&ListenerError::AlreadyRunning)
}

/// One message handed to a subscriber, with its reply slot. Dropped without `complete`: the message comes
/// back later (RETRIABLE_ERROR), so a worker thread that dies never loses it.
#[pyclass(module = "mega._native")]
pub(crate) struct Delivery {
    inner: CoreDelivery,
}

#[pymethods]
impl Delivery {
    /// The subscriber whose pattern matched.
    #[getter]
    fn subscriber(&self) -> &str {
        self.inner.subscriber()
    }

    /// `(kind, value)`: `mega` with the event's canonical dict, `data` with the dict, `plaintext` with the
    /// str, `binary` with the bytes.
    fn payload<'py>(&self, py: Python<'py>) -> PyResult<(&'static str, Bound<'py, PyAny>)> {
        content_to_py(py, &self.inner.message().decoded)
    }

    /// Everything SQS said about the message, as a dict (for `mega.aws.sqs.subscribe.Message`).
    fn message<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let m = self.inner.message();
        let d = PyDict::new(py);
        d.set_item("message_id", &m.message_id)?;
        d.set_item("receipt_handle", &m.receipt_handle)?;
        d.set_item("body", &m.body)?;
        d.set_item("receive_count", m.receive_count)?;
        d.set_item("group_id", &m.group_id)?;
        d.set_item(
            "sent_at",
            m.sent_at
                .map(|t| to_py(py, &sqs_mega::Value::DateTime(t)))
                .transpose()?,
        )?;
        d.set_item("attributes", m.attributes.clone())?;
        let attrs = PyDict::new(py);
        for (name, a) in &m.message_attributes {
            let value = match (&a.string_value, &a.binary_value) {
                (Some(s), _) => s.clone().into_pyobject(py)?.into_any(),
                (None, Some(b)) => pyo3::types::PyBytes::new(py, b).into_any(),
                (None, None) => py.None().into_bound(py),
            };
            attrs.set_item(name, (a.data_type.as_str(), value))?;
        }
        d.set_item("message_attributes", attrs)?;
        d.set_item("encoding", m.decoded.encoding.map(|e| e.as_str()))?;
        d.set_item(
            "sns",
            m.decoded
                .sns
                .as_ref()
                .map(|s| sns_to_py(py, s))
                .transpose()?,
        )?;
        Ok(d)
    }

    /// `(traceparent, parent)`: the W3C `traceparent` of this message's handling (a child span of the
    /// sender's, or a new trace), and the sender's (`None` when the message carried none).
    fn trace(&self) -> (String, Option<String>) {
        let m = self.inner.message();
        (
            m.trace.traceparent(),
            m.parent_trace.map(|p| p.traceparent()),
        )
    }

    /// Says what became of the message: 1 DONE, 2 RETRY_LATER, 3 FATAL_ERROR, 4 RETRIABLE_ERROR. `False` when
    /// it had no effect (completed already, or the listener gave up waiting at the end of its grace).
    fn complete(&mut self, status: i64) -> PyResult<bool> {
        let status = ProcessStatus::from_code(status).ok_or_else(|| {
            errors::invalid_argument(format!("{status} is not a ProcessStatus (1 to 4)"))
        })?;
        Ok(self.inner.complete(status))
    }

    /// Whether the listener still waits for this delivery's status.
    #[getter]
    fn pending(&self) -> bool {
        self.inner.is_pending()
    }
}

/// For `python/bench`: the same listener settings with a native Rust no-op handler (the comparison the
/// Python handlers are measured against). Drains `count` data messages and returns `(seconds, stats)`.
#[pyfunction]
#[pyo3(signature = (queue_url, settings, count, pollers, max_in_flight))]
pub(crate) fn _bench_rust_drain<'py>(
    py: Python<'py>,
    queue_url: String,
    settings: &crate::publish::Settings,
    count: u64,
    pollers: usize,
    max_in_flight: usize,
) -> PyResult<(f64, Bound<'py, PyDict>)> {
    let runtime = crate::runtime()?;
    let s = settings.inner.clone();
    let outcome = py.detach(|| {
        runtime.block_on(sqs_mega::listen::bench::noop_drain(
            &s,
            &queue_url,
            count,
            pollers,
            max_in_flight,
        ))
    });
    let (elapsed, stats) = outcome.map_err(|e| errors::from_mega(&e))?;
    Ok((elapsed.as_secs_f64(), stats_to_py(py, &stats)?))
}
