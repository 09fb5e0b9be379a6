//! Settling: deletes batched by the deleter task, retries and releases through the visibility timeout.

use super::*;

pub(super) enum DeleteCmd {
    Delete(String),
    Close,
}

/// Applies an outcome to the queue.
pub(super) async fn settle(
    shared: &Arc<Shared>,
    receipt: &str,
    outcome: Outcome,
    receive_count: u32,
) {
    match outcome {
        Outcome::Delete => {
            let _ = shared.deletes.send(DeleteCmd::Delete(receipt.to_owned()));
        }
        Outcome::Retry => {
            let delay = shared.config.retry.delay_seconds(receive_count);
            Stats::add(&shared.stats.retried, 1);
            change_visibility(shared, receipt, delay).await;
        }
        Outcome::Keep => {}
        Outcome::Release => release(shared, receipt).await,
    }
}

pub(super) async fn release(shared: &Arc<Shared>, receipt: &str) {
    Stats::add(&shared.stats.released, 1);
    change_visibility(shared, receipt, 0).await;
}

pub(super) async fn change_visibility(shared: &Arc<Shared>, receipt: &str, seconds: i32) {
    Stats::add(&shared.stats.visibility_calls, 1);
    if let Err(e) = shared
        .client
        .change_message_visibility()
        .queue_url(&shared.config.queue_url)
        .receipt_handle(receipt)
        .visibility_timeout(seconds)
        .send()
        .await
    {
        warn!(error = %AwsError::from_sdk("ChangeMessageVisibility", e), seconds, "could not change visibility");
    }
}

/// Collects deletions into DeleteMessageBatch calls of up to 10, lingering briefly for company.
pub(super) async fn run_deleter(shared: Arc<Shared>, mut rx: mpsc::UnboundedReceiver<DeleteCmd>) {
    let mut closing = false;
    while !closing {
        let first = match rx.recv().await {
            Some(DeleteCmd::Delete(h)) => h,
            Some(DeleteCmd::Close) | None => break,
        };
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + shared.config.delete_linger;
        while batch.len() < 10 {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(DeleteCmd::Delete(h))) => batch.push(h),
                Ok(Some(DeleteCmd::Close)) | Ok(None) => {
                    closing = true;
                    break;
                }
                Err(_) => break,
            }
        }
        delete_batch(&shared, batch).await;
    }
    // Flush whatever is still queued.
    let mut rest = Vec::new();
    while let Ok(cmd) = rx.try_recv() {
        if let DeleteCmd::Delete(h) = cmd {
            rest.push(h);
        }
    }
    for chunk in rest.chunks(10) {
        delete_batch(&shared, chunk.to_vec()).await;
    }
}

/// Deletes up to 10 messages; entries that fail for reasons other than the request's fault are retried.
pub(super) async fn delete_batch(shared: &Arc<Shared>, handles: Vec<String>) {
    let mut pending: Vec<(usize, String)> = handles.into_iter().enumerate().collect();
    let mut pause = Duration::from_millis(50);
    for attempt in 0..4 {
        let last = attempt == 3;
        let entries: Vec<_> = pending
            .iter()
            .map(|(i, h)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(h)
                    .build()
                    .expect("id and handle set")
            })
            .collect();
        Stats::add(&shared.stats.delete_calls, 1);
        let result = shared
            .client
            .delete_message_batch()
            .queue_url(&shared.config.queue_url)
            .set_entries(Some(entries))
            .send()
            .await;
        let mut retry = Vec::new();
        match result {
            Ok(out) => {
                Stats::add(&shared.stats.deleted, out.successful().len() as u64);
                for f in out.failed() {
                    let Some(entry) = pending.iter().find(|(i, _)| i.to_string() == f.id()) else {
                        continue;
                    };
                    if !f.sender_fault() && !last {
                        retry.push(entry.clone());
                    } else {
                        Stats::add(&shared.stats.delete_failed, 1);
                        warn!(
                            code = f.code(),
                            message = f.message().unwrap_or(""),
                            "delete failed: the message will be received again"
                        );
                    }
                }
            }
            Err(e) => {
                let error = AwsError::from_sdk("DeleteMessageBatch", e);
                if error.is_transient() && !last {
                    retry = pending.clone();
                } else {
                    Stats::add(&shared.stats.delete_failed, pending.len() as u64);
                    warn!(%error, count = pending.len(), "delete failed: the messages will be received again");
                }
            }
        }
        if retry.is_empty() {
            return;
        }
        tokio::time::sleep(pause).await;
        pause *= 2;
        pending = retry;
    }
}

/// Releases messages (visibility 0), ten per call.
pub(super) async fn release_batch(shared: &Arc<Shared>, handles: &[String]) {
    for chunk in handles.chunks(10) {
        let entries: Vec<_> = chunk
            .iter()
            .enumerate()
            .map(|(i, h)| {
                ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(h)
                    .visibility_timeout(0)
                    .build()
                    .expect("id and handle set")
            })
            .collect();
        Stats::add(&shared.stats.visibility_calls, 1);
        Stats::add(&shared.stats.released, chunk.len() as u64);
        if let Err(e) = shared
            .client
            .change_message_visibility_batch()
            .queue_url(&shared.config.queue_url)
            .set_entries(Some(entries))
            .send()
            .await
        {
            warn!(error = %AwsError::from_sdk("ChangeMessageVisibilityBatch", e), "could not release messages: they return after their visibility timeout");
        }
    }
}
