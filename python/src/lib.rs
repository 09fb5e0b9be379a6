//! `mega._native`: the Rust half of the Python package `sqs-mega` (module `mega`). It owns conversions
//! between Python objects and the core's types, and nothing else: decoding, matching, polling, retries and
//! deletes are the core's. The Python half (`python/mega/`) gives them the API of seed 003.

use pyo3::prelude::*;

mod codec;
mod convert;
mod errors;
mod listener;
mod local;
mod log;
mod pattern;
mod publish;

/// The process that made the library's runtime: a forked child has none of its threads.
static RUNTIME_PID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();

/// Refuses to run in a child forked after the runtime started: its threads did not survive the fork, so any
/// wait would hang forever.
pub(crate) fn check_fork() -> PyResult<()> {
    match RUNTIME_PID.get() {
        Some(&pid) if pid != std::process::id() => Err(errors::raise(
            &sqs_mega::error::LISTENER_INVALID_CONFIG,
            "sqs-mega cannot be used in a process forked after it started (its threads stay in the parent): \
             create listeners and publishers after the fork, or use the 'spawn' start method"
                .to_owned(),
            Some("fork".to_owned()),
        )),
        _ => Ok(()),
    }
}

/// The library's shared runtime (made once, never dropped), after the fork check.
pub(crate) fn runtime() -> PyResult<&'static tokio::runtime::Runtime> {
    check_fork()?;
    let rt = sqs_mega::aws::runtime().map_err(errors::io)?;
    RUNTIME_PID.get_or_init(std::process::id);
    Ok(rt)
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    log::install();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(codec::decode, m)?)?;
    m.add_function(wrap_pyfunction!(codec::encode, m)?)?;
    m.add_function(wrap_pyfunction!(codec::validate_event, m)?)?;
    m.add_function(wrap_pyfunction!(pattern::compile_pattern, m)?)?;
    m.add_function(wrap_pyfunction!(pattern::compile_event_rules, m)?)?;
    m.add_function(wrap_pyfunction!(pattern::compile_json, m)?)?;
    m.add_function(wrap_pyfunction!(pattern::evaluate, m)?)?;
    m.add_function(wrap_pyfunction!(log::set_log_level, m)?)?;
    m.add_function(wrap_pyfunction!(error_table, m)?)?;
    m.add_function(wrap_pyfunction!(listener::_bench_rust_drain, m)?)?;
    m.add_class::<pattern::CompiledPattern>()?;
    m.add_class::<publish::Settings>()?;
    m.add_class::<publish::NativePublisher>()?;
    m.add_class::<listener::NativeListener>()?;
    m.add_class::<listener::Delivery>()?;
    m.add_class::<local::NativeLocal>()?;
    Ok(())
}

/// The core's error table: `(code, exception class, category, summary)` for every entry.
#[pyfunction]
fn error_table() -> Vec<(&'static str, &'static str, &'static str, &'static str)> {
    sqs_mega::error::ALL
        .iter()
        .map(|e| (e.code, e.family.exception(), e.category.as_str(), e.summary))
        .collect()
}
