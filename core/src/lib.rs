//! sqs-mega core.
