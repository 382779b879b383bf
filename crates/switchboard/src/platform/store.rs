//! DynamoDB item helpers: attribute mapping, TTL, and recognising failed conditions.
//!
//! Invariants that requests can race on are enforced with condition expressions and transactions;
//! these helpers only make reading the answers short and uniform.

use std::collections::HashMap;

use aws_sdk_dynamodb::{error::SdkError, types::AttributeValue};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use time::OffsetDateTime;

pub type Item = HashMap<String, AttributeValue>;

/// A DynamoDB call failed for a reason other than a condition we asked for.
#[derive(Debug, thiserror::Error)]
#[error("DynamoDB {operation} failed: {detail}")]
pub struct StoreError {
    pub operation: &'static str,
    pub detail: String,
}

impl StoreError {
    pub fn from_sdk<E>(operation: &'static str, error: SdkError<E, HttpResponse>) -> Self
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        Self { operation, detail: aws_smithy_types::error::display::DisplayErrorContext(&error).to_string() }
    }

    pub fn malformed(operation: &'static str, what: impl Into<String>) -> Self {
        Self { operation, detail: format!("stored item is malformed: {}", what.into()) }
    }
}

pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// The key of a `pk`/`sk` table.
pub fn key(pk: impl Into<String>, sk: impl Into<String>) -> Item {
    HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))])
}

pub fn get_str<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str)
}

pub fn get_i64(item: &Item, name: &str) -> Option<i64> {
    item.get(name).and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok())
}

pub fn get_bool(item: &Item, name: &str) -> Option<bool> {
    item.get(name).and_then(|v| v.as_bool().ok()).copied()
}

/// The `ttl` attribute value (epoch seconds) for an item that expires at `at`.
pub fn ttl(at: OffsetDateTime) -> AttributeValue {
    n(at.unix_timestamp())
}

/// Whether an item is still live: DynamoDB deletes expired items lazily (up to days later), so every
/// read treats an item past its `ttl` as absent.
pub fn is_live(item: &Item, now: OffsetDateTime) -> bool {
    get_i64(item, "ttl").is_none_or(|ttl| ttl > now.unix_timestamp())
}

/// The item if present and live.
pub fn live(item: Option<Item>, now: OffsetDateTime) -> Option<Item> {
    item.filter(|item| is_live(item, now))
}

/// Whether a single-item write failed only because its condition expression was false.
pub fn is_condition_failed<E>(error: &SdkError<E, HttpResponse>) -> bool
where
    E: ProvideErrorMetadata,
{
    matches!(error, SdkError::ServiceError(e) if e.err().code() == Some("ConditionalCheckFailedException"))
}

/// Reads one item by key, strongly consistent: every caller reads what a request just wrote (a PIN
/// verified right after it was sent, a state read back after an update, a pointer just created).
/// The item is returned as stored, past its `ttl` too; callers decide with [`live`].
pub async fn get_item(dynamodb: &aws_sdk_dynamodb::Client, table: &str, key: Item) -> Result<Option<Item>, StoreError> {
    let output = dynamodb
        .get_item()
        .table_name(table)
        .set_key(Some(key))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| StoreError::from_sdk("GetItem", e))?;
    Ok(output.item)
}

/// Every item of partition `pk`, all pages, strongly consistent (a table's small per-key sets: the
/// flows a stack manages, the associations it made).
pub async fn query_partition(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    pk: &str,
) -> Result<Vec<Item>, StoreError> {
    query(dynamodb, table, pk, None).await
}

/// The items of partition `pk` whose sort key begins with `sk_prefix`, all pages, strongly
/// consistent (one kind of a partition's items: a meeting's recordings).
pub async fn query_sort_prefix(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    pk: &str,
    sk_prefix: &str,
) -> Result<Vec<Item>, StoreError> {
    query(dynamodb, table, pk, Some(sk_prefix)).await
}

async fn query(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    pk: &str,
    sk_prefix: Option<&str>,
) -> Result<Vec<Item>, StoreError> {
    let mut request = dynamodb
        .query()
        .table_name(table)
        .key_condition_expression(if sk_prefix.is_some() {
            "pk = :pk AND begins_with(sk, :prefix)"
        } else {
            "pk = :pk"
        })
        .expression_attribute_values(":pk", s(pk))
        .consistent_read(true);
    if let Some(prefix) = sk_prefix {
        request = request.expression_attribute_values(":prefix", s(prefix));
    }
    request.into_paginator().items().send().try_collect().await.map_err(|e| StoreError::from_sdk("Query", e))
}

