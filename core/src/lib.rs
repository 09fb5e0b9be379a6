//! # sqs-mega
//!
//! A minimal, fault-tolerant framework for async task processing, event streaming and pattern matching over
//! Amazon SQS and SNS, implementing the MEGA event protocol.
//!
//! - [`value`]: the value model of decoded payloads ([`Value`]).
//! - [`json`]: JSON reading and writing for values (plain and tagged).

pub mod decimal;
pub mod json;
pub mod matcher;
pub mod value;

pub use decimal::Decimal;
pub use value::{Kind, Map, Value};
