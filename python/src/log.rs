//! The core's log events (`tracing`) bridged to Python's `logging`, logger `mega`: a minimal subscriber,
//! installed when the module is imported (unless the process already has one), that forwards each event at
//! or above the level Python asked for (`set_log_level`, kept in step by `mega/__init__.py`).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU8, Ordering};

use pyo3::prelude::*;
use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::{span, Event, Level, Metadata, Subscriber};

/// 0 off, 1 error, 2 warn, 3 info, 4 debug, 5 trace.
static MAX: AtomicU8 = AtomicU8::new(2);

fn rank(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 1,
        Level::WARN => 2,
        Level::INFO => 3,
        Level::DEBUG => 4,
        Level::TRACE => 5,
    }
}

struct Bridge;

#[derive(Default)]
struct Text {
    message: String,
    fields: String,
}

impl Visit for Text {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={value}", field.name());
        }
    }
}

impl Subscriber for Bridge {
    /// sqs-mega's own events down to the level asked for; the AWS SDK's and other crates' at warning and
    /// above only (their debug output is a firehose, and each event forwarded takes the GIL).
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        let max = MAX.load(Ordering::Relaxed);
        let max = if metadata.target().starts_with("sqs_mega") {
            max
        } else {
            max.min(2)
        };
        rank(metadata.level()) <= max
    }
    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(match MAX.load(Ordering::Relaxed) {
            0 => LevelFilter::OFF,
            1 => LevelFilter::ERROR,
            2 => LevelFilter::WARN,
            3 => LevelFilter::INFO,
            4 => LevelFilter::DEBUG,
            _ => LevelFilter::TRACE,
        })
    }
    fn new_span(&self, _: &span::Attributes<'_>) -> span::Id {
        span::Id::from_u64(1)
    }
    fn record(&self, _: &span::Id, _: &span::Record<'_>) {}
    fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut text = Text::default();
        event.record(&mut text);
        let level = match *event.metadata().level() {
            Level::ERROR => 40,
            Level::WARN => 30,
            Level::INFO => 20,
            _ => 10,
        };
        let line = format!("{}{}", text.message, text.fields);
        let target = event.metadata().target().to_owned();
        Python::attach(|py| {
            let _ = (|| -> PyResult<()> {
                let logger = py.import("logging")?.call_method1("getLogger", ("mega",))?;
                let kwargs = pyo3::types::PyDict::new(py);
                let extra = pyo3::types::PyDict::new(py);
                extra.set_item("mega_target", target)?;
                kwargs.set_item("extra", extra)?;
                logger.call_method("log", (level, line), Some(&kwargs))?;
                Ok(())
            })();
        });
    }
    fn enter(&self, _: &span::Id) {}
    fn exit(&self, _: &span::Id) {}
}

/// Installs the bridge as the process's global subscriber (no effect when there is one already).
pub(crate) fn install() {
    let _ = tracing::subscriber::set_global_default(Bridge);
}

/// Forwards core events at this Python level (`logging.WARNING`…) and above.
#[pyfunction]
pub(crate) fn set_log_level(level: i64) {
    let rank = match level {
        l if l > 40 => 0,
        l if l > 30 => 1,
        l if l > 20 => 2,
        l if l > 10 => 3,
        l if l > 5 => 4,
        _ => 5,
    };
    MAX.store(rank, Ordering::Relaxed);
    tracing::callsite::rebuild_interest_cache();
}

/// Logs an exception with its traceback on the `mega` logger (warning level).
pub(crate) fn exception(py: Python<'_>, message: &str, error: PyErr) {
    let _ = (|| -> PyResult<()> {
        let logger = py.import("logging")?.call_method1("getLogger", ("mega",))?;
        let kwargs = pyo3::types::PyDict::new(py);
        kwargs.set_item("exc_info", error.into_value(py))?;
        logger.call_method("warning", (message,), Some(&kwargs))?;
        Ok(())
    })();
}
