//! The DynamoDB store: one item per (key, subscriber) in a table whose partition key is the string `pk`.
//! An item holds `state` (`run` or `done`), the claim's `token`, `lease_until` (epoch milliseconds, for
//! `run`) and `expires_at` (epoch seconds: the table's TTL attribute; reads check it too, since DynamoDB
//! deletes expired items only eventually). A claim is one conditional `PutItem` that returns the old item
//! when its condition fails; a completion one `PutItem`.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ReturnValuesOnConditionCheckFailure, ScalarAttributeType, TimeToLiveSpecification,
};
use tokio::sync::OnceCell;

use super::{now_ms, record_name, Claim, CompletionStore, StoreError, StoreFuture, StoreOptions};
use crate::aws::{AwsError, AwsSettings};

/// A completion store on a DynamoDB table, shared by every process using the table.
pub struct DynamoDbCompletionStore {
    table: String,
    settings: AwsSettings,
    client: OnceCell<aws_sdk_dynamodb::Client>,
    options: StoreOptions,
}

impl std::fmt::Debug for DynamoDbCompletionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoDbCompletionStore")
            .field("table", &self.table)
            .field("settings", &self.settings)
            .field("options", &self.options)
            .finish()
    }
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn number(item: &HashMap<String, AttributeValue>, name: &str) -> u64 {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v.parse().unwrap_or(0),
        _ => 0,
    }
}

/// The condition of a renewal and a release: the mark is still this claim's (the same condition, so the
/// two always agree on what "held" means).
const HELD: &str = "#t = :token AND #s = :run";

/// The names and values `HELD` uses.
fn held_by(token: &str) -> (HashMap<String, String>, HashMap<String, AttributeValue>) {
    (
        HashMap::from([
            ("#s".to_owned(), "state".to_owned()),
            ("#t".to_owned(), "token".to_owned()),
        ]),
        HashMap::from([
            (":token".to_owned(), s(token)),
            (":run".to_owned(), s("run")),
        ]),
    )
}

/// Whether a call failed only because its condition did not hold (any operation's error).
fn condition_failed<E: ProvideErrorMetadata>(
    e: &SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> bool {
    e.as_service_error().and_then(ProvideErrorMetadata::code)
        == Some("ConditionalCheckFailedException")
}

fn text<'a>(item: &'a HashMap<String, AttributeValue>, name: &str) -> &'a str {
    match item.get(name) {
        Some(AttributeValue::S(v)) => v,
        _ => "",
    }
}

impl DynamoDbCompletionStore {
    /// A store on `table` with these AWS settings (region, endpoint, profile, credentials; the standard
    /// chain fills what they leave out). Nothing is called until the first claim.
    pub fn new(table: &str, settings: AwsSettings, options: StoreOptions) -> Self {
        DynamoDbCompletionStore {
            table: table.to_owned(),
            settings,
            client: OnceCell::new(),
            options,
        }
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The partition key of one record.
    pub fn key_of(&self, key: &str, subscriber: &str) -> String {
        record_name(key, subscriber)
    }

    /// The SDK client (made on first use).
    pub async fn client(&self) -> &aws_sdk_dynamodb::Client {
        self.client
            .get_or_init(|| async { aws_sdk_dynamodb::Client::new(&self.settings.load().await) })
            .await
    }

    /// Creates the table (on-demand billing, partition key `pk`, TTL on `expires_at`) unless it exists.
    pub async fn create_table(&self) -> Result<(), StoreError> {
        let c = self.client().await;
        let created = c
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("pk")
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .map_err(|e| self.error("CreateTable", e))?,
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("pk")
                    .key_type(KeyType::Hash)
                    .build()
                    .map_err(|e| self.error("CreateTable", e))?,
            )
            .send()
            .await;
        if let Err(e) = created {
            let in_use = e
                .as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception());
            if !in_use {
                return Err(self.sdk_error("CreateTable", e));
            }
        }
        // Expired items are deleted by DynamoDB in its own time; reads check `expires_at` themselves.
        let _ = c
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .enabled(true)
                    .attribute_name("expires_at")
                    .build()
                    .map_err(|e| self.error("UpdateTimeToLive", e))?,
            )
            .send()
            .await;
        Ok(())
    }

    fn shown(&self) -> String {
        format!("dynamodb://{}", self.table)
    }

    fn error(&self, operation: &'static str, e: impl std::fmt::Display) -> StoreError {
        StoreError::new(self.shown(), operation, e)
    }

    fn sdk_error<E>(
        &self,
        operation: &'static str,
        e: SdkError<E, aws_smithy_runtime_api::http::Response>,
    ) -> StoreError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        self.error(operation, AwsError::from_sdk(operation, e))
    }

    async fn read(&self, pk: &str) -> Result<Option<HashMap<String, AttributeValue>>, StoreError> {
        let out = self
            .client()
            .await
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.sdk_error("GetItem", e))?;
        Ok(out.item)
    }

    /// What a claim that failed its condition found: a live completion, or someone else's live mark (a
    /// record that expired in between counts as busy: the message comes back and the next claim takes it).
    fn classify(item: &HashMap<String, AttributeValue>, now: u64) -> Claim {
        if text(item, "state") == "done" && number(item, "expires_at") * 1000 > now {
            Claim::Completed
        } else {
            Claim::Busy
        }
    }
}

