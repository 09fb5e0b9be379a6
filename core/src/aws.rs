//! Connecting to Amazon SQS / SNS (or any compatible endpoint, such as the embedded one).
//!
//! Credentials and region come from the standard AWS chain (environment, profile, IMDS…) unless given
//! explicitly. Secrets are never logged nor put in error messages.

use std::fmt;

/// The AWS SDK for SNS, as sqs-mega uses it.
pub use aws_sdk_sns as sns_sdk;
/// The AWS SDK for SQS, as sqs-mega uses it (so applications need not pin a matching version).
pub use aws_sdk_sqs as sqs_sdk;

use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// Where and as whom to connect. Every field is optional: what is `None` comes from the standard chain
/// (environment, `AWS_ENDPOINT_URL` included, shared config files, instance roles).
#[derive(Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AwsSettings {
    pub region: Option<String>,
    /// A custom endpoint: the embedded endpoint (`http://127.0.0.1:4566`), LocalStack, ElasticMQ…
    pub endpoint_url: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub session_token: Option<String>,
    /// A named profile of the shared AWS config files.
    pub profile: Option<String>,
}

option_setters!(AwsSettings {
    with_region => region: String,
    with_endpoint_url => endpoint_url: String,
    with_profile => profile: String,
});

impl AwsSettings {
    /// Sets explicit credentials (otherwise the standard chain's).
    #[must_use]
    pub fn with_credentials(
        mut self,
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
        session_token: Option<String>,
    ) -> Self {
        self.access_key_id = Some(access_key_id.into());
        self.secret_access_key = Some(secret_access_key.into());
        self.session_token = session_token;
        self
    }
}

/// Debug output never shows the secret key or the session token.
impl fmt::Debug for AwsSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsSettings")
            .field("region", &self.region)
            .field("endpoint_url", &self.endpoint_url)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "<redacted>"),
            )
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .field("profile", &self.profile)
            .finish()
    }
}

impl AwsSettings {
    /// Settings for a local endpoint (the embedded one, or any SQS-compatible service) with dummy
    /// credentials and region `us-east-1`.
    pub fn local(endpoint_url: impl Into<String>) -> AwsSettings {
        AwsSettings {
            region: Some("us-east-1".into()),
            endpoint_url: Some(endpoint_url.into()),
            access_key_id: Some("test".into()),
            secret_access_key: Some("test".into()),
            ..Default::default()
        }
    }

    /// Loads the SDK configuration: explicit settings first, then the standard chain.
    pub async fn load(&self) -> aws_config::SdkConfig {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(profile) = &self.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(region) = &self.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(url) = &self.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if let (Some(key), Some(secret)) = (&self.access_key_id, &self.secret_access_key) {
            loader = loader.credentials_provider(Credentials::new(
                key,
                secret,
                self.session_token.clone(),
                None,
                "sqs-mega-explicit",
            ));
        }
        loader.load().await
    }

    /// An SQS client for these settings.
    pub async fn sqs_client(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&self.load().await)
    }

    /// An SNS client for these settings.
    pub async fn sns_client(&self) -> aws_sdk_sns::Client {
        aws_sdk_sns::Client::new(&self.load().await)
    }
}

/// The runtime the library runs on for callers without one of their own (the C ABI and the other bindings,
/// [`crate::listen::SqsListener::listen_blocking`]): made on first use, one worker per core, never torn down
/// (its threads live as long as the process), so a client made on it stays usable across calls and no call
/// ever waits for a runtime to wind down.
pub fn runtime() -> std::io::Result<&'static tokio::runtime::Runtime> {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    static INIT: std::sync::Mutex<()> = std::sync::Mutex::new(());
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    let _one_at_a_time = INIT.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .thread_name("sqs-mega")
        .enable_all()
        .build()?;
    Ok(RUNTIME.get_or_init(|| rt))
}

/// An SDK client made on first use, inside the runtime that first uses it (the SDK's connection pool
/// belongs to that runtime), so that building a listener or a publisher needs no runtime and contacts
/// nothing. Clones share the client.
#[derive(Clone)]
pub(crate) struct LazyClient<C> {
    settings: AwsSettings,
    cell: std::sync::Arc<tokio::sync::OnceCell<C>>,
}

/// The SDK clients sqs-mega makes.
pub(crate) trait SdkClient: Sized {
    fn from_conf(config: &aws_config::SdkConfig) -> Self;
}