/// The outcome of a conditional write: `Some(output)` when it was applied, `None` when its condition
/// was false, an error for anything else.
pub fn conditional<T, E>(
    operation: &'static str,
    result: Result<T, SdkError<E, HttpResponse>>,
) -> Result<Option<T>, StoreError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match result {
        Ok(output) => Ok(Some(output)),
        Err(e) if is_condition_failed(&e) => Ok(None),
        Err(e) => Err(StoreError::from_sdk(operation, e)),
    }
}

/// Whether a transaction lost a race: it was cancelled because one of its conditions was false, or
/// because another request was writing the same item at that moment (`TransactionConflict`). Both
/// mean "read again and retry"; throttling or validation are faults and are not races.
pub fn is_transaction_race_lost(error: &TransactionError) -> bool {
    cancellation_codes(error).iter().any(|code| RACE_LOST.contains(code))
}

/// Whether a transaction was cancelled only because another request was writing one of its items at
/// that moment (`TransactionConflict`), with every condition holding: the same transaction, retried,
/// can succeed. The SDK does not retry it by itself.
pub fn is_transaction_conflict(error: &TransactionError) -> bool {
    let codes = cancellation_codes(error);
    codes.contains(&"TransactionConflict") && !codes.contains(&"ConditionalCheckFailed")
}

pub type TransactionError =
    SdkError<aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError, HttpResponse>;

/// The reasons DynamoDB gave for cancelling a transaction, one per item (`None` for the items that
/// were fine); empty for any other error.
fn cancellation_codes(error: &TransactionError) -> Vec<&str> {
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
    match error {
        SdkError::ServiceError(e) => match e.err() {
            TransactWriteItemsError::TransactionCanceledException(cancelled) => {
                cancelled.cancellation_reasons().iter().map(|r| r.code().unwrap_or_default()).collect()
            }
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// The cancellation reasons of a transaction that lost a race.
const RACE_LOST: &[&str] = &["ConditionalCheckFailed", "TransactionConflict"];

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn cancelled(reasons: &[&str]) -> TransactionError {
        use aws_sdk_dynamodb::{
            operation::transact_write_items::TransactWriteItemsError,
            types::{error::TransactionCanceledException, CancellationReason},
        };
        let reasons = reasons.iter().map(|code| CancellationReason::builder().code(*code).build()).collect();
        SdkError::service_error(
            TransactWriteItemsError::TransactionCanceledException(
                TransactionCanceledException::builder().set_cancellation_reasons(Some(reasons)).build(),
            ),
            HttpResponse::new(
                aws_smithy_runtime_api::http::StatusCode::try_from(400).unwrap(),
                aws_smithy_types::body::SdkBody::empty(),
            ),
        )
    }

    #[test]
    fn a_failed_condition_or_a_conflict_is_a_lost_race_and_throttling_is_not() {
        assert!(is_transaction_race_lost(&cancelled(&["None", "ConditionalCheckFailed"])));
        assert!(is_transaction_race_lost(&cancelled(&["TransactionConflict", "None"])));
        assert!(!is_transaction_race_lost(&cancelled(&["ThrottlingError", "None"])));
        assert!(!is_transaction_race_lost(&cancelled(&["ValidationError"])));
    }

    #[test]
    fn only_a_conflict_with_every_condition_holding_is_worth_retrying_as_it_is() {
        assert!(is_transaction_conflict(&cancelled(&["TransactionConflict", "None"])));
        assert!(!is_transaction_conflict(&cancelled(&["TransactionConflict", "ConditionalCheckFailed"])));
        assert!(!is_transaction_conflict(&cancelled(&["None", "ConditionalCheckFailed"])));
        assert!(!is_transaction_conflict(&cancelled(&["ThrottlingError"])));
    }

    #[test]
    fn items_past_their_ttl_are_not_live() {
        let now = datetime!(2026-01-01 00:00 UTC);
        let mut item = key("A", "B");
        assert!(is_live(&item, now), "no ttl means it never expires");
        item.insert("ttl".into(), ttl(now + time::Duration::seconds(1)));
        assert!(is_live(&item, now));
        item.insert("ttl".into(), ttl(now));
        assert!(!is_live(&item, now));
        assert!(live(Some(item), now).is_none());
    }

    #[test]
    fn typed_getters_ignore_other_types() {
        let item = HashMap::from([
            ("s".to_owned(), s("x")),
            ("n".to_owned(), n(42)),
            ("b".to_owned(), AttributeValue::Bool(true)),
        ]);
        assert_eq!(get_str(&item, "s"), Some("x"));
        assert_eq!(get_str(&item, "n"), None);
        assert_eq!(get_i64(&item, "n"), Some(42));
        assert_eq!(get_bool(&item, "b"), Some(true));
        assert_eq!(get_bool(&item, "s"), None);
    }
}
