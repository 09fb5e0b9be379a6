//! For the bindings' benchmarks (`python/bench`, `node/bench`): the listener with a native no-op handler,
//! the figure host-language handlers are compared with. Not part of the API.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{
    Handler, ListenerConfig, ListenerError, ProcessStatus, SqsListener, StatsSnapshot, Subscriber,
    SubscriberKind,
};
use crate::aws::AwsSettings;

/// Drains `count` data messages from `queue_url` with a no-op async handler and stops: how long the whole
/// run took, and its counters.
pub async fn noop_drain(
    settings: &AwsSettings,
    queue_url: &str,
    count: u64,
    pollers: usize,
    max_in_flight: usize,
) -> Result<(Duration, StatsSnapshot), ListenerError> {
    let done = Arc::new(AtomicU64::new(0));
    let mut listener = SqsListener::new(
        settings,
        ListenerConfig::new(queue_url)
            .with_pollers(pollers)
            .with_max_in_flight(max_in_flight)
            .with_wait_time_seconds(1)
            .with_handle_signals(false),
    );
    let handle = listener.shutdown_handle();
    listener.register_subscriber(Subscriber::new(
        "NativeNoOp",
        SubscriberKind::Data,
        Handler::from_async(move |_| {
            let done = done.clone();
            let handle = handle.clone();
            async move {
                if done.fetch_add(1, Ordering::Relaxed) + 1 >= count {
                    handle.shutdown();
                }
                Ok(ProcessStatus::Done)
            }
        }),
    ))?;
    let t0 = Instant::now();
    let stats = listener.listen().await?;
    Ok((t0.elapsed(), stats))
}
