//! Embedded SQS + SNS endpoint (issue 4).
