//! Receiving: the long-poll loops (a permit per message before each fetch), FIFO groups in order, and
//! turning an SQS message into what handlers see.

use super::*;

/// One receive loop: a permit per message before fetching, so in-flight work stays bounded.
pub(super) async fn poll(shared: Arc<Shared>, permits: Arc<Semaphore>, tracker: TaskTracker) {
    let max = shared.config.max_number_of_messages as usize;
    let mut pause = Duration::from_millis(100);
    loop {
        let first = tokio::select! {
            biased;
            _ = shared.soft_stop.cancelled() => return,
            p = permits.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return },
        };
        let mut taken = vec![first];
        while taken.len() < max {
            match permits.clone().try_acquire_owned() {
                Ok(p) => taken.push(p),
                Err(_) => break,
            }
        }
        let request = shared
            .client
            .receive_message()
            .queue_url(&shared.config.queue_url)
            .max_number_of_messages(taken.len() as i32)
            .wait_time_seconds(shared.config.wait_time_seconds)
            .visibility_timeout(shared.visibility)
            .message_attribute_names("All")
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send();
        Stats::add(&shared.stats.receive_calls, 1);
        let outcome = tokio::select! {
            biased;
            // A long poll cut short may have been about to return messages: they become visible again after
            // the visibility timeout, as for any consumer that stops. Nothing is lost.
            _ = shared.soft_stop.cancelled() => return,
            r = request => r,
        };
        match outcome {
            Err(e) => {
                Stats::add(&shared.stats.receive_errors, 1);
                let error = AwsError::from_sdk("ReceiveMessage", e);
                if !error.is_transient() {
                    warn!(%error, "ReceiveMessage failed for good: stopping");
                    if let Ok(mut f) = shared.fatal.lock() {
                        f.get_or_insert(error);
                    }
                    shared.soft_stop.cancel();
                    return;
                }
                warn!(%error, retry_in = ?pause, "ReceiveMessage failed: retrying");
                tokio::select! {
                    _ = shared.soft_stop.cancelled() => return,
                    _ = tokio::time::sleep(pause.mul_f64(0.5 + jitter())) => {}
                }
                pause = (pause * 2).min(Duration::from_secs(20));
            }
            Ok(out) => {
                pause = Duration::from_millis(100);
                let received_at = Instant::now();
                let messages = out.messages.unwrap_or_default();
                Stats::add(&shared.stats.received, messages.len() as u64);
                taken.truncate(messages.len());
                if shared.fifo {
                    // Messages of a group in order, one at a time; groups in parallel.
                    let mut groups: Vec<(
                        String,
                        Vec<(aws_sdk_sqs::types::Message, OwnedSemaphorePermit)>,
                    )> = Vec::new();
                    for (m, permit) in messages.into_iter().zip(taken) {
                        let group = m
                            .attributes()
                            .and_then(|a| a.get(&MessageSystemAttributeName::MessageGroupId))
                            .cloned()
                            .unwrap_or_default();
                        match groups.iter_mut().find(|(g, _)| *g == group) {
                            Some((_, list)) => list.push((m, permit)),
                            None => groups.push((group, vec![(m, permit)])),
                        }
                    }
                    for (_, list) in groups {
                        tracker.spawn(process_group(shared.clone(), list, received_at));
                    }
                } else {
                    for (m, permit) in messages.into_iter().zip(taken) {
                        tracker.spawn(process_one(shared.clone(), m, permit, received_at));
                    }
                }
            }
        }
    }
}

pub(super) async fn process_group(
    shared: Arc<Shared>,
    list: Vec<(aws_sdk_sqs::types::Message, OwnedSemaphorePermit)>,
    received_at: Instant,
) {
    let mut untouched = Vec::new();
    let mut blocked = false;
    for (m, permit) in list {
        if blocked || shared.soft_stop.is_cancelled() {
            // A message not settled holds back the rest of its group; at shutdown, untouched messages go
            // back at once.
            untouched.push(m.receipt_handle().unwrap_or_default().to_owned());
            drop(permit);
            continue;
        }
        blocked = process_one(shared.clone(), m, permit, received_at).await != Outcome::Delete;
    }
    release_batch(&shared, &untouched).await;
}