impl SdkClient for aws_sdk_sqs::Client {
    fn from_conf(config: &aws_config::SdkConfig) -> Self {
        aws_sdk_sqs::Client::new(config)
    }
}

impl SdkClient for aws_sdk_sns::Client {
    fn from_conf(config: &aws_config::SdkConfig) -> Self {
        aws_sdk_sns::Client::new(config)
    }
}

impl<C: SdkClient> LazyClient<C> {
    /// A client for `settings`, made when first needed.
    pub(crate) fn new(settings: &AwsSettings) -> Self {
        LazyClient {
            settings: settings.clone(),
            cell: Default::default(),
        }
    }

    /// An existing client.
    pub(crate) fn ready(client: C) -> Self {
        LazyClient {
            settings: AwsSettings::default(),
            cell: std::sync::Arc::new(tokio::sync::OnceCell::new_with(Some(client))),
        }
    }

    pub(crate) async fn get(&self) -> &C {
        self.cell
            .get_or_init(|| async { C::from_conf(&self.settings.load().await) })
            .await
    }
}

impl<C> fmt::Debug for LazyClient<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LazyClient")
            .field("settings", &self.settings)
            .field("made", &self.cell.initialized())
            .finish()
    }
}

/// A failed call to SQS or SNS, reduced to what a user can act on: the operation, the service's error code
/// and message when it answered, or the transport problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AwsError {
    #[error("{operation}: {code}: {message}")]
    Service {
        operation: &'static str,
        code: String,
        message: String,
        /// Throttling, 5xx or similar: worth retrying later.
        transient: bool,
    },
    #[error("{operation}: {message}")]
    Transport {
        operation: &'static str,
        message: String,
    },
}

impl AwsError {
    /// Whether retrying later may succeed (throttling, server errors, timeouts, connection failures).
    pub fn is_transient(&self) -> bool {
        match self {
            AwsError::Service { transient, .. } => *transient,
            AwsError::Transport { .. } => true,
        }
    }

    /// The service's error code, when it answered.
    pub fn service_code(&self) -> Option<&str> {
        match self {
            AwsError::Service { code, .. } => Some(code),
            AwsError::Transport { .. } => None,
        }
    }

    /// Builds an error from an SDK error of any operation.
    pub fn from_sdk<E>(operation: &'static str, err: SdkError<E, HttpResponse>) -> AwsError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        match &err {
            SdkError::ServiceError(service) => {
                let e = service.err();
                let code = e.code().unwrap_or("Unknown").to_owned();
                AwsError::Service {
                    operation,
                    transient: is_transient_code(&code) || service.raw().status().is_server_error(),
                    message: e.message().unwrap_or("").to_owned(),
                    code,
                }
            }
            _ => AwsError::Transport {
                operation,
                message: error_chain(&err),
            },
        }
    }
}

/// Error codes of SQS and SNS that mean "try again later".
pub fn is_transient_code(code: &str) -> bool {
    matches!(
        code,
        "ThrottlingException"
            | "Throttling"
            | "RequestThrottled"
            | "ThrottledException"
            | "TooManyRequestsException"
            | "ServiceUnavailable"
            | "InternalError"
            | "InternalFailure"
            | "KmsThrottled"
            | "RequestTimeout"
    )
}

/// An error and its sources, joined: the SDK's top-level message alone is often just "dispatch failure".
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_secrets() {
        let s = AwsSettings {
            access_key_id: Some("AKIAIOSFODNN7EXAMPLE".into()),
            secret_access_key: Some("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into()),
            session_token: Some("FQoGZXIvYXdzEXAMPLETOKEN".into()),
            ..Default::default()
        };
        let debug = format!("{s:?}");
        assert!(!debug.contains("wJalrXUtnFEMI"), "{debug}");
        assert!(!debug.contains("FQoGZXIvYXdz"), "{debug}");
        assert!(debug.contains("<redacted>"));
    }

    #[test]
    fn throttling_codes_are_transient() {
        assert!(is_transient_code("ThrottlingException"));
        assert!(is_transient_code("RequestThrottled"));
        assert!(!is_transient_code(
            "AWS.SimpleQueueService.NonExistentQueue"
        ));
        assert!(!is_transient_code("QueueDoesNotExist"));
    }
}
