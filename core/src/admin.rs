//! Queue administration: dead-letter queue redrive (StartMessageMoveTask), queue lookups, subscribing a queue
//! to a topic.
//!
//! Every SQS worker framework relies on the redrive policy to park poison messages in a dead-letter queue;
//! none ships the way back. Once the cause is fixed, [`start_redrive`] moves the messages back to their
//! source queues (or to a queue of your choice), optionally at a bounded rate.

use aws_sdk_sqs::types::QueueAttributeName;

use crate::aws::AwsError;

/// The ARN of a queue, from its URL. A value that already is an ARN is returned as is.
pub async fn queue_arn(client: &aws_sdk_sqs::Client, url_or_arn: &str) -> Result<String, AwsError> {
    if url_or_arn.starts_with("arn:") {
        return Ok(url_or_arn.to_owned());
    }
    let out = client
        .get_queue_attributes()
        .queue_url(url_or_arn)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("GetQueueAttributes", e))?;
    out.attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .cloned()
        .ok_or_else(|| AwsError::Service {
            operation: "GetQueueAttributes",
            code: "MissingQueueArn".into(),
            message: format!("the service returned no QueueArn for {url_or_arn}"),
            transient: false,
        })
}

/// Subscribes a queue (URL or ARN) to an SNS topic; `raw` turns on raw message delivery (no SNS envelope).
/// Returns the subscription ARN. The queue's policy must let the topic send to it (the embedded endpoint does
/// not check policies).
pub async fn subscribe_queue(
    sqs: &aws_sdk_sqs::Client,
    sns: &aws_sdk_sns::Client,
    topic_arn: &str,
    queue: &str,
    raw: bool,
) -> Result<String, AwsError> {
    let endpoint = queue_arn(sqs, queue).await?;
    let subscription = sns
        .subscribe()
        .topic_arn(topic_arn)
        .protocol("sqs")
        .endpoint(endpoint)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("Subscribe", e))?
        .subscription_arn()
        .unwrap_or_default()
        .to_owned();
    if raw {
        sns.set_subscription_attributes()
            .subscription_arn(&subscription)
            .attribute_name("RawMessageDelivery")
            .attribute_value("true")
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("SetSubscriptionAttributes", e))?;
    }
    Ok(subscription)
}

/// A message move task, as ListMessageMoveTasks reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MoveTask {
    /// Present while the task runs (needed to cancel it).
    pub task_handle: Option<String>,
    /// RUNNING, COMPLETED, CANCELLING, CANCELLED or FAILED.
    pub status: String,
    pub source_arn: String,
    pub destination_arn: Option<String>,
    pub max_per_second: Option<i32>,
    pub moved: i64,
    pub to_move: Option<i64>,
    pub failure_reason: Option<String>,
}

impl MoveTask {
    pub fn is_running(&self) -> bool {
        self.status == "RUNNING" || self.status == "CANCELLING"
    }
}

/// Starts moving the messages of a dead-letter queue (URL or ARN) back to their source queues, or to
/// `destination` when given, at most `max_per_second` messages per second when given. Returns the task
/// handle.
pub async fn start_redrive(
    client: &aws_sdk_sqs::Client,
    dead_letter_queue: &str,
    destination: Option<&str>,
    max_per_second: Option<i32>,
) -> Result<String, AwsError> {
    let source_arn = queue_arn(client, dead_letter_queue).await?;
    let destination_arn = match destination {
        Some(d) => Some(queue_arn(client, d).await?),
        None => None,
    };
    let out = client
        .start_message_move_task()
        .source_arn(source_arn)
        .set_destination_arn(destination_arn)
        .set_max_number_of_messages_per_second(max_per_second)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("StartMessageMoveTask", e))?;
    Ok(out.task_handle().unwrap_or_default().to_owned())
}

/// The move tasks of a dead-letter queue (URL or ARN), most recent first.
pub async fn redrive_tasks(
    client: &aws_sdk_sqs::Client,
    dead_letter_queue: &str,
) -> Result<Vec<MoveTask>, AwsError> {
    let source_arn = queue_arn(client, dead_letter_queue).await?;
    let out = client
        .list_message_move_tasks()
        .source_arn(&source_arn)
        .max_results(10)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("ListMessageMoveTasks", e))?;
    Ok(out
        .results()
        .iter()
        .map(|t| MoveTask {
            task_handle: t.task_handle().map(str::to_owned),
            status: t.status().unwrap_or_default().to_owned(),
            source_arn: t.source_arn().unwrap_or(&source_arn).to_owned(),
            destination_arn: t.destination_arn().map(str::to_owned),
            max_per_second: t.max_number_of_messages_per_second(),
            moved: t.approximate_number_of_messages_moved(),
            to_move: t.approximate_number_of_messages_to_move(),
            failure_reason: t.failure_reason().map(str::to_owned),
        })
        .collect())
}

/// Cancels a running move task; returns how many messages it had moved.
pub async fn cancel_redrive(
    client: &aws_sdk_sqs::Client,
    task_handle: &str,
) -> Result<i64, AwsError> {
    let out = client
        .cancel_message_move_task()
        .task_handle(task_handle)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("CancelMessageMoveTask", e))?;
    Ok(out.approximate_number_of_messages_moved())
}

/// Creates a queue (`attributes` named as SQS names them: `VisibilityTimeout`, `RedrivePolicy`, `FifoQueue`…)
/// and returns its URL.
pub async fn create_queue(
    client: &aws_sdk_sqs::Client,
    name: &str,
    attributes: impl IntoIterator<Item = (String, String)>,
) -> Result<String, AwsError> {
    let mut req = client.create_queue().queue_name(name);
    for (k, v) in attributes {
        req = req.attributes(k.as_str().into(), v);
    }
    req.send()
        .await
        .map(|o| o.queue_url().unwrap_or_default().to_owned())
        .map_err(|e| AwsError::from_sdk("CreateQueue", e))
}

/// Creates an SNS topic and returns its ARN.
pub async fn create_topic(client: &aws_sdk_sns::Client, name: &str) -> Result<String, AwsError> {
    client
        .create_topic()
        .name(name)
        .send()
        .await
        .map(|o| o.topic_arn().unwrap_or_default().to_owned())
        .map_err(|e| AwsError::from_sdk("CreateTopic", e))
}

/// `(visible, in flight)`: a queue's approximate message counts.
pub async fn queue_counts(
    client: &aws_sdk_sqs::Client,
    queue_url: &str,
) -> Result<(u64, u64), AwsError> {
    let out = client
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names("ApproximateNumberOfMessages".into())
        .attribute_names("ApproximateNumberOfMessagesNotVisible".into())
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("GetQueueAttributes", e))?;
    let get = |k: &str| {
        out.attributes()
            .and_then(|a| a.get(&k.into()))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Ok((
        get("ApproximateNumberOfMessages"),
        get("ApproximateNumberOfMessagesNotVisible"),
    ))
}
