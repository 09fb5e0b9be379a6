//! Trace context on the C side: which context a thread is handling (so that what it publishes continues
//! the trace), for push callbacks (the core sets it around each call) and for pull deliveries (set here from
//! the moment a thread takes a delivery until it completes or frees it).

use std::cell::Cell;

use mega_core::publish::PublishOptions;
use mega_core::trace::TraceContext;

thread_local! {
    /// The delivery this thread took last and has not completed (its address), and its context.
    static PULLED: Cell<Option<(usize, TraceContext)>> = const { Cell::new(None) };
}

/// The context this thread handles: a push callback's (set by the core), else a pulled delivery's.
pub(crate) fn current() -> Option<TraceContext> {
    TraceContext::current().or_else(|| PULLED.with(|c| c.get().map(|(_, t)| t)))
}

/// This thread took the delivery at `id`: its context is current until it is completed or freed.
pub(crate) fn enter(id: usize, trace: TraceContext) {
    PULLED.with(|c| c.set(Some((id, trace))));
}

/// The delivery at `id` is done with: its context is no longer current on this thread.
pub(crate) fn leave(id: usize) {
    PULLED.with(|c| {
        if c.get().is_some_and(|(d, _)| d == id) {
            c.set(None);
        }
    });
}

/// The options a publish from this thread sends: with the current context's child as its `traceparent`
/// when the caller gave none (the core reads the current context on a runtime thread, not this one).
pub(crate) fn with_current(options: &PublishOptions) -> std::borrow::Cow<'_, PublishOptions> {
    if options.trace.is_some() || options.no_trace {
        return std::borrow::Cow::Borrowed(options);
    }
    match current() {
        None => std::borrow::Cow::Borrowed(options),
        Some(c) => {
            let mut o = options.clone();
            o.trace = Some(c.child());
            std::borrow::Cow::Owned(o)
        }
    }
}
