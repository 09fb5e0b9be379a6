//! Errors in the SQS (JSON 1.0, query-compatible) and SNS (Query/XML) wire formats.

use std::fmt;

/// An API error: its AWS code, HTTP status, fault side and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The short shape name, used in `__type` (JSON) and as the SNS `<Code>`.
    pub code: &'static str,
    /// The query-compatible code (`x-amzn-query-error`) that SDKs use to pick the typed error.
    pub query_code: &'static str,
    pub status: u16,
    pub sender_fault: bool,
    pub message: String,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

impl ApiError {
    fn new(
        code: &'static str,
        query_code: &'static str,
        status: u16,
        msg: impl Into<String>,
    ) -> Self {
        ApiError {
            code,
            query_code,
            status,
            sender_fault: status < 500,
            message: msg.into(),
        }
    }
    pub fn queue_does_not_exist() -> Self {
        Self::new(
            "QueueDoesNotExist",
            "AWS.SimpleQueueService.NonExistentQueue",
            400,
            "The specified queue does not exist.",
        )
    }
    pub fn queue_name_exists(name: &str) -> Self {
        Self::new(
            "QueueNameExists",
            "QueueAlreadyExists",
            400,
            format!("A queue already exists with the same name and a different value for attribute(s): {name}"),
        )
    }
    pub fn receipt_handle_invalid(h: &str) -> Self {
        Self::new(
            "ReceiptHandleIsInvalid",
            "ReceiptHandleIsInvalid",
            400,
            format!("The input receipt handle \"{h}\" is not a valid receipt handle."),
        )
    }
    pub fn invalid_parameter(msg: impl Into<String>) -> Self {
        Self::new(
            "InvalidParameterValueException",
            "InvalidParameterValue",
            400,
            msg,
        )
    }
    pub fn missing_parameter(name: &str) -> Self {
        Self::new(
            "MissingRequiredParameterException",
            "MissingParameter",
            400,
            format!("The request must contain the parameter {name}."),
        )
    }
    pub fn invalid_attribute_name(name: &str) -> Self {
        Self::new(
            "InvalidAttributeName",
            "InvalidAttributeName",
            400,
            format!("Unknown Attribute {name}."),
        )
    }
    pub fn invalid_attribute_value(msg: impl Into<String>) -> Self {
        Self::new("InvalidAttributeValue", "InvalidAttributeValue", 400, msg)
    }
    pub fn message_too_long(limit: usize) -> Self {
        Self::new(
            "InvalidParameterValueException",
            "InvalidParameterValue",
            400,
            format!("One or more parameters are invalid. Reason: Message must be shorter than {limit} bytes."),
        )
    }
    pub fn invalid_message_contents() -> Self {
        Self::new(
            "InvalidMessageContents",
            "InvalidMessageContents",
            400,
            "Invalid characters found. Valid characters are #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF",
        )
    }
    pub fn too_many_entries() -> Self {
        Self::new(
            "TooManyEntriesInBatchRequest",
            "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
            400,
            "Maximum number of entries per request are 10.",
        )
    }
    pub fn empty_batch() -> Self {
        Self::new(
            "EmptyBatchRequest",
            "AWS.SimpleQueueService.EmptyBatchRequest",
            400,
            "There should be at least one entry in the request.",
        )
    }
    pub fn batch_ids_not_distinct() -> Self {
        Self::new(
            "BatchEntryIdsNotDistinct",
            "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
            400,
            "Two or more batch entries in the request have the same Id.",
        )
    }
    pub fn invalid_batch_entry_id() -> Self {
        Self::new(
            "InvalidBatchEntryId",
            "AWS.SimpleQueueService.InvalidBatchEntryId",
            400,
            "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.",
        )
    }
    pub fn batch_request_too_long(limit: usize) -> Self {
        Self::new(
            "BatchRequestTooLong",
            "AWS.SimpleQueueService.BatchRequestTooLong",
            400,
            format!("Batch requests cannot be longer than {limit} bytes."),
        )
    }
    pub fn message_not_inflight() -> Self {
        Self::new(
            "MessageNotInflight",
            "AWS.SimpleQueueService.MessageNotInflight",
            400,
            "The message referred to isn't in flight.",
        )
    }
    pub fn resource_not_found(msg: impl Into<String>) -> Self {
        Self::new(
            "ResourceNotFoundException",
            "ResourceNotFoundException",
            404,
            msg,
        )
    }
    pub fn unsupported_operation(msg: impl Into<String>) -> Self {
        Self::new(
            "UnsupportedOperation",
            "AWS.SimpleQueueService.UnsupportedOperation",
            400,
            msg,
        )
    }
    pub fn invalid_action(action: &str) -> Self {
        Self::new(
            "InvalidAction",
            "InvalidAction",
            400,
            format!("The action {action} is not valid for this endpoint."),
        )
    }
    pub fn serialization(msg: impl Into<String>) -> Self {
        Self::new("SerializationException", "SerializationException", 400, msg)
    }
    pub fn internal(msg: impl Into<String>) -> Self {
        Self::new("InternalError", "InternalError", 500, msg)
    }
    pub fn throttled() -> Self {
        Self::new(
            "RequestThrottled",
            "RequestThrottled",
            400,
            "Rate exceeded (injected by the sqs-mega-local anomaly injector).",
        )
    }
    // --- SNS codes ---
    pub fn sns_not_found(msg: impl Into<String>) -> Self {
        Self::new("NotFound", "NotFound", 404, msg)
    }
    pub fn sns_invalid_parameter(msg: impl Into<String>) -> Self {
        Self::new("InvalidParameter", "InvalidParameter", 400, msg)
    }
    /// SNS's InvalidParameterValue (wire code `ParameterValueInvalid`), used for message
    /// attributes.
    pub fn sns_invalid_parameter_value(msg: impl Into<String>) -> Self {
        Self::new("ParameterValueInvalid", "ParameterValueInvalid", 400, msg)
    }
    pub fn sns_too_many_entries() -> Self {
        Self::new(
            "TooManyEntriesInBatchRequest",
            "TooManyEntriesInBatchRequest",
            400,
            "The batch request contains more entries than permissible.",
        )
    }
    pub fn sns_batch_ids_not_distinct() -> Self {
        Self::new(
            "BatchEntryIdsNotDistinct",
            "BatchEntryIdsNotDistinct",
            400,
            "Two or more batch entries in the request have the same Id.",
        )
    }
    pub fn sns_empty_batch() -> Self {
        Self::new(
            "EmptyBatchRequest",
            "EmptyBatchRequest",
            400,
            "The batch request doesn't contain any entries.",
        )
    }
}

/// Errors starting the server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("io error: {0}")]
    Io(#[from] std::io::Error),
    #[error("data directory error: {0}")]
    Data(String),
    #[error("invalid configuration: {0}")]
    Config(String),
}