impl CompletionStore for DynamoDbCompletionStore {
    fn claim<'a>(
        &'a self,
        key: &'a str,
        subscriber: &'a str,
        token: &'a str,
    ) -> StoreFuture<'a, Result<Claim, StoreError>> {
        Box::pin(async move {
            let pk = self.key_of(key, subscriber);
            let now = now_ms();
            let lease_until = now + self.options.lease.as_millis() as u64;
            // An abandoned mark disappears a TTL after its lease.
            let expires_at = (lease_until + self.options.ttl.as_millis() as u64) / 1000;
            let put = self
                .client()
                .await
                .put_item()
                .table_name(&self.table)
                .item("pk", s(&pk))
                .item("state", s("run"))
                .item("token", s(token))
                .item("lease_until", n(lease_until))
                .item("expires_at", n(expires_at))
                .condition_expression(
                    "attribute_not_exists(pk) OR #t = :token \
                     OR (#s = :run AND lease_until < :now) \
                     OR (#s = :done AND expires_at < :now_s)",
                )
                .expression_attribute_names("#s", "state")
                .expression_attribute_names("#t", "token")
                .expression_attribute_values(":token", s(token))
                .expression_attribute_values(":run", s("run"))
                .expression_attribute_values(":done", s("done"))
                .expression_attribute_values(":now", n(now))
                .expression_attribute_values(":now_s", n(now / 1000))
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .send()
                .await;
            match put {
                Ok(_) => Ok(Claim::Acquired),
                Err(e) => match e.as_service_error() {
                    Some(PutItemError::ConditionalCheckFailedException(failed)) => {
                        match failed.item() {
                            Some(item) => Ok(Self::classify(item, now)),
                            // A service that does not return the old item: read it (a second round trip,
                            // only on a conflict).
                            None => Ok(self
                                .read(&pk)
                                .await?
                                .map_or(Claim::Busy, |item| Self::classify(&item, now))),
                        }
                    }
                    _ => Err(self.sdk_error("PutItem", e)),
                },
            }
        })
    }

    fn renew<'a>(
        &'a self,
        key: &'a str,
        subscriber: &'a str,
        token: &'a str,
    ) -> StoreFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let lease_until = now_ms() + self.options.lease.as_millis() as u64;
            let (names, mut values) = held_by(token);
            values.insert(":until".to_owned(), n(lease_until));
            let r = self
                .client()
                .await
                .update_item()
                .table_name(&self.table)
                .key("pk", s(self.key_of(key, subscriber)))
                .update_expression("SET lease_until = :until")
                .condition_expression(HELD)
                .set_expression_attribute_names(Some(names))
                .set_expression_attribute_values(Some(values))
                .send()
                .await;
            match r {
                Ok(_) => Ok(true),
                Err(e) if condition_failed(&e) => Ok(false),
                Err(e) => Err(self.sdk_error("UpdateItem", e)),
            }
        })
    }

    fn complete<'a>(
        &'a self,
        key: &'a str,
        subscriber: &'a str,
        token: &'a str,
    ) -> StoreFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let expires_at = (now_ms() + self.options.ttl.as_millis() as u64) / 1000;
            self.client()
                .await
                .put_item()
                .table_name(&self.table)
                .item("pk", s(self.key_of(key, subscriber)))
                .item("state", s("done"))
                .item("token", s(token))
                .item("expires_at", n(expires_at))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| self.sdk_error("PutItem", e))
        })
    }

    fn release<'a>(
        &'a self,
        key: &'a str,
        subscriber: &'a str,
        token: &'a str,
    ) -> StoreFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let (names, values) = held_by(token);
            let r = self
                .client()
                .await
                .delete_item()
                .table_name(&self.table)
                .key("pk", s(self.key_of(key, subscriber)))
                .condition_expression(HELD)
                .set_expression_attribute_names(Some(names))
                .set_expression_attribute_values(Some(values))
                .send()
                .await;
            match r {
                Ok(_) => Ok(()),
                Err(e) if condition_failed(&e) => Ok(()),
                Err(e) => Err(self.sdk_error("DeleteItem", e)),
            }
        })
    }

    fn lease(&self) -> Duration {
        self.options.lease
    }

    fn describe(&self) -> String {
        self.shown()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_old_item_is_classified_by_state_and_clock() {
        let item = |state: &str, token: &str, lease: u64, expires: u64| {
            HashMap::from([
                ("state".to_owned(), s(state)),
                ("token".to_owned(), s(token)),
                ("lease_until".to_owned(), n(lease)),
                ("expires_at".to_owned(), n(expires)),
            ])
        };
        let now = 1_000_000;
        let classify = DynamoDbCompletionStore::classify;
        assert_eq!(classify(&item("done", "x", 0, 2000), now), Claim::Completed);
        assert_eq!(classify(&item("done", "x", 0, 999), now), Claim::Busy);
        assert_eq!(classify(&item("run", "x", now + 5, 9999), now), Claim::Busy);
    }
}
