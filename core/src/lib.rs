//! # sqs-mega
//!
//! A minimal, fault-tolerant framework for async task processing, event streaming and pattern matching over
//! Amazon SQS and SNS, implementing the MEGA event protocol.
//!
//! - [`mod@value`]: the value model of decoded payloads ([`Value`]), with exact [`Decimal`]s.
//! - [`json`], [`bson`]: the two serialisations of maps.
//! - [`event`]: the MEGA event protocol v1 (typed payload, builder, validation).
//! - [`sns`]: SNS envelopes.
//! - [`codec`]: decoding SQS bodies into payloads and encoding payloads into bodies.
//! - [`error`]: one error vocabulary: every public error's stable code, family and category.
//! - [`matcher`]: the pattern DSL, the JSON pattern format, EventBridge patterns, subscriber rules, the
//!   router, explanations and SNS filter-policy export.
//! - [`aws`], [`publish`], [`listen`], [`admin`] (feature `aws`, on by default): connecting to SQS/SNS,
//!   publishing, the listener, dead-letter queue redrive.
//!
//! ## Quick start
//!
//! Publish a data object and process it with a subscriber whose pattern matches it (this runs as a doctest
//! and as `cargo run -p sqs-mega --example quickstart`):
//!
//! ```
#![cfg_attr(feature = "aws", doc = include_str!("../examples/quickstart.rs"))]
#![cfg_attr(
    not(feature = "aws"),
    doc = "// the publisher and the listener need the `aws` feature"
)]
//! ```

/// Builder-style setters for configuration structs, which are `#[non_exhaustive]` so that an option can be
/// added without breaking any caller or binding: `Type::default().with_x(1).with_y("z")`.
macro_rules! setters {
    ($ty:ty { $($method:ident => $field:ident: $t:ty),* $(,)? }) => {
        impl $ty {
            $(
                #[doc = concat!("Sets `", stringify!($field), "`.")]
                #[must_use]
                pub fn $method(mut self, value: $t) -> Self {
                    self.$field = value;
                    self
                }
            )*
        }
    };
}

/// As [`setters`], for optional fields: `with_x(value)` sets `Some(value)`.
#[cfg(feature = "aws")]
macro_rules! option_setters {
    ($ty:ty { $($method:ident => $field:ident: $t:ty),* $(,)? }) => {
        impl $ty {
            $(
                #[doc = concat!("Sets `", stringify!($field), "`.")]
                #[must_use]
                pub fn $method(mut self, value: impl Into<$t>) -> Self {
                    self.$field = Some(value.into());
                    self
                }
            )*
        }
    };
}

#[cfg(feature = "aws")]
pub mod admin;
#[cfg(feature = "aws")]
pub mod aws;
pub mod bson;
pub mod codec;
pub mod decimal;
pub mod error;
pub mod event;
pub mod json;
#[cfg(feature = "aws")]
pub mod listen;
pub mod matcher;
#[cfg(feature = "aws")]
pub mod publish;
pub mod sns;
pub mod trace;
pub mod value;

pub use codec::{decode, encode, Content, ContentKind, Decoded, Encoding};
pub use decimal::Decimal;
pub use error::{Category, ErrorInfo, Family, MegaError};
pub use value::{Kind, Map, Value};