/// Decodes, dispatches and settles one message; returns what happened to it.
pub(super) async fn process_one(
    shared: Arc<Shared>,
    raw: aws_sdk_sqs::types::Message,
    permit: OwnedSemaphorePermit,
    received_at: Instant,
) -> Outcome {
    shared.stats.in_flight.fetch_add(1, Ordering::Relaxed);
    let receipt = raw.receipt_handle().unwrap_or_default().to_owned();
    // OpenTelemetry's messaging conventions, and the W3C ids of the handling span (recorded once decoded).
    let span = tracing::info_span!(
        "message",
        message_id = raw.message_id().unwrap_or(""),
        otel.kind = "consumer",
        messaging.system = "aws_sqs",
        messaging.operation = "process",
        trace_id = tracing::field::Empty,
        span_id = tracing::field::Empty,
        parent_span_id = tracing::field::Empty,
    );
    let receive_count = attribute_u32(&raw, MessageSystemAttributeName::ApproximateReceiveCount);
    let outcome = async {
        let outcome = match to_message(&raw, received_at, receive_count) {
            Ok(message) => {
                let current = tracing::Span::current();
                if !current.is_disabled() {
                    current.record("trace_id", message.trace.trace_id_hex());
                    current.record("span_id", message.trace.span_id_hex());
                    if let Some(parent) = &message.parent_trace {
                        current.record("parent_span_id", parent.span_id_hex());
                    }
                }
                let message = Arc::new(message);
                run_with_heartbeat(&shared, &message).await
            }
            Err(error) => {
                Stats::add(&shared.stats.invalid, 1);
                match shared.dispatch.invalid {
                    InvalidPolicy::Keep => {
                        warn!(%error, receive_count, "undecodable message kept for retry / the dead-letter queue");
                        Outcome::Retry
                    }
                    InvalidPolicy::Delete => {
                        warn!(%error, "undecodable message deleted");
                        Outcome::Delete
                    }
                }
            }
        };
        settle(&shared, &receipt, outcome, receive_count).await;
        outcome
    }
    .instrument(span)
    .await;
    shared.stats.in_flight.fetch_sub(1, Ordering::Relaxed);
    drop(permit);
    outcome
}

pub(super) fn attribute_u32(
    raw: &aws_sdk_sqs::types::Message,
    name: MessageSystemAttributeName,
) -> u32 {
    raw.attributes()
        .and_then(|a| a.get(&name))
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
}

/// Builds the handler's view of a received message, decoding its body.
pub(super) fn to_message(
    raw: &aws_sdk_sqs::types::Message,
    received_at: Instant,
    receive_count: u32,
) -> Result<Message, codec::DecodeError> {
    let message_attributes: HashMap<String, ReceivedAttribute> = raw
        .message_attributes()
        .map(|attrs| {
            attrs
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        ReceivedAttribute {
                            data_type: v.data_type().to_owned(),
                            string_value: v.string_value().map(str::to_owned),
                            binary_value: v.binary_value().map(|b| b.as_ref().to_vec()),
                        },
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let declared = message_attributes
        .get(ENCODING_ATTRIBUTE)
        .and_then(|a| a.string_value.clone());
    let body = raw.body().unwrap_or_default().to_owned();
    let decoded = codec::decode(&body, declared.as_deref())?;
    let attributes: HashMap<String, String> = raw
        .attributes()
        .map(|a| {
            a.iter()
                .map(|(k, v)| (k.as_str().to_owned(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    let sent_at = attributes
        .get("SentTimestamp")
        .and_then(|ms| ms.parse::<i64>().ok())
        .and_then(chrono::DateTime::from_timestamp_millis);
    let parent_trace = Message::incoming_trace(&message_attributes, &attributes, &decoded);
    Ok(Message {
        trace: parent_trace.map_or_else(TraceContext::new_root, |c| c.child()),
        parent_trace,
        message_id: raw.message_id().unwrap_or_default().to_owned(),
        receipt_handle: raw.receipt_handle().unwrap_or_default().to_owned(),
        group_id: attributes.get("MessageGroupId").cloned(),
        body,
        receive_count,
        sent_at,
        received_at,
        attributes,
        message_attributes,
        decoded,
    })
}
