//! What every verb that talks to SQS / SNS shares: the connection flags, the clients, and turning a queue or
//! topic named by the user (name, URL or ARN) into one that exists, with errors that name the input.

use clap::Args;
use sqs_mega::aws::{sns_sdk, sqs_sdk, AwsError, AwsSettings};

use crate::CliError;

/// `--endpoint-url`, `--region`, `--profile`: the standard AWS chain unless given.
#[derive(Args, Clone, Debug, Default)]
pub struct ConnArgs {
    /// A custom endpoint (the embedded one, `mega local`); default: `AWS_ENDPOINT_URL` if set (as every
    /// AWS SDK reads it), else AWS. With a custom endpoint and no credentials in the environment nor a
    /// profile, dummy credentials are used (the embedded endpoint accepts any).
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// The AWS region (default: the standard chain; us-east-1 with a custom endpoint).
    #[arg(long)]
    pub region: Option<String>,
    /// A named profile of the shared AWS config files.
    #[arg(long)]
    pub profile: Option<String>,
}

impl ConnArgs {
    /// The connection settings these flags (and the environment) describe.
    pub fn settings(&self) -> AwsSettings {
        let mut settings = AwsSettings::default();
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        if let Some(url) = &self.endpoint_url {
            settings = settings.with_endpoint_url(url.as_str());
            if self.region.is_none()
                && env("AWS_REGION").is_none()
                && env("AWS_DEFAULT_REGION").is_none()
            {
                settings = settings.with_region("us-east-1");
            }
            if self.profile.is_none()
                && env("AWS_PROFILE").is_none()
                && env("AWS_ACCESS_KEY_ID").is_none()
            {
                settings = settings.with_credentials("test", "test", None);
            }
        }
        if let Some(region) = &self.region {
            settings = settings.with_region(region.as_str());
        }
        if let Some(profile) = &self.profile {
            settings = settings.with_profile(profile.as_str());
        }
        settings
    }

    /// A short description of where the clients go, for messages (never a credential).
    pub fn describe(&self) -> String {
        match (&self.endpoint_url, std::env::var("AWS_ENDPOINT_URL").ok()) {
            (Some(url), _) => url.clone(),
            (None, Some(url)) if !url.is_empty() => url,
            _ => "AWS".into(),
        }
    }
}

/// Both clients, made once.
#[derive(Clone)]
pub struct Clients {
    pub sqs: sqs_sdk::Client,
    pub sns: sns_sdk::Client,
}

impl Clients {
    pub async fn new(settings: &AwsSettings) -> Clients {
        let config = settings.load().await;
        Clients {
            sqs: sqs_sdk::Client::new(&config),
            sns: sns_sdk::Client::new(&config),
        }
    }
}

/// A small runtime for one command.
pub fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError(format!("cannot start a runtime: {e}")))
}

/// A queue that exists.
#[derive(Clone, Debug)]
pub struct QueueRef {
    pub url: String,
    pub arn: String,
    pub name: String,
}

fn queue_missing(code: &str) -> bool {
    code.contains("NonExistentQueue") || code.contains("QueueDoesNotExist")
}

/// An SDK error about `what` (the user's spelling of a queue or topic), reduced to a message naming it.
pub fn about(what: &str, err: AwsError) -> CliError {
    match err.service_code() {
        Some(code) if queue_missing(code) => CliError(format!("queue {what}: does not exist")),
        Some("NotFound") => CliError(format!("topic {what}: does not exist")),
        _ => CliError(format!("{what}: {err}")),
    }
}

/// The queue the user named: a URL (`https://…/123/name`), an ARN (`arn:aws:sqs:…:name`) or a bare name.
/// Checks it exists (GetQueueAttributes), so a typo is reported before anything is sent.
pub async fn resolve_queue(sqs: &sqs_sdk::Client, input: &str) -> Result<QueueRef, CliError> {
    let input = input.trim();
    if input.is_empty() {
        return Err(CliError(
            "the queue is empty: give a queue URL, ARN or name".into(),
        ));
    }
    let url = if input.starts_with("http://") || input.starts_with("https://") {
        input.to_owned()
    } else {
        let (name, owner) = if let Some(rest) = input.strip_prefix("arn:") {
            let parts: Vec<&str> = rest.split(':').collect();
            if parts.len() != 5 || parts[1] != "sqs" {
                return Err(CliError(format!(
                    "queue {input}: not an SQS queue ARN (arn:aws:sqs:REGION:ACCOUNT:NAME)"
                )));
            }
            (parts[4].to_owned(), Some(parts[3].to_owned()))
        } else {
            (input.to_owned(), None)
        };
        sqs.get_queue_url()
            .queue_name(&name)
            .set_queue_owner_aws_account_id(owner)
            .send()
            .await
            .map_err(|e| about(input, AwsError::from_sdk("GetQueueUrl", e)))?
            .queue_url()
            .unwrap_or_default()
            .to_owned()
    };
    let out = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(sqs_sdk::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| about(input, AwsError::from_sdk("GetQueueAttributes", e)))?;
    let arn = out
        .attributes()
        .and_then(|a| a.get(&sqs_sdk::types::QueueAttributeName::QueueArn))
        .cloned()
        .unwrap_or_default();
    let name = url
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or("")
        .to_owned();
    Ok(QueueRef { url, arn, name })
}

/// The topic the user named (an ARN), checked to exist (GetTopicAttributes).
pub async fn resolve_topic(sns: &sns_sdk::Client, input: &str) -> Result<String, CliError> {
    let input = input.trim();
    if !input.starts_with("arn:") || input.split(':').nth(2) != Some("sns") {
        return Err(CliError(format!(
            "topic {input}: not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)"
        )));
    }
    sns.get_topic_attributes()
        .topic_arn(input)
        .send()
        .await
        .map_err(|e| about(input, AwsError::from_sdk("GetTopicAttributes", e)))?;
    Ok(input.to_owned())
}

/// Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
