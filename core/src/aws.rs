//! Connecting to Amazon SQS / SNS (or any compatible endpoint, such as the embedded one).
//!
//! Credentials and region come from the standard AWS chain (environment, profile, IMDS…) unless given
//! explicitly. Secrets are never logged nor put in error messages.

use std::fmt;

use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// Where and as whom to connect. Every field is optional: what is `None` comes from the standard chain.
#[derive(Clone, Default, PartialEq, Eq)]
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
    pub fn code(&self) -> Option<&str> {
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
